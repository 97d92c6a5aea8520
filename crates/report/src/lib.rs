//! # Brief overview
//!
//! `saex-report` turns results into self-contained HTML pages: one template engine
//! (`minijinja`, templates compiled into the binary), one small inline script, the data in
//! one `<script type="application/json">` block the script reads; no network, no libraries,
//! so a page opens from a file anywhere. It knows result values only, never tensors or
//! models, so it is tested on plain data.
//!
//! - [`texts_page`]: texts with a feature table each; clicking a feature shades the
//!   tokens by its activation, hovering a token shows its values ([`TextView`]).
//! - [`dashboard_page`]: feature dashboards (statistics, histogram, categories, logit
//!   tokens, top and quantile examples); [`browse_page`]: the list that finds them.
//! - [`map_page`]: seed 000's feature map, a scatter of decoder rows in 2-D with hover,
//!   a legend by group and a filter box.
//!
//! ```
//! use saex_report::{texts_page, Column, FeatureView, TextView};
//! let view = TextView {
//!     title: "english".into(),
//!     tokens: vec!["Hi".into(), "<b>".into()],
//!     columns: vec![Column::num("act", "activation")],
//!     features: vec![FeatureView { id: 7, cells: vec!["1.000".into()], label: None, url: None, acts: vec![1.0, 0.0] }],
//!     ..Default::default()
//! };
//! let html = texts_page("demo", "subtitle", &[view]).unwrap();
//! // Self-contained: nothing is loaded from elsewhere (the SVG namespace URI is a name, not a fetch).
//! assert!(html.starts_with("<!DOCTYPE html>") && html.contains("\\u003cb>"));
//! assert!(!html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("url(http"));
//! ```
#![deny(missing_docs)]

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

/// A table column.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Column {
    /// Header.
    pub name: String,
    /// What it means (the header's tooltip).
    pub help: String,
    /// Right-aligned number.
    pub num: bool,
}

impl Column {
    /// A numeric column.
    pub fn num(name: &str, help: &str) -> Column {
        Column { name: name.into(), help: help.into(), num: true }
    }

    /// A text column.
    pub fn text(name: &str, help: &str) -> Column {
        Column { name: name.into(), help: help.into(), num: false }
    }
}

/// One feature of a text view: its table row and its activation at every token.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeatureView {
    /// Feature id.
    pub id: u32,
    /// Cells, one per column, already formatted.
    pub cells: Vec<String>,
    /// Its label, when known.
    pub label: Option<String>,
    /// A page about it (Neuronpedia), when known.
    pub url: Option<String>,
    /// Activation at each token of the view.
    pub acts: Vec<f32>,
}

/// One text and the features listed for it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TextView {
    /// Heading.
    pub title: String,
    /// Lines under the heading.
    pub notes: Vec<String>,
    /// What the columns mean, in one line.
    pub legend: String,
    /// The tokens' text, in order (bos left out).
    pub tokens: Vec<String>,
    /// The token where the model's continuation starts, marked on the page.
    pub boundary: Option<usize>,
    /// Table columns.
    pub columns: Vec<Column>,
    /// Rows, in ranking order.
    pub features: Vec<FeatureView>,
}

impl TextView {
    /// A text shaded by chosen features (seed 003's `visualize_feature_activations`): one row
    /// per `(id, label, activation at each token)`, with the feature's largest activation on
    /// the text. `saex highlight` and the Python module's pages both build it here, so the two
    /// pages are the same.
    pub fn highlight(text: &str, tokens: Vec<String>, features: impl IntoIterator<Item = (u32, Option<String>, Vec<f32>)>) -> TextView {
        TextView {
            title: text.chars().take(80).collect(),
            legend: "max = the feature's largest activation on this text; click a row to shade the text by it.".into(),
            tokens,
            columns: vec![Column::text("feature", "feature id"), Column::num("max", "largest activation on the text")],
            features: features
                .into_iter()
                .map(|(id, label, acts)| FeatureView {
                    id,
                    cells: vec![id.to_string(), format!("{:.3}", acts.iter().copied().fold(0.0, f32::max))],
                    label,
                    url: None,
                    acts,
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// A page could not be rendered (a template bug, never the data's fault).
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot render the page: {}", self.0)
    }
}

impl std::error::Error for Error {}

/// The templates, compiled in; a syntax error in one is reported by every render (and caught
/// by the unit tests), never a panic.
fn env() -> Result<&'static Environment<'static>, Error> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, src) in [
            ("base.html", include_str!("../templates/base.html")),
            ("style.css", include_str!("../templates/style.css")),
            ("common.js", include_str!("../templates/common.js")),
            ("texts.html", include_str!("../templates/texts.html")),
            ("texts.js", include_str!("../templates/texts.js")),
            ("dashboard.html", include_str!("../templates/dashboard.html")),
            ("dashboard.js", include_str!("../templates/dashboard.js")),
            ("browse.html", include_str!("../templates/browse.html")),
            ("browse.js", include_str!("../templates/browse.js")),
            ("explore.html", include_str!("../templates/explore.html")),
            ("explore.js", include_str!("../templates/explore.js")),
            ("drift.html", include_str!("../templates/drift.html")),
            ("drift.js", include_str!("../templates/drift.js")),
            ("logit_stats.html", include_str!("../templates/logit_stats.html")),
            ("logit_stats.js", include_str!("../templates/logit_stats.js")),
            ("map.html", include_str!("../templates/map.html")),
            ("map.js", include_str!("../templates/map.js")),
        ] {
            env.add_template(name, src).map_err(|e| format!("template {name}: {e}"))?;
        }
        Ok(env)
    });
    env.as_ref().map_err(|e| Error(e.clone()))
}

