//! The HTTP target: every route of `saex serve` (saex's own and Neuronpedia's), called
//! through the real router (`saex_server::app`) on the tiny GPT-2 fixture and its SAE, so a
//! request that parses also runs the engine. An input is `METHOD PATH\nBODY`; mutations reach
//! the method, the path (path traversal, odd percent-escapes, huge ids) and the body alike.
//! A response is a finding when the server answers 5xx for anything but a busy/timeout
//! (503/504): a panic or an internal error is a bug, bad input must be a 4xx.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request};
use http_body_util::BodyExt;
use saex_engine::{Session, SessionOptions};
use tower::ServiceExt;

/// Where the seeds are (repo-relative): requests separated by lines of `===`.
pub const SEEDS: &str = "fuzz/seeds/http.txt";

/// The router on the tiny model, with its runtime.
pub struct HttpTarget {
    app: axum::Router,
    rt: tokio::runtime::Runtime,
}

impl HttpTarget {
    /// The tiny GPT-2 and its SAE from `root`'s fixtures; labels in `scratch`.
    pub fn new(root: &Path, scratch: &Path) -> anyhow::Result<(HttpTarget, Vec<Vec<u8>>)> {
        let model = root.join("fixtures/parity/tiny/gpt2").display().to_string();
        let sae = root.join("fixtures/models/tiny-gpt2-l1").display().to_string();
        let opts = SessionOptions { registry: Some(scratch.join("labels")), logits: true, ..Default::default() };
        let session = Arc::new(Session::open(&model, &[sae], opts)?);
        let np = saex_engine::neuronpedia::Neuronpedia::with_defaults(&session);
        let src = np.sources.first().map(|s| s.id.clone()).unwrap_or_default();
        let set = np.sets().first().cloned().unwrap_or_default();
        let sae_id = session.saes[0].id.replace('/', "%2F");
        let opts = saex_server::Options {
            timeout: std::time::Duration::from_secs(20),
            explain_fetch: saex_engine::saex_labels::fetch::FetchOptions {
                // Nothing listens there: a fetch must fail fast, not reach a network.
                base_url: "http://127.0.0.1:9".into(),
                retries: 0,
                timeout: std::time::Duration::from_millis(200),
                cache_dir: None,
                ..Default::default()
            },
            ..Default::default()
        };
        let app = saex_server::app(session, &opts);
        let text = std::fs::read_to_string(root.join(SEEDS))?
            .replace("$MODEL", &np.model)
            .replace("$SRC", &src)
            .replace("$SET", &set)
            .replace("$SAE", &sae_id);
        let seeds = text.split("\n===\n").map(|s| s.trim().as_bytes().to_vec()).collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok((HttpTarget { app, rt }, seeds))
    }

    /// Send one input; `Err` is a rejected input (not a request, or a 4xx), `Ok` a 2xx, and
    /// a 5xx other than 503/504 is returned as a finding.
    pub fn run(&self, input: &[u8]) -> Result<Result<(), String>, String> {
        let (head, body) = match input.iter().position(|&b| b == b'\n') {
            Some(i) => (&input[..i], input[i + 1..].to_vec()),
            None => (input, Vec::new()),
        };
        let head = String::from_utf8_lossy(head);
        let mut parts = head.splitn(2, ' ');
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else { return Ok(Err("no request line".into())) };
        let Ok(method) = Method::from_bytes(method.as_bytes()) else { return Ok(Err("bad method".into())) };
        let Ok(req) =
            Request::builder().method(method).uri(path.trim()).header(header::CONTENT_TYPE, "application/json").body(Body::from(body))
        else {
            return Ok(Err("bad uri".into()));
        };
        let (status, bytes) = self.rt.block_on(async {
            let res = self.app.clone().oneshot(req).await.expect("the router is infallible");
            let status = res.status();
            (status, res.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default())
        });
        let text = String::from_utf8_lossy(&bytes);
        if status.is_server_error() && status.as_u16() != 503 && status.as_u16() != 504 {
            return Err(format!("{status} for {head}: {}", text.chars().take(300).collect::<String>()));
        }
        if status.is_success() {
            Ok(Ok(()))
        } else {
            Ok(Err(format!("{status}: {}", text.chars().take(120).collect::<String>())))
        }
    }
}
