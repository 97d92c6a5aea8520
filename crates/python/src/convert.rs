//! Requests in and reports out go through JSON, so Python sees exactly what the CLI's
//! `--json` prints and the HTTP API returns: a verb's keyword arguments become its serde
//! request type (unknown or mistyped fields are the engine's own errors), and its report
//! comes back as the same dict. No field is mapped by hand, so a new engine field needs no
//! change here.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{invalid, saex_error};

/// The request `Q` from Python keyword arguments plus the arguments the method takes
/// positionally (`given`, a JSON object).
pub fn request<Q: DeserializeOwned>(py: Python<'_>, fields: Option<&Bound<'_, PyDict>>, given: Value) -> PyResult<Q> {
    let mut map = match fields {
        Some(d) => {
            let text: String = py.import("json")?.call_method1("dumps", (d,))?.extract()?;
            serde_json::from_str::<Map<String, Value>>(&text).map_err(|e| invalid(format!("invalid request: {e}")))?
        }
        None => Map::new(),
    };
    if let Value::Object(given) = given {
        map.extend(given);
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| invalid(format!("invalid request: {e}")))
}

/// A report as the Python value of its JSON (dicts, lists, str, int, float, None).
pub fn report<'py, R: Serialize>(py: Python<'py>, r: &R) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(r).map_err(saex_error)?;
    py.import("json")?.call_method1("loads", (text,))
}

/// A report as the Python value of its JSON wrapped as a result of `verb` (`saex._results`):
/// still the same dict or list, with `.to_pandas()` and, where the verb has a page,
/// `_repr_html_`. `session` is kept for pages that need the model again (highlighting).
pub fn result<'py, R: Serialize>(py: Python<'py>, verb: &str, r: &R, session: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    let value = report(py, r)?;
    py.import("saex._results")?.call_method1("wrap", (verb, value, session))
}
