//! Tokenizers for saex models: built from GGUF metadata, or loaded from an HF `tokenizer.json`.
//!
//! Why this module exists: candle's `TokenizerFromGguf` only understands gpt2-type (byte-level BPE)
//! vocabularies, while Gemma's GGUF files carry a SentencePiece-style vocabulary (`tokenizer.ggml.model
//! = llama`: tokens, scores and token types, no merges). Interpretability work compares activations
//! token by token with HF transformers, so the ids must be *exactly* the ones transformers produces for
//! the same file. This module therefore mirrors transformers' own GGUF conversion
//! (`transformers/integrations/gguf/gguf_tokenizer_mapping.py` as of transformers 5.23) and assembles
//! the same `tokenizers` components at run time from the `tokenizer.ggml.*` keys:
//!
//! * `tokenizer.ggml.model = gpt2`: byte-level BPE (`GPT2Tokenizer`): vocabulary re-spelled in the
//!   GPT-2 byte alphabet where needed, the file's merges, `ByteLevel` pre-tokenizer and decoder. If
//!   `tokenizer.ggml.pre` names a split regex transformers knows (llama3/llama-bpe, qwen2, tekken,
//!   gpt-4o, ...), the pre-tokenizer becomes `Split(regex, isolated)` + `ByteLevel(use_regex=false)`.
//!   Pre-tokenizers transformers silently treats as GPT-2 (`default`, `gpt-2`, `gpt2`, `smollm`) get the
//!   GPT-2 regex; any other value is refused with [`TokenizerError::UnsupportedPre`] rather than guessed.
//! * `tokenizer.ggml.model = llama`: SentencePiece-style BPE with byte fallback (`LlamaTokenizer`:
//!   `Metaspace` prepend-first; Gemma architectures use `GemmaTokenizer`: `Replace(" ", "▁")`
//!   normalizer and `Split(" ", merged_with_previous)`; Phi-3 uses a `Prepend`+`Replace` normalizer).
//!   Files without merges get them rebuilt from the vocabulary exactly like transformers'
//!   `generate_merges`: every split of a token into two vocabulary pieces, ordered best first by
//!   score (for Gemma: by position in the file, after re-spelling whitespace tokens as `▁`), then by
//!   longer left piece, longer right piece, then file order.
//! * `tokenizer.ggml.model = gemma4`: as Gemma, merges ordered by the file's scores, no bos.
//! * Tokens typed CONTROL (3) become special added tokens and USER_DEFINED (4) plain added tokens, so
//!   text like `<start_of_turn>` or `<bos>` is matched whole, as transformers does.
//! * bos is prepended by a `TemplateProcessing` post-processor when `tokenizer.ggml.add_bos_token`
//!   says so (default true for `llama`, as in transformers), eos appended if `add_eos_token` says so.
//!
//! Known, deliberate divergence: transformers also adds the default special tokens of its tokenizer
//! classes (`<|endoftext|>` for GPT-2, `<s>`/`</s>`/`<unk>` for Llama, `<mask>` etc. for Gemma) and gives
//! them *new* ids past the vocabulary when the file lacks them; such ids do not exist in the model's
//! embedding, so this module only adds special tokens whose text is in the vocabulary.
//!
//! Building the 262k-entry Gemma tokenizer (including its ~515k rebuilt merges) takes well under a
//! second in release builds; the parity test `tests/tokenizer_gguf.rs` checks the ids against
//! transformers on a fixture.

mod gguf;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use candle_core::quantized::gguf_file::Content;

use gguf::{build_from_meta, GgufTokenizerMeta};

