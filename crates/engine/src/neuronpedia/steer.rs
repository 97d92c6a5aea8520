//! `/v1/steer/completion` and `/v1/steer/completion-chat`: Neuronpedia's steering
//! (`SIMPLE_ADDITIVE`, `ORTHOGONAL_DECOMP`, `PROJECTION_CAP`) as [`Edit`]s at the sources'
//! hooks, applied at every position of every forward step of the STEERED generation.
//!
//! Direction `v`: the feature's decoder row (unit-norm when Neuronpedia folds the SAE's
//! decoder norms, see the module docs of `neuronpedia`), the feature's `steering_vector`, or
//! a raw vector; `normalize_steering` makes it unit-norm. `c = strength ×
//! strength_multiplier`. Additive steering by features of an SAE without those options is
//! exactly `saex steer`'s edit ([`steering_edit`]) with coefficient `c` (over ‖W_dec[f]‖
//! when folded), so the same seed gives `saex steer`'s text.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor, D};
use saex_hooks::{Edit, Hook};

use super::generate::{decode, Decode};
use super::types::*;
use super::{bos_ids, feature_index, folds, special_ids, Neuronpedia};
use crate::chat::{chat_prompt, ChatMessage};
use crate::error::{Error, Result};
use crate::session::Session;
use crate::steer::{steering_edit, MAX_STEER_TOKENS};

/// The request fields both steering routes share.
struct Common<'a> {
    model: &'a str,
    steer_method: SteerMethod,
    normalize: bool,
    types: &'a [SteerType],
    features: &'a Option<Vec<NpSteerFeature>>,
    vectors: &'a Option<Vec<NpSteerVector>>,
    n_completion_tokens: i64,
    temperature: f64,
    strength_multiplier: f64,
    freq_penalty: f64,
    seed: f64,
    n_logprobs: i64,
}

fn check(np: &Neuronpedia, c: &Common) -> Result<Decode> {
    np.check_model(c.model)?;
    if c.types.is_empty() {
        return Err(Error::Invalid("types: give at least one of STEERED, DEFAULT".into()));
    }
    if c.features.is_some() == c.vectors.is_some() {
        return Err(Error::Invalid("Invalid request data: exactly one of features or vectors must be provided".into()));
    }
    if c.n_completion_tokens < 1 || c.n_completion_tokens as usize > MAX_STEER_TOKENS {
        return Err(Error::Invalid(format!("n_completion_tokens must be in 1..={MAX_STEER_TOKENS}, got {}", c.n_completion_tokens)));
    }
    if !(0..=10).contains(&c.n_logprobs) {
        return Err(Error::Invalid(format!("n_logprobs must be in 0..=10, got {}", c.n_logprobs)));
    }
    if !(c.temperature >= 0.0 && c.temperature.is_finite()) {
        return Err(Error::Invalid(format!("temperature must be >= 0, got {}", c.temperature)));
    }
    for (name, x) in [("strength_multiplier", c.strength_multiplier), ("freq_penalty", c.freq_penalty), ("seed", c.seed)] {
        if !x.is_finite() {
            return Err(Error::Invalid(format!("{name} must be finite, got {x}")));
        }
    }
    Ok(Decode {
        max_new: c.n_completion_tokens as usize,
        temperature: c.temperature,
        freq_penalty: c.freq_penalty,
        seed: c.seed.trunc() as i64 as u64, // Python's int(seed)
        n_logprobs: c.n_logprobs as usize,
    })
}

/// `v` checked (finite, nonzero when it must be normalised) and, if asked, made unit-norm.
fn direction(mut v: Vec<f32>, normalize: bool) -> Result<Vec<f32>> {
    if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::Invalid("Steering vector contains inf or nan values".into()));
    }
    if normalize {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n == 0.0 {
            return Err(Error::Invalid("Zero norm steering vector".into()));
        }
        v.iter_mut().for_each(|x| *x /= n);
    }
    Ok(v)
}

/// A `[d_in]` direction in the shape of one token's value at `hook` (a head-indexed hook_z
/// SAE's direction goes into its head, zeros elsewhere).
fn hook_shaped(session: &Session, hook: Hook, head: Option<usize>, v: &[f32]) -> Result<Tensor> {
    let shape = session.model.hook_shape(hook);
    let total: usize = shape.iter().product();
    let full = match (hook, head) {
        (Hook::AttnZ(_), Some(h)) => {
            let d_head = *shape.last().unwrap_or(&0);
            if v.len() != d_head || h >= total / d_head.max(1) {
                return Err(Error::Invalid(format!("head {h} with width {} does not fit {hook} of shape {shape:?}", v.len())));
            }
            let mut full = vec![0f32; total];
            full[h * d_head..(h + 1) * d_head].copy_from_slice(v);
            full
        }
        _ => {
            if v.len() != total {
                return Err(Error::Invalid(format!("the steering vector has {} values; {hook} has width {total}", v.len())));
            }
            v.to_vec()
        }
    };
    Ok(Tensor::from_vec(full, shape.as_slice(), &Device::Cpu)?)
}

