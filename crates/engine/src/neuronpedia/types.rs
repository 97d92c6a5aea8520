//! The JSON of Neuronpedia's inference API, as the published Python client 1.10.x sends and
//! parses it: snake_case keys (except `activeFeatures` and `hookName`), with the camelCase
//! spelling of Neuronpedia's newer server accepted on input (`#[serde(alias)]`). Unknown
//! input keys are ignored, as the client ignores unknown output keys.

use serde::{Deserialize, Serialize};

use crate::chat::ChatMessage;

fn yes() -> bool {
    true
}

/// A feature index sent as a number or, as the client's `/activation/single` sends it, a
/// string of digits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum FeatureIndex {
    /// `14057`.
    Int(i64),
    /// `"14057"`.
    Str(String),
}

// ------------------------------------------------------------------ activation/all

/// `POST /v1/activation/all`: the top features of a source set over a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationAllRequest {
    /// The text.
    pub prompt: String,
    /// The model id (`GET /v1/models`).
    pub model: String,
    /// The source set, e.g. `saex-res-4k` (a source id without its `{layer}-`).
    #[serde(alias = "sourceSet")]
    pub source_set: String,
    /// Sources of the set to search (`[]`: all of them).
    #[serde(alias = "selectedSources", default)]
    pub selected_sources: Vec<String>,
    /// Rank by the sum of the values at these token positions (`[]`: by the maximum).
    #[serde(alias = "sortByTokenIndexes", default)]
    pub sort_by_token_indexes: Vec<i64>,
    /// Zero the bos position before ranking.
    #[serde(alias = "ignoreBos", default)]
    pub ignore_bos: bool,
    /// How many rows (default 25, at most 1000).
    #[serde(alias = "numResults", default)]
    pub num_results: Option<i64>,
}

/// `POST /v1/activation/all-batch`: [`ActivationAllRequest`] for up to 4 prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationAllBatchRequest {
    /// The texts.
    pub prompts: Vec<String>,
    /// The model id.
    pub model: String,
    /// The source set.
    #[serde(alias = "sourceSet")]
    pub source_set: String,
    /// Sources of the set to search (`[]`: all).
    #[serde(alias = "selectedSources", default)]
    pub selected_sources: Vec<String>,
    /// Rank by the sum at these positions (`[]`: by the maximum).
    #[serde(alias = "sortByTokenIndexes", default)]
    pub sort_by_token_indexes: Vec<i64>,
    /// Zero the bos position before ranking.
    #[serde(alias = "ignoreBos", default)]
    pub ignore_bos: bool,
    /// How many rows per prompt (default 25, at most 1000).
    #[serde(alias = "numResults", default)]
    pub num_results: Option<i64>,
}

/// One feature of one source over the prompt's tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpActivation {
    /// The source id.
    pub source: String,
    /// The feature.
    pub index: u32,
    /// Its activation at each token of `tokens`.
    pub values: Vec<f32>,
    /// Sum of `values` at `sort_by_token_indexes` (0 when none were given).
    pub sum_values: Option<f32>,
    /// Largest value.
    pub max_value: f32,
    /// Its token position (the first if tied).
    pub max_value_index: usize,
}

/// The answer of `/v1/activation/all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationAllResponse {
    /// The ranked rows, best first.
    pub activations: Vec<NpActivation>,
    /// The tokens as text, bos first.
    pub tokens: Vec<String>,
}

/// The answer of `/v1/activation/all-batch`: one [`ActivationAllResponse`] per prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationAllBatchResponse {
    /// In prompt order.
    pub results: Vec<ActivationAllResponse>,
}

// ------------------------------------------------------------------ activation/single

