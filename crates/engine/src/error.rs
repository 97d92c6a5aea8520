//! The one error type of `saex-engine`. [`Error::Field`] and [`Error::Invalid`] are the
//! caller's mistakes (HTTP 400, the field named); everything else is ours or the files'.

/// Errors from running a model with its SAEs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request field is wrong.
    #[error("`{field}`: {message}")]
    Field {
        /// The request field.
        field: String,
        /// What is wrong, with the value given.
        message: String,
    },
    /// The model and the SAE do not fit together, or an argument is out of range.
    #[error("{0}")]
    Invalid(String),
    /// A file (statistics, labels) is unreadable or malformed.
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
    /// From the activation cache.
    #[error(transparent)]
    Cache(#[from] saex_cache::Error),
    /// From the corpus reader.
    #[error(transparent)]
    Corpus(#[from] saex_corpus::Error),
    /// From the label registry (a corrupt file) or Neuronpedia.
    #[error(transparent)]
    Labels(saex_labels::Error),
    /// A tensor operation failed.
    #[error("tensor error: {}", saex_model::error::first_line(.0))]
    Candle(#[from] candle_core::Error),
}

impl From<saex_analysis::Error> for Error {
    fn from(e: saex_analysis::Error) -> Error {
        match e {
            saex_analysis::Error::Field { field, message } => Error::Field { field, message },
            other => Error::Invalid(other.to_string()),
        }
    }
}

impl From<saex_labels::Error> for Error {
    fn from(e: saex_labels::Error) -> Error {
        match e {
            saex_labels::Error::Field { field, message } => Error::Field { field, message },
            saex_labels::Error::File { path, message } => Error::File { path, message },
            other => Error::Labels(other),
        }
    }
}

impl From<saex_index::Error> for Error {
    fn from(e: saex_index::Error) -> Error {
        match e {
            saex_index::Error::Invalid(m) | saex_index::Error::Mismatch(m) => Error::Invalid(m),
            saex_index::Error::NotFound(m) => Error::field("feature", m),
            saex_index::Error::File { path, message } => Error::File { path, message },
            other => Error::Invalid(other.to_string()),
        }
    }
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
            Error::Field { .. }
                | Error::Invalid(_)
                | Error::Model(saex_model::Error::TooLong { .. } | saex_model::Error::Invalid(_) | saex_model::Error::BadHook { .. })
        )
    }

    /// True when the work was stopped by its cancel flag (a time limit or a client gone).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Model(saex_model::Error::Cancelled))
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