/// Errors building or running a tokenizer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenizerError {
    /// A required GGUF metadata key is absent.
    #[error("GGUF metadata has no `{key}`")]
    MissingKey {
        /// The metadata key.
        key: String,
    },
    /// A GGUF metadata key holds a value of the wrong type or out of range.
    #[error("GGUF metadata `{key}`: expected {expected}, got {got}")]
    BadValue {
        /// The metadata key.
        key: String,
        /// What was expected there.
        expected: String,
        /// What the file holds.
        got: String,
    },
    /// `tokenizer.ggml.model` names a tokenizer kind this module does not build.
    #[error("unsupported GGUF tokenizer `tokenizer.ggml.model = {model}` (supported: gpt2, llama, gemma4)")]
    UnsupportedModel {
        /// The value of `tokenizer.ggml.model`.
        model: String,
    },
    /// `tokenizer.ggml.pre` names a pre-tokenizer whose split regex is unknown.
    #[error(
        "unsupported GGUF pre-tokenizer `tokenizer.ggml.pre = {pre}` for a byte-level vocabulary \
         (known: {known})"
    )]
    UnsupportedPre {
        /// The value of `tokenizer.ggml.pre`.
        pre: String,
        /// The values this module knows, comma-separated.
        known: String,
    },
    /// Reading a tokenizer file failed.
    #[error("reading tokenizer file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A tokenizer file could not be parsed.
    #[error("parsing tokenizer file {}: {message}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The `tokenizers` library reported an error.
    #[error("tokenizers: {0}")]
    Tokenizers(String),
}

fn tk_err(e: impl std::fmt::Display) -> TokenizerError {
    TokenizerError::Tokenizers(e.to_string())
}

