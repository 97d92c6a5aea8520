//! UMAP (McInnes, Healy & Melville, "UMAP: Uniform Manifold Approximation and Projection
//! for Dimension Reduction", 2018, arXiv:1802.03426), written for saex to be exact and
//! reproducible; umap-learn 0.5 was read to match its defaults, not copied:
//!
//! 1. exact cosine kNN, self included ([`knn`](super::knn));
//! 2. per-point `σ`, `ρ` and the fuzzy union of the membership graph ([`fuzzy`](super::fuzzy));
//! 3. edges lighter than `max / n_epochs` dropped (they would never be sampled);
//! 4. spectral initialisation ([`spectral`](super::spectral)), scaled so the largest
//!    coordinate is 10, plus N(0, 10⁻⁴) noise, then each axis rescaled to `[0, 10]`;
//! 5. `a`, `b` fitted to `min_dist`, then SGD with negative sampling
//!    ([`layout`](super::layout)).
//!
//! Determinism: one SplitMix64 stream from the seed feeds the noise, the placement of tiny
//! components and the negative samples; the kNN is exact with a total order on ties; the
//! graph is kept sorted; the SGD runs its edges in order on one thread; the only parallel
//! work (the similarity blocks) does not depend on the thread count. The same rows and seed
//! give the same bits on the same machine and build.

use super::cosine::unit_rows;
use super::fuzzy::fuzzy_graph;
use super::knn::cosine_knn;
use super::layout::{default_epochs, find_ab, optimize};
use super::rng::SplitMix64;
use super::spectral::{components, spectral_init};
use crate::error::{Error, Result};

/// UMAP's parameters (the rest are umap-learn's defaults: 2 components, spread 1, local
/// connectivity 1, learning rate 1, 5 negative samples, set-operation mix 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UmapParams {
    /// Neighbours per point, self included (umap-learn's `n_neighbors`).
    pub n_neighbors: usize,
    /// How tightly points may pack (umap-learn's `min_dist`, in `[0, 1]`).
    pub min_dist: f64,
    /// The random stream's seed.
    pub seed: u64,
}

impl Default for UmapParams {
    fn default() -> Self {
        UmapParams { n_neighbors: 15, min_dist: 0.1, seed: 42 }
    }
}

/// A UMAP embedding and what was used to make it.
#[derive(Debug, Clone, PartialEq)]
pub struct Umap {
    /// One point per row.
    pub embedding: Vec<[f64; 2]>,
    /// The curve's `a`.
    pub a: f64,
    /// The curve's `b`.
    pub b: f64,
    /// Epochs of SGD.
    pub n_epochs: usize,
    /// Undirected edges of the graph after pruning.
    pub edges: usize,
    /// Its connected components.
    pub components: usize,
}

/// Embed the rows of `rows` (`n × d`) in 2-D.
pub fn umap(rows: &[f32], n: usize, d: usize, p: &UmapParams) -> Result<Umap> {
    if rows.len() != n * d || d == 0 {
        return Err(Error::Invalid(format!("umap: {} values for {n} rows of {d}", rows.len())));
    }
    if n < 3 {
        return Err(Error::Invalid(format!("a 2-D map needs at least 3 points, got {n}")));
    }
    if p.n_neighbors < 2 || p.n_neighbors > n {
        return Err(Error::field("n_neighbors", format!("{} is out of range: 2 to the number of points ({n})", p.n_neighbors)));
    }
    if !(0.0..=1.0).contains(&p.min_dist) {
        return Err(Error::field("min_dist", format!("{} is out of range [0, 1] (it may not exceed the spread, 1)", p.min_dist)));
    }
    let unit = unit_rows(rows, d);
    let knn = cosine_knn(&unit, n, d, p.n_neighbors);
    let graph = fuzzy_graph(&knn);
    let n_epochs = default_epochs(n);
    let max_w = graph.weights.iter().copied().fold(0f64, f64::max);
    let graph = graph.prune(max_w / n_epochs as f64);
    let mut rng = SplitMix64::new(p.seed);
    let mut y = spectral_init(&graph, &unit, d, &mut rng)?;
    let biggest = y.iter().flat_map(|q| q.iter()).fold(0f64, |m, x| m.max(x.abs()));
    let expand = if biggest > 0.0 { 10.0 / biggest } else { 1.0 };
    for q in y.iter_mut() {
        for x in q.iter_mut() {
            *x = *x * expand + 1e-4 * rng.normal();
        }
    }
    for axis in 0..2 {
        let (lo, hi) = y.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), q| (l.min(q[axis]), h.max(q[axis])));
        let span = if hi > lo { hi - lo } else { 1.0 };
        for q in y.iter_mut() {
            q[axis] = 10.0 * (q[axis] - lo) / span;
        }
    }
    let (a, b) = find_ab(1.0, p.min_dist);
    optimize(&mut y, &graph, a, b, n_epochs, &mut rng);
    let (components, _) = components(&graph);
    Ok(Umap { embedding: y, a, b, n_epochs, edges: graph.indices.len() / 2, components })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight clusters of 20 points in 8-D, around three orthogonal directions.
    fn clusters() -> Vec<f32> {
        let mut r = SplitMix64::new(3);
        (0..60)
            .flat_map(|i| {
                let c = i / 20;
                let mut v: Vec<f32> = (0..8).map(|_| 0.05 * r.normal() as f32).collect();
                v[c] += 1.0;
                v
            })
            .collect()
    }

    #[test]
    fn clusters_stay_apart_and_runs_repeat() {
        let rows = clusters();
        let p = UmapParams { n_neighbors: 10, ..Default::default() };
        let u = umap(&rows, 60, 8, &p).unwrap();
        assert_eq!(u.n_epochs, 500);
        // Every point's nearest embedded neighbour is in its own cluster.
        for i in 0..60 {
            let near = (0..60)
                .filter(|&j| j != i)
                .min_by(|&a, &b| {
                    let d = |j: usize| (u.embedding[i][0] - u.embedding[j][0]).powi(2) + (u.embedding[i][1] - u.embedding[j][1]).powi(2);
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            assert_eq!(near / 20, i / 20, "point {i}");
        }
        assert_eq!(umap(&rows, 60, 8, &p).unwrap(), u, "same seed, same embedding");
        let other = umap(&rows, 60, 8, &UmapParams { seed: 7, ..p }).unwrap();
        assert_ne!(other.embedding, u.embedding, "another seed moves the points");
    }

    #[test]
    fn bad_parameters_name_their_field() {
        let rows = clusters();
        let e = umap(&rows, 60, 8, &UmapParams { n_neighbors: 1, ..Default::default() }).unwrap_err();
        assert_eq!(e.field_name(), Some("n_neighbors"));
        let e = umap(&rows, 60, 8, &UmapParams { min_dist: 1.5, ..Default::default() }).unwrap_err();
        assert_eq!(e.field_name(), Some("min_dist"));
        assert!(umap(&rows[..16], 2, 8, &UmapParams::default()).is_err());
    }
}
