//! The one error type of `saex-labels`.

/// Errors reading or writing the registry, importing or fetching explanations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument is wrong (a feature out of range, an empty field, a bad key).
    #[error("`{field}`: {message}")]
    Field {
        /// The argument.
        field: String,
        /// What is wrong, with the value given.
        message: String,
    },
    /// A registry file exists but is not a registry: refused, left as it is.
    #[error("{path}: not a valid label registry file ({message}); saex leaves it untouched and will not write over it: fix or remove it{}", backup_hint(.backup))]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong, with line and column.
        message: String,
        /// The last good version, when a backup exists.
        backup: Option<String>,
    },
    /// A file is unreadable or malformed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Talking to Neuronpedia failed.
    #[error("{0}")]
    Fetch(String),
}

fn backup_hint(b: &Option<String>) -> String {
    b.as_ref().map(|b| format!(" (the last good version is {b})")).unwrap_or_default()
}

impl Error {
    /// A wrong argument.
    pub fn field(field: &str, message: impl Into<String>) -> Error {
        Error::Field { field: field.to_string(), message: message.into() }
    }

    pub(crate) fn file(path: &std::path::Path, message: impl std::fmt::Display) -> Error {
        Error::File { path: path.display().to_string(), message: message.to_string() }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
