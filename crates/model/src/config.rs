//! Reading `config.json` (Hugging Face) and GGUF metadata into the numbers an architecture
//! needs, with errors naming the file and key.
//!
//! Rotary settings get special care: transformers 5 writes them nested under
//! `rope_parameters` (per layer type for Gemma 3) where transformers 4 wrote top-level
//! `rope_theta`. Both are read, and a missing theta is an error rather than a default,
//! because a wrong theta gives plausible but wrong activations.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// More blocks than any transformer has; a larger count in a file is corruption.
pub const MAX_LAYERS: usize = 100_000;

/// `n` blocks, read from `key` of `path`, refused above [`MAX_LAYERS`].
pub fn check_layers(path: &std::path::Path, key: &str, n: usize) -> Result<usize> {
    if n > MAX_LAYERS {
        return Err(Error::Config {
            path: path.to_path_buf(),
            key: key.to_string(),
            msg: format!("{n} blocks is not a model (at most {MAX_LAYERS})"),
        });
    }
    Ok(n)
}

/// A parsed `config.json`, remembered with its path for error messages.
pub struct HfConfig {
    /// The file.
    pub path: PathBuf,
    /// Its JSON.
    pub json: Value,
}

/// How positions are encoded for one kind of layer.
#[derive(Debug, Clone, PartialEq)]
pub enum Rope {
    /// Plain rotary with this base.
    Default {
        /// `rope_theta`.
        theta: f64,
    },
    /// Linear position interpolation: frequencies divided by `factor`.
    Linear {
        /// `rope_theta`.
        theta: f64,
        /// `factor`.
        factor: f64,
    },
    /// Llama 3.1 frequency-band scaling.
    Llama3 {
        /// `rope_theta`.
        theta: f64,
        /// `factor`.
        factor: f64,
        /// `low_freq_factor`.
        low_freq_factor: f64,
        /// `high_freq_factor`.
        high_freq_factor: f64,
        /// `original_max_position_embeddings`.
        original_max: f64,
    },
}

impl Rope {
    /// The rotary embedding this describes, for heads of width `dim`.
    pub fn rotary(&self, dim: usize) -> crate::ops::Rotary {
        match *self {
            Rope::Default { theta } => crate::ops::Rotary::new(theta, dim),
            Rope::Linear { theta, factor } => crate::ops::Rotary::new(theta, dim).scaled(factor),
            Rope::Llama3 { theta, factor, low_freq_factor, high_freq_factor, original_max } => {
                crate::ops::Rotary::new(theta, dim).llama3_scaled(factor, low_freq_factor, high_freq_factor, original_max)
            }
        }
    }
}

