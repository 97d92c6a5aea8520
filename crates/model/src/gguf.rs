//! A GGUF file, memory-mapped: the header is parsed here (metadata, tensor directory); the
//! tensor data is never copied, and only the pages a run touches are read from disk.
//!
//! Format: ggml's `docs/gguf.md` (magic `GGUF`, version, tensor and key/value counts, typed
//! key/values, tensor infos with ggml dims innermost first, data aligned to
//! `general.alignment`, default 32). The header is parsed here rather than by candle so that
//! a tensor of a type saex cannot read is reported by name, and a truncated file (or the
//! first piece of a split one) is refused with the byte counts, not a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::gguf_file::{Content, TensorInfo, Value, VersionedMagic};
use candle_core::quantized::GgmlDType;
use saex_kernels::quant::{Bytes, QType};

use crate::error::{Error, Result};

/// One tensor of the directory.
#[derive(Debug, Clone)]
pub struct GgufTensor {
    /// GGML type id as stored.
    pub ggml_type: u32,
    /// Shape, outermost first (PyTorch order: `[out, in]` for a matrix).
    pub shape: Vec<usize>,
    /// Absolute byte offset of the data in the file.
    pub start: usize,
    /// Data bytes, when the type is known (`None` for types saex has no size for).
    pub len: Option<usize>,
}

/// ggml type names for messages, including types saex does not read.
pub fn ggml_type_name(id: u32) -> String {
    let name = match id {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        6 => "Q5_0",
        7 => "Q5_1",
        8 => "Q8_0",
        9 => "Q8_1",
        10 => "Q2_K",
        11 => "Q3_K",
        12 => "Q4_K",
        13 => "Q5_K",
        14 => "Q6_K",
        15 => "Q8_K",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        30 => "BF16",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => return format!("unknown GGML type {id}"),
    };
    format!("{name} (GGML type {id})")
}

/// The types saex reads, for messages.
pub const READABLE: &str = "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K";

/// candle's type for `id` (the types candle can dequantize: the `--dtype f32` fallback).
pub fn candle_type(id: u32) -> Option<GgmlDType> {
    Some(match id {
        0 => GgmlDType::F32,
        1 => GgmlDType::F16,
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        9 => GgmlDType::Q8_1,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        15 => GgmlDType::Q8K,
        30 => GgmlDType::BF16,
        _ => return None,
    })
}

fn data_len(id: u32, elems: usize) -> Option<usize> {
    if let Some(q) = QType::from_ggml_id(id) {
        return Some(q.bytes_of(elems));
    }
    let t = candle_type(id)?;
    Some(elems / t.block_size() * t.type_size())
}

