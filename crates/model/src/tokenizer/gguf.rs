//! Building a `tokenizers::Tokenizer` from GGUF `tokenizer.ggml.*` metadata, mirroring
//! transformers' GGUF conversion (see the parent module's docs for what and why).

use std::collections::{HashMap, HashSet};

use candle_core::quantized::gguf_file::{Content, Value};

use super::{tk_err, TokenizerError};
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper, SplitDelimiterBehavior};

// ---------------------------------------------------------------------------------------------
// GGUF metadata

/// llama.cpp token types (`tokenizer.ggml.token_type`).
const TOKEN_TYPE_CONTROL: i64 = 3;
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// The `tokenizer.ggml.*` keys transformers reads, with their values.
#[derive(Debug)]
pub(super) struct GgufTokenizerMeta {
    flavor: Flavor,
    pre: Option<String>,
    tokens: Vec<String>,
    scores: Option<Vec<f64>>,
    token_types: Option<Vec<i64>>,
    merges: Option<Vec<String>>,
    pub(super) bos_id: Option<u32>,
    pub(super) eos_id: Option<u32>,
    unk_id: Option<u32>,
    pad_id: Option<u32>,
    add_bos: Option<bool>,
    add_eos: Option<bool>,
}

const KEY_MODEL: &str = "tokenizer.ggml.model";
const KEY_PRE: &str = "tokenizer.ggml.pre";
const KEY_TOKENS: &str = "tokenizer.ggml.tokens";
const KEY_SCORES: &str = "tokenizer.ggml.scores";
const KEY_TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
const KEY_MERGES: &str = "tokenizer.ggml.merges";
const KEY_BOS: &str = "tokenizer.ggml.bos_token_id";
const KEY_EOS: &str = "tokenizer.ggml.eos_token_id";
const KEY_UNK: &str = "tokenizer.ggml.unknown_token_id";
const KEY_PAD: &str = "tokenizer.ggml.padding_token_id";
const KEY_ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
const KEY_ADD_EOS: &str = "tokenizer.ggml.add_eos_token";
const KEY_ARCH: &str = "general.architecture";

fn describe(v: &Value) -> String {
    match v {
        Value::U8(x) => format!("u8 {x}"),
        Value::I8(x) => format!("i8 {x}"),
        Value::U16(x) => format!("u16 {x}"),
        Value::I16(x) => format!("i16 {x}"),
        Value::U32(x) => format!("u32 {x}"),
        Value::I32(x) => format!("i32 {x}"),
        Value::U64(x) => format!("u64 {x}"),
        Value::I64(x) => format!("i64 {x}"),
        Value::F32(x) => format!("f32 {x}"),
        Value::F64(x) => format!("f64 {x}"),
        Value::Bool(x) => format!("bool {x}"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            format!("string {short:?}")
        }
        Value::Array(a) => match a.first() {
            Some(first) => format!("array of {} (first: {})", a.len(), describe(first)),
            None => "empty array".to_string(),
        },
    }
}

fn bad(key: &str, expected: &str, got: &Value) -> TokenizerError {
    TokenizerError::BadValue { key: key.to_string(), expected: expected.to_string(), got: describe(got) }
}

