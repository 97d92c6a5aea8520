//! The label registry's routes through `app().oneshot(..)` on the tiny GPT-2 fixture and its
//! SAE (d_sae 128), the registry in a temporary directory: the same JSON as `saex label
//! … --json`, a write reaching the session's labels at once, Neuronpedia rows matched by the
//! id the SAE is served under, bad input answered 4xx, a corrupt registry 409.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use saex_engine::{Session, SessionOptions};
use serde_json::{json, Value};
use tower::ServiceExt;

fn open(registry: &std::path::Path) -> Arc<Session> {
    let root = saex_testutil::root();
    let model = root.join("fixtures/parity/tiny/gpt2").to_str().unwrap().to_string();
    let sae = root.join("fixtures/models/tiny-gpt2-l1").to_str().unwrap().to_string();
    let opts = SessionOptions { registry: Some(registry.to_path_buf()), ..Default::default() };
    Arc::new(Session::open(&model, &[sae], opts).expect("open the tiny GPT-2 and its SAE"))
}

async fn send(app: &Router, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
    let req = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json").body(body).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{status}: {e}: {:?}", String::from_utf8_lossy(&bytes))))
}

fn path_of(session: &Session) -> String {
    session.saes[0].id.replace('/', "%2F")
}

#[tokio::test]
async fn set_get_list_import_and_the_session_sees_them() {
    let reg = tempfile::tempdir().unwrap();
    let session = open(reg.path());
    let app = saex_server::app(session.clone(), &saex_server::Options::default());
    let sae = path_of(&session);

    let (s, r) = send(&app, Method::PUT, &format!("/v1/labels/{sae}/7"), Some(json!({"name": "dates", "confidence": "high"}))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["label"].as_str(), r["entry"]["source"].as_str()), (Some("dates"), Some("hand")));
    assert_eq!(session.saes[0].label(7).as_deref(), Some("dates"), "the session reloaded its labels");
    let (s, g) = send(&app, Method::GET, &format!("/v1/labels/{sae}/7"), None).await;
    assert_eq!((s, &g), (StatusCode::OK, &r), "GET answers what PUT did");

    // Neuronpedia rows under the id this SAE is served under on Neuronpedia's routes.
    let np = &saex_server_np_id(&app).await;
    let (model, layer) = np.split_once('/').unwrap();
    let rows = json!([
        {"modelId": model, "layer": layer, "index": "9", "description": "numbers", "scoreV1": 0.3},
        {"modelId": model, "layer": layer, "index": "7", "description": "not over the hand label"},
        {"modelId": "other", "layer": "0-x", "index": "1", "description": "elsewhere"}
    ]);
    let (s, rep) = send(&app, Method::POST, "/v1/explain/import", Some(json!({"explanations": rows}))).await;
    assert_eq!(s, StatusCode::OK, "{rep}");
    assert_eq!((rep["imported"].as_u64(), rep["kept"].as_u64(), rep["unmatched"].as_u64()), (Some(1), Some(1), Some(1)), "{rep}");
    assert_eq!(session.saes[0].label(9).as_deref(), Some("numbers"));

    let (s, list) = send(&app, Method::GET, &format!("/v1/labels/{sae}?source=neuronpedia"), None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["counts"], json!({"hand": 1, "neuronpedia": 1, "auto": 0}));
    assert_eq!(list["labels"].as_object().unwrap().keys().collect::<Vec<_>>(), ["9"]);

    // Seed 003's layout in, its entries out.
    let (s, rep) = send(&app, Method::POST, &format!("/v1/labels/{sae}"), Some(json!({"3": {"name": "maths", "examples": ["1+1"]}}))).await;
    assert_eq!((s, rep["imported"].as_u64()), (StatusCode::OK, Some(1)), "{rep}");
    assert_eq!(session.saes[0].label(3).as_deref(), Some("maths"));
}

/// The Neuronpedia id `{model}/{source}` the server names the SAE by (`/v1/models`).
async fn saex_server_np_id(app: &Router) -> String {
    let (_, m) = send(app, Method::GET, "/v1/models", None).await;
    let np_model = m["neuronpedia"]["model"].as_str().map(str::to_string);
    let source = m["neuronpedia"]["sources"][0]["id"].as_str().map(str::to_string);
    match (np_model, source) {
        (Some(mo), Some(so)) => format!("{mo}/{so}"),
        _ => panic!("no Neuronpedia names in /v1/models: {m}"),
    }
}

#[tokio::test]
async fn bad_input_and_a_corrupt_registry() {
    let reg = tempfile::tempdir().unwrap();
    let session = open(reg.path());
    let app = saex_server::app(session.clone(), &saex_server::Options::default());
    let sae = path_of(&session);
    let (s, e) = send(&app, Method::PUT, &format!("/v1/labels/{sae}/128"), Some(json!({"name": "x"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e.to_string().contains("out of range"), "{e}");
    let (s, e) = send(&app, Method::PUT, &format!("/v1/labels/{sae}/1"), Some(json!({"nme": "typo"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, _) = send(&app, Method::GET, "/v1/labels/not-loaded/1", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = send(&app, Method::GET, &format!("/v1/labels/{sae}?source=robot"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    // A fetch names its features or asks for all: `{}` asks Neuronpedia nothing.
    let (s, e) = send(&app, Method::POST, "/v1/explain/fetch", Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e.to_string().contains("all"), "{e}");
    let (s, e) = send(&app, Method::POST, "/v1/labels/auto", Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e.to_string().contains("--index"), "{e}");

    let (s, _) = send(&app, Method::PUT, &format!("/v1/labels/{sae}/1"), Some(json!({"name": "one"}))).await;
    assert_eq!(s, StatusCode::OK);
    let file = reg.path().join(format!("{}.json", session.saes[0].label_key));
    std::fs::write(&file, b"{\"1\": ").unwrap();
    let (s, e) = send(&app, Method::PUT, &format!("/v1/labels/{sae}/2"), Some(json!({"name": "two"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e.to_string().contains("not a valid label registry"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), b"{\"1\": ");
}

#[test]
fn the_openapi_document_has_the_label_routes() {
    let doc = serde_json::to_value(saex_server::openapi()).unwrap();
    for p in ["/v1/labels/{sae}", "/v1/labels/{sae}/{feature}", "/v1/labels/auto", "/v1/explain/import", "/v1/explain/fetch"] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing");
    }
    assert!(doc["paths"]["/v1/labels/{sae}/{feature}"].get("put").is_some());
}
