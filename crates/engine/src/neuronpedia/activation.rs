//! `/v1/activation/{all,all-batch,single,single-batch,topk-by-token(-batch),source}`: what
//! Neuronpedia's `endpoints/activation/*.py` compute, from the session's encode pipeline.

use std::collections::{BTreeMap, HashMap};

use candle_core::{DType, Tensor};
use saex_hooks::Hook;
use saex_sae::SparseActs;

use super::types::*;
use super::{bos_ids, feature_index, fin, special_ids, token_strings, Neuronpedia, NpSource, MAX_ALL_RESULTS, MAX_BATCH};
use crate::encode::RunOptions;
use crate::error::{Error, Result};
use crate::session::Session;

/// Refuse an empty batch or one over [`MAX_BATCH`] prompts.
pub(super) fn check_batch(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::Invalid("At least one prompt is required".into()));
    }
    if n > MAX_BATCH {
        return Err(Error::Invalid(format!("Batch size {n} exceeds maximum of {MAX_BATCH}")));
    }
    Ok(())
}

/// The sources of `set` that `selected` names (`[]`: all of the set).
fn select_set<'a>(np: &'a Neuronpedia, set: &str, selected: &[String]) -> Result<Vec<&'a NpSource>> {
    let of_set: Vec<&NpSource> = np.sources.iter().filter(|s| s.set == set).collect();
    if of_set.is_empty() {
        return Err(Error::Invalid(format!("Invalid source set: {set:?} (this server serves: {})", np.sets().join(", "))));
    }
    if selected.is_empty() {
        return Ok(of_set);
    }
    selected
        .iter()
        .map(|id| {
            let s = np.source(id)?;
            if s.set != set {
                return Err(Error::Invalid(format!("Invalid SAE ID or type: {id} is not in source set {set}")));
            }
            Ok(s)
        })
        .collect()
}

/// One source's activations over `ids`, per feature that fires anywhere: `f → values[token]`,
/// scaled as Neuronpedia reports them.
fn dense_by_feature(src: &NpSource, acts: &SparseActs, n: usize) -> BTreeMap<u32, Vec<f32>> {
    let mut out: BTreeMap<u32, Vec<f32>> = BTreeMap::new();
    for (t, (fs, vs)) in acts.tokens().enumerate() {
        for (&f, &v) in fs.iter().zip(vs) {
            let scale = src.dec_norms.as_ref().map_or(1.0, |n| n[f as usize]);
            out.entry(f).or_insert_with(|| vec![0.0; n])[t] = fin(v * scale);
        }
    }
    out
}

/// Largest value and its first position.
fn max_at(values: &[f32]) -> (f32, usize) {
    let mut best = (f32::NEG_INFINITY, 0);
    for (i, &v) in values.iter().enumerate() {
        if v > best.0 {
            best = (v, i);
        }
    }
    if values.is_empty() {
        (0.0, 0)
    } else {
        best
    }
}

/// Run `ids` once through the sources' SAEs.
fn encode(session: &Session, sources: &[&NpSource], ids: &[u32]) -> Result<Vec<SparseActs>> {
    let sel: Vec<usize> = sources.iter().map(|s| s.sae).collect();
    let (codes, _) = session.encode_tokens(&sel, ids, RunOptions::default())?;
    Ok(codes.into_iter().map(|c| c.acts).collect())
}

struct Args<'a> {
    sources: Vec<&'a NpSource>,
    sort_by: &'a [i64],
    ignore_bos: bool,
    num: usize,
}

fn all_args<'a>(
    np: &'a Neuronpedia,
    set: &str,
    selected: &[String],
    sort_by: &'a [i64],
    ignore_bos: bool,
    num: Option<i64>,
) -> Result<Args<'a>> {
    let num = match num {
        Some(n) if n > 0 => (n as usize).min(MAX_ALL_RESULTS),
        _ => 25,
    };
    Ok(Args { sources: select_set(np, set, selected)?, sort_by, ignore_bos, num })
}

