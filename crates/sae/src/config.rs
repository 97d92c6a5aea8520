//! `SaeConfig`: SAELens 6.x config fields, read from the 6.x layout or the pre-6.0 flat one
//! exactly as SAELens `handle_config_defaulting` / `handle_pre_6_0_config` +
//! `SAEConfig.from_dict` do (`sae_lens/loading/pretrained_sae_loaders.py`, `saes/sae.py`).

use std::path::Path;

use saex_hooks::Hook;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The SAE's `architecture()` string in SAELens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// `standard`: `relu(x W_enc + b_enc)`.
    Standard,
    /// `gated`: gate `x W_enc + b_gate > 0` times magnitude `relu(x (W_enc ⊙ exp r_mag) + b_mag)`.
    Gated,
    /// `jumprelu`: `relu(h) · (h > threshold)`.
    JumpRelu,
    /// `topk`: the k largest pre-activations per token, then ReLU.
    TopK,
    /// `batchtopk`: a SAELens *training* checkpoint; SAELens saves it for inference as a
    /// JumpReLU SAE with its learned `topk_threshold`, and saex runs it that way.
    BatchTopK,
    /// `matryoshka_batchtopk`: as [`Architecture::BatchTopK`].
    MatryoshkaBatchTopK,
}

impl Architecture {
    /// The SAELens string.
    pub fn as_str(&self) -> &'static str {
        match self {
            Architecture::Standard => "standard",
            Architecture::Gated => "gated",
            Architecture::JumpRelu => "jumprelu",
            Architecture::TopK => "topk",
            Architecture::BatchTopK => "batchtopk",
            Architecture::MatryoshkaBatchTopK => "matryoshka_batchtopk",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "standard" => Architecture::Standard,
            "gated" => Architecture::Gated,
            "jumprelu" => Architecture::JumpRelu,
            "topk" => Architecture::TopK,
            "batchtopk" => Architecture::BatchTopK,
            "matryoshka_batchtopk" => Architecture::MatryoshkaBatchTopK,
            _ => return None,
        })
    }
}

/// `normalize_activations`: what SAELens does to the input before encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Normalization {
    /// `none`.
    None,
    /// `expected_average_only_in`: nothing at run time; `from_pretrained` folds the release's
    /// `norm_scaling_factor` into the weights (then it is `none`).
    ExpectedAverageOnlyIn,
    /// `constant_norm_rescale`: `x · sqrt(d_in) / ‖x‖` per token, undone on decode.
    ConstantNormRescale,
    /// `layer_norm`: `(x − μ) / (σ + 1e-5)` (σ unbiased) per token, undone on decode.
    LayerNorm,
}

impl Normalization {
    /// The SAELens string.
    pub fn as_str(&self) -> &'static str {
        match self {
            Normalization::None => "none",
            Normalization::ExpectedAverageOnlyIn => "expected_average_only_in",
            Normalization::ConstantNormRescale => "constant_norm_rescale",
            Normalization::LayerNorm => "layer_norm",
        }
    }
}

/// `reshape_activations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reshape {
    /// `none`.
    None,
    /// `hook_z`: `[..., n_heads, d_head]` is flattened to `[..., n_heads·d_head]`.
    HookZ,
}

/// `metadata`: how the SAE was trained and should be used. Only `hook_name` affects saex.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// TransformerLens model name (`gpt2-small`, `gemma-2-2b`, `meta-llama/Llama-3.1-8B`).
    pub model_name: Option<String>,
    /// Where the SAE reads activations.
    pub hook_name: Option<Hook>,
    /// The attention head the SAE was trained on, if one (the caller selects it).
    pub hook_head_index: Option<usize>,
    /// Whether training prompts started with BOS.
    pub prepend_bos: Option<bool>,
    /// Training context length.
    pub context_size: Option<usize>,
    /// Neuronpedia id (`gpt2-small/8-res-jb`).
    pub neuronpedia_id: Option<String>,
    /// Keyword arguments TransformerLens `from_pretrained_no_processing` should get, as JSON.
    pub model_from_pretrained_kwargs: Option<Value>,
    /// Training dataset.
    pub dataset_path: Option<String>,
    /// SAELens version that wrote the config.
    pub sae_lens_version: Option<String>,
    /// Every other metadata key, verbatim.
    pub extra: Map<String, Value>,
}

