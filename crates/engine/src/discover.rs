//! `discover`: seed 002's algorithm end to end — capture (generate, run, encode, through the
//! cache), pre-filter, score, gate, rank, attach evidence. The arithmetic is in
//! [`saex_analysis::discover`]; this file runs the model and feeds it.
//!
//! Merging across SAEs (`merge_across_layers`): raw activations are not comparable across
//! layers (residual norms grow with depth, and each SAE has its own scale), so each
//! feature's ranking score is divided by its P95 on the reference corpus. Coverage is
//! already unit-free, so for every score mode this is the score computed on activations
//! measured in "typical strong activations of this feature". A feature that never fired on
//! the reference corpus (P95 = 0) is divided by its SAE's median P95 instead. `scores`
//! stays raw; only `score` is normalised. With one SAE nothing is normalised.
//!
//! SAEs without reference statistics (`feature_stats.safetensors`, e.g. a SAELens release
//! just downloaded): τ = p95 falls back to τ = 0, so coverage is the share of kept tokens
//! where the feature fires at all; the density gate uses the SAE's own
//! `sparsity.safetensors` when it ships one, else skips nothing; merging needs the P95s, so
//! such a request ranks each SAE separately. The response's `notes` say which of these
//! happened.

use std::sync::atomic::AtomicBool;

use saex_analysis::discover::filter::keep_top;
use saex_analysis::discover::score::{rank, score, Scored, Sequence};
use saex_analysis::discover::spans;
use saex_analysis::discover::{Analyzed, DiscoverRequest, DiscoverResponse, FeatureResult, Input, ScoreMode, Tau, TokenFilter};
use saex_cache::{Key, Lookup};
use saex_model::Sampling;
use saex_sae::SparseActs;
use serde::{Deserialize, Serialize};

use crate::encode::RunOptions;
use crate::error::{Error, Result};
use crate::session::{Session, SessionSae};

/// One input's tokens and, per selected SAE, its codes: all the later steps need, so it is
/// what the disk cache stores (changing the score mode, τ, K or the gate re-scores without
/// touching the model).
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
    /// Bytes of `text` that are the prompt.
    pub prompt_bytes: usize,
    /// Next-token entropy per token (when the entropy filter asked for logits).
    pub entropy: Option<Vec<f32>>,
    /// Per selected SAE, in selection order.
    pub saes: Vec<CapturedSae>,
}

/// One SAE's view of the sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapturedSae {
    /// The SAE's id in the session.
    pub sae_id: String,
    /// L2 norm of the SAE's input per token.
    pub norms: Vec<f32>,
    /// Its codes.
    pub acts: SparseActs,
}

impl Captured {
    /// Internal consistency, checked on every cache hit: a stale or foreign entry that
    /// passed its checksum must still never be trusted blindly.
    fn consistent(&self, ids: &[&str]) -> bool {
        let n = self.tokens.len();
        self.offsets.len() == n
            && self.n_prompt <= n
            && self.prompt_bytes <= self.text.len()
            && self.offsets.iter().all(|&(a, b)| a <= b && b <= self.text.len())
            && self.entropy.as_ref().is_none_or(|e| e.len() == n)
            && self.saes.len() == ids.len()
            && self
                .saes
                .iter()
                .zip(ids)
                .all(|(s, id)| s.sae_id == *id && s.norms.len() == n && s.acts.n_tokens() == n && s.acts.is_consistent())
    }

    /// The codes of the SAE named `sae_id`.
    pub fn sae(&self, sae_id: &str) -> Option<&CapturedSae> {
        self.saes.iter().find(|s| s.sae_id == sae_id)
    }
}

fn sampling(req: &DiscoverRequest) -> Sampling {
    Sampling { temperature: req.temperature, top_p: req.top_p, seed: req.seed }
}

