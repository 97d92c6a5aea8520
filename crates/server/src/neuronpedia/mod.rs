//! Neuronpedia's inference API (the routes of `neuronpedia-inference-client` 1.10.x), each
//! a thin call of its engine function in `saex_engine::neuronpedia`:
//!
//! | route | engine |
//! |---|---|
//! | `POST /v1/activation/all`, `/all-batch` | `activation_all`, `activation_all_batch` |
//! | `POST /v1/activation/single`, `/single-batch` | `activation_single`, `activation_single_batch` |
//! | `POST /v1/activation/topk-by-token`, `-batch` | `topk_by_token`, `topk_by_token_batch` |
//! | `POST /v1/activation/source` | `activation_source` |
//! | `POST /v1/tokenize` (a body with `model`) | `tokenize` |
//! | `POST /v1/steer/completion`, `/completion-chat` (`stream`: server-sent events) | `steer_completion`, `steer_chat` |
//! | `POST /v1/util/sae-vector`, `/sae-topk-by-decoder-cossim` | `sae_vector`, `sae_topk_by_decoder_cossim` |
//! | `GET /health` | `{"status": "healthy"}` |
//!
//! Errors are Neuronpedia's `{"error": …}` (see [`wire`]): 400 for a bad request (unknown
//! source, model or feature, too long a prompt), 401 for a wrong secret, 422 for a body that
//! is not the route's request, 503 past the time limit, 500 only for a fault of the server.

pub(crate) mod wire;

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State as Extract;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Json;
use saex_engine::neuronpedia::{self as np, Neuronpedia};
use saex_engine::Session;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::State;
use wire::{casing, recase, Case, NpError, NpErrorBody};

/// The Neuronpedia routes (`/v1/tokenize` answers both dialects).
/// Neuronpedia's inference routes.
pub(crate) fn table() -> Vec<(&'static str, MethodRouter<State>)> {
    vec![
        ("/v1/activation/all", post(activation_all)),
        ("/v1/activation/all-batch", post(activation_all_batch)),
        ("/v1/activation/single", post(activation_single)),
        ("/v1/activation/single-batch", post(activation_single_batch)),
        ("/v1/activation/topk-by-token", post(topk_by_token)),
        ("/v1/activation/topk-by-token-batch", post(topk_by_token_batch)),
        ("/v1/activation/source", post(activation_source)),
        ("/v1/tokenize", post(tokenize)),
        ("/v1/steer/completion", post(steer_completion)),
        ("/v1/steer/completion-chat", post(steer_chat)),
        ("/v1/util/sae-vector", post(sae_vector)),
        ("/v1/util/sae-topk-by-decoder-cossim", post(cossim)),
        ("/health", get(health)),
    ]
}

#[derive(OpenApi)]
#[openapi(
    paths(
        activation_all,
        activation_all_batch,
        activation_single,
        activation_single_batch,
        topk_by_token,
        topk_by_token_batch,
        activation_source,
        tokenize,
        steer_completion,
        steer_chat,
        sae_vector,
        cossim,
        health
    ),
    components(schemas(NpErrorBody))
)]
struct NpDoc;

/// The OpenAPI paths of these routes (merged into the server's document).
pub(crate) fn doc() -> utoipa::openapi::OpenApi {
    NpDoc::openapi()
}

/// The body as JSON and the casing it uses; 422 if it is not JSON.
fn json_body(raw: Result<Bytes, BytesRejection>) -> Result<(Value, Case), NpError> {
    let bytes = raw.map_err(|r| NpError::new(r.status(), r.body_text()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| NpError::unprocessable(&e))?;
    let case = casing(&v);
    Ok((v, case))
}

fn parse<T: DeserializeOwned>(v: Value) -> Result<T, NpError> {
    serde_json::from_value(v).map_err(|e| NpError::unprocessable(&e))
}

fn answer<T: Serialize>(value: &T, case: Case) -> Response {
    match serde_json::to_value(value) {
        Ok(v) => Json(recase(v, case)).into_response(),
        Err(e) => NpError::from(ApiError::internal(&e)).into_response(),
    }
}

/// Parse, run `work` on the blocking pool within the limits, answer in the request's casing.
async fn call<Req, Resp>(
    st: State,
    raw: Result<Bytes, BytesRejection>,
    work: fn(&Session, &Neuronpedia, &Req) -> saex_engine::Result<Resp>,
) -> Response
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
{
    let (v, case) = match json_body(raw) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let req: Req = match parse(v) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let npc = st.np.clone();
    match crate::routes::run(&st, move |s, _| work(s, &npc, &req)).await {
        Ok(r) => answer(&r, case),
        Err(e) => NpError::from(e).into_response(),
    }
}

macro_rules! route {
    ($name:ident, $path:literal, $req:ty, $resp:ty, $work:path, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, request_body = $req,
                            responses((status = 200, body = $resp), (status = 400, body = NpErrorBody), (status = 401, body = NpErrorBody),
                                      (status = 422, body = NpErrorBody), (status = 503, body = NpErrorBody)))]
        pub(crate) async fn $name(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Response {
            call::<$req, $resp>(st, raw, $work).await
        }
    };
}