/// Bounds-checked little-endian reader over the header bytes.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        match self.at.checked_add(n).filter(|&e| e <= self.b.len()) {
            Some(end) => {
                let s = &self.b[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => Err(Error::BadFile {
                path: self.path.to_path_buf(),
                msg: format!("not a readable GGUF file: truncated header: the file ends at byte {} while reading {what}", self.b.len()),
            }),
        }
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap_or_default()))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap_or_default()))
    }
    fn len(&mut self, v1: bool, what: &str) -> Result<usize> {
        let n = if v1 { self.u32(what)? as u64 } else { self.u64(what)? };
        // A count larger than the file cannot be honest; refusing it early avoids a huge
        // allocation on a corrupt header.
        if n > self.b.len() as u64 {
            return Err(Error::BadFile {
                path: self.path.to_path_buf(),
                msg: format!(
                    "not a readable GGUF file: {what} is {n}, more than the file's {} bytes (truncated or corrupt header)",
                    self.b.len()
                ),
            });
        }
        Ok(n as usize)
    }
    fn string(&mut self, v1: bool, what: &str) -> Result<String> {
        let n = self.len(v1, what)?;
        Ok(String::from_utf8_lossy(self.take(n, what)?).into_owned())
    }
    fn value(&mut self, ty: u32, v1: bool, key: &str) -> Result<Value> {
        let mut t = |n| self.take(n, key);
        Ok(match ty {
            0 => Value::U8(t(1)?[0]),
            1 => Value::I8(t(1)?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(t(2)?.try_into().unwrap_or_default())),
            3 => Value::I16(i16::from_le_bytes(t(2)?.try_into().unwrap_or_default())),
            4 => Value::U32(u32::from_le_bytes(t(4)?.try_into().unwrap_or_default())),
            5 => Value::I32(i32::from_le_bytes(t(4)?.try_into().unwrap_or_default())),
            6 => Value::F32(f32::from_le_bytes(t(4)?.try_into().unwrap_or_default())),
            7 => Value::Bool(t(1)?[0] != 0),
            8 => Value::String(self.string(v1, key)?),
            9 => {
                let ety = self.u32(key)?;
                let n = self.len(v1, key)?;
                let mut v = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    v.push(self.value(ety, v1, key)?);
                }
                Value::Array(v)
            }
            10 => Value::U64(u64::from_le_bytes(t(8)?.try_into().unwrap_or_default())),
            11 => Value::I64(i64::from_le_bytes(t(8)?.try_into().unwrap_or_default())),
            12 => Value::F64(f64::from_le_bytes(t(8)?.try_into().unwrap_or_default())),
            other => {
                return Err(Error::BadFile {
                    path: self.path.to_path_buf(),
                    msg: format!("not a readable GGUF file: corrupt header: metadata `{key}` has unknown value type {other}"),
                })
            }
        })
    }
}

/// A parsed, memory-mapped GGUF file.
pub struct GgufFile {
    /// The file.
    pub path: PathBuf,
    /// Metadata, and candle's view of the tensor directory (types candle knows).
    pub content: Content,
    /// The tensor directory by stored name.
    pub tensors: HashMap<String, GgufTensor>,
    /// Size of the file.
    pub file_len: usize,
    map: Bytes,
    pub(crate) names: Option<crate::weights::GgufNames>,
}

impl GgufFile {
    /// Map `path` and parse its header.
    pub fn open(path: &Path) -> Result<GgufFile> {
        let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        // SAFETY: a read-only private mapping of a checkpoint, the way every GGUF and
        // safetensors reader avoids copying gigabytes. saex never writes to a model file
        // while it is open; a file truncated under us by another process is the one case
        // this cannot guard against (reads past the new end fault), as for any mmap reader.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let map: Bytes = Arc::new(map);
        let b: &[u8] = (*map).as_ref();
        let mut c = Cursor { b, at: 0, path };
        let bad = |msg: String| Error::BadFile { path: path.to_path_buf(), msg };
        let magic = c.take(4, "the magic number").map_err(|_| bad("not a GGUF file: shorter than 4 bytes".into()))?;
        if magic != b"GGUF" {
            return Err(bad(format!("not a GGUF file: it starts with {magic:02x?}, not `GGUF`")));
        }
        let version = c.u32("the version")?;
        let magic = match version {
            1 => VersionedMagic::GgufV1,
            2 => VersionedMagic::GgufV2,
            3 => VersionedMagic::GgufV3,
            v => return Err(bad(format!("GGUF version {v} is not supported (1-3 are)"))),
        };
        let v1 = version == 1;
        let n_tensors = c.len(v1, "the tensor count")?;
        let n_kv = c.len(v1, "the metadata count")?;
        let mut metadata = HashMap::with_capacity(n_kv);
        for _ in 0..n_kv {
            let key = c.string(v1, "a metadata key")?;
            let ty = c.u32(&key)?;
            let v = c.value(ty, v1, &key)?;
            metadata.insert(key, v);
        }
        let mut infos = Vec::with_capacity(n_tensors);
        for _ in 0..n_tensors {
            let name = c.string(v1, "a tensor name")?;
            let n_dims = c.u32(&name)? as usize;
            if n_dims > 4 {
                return Err(bad(format!("not a readable GGUF file: corrupt header: tensor `{name}` has {n_dims} dims")));
            }
            let mut dims = Vec::with_capacity(n_dims);
            for _ in 0..n_dims {
                dims.push(if v1 { c.u32(&name)? as usize } else { c.u64(&name)? as usize });
            }
            dims.reverse(); // ggml lists the innermost dim first
            let ggml_type = c.u32(&name)?;
            let offset = c.u64(&name)? as usize;
            infos.push((name, dims, ggml_type, offset));
        }
        let align = match metadata.get("general.alignment") {
            Some(Value::U32(a)) if *a > 0 => *a as usize,
            _ => 32,
        };
        let data_start = c.at.div_ceil(align) * align;
        let mut tensors = HashMap::with_capacity(n_tensors);
        let mut tensor_infos = HashMap::with_capacity(n_tensors);
        for (name, shape, ggml_type, offset) in infos {
            // Dims and offsets come from the file: multiply and add without wrapping.
            let elems = shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .filter(|&n| n <= b.len().saturating_mul(16)) // no type packs more than 16 values a byte
                .ok_or_else(|| bad(format!("not a readable GGUF file: corrupt header: tensor `{name}` has dims {shape:?}")))?;
            let start = data_start
                .checked_add(offset)
                .ok_or_else(|| bad(format!("not a readable GGUF file: corrupt header: tensor `{name}` starts at {offset}")))?;
            if let Some(t) = candle_type(ggml_type) {
                tensor_infos.insert(
                    name.clone(),
                    TensorInfo { ggml_dtype: t, shape: candle_core::Shape::from(shape.clone()), offset: offset as u64 },
                );
            }
            let len = data_len(ggml_type, elems);
            tensors.insert(name, GgufTensor { ggml_type, shape, start, len });
        }
        let content = Content { magic, metadata, tensor_infos, tensor_data_offset: data_start as u64 };
        Ok(GgufFile { path: path.to_path_buf(), content, tensors, file_len: b.len(), map, names: None })
    }