/// The edit of one direction at its hook: `x` is `[batch, pos, ...]`, `v` one token's shape.
fn method_edit(method: SteerMethod, v: Tensor, c: f64) -> Result<Edit> {
    Ok(match method {
        SteerMethod::SimpleAdditive => {
            let delta = (v * c)?;
            Arc::new(move |x: &Tensor| x.broadcast_add(&delta.to_dtype(x.dtype())?))
        }
        SteerMethod::OrthogonalDecomp | SteerMethod::ProjectionCap => {
            let norm = v.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
            if norm == 0.0 || !norm.is_finite() {
                return Err(Error::Invalid("Zero norm steering vector".into()));
            }
            let unit = v.flatten_all()?.affine(1.0 / f64::from(norm), 0.0)?; // [D]
            Arc::new(move |x: &Tensor| {
                let dims = x.dims().to_vec();
                let flat = x.reshape((dims[0], dims[1], ()))?.to_dtype(DType::F32)?; // [batch, pos, D]
                let p = flat.broadcast_mul(&unit)?.sum_keepdim(D::Minus1)?; // [batch, pos, 1]
                let coef = match method {
                    SteerMethod::OrthogonalDecomp => (&p * (c - 1.0))?,
                    _ => (p.minimum(c as f32)? - &p)?,
                };
                let out = flat.broadcast_add(&coef.broadcast_mul(&unit)?)?;
                out.reshape(dims.as_slice())?.to_dtype(x.dtype())
            })
        }
    })
}

/// The STEERED run's edits, one per hook (several directions at a hook apply in order).
fn edits(session: &Session, np: &Neuronpedia, c: &Common) -> Result<Vec<(Hook, Edit)>> {
    let mut per_hook: Vec<(Hook, Vec<Edit>)> = Vec::new();
    let mut push = |hook: Hook, e: Edit| match per_hook.iter_mut().find(|(h, _)| *h == hook) {
        Some((_, list)) => list.push(e),
        None => per_hook.push((hook, vec![e])),
    };
    if let Some(features) = c.features {
        // Plain additive steering by decoder rows: saex steer's edit, one per SAE.
        let mut plain: Vec<(usize, Vec<(u32, f32)>)> = Vec::new();
        for f in features {
            np.check_model(&f.model)?;
            let src = np.source(&f.source)?;
            let index = feature_index(np, session, src, f.index)?;
            let s = &session.saes[src.sae];
            let coef = f.strength * c.strength_multiplier;
            let norm = src.dec_norms.as_ref().map_or(1.0, |n| n[index as usize]);
            if c.steer_method == SteerMethod::SimpleAdditive && f.steering_vector.is_none() && !c.normalize {
                let scaled = if folds(&s.sae) && norm > 0.0 { coef / f64::from(norm) } else { coef } as f32;
                match plain.iter_mut().find(|(i, _)| *i == src.sae) {
                    Some((_, list)) => match list.iter_mut().find(|(g, _)| *g == index) {
                        Some((_, k)) => *k += scaled,
                        None => list.push((index, scaled)),
                    },
                    None => plain.push((src.sae, vec![(index, scaled)])),
                }
                continue;
            }
            let v = match &f.steering_vector {
                Some(v) => v.clone(),
                None => {
                    let row: Vec<f32> = s.sae.w_dec().get(index as usize)?.to_dtype(DType::F32)?.to_vec1()?;
                    if folds(&s.sae) && norm > 0.0 {
                        row.into_iter().map(|x| x / norm).collect()
                    } else {
                        row
                    }
                }
            };
            let head = if matches!(s.hook, Hook::AttnZ(_)) { s.sae.config().metadata.hook_head_index } else { None };
            let v = hook_shaped(session, s.hook, head, &direction(v, c.normalize)?)?;
            push(s.hook, method_edit(c.steer_method, v, coef)?);
        }
        for (i, feats) in plain {
            let e = steering_edit(&session.pair(i), &feats).map_err(|e| Error::Invalid(e.to_string()))?;
            push(session.saes[i].hook, e);
        }
    }
    for v in c.vectors.iter().flatten() {
        let hook: Hook = v.hook.parse().map_err(|e: saex_hooks::UnknownHook| Error::Invalid(e.to_string()))?;
        session.model.check_hook(hook)?;
        let t = hook_shaped(session, hook, None, &direction(v.steering_vector.clone(), c.normalize)?)?;
        push(hook, method_edit(c.steer_method, t, v.strength * c.strength_multiplier)?);
    }
    Ok(per_hook
        .into_iter()
        .map(|(h, list)| {
            let e: Edit = if list.len() == 1 {
                list[0].clone()
            } else {
                Arc::new(move |x: &Tensor| {
                    let mut y = x.clone();
                    for e in &list {
                        y = e(&y)?;
                    }
                    Ok(y)
                })
            };
            (h, e)
        })
        .collect())
}

