//! The handlers. Each parses its body (errors naming the field) and runs the engine function
//! its CLI verb runs, on the blocking pool; the `#[utoipa::path]` attributes make the OpenAPI
//! document from the same types.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::routing::{get, post, MethodRouter};
use axum::Json;

use crate::labels;
use saex_engine::{DiscoverRequest, DiscoverResponse, Session, SteerRequest, Steered, TokenizeRequest, Tokenized, TopReport, TopRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, ErrorBody};
use crate::State;

/// The JSON body, or a 4xx: 413 past the size limit, 400 for bad JSON or a bad field.
pub(crate) fn body<T: DeserializeOwned>(raw: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = raw.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))?;
    Ok(saex_analysis::from_json(v)?)
}

/// saex's routes (the Neuronpedia-compatible ones are in `neuronpedia::table`).
pub(crate) fn table() -> Vec<(&'static str, MethodRouter<State>)> {
    vec![
        ("/v1/sae/features/discover", post(discover)),
        ("/v1/sae/features/top", post(top)),
        ("/v1/steer", post(steer)),
        ("/v1/sae/features/highlight", post(highlight)),
        ("/v1/analysis/groups", post(groups)),
        ("/v1/analysis/explore", post(explore)),
        ("/v1/analysis/concept", post(concept)),
        ("/v1/analysis/drift", post(drift)),
        ("/v1/sae/logit-stats", post(logit_stats)),
        ("/v1/sae/neighbors", post(neighbors)),
        ("/v1/sae/map", post(map)),
        ("/v1/features/{sae}/{feature}", get(feature)),
        ("/v1/features/{sae}/{feature}/dashboard", get(dashboard)),
        ("/v1/labels/auto", post(labels::auto)),
        ("/v1/labels/{sae}", get(labels::list).post(labels::import)),
        ("/v1/labels/{sae}/{feature}", get(labels::get).put(labels::set)),
        ("/v1/explain/import", post(labels::explain_import)),
        ("/v1/explain/fetch", post(labels::explain_fetch)),
        ("/v1/models", get(models)),
        ("/healthz", get(healthz)),
        ("/openapi.json", get(openapi)),
    ]
}

/// Sets the cancel flag when dropped: when the client hangs up, hyper drops the handler's
/// future, and with it this guard, so the work stops instead of running on for no one.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Run `work` on the blocking pool once a permit is free, within the time limit. Past the
/// limit the client gets a 504 and `work`'s cancel flag is set, so model work that checks it
/// (generation, chunked forward passes) stops and frees its permit; a client that hangs up
/// sets it too.
pub(crate) async fn run<T, F>(st: &State, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Session, &AtomicBool) -> saex_engine::Result<T> + Send + 'static,
{
    let session = st.session.clone();
    let permits = st.permits.clone();
    let route_permits = st.route_permits.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let _hang_up = CancelOnDrop(cancel.clone());
    let flag = cancel.clone();
    let job = async move {
        // The route's own slot first (when it has a limit of its own), then the server's.
        let route_permit = match route_permits {
            Some(p) => Some(p.acquire_owned().await.map_err(|e| ApiError::internal(&e))?),
            None => None,
        };
        let permit = (permits.acquire_owned().await.map_err(|e| ApiError::internal(&e))?, route_permit);
        // The permit moves into the blocking task: if the time limit answers first, the work
        // still holds its slot until it finishes, so the bound on concurrent model work holds.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&session, &flag).map_err(ApiError::from)
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

/// Seed 002's discovery: which SAE features the model used on a prompt (+ its generation) or
/// a text, ranked, with evidence.
#[utoipa::path(post, path = "/v1/sae/features/discover", request_body = DiscoverRequest,
    responses((status = 200, body = DiscoverResponse), (status = 400, body = ErrorBody), (status = 504, body = ErrorBody)))]
pub(crate) async fn discover(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<DiscoverResponse>, ApiError> {
    let req: DiscoverRequest = body(raw)?;
    req.input()?; // cheap checks before queueing
    Ok(Json(run(&st, move |s, cancel| Ok(saex_engine::discover_with_capture(s, &req, Some(cancel))?.0)).await?))
}

/// A text's top features by a reduction over its tokens (`saex top-features`).
#[utoipa::path(post, path = "/v1/sae/features/top", request_body = TopRequest,
    responses((status = 200, body = TopReport), (status = 400, body = ErrorBody)))]
pub(crate) async fn top(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<TopReport>, ApiError> {
    let req: TopRequest = body(raw)?;
    Ok(Json(run(&st, move |s, _| saex_engine::top(s, &req)).await?))
}

/// Token ids, pieces and spans (`saex tokenize`). Cheap: no permit, no blocking pool.
#[utoipa::path(post, path = "/v1/tokenize", request_body = TokenizeRequest,
    responses((status = 200, body = Tokenized), (status = 400, body = ErrorBody)))]
