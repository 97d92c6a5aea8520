//! Building blocks shared by the architecture files: dense linear layers, norms, rotary
//! embeddings, causal (optionally sliding-window) attention and the KV cache.
//!
//! Activations are f32 on the CPU; matrices are f32 or kept in their stored type. Shapes follow TransformerLens naming in comments:
//! `[batch, pos, d_model]`, `[batch, head, pos, d_head]`.

use candle_core::{DType, Device, Tensor, D};
use saex_kernels::quant::QMatrix;

use crate::error::Result;
use crate::weights::{Mat, Weights};

/// `y = x Wᵀ + b` with `W` stored `[out, in]` as in PyTorch.
///
/// The weight is either dense f32 or kept in its stored type (quantized GGUF blocks,
/// F16/BF16) and read by `saex_kernels::quant`: one forward per architecture serves both.
pub struct Linear {
    weight: LinearWeight,
    bias: Option<Tensor>,
}

enum LinearWeight {
    /// `[in, out]`: contiguous, or a transposed view of a shared `[out, in]` table.
    Dense(Tensor),
    /// `[out, in]` in its stored blocks.
    Stored(QMatrix),
}

impl Linear {
    /// Load `{prefix}.weight` `[out, in]` and, if `bias`, `{prefix}.bias`.
    pub fn load(w: &Weights, prefix: &str, d_in: usize, d_out: usize, bias: bool) -> Result<Linear> {
        let weight = w.matrix(&format!("{prefix}.weight"), [d_out, d_in])?;
        let bias = if bias { Some(w.get(&format!("{prefix}.bias"), &[d_out])?) } else { None };
        Linear::from_mat(weight, bias)
    }

    /// From an `[out, in]` weight.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        Ok(Linear { weight: LinearWeight::Dense(weight.t()?.contiguous()?), bias })
    }

    /// From a matrix as [`Weights::matrix`] gives it.
    pub fn from_mat(weight: Mat, bias: Option<Tensor>) -> Result<Linear> {
        match weight {
            Mat::Dense(t) => Linear::new(t, bias),
            Mat::Stored(q) => Ok(Linear { weight: LinearWeight::Stored(q), bias }),
        }
    }

    /// From an `[in, out]` weight (GPT-2's Conv1D layout).
    pub fn from_in_out(weight_t: Tensor, bias: Option<Tensor>) -> Linear {
        Linear { weight: LinearWeight::Dense(weight_t), bias }
    }

    /// The weight as dense f32 `[out, in]` (a dequantized copy when stored quantized).
    pub fn dense_weight(&self) -> Result<Tensor> {
        Ok(match &self.weight {
            LinearWeight::Dense(w_t) => w_t.t()?.contiguous()?,
            LinearWeight::Stored(q) => q.dequantize()?,
        })
    }

    /// Output width.
    pub fn d_out(&self) -> usize {
        match &self.weight {
            LinearWeight::Dense(t) => t.dims()[1],
            LinearWeight::Stored(q) => q.dims().0,
        }
    }

    /// `[..., in]` → `[..., out]`
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let d_in = dims[dims.len() - 1];
        let rows = x.elem_count() / d_in;
        let x2 = x.reshape((rows, d_in))?;
        let y = match &self.weight {
            LinearWeight::Dense(w) => saex_kernels::matmul(&x2, w)?,
            LinearWeight::Stored(q) => q.matmul_t(&x2)?,
        };
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let mut out = dims;
        let last = out.len() - 1;
        out[last] = self.d_out();
        Ok(y.reshape(out)?)
    }
}

/// RMSNorm `x / sqrt(mean(x²) + eps) * scale`. Gemma stores `w` and multiplies by `1 + w`;
/// the loader folds that into `scale` so one kernel serves both conventions.
pub struct RmsNorm {
    scale: Tensor,
    eps: f32,
}

impl RmsNorm {
    /// Load `{prefix}.weight`. `plus_one`: the checkpoint stores `w` of a `(1 + w)` norm
    /// (Gemma in HF format; Gemma GGUFs already store `1 + w`).
    pub fn load(w: &Weights, prefix: &str, dim: usize, eps: f64, plus_one: bool) -> Result<RmsNorm> {
        let weight = w.get(&format!("{prefix}.weight"), &[dim])?;
        let scale = if plus_one { (weight + 1.0)? } else { weight };
        Ok(RmsNorm { scale, eps: eps as f32 })
    }