/// A tokenizer with saex's bos conventions on top of a HuggingFace `tokenizers::Tokenizer`.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    bos_id: Option<u32>,
    eos_id: Option<u32>,
    /// Whether bos is prepended by default (the file's / caller's setting).
    add_bos: bool,
    /// Whether `inner`'s post-processor itself puts bos first when special tokens are added.
    post_adds_bos: bool,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("bos_id", &self.bos_id)
            .field("eos_id", &self.eos_id)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// From GGUF metadata (`tokenizer.ggml.*`), giving the same ids as transformers'
    /// `AutoTokenizer.from_pretrained(dir, gguf_file=...)`.
    pub fn from_gguf(content: &Content) -> Result<Tokenizer, TokenizerError> {
        let meta = GgufTokenizerMeta::read(content)?;
        let built = build_from_meta(&meta)?;
        Ok(Tokenizer { inner: built.inner, bos_id: meta.bos_id, eos_id: meta.eos_id, add_bos: built.add_bos, post_adds_bos: built.add_bos })
    }

    /// From an HF `tokenizer.json`; bos/eos ids and whether to prepend bos are supplied by the
    /// caller (model config). If the file's post-processor already prepends bos, it is not added
    /// twice.
    pub fn from_hf_file(path: &Path, bos_id: Option<u32>, eos_id: Option<u32>, add_bos: bool) -> Result<Tokenizer, TokenizerError> {
        let json = std::fs::read_to_string(path).map_err(|source| TokenizerError::Io { path: path.to_path_buf(), source })?;
        let bad = |message: String| TokenizerError::BadFile { path: path.to_path_buf(), message };
        // The tokenizers crate panics on some malformed files (a bad `decoder` object unwraps
        // a serde error; found by fuzzing) instead of returning an error: guard the parse.
        let inner = std::panic::catch_unwind(|| tokenizers::Tokenizer::from_str(&json))
            .map_err(|_| bad("not a readable tokenizer.json (malformed `decoder` or `pre_tokenizer`)".into()))?
            .map_err(|e| bad(e.to_string()))?;
        let post_adds_bos = match bos_id {
            Some(bos) => {
                // Probe: does encoding with special tokens put bos in front of what encoding
                // without them gives?
                let with = inner.encode("a", true).map_err(tk_err)?;
                let without = inner.encode("a", false).map_err(tk_err)?;
                with.get_ids().first() == Some(&bos)
                    && without.get_ids().first() != Some(&bos)
                    && with.get_ids().len() > without.get_ids().len()
            }
            None => false,
        };
        Ok(Tokenizer { inner, bos_id, eos_id, add_bos: add_bos && bos_id.is_some(), post_adds_bos })
    }

    /// Token ids for `text`; prepends bos when `add_bos` says so (never twice when the underlying
    /// tokenizer's post-processor already adds it; a literal `<bos>` in the text is kept as text,
    /// like transformers does). `encode(text, tok.add_bos_default())` equals transformers'
    /// `tok(text)["input_ids"]` (including an eos when the GGUF sets `add_eos_token`).
    pub fn encode(&self, text: &str, add_bos: bool) -> Result<Vec<u32>, TokenizerError> {
        Ok(self.encode_with_offsets(text, add_bos)?.0)
    }

    /// Like [`Tokenizer::encode`], with the UTF-8 byte offsets `(start, end)` of each token in `text`
    /// (bos gets `(0, 0)`). Byte-fallback pieces of one character all get that character's span.
    #[allow(clippy::type_complexity)] // the signature the callers were promised
    pub fn encode_with_offsets(&self, text: &str, add_bos: bool) -> Result<(Vec<u32>, Vec<(usize, usize)>), TokenizerError> {
        let enc = self.inner.encode(text, true).map_err(tk_err)?;
        let mut ids = enc.get_ids().to_vec();
        let mut offsets = enc.get_offsets().to_vec();
        match (add_bos, self.post_adds_bos, self.bos_id) {
            // The post-processor's template put bos at position 0; drop it.
            (false, true, _) if !ids.is_empty() => {
                ids.remove(0);
                offsets.remove(0);
            }
            (true, false, Some(bos)) => {
                ids.insert(0, bos);
                offsets.insert(0, (0, 0));
            }
            _ => {}
        }
        Ok((ids, offsets))
    }

    /// Text for `ids`. A leading bos is skipped; every other token, special or not, is decoded
    /// (transformers' `decode(ids)` with its default `skip_special_tokens=False`).
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let ids = match (ids.first(), self.bos_id) {
            (Some(&first), Some(bos)) if first == bos => &ids[1..],
            _ => ids,
        };
        self.inner.decode(ids, false).map_err(tk_err)
    }

    /// The raw vocabulary piece of `id`, e.g. `"▁Paris"` or `"ĠParis"` (added tokens included).
    pub fn id_to_piece(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of a piece, e.g. `"<start_of_turn>"`.
    pub fn piece_to_id(&self, piece: &str) -> Option<u32> {
        self.inner.token_to_id(piece)
    }

    /// The beginning-of-sequence id (`tokenizer.ggml.bos_token_id`, or the caller's).
    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// The end-of-sequence id (`tokenizer.ggml.eos_token_id`, or the caller's).
    pub fn eos_id(&self) -> Option<u32> {
        self.eos_id
    }

    /// Whether bos is prepended by default: `tokenizer.ggml.add_bos_token` (transformers' default
    /// when absent: true for `llama`-type vocabularies, false otherwise), or the caller's setting.
    pub fn add_bos_default(&self) -> bool {
        self.add_bos
    }

    /// Number of ids, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// `prompt` followed by the text of `generated`, and each generated token's byte span
    /// in it.
    ///
    /// Decoding the prompt and the generation together and subtracting the prompt's
    /// decoding keeps the spacing the tokenizer gives a continuation (a SentencePiece
    /// decoder strips the leading space of a sequence's first token, so decoding
    /// `generated` alone can lose it).
    pub fn continuation(
        &self,
        prompt: &str,
        prompt_ids: &[u32],
        generated: &[u32],
    ) -> Result<(String, Vec<(usize, usize)>), TokenizerError> {
        let floor = |s: &str, i: usize| {
            let mut i = i.min(s.len());
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let base = self.decode(prompt_ids)?;
        let mut ids = prompt_ids.to_vec();
        let mut text = prompt.to_string();
        let mut offsets = Vec::with_capacity(generated.len());
        let mut tail_len = 0; // bytes of the generation already in `text`
        for &g in generated {
            ids.push(g);
            let full = self.decode(&ids)?;
            let tail = full.strip_prefix(base.as_str()).unwrap_or(&full[floor(&full, base.len())..]);
            // A partial UTF-8 sequence decodes as U+FFFD until its last byte arrives; only
            // the settled prefix is final, so rebuild the tail each step.
            let start = prompt.len() + tail_len.min(tail.len());
            text.truncate(prompt.len());
            text.push_str(tail);
            tail_len = tail.len();
            offsets.push((start.min(text.len()), text.len()));
        }
        // Tokens whose bytes were later rewritten (U+FFFD settling) may now point inside a
        // character: snap every span to boundaries and keep them in order.
        let mut prev = prompt.len();
        for o in offsets.iter_mut() {
            let a = floor(&text, o.0.max(prev).min(text.len()));
            let b = floor(&text, o.1.max(a));
            *o = (a, b);
            prev = b;
        }
        Ok((text, offsets))
    }

    /// The underlying HuggingFace tokenizer.
    pub fn hf_tokenizer(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}