fn as_i64(v: &Value) -> Option<i64> {
    match *v {
        Value::U8(x) => Some(x.into()),
        Value::I8(x) => Some(x.into()),
        Value::U16(x) => Some(x.into()),
        Value::I16(x) => Some(x.into()),
        Value::U32(x) => Some(x.into()),
        Value::I32(x) => Some(x.into()),
        Value::U64(x) => i64::try_from(x).ok(),
        Value::I64(x) => Some(x),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match *v {
        Value::F32(x) => Some(x.into()),
        Value::F64(x) => Some(x),
        _ => as_i64(v).map(|x| x as f64),
    }
}

impl GgufTokenizerMeta {
    pub(super) fn read(content: &Content) -> Result<Self, TokenizerError> {
        let md = &content.metadata;
        let string = |key: &str| -> Result<Option<String>, TokenizerError> {
            match md.get(key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(bad(key, "a string", v)),
            }
        };
        let id = |key: &str| -> Result<Option<u32>, TokenizerError> {
            match md.get(key) {
                None => Ok(None),
                Some(v) => {
                    as_i64(v).and_then(|x| u32::try_from(x).ok()).map(Some).ok_or_else(|| bad(key, "a non-negative integer token id", v))
                }
            }
        };
        let flag = |key: &str| -> Result<Option<bool>, TokenizerError> {
            match md.get(key) {
                None => Ok(None),
                Some(Value::Bool(b)) => Ok(Some(*b)),
                Some(v) => Err(bad(key, "a bool", v)),
            }
        };
        let array = |key: &str| -> Result<Option<&Vec<Value>>, TokenizerError> {
            match md.get(key) {
                None => Ok(None),
                Some(Value::Array(a)) => Ok(Some(a)),
                Some(v) => Err(bad(key, "an array", v)),
            }
        };
        let strings = |key: &str| -> Result<Option<Vec<String>>, TokenizerError> {
            array(key)?
                .map(|a| {
                    a.iter()
                        .map(|v| match v {
                            Value::String(s) => Ok(s.clone()),
                            v => Err(bad(key, "an array of strings", v)),
                        })
                        .collect()
                })
                .transpose()
        };

        let model = string(KEY_MODEL)?.ok_or_else(|| TokenizerError::MissingKey { key: KEY_MODEL.to_string() })?;
        let architecture = string(KEY_ARCH)?.unwrap_or_default();
        let flavor = Flavor::select(&architecture, &model)?;
        let tokens = strings(KEY_TOKENS)?.ok_or_else(|| TokenizerError::MissingKey { key: KEY_TOKENS.to_string() })?;
        let scores = array(KEY_SCORES)?
            .map(|a| a.iter().map(|v| as_f64(v).ok_or_else(|| bad(KEY_SCORES, "an array of numbers", v))).collect::<Result<Vec<f64>, _>>())
            .transpose()?;
        let token_types = array(KEY_TOKEN_TYPE)?
            .map(|a| {
                a.iter().map(|v| as_i64(v).ok_or_else(|| bad(KEY_TOKEN_TYPE, "an array of integers", v))).collect::<Result<Vec<i64>, _>>()
            })
            .transpose()?;
        let n = tokens.len();
        for (key, len) in [(KEY_SCORES, scores.as_ref().map(Vec::len)), (KEY_TOKEN_TYPE, token_types.as_ref().map(Vec::len))] {
            if let Some(len) = len {
                if len != n {
                    return Err(TokenizerError::BadValue {
                        key: key.to_string(),
                        expected: format!("{n} entries (one per token)"),
                        got: format!("{len} entries"),
                    });
                }
            }
        }
        let meta = GgufTokenizerMeta {
            flavor,
            pre: string(KEY_PRE)?,
            tokens,
            scores,
            token_types,
            merges: strings(KEY_MERGES)?,
            bos_id: id(KEY_BOS)?,
            eos_id: id(KEY_EOS)?,
            unk_id: id(KEY_UNK)?,
            pad_id: id(KEY_PAD)?,
            add_bos: flag(KEY_ADD_BOS)?,
            add_eos: flag(KEY_ADD_EOS)?,
        };
        for (key, tid) in [(KEY_BOS, meta.bos_id), (KEY_EOS, meta.eos_id), (KEY_UNK, meta.unk_id), (KEY_PAD, meta.pad_id)] {
            if let Some(tid) = tid {
                if tid as usize >= n {
                    return Err(TokenizerError::BadValue {
                        key: key.to_string(),
                        expected: format!("a token id below the vocabulary size {n}"),
                        got: tid.to_string(),
                    });
                }
            }
        }
        Ok(meta)
    }

    fn token(&self, id: Option<u32>) -> Option<&str> {
        id.and_then(|i| self.tokens.get(i as usize)).map(String::as_str)
    }
}

// ---------------------------------------------------------------------------------------------
// Building (mirrors transformers' `convert_gguf_tokenizer`)

/// Which transformers tokenizer class a GGUF maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// `GPT2Tokenizer`: byte-level BPE.
    ByteLevel,
    /// `LlamaTokenizer`: SentencePiece BPE, `Metaspace` pre-tokenizer.
    Llama,
    /// `LlamaTokenizer` with Phi-3's normalizer.
    Phi3,
    /// `GemmaTokenizer` with Gemma 1-3's re-spelled whitespace tokens and position-ordered merges.
    Gemma,
    /// `GemmaTokenizer` for `tokenizer.ggml.model = gemma4`.
    Gemma4,
}

impl Flavor {
    fn select(architecture: &str, model: &str) -> Result<Flavor, TokenizerError> {
        match (model, architecture) {
            ("llama", "gemma" | "gemma2" | "gemma3") => Ok(Flavor::Gemma),
            ("llama", "phi3") => Ok(Flavor::Phi3),
            ("llama", _) => Ok(Flavor::Llama),
            ("gpt2", _) => Ok(Flavor::ByteLevel),
            ("gemma4", _) => Ok(Flavor::Gemma4),
            _ => Err(TokenizerError::UnsupportedModel { model: model.to_string() }),
        }
    }

