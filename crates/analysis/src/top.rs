//! Ranking a text's features (mlxterp's `get_top_features_for_text`; `last` is the
//! last-token view of the SAE notebooks): each feature's activations over the tokens reduce
//! to one number, largest first.

use std::collections::HashMap;

use saex_sae::SparseActs;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a feature's activations over the tokens become one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reduce {
    /// Largest activation over the tokens.
    Max,
    /// Mean over the tokens (zeros included).
    Mean,
    /// Sum over the tokens.
    Sum,
    /// Activation at the last token.
    Last,
}

impl std::str::FromStr for Reduce {
    type Err = Error;
    fn from_str(s: &str) -> Result<Reduce> {
        Ok(match s {
            "max" => Reduce::Max,
            "mean" => Reduce::Mean,
            "sum" => Reduce::Sum,
            "last" => Reduce::Last,
            other => return Err(Error::field("reduce", format!("unknown reduce `{other}` (expected max, mean, sum or last)"))),
        })
    }
}

impl std::fmt::Display for Reduce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reduce::Max => "max",
            Reduce::Mean => "mean",
            Reduce::Sum => "sum",
            Reduce::Last => "last",
        })
    }
}

/// One ranked feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// Feature id.
    pub feature: u32,
    /// The reduced activation the ranking is by.
    pub value: f32,
    /// Token position where the feature peaks (first of equal peaks).
    pub peak_position: usize,
    /// The activation there.
    pub peak_value: f32,
}

/// The `k` features with the largest reduced activation over tokens `first..` (pass 1 to
/// leave bos out), largest first, ties by lower id; only features `keep` accepts and whose
/// value is positive.
pub fn rank(acts: &SparseActs, first: usize, k: usize, reduce: Reduce, keep: &dyn Fn(u32) -> bool) -> Vec<Ranked> {
    let n_tokens = acts.n_tokens();
    let n = n_tokens.saturating_sub(first).max(1);
    let mut stats: HashMap<u32, (f64, f32, usize)> = HashMap::new(); // sum, max, argmax
    for pos in first..n_tokens {
        let Some((fs, vs)) = acts.token(pos) else { continue };
        for (&f, &v) in fs.iter().zip(vs) {
            let e = stats.entry(f).or_insert((0.0, f32::NEG_INFINITY, pos));
            e.0 += f64::from(v);
            if v > e.1 {
                e.1 = v;
                e.2 = pos;
            }
        }
    }
    let last = n_tokens.saturating_sub(1);
    let mut out: Vec<Ranked> = stats
        .into_iter()
        .filter(|(f, _)| keep(*f))
        .map(|(f, (sum, max, at))| Ranked {
            feature: f,
            value: match reduce {
                Reduce::Max => max,
                Reduce::Mean => (sum / n as f64) as f32,
                Reduce::Sum => sum as f32,
                Reduce::Last => acts.get(last, f),
            },
            peak_position: at,
            peak_value: max,
        })
        .filter(|t| t.value > 0.0)
        .collect();
    out.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.feature.cmp(&b.feature)));
    out.truncate(k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acts() -> SparseActs {
        // bos fires 7 at 100; then token 1: f2 = 1, f7 = 3; token 2: f2 = 5; token 3: f7 = 1.
        SparseActs { indptr: vec![0, 1, 3, 4, 5], features: vec![7, 2, 7, 2, 7], values: vec![100.0, 1.0, 3.0, 5.0, 1.0], d_sae: 8 }
    }

    #[test]
    fn each_reduction_by_hand() {
        let all = |_: u32| true;
        let by = |r| rank(&acts(), 1, 10, r, &all).iter().map(|x| (x.feature, x.value)).collect::<Vec<_>>();
        // max: f2 5, f7 3 (bos's 100 left out).
        assert_eq!(by(Reduce::Max), [(2, 5.0), (7, 3.0)]);
        // mean over 3 tokens: f2 (1+5)/3 = 2, f7 (3+1)/3 = 1.333.
        assert_eq!(by(Reduce::Mean), [(2, 2.0), (7, 4.0 / 3.0)]);
        assert_eq!(by(Reduce::Sum), [(2, 6.0), (7, 4.0)]);
        // last token fires only f7 = 1; f2 is 0 there and drops out.
        assert_eq!(by(Reduce::Last), [(7, 1.0)]);
        let top = rank(&acts(), 1, 1, Reduce::Max, &all);
        assert_eq!((top.len(), top[0].peak_position, top[0].peak_value), (1, 2, 5.0));
        // With bos: f7 peaks there.
        assert_eq!(rank(&acts(), 0, 1, Reduce::Max, &all)[0].feature, 7);
        // The gate drops f2 before truncation.
        assert_eq!(rank(&acts(), 1, 1, Reduce::Max, &|f| f != 2)[0].feature, 7);
    }

    #[test]
    fn reduce_parses_and_names_the_field() {
        assert_eq!("last".parse::<Reduce>().unwrap(), Reduce::Last);
        assert_eq!("median".parse::<Reduce>().unwrap_err().field_name(), Some("reduce"));
    }
}
