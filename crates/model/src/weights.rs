//! Checkpoint tensors by name, from memory-mapped safetensors (single or sharded) or a GGUF
//! file, always handed out as dense f32 after a shape check that names the tensor.
//!
//! Architecture files ask for tensors by their Hugging Face names; a GGUF source translates
//! each name with the architecture's table (llama.cpp renames everything: `blk.3.attn_q`).
//! Quantized GGUF tensors are dequantized to f32 at load: measured on this CPU, candle's
//! quantized matmul has no fast kernel for Q5_0/Q8_0 at width 640 (2-23 GFLOP/s against ~90
//! dense), and f32 is also what the parity tests compare against.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::quantized::gguf_file;
use candle_core::safetensors::{Load, MmapedSafetensors};
use candle_core::{DType, Device, Tensor};

use crate::error::{first_line, Error, Result};

/// Maps a Hugging Face tensor name to the name stored in a GGUF file.
pub type GgufNames = fn(&str) -> Option<String>;

/// Where tensors come from.
pub enum Weights {
    /// `model.safetensors` or the shards listed in `model.safetensors.index.json`.
    Safetensors {
        /// The file (or index) the tensors came from, for error messages.
        path: PathBuf,
        /// The memory-mapped files.
        st: MmapedSafetensors,
    },
    /// A GGUF file.
    Gguf(GgufFile),
}

/// An open GGUF file: header, metadata, and a reader for tensor data.
pub struct GgufFile {
    /// The file.
    pub path: PathBuf,
    /// Header and metadata.
    pub content: gguf_file::Content,
    reader: Mutex<BufReader<File>>,
    names: Option<GgufNames>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

impl GgufFile {
    /// Open and parse the header of a GGUF file. A truncated or corrupt header is a
    /// [`Error::BadFile`]; tensor data is checked when each tensor is read.
    pub fn open(path: &Path) -> Result<GgufFile> {
        let file = File::open(path).map_err(io_err(path))?;
        let mut reader = BufReader::new(file);
        let content = gguf_file::Content::read(&mut reader).map_err(|e| Error::BadFile {
            path: path.to_path_buf(),
            msg: format!(
                "not a readable GGUF file: {} (saex reads tensor types F32, F16, BF16, Q4_0, Q4_1, \
                 Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
                first_line(&e)
            ),
        })?;
        Ok(GgufFile { path: path.to_path_buf(), content, reader: Mutex::new(reader), names: None })
    }

    /// A metadata value, or a config error naming the key.
    pub fn meta(&self, key: &str) -> Result<&gguf_file::Value> {
        self.content.metadata.get(key).ok_or_else(|| Error::Config {
            path: self.path.clone(),
            key: key.to_string(),
            msg: "missing from the GGUF metadata".into(),
        })
    }

    /// A numeric metadata value as usize.
    pub fn meta_usize(&self, key: &str) -> Result<usize> {
        let v = self.meta(key)?;
        v.to_u64()
            .map(|x| x as usize)
            .or_else(|_| v.to_u32().map(|x| x as usize))
            .or_else(|_| v.to_i32().map(|x| x as usize))
            .map_err(|_| self.bad_meta(key, "an integer", v))
    }

    /// A numeric metadata value as f64.
    pub fn meta_f64(&self, key: &str) -> Result<f64> {
        let v = self.meta(key)?;
        v.to_f32()
            .map(f64::from)
            .or_else(|_| v.to_f64())
            .or_else(|_| self.meta_usize(key).map(|x| x as f64))
            .map_err(|_| self.bad_meta(key, "a number", v))
    }

    fn bad_meta(&self, key: &str, expected: &str, got: &gguf_file::Value) -> Error {
        Error::Config { path: self.path.clone(), key: key.to_string(), msg: format!("expected {expected}, got {:?}", got.value_type()) }
    }

    fn stored_name(&self, hf_name: &str) -> String {
        self.names.and_then(|f| f(hf_name)).unwrap_or_else(|| hf_name.to_string())
    }

