//! # Brief overview
//!
//! `saex-index` is the corpus activation index: what every feature of an SAE fires on over a
//! corpus, computed once and answered from disk in milliseconds (SAEDashboard's feature
//! data, Neuronpedia's feature page, delphi's latent cache). It holds no model code: the
//! engine runs the model and feeds [`Sketch::observe`] one document at a time.
//!
//! - [`Sketch`]: the mergeable summary of one SAE (counts, fixed-point sums, log histograms,
//!   top examples, a hash-priority sample for the quantile groups); shards and checkpoints
//!   are sketches, and the sketch of a union is the merge of the sketches.
//! - [`record::finalize`] turns a sketch into [`FeatureRecord`]s; [`store`] writes and reads
//!   them as Parquet (Hive-style folders, DuckDB/Polars/Spark-readable); [`Manifest`] says
//!   what was indexed (model, SAEs, corpus, options, shard) with the sha256 of each.
//! - [`Index`]: an index on disk, opened and checked, answering [`Index::record`] and
//!   [`Index::top_texts`].
//!
//! ```
//! use saex_index::{IndexOptions, Sketch};
//! use saex_sae::SparseActs;
//!
//! let mut s = Sketch::new(4, &IndexOptions::default());
//! // bos, "Hi", "there": feature 2 fires 1.5 on "there".
//! let acts = SparseActs { indptr: vec![0, 0, 0, 1], features: vec![2], values: vec![1.5], d_sae: 4 };
//! let pieces = vec!["<bos>".to_string(), "Hi".into(), " there".into()];
//! s.observe(0, Some("english"), &pieces, &acts, 1).unwrap();
//! let r = saex_index::record::finalize(&s, "my-sae", 2);
//! assert_eq!((r.stats.firing_count, r.top[0].text()), (1, "Hi there".to_string()));
//! ```
#![deny(missing_docs)]

mod error;
pub mod index;
pub mod manifest;
pub mod options;
pub mod record;
pub mod sketch;
pub mod store;

pub use error::{Error, Result};
pub use index::Index;
pub use manifest::Manifest;
pub use options::{HistSpec, IndexOptions, Shard};
pub use record::FeatureRecord;
pub use sketch::Sketch;
