//! `groups build --generate`: seed 000's responses made by the model itself. Each data line
//! `{"<group>": …, "system"?: …, "prompt": …}` becomes a chat (system message if given, then
//! the prompt as the user's turn) rendered through the model's own template
//! ([`crate::chat_prompt`]), answered with seeded sampling (seed + line number, so one line's
//! answer does not depend on the others), and only the answer's tokens are aggregated —
//! never the prompt's, nor the end-of-sequence token that closes the answer.
//!
//! The answers go to `DIR/responses.jsonl` (group, system, prompt, text and token ids), so a
//! reader can see what was aggregated. Answers are appended to `DIR/.responses.partial.jsonl`
//! as they are made: a killed run resumes where it stopped, reusing every answer made with the
//! same model, line and sampling.

use std::io::Write;
use std::path::Path;

use saex_model::Sampling;
use serde::{Deserialize, Serialize};

use crate::chat::{chat_prompt, ChatMessage};
use crate::error::{Error, Result};
use crate::groups::{sequence_vectors, GroupVectors, GroupsBuildRequest, Sequence, Skipped};
use crate::groups_store::check_name;
use crate::session::Session;

/// How the answers are sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GenerateSpec {
    /// Most new tokens per answer (fewer at end-of-sequence).
    pub max_new_tokens: usize,
    /// Sampling temperature (0: greedy).
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Nucleus sampling mass.
    #[serde(default = "default_top_p")]
    pub top_p: f64,
    /// Base seed; line `n` samples with `seed + n`.
    #[serde(default)]
    pub seed: u64,
}

fn default_temperature() -> f64 {
    0.7
}
fn default_top_p() -> f64 {
    0.9
}

/// One generated answer, as written to `responses.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// 1-based line of the data file.
    pub line: usize,
    /// The group.
    pub group: String,
    /// The system prompt, if any.
    pub system: Option<String>,
    /// The user's prompt.
    pub prompt: String,
    /// The answer's text.
    pub text: String,
    /// The rendered chat prompt's token ids (what the answer was conditioned on).
    pub prompt_ids: Vec<u32>,
    /// The answer's token ids (the aggregated ones; a closing end-of-sequence is not kept).
    pub ids: Vec<u32>,
    /// What made it: the model's fingerprint and the sampling (to reuse it on resume).
    pub made_with: String,
}

/// A prompt line of the data file.
struct Prompt {
    line: usize,
    group: String,
    system: Option<String>,
    prompt: String,
}

/// Generate every line's answer (or reuse it), aggregate the answers' tokens.
pub(crate) fn generated_vectors(
    session: &Session,
    sae: usize,
    req: &GroupsBuildRequest,
    spec: &GenerateSpec,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<GroupVectors> {
    if spec.max_new_tokens == 0 {
        return Err(Error::field("generate", "max_new_tokens must be at least 1"));
    }
    session.need_logits("generating responses")?;
    let (prompts, mut skipped) = read_prompts(&req.data, &req.group_field)?;
    if prompts.is_empty() {
        return Err(Error::File {
            path: req.data.display().to_string(),
            message: format!("no line has both `{}` and `prompt`", req.group_field),
        });
    }
    std::fs::create_dir_all(&req.out).map_err(|e| Error::File { path: req.out.display().to_string(), message: e.to_string() })?;
    let partial = req.out.join(".responses.partial.jsonl");
    let made_with =
        format!("{} t={} p={} seed={} max={}", session.model_fingerprint()?, spec.temperature, spec.top_p, spec.seed, spec.max_new_tokens);
    let mut done = read_partial(&partial, &made_with);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)
        .map_err(|e| Error::File { path: partial.display().to_string(), message: e.to_string() })?;
    let n_ctx = session.model.dims().n_ctx;
    let total = prompts.len();
    let mut responses = Vec::with_capacity(total);
    for (n, p) in prompts.iter().enumerate() {
        let key = (p.line, p.group.clone(), p.system.clone(), p.prompt.clone());
        let r = match done.remove(&key) {
            Some(r) => r,
            None => {
                let r = answer(session, p, spec, &made_with)?;
                let mut line = serde_json::to_string(&r).map_err(|e| Error::Invalid(e.to_string()))?;
                line.push('\n');
                log.write_all(line.as_bytes()).map_err(|e| Error::File { path: partial.display().to_string(), message: e.to_string() })?;
                r
            }
        };
        progress(n + 1, total);
        responses.push(r);
    }
    let mut seqs = Vec::new();
    let mut truncated = 0;
    for r in &responses {
        if r.ids.is_empty() {
            skipped.push(Skipped { line: r.line, reason: "the model's answer is empty (end-of-sequence at once)".into() });
            continue;
        }
        let mut ids = [r.prompt_ids.as_slice(), r.ids.as_slice()].concat();
        if ids.len() > n_ctx {
            if r.prompt_ids.len() >= n_ctx {
                skipped.push(Skipped {
                    line: r.line,
                    reason: format!("the chat prompt alone has {} tokens, over the model's context {n_ctx}", r.prompt_ids.len()),
                });
                continue;
            }
            ids.truncate(n_ctx);
            truncated += 1;
        }
        seqs.push(Sequence { group: r.group.clone(), ids, from: r.prompt_ids.len() });
    }
    let mut v = sequence_vectors(session, sae, &seqs, &mut |_| {})?;
    v.skipped = skipped;
    v.truncated = truncated;
    let mut body = String::new();
    for r in &responses {
        body.push_str(&serde_json::to_string(r).map_err(|e| Error::Invalid(e.to_string()))?);
        body.push('\n');
    }
    crate::atomic::write(&req.out.join("responses.jsonl"), body.as_bytes())?;
    let _ = std::fs::remove_file(&partial);
    Ok(v)
}

