//! The one error type of `saex-corpus`.

use std::path::{Path, PathBuf};

/// Errors building a corpus.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A source package is not unpacked where expected.
    #[error("source package `{package}` not found at {path}: run scripts/fetch-corpus.sh")]
    MissingSource {
        /// The package.
        package: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A category ended up with no text.
    #[error("category `{category}` has no text (all sources empty or too short)")]
    EmptyCategory {
        /// The category.
        category: String,
    },
    /// Bad options.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_path_buf(), source }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
