//! `sae-stats`: each feature's activation statistics over a reference corpus (firing rate,
//! mean, P95, max), the baseline later analyses compare against (discover's default τ is a
//! feature's P95).
//!
//! P95 is taken over the tokens where the feature fires: over all tokens it would be 0 for
//! any feature firing on less than 5% of them, which is nearly all features of a sparse SAE.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::pair::Pair;

/// Per-feature statistics, each `[d_sae]`.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureStats {
    /// Tokens measured (bos left out).
    pub n_tokens: usize,
    /// Fraction of tokens where the feature fires.
    pub firing_rate: Vec<f32>,
    /// Mean activation over all tokens.
    pub mean: Vec<f32>,
    /// Mean activation over the tokens where it fires.
    pub mean_nonzero: Vec<f32>,
    /// 95th percentile of its nonzero activations.
    pub p95: Vec<f32>,
    /// Largest activation.
    pub max: Vec<f32>,
}

/// Statistics over `texts` (each cut to `ctx` tokens, bos prepended when the model uses it),
/// stopping after `max_tokens` tokens.
pub fn feature_stats(pair: &Pair, texts: &[&str], ctx: usize, batch: usize, max_tokens: usize) -> Result<FeatureStats> {
    let model = pair.model;
    let bos = model.add_bos();
    let skip = usize::from(bos && model.tokenizer.bos_id().is_some());
    let m = pair.sae.d_sae();
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); m];
    let mut n_tokens = 0usize;
    let mut seqs: Vec<Vec<u32>> = Vec::new();
    let mut flush = |seqs: &mut Vec<Vec<u32>>, n_tokens: &mut usize| -> Result<()> {
        for a in model.run(seqs, &[pair.hook], false)? {
            let x = pair.sae_input(&a.hooks[0].1)?;
            let x = x.narrow(0, skip, x.dim(0)? - skip)?;
            let acts = pair.sae.encode_sparse(&x)?;
            for (fs, vs) in acts.tokens() {
                for (&f, &v) in fs.iter().zip(vs) {
                    values[f as usize].push(v);
                }
            }
            *n_tokens += acts.n_tokens();
        }
        seqs.clear();
        Ok(())
    };
    for text in texts {
        if n_tokens >= max_tokens {
            break;
        }
        let mut ids = model.tokenizer.encode(text, bos).map_err(saex_model::Error::from)?;
        ids.truncate(ctx);
        if ids.len() > skip {
            seqs.push(ids);
        }
        if seqs.len() == batch {
            flush(&mut seqs, &mut n_tokens)?;
        }
    }
    if !seqs.is_empty() {
        flush(&mut seqs, &mut n_tokens)?;
    }
    if n_tokens == 0 {
        return Err(Error::Invalid("no tokens to measure".into()));
    }
    let mut s = FeatureStats { n_tokens, firing_rate: vec![0.0; m], mean: vec![0.0; m], mean_nonzero: vec![0.0; m], p95: vec![0.0; m], max: vec![0.0; m] };
    for (f, v) in values.iter_mut().enumerate() {
        if v.is_empty() {
            continue;
        }
        let sum: f64 = v.iter().map(|&x| x as f64).sum();
        s.firing_rate[f] = v.len() as f32 / n_tokens as f32;
        s.mean[f] = (sum / n_tokens as f64) as f32;
        s.mean_nonzero[f] = (sum / v.len() as f64) as f32;
        v.sort_by(f32::total_cmp);
        // Nearest-rank percentile.
        let rank = ((0.95 * v.len() as f64).ceil() as usize).clamp(1, v.len());
        s.p95[f] = v[rank - 1];
        s.max[f] = v[v.len() - 1];
    }
    Ok(s)
}
