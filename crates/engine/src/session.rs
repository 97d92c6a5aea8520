//! A model and its SAEs, loaded once: one CLI run, a whole server's life, or a Python
//! object. Holds, per SAE, what it ships beside its weights (reference statistics, label
//! catalog, Neuronpedia id) and the binding to its hook; and the activation cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use saex_cache::Cache;
use saex_hooks::Hook;
use saex_model::{Dtype, LoadOptions, Model};
use saex_sae::Sae;

use crate::error::{Error, Result};
use crate::labels;
use crate::pair::{Adapter, Pair};
use crate::stats::{FeatureStats, STATS_FILE};

/// A label catalog shipped inside an SAE's directory.
pub const LABELS_FILE: &str = "labels.jsonl";

/// One loaded SAE.
pub struct SessionSae {
    /// How it was named when loaded (`demo/sae`, a release path).
    pub id: String,
    /// The SAE.
    pub sae: Sae,
    /// Where it reads.
    pub hook: Hook,
    /// How hook values become its input (checked against the model once, at open).
    pub adapter: Arc<Adapter>,
    /// Reference statistics (`feature_stats.safetensors`), when shipped.
    pub stats: Option<FeatureStats>,
    /// Proto-labels by feature (see [`crate::labels`] for where they come from); replaced
    /// whole by [`Session::reload_labels`].
    pub labels: RwLock<HashMap<u32, String>>,
    /// Its file in the label registry ([`crate::labels::sae_key`]).
    pub label_key: String,
    fingerprint: OnceLock<String>,
    sparsity: OnceLock<Option<Vec<f32>>>,
}

impl SessionSae {
    /// The SAE's Neuronpedia id (`gemma-2-2b/6-gemmascope-res-16k`), if its config has one.
    pub fn neuronpedia_id(&self) -> Option<&str> {
        self.sae.config().metadata.neuronpedia_id.as_deref()
    }

    /// The feature's Neuronpedia page, when the SAE has an id.
    pub fn neuronpedia_url(&self, feature: u32) -> Option<String> {
        self.neuronpedia_id().map(|id| format!("https://www.neuronpedia.org/{id}/{feature}"))
    }

    /// The feature's label, if a catalog has one.
    pub fn label(&self, feature: u32) -> Option<String> {
        self.labels.read().unwrap_or_else(|p| p.into_inner()).get(&feature).cloned()
    }

