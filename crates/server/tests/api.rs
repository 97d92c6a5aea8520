//! The HTTP API through `app().oneshot(..)` (axum `examples/testing`), on the real Gemma 3
//! 270M with the demo SAE (TopK, d_sae 4096, `blocks.6.hook_resid_pre`, ships
//! `feature_stats.safetensors`). The model is opened once for the whole binary.
//!
//! Topics: the seed 002 discover route (shape, ranking, gate, spans), 4xx answers naming the
//! field, the other routes, the OpenAPI document against the router, the concurrency bound
//! and the time limit.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use saex_engine::{DiscoverResponse, Session, SessionOptions};
use serde_json::{json, Value};
use tower::ServiceExt;

static SESSION: OnceLock<Arc<Session>> = OnceLock::new();

fn model_spec() -> String {
    saex_testutil::real_model("gemma-3-270m-q4_k_m.gguf").to_str().unwrap().to_string()
}

fn sae_spec() -> String {
    saex_testutil::root().join("demo/sae").to_str().unwrap().to_string()
}

/// Gemma 3 270M + the demo SAE, whole model (generation and the entropy filter need the
/// unembedding), no activation cache: every request below really runs the model.
fn session() -> Arc<Session> {
    SESSION
        .get_or_init(|| {
            let opts = SessionOptions { logits: true, ..Default::default() };
            Arc::new(Session::open(&model_spec(), &[sae_spec()], opts).expect("open Gemma 3 270M + demo SAE"))
        })
        .clone()
}

fn app_with(opts: saex_server::Options) -> Router {
    saex_server::app(session(), &opts)
}

fn app() -> Router {
    app_with(saex_server::Options::default())
}

