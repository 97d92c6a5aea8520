//! Symmetric eigendecomposition of small dense matrices (PCA's covariance or Gram matrix, the
//! Lanczos tridiagonal of the spectral initialisation), through faer with `Par::Seq`: the
//! result must not depend on how many threads the machine has.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::{Mat, Par};

use crate::error::{Error, Result};

/// Eigenvalues of the symmetric `n × n` matrix `a` (row-major; only its lower triangle is
/// read), largest first, and the matching unit eigenvectors: `vectors[k][i]` is component
/// `i` of eigenvector `k`.
pub fn sym_eig(a: &[f64], n: usize) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    if a.len() != n * n {
        return Err(Error::Invalid(format!("sym_eig: {} values for a {n}×{n} matrix", a.len())));
    }
    if n == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let m = Mat::from_fn(n, n, |i, j| a[i * n + j]);
    let mut s = faer::diag::Diag::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let scratch = self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, Par::Seq, Default::default());
    let mut mem = MemBuffer::new(scratch);
    self_adjoint_evd(m.as_ref(), s.as_mut(), Some(u.as_mut()), Par::Seq, MemStack::new(&mut mem), Default::default())
        .map_err(|e| Error::Invalid(format!("the symmetric eigensolver did not converge: {e:?}")))?;
    // faer sorts ascending; reverse to largest first.
    let values: Vec<f64> = (0..n).rev().map(|k| s[k]).collect();
    let vectors: Vec<Vec<f64>> = (0..n).rev().map(|k| (0..n).map(|i| u[(i, k)]).collect()).collect();
    Ok((values, vectors))
}

/// Flip `v` so that its entry of largest magnitude (the first such, on ties) is positive:
/// an eigenvector's sign is arbitrary, a map's orientation must not be.
pub fn fix_sign(v: &mut [f64]) {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if x.abs() > v[best].abs() {
            best = i;
        }
    }
    if v.get(best).is_some_and(|&x| x < 0.0) {
        for x in v.iter_mut() {
            *x = -*x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_by_two() {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1)/√2 and (1, −1)/√2.
        let (vals, mut vecs) = sym_eig(&[2.0, 1.0, 1.0, 2.0], 2).unwrap();
        assert!((vals[0] - 3.0).abs() < 1e-12 && (vals[1] - 1.0).abs() < 1e-12, "{vals:?}");
        fix_sign(&mut vecs[0]);
        let r = std::f64::consts::FRAC_1_SQRT_2;
        assert!((vecs[0][0] - r).abs() < 1e-12 && (vecs[0][1] - r).abs() < 1e-12, "{vecs:?}");
        assert!((vecs[1][0] + vecs[1][1]).abs() < 1e-12 && (vecs[1][0].abs() - r).abs() < 1e-12);
    }

    #[test]
    fn signs_are_fixed_by_the_largest_entry() {
        let mut v = vec![0.1, -0.9, 0.3];
        fix_sign(&mut v);
        assert_eq!(v, [-0.1, 0.9, -0.3]);
        let mut w = vec![0.5, -0.5];
        fix_sign(&mut w); // tie: the first wins, already positive
        assert_eq!(w, [0.5, -0.5]);
    }
}