    /// The special tokens the transformers class adds by default (its `unk/bos/eos/pad/mask`).
    fn class_default_specials(self) -> &'static [&'static str] {
        match self {
            Flavor::ByteLevel => &["<|endoftext|>"],
            Flavor::Llama | Flavor::Phi3 => &["<unk>", "<s>", "</s>"],
            Flavor::Gemma | Flavor::Gemma4 => &["<unk>", "<bos>", "<eos>", "<pad>", "<mask>"],
        }
    }
}

pub(super) struct Built {
    pub(super) inner: tokenizers::Tokenizer,
    pub(super) add_bos: bool,
}

const LLAMA3_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const TEKKEN_SPLIT: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const GPT4O_SPLIT: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN35_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// transformers' `GGUF_PRE_TOKENIZER_SPLITS`: `tokenizer.ggml.pre` values with their own split regex.
const PRE_SPLITS: &[(&str, &str)] = &[
    ("llama3", LLAMA3_SPLIT),
    ("llama-v3", LLAMA3_SPLIT),
    ("llama-bpe", LLAMA3_SPLIT),
    ("falcon3", LLAMA3_SPLIT),
    ("falcon-h1", LLAMA3_SPLIT),
    ("pixtral", LLAMA3_SPLIT),
    ("midm-2.0", LLAMA3_SPLIT),
    ("lfm2", LLAMA3_SPLIT),
    ("jina-v5-nano", LLAMA3_SPLIT),
    ("dbrx", LLAMA3_SPLIT),
    ("smaug-bpe", LLAMA3_SPLIT),
    ("tekken", TEKKEN_SPLIT),
    ("qwen2", QWEN2_SPLIT),
    ("deepseek-r1-qwen", QWEN2_SPLIT),
    ("kormo", QWEN2_SPLIT),
    ("f2llmv2", QWEN2_SPLIT),
    ("megrez", QWEN2_SPLIT),
    ("qwen35", QWEN35_SPLIT),
    ("gpt-4o", GPT4O_SPLIT),
    ("llama4", GPT4O_SPLIT),
    ("kanana2", GPT4O_SPLIT),
    ("talkie", GPT4O_SPLIT),
    ("minimax-m2", GPT4O_SPLIT),
];

/// `tokenizer.ggml.pre` values for which transformers keeps `GPT2Tokenizer`'s own pre-tokenizer
/// (the GPT-2 regex). transformers does this for *any* value it does not know; we accept only these
/// and refuse the rest, since a wrong split silently changes ids. (For `smollm`, llama.cpp also
/// isolates every digit first; SmolLM's vocabulary has no token containing a digit next to anything
/// else, so ids are the same either way.)
const PRE_GPT2: &[&str] = &["default", "gpt-2", "gpt2", "smollm"];

fn pre_split(pre: Option<&str>) -> Option<&'static str> {
    let pre = pre?;
    PRE_SPLITS.iter().find(|(k, _)| *k == pre).map(|(_, v)| *v)
}

fn known_pres() -> String {
    let mut all: Vec<&str> = PRE_GPT2.to_vec();
    all.extend(PRE_SPLITS.iter().map(|(k, _)| *k));
    all.join(", ")
}

/// GPT-2's reversible byte → printable-char table (`bytes_to_unicode`).
fn bytes_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for (b, slot) in table.iter_mut().enumerate() {
        let printable = (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || b >= 0xae;
        let code = if printable {
            b as u32
        } else {
            extra += 1;
            255 + extra
        };
        // All codes are below 0x200, valid scalar values.
        *slot = char::from_u32(code).unwrap_or('\u{fffd}');
    }
    table
}

