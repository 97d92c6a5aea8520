//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `saex-cache`. Every variant names the path involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A filesystem operation failed.
    #[error("cache: cannot {op} {path}: {source}")]
    Io {
        /// What was being done (`create directory`, `write`, `rename`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The fingerprint memo could not be serialized.
    #[error("cache: cannot serialize fingerprint memo {path}: {source}")]
    Memo {
        /// The memo file.
        path: PathBuf,
        /// What serde_json said.
        source: serde_json::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Adds the operation and path to an `io::Error`.
pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_names_op_and_path() {
        let e = io("read", "/x/y.bin")(std::io::Error::other("boom"));
        assert_eq!(e.to_string(), "cache: cannot read /x/y.bin: boom");
    }
}
