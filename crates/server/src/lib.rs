//! # Brief overview
//!
//! `saex-server` is saex's HTTP API, thin over the libraries: one loaded [`Session`] (a
//! model and its SAEs) shared by every request. [`app`] builds the axum `Router`; [`serve`]
//! binds it and runs until Ctrl-C.
//!
//! | route | body → response |
//! |---|---|
//! | `POST /v1/sae/features/discover` | seed 002's request → its response ([`saex_discover`]) |
//! | `POST /v1/sae/features/top` | [`TopRequest`] → [`saex_engine::TopReport`] |
//! | `POST /v1/tokenize` | [`TokenizeRequest`] → [`saex_engine::Tokenized`] |
//! | `POST /v1/steer` | [`SteerRequest`] → [`saex_engine::Steered`] |
//! | `GET /v1/models` | the loaded model and SAEs |
//! | `GET /healthz` | `{"status": "ok"}` |
//! | `GET /openapi.json` | the OpenAPI 3.1 document |
//!
//! Model work runs on tokio's blocking pool behind a semaphore (the async threads keep
//! accepting and answering `healthz`), each request under a time limit. Bodies are size
//! limited. A bad request gets a 4xx whose JSON names the field; internal errors get a 500
//! with a generic body and are logged on stderr.
//!
//! ```no_run
//! use std::sync::Arc;
//! use saex_discover::{Session, SessionOptions};
//!
//! let session = Session::open("gemma-3-270m-q4_k_m.gguf", &["demo/sae".into()], SessionOptions { logits: true, ..Default::default() })?;
//! let router = saex_server::app(Arc::new(session), &saex_server::Options::default());
//! # let _ = router;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod error;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use saex_discover::Session;
use tokio::sync::Semaphore;

pub use error::ApiError;
pub use routes::{SteerRequest, TokenizeRequest, TopRequest};

/// Limits of a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests running model work at once; more wait their turn (within the time limit).
    pub max_concurrent: usize,
    /// Longest a request may wait and run.
    pub timeout: Duration,
    /// Largest request body, in bytes.
    pub body_limit: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_concurrent: 2, timeout: Duration::from_secs(120), body_limit: 1 << 20 }
    }
}

/// What every handler shares.
#[derive(Clone)]
struct State {
    session: Arc<Session>,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

/// The OpenAPI document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The router over `session`.
pub fn app(session: Arc<Session>, opts: &Options) -> Router {
    let state = State { session, permits: Arc::new(Semaphore::new(opts.max_concurrent.max(1))), timeout: opts.timeout };
    Router::new()
        .route("/v1/sae/features/discover", post(routes::discover))
        .route("/v1/sae/features/top", post(routes::top))
        .route("/v1/tokenize", post(routes::tokenize))
        .route("/v1/steer", post(routes::steer))
        .route("/v1/models", get(routes::models))
        .route("/healthz", get(routes::healthz))
        .route("/openapi.json", get(routes::openapi))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(opts.body_limit))
        .with_state(state)
}

/// Bind `addr` and serve `session` until Ctrl-C; `on_listen` gets the bound address (port 0
/// picks a free one).
pub fn serve(addr: SocketAddr, session: Session, opts: Options, on_listen: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        on_listen(listener.local_addr()?);
        let router = app(Arc::new(session), &opts);
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                // If the signal handler cannot be installed, run until killed.
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
            .await
    })
}
