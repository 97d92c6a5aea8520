//! # Brief overview
//!
//! `saex-corpus` turns real text from Debian packages into one JSONL corpus, each line
//! `{"text", "category", "source"}`: [`sources::SOURCES`] says which package feeds which
//! category (English fortunes, German, Spanish, Italian, Russian, Chinese, Portuguese,
//! legal/formal, web/HTML, LaTeX/math, code); [`build`] reads them, chunks documents to a
//! token budget, drops duplicates, caps each category and shuffles, deterministically from a
//! seed, and returns a [`Manifest`] (packages, versions, licenses, counts per category).
//!
//! ```no_run
//! use saex_corpus::{build, BuildOptions};
//! let opts = BuildOptions { seed: 42, chunk_tokens: 128, min_tokens: 8, max_tokens_per_category: 500_000 };
//! let words = |s: &str| s.split_whitespace().count();
//! let (lines, manifest) = build("corpus-src".as_ref(), "words", &words, opts)?;
//! println!("{} chunks, {} tokens", lines.len(), manifest.total_tokens);
//! # Ok::<(), saex_corpus::Error>(())
//! ```
#![deny(missing_docs)]

mod builder;
mod error;
pub mod jsonl;
pub mod read;
pub mod sources;

pub use builder::{build, BuildOptions, CategoryStats, Line, Manifest, PackageInfo};
pub use error::{Error, Result};
pub use jsonl::{read as read_docs, Doc, Split, HELDOUT_EVERY};
