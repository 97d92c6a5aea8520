//! `encode`: a text's tokens, the hook's activations and the SAE's feature activations.

use candle_core::Tensor;
use saex_sae::SparseActs;

use crate::error::Result;
use crate::pair::Pair;

/// One text run through the model and the SAE.
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

/// Tokenize `text`, run the model to the pair's hook (and no further), encode with the SAE.
pub fn encode(pair: &Pair, text: &str, add_bos: bool) -> Result<Encoded> {
    let model = pair.model;
    let (tokens, offsets) = model.tokenizer.encode_with_offsets(text, add_bos).map_err(saex_model::Error::from)?;
    if tokens.is_empty() {
        return Err(crate::Error::Invalid("the text has no tokens".into()));
    }
    let has_bos = add_bos && model.tokenizer.bos_id() == tokens.first().copied();
    let input = model.run(std::slice::from_ref(&tokens), &[pair.hook], false)?.remove(0).hooks.remove(0).1;
    let acts = pair.sae.encode_sparse(&pair.sae_input(&input)?)?;
    Ok(Encoded { tokens, offsets, input, acts, has_bos })
}
