//! Checkpoint tensors by name, from memory-mapped safetensors (single or sharded) or a GGUF
//! file, after a shape check that names the tensor.
//!
//! Architecture files ask for tensors by their Hugging Face names; a GGUF source translates
//! each name with the architecture's table (llama.cpp renames everything: `blk.3.attn_q`).
//!
//! Matrices come out as [`Mat`]: by default ([`Dtype::Stored`]) a quantized GGUF matrix, or an
//! F16/BF16 safetensors one, stays in its stored bytes inside the memory map
//! ([`saex_kernels::quant::QMatrix`]), so memory is the file's size and only the pages a run
//! touches are read. [`Dtype::F32`] dequantizes at load instead (4-8× the memory). Vectors
//! (norms, biases) are always f32.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::ggml_file::qtensor_from_ggml;
use candle_core::{DType, Device, Tensor};
use saex_kernels::quant::{Bytes, QMatrix, QType};

use crate::error::{Error, Result};
pub use crate::gguf::GgufFile;
use crate::gguf::{candle_type, ggml_type_name, READABLE};
use crate::Dtype;

/// Maps a Hugging Face tensor name to the name stored in a GGUF file.
pub type GgufNames = fn(&str) -> Option<String>;

/// A weight matrix as the model will hold it.
pub enum Mat {
    /// f32 `[out, in]`.
    Dense(Tensor),
    /// In its stored type, read by the quantized kernels.
    Stored(QMatrix),
}

/// One safetensors file, mapped.
struct StFile {
    map: Bytes,
}

/// A tensor of a safetensors file.
struct StEntry {
    file: usize,
    dtype: String,
    shape: Vec<usize>,
    start: usize,
    end: usize,
}

/// Memory-mapped safetensors files and their tensor directory.
pub struct Safetensors {
    files: Vec<StFile>,
    tensors: HashMap<String, StEntry>,
}

impl Safetensors {
    fn open(paths: &[PathBuf]) -> Result<Safetensors> {
        let mut files = Vec::new();
        let mut tensors = HashMap::new();
        for (i, path) in paths.iter().enumerate() {
            let bad = |msg: String| Error::BadFile { path: path.clone(), msg: format!("not a readable safetensors file: {msg}") };
            let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.clone(), source })?;
            // SAFETY: a read-only mapping of a checkpoint, as every safetensors reader does;
            // saex never writes to checkpoint files while they are open. A file truncated
            // under us by another process is the one unprotected case.
            #[allow(unsafe_code)]
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| Error::Io { path: path.clone(), source })?;
            let b: &[u8] = &map;
            if b.len() < 8 {
                return Err(bad("shorter than its 8-byte header length".into()));
            }
            let n = u64::from_le_bytes(b[..8].try_into().unwrap_or_default()) as usize;
            let header = b
                .get(8..8usize.saturating_add(n))
                .ok_or_else(|| bad(format!("header of {n} bytes past the end of the file ({} bytes)", b.len())))?;
            let json: serde_json::Value = serde_json::from_slice(header).map_err(|e| bad(format!("bad header JSON: {e}")))?;
            let obj = json.as_object().ok_or_else(|| bad("header is not a JSON object".into()))?;
            for (name, t) in obj {
                if name == "__metadata__" {
                    continue;
                }
                let dtype = t["dtype"].as_str().unwrap_or("?").to_string();
                let shape: Vec<usize> =
                    t["shape"].as_array().into_iter().flatten().filter_map(|v| v.as_u64()).map(|v| v as usize).collect();
                let offs: Vec<usize> =
                    t["data_offsets"].as_array().into_iter().flatten().filter_map(|v| v.as_u64()).map(|v| v as usize).collect();
                let [s, e] = offs[..] else {
                    return Err(bad(format!("tensor `{name}` has no data_offsets")));
                };
                let (start, end) = (8 + n + s, 8 + n + e);
                if end > b.len() || start > end {
                    return Err(bad(format!("tensor `{name}` needs bytes {start}..{end}, the file has {} (truncated?)", b.len())));
                }
                tensors.insert(name.clone(), StEntry { file: i, dtype, shape, start, end });
            }
            files.push(StFile { map: Arc::new(map) });
        }
        Ok(Safetensors { files, tensors })
    }
}

enum Source {
    Safetensors { path: PathBuf, st: Safetensors },
    Gguf(GgufFile),
}

/// Where tensors come from, and in which type matrices are kept.
pub struct Weights {
    src: Source,
    dtype: Dtype,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

impl GgufFile {
    /// A metadata value, or a config error naming the key.
    pub fn meta(&self, key: &str) -> Result<&candle_core::quantized::gguf_file::Value> {
        self.content.metadata.get(key).ok_or_else(|| Error::Config {
            path: self.path.clone(),
            key: key.to_string(),
            msg: "missing from the GGUF metadata".into(),
        })
    }

