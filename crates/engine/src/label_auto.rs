//! `saex label auto` (`POST /v1/labels/auto`): automatic proto-labels from a corpus index's
//! top tokens and the decoder's boosted tokens, by [`saex_labels::auto`]'s rule.

use std::collections::BTreeMap;

use saex_labels::ops::{self, Offered};
use saex_labels::{Entry, Source, Store};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::label_verbs::{check_feature, ImportReport};
use crate::labels::LabelTarget;

/// `label auto`'s request (`POST /v1/labels/auto`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoRequest {
    /// The SAE (default: the only one).
    #[serde(default)]
    pub sae_id: Option<String>,
    /// Features (`null`: every feature that fired in the index).
    #[serde(default)]
    pub features: Option<Vec<u32>>,
    /// Top examples whose peak tokens are counted.
    #[serde(default = "default_examples")]
    pub examples: usize,
}

fn default_examples() -> usize {
    20
}

impl Default for AutoRequest {
    fn default() -> Self {
        AutoRequest { sae_id: None, features: None, examples: default_examples() }
    }
}

/// One automatic label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AutoLabel {
    /// Feature id.
    pub feature_id: u32,
    /// The label.
    pub label: String,
    /// What was written: `added`, `replaced`, `same`, or `kept` (a hand or Neuronpedia entry stays).
    pub offered: Offered,
}

/// What `label auto` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AutoReport {
    /// The SAE.
    pub sae_id: String,
    /// Its registry key.
    pub key: String,
    /// Features considered.
    pub considered: usize,
    /// Of which without an example in the index (no label).
    pub no_examples: usize,
    /// Where the boosted tokens came from: `index` (its logit table) or `logit-stats`.
    pub boosted_from: String,
    /// The labels, by feature.
    pub labels: Vec<AutoLabel>,
    /// Counts of what was written.
    pub import: ImportReport,
}

