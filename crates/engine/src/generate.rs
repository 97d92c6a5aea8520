//! `generate` and `capture`: the model-only verbs (no SAE), as engine functions so that every
//! face reaches the model through the engine.

use std::sync::atomic::AtomicBool;

use saex_hooks::Hook;
use saex_model::{Activations, Sampling};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::session::Session;

/// A `generate` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// The prompt.
    pub prompt: String,
    /// Most new tokens (fewer at end-of-sequence).
    pub max_new_tokens: usize,
    /// Sampling temperature (0: greedy).
    #[serde(default)]
    pub temperature: f64,
    /// Nucleus sampling mass.
    #[serde(default = "one")]
    pub top_p: f64,
    /// RNG seed.
    #[serde(default)]
    pub seed: u64,
    /// Prepend bos as the model does (default true).
    #[serde(default = "yes")]
    pub bos: bool,
}

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

/// A continuation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Generated {
    /// The prompt, as given.
    pub prompt: String,
    /// Its token ids.
    pub prompt_ids: Vec<u32>,
    /// The new token ids.
    pub ids: Vec<u32>,
    /// The new text (prompt not included).
    pub text: String,
}

/// Generate from the request's prompt; a set `cancel` flag stops between tokens.
pub fn generate(session: &Session, req: &GenerateRequest, cancel: Option<&AtomicBool>) -> Result<Generated> {
    session.need_logits("generation")?;
    let prompt_ids = session.tokenize_ids(&req.prompt, session.model.add_bos() && req.bos)?;
    if prompt_ids.is_empty() {
        return Err(Error::field("prompt", "has no tokens (an empty prompt without bos)"));
    }
    let sampling = Sampling { temperature: req.temperature, top_p: req.top_p, seed: req.seed };
    let ids = session.model.generate_with(&prompt_ids, req.max_new_tokens, &sampling, &[], cancel)?;
    let text = session.model.tokenizer.decode(&ids).map_err(saex_model::Error::from)?;
    Ok(Generated { prompt: req.prompt.clone(), prompt_ids, ids, text })
}

/// The values of `hooks` on `text` (the model stops after the deepest).
pub fn capture(session: &Session, hooks: &[Hook], text: &str, add_bos: bool) -> Result<Activations> {
    let ids = session.tokenize_ids(text, add_bos)?;
    if ids.is_empty() {
        return Err(Error::field("text", "has no tokens (empty text without bos)"));
    }
    Ok(session.model.run(&[ids], hooks, false)?.remove(0))
}
