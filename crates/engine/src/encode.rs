//! The encode pipeline, the one path from text to SAE codes that every verb takes (encode,
//! top-features, discover, top-texts, statistics, the index): tokenize → run the model to the
//! selected SAEs' hooks (once, however many SAEs) → each SAE's input → sparse codes.

use std::sync::atomic::AtomicBool;

use candle_core::{Tensor, D};
use saex_sae::SparseActs;

use crate::error::{Error, Result};
use crate::session::Session;

/// One SAE's view of a sequence.
#[derive(Debug, Clone)]
pub struct SaeCodes {
    /// Index of the SAE in the session.
    pub sae: usize,
    /// The hook's values `[n_tokens, ...]` as the model produced them.
    pub input: Tensor,
    /// L2 norm of the SAE's input at each token.
    pub norms: Vec<f32>,
    /// The SAE's codes, nonzeros per token.
    pub acts: SparseActs,
}

/// One text (or token sequence) run through the model and the selected SAEs.
#[derive(Debug, Clone)]
pub struct Encoding {
    /// Token ids (bos included when the model adds it).
    pub tokens: Vec<u32>,
    /// Byte span of each token in the text (bos: `(0, 0)`; empty when run from ids).
    pub offsets: Vec<(usize, usize)>,
    /// Whether token 0 is the bos the tokenizer added.
    pub has_bos: bool,
    /// Next-token entropy at each position, when asked for.
    pub entropy: Option<Vec<f32>>,
    /// Per selected SAE, in selection order.
    pub saes: Vec<SaeCodes>,
}

impl Encoding {
    /// The first position that is not bos.
    pub fn first_real(&self) -> usize {
        usize::from(self.has_bos)
    }
}

/// One sequence of a batch: its codes per selected SAE.
#[derive(Debug, Clone)]
pub struct BatchCodes {
    /// The token ids.
    pub tokens: Vec<u32>,
    /// Whether token 0 is bos.
    pub has_bos: bool,
    /// Codes per selected SAE, in selection order.
    pub codes: Vec<SparseActs>,
}

impl BatchCodes {
    /// The first position that is not bos.
    pub fn first_real(&self) -> usize {
        usize::from(self.has_bos)
    }
}

/// How [`Session::encode_tokens`] runs the model.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions<'a> {
    /// Also compute each position's next-token entropy (runs the whole model, in chunks).
    pub entropy: bool,
    /// Stop between chunks once set.
    pub cancel: Option<&'a AtomicBool>,
}

/// L2 norm of each row of `x` `[n, ...]`.
fn row_norms(x: &Tensor) -> Result<Vec<f32>> {
    let x = x.to_dtype(candle_core::DType::F32)?;
    let x = x.reshape((x.dim(0)?, ()))?;
    Ok(x.sqr()?.sum(D::Minus1)?.sqrt()?.to_vec1::<f32>()?)
}

impl Session {
    /// Token ids of `text` (bos prepended when `add_bos`).
    pub fn tokenize_ids(&self, text: &str, add_bos: bool) -> Result<Vec<u32>> {
        Ok(self.model.tokenizer.encode(text, add_bos).map_err(saex_model::Error::from)?)
    }

    /// 1 when `ids` starts with the bos this model prepends, else 0.
    pub fn bos_skip(&self, ids: &[u32]) -> usize {
        usize::from(self.model.add_bos() && ids.first().copied() == self.model.tokenizer.bos_id())
    }

    /// Encode `hook values` of one sequence with the selected SAEs.
    fn codes(&self, sel: &[usize], value_of: impl Fn(saex_hooks::Hook) -> Option<Tensor>) -> Result<Vec<SaeCodes>> {
        sel.iter()
            .map(|&i| {
                let s = &self.saes[i];
                let input = value_of(s.hook).ok_or_else(|| Error::Invalid(format!("the model did not record {}", s.hook)))?;
                let x = s.adapter.sae_input(&input)?;
                let acts = s.sae.encode_sparse(&x)?;
                Ok(SaeCodes { sae: i, norms: row_norms(&x)?, input, acts })
            })
            .collect()
    }

    /// Run `tokens` once to the selected SAEs' hooks (the whole model, in chunks, with
    /// `opts.entropy`) and encode each. Two SAEs on one hook share its value.
    pub fn encode_tokens(&self, sel: &[usize], tokens: &[u32], opts: RunOptions) -> Result<(Vec<SaeCodes>, Option<Vec<f32>>)> {
        if tokens.is_empty() {
            return Err(Error::field("text", "has no tokens"));
        }
        if opts.entropy {
            self.need_logits("the entropy filter")?;
        }
        let hooks: Vec<_> = sel.iter().map(|&i| self.saes[i].hook).collect();
        let run = self.model.run_chunked(tokens, &hooks, opts.entropy, opts.cancel)?;
        Ok((self.codes(sel, |h| run.get(h).cloned())?, run.entropy))
    }

    /// Tokenize `text` and [`Session::encode_tokens`] it.
    pub fn encode_text(&self, sel: &[usize], text: &str, add_bos: bool, opts: RunOptions) -> Result<Encoding> {
        let (tokens, offsets) = self.model.tokenizer.encode_with_offsets(text, add_bos).map_err(saex_model::Error::from)?;
        let has_bos = add_bos && tokens.first().copied() == self.model.tokenizer.bos_id();
        let (saes, entropy) = self.encode_tokens(sel, &tokens, opts)?;
        Ok(Encoding { tokens, offsets, has_bos, entropy, saes })
    }

    /// Run a batch of sequences in one forward pass (right-padded; each gets the values it
    /// would get alone) and encode each with the selected SAEs.
    pub fn encode_batch(&self, sel: &[usize], seqs: &[Vec<u32>]) -> Result<Vec<BatchCodes>> {
        let mut hooks: Vec<_> = sel.iter().map(|&i| self.saes[i].hook).collect();
        hooks.sort();
        hooks.dedup();
        let runs = self.model.run(seqs, &hooks, false)?;
        runs.into_iter()
            .map(|a| {
                let codes = self.codes(sel, |h| a.hooks.iter().find(|(x, _)| *x == h).map(|(_, t)| t.clone()))?;
                Ok(BatchCodes {
                    has_bos: self.bos_skip(&a.tokens) == 1,
                    tokens: a.tokens,
                    codes: codes.into_iter().map(|c| c.acts).collect(),
                })
            })
            .collect()
    }
}

/// One text through one SAE: what `saex encode` writes.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Token ids (bos included when the model adds it).
    pub tokens: Vec<u32>,
    /// Byte span of each token in the text (bos: `(0, 0)`).
    pub offsets: Vec<(usize, usize)>,
    /// The hook's activations `[n_tokens, ...]` as the model produced them.
    pub input: Tensor,
    /// The SAE's feature activations, nonzeros per token.
    pub acts: SparseActs,
    /// Whether token 0 is the bos the tokenizer added.
    pub has_bos: bool,
}

/// Tokenize `text`, run the model to SAE `sae`'s hook (and no further), encode.
pub fn encode(session: &Session, sae: usize, text: &str, add_bos: bool) -> Result<Encoded> {
    let mut e = session.encode_text(&[sae], text, add_bos, RunOptions::default())?;
    let c = e.saes.remove(0);
    Ok(Encoded { tokens: e.tokens, offsets: e.offsets, input: c.input, acts: c.acts, has_bos: e.has_bos })
}
