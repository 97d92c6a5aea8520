//! `top-features`: the features that matter most for a text (mlxterp's
//! `get_top_features_for_text`; `last` is the last-token view of the SAE notebooks).

use serde::{Deserialize, Serialize};

use crate::encode::Encoded;
use crate::error::{Error, Result};

/// How a feature's activations over the tokens become one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            other => return Err(Error::Invalid(format!("unknown reduce `{other}` (expected max, mean, sum or last)"))),
        })
    }
}

/// One ranked feature.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopFeature {
    /// Feature id.
    pub feature: u32,
    /// The reduced activation the ranking is by.
    pub value: f32,
    /// Token position where the feature peaks.
    pub peak_position: usize,
    /// That token's text piece.
    pub peak_token: String,
    /// The activation there.
    pub peak_value: f32,
}

/// One text's top features, as `top-features --json` prints them and `/v1/sae/features/top`
/// returns them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopReport {
    /// The model, as it was named.
    pub model: String,
    /// The SAE, as it was named.
    pub sae: String,
    /// The hook it reads.
    pub hook: String,
    /// The reduction ranked by.
    pub reduce: String,
    /// The text.
    pub text: String,
    /// Its tokens (bos included).
    pub n_tokens: usize,
    /// The features, best first.
    pub features: Vec<TopFeature>,
}

/// The `k` features with the largest reduced activation, largest first (ties: lower id
/// first). The bos token is left out: its residual norm is an order of magnitude above the
/// others' (Gemma 3: 42,900 vs ~3,000) and would dominate every ranking.
pub fn top_features(enc: &Encoded, k: usize, reduce: Reduce, piece: impl Fn(u32) -> String) -> Vec<TopFeature> {
    let start = usize::from(enc.has_bos && enc.acts.n_tokens() > 1);
    let n = enc.acts.n_tokens() - start;
    let mut stats: std::collections::HashMap<u32, (f32, f32, usize)> = Default::default(); // sum, max, argmax
    for pos in start..enc.acts.n_tokens() {
        let Some((fs, vs)) = enc.acts.token(pos) else { continue };
        for (&f, &v) in fs.iter().zip(vs) {
            let e = stats.entry(f).or_insert((0.0, f32::NEG_INFINITY, pos));
            e.0 += v;
            if v > e.1 {
                e.1 = v;
                e.2 = pos;
            }
        }
    }
    let last = enc.acts.n_tokens() - 1;
    let last_value = |f: u32| {
        enc.acts.token(last).and_then(|(fs, vs)| fs.binary_search(&f).ok().map(|i| vs[i])).unwrap_or(0.0)
    };
    let mut out: Vec<TopFeature> = stats
        .into_iter()
        .map(|(f, (sum, max, at))| TopFeature {
            feature: f,
            value: match reduce {
                Reduce::Max => max,
                Reduce::Mean => sum / n.max(1) as f32,
                Reduce::Sum => sum,
                Reduce::Last => last_value(f),
            },
            peak_position: at,
            peak_token: piece(enc.tokens[at]),
            peak_value: max,
        })
        .filter(|t| t.value > 0.0)
        .collect();
    out.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.feature.cmp(&b.feature)));
    out.truncate(k);
    out
}
