//! The discovery request: seed 002's body, field for field, with its defaults. The same
//! struct is filled by the CLI flags, by a `--prompts-file` line and by the HTTP body, so the
//! three cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How features are ranked (seed 002 "Scoring Details").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ScoreMode {
    /// Mean activation over the kept tokens (zeros included).
    Mean,
    /// Largest activation over the kept tokens.
    Max,
    /// mean × coverage: consistently active features over single spikes.
    MeanCoverage,
    /// Mean in the span minus mean in the background.
    Selectivity,
}

impl std::str::FromStr for ScoreMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<ScoreMode> {
        Ok(match s {
            "mean" => ScoreMode::Mean,
            "max" => ScoreMode::Max,
            // The seed writes U+00D7; shells and JSON users type `*` or `x`.
            "mean×coverage" | "mean*coverage" | "mean_x_coverage" | "mean_coverage" => ScoreMode::MeanCoverage,
            "selectivity" => ScoreMode::Selectivity,
            other => {
                return Err(Error::field(
                    "score_mode",
                    format!("unknown score mode {other:?}; expected mean, max, mean×coverage (or mean*coverage) or selectivity"),
                ))
            }
        })
    }
}

impl std::fmt::Display for ScoreMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScoreMode::Mean => "mean",
            ScoreMode::Max => "max",
            ScoreMode::MeanCoverage => "mean×coverage",
            ScoreMode::Selectivity => "selectivity",
        })
    }
}

impl TryFrom<String> for ScoreMode {
    type Error = Error;
    fn try_from(s: String) -> Result<ScoreMode> {
        s.parse()
    }
}

impl From<ScoreMode> for String {
    fn from(m: ScoreMode) -> String {
        m.to_string()
    }
}

/// The per-sequence token pre-filter's proxy for "informative".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenFilter {
    /// Entropy of the model's next-token distribution at the token (needs the logits).
    Entropy,
    /// L2 norm of the SAE's input at the token.
    Norm,
}

impl std::str::FromStr for TokenFilter {
    type Err = Error;
    fn from_str(s: &str) -> Result<TokenFilter> {
        match s {
            "entropy" => Ok(TokenFilter::Entropy),
            "norm" => Ok(TokenFilter::Norm),
            other => Err(Error::field("token_filter", format!("unknown token filter {other:?}; expected entropy or norm"))),
        }
    }
}

/// The coverage threshold τ: a token counts as "active" for feature f when act > τ_f.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TauRepr", into = "TauRepr")]
pub enum Tau {
    /// Each feature's P95 over its nonzero activations on the SAE's reference corpus
    /// (`feature_stats.safetensors`, written by `saex sae-stats`).
    P95,
    /// One threshold for every feature.
    Value(f32),
}

/// JSON form of [`Tau`]: `"p95"` or a number.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TauRepr {
    Name(String),
    Value(f32),
}

impl TryFrom<TauRepr> for Tau {
    type Error = Error;
    fn try_from(r: TauRepr) -> Result<Tau> {
        match r {
            TauRepr::Name(s) => s.parse(),
            TauRepr::Value(v) => Tau::value(v),
        }
    }
}

impl From<Tau> for TauRepr {
    fn from(t: Tau) -> TauRepr {
        match t {
            Tau::P95 => TauRepr::Name("p95".into()),
            Tau::Value(v) => TauRepr::Value(v),
        }
    }
}

impl Tau {
    fn value(v: f32) -> Result<Tau> {
        if v.is_finite() && v >= 0.0 {
            Ok(Tau::Value(v))
        } else {
            Err(Error::field("tau", format!("tau must be a finite number >= 0, got {v}")))
        }
    }
}

impl std::str::FromStr for Tau {
    type Err = Error;
    fn from_str(s: &str) -> Result<Tau> {
        match s.to_ascii_lowercase().as_str() {
            "p95" => Ok(Tau::P95),
            other => other
                .parse::<f32>()
                .map_err(|_| Error::field("tau", format!("tau must be p95 or a number, got {s:?}")))
                .and_then(Tau::value),
        }
    }
}

fn tau_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["p95"])))
            .item(ObjectBuilder::new().schema_type(Type::Number).minimum(Some(0.0)))
            .description(Some("`p95` (each feature's reference P95) or one threshold for every feature"))
            .build(),
    )
}

