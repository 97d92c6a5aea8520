//! Gemma 2 and Gemma 3 text decoders. Mirrors HF `modeling_gemma2.py` / `modeling_gemma3.py`;
//! hook placement mirrors TransformerLens `TransformerBlock` (post-norms run before
//! `hook_attn_out` / `hook_mlp_out`; `hook_embed` is the sqrt(d_model)-scaled embedding).
//!
//! One file serves both because Gemma 3 is Gemma 2 plus optional parts, not a different
//! block: per-head q/k norms (absent in Gemma 2), logit soft-capping (absent in Gemma 3), and
//! a rotary base per layer type. Those are data (`Option`s, a per-layer `Rope`), so the
//! forward below reads the same for both.

use candle_core::Tensor;
use saex_hooks::{Capture, Hook};

use crate::config::{HfConfig, LayerKind, Rope};
use crate::error::{Error, Result};
use crate::ops::{self, attention, attention_mask, split_heads, Embedding, KvCache, Linear, RmsNorm, Rotary};
use crate::weights::{GgufFile, Weights};
use crate::{check_stop, Dims, LoadOptions, Stop};

/// Hyper-parameters (HF `config.json` keys).
#[derive(Debug, Clone)]
pub struct Config {
    /// `model_type`: `gemma2` or `gemma3`.
    pub model_type: String,
    /// `hidden_size`
    pub hidden_size: usize,
    /// `intermediate_size`
    pub intermediate_size: usize,
    /// `num_hidden_layers`
    pub num_hidden_layers: usize,
    /// `num_attention_heads`
    pub num_attention_heads: usize,
    /// `num_key_value_heads`
    pub num_key_value_heads: usize,
    /// `head_dim`
    pub head_dim: usize,
    /// `rms_norm_eps`
    pub rms_norm_eps: f64,
    /// `vocab_size`
    pub vocab_size: usize,
    /// `max_position_embeddings`
    pub max_position_embeddings: usize,
    /// `query_pre_attn_scalar`: attention scores are scaled by its inverse square root.
    pub query_pre_attn_scalar: f64,
    /// `sliding_window`
    pub sliding_window: usize,
    /// `attn_logit_softcapping` (Gemma 2)
    pub attn_logit_softcapping: Option<f64>,
    /// `final_logit_softcapping` (Gemma 2)
    pub final_logit_softcapping: Option<f64>,
    /// Attention kind per layer (`layer_types`).
    pub layer_types: Vec<LayerKind>,
    /// Rotary settings of full-attention layers.
    pub rope_full: Rope,
    /// Rotary settings of sliding-window layers.
    pub rope_sliding: Rope,
    /// Gemma 3 has per-head q/k RMSNorms.
    pub qk_norm: bool,
}

/// Default layer pattern when a config predates `layer_types`: Gemma 2 alternates
/// sliding/full starting with sliding; Gemma 3 has a full layer every 6th (5, 11, 17...).
fn default_layer_types(model_type: &str, n: usize) -> Vec<LayerKind> {
    let period = if model_type == "gemma2" { 2 } else { 6 };
    (0..n).map(|i| if (i + 1) % period == 0 { LayerKind::Full } else { LayerKind::Sliding }).collect()
}

impl Config {
    /// From `config.json`.
    pub fn from_hf(c: &HfConfig, model_type: &str) -> Result<Config> {
        let n = c.layers("num_hidden_layers")?;
        let layer_types = match c.layer_types(n)? {
            Some(list) => list.iter().map(|s| LayerKind::parse(s, &c.path)).collect::<Result<_>>()?,
            None => match c.usize_opt("sliding_window_pattern")? {
                Some(p) => (0..n).map(|i| if (i + 1) % p == 0 { LayerKind::Full } else { LayerKind::Sliding }).collect(),
                None => default_layer_types(model_type, n),
            },
        };
        let gemma3 = model_type == "gemma3";
        Ok(Config {
            model_type: model_type.to_string(),
            hidden_size: c.usize("hidden_size")?,
            intermediate_size: c.usize("intermediate_size")?,
            num_hidden_layers: n,
            num_attention_heads: c.usize("num_attention_heads")?,
            num_key_value_heads: c.usize("num_key_value_heads")?,
            head_dim: c.usize("head_dim")?,
            rms_norm_eps: c.f64("rms_norm_eps")?,
            vocab_size: c.usize("vocab_size")?,
            max_position_embeddings: c.usize("max_position_embeddings")?,
            query_pre_attn_scalar: c.f64("query_pre_attn_scalar")?,
            sliding_window: c.usize("sliding_window")?,
            attn_logit_softcapping: c.f64_opt("attn_logit_softcapping")?,
            final_logit_softcapping: c.f64_opt("final_logit_softcapping")?,
            layer_types,
            rope_full: c.rope(Some(LayerKind::Full.as_str()))?,
            // Gemma 2 uses one base for all layers.
            rope_sliding: c.rope(gemma3.then_some(LayerKind::Sliding.as_str()))?,
            qk_norm: gemma3,
        })
    }

