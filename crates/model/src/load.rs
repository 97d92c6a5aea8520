//! Turning a model reference into a loaded [`Model`]: a GGUF file, a Hugging Face directory
//! (`config.json` + safetensors + `tokenizer.json`), or a hub id such as `google/gemma-2-2b`
//! found in the local Hugging Face cache.
//!
//! The cache is resolved here rather than through the hf-hub crate because hf-hub ignores
//! `HF_HUB_CACHE` and `HF_HUB_OFFLINE`, and the snapshot layout is small and documented:
//! `$HF_HUB_CACHE/models--{org}--{name}/refs/{revision}` holds a commit hash and
//! `snapshots/{hash}/` holds the files.

use std::path::{Path, PathBuf};

use crate::config::HfConfig;
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use crate::weights::{GgufFile, Weights};
use crate::{gemma, gpt2, llama, Arch, Model, ModelInfo};

/// Load from `spec`: an existing file (GGUF), an existing directory (HF layout), or a hub id
/// resolved in the local HF cache.
pub fn load(spec: &str) -> Result<Model> {
    let path = Path::new(spec);
    if path.is_file() {
        return load_gguf(path, spec);
    }
    if path.is_dir() {
        return load_hf_dir(path, spec);
    }
    if looks_like_hub_id(spec) {
        let dir = resolve_hub_cache(spec)?;
        return load_hf_dir(&dir, spec);
    }
    Err(Error::NotFound(format!("{spec}: no such file or directory (expected a .gguf file, a Hugging Face model directory or a hub id like google/gemma-2-2b)")))
}

fn looks_like_hub_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) && !p.starts_with('.')
        })
}

/// The HF hub cache directory: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
/// `~/.cache/huggingface/hub` (huggingface_hub's own order).
pub fn hub_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HF_HUB_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("HF_HOME") {
        return PathBuf::from(d).join("hub");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".cache").join("huggingface").join("hub")
}

/// Find `repo` (`org/name`, optionally `@revision`) in the local HF cache.
pub fn resolve_hub_cache(repo: &str) -> Result<PathBuf> {
    let (repo, revision) = repo.split_once('@').unwrap_or((repo, "main"));
    let cache = hub_cache_dir();
    let root = cache.join(format!("models--{}", repo.replace('/', "--")));
    let missing = |what: String| {
        Error::NotFound(format!(
            "model `{repo}` is not in the local Hugging Face cache ({what}); saex does not download: \
             put the files there (e.g. `huggingface-cli download {repo}`), or pass a local directory or .gguf file"
        ))
    };
    if !root.is_dir() {
        return Err(missing(format!("no {}", root.display())));
    }
    let is_hash = revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit());
    let hash = if is_hash {
        revision.to_string()
    } else {
        let r = root.join("refs").join(revision);
        std::fs::read_to_string(&r).map_err(|_| missing(format!("no {}", r.display())))?.trim().to_string()
    };
    let snap = root.join("snapshots").join(&hash);
    for f in ["config.json", "tokenizer.json"] {
        if !snap.join(f).is_file() {
            return Err(missing(format!("no {}", snap.join(f).display())));
        }
    }
    if !snap.join("model.safetensors").is_file() && !snap.join("model.safetensors.index.json").is_file() {
        return Err(missing(format!("no model.safetensors or model.safetensors.index.json in {}", snap.display())));
    }
    Ok(snap)
}

