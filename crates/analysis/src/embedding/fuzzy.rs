//! The fuzzy simplicial set of UMAP (McInnes, Healy & Melville 2018, arXiv:1802.03426, §3.1,
//! Algorithms 2 and 3): each point's kNN distances become membership strengths
//! `exp(−(d − ρᵢ)/σᵢ)`, where `ρᵢ` is the distance to its nearest other point (every point is
//! connected to at least one neighbour) and `σᵢ` is found by binary search so the strengths
//! sum to `log₂ k`; the directed graph is then symmetrised by the fuzzy union
//! `A + Aᵀ − A∘Aᵀ`.
//!
//! Constants follow umap-learn 0.5 (`smooth_knn_dist`, `compute_membership_strengths`):
//! local connectivity 1, bandwidth 1, 64 bisection steps, tolerance 1e-5, and σ at least
//! 1e-3 × the mean neighbour distance.

use super::knn::Knn;

const SMOOTH_K_TOLERANCE: f64 = 1e-5;
const MIN_K_DIST_SCALE: f64 = 1e-3;
const BISECTION_STEPS: usize = 64;

/// A weighted undirected graph, both directions stored, in compressed rows sorted by column.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Row `i`'s entries are `indptr[i]..indptr[i + 1]`.
    pub indptr: Vec<usize>,
    /// Column of each entry.
    pub indices: Vec<u32>,
    /// Weight of each entry, in `(0, 1]`.
    pub weights: Vec<f64>,
}

impl Graph {
    /// Vertices.
    pub fn n(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    /// Row `i`'s `(column, weight)` entries.
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let r = self.indptr[i]..self.indptr[i + 1];
        self.indices[r.clone()].iter().map(|&j| j as usize).zip(self.weights[r].iter().copied())
    }

    /// From `(row, column, weight)` entries sorted by `(row, column)`, unique.
    pub fn from_sorted(n: usize, entries: &[(u32, u32, f64)]) -> Graph {
        let mut indptr = vec![0usize; n + 1];
        for &(i, _, _) in entries {
            indptr[i as usize + 1] += 1;
        }
        for i in 0..n {
            indptr[i + 1] += indptr[i];
        }
        Graph { indptr, indices: entries.iter().map(|e| e.1).collect(), weights: entries.iter().map(|e| e.2).collect() }
    }

    /// Drop entries lighter than `min` (UMAP drops edges that would be sampled less than
    /// once over the whole optimisation).
    pub fn prune(&self, min: f64) -> Graph {
        let entries: Vec<(u32, u32, f64)> =
            (0..self.n()).flat_map(|i| self.row(i).filter(|&(_, w)| w >= min).map(move |(j, w)| (i as u32, j as u32, w))).collect();
        Graph::from_sorted(self.n(), &entries)
    }
}

/// `(σ, ρ)` of every point (umap-learn's `smooth_knn_dist` with local connectivity 1): `ρ` is
/// the first nonzero neighbour distance; `σ` bisects `Σⱼ exp(−max(0, dⱼ − ρ)/σ) = log₂ k`
/// over the neighbours after self.
pub fn smooth_knn_dist(knn: &Knn) -> (Vec<f64>, Vec<f64>) {
    let k = knn.k;
    let target = (k as f64).log2();
    let mean_all = if knn.dists.is_empty() { 0.0 } else { knn.dists.iter().sum::<f64>() / knn.dists.len() as f64 };
    let mut sigmas = Vec::with_capacity(knn.n());
    let mut rhos = Vec::with_capacity(knn.n());
    for row in knn.dists.chunks(k.max(1)) {
        let rho = row.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
        let (mut lo, mut hi, mut mid) = (0.0f64, f64::INFINITY, 1.0f64);
        for _ in 0..BISECTION_STEPS {
            let psum: f64 = row[1..].iter().map(|&d| if d - rho > 0.0 { (-(d - rho) / mid).exp() } else { 1.0 }).sum();
            if (psum - target).abs() < SMOOTH_K_TOLERANCE {
                break;
            }
            if psum > target {
                hi = mid;
                mid = (lo + hi) / 2.0;
            } else {
                lo = mid;
                mid = if hi.is_infinite() { mid * 2.0 } else { (lo + hi) / 2.0 };
            }
        }
        let floor = MIN_K_DIST_SCALE * if rho > 0.0 { row.iter().sum::<f64>() / row.len() as f64 } else { mean_all };
        sigmas.push(mid.max(floor));
        rhos.push(rho);
    }
    (sigmas, rhos)
}