    /// A numeric metadata value as usize.
    pub fn meta_usize(&self, key: &str) -> Result<usize> {
        // Every integer saex reads from GGUF metadata is a model dimension: 0 would divide by
        // zero or build an empty model (found by fuzzing), so it is refused here.
        match self.meta_int(key)? {
            0 => Err(Error::Config {
                path: self.path.clone(),
                key: key.to_string(),
                msg: "is 0; a model dimension must be at least 1".into(),
            }),
            v => usize::try_from(v).map_err(|_| self.bad_meta(key, "an integer that fits in memory", self.meta(key).expect("read above"))),
        }
    }

    /// A non-negative integer metadata value, whatever its stored width.
    fn meta_int(&self, key: &str) -> Result<u64> {
        let v = self.meta(key)?;
        v.to_u64()
            .or_else(|_| v.to_u32().map(u64::from))
            .ok()
            .or_else(|| v.to_i32().ok().and_then(|x| u64::try_from(x).ok()))
            .ok_or_else(|| self.bad_meta(key, "a non-negative integer", v))
    }

    /// A numeric metadata value as f64.
    pub fn meta_f64(&self, key: &str) -> Result<f64> {
        let v = self.meta(key)?;
        v.to_f32()
            .map(f64::from)
            .or_else(|_| v.to_f64())
            .or_else(|_| self.meta_int(key).map(|x| x as f64))
            .map_err(|_| self.bad_meta(key, "a number", v))
    }

    fn bad_meta(&self, key: &str, expected: &str, got: &candle_core::quantized::gguf_file::Value) -> Error {
        Error::Config { path: self.path.clone(), key: key.to_string(), msg: format!("expected {expected}, got {:?}", got.value_type()) }
    }

    /// The first dim of a stored tensor (vocabulary size of `token_embd.weight`).
    pub fn rows_of(&self, name: &str) -> Result<usize> {
        self.tensors
            .get(name)
            .and_then(|t| t.shape.first().copied())
            .ok_or_else(|| Error::MissingTensor { path: self.path.clone(), name: name.to_string() })
    }

    fn stored_name(&self, hf_name: &str) -> String {
        self.names.and_then(|f| f(hf_name)).unwrap_or_else(|| hf_name.to_string())
    }

    /// The stored bytes of tensor `name` and its type, checked to lie inside the file.
    fn raw(&self, name: &str) -> Result<(u32, &[u8], usize)> {
        let t = self.tensors.get(name).ok_or_else(|| Error::MissingTensor { path: self.path.clone(), name: name.to_string() })?;
        let Some(len) = t.len else {
            return Err(self.unsupported(name, t.ggml_type));
        };
        // Offsets come from the file: add without wrapping (a huge offset wrapped around and
        // sliced backwards until fuzzing found it).
        let end = t.start.saturating_add(len);
        if end > self.file_len {
            return Err(Error::BadFile {
                path: self.path.clone(),
                msg: format!("truncated GGUF: tensor `{name}` needs bytes {}..{end}, the file has {}", t.start, self.file_len),
            });
        }
        Ok((t.ggml_type, &(**self.bytes()).as_ref()[t.start..end], t.start))
    }

    fn unsupported(&self, name: &str, ty: u32) -> Error {
        Error::UnsupportedDtype {
            path: self.path.clone(),
            name: name.to_string(),
            dtype: format!("{} (saex reads {READABLE})", ggml_type_name(ty)),
        }
    }

    /// The tensor dequantized to f32 with its stored shape.
    fn dense(&self, name: &str) -> Result<Tensor> {
        let (ty, bytes, _) = self.raw(name)?;
        let shape = self.tensors[name].shape.clone();
        let t = if let Some(q) = QType::from_ggml_id(ty) {
            let cols = *shape.last().unwrap_or(&1);
            let rows = shape.iter().product::<usize>() / cols.max(1);
            let m = QMatrix::new(q, rows, cols, Arc::new(bytes.to_vec()), 0).map_err(|msg| self.bad_tensor(name, msg))?;
            m.dequantize()?.reshape(shape)?
        } else {
            // Types candle reads that have no saex kernel (Q2_K, Q3_K, Q8_1): candle's
            // dequantization, kept dense.
            let t = candle_type(ty).ok_or_else(|| self.unsupported(name, ty))?;
            qtensor_from_ggml(t, bytes, shape, &Device::Cpu)
                .and_then(|q| q.dequantize(&Device::Cpu))
                .map_err(|e| self.bad_tensor(name, crate::error::first_line(&e)))?
        };
        Ok(t)
    }

    fn bad_tensor(&self, name: &str, msg: String) -> Error {
        Error::BadFile { path: self.path.clone(), msg: format!("tensor `{name}`: {msg}") }
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
        let st = Safetensors::open(&files)?;
        Ok(Weights { src: Source::Safetensors { path, st }, dtype: Dtype::Stored })
    }

    /// Open a GGUF file whose tensors are asked for by Hugging Face name through `names`.
    /// Refuses a file that cannot hold the whole model (truncated, or one part of a split).
    pub fn open_gguf(mut gguf: GgufFile, names: GgufNames) -> Result<Weights> {
        gguf.check_complete()?;
        gguf.names = Some(names);
        Ok(Weights { src: Source::Gguf(gguf), dtype: Dtype::Stored })
    }

    /// Keep matrices in `dtype`.
    pub fn with_dtype(mut self, dtype: Dtype) -> Weights {
        self.dtype = dtype;
        self
    }

