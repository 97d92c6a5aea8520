//! `import saex`: saex's engine from Python.
//!
//! Brief overview: [`session::Session`] (Python `saex.Session`) owns a loaded model and its
//! SAEs and has one method per engine verb; [`error::SaexError`] carries saex's one-line
//! messages. The crate is a face like the CLI and the HTTP server: it only translates
//! arguments and results (`convert`, `arrays`) and never runs the model or an SAE itself
//! (`scripts/check-layering.sh`). The Python half (re-exports, stubs) is in `python/saex`.
//!
//! No doctest: this is a CPython extension (a cdylib), exercised by `tests/python/saex_py`.
#![deny(missing_docs)]

mod arrays;
mod convert;
mod error;
mod session;

use pyo3::prelude::*;

/// The native module `saex._saex`; `saex/__init__.py` re-exports it.
#[pymodule]
fn _saex(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<session::Session>()?;
    m.add("SaexError", m.py().get_type::<error::SaexError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