/// Send one request; the status and the body, which must be JSON whatever the status.
async fn send(app: Router, method: Method, uri: &str, body: Body) -> (StatusCode, Value) {
    let req = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json").body(body).unwrap();
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {:?}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

async fn post(app: Router, uri: &str, body: Value) -> (StatusCode, Value) {
    send(app, Method::POST, uri, Body::from(body.to_string())).await
}

async fn get(app: Router, uri: &str) -> (StatusCode, Value) {
    send(app, Method::GET, uri, Body::empty()).await
}

/// The proto-labels the demo SAE ships in its own `labels.jsonl` (none if it ships none).
fn shipped_labels() -> std::collections::HashMap<u32, String> {
    let path = saex_testutil::root().join("demo/sae/labels.jsonl");
    if !path.exists() {
        return Default::default();
    }
    saex_engine::labels::read(&path).unwrap().into_iter().map(|e| (e.feature, e.label)).collect()
}

const DISCOVER: &str = "/v1/sae/features/discover";

/// A text on which the demo SAE has many features above the p95 gate (measured: 25 of
/// 25 returned, 17 tokens, all kept since 17 < topk_tokens_per_seq 64).
const FOX: &str = "The quick brown fox jumps over the lazy dog. Then it ran into the forest.";

/// The invariants every discover response must hold, whatever the model computes.
fn check_discover(r: &DiscoverResponse, min_coverage_pct: f64, return_top_x: usize) {
    assert_eq!(r.model_id, model_spec());
    assert_eq!(r.sae_id, sae_spec());
    assert_eq!(r.analyzed.layers, [6]);
    assert!(r.analyzed.kept_tokens <= r.analyzed.tokens, "{:?}", r.analyzed);
    assert!(r.features.len() <= return_top_x);
    let chars: Vec<char> = r.analyzed.text.chars().collect();
    for w in r.features.windows(2) {
        assert!(w[0].score >= w[1].score, "not sorted by score: {} then {}", w[0].score, w[1].score);
    }
    for f in &r.features {
        assert!(f.feature_id < 4096);
        assert_eq!((f.layer, f.stream.as_str()), (Some(6), "resid_pre"));
        let s = f.scores;
        assert!((0.0..=1.0).contains(&s.coverage), "{s:?}");
        assert!(s.coverage as f64 * 100.0 + 1e-4 >= min_coverage_pct, "feature {} under the gate: {s:?}", f.feature_id);
        assert!(s.max >= s.mean && s.mean >= 0.0, "{s:?}");
        // One SAE, mean×coverage: the score is the product, not normalised.
        assert!((f.score - s.mean * s.coverage).abs() <= 1e-6 * f.score.abs().max(1.0), "{} vs {s:?}", f.score);
        assert!(!f.top_spans.is_empty() && f.top_spans.len() <= 3, "feature {}: {:?}", f.feature_id, f.top_spans);
        for sp in &f.top_spans {
            let [a, b] = sp.position;
            assert!(a < b && b <= chars.len(), "{sp:?}");
            // Positions are code points of analyzed.text.
            assert_eq!(sp.text, chars[a..b].iter().collect::<String>());
            assert!(sp.act > 0.0);
        }
        for w in f.top_spans.windows(2) {
            assert!(w[0].act >= w[1].act);
        }
        if r.analyzed.kept_tokens == r.analyzed.tokens {
            // Every token is scored, so the strongest span's peak is the feature's max.
            assert_eq!(f.top_spans[0].act, s.max, "feature {}", f.feature_id);
        }
    }
}

mod discover {
    use super::*;

    /// Seed 002's body, text mode, with this server's model, SAE and layer.
    #[tokio::test]
    async fn seed_body_text_mode() {
        let body = json!({
            "model_id": model_spec(), "sae_id": sae_spec(), "text": FOX,
            "layers": [6], "streams": ["resid_pre"], "restrict_features": [],
            "topk_tokens_per_seq": 64, "return_top_x": 10, "score_mode": "mean×coverage",
            "min_coverage_pct": 0.5, "merge_across_layers": true, "attach_examples": true,
            "attach_proto_labels": true, "seed": 42
        });
        let (status, v) = post(app(), DISCOVER, body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        for key in ["model_id", "sae_id", "analyzed", "features"] {
            assert!(v.get(key).is_some(), "no {key}: {v}");
        }
        let f0 = &v["features"][0];
        for key in ["feature_id", "layer", "stream", "score", "scores", "proto_label", "top_spans"] {
            assert!(f0.get(key).is_some(), "no {key}: {f0}");
        }
        for key in ["mean", "coverage", "max", "selectivity"] {
            assert!(f0["scores"].get(key).is_some(), "no scores.{key}: {f0}");
        }
        let r: DiscoverResponse = serde_json::from_value(v).unwrap();
        check_discover(&r, 0.5, 10);
        assert_eq!(r.analyzed.mode, "text");
        assert_eq!(r.analyzed.text, FOX);
        assert_eq!(r.features.len(), 10, "measured: 25 features pass the gate on this text");
        // Labels come from the catalog the SAE ships.
        let shipped = shipped_labels();
        for f in &r.features {
            assert_eq!(f.proto_label.as_ref(), shipped.get(&f.feature_id), "feature {}", f.feature_id);
        }

        // analyzed.tokens leaves bos out: one less than /v1/tokenize's ids.
        let (_, tok) = post(app(), "/v1/tokenize", json!({ "text": FOX })).await;
        assert_eq!(r.analyzed.tokens + 1, tok["ids"].as_array().unwrap().len());
        assert_eq!(r.analyzed.kept_tokens, r.analyzed.tokens, "17 tokens < topk_tokens_per_seq 64: all kept");
    }

    /// Seed 002's body, prompt + generation.
    #[tokio::test]
    async fn seed_body_prompt_and_generation() {
        let prompt = "Summarize Q2 earnings of ACME Corp and key KPIs.";
        let body = json!({
            "model_id": model_spec(), "sae_id": sae_spec(), "prompt": prompt, "generate": true,
            "gen_tokens": 8, "layers": [6], "streams": ["resid_pre"], "topk_tokens_per_seq": 64,
            "return_top_x": 25, "score_mode": "mean×coverage", "min_coverage_pct": 0.5,
            "merge_across_layers": true, "attach_examples": true, "attach_proto_labels": true, "seed": 42
        });
        let (status, v) = post(app(), DISCOVER, body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let r: DiscoverResponse = serde_json::from_value(v).unwrap();
        check_discover(&r, 0.5, 25);
        assert_eq!(r.analyzed.mode, "prompt+gen");
        assert!(r.analyzed.text.starts_with(prompt) && r.analyzed.text.len() > prompt.len(), "{:?}", r.analyzed.text);
        let (_, tok) = post(app(), "/v1/tokenize", json!({ "text": prompt, "bos": false })).await;
        let n_prompt = tok["ids"].as_array().unwrap().len();
        assert!(r.analyzed.tokens > n_prompt && r.analyzed.tokens <= n_prompt + 8, "{} tokens, prompt {n_prompt}", r.analyzed.tokens);
        assert!(!r.features.is_empty());
    }

    /// `model_id` and `sae_id` may be left out: the loaded ones answer.
    #[tokio::test]
    async fn model_and_sae_may_be_omitted() {
        let (status, v) = post(app(), DISCOVER, json!({ "text": "Hello world, this is a test.", "return_top_x": 5 })).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let r: DiscoverResponse = serde_json::from_value(v).unwrap();
        check_discover(&r, 0.5, 5);
        assert_eq!(r.analyzed.mode, "text");
    }
}

mod errors {
    use super::*;

    async fn bad_discover(body: Value, field: Option<&str>) -> Value {
        let (status, v) = post(app(), DISCOVER, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
        assert_eq!(v.get("field").and_then(Value::as_str), field, "{body} → {v}");
        v
    }

    #[tokio::test]
    async fn discover_400s_name_the_field() {
        let v = bad_discover(json!({ "text": "x", "score_mdoe": "max" }), Some("score_mdoe")).await;
        assert!(v["error"].as_str().unwrap().contains("score_mdoe"), "{v}");
        let v = bad_discover(json!({ "text": "x", "score_mode": "median" }), Some("score_mode")).await;
        assert!(v["error"].as_str().unwrap().contains("median"), "{v}");
        bad_discover(json!({ "text": "x", "tau": "p50" }), Some("tau")).await;
        bad_discover(json!({ "text": "x", "prompt": "y" }), Some("text")).await;
        bad_discover(json!({ "return_top_x": 3 }), Some("prompt")).await;
        bad_discover(json!({ "prompt": "x", "gen_tokens": "many" }), Some("gen_tokens")).await;
        let v = bad_discover(json!({ "text": "x", "restrict_features": [1, 5000] }), Some("restrict_features")).await;
        assert!(v["error"].as_str().unwrap().contains("5000"), "{v}");
        let v = bad_discover(json!({ "text": "x", "layers": [12] }), Some("layers")).await;
        assert!(v["error"].as_str().unwrap().contains("12"), "{v}");
        bad_discover(json!({ "text": "x", "model_id": "cxllin/Llama2-7b-Finance" }), Some("model_id")).await;
        bad_discover(json!({ "text": "x", "sae_id": "sae_l22_resid_pre_v3" }), Some("sae_id")).await;
        bad_discover(json!({ "text": "x", "max_density": 1.5 }), Some("max_density")).await;
        bad_discover(json!({ "text": "x", "spans": [[0, 100000]] }), Some("spans")).await;
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_400() {
        let (status, v) = send(app(), Method::POST, DISCOVER, Body::from("{\"text\": ")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["error"].as_str().unwrap().contains("not JSON"), "{v}");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_json() {
        let app = app_with(saex_server::Options { body_limit: 64, ..Default::default() });
        let body = json!({ "text": "a".repeat(200) }).to_string();
        // With a Content-Length, and streamed without one.
        let req = Request::post(DISCOVER).header(header::CONTENT_LENGTH, body.len()).body(Body::from(body.clone())).unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let v: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
        assert!(v["error"].is_string(), "{v}");
        let chunks = chunked_body(body.into_bytes());
        let (status, v) = send(app.clone(), Method::POST, DISCOVER, chunks).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
        // Under the limit the same app answers normally (here: the field is wrong).
        let (status, v) = post(app, DISCOVER, json!({ "text": "x", "tau": "p50" })).await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("tau")));
    }

    /// A body without a length: one chunk per 16 bytes.
    fn chunked_body(bytes: Vec<u8>) -> Body {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(16).map(|c| Ok(c.to_vec())).collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn an_unknown_route_is_404_json() {
        let (status, v) = get(app(), "/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        assert!(v["error"].as_str().unwrap().contains("/v1/nope"), "{v}");
        let (status, v) = post(app(), "/v1/sae/features/discoverr", json!({ "text": "x" })).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    }

    #[tokio::test]
    async fn a_wrong_method_is_405_json() {
        let (status, v) = get(app(), "/v1/steer").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{v}");
        assert!(v["error"].is_string(), "{v}");
    }

    #[tokio::test]
    async fn steer_features_are_checked() {
        let (status, v) = post(app(), "/v1/steer", json!({ "prompt": "Hi", "features": [] })).await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("features")), "{v}");
        let body = json!({ "prompt": "Hi", "features": [{ "feature_id": 5000, "coefficient": 8.0 }], "max_new_tokens": 4 });
        let (status, v) = post(app(), "/v1/steer", body).await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("features")), "{v}");
        let e = v["error"].as_str().unwrap();
        assert!(e.contains("5000") && e.contains("4096"), "{v}");
    }

    #[tokio::test]
    async fn top_reduce_is_checked() {
        let (status, v) = post(app(), "/v1/sae/features/top", json!({ "text": "Hello world", "reduce": "median" })).await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("reduce")), "{v}");
        assert!(v["error"].as_str().unwrap().contains("median"), "{v}");
    }
}

