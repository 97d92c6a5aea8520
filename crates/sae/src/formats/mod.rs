//! On-disk SAE formats → a SAELens cfg dict and SAELens-layout tensors. Each loader mirrors
//! the SAELens 6.x loader named in its file (`loading/pretrained_sae_loaders.py`).
//!
//! The format is told from the files a directory holds, never from its name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use serde_json::{Map, Value};

use crate::config::{Architecture, SaeConfig};
use crate::error::{Error, Result};

pub(crate) mod dictionary_learning;
pub(crate) mod gemma_scope;
pub(crate) mod gemma_scope_2;
pub(crate) mod llama_scope;
mod pickle;
pub(crate) mod saelens;
pub(crate) mod sparsify;

/// The file layout an SAE was loaded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// SAELens: `cfg.json` + `sae_weights.safetensors` (+ `sparsity.safetensors`).
    SaeLens,
    /// Gemma Scope: `params.npz`.
    GemmaScope,
    /// Gemma Scope 2: `params.safetensors` (+ `config.json`).
    GemmaScope2,
    /// EleutherAI sparsify: `cfg.json` + `sae.safetensors`.
    Sparsify,
    /// Llama Scope: `hyperparams.json` + `checkpoints/final.safetensors`.
    LlamaScope,
    /// Llama Scope R1 (lm-saes): `config.json` + `sae_weights.safetensors`.
    LlamaScopeR1,
    /// dictionary_learning: `ae.pt` + `config.json`.
    DictionaryLearning,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::SaeLens => "SAELens",
            Format::GemmaScope => "Gemma Scope",
            Format::GemmaScope2 => "Gemma Scope 2",
            Format::Sparsify => "sparsify",
            Format::LlamaScope => "Llama Scope",
            Format::LlamaScopeR1 => "Llama Scope R1",
            Format::DictionaryLearning => "dictionary_learning",
        })
    }
}

/// What a SAELens release adds to the files: where they came from and the yaml's extras.
#[derive(Debug, Clone)]
pub(crate) struct ReleaseCtx {
    pub repo: String,
    pub folder: String,
    /// `config_overrides` plus `neuronpedia_id` and `dtype`, as `from_pretrained` passes them.
    pub overrides: Map<String, Value>,
    pub norm_scaling_factor: Option<f64>,
}

/// The output of a format loader, before validation.
pub(crate) struct Parts {
    pub cfg: SaeConfig,
    pub tensors: StateDict,
    pub log_sparsity: Option<Entry>,
    pub format: Format,
    pub dir: PathBuf,
    /// `norm_scaling_factor` to fold when `normalize_activations` is `expected_average_only_in`.
    pub fold: Option<f64>,
}

/// Which format the files in `dir` are.
pub(crate) fn detect(dir: &Path) -> Result<Format> {
    let has = |f: &str| dir.join(f).is_file();
    Ok(if has("cfg.json") && has("sae_weights.safetensors") {
        Format::SaeLens
    } else if has("cfg.json") && has("sae.safetensors") {
        Format::Sparsify
    } else if has("params.npz") {
        Format::GemmaScope
    } else if has("params.safetensors") {
        Format::GemmaScope2
    } else if has("hyperparams.json") && has("checkpoints/final.safetensors") {
        Format::LlamaScope
    } else if has("ae.pt") && has("config.json") {
        Format::DictionaryLearning
    } else if has("config.json") && has("sae_weights.safetensors") {
        Format::LlamaScopeR1
    } else {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .map_err(|source| Error::Io { path: dir.into(), source })?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        found.sort();
        let found = if found.is_empty() { "nothing".to_string() } else { found.join(", ") };
        return Err(Error::UnknownFormat { path: dir.into(), found });
    })
}

/// Loads `dir` as `format`.
pub(crate) fn load(dir: &Path, format: Format, rel: Option<&ReleaseCtx>) -> Result<Parts> {
    match format {
        Format::SaeLens => saelens::load(dir, rel),
        Format::GemmaScope => gemma_scope::load(dir, rel),
        Format::GemmaScope2 => gemma_scope_2::load(dir, rel),
        Format::Sparsify => sparsify::load(dir, rel),
        Format::LlamaScope => llama_scope::load_v1(dir, rel),
        Format::LlamaScopeR1 => llama_scope::load_r1(dir, rel),
        Format::DictionaryLearning => dictionary_learning::load(dir, rel),
    }
}