route!(
    activation_all,
    "/v1/activation/all",
    np::ActivationAllRequest,
    np::ActivationAllResponse,
    np::activation_all,
    "Top features of a source set over a prompt (Neuronpedia `activation_all_post`)."
);
route!(
    activation_all_batch,
    "/v1/activation/all-batch",
    np::ActivationAllBatchRequest,
    np::ActivationAllBatchResponse,
    np::activation_all_batch,
    "`/v1/activation/all` for up to 4 prompts."
);
route!(
    activation_single,
    "/v1/activation/single",
    np::ActivationSingleRequest,
    np::ActivationSingleResponse,
    np::activation_single,
    "One feature's (or a vector's) values over a prompt."
);
route!(
    activation_single_batch,
    "/v1/activation/single-batch",
    np::ActivationSingleBatchRequest,
    np::ActivationSingleBatchResponse,
    np::activation_single_batch,
    "`/v1/activation/single` for up to 4 prompts."
);
route!(
    topk_by_token,
    "/v1/activation/topk-by-token",
    np::TopkByTokenRequest,
    np::TopkByTokenResponse,
    np::topk_by_token,
    "The top features of a source at every token."
);
route!(
    topk_by_token_batch,
    "/v1/activation/topk-by-token-batch",
    np::TopkByTokenBatchRequest,
    np::TopkByTokenBatchResponse,
    np::topk_by_token_batch,
    "`/v1/activation/topk-by-token` for up to 4 prompts."
);
route!(
    activation_source,
    "/v1/activation/source",
    np::ActivationSourceRequest,
    np::ActivationSourceResponse,
    np::activation_source,
    "Every nonzero activation of a source over up to 4 prompts."
);
route!(
    sae_vector,
    "/v1/util/sae-vector",
    np::SaeVectorRequest,
    np::SaeVectorResponse,
    np::sae_vector,
    "A feature's encoder direction and the SAE's hook."
);
route!(
    cossim,
    "/v1/util/sae-topk-by-decoder-cossim",
    np::CossimRequest,
    np::CossimResponse,
    np::sae_topk_by_decoder_cossim,
    "The features whose decoder rows are most cosine-similar to a feature's or a vector."
);

/// Either tokenize request: Neuronpedia's (has `model`) or saex's.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the body; the handler tells the two apart by `model`
pub(crate) enum TokenizeBody {
    /// Neuronpedia's.
    Neuronpedia(np::NpTokenizeRequest),
    /// saex's.
    Saex(saex_engine::TokenizeRequest),
}

/// Either tokenize answer.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the answer; each dialect's handler returns its own type
pub(crate) enum TokenizeAnswer {
    /// Neuronpedia's.
    Neuronpedia(np::NpTokenizeResponse),
    /// saex's.
    Saex(saex_engine::Tokenized),
}

/// Token ids and strings. A body with `model` is Neuronpedia's request and gets its answer
/// (`tokens`, `token_strings`, `prepend_bos`); any other is saex's (`saex tokenize --json`).
#[utoipa::path(post, path = "/v1/tokenize", request_body = TokenizeBody,
    responses((status = 200, body = TokenizeAnswer), (status = 400, body = NpErrorBody), (status = 422, body = NpErrorBody)))]
