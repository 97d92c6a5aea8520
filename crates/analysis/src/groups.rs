//! Group-discriminative features (seed 000, "Select Discriminative Features per Role"): from
//! each group's mean feature vector `F [n_groups, d_sae]` and each group's per-response
//! vectors, keep the features that prefer one group (C1), fire in most of its responses
//! (C2) and vary across groups (C3), exactly as the seed's cells 2-4 compute them.
//!
//! The seed's arithmetic is numpy's on float32 arrays, and the thresholds are sharp, so it is
//! reproduced operation for operation (every statistic reduces over the group axis):
//! - sums run over groups in order, in f32; `mean = f32(sum / n)`;
//! - std is the population std, two-pass in f32: `sqrt(Σ f32(f32(F − mean)²) / n)`;
//! - `cv = std / mean` (f32, kept as f64) where `mean > 0`, else exactly 0;
//! - the preferred group is the first with the maximum; `mean_rest = f32(f32(sum − top) /
//!   (n − 1))` (total minus top, not the sum of the others);
//! - `ratio = top / mean_rest` (f32) where `mean_rest > 0`, else `+inf` (so a feature firing
//!   in one group only has an infinite ratio);
//! - candidates pass C1 and C3 with `mean > 0`, in ascending feature order; the firing rate
//!   is `count(response > 0) / n_responses` of the preferred group (f64);
//! - groups are listed in order of first appearance among the selected features, each list
//!   sorted by the group's activation, descending (stable: ties keep feature order).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The three thresholds (seed 000's defaults: 5, 0.5, 0.5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Thresholds {
    /// C1: the top group's activation ≥ this × the mean of the others.
    pub min_preference_ratio: f64,
    /// C2: fires (> 0) in at least this share of the preferred group's responses.
    pub min_firing_rate: f64,
    /// C3: coefficient of variation across groups (population std / mean) at least this.
    pub min_cv: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { min_preference_ratio: 5.0, min_firing_rate: 0.5, min_cv: 0.5 }
    }
}

/// Per-feature statistics across groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Mean over groups (f32).
    pub mean: Vec<f32>,
    /// Population std over groups (f32).
    pub std: Vec<f32>,
    /// `std / mean` where `mean > 0`, else 0.
    pub cv: Vec<f64>,
    /// The first group with the maximum.
    pub preferred: Vec<usize>,
    /// That maximum.
    pub top: Vec<f32>,
    /// `(sum − top) / (n − 1)`.
    pub mean_rest: Vec<f32>,
    /// `top / mean_rest` where `mean_rest > 0`, else `+inf`.
    pub ratio: Vec<f64>,
}

/// Seed cell 2's statistics of `features` (`[n_groups][d_sae]`).
pub fn stats(features: &[Vec<f32>]) -> Result<Stats> {
    let n = features.len();
    if n < 2 {
        return Err(Error::Invalid(format!("group contrasts need at least 2 groups, got {n}")));
    }
    let d = features[0].len();
    if features.iter().any(|r| r.len() != d) {
        return Err(Error::Invalid("groups have feature vectors of different widths".into()));
    }
    let nf = n as f32;
    let mut s = Stats {
        mean: vec![0.0; d],
        std: vec![0.0; d],
        cv: vec![0.0; d],
        preferred: vec![0; d],
        top: vec![0.0; d],
        mean_rest: vec![0.0; d],
        ratio: vec![0.0; d],
    };
    for f in 0..d {
        let mut sum = 0f32;
        let (mut top, mut arg) = (features[0][f], 0);
        for (g, row) in features.iter().enumerate() {
            let v = row[f];
            sum += v;
            if v > top {
                top = v;
                arg = g;
            }
        }
        let mean = sum / nf;
        let mut sq = 0f32;
        for row in features {
            let dv = row[f] - mean;
            sq += dv * dv;
        }
        let std = (sq / nf).sqrt();
        let mean_rest = (sum - top) / (nf - 1.0);
        s.mean[f] = mean;
        s.std[f] = std;
        s.cv[f] = if mean > 0.0 { f64::from(std / mean) } else { 0.0 };
        s.preferred[f] = arg;
        s.top[f] = top;
        s.mean_rest[f] = mean_rest;
        s.ratio[f] = if mean_rest > 0.0 { f64::from(top / mean_rest) } else { f64::INFINITY };
    }
    Ok(s)
}

/// One selected feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Selected {
    /// Feature id.
    pub feature_id: u32,
    /// The group's activation (its mean vector's value).
    pub act: f32,
    /// C1's ratio (`null`: infinite, the feature fires in this group only).
    pub ratio: Option<f64>,
    /// C3's coefficient of variation.
    pub cv: f64,
    /// C2's firing rate in the group's responses.
    pub firing_rate: f64,
}

