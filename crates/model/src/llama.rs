//! Llama (Llama 2/3, SmolLM2) and Qwen2 decoders. Mirrors HF `modeling_llama.py`; hook
//! placement mirrors TransformerLens `TransformerBlock`.
//!
//! Qwen2 is Llama with biases on the q/k/v projections (HF's own `LlamaConfig` has the same
//! switch, `attention_bias`), so it is served here rather than by a copy of this file.

use candle_core::Tensor;
use saex_hooks::{Capture, Hook};

use crate::config::{HfConfig, Rope};
use crate::error::{Error, Result};
use crate::ops::{self, attention, attention_mask, split_heads, Embedding, KvCache, Linear, RmsNorm, Rotary};
use crate::weights::{GgufFile, Mat, Weights};
use crate::{check_stop, Dims, LoadOptions, Stop};

/// Hyper-parameters (HF `config.json` keys).
#[derive(Debug, Clone)]
pub struct Config {
    /// `model_type`: `llama` or `qwen2`.
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
    /// `head_dim` (defaults to hidden_size / num_attention_heads, as transformers does)
    pub head_dim: usize,
    /// `rms_norm_eps`
    pub rms_norm_eps: f64,
    /// `vocab_size`
    pub vocab_size: usize,
    /// `max_position_embeddings`
    pub max_position_embeddings: usize,
    /// `attention_bias` (always true for Qwen2's q/k/v)
    pub attention_bias: bool,
    /// `tie_word_embeddings`
    pub tie_word_embeddings: bool,
    /// Rotary settings.
    pub rope: Rope,
}

impl Config {
    /// From `config.json`.
    pub fn from_hf(c: &HfConfig, model_type: &str) -> Result<Config> {
        let hidden = c.usize("hidden_size")?;
        let n_heads = c.usize("num_attention_heads")?;
        if c.bool_opt("use_sliding_window") == Some(true) {
            return Err(Error::Config {
                path: c.path.clone(),
                key: "use_sliding_window".into(),
                msg: "sliding-window Qwen2 is not supported".into(),
            });
        }
        Ok(Config {
            model_type: model_type.to_string(),
            hidden_size: hidden,
            intermediate_size: c.usize("intermediate_size")?,
            num_hidden_layers: c.layers("num_hidden_layers")?,
            num_attention_heads: n_heads,
            num_key_value_heads: c.usize_opt("num_key_value_heads")?.unwrap_or(n_heads),
            head_dim: c.usize_opt("head_dim")?.unwrap_or(hidden / n_heads),
            rms_norm_eps: c.f64("rms_norm_eps")?,
            vocab_size: c.usize("vocab_size")?,
            max_position_embeddings: c.usize("max_position_embeddings")?,
            attention_bias: model_type == "qwen2" || c.bool_opt("attention_bias").unwrap_or(false),
            tie_word_embeddings: c.bool_opt("tie_word_embeddings").unwrap_or(false),
            rope: c.rope(None)?,
        })
    }

