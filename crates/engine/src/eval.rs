//! `eval`: how well an SAE reconstructs a hook on real text (L0, explained variance, MSE,
//! dead and dense features) and what splicing its reconstruction into the forward pass
//! costs in next-token loss, against the clean model and zero-ablation (SAELens's
//! "CE loss recovered").
//!
//! Decisions (SAELens's evals leave them to options): the text is cut into chunks of `ctx`
//! tokens, each starting with bos when the model uses one; bos positions are left out of
//! every statistic and are neither spliced nor ablated, because their norm is an order of
//! magnitude above the rest and SAEs are not trained on them. "Dense" means firing on more
//! than 10% of tokens.

use std::sync::Arc;

use candle_core::{DType, Tensor, D};
use saex_hooks::Edit;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::pair::Pair;

/// Options of an evaluation.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Tokens per chunk, bos included.
    pub ctx: usize,
    /// Chunks per forward pass.
    pub batch: usize,
    /// Stop after this many chunks (0: all).
    pub max_chunks: usize,
}

/// The numbers `saex eval` reports.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The hook evaluated.
    pub hook: String,
    /// Chunks of text run.
    pub n_sequences: usize,
    /// Tokens in the statistics (bos excluded).
    pub n_tokens: usize,
    /// Mean number of active features per token.
    pub l0: f64,
    /// `1 − Σ‖x − x̂‖² / Σ‖x − x̄‖²` over all tokens.
    pub explained_variance: f64,
    /// Mean squared error per element.
    pub mse: f64,
    /// Features that never fired.
    pub dead_features: usize,
    /// `dead_features / d_sae`.
    pub dead_fraction: f64,
    /// Features firing on more than 10% of tokens.
    pub dense_features: usize,
    /// Next-token cross-entropy of the clean model (nats).
    pub ce_loss_clean: f64,
    /// With the SAE reconstruction spliced in at the hook.
    pub ce_loss_with_sae: f64,
    /// With the hook zeroed.
    pub ce_loss_zero_ablation: f64,
    /// `(zero − sae) / (zero − clean)`: 1 means the SAE loses nothing.
    pub ce_loss_recovered: f64,
}

/// Mean next-token cross-entropy of each sequence, summed, and the number of predictions.
fn cross_entropy(logits: &[Tensor], seqs: &[Vec<u32>]) -> Result<(f64, usize)> {
    let (mut total, mut count) = (0f64, 0usize);
    for (l, s) in logits.iter().zip(seqs) {
        let n = s.len();
        if n < 2 {
            continue;
        }
        let l = l.narrow(0, 0, n - 1)?; // [n-1, vocab]: predictions of tokens 1..n
        let max = l.max_keepdim(D::Minus1)?;
        let lse = (l.broadcast_sub(&max)?.exp()?.sum_keepdim(D::Minus1)?.log()? + &max)?; // [n-1, 1]
        let targets = Tensor::new(&s[1..], l.device())?.unsqueeze(1)?;
        let picked = l.gather(&targets, 1)?; // [n-1, 1]
        total += (lse - picked)?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
        count += n - 1;
    }
    Ok((total, count))
}

