//! A model and its SAEs, loaded once: one CLI run or a whole server's life. Holds what each
//! SAE ships beside its weights (reference statistics, label catalog) and the activation
//! cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use saex_cache::Cache;
use saex_hooks::Hook;
use saex_model::{LoadOptions, Model};
use saex_sae::Sae;

use crate::error::{Error, Result};
use crate::labels;
use crate::request::DiscoverRequest;

/// Per-feature statistics of an SAE on its reference corpus (`saex sae-stats`).
#[derive(Debug, Clone)]
pub struct ReferenceStats {
    /// P95 of the nonzero activations: the default coverage threshold τ.
    pub p95: Vec<f32>,
    /// Mean activation over all tokens: the background of whole-text selectivity.
    pub mean: Vec<f32>,
    /// Share of tokens the feature fires on (its density).
    pub firing_rate: Vec<f32>,
}

/// The statistics file `saex sae-stats` writes into an SAE's directory.
pub const STATS_FILE: &str = "feature_stats.safetensors";
/// A label catalog shipped inside an SAE's directory.
pub const LABELS_FILE: &str = "labels.jsonl";

impl ReferenceStats {
    /// Read `feature_stats.safetensors`, checking each vector has `d_sae` entries.
    pub fn read(path: &Path, d_sae: usize) -> Result<ReferenceStats> {
        let err = |m: String| Error::File { path: path.display().to_string(), message: m };
        let tensors = candle_core::safetensors::load(path, &candle_core::Device::Cpu).map_err(|e| err(e.to_string()))?;
        let get = |name: &str| -> Result<Vec<f32>> {
            let t = tensors.get(name).ok_or_else(|| err(format!("no tensor `{name}`")))?;
            let v = t.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            if v.len() != d_sae {
                return Err(err(format!("`{name}` has {} entries, the SAE has d_sae {d_sae}", v.len())));
            }
            Ok(v)
        };
        Ok(ReferenceStats { p95: get("p95")?, mean: get("mean")?, firing_rate: get("firing_rate")? })
    }
}

/// One loaded SAE.
pub struct SessionSae {
    /// How it was named when loaded (`demo/sae`, a release path).
    pub id: String,
    /// The SAE.
    pub sae: Sae,
    /// Where it reads.
    pub hook: Hook,
    /// Reference statistics, when shipped.
    pub stats: Option<ReferenceStats>,
    /// Proto-labels by feature.
    pub labels: HashMap<u32, String>,
    fingerprint: OnceLock<String>,
}

impl SessionSae {
    /// The SAE's Neuronpedia id (`gemma-2-2b/6-gemmascope-res-16k`), if its config has one.
    pub fn neuronpedia_id(&self) -> Option<&str> {
        self.sae.config().metadata.neuronpedia_id.as_deref()
    }
}

/// How to open a session.
#[derive(Default)]
pub struct SessionOptions {
    /// Extra label catalogs (saex or Neuronpedia format).
    pub labels: Vec<PathBuf>,
    /// The activation cache; `None` disables caching.
    pub cache: Option<Cache>,
    /// Load everything logits need (generation, the entropy filter). Without it only the
    /// blocks up to the deepest SAE hook are loaded.
    pub logits: bool,
    /// The hook of each SAE when it does not say (aligned with the SAE list).
    pub hooks: Vec<Option<Hook>>,
}

/// A model and its SAEs.
pub struct Session {
    /// The model.
    pub model: Model,
    /// How the model was named when loaded.
    pub model_id: String,
    /// The SAEs, in the order given.
    pub saes: Vec<SessionSae>,
    /// The activation cache.
    pub cache: Option<Cache>,
    /// Whether logits are available.
    pub logits: bool,
    /// Non-fatal findings while opening (SAE trained on another model, unmatched labels).
    pub warnings: Vec<String>,
    model_fingerprint: OnceLock<String>,
}

