//! # Brief overview
//!
//! CPU kernels where candle's own are the bottleneck, as candle custom ops, shared by the
//! model and SAE crates.
//!
//! - [`matmul`]: 2-D f32 matmul through faer. On this 2-core AVX-512 machine faer reaches
//!   ~225 GFLOP/s on one core against ~120 for the gemm crate candle uses (its stable build has
//!   no AVX-512 kernel); the linear layers are most of a forward pass.
//! - [`quant::QMatrix`]: weights kept in their stored GGUF blocks (Q4_0 ... Q8_K) or as
//!   F16/BF16, multiplied with f32 activations by kernels that dequantize on the fly
//!   (vectorized for AVX-512, AVX2 and NEON, chosen at run time).
//! - [`gelu_tanh`]: the tanh-approximation GELU (`gelu_new`, `gelu_pytorch_tanh`) over all
//!   cores; candle's runs on one thread and took ~12% of a GPT-2 forward pass.

#![deny(missing_docs)]

pub mod quant;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

/// Errors are candle's: these are tensor operations.
pub type Result<T> = candle_core::Result<T>;

/// A 2-D operand as faer sees it: row-major or column-major with a stride.
fn as_mat<'a>(data: &'a [f32], l: &Layout) -> candle_core::Result<faer::MatRef<'a, f32>> {
    let (rows, cols) = l.shape().dims2()?;
    let s = &data[l.start_offset()..];
    let (rs, cs) = (l.stride()[0], l.stride()[1]);
    if cs == 1 && rs >= cols.max(1) {
        Ok(faer::MatRef::from_row_major_slice_with_stride(&s[..(rows.max(1) - 1) * rs + cols], rows, cols, rs))
    } else if rs == 1 && cs >= rows.max(1) {
        Ok(faer::MatRef::from_column_major_slice_with_stride(&s[..(cols.max(1) - 1) * cs + rows], rows, cols, cs))
    } else {
        candle_core::bail!("matmul operand is neither row- nor column-major: {l:?}")
    }
}

struct Matmul;

impl CustomOp2 for Matmul {
    fn name(&self) -> &'static str {
        "faer-matmul"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let a = as_mat(s1.as_slice::<f32>()?, l1)?;
        let b = as_mat(s2.as_slice::<f32>()?, l2)?;
        let (m, k) = (a.nrows(), a.ncols());
        let n = b.ncols();
        if b.nrows() != k {
            candle_core::bail!("matmul shape mismatch: [{m}, {k}] x [{}, {n}]", b.nrows())
        }
        let mut out = vec![0f32; m * n];
        let c = faer::MatMut::from_row_major_slice_mut(&mut out, m, n);
        // Small products (decoding one token) are not worth waking the thread pool.
        let par = if m * n * k < 1 << 18 { faer::Par::Seq } else { faer::Par::rayon(0) };
        faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, b, 1.0f32, par);
        Ok((CpuStorage::F32(out), Shape::from((m, n))))
    }
}

/// `a` `[m, k]` × `b` `[k, n]` → `[m, n]`, f32. Operands may be transposed views.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let a = Tensor::new(&[[1f32, 2.], [3., 4.]], &Device::Cpu)?;
/// let b = Tensor::new(&[[1f32, 0.], [0., 1.]], &Device::Cpu)?;
/// assert_eq!(saex_kernels::matmul(&a, &b)?.to_vec2::<f32>()?, vec![vec![1., 2.], vec![3., 4.]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.apply_op2_no_bwd(b, &Matmul)
}

struct GeluTanh;

const SQRT_2_OVER_PI: f32 = 0.797_884_6;

/// tanh as a [13/6] rational function on [-7.9, 7.9] (Eigen's `generic_fast_tanh_float`
/// coefficients), within a few ulp of libm's `tanhf` but branch-free, so the loop over a
/// chunk vectorizes; libm's `tanhf` took a third of a GPT-2 forward pass.
#[inline(always)]
#[allow(clippy::excessive_precision)]
fn fast_tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311_107_635_498;
    const A1: f32 = 4.893_524_558_917_86e-3;
    const A3: f32 = 6.372_619_288_754_36e-4;
    const A5: f32 = 1.485_722_357_179_79e-5;
    const A7: f32 = 5.122_297_090_371_14e-8;
    const A9: f32 = -8.604_671_522_137_35e-11;
    const A11: f32 = 2.000_187_904_824_77e-13;
    const A13: f32 = -2.760_768_477_423_55e-16;
    const B0: f32 = 4.893_525_185_543_85e-3;
    const B2: f32 = 2.268_434_632_439_00e-3;
    const B4: f32 = 1.185_347_056_866_54e-4;
    const B6: f32 = 1.198_258_394_667_02e-6;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x;
    let q = ((B6 * x2 + B4) * x2 + B2) * x2 + B0;
    p / q
}

impl CustomOp1 for GeluTanh {
    fn name(&self) -> &'static str {
        "gelu-tanh"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let Some((start, end)) = l.contiguous_offsets() else { candle_core::bail!("gelu_tanh needs a contiguous input") };
        let x = &s.as_slice::<f32>()?[start..end];
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(4096).zip(x.par_chunks(4096)).for_each(|(o, x)| {
            for (o, &v) in o.iter_mut().zip(x) {
                *o = 0.5 * v * (1.0 + fast_tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
            }
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, as HF's `gelu_new` writes it.
pub fn gelu_tanh(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&GeluTanh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn matmul_matches_candle_for_every_layout() {
        let a = Tensor::randn(0f32, 1., (37, 19), &Device::Cpu).unwrap();
        let b = Tensor::randn(0f32, 1., (19, 23), &Device::Cpu).unwrap();
        let bt = b.t().unwrap().contiguous().unwrap().t().unwrap(); // column-major view
        let at = a.t().unwrap().contiguous().unwrap().t().unwrap();
        let expected = a.matmul(&b).unwrap();
        for (x, y) in [(&a, &b), (&a, &bt), (&at, &b), (&at, &bt)] {
            assert!(max_diff(&matmul(x, y).unwrap(), &expected) < 1e-4);
        }
        // A row slice (offset, stride > cols) of a wider matrix.
        let wide = Tensor::randn(0f32, 1., (37, 40), &Device::Cpu).unwrap();
        let part = wide.narrow(1, 5, 19).unwrap();
        assert!(max_diff(&matmul(&part, &b).unwrap(), &part.contiguous().unwrap().matmul(&b).unwrap()) < 1e-4);
    }

    #[test]
    fn fast_tanh_is_within_a_few_ulp_of_libm() {
        let mut worst = 0f32;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4; // [-20, 20]
            worst = worst.max((fast_tanh(x) - x.tanh()).abs());
        }
        // Measured 3.6e-7 (a few ulp of values near 1).
        assert!(worst < 1e-6, "{worst}");
    }

    #[test]
    fn gelu_matches_candle() {
        let x = Tensor::randn(0f32, 3., (3, 5000), &Device::Cpu).unwrap();
        assert!(max_diff(&gelu_tanh(&x).unwrap(), &x.gelu().unwrap()) < 1e-6);
    }
}
