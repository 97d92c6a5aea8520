//! The exploration notebook (seed 001), on one feature vector per text (by default the last
//! token's, as the notebook reads it): the most frequent, strongest and most selective
//! features, per-category specialists, co-activation, the two heatmaps, and the concept
//! finder. Every statistic reduces over the text axis.
//!
//! Definitions, as the notebook's code computes them ("strong" = activation > `strong`,
//! 5.0 by default; "active" = activation > 0):
//! - frequency(f) = texts where f is active; strongest = largest max over texts;
//!   most selective = among features strong on at least one text, fewest strong texts;
//! - per category c: the top 5 features by their max over c's texts; for each,
//!   strong_inside = strong texts of c, strong_outside = strong texts of the other
//!   categories, specialist score = inside − outside; the category's specialist is the first
//!   of the five with the highest score, kept when that score is ≥ 0 and called a true
//!   specialist when it is > 0;
//! - co-activation per category: the 5 features active on most of its texts; pairwise
//!   co-occurrence C[f][g] = texts where both are active and Jaccard C / (C_ff + C_gg − C_fg)
//!   (0 for an empty union) over the 10 most frequent features (the notebook stops at the
//!   per-category counts; the pairwise part is the standard definition);
//! - concept finder: strong count per feature over the concept texts, and its mean
//!   strength over the texts where it fired (the notebook's code divides by 0/1 and so
//!   prints the sum; `sum` is reported too).
//!
//! Rankings break ties by the lower feature id (the notebook's `torch.topk` breaks them in
//! heap order, which no other library reproduces); lists of texts keep text order on ties.

use std::collections::HashMap;

use saex_sae::SparseActs;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The dense value of feature `f` in row `t` of `a` (one row per text).
fn at(a: &SparseActs, t: usize, f: u32) -> f32 {
    a.get(t, f)
}

/// A feature and one number about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ranked {
    /// Feature id.
    pub feature_id: u32,
    /// The number it is ranked by.
    pub value: f64,
}

/// A text a feature fires on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TextAct {
    /// Index of the text.
    pub text: usize,
    /// The activation.
    pub act: f32,
}

/// The notebook's detail table for one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureDetail {
    /// `strongest`, `most frequent` or `most selective`.
    pub role: String,
    /// Feature id.
    pub feature_id: u32,
    /// Texts where it is active.
    pub active: usize,
    /// Texts where it is strong.
    pub strong: usize,
    /// Mean activation over the texts where it is active.
    pub mean_when_active: f32,
    /// Largest activation.
    pub max: f32,
    /// Its 10 strongest texts (ties in text order).
    pub top_texts: Vec<TextAct>,
}

/// One of a category's top features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryFeature {
    /// Feature id.
    pub feature_id: u32,
    /// Its max over the category's texts.
    pub max: f32,
    /// Strong texts inside the category.
    pub strong_inside: usize,
    /// Strong texts outside it.
    pub strong_outside: usize,
    /// inside − outside.
    pub specialist_score: i64,
}

/// One category's analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryReport {
    /// The category.
    pub category: String,
    /// Its texts.
    pub texts: usize,
    /// Its top 5 features by max.
    pub top: Vec<CategoryFeature>,
    /// The specialist: the first of them with the best score, when that score is ≥ 0.
    pub specialist: Option<u32>,
    /// Whether the specialist's score is > 0.
    pub true_specialist: bool,
    /// The 5 features active on most of its texts (co-activation), with their counts.
    pub most_common: Vec<Ranked>,
}

/// Co-occurrence of the most frequent features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cooccurrence {
    /// The features, most frequent first.
    pub features: Vec<u32>,
    /// `counts[i][j]`: texts where both are active (diagonal: frequency).
    pub counts: Vec<Vec<usize>>,
    /// `jaccard[i][j]`.
    pub jaccard: Vec<Vec<f64>>,
}

/// A heatmap: `z[row][column]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Heatmap {
    /// Row labels.
    pub rows: Vec<String>,
    /// Column labels.
    pub columns: Vec<String>,
    /// Values.
    pub z: Vec<Vec<f32>>,
}