    /// Normalise over the last dim.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        Ok(candle_nn::ops::rms_norm(&x, &self.scale, self.eps)?)
    }

    /// The effective scale (Gemma's `1 + w` already added) `[dim]`.
    pub fn scale(&self) -> &Tensor {
        &self.scale
    }

    /// `x / sqrt(mean(x²) + eps)` without the scale (`ln_final.hook_normalized`).
    pub fn normalized(&self, x: &Tensor) -> Result<Tensor> {
        let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
        Ok(x.broadcast_div(&(ms + self.eps as f64)?.sqrt()?)?)
    }
}

/// LayerNorm with weight and bias (GPT-2).
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    /// Load `{prefix}.weight` and `{prefix}.bias`.
    pub fn load(w: &Weights, prefix: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: w.get(&format!("{prefix}.weight"), &[dim])?,
            bias: w.get(&format!("{prefix}.bias"), &[dim])?,
            eps: eps as f32,
        })
    }

    /// Normalise over the last dim.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        Ok(candle_nn::ops::layer_norm(&x, &self.weight, &self.bias, self.eps)?)
    }

    /// Weight and bias `[dim]`.
    pub fn affine(&self) -> (&Tensor, &Tensor) {
        (&self.weight, &self.bias)
    }

    /// `(x - mean) / sqrt(var + eps)` without weight and bias (`ln_final.hook_normalized`).
    pub fn normalized(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
        Ok(xc.broadcast_div(&(var + self.eps as f64)?.sqrt()?)?)
    }
}

/// Rotary position embedding in the Hugging Face "rotate half" layout.
pub struct Rotary {
    inv_freq: Vec<f32>,
}

impl Rotary {
    /// `inv_freq[i] = 1 / base^(2i/dim)`, in f32 as transformers computes it, so cos/sin
    /// round the same way.
    pub fn new(base: f64, dim: usize) -> Rotary {
        let inv_freq = (0..dim / 2).map(|i| 1.0 / (base as f32).powf((2 * i) as f32 / dim as f32)).collect();
        Rotary { inv_freq }
    }

    /// Linear position interpolation: every frequency divided by `factor`.
    pub fn scaled(mut self, factor: f64) -> Rotary {
        for f in &mut self.inv_freq {
            *f /= factor as f32;
        }
        self
    }

    /// Llama 3 frequency scaling (`rope_type: "llama3"`), as transformers'
    /// `_compute_llama3_parameters`.
    pub fn llama3_scaled(mut self, factor: f64, low: f64, high: f64, original_max: f64) -> Rotary {
        let low_wavelen = original_max / low;
        let high_wavelen = original_max / high;
        for f in &mut self.inv_freq {
            let freq = *f as f64;
            let wavelen = 2.0 * std::f64::consts::PI / freq;
            let scaled = if wavelen > low_wavelen { freq / factor } else { freq };
            let smooth = (original_max / wavelen - low) / (high - low);
            let is_medium = wavelen >= high_wavelen && wavelen <= low_wavelen;
            let out = if is_medium { (1.0 - smooth) * scaled / factor + smooth * scaled } else { scaled };
            *f = out as f32;
        }
        self
    }

    /// cos and sin `[pos, dim/2]` for positions `start..start+len`.
    pub fn cos_sin(&self, start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        let half = self.inv_freq.len();
        let mut freqs = Vec::with_capacity(len * half);
        for p in start..start + len {
            for f in &self.inv_freq {
                freqs.push(p as f32 * f);
            }
        }
        let freqs = Tensor::from_vec(freqs, (len, half), &Device::Cpu)?;
        Ok((freqs.cos()?, freqs.sin()?))
    }

    /// Rotate `[batch, head, pos, d_head]`.
    pub fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::rotary_emb::rope(&x.contiguous()?, cos, sin)?)
    }
}

/// Keys and values of the positions seen so far, per layer, for incremental decoding.
#[derive(Default, Clone)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> KvCache {
        KvCache::default()
    }

    /// Number of positions cached (0 when empty).
    pub fn len(&self) -> usize {
        self.layers.iter().flatten().next().and_then(|(k, _)| k.dim(2).ok()).unwrap_or(0)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append this step's `k`, `v` `[batch, kv_head, pos, d_head]` for `layer`; returns the
    /// full keys and values.
    pub fn append(&mut self, layer: usize, k: Tensor, v: Tensor) -> Result<(Tensor, Tensor)> {
        if self.layers.len() <= layer {
            self.layers.resize(layer + 1, None);
        }
        let kv = match self.layers[layer].take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
            None => (k, v),
        };
        self.layers[layer] = Some(kv.clone());
        Ok(kv)
    }
}

