//! Seed 002's discovery, minus the model: the request and response types every face shares,
//! the token pre-filter, the scores, the spans shown as evidence, and batch-line parsing.

pub mod batch;
pub mod filter;
pub mod request;
pub mod response;
pub mod score;
pub mod spans;

pub use batch::{line_error, request_from_line};
pub use request::{DiscoverRequest, Input, ScoreMode, Tau, TokenFilter, MAX_GEN_TOKENS};
pub use response::{Analyzed, DiscoverResponse, FeatureResult, LineError, Scores, TopSpan, CSV_COLUMNS};
