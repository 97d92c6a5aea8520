//! # Brief overview
//!
//! Test helpers shared by every saex crate (dev-dependency only): [`assert_close`] compares
//! tensors with one measure, `max|a−e| / rms(e)` ([`rel_err`]), because residual norms grow
//! with depth and absolute tolerances mislead; [`root`], [`real_model`] and [`metadata`] find
//! fixtures and the real models `scripts/fetch-models.sh` caches.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! let e = Tensor::new(&[3f32, 4.0], &Device::Cpu).unwrap();
//! let a = Tensor::new(&[3f32, 4.0001], &Device::Cpu).unwrap();
//! saex_testutil::assert_close(&a, &e, saex_testutil::Tol(1e-4), "demo");
//! ```
#![deny(missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};

/// A relative tolerance on `max|a−e| / rms(e)`.
#[derive(Debug, Clone, Copy)]
pub struct Tol(pub f64);

/// `max|a−e| / rms(e)` (the max difference itself when `e` is all zeros).
pub fn rel_err(actual: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(actual.dims(), expected.dims(), "shape mismatch");
    let v = |t: &Tensor| t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap();
    let (a, e) = (v(actual), v(expected));
    let max_diff = a.iter().zip(&e).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let rms = (e.iter().map(|y| y * y).sum::<f64>() / e.len().max(1) as f64).sqrt();
    if rms == 0.0 {
        max_diff
    } else {
        max_diff / rms
    }
}

/// Panics with the measured error when `actual` is not within `tol` of `expected`; returns it.
pub fn assert_close(actual: &Tensor, expected: &Tensor, tol: Tol, what: &str) -> f64 {
    let err = rel_err(actual, expected);
    assert!(err <= tol.0, "{what}: max|a-e|/rms(e) = {err:.3e} > {:.0e}", tol.0);
    err
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `scripts/fetch-models.sh` puts the real GGUF models (`SAEX_MODELS` or
/// `~/.cache/saex/models`).
pub fn models_dir() -> PathBuf {
    match std::env::var_os("SAEX_MODELS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/saex/models"),
    }
}

/// A real model file, or a failure telling how to get it (never a silent skip).
pub fn real_model(file: &str) -> PathBuf {
    let p = models_dir().join(file);
    assert!(p.is_file(), "{} is missing: run scripts/fetch-models.sh", p.display());
    p
}

/// The `__metadata__` of a safetensors file.
pub fn metadata(path: &Path) -> HashMap<String, String> {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().clone().unwrap_or_default()
}