/// Leave the prompt positions where `mask` is 0 unsteered (only the first pass, the prompt's,
/// has them; every generated position is steered).
fn masked(edit: Edit, mask: Vec<f32>) -> Edit {
    let first = Arc::new(AtomicBool::new(true));
    Arc::new(move |x: &Tensor| {
        let y = edit(x)?;
        if !first.swap(false, Ordering::Relaxed) || x.dim(1)? != mask.len() {
            return Ok(y);
        }
        let mut shape = vec![1, mask.len()];
        shape.resize(x.rank(), 1);
        let m = Tensor::from_slice(&mask, shape.as_slice(), x.device())?.to_dtype(x.dtype())?;
        x + (y - x)?.broadcast_mul(&m)?
    })
}

/// Called after each token of generation `k` with its new ids and logprobs so far.
type Frame<'a> = dyn FnMut(usize, &[u32], &[NpLogprob]) + 'a;

/// Generate each requested type from `ids`; `frame(k, new ids, logprobs so far)` after each
/// token of generation `k`.
fn run_types(
    session: &Session,
    ids: &[u32],
    d: &Decode,
    types: &[SteerType],
    steered: &dyn Fn() -> Result<Vec<(Hook, Edit)>>,
    cancel: Option<&AtomicBool>,
    frame: &mut Frame,
) -> Result<Vec<(Vec<u32>, Vec<NpLogprob>)>> {
    let mut out = Vec::with_capacity(types.len());
    for (k, t) in types.iter().enumerate() {
        let e = match t {
            SteerType::Steered => steered()?,
            SteerType::Default => Vec::new(),
        };
        out.push(decode(session, ids, d, &e, cancel, &mut |new, lps| frame(k, new, lps))?);
    }
    Ok(out)
}

fn lp(d: &Decode, v: &[NpLogprob]) -> Option<Vec<NpLogprob>> {
    (d.n_logprobs > 0).then(|| v.to_vec())
}

/// `POST /v1/steer/completion`: each output is the prompt followed by its generation. With
/// `on_frame`, called after every token with the answer so far (cumulative texts, types not
/// started yet empty); the last call's value is the answer.
pub fn steer_completion(
    session: &Session,
    np: &Neuronpedia,
    req: &SteerCompletionRequest,
    cancel: Option<&AtomicBool>,
    mut on_frame: Option<&mut dyn FnMut(&SteerCompletionResponse)>,
) -> Result<SteerCompletionResponse> {
    let c = Common {
        model: &req.model,
        steer_method: req.steer_method,
        normalize: req.normalize_steering,
        types: &req.types,
        features: &req.features,
        vectors: &req.vectors,
        n_completion_tokens: req.n_completion_tokens,
        temperature: req.temperature,
        strength_multiplier: req.strength_multiplier,
        freq_penalty: req.freq_penalty,
        seed: req.seed,
        n_logprobs: req.n_logprobs,
    };
    let d = check(np, &c)?;
    edits(session, np, &c)?; // refuse bad directions before any generation
    let ids = bos_ids(session, &req.prompt)?;
    np.check_length(ids.len(), false)?;
    let tok = &session.model.tokenizer;
    let text = |new: &[u32]| -> Result<String> { Ok(tok.continuation(&req.prompt, &ids, new).map_err(saex_model::Error::from)?.0) };
    let mut outputs: Vec<SteerOutput> =
        req.types.iter().map(|&kind| SteerOutput { kind, output: String::new(), logprobs: lp(&d, &[]) }).collect();
    let runs = {
        let mut frame = |k: usize, new: &[u32], lps: &[NpLogprob]| {
            if let Some(f) = on_frame.as_mut() {
                outputs[k].output = text(new).unwrap_or_default();
                outputs[k].logprobs = lp(&d, lps);
                f(&SteerCompletionResponse { outputs: outputs.clone() });
            }
        };
        run_types(session, &ids, &d, &req.types, &|| edits(session, np, &c), cancel, &mut frame)?
    };
    let outputs = req
        .types
        .iter()
        .zip(runs)
        .map(|(&kind, (new, lps))| Ok(SteerOutput { kind, output: text(&new)?, logprobs: lp(&d, &lps) }))
        .collect::<Result<_>>()?;
    Ok(SteerCompletionResponse { outputs })
}