/// `POST /v1/activation/single`: one feature (`source` + `index`) or the dot product with a
/// vector at a hook (`vector` + `hook`) over a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationSingleRequest {
    /// The text.
    pub prompt: String,
    /// The model id.
    pub model: String,
    /// The source id (with `index`).
    #[serde(default)]
    pub source: Option<String>,
    /// The feature (a string of digits, as the client sends it, or a number).
    #[serde(default)]
    pub index: Option<FeatureIndex>,
    /// A direction (with `hook`).
    #[serde(default)]
    pub vector: Option<Vec<f32>>,
    /// The TransformerLens hook the vector reads.
    #[serde(default)]
    pub hook: Option<String>,
}

/// `POST /v1/activation/single-batch`: [`ActivationSingleRequest`] for up to 4 prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationSingleBatchRequest {
    /// The texts.
    pub prompts: Vec<String>,
    /// The model id.
    pub model: String,
    /// The source id (with `index`).
    #[serde(default)]
    pub source: Option<String>,
    /// The feature.
    #[serde(default)]
    pub index: Option<FeatureIndex>,
    /// A direction (with `hook`).
    #[serde(default)]
    pub vector: Option<Vec<f32>>,
    /// The hook the vector reads.
    #[serde(default)]
    pub hook: Option<String>,
}

/// One feature's (or vector's) values over the tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SingleActivation {
    /// Per token of `tokens`.
    pub values: Vec<f32>,
    /// Largest value.
    pub max_value: f32,
    /// Its position in `values` (the first if tied).
    pub max_value_index: usize,
}

/// The answer of `/v1/activation/single`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationSingleResponse {
    /// The values.
    pub activation: SingleActivation,
    /// The tokens as text (a feature's: bos left out).
    pub tokens: Vec<String>,
    /// Whether each token is a special token (bos, eos, turn markers).
    pub tokens_is_special: Vec<bool>,
}

/// The answer of `/v1/activation/single-batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationSingleBatchResponse {
    /// In prompt order.
    pub results: Vec<ActivationSingleResponse>,
}

// ------------------------------------------------------------------ topk-by-token

/// `POST /v1/activation/topk-by-token`: the top features of one source at every token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopkByTokenRequest {
    /// The text.
    pub prompt: String,
    /// The model id.
    pub model: String,
    /// The source id.
    pub source: String,
    /// Features per token (default 5).
    #[serde(alias = "topK", default)]
    pub top_k: Option<i64>,
    /// Leave the bos position out.
    #[serde(alias = "ignoreBos", default)]
    pub ignore_bos: bool,
}

/// `POST /v1/activation/topk-by-token-batch`: [`TopkByTokenRequest`] for up to 4 prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopkByTokenBatchRequest {
    /// The texts.
    pub prompts: Vec<String>,
    /// The model id.
    pub model: String,
    /// The source id.
    pub source: String,
    /// Features per token (default 5).
    #[serde(alias = "topK", default)]
    pub top_k: Option<i64>,
    /// Leave the bos position out.
    #[serde(alias = "ignoreBos", default)]
    pub ignore_bos: bool,
}

/// A feature and its activation at one token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopFeatureValue {
    /// The feature.
    pub feature_index: u32,
    /// Its activation there.
    pub activation_value: f32,
}

/// One token's top features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenTopFeatures {
    /// Position in the bos-prefixed sequence (also when bos is left out).
    pub token_position: usize,
    /// The token as text.
    pub token: String,
    /// Whether it is a special token.
    pub is_special: bool,
    /// Largest first.
    pub top_features: Vec<TopFeatureValue>,
}

/// The answer of `/v1/activation/topk-by-token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopkByTokenResponse {
    /// Per token.
    pub results: Vec<TokenTopFeatures>,
    /// The tokens as text.
    pub tokens: Vec<String>,
}

/// The answer of `/v1/activation/topk-by-token-batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopkByTokenBatchResponse {
    /// In prompt order.
    pub results: Vec<TopkByTokenResponse>,
}

// ------------------------------------------------------------------ activation/source