/// One group's selected features, strongest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupFeatures {
    /// The group.
    pub group: String,
    /// Its features.
    pub features: Vec<Selected>,
}

/// The outcome of the three conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Selection {
    /// The thresholds used.
    pub thresholds: Thresholds,
    /// Features passing C1 (dead features included: their ratio is infinite, as in the seed).
    pub c1: usize,
    /// Features passing C3.
    pub c3: usize,
    /// Candidates: C1 and C3 and a positive mean.
    pub candidates: usize,
    /// Selected (C2 on top), ascending.
    pub selected: Vec<u32>,
    /// Per group, in order of first appearance among the selected features.
    pub groups: Vec<GroupFeatures>,
}

/// Seed cells 2-4: select with `t`, given each group's mean vectors `features`
/// (`[n_groups][d_sae]`), the group names and `firing_rate(group, feature)` (the share of
/// that group's responses where the feature is > 0).
pub fn select(features: &[Vec<f32>], names: &[String], t: Thresholds, firing_rate: &dyn Fn(usize, u32) -> f64) -> Result<Selection> {
    let s = stats(features)?;
    select_with(&s, features, names, t, firing_rate)
}

/// [`select`] from precomputed [`stats`] (threshold searches reuse them).
pub fn select_with(
    s: &Stats,
    features: &[Vec<f32>],
    names: &[String],
    t: Thresholds,
    firing_rate: &dyn Fn(usize, u32) -> f64,
) -> Result<Selection> {
    if names.len() != features.len() {
        return Err(Error::Invalid(format!("{} group names for {} groups", names.len(), features.len())));
    }
    let d = s.mean.len();
    let pass_c1: Vec<bool> = s.ratio.iter().map(|&r| r >= t.min_preference_ratio).collect();
    let pass_c3: Vec<bool> = s.cv.iter().map(|&c| c >= t.min_cv).collect();
    let candidates: Vec<usize> = (0..d).filter(|&f| pass_c1[f] && pass_c3[f] && s.mean[f] > 0.0).collect();
    let rates: Vec<(usize, f64)> = candidates.iter().map(|&f| (f, firing_rate(s.preferred[f], f as u32))).collect();
    let selected: Vec<(usize, f64)> = rates.into_iter().filter(|&(_, r)| r >= t.min_firing_rate).collect();
    let mut groups: Vec<(usize, Vec<Selected>)> = Vec::new();
    for &(f, rate) in &selected {
        let g = s.preferred[f];
        let item = Selected {
            feature_id: f as u32,
            act: features[g][f],
            ratio: s.ratio[f].is_finite().then_some(s.ratio[f]),
            cv: s.cv[f],
            firing_rate: rate,
        };
        match groups.iter_mut().find(|(x, _)| *x == g) {
            Some((_, v)) => v.push(item),
            None => groups.push((g, vec![item])),
        }
    }
    for (_, v) in groups.iter_mut() {
        // Stable: equal activations keep ascending feature order (Python's sort).
        v.sort_by(|a, b| b.act.total_cmp(&a.act));
    }
    Ok(Selection {
        thresholds: t,
        c1: pass_c1.iter().filter(|&&x| x).count(),
        c3: pass_c3.iter().filter(|&&x| x).count(),
        candidates: candidates.len(),
        selected: selected.iter().map(|&(f, _)| f as u32).collect(),
        groups: groups.into_iter().map(|(g, features)| GroupFeatures { group: names[g].clone(), features }).collect(),
    })
}