impl HfConfig {
    /// Read `dir/config.json`. Multimodal configs (Gemma 3 4B+) keep the text model under
    /// `text_config`; that part is what saex runs.
    pub fn read(dir: &Path) -> Result<HfConfig> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        let json: Value = serde_json::from_str(&text).map_err(|e| Error::BadFile { path: path.clone(), msg: format!("bad JSON: {e}") })?;
        Ok(HfConfig { path, json })
    }

    /// The text model's section of the config (itself, or `text_config`).
    pub fn text(&self) -> &Value {
        self.json.get("text_config").filter(|v| v.is_object()).unwrap_or(&self.json)
    }

    /// The number of blocks under `key`: at least 1 (as every dimension) and at most
    /// [`MAX_LAYERS`], because per-layer tables are sized by it before any weight is read (a
    /// fuzzed `block_count` of 2³²−1 aborted on a 4 GB allocation).
    pub fn layers(&self, key: &str) -> Result<usize> {
        check_layers(&self.path, key, self.usize(key)?)
    }

    fn err(&self, key: &str, msg: impl Into<String>) -> Error {
        Error::Config { path: self.path.clone(), key: key.to_string(), msg: msg.into() }
    }

    /// A required integer.
    pub fn usize(&self, key: &str) -> Result<usize> {
        match self.text().get(key) {
            // Every integer key saex reads is a model dimension: 0 would divide by zero or
            // build an empty model.
            Some(v) => match v.as_u64() {
                Some(0) => Err(self.err(key, "is 0; a model dimension must be at least 1")),
                Some(x) => usize::try_from(x).map_err(|_| self.err(key, format!("{x} is too large"))),
                None => Err(self.err(key, format!("expected an integer, got {v}"))),
            },
            None => Err(self.err(key, "missing")),
        }
    }

    /// An optional integer (`null` counts as absent).
    pub fn usize_opt(&self, key: &str) -> Result<Option<usize>> {
        match self.text().get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.usize(key).map(Some),
        }
    }

    /// A required number.
    pub fn f64(&self, key: &str) -> Result<f64> {
        match self.text().get(key) {
            Some(v) => v.as_f64().ok_or_else(|| self.err(key, format!("expected a number, got {v}"))),
            None => Err(self.err(key, "missing")),
        }
    }

    /// An optional number (`null` counts as absent).
    pub fn f64_opt(&self, key: &str) -> Result<Option<f64>> {
        match self.text().get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.f64(key).map(Some),
        }
    }

    /// An optional string.
    pub fn str_opt(&self, key: &str) -> Option<&str> {
        self.text().get(key).and_then(Value::as_str)
    }

    /// An optional bool.
    pub fn bool_opt(&self, key: &str) -> Option<bool> {
        self.text().get(key).and_then(Value::as_bool)
    }

    /// A token id that may be written as a number or a one-element list (`eos_token_id`).
    pub fn token_id(&self, key: &str) -> Option<u32> {
        match self.text().get(key).or_else(|| self.json.get(key))? {
            Value::Number(n) => n.as_u64().map(|x| x as u32),
            Value::Array(a) => a.first().and_then(Value::as_u64).map(|x| x as u32),
            _ => None,
        }
    }

    /// `layer_types` (`"full_attention"` / `"sliding_attention"` per layer), if written.
    pub fn layer_types(&self, n_layers: usize) -> Result<Option<Vec<String>>> {
        let Some(v) = self.text().get("layer_types").filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let list: Vec<String> = v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default();
        if list.len() != n_layers {
            return Err(self.err("layer_types", format!("expected {n_layers} strings, got {v}")));
        }
        Ok(Some(list))
    }

    /// Rotary settings for layers of `layer_type` (`None` for models with one kind).
    ///
    /// Looks, in order, at `rope_parameters[layer_type]`, `rope_parameters`, then the
    /// transformers 4 keys: `rope_local_base_freq` (Gemma 3 sliding layers), `rope_theta`
    /// and `rope_scaling`.
    pub fn rope(&self, layer_type: Option<&str>) -> Result<Rope> {
        let t = self.text();
        if let Some(params) = t.get("rope_parameters").filter(|v| v.is_object()) {
            let section = layer_type.and_then(|lt| params.get(lt)).unwrap_or(params);
            if section.get("rope_theta").is_some() {
                return self.rope_from(section, "rope_parameters");
            }
        }
        let theta_key = match layer_type {
            Some("sliding_attention") if t.get("rope_local_base_freq").is_some() => "rope_local_base_freq",
            _ => "rope_theta",
        };
        let theta = self.f64(theta_key)?;
        let scaling = if theta_key == "rope_theta" { t.get("rope_scaling").filter(|v| !v.is_null()) } else { None };
        match scaling {
            None => Ok(Rope::Default { theta }),
            Some(s) => {
                let mut section = s.clone();
                section["rope_theta"] = theta.into();
                self.rope_from(&section, "rope_scaling")
            }
        }
    }

    fn rope_from(&self, s: &Value, key: &str) -> Result<Rope> {
        let num = |k: &str| s.get(k).and_then(Value::as_f64).ok_or_else(|| self.err(key, format!("missing number `{k}` in {s}")));
        let theta = num("rope_theta")?;
        let kind = s.get("rope_type").or_else(|| s.get("type")).and_then(Value::as_str).unwrap_or("default");
        match kind {
            "default" => Ok(Rope::Default { theta }),
            "linear" => Ok(Rope::Linear { theta, factor: num("factor")? }),
            "llama3" => Ok(Rope::Llama3 {
                theta,
                factor: num("factor")?,
                low_freq_factor: num("low_freq_factor")?,
                high_freq_factor: num("high_freq_factor")?,
                original_max: num("original_max_position_embeddings")?,
            }),
            other => Err(self.err(key, format!("unsupported rope_type `{other}` (supported: default, linear, llama3)"))),
        }
    }
}

/// Which kind of attention each layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// Attends to every earlier position.
    Full,
    /// Attends to the last `sliding_window` positions.
    Sliding,
}

impl LayerKind {
    /// From transformers' `layer_types` strings.
    pub fn parse(s: &str, path: &Path) -> Result<LayerKind> {
        match s {
            "full_attention" => Ok(LayerKind::Full),
            "sliding_attention" => Ok(LayerKind::Sliding),
            other => {
                Err(Error::Config { path: path.to_path_buf(), key: "layer_types".into(), msg: format!("unknown layer type `{other}`") })
            }
        }
    }

    /// The string transformers uses (also the key of per-type `rope_parameters`).
    pub fn as_str(&self) -> &'static str {
        match self {
            LayerKind::Full => "full_attention",
            LayerKind::Sliding => "sliding_attention",
        }
    }
}
