//! Autoregressive decoding with a KV cache: greedy, or sampled with temperature and
//! nucleus (top-p) filtering from a seeded RNG, so the same seed gives the same text.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{Tensor, D};
use rand::{Rng, SeedableRng};
use saex_hooks::{Capture, Edit, Hook};

use crate::error::{Error, Result};
use crate::ops::{ids_tensor, KvCache};
use crate::{Model, Stop};

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// 0 means greedy (argmax).
    pub temperature: f64,
    /// Keep the smallest set of tokens whose probability sums to at least this (1 = all).
    pub top_p: f64,
    /// RNG seed.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { temperature: 0.0, top_p: 1.0, seed: 42 }
    }
}

impl Sampling {
    fn check(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::Invalid(format!("temperature must be >= 0, got {}", self.temperature)));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::Invalid(format!("top_p must be in (0, 1], got {}", self.top_p)));
        }
        Ok(())
    }
}

/// Greedy argmax; ties go to the lowest id, as `torch.argmax` does.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

fn sample(logits: &[f32], s: &Sampling, rng: &mut rand::rngs::StdRng) -> u32 {
    if s.temperature == 0.0 {
        return argmax(logits);
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let mut probs: Vec<(u32, f64)> =
        logits.iter().enumerate().map(|(i, &l)| (i as u32, ((l as f64 - max) / s.temperature).exp())).collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0.0;
    let mut n = 0;
    for p in &probs {
        kept += p.1 / total;
        n += 1;
        if kept >= s.top_p {
            break;
        }
    }
    let mass: f64 = probs[..n].iter().map(|p| p.1).sum();
    let mut r = rng.random::<f64>() * mass;
    for p in &probs[..n] {
        r -= p.1;
        if r <= 0.0 {
            return p.0;
        }
    }
    probs[n - 1].0
}

/// See [`Model::generate`]. Between steps, a set `cancel` flag stops the loop with
/// [`Error::Cancelled`].
pub fn generate(
    model: &Model,
    prompt: &[u32],
    max_new: usize,
    s: &Sampling,
    edits: &[(Hook, Edit)],
    cancel: Option<&AtomicBool>,
) -> Result<Vec<u32>> {
    s.check()?;
    if prompt.is_empty() {
        return Err(Error::Invalid("cannot generate from an empty prompt".into()));
    }
    let d = model.dims();
    if prompt.len() + max_new > d.n_ctx {
        return Err(Error::TooLong { got: prompt.len() + max_new, max: d.n_ctx });
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(s.seed);
    let mut cache = KvCache::new();
    let stop = Stop { blocks: d.n_layers, logits: true };
    let eos = model.tokenizer.eos_id();
    let mut out = Vec::with_capacity(max_new);
    let mut cap = Capture::default();
    for (h, e) in edits {
        model.check_hook(*h)?;
        cap = cap.with_edit(*h, e.clone());
    }
    let mut input = prompt.to_vec();
    while out.len() < max_new {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        let start = cache.len();
        let ids = ids_tensor(&[input.clone()])?;
        let logits = model
            .forward_last(&ids, start, Some(&mut cache), &mut cap, stop)?
            .ok_or_else(|| Error::Invalid("model returned no logits".into()))?;
        let last: Tensor = logits.get(0)?.get(0)?; // [vocab]: the last position's
        let last = last.squeeze(D::Minus1).unwrap_or(last);
        let next = sample(&last.to_vec1::<f32>()?, s, &mut rng);
        out.push(next);
        if Some(next) == eos {
            break;
        }
        input = vec![next];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // probs ∝ exp(logit): [0.665, 0.245, 0.090] for logits [2, 1, 0]; top_p 0.5 keeps
        // only token 0, so every seed must pick it.
        let s = Sampling { temperature: 1.0, top_p: 0.5, seed: 0 };
        for seed in 0..20 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            assert_eq!(sample(&[2.0, 1.0, 0.0], &s, &mut rng), 0);
        }
    }

    #[test]
    fn same_seed_same_draws() {
        let s = Sampling { temperature: 1.0, top_p: 1.0, seed: 7 };
        let logits = [0.1f32, 0.2, 0.3, 0.0, -0.5];
        let draw = |seed| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            (0..32).map(|_| sample(&logits, &s, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn argmax_prefers_the_first_of_equal_values() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
    }
}
