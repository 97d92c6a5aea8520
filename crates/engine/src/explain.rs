//! The label registry's verbs (`saex label …`, `saex explain …`, `/v1/labels`, `/v1/explain`):
//! each takes the registry [`Store`] and the SAE as a [`LabelTarget`] (from a loaded SAE,
//! without a model), and returns a serde value every face prints the same way.

use std::collections::BTreeMap;
use std::path::PathBuf;

use saex_labels::fetch::{self, Export, FetchOptions, Outcome};
use saex_labels::neuronpedia::{self, Explanation};
use saex_labels::ops::{self, Offered, Patch};
use saex_labels::{Entry, Registry, Source, Store};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::labels::LabelTarget;

fn check_feature(t: &LabelTarget, feature: u32) -> Result<()> {
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

const MAX_PROBLEMS: usize = 100;

impl ImportReport {
    fn problem(&mut self, p: String) {
        self.skipped += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }

    fn count(&mut self, o: Offered) {
        match o {
            Offered::Added | Offered::Replaced => self.imported += 1,
            Offered::Same => self.unchanged += 1,
            Offered::Kept => self.kept += 1,
        }
    }
}

/// Write `entries` into SAE `t`'s registry with the precedence of sources, in one locked
/// update.
fn offer_all(store: &Store, t: &LabelTarget, entries: Vec<(u32, Entry)>, report: &mut ImportReport) -> Result<()> {
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

/// Neuronpedia explanation rows, from a file or a request body.
pub struct ExportRows {
    /// Where they came from, for messages.
    pub name: String,
    /// The bytes (JSON array or JSONL, gunzipped).
    pub bytes: Vec<u8>,
}

impl ExportRows {
    /// Read a file (gzipped or not).
    pub fn read(path: &std::path::Path) -> Result<ExportRows> {
        Ok(ExportRows { name: path.display().to_string(), bytes: neuronpedia::read_maybe_gz(path)? })
    }
}

/// Import Neuronpedia explanation exports into the registries of `targets`, matching rows by
/// Neuronpedia id (`modelId/layer`). `alias` names the Neuronpedia id of an SAE whose config
/// has none (only with one target). Of several explanations of one feature, the one with the
/// best `scoreV2`, then `scoreV1`, wins; on a tie the first. A malformed row is reported
/// (file and line) and skipped; the rest are imported.
pub fn explain_import(store: &Store, targets: &[LabelTarget], alias: Option<&str>, inputs: &[ExportRows]) -> Result<ImportReport> {
    if targets.is_empty() {
        return Err(Error::field("sae_id", "name the SAE(s) to import into"));
    }
    if let Some(a) = alias {
        fetch::split_id(a)?;
        if targets.len() != 1 {
            return Err(Error::field("neuronpedia_id", "a Neuronpedia id names one SAE: give exactly one"));
        }
    }
    let id_of = |t: &LabelTarget| alias.map(str::to_string).or_else(|| t.neuronpedia_id.clone());
    if targets.iter().all(|t| id_of(t).is_none()) {
        return Err(Error::field(
            "neuronpedia_id",
            format!(
                "{} has no Neuronpedia id in its config; say which export rows are its with --neuronpedia-id modelId/layer",
                targets[0].sae_id
            ),
        ));
    }
    let mut report = ImportReport::default();
    let mut best: Vec<BTreeMap<u32, Explanation>> = vec![BTreeMap::new(); targets.len()];
    for input in inputs {
        for (at, row) in neuronpedia::rows(&input.bytes) {
            report.rows += 1;
            let e = match row {
                Ok(e) => e,
                Err(m) => {
                    report.problem(format!("{}: {at}: {m}", input.name));
                    continue;
                }
            };
            let np = e.neuronpedia_id();
            let Some(ti) = targets.iter().position(|t| id_of(t).as_deref() == Some(np.as_str())) else {
                report.unmatched += 1;
                *report.unmatched_ids.entry(np).or_insert(0) += 1;
                continue;
            };
            let t = &targets[ti];
            if e.index as usize >= t.d_sae {
                report.problem(format!("{}: {at}: feature {} is out of range for {} (d_sae {})", input.name, e.index, t.sae_id, t.d_sae));
                continue;
            }
            match best[ti].get(&e.index) {
                Some(old) if !e.better_than(old) => report.duplicates += 1,
                Some(_) => {
                    report.duplicates += 1;
                    best[ti].insert(e.index, e);
                }
                None => {
                    best[ti].insert(e.index, e);
                }
            }
        }
    }
    for (t, b) in targets.iter().zip(best) {
        offer_all(store, t, b.into_iter().map(|(f, e)| (f, e.entry())).collect(), &mut report)?;
    }
    Ok(report)
}

/// How `explain fetch` asks Neuronpedia.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FetchMethod {
    /// The export for all features, the feature API for a list (and when the export is gone).
    #[default]
    Auto,
    /// One feature API request per feature (seed 000).
    Feature,
    /// The bulk export (seed 004).
    Export,
}

/// `explain fetch`'s request (`POST /v1/explain/fetch`); the server's own key and cache are used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchRequest {
    /// The SAE (default: the session's only one).
    #[serde(default)]
    pub sae_id: Option<String>,
    /// Features (`null`: all).
    #[serde(default)]
    pub features: Option<Vec<u32>>,
    /// The SAE's Neuronpedia id when its config has none.
    #[serde(default)]
    pub neuronpedia_id: Option<String>,
    /// How to ask.
    #[serde(default)]
    pub method: FetchMethod,
}

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FetchReport {
    /// The SAE.
    pub sae_id: String,
    /// The Neuronpedia id asked for.
    pub neuronpedia_id: String,
    /// `feature` or `export`: what answered.
    pub method: String,
    /// Features asked for.
    pub requested: usize,
    /// With an explanation.
    pub found: usize,
    /// Known to Neuronpedia, without an explanation.
    pub no_explanation: usize,
    /// Not on Neuronpedia (404).
    pub not_found: usize,
    /// Given up on, with the last error (the first 100).
    pub failed: Vec<String>,
    /// Features answered from the cache.
    pub cached: u64,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Retries (429, 5xx, broken connections).
    pub retries: u64,
    /// Wall time.
    pub seconds: f64,
    /// What writing them into the registry did.
    pub import: ImportReport,
    /// Why the bulk export was not used, when `auto` fell back to the feature API.
    pub note: Option<String>,
}

