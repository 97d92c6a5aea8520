//! The one error type of `saex-analysis`: everything here is the caller's mistake (a request
//! field or an argument out of range), so it maps to HTTP 400 and names the field.

/// Errors from analysis functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    /// The request cannot be served as asked.
    #[error("{0}")]
    Invalid(String),
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
            Error::Invalid(_) => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
