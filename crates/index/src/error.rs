//! The one error type of `saex-index`.

/// Errors building, merging or reading an index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option or argument is out of range.
    #[error("{0}")]
    Invalid(String),
    /// A file of the index is missing, unreadable or does not match the manifest.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The index, or the shards given, do not fit what was asked (another model, SAE,
    /// corpus or options).
    #[error("{0}")]
    Mismatch(String),
    /// A feature id past the SAE's width, or an SAE the index does not hold.
    #[error("{0}")]
    NotFound(String),
}

impl Error {
    pub(crate) fn file(path: &std::path::Path, message: impl std::fmt::Display) -> Error {
        Error::File { path: path.display().to_string(), message: message.to_string() }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
