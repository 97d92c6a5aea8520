//! # Brief overview
//!
//! `saex-discover` answers "which SAE features did the model use here?" (seed 002): run a
//! prompt (and its generated continuation) or a text through the model, encode each selected
//! SAE's hook, keep the most informative tokens, score every feature (mean, max, coverage
//! above τ, selectivity), gate by coverage, rank, and attach evidence (top spans of the text,
//! proto-labels, Neuronpedia links).
//!
//! - [`Session`]: a model and its SAEs loaded once, with each SAE's reference statistics
//!   (`feature_stats.safetensors`) and label catalogs, and the activation [`saex_cache`].
//! - [`DiscoverRequest`] / [`DiscoverResponse`]: seed 002's body and response; the CLI, a
//!   prompts-file line and the HTTP API all fill the same struct.
//! - [`discover()`]: the algorithm; [`score`] holds its arithmetic.
//!
//! ```no_run
//! use saex_discover::{discover, DiscoverRequest, Session, SessionOptions};
//!
//! let opts = SessionOptions { logits: true, ..Default::default() };
//! let session = Session::open("gemma-3-270m-q4_k_m.gguf", &["demo/sae".to_string()], opts)?;
//! let req = DiscoverRequest { prompt: Some("def fib(n):".into()), gen_tokens: 32, ..Default::default() };
//! let res = discover(&session, &req)?;
//! for f in &res.features {
//!     println!("{} {:.3} {:?}", f.feature_id, f.score, f.proto_label);
//! }
//! # Ok::<(), saex_discover::Error>(())
//! ```
#![deny(missing_docs)]

mod batch;
mod capture;
mod discover;
mod error;
pub mod filter;
pub mod labels;
mod request;
mod response;
pub mod score;
mod session;
pub mod text;

pub use batch::{from_json, line_error, parse, request_from_line};
pub use capture::{capture, capture_cancellable, Captured, CapturedSae};
pub use discover::{discover, discover_with_capture};
pub use error::{Error, Result};
pub use request::{DiscoverRequest, Input, ScoreMode, Tau, TokenFilter, MAX_GEN_TOKENS};
pub use response::{Analyzed, DiscoverResponse, FeatureResult, LineError, Scores, TopSpan, CSV_COLUMNS};
pub use session::{release_saes, ReferenceStats, Session, SessionOptions, SessionSae, LABELS_FILE, STATS_FILE};