/// Additive attention mask `[q_len, k_len]` for queries at positions `start..start+q_len`
/// over keys `0..start+q_len`: causal, and when `window` is set a key must also be within
/// `window` positions (`q - k < window`, transformers' sliding-window rule).
pub fn attention_mask(start: usize, q_len: usize, window: Option<usize>) -> Result<Tensor> {
    let k_len = start + q_len;
    let mut m = vec![0f32; q_len * k_len];
    for i in 0..q_len {
        let q = start + i;
        for k in 0..k_len {
            let visible = k <= q && window.is_none_or(|w| q - k < w);
            if !visible {
                m[i * k_len + k] = f32::NEG_INFINITY;
            }
        }
    }
    Ok(Tensor::from_vec(m, (q_len, k_len), &Device::Cpu)?)
}

/// Scaled dot-product attention with grouped-query heads.
///
/// `q` `[batch, head, q_pos, d_head]`, `k`/`v` `[batch, kv_head, k_pos, d_head]` →
/// `z` `[batch, q_pos, head, d_head]` (TransformerLens `hook_z` layout).
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, scale: f64, softcap: Option<f64>) -> Result<Tensor> {
    let (b, n_head, q_len, d_head) = q.dims4()?;
    let n_kv = k.dim(1)?;
    let k_len = k.dim(2)?;
    let group = n_head / n_kv;
    // Fold the query heads that share a kv head into the row dim, so one matmul per kv head
    // serves the whole group without copying k and v `group` times.
    let q = q.reshape((b, n_kv, group * q_len, d_head))?; // [batch, kv_head, group*q_pos, d_head]
    let kt = k.transpose(2, 3)?.contiguous()?;
    let mut scores = (q.matmul(&kt)? * scale)?; // [batch, kv_head, group*q_pos, k_pos]
    if let Some(cap) = softcap {
        scores = ((scores / cap)?.tanh()? * cap)?;
    }
    let scores = scores.reshape((b, n_kv, group, q_len, k_len))?.broadcast_add(mask)?;
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    let probs = probs.reshape((b, n_kv, group * q_len, k_len))?;
    let z = probs.matmul(&v.contiguous()?)?; // [batch, kv_head, group*q_pos, d_head]
    let z = z.reshape((b, n_head, q_len, d_head))?.transpose(1, 2)?.contiguous()?;
    Ok(z)
}

/// `[batch, pos, head*d_head]` → `[batch, head, pos, d_head]`
pub fn split_heads(x: &Tensor, n_head: usize, d_head: usize) -> Result<Tensor> {
    let (b, pos, _) = x.dims3()?;
    Ok(x.reshape((b, pos, n_head, d_head))?.transpose(1, 2)?.contiguous()?)
}

/// A token-embedding table `[vocab, d_model]`.
///
/// A quantized GGUF (or F16/BF16) table stays as stored: lookups dequantize only the rows
/// they need. Gemma 3 270M's table is 671 MB in f32 against 178 MB in Q8_0, which is most of
/// the memory of a capture that stops at block 6; tied to the unembedding
/// ([`Embedding::unembedding`]) it is also the largest read of every generated token, which
/// the quantized kernels read in its stored 178 MB.
pub enum Embedding {
    /// f32 rows.
    Dense(Tensor),
    /// Stored rows.
    Stored(QMatrix),
}

impl Embedding {
    /// `ids` `[batch, pos]` (u32) → `[batch, pos, d]`.
    pub fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, pos) = ids.dims2()?;
        Ok(match self {
            Embedding::Dense(t) => t.index_select(&ids.flatten_all()?, 0)?.reshape((b, pos, t.dim(1)?))?,
            Embedding::Stored(q) => {
                let ids = ids.flatten_all()?.to_vec1::<u32>()?;
                Tensor::from_vec(q.gather_rows(&ids), (b, pos, q.dims().1), &Device::Cpu)?
            }
        })
    }

    /// The whole table as f32 `[vocab, d]` (a dequantized copy when stored quantized).
    pub fn dense(&self) -> Result<Tensor> {
        Ok(match self {
            Embedding::Dense(t) => t.clone(),
            Embedding::Stored(q) => q.dequantize()?,
        })
    }

    /// The tied unembedding `x Eᵀ`: the same stored table, or (`dtype` f32) a dense copy.
    pub fn unembedding(&self, dtype: crate::Dtype) -> Result<Linear> {
        Ok(match (self, dtype) {
            (Embedding::Stored(q), crate::Dtype::Stored) => Linear { weight: LinearWeight::Stored(q.clone()), bias: None },
            (Embedding::Stored(q), crate::Dtype::F32) => Linear::from_in_out(q.dequantize()?.t()?, None),
            (Embedding::Dense(t), _) => Linear::from_in_out(t.t()?, None),
        })
    }
}

