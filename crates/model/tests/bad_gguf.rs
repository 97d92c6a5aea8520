//! Files that cannot be a whole model get one-line errors that name the file, the tensor and
//! the type, never a panic: a truncated GGUF, the first piece of a byte-split one, a tensor
//! of a type saex does not read, and one part of a `gguf-split` set.

mod common;

use std::path::{Path, PathBuf};

use common::real_model;
use saex_model::Model;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("saex-bad-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn load_err(path: &Path) -> String {
    let err = Model::load(path.to_str().unwrap()).err().expect("loading must fail").to_string();
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(err.contains(path.to_str().unwrap()), "names the file: {err}");
    err
}

#[test]
fn a_truncated_gguf_says_how_many_bytes_are_missing() {
    let src = std::fs::read(real_model("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let path = tmp("truncated.gguf");
    // The first 40 MB: as if only the first part of a byte-split download were there.
    std::fs::write(&path, &src[..40 << 20]).unwrap();
    let err = load_err(&path);
    assert!(err.contains("truncated GGUF") && err.contains("41943040") && err.contains("concatenate all the parts"), "{err}");
    // Cut inside the header: a clear message too.
    std::fs::write(&path, &src[..1000]).unwrap();
    let err = load_err(&path);
    assert!(err.contains("not a readable GGUF file: truncated header"), "{err}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn an_unknown_quant_type_names_the_tensor_and_the_type() {
    let mut bytes = std::fs::read(real_model("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    // Find `blk.0.ffn_up.weight` in the tensor directory (u64 length, name, u32 n_dims,
    // n_dims × u64, u32 type) and make its type IQ4_XS (23), which saex does not read.
    let name = b"blk.0.ffn_up.weight";
    let mut key = (name.len() as u64).to_le_bytes().to_vec();
    key.extend_from_slice(name);
    let at = bytes.windows(key.len()).position(|w| w == key).expect("tensor in the directory") + key.len();
    let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let ty = at + 4 + 8 * n_dims;
    bytes[ty..ty + 4].copy_from_slice(&23u32.to_le_bytes());
    let path = tmp("iq4.gguf");
    std::fs::write(&path, &bytes).unwrap();
    let err = load_err(&path);
    assert!(err.contains("blk.0.ffn_up.weight") && err.contains("IQ4_XS") && err.contains("saex reads"), "{err}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn one_part_of_a_gguf_split_set_asks_for_the_merge() {
    // A header-only GGUF v3 with llama.cpp's split keys: part 1 of 3.
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes()); // tensors
    b.extend_from_slice(&2u64.to_le_bytes()); // key/values
    for (k, v) in [("split.count", 3u16), ("split.no", 0u16)] {
        b.extend_from_slice(&(k.len() as u64).to_le_bytes());
        b.extend_from_slice(k.as_bytes());
        b.extend_from_slice(&2u32.to_le_bytes()); // U16
        b.extend_from_slice(&v.to_le_bytes());
    }
    let path = tmp("model-00001-of-00003.gguf");
    std::fs::write(&path, &b).unwrap();
    let err = load_err(&path);
    assert!(err.contains("part 1 of a GGUF split into 3 files") && err.contains("--merge"), "{err}");
    std::fs::write(&path, b"GGML").unwrap();
    assert!(load_err(&path).contains("not a GGUF file"));
    std::fs::remove_file(&path).unwrap();
}
