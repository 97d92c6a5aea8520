//! `sae-info`: what an SAE is, in one serialisable value, including what it ships beside its
//! weights (reference statistics, labels).

use candle_core::{DType, D};
use saex_sae::Sae;
use serde::Serialize;

use crate::error::Result;
use crate::session::LABELS_FILE;
use crate::stats::{FeatureStats, DENSE_RATE, STATS_FILE};

/// Summary of an SAE.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    /// Dead and dense features, from the best source the SAE ships.
    pub density: Option<Density>,
    /// Whether `feature_stats.safetensors` (reference statistics) is present.
    pub reference_stats: bool,
    /// Labels in the SAE's own `labels.jsonl` (0 when absent).
    pub labels: usize,
}

/// Dead and dense features. One definition everywhere (sae-info, discover's and
/// top-features' density gate): dead = never fired on the source's tokens; dense = fires on
/// more than 10% of them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Density {
    /// `feature_stats` (reference corpus, `saex sae-stats`) or `sparsity` (the SAE's own
    /// `sparsity.safetensors`, over its training tokens).
    pub source: String,
    /// Tokens the source counted, when it says.
    pub n_tokens: Option<usize>,
    /// Features that never fired.
    pub dead: usize,
    /// Features firing on more than 10% of tokens.
    pub dense: usize,
    /// Median log10 firing rate over features that fired.
    pub median_log10_rate: f32,
}

fn median_log10(rates: impl Iterator<Item = f32>) -> f32 {
    let mut v: Vec<f32> = rates.filter(|&r| r > 0.0).map(f32::log10).collect();
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f32::NAN)
}

/// Describe `sae`.
pub fn sae_info(sae: &Sae) -> Result<SaeInfo> {
    let cfg = sae.config();
    let norms = sae.w_dec().to_dtype(DType::F32)?.sqr()?.sum(D::Minus1)?.sqrt()?;
    let mean = norms.mean_all()?.to_scalar::<f32>()?;
    let norms = norms.to_vec1::<f32>()?;
    let min = norms.iter().copied().fold(f32::INFINITY, f32::min);
    let max = norms.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let stats_path = sae.source().join(STATS_FILE);
    let stats = if stats_path.is_file() { Some(FeatureStats::load(&stats_path, sae.d_sae())?) } else { None };
    let density = match (&stats, sae.log_sparsity()) {
        (Some(s), _) => Some(Density {
            source: "feature_stats".into(),
            n_tokens: Some(s.n_tokens),
            dead: s.dead(),
            dense: s.dense(),
            median_log10_rate: median_log10(s.firing_rate.iter().copied()),
        }),
        (None, Some(t)) => {
            let rates: Vec<f32> = t
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?
                .iter()
                .map(|&l| if l <= -10.0 { 0.0 } else { 10f32.powf(l) })
                .collect();
            Some(Density {
                source: "sparsity".into(),
                n_tokens: None,
                dead: rates.iter().filter(|&&r| r == 0.0).count(),
                dense: rates.iter().filter(|&&r| r > DENSE_RATE).count(),
                median_log10_rate: median_log10(rates.iter().copied()),
            })
        }
        (None, None) => None,
    };
    let labels_path = sae.source().join(LABELS_FILE);
    let labels = if labels_path.is_file() { crate::labels::read(&labels_path)?.len() } else { 0 };
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
        density,
        reference_stats: stats.is_some(),
        labels,
    })
}
