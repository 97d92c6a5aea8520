//! `neighbors`: the features whose decoder (or encoder) directions point most nearly the same
//! way as a feature's or a given vector — exact cosine similarity over every feature, the
//! top k (Neuronpedia's `util/sae-topk-by-decoder-cossim`).
//!
//! Exact, not approximate: the rows are walked in blocks of [`BLOCK`] features, each block one
//! matmul of the queries against the block's rows, with the rows' norms from the same block.
//! Nothing `[d_sae, d_in]`-sized is copied, so a 65k-feature SAE costs one pass over its
//! decoder per request (tens of milliseconds), however many queries.

use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::session::Session;

/// Features per block of the exact scan.
pub const BLOCK: usize = 4096;

/// Which directions of the SAE to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// The decoder rows `W_dec[f]` (what a feature writes).
    #[default]
    Decoder,
    /// The encoder columns `W_enc[:, f]` (what a feature reads).
    Encoder,
}

/// A `neighbors` request: one query (a feature of the SAE or a vector of width `d_in`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NeighborsRequest {
    /// Query by this feature's direction...
    #[serde(default)]
    pub feature: Option<u32>,
    /// ...or by this vector (width `d_in`).
    #[serde(default)]
    pub vector: Option<Vec<f32>>,
    /// How many neighbours (the query feature itself included, at cosine 1).
    pub k: usize,
    /// Decoder rows or encoder columns.
    #[serde(default)]
    pub by: By,
}

/// One neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Neighbor {
    /// The feature.
    pub feature_id: u32,
    /// Cosine similarity with the query, in [-1, 1] (0 for a zero direction).
    pub cosine: f32,
}

/// The `k` features of SAE `sae` most cosine-similar to the request's query, most similar
/// first (ties: lower id first).
pub fn neighbors(session: &Session, sae: usize, req: &NeighborsRequest) -> Result<Vec<Neighbor>> {
    let s = session.saes.get(sae).ok_or_else(|| Error::field("sae_id", format!("no SAE {sae}")))?;
    let dirs = directions(s.sae.w_enc(), s.sae.w_dec(), req.by)?;
    let query = match (req.feature, &req.vector) {
        (Some(f), None) => {
            let d_sae = s.sae.d_sae();
            if f as usize >= d_sae {
                return Err(Error::field("feature", format!("{f} is out of range: the SAE has {d_sae} features")));
            }
            dirs.row(f as usize)?
        }
        (None, Some(v)) => {
            if v.len() != s.sae.d_in() {
                return Err(Error::field("vector", format!("has {} values; the SAE's d_in is {}", v.len(), s.sae.d_in())));
            }
            Tensor::new(v.as_slice(), &candle_core::Device::Cpu)?
        }
        _ => return Err(Error::field("feature", "give exactly one of feature or vector")),
    };
    Ok(top_cosines(&dirs, &[query], req.k)?.remove(0))
}

/// Rows to compare: `W_dec` as is, or `W_enc` read column by column.
pub(crate) enum Directions<'a> {
    Rows(&'a Tensor),
    Columns(&'a Tensor),
}

pub(crate) fn directions<'a>(w_enc: &'a Tensor, w_dec: &'a Tensor, by: By) -> Result<Directions<'a>> {
    Ok(match by {
        By::Decoder => Directions::Rows(w_dec),
        By::Encoder => Directions::Columns(w_enc),
    })
}

impl Directions<'_> {
    fn count(&self) -> Result<usize> {
        Ok(match self {
            Directions::Rows(t) => t.dim(0)?,
            Directions::Columns(t) => t.dim(1)?,
        })
    }

    /// Direction `i` as an f32 vector.
    pub(crate) fn row(&self, i: usize) -> Result<Tensor> {
        Ok(match self {
            Directions::Rows(t) => t.get(i)?,
            Directions::Columns(t) => t.narrow(1, i, 1)?.squeeze(1)?,
        }
        .to_dtype(DType::F32)?)
    }

    /// Block `[start, start + n)` as `[n, d]` f32.
    fn block(&self, start: usize, n: usize) -> Result<Tensor> {
        Ok(match self {
            Directions::Rows(t) => t.narrow(0, start, n)?,
            Directions::Columns(t) => t.narrow(1, start, n)?.t()?,
        }
        .to_dtype(DType::F32)?
        .contiguous()?)
    }
}