/// Python's `str.isspace` for one character (Unicode White_Space plus the information separators
/// U+001C..U+001F, which Python also counts).
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// transformers' `generate_merges(vocab, vocab_scores)` (the `reverse=True` branch, the only one GGUF
/// conversion uses): every split `left + right` of each scored token where both halves are in the
/// vocabulary, ordered by `(score, len(left), len(right))` descending (lengths in characters), ties
/// kept in token order, and within one token in `(vocab[left], vocab[right])` order.
///
/// `scored` lists the distinct tokens in first-appearance order with their scores (Python dict
/// semantics); `vocab` maps a token to its id (last appearance wins).
fn generate_merges(vocab: &HashMap<&str, u32>, scored: &[(&str, f64)]) -> Vec<(String, String)> {
    struct Cand<'a> {
        left: &'a str,
        right: &'a str,
        score: f64,
        left_chars: usize,
        right_chars: usize,
    }
    let mut all: Vec<Cand> = Vec::new();
    let mut local: Vec<(u32, u32, Cand)> = Vec::new();
    for &(token, score) in scored {
        // Python sorts -0.0 and 0.0 as equal; NaN has no consistent order there, put it last.
        let score = if score.is_nan() { f64::NEG_INFINITY } else { score + 0.0 };
        let total = token.chars().count();
        local.clear();
        for (k, (i, _)) in token.char_indices().enumerate().skip(1) {
            let (left, right) = token.split_at(i);
            // Look the right half up only when the left one is there.
            let Some(&l) = vocab.get(left) else { continue };
            if let Some(&r) = vocab.get(right) {
                local.push((l, r, Cand { left, right, score, left_chars: k, right_chars: total - k }));
            }
        }
        local.sort_by_key(|&(l, r, _)| (l, r));
        all.extend(local.drain(..).map(|(_, _, c)| c));
    }
    // Stable sort, descending on every key (Python's `sorted(..., reverse=True)` is stable too).
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.left_chars.cmp(&a.left_chars)).then(b.right_chars.cmp(&a.right_chars)));
    all.into_iter().map(|c| (c.left.to_string(), c.right.to_string())).collect()
}

/// `tokens` as `(token, value)` in Python-dict order: first appearance decides the position, the last
/// appearance the value.
fn dict_order<'a>(tokens: impl Iterator<Item = (&'a str, f64)>) -> Vec<(&'a str, f64)> {
    let mut pos: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<(&str, f64)> = Vec::new();
    for (t, v) in tokens {
        match pos.get(t) {
            Some(&p) => out[p].1 = v,
            None => {
                pos.insert(t, out.len());
                out.push((t, v));
            }
        }
    }
    out
}

fn file_merges(merges: &[String]) -> Result<Vec<(String, String)>, TokenizerError> {
    merges
        .iter()
        .map(|m| {
            m.split_once(' ').filter(|(_, r)| !r.contains(' ')).map(|(l, r)| (l.to_string(), r.to_string())).ok_or_else(|| {
                TokenizerError::BadValue {
                    key: KEY_MERGES.to_string(),
                    expected: "merges of the form \"left right\"".to_string(),
                    got: format!("{m:?}"),
                }
            })
        })
        .collect()
}