mod routes {
    use super::*;

    #[tokio::test]
    async fn healthz() {
        assert_eq!(get(app(), "/healthz").await, (StatusCode::OK, json!({ "status": "ok" })));
    }

    #[tokio::test]
    async fn models_lists_the_model_and_the_sae() {
        let (status, v) = get(app(), "/v1/models").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let models = v["models"].as_array().unwrap();
        assert_eq!(models.len(), 1);
        assert_eq!(models[0]["model_id"], model_spec());
        // Gemma 3 270M: 18 layers, d_model 640.
        assert_eq!((models[0]["n_layers"].as_u64(), models[0]["d_model"].as_u64()), (Some(18), Some(640)));
        assert_eq!(models[0]["generates"], true);
        let saes = v["saes"].as_array().unwrap();
        assert_eq!(saes.len(), 1);
        let s = &saes[0];
        assert_eq!(s["sae_id"], sae_spec());
        assert_eq!(s["hook"], "blocks.6.hook_resid_pre");
        assert_eq!(s["layer"], 6);
        assert_eq!(s["stream"], "resid_pre");
        assert_eq!((s["d_in"].as_u64(), s["d_sae"].as_u64()), (Some(640), Some(4096)));
        assert_eq!(s["reference_stats"], true);
        assert_eq!(s["labels"].as_u64(), Some(shipped_labels().len() as u64));
    }