fn load_hf_dir(dir: &Path, source: &str) -> Result<Model> {
    let cfg = HfConfig::read(dir)?;
    let model_type = cfg
        .text()
        .get("model_type")
        .and_then(|v| v.as_str())
        .or_else(|| cfg.json.get("model_type").and_then(|v| v.as_str()))
        .ok_or_else(|| Error::Config { path: cfg.path.clone(), key: "model_type".into(), msg: "missing".into() })?
        .to_string();
    // Multimodal Gemma 3 nests the text config; its text model_type is `gemma3_text`.
    let arch_name = match model_type.as_str() {
        "gemma3_text" => "gemma3",
        other => other,
    };
    let weights = Weights::open_hf_dir(dir)?;
    let arch = match arch_name {
        "gpt2" => Arch::Gpt2(gpt2::Model::load(gpt2::Config::from_hf(&cfg)?, &weights)?),
        "gemma2" | "gemma3" => Arch::Gemma(gemma::Model::load(gemma::Config::from_hf(&cfg, arch_name)?, &weights)?),
        "llama" | "qwen2" => Arch::Llama(llama::Model::load(llama::Config::from_hf(&cfg, arch_name)?, &weights)?),
        other => return Err(Error::UnsupportedArch { arch: other.to_string() }),
    };
    let bos = cfg.token_id("bos_token_id");
    let eos = cfg.token_id("eos_token_id");
    let tok_path = dir.join("tokenizer.json");
    if !tok_path.is_file() {
        return Err(Error::NotFound(format!("{}: missing tokenizer.json", dir.display())));
    }
    // TransformerLens prepends bos for every HF model (GPT-2 gets <|endoftext|>).
    let tokenizer = Tokenizer::from_hf_file(&tok_path, bos, eos, bos.is_some())?;
    finish(arch, tokenizer, arch_name, source, bos.is_some())
}

fn load_gguf(path: &Path, source: &str) -> Result<Model> {
    let gguf = GgufFile::open(path)?;
    let arch_name = gguf
        .meta("general.architecture")?
        .to_string()
        .map_err(|_| Error::Config {
            path: path.to_path_buf(),
            key: "general.architecture".into(),
            msg: "not a string".into(),
        })?
        .clone();
    let tokenizer = Tokenizer::from_gguf(&gguf.content)?;
    let add_bos = tokenizer.add_bos_default();
    let arch = match arch_name.as_str() {
        "gemma2" | "gemma3" => {
            let cfg = gemma::Config::from_gguf(&gguf, &arch_name)?;
            Arch::Gemma(gemma::Model::load(cfg, &Weights::open_gguf(gguf, gemma::gguf_name))?)
        }
        "llama" | "qwen2" => {
            let cfg = llama::Config::from_gguf(&gguf, &arch_name)?;
            Arch::Llama(llama::Model::load(cfg, &Weights::open_gguf(gguf, llama::gguf_name))?)
        }
        other => return Err(Error::UnsupportedArch { arch: other.to_string() }),
    };
    finish(arch, tokenizer, &arch_name, source, add_bos)
}

fn finish(arch: Arch, tokenizer: Tokenizer, arch_name: &str, source: &str, add_bos: bool) -> Result<Model> {
    let dims = match &arch {
        Arch::Gpt2(m) => m.config().dims(),
        Arch::Gemma(m) => m.config().dims(),
        Arch::Llama(m) => m.config().dims(),
    };
    Ok(Model {
        arch,
        tokenizer,
        info: ModelInfo { arch: arch_name.to_string(), source: source.to_string(), dims },
        add_bos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_are_told_from_paths() {
        assert!(looks_like_hub_id("google/gemma-2-2b"));
        assert!(looks_like_hub_id("HuggingFaceTB/SmolLM2-135M"));
        assert!(!looks_like_hub_id("models/x/y"));
        assert!(!looks_like_hub_id("model.gguf"));
        assert!(!looks_like_hub_id("../x"));
    }

    #[test]
    fn a_missing_hub_model_names_what_is_missing() {
        let tmp = std::env::temp_dir().join(format!("saex-hub-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::env::set_var("HF_HUB_CACHE", &tmp);
        let err = resolve_hub_cache("google/gemma-2-2b").unwrap_err().to_string();
        assert!(err.contains("google/gemma-2-2b") && err.contains("models--google--gemma-2-2b"), "{err}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