pub(super) fn build_from_meta(meta: &GgufTokenizerMeta) -> Result<Built, TokenizerError> {
    let flavor = meta.flavor;
    let split = pre_split(meta.pre.as_deref());
    if flavor == Flavor::ByteLevel && split.is_none() {
        if let Some(pre) = meta.pre.as_deref() {
            if !PRE_GPT2.contains(&pre) {
                return Err(TokenizerError::UnsupportedPre { pre: pre.to_string(), known: known_pres() });
            }
        }
    }

    // The vocabulary as the model sees it: Gemma re-spells whitespace-only tokens containing a space
    // as "▁" runs; byte-level vocabularies spell every token in the GPT-2 byte alphabet.
    let byte_chars = bytes_to_unicode();
    let byte_alphabet: HashSet<char> = byte_chars.iter().copied().collect();
    let in_alphabet = |t: &str| t.chars().all(|c| byte_alphabet.contains(&c));
    let spelled: Vec<String> = match flavor {
        Flavor::Gemma => meta
            .tokens
            .iter()
            .map(|t| if t.contains(' ') && t.chars().all(py_isspace) { "\u{2581}".repeat(t.chars().count()) } else { t.clone() })
            .collect(),
        Flavor::ByteLevel => meta
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                // The named specials (bos, eos, unk, pad) keep their text even outside the
                // byte alphabet (DeepSeek-R1's `<｜begin▁of▁sentence｜>`): they are added as
                // special tokens below, which needs the vocabulary to know them by that text.
                let named = [meta.bos_id, meta.eos_id, meta.unk_id, meta.pad_id].contains(&Some(i as u32));
                if in_alphabet(t) || named {
                    t.clone()
                } else {
                    t.bytes().map(|b| byte_chars[b as usize]).collect()
                }
            })
            .collect(),
        _ => meta.tokens.clone(),
    };

    let merges = match &meta.merges {
        Some(m) => file_merges(m)?,
        None => {
            // Rebuilt from the vocabulary, as transformers' `get_merges` does. Note that for
            // byte-level files transformers uses the file's spelling here, not the re-spelled one.
            let base: &[String] = if flavor == Flavor::Gemma { &spelled } else { &meta.tokens };
            let mut vocab: HashMap<&str, u32> = HashMap::with_capacity(base.len());
            for (i, t) in base.iter().enumerate() {
                vocab.insert(t.as_str(), i as u32);
            }
            let scored = if flavor == Flavor::Gemma {
                // Gemma's scores do not follow its merge order; the file order does.
                dict_order(base.iter().enumerate().map(|(i, t)| (t.as_str(), -(i as f64))))
            } else {
                let scores = meta
                    .scores
                    .as_ref()
                    .ok_or_else(|| TokenizerError::MissingKey { key: format!("{KEY_MERGES} (or {KEY_SCORES} to rebuild them)") })?;
                dict_order(base.iter().map(String::as_str).zip(scores.iter().copied()))
            };
            generate_merges(&vocab, &scored)
        }
    };

    let mut vocab: Vocab = Vocab::with_capacity(spelled.len());
    for (i, t) in spelled.iter().enumerate() {
        vocab.insert(t.clone(), i as u32);
    }
    let bpe = match flavor {
        Flavor::ByteLevel => BPE::builder()
            .vocab_and_merges(vocab, merges)
            .continuing_subword_prefix(String::new())
            .end_of_word_suffix(String::new())
            .fuse_unk(false)
            .build(),
        Flavor::Llama | Flavor::Phi3 => BPE::builder().vocab_and_merges(vocab, merges).fuse_unk(true).byte_fallback(true).build(),
        Flavor::Gemma | Flavor::Gemma4 => {
            BPE::builder().vocab_and_merges(vocab, merges).fuse_unk(true).unk_token("<unk>".to_string()).byte_fallback(true).build()
        }
    }
    .map_err(tk_err)?;

    let mut tok = tokenizers::Tokenizer::new(bpe);
    let (normalizer, pre_tokenizer, decoder) = components(flavor)?;
    tok.with_normalizer(normalizer).map_err(tk_err)?;
    tok.with_pre_tokenizer(pre_tokenizer);
    tok.with_decoder(Some(decoder));

    // Special tokens, in transformers' order: the class defaults, the file's named ids, then tokens
    // typed CONTROL (special) and USER_DEFINED (not special). Only texts the vocabulary has are
    // added (see the module docs).
    let special = |content: &str| AddedToken::from(content.to_string(), true).normalized(false).special(true);
    let mut named: Vec<AddedToken> = Vec::new();
    for content in flavor
        .class_default_specials()
        .iter()
        .copied()
        .chain([meta.bos_id, meta.eos_id, meta.unk_id, meta.pad_id].into_iter().filter_map(|id| meta.token(id)))
    {
        if tok.token_to_id(content).is_some() {
            named.push(special(content));
        }
    }
    tok.add_special_tokens(named).map_err(tk_err)?;

    if let Some(types) = &meta.token_types {
        let control: Vec<AddedToken> = meta
            .tokens
            .iter()
            .zip(types)
            .filter(|(t, &ty)| {
                ty == TOKEN_TYPE_CONTROL
                    // In a byte-level vocabulary a CONTROL token outside the byte alphabet is a
                    // llama.cpp mislabel; transformers skips it.
                    && (flavor != Flavor::ByteLevel || in_alphabet(t))
                    && tok.token_to_id(t).is_some()
            })
            .map(|(t, _)| special(t))
            .collect();
        tok.add_special_tokens(control).map_err(tk_err)?;
        let user: Vec<AddedToken> = meta
            .tokens
            .iter()
            .zip(types)
            .filter(|(t, &ty)| ty == TOKEN_TYPE_USER_DEFINED && tok.token_to_id(t).is_some())
            .map(|(t, _)| AddedToken::from(t.clone(), false).normalized(false).special(false))
            .collect();
        tok.add_tokens(user).map_err(tk_err)?;
    }

    if let Some(regex) = split {
        let split = Split::new(SplitPattern::Regex(regex.to_string()), SplitDelimiterBehavior::Isolated, false).map_err(tk_err)?;
        tok.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(PreTokenizerSequence::new(vec![
            split.into(),
            ByteLevel::new(false, true, false).into(),
        ]))));
    }

    // bos/eos as transformers' `update_post_processor` sets them.
    let bos = meta.token(meta.bos_id);
    let eos = meta.token(meta.eos_id);
    let add_bos = match flavor {
        Flavor::Gemma4 => false,
        Flavor::Llama | Flavor::Phi3 | Flavor::Gemma => meta.add_bos.unwrap_or(true),
        Flavor::ByteLevel => meta.add_bos.unwrap_or(false),
    } && bos.is_some();
    let add_eos = meta.add_eos.unwrap_or(false) && eos.is_some();
    let post = template(&tok, if add_bos { bos } else { None }, if add_eos { eos } else { None })?;
    tok.with_post_processor(Some(post));

    Ok(Built { inner: tok, add_bos })
}

type Components = (Option<NormalizerWrapper>, Option<PreTokenizerWrapper>, DecoderWrapper);

