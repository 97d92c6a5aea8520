//! Neuronpedia's inference API over a session: the engine functions behind `/v1/activation/*`,
//! `/v1/tokenize`, `/v1/steer/completion(-chat)` and `/v1/util/*`, answering what
//! Neuronpedia's Python server answers (the published client `neuronpedia-inference-client`
//! 1.10.x is the contract) for the session's model and SAEs.
//!
//! **Sources.** Neuronpedia names an SAE by a source id `{layer}-{set}` (`6-res-jb`); a
//! [`Neuronpedia`] maps the session's SAEs to ids: the SAE's own Neuronpedia id when its
//! config has one (`gemma-2-2b/20-gemmascope-res-16k` → `20-gemmascope-res-16k`), else
//! `{layer}-saex-{kind}-{width}` (`demo/sae` at `blocks.6.hook_resid_pre`, 4096 features →
//! `6-saex-res-4k`), or what the caller names it ([`NpOptions::names`]).
//!
//! **Values.** Neuronpedia loads SAELens SAEs with `fold_W_dec_norm()` unless they are TopK
//! SAEs without `rescale_acts_by_decoder_norm`: its activations are then the SAE's times
//! ‖W_dec[f]‖, its decoder rows (steering directions) unit-norm and its encoder columns
//! (`util/sae-vector`) times ‖W_dec[f]‖. The same is done here ([`NpSource::dec_norms`]);
//! TopK SAEs (the demo SAE) are unscaled, so their values are exactly `saex encode`'s.
//!
//! **Tokens.** As Neuronpedia: the activation routes prepend bos whenever the vocabulary has
//! one; token strings are each id decoded alone (TransformerLens `to_str_tokens`).

mod activation;
mod generate;
mod steer;
mod types;
mod util;

use std::collections::HashSet;

use candle_core::{DType, D};
use saex_hooks::Hook;
use saex_sae::Architecture;

use crate::error::{Error, Result};
use crate::session::Session;

pub use activation::{
    activation_all, activation_all_batch, activation_single, activation_single_batch, activation_source, topk_by_token, topk_by_token_batch,
};
pub use steer::{steer_chat, steer_completion};
pub use types::*;
pub use util::{models, sae_topk_by_decoder_cossim, sae_vector, tokenize};

/// Most prompts of a batch request.
pub const MAX_BATCH: usize = 4;
/// Neuronpedia's default prompt limit (`TOKEN_LIMIT`).
pub const DEFAULT_TOKEN_LIMIT: usize = 200;
/// Most rows of `/v1/activation/all`.
pub const MAX_ALL_RESULTS: usize = 1000;
/// Most rows of `/v1/util/sae-topk-by-decoder-cossim`.
pub const MAX_COSSIM_RESULTS: usize = 128;

/// How the Neuronpedia face names things.
#[derive(Debug, Clone, Default)]
pub struct NpOptions {
    /// `(source id, SAE)`: name the session SAE whose id is `SAE` so (others get the default).
    pub names: Vec<(String, String)>,
    /// The model id clients send (default: the model part of an SAE's Neuronpedia id, else
    /// the model's own name in lower case with dashes: `gemma-3-270m`).
    pub model: Option<String>,
    /// Most prompt tokens (default [`DEFAULT_TOKEN_LIMIT`]).
    pub token_limit: Option<usize>,
}

/// One source: a session SAE under its Neuronpedia id.
#[derive(Debug, Clone)]
pub struct NpSource {
    /// `{layer}-{set}`.
    pub id: String,
    /// The set (the id after its layer).
    pub set: String,
    /// Index of the SAE in the session.
    pub sae: usize,
    /// ‖W_dec[f]‖ per feature when Neuronpedia's loading folds them (see the module docs).
    pub dec_norms: Option<Vec<f32>>,
}

/// The session's SAEs as Neuronpedia sources, the model id and the limits.
#[derive(Debug, Clone)]
pub struct Neuronpedia {
    /// The `model` value requests carry.
    pub model: String,
    /// The sources, in session order.
    pub sources: Vec<NpSource>,
    /// Most prompt tokens.
    pub token_limit: usize,
    /// Other spellings of the model accepted in requests (the session's model id, its name).
    aliases: Vec<String>,
}

