//! # Brief overview
//!
//! `saex-model` runs transformer language models on the CPU with TransformerLens hook
//! points. [`Model::load`] takes a GGUF file, a Hugging Face directory or a hub id already in
//! the local HF cache; [`Model::run`] runs a batch of token sequences and returns the
//! requested [`Hook`] values per sequence (and logits if asked); [`Model::generate`] decodes
//! with a KV cache. The [`tokenizer::Tokenizer`] matches HF transformers' ids for the same
//! file.
//!
//! Architectures: `gpt2` ([`gpt2`]), `gemma2`/`gemma3` ([`gemma`]), `llama`/`qwen2`
//! ([`llama`]). Values equal TransformerLens `from_pretrained_no_processing` (no weight
//! folding); the forward pass stops after the deepest requested hook.
//!
//! ```no_run
//! use saex_hooks::Hook;
//! use saex_model::Model;
//!
//! let model = Model::load("gemma-3-270m-q4_k_m.gguf").unwrap();
//! let ids = model.tokenizer.encode("The Eiffel Tower is in Paris", model.add_bos()).unwrap();
//! let acts = model.run(&[ids], &[Hook::ResidPre(6)], false).unwrap();
//! let resid = &acts[0].hooks[0].1; // [n_tokens, d_model]
//! assert_eq!(resid.dims(), &[7, 640]);
//! ```
#![deny(missing_docs)]

pub mod chunked;
pub mod config;
pub mod error;
pub mod gemma;
pub mod generate;
pub mod gguf;
pub mod gpt2;
pub mod llama;
pub mod load;
pub mod ops;
pub mod tokenizer;
pub mod weights;

use candle_core::Tensor;
use saex_hooks::{Capture, Edit, Hook};

pub use chunked::{entropies, ChunkedRun};
pub use error::{Error, Result};
pub use generate::Sampling;
use ops::KvCache;
use tokenizer::Tokenizer;

/// Shapes every architecture reports, for hook validation and output shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Dims {
    /// Number of blocks.
    pub n_layers: usize,
    /// Residual width.
    pub d_model: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (fewer than `n_heads` with grouped-query attention).
    pub n_kv_heads: usize,
    /// Head width.
    pub d_head: usize,
    /// MLP hidden width.
    pub d_mlp: usize,
    /// Gated MLP (three matrices) rather than GPT-2's two.
    pub gated_mlp: bool,
    /// Vocabulary size.
    pub d_vocab: usize,
    /// Context length.
    pub n_ctx: usize,
    /// Has a learned position embedding (`hook_pos_embed`).
    pub has_pos_embed: bool,
}

/// How far a forward pass goes.
#[derive(Debug, Clone, Copy)]
pub struct Stop {
    /// Blocks to run (`0..blocks`).
    pub blocks: usize,
    /// Whether to compute logits (requires all blocks).
    pub logits: bool,
}

/// The type weight matrices are kept in while the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// As the file stores them: GGUF quantized blocks, F16/BF16, read by kernels that
    /// dequantize on the fly with f32 activations and sums. Memory is the file's size.
    #[default]
    Stored,
    /// Dequantized to f32 at load (4-8× the memory of a quantized file; the reference path).
    F32,
}

impl std::str::FromStr for Dtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Dtype> {
        match s {
            "stored" | "auto" | "quantized" => Ok(Dtype::Stored),
            "f32" | "float32" => Ok(Dtype::F32),
            other => Err(Error::Invalid(format!("unknown dtype `{other}` (expected `stored` or `f32`)"))),
        }
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dtype::Stored => "stored",
            Dtype::F32 => "f32",
        })
    }
}

/// Which weights to load. A capture that stops at block 6 of 18 needs neither the later
/// blocks nor the unembedding; not loading them keeps peak memory to what the run touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Load blocks `0..blocks` (`None`: all).
    pub blocks: Option<usize>,
    /// Load what logits need (all blocks, final norm and unembedding).
    pub logits: bool,
    /// The type matrices are kept in ([`Dtype::Stored`] unless asked otherwise).
    pub dtype: Dtype,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions::all()
    }
}

impl LoadOptions {
    /// Everything: any hook and logits.
    pub fn all() -> LoadOptions {
        LoadOptions { blocks: None, logits: true, dtype: Dtype::Stored }
    }

    /// Just what `hooks` (and logits, if asked) need.
    pub fn for_hooks(hooks: &[Hook], logits: bool) -> LoadOptions {
        if logits || hooks.contains(&Hook::LnFinalNormalized) {
            return LoadOptions { blocks: None, logits, dtype: Dtype::Stored };
        }
        let blocks = hooks.iter().map(|h| h.blocks_needed(usize::MAX)).max().unwrap_or(0);
        LoadOptions { blocks: Some(blocks), logits: false, dtype: Dtype::Stored }
    }

    /// The same options with matrices kept in `dtype` (`--dtype f32`).
    pub fn with_dtype(self, dtype: Dtype) -> LoadOptions {
        LoadOptions { dtype, ..self }
    }

