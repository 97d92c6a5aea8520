//! Runtime choice of instruction set for the block kernels of [`super::blocks`].
//!
//! The kernels are one generic source; each function here instantiates it inside a
//! `#[target_feature]` function, so LLVM vectorizes the same loops for AVX-512 (16 f32
//! lanes), AVX2 + FMA (8 lanes), NEON (4 lanes) or baseline SSE2. The choice is made once,
//! by `is_x86_feature_detected!`.
//!
//! Calling a `#[target_feature]` function needs `unsafe`, which the workspace denies; this
//! module allows it because it is the one place that checks, at run time, that the CPU has
//! the features the callee was compiled for. Every `unsafe` block below is such a call,
//! guarded by [`isa`], whose value is only ever a level the CPU was detected to support.
#![allow(unsafe_code)]

use std::sync::OnceLock;

use super::{blocks, QType};

/// An instruction-set level the kernels were compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 F/BW/VL/DQ with FMA (x86-64).
    Avx512,
    /// AVX2 with FMA and F16C (x86-64).
    Avx2,
    /// NEON (aarch64; always present there).
    Neon,
    /// The baseline of the target (SSE2 on x86-64), no FMA.
    Scalar,
}

/// Levels this CPU supports, best first.
#[allow(clippy::vec_init_then_push)] // which pushes happen depends on the target
pub fn available() -> Vec<Isa> {
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
            && is_x86_feature_detected!("bmi2");
        if avx2
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512dq")
        {
            v.push(Isa::Avx512);
        }
        if avx2 {
            v.push(Isa::Avx2);
        }
    }
    #[cfg(target_arch = "aarch64")]
    v.push(Isa::Neon);
    v.push(Isa::Scalar);
    v
}

/// The level in use: the best available, or a lower one named by `SAEX_SIMD`
/// (`avx512`, `avx2`, `scalar`) when the CPU has it, for benchmarks and tests.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let avail = available();
        let wanted = match std::env::var("SAEX_SIMD").as_deref() {
            Ok("avx512") => Some(Isa::Avx512),
            Ok("avx2") => Some(Isa::Avx2),
            Ok("neon") => Some(Isa::Neon),
            Ok("scalar") => Some(Isa::Scalar),
            _ => None,
        };
        wanted.filter(|w| avail.contains(w)).unwrap_or(avail[0])
    })
}

#[inline(always)]
fn dot_rows_generic<const FMA: bool>(ty: QType, rows: &[u8], row_bytes: usize, x: &[f32], xs: &[f32], out: &mut [f32]) {
    for (r, o) in rows.chunks_exact(row_bytes).zip(out) {
        *o = blocks::dot::<FMA>(ty, r, x, xs);
    }
}

#[inline(always)]
fn dequant_rows_generic<const FMA: bool>(ty: QType, rows: &[u8], row_bytes: usize, k: usize, out: &mut [f32]) {
    for (r, o) in rows.chunks_exact(row_bytes).zip(out.chunks_exact_mut(k)) {
        blocks::dequant::<FMA>(ty, r, o);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi1,bmi2")]
    pub fn dot_rows_avx512(ty: QType, rows: &[u8], row_bytes: usize, x: &[f32], xs: &[f32], out: &mut [f32]) {
        dot_rows_generic::<true>(ty, rows, row_bytes, x, xs, out)
    }

    #[target_feature(enable = "avx2,fma,f16c,bmi1,bmi2")]
    pub fn dot_rows_avx2(ty: QType, rows: &[u8], row_bytes: usize, x: &[f32], xs: &[f32], out: &mut [f32]) {
        dot_rows_generic::<true>(ty, rows, row_bytes, x, xs, out)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi1,bmi2")]
    pub fn dequant_rows_avx512(ty: QType, rows: &[u8], row_bytes: usize, k: usize, out: &mut [f32]) {
        dequant_rows_generic::<true>(ty, rows, row_bytes, k, out)
    }

    #[target_feature(enable = "avx2,fma,f16c,bmi1,bmi2")]
    pub fn dequant_rows_avx2(ty: QType, rows: &[u8], row_bytes: usize, k: usize, out: &mut [f32]) {
        dequant_rows_generic::<true>(ty, rows, row_bytes, k, out)
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::*;

    #[target_feature(enable = "neon")]
    pub fn dot_rows_neon(ty: QType, rows: &[u8], row_bytes: usize, x: &[f32], xs: &[f32], out: &mut [f32]) {
        dot_rows_generic::<true>(ty, rows, row_bytes, x, xs, out)
    }

    #[target_feature(enable = "neon")]
    pub fn dequant_rows_neon(ty: QType, rows: &[u8], row_bytes: usize, k: usize, out: &mut [f32]) {
        dequant_rows_generic::<true>(ty, rows, row_bytes, k, out)
    }
}

/// `out[r] = row r · x` for each stored row in `rows` (`row_bytes` each).
pub(crate) fn dot_rows(isa: Isa, ty: QType, rows: &[u8], row_bytes: usize, x: &[f32], xs: &[f32], out: &mut [f32]) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` comes from `available()`, which saw AVX-512 F/BW/VL/DQ, AVX2, FMA,
        // F16C and BMI2 on this CPU (BMI1 comes with BMI2 on every x86 that has both).
        Isa::Avx512 if super::avx512::has(ty) => unsafe { super::avx512::dot_rows(ty, rows, row_bytes, x, xs, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx512 => unsafe { x86::dot_rows_avx512(ty, rows, row_bytes, x, xs, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, AVX2, FMA, F16C and BMI2 were detected.
        Isa::Avx2 => unsafe { x86::dot_rows_avx2(ty, rows, row_bytes, x, xs, out) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: NEON is part of the aarch64 baseline.
        Isa::Neon => unsafe { arm::dot_rows_neon(ty, rows, row_bytes, x, xs, out) },
        _ => dot_rows_generic::<false>(ty, rows, row_bytes, x, xs, out),
    }
}

/// Dequantize each stored row of `rows` into `k` values of `out`.
pub(crate) fn dequant_rows(isa: Isa, ty: QType, rows: &[u8], row_bytes: usize, k: usize, out: &mut [f32]) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: see `dot_rows`.
        Isa::Avx512 if super::avx512::has(ty) => unsafe { super::avx512::dequant_rows(ty, rows, row_bytes, k, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: see `dot_rows`.
        Isa::Avx512 => unsafe { x86::dequant_rows_avx512(ty, rows, row_bytes, k, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: see `dot_rows`.
        Isa::Avx2 => unsafe { x86::dequant_rows_avx2(ty, rows, row_bytes, k, out) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: see `dot_rows`.
        Isa::Neon => unsafe { arm::dequant_rows_neon(ty, rows, row_bytes, k, out) },
        _ => dequant_rows_generic::<false>(ty, rows, row_bytes, k, out),
    }
}