/// `POST /v1/activation/source`: every nonzero activation of one source over up to 4 prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationSourceRequest {
    /// The texts.
    pub prompts: Vec<String>,
    /// The model id.
    pub model: String,
    /// The source id.
    pub source: String,
}

/// Nonzero activations by feature: `{"7": [[token, value], ...]}`, features in order of
/// first firing (token-major), values rounded to 3 decimals, bos left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActiveFeatures(pub Vec<(u32, Vec<(usize, f64)>)>);

impl Serialize for ActiveFeatures {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (f, pairs) in &self.0 {
            let pairs: Vec<(usize, f64)> = pairs.clone();
            m.serialize_entry(&f.to_string(), &pairs)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ActiveFeatures {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m: std::collections::BTreeMap<String, Vec<(usize, f64)>> = Deserialize::deserialize(d)?;
        let mut v: Vec<(u32, Vec<(usize, f64)>)> =
            m.into_iter().map(|(k, p)| k.parse().map(|f| (f, p)).map_err(serde::de::Error::custom)).collect::<Result<_, _>>()?;
        v.sort_by_key(|e| e.0);
        Ok(ActiveFeatures(v))
    }
}

/// One prompt's sparse activations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceResult {
    /// The tokens as text, bos first.
    pub tokens: Vec<String>,
    /// `{"feature": [[token_index, value], ...]}` (camelCase: the client's spelling).
    #[serde(rename = "activeFeatures")]
    #[schema(value_type = std::collections::HashMap<String, Vec<Vec<f64>>>)]
    pub active_features: ActiveFeatures,
}

/// The answer of `/v1/activation/source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationSourceResponse {
    /// In prompt order.
    pub results: Vec<SourceResult>,
}

// ------------------------------------------------------------------ tokenize, util

/// `POST /v1/tokenize` (Neuronpedia's form, told apart from saex's by its `model` key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpTokenizeRequest {
    /// The model id.
    pub model: String,
    /// The text.
    pub text: String,
    /// Prepend bos (default: as the model does).
    #[serde(alias = "prependBos", default)]
    pub prepend_bos: Option<bool>,
}

/// The answer of Neuronpedia's `/v1/tokenize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpTokenizeResponse {
    /// Token ids.
    pub tokens: Vec<u32>,
    /// Each token as text.
    pub token_strings: Vec<String>,
    /// Whether bos was prepended.
    pub prepend_bos: bool,
}

/// `POST /v1/util/sae-vector`: a feature's encoder direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SaeVectorRequest {
    /// The model id.
    pub model: String,
    /// The source id.
    pub source: String,
    /// The feature.
    pub index: FeatureIndex,
}

/// The answer of `/v1/util/sae-vector`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SaeVectorResponse {
    /// `W_enc[:, index]` (decoder-norm folded as Neuronpedia loads SAEs; see the README).
    pub vector: Vec<f32>,
    /// The hook the SAE reads (camelCase: the client's spelling).
    #[serde(rename = "hookName")]
    pub hook_name: String,
}

/// A feature of a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpFeatureRef {
    /// The model id.
    pub model: String,
    /// The source id.
    pub source: String,
    /// The feature.
    pub index: i64,
}

/// `POST /v1/util/sae-topk-by-decoder-cossim`: the features whose decoder rows are most
/// cosine-similar to a feature's or a vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CossimRequest {
    /// Query by this feature...
    #[serde(default)]
    pub feature: Option<NpFeatureRef>,
    /// ...or by this vector (width d_in).
    #[serde(default)]
    pub vector: Option<Vec<f32>>,
    /// The model id.
    pub model: String,
    /// The source whose decoder is searched.
    pub source: String,
    /// How many (at most 128).
    #[serde(alias = "numResults")]
    pub num_results: i64,
}

/// One similar feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CossimItem {
    /// The feature.
    pub feature: NpFeatureRef,
    /// Cosine similarity of its decoder row with the query.
    pub cosine_similarity: f32,
}

