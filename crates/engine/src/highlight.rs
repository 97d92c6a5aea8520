//! `highlight`: a text's tokens with chosen features' activations (seed 003's
//! `visualize_feature_activations`).

use serde::{Deserialize, Serialize};

use crate::encode::RunOptions;
use crate::error::{Error, Result};
use crate::session::Session;

/// A `highlight` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HighlightRequest {
    /// The SAE; may be omitted when one is loaded.
    #[serde(default)]
    pub sae_id: Option<String>,
    /// The text.
    pub text: String,
    /// The features to show.
    pub features: Vec<u32>,
}

/// One feature over the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HighlightedFeature {
    /// Feature id.
    pub feature_id: u32,
    /// Its label.
    pub label: Option<String>,
    /// Its activation at each token (bos left out).
    pub acts: Vec<f32>,
}

/// The text's tokens and each feature's activations over them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Highlighted {
    /// The SAE.
    pub sae_id: String,
    /// The text.
    pub text: String,
    /// Its tokens' text (bos left out).
    pub tokens: Vec<String>,
    /// The features, in the order asked.
    pub features: Vec<HighlightedFeature>,
}

/// Encode the text and read out the chosen features.
pub fn highlight(session: &Session, req: &HighlightRequest) -> Result<Highlighted> {
    if req.features.is_empty() {
        return Err(Error::field("features", "give at least one feature"));
    }
    let i = session.one(req.sae_id.as_deref())?;
    let s = &session.saes[i];
    if let Some(&f) = req.features.iter().find(|&&f| f as usize >= s.sae.d_sae()) {
        return Err(Error::field("features", format!("feature {f} is out of range (d_sae {})", s.sae.d_sae())));
    }
    let enc = session.encode_text(&[i], &req.text, session.model.add_bos(), RunOptions::default())?;
    let first = enc.first_real();
    let acts = &enc.saes[0].acts;
    Ok(Highlighted {
        sae_id: s.id.clone(),
        text: req.text.clone(),
        tokens: enc.offsets[first..].iter().map(|&(a, b)| req.text.get(a..b).unwrap_or("").to_string()).collect(),
        features: req
            .features
            .iter()
            .map(|&f| HighlightedFeature { feature_id: f, label: s.label(f), acts: acts.column(f)[first..].to_vec() })
            .collect(),
    })
}
