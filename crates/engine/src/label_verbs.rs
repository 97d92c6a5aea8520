//! The label registry's verbs (`saex label get|set|list|import`, `/v1/labels`): each takes
//! the registry [`Store`] and the SAE as a [`LabelTarget`] (from a loaded SAE, without a
//! model), and returns a serde value every face prints the same way.

use std::collections::BTreeMap;

use saex_labels::ops::{self, Offered, Patch};
use saex_labels::{Entry, Registry, Source, Store};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::labels::LabelTarget;

pub(crate) fn check_feature(t: &LabelTarget, feature: u32) -> Result<()> {
    if feature as usize >= t.d_sae {
        return Err(Error::field(
            "feature",
            format!("feature {feature} is out of range for {} (d_sae {}: 0..{})", t.sae_id, t.d_sae, t.d_sae),
        ));
    }
    Ok(())
}

/// One feature's registry entry (`saex label get|set --json`, `GET|PUT /v1/labels/{sae}/{feature}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LabelRecord {
    /// The SAE.
    pub sae_id: String,
    /// Its registry key.
    pub key: String,
    /// Feature id.
    pub feature_id: u32,
    /// What verbs show (name, else description), when there is an entry.
    pub label: Option<String>,
    /// The entry (`null`: none in the registry).
    pub entry: Option<Entry>,
}

fn record(t: &LabelTarget, feature: u32, entry: Option<Entry>) -> LabelRecord {
    LabelRecord { sae_id: t.sae_id.clone(), key: t.key.clone(), feature_id: feature, label: entry.as_ref().and_then(Entry::label), entry }
}

/// The registry entry of `feature`.
pub fn label_get(store: &Store, t: &LabelTarget, feature: u32) -> Result<LabelRecord> {
    check_feature(t, feature)?;
    let reg = store.read(&t.key)?;
    Ok(record(t, feature, reg.get(&feature).cloned()))
}

/// Change `feature`'s entry by `patch` (a hand entry from then on).
pub fn label_set(store: &Store, t: &LabelTarget, feature: u32, patch: &Patch) -> Result<LabelRecord> {
    check_feature(t, feature)?;
    if patch.is_empty() {
        return Err(Error::field("label", "nothing to set: give a name, description, examples, confidence or notes"));
    }
    if patch.name.as_deref().is_some_and(|n| n.trim().is_empty()) && patch.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
        return Err(Error::field("name", "an empty name needs a description"));
    }
    let entry = store.update(&t.key, |reg| {
        let changed = patch.apply(reg, feature);
        Ok((changed, reg.get(&feature).cloned()))
    })?;
    Ok(record(t, feature, entry))
}

/// Entries by source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceCounts {
    /// Hand entries.
    pub hand: usize,
    /// Neuronpedia explanations.
    pub neuronpedia: usize,
    /// Automatic labels.
    pub auto: usize,
}

/// One SAE's registry (`saex label list --json`, `GET /v1/labels/{sae}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LabelList {
    /// The SAE.
    pub sae_id: String,
    /// Its registry key.
    pub key: String,
    /// Its registry file.
    pub path: String,
    /// Entries by source (all of them, before `source` narrows `labels`).
    pub counts: SourceCounts,
    /// The entries, by feature id (seed 003's layout).
    #[schema(value_type = Object)]
    pub labels: Registry,
}

/// The registry of SAE `t`, narrowed to `source` when given.
pub fn label_list(store: &Store, t: &LabelTarget, source: Option<Source>) -> Result<LabelList> {
    let mut reg = store.read(&t.key)?;
    let count = |s: Source| reg.values().filter(|e| e.source == s).count();
    let counts = SourceCounts { hand: count(Source::Hand), neuronpedia: count(Source::Neuronpedia), auto: count(Source::Auto) };
    if let Some(s) = source {
        reg.retain(|_, e| e.source == s);
    }
    Ok(LabelList { sae_id: t.sae_id.clone(), key: t.key.clone(), path: store.path(&t.key).display().to_string(), counts, labels: reg })
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Rows (or entries) read.
    pub rows: usize,
    /// Entries added or replaced.
    pub imported: usize,
    /// Already there as given.
    pub unchanged: usize,
    /// Not written: the feature has an entry of a higher source (hand over neuronpedia over auto).
    pub kept: usize,
    /// Rows of a feature that another row of the same import explains better (by
    /// `scoreV2`, then `scoreV1`; on a tie the first row stays).
    pub duplicates: usize,
    /// Malformed, or out of the SAE's range (see `problems`).
    pub skipped: usize,
    /// Rows of SAEs not named (by Neuronpedia id, with counts in `unmatched_ids`).
    pub unmatched: usize,
    /// Neuronpedia ids of the unmatched rows, with how many rows each.
    pub unmatched_ids: BTreeMap<String, usize>,
    /// What was wrong with skipped rows, as `file: line N: …` (the first 100).
    pub problems: Vec<String>,
}

pub(crate) const MAX_PROBLEMS: usize = 100;

impl ImportReport {
    pub(crate) fn problem(&mut self, p: String) {
        self.skipped += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }

    pub(crate) fn count(&mut self, o: Offered) {
        match o {
            Offered::Added | Offered::Replaced => self.imported += 1,
            Offered::Same => self.unchanged += 1,
            Offered::Kept => self.kept += 1,
        }
    }
}

/// Write `entries` into SAE `t`'s registry with the precedence of sources, in one locked
/// update.
pub(crate) fn offer_all(store: &Store, t: &LabelTarget, entries: Vec<(u32, Entry)>, report: &mut ImportReport) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let outcomes = store.update(&t.key, |reg| {
        let o: Vec<Offered> = entries.into_iter().map(|(f, e)| ops::offer(reg, f, e)).collect();
        let changed = o.iter().any(|o| matches!(o, Offered::Added | Offered::Replaced));
        Ok((changed, o))
    })?;
    for o in outcomes {
        report.count(o);
    }
    Ok(())
}

/// Import a registry in seed 003's layout (`saex label import`, `POST /v1/labels/{sae}`):
/// entries keep their `source` (absent: hand); `source` overrides it when given. Features out
/// of range are skipped and reported.
pub fn label_import(store: &Store, t: &LabelTarget, reg: Registry, source: Option<Source>, what: &str) -> Result<ImportReport> {
    let mut report = ImportReport { rows: reg.len(), ..Default::default() };
    let mut entries = Vec::new();
    for (f, mut e) in reg {
        if f as usize >= t.d_sae {
            report.problem(format!("{what}: feature {f} is out of range for {} (d_sae {})", t.sae_id, t.d_sae));
            continue;
        }
        if let Some(s) = source {
            e.source = s;
        }
        entries.push((f, e));
    }
    offer_all(store, t, entries, &mut report)?;
    Ok(report)
}