/// For each query `[d]`, the `k` directions with the largest cosine, largest first, lower
/// index first on ties. A NaN cosine ranks last; non-finite values are reported as 0.
pub(crate) fn top_cosines(dirs: &Directions, queries: &[Tensor], k: usize) -> Result<Vec<Vec<Neighbor>>> {
    let n = dirs.count()?;
    let k = k.clamp(1, n.max(1));
    let q = Tensor::stack(queries, 0)?.to_dtype(DType::F32)?; // [m, d]
    let q_norm: Vec<f32> = q.sqr()?.sum(D::Minus1)?.sqrt()?.to_vec1()?; // [m]
    let qt = q.t()?.contiguous()?; // [d, m]
    let m = queries.len();
    let mut scores: Vec<Vec<f32>> = vec![Vec::with_capacity(n); m];
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        let b = dirs.block(start, len)?; // [len, d]
        let dots: Vec<Vec<f32>> = b.matmul(&qt)?.to_vec2()?; // [len, m]
        let norms: Vec<f32> = b.sqr()?.sum(D::Minus1)?.sqrt()?.to_vec1()?; // [len]
        for (row, &bn) in dots.iter().zip(&norms) {
            for j in 0..m {
                // NP: dot / max(‖a‖‖b‖, 1e-8).
                scores[j].push(row[j] / (bn * q_norm[j]).max(1e-8));
            }
        }
        start += len;
    }
    Ok(scores
        .into_iter()
        .map(|s| {
            let key = |i: usize| if s[i].is_nan() { f32::NEG_INFINITY } else { s[i] };
            let mut idx: Vec<usize> = (0..s.len()).collect();
            let by = |a: &usize, b: &usize| key(*b).total_cmp(&key(*a)).then(a.cmp(b));
            if k < idx.len() {
                idx.select_nth_unstable_by(k - 1, by);
                idx.truncate(k);
            }
            idx.sort_by(by);
            idx.into_iter().map(|i| Neighbor { feature_id: i as u32, cosine: if s[i].is_finite() { s[i] } else { 0.0 } }).collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn exact_cosines_ranked_with_ties_by_index() {
        // Rows: [1,0], [0,1], [1,1], [2,0], [-1,0]. Query [1,0]: cosines 1, 0, 0.7071, 1, -1
        // → 0 and 3 tie at 1 (lower id first), then 2.
        let w = Tensor::new(&[[1f32, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0], [-1.0, 0.0]], &Device::Cpu).unwrap();
        let q = Tensor::new(&[1f32, 0.0], &Device::Cpu).unwrap();
        let got = top_cosines(&Directions::Rows(&w), std::slice::from_ref(&q), 3).unwrap().remove(0);
        let ids: Vec<u32> = got.iter().map(|n| n.feature_id).collect();
        assert_eq!(ids, [0, 3, 2]);
        assert!((got[2].cosine - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        // Encoder columns of the transpose are the same directions.
        let wt = w.t().unwrap().contiguous().unwrap();
        let enc = top_cosines(&Directions::Columns(&wt), &[q], 5).unwrap().remove(0);
        assert_eq!(enc.iter().map(|n| n.feature_id).collect::<Vec<_>>(), [0, 3, 2, 1, 4]);
        assert_eq!(enc[4].cosine, -1.0);
    }

    #[test]
    fn blocks_give_the_same_answer_as_one_pass() {
        // 10,000 rows cross two block boundaries; the best is the row equal to the query.
        let rows: Vec<f32> = (0..10_000 * 3).map(|i| ((i * 7919) % 101) as f32 - 50.0).collect();
        let w = Tensor::from_vec(rows, (10_000, 3), &Device::Cpu).unwrap();
        let q = w.get(9_321).unwrap();
        let got = top_cosines(&Directions::Rows(&w), &[q], 1).unwrap().remove(0);
        assert!((got[0].cosine - 1.0).abs() < 1e-6, "{got:?}");
        // A zero row has cosine 0, not NaN.
        let z = Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap();
        let got = top_cosines(&Directions::Rows(&z), &[Tensor::new(&[1f32, 0.0, 0.0], &Device::Cpu).unwrap()], 2).unwrap();
        assert_eq!(got[0], [Neighbor { feature_id: 0, cosine: 0.0 }, Neighbor { feature_id: 1, cosine: 0.0 }]);
    }
}