/// Normalizer, pre-tokenizer and decoder of the transformers class for `flavor`.
fn components(flavor: Flavor) -> Result<Components, TokenizerError> {
    let sp_decoder = |strip: bool| {
        let mut seq: Vec<DecoderWrapper> = vec![
            tokenizers::decoders::DecoderWrapper::Replace(Replace::new("\u{2581}", " ").map_err(tk_err)?),
            ByteFallback::new().into(),
            Fuse::new().into(),
        ];
        if strip {
            seq.push(Strip::new(' ', 1, 0).into());
        }
        Ok::<_, TokenizerError>(DecoderWrapper::Sequence(DecoderSequence::new(seq)))
    };
    Ok(match flavor {
        Flavor::ByteLevel => (None, Some(ByteLevel::new(false, true, true).into()), ByteLevel::default().into()),
        Flavor::Llama => (None, Some(Metaspace::new('\u{2581}', PrependScheme::First, false).into()), sp_decoder(true)?),
        Flavor::Phi3 => (
            Some(NormalizerWrapper::Sequence(NormalizerSequence::new(vec![
                Prepend::new("\u{2581}".to_string()).into(),
                Replace::new(" ", "\u{2581}").map_err(tk_err)?.into(),
            ]))),
            None,
            sp_decoder(true)?,
        ),
        Flavor::Gemma | Flavor::Gemma4 => (
            Some(Replace::new(" ", "\u{2581}").map_err(tk_err)?.into()),
            Some(Split::new(" ", SplitDelimiterBehavior::MergedWithPrevious, false).map_err(tk_err)?.into()),
            sp_decoder(false)?,
        ),
    })
}