/// JSON safe to place inside `<script>`: `<` is written as `\u003c`, so no `</script>` or
/// `<!--` in the data can end the block.
pub fn script_json<T: Serialize>(value: &T) -> Result<String, Error> {
    let s = serde_json::to_string(value).map_err(|e| Error(e.to_string()))?;
    Ok(s.replace('<', "\\u003c"))
}

/// Render template `name` with a title, subtitle and the page's data.
pub fn render<T: Serialize>(name: &str, title: &str, subtitle: &str, data: &T) -> Result<String, Error> {
    let t = env()?.get_template(name).map_err(|e| Error(e.to_string()))?;
    t.render(minijinja::context! { title => title, subtitle => subtitle, data => script_json(data)? }).map_err(|e| Error(e.to_string()))
}

/// Feature dashboards, one section per feature: `features` are serialised feature records
/// (the JSON of `saex feature`).
pub fn dashboard_page<T: Serialize>(title: &str, subtitle: &str, features: &[T]) -> Result<String, Error> {
    #[derive(Serialize)]
    struct Data<'a, T> {
        features: &'a [T],
    }
    render("dashboard.html", title, subtitle, &Data { features })
}

/// The browse page of a set of dashboards: `features` are feature summaries (id, label,
/// stats); `href` is the link pattern of a dashboard, `{id}` standing for the feature id.
pub fn browse_page<T: Serialize>(title: &str, subtitle: &str, features: &[T], href: &str) -> Result<String, Error> {
    #[derive(Serialize)]
    struct Data<'a, T> {
        features: &'a [T],
        href: &'a str,
    }
    render("browse.html", title, subtitle, &Data { features, href })
}

/// Seed 001's exploration report: `report` is the serialised `ExploreReport` (the JSON of
/// `saex explore --json`).
pub fn explore_page<T: Serialize>(title: &str, subtitle: &str, report: &T) -> Result<String, Error> {
    #[derive(Serialize)]
    struct Data<'a, T> {
        report: &'a T,
    }
    render("explore.html", title, subtitle, &Data { report })
}

/// Two models' discoveries compared: `drift` is the serialised `Drift`.
pub fn drift_page<T: Serialize>(title: &str, subtitle: &str, drift: &T) -> Result<String, Error> {
    #[derive(Serialize)]
    struct Data<'a, T> {
        drift: &'a T,
    }
    render("drift.html", title, subtitle, &Data { drift })
}

/// Seed 004's logit-weight plots: `report` is the serialised `LogitStatsReport`.
pub fn logit_stats_page<T: Serialize>(title: &str, subtitle: &str, report: &T) -> Result<String, Error> {
    #[derive(Serialize)]
    struct Data<'a, T> {
        report: &'a T,
    }
    render("logit_stats.html", title, subtitle, &Data { report })
}

/// Seed 000's feature map: `report` is the serialised `MapReport` (points with their
/// coordinates and hover fields, the groups for the legend).
pub fn map_page<T: Serialize>(title: &str, subtitle: &str, report: &T) -> Result<String, Error> {
    #[derive(Serialize)]
    struct Data<'a, T> {
        report: &'a T,
    }
    render("map.html", title, subtitle, &Data { report })
}

/// Texts, each with its features: click a feature to shade the text by it.
pub fn texts_page(title: &str, subtitle: &str, views: &[TextView]) -> Result<String, Error> {
    #[derive(Serialize)]
    struct Data<'a> {
        views: &'a [TextView],
    }
    render("texts.html", title, subtitle, &Data { views })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_the_script_block_and_titles_are_escaped() {
        let view = TextView { tokens: vec!["</script><script>alert(1)</script>".into()], ..Default::default() };
        let html = texts_page("<b>t</b>", "s", &[view]).unwrap();
        assert!(!html.contains("</script><script>alert"), "raw token text leaked into the page");
        assert!(html.contains("&lt;b&gt;t&lt;") && !html.contains("<b>t</b>"));
        assert_eq!(html.matches("<script").count(), 2);
    }

    #[test]
    fn every_template_parses() {
        for name in
            ["base.html", "texts.html", "dashboard.html", "browse.html", "explore.html", "drift.html", "logit_stats.html", "map.html"]
        {
            assert!(env().unwrap().get_template(name).is_ok(), "{name}");
        }
    }
}