/// Fetch explanations of `features` (`None`: all) of SAE `t` from Neuronpedia into the
/// registry. `auto` uses the bulk export for all features and the feature API for a list,
/// and falls back to the feature API when the export is gone.
pub fn explain_fetch(
    store: &Store,
    t: &LabelTarget,
    alias: Option<&str>,
    features: Option<&[u32]>,
    method: FetchMethod,
    opts: &FetchOptions,
) -> Result<FetchReport> {
    let np = alias.map(str::to_string).or_else(|| t.neuronpedia_id.clone()).ok_or_else(|| {
        Error::field(
            "neuronpedia_id",
            format!("{} has no Neuronpedia id in its config; give it with --neuronpedia-id modelId/layer", t.sae_id),
        )
    })?;
    fetch::split_id(&np)?;
    let list: Vec<u32> = match features {
        Some([]) => return Err(Error::field("features", "give at least one feature, or --all")),
        Some(f) => {
            for &x in f {
                check_feature(t, x)?;
            }
            f.to_vec()
        }
        None => (0..t.d_sae as u32).collect(),
    };
    let mut report = FetchReport { sae_id: t.sae_id.clone(), neuronpedia_id: np.clone(), requested: list.len(), ..Default::default() };
    let use_export = match method {
        FetchMethod::Export => true,
        FetchMethod::Feature => false,
        FetchMethod::Auto => features.is_none(),
    };
    if use_export {
        let (answer, stats) = fetch::export(&np, opts)?;
        report.requests += stats.requests;
        report.retries += stats.retries;
        report.cached += stats.cached;
        match answer {
            Export::Rows(bytes) => {
                let wanted: std::collections::HashSet<u32> = list.iter().copied().collect();
                let mut rows = Vec::new();
                for (at, row) in neuronpedia::rows(&bytes) {
                    match row {
                        Ok(e) if e.neuronpedia_id() == np && wanted.contains(&e.index) => rows.push(e),
                        Ok(_) => {}
                        Err(m) => report.failed.push(format!("export {at}: {m}")),
                    }
                }
                let mut best: BTreeMap<u32, Explanation> = BTreeMap::new();
                for e in rows {
                    if best.get(&e.index).is_none_or(|old| e.better_than(old)) {
                        best.insert(e.index, e);
                    }
                }
                report.method = "export".into();
                report.found = best.len();
                report.no_explanation = list.len() - best.len();
                report.import.rows = best.len();
                offer_all(store, t, best.into_iter().map(|(f, e)| (f, e.entry())).collect(), &mut report.import)?;
                report.seconds = stats.seconds;
                return Ok(report);
            }
            Export::Gone(msg) if method == FetchMethod::Auto => {
                tracing::warn!("the bulk export is not available ({msg}); asking feature by feature");
                report.note = Some(format!("bulk export not available: {msg}"));
            }
            Export::Gone(msg) => {
                return Err(Error::Invalid(format!(
                    "Neuronpedia has no bulk export of {np}: {msg}; download its explanation files and run `saex explain import`, or fetch feature by feature"
                )))
            }
        }
    }
    let (outcomes, stats) = fetch::features(&np, &list, opts)?;
    report.method = "feature".into();
    report.requests += stats.requests;
    report.retries += stats.retries;
    report.cached += stats.cached;
    report.seconds = stats.seconds;
    let mut entries = Vec::new();
    for (f, o) in outcomes {
        match o {
            Outcome::Found(e) => {
                report.found += 1;
                entries.push((f, e));
            }
            Outcome::NoExplanation => report.no_explanation += 1,
            Outcome::NotFound => report.not_found += 1,
            Outcome::Failed(m) => {
                if report.failed.len() < MAX_PROBLEMS {
                    report.failed.push(format!("feature {f}: {m}"));
                }
            }
        }
    }
    report.import.rows = entries.len();
    offer_all(store, t, entries, &mut report.import)?;
    Ok(report)
}

/// The cache directory for Neuronpedia answers: `$XDG_CACHE_HOME/saex/neuronpedia`, else
/// `~/.cache/saex/neuronpedia`.
pub fn neuronpedia_cache_dir() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("XDG_CACHE_HOME")
        .map(|d| d.join("saex"))
        .or_else(|| env("HOME").map(|h| h.join(".cache/saex")))
        .unwrap_or_else(|| PathBuf::from(".saex-cache"))
        .join("neuronpedia")
}

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
        let same = s.id == t.sae_id
            || (s.neuronpedia_id.is_some() && s.neuronpedia_id == t.neuronpedia_id)
            || crate::labels::key_of(&s.id, s.neuronpedia_id.as_deref())?.as_deref() == Some(t.key.as_str());
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
        examples.push(top.iter().take(3).map(|e| e.text().trim().to_string()).collect::<Vec<_>>());
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