/// `--target-per-group LO..HI`: the thresholds, searched on a grid around the seed's
/// defaults (preference ratio 1.5-50, firing rate 0.2-0.9, CV fixed), that put between `lo`
/// and `hi` features in the most groups; ties go to the setting nearest the defaults (in
/// log ratio, then firing rate), so the search only moves as far as it must.
pub fn search(
    features: &[Vec<f32>],
    names: &[String],
    base: Thresholds,
    lo: usize,
    hi: usize,
    firing_rate: &dyn Fn(usize, u32) -> f64,
) -> Result<Selection> {
    if lo == 0 || hi < lo {
        return Err(Error::field("target_per_group", format!("need 1 <= LO <= HI, got {lo}..{hi}")));
    }
    let s = stats(features)?;
    const RATIOS: [f64; 14] = [1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 30.0, 50.0];
    const RATES: [f64; 8] = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    let mut best: Option<(usize, f64, Selection)> = None;
    for &r in &RATIOS {
        for &fr in &RATES {
            let t = Thresholds { min_preference_ratio: r, min_firing_rate: fr, min_cv: base.min_cv };
            let sel = select_with(&s, features, names, t, firing_rate)?;
            let hits = sel.groups.iter().filter(|g| (lo..=hi).contains(&g.features.len())).count();
            let distance = (r / base.min_preference_ratio).ln().abs() + (fr - base.min_firing_rate).abs();
            let better = match &best {
                None => true,
                Some((h, d, _)) => hits > *h || (hits == *h && distance < *d - 1e-12),
            };
            if better {
                best = Some((hits, distance, sel));
            }
        }
    }
    best.map(|b| b.2).ok_or_else(|| Error::Invalid("empty threshold grid".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("g{i}")).collect()
    }

    #[test]
    fn statistics_by_hand() {
        // 3 groups; feature 0 = [6, 0, 0]: mean 2, std sqrt((16+4+4)/3) = 2.8284, cv 1.4142,
        // top 6 (group 0), mean_rest (6−6)/2 = 0 → ratio inf.
        // Feature 1 = [1, 3, 2]: mean 2, std sqrt(2/3) = 0.8165, cv 0.4082, top 3 (group 1),
        // mean_rest (6−3)/2 = 1.5 → ratio 2.
        // Feature 2 = [0, 0, 0]: dead: cv 0, ratio inf (counted in C1, as the seed does).
        let f = vec![vec![6.0, 1.0, 0.0], vec![0.0, 3.0, 0.0], vec![0.0, 2.0, 0.0]];
        let s = stats(&f).unwrap();
        assert_eq!(s.mean, [2.0, 2.0, 0.0]);
        assert!((s.cv[0] - 2f64.sqrt()).abs() < 1e-6 && (s.cv[1] - (2f64 / 3.0).sqrt() / 2.0).abs() < 1e-6);
        assert_eq!((s.preferred.clone(), s.ratio[0], s.ratio[1], s.ratio[2]), (vec![0, 1, 0], f64::INFINITY, 2.0, f64::INFINITY));
        // Group 0's responses: feature 0 fires in 1 of 2.
        let rate = |g: usize, f: u32| if (g, f) == (0, 0) { 0.5 } else { 0.0 };
        let sel = select(&f, &names(3), Thresholds::default(), &rate).unwrap();
        assert_eq!((sel.c1, sel.c3, sel.candidates, sel.selected.clone()), (2, 1, 1, vec![0]));
        assert_eq!(sel.groups[0].group, "g0");
        assert_eq!(sel.groups[0].features[0].ratio, None, "infinite ratio");
        // 0.5 passes C2 (>=); 0.49 would not.
        let low = |_: usize, _: u32| 0.49;
        assert!(select(&f, &names(3), Thresholds::default(), &low).unwrap().selected.is_empty());
    }

    #[test]
    fn ties_go_to_the_first_group_and_lists_are_stable() {
        // Feature 0 = [5, 5, 0]: preferred group 0 (first max).
        let f = vec![vec![5.0, 2.0, 2.0], vec![5.0, 0.0, 0.0], vec![0.0, 0.0, 0.0]];
        let s = stats(&f).unwrap();
        assert_eq!(s.preferred[0], 0);
        let all = |_: usize, _: u32| 1.0;
        let t = Thresholds { min_preference_ratio: 0.0, min_firing_rate: 0.0, min_cv: 0.0 };
        let sel = select(&f, &names(3), t, &all).unwrap();
        // Features 1 and 2 tie at 2.0 in group 0: ascending order kept.
        assert_eq!(sel.groups[0].features.iter().map(|x| x.feature_id).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn the_search_aims_at_the_target() {
        // 2 groups × 40 features; feature i prefers group i % 2 with ratio i + 1 (the other
        // group holds 1). At ratio ≥ 30 group 0 keeps 31..39 odd (5) and group 1 30..40 even
        // (6): the only grid point with both in 4..=6 (the defaults give 18 and 18).
        let f: Vec<Vec<f32>> = (0..2).map(|g| (0..40).map(|i| if i % 2 == g { (i + 1) as f32 } else { 1.0 }).collect()).collect();
        let all = |_: usize, _: u32| 1.0;
        let sel = search(&f, &names(2), Thresholds { min_cv: 0.0, ..Default::default() }, 4, 6, &all).unwrap();
        assert_eq!(sel.thresholds.min_preference_ratio, 30.0);
        assert!(
            sel.groups.iter().all(|g| (4..=6).contains(&g.features.len())),
            "{:?}",
            sel.groups.iter().map(|g| g.features.len()).collect::<Vec<_>>()
        );
        assert!(search(&f, &names(2), Thresholds::default(), 5, 3, &all).is_err());
    }
}
