//! TEMPORARY STUB (replaced by the GGUF tokenizer work in progress).
#![allow(missing_docs)]
use candle_core::quantized::gguf_file::Content;
use std::path::Path;

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    bos: Option<u32>,
    eos: Option<u32>,
    add_bos: bool,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenizerError {
    #[error("{0}")]
    Other(String),
}

impl Tokenizer {
    pub fn from_gguf(_c: &Content) -> Result<Tokenizer, TokenizerError> {
        Err(TokenizerError::Other("gguf tokenizer not yet".into()))
    }
    pub fn from_hf_file(path: &Path, bos: Option<u32>, eos: Option<u32>, add_bos: bool) -> Result<Tokenizer, TokenizerError> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| TokenizerError::Other(e.to_string()))?;
        Ok(Tokenizer { inner, bos, eos, add_bos })
    }
    pub fn encode(&self, text: &str, add_bos: bool) -> Result<Vec<u32>, TokenizerError> {
        Ok(self.encode_with_offsets(text, add_bos)?.0)
    }
    pub fn encode_with_offsets(&self, text: &str, add_bos: bool) -> Result<(Vec<u32>, Vec<(usize, usize)>), TokenizerError> {
        let enc = self.inner.encode(text, false).map_err(|e| TokenizerError::Other(e.to_string()))?;
        let mut ids = enc.get_ids().to_vec();
        let mut offs = enc.get_offsets().to_vec();
        if add_bos {
            if let Some(b) = self.bos {
                ids.insert(0, b);
                offs.insert(0, (0, 0));
            }
        }
        Ok((ids, offs))
    }
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        self.inner.decode(ids, false).map_err(|e| TokenizerError::Other(e.to_string()))
    }
    pub fn id_to_piece(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
    pub fn bos_id(&self) -> Option<u32> { self.bos }
    pub fn eos_id(&self) -> Option<u32> { self.eos }
    pub fn add_bos_default(&self) -> bool { self.add_bos }
    pub fn vocab_size(&self) -> usize { self.inner.get_vocab_size(true) }
}
