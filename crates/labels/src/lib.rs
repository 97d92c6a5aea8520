//! # Brief overview
//!
//! `saex-labels` holds what people (and Neuronpedia, and a rule) say features do. No model
//! code: the engine computes what needs one (an SAE's key, top tokens) and calls in here.
//!
//! - [`Entry`] and [`Registry`]: one SAE's labels in seed 003's `sae_features.json` layout,
//!   `{"<feature id>": {"name", "description", "examples", "confidence", "notes"}}`, plus
//!   `source` ([`Source`]: `hand`, `neuronpedia`, `auto`) and any other keys, kept.
//! - [`Store`]: a registry directory, one file per SAE; writes are read-modify-write under an
//!   advisory lock, atomically replaced, with a backup; a corrupt file is refused, never
//!   overwritten.
//! - [`ops`]: changes with the precedence of sources (hand > neuronpedia > auto).
//! - [`neuronpedia`]: explanation exports (JSON or JSONL, gzipped or not) and feature answers.
//! - [`fetch`]: Neuronpedia's feature API and bulk export over HTTP, bounded, rate limited,
//!   retried, cached.
//! - [`auto`]: the automatic proto-label rule.
//!
//! ```
//! use saex_labels::{ops, Entry, Source, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::new(dir.path());
//! store.update("gemma-2-2b/6-gemmascope-res-16k", |reg| {
//!     let e = Entry { name: "geographic_locations".into(), confidence: "high".into(), ..Default::default() };
//!     Ok((ops::offer(reg, 1234, e) != ops::Offered::Same, ()))
//! })?;
//! let reg = store.read("gemma-2-2b/6-gemmascope-res-16k")?;
//! assert_eq!(reg[&1234].source, Source::Hand);
//! assert_eq!(reg[&1234].label().as_deref(), Some("geographic_locations"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod auto;
pub mod entry;
mod error;
pub mod fetch;
pub mod neuronpedia;
pub mod ops;
pub mod store;

pub use entry::{Entry, Registry, Source};
pub use error::{Error, Result};
pub use store::Store;
