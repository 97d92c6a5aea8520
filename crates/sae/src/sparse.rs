//! `SparseActs`: feature activations as CSR rows, one row per token.
//!
//! SAE activations are sparse (tens of nonzeros out of 16k–1M features), and everything
//! downstream (top features per token, the activation index, co-activation) works on the
//! `(feature, value)` pairs of each token. A dense `[n, d_sae]` tensor would be mostly zeros.

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};

/// Nonzero feature activations of `n` tokens in compressed-sparse-row form.
///
/// Token `i` has features `features[indptr[i]..indptr[i+1]]` (ascending) with activations
/// `values[indptr[i]..indptr[i+1]]`. Only nonzeros are stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SparseActs {
    /// Row offsets, `n + 1` entries, starting at 0.
    pub indptr: Vec<usize>,
    /// Feature ids, ascending within each row.
    pub features: Vec<u32>,
    /// Activations, aligned with `features`.
    pub values: Vec<f32>,
    /// Number of features of the SAE (the dense width).
    pub d_sae: usize,
}

impl SparseActs {
    /// No tokens.
    pub fn new(d_sae: usize) -> Self {
        SparseActs { indptr: vec![0], features: Vec::new(), values: Vec::new(), d_sae }
    }

    /// The number of tokens.
    pub fn n_tokens(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    /// The number of stored nonzeros.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// `(features, values)` of token `i`, or `None` past the last token.
    pub fn token(&self, i: usize) -> Option<(&[u32], &[f32])> {
        let (a, b) = (*self.indptr.get(i)?, *self.indptr.get(i + 1)?);
        Some((self.features.get(a..b)?, self.values.get(a..b)?))
    }

    /// The activation of `feature` at token `i` (0 when silent or past the last token).
    pub fn get(&self, i: usize, feature: u32) -> f32 {
        self.token(i).and_then(|(fs, vs)| fs.binary_search(&feature).ok().map(|j| vs[j])).unwrap_or(0.0)
    }

    /// The activation of `feature` at every token.
    pub fn column(&self, feature: u32) -> Vec<f32> {
        (0..self.n_tokens()).map(|i| self.get(i, feature)).collect()
    }

    /// Tokens `start..` only (e.g. without bos).
    pub fn skip(&self, start: usize) -> SparseActs {
        let start = start.min(self.n_tokens());
        let base = self.indptr[start];
        SparseActs {
            indptr: self.indptr[start..].iter().map(|&p| p - base).collect(),
            features: self.features[base..].to_vec(),
            values: self.values[base..].to_vec(),
            d_sae: self.d_sae,
        }
    }

    /// Internally consistent: offsets start at 0, never decrease, end at the number of
    /// nonzeros; features are in range and ascending within each row.
    pub fn is_consistent(&self) -> bool {
        self.indptr.first() == Some(&0)
            && self.indptr.windows(2).all(|w| w[0] <= w[1])
            && self.indptr.last() == Some(&self.values.len())
            && self.features.len() == self.values.len()
            && self.tokens().all(|(fs, _)| fs.windows(2).all(|w| w[0] < w[1]) && fs.iter().all(|&f| (f as usize) < self.d_sae))
    }

    /// `(features, values)` of every token, in order.
    pub fn tokens(&self) -> impl Iterator<Item = (&[u32], &[f32])> + '_ {
        (0..self.n_tokens()).filter_map(|i| self.token(i))
    }

    /// Appends one token whose nonzeros are given in ascending feature order.
    pub(crate) fn push_row(&mut self, row: impl IntoIterator<Item = (u32, f32)>) {
        for (f, v) in row {
            self.features.push(f);
            self.values.push(v);
        }
        self.indptr.push(self.values.len());
    }

    /// The nonzeros of a dense `[n, d_sae]` tensor.
    pub fn from_dense(acts: &Tensor) -> Result<Self> {
        let (n, d_sae) = acts.dims2()?;
        let flat = acts.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let mut out = SparseActs::new(d_sae);
        for i in 0..n {
            let row = &flat[i * d_sae..(i + 1) * d_sae];
            out.push_row(row.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(j, v)| (j as u32, *v)));
        }
        Ok(out)
    }

    /// The dense `[n, d_sae]` f32 tensor.
    pub fn to_dense(&self) -> Result<Tensor> {
        let n = self.n_tokens();
        let mut dense = vec![0f32; n * self.d_sae];
        for (i, (fs, vs)) in self.tokens().enumerate() {
            for (f, v) in fs.iter().zip(vs) {
                let j = *f as usize;
                if j >= self.d_sae {
                    return Err(Error::BadInput(format!("feature {j} ≥ d_sae {}", self.d_sae)));
                }
                dense[i * self.d_sae + j] = *v;
            }
        }
        Ok(Tensor::from_vec(dense, (n, self.d_sae), &Device::Cpu)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_round_trips_and_keeps_only_nonzeros() {
        // Token 0 fires features 1 and 3; token 1 fires nothing.
        let t = Tensor::new(&[[0f32, 2.0, 0.0, -1.5], [0.0, 0.0, 0.0, 0.0]], &Device::Cpu).unwrap();
        let s = SparseActs::from_dense(&t).unwrap();
        assert_eq!(s.indptr, vec![0, 2, 2]);
        assert_eq!(s.features, vec![1, 3]);
        assert_eq!(s.values, vec![2.0, -1.5]);
        assert_eq!(s.token(1), Some((&[][..], &[][..])));
        assert_eq!(s.token(2), None);
        assert_eq!(s.to_dense().unwrap().to_vec2::<f32>().unwrap(), t.to_vec2::<f32>().unwrap());
        assert_eq!((s.get(0, 3), s.get(0, 2), s.get(1, 1), s.get(5, 1)), (-1.5, 0.0, 0.0, 0.0));
        assert_eq!(s.column(1), [2.0, 0.0]);
        assert!(s.is_consistent());
        let tail = s.skip(1);
        assert_eq!((tail.indptr.clone(), tail.nnz()), (vec![0, 0], 0));
        assert!(tail.is_consistent());
    }
}