/// The answer of `/v1/util/sae-topk-by-decoder-cossim`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CossimResponse {
    /// The query feature, echoed (absent for a vector query).
    pub feature: Option<NpFeatureRef>,
    /// Most similar first (the query feature itself included).
    pub topk_decoder_cossim_features: Vec<CossimItem>,
}

// ------------------------------------------------------------------ steering

/// How a direction steers the residual `h` at each position (`v̂ = v/‖v‖`, `c = strength ×
/// strength_multiplier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SteerMethod {
    /// `h + c·v`.
    SimpleAdditive,
    /// `h + (c − 1)(h·v̂)v̂`: the component along `v̂` scaled by `c`.
    OrthogonalDecomp,
    /// `h + (min(h·v̂, c) − h·v̂)v̂`: the component along `v̂` capped at `c`.
    ProjectionCap,
}

/// Which generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SteerType {
    /// With the steering.
    Steered,
    /// Without.
    Default,
}

/// A feature to steer with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpSteerFeature {
    /// The model id.
    pub model: String,
    /// The source id.
    pub source: String,
    /// The feature (its decoder row is the direction).
    pub index: i64,
    /// Its coefficient (times `strength_multiplier`).
    pub strength: f64,
    /// A direction to use instead of the decoder row, at the source's hook.
    #[serde(alias = "steeringVector", default)]
    pub steering_vector: Option<Vec<f32>>,
}

/// A raw direction to steer with at a hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpSteerVector {
    /// The direction (the hook's width).
    #[serde(alias = "steeringVector")]
    pub steering_vector: Vec<f32>,
    /// Its coefficient (times `strength_multiplier`).
    pub strength: f64,
    /// The TransformerLens hook.
    pub hook: String,
}

/// `POST /v1/steer/completion`: generate with and/or without steering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SteerCompletionRequest {
    /// The prompt (raw text; bos is prepended).
    pub prompt: String,
    /// The model id.
    pub model: String,
    /// How the directions steer.
    #[serde(alias = "steerMethod")]
    pub steer_method: SteerMethod,
    /// Scale each direction to unit norm first.
    #[serde(alias = "normalizeSteering", default)]
    pub normalize_steering: bool,
    /// Which generations, answered in this order.
    pub types: Vec<SteerType>,
    /// Features to steer with (exactly one of `features` and `vectors`).
    #[serde(default)]
    pub features: Option<Vec<NpSteerFeature>>,
    /// Raw directions to steer with.
    #[serde(default)]
    pub vectors: Option<Vec<NpSteerVector>>,
    /// Tokens to generate (at most 1024).
    #[serde(alias = "nCompletionTokens")]
    pub n_completion_tokens: i64,
    /// Sampling temperature (0: greedy).
    pub temperature: f64,
    /// Multiplies every strength.
    #[serde(alias = "strengthMultiplier")]
    pub strength_multiplier: f64,
    /// Subtracted from the tempered logits once per earlier occurrence of the token.
    #[serde(alias = "freqPenalty", default)]
    pub freq_penalty: f64,
    /// RNG seed (each generation starts from it).
    pub seed: f64,
    /// Answer as server-sent events, one cumulative frame per token.
    #[serde(default)]
    pub stream: bool,
    /// Candidates reported per generated token (0: no `logprobs`).
    #[serde(alias = "nLogprobs", default)]
    pub n_logprobs: i64,
}

/// A candidate token and its log-probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpTopLogprob {
    /// The token as text.
    pub token: String,
    /// `log_softmax(logits)` of it.
    pub logprob: f32,
}

/// A generated token, its log-probability and the top candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpLogprob {
    /// The token as text.
    pub token: String,
    /// Its log-probability under the (steered) model, before temperature.
    pub logprob: f32,
    /// The `n_logprobs` most likely tokens there.
    pub top_logprobs: Vec<NpTopLogprob>,
}

