//! Scoring (seed 002 "Aggregate & Score"): pure arithmetic over one sequence's sparse feature
//! activations, so every mode is tested against hand-computed values.
//!
//! - `mean`, `max` and `coverage` are over the kept tokens (the pre-filter's choice).
//! - `selectivity` contrasts two regions and ignores the pre-filter: filtering either side by
//!   a salience proxy would bias the contrast. The domain is the span's tokens; the background
//!   is the tokens outside it, or — when the span is the whole text — the feature's mean on
//!   the reference corpus.

use std::collections::HashMap;

use saex_sae::SparseActs;

use super::request::ScoreMode;
use super::response::Scores;

/// One sequence's activations under one SAE, and which tokens play which role.
pub struct Sequence<'a> {
    /// Every token's nonzero activations (bos included, as a row the masks leave out).
    pub acts: &'a SparseActs,
    /// Positions of the kept tokens.
    pub kept: &'a [usize],
    /// Per token: inside the domain span.
    pub span: &'a [bool],
    /// Per token: in the background window.
    pub background: &'a [bool],
    /// Per feature: mean activation on the reference corpus, the background when no token is.
    pub reference_mean: Option<&'a [f32]>,
}

/// A feature's scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Feature id.
    pub feature: u32,
    /// Its scores.
    pub scores: Scores,
}

#[derive(Default, Clone, Copy)]
struct Acc {
    sum: f64,
    max: f32,
    above: usize,
}

fn region_means(acts: &SparseActs, mask: &[bool]) -> (HashMap<u32, f64>, usize) {
    let mut sums: HashMap<u32, f64> = HashMap::new();
    let mut n = 0;
    for (pos, &inside) in mask.iter().enumerate() {
        if !inside {
            continue;
        }
        n += 1;
        if let Some((fs, vs)) = acts.token(pos) {
            for (&f, &v) in fs.iter().zip(vs) {
                *sums.entry(f).or_default() += v as f64;
            }
        }
    }
    for s in sums.values_mut() {
        *s /= n.max(1) as f64;
    }
    (sums, n)
}

/// Scores of the candidate features: `restrict` when given (silent ones score 0), else
/// every feature active on a kept token. `tau(f)` is feature f's coverage threshold.
pub fn score(seq: &Sequence, tau: impl Fn(u32) -> f32, restrict: Option<&[u32]>) -> Vec<Scored> {
    let mut acc: HashMap<u32, Acc> = HashMap::new();
    for &pos in seq.kept {
        let Some((fs, vs)) = seq.acts.token(pos) else { continue };
        for (&f, &v) in fs.iter().zip(vs) {
            let a = acc.entry(f).or_default();
            a.sum += v as f64;
            a.max = a.max.max(v);
            a.above += usize::from(v > tau(f));
        }
    }
    let n = seq.kept.len().max(1) as f64;
    let (span, _) = region_means(seq.acts, seq.span);
    let (bg, n_bg) = region_means(seq.acts, seq.background);
    let mut candidates: Vec<u32> = match restrict {
        Some(r) => r.to_vec(),
        None => acc.keys().copied().collect(),
    };
    candidates.sort_unstable();
    candidates.dedup();
    candidates
        .into_iter()
        .map(|f| {
            let a = acc.get(&f).copied().unwrap_or_default();
            let in_span = span.get(&f).copied().unwrap_or(0.0);
            let background = if n_bg > 0 {
                Some(bg.get(&f).copied().unwrap_or(0.0))
            } else {
                seq.reference_mean.and_then(|m| m.get(f as usize)).map(|&m| m as f64)
            };
            Scored {
                feature: f,
                scores: Scores {
                    mean: (a.sum / n) as f32,
                    coverage: (a.above as f64 / n) as f32,
                    max: a.max,
                    selectivity: background.map(|b| (in_span - b) as f32),
                },
            }
        })
        .collect()
}