    /// The type matrices are kept in.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// True for GGUF sources (whose norm weights and rotary layouts differ from HF's).
    pub fn is_gguf(&self) -> bool {
        matches!(self.src, Source::Gguf(_))
    }

    fn path(&self) -> &Path {
        match &self.src {
            Source::Safetensors { path, .. } => path,
            Source::Gguf(g) => &g.path,
        }
    }

    /// The name a Hugging Face tensor name is stored under in this source.
    pub fn stored_name(&self, hf_name: &str) -> String {
        match &self.src {
            Source::Safetensors { .. } => hf_name.to_string(),
            Source::Gguf(g) => g.stored_name(hf_name),
        }
    }

    /// True if the tensor exists.
    pub fn contains(&self, hf_name: &str) -> bool {
        let name = self.stored_name(hf_name);
        match &self.src {
            Source::Safetensors { st, .. } => st.tensors.contains_key(&name),
            Source::Gguf(g) => g.tensors.contains_key(&name),
        }
    }

    fn shape_of(&self, name: &str) -> Result<&[usize]> {
        let s = match &self.src {
            Source::Safetensors { st, .. } => st.tensors.get(name).map(|t| &t.shape[..]),
            Source::Gguf(g) => g.tensors.get(name).map(|t| &t.shape[..]),
        };
        s.ok_or_else(|| Error::MissingTensor { path: self.path().to_path_buf(), name: name.to_string() })
    }

    /// The tensor as dense f32, checked to have `shape`.
    pub fn get(&self, hf_name: &str, shape: &[usize]) -> Result<Tensor> {
        let name = self.stored_name(hf_name);
        self.check_shape(&name, shape, self.shape_of(&name)?)?;
        match &self.src {
            Source::Safetensors { path, st } => {
                let t = &st.tensors[&name];
                let dtype = match t.dtype.as_str() {
                    "F32" => DType::F32,
                    "F16" => DType::F16,
                    "BF16" => DType::BF16,
                    "F64" => DType::F64,
                    other => return Err(Error::UnsupportedDtype { path: path.clone(), name, dtype: other.to_string() }),
                };
                let bytes = &(*st.files[t.file].map).as_ref()[t.start..t.end];
                let t = Tensor::from_raw_buffer(bytes, dtype, &t.shape, &Device::Cpu).map_err(|e| Error::BadFile {
                    path: path.clone(),
                    msg: format!("tensor `{name}`: {}", crate::error::first_line(&e)),
                })?;
                Ok(t.to_dtype(DType::F32)?)
            }
            Source::Gguf(g) => g.dense(&name),
        }
    }

    /// A matrix `[out, in]` (PyTorch layout), kept as [`Weights::dtype`] says.
    pub fn matrix(&self, hf_name: &str, shape: [usize; 2]) -> Result<Mat> {
        self.matrix_as(hf_name, shape, self.dtype)
    }

    fn matrix_as(&self, hf_name: &str, shape: [usize; 2], dtype: Dtype) -> Result<Mat> {
        let name = self.stored_name(hf_name);
        self.check_shape(&name, &shape, self.shape_of(&name)?)?;
        if dtype == Dtype::F32 {
            return Ok(Mat::Dense(self.get(hf_name, &shape)?));
        }
        match &self.src {
            Source::Safetensors { st, path } => {
                let t = &st.tensors[&name];
                let ty = match t.dtype.as_str() {
                    "F16" => QType::F16,
                    "BF16" => QType::BF16,
                    _ => return Ok(Mat::Dense(self.get(hf_name, &shape)?)),
                };
                let m = QMatrix::new(ty, shape[0], shape[1], st.files[t.file].map.clone(), t.start)
                    .map_err(|msg| Error::BadFile { path: path.clone(), msg: format!("tensor `{name}`: {msg}") })?;
                Ok(Mat::Stored(m))
            }
            Source::Gguf(g) => {
                let (ty, _, start) = g.raw(&name)?;
                match QType::from_ggml_id(ty).filter(|q| *q != QType::F32) {
                    Some(q) => Ok(Mat::Stored(
                        QMatrix::new(q, shape[0], shape[1], g.bytes().clone(), start).map_err(|msg| g.bad_tensor(&name, msg))?,
                    )),
                    None => Ok(Mat::Dense(g.dense(&name)?)),
                }
            }
        }
    }

    /// A token-embedding table `[vocab, d]`. A quantized or half-precision table stays as
    /// stored whatever the dtype: a lookup dequantizes only the rows it needs, with the same
    /// values as a dense table.
    pub fn embedding(&self, hf_name: &str, shape: &[usize]) -> Result<crate::ops::Embedding> {
        let [v, d] = shape else {
            return Err(Error::Invalid(format!("an embedding table is 2-D, asked for {shape:?}")));
        };
        let keep = self.matrix_as(hf_name, [*v, *d], Dtype::Stored)?;
        Ok(match keep {
            Mat::Stored(q) => crate::ops::Embedding::Stored(q),
            Mat::Dense(t) => crate::ops::Embedding::Dense(t),
        })
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