/// Everything the notebook computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exploration {
    /// The strong threshold.
    pub strong: f32,
    /// Texts analysed.
    pub n_texts: usize,
    /// Top 20 by frequency (value: texts active).
    pub frequent: Vec<Ranked>,
    /// Top 20 by max over texts.
    pub strongest: Vec<Ranked>,
    /// Top 20 most selective (value: strong texts, fewest first).
    pub selective: Vec<Ranked>,
    /// The detail tables of the strongest, most frequent and most selective feature.
    pub details: Vec<FeatureDetail>,
    /// Per category, in order of first appearance.
    pub categories: Vec<CategoryReport>,
    /// The best specialist overall: (category, feature, score), when one has a score > 0.
    pub best_specialist: Option<(String, u32, i64)>,
    /// Pairwise co-occurrence of the 10 most frequent features.
    pub cooccurrence: Cooccurrence,
    /// Heatmap 1: texts × the 10 most frequent features.
    pub heatmap_frequent: Heatmap,
    /// Heatmap 2: strongest, frequent, selective and each category's specialist × texts.
    pub heatmap_features: Heatmap,
}

fn rank(values: HashMap<u32, f64>, k: usize, ascending: bool) -> Vec<Ranked> {
    let mut v: Vec<Ranked> = values.into_iter().map(|(feature_id, value)| Ranked { feature_id, value }).collect();
    v.sort_by(|a, b| {
        let c = if ascending { a.value.total_cmp(&b.value) } else { b.value.total_cmp(&a.value) };
        c.then(a.feature_id.cmp(&b.feature_id))
    });
    v.truncate(k);
    v
}

fn label(texts: &[String], t: usize, n: usize) -> String {
    let s = &texts[t];
    if s.chars().count() > n {
        format!("{}...", s.chars().take(n).collect::<String>())
    } else {
        s.clone()
    }
}

