//! `logit-stats` (seed 004): per feature, the moments of its logit-weight distribution
//! `w = W_dec[i] · W_U` over the whole vocabulary, its most boosted and suppressed tokens and
//! its type by seed 004's four profiles ([`saex_analysis::logit::classify`]).
//!
//! The standard deviation is judged against the median over *all* the SAE's features, so a
//! feature's type does not depend on which other features were asked for. That reference is
//! cheap without the full product: `σᵢ² = aᵢ Σ aᵢᵀ` with `Σ` the covariance of the
//! unembedding's rows over the vocabulary (`d_model × d_model`) — and centring `W_U` leaves
//! every σ unchanged, so the reference is the same with `raw_unembed`.

use candle_core::{DType, D};
use saex_analysis::logit::{classify, FeatureType, TypeThresholds};
use saex_index::record::TokenValue;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::logit_lens::{check_width, lens_rows, logit_lens, LensOptions};
use crate::session::Session;

/// `POST /v1/logit-stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogitStatsRequest {
    /// The SAE (default: the session's only one).
    #[serde(default)]
    pub sae_id: Option<String>,
    /// Features (default: all).
    #[serde(default)]
    pub features: Option<Vec<u32>>,
    /// Use the unembedding as stored instead of TransformerLens's default processing (final
    /// norm folded in, centred over the vocabulary).
    #[serde(default)]
    pub raw_unembed: bool,
    /// Tokens listed at each end.
    #[serde(default = "default_k")]
    pub k: usize,
    /// Where "high" and "low" fall (default: [`TypeThresholds::default`]).
    #[serde(default)]
    pub thresholds: Option<TypeThresholds>,
}

fn default_k() -> usize {
    10
}

impl Default for LogitStatsRequest {
    fn default() -> Self {
        LogitStatsRequest { sae_id: None, features: None, raw_unembed: false, k: default_k(), thresholds: None }
    }
}

/// One feature's logit-weight distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureLogitStats {
    /// Feature id.
    pub feature_id: u32,
    /// Mean weight (≈ 0 with the centred unembedding).
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Skewness (population).
    pub skewness: f64,
    /// Kurtosis (population, not excess).
    pub kurtosis: f64,
    /// `std` over the median `std` of all the SAE's features.
    pub std_ratio: f64,
    /// Its type by seed 004's profiles.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: FeatureType,
    /// The `k` most boosted tokens, largest first.
    pub boosted: Vec<TokenValue>,
    /// The `k` most suppressed, most negative first.
    pub suppressed: Vec<TokenValue>,
    /// Its label, when a catalog has one.
    pub label: Option<String>,
}

/// How many features of each type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TypeCount {
    /// The type.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: FeatureType,
    /// Features.
    pub count: usize,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogitStatsReport {
    /// The model.
    pub model_id: String,
    /// The SAE.
    pub sae_id: String,
    /// Which `W_U`: `"folded+centred"` (TransformerLens's default) or `"raw"`.
    pub unembed: String,
    /// Vocabulary size (the distribution's length).
    pub vocab: usize,
    /// The median standard deviation over all the SAE's features (`std_ratio`'s reference).
    pub median_std: f64,
    /// The thresholds used.
    pub thresholds: TypeThresholds,
    /// Features per type, over the features reported.
    pub types: Vec<TypeCount>,
    /// Per feature, in the order asked (default: by id).
    pub features: Vec<FeatureLogitStats>,
}

/// The logit-weight statistics of the requested features.
pub fn logit_stats(session: &Session, req: &LogitStatsRequest) -> Result<LogitStatsReport> {
    session.need_logits("logit-stats")?;
    let i = session.one(req.sae_id.as_deref())?;
    let s = &session.saes[i];
    let d_sae = s.sae.d_sae();
    let features: Vec<u32> = match &req.features {
        Some(f) if f.is_empty() => return Err(Error::field("features", "give at least one feature, or leave it out for all")),
        Some(f) => f.clone(),
        None => (0..d_sae as u32).collect(),
    };
    if req.k > 1000 {
        return Err(Error::field("k", format!("{} tokens per end is too many (at most 1000)", req.k)));
    }
    let thresholds = req.thresholds.unwrap_or_default();
    check_width(session, i)?;
    let stds = all_stds(session, i, req.raw_unembed)?;
    let median_std = median(&stds);
    let piece = |t: u32| session.model.tokenizer.id_to_piece(t).unwrap_or_default();
    let tv = |&(t, v): &(u32, f32)| TokenValue { token_id: t, token: piece(t), value: v };
    let mut out = Vec::with_capacity(features.len());
    logit_lens(session, i, &features, LensOptions { raw: req.raw_unembed, k: req.k }, &mut |f| {
        let m = f.moments;
        let std_ratio = if median_std > 0.0 { m.std / median_std } else { 0.0 };
        out.push(FeatureLogitStats {
            feature_id: f.feature_id,
            mean: m.mean,
            std: m.std,
            skewness: m.skewness,
            kurtosis: m.kurtosis,
            std_ratio,
            kind: classify(&m, std_ratio, &thresholds),
            boosted: f.boosted.iter().map(tv).collect(),
            suppressed: f.suppressed.iter().map(tv).collect(),
            label: s.label(f.feature_id),
        });
        Ok(())
    })?;
    let types = FeatureType::ALL.iter().map(|&kind| TypeCount { kind, count: out.iter().filter(|f| f.kind == kind).count() }).collect();
    let vocab = session.model.unembedding()?.w_u.dim(0)?;
    Ok(LogitStatsReport {
        model_id: session.model_id.clone(),
        sae_id: s.id.clone(),
        unembed: if req.raw_unembed { "raw" } else { "folded+centred" }.into(),
        vocab,
        median_std,
        thresholds,
        types,
        features: out,
    })
}

/// Every feature's logit-weight standard deviation, from the unembedding's covariance.
fn all_stds(session: &Session, sae: usize, raw: bool) -> Result<Vec<f64>> {
    let u = session.model.unembedding()?;
    let w_u = u.w_u.to_dtype(DType::F32)?; // [vocab, d_model]
    let vocab = w_u.dim(0)? as f64;
    let mean = w_u.mean(0)?; // [d_model]
                             // Σ = UᵀU / V − m mᵀ, accumulated in f32 by the matmul; d_model is small.
    let gram = saex_kernels::matmul(&w_u.t()?, &w_u)?.affine(1.0 / vocab, 0.0)?;
    let cov = gram.broadcast_sub(&mean.unsqueeze(1)?.broadcast_mul(&mean.unsqueeze(0)?)?)?;
    let a = lens_rows(&session.saes[sae].sae.w_dec().to_dtype(DType::F32)?, &u, raw)?; // [d_sae, d_model]
    let var = saex_kernels::matmul(&a, &cov)?.mul(&a)?.sum(D::Minus1)?; // [d_sae]
    Ok(var.to_vec1::<f32>()?.into_iter().map(|v| f64::from(v.max(0.0)).sqrt()).collect())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}