    /// From GGUF metadata. The values llama.cpp does not store are those transformers and
    /// llama.cpp hard-code: Gemma 3 uses a local rotary base of 10000 and a full-attention
    /// layer every 6th; `query_pre_attn_scalar` is the head dim.
    pub fn from_gguf(g: &GgufFile, arch: &str) -> Result<Config> {
        let k = |s: &str| format!("{arch}.{s}");
        let n = crate::config::check_layers(&g.path, &k("block_count"), g.meta_usize(&k("block_count"))?)?;
        let n_heads = g.meta_usize(&k("attention.head_count"))?;
        let hidden = g.meta_usize(&k("embedding_length"))?;
        let head_dim = g.meta_usize(&k("attention.key_length")).unwrap_or(hidden / n_heads);
        let vocab = g.rows_of("token_embd.weight")?;
        let theta = g.meta_f64(&k("rope.freq_base")).unwrap_or(10_000.0);
        let softcap = |key: &str| g.meta_f64(&k(key)).ok();
        let gemma3 = arch == "gemma3";
        Ok(Config {
            model_type: arch.to_string(),
            hidden_size: hidden,
            intermediate_size: g.meta_usize(&k("feed_forward_length"))?,
            num_hidden_layers: n,
            num_attention_heads: n_heads,
            num_key_value_heads: g.meta_usize(&k("attention.head_count_kv")).unwrap_or(n_heads),
            head_dim,
            rms_norm_eps: g.meta_f64(&k("attention.layer_norm_rms_epsilon"))?,
            vocab_size: vocab,
            max_position_embeddings: g.meta_usize(&k("context_length"))?,
            query_pre_attn_scalar: head_dim as f64,
            sliding_window: g.meta_usize(&k("attention.sliding_window"))?,
            attn_logit_softcapping: if gemma3 { None } else { softcap("attn_logit_softcapping") },
            final_logit_softcapping: if gemma3 { None } else { softcap("final_logit_softcapping") },
            layer_types: default_layer_types(arch, n),
            rope_full: Rope::Default { theta },
            rope_sliding: Rope::Default { theta: if gemma3 { 10_000.0 } else { theta } },
            qk_norm: gemma3,
        })
    }

    /// Shapes for hook validation.
    pub fn dims(&self) -> Dims {
        Dims {
            n_layers: self.num_hidden_layers,
            d_model: self.hidden_size,
            n_heads: self.num_attention_heads,
            d_head: self.head_dim,
            n_kv_heads: self.num_key_value_heads,
            gated_mlp: true,
            d_mlp: self.intermediate_size,
            d_vocab: self.vocab_size,
            n_ctx: self.max_position_embeddings,
            has_pos_embed: false,
        }
    }
}