    /// From GGUF metadata.
    pub fn from_gguf(g: &GgufFile, arch: &str) -> Result<Config> {
        let k = |s: &str| format!("{arch}.{s}");
        let hidden = g.meta_usize(&k("embedding_length"))?;
        let n_heads = g.meta_usize(&k("attention.head_count"))?;
        let vocab = g.rows_of("token_embd.weight")?;
        Ok(Config {
            model_type: arch.to_string(),
            hidden_size: hidden,
            intermediate_size: g.meta_usize(&k("feed_forward_length"))?,
            num_hidden_layers: crate::config::check_layers(&g.path, &k("block_count"), g.meta_usize(&k("block_count"))?)?,
            num_attention_heads: n_heads,
            num_key_value_heads: g.meta_usize(&k("attention.head_count_kv")).unwrap_or(n_heads),
            head_dim: g.meta_usize(&k("attention.key_length")).unwrap_or(hidden / n_heads),
            rms_norm_eps: g.meta_f64(&k("attention.layer_norm_rms_epsilon"))?,
            vocab_size: vocab,
            max_position_embeddings: g.meta_usize(&k("context_length"))?,
            attention_bias: arch == "qwen2",
            tie_word_embeddings: !g.tensors.contains_key("output.weight"),
            rope: Rope::Default { theta: g.meta_f64(&k("rope.freq_base"))? },
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

/// llama.cpp's names for Llama/Qwen2 tensors.
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
    let (module, kind) = name.rsplit_once('.')?;
    let mapped = match module {
        "input_layernorm" => "attn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "post_attention_layernorm" => "ffn_norm",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{layer}.{mapped}.{kind}"))
}

/// llama.cpp stores Llama's q/k rows permuted for its interleaved rotary; undo it as
/// transformers' `reverse_permute_weights` does, so one rotary layout serves both formats.
/// Whole rows move, so a quantized matrix is permuted in its stored blocks.
fn unpermute(w: Mat, n_head: usize) -> Result<Mat> {
    Ok(match w {
        Mat::Dense(w) => {
            let (rows, cols) = w.dims2()?;
            let half = rows / n_head / 2;
            Mat::Dense(w.reshape((n_head, half, 2, cols))?.transpose(1, 2)?.reshape((rows, cols))?)
        }
        Mat::Stored(q) => {
            // Row (h, j, i) of the result is row (h, i, j) of the stored [n_head, half, 2].
            let half = q.dims().0 / n_head / 2;
            let perm: Vec<usize> =
                (0..n_head).flat_map(|h| (0..2).flat_map(move |j| (0..half).map(move |i| (h * half + i) * 2 + j))).collect();
            Mat::Stored(q.permute_rows(&perm))
        }
    })
}

struct Attention {
    layer: usize,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    n_heads: usize,
    n_kv: usize,
    head_dim: usize,
}

impl Attention {
    fn load(cfg: &Config, w: &Weights, l: usize) -> Result<Attention> {
        let p = format!("model.layers.{l}.self_attn");
        let (d, hd) = (cfg.hidden_size, cfg.head_dim);
        let (nh, nkv) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let bias = cfg.attention_bias;
        let mut qw = w.matrix(&format!("{p}.q_proj.weight"), [nh * hd, d])?;
        let mut kw = w.matrix(&format!("{p}.k_proj.weight"), [nkv * hd, d])?;
        if w.is_gguf() && cfg.model_type == "llama" {
            qw = unpermute(qw, nh)?;
            kw = unpermute(kw, nkv)?;
        }
        let bias_of = |name: &str, n: usize| -> Result<Option<Tensor>> {
            if bias {
                w.get(&format!("{p}.{name}.bias"), &[n]).map(Some)
            } else {
                Ok(None)
            }
        };
        let q_proj = Linear::from_mat(qw, bias_of("q_proj", nh * hd)?)?;
        let k_proj = Linear::from_mat(kw, bias_of("k_proj", nkv * hd)?)?;
        Ok(Attention {
            layer: l,
            q_proj,
            k_proj,
            v_proj: Linear::load(w, &format!("{p}.v_proj"), d, nkv * hd, bias)?,
            o_proj: Linear::load(w, &format!("{p}.o_proj"), nh * hd, d, false)?,
            n_heads: nh,
            n_kv: nkv,
            head_dim: hd,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
        cache: Option<&mut KvCache>,
        cap: &mut Capture,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let q = split_heads(&self.q_proj.forward(x)?, self.n_heads, self.head_dim)?; // [batch, head, pos, d_head]
        let k = split_heads(&self.k_proj.forward(x)?, self.n_kv, self.head_dim)?;
        let v = split_heads(&self.v_proj.forward(x)?, self.n_kv, self.head_dim)?;
        let q = Rotary::apply(&q, cos, sin)?;
        let k = Rotary::apply(&k, cos, sin)?;
        let (k, v) = match cache {
            Some(c) => c.append(self.layer, k, v)?,
            None => (k, v),
        };
        let scale = (self.head_dim as f64).powf(-0.5);
        let z = attention(&q, &k, &v, mask, scale, None)?; // [batch, pos, head, d_head]
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
        let post = (self.gate_proj.forward(x)?.silu()? * self.up_proj.forward(x)?)?; // [batch, pos, d_mlp]
        let post = cap.hook(Hook::MlpPost(self.layer), post)?;
        self.down_proj.forward(&post)
    }
}

struct Block {
    layer: usize,
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl Block {
    fn load(cfg: &Config, w: &Weights, l: usize) -> Result<Block> {
        let norm = |name: &str| RmsNorm::load(w, &format!("model.layers.{l}.{name}"), cfg.hidden_size, cfg.rms_norm_eps, false);
        Ok(Block {
            layer: l,
            input_layernorm: norm("input_layernorm")?,
            self_attn: Attention::load(cfg, w, l)?,
            post_attention_layernorm: norm("post_attention_layernorm")?,
            mlp: Mlp::load(cfg, w, l)?,
        })
    }

    /// `[batch, pos, d_model]` → `[batch, pos, d_model]`
    fn forward(
        &self,
        resid_pre: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
        cache: Option<&mut KvCache>,
        cap: &mut Capture,
    ) -> Result<Tensor> {
        let l = self.layer;
        let resid_pre = &cap.hook(Hook::ResidPre(l), resid_pre.clone())?;
        let x = self.input_layernorm.forward(resid_pre)?;
        let attn_out = self.self_attn.forward(&x, cos, sin, mask, cache, cap)?;
        let attn_out = cap.hook(Hook::AttnOut(l), attn_out)?;
        let resid_mid = (resid_pre + attn_out)?;
        let resid_mid = cap.hook(Hook::ResidMid(l), resid_mid)?;
        let x = self.post_attention_layernorm.forward(&resid_mid)?;
        let mlp_out = self.mlp.forward(&x, cap)?;
        let mlp_out = cap.hook(Hook::MlpOut(l), mlp_out)?;
        let resid_post = (resid_mid + mlp_out)?;
        let resid_post = cap.hook(Hook::ResidPost(l), resid_post)?;
        Ok(resid_post)
    }
}

/// A Llama / Qwen2 decoder.
pub struct Model {
    cfg: Config,
    embed_tokens: Embedding, // [vocab, d_model]
    blocks: Vec<Block>,      // possibly fewer than num_hidden_layers: see LoadOptions
    norm: RmsNorm,
    lm_head: Option<Linear>, // the unembedding (tied: the embedding table); None: not loaded
    rotary: Rotary,
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

    /// Load the weights `opts` asks for.
    pub fn load(cfg: Config, w: &Weights, opts: LoadOptions) -> Result<Model> {
        let (v, d) = (cfg.vocab_size, cfg.hidden_size);
        let embed_tokens = w.embedding("model.embed_tokens.weight", &[v, d])?;
        let blocks = (0..opts.blocks_of(cfg.num_hidden_layers)).map(|l| Block::load(&cfg, w, l)).collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(w, "model.norm", d, cfg.rms_norm_eps, false)?;
        let lm_head = ops::load_head(w, opts, &embed_tokens, "lm_head.weight", [v, d], cfg.tie_word_embeddings)?;
        Ok(Model { rotary: cfg.rope.rotary(cfg.head_dim), cfg, embed_tokens, blocks, norm, lm_head })
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
        let embed = self.embed_tokens.lookup(ids)?; // [batch, pos, d_model]
        let embed = cap.hook(Hook::Embed, embed)?;
        let (cos, sin) = self.rotary.cos_sin(start, t)?;
        let mask = attention_mask(start, t, None)?;
        let mut x = embed;
        for block in self.blocks.iter().take(stop.blocks) {
            x = block.forward(&x, &cos, &sin, &mask, cache.as_deref_mut(), cap)?;
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
        Ok(Some(ops::unembed(head, &self.norm.forward(&x)?, last_only)?))
    }
}
