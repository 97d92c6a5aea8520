//! The handlers. Each parses its body (errors naming the field), picks the SAE, and runs the
//! same library call as the matching CLI verb on the blocking pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State as Extract;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::State;

/// Body of `POST /v1/sae/features/top` (the `top-features` verb).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopRequest {
    /// The model; may be omitted.
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
    /// max, mean, sum or last.
    #[serde(default = "max")]
    pub reduce: String,
    /// Prepend bos as the model does (default true).
    #[serde(default = "yes")]
    pub bos: bool,
}

/// Body of `POST /v1/tokenize`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeRequest {
    /// The model; may be omitted.
    #[serde(default)]
    pub model_id: Option<String>,
    /// The text.
    pub text: String,
    /// Prepend bos as the model does (default true).
    #[serde(default = "yes")]
    pub bos: bool,
}

/// Body of `POST /v1/steer` (the `steer` verb).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteerRequest {
    /// The model; may be omitted.
    #[serde(default)]
    pub model_id: Option<String>,
    /// The SAE whose decoder directions steer; may be omitted when one is loaded.
    #[serde(default)]
    pub sae_id: Option<String>,
    /// The prompt.
    pub prompt: String,
    /// `[{"feature_id": 159, "coefficient": 8}]`.
    pub features: Vec<saex_engine::SteerFeature>,
    /// Tokens to generate.
    #[serde(default = "thirty_two")]
    pub max_new_tokens: usize,
    /// Sampling temperature (0: greedy).
    #[serde(default)]
    pub temperature: f64,
    /// Nucleus sampling mass.
    #[serde(default = "one")]
    pub top_p: f64,
    /// RNG seed.
    #[serde(default = "forty_two")]
    pub seed: u64,
    /// Also generate without steering.
    #[serde(default)]
    pub compare: bool,
}

fn ten() -> usize {
    10
}
fn thirty_two() -> usize {
    32
}
fn max() -> String {
    "max".into()
}
fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn forty_two() -> u64 {
    42
}

/// Most tokens `/v1/steer` generates per request.
const MAX_STEER_TOKENS: usize = 1024;

/// The JSON body, or a 4xx: 413 past the size limit, 400 for bad JSON or a bad field.
fn body<T: DeserializeOwned>(raw: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = raw.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))?;
    Ok(saex_discover::from_json(v)?)
}

/// Run `work` on the blocking pool once a permit is free, within the time limit. Past the
/// limit the client gets a 504 and `work`'s cancel flag is set, so model work that checks it
/// (generation, chunked forward passes) stops and frees its permit.
async fn run<T, F>(st: &State, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&saex_discover::Session, &AtomicBool) -> Result<T, ApiError> + Send + 'static,
{
    let session = st.session.clone();
    let permits = st.permits.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let job = async move {
        let permit = permits.acquire_owned().await.map_err(|e| ApiError::internal(&e))?;
        // The permit moves into the blocking task: if the time limit answers first, the work
        // still holds its slot until it finishes, so the bound on concurrent model work holds.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&session, &flag)
        })
        .await
        .map_err(|e| ApiError::internal(&e))?
    };
    match tokio::time::timeout(st.timeout, job).await {
        Ok(r) => r,
        Err(_) => {
            cancel.store(true, Ordering::Relaxed);
            Err(ApiError::new(StatusCode::GATEWAY_TIMEOUT, format!("the request took longer than the server's limit of {:?}", st.timeout)))
        }
    }
}

fn check_model(session: &saex_discover::Session, model_id: &Option<String>) -> Result<(), ApiError> {
    match model_id {
        Some(m) if *m != session.model_id && !m.eq_ignore_ascii_case(&session.model.info.name) => {
            Err(ApiError::bad_field("model_id", format!("{m:?} is not loaded; this server holds {:?}", session.model_id)))
        }
        _ => Ok(()),
    }
}

/// The one SAE `sae_id` names (or the only one loaded).
fn one_sae<'a>(session: &'a saex_discover::Session, sae_id: &Option<String>) -> Result<&'a saex_discover::SessionSae, ApiError> {
    let ids = || session.saes.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ");
    match sae_id {
        Some(id) => session
            .saes
            .iter()
            .find(|s| s.id == *id || s.neuronpedia_id() == Some(id.as_str()))
            .ok_or_else(|| ApiError::bad_field("sae_id", format!("{id:?} is not loaded; loaded: {}", ids()))),
        None if session.saes.len() == 1 => Ok(&session.saes[0]),
        None => Err(ApiError::bad_field("sae_id", format!("{} SAEs are loaded; name one of: {}", session.saes.len(), ids()))),
    }
}

