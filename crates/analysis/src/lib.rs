//! # Brief overview
//!
//! `saex-analysis` holds the pure functions of saex's analyses: they take SAE codes
//! ([`saex_sae::SparseActs`]) and plain numbers, never a model, so each is tested against
//! hand-computed values. The engine runs the model and calls them.
//!
//! - [`discover`]: seed 002's request/response types ([`DiscoverRequest`],
//!   [`DiscoverResponse`]), token pre-filter, scoring ([`discover::score`]) and spans.
//! - [`top`]: ranking a text's features by a reduction over its tokens.
//! - [`logit`]: a feature's logit-weight distribution (seed 004), accumulated blockwise.
//! - [`groups`]: group-discriminative features (seed 000's three conditions).
//! - [`explore`]: the exploration notebook's analyses and concept finder (seed 001).
//! - [`drift`]: two models' discoveries of the same prompts compared (Spearman, gained, lost).
//! - [`embedding`]: 2-D maps of vectors (UMAP, PCA) and their trustworthiness (seed 000's
//!   feature map).
//! - [`from_json`]: any request type from JSON, errors naming the field.
//!
//! ```
//! use saex_analysis::top::{rank, Reduce};
//! use saex_sae::SparseActs;
//!
//! // Two tokens: feature 3 fires 1.0 then 2.0, feature 5 fires 4.0 on the first.
//! let acts = SparseActs { indptr: vec![0, 2, 3], features: vec![3, 5, 3], values: vec![1.0, 4.0, 2.0], d_sae: 8 };
//! let top = rank(&acts, 0, 10, Reduce::Mean, &|_| true);
//! assert_eq!((top[0].feature, top[0].value), (5, 2.0)); // (4 + 0) / 2
//! assert_eq!((top[1].feature, top[1].value), (3, 1.5)); // (1 + 2) / 2
//! ```
#![deny(missing_docs)]

pub mod discover;
pub mod drift;
pub mod embedding;
mod error;
pub mod explore;
pub mod groups;
mod json;
pub mod logit;
pub mod top;

pub use discover::{DiscoverRequest, DiscoverResponse};
pub use error::{Error, Result};
pub use json::from_json;