/// transformers' `TemplateProcessing`: `[bos:0] $A:0 [eos:0]`, pair `... [bos:1] $B:1 [eos:1]`.
fn template(tok: &tokenizers::Tokenizer, bos: Option<&str>, eos: Option<&str>) -> Result<PostProcessorWrapper, TokenizerError> {
    use serde_json::json;
    let special = |t: &str, type_id: u32| json!({"SpecialToken": {"id": t, "type_id": type_id}});
    let seq = |s: &str, type_id: u32| json!({"Sequence": {"id": s, "type_id": type_id}});
    let mut single = Vec::new();
    let mut pair = Vec::new();
    let mut specials = serde_json::Map::new();
    for (seq_id, type_id) in [("A", 0u32), ("B", 1u32)] {
        if let Some(b) = bos {
            pair.push(special(b, type_id));
        }
        pair.push(seq(seq_id, type_id));
        if let Some(e) = eos {
            pair.push(special(e, type_id));
        }
        if seq_id == "A" {
            single.clone_from(&pair);
        }
    }
    for t in [bos, eos].into_iter().flatten() {
        let id = tok.token_to_id(t).ok_or_else(|| TokenizerError::Tokenizers(format!("special token {t:?} has no id")))?;
        specials.insert(t.to_string(), json!({"id": t, "ids": [id], "tokens": [t]}));
    }
    let value = json!({
        "type": "TemplateProcessing",
        "single": single,
        "pair": pair,
        "special_tokens": specials,
    });
    serde_json::from_value(value).map_err(tk_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::Tokenizer;
    use candle_core::quantized::gguf_file::VersionedMagic;
    use std::path::Path;

    fn content(entries: Vec<(&str, Value)>) -> Content {
        Content {
            magic: VersionedMagic::GgufV3,
            metadata: entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            tensor_infos: HashMap::new(),
            tensor_data_offset: 0,
        }
    }

    fn strs(v: &[&str]) -> Value {
        Value::Array(v.iter().map(|s| Value::String(s.to_string())).collect())
    }

    /// A tiny SentencePiece-style (Gemma) vocabulary without merges.
    fn gemma_like() -> Content {
        let mut tokens = vec!["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "  "];
        let bytes: Vec<String> = (0..=255u8).map(|b| format!("<0x{b:02X}>")).collect();
        tokens.extend(bytes.iter().map(String::as_str));
        tokens.extend(["a", "b", "ab", "▁", "▁a", "▁ab", "ba", "aba"]);
        let mut types = vec![3, 3, 3, 3, 3, 4];
        types.extend(std::iter::repeat_n(6, 256));
        types.extend(std::iter::repeat_n(1, tokens.len() - types.len()));
        let n = tokens.len();
        content(vec![
            (KEY_ARCH, Value::String("gemma3".into())),
            (KEY_MODEL, Value::String("llama".into())),
            (KEY_PRE, Value::String("default".into())),
            (KEY_TOKENS, strs(&tokens)),
            (KEY_SCORES, Value::Array((0..n).map(|i| Value::F32(-(i as f32))).collect())),
            (KEY_TOKEN_TYPE, Value::Array(types.into_iter().map(Value::I32).collect())),
            (KEY_BOS, Value::U32(2)),
            (KEY_EOS, Value::U32(1)),
            (KEY_UNK, Value::U32(3)),
            (KEY_PAD, Value::U32(0)),
            (KEY_ADD_BOS, Value::Bool(true)),
        ])
    }

    #[test]
    fn byte_table_is_gpt2s() {
        let t = bytes_to_unicode();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[0], 'Ā');
        let distinct: HashSet<char> = t.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
    }

    #[test]
    fn merges_follow_transformers_generate_merges() {
        // Expected from transformers' generate_merges on the same input:
        // vocab = {a:0, b:1, ab:2, ba:3, aba:4, abab:5}, scores = {t: -i}.
        let toks = ["a", "b", "ab", "ba", "aba", "abab"];
        let vocab: HashMap<&str, u32> = toks.iter().enumerate().map(|(i, t)| (*t, i as u32)).collect();
        let scored = dict_order(toks.iter().enumerate().map(|(i, t)| (*t, -(i as f64))));
        let merges = generate_merges(&vocab, &scored);
        let got: Vec<(&str, &str)> = merges.iter().map(|(l, r)| (l.as_str(), r.as_str())).collect();
        assert_eq!(got, vec![("a", "b"), ("b", "a"), ("ab", "a"), ("a", "ba"), ("aba", "b"), ("ab", "ab"),]);
    }

    #[test]
    fn dict_order_keeps_first_position_last_value() {
        let d = dict_order([("x", 1.0), ("y", 2.0), ("x", 3.0)].into_iter());
        assert_eq!(d, vec![("x", 3.0), ("y", 2.0)]);
    }

    #[test]
    fn gemma_like_tokenizer_from_metadata() {
        let tok = Tokenizer::from_gguf(&gemma_like()).unwrap();
        assert!(tok.add_bos_default());
        assert_eq!(tok.bos_id(), Some(2));
        assert_eq!(tok.eos_id(), Some(1));
        let a = tok.piece_to_id("a").unwrap();
        let ab = tok.piece_to_id("ab").unwrap();
        let sp_ab = tok.piece_to_id("▁ab").unwrap();
        assert_eq!(tok.encode("ab ab", true).unwrap(), vec![2, ab, sp_ab]);
        assert_eq!(tok.encode("ab ab", false).unwrap(), vec![ab, sp_ab]);
        // Control tokens in the text are matched whole; bos in the text is kept as text.
        assert_eq!(tok.encode("<start_of_turn>a", true).unwrap(), vec![2, 4, a]);
        assert_eq!(tok.encode("<bos>a", true).unwrap(), vec![2, 2, a]);
        // The "  " token is re-spelled "▁▁".
        assert_eq!(tok.id_to_piece(5).as_deref(), Some("▁▁"));
        // Byte fallback for characters outside the vocabulary.
        let ids = tok.encode("é", false).unwrap();
        assert_eq!(ids, vec![6 + 0xC3, 6 + 0xA9]);
        assert_eq!(tok.decode(&ids).unwrap(), "é");
        let (ids, offs) = tok.encode_with_offsets("ab ab", true).unwrap();
        assert_eq!(ids.len(), offs.len());
        assert_eq!(offs, vec![(0, 0), (0, 2), (2, 5)]);
        assert_eq!(tok.decode(&tok.encode("ab ab", true).unwrap()).unwrap(), "ab ab");
    }

    fn byte_level(pre: &str) -> Content {
        let tokens = ["<|endoftext|>", "h", "i", "Ġ", "Ġx", "hi", "Ġhi", "Ċ", "1", "2", "12"];
        content(vec![
            (KEY_ARCH, Value::String("llama".into())),
            (KEY_MODEL, Value::String("gpt2".into())),
            (KEY_PRE, Value::String(pre.into())),
            (KEY_TOKENS, strs(&tokens)),
            (
                KEY_TOKEN_TYPE,
                Value::Array(std::iter::once(Value::I32(3)).chain(std::iter::repeat_n(Value::I32(1), tokens.len() - 1)).collect()),
            ),
            (KEY_MERGES, strs(&["h i", "Ġ hi", "1 2"])),
            (KEY_BOS, Value::U32(0)),
            (KEY_EOS, Value::U32(0)),
        ])
    }

    #[test]
    fn byte_level_tokenizer_from_metadata() {
        let tok = Tokenizer::from_gguf(&byte_level("smollm")).unwrap();
        assert!(!tok.add_bos_default());
        assert_eq!(tok.encode("hi hi\n", false).unwrap(), vec![5, 6, 7]);
        assert_eq!(tok.encode("hi", true).unwrap(), vec![0, 5]);
        assert_eq!(tok.encode("<|endoftext|>hi", false).unwrap(), vec![0, 5]);
        assert_eq!(tok.decode(&[5, 6, 7]).unwrap(), "hi hi\n");
        assert_eq!(tok.id_to_piece(6).as_deref(), Some("Ġhi"));
        // llama3's regex splits digits in groups of three, GPT-2's keeps them whole.
        let tok = Tokenizer::from_gguf(&byte_level("llama-bpe")).unwrap();
        assert_eq!(tok.encode("12", false).unwrap(), vec![10]);
        let tok = Tokenizer::from_gguf(&byte_level("qwen2")).unwrap();
        assert_eq!(tok.encode("12", false).unwrap(), vec![8, 9]);
    }

    #[test]
    fn unknown_pre_is_refused() {
        let err = Tokenizer::from_gguf(&byte_level("martian")).unwrap_err();
        assert!(matches!(&err, TokenizerError::UnsupportedPre { pre, .. } if pre == "martian"));
        assert!(err.to_string().contains("tokenizer.ggml.pre = martian"));
    }

    #[test]
    fn unsupported_model_and_missing_keys() {
        let err = Tokenizer::from_gguf(&content(vec![(KEY_MODEL, Value::String("t5".into()))])).unwrap_err();
        assert!(matches!(&err, TokenizerError::UnsupportedModel { model } if model == "t5"), "{err}");
        let err = Tokenizer::from_gguf(&content(vec![])).unwrap_err();
        assert!(err.to_string().contains(KEY_MODEL), "{err}");
        let err = Tokenizer::from_gguf(&content(vec![(KEY_MODEL, Value::String("llama".into()))])).unwrap_err();
        assert!(err.to_string().contains(KEY_TOKENS), "{err}");
        let mut c = byte_level("gpt-2");
        c.metadata.insert(KEY_BOS.into(), Value::String("x".into()));
        let err = Tokenizer::from_gguf(&c).unwrap_err();
        assert!(matches!(err, TokenizerError::BadValue { .. }), "{err}");
        let mut c = byte_level("gpt-2");
        c.metadata.insert(KEY_BOS.into(), Value::U32(99));
        assert!(Tokenizer::from_gguf(&c).is_err());
    }

    #[test]
    fn hf_file_bos_is_never_doubled() {
        let dir = std::env::temp_dir().join(format!("saex-tokenizer-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A tokenizer.json whose post-processor prepends bos itself (Gemma-style) ...
        let gemma = Tokenizer::from_gguf(&gemma_like()).unwrap();
        let path = dir.join("gemma.json");
        std::fs::write(&path, gemma.hf_tokenizer().to_string(false).unwrap()).unwrap();
        let tok = Tokenizer::from_hf_file(&path, Some(2), Some(1), true).unwrap();
        assert!(tok.add_bos_default());
        let ab = tok.piece_to_id("ab").unwrap();
        assert_eq!(tok.encode("ab", true).unwrap(), vec![2, ab]);
        assert_eq!(tok.encode("ab", false).unwrap(), vec![ab]);
        assert_eq!(tok.encode_with_offsets("ab", true).unwrap().1, vec![(0, 0), (0, 2)]);
        // ... and one whose post-processor adds nothing (byte-level).
        let bl = Tokenizer::from_gguf(&byte_level("gpt-2")).unwrap();
        let path = dir.join("bl.json");
        std::fs::write(&path, bl.hf_tokenizer().to_string(false).unwrap()).unwrap();
        let tok = Tokenizer::from_hf_file(&path, Some(0), Some(0), false).unwrap();
        assert!(!tok.add_bos_default());
        assert_eq!(tok.encode("hi", false).unwrap(), vec![5]);
        assert_eq!(tok.encode("hi", true).unwrap(), vec![0, 5]);
        assert_eq!(tok.encode_with_offsets("hi", true).unwrap().1, vec![(0, 0), (0, 2)]);
        // No bos id: add_bos has nothing to add.
        let tok = Tokenizer::from_hf_file(&path, None, None, true).unwrap();
        assert!(!tok.add_bos_default());
        assert_eq!(tok.encode("hi", true).unwrap(), vec![5]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn hf_file_errors_name_the_path() {
        let path = Path::new("/nonexistent/tokenizer.json");
        let err = Tokenizer::from_hf_file(path, None, None, false).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/tokenizer.json"), "{err}");
    }
}
