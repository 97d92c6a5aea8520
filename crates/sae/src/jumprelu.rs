//! `jumprelu` SAE encoder. Mirrors SAELens `JumpReLUSAE.encode` (`saes/jumprelu_sae.py`), and
//! the conversion SAELens applies when it saves a `batchtopk` / `matryoshka_batchtopk`
//! training SAE for inference (`BatchTopKTrainingSAE.process_state_dict_for_saving_inference`,
//! `TopKTrainingSAE.process_state_dict_for_saving_inference`): those run as JumpReLU.

use candle_core::{DType, Result, Tensor};

/// `relu(h) · (h > threshold)`, `h = x W_enc + b_enc`; the comparison is strict, per feature.
#[derive(Debug, Clone)]
pub(crate) struct JumpRelu {
    /// `[d_sae]`
    pub b_enc: Tensor,
    /// `[d_sae]`
    pub threshold: Tensor,
}

impl JumpRelu {
    /// `sae_in [n, d_in]`, `w_enc [d_in, m]` → `[n, m]`.
    pub fn encode(&self, sae_in: &Tensor, w_enc: &Tensor) -> Result<Tensor> {
        let hidden_pre = saex_kernels::matmul(sae_in, w_enc)?.broadcast_add(&self.b_enc)?; // [n, m]
        let mask = hidden_pre.broadcast_gt(&self.threshold)?.to_dtype(DType::F32)?;
        hidden_pre.relu()? * mask
    }

    /// The same encoder restricted to the features `idx` (`[m]`, u32).
    pub fn select(&self, idx: &Tensor) -> Result<Self> {
        Ok(JumpRelu { b_enc: self.b_enc.index_select(idx, 0)?, threshold: self.threshold.index_select(idx, 0)? })
    }
}

/// Weights of a BatchTopK training SAE turned into a JumpReLU inference SAE, as SAELens
/// writes them: `threshold = topk_threshold` for every feature and, when
/// `rescale_acts_by_decoder_norm`, the decoder row norms `n` folded in
/// (`W_enc[:, j] *= n_j`, `b_enc *= n`, `W_dec[j] /= n_j`; `_fold_norm_topk`).
pub(crate) struct Converted {
    pub w_enc: Tensor,
    pub b_enc: Tensor,
    pub w_dec: Tensor,
    pub threshold: Tensor,
}

/// See [`Converted`]. `topk_threshold` is the scalar buffer (f64 in SAELens).
pub(crate) fn from_batchtopk(
    w_enc: &Tensor,
    b_enc: &Tensor,
    w_dec: &Tensor,
    topk_threshold: &Tensor,
    rescale_acts_by_decoder_norm: bool,
) -> Result<Converted> {
    // `.item()` gives a Python float, multiplied into an f32 ones_like(b_enc).
    let t = topk_threshold.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let t = t.first().copied().unwrap_or(0.0) as f32;
    let threshold = (b_enc.ones_like()? * f64::from(t))?;
    if !rescale_acts_by_decoder_norm {
        return Ok(Converted { w_enc: w_enc.clone(), b_enc: b_enc.clone(), w_dec: w_dec.clone(), threshold });
    }
    // get_W_dec_norm: ‖W_dec[j]‖ clamped at 1e-8.
    let norm = w_dec.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-8f32, f32::MAX)?; // [d_sae, 1]
    Ok(Converted {
        w_enc: w_enc.broadcast_mul(&norm.t()?)?,
        b_enc: (b_enc * norm.squeeze(1)?)?,
        w_dec: w_dec.broadcast_div(&norm)?,
        threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn threshold_is_strict_and_relu_still_applies() {
        // h = x W + b with x = [1], W = [[1, 1, 1]], b = [0, -0.5, -2] → h = [1, 0.5, -1]
        // thresholds [1, 0.2, -3]: h0 = 1 is not > 1 → 0; h1 = 0.5 > 0.2 → 0.5;
        // h2 = -1 > -3 but relu(-1) = 0 → 0.
        let d = Device::Cpu;
        let j = JumpRelu { b_enc: Tensor::new(&[0f32, -0.5, -2.0], &d).unwrap(), threshold: Tensor::new(&[1f32, 0.2, -3.0], &d).unwrap() };
        let x = Tensor::new(&[[1f32]], &d).unwrap();
        let w = Tensor::new(&[[1f32, 1.0, 1.0]], &d).unwrap();
        assert_eq!(j.encode(&x, &w).unwrap().to_vec2::<f32>().unwrap(), vec![vec![0.0, 0.5, 0.0]]);
    }

    #[test]
    fn batchtopk_folds_decoder_norms() {
        // W_dec rows [3, 4] (norm 5) and [0, 2] (norm 2).
        let d = Device::Cpu;
        let w_enc = Tensor::new(&[[1f32, 1.0], [2.0, 2.0]], &d).unwrap();
        let b_enc = Tensor::new(&[1f32, 1.0], &d).unwrap();
        let w_dec = Tensor::new(&[[3f32, 4.0], [0.0, 2.0]], &d).unwrap();
        let t = Tensor::new(0.25f64, &d).unwrap();
        let c = from_batchtopk(&w_enc, &b_enc, &w_dec, &t, true).unwrap();
        assert_eq!(c.w_enc.to_vec2::<f32>().unwrap(), vec![vec![5.0, 2.0], vec![10.0, 4.0]]);
        assert_eq!(c.b_enc.to_vec1::<f32>().unwrap(), vec![5.0, 2.0]);
        assert_eq!(c.w_dec.to_vec2::<f32>().unwrap(), vec![vec![0.6, 0.8], vec![0.0, 1.0]]);
        assert_eq!(c.threshold.to_vec1::<f32>().unwrap(), vec![0.25, 0.25]);
    }
}
