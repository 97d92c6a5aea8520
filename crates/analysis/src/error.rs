//! The one error type of `saex-discover`. [`Error::Field`] and [`Error::Invalid`] are the
//! caller's mistakes (HTTP 400, naming the field); everything else is ours or the files'.

/// Errors from discovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request field is wrong.
    #[error("`{field}`: {message}")]
    Field {
        /// The request field (seed 002 name).
        field: String,
        /// What is wrong, with the value given.
        message: String,
    },
    /// The request cannot be served as asked (e.g. no SAE matches it).
    #[error("{0}")]
    Invalid(String),
    /// A file (labels, statistics) is unreadable or malformed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// From the model.
    #[error(transparent)]
    Model(#[from] saex_model::Error),
    /// From the SAE.
    #[error(transparent)]
    Sae(#[from] saex_sae::Error),
    /// From the engine (model + SAE pairing).
    #[error(transparent)]
    Engine(#[from] saex_engine::Error),
    /// From the activation cache.
    #[error(transparent)]
    Cache(#[from] saex_cache::Error),
    /// A tensor operation failed.
    #[error("tensor error: {}", saex_model::error::first_line(.0))]
    Candle(#[from] candle_core::Error),
}

impl Error {
    /// A wrong request field.
    pub fn field(field: &str, message: impl Into<String>) -> Error {
        Error::Field { field: field.to_string(), message: message.into() }
    }

    /// The request field at fault, if any.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            Error::Field { field, .. } => Some(field),
            _ => None,
        }
    }

    /// True when the request (not the server or its files) is at fault: HTTP 4xx.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Error::Field { .. } | Error::Invalid(_) | Error::Model(saex_model::Error::TooLong { .. })
        )
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