    #[tokio::test]
    async fn tokenize_hello_world() {
        // Gemma's vocabulary: <bos> 2, "Hello" 9259, "▁world" 1902.
        let (status, v) = post(app(), "/v1/tokenize", json!({ "text": "Hello world" })).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["ids"], json!([2, 9259, 1902]));
        assert_eq!(v["pieces"], json!(["<bos>", "Hello", "▁world"]));
        // Spans (ASCII: code points = bytes): bos (0, 0), "Hello" [0, 5), " world" [5, 11).
        let spans: Vec<(u64, u64)> =
            v["tokens"].as_array().unwrap().iter().map(|t| (t["start"].as_u64().unwrap(), t["end"].as_u64().unwrap())).collect();
        assert_eq!(spans, [(0, 0), (0, 5), (5, 11)]);
        // "Grüße": code points [0, 5) but bytes [0, 7).
        let (_, v) = post(app(), "/v1/tokenize", json!({ "text": "Grüße", "bos": false })).await;
        let toks = v["tokens"].as_array().unwrap();
        assert_eq!((toks.last().unwrap()["end"].as_u64(), toks.last().unwrap()["byte_end"].as_u64()), (Some(5), Some(7)));
        let (_, v) = post(app(), "/v1/tokenize", json!({ "text": "Hello world", "bos": false })).await;
        assert_eq!(v["ids"], json!([9259, 1902]));
    }

    #[tokio::test]
    async fn top_features_of_hello_world() {
        let (status, v) = post(app(), "/v1/sae/features/top", json!({ "text": "Hello world", "k": 5 })).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let r: saex_engine::TopReport = serde_json::from_value(v).unwrap();
        assert_eq!(
            (r.sae_id.as_str(), r.hook.as_str(), r.reduce),
            (sae_spec().as_str(), "blocks.6.hook_resid_pre", saex_engine::Reduce::Max)
        );
        assert_eq!(r.n_tokens, 3, "bos Hello ▁world");
        assert_eq!(r.features.len(), 5);
        let pieces = ["<bos>", "Hello", "▁world"];
        for w in r.features.windows(2) {
            assert!(w[0].value >= w[1].value);
        }
        for f in &r.features {
            // max: the ranked value is the peak; bos is never the peak.
            assert_eq!(f.value, f.peak_value);
            assert!((1..3).contains(&f.peak_position), "{f:?}");
            assert_eq!(f.peak_token, pieces[f.peak_position]);
        }
    }

    /// The document lists every route `app()` serves, and every (path, method) it lists is
    /// served (not the 404 fallback, not 405).
    #[tokio::test]
    async fn openapi_matches_the_router() {
        let (status, doc) = get(app(), "/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(doc, serde_json::to_value(saex_server::openapi()).unwrap());
        let paths = doc["paths"].as_object().unwrap();
        let served = [
            ("/v1/sae/features/discover", "post"),
            ("/v1/sae/features/top", "post"),
            ("/v1/tokenize", "post"),
            ("/v1/steer", "post"),
            ("/v1/sae/features/highlight", "post"),
            ("/v1/analysis/groups", "post"),
            ("/v1/analysis/explore", "post"),
            ("/v1/analysis/concept", "post"),
            ("/v1/analysis/drift", "post"),
            ("/v1/sae/logit-stats", "post"),
            ("/v1/sae/neighbors", "post"),
            ("/v1/features/{sae}/{feature}", "get"),
            ("/v1/features/{sae}/{feature}/dashboard", "get"),
            ("/v1/models", "get"),
            ("/healthz", "get"),
            ("/openapi.json", "get"),
        ];
        for (path, method) in served {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is not in openapi.json");
        }
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys() {
                let m: Method = method.to_uppercase().parse().unwrap();
                // An empty object: POST routes answer 400 (a required field is missing)
                // before any model work.
                let body = if m == Method::POST { Body::from("{}") } else { Body::empty() };
                if path.contains('{') {
                    // The index routes of a server without an index: the route answers (404
                    // saying so), not the fallback.
                    let uri = path.replace("{sae}", "sae").replace("{feature}", "1");
                    let (status, v) = send(app(), m, &uri, body).await;
                    assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {v}");
                    // The label routes: no SAE is loaded as `sae`.
                    let says = if path.starts_with("/v1/labels/") { "is not loaded" } else { "--index" };
                    assert!(v["error"].as_str().unwrap().contains(says), "{method} {path}: {v}");
                    continue;
                }
                let (status, v) = send(app(), m, path, body).await;
                assert!(
                    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} from openapi.json: {status} {v}"
                );
                // Neuronpedia's routes answer a body that is not their request with FastAPI's 422.
                let unprocessable = status == StatusCode::UNPROCESSABLE_ENTITY && v["detail"].is_array();
                assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST || unprocessable, "{method} {path}: {status} {v}");
            }
        }
    }
}