/// llama.cpp's names for Gemma tensors.
pub fn gguf_name(hf: &str) -> Option<String> {
    let fixed = match hf {
        "model.embed_tokens.weight" => Some("token_embd.weight"),
        "model.norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, name) = rest.split_once('.')?;
    let mapped = match name {
        "input_layernorm.weight" => "attn_norm.weight",
        "self_attn.q_proj.weight" => "attn_q.weight",
        "self_attn.k_proj.weight" => "attn_k.weight",
        "self_attn.v_proj.weight" => "attn_v.weight",
        "self_attn.o_proj.weight" => "attn_output.weight",
        "self_attn.q_norm.weight" => "attn_q_norm.weight",
        "self_attn.k_norm.weight" => "attn_k_norm.weight",
        "post_attention_layernorm.weight" => "post_attention_norm.weight",
        "pre_feedforward_layernorm.weight" => "ffn_norm.weight",
        "post_feedforward_layernorm.weight" => "post_ffw_norm.weight",
        "mlp.gate_proj.weight" => "ffn_gate.weight",
        "mlp.up_proj.weight" => "ffn_up.weight",
        "mlp.down_proj.weight" => "ffn_down.weight",
        _ => return None,
    };
    Some(format!("blk.{layer}.{mapped}"))
}

struct Attention {
    layer: usize,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    n_heads: usize,
    n_kv: usize,
    head_dim: usize,
    scale: f64,
    softcap: Option<f64>,
}

impl Attention {
    fn load(cfg: &Config, w: &Weights, l: usize, plus_one: bool) -> Result<Attention> {
        let p = format!("model.layers.{l}.self_attn");
        let (d, hd) = (cfg.hidden_size, cfg.head_dim);
        let (nh, nkv) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let norm = |name: &str| RmsNorm::load(w, &format!("{p}.{name}"), hd, cfg.rms_norm_eps, plus_one);
        Ok(Attention {
            layer: l,
            q_proj: Linear::load(w, &format!("{p}.q_proj"), d, nh * hd, false)?,
            k_proj: Linear::load(w, &format!("{p}.k_proj"), d, nkv * hd, false)?,
            v_proj: Linear::load(w, &format!("{p}.v_proj"), d, nkv * hd, false)?,
            o_proj: Linear::load(w, &format!("{p}.o_proj"), nh * hd, d, false)?,
            q_norm: if cfg.qk_norm { Some(norm("q_norm")?) } else { None },
            k_norm: if cfg.qk_norm { Some(norm("k_norm")?) } else { None },
            n_heads: nh,
            n_kv: nkv,
            head_dim: hd,
            scale: cfg.query_pre_attn_scalar.powf(-0.5),
            softcap: cfg.attn_logit_softcapping,
        })
    }

    /// `[batch, pos, d_model]` → `[batch, pos, d_model]`
    fn forward(&self, x: &Tensor, pos: &Positions, cache: Option<&mut KvCache>, cap: &mut Capture) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let mut q = split_heads(&self.q_proj.forward(x)?, self.n_heads, self.head_dim)?; // [batch, head, pos, d_head]
        let mut k = split_heads(&self.k_proj.forward(x)?, self.n_kv, self.head_dim)?;
        let v = split_heads(&self.v_proj.forward(x)?, self.n_kv, self.head_dim)?;
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(&q)?;
            k = kn.forward(&k)?;
        }
        let q = Rotary::apply(&q, &pos.cos, &pos.sin)?;
        let k = Rotary::apply(&k, &pos.cos, &pos.sin)?;
        let (k, v) = match cache {
            Some(c) => c.append(self.layer, k, v)?,
            None => (k, v),
        };
        let z = attention(&q, &k, &v, &pos.mask, self.scale, self.softcap)?; // [batch, pos, head, d_head]
        let z = cap.hook(Hook::AttnZ(self.layer), z)?;
        self.o_proj.forward(&z.reshape((b, t, self.n_heads * self.head_dim))?)
    }
}

struct Mlp {
    layer: usize,
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn load(cfg: &Config, w: &Weights, l: usize) -> Result<Mlp> {
        let p = format!("model.layers.{l}.mlp");
        let (d, f) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Mlp {
            layer: l,
            gate_proj: Linear::load(w, &format!("{p}.gate_proj"), d, f, false)?,
            up_proj: Linear::load(w, &format!("{p}.up_proj"), d, f, false)?,
            down_proj: Linear::load(w, &format!("{p}.down_proj"), f, d, false)?,
        })
    }

    fn forward(&self, x: &Tensor, cap: &mut Capture) -> Result<Tensor> {
        let gate = saex_kernels::gelu_tanh(&self.gate_proj.forward(x)?)?; // gelu_pytorch_tanh
        let post = (gate * self.up_proj.forward(x)?)?; // [batch, pos, d_mlp]
        let post = cap.hook(Hook::MlpPost(self.layer), post)?;
        self.down_proj.forward(&post)
    }
}

struct Block {
    layer: usize,
    kind: LayerKind,
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    pre_feedforward_layernorm: RmsNorm,
    mlp: Mlp,
    post_feedforward_layernorm: RmsNorm,
}

impl Block {
    fn load(cfg: &Config, w: &Weights, l: usize, plus_one: bool) -> Result<Block> {
        let norm = |name: &str| RmsNorm::load(w, &format!("model.layers.{l}.{name}"), cfg.hidden_size, cfg.rms_norm_eps, plus_one);
        Ok(Block {
            layer: l,
            kind: cfg.layer_types[l],
            input_layernorm: norm("input_layernorm")?,
            self_attn: Attention::load(cfg, w, l, plus_one)?,
            post_attention_layernorm: norm("post_attention_layernorm")?,
            pre_feedforward_layernorm: norm("pre_feedforward_layernorm")?,
            mlp: Mlp::load(cfg, w, l)?,
            post_feedforward_layernorm: norm("post_feedforward_layernorm")?,
        })
    }

