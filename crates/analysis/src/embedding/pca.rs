//! The top two principal components (`--method pca`): the rows centred, projected on the two
//! leading eigenvectors of their covariance — of `XᵀX` (`d × d`) when there are more rows
//! than dimensions, else of the Gram matrix `XXᵀ` (`n × n`), whichever is smaller; both give
//! the same scores. Linear and seedless: a map that preserves global directions exactly and
//! local neighbourhoods only as far as two axes can.
//!
//! Each axis's sign is fixed so that its largest-magnitude score is positive (an
//! eigenvector's sign is otherwise arbitrary).

use faer::{Accum, MatMut, MatRef, Par};

use super::eig::{fix_sign, sym_eig};
use crate::error::{Error, Result};

/// A 2-D principal-component projection.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Each row's scores on PC1 and PC2.
    pub scores: Vec<[f64; 2]>,
    /// Share of the total variance along PC1 and PC2.
    pub explained: [f64; 2],
}

/// The rows of `rows` (`n × d`) on their top two principal components.
pub fn pca2(rows: &[f32], n: usize, d: usize) -> Result<Vec<[f64; 2]>> {
    Ok(pca(rows, n, d)?.scores)
}

/// [`pca2`] with the explained variance.
pub fn pca(rows: &[f32], n: usize, d: usize) -> Result<Pca> {
    if rows.len() != n * d || n == 0 || d == 0 {
        return Err(Error::Invalid(format!("pca: {} values for {n} rows of {d}", rows.len())));
    }
    let mut mean = vec![0f64; d];
    for r in rows.chunks(d) {
        for (m, &x) in mean.iter_mut().zip(r) {
            *m += f64::from(x);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let xc: Vec<f64> = rows.chunks(d).flat_map(|r| r.iter().zip(&mean).map(|(&x, m)| f64::from(x) - m)).collect();
    let total: f64 = xc.iter().map(|x| x * x).sum();
    let x = MatRef::from_row_major_slice(&xc, n, d);
    let mut cols = [vec![0f64; n], vec![0f64; n]];
    let mut lambda = [0f64; 2];
    if d <= n {
        let mut cov = vec![0f64; d * d];
        faer::linalg::matmul::matmul(MatMut::from_row_major_slice_mut(&mut cov, d, d), Accum::Replace, x.transpose(), x, 1.0, Par::Seq);
        let (vals, vecs) = sym_eig(&cov, d)?;
        for k in 0..2.min(d) {
            lambda[k] = vals[k].max(0.0);
            for (i, r) in xc.chunks(d).enumerate() {
                cols[k][i] = r.iter().zip(&vecs[k]).map(|(a, b)| a * b).sum();
            }
        }
    } else {
        let mut gram = vec![0f64; n * n];
        faer::linalg::matmul::matmul(MatMut::from_row_major_slice_mut(&mut gram, n, n), Accum::Replace, x, x.transpose(), 1.0, Par::Seq);
        let (vals, vecs) = sym_eig(&gram, n)?;
        for k in 0..2.min(n) {
            lambda[k] = vals[k].max(0.0);
            let s = lambda[k].sqrt();
            for (c, u) in cols[k].iter_mut().zip(&vecs[k]) {
                *c = u * s;
            }
        }
    }
    for c in &mut cols {
        fix_sign(c);
    }
    let explained = if total > 0.0 { [lambda[0] / total, lambda[1] / total] } else { [0.0, 0.0] };
    Ok(Pca { scores: (0..n).map(|i| [cols[0][i], cols[1][i]]).collect(), explained })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_points_on_a_rectangle() {
        // (±2, ±1, 0) centred already: covariance diag(16, 4, 0) → PC1 = x (scores ±2),
        // PC2 = y (±1); explained 16/20 and 4/20. Signs: the first largest score positive.
        let rows = [2.0, 1.0, 0.0, 2.0, -1.0, 0.0, -2.0, 1.0, 0.0, -2.0, -1.0, 0.0];
        let p = pca(&rows, 4, 3).unwrap();
        let want = [[2.0, 1.0], [2.0, -1.0], [-2.0, 1.0], [-2.0, -1.0]];
        for (g, w) in p.scores.iter().zip(want) {
            assert!((g[0] - w[0]).abs() < 1e-12 && (g[1] - w[1]).abs() < 1e-12, "{:?}", p.scores);
        }
        assert!((p.explained[0] - 0.8).abs() < 1e-12 && (p.explained[1] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn gram_route_on_three_points_in_four_dimensions() {
        // n = 3 < d = 4: the Gram route. Points (4, 0), (0, 2), (−4, −2) (mean 0) plus a
        // constant 7 in two more coordinates (no variance there). Covariance [[32, 8], [8, 8]]:
        // λ = 20 ± √208, PC1 ∝ (8, λ₁ − 32), PC2 ∝ (8, λ₂ − 32).
        let rows = [4.0, 0.0, 7.0, 7.0, 0.0, 2.0, 7.0, 7.0, -4.0, -2.0, 7.0, 7.0];
        let p = pca(&rows, 3, 4).unwrap();
        let pts = [[4.0, 0.0], [0.0, 2.0], [-4.0, -2.0]];
        for (k, lambda) in [20.0 + 208f64.sqrt(), 20.0 - 208f64.sqrt()].into_iter().enumerate() {
            let (vx, vy) = (8.0, lambda - 32.0);
            let norm = (vx * vx + vy * vy).sqrt();
            let mut want: Vec<f64> = pts.iter().map(|q| (q[0] * vx + q[1] * vy) / norm).collect();
            // PC1 scores (3.83, 0.58, −4.41) and PC2 (1.16, −1.91, 0.76): in both the largest
            // is negative, so both axes flip.
            fix_sign(&mut want);
            for (g, w) in p.scores.iter().zip(&want) {
                assert!((g[k] - w).abs() < 1e-12, "PC{}: {:?} vs {want:?}", k + 1, p.scores);
            }
        }
        assert!(p.scores[2][0] > 0.0 && p.scores[1][1] > 0.0);
        assert!((p.explained[0] - (20.0 + 208f64.sqrt()) / 40.0).abs() < 1e-12);
    }
}