/// One line's answer through the chat template.
fn answer(session: &Session, p: &Prompt, spec: &GenerateSpec, made_with: &str) -> Result<Response> {
    let mut messages = Vec::new();
    if let Some(s) = &p.system {
        messages.push(ChatMessage { role: "system".into(), content: s.clone() });
    }
    messages.push(ChatMessage { role: "user".into(), content: p.prompt.clone() });
    let rendered = chat_prompt(session, &messages, true).map_err(|e| Error::field("generate", format!("line {}: {e}", p.line)))?;
    // The rendered text carries the template's own special tokens (bos included).
    let prompt_ids = session.tokenize_ids(&rendered, false)?;
    let sampling = Sampling { temperature: spec.temperature, top_p: spec.top_p, seed: spec.seed.wrapping_add(p.line as u64) };
    let mut ids = session.model.generate_with(&prompt_ids, spec.max_new_tokens, &sampling, &[], None)?;
    if ids.last().copied() == session.model.tokenizer.eos_id() {
        ids.pop();
    }
    let text = session.model.tokenizer.decode(&ids).map_err(saex_model::Error::from)?;
    Ok(Response {
        line: p.line,
        group: p.group.clone(),
        system: p.system.clone(),
        prompt: p.prompt.clone(),
        text,
        prompt_ids,
        ids,
        made_with: made_with.to_string(),
    })
}

type Key = (usize, String, Option<String>, String);

/// Answers a killed run already made with the same model and sampling (torn last line
/// ignored: it is made again).
fn read_partial(path: &Path, made_with: &str) -> std::collections::HashMap<Key, Response> {
    let Ok(text) = std::fs::read_to_string(path) else { return Default::default() };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Response>(l).ok())
        .filter(|r| r.made_with == made_with)
        .map(|r| ((r.line, r.group.clone(), r.system.clone(), r.prompt.clone()), r))
        .collect()
}

/// The prompt lines of `path`: a group (string), an optional system prompt, a prompt.
fn read_prompts(path: &Path, group_field: &str) -> Result<(Vec<Prompt>, Vec<Skipped>)> {
    let file = |message: String| Error::File { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| file(format!("line {line}: not JSON: {e}")))?;
        let field = |name: &str| -> Result<Option<String>> {
            match v.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(file(format!("line {line}: `{name}` must be a string, got {other}"))),
            }
        };
        let Some(group) = field(group_field)? else {
            skipped.push(Skipped { line, reason: format!("no `{group_field}` field") });
            continue;
        };
        check_name(&group).map_err(|why| Error::field("group", format!("line {line}: {why}")))?;
        let Some(prompt) = field("prompt")?.filter(|p| !p.trim().is_empty()) else {
            skipped.push(Skipped { line, reason: "no `prompt` (with --generate each line is {group, system?, prompt})".into() });
            continue;
        };
        out.push(Prompt { line, group, system: field("system")?, prompt });
    }
    Ok((out, skipped))
}