    /// The mapped file.
    pub fn bytes(&self) -> &Bytes {
        &self.map
    }

    /// Refuses a file that cannot hold a whole model: the pieces of a split GGUF, and a file
    /// shorter than its tensor directory says (truncated, or the first of a byte-split set).
    pub fn check_complete(&self) -> Result<()> {
        let bad = |msg: String| Error::BadFile { path: self.path.clone(), msg };
        let count = self.content.metadata.get("split.count").and_then(|v| v.to_u16().ok().map(u32::from).or(v.to_u32().ok()));
        if let Some(n) = count.filter(|&n| n > 1) {
            let no = self.content.metadata.get("split.no").and_then(|v| v.to_u16().ok()).unwrap_or(0);
            return Err(bad(format!(
                "this is part {} of a GGUF split into {n} files (gguf-split); merge them first with \
                 `llama-gguf-split --merge {} OUT.gguf`",
                no + 1,
                self.path.display()
            )));
        }
        // A tensor of a type saex cannot read: named now, before the tokenizer or the config
        // trip over something else. (Sorted, so the message does not depend on hash order.)
        let mut names: Vec<&String> = self.tensors.keys().collect();
        names.sort();
        if let Some(name) = names.into_iter().find(|n| self.tensors[*n].len.is_none()) {
            return Err(Error::UnsupportedDtype {
                path: self.path.clone(),
                name: name.clone(),
                dtype: format!("{} (saex reads {READABLE})", ggml_type_name(self.tensors[name].ggml_type)),
            });
        }
        let mut end = 0usize;
        let mut last = "";
        for (name, t) in &self.tensors {
            let e = t.start + t.len.unwrap_or(0);
            if e > end {
                end = e;
                last = name;
            }
        }
        if end > self.file_len {
            return Err(bad(format!(
                "truncated GGUF: its tensors need {end} bytes (`{last}` ends there) but the file has {} \
                 ({:.1}%; the remaining {} bytes are missing): an interrupted download, or only the first \
                 piece of a model split into parts (concatenate all the parts, in order)",
                self.file_len,
                100.0 * self.file_len as f64 / end as f64,
                end - self.file_len
            )));
        }
        Ok(())
    }
}