fn all_one(session: &Session, np: &Neuronpedia, a: &Args, prompt: &str, batch: bool) -> Result<ActivationAllResponse> {
    let ids = bos_ids(session, prompt)?;
    np.check_length(ids.len(), batch)?;
    let n = ids.len();
    let sort: Vec<usize> = a
        .sort_by
        .iter()
        .map(|&i| {
            usize::try_from(i)
                .ok()
                .filter(|&i| i < n)
                .ok_or_else(|| Error::Invalid(format!("sort_by_token_indexes: {i} is out of range for {n} tokens")))
        })
        .collect::<Result<_>>()?;
    let zero_bos = a.ignore_bos && session.model.tokenizer.bos_id() == ids.first().copied();
    let row = |src: &NpSource, index: u32, mut values: Vec<f32>| {
        if zero_bos {
            values[0] = 0.0;
        }
        let (max_value, max_value_index) = max_at(&values);
        let sum: f32 = sort.iter().map(|&i| values[i]).sum();
        let key = if sort.is_empty() { max_value } else { sum };
        (key, NpActivation { source: src.id.clone(), index, values, sum_values: Some(fin(sum)), max_value, max_value_index })
    };
    // Rows of features that fire, keyed by their rank; every other feature is an all-zero
    // row, ranked (as by Neuronpedia's stable sort over whole sources) after the positive
    // keys in source-then-index order.
    let mut fired: Vec<(f32, usize, NpActivation)> = Vec::new();
    for (si, (src, acts)) in a.sources.iter().zip(encode(session, &a.sources, &ids)?).enumerate() {
        for (f, values) in dense_by_feature(src, &acts, n) {
            let (key, r) = row(src, f, values);
            fired.push((key, si, r));
        }
    }
    fired.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.index.cmp(&y.2.index)));
    let mut out: Vec<NpActivation> = Vec::with_capacity(a.num);
    let mut zeros: HashMap<(usize, u32), NpActivation> = HashMap::new();
    let mut negative = Vec::new();
    let ranked: std::collections::HashSet<(usize, u32)> = fired.iter().filter(|x| x.0 != 0.0).map(|x| (x.1, x.2.index)).collect();
    for (key, si, r) in fired {
        if key > 0.0 {
            out.push(r);
        } else if key == 0.0 {
            zeros.insert((si, r.index), r);
        } else {
            negative.push(r);
        }
    }
    out.truncate(a.num);
    'fill: for (si, src) in a.sources.iter().enumerate() {
        for f in 0..session.saes[src.sae].sae.d_sae() as u32 {
            if out.len() >= a.num {
                break 'fill;
            }
            if ranked.contains(&(si, f)) {
                continue;
            }
            out.push(zeros.remove(&(si, f)).unwrap_or_else(|| row(src, f, vec![0.0; n]).1));
        }
    }
    out.extend(negative);
    out.truncate(a.num);
    Ok(ActivationAllResponse { activations: out, tokens: token_strings(session, &ids) })
}

/// `POST /v1/activation/all`.
pub fn activation_all(session: &Session, np: &Neuronpedia, req: &ActivationAllRequest) -> Result<ActivationAllResponse> {
    np.check_model(&req.model)?;
    let a = all_args(np, &req.source_set, &req.selected_sources, &req.sort_by_token_indexes, req.ignore_bos, req.num_results)?;
    all_one(session, np, &a, &req.prompt, false)
}

/// `POST /v1/activation/all-batch`.
pub fn activation_all_batch(session: &Session, np: &Neuronpedia, req: &ActivationAllBatchRequest) -> Result<ActivationAllBatchResponse> {
    np.check_model(&req.model)?;
    check_batch(req.prompts.len())?;
    let a = all_args(np, &req.source_set, &req.selected_sources, &req.sort_by_token_indexes, req.ignore_bos, req.num_results)?;
    let results = req.prompts.iter().map(|p| all_one(session, np, &a, p, true)).collect::<Result<_>>()?;
    Ok(ActivationAllBatchResponse { results })
}

enum Single<'a> {
    Feature(&'a NpSource, u32),
    Vector(Hook, Vec<f32>),
}