/// `4096` → `4k`, `16384` → `16k`, `65536` → `65k`, `1048576` → `1m` (Gemma Scope's
/// spelling), under 1000 as is.
fn width(d_sae: usize) -> String {
    match d_sae {
        n if n >= 1_000_000 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Neuronpedia's kind of a hook: `res`, `att`, `mlp` (others: the stream name).
fn kind(hook: Hook) -> &'static str {
    match hook {
        Hook::ResidPre(_) | Hook::ResidMid(_) | Hook::ResidPost(_) => "res",
        Hook::AttnZ(_) | Hook::AttnOut(_) => "att",
        Hook::MlpPost(_) | Hook::MlpOut(_) => "mlp",
        other => other.stream(),
    }
}

/// Lower case, runs of anything but letters and digits as one dash: `Gemma 3 270m` →
/// `gemma-3-270m`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Checks a source id: `{layer}-{set}` with a decimal layer and a nonempty set.
fn parse_id(id: &str) -> Result<(usize, String)> {
    let bad = || Error::Invalid(format!("source id {id:?}: expected {{layer}}-{{set}}, e.g. 6-saex-res-4k"));
    let (layer, set) = id.split_once('-').ok_or_else(bad)?;
    let layer: usize = layer.parse().map_err(|_| bad())?;
    if set.is_empty() || !set.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(bad());
    }
    Ok((layer, set.to_string()))
}

impl Neuronpedia {
    /// Name the session's SAEs and model (see [`NpOptions`]). Two SAEs under one id, a
    /// malformed id, an id whose layer is not its SAE's, or a name for an SAE that is not
    /// loaded are errors.
    pub fn new(session: &Session, opts: &NpOptions) -> Result<Neuronpedia> {
        for (id, sae) in &opts.names {
            if !session.saes.iter().any(|s| &s.id == sae) {
                let loaded: Vec<&str> = session.saes.iter().map(|s| s.id.as_str()).collect();
                return Err(Error::Invalid(format!("source {id}={sae}: no SAE {sae:?} is loaded (loaded: {})", loaded.join(", "))));
            }
        }
        let mut sources = Vec::new();
        for (i, s) in session.saes.iter().enumerate() {
            let named = opts.names.iter().find(|(_, sae)| sae == &s.id).map(|(id, _)| id.clone());
            let np_part = s.neuronpedia_id().and_then(|n| n.rsplit('/').next()).filter(|p| parse_id(p).is_ok());
            let id = match (named, np_part) {
                (Some(id), _) => id,
                (None, Some(p)) => p.to_string(),
                (None, None) => {
                    let layer = s.hook.layer().map_or_else(|| "0".to_string(), |l| l.to_string());
                    format!("{layer}-saex-{}-{}", kind(s.hook), width(s.sae.d_sae()))
                }
            };
            let (layer, set) = parse_id(&id)?;
            if let Some(l) = s.hook.layer() {
                if l != layer {
                    return Err(Error::Invalid(format!("source id {id}: the SAE {} reads layer {l} ({})", s.id, s.hook)));
                }
            }
            if sources.iter().any(|x: &NpSource| x.id == id) {
                return Err(Error::Invalid(format!(
                    "two SAEs would both be source {id}; name them (saex serve --source ID=SAE, e.g. --source {layer}-{set}-b={})",
                    s.id
                )));
            }
            sources.push(NpSource { id, set, sae: i, dec_norms: dec_norms(&s.sae)? });
        }
        let from_sae = session.saes.iter().filter_map(|s| s.neuronpedia_id()?.split_once('/').map(|(m, _)| m.to_string())).next();
        let model = opts.model.clone().or(from_sae).unwrap_or_else(|| slug(&session.model.info.name));
        let aliases = vec![session.model_id.clone(), session.model.info.name.clone()];
        Ok(Neuronpedia { model, sources, token_limit: opts.token_limit.unwrap_or(DEFAULT_TOKEN_LIMIT), aliases })
    }

    /// [`Neuronpedia::new`] with default names; ids that would collide get a `-{i}` suffix
    /// on their set, so this cannot fail.
    pub fn with_defaults(session: &Session) -> Neuronpedia {
        if let Ok(np) = Neuronpedia::new(session, &NpOptions::default()) {
            return np;
        }
        let mut names = Vec::new();
        let mut seen = HashSet::new();
        for (i, s) in session.saes.iter().enumerate() {
            let layer = s.hook.layer().unwrap_or(0);
            let base = format!("{layer}-saex-{}-{}", kind(s.hook), width(s.sae.d_sae()));
            let id = if seen.insert(base.clone()) { base } else { format!("{base}-{i}") };
            names.push((id, s.id.clone()));
        }
        Neuronpedia::new(session, &NpOptions { names, ..Default::default() }).unwrap_or_else(|_| Neuronpedia {
            model: slug(&session.model.info.name),
            sources: Vec::new(),
            token_limit: DEFAULT_TOKEN_LIMIT,
            aliases: vec![session.model_id.clone()],
        })
    }

    /// 400 `Unsupported model` unless `model` names the served model.
    pub fn check_model(&self, model: &str) -> Result<()> {
        if model == self.model || self.aliases.iter().any(|a| a == model || a.eq_ignore_ascii_case(model)) {
            return Ok(());
        }
        Err(Error::Invalid(format!("Unsupported model: {model:?}; this server serves {:?} (GET /v1/models)", self.model)))
    }

