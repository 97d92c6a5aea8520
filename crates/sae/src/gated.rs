//! `gated` SAE encoder. Mirrors SAELens `GatedSAE.encode` (`saes/gated_sae.py`).

use candle_core::{DType, Result, Tensor};

/// `(x W_enc + b_gate > 0) · relu(x (W_enc ⊙ exp(r_mag)) + b_mag)`.
#[derive(Debug, Clone)]
pub(crate) struct Gated {
    /// `[d_sae]`
    pub b_gate: Tensor,
    /// `[d_sae]`
    pub b_mag: Tensor,
    /// `[d_sae]`
    pub r_mag: Tensor,
    /// `W_enc ⊙ exp(r_mag)[None, :]`, `[d_in, d_sae]`, formed once at load (the same f32
    /// products SAELens forms on every call).
    pub w_mag: Tensor,
}

impl Gated {
    /// `w_enc [d_in, d_sae]`, `r_mag [d_sae]`.
    pub fn new(w_enc: &Tensor, b_gate: Tensor, b_mag: Tensor, r_mag: &Tensor) -> Result<Self> {
        let w_mag = w_enc.broadcast_mul(&r_mag.exp()?.unsqueeze(0)?)?;
        Ok(Gated { b_gate, b_mag, r_mag: r_mag.clone(), w_mag })
    }

    /// `sae_in [n, d_in]`, `w_enc [d_in, m]` (and `self` restricted alike) → `[n, m]`.
    pub fn encode(&self, sae_in: &Tensor, w_enc: &Tensor) -> Result<Tensor> {
        let gate_pre = saex_kernels::matmul(sae_in, w_enc)?.broadcast_add(&self.b_gate)?; // [n, m]
        let active = gate_pre.gt(0f64)?.to_dtype(DType::F32)?;
        let mag_pre = saex_kernels::matmul(sae_in, &self.w_mag)?.broadcast_add(&self.b_mag)?; // [n, m]
        active * mag_pre.relu()?
    }

    /// The same encoder restricted to the features `idx` (`[m]`, u32).
    pub fn select(&self, idx: &Tensor) -> Result<Self> {
        Ok(Gated {
            b_gate: self.b_gate.index_select(idx, 0)?,
            b_mag: self.b_mag.index_select(idx, 0)?,
            r_mag: self.r_mag.index_select(idx, 0)?,
            w_mag: self.w_mag.index_select(idx, 1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn gate_selects_and_magnitude_scales() {
        // x = [2]; W_enc = [[1, 1]]; r_mag = [0, ln 3] → W_mag = [[1, 3]]
        // gate: 2 + b_gate = 2 + [-1, -3] = [1, -1] → active [1, 0]
        // mag: 2·[1, 3] + b_mag [0.5, 0.5] = [2.5, 6.5] → relu → [2.5, 6.5]; product [2.5, 0]
        let d = Device::Cpu;
        let w = Tensor::new(&[[1f32, 1.0]], &d).unwrap();
        let r_mag = Tensor::new(&[0f32, 3f32.ln()], &d).unwrap();
        let g = Gated::new(&w, Tensor::new(&[-1f32, -3.0], &d).unwrap(), Tensor::new(&[0.5f32, 0.5], &d).unwrap(), &r_mag).unwrap();
        let x = Tensor::new(&[[2f32]], &d).unwrap();
        let out = g.encode(&x, &w).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(out[0][0], 2.5);
        assert_eq!(out[0][1], 0.0);
    }
}
