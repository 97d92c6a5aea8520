//! `Sae`: canonical SAELens weights and the SAELens 6.x inference path
//! (`SAE.process_sae_in`, each class's `encode`, `decode` with `run_time_activation_norm_fn_out`).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use saex_hooks::Hook;

use crate::config::{Architecture, Normalization, SaeConfig};
use crate::error::{Error, Result};
use crate::formats::{Format, Parts};
use crate::gated::Gated;
use crate::jumprelu::{self, JumpRelu};
use crate::sparse::SparseActs;
use crate::standard::Standard;
use crate::topk::TopK;

/// The per-architecture part of the encoder.
#[derive(Debug, Clone)]
enum Encoder {
    Standard(Standard),
    Gated(Gated),
    JumpRelu(JumpRelu),
    TopK(TopK),
}

/// A loaded sparse autoencoder, run exactly as SAELens 6.x runs it at inference, in f32.
#[derive(Debug, Clone)]
pub struct Sae {
    cfg: SaeConfig,
    w_enc: Tensor, // [d_in, d_sae]
    w_dec: Tensor, // [d_sae, d_in]
    b_dec: Tensor, // [d_in]
    encoder: Encoder,
    log_sparsity: Option<Tensor>,
    format: Format,
    source: PathBuf,
}

/// Per-token statistics of the input normalization, needed to undo it on decode.
enum InputNorm {
    Identity,
    /// `constant_norm_rescale`: `sqrt(d_in) / ‖x‖`, `[n, 1]`.
    Scale(Tensor),
    /// `layer_norm`: mean and unbiased std, `[n, 1]` each.
    Ln {
        mu: Tensor,
        std: Tensor,
    },
}

impl Sae {
    /// Validates and assembles what a format loader produced.
    pub(crate) fn from_parts(parts: Parts) -> Result<Self> {
        let Parts { cfg, mut tensors, log_sparsity, format, dir, fold } = parts;
        tensors.validate(&cfg)?;
        let log_sparsity = match log_sparsity {
            Some(e) if e.tensor.dims() != [cfg.d_sae] => {
                return Err(Error::BadShape { path: e.file, tensor: e.name, expected: vec![cfg.d_sae], got: e.tensor.dims().to_vec() })
            }
            e => e.map(|e| e.tensor),
        };
        let mut w_enc = tensors.take("W_enc")?;
        let mut w_dec = tensors.take("W_dec")?;
        let b_dec = tensors.take("b_dec")?;
        let encoder = match cfg.architecture {
            Architecture::Standard => Encoder::Standard(Standard { b_enc: tensors.take("b_enc")? }),
            Architecture::JumpRelu => Encoder::JumpRelu(JumpRelu { b_enc: tensors.take("b_enc")?, threshold: tensors.take("threshold")? }),
            Architecture::Gated => {
                Encoder::Gated(Gated::new(&w_enc, tensors.take("b_gate")?, tensors.take("b_mag")?, &tensors.take("r_mag")?)?)
            }
            Architecture::TopK => {
                let k = cfg.k.unwrap_or(100);
                let rescale = cfg.rescale_acts_by_decoder_norm;
                Encoder::TopK(TopK::new(tensors.take("b_enc")?, k, &w_dec, rescale)?)
            }
            Architecture::BatchTopK | Architecture::MatryoshkaBatchTopK => {
                let c = jumprelu::from_batchtopk(
                    &w_enc,
                    &tensors.take("b_enc")?,
                    &w_dec,
                    &tensors.take("topk_threshold")?,
                    cfg.rescale_acts_by_decoder_norm,
                )?;
                (w_enc, w_dec) = (c.w_enc, c.w_dec);
                Encoder::JumpRelu(JumpRelu { b_enc: c.b_enc, threshold: c.threshold })
            }
        };
        let sae = Sae { cfg, w_enc, w_dec, b_dec, encoder, log_sparsity, format, source: dir };
        match fold {
            Some(f) if sae.cfg.normalize_activations == Normalization::ExpectedAverageOnlyIn => sae.fold_activation_norm_scaling_factor(f),
            _ => Ok(sae),
        }
    }