pub(crate) async fn tokenize(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<Tokenized>, ApiError> {
    let req: TokenizeRequest = body(raw)?;
    let s = &st.session;
    s.check_model(req.model_id.as_deref())?;
    Ok(Json(saex_engine::tokenize(&s.model.tokenizer, &req.text, s.model.add_bos() && req.bos)?))
}

/// Generation with SAE decoder directions added at the SAE's hook (`saex steer`).
#[utoipa::path(post, path = "/v1/steer", request_body = SteerRequest,
    responses((status = 200, body = Steered), (status = 400, body = ErrorBody), (status = 504, body = ErrorBody)))]
pub(crate) async fn steer(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<Steered>, ApiError> {
    let req: SteerRequest = body(raw)?;
    Ok(Json(run(&st, move |s, cancel| saex_engine::steer(s, &req, Some(cancel))).await?))
}

/// A text's tokens with chosen features' activations (`saex highlight`).
#[utoipa::path(post, path = "/v1/sae/features/highlight", request_body = saex_engine::HighlightRequest,
    responses((status = 200, body = saex_engine::Highlighted), (status = 400, body = ErrorBody)))]
pub(crate) async fn highlight(
    Extract(st): Extract<State>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<saex_engine::Highlighted>, ApiError> {
    let req: saex_engine::HighlightRequest = body(raw)?;
    Ok(Json(run(&st, move |s, _| saex_engine::highlight(s, &req)).await?))
}

fn index_record(st: &State, sae: &str, feature: &str) -> Result<saex_engine::index_store::FeatureRecord, ApiError> {
    let Some(ix) = &st.index else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "this server has no index (start it with saex serve --index DIR)"));
    };
    let f: u32 = feature.parse().map_err(|_| ApiError::bad_field("feature", format!("{feature:?} is not a feature id")))?;
    saex_engine::feature(&ix.0, Some(sae), f, &ix.1).map_err(|e| match e {
        saex_engine::Error::Field { message, .. } => ApiError::new(StatusCode::NOT_FOUND, message),
        other => other.into(),
    })
}

/// Everything the index knows about a feature (`saex feature --json`).
#[utoipa::path(get, path = "/v1/features/{sae}/{feature}",
    params(("sae" = String, Path, description = "the SAE: its id, folder name or Neuronpedia id"), ("feature" = u32, Path, description = "the feature id")),
    responses((status = 200, body = saex_engine::index_store::FeatureRecord), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn feature(
    Extract(st): Extract<State>,
    axum::extract::Path((sae, feature)): axum::extract::Path<(String, String)>,
) -> Result<Json<saex_engine::index_store::FeatureRecord>, ApiError> {
    let st2 = st.clone();
    let r = tokio::task::spawn_blocking(move || index_record(&st2, &sae, &feature)).await.map_err(|e| ApiError::internal(&e))??;
    Ok(Json(r))
}

/// The feature's dashboard, a self-contained HTML page.
#[utoipa::path(get, path = "/v1/features/{sae}/{feature}/dashboard",
    params(("sae" = String, Path, description = "the SAE"), ("feature" = u32, Path, description = "the feature id")),
    responses((status = 200, description = "the dashboard page", content_type = "text/html"), (status = 404, body = ErrorBody)))]
pub(crate) async fn dashboard(
    Extract(st): Extract<State>,
    axum::extract::Path((sae, feature)): axum::extract::Path<(String, String)>,
) -> Result<axum::response::Html<String>, ApiError> {
    let st2 = st.clone();
    let page = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let r = index_record(&st2, &sae, &feature)?;
        let title = format!("Feature {}{}", r.feature_id, r.label.as_deref().map(|l| format!(" — {l}")).unwrap_or_default());
        let sae_id = r.sae_id.clone();
        saex_report::dashboard_page(&title, &sae_id, &[r]).map_err(|e| ApiError::internal(&e))
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(axum::response::Html(page))
}

/// Group-discriminative features (seed 000) of responses given inline (`saex groups`).
#[utoipa::path(post, path = "/v1/analysis/groups", request_body = saex_engine::GroupsRequest,
    responses((status = 200, body = saex_engine::GroupsReport), (status = 400, body = ErrorBody)))]
pub(crate) async fn groups(
    Extract(st): Extract<State>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<saex_engine::GroupsReport>, ApiError> {
    let req: saex_engine::GroupsRequest = body(raw)?;
    Ok(Json(run(&st, move |s, _| saex_engine::groups(s, &req)).await?))
}

/// The exploration notebook's analyses (seed 001) over texts given inline (`saex explore`).
#[utoipa::path(post, path = "/v1/analysis/explore", request_body = saex_engine::ExploreRequest,
    responses((status = 200, body = saex_engine::ExploreReport), (status = 400, body = ErrorBody)))]
