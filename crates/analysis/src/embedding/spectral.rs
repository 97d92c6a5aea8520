//! UMAP's initial layout (McInnes, Healy & Melville 2018, arXiv:1802.03426, §3.2 and
//! Algorithm 4): the eigenvectors of the graph's normalised Laplacian
//! `L = I − D^{−½} W D^{−½}` for its 2nd and 3rd smallest eigenvalues — smooth coordinates in
//! which neighbours start near each other, which makes the layout converge faster and
//! more consistently than a random start.
//!
//! They are the largest eigenvectors of `N = D^{−½} W D^{−½}` after its known top one,
//! `D^{½} 1` (eigenvalue 1). umap-learn asks ARPACK (implicitly restarted Lanczos); saex runs
//! plain Lanczos with full reorthogonalisation in the complement of `D^{½} 1`, from a fixed
//! start vector, for at most 200 steps, and takes the Ritz vectors it has — exact to the
//! residual when converged, and otherwise still combinations of the smoothest eigenvectors,
//! which is all an initialisation needs.
//!
//! A disconnected graph is laid out per component, as umap-learn's `multi_component_layout`
//! does: component `c` sits at a meta position (`±e₁, ±e₂` for up to 4 components; beyond,
//! the components' centroids in the data projected on their top 2 principal components,
//! where umap-learn uses a spectral embedding of the centroids), scaled into half the
//! distance to the nearest other meta position; components of fewer than 4 points are
//! placed uniformly at random there.

use super::eig::{fix_sign, sym_eig};
use super::fuzzy::Graph;
use super::pca::pca2;
use super::rng::SplitMix64;
use crate::error::Result;

const MAX_LANCZOS: usize = 200;
const RESIDUAL_TOL: f64 = 1e-8;
/// The start vector's seed: fixed, so the spectral layout does not depend on the map's seed
/// (umap-learn starts ARPACK from a fixed vector too).
const START_SEED: u64 = 0x5EED_5EC7;

/// Connected components: a label per vertex, numbered in order of their lowest vertex.
pub fn components(g: &Graph) -> (usize, Vec<usize>) {
    let n = g.n();
    let mut label = vec![usize::MAX; n];
    let mut count = 0;
    let mut stack = Vec::new();
    for s in 0..n {
        if label[s] != usize::MAX {
            continue;
        }
        label[s] = count;
        stack.push(s);
        while let Some(v) = stack.pop() {
            for (u, _) in g.row(v) {
                if label[u] == usize::MAX {
                    label[u] = count;
                    stack.push(u);
                }
            }
        }
        count += 1;
    }
    (count, label)
}

/// The 2-D spectral initialisation of `g` (its vertices are the rows of `unit`, `n × d`,
/// used only to place several components), before UMAP's scaling.
pub fn spectral_init(g: &Graph, unit: &[f64], d: usize, rng: &mut SplitMix64) -> Result<Vec<[f64; 2]>> {
    let (count, label) = components(g);
    if count == 1 {
        if let Some(y) = spectral_connected(g)? {
            return Ok(y);
        }
        // Too small for two nontrivial eigenvectors (n ≤ 2): random, as umap-learn falls back.
        return Ok((0..g.n()).map(|_| [rng.uniform() * 20.0 - 10.0, rng.uniform() * 20.0 - 10.0]).collect());
    }
    let meta = meta_positions(count, &label, unit, d)?;
    let mut out = vec![[0.0; 2]; g.n()];
    for c in 0..count {
        let members: Vec<usize> = (0..g.n()).filter(|&v| label[v] == c).collect();
        let range = (0..count)
            .filter(|&o| o != c)
            .map(|o| ((meta[c][0] - meta[o][0]).powi(2) + (meta[c][1] - meta[o][1]).powi(2)).sqrt())
            .filter(|&x| x > 0.0)
            .fold(f64::INFINITY, f64::min);
        let range = if range.is_finite() { range / 2.0 } else { 1.0 };
        let local = if members.len() < 4 { None } else { spectral_connected(&subgraph(g, &members, &label, c))? };
        match local {
            Some(y) => {
                let scale = y.iter().flat_map(|p| p.iter()).fold(0f64, |m, x| m.max(x.abs()));
                let k = if scale > 0.0 { range / scale } else { 0.0 };
                for (p, &v) in y.iter().zip(&members) {
                    out[v] = [p[0] * k + meta[c][0], p[1] * k + meta[c][1]];
                }
            }
            None => {
                for &v in &members {
                    out[v] = [meta[c][0] + range * (2.0 * rng.uniform() - 1.0), meta[c][1] + range * (2.0 * rng.uniform() - 1.0)];
                }
            }
        }
    }
    Ok(out)
}