/// `POST /v1/steer/completion-chat`: the messages rendered with the model's chat template
/// ([`chat_prompt`]), then as [`steer_completion`]. `steer_special_tokens: false` leaves the
/// prompt's special tokens unsteered.
pub fn steer_chat(
    session: &Session,
    np: &Neuronpedia,
    req: &SteerChatRequest,
    cancel: Option<&AtomicBool>,
    mut on_frame: Option<&mut dyn FnMut(&SteerChatResponse)>,
) -> Result<SteerChatResponse> {
    let c = Common {
        model: &req.model,
        steer_method: req.steer_method,
        normalize: req.normalize_steering,
        types: &req.types,
        features: &req.features,
        vectors: &req.vectors,
        n_completion_tokens: req.n_completion_tokens,
        temperature: req.temperature,
        strength_multiplier: req.strength_multiplier,
        freq_penalty: req.freq_penalty,
        seed: req.seed,
        n_logprobs: req.n_logprobs,
    };
    let d = check(np, &c)?;
    if req.is_assistant_axis {
        return Err(Error::Invalid("is_assistant_axis: the assistant axis (persona projection) is not supported by saex".into()));
    }
    if req.prompt.is_empty() {
        return Err(Error::Invalid("prompt: give at least one message".into()));
    }
    edits(session, np, &c)?;
    let rendered = chat_prompt(session, &req.prompt, true)?;
    let ids = session.tokenize_ids(&rendered, false)?;
    if ids.is_empty() {
        return Err(Error::Invalid("the chat prompt has no tokens".into()));
    }
    np.check_length(ids.len(), false)?;
    let hf = session.model.tokenizer.hf_tokenizer();
    let raw = |new: &[u32]| hf.decode(&[&ids[..], new].concat(), false).unwrap_or_default();
    let reply = |new: &[u32]| hf.decode(new, true).unwrap_or_default();
    let with_reply = |new: &[u32]| {
        let mut m = req.prompt.clone();
        m.push(ChatMessage { role: "assistant".into(), content: reply(new) });
        m
    };
    let input = SteerChatResult { chat_template: req.prompt.clone(), raw: raw(&[]), kind: None, logprobs: None };
    let special = special_ids(session);
    let mask: Option<Vec<f32>> =
        (!req.steer_special_tokens).then(|| ids.iter().map(|id| if special.contains(id) { 0.0 } else { 1.0 }).collect());
    let steered = || -> Result<Vec<(Hook, Edit)>> {
        let e = edits(session, np, &c)?;
        Ok(match &mask {
            Some(m) => e.into_iter().map(|(h, e)| (h, masked(e, m.clone()))).collect(),
            None => e,
        })
    };
    let mut outputs: Vec<SteerChatResult> = req
        .types
        .iter()
        .map(|&kind| SteerChatResult { chat_template: req.prompt.clone(), raw: raw(&[]), kind: Some(kind), logprobs: lp(&d, &[]) })
        .collect();
    let runs = {
        let mut frame = |k: usize, new: &[u32], lps: &[NpLogprob]| {
            if let Some(f) = on_frame.as_mut() {
                outputs[k].chat_template = with_reply(new);
                outputs[k].raw = raw(new);
                outputs[k].logprobs = lp(&d, lps);
                f(&SteerChatResponse { outputs: outputs.clone(), input: input.clone() });
            }
        };
        run_types(session, &ids, &d, &req.types, &steered, cancel, &mut frame)?
    };
    let outputs = req
        .types
        .iter()
        .zip(runs)
        .map(|(&kind, (new, lps))| SteerChatResult {
            chat_template: with_reply(&new),
            raw: raw(&new),
            kind: Some(kind),
            logprobs: lp(&d, &lps),
        })
        .collect();
    Ok(SteerChatResponse { outputs, input })
}