fn cache_key(session: &Session, sel: &[usize], input: &Input, req: &DiscoverRequest, entropy: bool) -> Result<Key> {
    let mut parts: Vec<Vec<u8>> = vec![
        b"saex-discover-capture-v2".to_vec(),
        session.model_fingerprint()?.as_bytes().to_vec(),
        session.dtype.to_string().into_bytes(),
    ];
    for &i in sel {
        parts.push(session.sae_fingerprint(i)?.as_bytes().to_vec());
        parts.push(session.saes[i].hook.to_string().into_bytes());
        parts.push(session.saes[i].id.clone().into_bytes());
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

/// Capture `input` for the SAEs `sel`, through the cache when the session has one. A set
/// `cancel` flag stops generation and the chunked forward pass with `Cancelled`.
pub fn capture(session: &Session, sel: &[usize], input: &Input, req: &DiscoverRequest, cancel: Option<&AtomicBool>) -> Result<Captured> {
    let entropy = req.token_filter == TokenFilter::Entropy;
    let Some(cache) = &session.cache else { return run(session, sel, input, req, entropy, cancel) };
    let key = cache_key(session, sel, input, req, entropy)?;
    let ids: Vec<&str> = sel.iter().map(|&i| session.saes[i].id.as_str()).collect();
    match cache.get(&key) {
        Lookup::Hit(bytes) => match serde_json::from_slice::<Captured>(&bytes) {
            Ok(c) if c.consistent(&ids) => return Ok(c),
            _ => tracing::warn!("cache entry {} is not a valid capture; recomputing", key.hex()),
        },
        Lookup::Corrupt(why) => tracing::warn!("{why}; recomputing"),
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

fn run(
    session: &Session,
    sel: &[usize],
    input: &Input,
    req: &DiscoverRequest,
    entropy: bool,
    cancel: Option<&AtomicBool>,
) -> Result<Captured> {
    let model = &session.model;
    let tok = &model.tokenizer;
    let add_bos = model.add_bos();
    let n_ctx = model.dims().n_ctx;
    if matches!(input, Input::Generate(_)) {
        session.need_logits("generation")?;
    }
    let (text, tokens, offsets, n_prompt, prompt_bytes) = match *input {
        Input::Text(t) | Input::Prompt(t) => {
            let (ids, offs) = tok.encode_with_offsets(t, add_bos).map_err(saex_model::Error::from)?;
            if ids.len() > n_ctx {
                return Err(too_long(if matches!(input, Input::Text(_)) { "text" } else { "prompt" }, ids.len(), n_ctx));
            }
            let n = ids.len();
            (t.to_string(), ids, offs, n, t.len())
        }
        Input::Generate(p) => {
            let (mut ids, mut offs) = tok.encode_with_offsets(p, add_bos).map_err(saex_model::Error::from)?;
            if ids.len() + req.gen_tokens > n_ctx {
                return Err(too_long("gen_tokens", ids.len() + req.gen_tokens, n_ctx));
            }
            let n_prompt = ids.len();
            let generated = model.generate_with(&ids, req.gen_tokens, &sampling(req), &[], cancel)?;
            let (text, gen_offs) = tok.continuation(p, &ids, &generated).map_err(saex_model::Error::from)?;
            ids.extend(&generated);
            offs.extend(gen_offs);
            (text, ids, offs, n_prompt, p.len())
        }
    };
    let has_bos = add_bos && tok.bos_id() == tokens.first().copied();
    let (codes, entropy) = session.encode_tokens(sel, &tokens, RunOptions { entropy, cancel })?;
    let saes = codes.into_iter().map(|c| CapturedSae { sae_id: session.saes[c.sae].id.clone(), norms: c.norms, acts: c.acts }).collect();
    Ok(Captured { text, tokens, offsets, has_bos, n_prompt, prompt_bytes, entropy, saes })
}

/// One SAE's ranked features, before evidence is attached.
struct Ranked {
    sae: usize, // index into the selection
    score: f32,
    scored: Scored,
}

/// Answer one request.
pub fn discover(session: &Session, req: &DiscoverRequest) -> Result<DiscoverResponse> {
    Ok(discover_with_capture(session, req, None)?.0)
}

/// [`discover`], also returning what was captured (tokens and every selected SAE's codes, in
/// selection order), e.g. to shade the text by a feature in a report. A set `cancel` flag
/// stops the model work early with a `Cancelled` error.
pub fn discover_with_capture(
    session: &Session,
    req: &DiscoverRequest,
    cancel: Option<&AtomicBool>,
) -> Result<(DiscoverResponse, Captured)> {
    let input = req.input()?;
    session.check_model(req.model_id.as_deref())?;
    let sel = session.select(req.sae_id.as_deref(), &req.layers, &req.streams)?;
    let saes: Vec<&SessionSae> = sel.iter().map(|&i| &session.saes[i]).collect();
    let mut notes = Vec::new();
    for s in &saes {
        if let Some(&f) = req.restrict_features.iter().find(|&&f| f as usize >= s.sae.d_sae()) {
            return Err(Error::field("restrict_features", format!("feature {f} is out of range for {} (d_sae {})", s.id, s.sae.d_sae())));
        }
        if req.tau == Tau::P95 && s.stats.is_none() {
            notes.push(format!(
                "{} ships no reference statistics (feature_stats.safetensors): τ = 0, so coverage is the share of kept tokens where a feature fires; `saex sae-stats --model M --sae {} --corpus corpus.jsonl` writes them",
                s.id, s.id
            ));
        }
    }
    let mut merging = req.merge_across_layers && saes.len() > 1;
    if merging {
        if let Some(s) = saes.iter().find(|s| s.stats.is_none()) {
            merging = false;
            notes.push(format!(
                "not merged across SAEs: merging divides by each feature's reference P95, and {} has none; each SAE is ranked on its own",
                s.id
            ));
        }
    }
    let cap = capture(session, &sel, &input, req, cancel)?;
    let generating = matches!(input, Input::Generate(_));
    let (span, background) = regions(&cap, req, generating)?;
    let first = usize::from(cap.has_bos);
    let n = cap.tokens.len();
    let restrict = (!req.restrict_features.is_empty()).then_some(req.restrict_features.as_slice());
    let mut ranked: Vec<Ranked> = Vec::new();
    let mut kept_tokens = 0;
    for (k, s) in saes.iter().enumerate() {
        let codes = &cap.saes[k].acts;
        let proxy = match req.token_filter {
            TokenFilter::Entropy => cap.entropy.as_deref().ok_or_else(|| Error::Invalid("the capture has no entropies".into()))?,
            TokenFilter::Norm => &cap.saes[k].norms,
        };
        let kept = keep_top(proxy, first..n, req.topk_tokens_per_seq);
        kept_tokens = kept.len();
        let reference_mean = s.stats.as_ref().map(|st| st.mean.as_slice());
        let seq = Sequence { acts: codes, kept: &kept, span: &span, background: &background, reference_mean };
        if req.score_mode == ScoreMode::Selectivity && reference_mean.is_none() && !background.iter().any(|&b| b) {
            return Err(Error::field(
                "score_mode",
                format!("selectivity needs a background: give `spans`, generate, or ship reference statistics with {}", s.id),
            ));
        }
        let tau = |f: u32| match req.tau {
            Tau::Value(v) => v,
            Tau::P95 => s.stats.as_ref().map_or(0.0, |st| st.p95[f as usize]),
        };
        let mut scored = score(&seq, tau, restrict);
        if restrict.is_none() {
            scored.retain(|x| s.passes_density(x.feature, req.max_density));
        }
        let mut r: Vec<Ranked> = rank(scored, req.score_mode, req.min_coverage_pct)
            .into_iter()
            .map(|(score, scored)| Ranked { sae: k, score, scored })
            .collect();
        if merging {
            normalise(&mut r, s);
        } else {
            r.truncate(req.return_top_x);
        }
        ranked.extend(r);
    }
    if merging {
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.sae.cmp(&b.sae)).then(a.scored.feature.cmp(&b.scored.feature)));
        ranked.truncate(req.return_top_x);
    }
    let features = ranked.iter().map(|r| evidence(&cap, saes[r.sae], &cap.saes[r.sae].acts, r, req)).collect();
    let mut layers: Vec<usize> = Vec::new();
    for s in &saes {
        if let Some(l) = s.hook.layer() {
            if !layers.contains(&l) {
                layers.push(l);
            }
        }
    }
    let response = DiscoverResponse {
        id: req.id.clone(),
        model_id: session.model_id.clone(),
        sae_id: req.sae_id.clone().unwrap_or_else(|| saes.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(",")),
        analyzed: Analyzed {
            mode: match input {
                Input::Text(_) => "text",
                Input::Prompt(_) => "prompt",
                Input::Generate(_) => "prompt+gen",
            }
            .into(),
            tokens: n - first,
            layers,
            kept_tokens,
            prompt_end: spans::char_pos(&cap.text, cap.prompt_bytes),
            text: cap.text.clone(),
        },
        features,
        notes,
    };
    Ok((response, cap))
}

/// The span (domain) and background masks: `spans` when given (background: the rest);
/// else the generation against the prompt; else the whole text against the reference
/// corpus (background empty). bos is in neither.
fn regions(cap: &Captured, req: &DiscoverRequest, generating: bool) -> Result<(Vec<bool>, Vec<bool>)> {
    let first = usize::from(cap.has_bos);
    let n = cap.tokens.len();
    let real = |p: usize| p >= first;
    if !req.spans.is_empty() {
        let span = spans::span_mask(&cap.text, &cap.offsets, &req.spans)?;
        let background = (0..n).map(|p| real(p) && !span[p]).collect();
        return Ok((span, background));
    }
    if generating {
        return Ok(((0..n).map(|p| p >= cap.n_prompt).collect(), (0..n).map(|p| real(p) && p < cap.n_prompt).collect()));
    }
    Ok(((0..n).map(real).collect(), vec![false; n]))
}

/// Divide each score by the feature's reference P95 (see the module docs).
fn normalise(r: &mut [Ranked], s: &SessionSae) {
    let Some(stats) = &s.stats else { return };
    let mut positive: Vec<f32> = stats.p95.iter().copied().filter(|&v| v > 0.0).collect();
    positive.sort_by(f32::total_cmp);
    let median = positive.get(positive.len() / 2).copied().unwrap_or(1.0);
    for x in r {
        let p = stats.p95[x.scored.feature as usize];
        x.score /= if p > 0.0 { p } else { median };
    }
}

fn evidence(cap: &Captured, s: &SessionSae, codes: &SparseActs, r: &Ranked, req: &DiscoverRequest) -> FeatureResult {
    let f = r.scored.feature;
    let top_spans = if req.attach_examples {
        spans::top_spans(&cap.text, &cap.offsets, &codes.column(f), usize::from(cap.has_bos))
    } else {
        Vec::new()
    };
    FeatureResult {
        feature_id: f,
        sae_id: s.id.clone(),
        layer: s.hook.layer(),
        stream: s.hook.stream().to_string(),
        score: r.score,
        scores: r.scored.scores,
        proto_label: if req.attach_proto_labels { s.label(f) } else { None },
        top_spans,
        neuronpedia_url: s.neuronpedia_url(f),
    }
}
