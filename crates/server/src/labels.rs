//! The label registry's routes: `saex label …` and `saex explain …` over HTTP, the same
//! engine calls and JSON. `{sae}` is a loaded SAE's id (URL-encoded: `demo%2Fsae`) or its
//! Neuronpedia id; an SAE that is not loaded is a 404. Every write reloads the session's
//! labels, so discover and top-features show it at once.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State as Extract};
use axum::http::StatusCode;
use axum::Json;
use saex_engine::saex_labels::ops::Patch;
use saex_engine::saex_labels::{entry, Source};
use saex_engine::{
    AutoReport, AutoRequest, ExportRows, FetchReport, FetchRequest, ImportReport, LabelList, LabelRecord, LabelTarget, Session,
};
use serde::Deserialize;

use crate::error::{ApiError, ErrorBody};
use crate::routes::body;
use crate::State;

/// SAE `i` as the registry sees it; without a Neuronpedia id in its config, the one it is
/// served under on Neuronpedia's routes (`{model}/{source}`, `saex serve --source`), so
/// explanation rows of that id match it.
fn target_of(st: &State, i: usize) -> LabelTarget {
    let mut t = st.session.saes[i].label_target();
    if t.neuronpedia_id.is_none() {
        t.neuronpedia_id = st.np.sources.iter().find(|s| s.sae == i).map(|s| format!("{}/{}", st.np.model, s.id));
    }
    t
}

/// The SAE a path names: a loaded SAE's id, its Neuronpedia id, or its Neuronpedia source id.
fn index_of(st: &State, sae: Option<&str>) -> Result<usize, ApiError> {
    if let Some(name) = sae {
        let np = st.np.sources.iter().find(|s| s.id == name || format!("{}/{}", st.np.model, s.id) == name);
        if let (Err(_), Some(s)) = (st.session.one(Some(name)), np) {
            return Ok(s.sae);
        }
    }
    st.session.one(sae).map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.to_string()))
}

fn target(st: &State, sae: &str) -> Result<LabelTarget, ApiError> {
    Ok(target_of(st, index_of(st, Some(sae))?))
}

fn feature_id(s: &str) -> Result<u32, ApiError> {
    s.parse().map_err(|_| ApiError::bad_field("feature", format!("{s:?} is not a feature id")))
}

/// Run registry work on the blocking pool (it takes a file lock); reload the labels after a write.
async fn blocking<T: Send + 'static>(
    st: &State,
    write: bool,
    work: impl FnOnce(&Session) -> saex_engine::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let session = st.session.clone();
    tokio::task::spawn_blocking(move || -> Result<T, ApiError> {
        let out = work(&session)?;
        if write {
            session.reload_labels()?;
        }
        Ok(out)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
}

/// `?source=hand|neuronpedia|auto` (documented for OpenAPI; read by [`source`]).
#[derive(Deserialize, utoipa::IntoParams)]
#[allow(dead_code)] // only its schema is used: the query is parsed by `source`
pub(crate) struct SourceQuery {
    /// Only entries from this source (list), or mark every entry as it (import).
    source: Option<String>,
}

/// The `source` of a query string (the only parameter these routes take).
fn source(query: Option<String>) -> Result<Option<Source>, ApiError> {
    let Some(q) = query else { return Ok(None) };
    let mut found = None;
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("source", v)) => found = Some(v.parse::<Source>().map_err(|m| ApiError::bad_field("source", m))?),
            _ => return Err(ApiError::bad_field("query", format!("unknown query parameter {pair:?}: only source=hand|neuronpedia|auto"))),
        }
    }
    Ok(found)
}