    /// How many features have a label.
    pub fn label_count(&self) -> usize {
        self.labels.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// What the label registry needs to know of it.
    pub fn label_target(&self) -> crate::labels::LabelTarget {
        crate::labels::LabelTarget {
            sae_id: self.id.clone(),
            neuronpedia_id: self.neuronpedia_id().map(str::to_string),
            d_sae: self.sae.d_sae(),
            key: self.label_key.clone(),
        }
    }

    /// Share of reference tokens the feature fires on: from the reference statistics, else
    /// from the SAE's own `sparsity.safetensors` (log10 frequency over its training), else
    /// unknown.
    pub fn firing_rate(&self, feature: u32) -> Option<f32> {
        if let Some(s) = &self.stats {
            return s.firing_rate.get(feature as usize).copied();
        }
        self.log_sparsity().and_then(|v| v.get(feature as usize).map(|&l| 10f32.powf(l)))
    }

    fn log_sparsity(&self) -> Option<&Vec<f32>> {
        self.sparsity
            .get_or_init(|| {
                self.sae.log_sparsity().and_then(|t| t.to_dtype(candle_core::DType::F32).ok()?.flatten_all().ok()?.to_vec1::<f32>().ok())
            })
            .as_ref()
    }

    /// Whether `max_density` lets the feature through (unknown density: yes).
    pub fn passes_density(&self, feature: u32, max_density: f64) -> bool {
        self.firing_rate(feature).is_none_or(|r| f64::from(r) <= max_density)
    }
}

/// How to open a session.
#[derive(Default)]
pub struct SessionOptions {
    /// Extra label catalogs (saex or Neuronpedia format), read before the SAEs' own.
    pub labels: Vec<PathBuf>,
    /// The label registry directory (`None`: [`saex_labels::Store::default_dir`]).
    pub registry: Option<PathBuf>,
    /// The activation cache; `None` disables caching.
    pub cache: Option<Cache>,
    /// Load everything logits need (generation, the entropy filter). Without it only the
    /// blocks up to the deepest hook are loaded.
    pub logits: bool,
    /// The hook of each SAE when it does not say (aligned with the SAE list).
    pub sae_hooks: Vec<Option<Hook>>,
    /// Hooks to capture besides the SAEs' (what the model must load for).
    pub hooks: Vec<Hook>,
    /// How the model's matrices are kept: as stored (quantized) or dequantized to f32.
    pub dtype: Dtype,
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
    /// How the model's matrices are kept.
    pub dtype: Dtype,
    /// Non-fatal findings while opening (SAE trained on another model, unmatched labels).
    pub warnings: Vec<String>,
    label_catalogs: Vec<PathBuf>,
    label_store: saex_labels::Store,
    model_fingerprint: OnceLock<String>,
}

impl Session {
    /// Load the SAEs, then the model with what they (and `opts`) need, and each SAE's
    /// statistics and labels. No SAE is fine for model-only verbs (capture, generate).
    pub fn open(model_spec: &str, sae_specs: &[String], opts: SessionOptions) -> Result<Session> {
        let mut loaded = Vec::new();
        for (i, spec) in sae_specs.iter().enumerate() {
            let sae = Sae::load(spec)?;
            let hook = opts
                .sae_hooks
                .get(i)
                .copied()
                .flatten()
                .or(sae.hook())
                .ok_or_else(|| Error::Invalid(format!("the SAE {spec} does not say which hook it reads; give its hook (--hook)")))?;
            loaded.push((spec.clone(), sae, hook));
        }
        let mut hooks: Vec<Hook> = loaded.iter().map(|l| l.2).collect();
        hooks.extend(&opts.hooks);
        let model = Model::load_with(model_spec, LoadOptions::for_hooks(&hooks, opts.logits).with_dtype(opts.dtype))?;
        let mut warnings = Vec::new();
        let mut saes = Vec::new();
        for (id, sae, hook) in loaded {
            let pair = Pair::new(&model, &sae, Some(hook))?;
            warnings.extend(pair.warnings.iter().map(|w| format!("{id}: {w}")));
            let adapter = pair.adapter.clone();
            let stats_path = sae.source().join(STATS_FILE);
            let stats = if stats_path.is_file() { Some(FeatureStats::load(&stats_path, sae.d_sae())?) } else { None };
            let label_key = labels::sae_key(&sae)?;
            saes.push(SessionSae {
                id,
                sae,
                hook,
                adapter,
                stats,
                labels: RwLock::new(HashMap::new()),
                label_key,
                fingerprint: OnceLock::new(),
                sparsity: OnceLock::new(),
            });
        }
        let store = opts.registry.clone().map(saex_labels::Store::new).unwrap_or_else(saex_labels::Store::default_location);
        labels::attach(&saes, &opts.labels, &store, &mut warnings)?;
        Ok(Session {
            model,
            model_id: model_spec.to_string(),
            saes,
            cache: opts.cache,
            logits: opts.logits,
            dtype: opts.dtype,
            warnings,
            label_catalogs: opts.labels,
            label_store: store,
            model_fingerprint: OnceLock::new(),
        })
    }

    /// The label registry this session reads.
    pub fn label_store(&self) -> &saex_labels::Store {
        &self.label_store
    }

    /// Read every SAE's labels again (after the registry changed), from the same catalogs
    /// and registry as at open.
    pub fn reload_labels(&self) -> Result<()> {
        let mut warnings = Vec::new();
        labels::attach(&self.saes, &self.label_catalogs, &self.label_store, &mut warnings)?;
        for w in warnings {
            tracing::warn!("{w}");
        }
        Ok(())
    }

    /// SAE `i` bound to the model.
    pub fn pair(&self, i: usize) -> Pair<'_> {
        let s = &self.saes[i];
        Pair { model: &self.model, sae: &s.sae, hook: s.hook, adapter: s.adapter.clone(), warnings: Vec::new() }
    }

    fn loaded(&self) -> String {
        self.saes.iter().map(|s| format!("{} ({})", s.id, s.hook)).collect::<Vec<_>>().join(", ")
    }

    /// Whether `sae_id` names SAE `i`: its id, its Neuronpedia id, or a release prefix of
    /// its id.
    fn names(&self, i: usize, sae_id: &str) -> bool {
        let s = &self.saes[i];
        s.id == sae_id || s.id.starts_with(&format!("{sae_id}/")) || s.neuronpedia_id() == Some(sae_id)
    }

    /// The SAEs `sae_id` (an id, a Neuronpedia id, or a release prefixing ids; `None`: all)
    /// names, narrowed to `layers` and `streams` (empty: any). Errors name the field at
    /// fault and list what is loaded.
    pub fn select(&self, sae_id: Option<&str>, layers: &[usize], streams: &[String]) -> Result<Vec<usize>> {
        if self.saes.is_empty() {
            return Err(Error::field("sae_id", "no SAE is loaded"));
        }
        let mut picked: Vec<usize> = (0..self.saes.len()).filter(|&i| sae_id.is_none_or(|id| self.names(i, id))).collect();
        if picked.is_empty() {
            return Err(Error::field("sae_id", format!("{:?} is not loaded; loaded: {}", sae_id.unwrap_or(""), self.loaded())));
        }
        for &l in layers {
            if !picked.iter().any(|&i| self.saes[i].hook.layer() == Some(l)) {
                return Err(Error::field("layers", format!("no loaded SAE reads layer {l}; loaded: {}", self.loaded())));
            }
        }
        for s in streams {
            if !picked.iter().any(|&i| self.saes[i].hook.stream() == s) {
                return Err(Error::field("streams", format!("no loaded SAE reads stream {s}; loaded: {}", self.loaded())));
            }
        }
        picked.retain(|&i| {
            let h = self.saes[i].hook;
            (layers.is_empty() || h.layer().is_some_and(|l| layers.contains(&l)))
                && (streams.is_empty() || streams.iter().any(|s| s == h.stream()))
        });
        if picked.is_empty() {
            return Err(Error::field(
                "layers",
                format!("no loaded SAE reads those layers and streams together; loaded: {}", self.loaded()),
            ));
        }
        Ok(picked)
    }