pub(crate) async fn explore(
    Extract(st): Extract<State>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<saex_engine::ExploreReport>, ApiError> {
    let req: saex_engine::ExploreRequest = body(raw)?;
    Ok(Json(run(&st, move |s, _| saex_engine::explore(s, &req)).await?))
}

/// The concept finder (seed 001, `saex concept`).
#[utoipa::path(post, path = "/v1/analysis/concept", request_body = saex_engine::ConceptRequest,
    responses((status = 200, body = saex_engine::ConceptReport), (status = 400, body = ErrorBody)))]
pub(crate) async fn concept(
    Extract(st): Extract<State>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<saex_engine::ConceptReport>, ApiError> {
    let req: saex_engine::ConceptRequest = body(raw)?;
    Ok(Json(run(&st, move |s, _| saex_engine::concept(s, &req)).await?))
}

/// Two models' discoveries of the same prompts compared (`saex drift`; the server holds
/// one model, so the discover results of both are sent).
#[utoipa::path(post, path = "/v1/analysis/drift", request_body = saex_engine::DriftRequest,
    responses((status = 200, body = saex_analysis::drift::Drift), (status = 400, body = ErrorBody)))]
pub(crate) async fn drift(raw: Result<Bytes, BytesRejection>) -> Result<Json<saex_analysis::drift::Drift>, ApiError> {
    let req: saex_engine::DriftRequest = body(raw)?;
    Ok(Json(saex_engine::drift(&req)?))
}

/// Seed 004's logit-weight statistics of an SAE's features (`saex logit-stats`).
#[utoipa::path(post, path = "/v1/sae/logit-stats", request_body = saex_engine::LogitStatsRequest,
    responses((status = 200, body = saex_engine::LogitStatsReport), (status = 400, body = ErrorBody)))]
pub(crate) async fn logit_stats(
    Extract(st): Extract<State>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<saex_engine::LogitStatsReport>, ApiError> {
    let req: saex_engine::LogitStatsRequest = body(raw)?;
    Ok(Json(run(&st, move |s, _| saex_engine::logit_stats(s, &req)).await?))
}

/// The features nearest a feature (or a vector) by decoder or encoder cosine (`saex neighbors`).
#[utoipa::path(post, path = "/v1/sae/neighbors", request_body = saex_engine::NeighborsRequest,
    responses((status = 200, body = Vec<saex_engine::Neighbor>), (status = 400, body = ErrorBody)))]
pub(crate) async fn neighbors(
    Extract(st): Extract<State>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<saex_engine::Neighbor>>, ApiError> {
    let req: saex_engine::NeighborsRequest = body(raw)?;
    Ok(Json(run(&st, move |s, _| saex_engine::neighbors(s, &req)).await?))
}

/// Seed 000's feature map of an SAE's decoder rows (`saex map --json`). A request names no
/// folder: `index` may only be `"server"` (the server's `--index`), and `groups` is the CLI's
/// (`saex map --groups DIR`), because a path in a request would let any client make the server
/// read any directory it can.
#[utoipa::path(post, path = "/v1/sae/map", request_body = saex_engine::MapRequest,
    responses((status = 200, body = saex_engine::MapReport), (status = 400, body = ErrorBody)))]
pub(crate) async fn map(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<saex_engine::MapReport>, ApiError> {
    let mut req: saex_engine::MapRequest = body(raw)?;
    if req.groups.is_some() {
        return Err(ApiError::bad_field("groups", "the HTTP API reads no folder a request names; map groups with `saex map --groups DIR`"));
    }
    if let Some(ix) = &req.index {
        if ix.as_os_str() != "server" {
            return Err(ApiError::bad_field(
                "index",
                "the HTTP API reads no folder a request names; give \"server\" for the server's --index",
            ));
        }
        let Some(own) = &st.index else {
            return Err(ApiError::bad_field("index", "this server has no index (start it with saex serve --index DIR)"));
        };
        req.index = Some(own.0.dir.clone());
    }
    Ok(Json(run(&st, move |s, _| saex_engine::map(s, &req)).await?))
}

/// The loaded model and SAEs, and the model and source ids of the Neuronpedia routes.
#[utoipa::path(get, path = "/v1/models", responses((status = 200, body = crate::neuronpedia::Models)))]
pub(crate) async fn models(Extract(st): Extract<State>) -> Json<crate::neuronpedia::Models> {
    Json(crate::neuronpedia::Models {
        loaded: saex_engine::loaded(&st.session),
        neuronpedia: saex_engine::neuronpedia::models(&st.session, &st.np),
    })
}

/// Liveness.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// Liveness: answered on the async threads, even while every permit is busy.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// This document (OpenAPI 3.1, derived from the request and response types).
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
pub(crate) async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(crate::openapi())
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no route {uri}; see /openapi.json"))
}

pub(crate) async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{uri} does not take {method}; see /openapi.json"))
}
