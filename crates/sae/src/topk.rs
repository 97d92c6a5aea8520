//! `topk` SAE encoder. Mirrors SAELens `TopKSAE.encode` / `TopK.forward` and `act_times_W_dec`
//! (`saes/topk_sae.py`): select the k largest pre-activations of each token, then ReLU them,
//! so a token can keep fewer than k nonzeros.
//!
//! Selection uses `select_nth_unstable_by` (expected O(d_sae) per token), never a full sort.
//! `torch.topk` leaves the order of ties unspecified; here ties go to the lower feature id.

use candle_core::{Result, Tensor};

use crate::sparse::SparseActs;

/// TopK encoder.
#[derive(Debug, Clone)]
pub(crate) struct TopK {
    /// `[d_sae]`
    pub b_enc: Tensor,
    /// Features kept per token, `1 ≤ k ≤ d_sae`.
    pub k: usize,
    /// `‖W_dec[j]‖` when `rescale_acts_by_decoder_norm`, `[d_sae]`.
    pub dec_norm: Option<Tensor>,
}

impl TopK {
    /// `w_dec [d_sae, d_in]`.
    pub fn new(b_enc: Tensor, k: usize, w_dec: &Tensor, rescale_acts_by_decoder_norm: bool) -> Result<Self> {
        let dec_norm = if rescale_acts_by_decoder_norm { Some(w_dec.sqr()?.sum_keepdim(1)?.sqrt()?.squeeze(1)?) } else { None };
        Ok(TopK { b_enc, k, dec_norm })
    }

    /// Every feature's pre-activation must be known to pick the top k, so this always
    /// computes all of them: `sae_in [n, d_in]`, `w_enc [d_in, d_sae]`.
    pub fn encode_sparse(&self, sae_in: &Tensor, w_enc: &Tensor) -> Result<SparseActs> {
        let mut hidden_pre = saex_kernels::matmul(sae_in, w_enc)?.broadcast_add(&self.b_enc)?; // [n, d_sae]
        if let Some(norm) = &self.dec_norm {
            hidden_pre = hidden_pre.broadcast_mul(norm)?;
        }
        let (n, d_sae) = hidden_pre.dims2()?;
        let flat = hidden_pre.flatten_all()?.to_vec1::<f32>()?;
        let mut out = SparseActs::new(d_sae);
        let mut idx: Vec<u32> = Vec::with_capacity(d_sae);
        for i in 0..n {
            let row = &flat[i * d_sae..(i + 1) * d_sae];
            top_k(row, self.k, &mut idx);
            // ReLU after selection; NaN survives torch.relu, so keep it too.
            out.push_row(idx.iter().map(|&j| (j, row[j as usize])).filter(|(_, v)| *v > 0.0 || v.is_nan()));
        }
        Ok(out)
    }

    /// `act_times_W_dec`'s rescaling: `acts · (1 / ‖W_dec[j]‖)` before `@ W_dec`.
    pub fn decode_scale(&self, acts: &Tensor) -> Result<Tensor> {
        match &self.dec_norm {
            Some(norm) => acts.broadcast_mul(&norm.recip()?),
            None => Ok(acts.clone()),
        }
    }
}

/// Leaves in `idx` the ids of the `k` largest values of `row`, ascending. Larger value wins;
/// among equal values the lower id wins (`total_cmp`: NaN counts as largest, like torch.topk).
fn top_k(row: &[f32], k: usize, idx: &mut Vec<u32>) {
    idx.clear();
    idx.extend(0..row.len() as u32);
    let k = k.min(row.len());
    if k == 0 {
        idx.clear();
        return;
    }
    let desc = |a: &u32, b: &u32| row[*b as usize].total_cmp(&row[*a as usize]).then(a.cmp(b));
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, desc);
        idx.truncate(k);
    }
    idx.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn top_k_picks_largest_with_low_id_ties() {
        let mut idx = Vec::new();
        // values: 0:0.1 1:5 2:-1 3:5 4:2 → top 2 = {1, 3}; top 3 adds 4.
        top_k(&[0.1, 5.0, -1.0, 5.0, 2.0], 2, &mut idx);
        assert_eq!(idx, vec![1, 3]);
        top_k(&[0.1, 5.0, -1.0, 5.0, 2.0], 3, &mut idx);
        assert_eq!(idx, vec![1, 3, 4]);
        // tie between 0 and 2 for the last slot → the lower id, 0.
        top_k(&[1.0, 3.0, 1.0], 2, &mut idx);
        assert_eq!(idx, vec![0, 1]);
    }

    #[test]
    fn relu_after_selection_can_leave_fewer_than_k() {
        // h = x W + b = [2, -1, -3, 0.5] with x = [1], W = 0, b = h; k = 3 picks 0, 3, 1;
        // relu drops feature 1 → nonzeros {0: 2, 3: 0.5}.
        let d = Device::Cpu;
        let b = Tensor::new(&[2f32, -1.0, -3.0, 0.5], &d).unwrap();
        let w_dec = Tensor::ones((4, 1), candle_core::DType::F32, &d).unwrap();
        let t = TopK::new(b, 3, &w_dec, false).unwrap();
        let x = Tensor::new(&[[1f32]], &d).unwrap();
        let w = Tensor::zeros((1, 4), candle_core::DType::F32, &d).unwrap();
        let s = t.encode_sparse(&x, &w).unwrap();
        assert_eq!(s.features, vec![0, 3]);
        assert_eq!(s.values, vec![2.0, 0.5]);
    }
}
