//! # Brief overview
//!
//! `saex-cache` stores bytes on disk, safely, for `saex discover` (CLI and HTTP server, maybe
//! several processes at once). The caller turns its entries into bytes; this crate only keeps
//! them.
//!
//! - [`Key`] addresses an entry: sha256 over length-prefixed parts (model sha256, SAE sha256,
//!   hook, text, generation parameters).
//! - [`Cache`] is a directory of entries, `<dir>/<first 2 hex>/<hex>.bin`, each a 48-byte
//!   header (magic `SAEXC1\0\0`, u64 LE payload length, sha256 of the payload) and the
//!   payload. [`Cache::put`] writes a temp file and renames it into place, then evicts
//!   least-recently-used entries (by mtime, which [`Cache::get`] bumps) down to the size cap.
//!   [`Cache::get`] checks magic, length and checksum: a damaged entry is deleted and
//!   reported as [`Lookup::Corrupt`].
//! - [`fingerprint`] is the sha256 of a model or SAE file or directory, memoized by path,
//!   size and mtime so a large model is hashed once.
//!
//! ```
//! use saex_cache::{Cache, Key, Lookup};
//! let dir = tempfile::tempdir()?;
//! let cache = Cache::open(dir.path(), 1 << 20)?;
//! let key = Key::of(&[b"model-sha", b"sae-sha", b"blocks.6.hook_resid_post", b"Hello"]);
//! assert_eq!(cache.get(&key), Lookup::Miss);
//! cache.put(&key, b"activations")?;
//! assert_eq!(cache.get(&key), Lookup::Hit(b"activations".to_vec()));
//! // 48-byte header + 11-byte payload.
//! assert_eq!(cache.total_bytes(), 59);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod cache;
mod entry;
mod error;
mod fingerprint;
mod key;

pub use cache::{Cache, Lookup};
pub use error::{Error, Result};
pub use fingerprint::{fingerprint, MEMO_FILE};
pub use key::Key;