/// The ranking score of `s` under `mode` (`None`: selectivity without a background).
pub fn mode_score(s: &Scores, mode: ScoreMode) -> Option<f32> {
    match mode {
        ScoreMode::Mean => Some(s.mean),
        ScoreMode::Max => Some(s.max),
        ScoreMode::MeanCoverage => Some(s.mean * s.coverage),
        ScoreMode::Selectivity => s.selectivity,
    }
}

/// Features passing the coverage gate (`coverage ≥ min_coverage_pct / 100`), with their
/// score, best first (ties: lower id first).
pub fn rank(scored: Vec<Scored>, mode: ScoreMode, min_coverage_pct: f64) -> Vec<(f32, Scored)> {
    let gate = min_coverage_pct / 100.0;
    let mut out: Vec<(f32, Scored)> = scored
        .into_iter()
        // A small epsilon so 1/3 coverage passes a 33.333…% gate despite f32 rounding.
        .filter(|s| s.scores.coverage as f64 + 1e-6 >= gate)
        .filter_map(|s| mode_score(&s.scores, mode).map(|v| (v, s)))
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.feature.cmp(&b.1.feature)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 tokens (0 = bos), 3 features:
    /// ```text
    /// pos:   0(bos)  1     2     3     4
    /// f0:    9.0     1.0   -     3.0   -
    /// f1:    -       -     2.0   -     4.0
    /// f2:    -       0.5   -     -     -
    /// ```
    fn acts() -> SparseActs {
        SparseActs {
            indptr: vec![0, 1, 3, 4, 5, 6],
            features: vec![0, 0, 2, 1, 0, 1],
            values: vec![9.0, 1.0, 0.5, 2.0, 3.0, 4.0],
            d_sae: 3,
        }
    }

    fn by_id(v: &[Scored], f: u32) -> Scores {
        v.iter().find(|s| s.feature == f).unwrap().scores
    }

    #[test]
    fn mean_max_coverage_over_kept_tokens() {
        let a = acts();
        // Kept: 1, 3, 4 (bos never kept). τ = 1.5 for every feature.
        let no = [false; 5];
        let seq = Sequence { acts: &a, kept: &[1, 3, 4], span: &no, background: &no, reference_mean: None };
        let s = score(&seq, |_| 1.5, None);
        // f0 on kept: 1, 3, 0 → mean 4/3, max 3, above τ: {3} → 1/3.
        assert_eq!(by_id(&s, 0), Scores { mean: 4.0 / 3.0, coverage: 1.0 / 3.0, max: 3.0, selectivity: None });
        // f1: 0, 0, 4 → mean 4/3, max 4, coverage 1/3.
        assert_eq!(by_id(&s, 1).max, 4.0);
        // f2: 0.5 at token 1 → mean 1/6, coverage 0 (0.5 ≤ τ).
        assert_eq!(by_id(&s, 2).mean, 0.5 / 3.0);
        assert_eq!(by_id(&s, 2).coverage, 0.0);
        // bos's 9.0 is not kept, so nothing sees it.
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn each_mode_ranks_by_its_own_number() {
        let a = acts();
        let no = [false; 5];
        let seq = Sequence { acts: &a, kept: &[1, 2, 3, 4], span: &no, background: &no, reference_mean: None };
        let s = score(&seq, |_| 1.5, None);
        // f0: 1,0,3,0 → mean 1, max 3, cov 1/4 → mean×cov 0.25.
        // f1: 0,2,0,4 → mean 1.5, max 4, cov 2/4 → mean×cov 0.75.
        // f2: 0.5,0,0,0 → mean 0.125, max 0.5, cov 0.
        let ids = |r: Vec<(f32, Scored)>| r.iter().map(|(v, s)| (s.feature, *v)).collect::<Vec<_>>();
        assert_eq!(ids(rank(s.clone(), ScoreMode::Mean, 0.0)), [(1, 1.5), (0, 1.0), (2, 0.125)]);
        assert_eq!(ids(rank(s.clone(), ScoreMode::Max, 0.0)), [(1, 4.0), (0, 3.0), (2, 0.5)]);
        assert_eq!(ids(rank(s.clone(), ScoreMode::MeanCoverage, 0.0)), [(1, 0.75), (0, 0.25), (2, 0.0)]);
        // The gate: 0.5% drops f2 (coverage 0); 30% also drops f0 (25%).
        assert_eq!(ids(rank(s.clone(), ScoreMode::Max, 0.5)), [(1, 4.0), (0, 3.0)]);
        assert_eq!(ids(rank(s.clone(), ScoreMode::Max, 30.0)), [(1, 4.0)]);
        // No background: selectivity ranks nothing.
        assert!(rank(s, ScoreMode::Selectivity, 0.0).is_empty());
    }

    #[test]
    fn selectivity_span_against_background_tokens() {
        let a = acts();
        // Span = tokens 3, 4 (a "generation"); background = 1, 2 (the prompt); bos in neither.
        let span = [false, false, false, true, true];
        let bg = [false, true, true, false, false];
        let seq = Sequence { acts: &a, kept: &[3], span: &span, background: &bg, reference_mean: None };
        let s = score(&seq, |_| 0.0, None);
        // f0: span (3+0)/2 = 1.5, background (1+0)/2 = 0.5 → 1.0. Only f0 is active on the
        // kept token 3, so only f0 is a candidate.
        assert_eq!(s.len(), 1);
        assert_eq!(by_id(&s, 0).selectivity, Some(1.0));
        // With restrict, f1 and f2 are scored too: f1 span (0+4)/2 = 2, bg (0+2)/2 = 1 → 1;
        // f2 span 0, bg 0.5/2 = 0.25 → -0.25.
        let s = score(&seq, |_| 0.0, Some(&[2, 1]));
        assert_eq!(by_id(&s, 1).selectivity, Some(1.0));
        assert_eq!(by_id(&s, 2).selectivity, Some(-0.25));
        assert_eq!(by_id(&s, 2).mean, 0.0); // silent on the kept token
        let r = rank(s, ScoreMode::Selectivity, 0.0);
        assert_eq!(r.iter().map(|x| x.1.feature).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn selectivity_against_the_reference_corpus_when_the_span_is_everything() {
        let a = acts();
        let span = [false, true, true, true, true];
        let no = [false; 5];
        let reference = [0.25f32, 2.0, 0.0];
        let seq = Sequence { acts: &a, kept: &[1, 2, 3, 4], span: &span, background: &no, reference_mean: Some(&reference) };
        let s = score(&seq, |_| 0.0, None);
        // f0: span mean (1+0+3+0)/4 = 1 − 0.25 = 0.75; f1: 1.5 − 2 = −0.5; f2: 0.125 − 0.
        assert_eq!(by_id(&s, 0).selectivity, Some(0.75));
        assert_eq!(by_id(&s, 1).selectivity, Some(-0.5));
        assert_eq!(by_id(&s, 2).selectivity, Some(0.125));
    }

    #[test]
    fn per_feature_tau() {
        let a = acts();
        let no = [false; 5];
        let seq = Sequence { acts: &a, kept: &[1, 2, 3, 4], span: &no, background: &no, reference_mean: None };
        // τ_f0 = 0.5 → 1 and 3 count (2/4); τ_f1 = 3 → only 4 counts (1/4).
        let tau = [0.5f32, 3.0, 0.0];
        let s = score(&seq, |f| tau[f as usize], None);
        assert_eq!(by_id(&s, 0).coverage, 0.5);
        assert_eq!(by_id(&s, 1).coverage, 0.25);
        // Strictly above τ: f2's 0.5 with τ 0.0 counts.
        assert_eq!(by_id(&s, 2).coverage, 0.25);
    }
}
