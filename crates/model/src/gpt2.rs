//! GPT-2. Mirrors HF `modeling_gpt2.py`; hooks as TransformerLens with
//! `from_pretrained_no_processing` (no layer-norm folding, no weight centring).

use candle_core::Tensor;
use saex_hooks::{Capture, Hook};

use crate::config::HfConfig;
use crate::error::{Error, Result};
use crate::ops::{self, attention, attention_mask, split_heads, Embedding, KvCache, LayerNorm, Linear};
use crate::weights::Weights;
use crate::{check_stop, Dims, LoadOptions, Stop};

/// Hyper-parameters (HF `config.json` keys).
#[derive(Debug, Clone)]
pub struct Config {
    /// `n_embd`
    pub n_embd: usize,
    /// `n_layer`
    pub n_layer: usize,
    /// `n_head`
    pub n_head: usize,
    /// `n_inner` (null: 4 × n_embd)
    pub n_inner: usize,
    /// `n_positions`
    pub n_positions: usize,
    /// `vocab_size`
    pub vocab_size: usize,
    /// `layer_norm_epsilon`
    pub layer_norm_epsilon: f64,
}

impl Config {
    /// From `config.json`.
    pub fn from_hf(c: &HfConfig) -> Result<Config> {
        let n_embd = c.usize("n_embd")?;
        let act = c.str_opt("activation_function").unwrap_or("gelu_new");
        if !matches!(act, "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast") {
            return Err(Error::Config {
                path: c.path.clone(),
                key: "activation_function".into(),
                msg: format!("`{act}` is not supported (supported: gelu_new)"),
            });
        }
        for flag in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] {
            if c.bool_opt(flag) == Some(true) {
                return Err(Error::Config { path: c.path.clone(), key: flag.into(), msg: "true is not supported".into() });
            }
        }
        Ok(Config {
            n_embd,
            n_layer: c.layers("n_layer")?,
            n_head: c.usize("n_head")?,
            n_inner: c.usize_opt("n_inner")?.unwrap_or(4 * n_embd),
            n_positions: c.usize("n_positions")?,
            vocab_size: c.usize("vocab_size")?,
            layer_norm_epsilon: c.f64("layer_norm_epsilon")?,
        })
    }

    /// Shapes for hook validation.
    pub fn dims(&self) -> Dims {
        Dims {
            n_layers: self.n_layer,
            d_model: self.n_embd,
            n_heads: self.n_head,
            d_head: self.n_embd / self.n_head,
            n_kv_heads: self.n_head,
            gated_mlp: false,
            d_mlp: self.n_inner,
            d_vocab: self.vocab_size,
            n_ctx: self.n_positions,
            has_pos_embed: true,
        }
    }
}

/// GPT-2's Conv1D stores `[in, out]`.
fn conv1d(w: &Weights, prefix: &str, d_in: usize, d_out: usize) -> Result<Linear> {
    let weight = w.get(&format!("{prefix}.weight"), &[d_in, d_out])?;
    let bias = w.get(&format!("{prefix}.bias"), &[d_out])?;
    Ok(Linear::from_in_out(weight, Some(bias)))
}

struct Attention {
    layer: usize,
    c_attn: Linear,
    c_proj: Linear,
    n_head: usize,
    d_head: usize,
}

impl Attention {
    fn forward(&self, x: &Tensor, mask: &Tensor, cache: Option<&mut KvCache>, cap: &mut Capture) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let qkv = self.c_attn.forward(x)?; // [batch, pos, 3*d_model]
        let q = split_heads(&qkv.narrow(2, 0, d)?, self.n_head, self.d_head)?; // [batch, head, pos, d_head]
        let k = split_heads(&qkv.narrow(2, d, d)?, self.n_head, self.d_head)?;
        let v = split_heads(&qkv.narrow(2, 2 * d, d)?, self.n_head, self.d_head)?;
        let (k, v) = match cache {
            Some(c) => c.append(self.layer, k, v)?,
            None => (k, v),
        };
        let z = attention(&q, &k, &v, mask, (self.d_head as f64).powf(-0.5), None)?; // [batch, pos, head, d_head]
        let z = cap.hook(Hook::AttnZ(self.layer), z)?;
        self.c_proj.forward(&z.reshape((b, t, d))?)
    }
}

struct Mlp {
    layer: usize,
    c_fc: Linear,
    c_proj: Linear,
}

impl Mlp {
    fn forward(&self, x: &Tensor, cap: &mut Capture) -> Result<Tensor> {
        let post = saex_kernels::gelu_tanh(&self.c_fc.forward(x)?)?; // gelu_new; [batch, pos, d_mlp]
        let post = cap.hook(Hook::MlpPost(self.layer), post)?;
        self.c_proj.forward(&post)
    }
}

struct Block {
    layer: usize,
    ln_1: LayerNorm,
    attn: Attention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn load(cfg: &Config, w: &Weights, prefix: &str, l: usize) -> Result<Block> {
        let p = format!("{prefix}h.{l}");
        let d = cfg.n_embd;
        let eps = cfg.layer_norm_epsilon;
        Ok(Block {
            layer: l,
            ln_1: LayerNorm::load(w, &format!("{p}.ln_1"), d, eps)?,
            attn: Attention {
                layer: l,
                c_attn: conv1d(w, &format!("{p}.attn.c_attn"), d, 3 * d)?,
                c_proj: conv1d(w, &format!("{p}.attn.c_proj"), d, d)?,
                n_head: cfg.n_head,
                d_head: d / cfg.n_head,
            },
            ln_2: LayerNorm::load(w, &format!("{p}.ln_2"), d, eps)?,
            mlp: Mlp {
                layer: l,
                c_fc: conv1d(w, &format!("{p}.mlp.c_fc"), d, cfg.n_inner)?,
                c_proj: conv1d(w, &format!("{p}.mlp.c_proj"), cfg.n_inner, d)?,
            },
        })
    }