    /// The number of blocks to load out of `n_layers`.
    pub fn blocks_of(&self, n_layers: usize) -> usize {
        if self.logits {
            n_layers
        } else {
            self.blocks.map_or(n_layers, |b| b.min(n_layers))
        }
    }
}

/// Refuses a pass that needs weights the model was loaded without.
pub(crate) fn check_stop(stop: Stop, loaded_blocks: usize, has_unembed: bool) -> Result<()> {
    if stop.blocks > loaded_blocks {
        return Err(Error::Invalid(format!("this model was loaded with only {loaded_blocks} blocks; the pass needs {}", stop.blocks)));
    }
    if stop.logits && !has_unembed {
        return Err(Error::Invalid("this model was loaded without its unembedding; logits need it".into()));
    }
    Ok(())
}

enum Arch {
    Gpt2(gpt2::Model),
    Gemma(gemma::Model),
    Llama(llama::Model),
}

/// What a model is and where it came from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    /// Architecture (`gpt2`, `gemma3`, ...).
    pub arch: String,
    /// The reference it was loaded from (path or hub id).
    pub source: String,
    /// The model's own name: GGUF `general.name`, HF `_name_or_path`, else the source.
    pub name: String,
    /// Shapes.
    pub dims: Dims,
}

/// A loaded model: weights, tokenizer and shapes.
pub struct Model {
    arch: Arch,
    /// The tokenizer that came with the weights.
    pub tokenizer: Tokenizer,
    /// Architecture, source and shapes.
    pub info: ModelInfo,
    add_bos: bool,
}

/// The unembedding and the final norm's affine part: what a logit lens folds together
/// (TransformerLens's default `fold_ln` multiplies `W_U`'s rows by the norm's weight).
#[derive(Debug, Clone)]
pub struct Unembedding {
    /// `[vocab, d_model]` f32 (the embedding table when tied).
    pub w_u: Tensor,
    /// The final norm's (effective) weight `[d_model]`.
    pub norm_weight: Tensor,
    /// The final LayerNorm's bias `[d_model]` (GPT-2); RMSNorm has none.
    pub norm_bias: Option<Tensor>,
}

/// Activations of one sequence.
#[derive(Debug, Clone)]
pub struct Activations {
    /// The token ids that were run.
    pub tokens: Vec<u32>,
    /// Requested hooks in model order, each `[n_tokens, ...]` (`hook_z`: `[n_tokens, n_heads,
    /// d_head]`).
    pub hooks: Vec<(Hook, Tensor)>,
    /// `[n_tokens, vocab]` when asked for.
    pub logits: Option<Tensor>,
}

impl Model {
    /// Load from a GGUF file, a Hugging Face directory or a hub id (see [`load`]).
    pub fn load(spec: &str) -> Result<Model> {
        load::load(spec, LoadOptions::all())
    }

    /// Load only the weights `opts` asks for.
    pub fn load_with(spec: &str, opts: LoadOptions) -> Result<Model> {
        load::load(spec, opts)
    }

    /// Shapes.
    pub fn dims(&self) -> Dims {
        self.info.dims
    }

    /// Whether saex prepends bos: TransformerLens does for HF models (GPT-2 gets
    /// `<|endoftext|>`); GGUF models follow their `add_bos_token`.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Check that `hook` exists in this model.
    pub fn check_hook(&self, hook: Hook) -> Result<()> {
        let d = self.dims();
        if let Some(l) = hook.layer() {
            if l >= d.n_layers {
                return Err(Error::BadHook {
                    hook,
                    why: format!("layer {l} is out of range: the model has {} layers (0..={})", d.n_layers, d.n_layers - 1),
                });
            }
        }
        if hook == Hook::PosEmbed && !d.has_pos_embed {
            return Err(Error::BadHook { hook, why: format!("{} has no learned position embedding", self.info.arch) });
        }
        Ok(())
    }

    /// The shape of one token's value at `hook` (`[d_model]`, `[n_heads, d_head]`, `[d_mlp]`).
    pub fn hook_shape(&self, hook: Hook) -> Vec<usize> {
        let d = self.dims();
        match hook {
            Hook::AttnZ(_) => vec![d.n_heads, d.d_head],
            Hook::MlpPost(_) => vec![d.d_mlp],
            _ => vec![d.d_model],
        }
    }

    /// One forward pass over `ids` `[batch, pos]` starting at position `start`.
    pub fn forward(
        &self,
        ids: &Tensor,
        start: usize,
        cache: Option<&mut KvCache>,
        cap: &mut Capture,
        stop: Stop,
    ) -> Result<Option<Tensor>> {
        match &self.arch {
            Arch::Gpt2(m) => m.forward(ids, start, cache, cap, stop),
            Arch::Gemma(m) => m.forward(ids, start, cache, cap, stop),
            Arch::Llama(m) => m.forward(ids, start, cache, cap, stop),
        }
    }