    /// The one SAE `sae_id` names (or the only one loaded), for single-SAE verbs.
    pub fn one(&self, sae_id: Option<&str>) -> Result<usize> {
        match sae_id {
            Some(id) => {
                let found: Vec<usize> =
                    (0..self.saes.len()).filter(|&i| self.saes[i].id == id || self.saes[i].neuronpedia_id() == Some(id)).collect();
                match found[..] {
                    [i] => Ok(i),
                    [] => Err(Error::field("sae_id", format!("{id:?} is not loaded; loaded: {}", self.loaded()))),
                    _ => Err(Error::field(
                        "sae_id",
                        format!("{id:?} names {} loaded SAEs; name one by its id: {}", found.len(), self.loaded()),
                    )),
                }
            }
            None if self.saes.len() == 1 => Ok(0),
            None if self.saes.is_empty() => Err(Error::field("sae_id", "no SAE is loaded")),
            None => Err(Error::field("sae_id", format!("{} SAEs are loaded; name one of: {}", self.saes.len(), self.loaded()))),
        }
    }

    /// Refuse a request naming another model than the loaded one (`None`: the loaded one).
    pub fn check_model(&self, model_id: Option<&str>) -> Result<()> {
        match model_id {
            Some(m) if m != self.model_id && !m.eq_ignore_ascii_case(&self.model.info.name) => Err(Error::field(
                "model_id",
                format!("{m:?} is not loaded; this session holds {:?} ({})", self.model_id, self.model.info.name),
            )),
            _ => Ok(()),
        }
    }

    /// Refuse work that needs logits when the model was loaded without them.
    pub fn need_logits(&self, what: &str) -> Result<()> {
        if self.logits {
            Ok(())
        } else {
            Err(Error::Invalid(format!("this session loaded the model only up to its hooks; {what} needs the whole model")))
        }
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

/// What a session holds, as `GET /v1/models` and `saex serve`'s banner show it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Loaded {
    /// The model (one per session).
    pub models: Vec<LoadedModel>,
    /// Its SAEs.
    pub saes: Vec<LoadedSae>,
}

/// The loaded model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LoadedModel {
    /// How it was named when loaded.
    pub model_id: String,
    /// Its own name (GGUF `general.name`, HF `_name_or_path`).
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Blocks.
    pub n_layers: usize,
    /// Residual width.
    pub d_model: usize,
    /// Context length.
    pub n_ctx: usize,
    /// Whether it was loaded whole (generation, entropy filter).
    pub generates: bool,
    /// How its matrices are kept: `stored` (quantized as in the file) or `f32`.
    pub dtype: String,
}

/// One loaded SAE.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LoadedSae {
    /// Its id.
    pub sae_id: String,
    /// The hook it reads.
    pub hook: String,
    /// Layer of the hook.
    pub layer: Option<usize>,
    /// Stream of the hook.
    pub stream: String,
    /// Input width.
    pub d_in: usize,
    /// Features.
    pub d_sae: usize,
    /// Neuronpedia id.
    pub neuronpedia_id: Option<String>,
    /// Whether reference statistics are loaded.
    pub reference_stats: bool,
    /// Labelled features.
    pub labels: usize,
}

/// Describe what `session` holds.
pub fn loaded(session: &Session) -> Loaded {
    let d = session.model.dims();
    Loaded {
        models: vec![LoadedModel {
            model_id: session.model_id.clone(),
            name: session.model.info.name.clone(),
            arch: session.model.info.arch.clone(),
            n_layers: d.n_layers,
            d_model: d.d_model,
            n_ctx: d.n_ctx,
            generates: session.logits,
            dtype: session.dtype.to_string(),
        }],
        saes: session
            .saes
            .iter()
            .map(|s| LoadedSae {
                sae_id: s.id.clone(),
                hook: s.hook.to_string(),
                layer: s.hook.layer(),
                stream: s.hook.stream().to_string(),
                d_in: s.sae.d_in(),
                d_sae: s.sae.d_sae(),
                neuronpedia_id: s.neuronpedia_id().map(str::to_string),
                reference_stats: s.stats.is_some(),
                labels: s.label_count(),
            })
            .collect(),
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
