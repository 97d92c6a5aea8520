//! # Brief overview
//!
//! `saex-train` trains TopK sparse autoencoders (with AuxK for dead features) on a model's
//! activations streamed over a JSONL text corpus: [`train`] runs the loop (shuffling buffer,
//! Adam with warm-up and decay, unit-norm decoder rows, `expected_average_only_in` input
//! scaling, checkpoints and `--resume`) and writes a SAELens-format directory that SAELens's
//! `SAE.load_from_disk` reads; [`topk::TopKSae`] holds the parameters and their hand-written
//! gradients.
#![deny(missing_docs)]

mod error;
mod run;
pub mod topk;

pub use error::{Error, Result};
pub use run::{train, Progress, RunControl, TrainOptions, TrainReport};