    /// The source `id`.
    pub fn source(&self, id: &str) -> Result<&NpSource> {
        self.sources.iter().find(|s| s.id == id).ok_or_else(|| {
            let ids: Vec<&str> = self.sources.iter().map(|s| s.id.as_str()).collect();
            Error::Invalid(format!("Invalid SAE ID or type: {id} (this server serves: {})", ids.join(", ")))
        })
    }

    /// The source sets, in order of first appearance.
    pub fn sets(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.sources {
            if !out.contains(&s.set) {
                out.push(s.set.clone());
            }
        }
        out
    }

    /// 400 `Text too long` past the limit (`batch`: a quarter of it, as Neuronpedia).
    fn check_length(&self, n: usize, batch: bool) -> Result<()> {
        if batch {
            let max = self.token_limit as f64 / 4.0;
            if n as f64 > max {
                return Err(Error::Invalid(format!("Text too long: {n} tokens, max is {max:?} for batch requests")));
            }
        } else if n > self.token_limit {
            return Err(Error::Invalid(format!("Text too long: {n} tokens, max is {}", self.token_limit)));
        }
        Ok(())
    }
}

/// ‖W_dec[f]‖ per feature if Neuronpedia would fold them into the SAE: every architecture
/// but TopK (whose `rescale_acts_by_decoder_norm` already puts them in its values, or, when
/// false, keeps Neuronpedia from folding). Norms all within 1e-6 of 1 (already folded) are
/// no scaling.
fn dec_norms(sae: &saex_sae::Sae) -> Result<Option<Vec<f32>>> {
    if sae.config().architecture == Architecture::TopK {
        return Ok(None);
    }
    let norms: Vec<f32> = sae.w_dec().to_dtype(DType::F32)?.sqr()?.sum(D::Minus1)?.sqrt()?.to_vec1()?;
    Ok(if norms.iter().all(|n| (n - 1.0).abs() <= 1e-6) { None } else { Some(norms) })
}

/// Whether Neuronpedia folds the decoder norms of this SAE into its weights (so its decoder
/// rows are unit-norm): also TopK SAEs with `rescale_acts_by_decoder_norm`.
fn folds(sae: &saex_sae::Sae) -> bool {
    let c = sae.config();
    c.architecture != Architecture::TopK || c.rescale_acts_by_decoder_norm
}

/// The feature index of a request, checked against the source's width.
fn feature_index(np: &Neuronpedia, session: &Session, src: &NpSource, index: i64) -> Result<u32> {
    let d_sae = session.saes[src.sae].sae.d_sae();
    if index < 0 || index as usize >= d_sae {
        return Err(Error::Invalid(format!("Feature index {index} is out of range for {}, which has {d_sae} features", src.id)));
    }
    let _ = np;
    Ok(index as u32)
}

/// Token strings as TransformerLens's `to_str_tokens`: each id decoded alone, special
/// tokens kept.
pub(crate) fn token_strings(session: &Session, ids: &[u32]) -> Vec<String> {
    let tok = session.model.tokenizer.hf_tokenizer();
    ids.iter().map(|&id| tok.decode(&[id], false).unwrap_or_default()).collect()
}

/// The special ids: bos, eos and every added token marked special.
pub(crate) fn special_ids(session: &Session) -> HashSet<u32> {
    let t = &session.model.tokenizer;
    let mut out: HashSet<u32> =
        t.hf_tokenizer().get_added_tokens_decoder().into_iter().filter(|(_, a)| a.special).map(|(id, _)| id).collect();
    out.extend(t.bos_id());
    out.extend(t.eos_id());
    out
}

/// Ids of `prompt` with bos first whenever the vocabulary has one (Neuronpedia prepends the
/// bos string when missing and tokenizes without special tokens).
pub(crate) fn bos_ids(session: &Session, prompt: &str) -> Result<Vec<u32>> {
    let tok = &session.model.tokenizer;
    let ids = session.tokenize_ids(prompt, tok.bos_id().is_some())?;
    if ids.is_empty() {
        return Err(Error::Invalid("the prompt has no tokens".into()));
    }
    Ok(ids)
}

/// A finite number for JSON (non-finite values would serialize as null, which the client
/// refuses).
pub(crate) fn fin(x: f32) -> f32 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_kinds_and_slugs() {
        assert_eq!([width(4096), width(16384), width(65536), width(1 << 20), width(768)], ["4k", "16k", "65k", "1m", "768"]);
        assert_eq!((kind(Hook::ResidPre(6)), kind(Hook::AttnZ(2)), kind(Hook::MlpOut(1))), ("res", "att", "mlp"));
        assert_eq!(slug("Gemma 3 270m"), "gemma-3-270m");
        assert_eq!(slug("SmolLM2 135M Instruct"), "smollm2-135m-instruct");
        assert_eq!(parse_id("6-saex-res-4k").unwrap(), (6, "saex-res-4k".to_string()));
        assert!(parse_id("res-4k").is_err() && parse_id("6-").is_err() && parse_id("6").is_err());
    }
}