/// An SAE config with SAELens 6.x field names.
#[derive(Debug, Clone, PartialEq)]
pub struct SaeConfig {
    /// Input width.
    pub d_in: usize,
    /// Number of features.
    pub d_sae: usize,
    /// The stored `dtype` (saex always computes in f32).
    pub dtype: String,
    /// The architecture.
    pub architecture: Architecture,
    /// Subtract `b_dec` from the (normalized) input before encoding.
    pub apply_b_dec_to_input: bool,
    /// Input normalization.
    pub normalize_activations: Normalization,
    /// Input reshaping.
    pub reshape_activations: Reshape,
    /// TopK's k (`topk` only).
    pub k: Option<usize>,
    /// TopK: scale pre-activations by decoder row norms before selecting (`topk`; for
    /// `batchtopk` it says whether the norms are folded in when converting to JumpReLU).
    pub rescale_acts_by_decoder_norm: bool,
    /// How the SAE was trained and should be used.
    pub metadata: Metadata,
}

/// `constants.py:DTYPE_MAP` keys.
const DTYPES: [&str; 8] =
    ["float32", "float64", "float16", "bfloat16", "torch.float32", "torch.float64", "torch.float16", "torch.bfloat16"];

impl SaeConfig {
    /// Reads a SAELens cfg dict, 6.x or pre-6.0, as SAELens does: the pre-6.0 handling runs
    /// when `sae_lens_version` (top level or in `metadata`) is missing or below 6.0.0-rc.0.
    /// `path` only names the file in errors.
    pub fn from_sae_lens_json(cfg: &Value, path: &Path) -> Result<Self> {
        let obj = cfg.as_object().ok_or_else(|| Error::config(path, "", "config is not a JSON object"))?;
        let obj = crate::defaulting::handle_config_defaulting(obj, path)?;
        Self::from_dict(&obj, path)
    }

    /// `SAEConfig.from_dict` on a 6.x-layout dict.
    fn from_dict(obj: &Map<String, Value>, path: &Path) -> Result<Self> {
        let architecture = match obj.get("architecture") {
            Some(Value::String(s)) => {
                Architecture::parse(s).ok_or_else(|| Error::UnknownArchitecture { path: path.into(), architecture: s.clone() })?
            }
            Some(v) => return Err(Error::UnknownArchitecture { path: path.into(), architecture: v.to_string() }),
            None => return Err(Error::config(path, "architecture", "missing")),
        };
        let d_in = positive(obj, "d_in", path)?;
        let d_sae = positive(obj, "d_sae", path)?;
        let dtype = match obj.get("dtype") {
            None => "float32".to_string(),
            Some(Value::String(s)) if DTYPES.contains(&s.as_str()) => s.clone(),
            Some(v) => return Err(Error::config(path, "dtype", format!("{v} is not one of {}", DTYPES.join(", ")))),
        };
        let apply_b_dec_to_input = boolean(obj, "apply_b_dec_to_input", path)?.unwrap_or(true);
        let normalize_activations = match obj.get("normalize_activations") {
            None => Normalization::None,
            Some(Value::String(s)) => parse_normalization(s, path)?,
            Some(v) => return Err(unknown_norm(&v.to_string(), path)),
        };
        let reshape_activations = match obj.get("reshape_activations") {
            None | Some(Value::Null) => Reshape::None,
            Some(Value::String(s)) if s == "none" => Reshape::None,
            Some(Value::String(s)) if s == "hook_z" => Reshape::HookZ,
            Some(v) => return Err(Error::config(path, "reshape_activations", format!("{v} is not none or hook_z"))),
        };
        let (k, rescale_acts_by_decoder_norm) = match architecture {
            Architecture::TopK => {
                let k = match obj.get("k") {
                    None => 100, // TopKSAEConfig default
                    Some(v) => {
                        integer(v).filter(|&k| k >= 1).ok_or_else(|| Error::config(path, "k", format!("{v} is not a positive integer")))?
                    }
                };
                if k > d_sae {
                    return Err(Error::config(path, "k", format!("{k} exceeds d_sae {d_sae}")));
                }
                (Some(k), boolean(obj, "rescale_acts_by_decoder_norm", path)?.unwrap_or(false))
            }
            // TopKTrainingSAEConfig defaults rescale_acts_by_decoder_norm to True.
            Architecture::BatchTopK | Architecture::MatryoshkaBatchTopK => {
                (None, boolean(obj, "rescale_acts_by_decoder_norm", path)?.unwrap_or(true))
            }
            _ => (None, false),
        };
        let metadata = match obj.get("metadata") {
            None | Some(Value::Null) => Metadata::default(),
            Some(Value::Object(m)) => parse_metadata(m, path)?,
            Some(v) => return Err(Error::config(path, "metadata", format!("{v} is not an object"))),
        };
        if reshape_activations == Reshape::HookZ && metadata.hook_name.is_some_and(|h| !matches!(h, Hook::AttnZ(_))) {
            return Err(Error::config(path, "reshape_activations", "hook_z reshaping on a hook that is not attn.hook_z"));
        }
        Ok(SaeConfig {
            d_in,
            d_sae,
            dtype,
            architecture,
            apply_b_dec_to_input,
            normalize_activations,
            reshape_activations,
            k,
            rescale_acts_by_decoder_norm,
            metadata,
        })
    }