/// `cfg_dict.update(cfg_overrides)` then `handle_config_defaulting` + `from_dict`.
pub(crate) fn parse_cfg(mut cfg: Value, rel: Option<&ReleaseCtx>, path: &Path) -> Result<SaeConfig> {
    if let (Some(rel), Some(obj)) = (rel, cfg.as_object_mut()) {
        for (k, v) in &rel.overrides {
            obj.insert(k.clone(), v.clone());
        }
    }
    let mut cfg = SaeConfig::from_sae_lens_json(&cfg, path)?;
    // A 6.x cfg drops top-level keys, so SAELens loses the yaml's neuronpedia id there; keep it.
    if cfg.metadata.neuronpedia_id.is_none() {
        if let Some(Value::String(id)) = rel.and_then(|r| r.overrides.get("neuronpedia_id")) {
            cfg.metadata.neuronpedia_id = Some(id.clone());
        }
    }
    Ok(cfg)
}

/// One tensor in SAELens layout, with where it came from for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub tensor: Tensor,
    pub file: PathBuf,
    /// The name in the file.
    pub name: String,
    /// True if the file stores it transposed relative to SAELens.
    pub transposed: bool,
}

impl Entry {
    /// The transpose (for files that store `encoder.weight [d_sae, d_in]` and the like).
    pub fn t(self) -> Result<Entry> {
        Ok(Entry { tensor: self.tensor.t()?.contiguous()?, transposed: !self.transposed, ..self })
    }
}

/// Canonical tensors by SAELens name, from the weights file `file`.
#[derive(Debug)]
pub(crate) struct StateDict {
    file: PathBuf,
    map: BTreeMap<&'static str, Entry>,
}

impl StateDict {
    pub fn new(file: &Path) -> Self {
        StateDict { file: file.into(), map: BTreeMap::new() }
    }

    pub fn insert(&mut self, name: &'static str, e: Entry) {
        self.map.insert(name, e);
    }

    /// Replaces tensor `name` (if present) by `f(tensor)`.
    pub fn map_tensor(&mut self, name: &str, f: impl FnOnce(&Tensor) -> candle_core::Result<Tensor>) -> Result<()> {
        if let Some(e) = self.map.get_mut(name) {
            e.tensor = f(&e.tensor)?;
        }
        Ok(())
    }

    /// Removes a tensor that [`StateDict::validate`] has required.
    pub fn take(&mut self, name: &'static str) -> Result<Tensor> {
        self.map.remove(name).map(|e| e.tensor).ok_or_else(|| Error::BadInput(format!("internal: `{name}` was not loaded")))
    }

    /// Checks that the architecture's tensors are all present with the shapes `d_in`/`d_sae`
    /// imply, and that every value is finite.
    pub fn validate(&self, cfg: &SaeConfig) -> Result<()> {
        let (i, s) = (cfg.d_in, cfg.d_sae);
        let mut need: Vec<(&str, Vec<usize>)> = vec![("W_enc", vec![i, s]), ("W_dec", vec![s, i]), ("b_dec", vec![i])];
        match cfg.architecture {
            Architecture::Standard | Architecture::TopK => need.push(("b_enc", vec![s])),
            Architecture::JumpRelu => need.extend([("b_enc", vec![s]), ("threshold", vec![s])]),
            Architecture::Gated => need.extend([("b_gate", vec![s]), ("b_mag", vec![s]), ("r_mag", vec![s])]),
            Architecture::BatchTopK | Architecture::MatryoshkaBatchTopK => need.extend([("b_enc", vec![s]), ("topk_threshold", vec![])]),
        }
        for (name, shape) in need {
            let e = self.map.get(name).ok_or_else(|| Error::MissingTensor {
                path: self.file.clone(),
                tensor: name.to_string(),
                found: self.map.values().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", "),
            })?;
            let got = e.tensor.dims().to_vec();
            let ok = got == shape || (shape.is_empty() && e.tensor.elem_count() == 1);
            if !ok {
                let file_shape = |s: &[usize]| if e.transposed { s.iter().rev().copied().collect() } else { s.to_vec() };
                return Err(Error::BadShape {
                    path: e.file.clone(),
                    tensor: e.name.clone(),
                    expected: file_shape(&shape),
                    got: file_shape(&got),
                });
            }
        }
        for e in self.map.values() {
            check_finite(e)?;
        }
        Ok(())
    }
}

/// Scans in chunks, so a multi-GB weight is not copied whole.
fn check_finite(e: &Entry) -> Result<()> {
    const CHUNK: usize = 1 << 20;
    let flat = e.tensor.flatten_all()?;
    let n = flat.elem_count();
    let mut start = 0;
    while start < n {
        let len = CHUNK.min(n - start);
        let v = flat.narrow(0, start, len)?.to_vec1::<f32>()?;
        if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            let kind = if x.is_nan() { "NaN" } else { "Inf" };
            return Err(Error::NonFinite { path: e.file.clone(), tensor: e.name.clone(), kind, index: start + i });
        }
        start += len;
    }
    Ok(())
}

/// The tensors of one file, by stored name, converted to f32 as they are taken.
pub(crate) struct Stored {
    pub path: PathBuf,
    tensors: BTreeMap<String, Tensor>,
    /// Every name the file had, for error messages.
    all: String,
}

