//! Trustworthiness (Venna & Kaski 2001; scikit-learn's `sklearn.manifold.trustworthiness`):
//! how far an embedding's neighbourhoods can be trusted. For each point, its `k` nearest
//! neighbours in the embedding that are not among its `k` nearest in the data are penalised
//! by how far down the data's ranking they are:
//!
//! `T(k) = 1 − 2 / (n·k·(2n − 3k − 1)) · Σᵢ Σ_{j ∈ Uᵢ(k)} (r(i, j) − k)`
//!
//! where `r(i, j)` is `j`'s rank (1 = nearest) among `i`'s data neighbours and `Uᵢ(k)` the
//! embedding neighbours outside the data's `k`. 1 is perfect; a random layout scores about
//! 0.5. Data distances are cosine (as `metric="cosine"`), embedding distances Euclidean.
//!
//! Computed row by row, never as an `n × n` rank matrix (scikit-learn's inverted index):
//! memory stays `O(n · k)` beyond the data. Ties in either space are broken by index, where
//! scikit-learn's sort leaves them to the sort; with real-valued data they do not occur.

use super::cosine;
use crate::error::{Error, Result};

/// Trustworthiness at `k` of `embedding` (one point per row of `rows`, `n × d`).
/// `k` must be below `n / 2`, as scikit-learn requires.
pub fn trustworthiness(rows: &[f32], d: usize, embedding: &[[f64; 2]], k: usize) -> Result<f64> {
    let n = embedding.len();
    if rows.len() != n * d {
        return Err(Error::Invalid(format!("trustworthiness: {} values for {n} rows of {d}", rows.len())));
    }
    if k == 0 || 2 * k >= n {
        return Err(Error::Invalid(format!("trustworthiness needs 0 < k < n/2; got k = {k} for {n} points")));
    }
    let near = embedded_neighbours(embedding, k);
    let unit = cosine::unit_rows(rows, d);
    let penalties = cosine::per_row(&unit, n, d, |i, sims| {
        let mut p = 0u64;
        for &j in &near[i * k..(i + 1) * k] {
            let dj = cosine::distance(sims[j]);
            // r(i, j): 1 + the points other than i closer than j (ties by index).
            let rank = 1 + sims
                .iter()
                .enumerate()
                .filter(|&(l, &s)| l != i && l != j && (cosine::distance(s), l).partial_cmp(&(dj, j)).is_some_and(|o| o.is_lt()))
                .count();
            p += rank.saturating_sub(k) as u64;
        }
        p
    });
    let total: u64 = penalties.iter().sum();
    let (nf, kf) = (n as f64, k as f64);
    Ok(1.0 - total as f64 * (2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0))))
}

/// Each point's `k` nearest others in the embedding (Euclidean, ties by index), `n × k`.
fn embedded_neighbours(y: &[[f64; 2]], k: usize) -> Vec<usize> {
    use rayon::prelude::*;
    (0..y.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let mut d: Vec<(f64, usize)> =
                (0..y.len()).filter(|&j| j != i).map(|j| ((y[i][0] - y[j][0]).powi(2) + (y[i][1] - y[j][1]).powi(2), j)).collect();
            d.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut first: Vec<(f64, usize)> = d[..k].to_vec();
            first.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            first.into_iter().map(|(_, j)| j)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit vectors at 0°, 10°, 25°, 45°, 70°: no point has two others at the same gap.
    fn fan() -> Vec<f32> {
        [0.0f64, 10.0, 25.0, 45.0, 70.0].iter().flat_map(|a| [a.to_radians().cos() as f32, a.to_radians().sin() as f32]).collect()
    }

    #[test]
    fn a_faithful_embedding_scores_one() {
        // The points themselves, scaled: chord length grows with the angle gap, so every
        // neighbourhood is the data's.
        let rows = fan();
        let y: Vec<[f64; 2]> = rows.chunks(2).map(|r| [3.0 * f64::from(r[0]), 3.0 * f64::from(r[1])]).collect();
        assert_eq!(trustworthiness(&rows, 2, &y, 1).unwrap(), 1.0);
        assert_eq!(trustworthiness(&rows, 2, &y, 2).unwrap(), 1.0);
    }

    #[test]
    fn two_swapped_points_by_hand() {
        // Data: unit vectors at 0°, 10°, 25°, 45°, 70° (cosine distance grows with the angle
        // gap, and no point has two others at the same gap). Data orders by gap:
        //   0: 1 2 3 4 · 1: 0 2 3 4 · 2: 1 3 0 4 · 3: 2 4 1 0 · 4: 3 2 1 0.
        // Embedding on a line: points 0…4 at 10, 1, 3, 6, 0 (0 and 4 swapped from 0, …, 10).
        // k = 1, embedded nearest and its data rank r, penalty r − 1:
        //   0 (at 10) → 3 (gap 4), r = 3: 2 · 1 (at 1) → 4 (gap 1), r = 4: 3
        //   2 (at 3) → 1 (gap 2), r = 1: 0 · 3 (at 6) → 2 (gap 3), r = 1: 0
        //   4 (at 0) → 1 (gap 1), r = 3: 2.
        // Σ = 7; T = 1 − 7 · 2 / (5 · 1 · (10 − 3 − 1)) = 1 − 14/30.
        let rows = fan();
        let y: Vec<[f64; 2]> = [10.0, 1.0, 3.0, 6.0, 0.0].iter().map(|&x| [x, 0.0]).collect();
        let t = trustworthiness(&rows, 2, &y, 1).unwrap();
        assert!((t - (1.0 - 14.0 / 30.0)).abs() < 1e-12, "{t}");
        // Unswapped (0, 1, 3, 6, 10): every embedded nearest is the data's nearest.
        let y: Vec<[f64; 2]> = [0.0, 1.0, 3.0, 6.0, 10.0].iter().map(|&x| [x, 0.0]).collect();
        assert_eq!(trustworthiness(&rows, 2, &y, 1).unwrap(), 1.0);
    }

    #[test]
    fn k_must_be_below_half() {
        let rows = fan();
        let y = vec![[0.0, 0.0]; 5];
        assert!(trustworthiness(&rows, 2, &y, 3).is_err());
        assert!(trustworthiness(&rows, 2, &y, 0).is_err());
    }
}
