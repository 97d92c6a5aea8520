//! `tokenize`: ids, vocabulary pieces and byte spans of a text (the CLI's `tokenize --json`
//! and the API's `/v1/tokenize` return this same value).

use saex_model::Model;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// One token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// Vocabulary id.
    pub id: u32,
    /// Vocabulary piece (`▁Paris`, `ĠParis`).
    pub piece: String,
    /// Byte offset of its text in the input (bos: 0).
    pub start: usize,
    /// Byte offset of its end.
    pub end: usize,
}

/// A tokenized text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokenized {
    /// The ids.
    pub ids: Vec<u32>,
    /// The pieces.
    pub pieces: Vec<String>,
    /// Each token with its span.
    pub tokens: Vec<Token>,
}

/// Tokenize `text` with the model's tokenizer, bos prepended when `add_bos`.
pub fn tokenize(model: &Model, text: &str, add_bos: bool) -> Result<Tokenized> {
    let tok = &model.tokenizer;
    let (ids, offsets) = tok.encode_with_offsets(text, add_bos).map_err(saex_model::Error::from)?;
    let tokens: Vec<Token> = ids
        .iter()
        .zip(&offsets)
        .map(|(&id, &(start, end))| Token { id, piece: tok.id_to_piece(id).unwrap_or_default(), start, end })
        .collect();
    Ok(Tokenized { ids, pieces: tokens.iter().map(|t| t.piece.clone()).collect(), tokens })
}
