//! UMAP's layout optimisation (McInnes, Healy & Melville 2018, arXiv:1802.03426, §3.2,
//! Algorithm 5): stochastic gradient descent on the cross-entropy between the data's fuzzy
//! graph and the embedding's, where two points at distance `x` are joined with strength
//! `1 / (1 + a·x^{2b})`.
//!
//! - `a`, `b` are fitted so that curve approximates "1 up to `min_dist`, then
//!   `exp(−(x − min_dist))`" in least squares over 300 points of `[0, 3]`, as umap-learn's
//!   `find_ab_params` does with scipy's `curve_fit` (Levenberg–Marquardt, here too).
//! - Each edge of weight `w` is sampled once every `max w / w` epochs (`epochs_per_sample`);
//!   when sampled, both ends move toward each other (attraction, gradient
//!   `−2ab·x^{2(b−1)} / (1 + a·x^{2b})`), and the head is pushed away from 5 random vertices
//!   per sample (negative sampling; gradient `2b / ((0.001 + x²)(1 + a·x^{2b}))`). Gradient
//!   components are clipped to ±4; the learning rate falls linearly from 1 to 0 over the
//!   epochs (500 up to 10,000 points, else 200, umap-learn's defaults).
//!
//! The edges are visited in order, one thread, from one seeded stream: umap-learn too runs
//! this loop single-threaded when given a `random_state`, because parallel ("Hogwild")
//! updates race and no two runs would agree.

use super::fuzzy::Graph;
use super::rng::SplitMix64;

const NEGATIVE_SAMPLE_RATE: f64 = 5.0;
const CLIP: f64 = 4.0;
/// umap-learn's `repulsion_strength` (γ) and `learning_rate`.
const GAMMA: f64 = 1.0;
const INITIAL_ALPHA: f64 = 1.0;

/// `(a, b)` of the curve `1 / (1 + a·x^{2b})` for `spread` and `min_dist`.
pub fn find_ab(spread: f64, min_dist: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..300).map(|i| 3.0 * spread * i as f64 / 299.0).collect();
    let ys: Vec<f64> = xs.iter().map(|&x| if x < min_dist { 1.0 } else { (-(x - min_dist) / spread).exp() }).collect();
    let cost = |a: f64, b: f64| -> f64 { xs.iter().zip(&ys).map(|(&x, &y)| (curve(x, a, b) - y).powi(2)).sum() };
    let (mut a, mut b) = (1.0f64, 1.0f64);
    let mut lambda = 1e-3;
    let mut c = cost(a, b);
    for _ in 0..1000 {
        // Gauss–Newton normal equations JᵀJ δ = −Jᵀr with Marquardt's diagonal damping.
        let (mut h, mut g) = ([[0f64; 2]; 2], [0f64; 2]);
        for (&x, &y) in xs.iter().zip(&ys) {
            if x <= 0.0 {
                continue; // f = 1 for every (a, b): no gradient
            }
            let p = x.powf(2.0 * b);
            let den = 1.0 + a * p;
            let r = 1.0 / den - y;
            let ja = -p / (den * den);
            let jb = -a * p * 2.0 * x.ln() / (den * den);
            h[0][0] += ja * ja;
            h[0][1] += ja * jb;
            h[1][1] += jb * jb;
            g[0] += ja * r;
            g[1] += jb * r;
        }
        let (h00, h11, h01) = (h[0][0] * (1.0 + lambda), h[1][1] * (1.0 + lambda), h[0][1]);
        let det = h00 * h11 - h01 * h01;
        if det.abs() < 1e-300 {
            break;
        }
        let da = -(h11 * g[0] - h01 * g[1]) / det;
        let db = -(h00 * g[1] - h01 * g[0]) / det;
        let (na, nb) = (a + da, b + db);
        let nc = if na > 0.0 && nb > 0.0 { cost(na, nb) } else { f64::INFINITY };
        if nc < c {
            let small = da.abs() <= 1e-15 * a.abs() && db.abs() <= 1e-15 * b.abs();
            (a, b, c) = (na, nb, nc);
            lambda = (lambda / 10.0).max(1e-12);
            if small {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
        }
    }
    (a, b)
}

fn curve(x: f64, a: f64, b: f64) -> f64 {
    1.0 / (1.0 + a * x.powf(2.0 * b))
}

/// umap-learn's default epochs for `n` points.
pub fn default_epochs(n: usize) -> usize {
    if n <= 10_000 {
        500
    } else {
        200
    }
}

