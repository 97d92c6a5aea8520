//! Logit lens on an SAE's decoder: what each feature's direction does to the next-token
//! logits, `w = W_dec[f] · W_U` over the whole vocabulary (seed 004), computed in blocks of
//! features × vocabulary so `d_sae × vocab` never exists (Gemma's vocabulary is 262,144).
//!
//! `W_U` as seed 004 has it: TransformerLens's default `from_pretrained` folds the final
//! norm's weight into `W_U` (each row `i` of `W_U` scaled by `w_ln[i]`; for LayerNorm models
//! also centred over `d_model`, see [`lens_rows`]) and centres `W_U` over the vocabulary (each
//! row minus its mean), so every feature's mean weight is ~0. That is the default here; `raw`
//! uses the model's unembedding as stored. Checked against TransformerLens on the tiny
//! GPT-2, Llama and Gemma 3 fixtures (`fixtures/logit_stats/`).
//!
//! With `a = W_dec[f] ⊙ w_ln` ([`lens_rows`]), the centred weight of token `v` is
//! `a · W_U[v] − a · mean_v(W_U[v])`: the second term is one number per feature, so the
//! centring costs nothing per token.

use candle_core::{DType, Tensor, D};
use saex_analysis::logit::{LogitAccumulator, Moments};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::session::Session;

/// Features per block.
const FEATURE_BLOCK: usize = 256;
/// Vocabulary rows per block: a `[256 × 16384]` f32 block is 16 MB.
const VOCAB_BLOCK: usize = 16_384;

/// How the unembedding is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LensOptions {
    /// Use the model's unembedding as stored (no final-norm folding, no centring).
    pub raw: bool,
    /// Tokens kept at each end.
    pub k: usize,
}

/// One feature's logit-weight distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureLogits {
    /// Feature id.
    pub feature_id: u32,
    /// Population moments.
    pub moments: Moments,
    /// `(token, weight)`, largest first.
    pub boosted: Vec<(u32, f32)>,
    /// `(token, weight)`, smallest first.
    pub suppressed: Vec<(u32, f32)>,
}

/// The rows `a` with `a · W_U[v]` the (uncentred) logit weight of token `v` under
/// TransformerLens's default processing: the final norm's weight folded in (`a = W_dec[f] ⊙
/// w_ln`) and, for a LayerNorm model (GPT-2), `W_U` also centred over `d_model` — TL does that
/// because LayerNorm removes the mean of its input anyway; moved onto the decoder side it is
/// `W_dec[f]` minus its own mean. `raw`: the decoder rows unchanged.
pub(crate) fn lens_rows(w_dec: &Tensor, unembed: &saex_model::Unembedding, raw: bool) -> Result<Tensor> {
    if raw {
        return Ok(w_dec.clone());
    }
    let mut a = w_dec.clone();
    if unembed.norm_bias.is_some() {
        a = a.broadcast_sub(&a.mean_keepdim(D::Minus1)?)?;
    }
    Ok(a.broadcast_mul(&unembed.norm_weight.to_dtype(DType::F32)?.unsqueeze(0)?)?)
}

/// Refuse an SAE whose decoder does not write the width the unembedding reads.
pub(crate) fn check_width(session: &Session, sae: usize) -> Result<()> {
    let s = &session.saes[sae];
    let d_model = session.model.unembedding()?.w_u.dim(1)?;
    let d_in = s.sae.w_dec().dim(1)?;
    if d_in != d_model {
        return Err(Error::Invalid(format!(
            "{}: the SAE's decoder writes {d_in} dimensions, the model's unembedding reads {d_model} (an SAE of another hook type or model)",
            s.id
        )));
    }
    Ok(())
}

/// The logit-weight distribution of each of `features` of SAE `sae` (the session's model
/// must be loaded with its unembedding). `each` sees every feature's result in order, so a
/// caller can stream them.
pub fn logit_lens(
    session: &Session,
    sae: usize,
    features: &[u32],
    opts: LensOptions,
    each: &mut dyn FnMut(FeatureLogits) -> Result<()>,
) -> Result<()> {
    let s = &session.saes[sae];
    let d_sae = s.sae.d_sae();
    if let Some(&f) = features.iter().find(|&&f| f as usize >= d_sae) {
        return Err(Error::field("features", format!("feature {f} is out of range (d_sae {d_sae})")));
    }
    check_width(session, sae)?;
    let unembed = session.model.unembedding()?;
    let (vocab, _) = unembed.w_u.dims2()?;
    let w_dec = s.sae.w_dec().to_dtype(DType::F32)?; // [d_sae, d_in]
    let w_u = unembed.w_u.to_dtype(DType::F32)?; // [vocab, d_model]
                                                 // The mean over the vocabulary of each d_model column (the centring term).
    let mean_u = if opts.raw { None } else { Some(w_u.mean(0)?) }; // [d_model]
    for block in features.chunks(FEATURE_BLOCK) {
        let ids = Tensor::new(block, w_dec.device())?;
        let a = lens_rows(&w_dec.index_select(&ids, 0)?, &unembed, opts.raw)?; // [F, d_model]
                                                                               // The mean weight of each feature, exactly: a · mean_v W_U[v] (raw: the same, as the
                                                                               // accumulator's shift); with centring every token's weight is shifted by it.
        let centre = match &mean_u {
            Some(m) => Some(a.broadcast_mul(&m.unsqueeze(0)?)?.sum(D::Minus1)?.to_vec1::<f32>()?),
            None => None,
        };
        let shift = match &centre {
            Some(_) => vec![0.0; block.len()],
            None => a.broadcast_mul(&w_u.mean(0)?.unsqueeze(0)?)?.sum(D::Minus1)?.to_vec1::<f32>()?,
        };
        let mut acc: Vec<LogitAccumulator> = shift.iter().map(|&m| LogitAccumulator::new(f64::from(m), opts.k)).collect();
        let mut start = 0;
        while start < vocab {
            let n = VOCAB_BLOCK.min(vocab - start);
            let w = saex_kernels::matmul(&a, &w_u.narrow(0, start, n)?.t()?)?; // [F, n]
            let rows = w.to_vec2::<f32>()?;
            for (fi, mut row) in rows.into_iter().enumerate() {
                if let Some(c) = &centre {
                    row.iter_mut().for_each(|x| *x -= c[fi]);
                }
                acc[fi].add(start as u32, &row);
            }
            start += n;
        }
        for (&f, a) in block.iter().zip(acc) {
            each(FeatureLogits {
                feature_id: f,
                moments: a.moments(),
                boosted: a.top().iter().map(|&(w, t)| (t, w)).collect(),
                suppressed: a.bottom().iter().map(|&(w, t)| (t, w)).collect(),
            })?;
        }
    }
    Ok(())
}