    /// `[batch, pos, d_model]` → `[batch, pos, d_model]`
    fn forward(&self, resid_pre: &Tensor, pos: &Positions, cache: Option<&mut KvCache>, cap: &mut Capture) -> Result<Tensor> {
        let l = self.layer;
        let resid_pre = &cap.hook(Hook::ResidPre(l), resid_pre.clone())?;
        let x = self.input_layernorm.forward(resid_pre)?;
        let attn_out = self.self_attn.forward(&x, pos, cache, cap)?;
        let attn_out = self.post_attention_layernorm.forward(&attn_out)?;
        let attn_out = cap.hook(Hook::AttnOut(l), attn_out)?;
        let resid_mid = (resid_pre + attn_out)?;
        let resid_mid = cap.hook(Hook::ResidMid(l), resid_mid)?;
        let x = self.pre_feedforward_layernorm.forward(&resid_mid)?;
        let mlp_out = self.post_feedforward_layernorm.forward(&self.mlp.forward(&x, cap)?)?;
        let mlp_out = cap.hook(Hook::MlpOut(l), mlp_out)?;
        let resid_post = (resid_mid + mlp_out)?;
        let resid_post = cap.hook(Hook::ResidPost(l), resid_post)?;
        Ok(resid_post)
    }
}

/// Rotary tables and mask for one attention kind over the current positions.
struct Positions {
    cos: Tensor,
    sin: Tensor,
    mask: Tensor,
}

/// A Gemma 2 / Gemma 3 decoder.
pub struct Model {
    cfg: Config,
    embed_tokens: Embedding, // [vocab, d_model]
    blocks: Vec<Block>,      // possibly fewer than num_hidden_layers: see LoadOptions
    norm: RmsNorm,
    lm_head: Option<Linear>, // the unembedding (tied: the embedding table); None: not loaded
    rotary_full: Rotary,
    rotary_sliding: Rotary,
}

impl Model {
    /// See [`crate::Model::unembedding`].
    pub fn unembedding(&self) -> Result<crate::Unembedding> {
        // `lm_head` holds the tied table too (as a stored matrix or a view of it).
        let w_u = match &self.lm_head {
            Some(h) => h.dense_weight()?,
            None => return Err(Error::Invalid("this model was loaded without its unembedding; load it with logits".into())),
        };
        Ok(crate::Unembedding { w_u, norm_weight: self.norm.scale().clone(), norm_bias: None })
    }

    /// Load the weights `opts` asks for. GGUF files store Gemma norm weights as `1 + w`.
    pub fn load(cfg: Config, w: &Weights, opts: LoadOptions) -> Result<Model> {
        let plus_one = !w.is_gguf();
        let (v, d) = (cfg.vocab_size, cfg.hidden_size);
        let embed_tokens = w.embedding("model.embed_tokens.weight", &[v, d])?;
        let blocks = (0..opts.blocks_of(cfg.num_hidden_layers)).map(|l| Block::load(&cfg, w, l, plus_one)).collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(w, "model.norm", d, cfg.rms_norm_eps, plus_one)?;
        let tied = !w.contains("lm_head.weight");
        let lm_head = ops::load_head(w, opts, &embed_tokens, "lm_head.weight", [v, d], tied)?;
        Ok(Model {
            rotary_full: cfg.rope_full.rotary(cfg.head_dim),
            rotary_sliding: cfg.rope_sliding.rotary(cfg.head_dim),
            cfg,
            embed_tokens,
            blocks,
            norm,
            lm_head,
        })
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
        check_stop(stop, self.blocks.len(), self.lm_head.is_some())?;
        let t = ids.dim(1)?;
        let scale = (self.cfg.hidden_size as f64).sqrt() as f32 as f64;
        let embed = (self.embed_tokens.lookup(ids)? * scale)?; // [batch, pos, d_model]
        let embed = cap.hook(Hook::Embed, embed)?;
        let full = {
            let (cos, sin) = self.rotary_full.cos_sin(start, t)?;
            Positions { cos, sin, mask: attention_mask(start, t, None)? }
        };
        let sliding = {
            let (cos, sin) = self.rotary_sliding.cos_sin(start, t)?;
            Positions { cos, sin, mask: attention_mask(start, t, Some(self.cfg.sliding_window))? }
        };
        let mut x = embed;
        for block in self.blocks.iter().take(stop.blocks) {
            let pos = match block.kind {
                LayerKind::Full => &full,
                LayerKind::Sliding => &sliding,
            };
            x = block.forward(&x, pos, cache.as_deref_mut(), cap)?;
        }
        if stop.blocks < self.cfg.num_hidden_layers {
            // The input of the first block not run is `blocks.{stop}.hook_resid_pre`.
            cap.record(Hook::ResidPre(stop.blocks), &x);
            return Ok(None);
        }
        cap.record_with(Hook::LnFinalNormalized, || self.norm.normalized(&x))?;
        if !stop.logits {
            return Ok(None);
        }
        let head = self.lm_head.as_ref().ok_or_else(|| Error::Invalid("no unembedding loaded".into()))?;
        let logits = ops::unembed(head, &self.norm.forward(&x)?, last_only)?;
        let logits = ops::softcap(&logits, self.cfg.final_logit_softcapping)?;
        Ok(Some(logits))
    }
}
