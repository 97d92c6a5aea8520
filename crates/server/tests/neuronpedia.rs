//! Neuronpedia's inference API through `app().oneshot(..)`: every route's 200 against the
//! engine (values equal the encode pipeline's, steered text equals `steer`'s) and its
//! OpenAPI schema, the errors Neuronpedia answers (status and `{"error": …}`), casing, the
//! secret, and streaming. Gemma 3 270M with the demo SAE (source `6-saex-res-4k`), and for
//! chat SmolLM2 135M Instruct (which carries a chat template) with a random SAE.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use saex_engine::{Session, SessionOptions};
use serde_json::{json, Value};
use tower::ServiceExt;

const SRC: &str = "6-saex-res-4k";
const MODEL: &str = "gemma-3-270m";

fn session() -> Arc<Session> {
    static S: OnceLock<Arc<Session>> = OnceLock::new();
    S.get_or_init(|| {
        let model = saex_testutil::real_model("gemma-3-270m-q4_k_m.gguf");
        let sae = saex_testutil::root().join("demo/sae");
        let opts = SessionOptions { logits: true, ..Default::default() };
        Arc::new(Session::open(model.to_str().unwrap(), &[sae.to_str().unwrap().to_string()], opts).unwrap())
    })
    .clone()
}

fn app_with(opts: saex_server::Options) -> Router {
    saex_server::app(session(), &opts)
}

fn app() -> Router {
    app_with(Default::default())
}