mod limits {
    use super::*;

    /// 8 requests at once against 2 permits: all answer 200, identical requests identically
    /// (text mode, and generation with a fixed seed at temperature 0.7).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn eight_concurrent_discovers() {
        let app = app_with(saex_server::Options { max_concurrent: 2, ..Default::default() });
        let text = json!({ "text": "Concurrency is not parallelism.", "return_top_x": 5 });
        let gen = json!({ "prompt": "Once upon a time", "gen_tokens": 8, "seed": 7, "return_top_x": 5 });
        let mut set = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (app, body) = (app.clone(), if i % 2 == 0 { text.clone() } else { gen.clone() });
            set.spawn(async move { (i % 2, post(app, DISCOVER, body).await) });
        }
        let mut bodies: [Vec<Value>; 2] = [Vec::new(), Vec::new()];
        while let Some(r) = set.join_next().await {
            let (kind, (status, v)) = r.unwrap();
            assert_eq!(status, StatusCode::OK, "{v}");
            bodies[kind].push(v);
        }
        for b in &bodies {
            assert_eq!(b.len(), 4);
            assert!(b.iter().all(|v| *v == b[0]), "identical requests, different answers: {b:?}");
        }
        assert_eq!(bodies[0][0]["analyzed"]["mode"], "text");
        assert_eq!(bodies[1][0]["analyzed"]["mode"], "prompt+gen");
    }

    #[tokio::test]
    async fn over_the_time_limit_is_504_json() {
        let app = app_with(saex_server::Options { timeout: Duration::from_millis(1), ..Default::default() });
        let (status, v) = post(app.clone(), DISCOVER, json!({ "prompt": "Once upon a time", "gen_tokens": 8 })).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{v}");
        assert!(v["error"].as_str().unwrap().contains("1ms"), "{v}");
        // Routes without model work are not limited.
        assert_eq!(get(app, "/healthz").await.0, StatusCode::OK);
    }

    /// A generation past the limit is cancelled, not left running: with one permit, the next
    /// request gets it at once. (Uncancelled, 2,000 tokens would hold it for a minute and
    /// the second request would time out too.)
    #[tokio::test(flavor = "multi_thread")]
    async fn work_past_the_limit_is_cancelled_and_frees_its_permit() {
        let app = app_with(saex_server::Options { timeout: Duration::from_secs(2), max_concurrent: 1, ..Default::default() });
        let long = json!({ "prompt": "Once upon a time", "gen_tokens": 2000, "temperature": 1.0 });
        let (status, v) = post(app.clone(), DISCOVER, long).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{v}");
        let quick = json!({ "text": "Hi there", "token_filter": "norm", "tau": 0.5 });
        let t = std::time::Instant::now();
        let (status, v) = post(app, DISCOVER, quick).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert!(t.elapsed() < Duration::from_secs(2), "waited {:?} for the permit", t.elapsed());
    }

    /// A client that hangs up mid-generation (hyper then drops the handler's future, as
    /// `abort` does here) cancels its work: the next request gets the only permit at once
    /// instead of waiting a minute for 2,000 tokens no one will read.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_client_that_hangs_up_cancels_its_work_and_frees_its_permit() {
        let app = app_with(saex_server::Options { timeout: Duration::from_secs(600), max_concurrent: 1, ..Default::default() });
        let long = json!({ "prompt": "Once upon a time", "gen_tokens": 2000, "temperature": 1.0 });
        let gone = tokio::spawn(post(app.clone(), DISCOVER, long));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        gone.abort();
        let t = std::time::Instant::now();
        let quick = json!({ "text": "Hi there", "token_filter": "norm", "tau": 0.5 });
        let (status, v) = post(app, DISCOVER, quick).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert!(t.elapsed() < Duration::from_secs(5), "waited {:?} for the permit", t.elapsed());
    }
}