    /// `[batch, pos, d_model]` → `[batch, pos, d_model]`
    fn forward(&self, resid_pre: &Tensor, mask: &Tensor, cache: Option<&mut KvCache>, cap: &mut Capture) -> Result<Tensor> {
        let l = self.layer;
        let resid_pre = &cap.hook(Hook::ResidPre(l), resid_pre.clone())?;
        let attn_out = self.attn.forward(&self.ln_1.forward(resid_pre)?, mask, cache, cap)?;
        let attn_out = cap.hook(Hook::AttnOut(l), attn_out)?;
        let resid_mid = (resid_pre + attn_out)?;
        let resid_mid = cap.hook(Hook::ResidMid(l), resid_mid)?;
        let mlp_out = self.mlp.forward(&self.ln_2.forward(&resid_mid)?, cap)?;
        let mlp_out = cap.hook(Hook::MlpOut(l), mlp_out)?;
        let resid_post = (resid_mid + mlp_out)?;
        let resid_post = cap.hook(Hook::ResidPost(l), resid_post)?;
        Ok(resid_post)
    }
}

/// A GPT-2 model.
pub struct Model {
    cfg: Config,
    wte: Embedding,     // [vocab, d_model]
    wpe: Tensor,        // [n_ctx, d_model]
    blocks: Vec<Block>, // possibly fewer than n_layer: see LoadOptions
    ln_f: LayerNorm,
    head: Option<Linear>, // the tied unembedding; None: not loaded
}

impl Model {
    /// See [`crate::Model::unembedding`] (GPT-2 ties it to `wte`).
    pub fn unembedding(&self) -> Result<crate::Unembedding> {
        let (w, b) = self.ln_f.affine();
        Ok(crate::Unembedding { w_u: self.wte.dense()?, norm_weight: w.clone(), norm_bias: Some(b.clone()) })
    }

    /// Load the weights. `GPT2LMHeadModel` checkpoints prefix names with `transformer.`;
    /// `GPT2Model` ones (the original release) do not.
    pub fn load(cfg: Config, w: &Weights, opts: LoadOptions) -> Result<Model> {
        let prefix = if w.contains("transformer.wte.weight") { "transformer." } else { "" };
        let d = cfg.n_embd;
        let wte = w.embedding(&format!("{prefix}wte.weight"), &[cfg.vocab_size, d])?;
        let wpe = w.get(&format!("{prefix}wpe.weight"), &[cfg.n_positions, d])?;
        let blocks = (0..opts.blocks_of(cfg.n_layer)).map(|l| Block::load(&cfg, w, prefix, l)).collect::<Result<Vec<_>>>()?;
        let ln_f = LayerNorm::load(w, &format!("{prefix}ln_f"), d, cfg.layer_norm_epsilon)?;
        let head = ops::load_head(w, opts, &wte, "lm_head.weight", [cfg.vocab_size, d], true)?;
        Ok(Model { cfg, wte, wpe, blocks, ln_f, head })
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Run `ids` `[batch, pos]` (positions `start..`), recording into `cap`; logits
    /// `[batch, pos, vocab]` when `stop.logits`.
    pub fn forward(
        &self,
        ids: &Tensor,
        start: usize,
        cache: Option<&mut KvCache>,
        cap: &mut Capture,
        stop: Stop,
    ) -> Result<Option<Tensor>> {
        self.forward_logits(ids, start, cache, cap, stop, false)
    }

    /// [`Model::forward`]; `last_only`: logits of the last position only (`[batch, 1, vocab]`).
    pub(crate) fn forward_logits(
        &self,
        ids: &Tensor,
        start: usize,
        mut cache: Option<&mut KvCache>,
        cap: &mut Capture,
        stop: Stop,
        last_only: bool,
    ) -> Result<Option<Tensor>> {
        check_stop(stop, self.blocks.len(), self.head.is_some())?;
        let (b, t) = ids.dims2()?;
        let embed = self.wte.lookup(ids)?; // [batch, pos, d_model]
        let embed = cap.hook(Hook::Embed, embed)?;
        let pos_embed = self.wpe.narrow(0, start, t)?.unsqueeze(0)?.broadcast_as((b, t, self.cfg.n_embd))?.contiguous()?;
        let pos_embed = cap.hook(Hook::PosEmbed, pos_embed)?;
        let mask = attention_mask(start, t, None)?;
        let mut x = (embed + pos_embed)?;
        for block in self.blocks.iter().take(stop.blocks) {
            x = block.forward(&x, &mask, cache.as_deref_mut(), cap)?;
        }
        if stop.blocks < self.cfg.n_layer {
            // The input of the first block not run is `blocks.{stop}.hook_resid_pre`.
            cap.record(Hook::ResidPre(stop.blocks), &x);
            return Ok(None);
        }
        cap.record_with(Hook::LnFinalNormalized, || self.ln_f.normalized(&x))?;
        if !stop.logits {
            return Ok(None);
        }
        let head = self.head.as_ref().ok_or_else(|| Error::Invalid("no unembedding loaded".into()))?;
        Ok(Some(ops::unembed(head, &self.ln_f.forward(&x)?, last_only)?))
    }
}