/// The symmetric fuzzy graph of `knn`: directed strengths, then the fuzzy union.
pub fn fuzzy_graph(knn: &Knn) -> Graph {
    let (sigmas, rhos) = smooth_knn_dist(knn);
    let n = knn.n();
    // (row, column, strength, from A or from Aᵀ).
    let mut entries: Vec<(u32, u32, f64, bool)> = Vec::with_capacity(2 * knn.indices.len());
    for i in 0..n {
        for t in 0..knn.k {
            let j = knn.indices[i * knn.k + t];
            if j as usize == i {
                continue;
            }
            let d = knn.dists[i * knn.k + t];
            let w = if d - rhos[i] <= 0.0 || sigmas[i] == 0.0 { 1.0 } else { (-(d - rhos[i]) / sigmas[i]).exp() };
            if w > 0.0 {
                entries.push((i as u32, j, w, false));
                entries.push((j, i as u32, w, true));
            }
        }
    }
    entries.sort_unstable_by_key(|a| (a.0, a.1, a.3));
    let mut merged: Vec<(u32, u32, f64)> = Vec::with_capacity(entries.len());
    let mut e = 0;
    while e < entries.len() {
        let (i, j, a, _) = entries[e];
        if e + 1 < entries.len() && (entries[e + 1].0, entries[e + 1].1) == (i, j) {
            // Both directions: a + b − a·b.
            let b = entries[e + 1].2;
            merged.push((i, j, a + b - a * b));
            e += 2;
        } else {
            merged.push((i, j, a));
            e += 1;
        }
    }
    Graph::from_sorted(n, &merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_solves_the_membership_sum() {
        // k = 3, distances (0, 0.5, 1.0): ρ = 0.5, the second neighbour's strength is 1, the
        // third's exp(−0.5/σ); log₂ 3 = 1.585 → exp(−0.5/σ) = 0.585 → σ = 0.5 / ln(1/0.585)
        // = 0.9330.
        let knn = Knn { k: 3, indices: vec![0, 1, 2], dists: vec![0.0, 0.5, 1.0] };
        let (s, r) = smooth_knn_dist(&knn);
        assert_eq!(r, [0.5]);
        let want = 0.5 / (1.0 / (3f64.log2() - 1.0)).ln();
        assert!((s[0] - want).abs() < 1e-4, "{} vs {want}", s[0]);
    }

    #[test]
    fn union_of_two_directed_edges() {
        // Three points, k = 2: 0 → 1, 1 → 0, 2 → 1, each a nearest neighbour at distance ρ,
        // so strength 1 each. Union: 0–1 is 1 + 1 − 1 = 1; 1–2 exists one way only: 1.
        let knn = Knn { k: 2, indices: vec![0, 1, 1, 0, 2, 1], dists: vec![0.0, 0.3, 0.0, 0.3, 0.0, 0.4] };
        let g = fuzzy_graph(&knn);
        assert_eq!(g.indptr, [0, 1, 3, 4]);
        assert_eq!(g.indices, [1, 0, 2, 1]);
        assert_eq!(g.weights, [1.0, 1.0, 1.0, 1.0]);
        assert_eq!(g.prune(2.0).indices.len(), 0);
    }

    #[test]
    fn fuzzy_union_of_partial_strengths() {
        // k = 3: 0 sees 1 at ρ (strength 1) and 2 further; the bisection makes 1 + p = log₂ 3,
        // so 0 → 2 has p = log₂ 3 − 1 = 0.58496 whatever the distance. 2 sees 1 at ρ and 0
        // further: 2 → 0 is also p. Union: p + p − p² = 0.82774. 1 sees both at ρ: 1.
        let knn = Knn { k: 3, indices: vec![0, 1, 2, 1, 0, 2, 2, 1, 0], dists: vec![0.0, 0.1, 0.3, 0.0, 0.1, 0.1, 0.0, 0.1, 0.5] };
        let g = fuzzy_graph(&knn);
        let p = 3f64.log2() - 1.0;
        let w02 = g.row(0).find(|&(j, _)| j == 2).unwrap().1;
        assert!((w02 - (2.0 * p - p * p)).abs() < 1e-4, "{w02}");
        // Symmetric.
        for i in 0..3 {
            for (j, w) in g.row(i) {
                assert_eq!(g.row(j).find(|&(c, _)| c == i).unwrap().1, w);
            }
        }
        // Pruning below ½ keeps everything (the lightest is 0.83); above 0.9 only the 1s.
        assert_eq!(g.prune(0.5).indices.len(), 6);
        assert_eq!(g.prune(0.9).indices.len(), 4);
    }
}