    /// The config in SAELens 6.x layout (what `SAEConfig.to_dict` would write).
    pub fn to_json(&self) -> Value {
        let m = &self.metadata;
        let mut meta = m.extra.clone();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                meta.insert(k.to_string(), v);
            }
        };
        put("model_name", m.model_name.clone().map(Value::from));
        put("hook_name", m.hook_name.map(|h| Value::from(h.to_string())));
        put("hook_head_index", m.hook_head_index.map(Value::from));
        put("prepend_bos", m.prepend_bos.map(Value::from));
        put("context_size", m.context_size.map(Value::from));
        put("neuronpedia_id", m.neuronpedia_id.clone().map(Value::from));
        put("model_from_pretrained_kwargs", m.model_from_pretrained_kwargs.clone());
        put("dataset_path", m.dataset_path.clone().map(Value::from));
        // Always versioned, as SAELens writes it, so that reading it back takes the 6.x path.
        let version = m.sae_lens_version.clone().unwrap_or_else(|| crate::registry::sae_lens_version().to_string());
        put("sae_lens_version", Some(Value::from(version)));
        let mut out = serde_json::json!({
            "d_in": self.d_in,
            "d_sae": self.d_sae,
            "dtype": self.dtype,
            "architecture": self.architecture.as_str(),
            "apply_b_dec_to_input": self.apply_b_dec_to_input,
            "normalize_activations": self.normalize_activations.as_str(),
            "reshape_activations": match self.reshape_activations { Reshape::None => "none", Reshape::HookZ => "hook_z" },
            "metadata": meta,
        });
        if let (Some(k), Some(o)) = (self.k, out.as_object_mut()) {
            o.insert("k".into(), k.into());
            o.insert("rescale_acts_by_decoder_norm".into(), self.rescale_acts_by_decoder_norm.into());
        }
        out
    }
}

fn parse_normalization(s: &str, path: &Path) -> Result<Normalization> {
    Ok(match s {
        "none" => Normalization::None,
        "expected_average_only_in" => Normalization::ExpectedAverageOnlyIn,
        "constant_norm_rescale" => Normalization::ConstantNormRescale,
        "layer_norm" => Normalization::LayerNorm,
        other => return Err(unknown_norm(other, path)),
    })
}

fn unknown_norm(value: &str, path: &Path) -> Error {
    let hint = if value == "covariance_whitening" {
        "; SAELens ignores it at inference (its weights expect whitened input): fold the whitening into the weights first".to_string()
    } else {
        String::new()
    };
    Error::UnknownNormalization { path: path.into(), value: value.to_string(), hint }
}

