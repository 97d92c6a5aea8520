//! # Brief overview
//!
//! `saex-server` is saex's HTTP API, thin over the engine: one loaded
//! [`saex_engine::Session`] shared by every request, each route a call of the engine
//! function its CLI verb calls, returning the same JSON. [`app`] builds the axum `Router`;
//! [`serve`] binds it and runs until Ctrl-C; [`openapi`] is the OpenAPI document, derived
//! from the request and response types (utoipa), served at `/openapi.json`.
//!
//! | route | body → response | engine |
//! |---|---|---|
//! | `POST /v1/sae/features/discover` | seed 002's request → its response | `discover` |
//! | `POST /v1/sae/features/top` | `TopRequest` → `TopReport` | `top` |
//! | `POST /v1/tokenize` | `TokenizeRequest` → `Tokenized` | `tokenize` |
//! | `POST /v1/steer` | `SteerRequest` → `Steered` | `steer` |
//! | `POST /v1/sae/features/highlight` | `HighlightRequest` → `Highlighted` | `highlight` |
//! | `POST /v1/analysis/groups` | `GroupsRequest` → `GroupsReport` (seed 000) | `groups` |
//! | `POST /v1/analysis/explore` | `ExploreRequest` → `ExploreReport` (seed 001) | `explore` |
//! | `POST /v1/analysis/concept` | `ConceptRequest` → `ConceptReport` (seed 001) | `concept` |
//! | `POST /v1/analysis/drift` | two lists of discover results → `Drift` | `drift` |
//! | `POST /v1/sae/logit-stats` | `LogitStatsRequest` → `LogitStatsReport` (seed 004) | `logit_stats` |
//! | `POST /v1/sae/neighbors` | `NeighborsRequest` → `[Neighbor]` (exact cosine) | `neighbors` |
//! | `POST /v1/sae/map` | `MapRequest` → `MapReport` (seed 000's feature map) | `map` |
//! | `GET /v1/features/{sae}/{n}` | a feature's index record (`saex feature --json`) | `feature` |
//! | `GET /v1/features/{sae}/{n}/dashboard` | its dashboard page (HTML) | `feature` |
//! | `GET /v1/labels/{sae}` | an SAE's label registry (`saex label list --json`) | `label_list` |
//! | `POST /v1/labels/{sae}` | seed 003's registry → `ImportReport` | `label_import` |
//! | `GET /v1/labels/{sae}/{n}` | a feature's entry | `label_get` |
//! | `PUT /v1/labels/{sae}/{n}` | fields to set → the entry | `label_set` |
//! | `POST /v1/labels/auto` | `AutoRequest` → `AutoReport` (needs `--index`) | `label_auto` |
//! | `POST /v1/explain/import` | Neuronpedia explanation rows → `ImportReport` | `explain_import` |
//! | `POST /v1/explain/fetch` | `FetchRequest` → `FetchReport` | `explain_fetch` |
//! | `GET /v1/models` | the loaded model and SAEs | `loaded` |
//! | `GET /healthz` | `{"status": "ok"}` | |
//! | `GET /openapi.json` | the OpenAPI 3.1 document | |
//!
//! Model work runs on tokio's blocking pool behind a semaphore (the async threads keep
//! accepting and answering `healthz`), each request under a time limit. Bodies are size
//! limited. A bad request gets a 4xx whose JSON names the field; internal errors get a 500
//! with a generic body and are logged. Every request is logged through `tracing` with its
//! status and latency (`RUST_LOG=saex_server=info`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use saex_engine::{Session, SessionOptions};
//!
//! let session = Session::open("gemma-3-270m-q4_k_m.gguf", &["demo/sae".into()], SessionOptions { logits: true, ..Default::default() })?;
//! let router = saex_server::app(Arc::new(session), &saex_server::Options::default());
//! # let _ = router;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod error;
mod labels;
mod neuronpedia;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use saex_engine::saex_labels::fetch::FetchOptions;
use saex_engine::Session;
use tokio::sync::Semaphore;
use utoipa::OpenApi;

pub use error::{ApiError, ErrorBody};
pub use neuronpedia::wire::{NpErrorBody, Secret};

/// Limits of one route that differ from the server's (`None`: the server's). Keyed in
/// [`Options::routes`] by the route's path as [`route_paths`] lists it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteLimits {
    /// Requests of this route running model work at once, within the server's
    /// `max_concurrent` (a slot of each is needed).
    pub max_concurrent: Option<usize>,
    /// Longest a request of this route may wait and run.
    pub timeout: Option<Duration>,
    /// Largest request body of this route, in bytes.
    pub body_limit: Option<usize>,
}