async fn send(app: Router, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn post(app: Router, uri: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::post(uri).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap();
    let (status, ct, bytes) = send(app, req).await;
    assert!(ct.starts_with("application/json"), "{uri}: content type {ct}");
    let v = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

/// The encode pipeline's activations of the demo SAE on `text` (bos first), per token.
fn engine_acts(text: &str) -> (Vec<u32>, saex_engine::Encoded) {
    let s = session();
    let e = saex_engine::encode(&s, 0, text, true).unwrap();
    (e.tokens.clone(), e)
}

const FOX: &str = "The quick brown fox jumps over the lazy dog.";

/// Validate `body` against the schema the OpenAPI document gives for the path and status.
fn check_schema(path: &str, status: StatusCode, body: &Value) {
    let doc = serde_json::to_value(saex_server::openapi()).unwrap();
    let resp = &doc["paths"][path]["post"]["responses"][status.as_str()];
    assert!(resp.is_object(), "{path}: status {status} is not documented: {body}");
    let mut root = resp["content"]["application/json"]["schema"].clone();
    root["components"] = doc["components"].clone();
    let v = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = v.iter_errors(body).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{path} {status}: {errors:?}\n{body}");
}

mod routes {
    use super::*;

    #[tokio::test]
    async fn models_lists_the_model_and_source_ids() {
        let req = Request::get("/v1/models").body(Body::empty()).unwrap();
        let (status, _, bytes) = send(app(), req).await;
        assert_eq!(status, StatusCode::OK);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["neuronpedia"]["model"], MODEL);
        assert_eq!(v["neuronpedia"]["sources"][0]["id"], SRC);
        assert_eq!(v["neuronpedia"]["sources"][0]["decoder_norm_scaled"], false, "TopK: Neuronpedia does not fold");
        assert_eq!(v["neuronpedia"]["source_sets"], json!(["saex-res-4k"]));
        assert_eq!(v["saes"][0]["hook"], "blocks.6.hook_resid_pre", "the old fields stay");
    }

    #[tokio::test]
    async fn health_is_neuronpedias() {
        let (status, _, bytes) = send(app(), Request::get("/health").body(Body::empty()).unwrap()).await;
        assert_eq!((status, serde_json::from_slice::<Value>(&bytes).unwrap()), (StatusCode::OK, json!({"status": "healthy"})));
    }

    #[tokio::test]
    async fn activation_all_equals_the_encode_pipeline() {
        let body = json!({"prompt": FOX, "model": MODEL, "source_set": "saex-res-4k", "selected_sources": [],
                          "sort_by_token_indexes": [], "ignore_bos": true, "num_results": 10});
        let (status, v) = post(app(), "/v1/activation/all", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/activation/all", status, &v);
        let (ids, enc) = engine_acts(FOX);
        let tokens = v["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), ids.len());
        assert_eq!(tokens[0], "<bos>");
        let rows = v["activations"].as_array().unwrap();
        assert_eq!(rows.len(), 10);
        let mut prev = f64::INFINITY;
        for r in rows {
            assert_eq!(r["source"], SRC);
            let f = r["index"].as_u64().unwrap() as u32;
            let col = enc.acts.column(f);
            let values: Vec<f32> = r["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            assert_eq!(values[0], 0.0, "ignore_bos zeroes bos");
            assert_eq!(values[1..], col[1..], "feature {f}");
            let max = r["max_value"].as_f64().unwrap();
            assert!(max <= prev);
            prev = max;
            assert_eq!(values[r["max_value_index"].as_u64().unwrap() as usize], max as f32);
        }
        // sort_by_token_indexes ranks by the sum there.
        let body = json!({"prompt": FOX, "model": MODEL, "sourceSet": "saex-res-4k", "selectedSources": [SRC],
                          "sortByTokenIndexes": [3], "ignoreBos": false, "numResults": 3});
        let (status, v) = post(app(), "/v1/activation/all", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let best = v["activations"][0].clone();
        assert_eq!(best["sumValues"], best["values"][3], "camelCase in, camelCase out: {best}");
        let top3 = enc.acts.token(3).unwrap().1.iter().cloned().fold(0f32, f32::max);
        assert_eq!(best["sumValues"].as_f64().unwrap() as f32, top3);
    }

    #[tokio::test]
    async fn batches_are_one_answer_per_prompt() {
        let body = json!({"prompts": ["Hello world", FOX], "model": MODEL, "source_set": "saex-res-4k", "selected_sources": [],
                          "sort_by_token_indexes": [], "ignore_bos": true, "num_results": 2});
        let (status, v) = post(app(), "/v1/activation/all-batch", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/activation/all-batch", status, &v);
        assert_eq!(v["results"].as_array().unwrap().len(), 2);
        assert_eq!(v["results"][0]["tokens"], json!(["<bos>", "Hello", " world"]));
        let body = json!({"prompts": ["a", "b", "c", "d", "e"], "model": MODEL, "source": SRC, "index": "1"});
        let (status, v) = post(app(), "/v1/activation/single-batch", body).await;
        assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("Batch size 5 exceeds maximum of 4")));
        let body = json!({"prompts": ["Hello world", "Hi"], "model": MODEL, "source": SRC, "index": "1"});
        let (status, v) = post(app(), "/v1/activation/single-batch", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/activation/single-batch", status, &v);
        let body = json!({"prompts": ["Hello world", "Hi"], "model": MODEL, "source": SRC, "top_k": 2, "ignore_bos": true});
        let (status, v) = post(app(), "/v1/activation/topk-by-token-batch", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/activation/topk-by-token-batch", status, &v);
        assert_eq!(v["results"][1]["tokens"], json!(["Hi"]));
    }

    #[tokio::test]
    async fn single_is_the_features_column_without_bos() {
        let (ids, enc) = engine_acts(FOX);
        let f = enc.acts.token(2).unwrap().0[0];
        let body = json!({"prompt": FOX, "model": MODEL, "source": SRC, "index": f.to_string()});
        let (status, v) = post(app(), "/v1/activation/single", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/activation/single", status, &v);
        let values: Vec<f32> = v["activation"]["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        assert_eq!(values, enc.acts.column(f)[1..]);
        assert_eq!(v["tokens"].as_array().unwrap().len(), ids.len() - 1);
        assert!(v["activation"]["max_value_index"].is_u64());
        assert_eq!(v["tokens_is_special"].as_array().unwrap().len(), ids.len() - 1);
        assert!(v.get("tokensIsSpecial").is_some(), "an all-one-word request gets both casings");
        // A vector at a hook: the dot product with the hook's value, bos kept.
        let dir = saex_engine::neuronpedia::sae_vector(
            &session(),
            &saex_engine::neuronpedia::Neuronpedia::with_defaults(&session()),
            &serde_json::from_value(json!({"model": MODEL, "source": SRC, "index": f})).unwrap(),
        )
        .unwrap();
        let body = json!({"prompt": FOX, "model": MODEL, "vector": dir.vector, "hook": "blocks.6.hook_resid_pre"});
        let (status, v) = post(app(), "/v1/activation/single", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["tokens"].as_array().unwrap().len(), ids.len());
    }

    #[tokio::test]
    async fn topk_by_token_and_source_match_the_codes() {
        let (ids, enc) = engine_acts(FOX);
        let body = json!({"prompt": FOX, "model": MODEL, "source": SRC, "top_k": 3, "ignore_bos": true});
        let (status, v) = post(app(), "/v1/activation/topk-by-token", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/activation/topk-by-token", status, &v);
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), ids.len() - 1);
        assert_eq!(results[0]["token_position"], 1, "absolute positions");
        for r in results {
            let t = r["token_position"].as_u64().unwrap() as usize;
            let (fs, vs) = enc.acts.token(t).unwrap();
            let mut want: Vec<(u32, f32)> = fs.iter().copied().zip(vs.iter().copied()).collect();
            want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let got: Vec<(u32, f32)> = r["top_features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| (x["feature_index"].as_u64().unwrap() as u32, x["activation_value"].as_f64().unwrap() as f32))
                .collect();
            assert_eq!(got, want[..3]);
        }
        let (status, v) = post(app(), "/v1/activation/source", json!({"prompts": [FOX], "model": MODEL, "source": SRC})).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/activation/source", status, &v);
        let active = v["results"][0]["activeFeatures"].as_object().unwrap();
        let nnz: usize = (1..ids.len()).map(|t| enc.acts.token(t).unwrap().0.len()).sum();
        assert_eq!(active.values().map(|p| p.as_array().unwrap().len()).sum::<usize>(), nnz, "every nonzero but bos's");
        for (f, pairs) in active {
            for p in pairs.as_array().unwrap() {
                let (t, x) = (p[0].as_u64().unwrap() as usize, p[1].as_f64().unwrap());
                let want = enc.acts.get(t, f.parse().unwrap()) as f64;
                assert!((x - want).abs() <= 5e-4, "feature {f} token {t}: {x} vs {want}");
            }
        }
    }

    #[tokio::test]
    async fn tokenize_answers_each_dialect() {
        let (status, v) = post(app(), "/v1/tokenize", json!({"model": MODEL, "text": "Hello world"})).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/tokenize", status, &v);
        assert_eq!(v["tokens"], json!([2, 9259, 1902]));
        assert_eq!(v["token_strings"], json!(["<bos>", "Hello", " world"]));
        assert_eq!(v["prepend_bos"], true);
        let (_, v) = post(app(), "/v1/tokenize", json!({"model": MODEL, "text": "Hello world", "prepend_bos": false})).await;
        assert_eq!((v["tokens"].clone(), v["prepend_bos"].clone()), (json!([9259, 1902]), json!(false)));
        let (_, v) = post(app(), "/v1/tokenize", json!({"text": "Hello world"})).await;
        assert_eq!(v["ids"], json!([2, 9259, 1902]), "saex's own form still answers");
    }

    #[tokio::test]
    async fn util_routes() {
        let (status, v) = post(app(), "/v1/util/sae-vector", json!({"model": MODEL, "source": SRC, "index": 5})).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/util/sae-vector", status, &v);
        assert_eq!(v["hookName"], "blocks.6.hook_resid_pre");
        let col: Vec<f32> = session().saes[0].sae.w_enc().narrow(1, 5, 1).unwrap().squeeze(1).unwrap().to_vec1().unwrap();
        let got: Vec<f32> = v["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        assert_eq!(got, col, "TopK: W_enc[:, 5] unscaled");
        let body = json!({"feature": {"model": MODEL, "source": SRC, "index": 5}, "model": MODEL, "source": SRC, "num_results": 4});
        let (status, v) = post(app(), "/v1/util/sae-topk-by-decoder-cossim", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/util/sae-topk-by-decoder-cossim", status, &v);
        let top = v["topk_decoder_cossim_features"].as_array().unwrap();
        assert_eq!(top.len(), 4);
        assert_eq!(top[0]["feature"]["index"], 5);
        assert!((top[0]["cosine_similarity"].as_f64().unwrap() - 1.0).abs() < 1e-5);
        // Against a direct computation over all 4096 rows.
        let w = session().saes[0].sae.w_dec().clone();
        let rows: Vec<Vec<f32>> = w.to_vec2().unwrap();
        let cos = |a: &[f32], b: &[f32]| {
            let d: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            d / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
        };
        let mut all: Vec<(usize, f32)> = rows.iter().enumerate().map(|(i, r)| (i, cos(r, &rows[5]))).collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (got, want) in top.iter().zip(&all) {
            assert_eq!(got["feature"]["index"].as_u64().unwrap() as usize, want.0);
            assert!((got["cosine_similarity"].as_f64().unwrap() as f32 - want.1).abs() < 1e-5);
        }
    }
}

fn steer_body(prompt: &str, types: Value, extra: Value) -> Value {
    let mut b = json!({"prompt": prompt, "model": MODEL, "steer_method": "SIMPLE_ADDITIVE", "normalize_steering": false,
        "types": types, "features": [{"model": MODEL, "source": SRC, "index": 342, "strength": 2.5}],
        "n_completion_tokens": 8, "temperature": 0.7, "strength_multiplier": 2, "freq_penalty": 0, "seed": 11,
        "stream": false, "n_logprobs": 0});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

const MATH: &str = "The area of a circle is $A = \\pi r^2$, where";

mod steering {
    use super::*;

    /// strength 2.5 × multiplier 2 = `saex steer --feature 342=5`, same seed and temperature.
    #[tokio::test]
    async fn additive_steering_is_saex_steer() {
        let (status, v) = post(app(), "/v1/steer/completion", steer_body(MATH, json!(["STEERED", "DEFAULT"]), json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/steer/completion", status, &v);
        let req: saex_engine::SteerRequest = serde_json::from_value(json!({"prompt": MATH,
            "features": [{"feature_id": 342, "coefficient": 5.0}], "max_new_tokens": 8, "temperature": 0.7, "seed": 11, "compare": true}))
        .unwrap();
        let want = saex_engine::steer(&session(), &req, None).unwrap();
        assert_eq!(v["outputs"][0]["type"], "STEERED");
        assert_eq!(v["outputs"][0]["output"], format!("{MATH}{}", want.steered));
        assert_eq!(v["outputs"][1]["type"], "DEFAULT");
        assert_eq!(v["outputs"][1]["output"], format!("{MATH}{}", want.baseline.unwrap()));
        assert!(v["outputs"][0].get("logprobs").is_none(), "omitted when n_logprobs is 0");
    }

    #[tokio::test]
    async fn other_methods_vectors_logprobs_and_penalty() {
        let v342: Vec<f32> = session().saes[0].sae.w_dec().get(342).unwrap().to_vec1().unwrap();
        for method in ["ORTHOGONAL_DECOMP", "PROJECTION_CAP"] {
            let body = steer_body(MATH, json!(["STEERED"]), json!({"steer_method": method, "temperature": 0, "n_logprobs": 3}));
            let (status, v) = post(app(), "/v1/steer/completion", body).await;
            assert_eq!(status, StatusCode::OK, "{method}: {v}");
            let lps = v["outputs"][0]["logprobs"].as_array().unwrap();
            assert!(!lps.is_empty() && lps.len() <= 8);
            for lp in lps {
                let top = lp["top_logprobs"].as_array().unwrap();
                assert_eq!(top.len(), 3);
                // Greedy: the chosen token is the most likely one.
                assert_eq!(lp["logprob"], top[0]["logprob"], "{method}: {lp}");
            }
        }
        // A raw vector equal to the decoder row steers as the feature does.
        let body = steer_body(
            MATH,
            json!(["STEERED"]),
            json!({"features": null,
            "vectors": [{"steering_vector": v342, "strength": 2.5, "hook": "blocks.6.hook_resid_pre"}]}),
        );
        let mut body = body;
        body.as_object_mut().unwrap().remove("features");
        let (status, by_vector) = post(app(), "/v1/steer/completion", body).await;
        assert_eq!(status, StatusCode::OK, "{by_vector}");
        let (_, by_feature) = post(app(), "/v1/steer/completion", steer_body(MATH, json!(["STEERED"]), json!({}))).await;
        assert_eq!(by_vector["outputs"][0]["output"], by_feature["outputs"][0]["output"]);
        // A frequency penalty changes sampled text (and is seeded).
        let pen = steer_body(MATH, json!(["DEFAULT"]), json!({"freq_penalty": 2.0, "n_completion_tokens": 16}));
        let (_, a) = post(app(), "/v1/steer/completion", pen.clone()).await;
        let (_, b) = post(app(), "/v1/steer/completion", pen).await;
        assert_eq!(a, b);
    }

    #[tokio::test]
    async fn streaming_is_cumulative_sse_ending_in_the_answer() {
        let body = steer_body(MATH, json!(["STEERED", "DEFAULT"]), json!({"stream": true}));
        let req = Request::post("/v1/steer/completion")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, ct, bytes) = send(app(), req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct, "text/event-stream");
        let text = String::from_utf8(bytes).unwrap();
        let frames: Vec<Value> = text
            .split("\n\n")
            .filter(|f| !f.is_empty())
            .map(|f| serde_json::from_str(f.strip_prefix("data: ").unwrap()).unwrap())
            .collect();
        assert!(frames.len() >= 2, "{text}");
        assert_eq!(frames[0]["outputs"][1]["output"], "", "DEFAULT not started yet");
        let mut plain = body.clone();
        plain["stream"] = json!(false);
        let (_, answer) = post(app(), "/v1/steer/completion", plain).await;
        assert_eq!(frames.last().unwrap(), &answer);
        for w in frames.windows(2) {
            let (a, b) = (w[0]["outputs"][0]["output"].as_str().unwrap(), w[1]["outputs"][0]["output"].as_str().unwrap());
            assert!(b.starts_with(a) || a.is_empty(), "cumulative: {a:?} then {b:?}");
        }
    }

    #[tokio::test]
    async fn chat_without_a_template_names_the_model() {
        let mut body = steer_body(MATH, json!(["STEERED"]), json!({"steer_special_tokens": true}));
        body["prompt"] = json!([{"role": "user", "content": "Hi"}]);
        let (status, v) = post(app(), "/v1/steer/completion-chat", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        let e = v["error"].as_str().unwrap();
        assert!(e.contains("no chat template") && e.contains("Gemma"), "{e}");
    }
}

mod errors {
    use super::*;

    async fn bad(uri: &str, body: Value, status: StatusCode, needle: &str) {
        let (got, v) = post(app(), uri, body.clone()).await;
        assert_eq!(got, status, "{uri} {body}: {v}");
        let e = v["error"].as_str().unwrap_or_else(|| panic!("no error string: {v}"));
        assert!(e.contains(needle), "{uri}: {e:?} lacks {needle:?}");
        check_schema(uri, got, &v);
    }

    #[tokio::test]
    async fn neuronpedias_statuses_and_bodies() {
        let all = |extra: Value| {
            let mut b = json!({"prompt": FOX, "model": MODEL, "source_set": "saex-res-4k", "selected_sources": [],
                               "sort_by_token_indexes": [], "ignore_bos": true});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        bad("/v1/activation/all", all(json!({"source_set": "res-jb"})), StatusCode::BAD_REQUEST, "Invalid source set").await;
        bad("/v1/activation/all", all(json!({"model": "gpt2-small"})), StatusCode::BAD_REQUEST, "Unsupported model").await;
        bad("/v1/activation/all", all(json!({"selected_sources": ["7-res-jb"]})), StatusCode::BAD_REQUEST, "Invalid SAE ID").await;
        bad("/v1/activation/all", all(json!({"prompt": "word ".repeat(300)})), StatusCode::BAD_REQUEST, "max is 200").await;
        bad("/v1/activation/all", json!({"prompt": FOX}), StatusCode::UNPROCESSABLE_ENTITY, "missing field").await;
        let single = json!({"prompt": FOX, "model": MODEL, "source": SRC, "index": "4096"});
        bad(
            "/v1/activation/single",
            single,
            StatusCode::BAD_REQUEST,
            "Feature index 4096 is out of range for 6-saex-res-4k, which has 4096 features",
        )
        .await;
        bad("/v1/activation/single", json!({"prompt": FOX, "model": MODEL, "source": SRC}), StatusCode::BAD_REQUEST, "exactly one of")
            .await;
        bad(
            "/v1/activation/topk-by-token",
            json!({"prompt": FOX, "model": MODEL, "source": "6-res-jb", "ignore_bos": true}),
            StatusCode::BAD_REQUEST,
            "Invalid SAE ID or type: 6-res-jb",
        )
        .await;
        let b = json!({"prompts": ["x ".repeat(60)], "model": MODEL, "source": SRC, "index": "1"});
        bad("/v1/activation/single-batch", b, StatusCode::BAD_REQUEST, "max is 50.0 for batch requests").await;
        bad("/v1/util/sae-vector", json!({"model": MODEL, "source": SRC, "index": 99999}), StatusCode::BAD_REQUEST, "out of range").await;
        let both = json!({"feature": {"model": MODEL, "source": SRC, "index": 1}, "vector": [0.0], "model": MODEL, "source": SRC, "num_results": 3});
        bad("/v1/util/sae-topk-by-decoder-cossim", both, StatusCode::BAD_REQUEST, "exactly one of feature or vector").await;
        let mut s = steer_body(FOX, json!(["STEERED"]), json!({}));
        s["features"][0]["index"] = json!(5000);
        bad("/v1/steer/completion", s, StatusCode::BAD_REQUEST, "Feature index 5000").await;
        let s = steer_body(FOX, json!(["STEERED"]), json!({"steer_method": "CLAMP"}));
        bad("/v1/steer/completion", s, StatusCode::UNPROCESSABLE_ENTITY, "CLAMP").await;
        let s = steer_body(
            FOX,
            json!(["STEERED"]),
            json!({"vectors": [{"steering_vector": [1.0], "strength": 1, "hook": "blocks.6.hook_resid_pre"}]}),
        );
        bad("/v1/steer/completion", s, StatusCode::BAD_REQUEST, "exactly one of features or vectors").await;
        // An unknown route stays saex's JSON 404.
        let (status, _) = post(app(), "/v1/activation/nope", json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_secret_is_checked_except_for_liveness() {
        let app = || app_with(saex_server::Options { secret: Some(saex_server::Secret("s3cret".into())), ..Default::default() });
        let body = json!({"model": MODEL, "text": "Hi"}).to_string();
        let req = |key: Option<&str>| {
            let mut r = Request::post("/v1/tokenize").header(header::CONTENT_TYPE, "application/json");
            if let Some(k) = key {
                r = r.header("X-SECRET-KEY", k);
            }
            r.body(Body::from(body.clone())).unwrap()
        };
        for key in [None, Some("wrong"), Some("s3cret ")] {
            let (status, _, bytes) = send(app(), req(key)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), json!({"error": "Invalid or missing X-SECRET-KEY header"}));
        }
        assert_eq!(send(app(), req(Some("s3cret"))).await.0, StatusCode::OK);
        assert_eq!(send(app(), Request::get("/health").body(Body::empty()).unwrap()).await.0, StatusCode::OK);
        assert_eq!(send(app(), Request::get("/v1/models").body(Body::empty()).unwrap()).await.0, StatusCode::UNAUTHORIZED);
    }
}

/// SmolLM2 135M Instruct (ChatML template in its GGUF) with a random SAE at layer 3.
mod chat {
    use super::*;

    fn smol() -> &'static (tempfile::TempDir, Arc<Session>) {
        static S: OnceLock<(tempfile::TempDir, Arc<Session>)> = OnceLock::new();
        S.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            write_random_sae(dir.path(), 576, 64, "blocks.3.hook_resid_pre");
            let model = saex_testutil::real_model("SmolLM2-135M-Instruct.Q4_1.gguf");
            let opts = SessionOptions { logits: true, ..Default::default() };
            let s = Session::open(model.to_str().unwrap(), &[dir.path().to_str().unwrap().to_string()], opts).unwrap();
            (dir, Arc::new(s))
        })
    }

    pub fn write_random_sae(dir: &std::path::Path, d_in: usize, d_sae: usize, hook: &str) {
        saex_testutil::write_random_sae(dir, saex_testutil::RandomSae { d_in, d_sae, hook, seed: 1, scale: 1.0, b_dec_scale: 1.0 });
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn chat_through_the_models_template() {
        let (_, s) = smol();
        let app = saex_server::app(s.clone(), &Default::default());
        let np = saex_engine::neuronpedia::Neuronpedia::with_defaults(s);
        assert_eq!(np.sources[0].id, "3-saex-res-64");
        assert!(np.sources[0].dec_norms.is_some(), "a standard SAE: values scaled by the decoder norms");
        let body = json!({"prompt": [{"role": "user", "content": "What is the capital of France?"}], "model": np.model,
            "steer_method": "SIMPLE_ADDITIVE", "normalize_steering": false, "types": ["STEERED", "DEFAULT"],
            "features": [{"model": np.model, "source": "3-saex-res-64", "index": 7, "strength": 40}],
            "n_completion_tokens": 6, "temperature": 0, "strength_multiplier": 1, "freq_penalty": 0, "seed": 1,
            "stream": false, "n_logprobs": 0, "is_assistant_axis": false, "steer_special_tokens": false});
        let (status, v) = post(app.clone(), "/v1/steer/completion-chat", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        check_schema("/v1/steer/completion-chat", status, &v);
        let raw = v["input"]["raw"].as_str().unwrap();
        assert!(
            raw.starts_with("<|im_start|>system\n")
                && raw.ends_with("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"),
            "{raw}"
        );
        for out in v["outputs"].as_array().unwrap() {
            assert!(out["raw"].as_str().unwrap().starts_with(raw));
            let turns = out["chat_template"].as_array().unwrap();
            assert_eq!(turns.len(), 2);
            assert_eq!(turns[1]["role"], "assistant");
        }
        assert_eq!(v["outputs"][1]["type"], "DEFAULT");
        // DEFAULT is the model's own greedy answer.
        let ids = s.tokenize_ids(raw, false).unwrap();
        let greedy = s.model.generate(&ids, 6, &saex_model_sampling()).unwrap();
        assert_eq!(v["outputs"][1]["chat_template"][1]["content"], s.model.tokenizer.hf_tokenizer().decode(&greedy, true).unwrap());
        // Streamed, the last frame is the answer.
        let mut sb = body;
        sb["stream"] = json!(true);
        let req = Request::post("/v1/steer/completion-chat")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(sb.to_string()))
            .unwrap();
        let (status, ct, bytes) = send(app, req).await;
        assert_eq!((status, ct.as_str()), (StatusCode::OK, "text/event-stream"));
        let text = String::from_utf8(bytes).unwrap();
        let last = text.trim_end().rsplit("\n\n").next().unwrap().strip_prefix("data: ").unwrap();
        assert_eq!(serde_json::from_str::<Value>(last).unwrap(), v);
    }

    fn saex_model_sampling() -> saex_model::Sampling {
        saex_model::Sampling { temperature: 0.0, top_p: 1.0, seed: 1 }
    }
}