/// Limits of one route (`Options::routes`), beside the server's.
mod route_limits {
    use super::*;
    use saex_server::RouteLimits;

    fn with(routes: &[(&str, RouteLimits)]) -> Router {
        let routes = routes.iter().map(|(p, l)| (p.to_string(), *l)).collect();
        app_with(saex_server::Options { timeout: Duration::from_secs(600), routes, ..Default::default() })
    }

    #[tokio::test]
    async fn a_route_time_limit_applies_to_that_route_only() {
        let app = with(&[(DISCOVER, RouteLimits { timeout: Some(Duration::from_millis(1)), ..Default::default() })]);
        let (status, v) = post(app.clone(), DISCOVER, json!({ "prompt": "Once upon a time", "gen_tokens": 8 })).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{v}");
        assert!(v["error"].as_str().unwrap().contains("1ms"), "{v}");
        let (status, v) = post(app, "/v1/sae/features/top", json!({ "text": "Hello world", "k": 3 })).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }

    #[tokio::test]
    async fn a_route_body_limit_applies_to_that_route_only() {
        let app = with(&[("/v1/tokenize", RouteLimits { body_limit: Some(100), ..Default::default() })]);
        let body = json!({ "text": "word ".repeat(40) });
        assert!(body.to_string().len() > 100);
        let (status, v) = post(app.clone(), "/v1/tokenize", body.clone()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
        let (status, v) = post(app, "/v1/sae/features/top", json!({ "text": body["text"], "k": 3 })).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }

    /// One slot for discover, two for the server: a second discover waits while the first
    /// runs, another route does not; when the first client hangs up, the slot frees.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_route_concurrency_limit_queues_that_route_only() {
        let app = with(&[(DISCOVER, RouteLimits { max_concurrent: Some(1), ..Default::default() })]);
        let long = json!({ "prompt": "Once upon a time", "gen_tokens": 2000, "temperature": 1.0 });
        let first = tokio::spawn(post(app.clone(), DISCOVER, long));
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let quick = json!({ "text": "Hi there", "token_filter": "norm", "tau": 0.5 });
        let waited = tokio::time::timeout(Duration::from_millis(1500), post(app.clone(), DISCOVER, quick.clone())).await;
        assert!(waited.is_err(), "a second discover ran beside the first: {waited:?}");
        let other =
            tokio::time::timeout(Duration::from_secs(10), post(app.clone(), "/v1/sae/features/top", json!({ "text": "Hi", "k": 3 })));
        assert_eq!(other.await.expect("another route waited on discover's slot").0, StatusCode::OK);
        first.abort();
        let (status, v) = tokio::time::timeout(Duration::from_secs(10), post(app, DISCOVER, quick)).await.expect("the slot was freed");
        assert_eq!(status, StatusCode::OK, "{v}");
    }

    #[test]
    fn limits_for_an_unknown_route_are_refused() {
        let mut routes = std::collections::HashMap::new();
        routes.insert("/v1/nope".to_string(), RouteLimits::default());
        let e = saex_server::Options { routes, ..Default::default() }.check().unwrap_err();
        assert!(e.contains("no route /v1/nope") && e.contains("/v1/sae/logit-stats"), "{e}");
        assert!(saex_server::route_paths().contains(&"/v1/activation/all"));
    }
}

/// Real answers of every route, 200s and errors, validated against the schemas the OpenAPI
/// document gives for that path, method and status.
mod schemas {
    use super::*;