impl Session {
    /// Load the SAEs, then the model with what they (and `opts.logits`) need, and each SAE's
    /// statistics and labels.
    pub fn open(model_spec: &str, sae_specs: &[String], opts: SessionOptions) -> Result<Session> {
        if sae_specs.is_empty() {
            return Err(Error::Invalid("give at least one SAE".into()));
        }
        let mut loaded = Vec::new();
        for (i, spec) in sae_specs.iter().enumerate() {
            let sae = Sae::load(spec)?;
            let hook = opts.hooks.get(i).copied().flatten().or(sae.hook()).ok_or_else(|| {
                Error::Invalid(format!("the SAE {spec} does not say which hook it reads; give its hook"))
            })?;
            loaded.push((spec.clone(), sae, hook));
        }
        let hooks: Vec<Hook> = loaded.iter().map(|l| l.2).collect();
        let model = Model::load_with(model_spec, LoadOptions::for_hooks(&hooks, opts.logits))?;
        let mut warnings = Vec::new();
        let mut saes = Vec::new();
        for (id, sae, hook) in loaded {
            let pair = saex_engine::Pair::new(&model, &sae, Some(hook))?;
            warnings.extend(pair.warnings.iter().map(|w| format!("{id}: {w}")));
            let dir = sae.source().to_path_buf();
            let stats_path = dir.join(STATS_FILE);
            let stats = if stats_path.is_file() { Some(ReferenceStats::read(&stats_path, sae.d_sae())?) } else { None };
            saes.push(SessionSae { id, sae, hook, stats, labels: HashMap::new(), fingerprint: OnceLock::new() });
        }
        // Catalogs given by the user first: the first label of a feature wins, so they
        // override what an SAE ships in its own labels.jsonl.
        for path in &opts.labels {
            let entries = labels::read(path)?;
            let mut matched = 0;
            for e in entries {
                let targets: Vec<usize> = match &e.sae {
                    Some(key) => (0..saes.len())
                        .filter(|&i| saes[i].id == *key || saes[i].neuronpedia_id() == Some(key.as_str()))
                        .collect(),
                    None if saes.len() == 1 => vec![0],
                    None => {
                        return Err(Error::File {
                            path: path.display().to_string(),
                            message: format!("an entry for feature {} names no `sae_id`, and {} SAEs are loaded", e.feature, saes.len()),
                        })
                    }
                };
                for i in targets {
                    matched += 1;
                    if e.feature as usize >= saes[i].sae.d_sae() {
                        return Err(Error::File {
                            path: path.display().to_string(),
                            message: format!("feature {} is out of range for {} (d_sae {})", e.feature, saes[i].id, saes[i].sae.d_sae()),
                        });
                    }
                    saes[i].labels.entry(e.feature).or_insert_with(|| e.label.clone());
                }
            }
            if matched == 0 {
                warnings.push(format!(
                    "{}: no label matches a loaded SAE (saex `sae_id` must be one of {}; Neuronpedia `modelId/layer` must be an SAE's neuronpedia_id)",
                    path.display(),
                    saes.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for s in saes.iter_mut() {
            let own = s.sae.source().join(LABELS_FILE);
            if own.is_file() {
                for e in labels::read(&own)? {
                    if e.feature as usize >= s.sae.d_sae() {
                        return Err(Error::File { path: own.display().to_string(), message: format!("feature {} is out of range (d_sae {})", e.feature, s.sae.d_sae()) });
                    }
                    s.labels.entry(e.feature).or_insert(e.label);
                }
            }
        }
        Ok(Session {
            model,
            model_id: model_spec.to_string(),
            saes,
            cache: opts.cache,
            logits: opts.logits,
            warnings,
            model_fingerprint: OnceLock::new(),
        })
    }

    /// The SAEs a request selects: by `sae_id` (an id, or a release name prefixing ids),
    /// then by `layers` and `streams`. Errors name the field and list what is loaded.
    pub fn select(&self, req: &DiscoverRequest) -> Result<Vec<usize>> {
        let loaded = || {
            self.saes.iter().map(|s| format!("{} ({})", s.id, s.hook)).collect::<Vec<_>>().join(", ")
        };
        let mut picked: Vec<usize> = (0..self.saes.len())
            .filter(|&i| match &req.sae_id {
                None => true,
                Some(id) => {
                    let s = &self.saes[i];
                    s.id == *id || s.id.starts_with(&format!("{id}/")) || s.neuronpedia_id() == Some(id.as_str())
                }
            })
            .collect();
        if picked.is_empty() {
            return Err(Error::field("sae_id", format!("{:?} is not loaded; loaded: {}", req.sae_id.as_deref().unwrap_or(""), loaded())));
        }
        for &l in &req.layers {
            if !picked.iter().any(|&i| self.saes[i].hook.layer() == Some(l)) {
                return Err(Error::field("layers", format!("no loaded SAE reads layer {l}; loaded: {}", loaded())));
            }
        }
        for s in &req.streams {
            if !picked.iter().any(|&i| self.saes[i].hook.stream() == s) {
                return Err(Error::field("streams", format!("no loaded SAE reads stream {s}; loaded: {}", loaded())));
            }
        }
        picked.retain(|&i| {
            let h = self.saes[i].hook;
            (req.layers.is_empty() || h.layer().is_some_and(|l| req.layers.contains(&l)))
                && (req.streams.is_empty() || req.streams.iter().any(|s| s == h.stream()))
        });
        if picked.is_empty() {
            return Err(Error::field("layers", format!("no loaded SAE reads those layers and streams together; loaded: {}", loaded())));
        }
        Ok(picked)
    }

    /// sha256 of the model's files (memoized in the cache directory).
    pub fn model_fingerprint(&self) -> Result<&str> {
        if let Some(f) = self.model_fingerprint.get() {
            return Ok(f);
        }
        let path = model_path(&self.model_id)?;
        let fp = saex_cache::fingerprint(&path, self.cache.as_ref().map(Cache::dir))?;
        Ok(self.model_fingerprint.get_or_init(|| fp))
    }

    /// sha256 of SAE `i`'s files.
    pub fn sae_fingerprint(&self, i: usize) -> Result<&str> {
        let s = &self.saes[i];
        if let Some(f) = s.fingerprint.get() {
            return Ok(f);
        }
        let fp = saex_cache::fingerprint(s.sae.source(), self.cache.as_ref().map(Cache::dir))?;
        Ok(s.fingerprint.get_or_init(|| fp))
    }
}

fn model_path(spec: &str) -> Result<PathBuf> {
    let p = Path::new(spec);
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    Ok(saex_model::load::resolve_hub_cache(spec)?)
}

/// SAE ids of SAELens `release` for the given layers and streams (default stream:
/// `resid_pre`), for releases whose SAE ids are hook names (`blocks.8.hook_resid_pre`).
/// Releases naming SAEs otherwise (`layer_12/width_16k/canonical`) carry no hook in their
/// ids, and guessing it from the release name is how wrong SAEs get loaded: those must be
/// named one by one.
pub fn release_saes(release: &str, layers: &[usize], streams: &[String]) -> Result<Vec<String>> {
    let rel = saex_sae::registry::release(release).ok_or_else(|| Error::field("sae_id", format!("{release} is not a SAELens release")))?;
    let streams: Vec<&str> = if streams.is_empty() { vec!["resid_pre"] } else { streams.iter().map(String::as_str).collect() };
    let mut out = Vec::new();
    for &l in layers {
        for &s in &streams {
            let found = rel.saes.iter().find(|r| r.id.parse::<Hook>().is_ok_and(|h| h.layer() == Some(l) && h.stream() == s));
            match found {
                Some(r) => out.push(format!("{release}/{}", r.id)),
                None => {
                    let example = rel.saes.first().map(|r| r.id).unwrap_or("");
                    return Err(Error::field(
                        "layers",
                        format!("release {release} has no SAE for layer {l} {s} under a hook-named id (its ids look like {example:?}; name each SAE as {release}/<id>)"),
                    ));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_resolve_per_layer_and_stream() {
        let ids = release_saes("gpt2-small-res-jb", &[8, 2], &[]).unwrap();
        assert_eq!(ids, ["gpt2-small-res-jb/blocks.8.hook_resid_pre", "gpt2-small-res-jb/blocks.2.hook_resid_pre"]);
        let e = release_saes("gpt2-small-res-jb", &[8], &["mlp_out".into()]).unwrap_err();
        assert_eq!(e.field_name(), Some("layers"));
        let e = release_saes("no-such-release", &[8], &[]).unwrap_err();
        assert_eq!(e.field_name(), Some("sae_id"));
    }
}