/// Limits of a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests running model work at once; more wait their turn (within the time limit).
    pub max_concurrent: usize,
    /// Longest a request may wait and run.
    pub timeout: Duration,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// A corpus activation index to answer `/v1/features/...` from, with its labels.
    pub index: Option<Arc<(saex_engine::index_store::Index, saex_engine::IndexLabels)>>,
    /// How `/v1/explain/fetch` asks Neuronpedia (its address, the server's API key, cache).
    pub explain_fetch: FetchOptions,
    /// The session's SAEs as Neuronpedia sources (`None`: the default names).
    pub neuronpedia: Option<Arc<saex_engine::neuronpedia::Neuronpedia>>,
    /// The `X-SECRET-KEY` every request but liveness must carry (`None`: no check).
    pub secret: Option<Secret>,
    /// Per-route limits, by route path (e.g. a longer time limit for `/v1/sae/logit-stats`,
    /// one slot for `/v1/steer`, small bodies for `/v1/tokenize`).
    pub routes: HashMap<String, RouteLimits>,
}

impl Options {
    /// Refuse limits for a route the server does not have, naming the ones it has.
    pub fn check(&self) -> Result<(), String> {
        let known = route_paths();
        let mut unknown: Vec<&String> = self.routes.keys().filter(|p| !known.contains(&p.as_str())).collect();
        unknown.sort();
        match unknown.first() {
            Some(p) => Err(format!("no route {p} to limit; the routes are: {}", known.join(", "))),
            None => Ok(()),
        }
    }
}

/// Every route's path, as [`Options::routes`] names them.
pub fn route_paths() -> Vec<&'static str> {
    routes::table().into_iter().chain(neuronpedia::table()).map(|(p, _)| p).collect()
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_concurrent: 2,
            timeout: Duration::from_secs(120),
            body_limit: 1 << 20,
            index: None,
            neuronpedia: None,
            secret: None,
            explain_fetch: FetchOptions::default(),
            routes: HashMap::new(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
struct State {
    session: Arc<Session>,
    permits: Arc<Semaphore>,
    /// This route's own slots, when it has a concurrency limit of its own.
    route_permits: Option<Arc<Semaphore>>,
    timeout: Duration,
    index: Option<Arc<(saex_engine::index_store::Index, saex_engine::IndexLabels)>>,
    explain_fetch: FetchOptions,
    np: Arc<saex_engine::neuronpedia::Neuronpedia>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "saex", description = "Find and explain SAE features: one engine function per route, the CLI's JSON."),
    paths(
        routes::discover,
        routes::top,
        routes::steer,
        routes::highlight,
        routes::groups,
        routes::explore,
        routes::concept,
        routes::drift,
        routes::logit_stats,
        routes::neighbors,
        routes::map,
        routes::feature,
        routes::dashboard,
        labels::list,
        labels::import,
        labels::get,
        labels::set,
        labels::auto,
        labels::explain_import,
        labels::explain_fetch,
        routes::models,
        routes::healthz,
        routes::openapi
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// The OpenAPI document, derived from the request and response types.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.merge(neuronpedia::doc());
        doc
    })
}

/// Log each request with its status and latency.
async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = Instant::now();
    let res = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let status = res.status().as_u16();
    if res.status().is_server_error() {
        tracing::warn!(%method, %path, status, ms, "request");
    } else {
        tracing::info!(%method, %path, status, ms, "request");
    }
    res
}

/// The router over `session`.
pub fn app(session: Arc<Session>, opts: &Options) -> Router {
    let np = opts.neuronpedia.clone().unwrap_or_else(|| Arc::new(saex_engine::neuronpedia::Neuronpedia::with_defaults(&session)));
    let state = State {
        session,
        permits: Arc::new(Semaphore::new(opts.max_concurrent.max(1))),
        route_permits: None,
        timeout: opts.timeout,
        index: opts.index.clone(),
        explain_fetch: opts.explain_fetch.clone(),
        np,
    };
    // Each route gets its own copy of the state, carrying its limits (an axum route's
    // state is fixed when the route is added).
    let mut router = Router::new();
    for (path, method_router) in routes::table().into_iter().chain(neuronpedia::table()) {
        let limits = opts.routes.get(path).copied().unwrap_or_default();
        let st = State {
            timeout: limits.timeout.unwrap_or(state.timeout),
            route_permits: limits.max_concurrent.map(|n| Arc::new(Semaphore::new(n.max(1)))),
            ..state.clone()
        };
        let mut route = method_router.with_state(st);
        if let Some(bytes) = limits.body_limit {
            // Inside the server-wide limit below, so this one is the one the body extractor sees.
            route = route.layer(axum::extract::DefaultBodyLimit::max(bytes));
        }
        router = router.route(path, route);
    }
    let router = router
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(opts.body_limit))
        .layer(axum::middleware::from_fn(log_request));
    match &opts.secret {
        Some(secret) => router.layer(axum::middleware::from_fn_with_state(Arc::new(secret.clone()), neuronpedia::wire::check_secret)),
        None => router,
    }
}

/// Bind `addr` and serve `session` until Ctrl-C; `on_listen` gets the bound address (port 0
/// picks a free one).
pub fn serve(addr: SocketAddr, session: Session, opts: Options, on_listen: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    opts.check().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
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