fn single_mode<'a>(
    session: &Session,
    np: &'a Neuronpedia,
    source: &Option<String>,
    index: &Option<FeatureIndex>,
    vector: &Option<Vec<f32>>,
    hook: &Option<String>,
) -> Result<Single<'a>> {
    match (source, index, vector, hook) {
        (Some(s), Some(i), None, None) => {
            let src = np.source(s)?;
            let i = match i {
                FeatureIndex::Int(i) => *i,
                FeatureIndex::Str(s) => s.trim().parse().map_err(|_| Error::Invalid(format!("Invalid feature index: {s:?}")))?,
            };
            Ok(Single::Feature(src, feature_index(np, session, src, i)?))
        }
        (None, None, Some(v), Some(h)) => {
            let hook: Hook = h.parse().map_err(|e: saex_hooks::UnknownHook| Error::Invalid(e.to_string()))?;
            session.model.check_hook(hook)?;
            let d: usize = session.model.hook_shape(hook).iter().product();
            if v.len() != d {
                return Err(Error::Invalid(format!("vector has {} values; {hook} has width {d}", v.len())));
            }
            Ok(Single::Vector(hook, v.clone()))
        }
        _ => Err(Error::Invalid("Invalid request data: exactly one of layer/index or vector must be provided".into())),
    }
}

fn single_one(session: &Session, np: &Neuronpedia, mode: &Single, prompt: &str, batch: bool) -> Result<ActivationSingleResponse> {
    let special = special_ids(session);
    let (ids, values) = match mode {
        Single::Feature(src, f) => {
            let ids = bos_ids(session, prompt)?;
            np.check_length(ids.len(), batch)?;
            let acts = encode(session, &[src], &ids)?.remove(0);
            let scale = src.dec_norms.as_ref().map_or(1.0, |n| n[*f as usize]);
            let bos = session.model.tokenizer.bos_id();
            let mut values: Vec<f32> =
                acts.column(*f).iter().zip(&ids).map(|(&v, &id)| if Some(id) == bos { 0.0 } else { fin(v * scale) }).collect();
            let mut ids = ids;
            if Some(ids[0]) == bos {
                ids.remove(0);
                values.remove(0);
            }
            if ids.is_empty() {
                return Err(Error::Invalid("the prompt has no tokens".into()));
            }
            (ids, values)
        }
        Single::Vector(hook, v) => {
            let ids = session.tokenize_ids(prompt, session.model.add_bos())?;
            if ids.is_empty() {
                return Err(Error::Invalid("the prompt has no tokens".into()));
            }
            np.check_length(ids.len(), batch)?;
            let run = session.model.run(std::slice::from_ref(&ids), &[*hook], false)?.remove(0);
            let h = &run.hooks[0].1; // [n, ...]
            let h = h.reshape((ids.len(), ()))?.to_dtype(DType::F32)?; // [n, d]
            let v = Tensor::from_vec(v.clone(), (v.len(), 1), h.device())?; // [d, 1]
            let values: Vec<f32> = h.matmul(&v)?.squeeze(1)?.to_vec1::<f32>()?.into_iter().map(fin).collect();
            (ids, values)
        }
    };
    let (max_value, max_value_index) = max_at(&values);
    Ok(ActivationSingleResponse {
        activation: SingleActivation { values, max_value, max_value_index },
        tokens: token_strings(session, &ids),
        tokens_is_special: ids.iter().map(|id| special.contains(id)).collect(),
    })
}

/// `POST /v1/activation/single`.
pub fn activation_single(session: &Session, np: &Neuronpedia, req: &ActivationSingleRequest) -> Result<ActivationSingleResponse> {
    np.check_model(&req.model)?;
    let mode = single_mode(session, np, &req.source, &req.index, &req.vector, &req.hook)?;
    single_one(session, np, &mode, &req.prompt, false)
}

/// `POST /v1/activation/single-batch`.
pub fn activation_single_batch(
    session: &Session,
    np: &Neuronpedia,
    req: &ActivationSingleBatchRequest,
) -> Result<ActivationSingleBatchResponse> {
    np.check_model(&req.model)?;
    check_batch(req.prompts.len())?;
    let mode = single_mode(session, np, &req.source, &req.index, &req.vector, &req.hook)?;
    let results = req.prompts.iter().map(|p| single_one(session, np, &mode, p, true)).collect::<Result<_>>()?;
    Ok(ActivationSingleBatchResponse { results })
}

