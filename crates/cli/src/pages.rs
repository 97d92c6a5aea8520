//! Report pages from engine results: the values the report crate shows.

use std::path::Path;

use saex_engine::{Captured, DiscoverResponse, Encoding, TopReport};
use saex_report::{Column, FeatureView, TextView};

/// Write `html` to `path` atomically.
pub fn write(path: &Path, html: &str) -> anyhow::Result<()> {
    saex_engine::atomic::write(path, html.as_bytes())?;
    Ok(())
}

fn token_texts(text: &str, offsets: &[(usize, usize)], first: usize) -> Vec<String> {
    offsets[first..].iter().map(|&(a, b)| text.get(a..b).unwrap_or("").to_string()).collect()
}

/// One text's view on the top-features page.
pub fn top_view(r: &TopReport, enc: &Encoding) -> TextView {
    let first = enc.first_real();
    let acts = &enc.saes[0].acts;
    TextView {
        title: r.text.chars().take(80).collect(),
        legend: format!(
            "{} = the feature's {} activation over the text's {} tokens; density = share of reference tokens it fires on ({} dense features skipped).",
            r.reduce, r.reduce, r.n_tokens, r.skipped_dense
        ),
        tokens: token_texts(&r.text, &enc.offsets, first),
        columns: vec![
            Column::text("feature", "feature id"),
            Column::num(&r.reduce.to_string(), "the ranking value"),
            Column::text("peak token", "token where it peaks, and the activation there"),
            Column::num("density", "share of reference-corpus tokens it fires on"),
        ],
        features: r
            .features
            .iter()
            .map(|f| FeatureView {
                id: f.feature_id,
                cells: vec![
                    f.feature_id.to_string(),
                    format!("{:.3}", f.value),
                    format!("{} ({:.2})", f.peak_token, f.peak_value),
                    f.density.map_or("–".into(), |d| format!("{:.2}%", 100.0 * d)),
                ],
                label: f.label.clone(),
                url: None,
                acts: acts.column(f.feature_id)[first..].to_vec(),
            })
            .collect(),
        ..Default::default()
    }
}

/// The discover page's one view: the analysed text (prompt ▶ continuation) and the ranked
/// features, each shading the text when selected.
pub fn discover_view(res: &DiscoverResponse, cap: &Captured) -> TextView {
    let first = usize::from(cap.has_bos);
    let several = cap.saes.len() > 1;
    let mut columns = vec![Column::text("feature", "feature id")];
    if several {
        columns.push(Column::text("SAE", "the SAE it belongs to"));
    }
    columns.extend([
        Column::text("layer/stream", "the SAE's hook"),
        Column::num("score", "the ranking score"),
        Column::num("mean", "mean activation over the kept tokens"),
        Column::num("coverage", "share of kept tokens above τ"),
        Column::num("max", "largest activation over the kept tokens"),
        Column::num("selectivity", "mean in the span minus mean in the background"),
    ]);
    let features = res
        .features
        .iter()
        .map(|f| {
            let mut cells = vec![f.feature_id.to_string()];
            if several {
                cells.push(f.sae_id.clone());
            }
            cells.extend([
                format!("{}/{}", f.layer.map_or("-".into(), |l| l.to_string()), f.stream),
                format!("{:.4}", f.score),
                format!("{:.3}", f.scores.mean),
                format!("{:.3}", f.scores.coverage),
                format!("{:.3}", f.scores.max),
                f.scores.selectivity.map_or("–".into(), |s| format!("{s:.3}")),
            ]);
            let acts = cap.sae(&f.sae_id).map(|c| c.acts.column(f.feature_id)[first..].to_vec()).unwrap_or_default();
            FeatureView { id: f.feature_id, cells, label: f.proto_label.clone(), url: f.neuronpedia_url.clone(), acts }
        })
        .collect();
    let generated = cap.n_prompt < cap.tokens.len();
    TextView {
        title: format!("{} ({} tokens, {} kept by the pre-filter)", res.analyzed.mode, res.analyzed.tokens, res.analyzed.kept_tokens),
        notes: res.notes.clone(),
        legend: "score = the ranking score (divided by each feature's reference P95 when SAEs are merged); mean, coverage (share of kept tokens above τ) and max are over the kept tokens; selectivity = mean in the span minus mean in the background.".into(),
        tokens: token_texts(&cap.text, &cap.offsets, first),
        boundary: generated.then(|| cap.n_prompt.saturating_sub(first)),
        columns,
        features,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saex_analysis::discover::{Analyzed, FeatureResult, Scores};
    use saex_engine::CapturedSae;
    use saex_sae::SparseActs;

    fn feature(sae_id: &str, id: u32) -> FeatureResult {
        FeatureResult {
            feature_id: id,
            sae_id: sae_id.into(),
            layer: Some(6),
            stream: "resid_pre".into(),
            score: 1.0,
            scores: Scores { mean: 1.0, coverage: 1.0, max: 1.0, selectivity: None },
            proto_label: None,
            top_spans: vec![],
            neuronpedia_url: None,
        }
    }

    /// Two SAEs on one hook, the same feature id in both: each row shades the text by its own
    /// SAE's codes (matched by SAE id, not by layer and stream).
    #[test]
    fn features_shade_by_their_own_sae() {
        // bos + 2 tokens; SAE a fires feature 3 at token 1 (2.0), SAE b at token 2 (5.0).
        let acts = |pos: usize, v: f32| {
            let mut indptr = vec![0, 0, 0, 0];
            for p in indptr.iter_mut().skip(pos + 1) {
                *p = 1;
            }
            SparseActs { indptr, features: vec![3], values: vec![v], d_sae: 8 }
        };
        let cap = Captured {
            text: "ab".into(),
            tokens: vec![2, 10, 11],
            offsets: vec![(0, 0), (0, 1), (1, 2)],
            has_bos: true,
            n_prompt: 3,
            prompt_bytes: 2,
            entropy: None,
            saes: vec![
                CapturedSae { sae_id: "a".into(), norms: vec![0.0; 3], acts: acts(1, 2.0) },
                CapturedSae { sae_id: "b".into(), norms: vec![0.0; 3], acts: acts(2, 5.0) },
            ],
        };
        let res = DiscoverResponse {
            id: None,
            model_id: "m".into(),
            sae_id: "a,b".into(),
            analyzed: Analyzed { mode: "text".into(), tokens: 2, layers: vec![6], kept_tokens: 2, prompt_end: 2, text: "ab".into() },
            features: vec![feature("b", 3), feature("a", 3)],
            notes: vec![],
        };
        let v = discover_view(&res, &cap);
        assert_eq!(v.tokens, ["a", "b"]);
        assert_eq!(v.features[0].acts, [0.0, 5.0], "row 1 is SAE b's feature 3");
        assert_eq!(v.features[1].acts, [2.0, 0.0], "row 2 is SAE a's feature 3");
        assert_eq!(v.features[0].cells[1], "b", "the SAE column names it");
        assert_eq!(v.boundary, None);
    }
}
