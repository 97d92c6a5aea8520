//! A forward pass over one long sequence in chunks through the KV cache, recording hooks and,
//! optionally, each position's next-token entropy.
//!
//! Logits are `[positions, vocab]` (Gemma: 262,144 wide, 1 MB per position in f32), so a
//! single pass over an 8k-token text would need 8.6 GB for them alone. Chunking through the
//! KV cache, as generation does, keeps them to one chunk; the hook values are identical to a
//! full pass up to summation order.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{DType, Tensor, D};
use saex_hooks::{Capture, Hook};

use crate::error::{Error, Result};
use crate::ops::{ids_tensor, KvCache};
use crate::{Model, Stop};

/// Positions per forward step when logits are needed: one step's logits are
/// `[CHUNK, vocab]` (Gemma: 256 × 262,144 f32 = 268 MB).
pub const CHUNK: usize = 256;

/// What [`Model::run_chunked`] returns.
#[derive(Debug, Clone)]
pub struct ChunkedRun {
    /// Each requested hook (duplicates removed), in model order, `[n_tokens, ...]`.
    pub hooks: Vec<(Hook, Tensor)>,
    /// Next-token entropy (nats) at each position, when asked for.
    pub entropy: Option<Vec<f32>>,
}

impl ChunkedRun {
    /// The value recorded at `hook`.
    pub fn get(&self, hook: Hook) -> Option<&Tensor> {
        self.hooks.iter().find(|(h, _)| *h == hook).map(|(_, t)| t)
    }
}

/// Entropy (nats) of softmax(logits) per row: `[n, vocab]` → `n` values.
pub fn entropies(logits: &Tensor) -> Result<Vec<f32>> {
    // H = log Σ exp(z) − Σ softmax(z)·z with z = logits − max, computed as whole-tensor ops
    // (the vocab is 262k wide for Gemma: no per-row copies).
    let logits = logits.to_dtype(DType::F32)?;
    let z = logits.broadcast_sub(&logits.max_keepdim(D::Minus1)?)?;
    let e = z.exp()?;
    let sum = e.sum_keepdim(D::Minus1)?;
    let expected_z = (e * &z)?.sum_keepdim(D::Minus1)?.broadcast_div(&sum)?;
    Ok((sum.log()? - expected_z)?.flatten_all()?.to_vec1::<f32>()?)
}

impl Model {
    /// Run one sequence and record `hooks` (a hook named twice is recorded once). With
    /// `entropy` the whole model runs in [`CHUNK`]-position steps through the KV cache and
    /// every position's next-token entropy is returned; without it, one pass stops after the
    /// deepest hook. A set `cancel` flag stops between chunks with [`Error::Cancelled`].
    pub fn run_chunked(&self, tokens: &[u32], hooks: &[Hook], entropy: bool, cancel: Option<&AtomicBool>) -> Result<ChunkedRun> {
        let mut wanted: Vec<Hook> = hooks.to_vec();
        wanted.sort();
        wanted.dedup();
        if !entropy {
            let values = self.run(&[tokens.to_vec()], &wanted, false)?.remove(0).hooks;
            return Ok(ChunkedRun { hooks: values, entropy: None });
        }
        for &h in &wanted {
            self.check_hook(h)?;
        }
        let d = self.dims();
        if tokens.is_empty() {
            return Err(Error::Invalid("cannot run an empty token sequence".into()));
        }
        if tokens.len() > d.n_ctx {
            return Err(Error::TooLong { got: tokens.len(), max: d.n_ctx });
        }
        let stop = Stop { blocks: d.n_layers, logits: true };
        let mut cache = KvCache::new();
        let mut parts: Vec<Vec<Tensor>> = vec![Vec::new(); wanted.len()];
        let mut ent = Vec::with_capacity(tokens.len());
        for (c, chunk) in tokens.chunks(CHUNK).enumerate() {
            if cancel.is_some_and(|x| x.load(Ordering::Relaxed)) {
                return Err(Error::Cancelled);
            }
            let ids = ids_tensor(&[chunk.to_vec()])?;
            let mut cap = Capture::new(wanted.iter().copied());
            let logits = self
                .forward(&ids, c * CHUNK, Some(&mut cache), &mut cap, stop)?
                .ok_or_else(|| Error::Invalid("the model returned no logits".into()))?;
            ent.extend(entropies(&logits.get(0)?)?);
            for (h, t) in cap.into_values() {
                if let Some(k) = wanted.iter().position(|&x| x == h) {
                    parts[k].push(t.get(0)?);
                }
            }
        }
        let mut values = Vec::with_capacity(wanted.len());
        for (h, p) in wanted.into_iter().zip(parts) {
            if p.is_empty() {
                return Err(Error::Invalid(format!("the forward pass did not reach {h}")));
            }
            values.push((h, Tensor::cat(&p, 0)?));
        }
        Ok(ChunkedRun { hooks: values, entropy: Some(ent) })
    }
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
}