/// A request, as seed 002's "API" section writes it. Unknown fields are refused (a typo
/// like `score_mdoe` would otherwise silently run with the default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoverRequest {
    /// Caller's id for this request, echoed in the response (useful in batch files).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub id: Option<serde_json::Value>,
    /// The model; may be omitted (the loaded one). Must name the loaded model when given.
    pub model_id: Option<String>,
    /// The SAE (or SAELens release); may be omitted to use every loaded SAE.
    pub sae_id: Option<String>,
    /// Raw text to analyse as is.
    pub text: Option<String>,
    /// Prompt to feed the model (and to generate from, when `generate`).
    pub prompt: Option<String>,
    /// Generate a continuation of `prompt` and analyse prompt + generation. Default: true
    /// with `prompt`; `text` is never generated from.
    pub generate: Option<bool>,
    /// Most tokens to generate.
    pub gen_tokens: usize,
    /// Sampling temperature (0: greedy).
    pub temperature: f64,
    /// Nucleus sampling mass.
    pub top_p: f64,
    /// RNG seed: the same seed gives the same generation.
    pub seed: u64,
    /// Layers to analyse (SAEs at these layers); empty: all loaded.
    pub layers: Vec<usize>,
    /// Streams to analyse (`resid_pre`, `mlp_out`, ...); empty: all loaded.
    pub streams: Vec<String>,
    /// Only score these feature ids.
    pub restrict_features: Vec<u32>,
    /// Keep the K most informative tokens per sequence (0: keep all).
    pub topk_tokens_per_seq: usize,
    /// The informativeness proxy.
    pub token_filter: TokenFilter,
    /// Features to return (per SAE when not merging).
    pub return_top_x: usize,
    /// Ranking: mean, max, mean×coverage (or mean*coverage), selectivity.
    #[schema(value_type = String, example = "mean×coverage")]
    pub score_mode: ScoreMode,
    /// Minimum coverage, in percent of the kept tokens.
    pub min_coverage_pct: f64,
    /// Coverage threshold: `p95` or a number.
    #[schema(schema_with = tau_schema)]
    pub tau: Tau,
    /// Skip features firing on more than this share of reference-corpus tokens (SAELens's
    /// "dense feature" cut is 0.1). Dense features fire on nearly any text and crowd out the
    /// concept features a discovery is after; 1 keeps them. Features named in
    /// `restrict_features` are never skipped; SAEs without reference statistics skip none.
    pub max_density: f64,
    /// One ranking across SAEs (scores divided by each feature's reference P95).
    pub merge_across_layers: bool,
    /// Attach each feature's top activating spans of the analysed text.
    pub attach_examples: bool,
    /// Attach proto-labels from the loaded label catalogs.
    pub attach_proto_labels: bool,
    /// Character ranges `[start, end)` of the analysed text to treat as the "domain" span
    /// for selectivity (default: the generation, else the whole text).
    pub spans: Vec<[usize; 2]>,
}

impl Default for DiscoverRequest {
    fn default() -> Self {
        DiscoverRequest {
            id: None,
            model_id: None,
            sae_id: None,
            text: None,
            prompt: None,
            generate: None,
            gen_tokens: 128,
            temperature: 0.7,
            top_p: 0.9,
            seed: 42,
            layers: Vec::new(),
            streams: Vec::new(),
            restrict_features: Vec::new(),
            topk_tokens_per_seq: 64,
            token_filter: TokenFilter::Entropy,
            return_top_x: 25,
            score_mode: ScoreMode::MeanCoverage,
            min_coverage_pct: 0.5,
            tau: Tau::P95,
            max_density: 0.1,
            merge_across_layers: true,
            attach_examples: true,
            attach_proto_labels: true,
            spans: Vec::new(),
        }
    }
}

/// Largest generation a request may ask for.
pub const MAX_GEN_TOKENS: usize = 4096;