/// An SAE's registry (`saex label list --json`).
#[utoipa::path(get, path = "/v1/labels/{sae}",
    params(("sae" = String, Path, description = "the SAE: its id or Neuronpedia id"), SourceQuery),
    responses((status = 200, body = LabelList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(Extract(st): Extract<State>, Path(sae): Path<String>, RawQuery(q): RawQuery) -> Result<Json<LabelList>, ApiError> {
    let src = source(q)?;
    let t = target(&st, &sae)?;
    Ok(Json(blocking(&st, false, move |s| saex_engine::label_list(s.label_store(), &t, src)).await?))
}

/// Import a registry in seed 003's layout into an SAE's (`saex label import --json`).
#[utoipa::path(post, path = "/v1/labels/{sae}",
    params(("sae" = String, Path, description = "the SAE: its id or Neuronpedia id"), SourceQuery),
    request_body(content = Object, description = "seed 003's registry: {\"<feature id>\": {name, description, examples, confidence, notes}}"),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn import(
    Extract(st): Extract<State>,
    Path(sae): Path<String>,
    RawQuery(q): RawQuery,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<ImportReport>, ApiError> {
    let src = source(q)?;
    let bytes = raw.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let reg = entry::parse(&bytes).map_err(|m| ApiError::bad_field("body", format!("not a registry in seed 003's layout: {m}")))?;
    let t = target(&st, &sae)?;
    Ok(Json(blocking(&st, true, move |s| saex_engine::label_import(s.label_store(), &t, reg, src, "body")).await?))
}

/// A feature's entry (`saex label get --json`).
#[utoipa::path(get, path = "/v1/labels/{sae}/{feature}",
    params(("sae" = String, Path, description = "the SAE: its id or Neuronpedia id"), ("feature" = u32, Path, description = "the feature id")),
    responses((status = 200, body = LabelRecord), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(Extract(st): Extract<State>, Path((sae, feature)): Path<(String, String)>) -> Result<Json<LabelRecord>, ApiError> {
    let t = target(&st, &sae)?;
    let f = feature_id(&feature)?;
    Ok(Json(blocking(&st, false, move |s| saex_engine::label_get(s.label_store(), &t, f)).await?))
}

/// Set fields of a feature's entry (`saex label set --json`); it becomes a hand entry.
#[utoipa::path(put, path = "/v1/labels/{sae}/{feature}", request_body = Patch,
    params(("sae" = String, Path, description = "the SAE: its id or Neuronpedia id"), ("feature" = u32, Path, description = "the feature id")),
    responses((status = 200, body = LabelRecord), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn set(
    Extract(st): Extract<State>,
    Path((sae, feature)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<LabelRecord>, ApiError> {
    let t = target(&st, &sae)?;
    let f = feature_id(&feature)?;
    let patch: Patch = body(raw)?;
    Ok(Json(blocking(&st, true, move |s| saex_engine::label_set(s.label_store(), &t, f, &patch)).await?))
}

/// Automatic proto-labels from the server's index (`saex label auto --json`).
#[utoipa::path(post, path = "/v1/labels/auto", request_body = AutoRequest,
    responses((status = 200, body = AutoReport), (status = 400, body = ErrorBody, description = "bad request, or the server has no index"), (status = 404, body = ErrorBody)))]
pub(crate) async fn auto(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<AutoReport>, ApiError> {
    let req: AutoRequest = body(raw)?;
    let Some(ix) = st.index.clone() else {
        return Err(ApiError::bad_field("index", "this server has no index to label from (start it with saex serve --index DIR)"));
    };
    let t = target_of(&st, index_of(&st, req.sae_id.as_deref())?);
    Ok(Json(blocking(&st, true, move |s| saex_engine::label_auto(s.label_store(), &t, &ix.0, Some(s), &req)).await?))
}

/// `POST /v1/explain/import`'s body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExplainImportRequest {
    /// The SAE (default: every loaded SAE, matched by Neuronpedia id).
    #[serde(default)]
    sae_id: Option<String>,
    /// The Neuronpedia id of `sae_id` when its config has none.
    #[serde(default)]
    neuronpedia_id: Option<String>,
    /// Neuronpedia explanation rows (`modelId`, `layer`, `index`, `description`, …), as in
    /// their exports.
    #[schema(value_type = Vec<Object>)]
    explanations: Vec<serde_json::Value>,
}

/// Import Neuronpedia explanation rows (`saex explain import --json`).
#[utoipa::path(post, path = "/v1/explain/import", request_body = ExplainImportRequest,
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn explain_import(
    Extract(st): Extract<State>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<ImportReport>, ApiError> {
    let req: ExplainImportRequest = body(raw)?;
    let targets: Vec<LabelTarget> = match &req.sae_id {
        Some(id) => vec![target(&st, id)?],
        None => (0..st.session.saes.len()).map(|i| target_of(&st, i)).collect(),
    };
    if req.neuronpedia_id.is_some() && req.sae_id.is_none() {
        return Err(ApiError::bad_field("neuronpedia_id", "name the SAE it belongs to (sae_id)"));
    }
    let rows = ExportRows { name: "body".into(), bytes: serde_json::to_vec(&req.explanations).map_err(|e| ApiError::internal(&e))? };
    Ok(Json(
        blocking(&st, true, move |s| saex_engine::explain_import(s.label_store(), &targets, req.neuronpedia_id.as_deref(), &[rows]))
            .await?,
    ))
}

/// Fetch explanations from Neuronpedia with the server's key and cache (`saex explain fetch --json`).
#[utoipa::path(post, path = "/v1/explain/fetch", request_body = FetchRequest,
    responses((status = 200, body = FetchReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub(crate) async fn explain_fetch(Extract(st): Extract<State>, raw: Result<Bytes, BytesRejection>) -> Result<Json<FetchReport>, ApiError> {
    let req: FetchRequest = body(raw)?;
    let t = target_of(&st, index_of(&st, req.sae_id.as_deref())?);
    let opts = st.explain_fetch.clone();
    Ok(Json(
        blocking(&st, true, move |s| {
            saex_engine::explain_fetch(s.label_store(), &t, req.neuronpedia_id.as_deref(), req.features(), req.method, &opts)
        })
        .await?,
    ))
}
