//! Decoding for the steering routes: `saex_model`'s loop (KV cache, edits at every step, the
//! same seeded sampler, so the same seed gives `saex steer`'s text) with what Neuronpedia's
//! sampler adds: a frequency penalty (TransformerLens `sample_logits`: the tempered logits
//! minus `freq_penalty × count`, counting the prompt) and log-probabilities, and a callback
//! after every token for streaming.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::D;
use rand::{Rng, SeedableRng};
use saex_hooks::{Capture, Edit, Hook};

use super::types::{NpLogprob, NpTopLogprob};
use crate::error::{Error, Result};
use crate::session::Session;

/// How to decode.
#[derive(Debug, Clone, Copy)]
pub(super) struct Decode {
    pub max_new: usize,
    pub temperature: f64,
    pub freq_penalty: f64,
    pub seed: u64,
    pub n_logprobs: usize,
}

/// `saex_model::generate`'s sampler with `top_p = 1`, kept operation for operation so the
/// same seed draws the same tokens.
fn sample(logits: &[f32], temperature: f64, rng: &mut rand::rngs::StdRng) -> u32 {
    if temperature == 0.0 {
        return saex_model::generate::argmax(logits);
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let mut probs: Vec<(u32, f64)> = logits.iter().enumerate().map(|(i, &l)| (i as u32, ((l as f64 - max) / temperature).exp())).collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0.0;
    let mut n = 0;
    for p in &probs {
        kept += p.1 / total;
        n += 1;
        if kept >= 1.0 {
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

/// `log_softmax(logits)[chosen]` and the `n` most likely tokens (non-finite: −100).
fn logprob(session: &Session, logits: &[f32], chosen: u32, n: usize) -> NpLogprob {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = max + logits.iter().map(|&l| (l as f64 - max).exp()).sum::<f64>().ln();
    let lp = |i: u32| {
        let v = (logits[i as usize] as f64 - lse) as f32;
        if v.is_finite() {
            v
        } else {
            -100.0
        }
    };
    let text = |i: u32| session.model.tokenizer.hf_tokenizer().decode(&[i], false).unwrap_or_default();
    let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
    let by = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]).then(a.cmp(b));
    let n = n.min(idx.len());
    if n > 0 && n < idx.len() {
        idx.select_nth_unstable_by(n - 1, by);
    }
    idx.truncate(n);
    idx.sort_by(by);
    NpLogprob {
        token: text(chosen),
        logprob: lp(chosen),
        top_logprobs: idx.into_iter().map(|i| NpTopLogprob { token: text(i), logprob: lp(i) }).collect(),
    }
}

/// Generate after `prompt` with `edits` at every step; `on_token(new ids, logprobs)` after
/// each token. Stops at eos, at `max_new`, or with `Cancelled` once `cancel` is set.
pub(super) fn decode(
    session: &Session,
    prompt: &[u32],
    d: &Decode,
    edits: &[(Hook, Edit)],
    cancel: Option<&AtomicBool>,
    on_token: &mut dyn FnMut(&[u32], &[NpLogprob]),
) -> Result<(Vec<u32>, Vec<NpLogprob>)> {
    session.need_logits("generation")?;
    let model = &session.model;
    if !(d.temperature >= 0.0 && d.temperature.is_finite()) {
        return Err(Error::Invalid(format!("temperature must be >= 0, got {}", d.temperature)));
    }
    if prompt.is_empty() {
        return Err(Error::Invalid("the prompt has no tokens".into()));
    }
    let dims = model.dims();
    if prompt.len() + d.max_new > dims.n_ctx {
        return Err(saex_model::Error::TooLong { got: prompt.len() + d.max_new, max: dims.n_ctx }.into());
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(d.seed);
    let mut cache = saex_model::ops::KvCache::new();
    let stop = saex_model::Stop { blocks: dims.n_layers, logits: true };
    let eos = model.tokenizer.eos_id();
    let mut cap = Capture::default();
    for (h, e) in edits {
        model.check_hook(*h)?;
        cap = cap.with_edit(*h, e.clone());
    }
    let penalize = d.freq_penalty > 0.0 && d.temperature > 0.0;
    let mut counts = vec![0u32; if penalize { dims.d_vocab } else { 0 }];
    if penalize {
        for &t in prompt {
            if let Some(c) = counts.get_mut(t as usize) {
                *c += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(d.max_new);
    let mut lps = Vec::new();
    let mut input = prompt.to_vec();
    while out.len() < d.max_new {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(saex_model::Error::Cancelled.into());
        }
        let start = cache.len();
        let ids = saex_model::ops::ids_tensor(&[input.clone()])?;
        let logits = model
            .forward(&ids, start, Some(&mut cache), &mut cap, stop)?
            .ok_or_else(|| Error::Invalid("the model returned no logits".into()))?;
        let last = logits.get(0)?.get(input.len() - 1)?; // [vocab]
        let last = last.squeeze(D::Minus1).unwrap_or(last);
        let raw = last.to_vec1::<f32>()?;
        let next = if penalize {
            // (l − fp·T·count)/T = l/T − fp·count: TransformerLens's order, through the same sampler.
            let mut l = raw.clone();
            for (v, &c) in l.iter_mut().zip(&counts) {
                if c > 0 {
                    *v -= (d.freq_penalty * d.temperature * f64::from(c)) as f32;
                }
            }
            sample(&l, d.temperature, &mut rng)
        } else {
            sample(&raw, d.temperature, &mut rng)
        };
        if d.n_logprobs > 0 {
            lps.push(logprob(session, &raw, next, d.n_logprobs));
        }
        if penalize {
            if let Some(c) = counts.get_mut(next as usize) {
                *c += 1;
            }
        }
        out.push(next);
        on_token(&out, &lps);
        if Some(next) == eos {
            break;
        }
        input = vec![next];
    }
    Ok((out, lps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_is_argmax_and_the_sampler_is_seeded() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(sample(&[0.0, 3.0, 1.0], 0.0, &mut rng), 1);
        let draw = |seed| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            (0..16).map(|_| sample(&[0.1, 0.2, 0.3, 0.0], 1.0, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }
}