    /// The config (SAELens 6.x fields).
    pub fn config(&self) -> &SaeConfig {
        &self.cfg
    }

    /// Input width.
    pub fn d_in(&self) -> usize {
        self.cfg.d_in
    }

    /// Number of features.
    pub fn d_sae(&self) -> usize {
        self.cfg.d_sae
    }

    /// The hook the SAE reads, when known (`metadata.hook_name`).
    pub fn hook(&self) -> Option<Hook> {
        self.cfg.metadata.hook_name
    }

    /// Sets the hook, for SAEs whose files do not say it (a bare Gemma Scope `params.npz`).
    pub fn with_hook(mut self, hook: Hook) -> Self {
        self.cfg.metadata.hook_name = Some(hook);
        self
    }

    /// The model the SAE was trained on (`metadata.model_name`), when known.
    pub fn model_name(&self) -> Option<&str> {
        self.cfg.metadata.model_name.as_deref()
    }

    /// The on-disk format it was loaded from.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The directory it was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// log10 feature firing frequency from `sparsity.safetensors`, `[d_sae]`, if present.
    pub fn log_sparsity(&self) -> Option<&Tensor> {
        self.log_sparsity.as_ref()
    }

    /// Errors unless activations of width `d` (the hook's width) fit this SAE.
    pub fn check_input_width(&self, d: usize) -> Result<()> {
        if d == self.cfg.d_in {
            return Ok(());
        }
        let (what, at) = match self.hook() {
            Some(h) => ("hook", format!(" at {h}")),
            None => ("input", String::new()),
        };
        Err(Error::WidthMismatch { d_in: self.cfg.d_in, width: d, what, at })
    }

    /// `W_enc [d_in, d_sae]` (after any folding done at load).
    pub fn w_enc(&self) -> &Tensor {
        &self.w_enc
    }

    /// `W_dec [d_sae, d_in]`.
    pub fn w_dec(&self) -> &Tensor {
        &self.w_dec
    }

    /// `b_dec [d_in]`.
    pub fn b_dec(&self) -> &Tensor {
        &self.b_dec
    }

    /// The tensors under their SAELens names, as SAELens `state_dict()` lists them (a
    /// `batchtopk` SAE shows its JumpReLU form: `threshold`, norms folded).
    pub fn state_dict(&self) -> Vec<(&'static str, &Tensor)> {
        let mut out = vec![("W_enc", &self.w_enc), ("W_dec", &self.w_dec), ("b_dec", &self.b_dec)];
        match &self.encoder {
            Encoder::Standard(s) => out.push(("b_enc", &s.b_enc)),
            Encoder::JumpRelu(j) => out.extend([("b_enc", &j.b_enc), ("threshold", &j.threshold)]),
            Encoder::TopK(t) => out.push(("b_enc", &t.b_enc)),
            Encoder::Gated(g) => out.extend([("b_gate", &g.b_gate), ("b_mag", &g.b_mag), ("r_mag", &g.r_mag)]),
        }
        out
    }

