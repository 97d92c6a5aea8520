//! The token pre-filter (seed 002 step 3): keep the K most informative tokens of a sequence,
//! by the entropy of the model's next-token distribution or by activation norm. bos is never
//! kept: its residual norm is an order of magnitude above every other token's and it carries
//! no content.

use candle_core::{Tensor, D};

use crate::error::Result;

/// Entropy (nats) of softmax(logits) per row: `[n, vocab]` → `n` values.
pub fn entropies(logits: &Tensor) -> Result<Vec<f32>> {
    // H = log Σ exp(z) − Σ softmax(z)·z with z = logits − max, computed as whole-tensor ops
    // (the vocab is 262k wide for Gemma: no per-row copies).
    let logits = logits.to_dtype(candle_core::DType::F32)?;
    let z = logits.broadcast_sub(&logits.max_keepdim(D::Minus1)?)?;
    let e = z.exp()?;
    let sum = e.sum_keepdim(D::Minus1)?;
    let expected_z = (e * &z)?.sum_keepdim(D::Minus1)?.broadcast_div(&sum)?;
    Ok((sum.log()? - expected_z)?.flatten_all()?.to_vec1::<f32>()?)
}

/// L2 norm of each row of `x` `[n, d]`.
pub fn norms(x: &Tensor) -> Result<Vec<f32>> {
    let x = x.to_dtype(candle_core::DType::F32)?;
    let x = x.reshape((x.dim(0)?, ()))?;
    Ok(x.sqr()?.sum(D::Minus1)?.sqrt()?.to_vec1::<f32>()?)
}

/// Positions of the `k` highest `proxy` values among `candidates` (all when `k` is 0 or
/// covers them), in position order. Ties go to the earlier token.
pub fn keep_top(proxy: &[f32], candidates: impl Iterator<Item = usize>, k: usize) -> Vec<usize> {
    let mut c: Vec<usize> = candidates.collect();
    if k > 0 && k < c.len() {
        c.sort_by(|&a, &b| proxy[b].total_cmp(&proxy[a]).then(a.cmp(&b)));
        c.truncate(k);
        c.sort_unstable();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn entropy_of_uniform_and_peaked_rows() {
        // Uniform over 4: ln 4 = 1.386294. One-hot-ish [100, 0, 0, 0]: ≈ 0.
        let l = Tensor::new(&[[1f32, 1.0, 1.0, 1.0], [100.0, 0.0, 0.0, 0.0]], &Device::Cpu).unwrap();
        let h = entropies(&l).unwrap();
        assert!((h[0] - 4f32.ln()).abs() < 1e-6, "{h:?}");
        assert!(h[1].abs() < 1e-6, "{h:?}");
        // Two equal logits and two at −inf-ish: ln 2.
        let l = Tensor::new(&[[0f32, 0.0, -200.0, -200.0]], &Device::Cpu).unwrap();
        assert!((entropies(&l).unwrap()[0] - 2f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn norms_per_row() {
        let x = Tensor::new(&[[3f32, 4.0], [0.0, 0.0]], &Device::Cpu).unwrap();
        assert_eq!(norms(&x).unwrap(), [5.0, 0.0]);
    }

    #[test]
    fn keeps_the_top_k_in_position_order() {
        let proxy = [100.0, 1.0, 5.0, 3.0, 5.0];
        // Candidates skip bos (0); top 2 of {1:1, 2:5, 3:3, 4:5} → 2 and 4 (tie → both).
        assert_eq!(keep_top(&proxy, 1..5, 2), [2, 4]);
        // Tie broken by position: top 1 of {2:5, 4:5} → 2.
        assert_eq!(keep_top(&proxy, 1..5, 1), [2]);
        assert_eq!(keep_top(&proxy, 1..5, 0), [1, 2, 3, 4]);
        assert_eq!(keep_top(&proxy, 1..5, 10), [1, 2, 3, 4]);
    }
}
