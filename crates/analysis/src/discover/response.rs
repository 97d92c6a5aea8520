//! The discovery response: seed 002's "Response" and "Output Schema", plus `neuronpedia_url`
//! and two fields under `analyzed` (`text`, `kept_tokens`) that the spans' positions need.

use serde::{Deserialize, Serialize};

/// One request's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DiscoverResponse {
    /// The request's `id`, when it had one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<Object>)]
    pub id: Option<serde_json::Value>,
    /// The model.
    pub model_id: String,
    /// The SAE asked for; when several SAEs were analysed, their ids joined by `,`.
    pub sae_id: String,
    /// What was analysed.
    pub analyzed: Analyzed,
    /// Ranked features, best first.
    pub features: Vec<FeatureResult>,
    /// How the request was served where it could not be as asked (e.g. an SAE without
    /// reference statistics: what τ then means).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub notes: Vec<String>,
}

/// What was analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Analyzed {
    /// `text`, `prompt` or `prompt+gen`.
    pub mode: String,
    /// Tokens in the sequence (bos not counted).
    pub tokens: usize,
    /// Layers of the SAEs analysed.
    pub layers: Vec<usize>,
    /// Tokens kept by the pre-filter and scored.
    pub kept_tokens: usize,
    /// Where the prompt ends in `text`, in code points: the continuation the model
    /// generated starts here (= the text's length when nothing was generated).
    pub prompt_end: usize,
    /// The analysed text (prompt + generation): `top_spans` positions index into it, in
    /// Unicode code points (Python `str` indexing).
    pub text: String,
}

/// One ranked feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureResult {
    /// Feature id in its SAE.
    pub feature_id: u32,
    /// The SAE it belongs to (as loaded).
    pub sae_id: String,
    /// Layer of its SAE's hook (null for hooks outside blocks).
    pub layer: Option<usize>,
    /// Stream of its SAE's hook (`resid_pre`, `mlp_out`, ...).
    pub stream: String,
    /// The ranking score (see `score_mode`; divided by the feature's reference P95 when
    /// merging SAEs).
    pub score: f32,
    /// Every score, raw.
    pub scores: Scores,
    /// Proto-label from a label catalog, if any.
    pub proto_label: Option<String>,
    /// Top activating spans of the analysed text (empty unless `attach_examples`).
    pub top_spans: Vec<TopSpan>,
    /// The feature's Neuronpedia page, when the SAE has a Neuronpedia id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub neuronpedia_url: Option<String>,
}

/// A feature's score breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scores {
    /// Mean activation over the kept tokens (zeros included).
    pub mean: f32,
    /// Share of kept tokens with act > τ, in [0, 1].
    pub coverage: f32,
    /// Largest activation over the kept tokens.
    pub max: f32,
    /// Mean in the span minus mean in the background; null when there is no background
    /// (whole text analysed and no reference statistics shipped with the SAE).
    pub selectivity: Option<f32>,
}

/// A window of tokens around one of the feature's peaks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopSpan {
    /// The window's text.
    pub text: String,
    /// `[start, end)` in code points of `analyzed.text`.
    pub position: [usize; 2],
    /// The peak activation in the window.
    pub act: f32,
}

/// A batch line that could not be served: it stands in that line's place in the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineError {
    /// 1-based line number in the prompts file.
    pub line: usize,
    /// The line's `id`, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<serde_json::Value>,
    /// The request field at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// What went wrong.
    pub error: String,
}

/// CSV header, exactly seed 002's column list.
pub const CSV_COLUMNS: [&str; 10] =
    ["feature_id", "layer", "stream", "score", "mean", "coverage", "max", "selectivity", "proto_label", "top_span_text"];

impl FeatureResult {
    /// The feature's CSV row, in [`CSV_COLUMNS`] order (empty cells for nulls).
    pub fn csv_row(&self) -> [String; 10] {
        let opt = |v: Option<f32>| v.map(|v| v.to_string()).unwrap_or_default();
        [
            self.feature_id.to_string(),
            self.layer.map(|l| l.to_string()).unwrap_or_default(),
            self.stream.clone(),
            self.score.to_string(),
            self.scores.mean.to_string(),
            self.scores.coverage.to_string(),
            self.scores.max.to_string(),
            opt(self.scores.selectivity),
            self.proto_label.clone().unwrap_or_default(),
            self.top_spans.first().map(|s| s.text.clone()).unwrap_or_default(),
        ]
    }
}
