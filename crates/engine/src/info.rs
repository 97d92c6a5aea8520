//! `sae-info`: what an SAE is, in one serialisable value.

use candle_core::{DType, D};
use saex_sae::Sae;
use serde::Serialize;

use crate::error::Result;

/// Summary of an SAE.
#[derive(Debug, Clone, Serialize)]
pub struct SaeInfo {
    /// Directory or release it was loaded from.
    pub source: String,
    /// On-disk format.
    pub format: String,
    /// SAELens architecture.
    pub architecture: String,
    /// Input width.
    pub d_in: usize,
    /// Number of features.
    pub d_sae: usize,
    /// TopK's k.
    pub k: Option<usize>,
    /// The hook it reads.
    pub hook: Option<String>,
    /// The model it was trained on.
    pub model_name: Option<String>,
    /// Stored dtype (computation is f32).
    pub dtype: String,
    /// `normalize_activations`.
    pub normalize_activations: String,
    /// `apply_b_dec_to_input`.
    pub apply_b_dec_to_input: bool,
    /// Neuronpedia id, when known.
    pub neuronpedia_id: Option<String>,
    /// Decoder row norms: min, mean, max.
    pub decoder_norm: [f32; 3],
    /// From `sparsity.safetensors`, when present.
    pub sparsity: Option<SparsitySummary>,
}

/// Feature firing frequencies from the SAE's own statistics.
#[derive(Debug, Clone, Serialize)]
pub struct SparsitySummary {
    /// Features whose log10 frequency is ≤ −10 (never seen firing).
    pub dead: usize,
    /// Features firing on more than 10% of tokens.
    pub dense: usize,
    /// Median log10 firing frequency.
    pub median_log10_frequency: f32,
}

/// Describe `sae`.
pub fn sae_info(sae: &Sae) -> Result<SaeInfo> {
    let cfg = sae.config();
    let norms = sae.w_dec().to_dtype(DType::F32)?.sqr()?.sum(D::Minus1)?.sqrt()?;
    let mean = norms.mean_all()?.to_scalar::<f32>()?;
    let norms = norms.to_vec1::<f32>()?;
    let min = norms.iter().copied().fold(f32::INFINITY, f32::min);
    let max = norms.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sparsity = match sae.log_sparsity() {
        Some(t) => {
            let mut v = t.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            let dead = v.iter().filter(|&&x| x <= -10.0).count();
            let dense = v.iter().filter(|&&x| x > -1.0).count();
            v.sort_by(f32::total_cmp);
            Some(SparsitySummary { dead, dense, median_log10_frequency: v.get(v.len() / 2).copied().unwrap_or(f32::NAN) })
        }
        None => None,
    };
    Ok(SaeInfo {
        source: sae.source().display().to_string(),
        format: format!("{:?}", sae.format()),
        architecture: cfg.architecture.as_str().to_string(),
        d_in: cfg.d_in,
        d_sae: cfg.d_sae,
        k: cfg.k,
        hook: sae.hook().map(|h| h.to_string()),
        model_name: sae.model_name().map(str::to_string),
        dtype: cfg.dtype.clone(),
        normalize_activations: cfg.normalize_activations.as_str().to_string(),
        apply_b_dec_to_input: cfg.apply_b_dec_to_input,
        neuronpedia_id: cfg.metadata.neuronpedia_id.clone(),
        decoder_norm: [min, mean, max],
        sparsity,
    })
}
