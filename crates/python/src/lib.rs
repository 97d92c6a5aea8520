//! `import saex`: saex's engine from Python.
//!
//! Brief overview: [`session::Session`] (Python `saex.Session`) owns a loaded model and its
//! SAEs and has one method per engine verb; [`labels::Sae`] is an SAE alone (its size and
//! label registry), [`index::Index`] a corpus activation index, [`session::drift`] seed
//! 002's two-model comparison, [`pages::page`] the report crate's pages for `_repr_html_`;
//! [`error::SaexError`] carries saex's one-line messages, and [`run::detached`] runs model
//! work without the GIL, cancelled by Ctrl-C. The crate is a face like the CLI and the HTTP
//! server: it only translates arguments and results (`convert`, `arrays`) and never runs the
//! model or an SAE itself (`scripts/check-layering.sh`). The Python half (result types with
//! `.to_pandas()` and `_repr_html_`, `saex.Model` for mlxterp's calls, stubs) is in
//! `python/saex`.
//!
//! No doctest: this is a CPython extension (a cdylib), exercised by `tests/python/saex_py`.
#![deny(missing_docs)]

mod arrays;
mod convert;
mod error;
mod index;
mod labels;
mod pages;
mod run;
mod session;

use pyo3::prelude::*;

/// The native module `saex._saex`; `saex/__init__.py` re-exports it.
#[pymodule]
fn _saex(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<session::Session>()?;
    m.add_class::<labels::Sae>()?;
    m.add_class::<index::Index>()?;
    m.add_function(wrap_pyfunction!(session::drift, m)?)?;
    m.add_function(wrap_pyfunction!(index::index_merge, m)?)?;
    m.add_function(wrap_pyfunction!(pages::page, m)?)?;
    m.add("SaexError", m.py().get_type::<error::SaexError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
