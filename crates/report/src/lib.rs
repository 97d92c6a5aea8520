//! # Brief overview
//!
//! `saex-report` turns results into self-contained HTML (inline CSS, no scripts, no network):
//! [`highlight_page`] shows texts with each token shaded by one feature's activation, next
//! to the text's top features. It knows result values only, never tensors or models, so it
//! can be tested on plain data.
//!
//! ```
//! use saex_report::{highlight_page, Section, TokenAct, FeatureRow};
//! let s = Section {
//!     title: "english".into(),
//!     feature: 7,
//!     tokens: vec![TokenAct { text: "Hi".into(), act: 1.0 }, TokenAct { text: "<b>".into(), act: 0.0 }],
//!     top: vec![FeatureRow { feature: 7, value: 1.0, peak_token: "Hi".into(), label: None }],
//! };
//! let html = highlight_page("demo", "subtitle", &[s]);
//! assert!(html.contains("&lt;b&gt;") && html.starts_with("<!DOCTYPE html>"));
//! ```
#![deny(missing_docs)]

use std::fmt::Write;

/// One token and the activation it is shaded by.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenAct {
    /// The token's text, as it appears in the input.
    pub text: String,
    /// The feature's activation on it.
    pub act: f32,
}

/// One row of a text's top-features table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeatureRow {
    /// Feature id.
    pub feature: u32,
    /// Its score for the text.
    pub value: f32,
    /// The token where it peaks.
    pub peak_token: String,
    /// A label, when one is known.
    pub label: Option<String>,
}

/// One text on the page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Section {
    /// Heading (e.g. the category).
    pub title: String,
    /// The feature the tokens are shaded by.
    pub feature: u32,
    /// The tokens.
    pub tokens: Vec<TokenAct>,
    /// The text's top features.
    pub top: Vec<FeatureRow>,
}

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}.text{font-family:ui-monospace,monospace;white-space:pre-wrap;\
border:1px solid #ddd;border-radius:6px;padding:.8rem;line-height:1.9}.t{border-radius:3px;padding:1px 0}\
table{border-collapse:collapse;margin-top:.6rem}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.sub{color:#666}";

/// A page with one section per text: tokens shaded by the section's feature (opacity ∝
/// activation / the section's max; hover shows the value), then its top features.
pub fn highlight_page(title: &str, subtitle: &str, sections: &[Section]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1><p class=\"sub\">{s}</p>\n",
        t = escape(title),
        s = escape(subtitle)
    );
    for sec in sections {
        let max = sec.tokens.iter().map(|t| t.act).fold(0f32, f32::max);
        let _ = write!(h, "<h2>{} — feature {}</h2>\n<div class=\"text\">", escape(&sec.title), sec.feature);
        for t in &sec.tokens {
            let alpha = if max > 0.0 { (t.act / max).clamp(0.0, 1.0) } else { 0.0 };
            let _ = write!(
                h,
                "<span class=\"t\" title=\"{:.3}\" style=\"background:rgba(255,120,0,{alpha:.2})\">{}</span>",
                t.act,
                escape(&t.text)
            );
        }
        h.push_str("</div>\n");
        if sec.top.is_empty() {
            continue;
        }
        h.push_str("<table><tr><th>feature</th><th>score</th><th>peak token</th><th>label</th></tr>\n");
        for r in &sec.top {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"n\">{:.3}</td><td>{}</td><td>{}</td></tr>",
                r.feature,
                r.value,
                escape(&r.peak_token),
                escape(r.label.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shading_is_relative_to_the_section_max_and_text_is_escaped() {
        let s = Section {
            title: "a&b".into(),
            feature: 3,
            tokens: vec![TokenAct { text: "x".into(), act: 2.0 }, TokenAct { text: "\"y\"".into(), act: 1.0 }],
            top: vec![],
        };
        let h = highlight_page("t", "s", &[s]);
        assert!(h.contains("rgba(255,120,0,1.00)\">x<"));
        assert!(h.contains("rgba(255,120,0,0.50)\">&quot;y&quot;<"));
        assert!(h.contains("a&amp;b — feature 3"));
        assert!(!h.contains("<table>"), "no table for a section without rows");
    }
}