fn meta_positions(count: usize, label: &[usize], unit: &[f64], d: usize) -> Result<Vec<[f64; 2]>> {
    if count <= 4 {
        return Ok([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]][..count].to_vec());
    }
    let mut centroids = vec![0f64; count * d];
    let mut sizes = vec![0usize; count];
    for (v, &c) in label.iter().enumerate() {
        sizes[c] += 1;
        for (a, &x) in centroids[c * d..(c + 1) * d].iter_mut().zip(&unit[v * d..(v + 1) * d]) {
            *a += x;
        }
    }
    for (c, &s) in sizes.iter().enumerate() {
        for a in &mut centroids[c * d..(c + 1) * d] {
            *a /= s as f64;
        }
    }
    let as_f32: Vec<f32> = centroids.iter().map(|&x| x as f32).collect();
    let p = pca2(&as_f32, count, d)?;
    let scale = p.iter().flat_map(|q| q.iter()).fold(0f64, |m, x| m.max(x.abs()));
    Ok(p.into_iter().map(|q| if scale > 0.0 { [q[0] / scale, q[1] / scale] } else { q }).collect())
}

fn subgraph(g: &Graph, members: &[usize], label: &[usize], c: usize) -> Graph {
    let mut local = vec![u32::MAX; g.n()];
    for (k, &v) in members.iter().enumerate() {
        local[v] = k as u32;
    }
    let entries: Vec<(u32, u32, f64)> = members
        .iter()
        .enumerate()
        .flat_map(|(k, &v)| g.row(v).filter(|&(u, _)| label[u] == c).map(|(u, w)| (k as u32, local[u], w)).collect::<Vec<_>>())
        .collect();
    Graph::from_sorted(members.len(), &entries)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (p, q) in y.iter_mut().zip(x) {
        *p += a * q;
    }
}

