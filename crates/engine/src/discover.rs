//! `discover`: seed 002's algorithm end to end — capture, pre-filter, score, gate, rank,
//! attach evidence.
//!
//! Merging across SAEs (`merge_across_layers`): raw activations are not comparable across
//! layers (residual norms grow with depth, and each SAE has its own scale), so each
//! feature's ranking score is divided by its P95 on the reference corpus. Coverage is
//! already unit-free, so for every score mode this is the score computed on activations
//! measured in "typical strong activations of this feature". A feature that never fired on
//! the reference corpus (P95 = 0) is divided by its SAE's median P95 instead. `scores`
//! stays raw; only `score` is normalised. With one SAE nothing is normalised.

use std::sync::atomic::AtomicBool;

use crate::capture::{capture_cancellable, Captured};
use crate::error::{Error, Result};
use crate::filter::keep_top;
use crate::request::{DiscoverRequest, Input, ScoreMode, Tau, TokenFilter};
use crate::response::{Analyzed, DiscoverResponse, FeatureResult};
use crate::score::{rank, score, Scored, Sequence};
use crate::session::{Session, SessionSae};
use crate::text;

/// One SAE's ranked features, before evidence is attached.
struct Ranked {
    sae: usize,   // index into the selection
    score: f32,
    scored: Scored,
}

/// Answer one request.
pub fn discover(session: &Session, req: &DiscoverRequest) -> Result<DiscoverResponse> {
    Ok(discover_with_capture(session, req, None)?.0)
}

/// [`discover`], also returning what was captured (tokens and every selected SAE's codes, in
/// [`Session::select`] order), e.g. to shade the text by a feature in a report. A set
/// `cancel` flag stops the model work early with a `Cancelled` error.
pub fn discover_with_capture(session: &Session, req: &DiscoverRequest, cancel: Option<&AtomicBool>) -> Result<(DiscoverResponse, Captured)> {
    let input = req.input()?;
    if let Some(m) = &req.model_id {
        if *m != session.model_id && !m.eq_ignore_ascii_case(&session.model.info.name) {
            return Err(Error::field("model_id", format!("{m:?} is not loaded; this server holds {:?} ({})", session.model_id, session.model.info.name)));
        }
    }
    let sel = session.select(req)?;
    let saes: Vec<&SessionSae> = sel.iter().map(|&i| &session.saes[i]).collect();
    for s in &saes {
        if let Some(&f) = req.restrict_features.iter().find(|&&f| f as usize >= s.sae.d_sae()) {
            return Err(Error::field("restrict_features", format!("feature {f} is out of range for {} (d_sae {})", s.id, s.sae.d_sae())));
        }
        if req.tau == Tau::P95 && s.stats.is_none() {
            return Err(Error::field(
                "tau",
                format!("τ = p95 needs the SAE's reference statistics, and {} ships no feature_stats.safetensors; run `saex sae-stats --corpus …` on it or give a numeric tau", s.id),
            ));
        }
    }
    let merging = req.merge_across_layers && saes.len() > 1;
    if merging {
        if let Some(s) = saes.iter().find(|s| s.stats.is_none()) {
            return Err(Error::field(
                "merge_across_layers",
                format!("merging makes scores comparable with each feature's reference P95, and {} ships no feature_stats.safetensors; run `saex sae-stats` or set merge_across_layers to false", s.id),
            ));
        }
    }
    let cap = capture_cancellable(session, &sel, &input, req, cancel)?;
    let generating = matches!(input, Input::Generate(_));
    let (span, background) = regions(&cap, req, generating)?;
    let first = usize::from(cap.has_bos);
    let n = cap.tokens.len();
    let restrict = (!req.restrict_features.is_empty()).then_some(req.restrict_features.as_slice());
    let codes: Vec<saex_sae::SparseActs> = cap.saes.iter().map(|c| c.acts()).collect();
    let mut ranked: Vec<Ranked> = Vec::new();
    let mut kept_tokens = 0;
    for (k, s) in saes.iter().enumerate() {
        let codes = &codes[k];
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
        if let (None, Some(st)) = (restrict, &s.stats) {
            scored.retain(|x| f64::from(st.firing_rate[x.feature as usize]) <= req.max_density);
        }
        let mut r: Vec<Ranked> =
            rank(scored, req.score_mode, req.min_coverage_pct).into_iter().map(|(score, scored)| Ranked { sae: k, score, scored }).collect();
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
    let features = ranked.iter().map(|r| evidence(&cap, saes[r.sae], &codes[r.sae], r, req)).collect();
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
            text: cap.text.clone(),
        },
        features,
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
        let span = text::span_mask(&cap.text, &cap.offsets, &req.spans)?;
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

fn evidence(cap: &Captured, s: &SessionSae, codes: &saex_sae::SparseActs, r: &Ranked, req: &DiscoverRequest) -> FeatureResult {
    let f = r.scored.feature;
    let top_spans = if req.attach_examples {
        let per_token: Vec<f32> = codes
            .tokens()
            .map(|(fs, vs)| fs.binary_search(&f).map(|i| vs[i]).unwrap_or(0.0))
            .collect();
        text::top_spans(&cap.text, &cap.offsets, &per_token, usize::from(cap.has_bos))
    } else {
        Vec::new()
    };
    FeatureResult {
        feature_id: f,
        layer: s.hook.layer(),
        stream: s.hook.stream().to_string(),
        score: r.score,
        scores: r.scored.scores,
        proto_label: if req.attach_proto_labels { s.labels.get(&f).cloned() } else { None },
        top_spans,
        neuronpedia_url: s.neuronpedia_id().map(|id| format!("https://www.neuronpedia.org/{id}/{f}")),
    }
}
