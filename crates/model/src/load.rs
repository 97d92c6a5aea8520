//! Turning a model reference into a loaded [`Model`]: a GGUF file, a Hugging Face directory
//! (`config.json` + safetensors + `tokenizer.json`), or a hub id such as `google/gemma-2-2b`
//! found in the local Hugging Face cache.
//!
//! Hub ids are resolved in the local cache by `saex-hub`.

use std::path::{Path, PathBuf};

use crate::config::HfConfig;
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use crate::weights::{GgufFile, Weights};
use crate::{gemma, gpt2, llama, Arch, LoadOptions, Model, ModelInfo};

/// Load from `spec`: an existing file (GGUF), an existing directory (HF layout), or a hub id
/// resolved in the local HF cache.
pub fn load(spec: &str, opts: LoadOptions) -> Result<Model> {
    let path = Path::new(spec);
    if path.is_file() {
        return load_gguf(path, spec, opts);
    }
    if path.is_dir() {
        return load_hf_dir(path, spec, opts);
    }
    if saex_hub::looks_like_repo_id(spec.split('@').next().unwrap_or(spec)) {
        let dir = resolve_hub_cache(spec)?;
        return load_hf_dir(&dir, spec, opts);
    }
    Err(Error::NotFound(format!(
        "{spec}: no such file or directory (expected a .gguf file, a Hugging Face model directory or a hub id like google/gemma-2-2b)"
    )))
}

/// Find `repo` (`org/name`, optionally `@revision`) with the files a model needs in the
/// local HF cache (downloading them first when built with the `download` feature).
pub fn resolve_hub_cache(spec: &str) -> Result<PathBuf> {
    let (repo, revision) = spec.split_once('@').unwrap_or((spec, "main"));
    let not_found = |e: saex_hub::FetchError| Error::NotFound(format!("model {e}"));
    let config = saex_hub::fetch(repo, revision, "config.json").map_err(not_found)?;
    saex_hub::fetch(repo, revision, "tokenizer.json").map_err(not_found)?;
    let snap = config.parent().map(Path::to_path_buf).unwrap_or_default();
    if saex_hub::fetch(repo, revision, "model.safetensors").is_err() {
        let index = saex_hub::fetch(repo, revision, "model.safetensors.index.json").map_err(not_found)?;
        let text = std::fs::read_to_string(&index).map_err(|source| Error::Io { path: index.clone(), source })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::BadFile { path: index.clone(), msg: format!("bad JSON: {e}") })?;
        let mut shards: Vec<&str> = json["weight_map"].as_object().into_iter().flatten().filter_map(|(_, v)| v.as_str()).collect();
        shards.sort_unstable();
        shards.dedup();
        for shard in shards {
            saex_hub::fetch(repo, revision, shard).map_err(not_found)?;
        }
    }
    Ok(snap)
}

/// Only the tokenizer of `spec` (no weights): for corpus building and token counting.
pub fn tokenizer(spec: &str) -> Result<Tokenizer> {
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(Tokenizer::from_gguf(&GgufFile::open(path)?.content)?);
    }
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else if saex_hub::looks_like_repo_id(spec.split('@').next().unwrap_or(spec)) {
        resolve_hub_cache(spec)?
    } else {
        return Err(Error::NotFound(format!("{spec}: no such file or directory")));
    };
    let cfg = HfConfig::read(&dir)?;
    let bos = cfg.token_id("bos_token_id");
    Ok(Tokenizer::from_hf_file(&dir.join("tokenizer.json"), bos, cfg.token_id("eos_token_id"), bos.is_some())?)
}

fn load_hf_dir(dir: &Path, source: &str, opts: LoadOptions) -> Result<Model> {
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
    let weights = Weights::open_hf_dir(dir)?.with_dtype(opts.dtype);
    let arch = match arch_name {
        "gpt2" => Arch::Gpt2(gpt2::Model::load(gpt2::Config::from_hf(&cfg)?, &weights, opts)?),
        "gemma2" | "gemma3" => Arch::Gemma(gemma::Model::load(gemma::Config::from_hf(&cfg, arch_name)?, &weights, opts)?),
        "llama" | "qwen2" => Arch::Llama(llama::Model::load(llama::Config::from_hf(&cfg, arch_name)?, &weights, opts)?),
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
    let name = cfg.json.get("_name_or_path").and_then(|v| v.as_str()).map(str::to_string);
    finish(arch, tokenizer, arch_name, source, name, bos.is_some())
}

fn load_gguf(path: &Path, source: &str, opts: LoadOptions) -> Result<Model> {
    let gguf = GgufFile::open(path)?;
    // Before anything else: a piece of a model fails on its missing keys or tensors
    // otherwise, with a message that does not say why.
    gguf.check_complete()?;
    let arch_name = gguf
        .meta("general.architecture")?
        .to_string()
        .map_err(|_| Error::Config { path: path.to_path_buf(), key: "general.architecture".into(), msg: "not a string".into() })?
        .clone();
    let tokenizer = Tokenizer::from_gguf(&gguf.content)?;
    let name = gguf.meta("general.name").ok().and_then(|v| v.to_string().ok()).cloned();
    let add_bos = tokenizer.add_bos_default();
    let arch = match arch_name.as_str() {
        "gemma2" | "gemma3" => {
            let cfg = gemma::Config::from_gguf(&gguf, &arch_name)?;
            Arch::Gemma(gemma::Model::load(cfg, &Weights::open_gguf(gguf, gemma::gguf_name)?.with_dtype(opts.dtype), opts)?)
        }
        "llama" | "qwen2" => {
            let cfg = llama::Config::from_gguf(&gguf, &arch_name)?;
            Arch::Llama(llama::Model::load(cfg, &Weights::open_gguf(gguf, llama::gguf_name)?.with_dtype(opts.dtype), opts)?)
        }
        other => return Err(Error::UnsupportedArch { arch: other.to_string() }),
    };
    finish(arch, tokenizer, &arch_name, source, name, add_bos)
}

fn finish(arch: Arch, tokenizer: Tokenizer, arch_name: &str, source: &str, name: Option<String>, add_bos: bool) -> Result<Model> {
    let dims = match &arch {
        Arch::Gpt2(m) => m.config().dims(),
        Arch::Gemma(m) => m.config().dims(),
        Arch::Llama(m) => m.config().dims(),
    };
    Ok(Model {
        arch,
        tokenizer,
        info: ModelInfo {
            arch: arch_name.to_string(),
            source: source.to_string(),
            name: name.filter(|n| !n.is_empty()).unwrap_or_else(|| source.to_string()),
            dims,
        },
        add_bos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_hub_model_names_what_is_missing() {
        let tmp = std::env::temp_dir().join(format!("saex-load-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::env::set_var("HF_HUB_CACHE", &tmp);
        let err = resolve_hub_cache("google/gemma-2-2b").unwrap_err().to_string();
        assert!(err.contains("google/gemma-2-2b") && err.contains("models--google--gemma-2-2b"), "{err}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