/// Run every analysis. `a` holds one row per text (the reduced vector), `texts` their
/// text, `categories` their category.
pub fn explore(a: &SparseActs, texts: &[String], categories: &[String], strong: f32) -> Result<Exploration> {
    let n = a.n_tokens();
    if n == 0 || texts.len() != n || categories.len() != n {
        return Err(Error::Invalid(format!(
            "{n} rows for {} texts and {} categories (need at least one text)",
            texts.len(),
            categories.len()
        )));
    }
    let (mut freq, mut max, mut strong_n) = (HashMap::<u32, f64>::new(), HashMap::<u32, f64>::new(), HashMap::<u32, f64>::new());
    for (fs, vs) in a.tokens() {
        for (&f, &v) in fs.iter().zip(vs) {
            if v > 0.0 {
                *freq.entry(f).or_default() += 1.0;
            }
            let m = max.entry(f).or_insert(f64::NEG_INFINITY);
            *m = m.max(f64::from(v));
            if v > strong {
                *strong_n.entry(f).or_default() += 1.0;
            }
        }
    }
    let frequent = rank(freq.clone(), 20, false);
    let strongest = rank(max.clone(), 20, false);
    let selective = rank(strong_n.clone(), 20, true);
    let detail = |role: &str, f: u32| {
        let mut acts: Vec<TextAct> = (0..n).map(|t| TextAct { text: t, act: at(a, t, f) }).collect();
        let active: Vec<f32> = acts.iter().map(|x| x.act).filter(|&x| x > 0.0).collect();
        acts.sort_by(|x, y| y.act.total_cmp(&x.act)); // stable: text order on ties
        acts.truncate(10);
        FeatureDetail {
            role: role.into(),
            feature_id: f,
            active: active.len(),
            strong: (0..n).filter(|&t| at(a, t, f) > strong).count(),
            mean_when_active: if active.is_empty() { 0.0 } else { active.iter().sum::<f32>() / active.len() as f32 },
            max: (0..n).map(|t| at(a, t, f)).fold(f32::NEG_INFINITY, f32::max),
            top_texts: acts,
        }
    };
    let mut details = Vec::new();
    for (role, list) in [("strongest", &strongest), ("most frequent", &frequent), ("most selective", &selective)] {
        if let Some(x) = list.first() {
            if !details.iter().any(|d: &FeatureDetail| d.feature_id == x.feature_id) {
                details.push(detail(role, x.feature_id));
            }
        }
    }
    // Categories in order of first appearance.
    let mut cats: Vec<String> = Vec::new();
    for c in categories {
        if !cats.contains(c) {
            cats.push(c.clone());
        }
    }
    let mut reports = Vec::new();
    let mut best: Option<(String, u32, i64)> = None;
    let mut best_score = -1i64;
    for c in &cats {
        let inside: Vec<usize> = (0..n).filter(|&t| categories[t] == *c).collect();
        let mut cmax: HashMap<u32, f64> = HashMap::new();
        let mut ccount: HashMap<u32, f64> = HashMap::new();
        for &t in &inside {
            if let Some((fs, vs)) = a.token(t) {
                for (&f, &v) in fs.iter().zip(vs) {
                    let m = cmax.entry(f).or_insert(f64::NEG_INFINITY);
                    *m = m.max(f64::from(v));
                    if v > 0.0 {
                        *ccount.entry(f).or_default() += 1.0;
                    }
                }
            }
        }
        let top: Vec<CategoryFeature> = rank(cmax, 5, false)
            .into_iter()
            .map(|r| {
                let si = inside.iter().filter(|&&t| at(a, t, r.feature_id) > strong).count();
                let so = (0..n).filter(|&t| categories[t] != *c && at(a, t, r.feature_id) > strong).count();
                CategoryFeature {
                    feature_id: r.feature_id,
                    max: r.value as f32,
                    strong_inside: si,
                    strong_outside: so,
                    specialist_score: si as i64 - so as i64,
                }
            })
            .collect();
        let mut cat_best: Option<&CategoryFeature> = None;
        let mut cat_score = -1i64;
        for x in &top {
            if x.specialist_score > cat_score {
                cat_score = x.specialist_score;
                cat_best = Some(x);
            }
            if x.specialist_score > best_score {
                best_score = x.specialist_score;
                best = Some((c.clone(), x.feature_id, x.specialist_score));
            }
        }
        reports.push(CategoryReport {
            category: c.clone(),
            texts: inside.len(),
            specialist: cat_best.map(|x| x.feature_id),
            true_specialist: cat_best.is_some_and(|x| x.specialist_score > 0),
            top,
            most_common: rank(ccount, 5, false),
        });
    }
    let best_specialist = best.filter(|b| b.2 > 0);
    // Co-occurrence of the 10 most frequent features.
    let top10: Vec<u32> = frequent.iter().take(10).map(|r| r.feature_id).collect();
    let active = |t: usize, f: u32| at(a, t, f) > 0.0;
    let counts: Vec<Vec<usize>> =
        top10.iter().map(|&f| top10.iter().map(|&g| (0..n).filter(|&t| active(t, f) && active(t, g)).count()).collect()).collect();
    let jaccard = (0..top10.len())
        .map(|i| {
            (0..top10.len())
                .map(|j| {
                    let union = counts[i][i] + counts[j][j] - counts[i][j];
                    if union == 0 {
                        0.0
                    } else {
                        counts[i][j] as f64 / union as f64
                    }
                })
                .collect()
        })
        .collect();
    let heatmap_frequent = Heatmap {
        rows: (0..n).map(|t| label(texts, t, 30)).collect(),
        columns: top10.iter().map(|f| format!("F{f}")).collect(),
        z: (0..n).map(|t| top10.iter().map(|&f| at(a, t, f)).collect()).collect(),
    };
    let mut viz: Vec<(u32, String)> = Vec::new();
    let mut add = |f: u32, name: String| {
        if !viz.iter().any(|x| x.0 == f) {
            viz.push((f, name));
        }
    };
    if let Some(x) = strongest.first() {
        add(x.feature_id, format!("#{} (Strongest)", x.feature_id));
    }
    if let Some(x) = frequent.first() {
        add(x.feature_id, format!("#{} (Frequent)", x.feature_id));
    }
    if let Some(x) = selective.first() {
        add(x.feature_id, format!("#{} (Selective)", x.feature_id));
    }
    for r in &reports {
        if let Some(f) = r.specialist {
            add(f, format!("#{f} ({})", r.category));
        }
    }
    let heatmap_features = Heatmap {
        rows: viz.iter().map(|x| x.1.clone()).collect(),
        columns: (0..n).map(|t| format!("[{}] {}", categories[t].chars().take(4).collect::<String>(), label(texts, t, 40))).collect(),
        z: viz.iter().map(|&(f, _)| (0..n).map(|t| at(a, t, f)).collect()).collect(),
    };
    Ok(Exploration {
        strong,
        n_texts: n,
        frequent,
        strongest,
        selective,
        details,
        categories: reports,
        best_specialist,
        cooccurrence: Cooccurrence { features: top10, counts, jaccard },
        heatmap_frequent,
        heatmap_features,
    })
}

