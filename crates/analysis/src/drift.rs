//! Drift (seed 002, "Alignment"): the same prompts discovered on two models (same SAE, same
//! hook width) — how far apart are the features each uses? Per prompt: Spearman's rank
//! correlation of the feature scores over the union of features either model returned (a
//! feature one model did not return scores 0 there; ties get average ranks), and the
//! features gained (returned by B only) and lost (by A only); over all prompts: the mean
//! and median correlation and the features most often gained and lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::discover::DiscoverResponse;
use crate::error::{Error, Result};

/// Average ranks (1-based) of `v`, ties sharing the mean of their positions.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation: Pearson's on average ranks (`None` when either side is
/// constant or there are fewer than 2 pairs).
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - ma) * (y - mb);
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
    }
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

/// A feature of one SAE.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureKey {
    /// The SAE.
    pub sae_id: String,
    /// The feature.
    pub feature_id: u32,
}

/// One prompt under both models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PromptDrift {
    /// The analysed text under model A.
    pub text: String,
    /// Spearman's correlation of the scores (`null`: too few features).
    pub spearman: Option<f64>,
    /// Features both returned.
    pub shared: usize,
    /// Returned by B only, best first.
    pub gained: Vec<FeatureKey>,
    /// Returned by A only, best first.
    pub lost: Vec<FeatureKey>,
}

/// A feature and how many prompts it was gained (or lost) in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counted {
    /// The feature.
    pub feature: FeatureKey,
    /// Prompts.
    pub prompts: usize,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Drift {
    /// Model A (as discover named it).
    pub model_a: String,
    /// Model B.
    pub model_b: String,
    /// Per prompt, in order.
    pub prompts: Vec<PromptDrift>,
    /// Mean Spearman over the prompts that have one.
    pub mean_spearman: Option<f64>,
    /// Median Spearman.
    pub median_spearman: Option<f64>,
    /// Mean share of A's features B also returned.
    pub mean_overlap: f64,
    /// Features gained in the most prompts (top 20).
    pub most_gained: Vec<Counted>,
    /// Features lost in the most prompts (top 20).
    pub most_lost: Vec<Counted>,
}

fn counted(map: BTreeMap<FeatureKey, usize>) -> Vec<Counted> {
    let mut v: Vec<Counted> = map.into_iter().map(|(feature, prompts)| Counted { feature, prompts }).collect();
    v.sort_by(|a, b| b.prompts.cmp(&a.prompts).then(a.feature.cmp(&b.feature)));
    v.truncate(20);
    v
}

/// Compare the discoveries of the same prompts (`a[i]` and `b[i]`) on two models.
pub fn drift(a: &[DiscoverResponse], b: &[DiscoverResponse]) -> Result<Drift> {
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::field(
            "b",
            format!("{} results for model A and {} for model B: give the same prompts, at least one", a.len(), b.len()),
        ));
    }
    let (mut prompts, mut gained_n, mut lost_n) = (Vec::new(), BTreeMap::new(), BTreeMap::new());
    let mut overlaps = Vec::new();
    for (x, y) in a.iter().zip(b) {
        let key = |f: &crate::discover::FeatureResult| FeatureKey { sae_id: f.sae_id.clone(), feature_id: f.feature_id };
        let sa: BTreeMap<FeatureKey, f64> = x.features.iter().map(|f| (key(f), f64::from(f.score))).collect();
        let sb: BTreeMap<FeatureKey, f64> = y.features.iter().map(|f| (key(f), f64::from(f.score))).collect();
        let union: Vec<&FeatureKey> = sa.keys().chain(sb.keys().filter(|k| !sa.contains_key(*k))).collect();
        let va: Vec<f64> = union.iter().map(|k| sa.get(*k).copied().unwrap_or(0.0)).collect();
        let vb: Vec<f64> = union.iter().map(|k| sb.get(*k).copied().unwrap_or(0.0)).collect();
        let gained: Vec<FeatureKey> = y.features.iter().map(key).filter(|k| !sa.contains_key(k)).collect();
        let lost: Vec<FeatureKey> = x.features.iter().map(key).filter(|k| !sb.contains_key(k)).collect();
        for k in &gained {
            *gained_n.entry(k.clone()).or_insert(0) += 1;
        }
        for k in &lost {
            *lost_n.entry(k.clone()).or_insert(0) += 1;
        }
        let shared = sa.keys().filter(|k| sb.contains_key(*k)).count();
        if !sa.is_empty() {
            overlaps.push(shared as f64 / sa.len() as f64);
        }
        prompts.push(PromptDrift { text: x.analyzed.text.clone(), spearman: spearman(&va, &vb), shared, gained, lost });
    }
    let mut rho: Vec<f64> = prompts.iter().filter_map(|p| p.spearman).collect();
    rho.sort_by(f64::total_cmp);
    let mean_spearman = (!rho.is_empty()).then(|| rho.iter().sum::<f64>() / rho.len() as f64);
    let median_spearman =
        (!rho.is_empty())
            .then(|| if rho.len() % 2 == 1 { rho[rho.len() / 2] } else { (rho[rho.len() / 2 - 1] + rho[rho.len() / 2]) / 2.0 });
    Ok(Drift {
        model_a: a[0].model_id.clone(),
        model_b: b[0].model_id.clone(),
        prompts,
        mean_spearman,
        median_spearman,
        mean_overlap: if overlaps.is_empty() { 0.0 } else { overlaps.iter().sum::<f64>() / overlaps.len() as f64 },
        most_gained: counted(gained_n),
        most_lost: counted(lost_n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_spearman_by_hand() {
        // [10, 20, 20, 5] → ranks [2, 3.5, 3.5, 1].
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), [2.0, 3.5, 3.5, 1.0]);
        // Monotone: +1; reversed: −1; constant side: none.
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), None);
        // x = [1, 2, 3, 4], y = [1, 3, 2, 4]: d = [0, −1, 1, 0], Σd² = 2 → 1 − 6·2/(4·15) = 0.8.
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap() - 0.8).abs() < 1e-12);
    }
}