impl Stored {
    pub fn new(path: &Path, tensors: impl IntoIterator<Item = (String, Tensor)>) -> Self {
        let tensors: BTreeMap<String, Tensor> = tensors.into_iter().collect();
        let all = tensors.keys().cloned().collect::<Vec<_>>().join(", ");
        Stored { path: path.into(), tensors, all }
    }

    /// A safetensors file (f32/f16/bf16/f64 are all read).
    pub fn safetensors(path: &Path) -> Result<Self> {
        let bytes = crate::error::read(path)?;
        let map = candle_core::safetensors::load_buffer(&bytes, &candle_core::Device::Cpu)
            .map_err(|e| Error::bad_file(path, format!("not a valid safetensors file: {e}")))?;
        Ok(Stored::new(path, map))
    }

    /// A `.npz` (numpy `savez` or `savez_compressed`).
    pub fn npz(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::Io { path: path.into(), source: std::io::ErrorKind::NotFound.into() });
        }
        let v = Tensor::read_npz(path).map_err(|e| Error::bad_file(path, format!("not a readable .npz: {e}")))?;
        Ok(Stored::new(path, v))
    }

    /// All tensors, untaken, by stored name.
    pub fn into_tensors(self) -> impl Iterator<Item = (String, Tensor)> {
        self.tensors.into_iter()
    }

    /// The shape of `name`, if present.
    pub fn dims(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.get(name).map(|t| t.dims().to_vec())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Every name the file had (taken or not), comma-separated.
    pub fn names(&self) -> String {
        self.all.clone()
    }

    /// Removes `name`, or `None`.
    pub fn take_opt(&mut self, name: &str) -> Result<Option<Entry>> {
        let Some(t) = self.tensors.remove(name) else { return Ok(None) };
        let tensor = t.to_dtype(DType::F32)?;
        Ok(Some(Entry { tensor, file: self.path.clone(), name: name.to_string(), transposed: false }))
    }

    /// Removes `name`, or a [`Error::MissingTensor`] listing what the file has.
    pub fn take(&mut self, name: &str) -> Result<Entry> {
        let found = self.names();
        self.take_opt(name)?.ok_or_else(|| Error::MissingTensor { path: self.path.clone(), tensor: name.to_string(), found })
    }

    /// Removes the first of `names` present, or a [`Error::MissingTensor`] naming the first.
    pub fn take_any(&mut self, names: &[&str]) -> Result<Entry> {
        match names.iter().find(|n| self.contains(n)) {
            Some(n) => self.take(n),
            None => self.take(names.first().copied().unwrap_or_default()),
        }
    }

    /// Names not taken yet.
    pub fn rest(&self) -> impl Iterator<Item = &String> {
        self.tensors.keys()
    }

    /// Drops `scaling_factor` when it is all ones, as SAELens does; any other value is a
    /// finetuning scaling factor, which no SAELens 6.x inference class accepts.
    pub fn drop_unit_scaling_factor(&mut self) -> Result<()> {
        if let Some(e) = self.take_opt("scaling_factor")? {
            let v = e.tensor.flatten_all()?.to_vec1::<f32>()?;
            if v.iter().any(|x| (x - 1.0).abs() > 1e-5 + 1e-8) {
                return Err(Error::Unsupported {
                    path: self.path.clone(),
                    what: "a `scaling_factor` other than all ones (finetuning_scaling_factor, which SAELens 6.x cannot run either)".into(),
                });
            }
        }
        Ok(())
    }
}

impl StateDict {
    /// Takes a single-element tensor as f64 (used for scalar thresholds).
    pub fn scalar(e: &Entry) -> Result<f64> {
        let v = e.tensor.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        match v.as_slice() {
            [x] => Ok(*x),
            _ => Err(Error::BadShape { path: e.file.clone(), tensor: e.name.clone(), expected: vec![], got: e.tensor.dims().to_vec() }),
        }
    }
}

/// `v` as a JSON object field, or a config error naming `key`.
pub(crate) fn get<'a>(v: &'a Value, key: &str, path: &Path) -> Result<&'a Value> {
    v.get(key).filter(|x| !x.is_null()).ok_or_else(|| Error::config(path, key, "missing"))
}

/// A non-negative integer field.
pub(crate) fn get_usize(v: &Value, key: &str, path: &Path) -> Result<usize> {
    let x = get(v, key, path)?;
    x.as_u64().and_then(|u| usize::try_from(u).ok()).ok_or_else(|| Error::config(path, key, format!("{x} is not a non-negative integer")))
}

/// A number field.
pub(crate) fn get_f64(v: &Value, key: &str, path: &Path) -> Result<f64> {
    let x = get(v, key, path)?;
    x.as_f64().ok_or_else(|| Error::config(path, key, format!("{x} is not a number")))
}