pub(crate) async fn tokenize(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Response {
    let bytes = match raw {
        Ok(b) => b,
        Err(r) => return ApiError::new(r.status(), r.body_text()).into_response(),
    };
    let is_np = serde_json::from_slice::<Value>(&bytes).ok().is_some_and(|v| v.get("model").is_some());
    if !is_np {
        return crate::routes::tokenize(Extract(st), Ok(bytes)).await.into_response();
    }
    let (v, case) = match json_body(Ok(bytes)) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let req: np::NpTokenizeRequest = match parse(v) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    // Tokenizer only: on the async thread, no permit.
    match np::tokenize(&st.session, &st.np, &req) {
        Ok(r) => answer(&r, case),
        Err(e) => NpError::from(e).into_response(),
    }
}

/// Run a streaming engine call: server-sent events `data: {json}\n\n`, one per frame the
/// engine reports (each the whole answer so far). An error before the first frame is an
/// ordinary JSON error; a client that goes away cancels the work.
async fn stream<Resp, F>(st: State, case: Case, work: F) -> Response
where
    Resp: Serialize + Send + 'static,
    F: FnOnce(&Session, &Neuronpedia, &AtomicBool, &mut dyn FnMut(&Resp)) -> saex_engine::Result<Resp> + Send + 'static,
{
    let permit = match tokio::time::timeout(st.timeout, st.permits.clone().acquire_owned()).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return NpError::from(ApiError::internal(&e)).into_response(),
        Err(_) => return NpError::new(StatusCode::SERVICE_UNAVAILABLE, "timed out waiting for a free slot").into_response(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, NpError>>(64);
    let cancel = Arc::new(AtomicBool::new(false));
    let (session, npc, flag) = (st.session.clone(), st.np.clone(), cancel.clone());
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let sent = std::cell::Cell::new(false);
        let mut on_frame = |r: &Resp| {
            let line = serde_json::to_value(r).map(|v| format!("data: {}\n\n", recase(v, case)));
            if let Ok(line) = line {
                sent.set(true);
                if tx.blocking_send(Ok(Bytes::from(line))).is_err() {
                    flag.store(true, Ordering::Relaxed); // the client went away
                }
            }
        };
        if let Err(e) = work(&session, &npc, &flag, &mut on_frame) {
            if sent.get() {
                tracing::warn!("stream ended early: {e}");
            }
            let _ = tx.blocking_send(Err(NpError::from(e)));
        }
    });
    let deadline = (cancel.clone(), st.timeout);
    tokio::spawn(async move {
        tokio::time::sleep(deadline.1).await;
        deadline.0.store(true, Ordering::Relaxed);
    });
    let first = match rx.recv().await {
        Some(Ok(b)) => b,
        Some(Err(e)) => return e.into_response(),
        None => return NpError::new(StatusCode::INTERNAL_SERVER_ERROR, "the generation ended without output").into_response(),
    };
    let body = futures_util::stream::unfold((Some(first), rx), |(first, mut rx)| async move {
        if let Some(b) = first {
            return Some((Ok::<Bytes, Infallible>(b), (None, rx)));
        }
        match rx.recv().await {
            Some(Ok(b)) => Some((Ok(b), (None, rx))),
            _ => None,
        }
    });
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(body)).into_response()
}

/// Generate with and/or without steering (Neuronpedia `steer_completion_post`). With
/// `"stream": true` the answer is server-sent events, each `data:` line the whole answer so
/// far (cumulative text).
#[utoipa::path(post, path = "/v1/steer/completion", request_body = np::SteerCompletionRequest,
    responses((status = 200, body = np::SteerCompletionResponse, description = "JSON, or with `stream` text/event-stream frames of the same object"),
              (status = 400, body = NpErrorBody), (status = 401, body = NpErrorBody), (status = 422, body = NpErrorBody), (status = 503, body = NpErrorBody)))]
pub(crate) async fn steer_completion(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Response {
    let (v, case) = match json_body(raw) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let req: np::SteerCompletionRequest = match parse(v) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if req.stream {
        return stream(st, case, move |s, n, cancel, f| np::steer_completion(s, n, &req, Some(cancel), Some(f))).await;
    }
    let npc = st.np.clone();
    match crate::routes::run(&st, move |s, cancel| np::steer_completion(s, &npc, &req, Some(cancel), None)).await {
        Ok(r) => answer(&r, case),
        Err(e) => NpError::from(e).into_response(),
    }
}

/// Chat through the model's chat template, with and/or without steering.
#[utoipa::path(post, path = "/v1/steer/completion-chat", request_body = np::SteerChatRequest,
    responses((status = 200, body = np::SteerChatResponse, description = "JSON, or with `stream` text/event-stream frames of the same object"),
              (status = 400, body = NpErrorBody), (status = 401, body = NpErrorBody), (status = 422, body = NpErrorBody), (status = 503, body = NpErrorBody)))]
pub(crate) async fn steer_chat(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Response {
    let (v, case) = match json_body(raw) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let req: np::SteerChatRequest = match parse(v) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if req.stream {
        return stream(st, case, move |s, n, cancel, f| np::steer_chat(s, n, &req, Some(cancel), Some(f))).await;
    }
    let npc = st.np.clone();
    match crate::routes::run(&st, move |s, cancel| np::steer_chat(s, &npc, &req, Some(cancel), None)).await {
        Ok(r) => answer(&r, case),
        Err(e) => NpError::from(e).into_response(),
    }
}

/// Neuronpedia's liveness answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Healthy {
    /// Always `healthy`.
    status: &'static str,
}

/// Liveness, as Neuronpedia answers it (no secret needed).
#[utoipa::path(get, path = "/health", responses((status = 200, body = Healthy)))]
pub(crate) async fn health() -> Json<Healthy> {
    Json(Healthy { status: "healthy" })
}

/// `GET /v1/models`: what is loaded, and what the Neuronpedia routes serve.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Models {
    #[serde(flatten)]
    pub loaded: saex_engine::Loaded,
    /// The model id and source ids Neuronpedia clients send.
    pub neuronpedia: np::NpModels,
}
