//! `standard` SAE encoder. Mirrors SAELens `StandardSAE.encode` (`saes/standard_sae.py`).

use candle_core::{Result, Tensor};

/// `relu(x W_enc + b_enc)`.
#[derive(Debug, Clone)]
pub(crate) struct Standard {
    /// `[d_sae]`
    pub b_enc: Tensor,
}

impl Standard {
    /// `sae_in [n, d_in]`, `w_enc [d_in, m]` → `[n, m]`.
    pub fn encode(&self, sae_in: &Tensor, w_enc: &Tensor) -> Result<Tensor> {
        let hidden_pre = saex_kernels::matmul(sae_in, w_enc)?.broadcast_add(&self.b_enc)?; // [n, m]
        hidden_pre.relu()
    }

    /// The same encoder restricted to the features `idx` (`[m]`, u32).
    pub fn select(&self, idx: &Tensor) -> Result<Self> {
        Ok(Standard { b_enc: self.b_enc.index_select(idx, 0)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn relu_of_affine() {
        // x = [1, 2]; W_enc = [[1, -1], [0, 1]]; b_enc = [0.5, -3]
        // h = [1*1 + 2*0 + 0.5, 1*-1 + 2*1 - 3] = [1.5, -2] → relu → [1.5, 0]
        let d = Device::Cpu;
        let s = Standard { b_enc: Tensor::new(&[0.5f32, -3.0], &d).unwrap() };
        let x = Tensor::new(&[[1f32, 2.0]], &d).unwrap();
        let w = Tensor::new(&[[1f32, -1.0], [0.0, 1.0]], &d).unwrap();
        assert_eq!(s.encode(&x, &w).unwrap().to_vec2::<f32>().unwrap(), vec![vec![1.5, 0.0]]);
    }
}
