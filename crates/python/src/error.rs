//! `saex.SaexError`, and the one place engine errors and panics become it.

use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

pyo3::create_exception!(
    saex,
    SaexError,
    PyValueError,
    "An error from saex (bad input, a missing file, an SAE that does not fit the model), with \
     the same one-line message the CLI prints. A subclass of ValueError."
);

/// The error and its causes on one line, joined by ": ", exactly as the CLI prints it
/// (anyhow's `{:#}`), so a message can be matched the same way from either face.
pub fn message(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// An engine (or any std) error as a `SaexError`.
pub fn saex_error(e: impl std::error::Error) -> PyErr {
    SaexError::new_err(message(&e))
}

/// A panic's payload as a `SaexError`, so no panic reaches Python as `PanicException`
/// (a `BaseException` that `except Exception` does not catch).
pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    SaexError::new_err(format!("internal error (a bug in saex, please report it): {what}"))
}

/// A message of our own as a `SaexError`.
pub fn invalid(msg: impl Into<String>) -> PyErr {
    SaexError::new_err(msg.into())
}