fn parse_metadata(m: &Map<String, Value>, path: &Path) -> Result<Metadata> {
    let mut extra = m.clone();
    let mut take = |k: &str| extra.remove(k).filter(|v| !v.is_null());
    let string = |k: &str, v: Option<Value>| -> Result<Option<String>> {
        match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(Error::config(path, &format!("metadata.{k}"), format!("{v} is not a string"))),
        }
    };
    let count = |k: &str, v: Option<Value>| -> Result<Option<usize>> {
        v.map(|v| integer(&v).ok_or_else(|| Error::config(path, &format!("metadata.{k}"), format!("{v} is not a non-negative integer"))))
            .transpose()
    };
    let hook_name = match string("hook_name", take("hook_name"))? {
        None => None,
        Some(name) => Some(name.parse::<Hook>().map_err(|_| Error::UnknownHook { path: path.into(), name })?),
    };
    let prepend_bos = match take("prepend_bos") {
        None => None,
        Some(Value::Bool(b)) => Some(b),
        Some(v) => return Err(Error::config(path, "metadata.prepend_bos", format!("{v} is not a bool"))),
    };
    Ok(Metadata {
        model_name: string("model_name", take("model_name"))?,
        hook_name,
        hook_head_index: count("hook_head_index", take("hook_head_index"))?,
        prepend_bos,
        context_size: count("context_size", take("context_size"))?,
        neuronpedia_id: string("neuronpedia_id", take("neuronpedia_id"))?,
        model_from_pretrained_kwargs: take("model_from_pretrained_kwargs"),
        dataset_path: string("dataset_path", take("dataset_path"))?,
        sae_lens_version: take("sae_lens_version").map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)),
        extra,
    })
}

/// A JSON number that is a non-negative integer (`32` or `32.0`).
fn integer(v: &Value) -> Option<usize> {
    if let Some(u) = v.as_u64() {
        return usize::try_from(u).ok();
    }
    v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15).map(|f| f as usize)
}

fn positive(obj: &Map<String, Value>, key: &str, path: &Path) -> Result<usize> {
    match obj.get(key) {
        None => Err(Error::config(path, key, "missing")),
        Some(v) => integer(v).filter(|&n| n > 0).ok_or_else(|| Error::config(path, key, format!("{v} is not a positive integer"))),
    }
}

fn boolean(obj: &Map<String, Value>, key: &str, path: &Path) -> Result<Option<bool>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(Error::config(path, key, format!("{v} is not a bool"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn to_json_reads_back_unchanged() {
        let cfg = json!({"model_name": "gpt2-small", "hook_point": "blocks.2.attn.hook_z", "d_in": 768, "d_sae": 24576,
                         "activation_fn_str": "topk", "activation_fn_kwargs": {"k": 32}, "normalize_activations": "layer_norm"});
        let c = SaeConfig::from_sae_lens_json(&cfg, Path::new("cfg.json")).unwrap();
        assert_eq!(c.reshape_activations, Reshape::HookZ, "pre-6.0 infers hook_z reshaping from the hook name");
        let back = SaeConfig::from_sae_lens_json(&c.to_json(), Path::new("cfg.json")).unwrap();
        let mut want = c.clone();
        want.metadata.sae_lens_version = Some(crate::registry::sae_lens_version().to_string());
        assert_eq!(back, want);
    }

    #[test]
    fn six_x_config_keeps_metadata_and_rejects_bad_values() {
        let mut cfg = json!({
            "d_in": 16, "d_sae": 48, "architecture": "jumprelu", "dtype": "float32",
            "metadata": {"sae_lens_version": "6.54.12", "hook_name": "blocks.2.attn.hook_z", "foo": 1}
        });
        let c = SaeConfig::from_sae_lens_json(&cfg, Path::new("cfg.json")).unwrap();
        assert_eq!(c.architecture, Architecture::JumpRelu);
        assert_eq!(c.reshape_activations, Reshape::None, "6.x does not infer hook_z reshaping");
        assert_eq!(c.metadata.extra.get("foo"), Some(&json!(1)));
        cfg["normalize_activations"] = json!("covariance_whitening");
        let e = SaeConfig::from_sae_lens_json(&cfg, Path::new("cfg.json")).unwrap_err().to_string();
        assert!(e.contains("covariance_whitening"), "{e}");
        cfg["normalize_activations"] = json!("none");
        cfg["metadata"]["hook_name"] = json!("blocks.2.hook_q");
        let e = SaeConfig::from_sae_lens_json(&cfg, Path::new("cfg.json")).unwrap_err().to_string();
        assert!(e.contains("blocks.2.hook_q"), "{e}");
    }
}