    pub fn check(doc: &Value, path: &str, method: &str, status: StatusCode, body: &Value) {
        validate(doc, path, method, status, body)
    }

    fn validate(doc: &Value, path: &str, method: &str, status: StatusCode, body: &Value) {
        let op = &doc["paths"][path][method];
        let resp = &op["responses"][status.as_str()];
        assert!(resp.is_object(), "{method} {path}: status {status} is not documented: {body}");
        let Some(schema) = resp["content"]["application/json"].get("schema") else {
            return; // documented without a schema (the OpenAPI document itself)
        };
        let mut root = schema.clone();
        root["components"] = doc["components"].clone();
        let v = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{method} {path}: bad schema: {e}"));
        let errors: Vec<String> = v.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{method} {path} {status}: the answer does not match its schema: {errors:?}\n{body}");
    }

    #[tokio::test]
    async fn every_route_answers_as_its_schema_says() {
        let doc = serde_json::to_value(saex_server::openapi()).unwrap();
        let found = |text: &str| {
            let req = saex_analysis::DiscoverRequest { text: Some(text.into()), return_top_x: 5, ..Default::default() };
            serde_json::to_value(saex_engine::discover(&session(), &req).unwrap()).unwrap()
        };
        let (fox, hello) = (found(FOX), found("Hello world, hello again"));
        let cases: Vec<(&str, Method, Value, StatusCode)> = vec![
            (DISCOVER, Method::POST, json!({ "text": FOX, "return_top_x": 5 }), StatusCode::OK),
            (
                DISCOVER,
                Method::POST,
                json!({ "prompt": "Once upon a time", "gen_tokens": 4, "return_top_x": 3, "spans": [[0, 4]] }),
                StatusCode::OK,
            ),
            (DISCOVER, Method::POST, json!({ "text": FOX, "score_mode": "median" }), StatusCode::BAD_REQUEST),
            ("/v1/sae/features/top", Method::POST, json!({ "text": "Hello world", "k": 3 }), StatusCode::OK),
            ("/v1/sae/features/top", Method::POST, json!({ "text": "", "k": 3 }), StatusCode::BAD_REQUEST),
            ("/v1/tokenize", Method::POST, json!({ "text": "Grüße aus Köln" }), StatusCode::OK),
            ("/v1/tokenize", Method::POST, json!({ "txt": "x" }), StatusCode::BAD_REQUEST),
            (
                "/v1/steer",
                Method::POST,
                json!({ "prompt": "The weather", "features": [{ "feature_id": 5, "coefficient": 2.0 }], "max_new_tokens": 3, "compare": true }),
                StatusCode::OK,
            ),
            (
                "/v1/steer",
                Method::POST,
                json!({ "prompt": "x", "features": [{ "feature_id": 99999, "coefficient": 2.0 }] }),
                StatusCode::BAD_REQUEST,
            ),
            ("/v1/sae/features/highlight", Method::POST, json!({ "text": "Hello world", "features": [1, 2] }), StatusCode::OK),
            ("/v1/sae/features/highlight", Method::POST, json!({ "text": "Hello world", "features": [] }), StatusCode::BAD_REQUEST),
            (
                "/v1/analysis/groups",
                Method::POST,
                json!({ "items": [
                { "group": "de", "text": "Der Hund läuft schnell." }, { "group": "de", "text": "Die Katze schläft." },
                { "group": "en", "text": "The dog runs fast." }, { "group": "en", "text": "The cat sleeps." } ],
                "select": { "strategy": "mean", "thresholds": { "min_preference_ratio": 2.0, "min_firing_rate": 0.5, "min_cv": 0.3 } } }),
                StatusCode::OK,
            ),
            ("/v1/analysis/groups", Method::POST, json!({ "items": [{ "group": "a/b", "text": "x" }] }), StatusCode::BAD_REQUEST),
            (
                "/v1/analysis/explore",
                Method::POST,
                json!({ "texts": [{ "text": "def f(x): return x", "category": "code" }, { "text": "Guten Morgen!", "category": "de" }], "strong": 1.0 }),
                StatusCode::OK,
            ),
            ("/v1/analysis/explore", Method::POST, json!({ "texts": [] }), StatusCode::BAD_REQUEST),
            ("/v1/analysis/concept", Method::POST, json!({ "texts": ["import os", "import sys"], "strong": 1.0, "k": 3 }), StatusCode::OK),
            ("/v1/analysis/concept", Method::POST, json!({ "texts": ["x"], "k": 0 }), StatusCode::BAD_REQUEST),
            ("/v1/analysis/drift", Method::POST, json!({ "a": [fox.clone(), hello.clone()], "b": [fox.clone(), hello] }), StatusCode::OK),
            ("/v1/analysis/drift", Method::POST, json!({ "a": [fox], "b": [] }), StatusCode::BAD_REQUEST),
            ("/v1/sae/logit-stats", Method::POST, json!({ "features": [1, 5, 9], "k": 3 }), StatusCode::OK),
            ("/v1/sae/logit-stats", Method::POST, json!({ "features": [1], "thresholds": { "high": 1 } }), StatusCode::BAD_REQUEST),
            ("/v1/sae/neighbors", Method::POST, json!({ "feature": 3, "k": 4 }), StatusCode::OK),
            ("/v1/sae/neighbors", Method::POST, json!({ "feature": 1_000_000, "k": 4 }), StatusCode::BAD_REQUEST),
            ("/v1/sae/neighbors", Method::POST, json!({ "k": 4 }), StatusCode::BAD_REQUEST),
            ("/v1/models", Method::GET, Value::Null, StatusCode::OK),
            ("/healthz", Method::GET, Value::Null, StatusCode::OK),
            ("/openapi.json", Method::GET, Value::Null, StatusCode::OK),
        ];
        for (path, method, body, want) in cases {
            let b = if method == Method::POST { Body::from(body.to_string()) } else { Body::empty() };
            let (status, v) = send(app(), method.clone(), path, b).await;
            assert_eq!(status, want, "{method} {path} {body}: {v}");
            validate(&doc, path, &method.as_str().to_lowercase(), status, &v);
        }
    }
}

