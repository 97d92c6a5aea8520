//! # Brief overview
//!
//! `saex-engine` runs text through a model and an SAE; each function is one CLI verb (and,
//! later, one HTTP route). [`Pair`] binds an SAE to a model's hook, checking widths and
//! applying the SAELens conventions that change what the SAE sees; [`encode()`] gives a
//! text's tokens, hook activations and feature activations; [`top_features`] ranks the
//! features of a text; [`eval()`] measures reconstruction and spliced-in loss; [`sae_info`]
//! describes an SAE; [`steer()`] generates with SAE decoder directions added at the hook
//! ([`SteerFeature`] `159=+8`), optionally next to the unsteered baseline.
//!
//! ```no_run
//! use saex_engine::{encode, top_features, Pair, Reduce};
//! use saex_model::Model;
//! use saex_sae::Sae;
//!
//! let model = Model::load("gemma-3-270m-q4_k_m.gguf")?;
//! let sae = Sae::load("demo/sae")?;
//! let pair = Pair::new(&model, &sae, None)?;
//! let enc = encode(&pair, "The Eiffel Tower is in Paris", model.add_bos())?;
//! for f in top_features(&enc, 10, Reduce::Max, |id| model.tokenizer.id_to_piece(id).unwrap_or_default()) {
//!     println!("{} {:.2} at {:?}", f.feature, f.value, f.peak_token);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod encode;
mod error;
mod eval;
mod info;
mod pair;
mod stats;
mod steer;
mod tokenize;
mod top;
mod top_texts;

pub use encode::{encode, Encoded};
pub use error::{Error, Result};
pub use eval::{eval, EvalOptions, EvalReport};
pub use info::{sae_info, SaeInfo, SparsitySummary};
pub use pair::{Adapter, Pair};
pub use stats::{feature_stats, FeatureStats};
pub use steer::{steer, steer_cancellable, steering_edit, steering_vector, SteerFeature, SteerOptions, Steered};
pub use tokenize::{tokenize, Token, Tokenized};
pub use top::{top_features, Reduce, TopFeature, TopReport};
pub use top_texts::{top_texts, Example, FeatureExamples};
