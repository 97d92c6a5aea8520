//! Shared test helpers: one tolerance measure for every comparison, and fixture paths.
#![allow(dead_code)]

use std::path::PathBuf;

use candle_core::Tensor;

/// Relative tolerance `max|a−e| / rms(e)`. Residual norms grow with depth, so absolute
/// tolerances mislead; this one means the same at every layer.
#[derive(Debug, Clone, Copy)]
pub struct Tol(pub f64);

/// f32 against an f32 reference.
pub const F32: Tol = Tol(1e-4);

/// `max|a−e| / rms(e)`.
pub fn rel_err(actual: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(actual.dims(), expected.dims(), "shape mismatch");
    let a = actual.flatten_all().unwrap().to_dtype(candle_core::DType::F64).unwrap().to_vec1::<f64>().unwrap();
    let e = expected.flatten_all().unwrap().to_dtype(candle_core::DType::F64).unwrap().to_vec1::<f64>().unwrap();
    let max_diff = a.iter().zip(&e).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let rms = (e.iter().map(|y| y * y).sum::<f64>() / e.len().max(1) as f64).sqrt();
    if rms == 0.0 {
        max_diff
    } else {
        max_diff / rms
    }
}

/// Panics with the measured error when `actual` is not within `tol` of `expected`.
pub fn assert_close(actual: &Tensor, expected: &Tensor, tol: Tol, what: &str) -> f64 {
    let err = rel_err(actual, expected);
    assert!(err <= tol.0, "{what}: max|a-e|/rms(e) = {err:.3e} > {:.0e}", tol.0);
    err
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `scripts/fetch-models.sh` puts the real GGUF models.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("SAEX_MODELS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/saex/models"),
    }
}

/// A real model file, or a failure telling how to get it (never a silent skip).
pub fn real_model(file: &str) -> PathBuf {
    let p = models_dir().join(file);
    assert!(p.is_file(), "{} is missing: run scripts/fetch-models.sh", p.display());
    p
}

/// The `__metadata__` of a safetensors file.
pub fn metadata(path: &std::path::Path) -> std::collections::HashMap<String, String> {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().clone().unwrap_or_default()
}