/// Optimise `y` (one `[x, y]` per vertex of `g`) in place for `n_epochs`.
// Indexing by coordinate: both endpoints of an edge (y[j] and y[k]) move together.
#[allow(clippy::needless_range_loop)]
pub fn optimize(y: &mut [[f64; 2]], g: &Graph, a: f64, b: f64, n_epochs: usize, rng: &mut SplitMix64) {
    let n = g.n();
    let (mut head, mut tail, mut w) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        for (j, wt) in g.row(i) {
            head.push(i);
            tail.push(j);
            w.push(wt);
        }
    }
    let max_w = w.iter().copied().fold(0f64, f64::max);
    if max_w <= 0.0 {
        return;
    }
    let per_sample: Vec<f64> = w.iter().map(|&x| max_w / x).collect();
    let per_negative: Vec<f64> = per_sample.iter().map(|&e| e / NEGATIVE_SAMPLE_RATE).collect();
    let mut next = per_sample.clone();
    let mut next_negative = per_negative.clone();
    let clip = |v: f64| v.clamp(-CLIP, CLIP);
    for epoch in 0..n_epochs {
        let alpha = INITIAL_ALPHA * (1.0 - epoch as f64 / n_epochs as f64);
        let now = epoch as f64;
        for e in 0..head.len() {
            if next[e] > now {
                continue;
            }
            let (j, k) = (head[e], tail[e]);
            let d2 = sq_dist(y[j], y[k]);
            let coeff = if d2 > 0.0 {
                let p = d2.powf(b);
                -2.0 * a * b * (p / d2) / (a * p + 1.0)
            } else {
                0.0
            };
            for dim in 0..2 {
                let grad = clip(coeff * (y[j][dim] - y[k][dim]));
                y[j][dim] += grad * alpha;
                y[k][dim] -= grad * alpha;
            }
            next[e] += per_sample[e];
            let negatives = ((now - next_negative[e]) / per_negative[e]).max(0.0) as usize;
            for _ in 0..negatives {
                let k = rng.below(n);
                let d2 = sq_dist(y[j], y[k]);
                let coeff = if d2 > 0.0 {
                    2.0 * GAMMA * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0))
                } else if j == k {
                    continue;
                } else {
                    0.0
                };
                if coeff > 0.0 {
                    for dim in 0..2 {
                        y[j][dim] += clip(coeff * (y[j][dim] - y[k][dim])) * alpha;
                    }
                }
            }
            next_negative[e] += negatives as f64 * per_negative[e];
        }
    }
}

fn sq_dist(p: [f64; 2], q: [f64; 2]) -> f64 {
    (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ab_matches_umap_learns_fit() {
        // umap-learn 0.5.12's find_ab_params (scipy curve_fit), run for these inputs:
        // (1.0, 0.1) → (1.5769434602697652, 0.8950608778515733);
        // (1.0, 0.5) → (0.5830300203414425, 1.3341669924314914).
        // Both minimise the same least squares; curve_fit stops at ftol 1.5e-8.
        for (min_dist, a0, b0) in [(0.1, 1.5769434602697652, 0.8950608778515733), (0.5, 0.5830300203414425, 1.3341669924314914)] {
            let (a, b) = find_ab(1.0, min_dist);
            assert!((a - a0).abs() < 1e-5 && (b - b0).abs() < 1e-5, "min_dist {min_dist}: ({a}, {b})");
        }
        // The fitted curve is ~1 inside min_dist and ~exp(−(x − 0.1)) beyond: at x = 1,
        // 1/(1 + a) with b's exponent 2b ≈ 1.79 → 0.388 against exp(−0.9) = 0.407.
        let (a, b) = find_ab(1.0, 0.1);
        assert!((curve(1.0, a, b) - 1.0 / (1.0 + a)).abs() < 1e-15);
        assert!((curve(1.0, a, b) - (-0.9f64).exp()).abs() < 0.03);
    }

    #[test]
    fn an_edge_pulls_its_ends_together_and_others_apart() {
        // Two linked points and a third unlinked: after optimising, the pair is closer than
        // either is to the third.
        let g = Graph::from_sorted(3, &[(0, 1, 1.0), (1, 0, 1.0)]);
        let mut y = vec![[0.0, 0.0], [5.0, 0.0], [2.5, 1.0]];
        let (a, b) = find_ab(1.0, 0.1);
        optimize(&mut y, &g, a, b, 200, &mut SplitMix64::new(7));
        let d = |p: [f64; 2], q: [f64; 2]| sq_dist(p, q).sqrt();
        assert!(d(y[0], y[1]) < d(y[0], y[2]) && d(y[0], y[1]) < d(y[1], y[2]), "{y:?}");
        assert!(d(y[0], y[1]) < 2.0, "{y:?}");
    }
}
