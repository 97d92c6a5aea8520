//! Exact k nearest neighbours under cosine distance, the first stage of UMAP (McInnes, Healy
//! & Melville 2018, arXiv:1802.03426, §3.1 and Algorithm 1 line 3).
//!
//! umap-learn computes all pairwise distances below 4,096 rows and switches to approximate
//! NN-descent above; saex is exact at every size (rows of [`cosine::per_row`]), which costs
//! `n² · d` but never misses a neighbour and needs no random projection trees.
//!
//! Each row's list starts with the row itself at distance 0 (umap-learn's convention, which
//! its smooth-kNN step relies on), then the `k − 1` nearest others in a total order —
//! distance, then index — so ties cannot make two runs differ.

use super::cosine;

/// The `k` nearest neighbours of every row, self first.
#[derive(Debug, Clone, PartialEq)]
pub struct Knn {
    /// Neighbours per row (self included).
    pub k: usize,
    /// `n × k` neighbour indices, row-major.
    pub indices: Vec<u32>,
    /// `n × k` cosine distances, ascending within a row.
    pub dists: Vec<f64>,
}

impl Knn {
    /// Rows.
    pub fn n(&self) -> usize {
        self.indices.len() / self.k.max(1)
    }
}

/// The `k` nearest neighbours (self included) of each unit row of `unit` (`n × d`).
/// `k` must be at most `n`.
pub fn cosine_knn(unit: &[f64], n: usize, d: usize, k: usize) -> Knn {
    let rows = cosine::per_row(unit, n, d, |i, sims| nearest(i, sims, k));
    let mut out = Knn { k, indices: Vec::with_capacity(n * k), dists: Vec::with_capacity(n * k) };
    for row in rows {
        for (j, dist) in row {
            out.indices.push(j);
            out.dists.push(dist);
        }
    }
    out
}

/// Row `i`'s `k` nearest: itself, then the `k − 1` smallest `(distance, index)` among the
/// others, kept sorted in a small buffer (k is 15; rows are thousands long).
fn nearest(i: usize, sims: &[f64], k: usize) -> Vec<(u32, f64)> {
    let keep = k.saturating_sub(1);
    let mut best: Vec<(f64, u32)> = Vec::with_capacity(keep + 1);
    if keep > 0 {
        for (j, &s) in sims.iter().enumerate() {
            if j == i {
                continue;
            }
            let cand = (cosine::distance(s), j as u32);
            if best.len() == keep && !less(cand, best[keep - 1]) {
                continue;
            }
            let at = best.partition_point(|&b| less(b, cand));
            best.insert(at, cand);
            best.truncate(keep);
        }
    }
    std::iter::once((i as u32, 0.0)).chain(best.into_iter().map(|(dist, j)| (j, dist))).collect()
}

fn less(a: (f64, u32), b: (f64, u32)) -> bool {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).is_lt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::cosine::unit_rows;

    #[test]
    fn four_points_on_the_circle() {
        // Angles 0°, 10°, 90°, 180°: cosine distances from 0° are 0, 1 − cos 10° ≈ 0.0152,
        // 1, 2. From 90°: 10° is at 1 − cos 80° ≈ 0.826, 0° and 180° both at 1 (tie →
        // the lower index, 0).
        let (c, s) = (10f64.to_radians().cos() as f32, 10f64.to_radians().sin() as f32);
        let rows = [1.0, 0.0, c, s, 0.0, 1.0, -1.0, 0.0];
        let knn = cosine_knn(&unit_rows(&rows, 2), 4, 2, 3);
        assert_eq!(knn.n(), 4);
        assert_eq!(&knn.indices[0..3], &[0, 1, 2]);
        assert_eq!(knn.dists[0], 0.0);
        assert!((knn.dists[1] - (1.0 - 10f64.to_radians().cos())).abs() < 1e-7, "{:?}", knn.dists);
        assert_eq!(knn.dists[2], 1.0);
        assert_eq!(&knn.indices[6..9], &[2, 1, 0]);
        assert!((knn.dists[7] - (1.0 - 80f64.to_radians().cos())).abs() < 1e-7);
        // From 180°: 90° (distance 1), then 10° (1 + cos 10° ≈ 1.985) before 0° (2).
        assert_eq!(&knn.indices[9..12], &[3, 2, 1]);
    }

    #[test]
    fn k_of_one_is_self_only() {
        let knn = cosine_knn(&unit_rows(&[1.0, 0.0, 0.0, 1.0], 2), 2, 2, 1);
        assert_eq!(knn.indices, [0, 1]);
        assert_eq!(knn.dists, [0.0, 0.0]);
    }
}