    /// [`Model::forward`] returning only the last position's logits (`[batch, 1, vocab]`):
    /// what decoding needs, without the unembedding of every prompt position.
    pub fn forward_last(
        &self,
        ids: &Tensor,
        start: usize,
        cache: Option<&mut KvCache>,
        cap: &mut Capture,
        stop: Stop,
    ) -> Result<Option<Tensor>> {
        match &self.arch {
            Arch::Gpt2(m) => m.forward_logits(ids, start, cache, cap, stop, true),
            Arch::Gemma(m) => m.forward_logits(ids, start, cache, cap, stop, true),
            Arch::Llama(m) => m.forward_logits(ids, start, cache, cap, stop, true),
        }
    }

    /// Run a batch of token sequences (any lengths) and return each one's hook values and,
    /// if `logits`, its logits. Sequences are right-padded into one batch; with a causal mask
    /// a real token never sees padding, so each sequence gets the values it would get alone.
    /// The pass stops after the deepest requested hook unless logits are asked for.
    pub fn run(&self, seqs: &[Vec<u32>], hooks: &[Hook], logits: bool) -> Result<Vec<Activations>> {
        self.run_edited(seqs, hooks, logits, &[])
    }

    /// [`Model::run`] with `edits` applied at their hooks (each sees the padded batch
    /// `[batch, pos, ...]`): steering, splicing an SAE reconstruction, ablation.
    pub fn run_edited(&self, seqs: &[Vec<u32>], hooks: &[Hook], logits: bool, edits: &[(Hook, Edit)]) -> Result<Vec<Activations>> {
        let d = self.dims();
        for (h, _) in edits {
            self.check_hook(*h)?;
        }
        for &h in hooks {
            self.check_hook(h)?;
        }
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let max_len = seqs.iter().map(Vec::len).max().unwrap_or(0);
        if seqs.iter().any(Vec::is_empty) {
            return Err(Error::Invalid("cannot run an empty token sequence".into()));
        }
        if max_len > d.n_ctx {
            return Err(Error::TooLong { got: max_len, max: d.n_ctx });
        }
        for s in seqs {
            if let Some(&bad) = s.iter().find(|&&t| t as usize >= d.d_vocab) {
                return Err(Error::Invalid(format!("token id {bad} is out of range for a vocabulary of {}", d.d_vocab)));
            }
        }
        let padded: Vec<Vec<u32>> = seqs
            .iter()
            .map(|s| {
                let mut p = s.clone();
                p.resize(max_len, 0);
                p
            })
            .collect();
        let ids = ops::ids_tensor(&padded)?;
        let mut cap = Capture::new(hooks.iter().copied());
        for (h, e) in edits {
            cap = cap.with_edit(*h, e.clone());
        }
        let blocks = if logits { d.n_layers } else { cap.blocks_needed().min(d.n_layers) };
        let blocks = if hooks.contains(&Hook::LnFinalNormalized) { d.n_layers } else { blocks };
        let out = self.forward(&ids, 0, None, &mut cap, Stop { blocks, logits })?;
        let values = cap.into_values();
        seqs.iter()
            .enumerate()
            .map(|(i, s)| {
                let n = s.len();
                let row = |t: &Tensor| -> Result<Tensor> { Ok(t.get(i)?.narrow(0, 0, n)?.contiguous()?) };
                Ok(Activations {
                    tokens: s.clone(),
                    hooks: values.iter().map(|(h, t)| Ok((*h, row(t)?))).collect::<Result<_>>()?,
                    logits: out.as_ref().map(row).transpose()?,
                })
            })
            .collect()
    }

    /// The unembedding and final norm (needs the model loaded with logits, unless the
    /// unembedding is tied to the embedding).
    pub fn unembedding(&self) -> Result<Unembedding> {
        match &self.arch {
            Arch::Gpt2(m) => m.unembedding(),
            Arch::Gemma(m) => m.unembedding(),
            Arch::Llama(m) => m.unembedding(),
        }
    }

    /// Generate up to `max_new` tokens after `prompt` with a KV cache; stops early at the
    /// end-of-sequence token. Returns only the new tokens.
    pub fn generate(&self, prompt: &[u32], max_new: usize, sampling: &Sampling) -> Result<Vec<u32>> {
        generate::generate(self, prompt, max_new, sampling, &[], None)
    }

    /// [`Model::generate_edited`] that stops with [`Error::Cancelled`] once `cancel` is set
    /// (checked between tokens): a server answering "too slow" also stops the work.
    pub fn generate_with(
        &self,
        prompt: &[u32],
        max_new: usize,
        sampling: &Sampling,
        edits: &[(Hook, Edit)],
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<Vec<u32>> {
        generate::generate(self, prompt, max_new, sampling, edits, cancel)
    }

    /// [`Model::generate`] with `edits` applied at every step (e.g. SAE steering).
    pub fn generate_edited(&self, prompt: &[u32], max_new: usize, sampling: &Sampling, edits: &[(Hook, Edit)]) -> Result<Vec<u32>> {
        generate::generate(self, prompt, max_new, sampling, edits, None)
    }
}