/// What is analysed, after validation.
#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// Text as is.
    Text(&'a str),
    /// A prompt, not generated from.
    Prompt(&'a str),
    /// A prompt and up to `gen_tokens` generated tokens.
    Generate(&'a str),
}

impl DiscoverRequest {
    /// Check every field that can be checked without the model; the error names the field.
    pub fn input(&self) -> Result<Input<'_>> {
        let input = match (&self.prompt, &self.text) {
            (Some(_), Some(_)) => {
                return Err(Error::field("text", "give `prompt` (to run, and generate from) or `text` (to analyse as is), not both"))
            }
            (None, None) => return Err(Error::field("prompt", "give `prompt` or `text`")),
            (None, Some(t)) => {
                if self.generate == Some(true) {
                    return Err(Error::field("generate", "`text` is analysed as is; to generate, send it as `prompt`"));
                }
                Input::Text(t)
            }
            (Some(p), None) if self.generate.unwrap_or(true) => Input::Generate(p),
            (Some(p), None) => Input::Prompt(p),
        };
        let s = match &input {
            Input::Text(s) | Input::Prompt(s) | Input::Generate(s) => *s,
        };
        if s.is_empty() {
            return Err(Error::field(if self.text.is_some() { "text" } else { "prompt" }, "is empty"));
        }
        if matches!(input, Input::Generate(_)) {
            if self.gen_tokens == 0 {
                return Err(Error::field(
                    "gen_tokens",
                    "must be at least 1 when generating (to analyse the prompt alone, set generate to false)",
                ));
            }
            if self.gen_tokens > MAX_GEN_TOKENS {
                return Err(Error::field("gen_tokens", format!("at most {MAX_GEN_TOKENS}, got {}", self.gen_tokens)));
            }
            if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
                return Err(Error::field("temperature", format!("must be >= 0, got {}", self.temperature)));
            }
            if !(self.top_p > 0.0 && self.top_p <= 1.0) {
                return Err(Error::field("top_p", format!("must be in (0, 1], got {}", self.top_p)));
            }
        }
        if self.return_top_x == 0 {
            return Err(Error::field("return_top_x", "must be at least 1"));
        }
        if !(0.0..=100.0).contains(&self.min_coverage_pct) {
            return Err(Error::field("min_coverage_pct", format!("is a percentage in [0, 100], got {}", self.min_coverage_pct)));
        }
        if !(0.0..=1.0).contains(&self.max_density) {
            return Err(Error::field("max_density", format!("is a share of tokens in [0, 1], got {}", self.max_density)));
        }
        for s in &self.streams {
            if !saex_hooks::Hook::STREAMS.contains(&s.as_str()) {
                return Err(Error::field(
                    "streams",
                    format!("unknown stream {s:?}; expected one of {}", saex_hooks::Hook::STREAMS.join(", ")),
                ));
            }
        }
        for &[a, b] in &self.spans {
            if a >= b {
                return Err(Error::field("spans", format!("span [{a}, {b}] is empty or reversed (start must be < end)")));
            }
        }
        Ok(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_body_parses_with_its_defaults() {
        let body = r#"{ "model_id": "m", "sae_id": "s", "prompt": "Summarize Q2 earnings.", "generate": true,
            "gen_tokens": 128, "layers": [22, 28], "streams": ["resid_pre"], "restrict_features": [159, 258],
            "topk_tokens_per_seq": 64, "return_top_x": 25, "score_mode": "mean×coverage",
            "min_coverage_pct": 0.5, "merge_across_layers": true, "attach_examples": true,
            "attach_proto_labels": true, "seed": 42 }"#;
        let r: DiscoverRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.score_mode, ScoreMode::MeanCoverage);
        assert_eq!(r.layers, [22, 28]);
        assert_eq!(r.tau, Tau::P95);
        assert_eq!(r.input().unwrap(), Input::Generate("Summarize Q2 earnings."));
    }

    #[test]
    fn ascii_mean_times_coverage_is_accepted() {
        let r: DiscoverRequest = serde_json::from_str(r#"{"text": "x", "score_mode": "mean*coverage"}"#).unwrap();
        assert_eq!(r.score_mode, ScoreMode::MeanCoverage);
        assert_eq!(serde_json::to_value(r.score_mode).unwrap(), "mean×coverage");
    }

    #[test]
    fn tau_is_p95_or_a_number() {
        let r: DiscoverRequest = serde_json::from_str(r#"{"text": "x", "tau": 1.5}"#).unwrap();
        assert_eq!(r.tau, Tau::Value(1.5));
        assert_eq!("P95".parse::<Tau>().unwrap(), Tau::P95);
        assert!(serde_json::from_str::<DiscoverRequest>(r#"{"text": "x", "tau": -1}"#).is_err());
        assert!("p50".parse::<Tau>().is_err());
    }

    #[test]
    fn unknown_fields_and_bad_values_name_the_field() {
        let e = serde_json::from_str::<DiscoverRequest>(r#"{"text": "x", "score_mdoe": "max"}"#).unwrap_err();
        assert!(e.to_string().contains("score_mdoe"), "{e}");
        let e = serde_json::from_str::<DiscoverRequest>(r#"{"text": "x", "score_mode": "median"}"#).unwrap_err();
        assert!(e.to_string().contains("median"), "{e}");
        let both = DiscoverRequest { text: Some("a".into()), prompt: Some("b".into()), ..Default::default() };
        assert_eq!(both.input().unwrap_err().field_name(), Some("text"));
        let gen_text = DiscoverRequest { text: Some("a".into()), generate: Some(true), ..Default::default() };
        assert_eq!(gen_text.input().unwrap_err().field_name(), Some("generate"));
        let pct = DiscoverRequest { text: Some("a".into()), min_coverage_pct: 150.0, ..Default::default() };
        assert_eq!(pct.input().unwrap_err().field_name(), Some("min_coverage_pct"));
        let span = DiscoverRequest { text: Some("abc".into()), spans: vec![[2, 1]], ..Default::default() };
        assert_eq!(span.input().unwrap_err().field_name(), Some("spans"));
        let zero = DiscoverRequest { prompt: Some("abc".into()), gen_tokens: 0, ..Default::default() };
        assert_eq!(zero.input().unwrap_err().field_name(), Some("gen_tokens"));
        let stream = DiscoverRequest { text: Some("abc".into()), streams: vec!["resid".into()], ..Default::default() };
        assert_eq!(stream.input().unwrap_err().field_name(), Some("streams"));
    }

    #[test]
    fn prompt_generates_unless_told_not_to() {
        let p = DiscoverRequest { prompt: Some("a".into()), ..Default::default() };
        assert_eq!(p.input().unwrap(), Input::Generate("a"));
        let p = DiscoverRequest { prompt: Some("a".into()), generate: Some(false), ..Default::default() };
        assert_eq!(p.input().unwrap(), Input::Prompt("a"));
    }
}
