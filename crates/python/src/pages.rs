//! `saex._saex.page`: the report crate's self-contained HTML pages from results already in
//! Python (what `_repr_html_` shows in Jupyter). The data is the result's JSON text, embedded
//! as is (not parsed into numbers and printed again), so a page holds exactly the data of
//! the CLI's page of the same result.

use pyo3::prelude::*;
use serde_json::value::RawValue;

use saex_engine::Highlighted;
use saex_report::TextView;

use crate::error::{invalid, saex_error};

/// A highlight result as a text view (as `saex highlight` builds it).
fn highlight_view(h: &Highlighted) -> TextView {
    TextView::highlight(&h.text, h.tokens.clone(), h.features.iter().map(|f| (f.feature_id, f.label.clone(), f.acts.clone())))
}

/// The page of `kind` for `data` (a result as Python values): `"texts"` (a list of
/// highlight results), `"dashboard"` (a list of index feature records), `"explore"`,
/// `"logit_stats"`, `"map"` or `"drift"` (that verb's result).
#[pyfunction]
#[pyo3(signature = (kind, data, title, subtitle=""))]
pub fn page(py: Python<'_>, kind: &str, data: &Bound<'_, PyAny>, title: &str, subtitle: &str) -> PyResult<String> {
    let text: String = py.import("json")?.call_method1("dumps", (data,))?.extract()?;
    let bad = |e: serde_json::Error| invalid(format!("page data: {e}"));
    let html = match kind {
        "texts" => {
            let hs: Vec<Highlighted> =
                serde_json::from_str(&text).map_err(|e| invalid(format!("a texts page takes highlight results: {e}")))?;
            let views: Vec<TextView> = hs.iter().map(highlight_view).collect();
            saex_report::texts_page(title, subtitle, &views)
        }
        "dashboard" => {
            let records: Vec<&RawValue> =
                serde_json::from_str(&text).map_err(|e| invalid(format!("a dashboard page takes a list of feature records: {e}")))?;
            saex_report::dashboard_page(title, subtitle, &records)
        }
        "explore" | "logit_stats" | "map" | "drift" => {
            let raw: &RawValue = serde_json::from_str(&text).map_err(bad)?;
            match kind {
                "explore" => saex_report::explore_page(title, subtitle, &raw),
                "logit_stats" => saex_report::logit_stats_page(title, subtitle, &raw),
                "map" => saex_report::map_page(title, subtitle, &raw),
                _ => saex_report::drift_page(title, subtitle, &raw),
            }
        }
        other => return Err(invalid(format!("no page of kind {other:?} (texts, dashboard, explore, logit_stats, map, drift)"))),
    };
    html.map_err(saex_error)
}
