//! `Sae::load`: a path on disk, or a SAELens release name resolved through the registry and the
//! local Hugging Face cache (saex never downloads). Mirrors `SAE.from_pretrained`'s choice of
//! loader by `conversion_func`, its `config_overrides` and its `norm_scaling_factor` folding.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::formats::{self, Format, ReleaseCtx};
use crate::{registry, Sae};

impl Sae {
    /// Loads `spec`: a directory (or a file in it) on disk, which always wins, else a SAELens
    /// release name `release/sae_id` (`gpt2-small-res-jb/blocks.8.hook_resid_pre`,
    /// `gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical`).
    pub fn load(spec: &str) -> Result<Sae> {
        let path = Path::new(spec);
        if path.exists() {
            return Sae::load_path(path);
        }
        let (release, id) = spec.split_once('/').unwrap_or((spec, ""));
        if registry::release(release).is_none() {
            return Err(Error::UnknownRelease {
                spec: spec.to_string(),
                release: release.to_string(),
                version: registry::sae_lens_version().to_string(),
            });
        }
        Sae::load_release(release, id)
    }

    /// Loads the SAE in directory `path` (or the directory of file `path`), telling its format
    /// from the files present.
    pub fn load_path(path: &Path) -> Result<Sae> {
        let dir = if path.is_file() { path.parent().unwrap_or(Path::new(".")) } else { path };
        let format = formats::detect(dir)?;
        Sae::from_parts(formats::load(dir, format, None)?)
    }

    /// Loads SAE `id` of SAELens release `release` from the local Hugging Face cache.
    pub fn load_release(release: &str, id: &str) -> Result<Sae> {
        let r = registry::release(release).ok_or_else(|| Error::UnknownRelease {
            spec: format!("{release}/{id}"),
            release: release.to_string(),
            version: registry::sae_lens_version().to_string(),
        })?;
        let sae = r.sae(id).ok_or_else(|| Error::UnknownSaeId {
            release: release.to_string(),
            id: id.to_string(),
            examples: r.saes.iter().take(5).map(|s| s.id).collect::<Vec<_>>().join(", "),
        })?;
        let (format, files): (Format, &[&str]) = match r.conversion_func {
            None | Some("sae_lens") => (Format::SaeLens, &["cfg.json", "sae_weights.safetensors"]),
            Some("gemma_2") => (Format::GemmaScope, &["params.npz"]),
            Some("gemma_3") => (Format::GemmaScope2, &["params.safetensors"]),
            Some("llama_scope") => (Format::LlamaScope, &["hyperparams.json", "checkpoints/final.safetensors"]),
            Some("llama_scope_r1_distill") => (Format::LlamaScopeR1, &["config.json", "sae_weights.safetensors"]),
            Some("dictionary_learning_1") => (Format::DictionaryLearning, &["config.json", "ae.pt"]),
            Some(other) => return Err(Error::UnsupportedRelease { release: release.into(), conversion: other.into() }),
        };
        let not_cached = |file: String, e: saex_hub::NotCached| Error::NotCached {
            release: release.to_string(),
            repo: r.repo_id.to_string(),
            file,
            folder: sae.path.clone(),
            missing: e.missing,
        };
        for f in files {
            let file = format!("{}/{f}", sae.path);
            saex_hub::file(r.repo_id, "main", &file).map_err(|e| not_cached(file, e))?;
        }
        let dir = saex_hub::snapshot(r.repo_id, "main").map_err(|e| not_cached(sae.path.clone(), e))?.join(&sae.path);
        // from_pretrained: config_overrides, the yaml's neuronpedia id, dtype float32.
        let mut overrides = r.config_overrides.clone();
        if let Some(np) = sae.neuronpedia {
            overrides.insert("neuronpedia_id".into(), Value::from(np));
        }
        overrides.insert("dtype".into(), "float32".into());
        let ctx =
            ReleaseCtx { repo: r.repo_id.to_string(), folder: sae.path.clone(), overrides, norm_scaling_factor: sae.norm_scaling_factor };
        Sae::from_parts(formats::load(&dir, format, Some(&ctx))?)
    }
}