/// `GET /v1/features/{sae}/{n}` and its dashboard, over an index of the committed corpus
/// sample built by the engine for this test: the same record as `saex feature --json`.
mod features {
    use super::*;

    fn indexed() -> &'static (tempfile::TempDir, Arc<(saex_engine::index_store::Index, saex_engine::IndexLabels)>) {
        static IX: OnceLock<(tempfile::TempDir, Arc<(saex_engine::index_store::Index, saex_engine::IndexLabels)>)> = OnceLock::new();
        IX.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let req = saex_engine::IndexBuildRequest {
                corpus: saex_testutil::root().join("corpus/sample.jsonl"),
                out: dir.path().to_path_buf(),
                options: saex_engine::index_store::IndexOptions::default(),
                shard: saex_engine::index_store::Shard::WHOLE,
                logits: false,
                logit_k: 10,
                checkpoint_secs: 3600,
            };
            saex_engine::index_build(&session(), &req, &mut |_| {}, None).unwrap();
            let ix = saex_engine::index_store::Index::open(dir.path()).unwrap();
            let labels = saex_engine::IndexLabels::load(&ix, &[], None).unwrap();
            (dir, Arc::new((ix, labels)))
        })
    }

    fn app_ix() -> Router {
        app_with(saex_server::Options { index: Some(indexed().1.clone()), ..Default::default() })
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_feature_record_is_the_engines() {
        let ix = indexed().1.clone();
        let stats = ix.0.all_stats(None).unwrap();
        let f = stats.iter().max_by_key(|(_, s)| s.firing_count).unwrap().0;
        let (status, v) = get(app_ix(), &format!("/v1/features/sae/{f}")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let want = saex_engine::feature(&ix.0, Some("sae"), f, &ix.1).unwrap();
        let got: saex_engine::index_store::FeatureRecord = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(got, want);
        assert!(want.label.is_some() || !shipped_labels().contains_key(&f));
        let doc = serde_json::to_value(saex_server::openapi()).unwrap();
        schemas::check(&doc, "/v1/features/{sae}/{feature}", "get", status, &v);
        // The dashboard page.
        let req = Request::builder().uri(format!("/v1/features/sae/{f}/dashboard")).body(Body::empty()).unwrap();
        let res = app_ix().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        let html = res.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&html).contains(&format!("\"feature_id\":{f}")));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unknown_features_and_saes_are_404_and_no_index_says_so() {
        let (status, v) = get(app_ix(), "/v1/features/sae/99999").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        assert!(v["error"].as_str().unwrap().contains("out of range"), "{v}");
        let (status, v) = get(app_ix(), "/v1/features/nope/1").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        let (status, v) = get(app_ix(), "/v1/features/sae/x").await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("feature")), "{v}");
        let (status, v) = get(app(), "/v1/features/sae/1").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(v["error"].as_str().unwrap().contains("--index"), "{v}");
    }
}
