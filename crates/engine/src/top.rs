//! `top-features`: the features that matter most for a text (mlxterp's
//! `get_top_features_for_text`; `last` is the last-token view of the SAE notebooks), with
//! discover's density gate and labels.

use saex_analysis::top::{rank, Reduce};
use serde::{Deserialize, Serialize};

use crate::encode::{Encoding, RunOptions};
use crate::error::{Error, Result};
use crate::session::Session;

/// A `top-features` request (CLI flags, `POST /v1/sae/features/top`, Python keywords).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopRequest {
    /// The model; may be omitted (the loaded one).
    #[serde(default)]
    pub model_id: Option<String>,
    /// The SAE; may be omitted when one is loaded.
    #[serde(default)]
    pub sae_id: Option<String>,
    /// The text.
    pub text: String,
    /// How many features.
    #[serde(default = "ten")]
    pub k: usize,
    /// How a feature's activations over the tokens become one number.
    #[serde(default = "max")]
    pub reduce: Reduce,
    /// Prepend bos as the model does (default true).
    #[serde(default = "yes")]
    pub bos: bool,
    /// Skip features firing on more than this share of reference tokens (as discover; 1
    /// keeps all). SAEs without statistics skip none.
    #[serde(default = "dense")]
    pub max_density: f64,
}

fn ten() -> usize {
    10
}
fn max() -> Reduce {
    Reduce::Max
}
fn yes() -> bool {
    true
}
fn dense() -> f64 {
    f64::from(crate::stats::DENSE_RATE)
}

impl TopRequest {
    /// A request for `text` with every default.
    pub fn new(text: impl Into<String>) -> TopRequest {
        TopRequest { model_id: None, sae_id: None, text: text.into(), k: ten(), reduce: max(), bos: yes(), max_density: dense() }
    }
}

/// One ranked feature.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TopFeature {
    /// Feature id.
    pub feature_id: u32,
    /// The reduced activation the ranking is by.
    pub value: f32,
    /// Token position where the feature peaks.
    pub peak_position: usize,
    /// That token's text piece.
    pub peak_token: String,
    /// The activation there.
    pub peak_value: f32,
    /// Its label, when a catalog has one.
    pub label: Option<String>,
    /// Share of reference tokens it fires on, when known.
    pub density: Option<f32>,
}

/// One text's top features, as `top-features --json` prints them and `/v1/sae/features/top`
/// returns them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TopReport {
    /// The model, as it was named.
    pub model_id: String,
    /// The SAE, as it was named.
    pub sae_id: String,
    /// The hook it reads.
    pub hook: String,
    /// The reduction ranked by.
    pub reduce: Reduce,
    /// The text.
    pub text: String,
    /// Its tokens (bos included).
    pub n_tokens: usize,
    /// Features skipped as dense (firing on more than `max_density` of reference tokens).
    pub skipped_dense: usize,
    /// The features, best first.
    pub features: Vec<TopFeature>,
}

/// The `k` features with the largest reduced activation, largest first (ties: lower id
/// first). The bos token is left out: its residual norm is an order of magnitude above the
/// others' (Gemma 3: 42,900 vs ~3,000) and would dominate every ranking.
pub fn top(session: &Session, req: &TopRequest) -> Result<TopReport> {
    Ok(top_with_encoding(session, req)?.0)
}

/// [`top`], also returning the text's encoding (tokens, offsets, codes), e.g. to shade the
/// text by a feature in a report without running the model again.
pub fn top_with_encoding(session: &Session, req: &TopRequest) -> Result<(TopReport, Encoding)> {
    session.check_model(req.model_id.as_deref())?;
    if req.text.is_empty() {
        return Err(Error::field("text", "is empty"));
    }
    if req.k == 0 {
        return Err(Error::field("k", "must be at least 1"));
    }
    if !(0.0..=1.0).contains(&req.max_density) {
        return Err(Error::field("max_density", format!("is a share of tokens in [0, 1], got {}", req.max_density)));
    }
    let i = session.one(req.sae_id.as_deref())?;
    let s = &session.saes[i];
    let enc = session.encode_text(&[i], &req.text, session.model.add_bos() && req.bos, RunOptions::default())?;
    let acts = &enc.saes[0].acts;
    let first = usize::from(enc.has_bos && acts.n_tokens() > 1);
    let dense = std::cell::Cell::new(0usize);
    let keep = |f: u32| {
        let ok = s.passes_density(f, req.max_density);
        dense.set(dense.get() + usize::from(!ok));
        ok
    };
    let features = rank(acts, first, req.k, req.reduce, &keep)
        .into_iter()
        .map(|r| TopFeature {
            feature_id: r.feature,
            value: r.value,
            peak_position: r.peak_position,
            peak_token: session.model.tokenizer.id_to_piece(enc.tokens[r.peak_position]).unwrap_or_default(),
            peak_value: r.peak_value,
            label: s.label(r.feature),
            density: s.firing_rate(r.feature),
        })
        .collect();
    let report = TopReport {
        model_id: session.model_id.clone(),
        sae_id: s.id.clone(),
        hook: s.hook.to_string(),
        reduce: req.reduce,
        text: req.text.clone(),
        n_tokens: enc.tokens.len(),
        skipped_dense: dense.get(),
        features,
    };
    Ok((report, enc))
}