/// Evaluate the pair on `texts` (each cut into chunks separately).
pub fn eval(pair: &Pair, texts: &[&str], opts: EvalOptions) -> Result<EvalReport> {
    let model = pair.model;
    if opts.ctx < 2 || opts.batch == 0 {
        return Err(Error::Invalid(format!("ctx must be >= 2 and batch >= 1 (got ctx {}, batch {})", opts.ctx, opts.batch)));
    }
    let bos = model.tokenizer.bos_id().filter(|_| model.add_bos());
    let per_chunk = opts.ctx - usize::from(bos.is_some());
    let mut chunks: Vec<Vec<u32>> = Vec::new();
    for text in texts {
        let body = model.tokenizer.encode(text, false).map_err(saex_model::Error::from)?;
        chunks.extend(body.chunks(per_chunk).filter(|c| c.len() >= 2).map(|c| bos.into_iter().chain(c.iter().copied()).collect()));
    }
    if opts.max_chunks > 0 {
        chunks.truncate(opts.max_chunks);
    }
    if chunks.is_empty() {
        return Err(Error::Invalid("the text is too short to evaluate (fewer than 2 tokens)".into()));
    }
    let skip = usize::from(bos.is_some()); // positions left out at the start of each chunk
    let d_sae = pair.sae.d_sae();
    let (mut fired, mut n_tok, mut l0_sum) = (vec![0u64; d_sae], 0usize, 0f64);
    let (mut sq_err, mut sq_norm, mut n_elems) = (0f64, 0f64, 0usize);
    let mut x_sum: Option<Tensor> = None;
    let mut ce = [(0f64, 0usize); 3];

    // Splice edits: replace the hook's value from position `skip` on.
    let keep_start = move |orig: &Tensor, new: Tensor| -> candle_core::Result<Tensor> {
        if skip == 0 {
            return Ok(new);
        }
        let rest = orig.dim(1)? - skip;
        Tensor::cat(&[orig.narrow(1, 0, skip)?, new.narrow(1, skip, rest)?], 1)
    };
    let adapter = pair.adapter.clone();
    let reconstruct = move |t: &Tensor| -> candle_core::Result<Tensor> {
        // [batch, pos, ...] → [batch·pos, ...] for the SAE, and back.
        let x_hat = adapter.reconstruct(&t.flatten_to(1)?).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        keep_start(t, x_hat.reshape(t.dims())?)
    };
    for batch in chunks.chunks(opts.batch) {
        let clean = model.run(batch, &[pair.hook], true)?;
        // Reconstruction statistics on the clean activations.
        for (a, s) in clean.iter().zip(batch) {
            let x_all = pair.sae_input(&a.hooks[0].1)?;
            let x = x_all.narrow(0, skip, s.len() - skip)?.flatten_from(1)?.to_dtype(DType::F32)?;
            let acts = pair.sae.encode_sparse(&x)?;
            for (fs, _) in acts.tokens() {
                l0_sum += fs.len() as f64;
                for &f in fs {
                    fired[f as usize] += 1;
                }
            }
            let x_hat = pair.sae.forward(&x)?.flatten_from(1)?;
            sq_err += (&x - &x_hat)?.sqr()?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
            sq_norm += x.sqr()?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
            let s_x = x.to_dtype(DType::F64)?.sum(0)?;
            x_sum = Some(match x_sum {
                Some(acc) => (acc + s_x)?,
                None => s_x,
            });
            n_tok += x.dim(0)?;
            n_elems += x.elem_count();
        }
        let logits: Vec<Tensor> = clean.into_iter().filter_map(|a| a.logits).collect();
        let c = cross_entropy(&logits, batch)?;
        ce[0] = (ce[0].0 + c.0, ce[0].1 + c.1);
        drop(logits);

        let splice: Edit = Arc::new(reconstruct.clone());
        let spliced: Vec<Tensor> =
            model.run_edited(batch, &[], true, &[(pair.hook, splice)])?.into_iter().filter_map(|a| a.logits).collect();
        let c = cross_entropy(&spliced, batch)?;
        ce[1] = (ce[1].0 + c.0, ce[1].1 + c.1);
        drop(spliced);

        let zero: Edit = Arc::new(move |t: &Tensor| keep_start(t, t.zeros_like()?));
        let ablated: Vec<Tensor> = model.run_edited(batch, &[], true, &[(pair.hook, zero)])?.into_iter().filter_map(|a| a.logits).collect();
        let c = cross_entropy(&ablated, batch)?;
        ce[2] = (ce[2].0 + c.0, ce[2].1 + c.1);
    }
    if n_tok == 0 {
        return Err(Error::Invalid("no tokens to evaluate after leaving out bos".into()));
    }
    let mean_sq = match &x_sum {
        Some(s) => (s / n_tok as f64)?.sqr()?.sum_all()?.to_scalar::<f64>()? * n_tok as f64,
        None => 0.0,
    };
    let total_ss = sq_norm - mean_sq;
    let [clean, with_sae, zero] = ce.map(|(s, n)| s / n.max(1) as f64);
    let dead = fired.iter().filter(|&&c| c == 0).count();
    Ok(EvalReport {
        hook: pair.hook.to_string(),
        n_sequences: chunks.len(),
        n_tokens: n_tok,
        l0: l0_sum / n_tok as f64,
        explained_variance: 1.0 - sq_err / total_ss,
        mse: sq_err / n_elems as f64,
        dead_features: dead,
        dead_fraction: dead as f64 / d_sae as f64,
        dense_features: fired.iter().filter(|&&c| c as f64 > 0.1 * n_tok as f64).count(),
        ce_loss_clean: clean,
        ce_loss_with_sae: with_sae,
        ce_loss_zero_ablation: zero,
        ce_loss_recovered: (zero - with_sae) / (zero - clean),
    })
}