/// One generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SteerOutput {
    /// STEERED or DEFAULT.
    #[serde(rename = "type")]
    pub kind: SteerType,
    /// The prompt followed by the generated text.
    pub output: String,
    /// Per generated token, when `n_logprobs` > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<NpLogprob>>,
}

/// The answer of `/v1/steer/completion` (and each server-sent event of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SteerCompletionResponse {
    /// One per requested type, in request order.
    pub outputs: Vec<SteerOutput>,
}

/// `POST /v1/steer/completion-chat`: [`SteerCompletionRequest`] with chat messages, rendered
/// with the model's chat template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SteerChatRequest {
    /// The conversation so far.
    pub prompt: Vec<ChatMessage>,
    /// The model id.
    pub model: String,
    /// How the directions steer.
    #[serde(alias = "steerMethod")]
    pub steer_method: SteerMethod,
    /// Scale each direction to unit norm first.
    #[serde(alias = "normalizeSteering", default)]
    pub normalize_steering: bool,
    /// Which generations.
    pub types: Vec<SteerType>,
    /// Features to steer with.
    #[serde(default)]
    pub features: Option<Vec<NpSteerFeature>>,
    /// Raw directions to steer with.
    #[serde(default)]
    pub vectors: Option<Vec<NpSteerVector>>,
    /// Tokens to generate (at most 1024).
    #[serde(alias = "nCompletionTokens")]
    pub n_completion_tokens: i64,
    /// Sampling temperature (0: greedy).
    pub temperature: f64,
    /// Multiplies every strength.
    #[serde(alias = "strengthMultiplier")]
    pub strength_multiplier: f64,
    /// Frequency penalty.
    #[serde(alias = "freqPenalty", default)]
    pub freq_penalty: f64,
    /// RNG seed.
    pub seed: f64,
    /// Answer as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Candidates per generated token.
    #[serde(alias = "nLogprobs", default)]
    pub n_logprobs: i64,
    /// Neuronpedia's persona projection (not supported: must be false).
    #[serde(alias = "isAssistantAxis", default)]
    pub is_assistant_axis: bool,
    /// Also steer the prompt's special tokens (default true).
    #[serde(alias = "steerSpecialTokens", default = "yes")]
    pub steer_special_tokens: bool,
}

/// A conversation, formatted and raw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SteerChatResult {
    /// The messages (for an output: the request's plus the generated assistant turn).
    pub chat_template: Vec<ChatMessage>,
    /// The rendered text (for an output: prompt and generation, special tokens kept).
    pub raw: String,
    /// STEERED or DEFAULT (absent for the input).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SteerType>,
    /// Per generated token, when `n_logprobs` > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<NpLogprob>>,
}

/// The answer of `/v1/steer/completion-chat` (and each server-sent event of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SteerChatResponse {
    /// One per requested type, in request order.
    pub outputs: Vec<SteerChatResult>,
    /// The prompt as the model saw it.
    pub input: SteerChatResult,
}

// ------------------------------------------------------------------ models

/// One source the server serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpSourceInfo {
    /// `{layer}-{set}`, e.g. `6-saex-res-4k`.
    pub id: String,
    /// The set, e.g. `saex-res-4k`.
    pub set: String,
    /// The SAE's id in the session.
    pub sae_id: String,
    /// The hook it reads.
    pub hook: String,
    /// Features.
    pub d_sae: usize,
    /// Whether activations are reported multiplied by the decoder row norms (Neuronpedia
    /// folds them into the SAE, except for TopK SAEs).
    pub decoder_norm_scaled: bool,
}

/// What the Neuronpedia routes serve: the model id to send and the sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NpModels {
    /// The `model` value requests carry.
    pub model: String,
    /// The sources, in SAE order.
    pub sources: Vec<NpSourceInfo>,
    /// The source sets.
    pub source_sets: Vec<String>,
    /// Most prompt tokens a request may have (a batch request: a quarter per prompt).
    pub token_limit: usize,
}