/// The index's SAE that is `t`: same id, Neuronpedia id, or registry key.
fn index_sae<'a>(index: &'a saex_index::Index, t: &LabelTarget) -> Result<&'a saex_index::manifest::SaeRef> {
    for s in &index.manifest.saes {
        // The index names a local SAE by the path it was built with, relative to where the
        // build ran; the directory's fingerprint (what the index stores as its sha256) matches
        // it from anywhere.
        let same = s.id == t.sae_id
            || (s.neuronpedia_id.is_some() && s.neuronpedia_id == t.neuronpedia_id)
            || crate::labels::key_of(&s.id, s.neuronpedia_id.as_deref(), s.label_key.as_deref())?.as_deref() == Some(t.key.as_str())
            || (std::path::Path::new(&t.sae_id).is_dir()
                && saex_cache::fingerprint(std::path::Path::new(&t.sae_id), None).is_ok_and(|fp| fp == s.sha256));
        if same {
            if s.d_sae != t.d_sae {
                return Err(Error::Invalid(format!("the index's SAE {} has d_sae {}, {} has {}", s.id, s.d_sae, t.sae_id, t.d_sae)));
            }
            return Ok(s);
        }
    }
    Err(Error::field(
        "sae_id",
        format!(
            "the index holds no SAE matching {} (it holds {})",
            t.sae_id,
            index.manifest.saes.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// Automatic proto-labels of SAE `t` from `index` ([`saex_labels::auto`]'s rule) into the
/// registry's `auto` entries; hand and Neuronpedia entries stay. Boosted tokens come from the
/// index's logit table, else from `logit_stats` over `session` (needed then).
pub fn label_auto(
    store: &Store,
    t: &LabelTarget,
    index: &saex_index::Index,
    session: Option<&crate::Session>,
    req: &AutoRequest,
) -> Result<AutoReport> {
    if req.examples == 0 || req.examples > 1000 {
        return Err(Error::field("examples", format!("{} examples: give 1 to 1000", req.examples)));
    }
    let s = index_sae(index, t)?;
    let features: Vec<u32> = match &req.features {
        Some(f) if f.is_empty() => return Err(Error::field("features", "give at least one feature, or leave it out for all")),
        Some(f) => {
            for &x in f {
                check_feature(t, x)?;
            }
            f.clone()
        }
        None => index.all_stats(Some(&s.id))?.into_iter().filter(|(_, st)| st.firing_count > 0).map(|(f, _)| f).collect(),
    };
    let mut peaks = Vec::with_capacity(features.len());
    let mut boosted: Vec<Option<Vec<String>>> = Vec::with_capacity(features.len());
    let mut examples = Vec::with_capacity(features.len());
    for &f in &features {
        let r = index.record(Some(&s.id), f)?;
        let top: Vec<_> = r.top.iter().take(req.examples).collect();
        peaks.push(top.iter().map(|e| e.tokens.get(e.peak as usize).cloned().unwrap_or_default()).collect::<Vec<_>>());
        // One line each: a registry entry's examples are short texts (seed 003's).
        examples.push(top.iter().take(3).map(|e| e.text().split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>());
        boosted.push(r.logits.map(|l| l.boosted.into_iter().take(saex_labels::auto::MAX_BOOSTED).map(|t| t.token).collect()));
    }
    let missing: Vec<u32> = features.iter().zip(&boosted).filter(|(_, b)| b.is_none()).map(|(&f, _)| f).collect();
    let mut boosted_from = "index".to_string();
    if !missing.is_empty() {
        let session = session.ok_or_else(|| {
            Error::Invalid(format!(
                "the index has no logit table for {} features; give the model (--model) to compute boosted tokens",
                missing.len()
            ))
        })?;
        let i = session.one(Some(&t.sae_id)).or_else(|_| session.one(None))?;
        let ls = crate::logit_stats(
            session,
            &crate::LogitStatsRequest {
                sae_id: Some(session.saes[i].id.clone()),
                features: Some(missing),
                k: saex_labels::auto::MAX_BOOSTED,
                ..Default::default()
            },
        )?;
        let by: BTreeMap<u32, Vec<String>> =
            ls.features.into_iter().map(|f| (f.feature_id, f.boosted.into_iter().map(|t| t.token).collect())).collect();
        for (f, b) in features.iter().zip(boosted.iter_mut()) {
            if b.is_none() {
                *b = by.get(f).cloned();
            }
        }
        boosted_from = "logit-stats".into();
    }
    let mut report = AutoReport {
        sae_id: t.sae_id.clone(),
        key: t.key.clone(),
        considered: features.len(),
        no_examples: 0,
        boosted_from,
        labels: Vec::new(),
        import: ImportReport::default(),
    };
    let mut entries = Vec::new();
    for (((&f, p), b), ex) in features.iter().zip(&peaks).zip(&boosted).zip(examples) {
        let b = b.clone().unwrap_or_default();
        let Some(label) = saex_labels::auto::label(p, &b) else {
            report.no_examples += 1;
            continue;
        };
        let kept = saex_labels::auto::top_tokens(p);
        let show = |v: &[String]| v.iter().map(|t| saex_labels::auto::show(t)).collect::<Vec<_>>().join(" ");
        let description = format!(
            "Automatic: peak tokens of its top {} index examples {}; tokens its decoder row boosts most {}",
            p.len(),
            kept.iter().map(|(t, c)| format!("{} ×{c}", saex_labels::auto::show(t))).collect::<Vec<_>>().join(", "),
            if b.is_empty() { "(unknown)".to_string() } else { show(&b) }
        );
        entries.push((
            f,
            Entry {
                name: label,
                description,
                examples: ex,
                confidence: "low".into(),
                notes: format!(
                    "saex label auto, index {} over {} tokens",
                    index.manifest.corpus.sha256.get(..12).unwrap_or(""),
                    index.manifest.corpus.tokens
                ),
                source: Source::Auto,
                extra: BTreeMap::new(),
            },
        ));
    }
    report.import.rows = entries.len();
    let names: Vec<(u32, String)> = entries.iter().map(|(f, e)| (*f, e.name.clone())).collect();
    let outcomes = if entries.is_empty() {
        Vec::new()
    } else {
        store.update(&t.key, |reg| {
            let o: Vec<Offered> = entries.into_iter().map(|(f, e)| ops::offer(reg, f, e)).collect();
            Ok((o.iter().any(|o| matches!(o, Offered::Added | Offered::Replaced)), o))
        })?
    };
    for ((f, label), o) in names.into_iter().zip(outcomes) {
        report.import.count(o);
        report.labels.push(AutoLabel { feature_id: f, label, offered: o });
    }
    Ok(report)
}