fn topk_one(
    session: &Session,
    np: &Neuronpedia,
    src: &NpSource,
    prompt: &str,
    top_k: Option<i64>,
    ignore_bos: bool,
    batch: bool,
) -> Result<TopkByTokenResponse> {
    let ids = bos_ids(session, prompt)?;
    np.check_length(ids.len(), batch)?;
    let d_sae = session.saes[src.sae].sae.d_sae();
    let k = (top_k.unwrap_or(5).max(1) as usize).min(d_sae);
    let acts = encode(session, &[src], &ids)?.remove(0);
    let special = special_ids(session);
    let strings = token_strings(session, &ids);
    let first = usize::from(ignore_bos);
    let mut results = Vec::with_capacity(ids.len());
    for (t, (fs, vs)) in acts.tokens().enumerate().skip(first) {
        let mut fired: Vec<(u32, f32)> =
            fs.iter().zip(vs).map(|(&f, &v)| (f, fin(v * src.dec_norms.as_ref().map_or(1.0, |n| n[f as usize])))).collect();
        fired.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut top: Vec<(u32, f32)> = fired.iter().copied().filter(|p| p.1 > 0.0).take(k).collect();
        // torch.topk over all features: zeros (lowest ids first here) before negatives.
        let mut f = 0u32;
        while top.len() < k && (f as usize) < d_sae {
            if !fired.iter().any(|p| p.0 == f && p.1 != 0.0) {
                top.push((f, 0.0));
            }
            f += 1;
        }
        top.extend(fired.iter().copied().filter(|p| p.1 < 0.0));
        top.truncate(k);
        results.push(TokenTopFeatures {
            token_position: t,
            token: strings[t].clone(),
            is_special: special.contains(&ids[t]),
            top_features: top
                .into_iter()
                .map(|(feature_index, activation_value)| TopFeatureValue { feature_index, activation_value })
                .collect(),
        });
    }
    Ok(TopkByTokenResponse { results, tokens: strings[first.min(strings.len())..].to_vec() })
}

/// `POST /v1/activation/topk-by-token`.
pub fn topk_by_token(session: &Session, np: &Neuronpedia, req: &TopkByTokenRequest) -> Result<TopkByTokenResponse> {
    np.check_model(&req.model)?;
    let src = np.source(&req.source)?;
    topk_one(session, np, src, &req.prompt, req.top_k, req.ignore_bos, false)
}

/// `POST /v1/activation/topk-by-token-batch`.
pub fn topk_by_token_batch(session: &Session, np: &Neuronpedia, req: &TopkByTokenBatchRequest) -> Result<TopkByTokenBatchResponse> {
    np.check_model(&req.model)?;
    check_batch(req.prompts.len())?;
    let src = np.source(&req.source)?;
    let results = req.prompts.iter().map(|p| topk_one(session, np, src, p, req.top_k, req.ignore_bos, true)).collect::<Result<_>>()?;
    Ok(TopkByTokenBatchResponse { results })
}

/// `POST /v1/activation/source`.
pub fn activation_source(session: &Session, np: &Neuronpedia, req: &ActivationSourceRequest) -> Result<ActivationSourceResponse> {
    np.check_model(&req.model)?;
    check_batch(req.prompts.len())?;
    let src = np.source(&req.source)?;
    let batch = req.prompts.len() > 1;
    let mut results = Vec::with_capacity(req.prompts.len());
    for p in &req.prompts {
        let ids = bos_ids(session, p)?;
        np.check_length(ids.len(), batch)?;
        let acts = encode(session, &[src], &ids)?.remove(0);
        let mut order: Vec<u32> = Vec::new();
        let mut by: HashMap<u32, Vec<(usize, f64)>> = HashMap::new();
        for (t, (fs, vs)) in acts.tokens().enumerate().skip(1) {
            let mut pairs: Vec<(u32, f32)> = fs.iter().copied().zip(vs.iter().copied()).filter(|p| p.1 != 0.0).collect();
            pairs.sort_by_key(|p| p.0);
            for (f, v) in pairs {
                let v = f64::from(fin(v * src.dec_norms.as_ref().map_or(1.0, |n| n[f as usize])));
                by.entry(f)
                    .or_insert_with(|| {
                        order.push(f);
                        Vec::new()
                    })
                    .push((t, (v * 1000.0).round() / 1000.0));
            }
        }
        let active = order.into_iter().map(|f| (f, by.remove(&f).unwrap_or_default())).collect();
        results.push(SourceResult { tokens: token_strings(session, &ids), active_features: ActiveFeatures(active) });
    }
    Ok(ActivationSourceResponse { results })
}