    /// The raw quantized tensor under its stored name.
    pub fn qtensor(&self, name: &str) -> Result<candle_core::quantized::QTensor> {
        if !self.content.tensor_infos.contains_key(name) {
            return Err(Error::MissingTensor { path: self.path.clone(), name: name.to_string() });
        }
        // A poisoned lock only means another thread panicked mid-read; the reader seeks
        // before every read, so its state is still usable.
        let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        self.content
            .tensor(&mut *reader, name, &Device::Cpu)
            .map_err(|e| Error::BadFile { path: self.path.clone(), msg: format!("tensor `{name}`: {}", first_line(&e)) })
    }
}

impl Weights {
    /// Open `model.safetensors`, or every shard listed in `model.safetensors.index.json`.
    pub fn open_hf_dir(dir: &Path) -> Result<Weights> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        let (path, files) = if single.exists() {
            (single.clone(), vec![single])
        } else if index.exists() {
            let text = std::fs::read_to_string(&index).map_err(io_err(&index))?;
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| Error::BadFile { path: index.clone(), msg: format!("bad JSON: {e}") })?;
            let map = json
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| Error::BadFile { path: index.clone(), msg: "no `weight_map` object".into() })?;
            let mut files: Vec<PathBuf> = map.values().filter_map(|v| v.as_str()).map(|f| dir.join(f)).collect();
            files.sort();
            files.dedup();
            (index, files)
        } else {
            return Err(Error::NotFound(format!("{}: no model.safetensors or model.safetensors.index.json", dir.display())));
        };
        for f in &files {
            if !f.exists() {
                return Err(Error::NotFound(format!("{}: missing weights file", f.display())));
            }
        }
        // SAFETY: memory-mapping is how every safetensors reader avoids copying gigabytes;
        // the mapping is read-only and saex never writes to checkpoint files while they are
        // open. A file truncated under us by another process is the one unprotected case.
        #[allow(unsafe_code)]
        let st = unsafe { MmapedSafetensors::multi(&files) }
            .map_err(|e| Error::BadFile { path: path.clone(), msg: format!("not a readable safetensors file: {}", first_line(&e)) })?;
        Ok(Weights::Safetensors { path, st })
    }

    /// Open a GGUF file whose tensors are asked for by Hugging Face name through `names`.
    pub fn open_gguf(mut gguf: GgufFile, names: GgufNames) -> Weights {
        gguf.names = Some(names);
        Weights::Gguf(gguf)
    }

    /// True for GGUF sources (whose norm weights and rotary layouts differ from HF's).
    pub fn is_gguf(&self) -> bool {
        matches!(self, Weights::Gguf(_))
    }

    fn path(&self) -> &Path {
        match self {
            Weights::Safetensors { path, .. } => path,
            Weights::Gguf(g) => &g.path,
        }
    }

    /// The name a Hugging Face tensor name is stored under in this source.
    pub fn stored_name(&self, hf_name: &str) -> String {
        match self {
            Weights::Safetensors { .. } => hf_name.to_string(),
            Weights::Gguf(g) => g.stored_name(hf_name),
        }
    }

    /// True if the tensor exists.
    pub fn contains(&self, hf_name: &str) -> bool {
        let name = self.stored_name(hf_name);
        match self {
            Weights::Safetensors { st, .. } => st.get(&name).is_ok(),
            Weights::Gguf(g) => g.content.tensor_infos.contains_key(&name),
        }
    }

    /// The tensor as dense f32, checked to have `shape`.
    pub fn get(&self, hf_name: &str, shape: &[usize]) -> Result<Tensor> {
        let name = self.stored_name(hf_name);
        let t = match self {
            Weights::Safetensors { path, st } => {
                let view = st.get(&name).map_err(|_| Error::MissingTensor { path: path.clone(), name: name.clone() })?;
                self.check_shape(&name, shape, view.shape())?;
                let t = view
                    .load(&Device::Cpu)
                    .map_err(|e| Error::BadFile { path: path.clone(), msg: format!("tensor `{name}`: {}", first_line(&e)) })?;
                match t.dtype() {
                    DType::F32 => t,
                    DType::F16 | DType::BF16 | DType::F64 => t.to_dtype(DType::F32)?,
                    other => return Err(Error::UnsupportedDtype { path: path.clone(), name, dtype: format!("{other:?}") }),
                }
            }
            Weights::Gguf(g) => {
                let info =
                    g.content.tensor_infos.get(&name).ok_or_else(|| Error::MissingTensor { path: g.path.clone(), name: name.clone() })?;
                self.check_shape(&name, shape, info.shape.dims())?;
                g.qtensor(&name)?.dequantize(&Device::Cpu)?
            }
        };
        Ok(t)
    }

    /// A token-embedding table `[vocab, d]`; quantized GGUF tables stay quantized.
    pub fn embedding(&self, hf_name: &str, shape: &[usize]) -> Result<crate::ops::Embedding> {
        use candle_core::quantized::GgmlDType;
        if let Weights::Gguf(g) = self {
            let name = g.stored_name(hf_name);
            if let Some(info) = g.content.tensor_infos.get(&name) {
                if !matches!(info.ggml_dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16) {
                    self.check_shape(&name, shape, info.shape.dims())?;
                    let table = g.qtensor(&name)?;
                    return Ok(crate::ops::Embedding::Quantized { table, dense: Default::default() });
                }
            }
        }
        Ok(crate::ops::Embedding::Dense(self.get(hf_name, shape)?))
    }

    /// Like [`Weights::get`] but `None` when the tensor is absent (optional biases).
    pub fn get_opt(&self, hf_name: &str, shape: &[usize]) -> Result<Option<Tensor>> {
        if self.contains(hf_name) {
            self.get(hf_name, shape).map(Some)
        } else {
            Ok(None)
        }
    }

    fn check_shape(&self, name: &str, expected: &[usize], got: &[usize]) -> Result<()> {
        if expected == got {
            Ok(())
        } else {
            Err(Error::BadShape { path: self.path().to_path_buf(), name: name.to_string(), expected: expected.to_vec(), got: got.to_vec() })
        }
    }
}
