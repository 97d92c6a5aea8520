//! Neuronpedia's explanations into the label registry (`saex explain import|fetch`,
//! `/v1/explain`): rows matched to SAEs by Neuronpedia id, written with the precedence of
//! sources (a hand entry stays).

use std::collections::BTreeMap;
use std::path::PathBuf;

use saex_labels::fetch::{self, Export, FetchOptions, Outcome};
use saex_labels::neuronpedia::{self, Explanation};
use saex_labels::Store;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::label_verbs::{check_feature, offer_all, ImportReport, MAX_PROBLEMS};
use crate::labels::LabelTarget;

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
    /// Features (give these or `all`).
    #[serde(default)]
    pub features: Option<Vec<u32>>,
    /// Every feature of the SAE (many requests: Neuronpedia's rate limit applies).
    #[serde(default)]
    pub all: bool,
    /// The SAE's Neuronpedia id when its config has none.
    #[serde(default)]
    pub neuronpedia_id: Option<String>,
    /// How to ask.
    #[serde(default)]
    pub method: FetchMethod,
}

impl FetchRequest {
    /// The features asked for (`None`: all), as [`explain_fetch`] takes them. Neither a list
    /// nor `all` is an empty list, which it refuses.
    pub fn features(&self) -> Option<&[u32]> {
        match (&self.features, self.all) {
            (_, true) => None,
            (Some(f), false) => Some(f),
            (None, false) => Some(&[]),
        }
    }
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
        Some([]) => return Err(Error::field("features", "give at least one feature, or all of them (--all, \"all\": true)")),
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