/// One feature of the concept finder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConceptFeature {
    /// Feature id.
    pub feature_id: u32,
    /// Concept texts where it is strong.
    pub strong: usize,
    /// Concept texts where it fires.
    pub active: usize,
    /// Mean activation over the texts where it fires.
    pub mean_when_active: f32,
    /// Sum over the texts (what the notebook prints as "mean").
    pub sum: f32,
}

/// The concept finder's two rankings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Concept {
    /// Texts analysed.
    pub n_texts: usize,
    /// The strong threshold.
    pub strong: f32,
    /// Top k by strong-activation consistency (strong count; ties: larger sum, lower id).
    pub by_consistency: Vec<ConceptFeature>,
    /// Top k by mean strength where they fired (ties: lower id).
    pub by_strength: Vec<ConceptFeature>,
}

/// The features a set of concept texts share (`a`: one row per text).
pub fn concept(a: &SparseActs, strong: f32, k: usize) -> Result<Concept> {
    let n = a.n_tokens();
    if n == 0 {
        return Err(Error::field("texts", "give at least one text"));
    }
    let mut acc: HashMap<u32, (usize, usize, f32)> = HashMap::new(); // strong, active, sum
    for (fs, vs) in a.tokens() {
        for (&f, &v) in fs.iter().zip(vs) {
            let e = acc.entry(f).or_default();
            e.0 += usize::from(v > strong);
            e.1 += usize::from(v > 0.0);
            e.2 += v;
        }
    }
    let all: Vec<ConceptFeature> = acc
        .into_iter()
        .map(|(f, (s, act, sum))| ConceptFeature {
            feature_id: f,
            strong: s,
            active: act,
            mean_when_active: if act > 0 { sum / act as f32 } else { 0.0 },
            sum,
        })
        .collect();
    let mut by_consistency = all.clone();
    by_consistency.sort_by(|x, y| y.strong.cmp(&x.strong).then(y.sum.total_cmp(&x.sum)).then(x.feature_id.cmp(&y.feature_id)));
    by_consistency.truncate(k);
    let mut by_strength = all;
    by_strength.sort_by(|x, y| y.mean_when_active.total_cmp(&x.mean_when_active).then(x.feature_id.cmp(&y.feature_id)));
    by_strength.truncate(k);
    Ok(Concept { n_texts: n, strong, by_consistency, by_strength })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 4 texts (categories x, x, y, y), d_sae 4:
    /// f0 = [6, 0, 1, 0]  (active 2, strong 1 inside x)
    /// f1 = [1, 1, 1, 1]  (active 4)
    /// f2 = [0, 0, 7, 8]  (strong 2 inside y)
    /// f3 = [0, 9, 0, 6]  (strong 1 in x, 1 in y)
    fn data() -> (SparseActs, Vec<String>, Vec<String>) {
        let rows: Vec<Vec<(u32, f32)>> = vec![
            vec![(0, 6.0), (1, 1.0)],
            vec![(1, 1.0), (3, 9.0)],
            vec![(0, 1.0), (1, 1.0), (2, 7.0)],
            vec![(1, 1.0), (2, 8.0), (3, 6.0)],
        ];
        let mut a = SparseActs::new(4);
        a.indptr.clear();
        a.indptr.push(0);
        for r in rows {
            for (f, v) in r {
                a.features.push(f);
                a.values.push(v);
            }
            a.indptr.push(a.values.len());
        }
        let texts = (0..4).map(|i| format!("text {i}")).collect();
        let cats = ["x", "x", "y", "y"].map(String::from).to_vec();
        (a, texts, cats)
    }

    #[test]
    fn the_notebooks_analyses_by_hand() {
        let (a, texts, cats) = data();
        let e = explore(&a, &texts, &cats, 5.0).unwrap();
        assert_eq!(e.frequent[0], Ranked { feature_id: 1, value: 4.0 });
        assert_eq!(e.strongest[0], Ranked { feature_id: 3, value: 9.0 });
        // Strong counts: f0 1, f2 2, f3 2 → most selective f0 (1 strong text).
        assert_eq!(e.selective[0], Ranked { feature_id: 0, value: 1.0 });
        // Category x: max f3 9, f0 6, f1 1. f3: inside 1 (9), outside 1 (6) → 0;
        // f0: inside 1, outside 0 → 1: the specialist, a true one.
        let x = &e.categories[0];
        assert_eq!(x.top.iter().map(|c| (c.feature_id, c.specialist_score)).collect::<Vec<_>>(), [(3, 0), (0, 1), (1, 0)]);
        assert_eq!((x.specialist, x.true_specialist), (Some(0), true));
        // Category y: f2 (8): inside 2, outside 0 → 2. Best overall: y's f2.
        assert_eq!(e.categories[1].specialist, Some(2));
        assert_eq!(e.best_specialist, Some(("y".into(), 2, 2)));
        // Co-occurrence: f1 (freq 4) and f3 (freq 2) share texts 1 and 3; Jaccard 2 / (4 + 2 − 2) = 0.5.
        let i1 = e.cooccurrence.features.iter().position(|&f| f == 1).unwrap();
        let i3 = e.cooccurrence.features.iter().position(|&f| f == 3).unwrap();
        assert_eq!((e.cooccurrence.counts[i1][i3], e.cooccurrence.jaccard[i1][i3]), (2, 0.5));
        // Heatmap 2: strongest f3, frequent f1, selective f0, then specialists x: f0 (dup), y: f2.
        assert_eq!(e.heatmap_features.rows, ["#3 (Strongest)", "#1 (Frequent)", "#0 (Selective)", "#2 (y)"]);
        assert_eq!(e.heatmap_features.z[3], [0.0, 0.0, 7.0, 8.0]);
        // Detail of f0: active 2, mean when active (6 + 1) / 2.
        let d = e.details.iter().find(|d| d.feature_id == 0).unwrap();
        assert_eq!((d.active, d.mean_when_active, d.top_texts[0].text), (2, 3.5, 0));
    }

    #[test]
    fn the_concept_finder_by_hand() {
        let (a, _, _) = data();
        let c = concept(&a, 5.0, 2).unwrap();
        // Strong counts: f2 2 (sum 15), f3 2 (sum 15), f0 1: tie broken by sum then id → f2, f3.
        assert_eq!(c.by_consistency.iter().map(|x| x.feature_id).collect::<Vec<_>>(), [2, 3]);
        // Mean when active: f2 7.5, f3 7.5, f0 3.5, f1 1 → f2, f3.
        assert_eq!(c.by_strength.iter().map(|x| (x.feature_id, x.mean_when_active)).collect::<Vec<_>>(), [(2, 7.5), (3, 7.5)]);
        assert_eq!(c.by_consistency[0].sum, 15.0);
    }
}
