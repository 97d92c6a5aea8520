//! Shared test helpers (from `saex-testutil`) and this crate's tolerance.
#![allow(dead_code, unused_imports)]

pub use saex_testutil::{assert_close, metadata, models_dir, real_model, rel_err, root, Tol};

/// f32 against an f32 reference. Measured worst 6e-5 (tiny Gemma 2, soft-capped logits).
pub const F32: Tol = Tol(1e-4);