    /// One tensor of [`Sae::state_dict`] by its SAELens name (`"threshold"`, `"b_gate"`, ...).
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.state_dict().into_iter().find(|(n, _)| *n == name).map(|(_, t)| t)
    }

    /// Folds input scaling as `SAE.fold_activation_norm_scaling_factor` does:
    /// `W_enc *= f; W_dec /= f; b_dec /= f` (thresholds and `b_enc` unchanged), and sets
    /// `normalize_activations` to `none`. Loading a release whose `normalize_activations` is
    /// `expected_average_only_in` and that has a `norm_scaling_factor` already did this.
    pub fn fold_activation_norm_scaling_factor(mut self, f: f64) -> Result<Self> {
        if !f.is_finite() || f == 0.0 {
            return Err(Error::BadInput(format!("norm_scaling_factor {f} must be finite and nonzero")));
        }
        self.w_enc = (&self.w_enc * f)?;
        self.w_dec = (&self.w_dec / f)?;
        self.b_dec = (&self.b_dec / f)?;
        self.cfg.normalize_activations = Normalization::None;
        // Parts derived from W_enc / W_dec.
        match &mut self.encoder {
            Encoder::Gated(g) => *g = Gated::new(&self.w_enc, g.b_gate.clone(), g.b_mag.clone(), &g.r_mag.clone())?,
            Encoder::TopK(t) => *t = TopK::new(t.b_enc.clone(), t.k, &self.w_dec, t.dec_norm.is_some())?,
            Encoder::Standard(_) | Encoder::JumpRelu(_) => {}
        }
        Ok(self)
    }

    /// `[..., d_in]` (or `[..., n_heads, d_head]`) → `(sae_in [n, d_in], norm stats)`:
    /// `process_sae_in`: to f32, hook_z flattening, normalization, `− b_dec` when
    /// `apply_b_dec_to_input`.
    fn process_sae_in(&self, x: &Tensor) -> Result<(Tensor, InputNorm)> {
        let d_in = self.cfg.d_in;
        let dims = x.dims();
        let r = dims.len();
        // Leading dims become tokens. [.., n_heads, d_head] is flattened as hook_z reshaping
        // does; a 2-D [n, d_in] input is accepted too (SAELens would mis-flatten it).
        let n: usize = if r >= 1 && dims[r - 1] == d_in {
            dims[..r - 1].iter().product()
        } else if r >= 2 && dims[r - 2] * dims[r - 1] == d_in {
            dims[..r - 2].iter().product()
        } else {
            return Err(Error::BadInput(format!("input of shape {dims:?} does not end in d_in {d_in} (or n_heads × d_head = {d_in})")));
        };
        let x = x.to_dtype(DType::F32)?.reshape((n, d_in))?;
        let (x, norm) = match self.cfg.normalize_activations {
            Normalization::None | Normalization::ExpectedAverageOnlyIn => (x, InputNorm::Identity),
            Normalization::ConstantNormRescale => {
                let norm = x.sqr()?.sum_keepdim(1)?.sqrt()?; // [n, 1]
                let coeff = ((norm.ones_like()? * (d_in as f64).sqrt())? / norm)?;
                (x.broadcast_mul(&coeff)?, InputNorm::Scale(coeff))
            }
            Normalization::LayerNorm => {
                let mu = x.mean_keepdim(1)?;
                let x = x.broadcast_sub(&mu)?;
                // torch.std: unbiased, around the (near-zero) mean of the centred x.
                let dev = x.broadcast_sub(&x.mean_keepdim(1)?)?;
                let std = (dev.sqr()?.sum_keepdim(1)? / (d_in as f64 - 1.0))?.sqrt()?;
                (x.broadcast_div(&(&std + 1e-5)?)?, InputNorm::Ln { mu, std })
            }
        };
        let x = if self.cfg.apply_b_dec_to_input { x.broadcast_sub(&self.b_dec)? } else { x };
        Ok((x, norm))
    }

    /// Feature activations, dense `[n, d_sae]`; leading dims of `x` are flattened into `n`.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let (sae_in, _) = self.process_sae_in(x)?;
        self.encode_processed(&sae_in)
    }

    fn encode_processed(&self, sae_in: &Tensor) -> Result<Tensor> {
        Ok(match &self.encoder {
            Encoder::Standard(s) => s.encode(sae_in, &self.w_enc)?,
            Encoder::JumpRelu(j) => j.encode(sae_in, &self.w_enc)?,
            Encoder::Gated(g) => g.encode(sae_in, &self.w_enc)?,
            Encoder::TopK(t) => t.encode_sparse(sae_in, &self.w_enc)?.to_dense()?,
        })
    }

    /// Feature activations as CSR rows of nonzeros, one row per token.
    pub fn encode_sparse(&self, x: &Tensor) -> Result<SparseActs> {
        let (sae_in, _) = self.process_sae_in(x)?;
        match &self.encoder {
            Encoder::TopK(t) => Ok(t.encode_sparse(&sae_in, &self.w_enc)?),
            _ => SparseActs::from_dense(&self.encode_processed(&sae_in)?),
        }
    }

    /// Activations of the given features only, `[n, features.len()]`, equal to those columns of
    /// [`Sae::encode`]. Only those encoder columns are computed, except for TopK, which must
    /// compute every pre-activation to know which k survive.
    pub fn encode_restricted(&self, x: &Tensor, features: &[u32]) -> Result<Tensor> {
        if let Some(&f) = features.iter().find(|&&f| f as usize >= self.cfg.d_sae) {
            return Err(Error::BadInput(format!("feature {f} ≥ d_sae {}", self.cfg.d_sae)));
        }
        let (sae_in, _) = self.process_sae_in(x)?;
        let idx = Tensor::from_slice(features, features.len(), &Device::Cpu)?;
        let w = || self.w_enc.index_select(&idx, 1); // [d_in, m]
        Ok(match &self.encoder {
            Encoder::Standard(s) => s.select(&idx)?.encode(&sae_in, &w()?)?,
            Encoder::JumpRelu(j) => j.select(&idx)?.encode(&sae_in, &w()?)?,
            Encoder::Gated(g) => g.select(&idx)?.encode(&sae_in, &w()?)?,
            Encoder::TopK(t) => {
                let sparse = t.encode_sparse(&sae_in, &self.w_enc)?;
                let mut out = Vec::with_capacity(sparse.n_tokens() * features.len());
                for (fs, vs) in sparse.tokens() {
                    out.extend(features.iter().map(|f| fs.binary_search(f).map_or(0.0, |p| vs[p])));
                }
                Tensor::from_vec(out, (sparse.n_tokens(), features.len()), &Device::Cpu)?
            }
        })
    }

    /// `acts @ W_dec + b_dec`, `[n, d_sae]` → `[n, d_in]` (TopK with
    /// `rescale_acts_by_decoder_norm` first divides by the decoder norms). For
    /// `constant_norm_rescale` and `layer_norm` SAEs, SAELens undoes the normalization with
    /// the statistics of the input that was encoded: use [`Sae::decode_for`] or
    /// [`Sae::forward`]; this returns [`Error::DecodeNeedsInput`] for them.
    pub fn decode(&self, acts: &Tensor) -> Result<Tensor> {
        match self.cfg.normalize_activations {
            Normalization::ConstantNormRescale | Normalization::LayerNorm => {
                Err(Error::DecodeNeedsInput { normalization: self.cfg.normalize_activations.as_str() })
            }
            _ => self.decode_with(acts, &InputNorm::Identity),
        }
    }

    /// Decodes `acts` (the encoding of `x`), undoing the normalization of `x` as SAELens's
    /// `run_time_activation_norm_fn_out` does. `[n, d_sae]` → `[n, d_in]`.
    pub fn decode_for(&self, acts: &Tensor, x: &Tensor) -> Result<Tensor> {
        let (_, norm) = self.process_sae_in(x)?;
        self.decode_with(acts, &norm)
    }

    fn decode_with(&self, acts: &Tensor, norm: &InputNorm) -> Result<Tensor> {
        let d_sae = self.cfg.d_sae;
        let dims = acts.dims();
        if dims.last() != Some(&d_sae) {
            return Err(Error::BadInput(format!("activations of shape {dims:?} do not end in d_sae {d_sae}")));
        }
        let acts = acts.to_dtype(DType::F32)?.reshape(((), d_sae))?;
        let acts = match &self.encoder {
            Encoder::TopK(t) => t.decode_scale(&acts)?,
            _ => acts,
        };
        let out = saex_kernels::matmul(&acts, &self.w_dec)?.broadcast_add(&self.b_dec)?; // [n, d_in]
        Ok(match norm {
            InputNorm::Identity => out,
            InputNorm::Scale(coeff) => out.broadcast_div(coeff)?,
            InputNorm::Ln { mu, std } => out.broadcast_mul(std)?.broadcast_add(mu)?,
        })
    }

    /// `decode(encode(x))`, shaped like `x` (hook_z inputs come back as `[.., n_heads, d_head]`).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (sae_in, norm) = self.process_sae_in(x)?;
        let acts = self.encode_processed(&sae_in)?;
        Ok(self.decode_with(&acts, &norm)?.reshape(x.dims())?)
    }
}