/// Lanczos on `N` in the complement of its top eigenvector; the two leading Ritz vectors.
/// `None` when the graph has fewer than 3 vertices.
fn spectral_connected(g: &Graph) -> Result<Option<Vec<[f64; 2]>>> {
    let n = g.n();
    if n < 3 {
        return Ok(None);
    }
    let sqrt_deg: Vec<f64> = (0..n).map(|i| g.row(i).map(|(_, w)| w).sum::<f64>().sqrt()).collect();
    let norm = dot(&sqrt_deg, &sqrt_deg).sqrt();
    let top: Vec<f64> = sqrt_deg.iter().map(|x| x / norm).collect();
    let apply = |x: &[f64], y: &mut [f64]| {
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = g.row(i).map(|(j, w)| w * x[j] / sqrt_deg[j]).sum::<f64>() / sqrt_deg[i];
        }
    };
    let m_max = (n - 1).min(MAX_LANCZOS);
    let mut start = SplitMix64::new(START_SEED);
    let mut q: Vec<f64> = (0..n).map(|_| start.normal()).collect();
    let c = dot(&q, &top);
    axpy(&mut q, -c, &top);
    let qn = dot(&q, &q).sqrt();
    q.iter_mut().for_each(|x| *x /= qn);
    let (mut basis, mut alpha, mut beta) = (vec![q], Vec::<f64>::new(), Vec::<f64>::new());
    let mut w = vec![0f64; n];
    loop {
        let j = basis.len() - 1;
        apply(&basis[j], &mut w);
        let a = dot(&basis[j], &w);
        axpy(&mut w, -a, &basis[j]);
        if j > 0 {
            axpy(&mut w, -beta[j - 1], &basis[j - 1]);
        }
        // Full reorthogonalisation, twice ("twice is enough": Parlett, The Symmetric
        // Eigenvalue Problem, §6.9), against the basis and the deflated top vector.
        for _ in 0..2 {
            let c = dot(&w, &top);
            axpy(&mut w, -c, &top);
            for v in &basis {
                let c = dot(&w, v);
                axpy(&mut w, -c, v);
            }
        }
        alpha.push(a);
        let b = dot(&w, &w).sqrt();
        let steps = basis.len();
        let done = b < 1e-10 || steps >= m_max;
        if steps >= 2 && (done || steps % 10 == 0) {
            let mut t = vec![0f64; steps * steps];
            for i in 0..steps {
                t[i * steps + i] = alpha[i];
                if i + 1 < steps {
                    t[i * steps + i + 1] = beta[i];
                    t[(i + 1) * steps + i] = beta[i];
                }
            }
            let (_, s) = sym_eig(&t, steps)?;
            let converged = s[..2].iter().all(|v| (b * v[steps - 1]).abs() < RESIDUAL_TOL);
            if converged || done {
                let mut y = [vec![0f64; n], vec![0f64; n]];
                for (yk, sk) in y.iter_mut().zip(&s) {
                    for (v, &coef) in basis.iter().zip(sk) {
                        axpy(yk, coef, v);
                    }
                    fix_sign(yk);
                }
                return Ok(Some((0..n).map(|i| [y[0][i], y[1][i]]).collect()));
            }
        }
        beta.push(b);
        basis.push(w.iter().map(|x| x / b).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(n: usize) -> Graph {
        let mut e = Vec::new();
        for i in 0..n {
            if i > 0 {
                e.push((i as u32, i as u32 - 1, 1.0));
            }
            if i + 1 < n {
                e.push((i as u32, i as u32 + 1, 1.0));
            }
        }
        Graph::from_sorted(n, &e)
    }

    #[test]
    fn a_path_unrolls_by_its_cosine_modes() {
        // The path graph P_n: D⁻¹A has eigenvectors f_k(i) = cos(πk·i/(n−1)) with eigenvalue
        // cos(πk/(n−1)) (interior: (f(i−1) + f(i+1))/2 = cos θ·f(i); the ends check the same
        // way), so N = D^{−½}AD^{−½} has D^{½}f_k. After k = 0 (the deflated top), the map's
        // axes are k = 1 and k = 2, distinct eigenvalues.
        let n = 30;
        let y = spectral_connected(&path(n)).unwrap().unwrap();
        for (axis, k) in [(0, 1.0), (1, 2.0)] {
            let want: Vec<f64> = (0..n)
                .map(|i| {
                    let deg: f64 = if i == 0 || i == n - 1 { 1.0 } else { 2.0 };
                    deg.sqrt() * (std::f64::consts::PI * k * i as f64 / (n - 1) as f64).cos()
                })
                .collect();
            let got: Vec<f64> = y.iter().map(|p| p[axis]).collect();
            let cos = dot(&want, &got) / (dot(&want, &want) * dot(&got, &got)).sqrt();
            assert!((cos.abs() - 1.0).abs() < 1e-8, "axis {axis}: |cos| {cos}");
            assert!((dot(&got, &got) - 1.0).abs() < 1e-10, "unit eigenvector");
        }
    }

    #[test]
    fn components_are_numbered_by_lowest_vertex() {
        // 0–2, 1–3, 4 alone.
        let g = Graph::from_sorted(5, &[(0, 2, 1.0), (1, 3, 1.0), (2, 0, 1.0), (3, 1, 1.0)]);
        assert_eq!(components(&g), (3, vec![0, 1, 0, 1, 2]));
        // Three components get meta positions e₁, e₂, −e₁; the singletons are scattered
        // within half the distance between meta positions (√2 / 2).
        let unit = vec![0.0; 10];
        let y = spectral_init(&g, &unit, 2, &mut SplitMix64::new(1)).unwrap();
        let h = std::f64::consts::SQRT_2 / 2.0;
        for (v, meta) in [(0, [1.0, 0.0]), (2, [1.0, 0.0]), (1, [0.0, 1.0]), (4, [-1.0, 0.0])] {
            assert!((y[v][0] - meta[0]).abs() <= h && (y[v][1] - meta[1]).abs() <= h, "{v}: {:?}", y[v]);
        }
    }
}
