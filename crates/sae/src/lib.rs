//! # Brief overview
//!
//! `saex-sae` loads the sparse autoencoders researchers download and runs them exactly as
//! SAELens 6.x does at inference, on CPU in f32.
//!
//! - [`Sae`] holds SAELens-layout weights (`W_enc [d_in, d_sae]`, `W_dec [d_sae, d_in]`,
//!   `b_enc`, `b_dec`, `threshold`, `b_gate`/`b_mag`/`r_mag`) and a [`SaeConfig`] with SAELens
//!   field names. [`Sae::load`] takes a directory or a SAELens release name
//!   (`gpt2-small-res-jb/blocks.8.hook_resid_pre`, resolved by [`registry`] and found in the
//!   local Hugging Face cache). The [`Format`] is told from the files: SAELens, Gemma Scope
//!   (`params.npz`), Gemma Scope 2, sparsify, Llama Scope, dictionary_learning (`ae.pt`, whose
//!   pickle is refused if it names any callable beyond torch's tensor rebuilders).
//! - [`Sae::encode`] gives dense `[n, d_sae]` activations, [`Sae::encode_sparse`] the nonzero
//!   `(feature, value)` pairs of each token as [`SparseActs`], [`Sae::encode_restricted`] only
//!   chosen features; [`Sae::decode`] / [`Sae::forward`] reconstruct.
//! - Every failure is an [`Error`] naming the file, tensor, key or hook involved.
//!
//! Architectures (one file each): `standard`, `gated`, `jumprelu`, `topk`; `batchtopk` and
//! `matryoshka_batchtopk` training checkpoints run as JumpReLU with their learned threshold,
//! which is how SAELens saves them for inference.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use saex_sae::Sae;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/sae/saelens/standard");
//! let sae = Sae::load(dir)?;
//! sae.check_input_width(16)?;
//! assert_eq!(sae.hook().map(|h| h.to_string()).as_deref(), Some("blocks.1.hook_resid_pre"));
//!
//! let x = Tensor::randn(0f32, 1.0, (3, sae.d_in()), &Device::Cpu)?;
//! let acts = sae.encode_sparse(&x)?; // per token: the features that fire, with their values
//! for (features, values) in acts.tokens() {
//!     assert_eq!(features.len(), values.len());
//! }
//! assert_eq!(sae.forward(&x)?.dims(), &[3, 16]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod config;
mod defaulting;
mod error;
mod formats;
mod gated;
mod jumprelu;
mod load;
pub mod registry;
mod sae;
mod sparse;
mod standard;
mod topk;

pub use config::{Architecture, Metadata, Normalization, Reshape, SaeConfig};
pub use error::{Error, Result};
pub use formats::Format;
pub use sae::Sae;
pub use sparse::SparseActs;
