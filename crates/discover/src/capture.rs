//! Step 1–2 of discovery: run (and generate), capture each selected SAE's hook, encode. The
//! result is all later steps need, so it is what the disk cache stores: changing the score
//! mode, τ, K or the gate re-scores without touching the model.

use std::sync::atomic::{AtomicBool, Ordering};

use saex_cache::{Key, Lookup};
use saex_model::Sampling;
use saex_sae::SparseActs;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::filter;
use crate::request::{DiscoverRequest, Input, TokenFilter};
use crate::session::Session;
use crate::text;

/// One input's tokens and, per selected SAE, its codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Captured {
    /// The analysed text (prompt + generation).
    pub text: String,
    /// Token ids, bos included.
    pub tokens: Vec<u32>,
    /// Byte span of each token in `text` (bos: `(0, 0)`).
    pub offsets: Vec<(usize, usize)>,
    /// Whether token 0 is bos.
    pub has_bos: bool,
    /// Tokens of the prompt (bos included); the rest were generated.
    pub n_prompt: usize,
    /// Next-token entropy per token (when the entropy filter asked for logits).
    pub entropy: Option<Vec<f32>>,
    /// Per selected SAE, in selection order.
    pub saes: Vec<CapturedSae>,
}

/// One SAE's view of the sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapturedSae {
    /// L2 norm of the SAE's input per token.
    pub norms: Vec<f32>,
    /// CSR row offsets of the codes.
    pub indptr: Vec<usize>,
    /// Active features.
    pub features: Vec<u32>,
    /// Their activations.
    pub values: Vec<f32>,
    /// The SAE's width.
    pub d_sae: usize,
}

impl CapturedSae {
    /// The codes as [`SparseActs`].
    pub fn acts(&self) -> SparseActs {
        SparseActs { indptr: self.indptr.clone(), features: self.features.clone(), values: self.values.clone(), d_sae: self.d_sae }
    }
}

impl Captured {
    /// Internal consistency, checked on every cache hit: a stale or foreign entry that
    /// passed its checksum must still never be trusted blindly.
    fn consistent(&self, n_saes: usize) -> bool {
        let n = self.tokens.len();
        self.offsets.len() == n
            && self.n_prompt <= n
            && self.offsets.iter().all(|&(a, b)| a <= b && b <= self.text.len())
            && self.entropy.as_ref().is_none_or(|e| e.len() == n)
            && self.saes.len() == n_saes
            && self.saes.iter().all(|s| {
                s.norms.len() == n
                    && s.indptr.len() == n + 1
                    && s.indptr.first() == Some(&0)
                    && s.indptr.windows(2).all(|w| w[0] <= w[1])
                    && s.indptr.last() == Some(&s.values.len())
                    && s.features.len() == s.values.len()
                    && s.features.iter().all(|&f| (f as usize) < s.d_sae)
            })
    }
}

fn sampling(req: &DiscoverRequest) -> Sampling {
    Sampling { temperature: req.temperature, top_p: req.top_p, seed: req.seed }
}

