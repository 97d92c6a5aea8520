//! Cosine geometry of the rows, exactly: rows scaled to unit length, then every row's
//! similarities to all rows, one block of rows at a time (`U_b · Uᵀ`, faer's matmul). The
//! exact kNN of UMAP and trustworthiness both read rows of this matrix; neither keeps it.
//!
//! Cost and memory: `n² · d` multiply-adds (4,096 rows of 640: 1.1·10¹⁰, about a second on
//! two cores); memory `8 · n · d` for the unit rows plus one `block × n` buffer per thread
//! (at most 32 MiB each). Above ~20,000 rows the quadratic time dominates everything else a
//! map does (65,536 rows of 2,304: ~10¹³, tens of minutes); the caller bounds `n`.
//!
//! Determinism: blocks are cut by `n` alone and each block's product is computed
//! sequentially (`Par::Seq`), so the numbers are the same whatever the thread count; the
//! blocks run in parallel (rayon) and their results are collected in row order.

use faer::{MatMut, MatRef, Par};
use rayon::prelude::*;

/// Rows of `rows` (`n × d`, row-major) scaled to unit length, in f64. A zero row stays zero
/// (its similarity to everything is 0: cosine distance 1).
pub fn unit_rows(rows: &[f32], d: usize) -> Vec<f64> {
    let mut out: Vec<f64> = rows.iter().map(|&x| f64::from(x)).collect();
    for r in out.chunks_mut(d.max(1)) {
        let norm = r.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            for x in r.iter_mut() {
                *x /= norm;
            }
        }
    }
    out
}

/// Rows per block: the `block × n` f64 buffer stays within 32 MiB.
fn block_rows(n: usize) -> usize {
    ((1usize << 22) / n.max(1)).clamp(1, 256)
}

/// `f(i, sims)` for every row `i`, where `sims[j]` is the cosine similarity of unit rows `i`
/// and `j` (`unit` is `n × d`); the results in row order.
pub fn per_row<T, F>(unit: &[f64], n: usize, d: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, &[f64]) -> T + Sync,
{
    let all = MatRef::from_row_major_slice(unit, n, d);
    let block = block_rows(n);
    let starts: Vec<usize> = (0..n).step_by(block).collect();
    let blocks: Vec<Vec<T>> = starts
        .par_iter()
        .map(|&r0| {
            let r1 = (r0 + block).min(n);
            let mut buf = vec![0f64; (r1 - r0) * n];
            let a = MatRef::from_row_major_slice(&unit[r0 * d..r1 * d], r1 - r0, d);
            let c = MatMut::from_row_major_slice_mut(&mut buf, r1 - r0, n);
            faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, all.transpose(), 1.0, Par::Seq);
            buf.chunks(n).enumerate().map(|(k, sims)| f(r0 + k, sims)).collect()
        })
        .collect();
    blocks.into_iter().flatten().collect()
}

/// Cosine distance from a similarity, as sklearn and umap-learn define it: `1 − s`, clipped
/// to `[0, 2]` (rounding can push a unit vector's similarity with itself past 1).
pub fn distance(sim: f64) -> f64 {
    (1.0 - sim).clamp(0.0, 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarities_of_three_rows() {
        // (3, 4) → (0.6, 0.8); (0, 2) → (0, 1); (0, 0) stays zero.
        let unit = unit_rows(&[3.0, 4.0, 0.0, 2.0, 0.0, 0.0], 2);
        assert_eq!(unit, [0.6, 0.8, 0.0, 1.0, 0.0, 0.0]);
        let rows = per_row(&unit, 3, 2, |i, s| (i, s.to_vec()));
        assert_eq!(rows[0].0, 0);
        // row 0: itself 1, with (0, 1) 0.8, with zero 0.
        assert!((rows[0].1[0] - 1.0).abs() < 1e-15 && (rows[0].1[1] - 0.8).abs() < 1e-15 && rows[0].1[2] == 0.0);
        assert!((distance(rows[1].1[0]) - 0.2).abs() < 1e-15);
        assert_eq!(distance(1.0 + 1e-16), 0.0);
    }

    #[test]
    fn blocks_cover_every_row_in_order() {
        // More rows than one block holds when n is large: check the cut directly.
        assert_eq!(block_rows(4096), 256);
        assert_eq!(block_rows(65_536), 64);
        let n = 300;
        let rows: Vec<f32> = (0..n * 2).map(|i| ((i * 7919) % 13) as f32 + 1.0).collect();
        let unit = unit_rows(&rows, 2);
        let ids = per_row(&unit, n, 2, |i, _| i);
        assert_eq!(ids, (0..n).collect::<Vec<_>>());
    }
}