pub(crate) async fn discover(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<saex_discover::DiscoverResponse>, ApiError> {
    let req: saex_discover::DiscoverRequest = body(raw)?;
    req.input()?; // cheap checks before queueing
    Ok(Json(run(&st, move |s, cancel| Ok(saex_discover::discover_with_capture(s, &req, Some(cancel))?.0)).await?))
}

pub(crate) async fn top(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<saex_engine::TopReport>, ApiError> {
    let req: TopRequest = body(raw)?;
    let reduce: saex_engine::Reduce = req.reduce.parse().map_err(|e: saex_engine::Error| ApiError::bad_field("reduce", e.to_string()))?;
    if req.text.is_empty() {
        return Err(ApiError::bad_field("text", "is empty"));
    }
    if req.k == 0 {
        return Err(ApiError::bad_field("k", "must be at least 1"));
    }
    let report = run(&st, move |s, _| {
        check_model(s, &req.model_id)?;
        let sae = one_sae(s, &req.sae_id)?;
        let pair = saex_engine::Pair::new(&s.model, &sae.sae, Some(sae.hook))?;
        let enc = saex_engine::encode(&pair, &req.text, s.model.add_bos() && req.bos)?;
        let features = saex_engine::top_features(&enc, req.k, reduce, |id| s.model.tokenizer.id_to_piece(id).unwrap_or_default());
        Ok(saex_engine::TopReport {
            model: s.model_id.clone(),
            sae: sae.id.clone(),
            hook: sae.hook.to_string(),
            reduce: req.reduce.clone(),
            text: req.text.clone(),
            n_tokens: enc.tokens.len(),
            features,
        })
    })
    .await?;
    Ok(Json(report))
}

pub(crate) async fn tokenize(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<saex_engine::Tokenized>, ApiError> {
    let req: TokenizeRequest = body(raw)?;
    check_model(&st.session, &req.model_id)?;
    // Tokenizing is cheap: no permit, no blocking pool.
    let s = &st.session;
    Ok(Json(saex_engine::tokenize(&s.model, &req.text, s.model.add_bos() && req.bos)?))
}

pub(crate) async fn steer(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<saex_engine::Steered>, ApiError> {
    let req: SteerRequest = body(raw)?;
    if req.max_new_tokens > MAX_STEER_TOKENS {
        return Err(ApiError::bad_field("max_new_tokens", format!("at most {MAX_STEER_TOKENS}, got {}", req.max_new_tokens)));
    }
    if req.features.is_empty() {
        return Err(ApiError::bad_field("features", "give at least one {\"feature_id\", \"coefficient\"}"));
    }
    let out = run(&st, move |s, cancel| {
        check_model(s, &req.model_id)?;
        if !s.logits {
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "this server loaded the model without its unembedding; it cannot generate"));
        }
        let sae = one_sae(s, &req.sae_id)?;
        let pair = saex_engine::Pair::new(&s.model, &sae.sae, Some(sae.hook))?;
        let features: Vec<(u32, f32)> = req.features.iter().map(|f| (f.feature_id, f.coefficient)).collect();
        let opts = saex_engine::SteerOptions {
            max_new_tokens: req.max_new_tokens,
            sampling: saex_model::Sampling { temperature: req.temperature, top_p: req.top_p, seed: req.seed },
            compare: req.compare,
        };
        saex_engine::steer_cancellable(&pair, &req.prompt, &features, &opts, Some(cancel)).map_err(|e| match e {
            saex_engine::Error::Invalid(m) => ApiError::bad_field("features", m),
            other => other.into(),
        })
    })
    .await?;
    Ok(Json(out))
}

pub(crate) async fn models(Extract(st): Extract<State>) -> Json<Value> {
    let s = &st.session;
    let d = s.model.dims();
    let saes: Vec<Value> = s
        .saes
        .iter()
        .map(|x| {
            serde_json::json!({
                "sae_id": x.id,
                "hook": x.hook.to_string(),
                "layer": x.hook.layer(),
                "stream": x.hook.stream(),
                "d_in": x.sae.d_in(),
                "d_sae": x.sae.d_sae(),
                "neuronpedia_id": x.neuronpedia_id(),
                "reference_stats": x.stats.is_some(),
                "labels": x.labels.len(),
            })
        })
        .collect();
    Json(serde_json::json!({
        "models": [{
            "model_id": s.model_id,
            "name": s.model.info.name,
            "arch": s.model.info.arch,
            "n_layers": d.n_layers,
            "d_model": d.d_model,
            "n_ctx": d.n_ctx,
            "generates": s.logits,
        }],
        "saes": saes,
    }))
}

pub(crate) async fn healthz() -> Json<Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI)
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no route {uri}; see /openapi.json"))
}

pub(crate) async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{uri} does not take {method}; see /openapi.json"))
}