fn cache_key(session: &Session, sel: &[usize], input: &Input, req: &DiscoverRequest, entropy: bool) -> Result<Key> {
    let mut parts: Vec<Vec<u8>> = vec![b"saex-discover-capture-v1".to_vec(), session.model_fingerprint()?.as_bytes().to_vec()];
    for &i in sel {
        parts.push(session.sae_fingerprint(i)?.as_bytes().to_vec());
        parts.push(session.saes[i].hook.to_string().into_bytes());
    }
    let (kind, s) = match input {
        Input::Text(s) => ("text", s),
        Input::Prompt(s) => ("prompt", s),
        Input::Generate(s) => ("generate", s),
    };
    parts.push(kind.as_bytes().to_vec());
    parts.push(s.as_bytes().to_vec());
    parts.push(vec![u8::from(session.model.add_bos()), u8::from(entropy)]);
    if matches!(input, Input::Generate(_)) {
        let s = sampling(req);
        parts.push(format!("{} {} {} {}", req.gen_tokens, s.temperature, s.top_p, s.seed).into_bytes());
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(Key::of(&refs))
}

/// Capture `input` for the SAEs `sel`, through the cache when the session has one.
pub fn capture(session: &Session, sel: &[usize], input: &Input, req: &DiscoverRequest) -> Result<Captured> {
    capture_cancellable(session, sel, input, req, None)
}

/// [`capture`] that stops with `Cancelled` once `cancel` is set (checked between generated
/// tokens and between chunks of the forward pass).
pub fn capture_cancellable(session: &Session, sel: &[usize], input: &Input, req: &DiscoverRequest, cancel: Option<&AtomicBool>) -> Result<Captured> {
    let entropy = req.token_filter == TokenFilter::Entropy;
    let Some(cache) = &session.cache else { return run(session, sel, input, req, entropy, cancel) };
    let key = cache_key(session, sel, input, req, entropy)?;
    match cache.get(&key) {
        Lookup::Hit(bytes) => match serde_json::from_slice::<Captured>(&bytes) {
            Ok(c) if c.consistent(sel.len()) => return Ok(c),
            _ => eprintln!("warning: cache entry {} is not a valid capture; recomputing", key.hex()),
        },
        Lookup::Corrupt(why) => eprintln!("warning: {why}; recomputing"),
        Lookup::Miss => {}
    }
    let c = run(session, sel, input, req, entropy, cancel)?;
    let bytes = serde_json::to_vec(&c).map_err(|e| Error::Invalid(format!("cannot serialise a capture: {e}")))?;
    cache.put(&key, &bytes)?;
    Ok(c)
}

fn too_long(field: &str, got: usize, max: usize) -> Error {
    Error::field(field, format!("{got} tokens exceed the model's context of {max}"))
}

fn run(session: &Session, sel: &[usize], input: &Input, req: &DiscoverRequest, entropy: bool, cancel: Option<&AtomicBool>) -> Result<Captured> {
    let model = &session.model;
    let tok = &model.tokenizer;
    let add_bos = model.add_bos();
    let n_ctx = model.dims().n_ctx;
    let needs_logits = entropy || matches!(input, Input::Generate(_));
    if needs_logits && !session.logits {
        return Err(Error::Invalid(
            "this session loaded the model only up to its SAE hooks; generation and the entropy filter need the whole model".into(),
        ));
    }
    let (text, tokens, offsets, n_prompt) = match *input {
        Input::Text(t) | Input::Prompt(t) => {
            let (ids, offs) = tok.encode_with_offsets(t, add_bos).map_err(saex_model::Error::from)?;
            if ids.len() > n_ctx {
                return Err(too_long(if matches!(input, Input::Text(_)) { "text" } else { "prompt" }, ids.len(), n_ctx));
            }
            let n = ids.len();
            (t.to_string(), ids, offs, n)
        }
        Input::Generate(p) => {
            let (mut ids, mut offs) = tok.encode_with_offsets(p, add_bos).map_err(saex_model::Error::from)?;
            if ids.len() + req.gen_tokens > n_ctx {
                return Err(too_long("gen_tokens", ids.len() + req.gen_tokens, n_ctx));
            }
            let n_prompt = ids.len();
            let generated = model.generate_with(&ids, req.gen_tokens, &sampling(req), &[], cancel)?;
            let (text, gen_offs) = text::continuation(tok, p, &ids, &generated)?;
            ids.extend(&generated);
            offs.extend(gen_offs);
            (text, ids, offs, n_prompt)
        }
    };
    if tokens.is_empty() {
        return Err(Error::field("text", "has no tokens"));
    }
    let has_bos = add_bos && tok.bos_id() == tokens.first().copied();
    let hooks: Vec<_> = sel.iter().map(|&i| session.saes[i].hook).collect();
    let (values, entropy) = if entropy {
        let (v, e) = run_with_entropy(model, &tokens, &hooks, cancel)?;
        (v, Some(e))
    } else {
        (model.run(std::slice::from_ref(&tokens), &hooks, false)?.remove(0).hooks, None)
    };
    let mut saes = Vec::with_capacity(sel.len());
    for &i in sel {
        let s = &session.saes[i];
        let value = values
            .iter()
            .find(|(h, _)| *h == s.hook)
            .map(|(_, t)| t)
            .ok_or_else(|| Error::Invalid(format!("the model did not record {}", s.hook)))?;
        let pair = saex_engine::Pair::new(model, &s.sae, Some(s.hook))?;
        let x = pair.sae_input(value)?;
        let codes = s.sae.encode_sparse(&x)?;
        saes.push(CapturedSae { norms: filter::norms(&x)?, indptr: codes.indptr, features: codes.features, values: codes.values, d_sae: codes.d_sae });
    }
    Ok(Captured { text, tokens, offsets, has_bos, n_prompt, entropy, saes })
}

/// Positions per forward step when logits are needed. One step's logits are `[CHUNK, vocab]`
/// (Gemma: 256 × 262,144 f32 = 268 MB); a whole 8k-token text at once would need 8.6 GB.
const CHUNK: usize = 256;

/// The hooks' values and each position's next-token entropy, running the sequence in chunks
/// of [`CHUNK`] positions through the KV cache (as generation does), so the logits never
/// exist for more than one chunk.
fn run_with_entropy(
    model: &saex_model::Model,
    tokens: &[u32],
    hooks: &[saex_hooks::Hook],
    cancel: Option<&AtomicBool>,
) -> Result<(Vec<(saex_hooks::Hook, candle_core::Tensor)>, Vec<f32>)> {
    let stop = saex_model::Stop { blocks: model.dims().n_layers, logits: true };
    let mut cache = saex_model::ops::KvCache::new();
    let mut parts: Vec<Vec<candle_core::Tensor>> = vec![Vec::new(); hooks.len()];
    let mut entropy = Vec::with_capacity(tokens.len());
    for (c, chunk) in tokens.chunks(CHUNK).enumerate() {
        if cancel.is_some_and(|x| x.load(Ordering::Relaxed)) {
            return Err(saex_model::Error::Cancelled.into());
        }
        let ids = saex_model::ops::ids_tensor(&[chunk.to_vec()])?;
        let mut cap = saex_hooks::Capture::new(hooks.iter().copied());
        let logits = model
            .forward(&ids, c * CHUNK, Some(&mut cache), &mut cap, stop)?
            .ok_or_else(|| Error::Invalid("the model returned no logits".into()))?;
        entropy.extend(filter::entropies(&logits.get(0)?)?);
        for (h, t) in cap.into_values() {
            if let Some(k) = hooks.iter().position(|&x| x == h) {
                parts[k].push(t.get(0)?);
            }
        }
    }
    let values = hooks
        .iter()
        .zip(parts)
        .map(|(&h, p)| Ok((h, candle_core::Tensor::cat(&p, 0)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok((values, entropy))
}
