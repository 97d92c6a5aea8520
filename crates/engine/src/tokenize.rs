//! `tokenize`: ids, vocabulary pieces and spans of a text. Needs only the tokenizer, so the
//! CLI does not load the model for it; the API's `/v1/tokenize` returns the same value.
//!
//! Positions: every position saex reports in JSON (`start`/`end` here, discover's
//! `top_spans`, the index's examples) counts Unicode code points, as Python indexes `str`;
//! `byte_start`/`byte_end` give the same spans in UTF-8 bytes, as Rust and most tokenizers
//! index.

use saex_model::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A `tokenize` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenizeRequest {
    /// The model; may be omitted (the loaded one).
    #[serde(default)]
    pub model_id: Option<String>,
    /// The text.
    pub text: String,
    /// Prepend bos as the model does (default true).
    #[serde(default = "yes")]
    pub bos: bool,
}

fn yes() -> bool {
    true
}

/// One token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Token {
    /// Vocabulary id.
    pub id: u32,
    /// Vocabulary piece (`▁Paris`, `ĠParis`).
    pub piece: String,
    /// Code-point offset of its text in the input (bos: 0).
    pub start: usize,
    /// Code-point offset of its end.
    pub end: usize,
    /// Byte offset of its text in the input (UTF-8).
    pub byte_start: usize,
    /// Byte offset of its end.
    pub byte_end: usize,
}

/// A tokenized text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tokenized {
    /// The ids.
    pub ids: Vec<u32>,
    /// The pieces.
    pub pieces: Vec<String>,
    /// Each token with its spans.
    pub tokens: Vec<Token>,
}

/// Code-point offset of every char boundary: `at[byte]` for boundaries (others unused).
fn char_offsets(text: &str) -> Vec<usize> {
    let mut at = vec![0; text.len() + 1];
    let mut n = 0;
    for (i, c) in text.char_indices() {
        at[i..i + c.len_utf8()].fill(n);
        n += 1;
    }
    at[text.len()] = n;
    at
}

/// Tokenize `text` with `tokenizer`, bos prepended when `add_bos`.
pub fn tokenize(tokenizer: &Tokenizer, text: &str, add_bos: bool) -> Result<Tokenized> {
    let (ids, offsets) = tokenizer.encode_with_offsets(text, add_bos).map_err(saex_model::Error::from)?;
    let at = char_offsets(text);
    let cp = |b: usize| at.get(b.min(text.len())).copied().ok_or_else(|| Error::Invalid(format!("token offset {b} past the text")));
    let tokens: Vec<Token> = ids
        .iter()
        .zip(&offsets)
        .map(|(&id, &(start, end))| {
            Ok(Token {
                id,
                piece: tokenizer.id_to_piece(id).unwrap_or_default(),
                start: cp(start)?,
                end: cp(end)?,
                byte_start: start,
                byte_end: end,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Tokenized { ids, pieces: tokens.iter().map(|t| t.piece.clone()).collect(), tokens })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_points_of_byte_offsets() {
        // "Grüße": ü and ß are 2 bytes each → bytes 0 1 2(ü) 4(ß) 6(e) 7(end).
        let at = char_offsets("Grüße");
        assert_eq!((at[0], at[2], at[4], at[6], at[7]), (0, 2, 3, 4, 5));
    }
}
