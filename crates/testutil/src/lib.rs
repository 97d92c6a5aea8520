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

/// A standard SAE with seeded pseudo-random weights, for tests that need an SAE of a width
/// no fixture has.
#[derive(Debug, Clone, Copy)]
pub struct RandomSae<'a> {
    /// Input width.
    pub d_in: usize,
    /// Features.
    pub d_sae: usize,
    /// `metadata.hook_name`.
    pub hook: &'a str,
    /// The generator's seed.
    pub seed: u64,
    /// Weights are uniform in `±scale/2`.
    pub scale: f32,
    /// `b_dec` is uniform in `±b_dec_scale/2` (0: zero).
    pub b_dec_scale: f32,
}

/// Write `sae` into `dir` in SAELens format (`cfg.json` + `sae_weights.safetensors`), for
/// SmolLM2-135M-Instruct.
pub fn write_random_sae(dir: &Path, sae: RandomSae) {
    let mut x = sae.seed;
    let mut t = |dims: &[usize], scale: f32| {
        let n = dims.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5) * scale
            })
            .collect();
        Tensor::from_vec(v, dims, &candle_core::Device::Cpu).unwrap()
    };
    let (d_in, d_sae) = (sae.d_in, sae.d_sae);
    let tensors: HashMap<String, Tensor> = [
        ("W_enc".to_string(), t(&[d_in, d_sae], sae.scale)),
        ("W_dec".to_string(), t(&[d_sae, d_in], sae.scale)),
        ("b_enc".to_string(), t(&[d_sae], 1.0)),
        ("b_dec".to_string(), t(&[d_in], sae.b_dec_scale)),
    ]
    .into();
    candle_core::safetensors::save(&tensors, dir.join("sae_weights.safetensors")).unwrap();
    let cfg = format!(
        r#"{{"d_in": {d_in}, "d_sae": {d_sae}, "dtype": "float32", "architecture": "standard", "apply_b_dec_to_input": true, "normalize_activations": "none", "metadata": {{"hook_name": "{}", "model_name": "SmolLM2-135M-Instruct", "sae_lens_version": "6.54.12"}}}}"#,
        sae.hook
    );
    std::fs::write(dir.join("cfg.json"), cfg).unwrap();
}
