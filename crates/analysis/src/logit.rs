//! The logit-weight distribution of a feature (seed 004): `w = W_dec[i] · W_U` over the
//! whole vocabulary, its population moments and its most boosted and suppressed tokens,
//! accumulated block by block so that `d_sae × vocab` never exists at once.
//!
//! Seed 004's formulas: μ = mean(w), σ = sqrt(mean((w − μ)²)) (population), skewness =
//! mean(((w − μ)/σ)³), kurtosis = mean(((w − μ)/σ)⁴) (not excess: a normal gives 3).

use serde::{Deserialize, Serialize};

/// Population moments of one feature's logit weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Moments {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (population).
    pub std: f64,
    /// Skewness.
    pub skewness: f64,
    /// Kurtosis (not excess).
    pub kurtosis: f64,
}

/// Accumulates one feature's weights over vocabulary blocks: central moments about a shift
/// close to the mean (the analytic mean, computed beforehand), which keeps the sums of
/// powers well conditioned in f64, and the `k` largest and smallest weights.
#[derive(Debug, Clone)]
pub struct LogitAccumulator {
    shift: f64,
    n: u64,
    s: [f64; 4],
    k: usize,
    top: Vec<(f32, u32)>,    // largest first
    bottom: Vec<(f32, u32)>, // smallest first
}

impl LogitAccumulator {
    /// A new accumulator; `shift` should be near the mean (exactness does not depend on it).
    pub fn new(shift: f64, k: usize) -> LogitAccumulator {
        LogitAccumulator { shift, n: 0, s: [0.0; 4], k, top: Vec::with_capacity(k + 1), bottom: Vec::with_capacity(k + 1) }
    }

    /// Add the weights of tokens `first..first + w.len()`.
    pub fn add(&mut self, first: u32, w: &[f32]) {
        for (i, &x) in w.iter().enumerate() {
            let d = f64::from(x) - self.shift;
            let d2 = d * d;
            self.s[0] += d;
            self.s[1] += d2;
            self.s[2] += d2 * d;
            self.s[3] += d2 * d2;
            let t = first + i as u32;
            push(&mut self.top, (x, t), self.k, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            push(&mut self.bottom, (x, t), self.k, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
        self.n += w.len() as u64;
    }

    /// The moments (seed 004's formulas).
    pub fn moments(&self) -> Moments {
        let n = self.n.max(1) as f64;
        let [m1, m2, m3, m4] = self.s.map(|x| x / n);
        // Central moments from moments about the shift.
        let c2 = m2 - m1 * m1;
        let c3 = m3 - 3.0 * m1 * m2 + 2.0 * m1.powi(3);
        let c4 = m4 - 4.0 * m1 * m3 + 6.0 * m1 * m1 * m2 - 3.0 * m1.powi(4);
        let std = c2.max(0.0).sqrt();
        let (skewness, kurtosis) = if std > 0.0 { (c3 / std.powi(3), c4 / (c2 * c2)) } else { (0.0, 0.0) };
        Moments { mean: self.shift + m1, std, skewness, kurtosis }
    }

    /// The `k` largest weights, largest first, as (weight, token).
    pub fn top(&self) -> &[(f32, u32)] {
        &self.top
    }

    /// The `k` smallest, smallest first.
    pub fn bottom(&self) -> &[(f32, u32)] {
        &self.bottom
    }
}

fn push(v: &mut Vec<(f32, u32)>, x: (f32, u32), k: usize, cmp: impl Fn(&(f32, u32), &(f32, u32)) -> std::cmp::Ordering) {
    if k == 0 || (v.len() == k && cmp(&x, &v[k - 1]) != std::cmp::Ordering::Less) {
        return;
    }
    let at = v.partition_point(|y| cmp(y, &x) == std::cmp::Ordering::Less);
    v.insert(at, x);
    v.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_by_hand_in_blocks() {
        // w = [1, 2, 3, 10]: μ = 4; deviations −3, −2, −1, 6; σ² = (9+4+1+36)/4 = 12.5;
        // μ3 = (−27 −8 −1 +216)/4 = 45; μ4 = (81+16+1+1296)/4 = 348.5;
        // skew = 45 / 12.5^1.5 = 1.018234; kurt = 348.5 / 156.25 = 2.2304.
        for shift in [0.0, 4.0, -100.0] {
            let mut a = LogitAccumulator::new(shift, 2);
            a.add(0, &[1.0, 2.0]);
            a.add(2, &[3.0, 10.0]);
            let m = a.moments();
            assert!((m.mean - 4.0).abs() < 1e-9 && (m.std - 12.5f64.sqrt()).abs() < 1e-9, "{m:?}");
            assert!((m.skewness - 45.0 / 12.5f64.powf(1.5)).abs() < 1e-9 && (m.kurtosis - 2.2304).abs() < 1e-9, "{m:?}");
            assert_eq!(a.top(), [(10.0, 3), (3.0, 2)]);
            assert_eq!(a.bottom(), [(1.0, 0), (2.0, 1)]);
        }
    }
}