/// The unembedding a model needs for `opts`: its own `lm_head` (`[vocab, d]`) when it has
/// one and logits are wanted, else the tied embedding table. A stored (quantized) table
/// serves as its own unembedding at no cost, so it is kept even when `opts` asks for no
/// logits; a dense f32 copy is made only when logits are wanted.
pub fn load_head(
    w: &Weights,
    opts: crate::LoadOptions,
    embed: &Embedding,
    name: &str,
    shape: [usize; 2],
    tied: bool,
) -> Result<Option<Linear>> {
    if !tied {
        return if opts.logits {
            Ok(Some(Linear::load(w, name.trim_end_matches(".weight"), shape[1], shape[0], false)?))
        } else {
            Ok(None)
        };
    }
    let free = !matches!((embed, w.dtype()), (Embedding::Stored(_), crate::Dtype::F32));
    if opts.logits || free {
        Ok(Some(embed.unembedding(w.dtype())?))
    } else {
        Ok(None)
    }
}

/// Logits `[batch, pos, vocab]` from the final normalized residual, or only the last
/// position's (`[batch, 1, vocab]`) when `last_only`: decoding needs just that row, and the
/// unembedding is the largest product of the model (262k outputs on Gemma 3).
pub fn unembed(head: &Linear, x: &Tensor, last_only: bool) -> Result<Tensor> {
    let t = x.dim(1)?;
    if last_only && t > 1 {
        return head.forward(&x.narrow(1, t - 1, 1)?.contiguous()?);
    }
    head.forward(x)
}

/// Final-logit soft-capping `tanh(x / cap) * cap` (Gemma 2).
pub fn softcap(x: &Tensor, cap: Option<f64>) -> Result<Tensor> {
    Ok(match cap {
        Some(c) => ((x / c)?.tanh()? * c)?,
        None => x.clone(),
    })
}

/// Converts u32 token ids `[batch][pos]` (equal lengths) to a tensor.
pub fn ids_tensor(ids: &[Vec<u32>]) -> Result<Tensor> {
    let pos = ids.first().map_or(0, Vec::len);
    let flat: Vec<u32> = ids.iter().flatten().copied().collect();
    Ok(Tensor::from_vec(flat, (ids.len(), pos), &Device::Cpu)?.to_dtype(DType::U32)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_mask_hides_far_and_future_keys() {
        // q at positions 2 and 3 of 4, window 2: q2 sees k1,k2; q3 sees k2,k3.
        let m = attention_mask(2, 2, Some(2)).unwrap().to_vec2::<f32>().unwrap();
        let visible: Vec<Vec<bool>> = m.iter().map(|r| r.iter().map(|v| *v == 0.0).collect()).collect();
        assert_eq!(visible, vec![vec![false, true, true, false], vec![false, false, true, true]]);
    }

    #[test]
    fn grouped_attention_matches_repeated_heads() {
        // 4 query heads over 2 kv heads must equal attention with kv repeated per head.
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1., (1, 4, 3, 8), &dev).unwrap();
        let k = Tensor::randn(0f32, 1., (1, 2, 3, 8), &dev).unwrap();
        let v = Tensor::randn(0f32, 1., (1, 2, 3, 8), &dev).unwrap();
        let mask = attention_mask(0, 3, None).unwrap();
        let z = attention(&q, &k, &v, &mask, 0.5, None).unwrap();
        for h in 0..4 {
            let kv = h / 2;
            let qh = q.narrow(1, h, 1).unwrap();
            let kh = k.narrow(1, kv, 1).unwrap();
            let vh = v.narrow(1, kv, 1).unwrap();
            let zh = attention(&qh, &kh, &vh, &mask, 0.5, None).unwrap();
            let got = z.narrow(2, h, 1).unwrap();
            let diff = (got - zh).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(diff < 1e-6, "head {h}: {diff}");
        }
    }
}
