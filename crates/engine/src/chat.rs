//! Chat prompts through the model's own chat template, as transformers'
//! `apply_chat_template` renders them: the Jinja template a GGUF carries in
//! `tokenizer.chat_template` (or an HF directory in `tokenizer_config.json` /
//! `chat_template.jinja`), with `messages`, `add_generation_prompt`, `bos_token` and
//! `eos_token`, blocks trimmed as transformers' Jinja environment does (`trim_blocks`,
//! `lstrip_blocks`), and the Python string methods templates call (`.strip()`, ...).
//! A model without a template (Gemma 3 270M pretrained) is a clear error, never a guess.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::session::Session;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, ...
    pub role: String,
    /// The text.
    pub content: String,
}

/// The model's chat template, if it has one (read once per model file).
pub fn chat_template(session: &Session) -> Result<Option<String>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Option<String>>>> = OnceLock::new();
    let path = model_path(&session.model_id)?;
    let cache = CACHE.get_or_init(Default::default);
    if let Some(t) = cache.lock().map_err(|_| Error::Invalid("chat template cache poisoned".into()))?.get(&path) {
        return Ok(t.clone());
    }
    let t = read_template(&path)?;
    cache.lock().map_err(|_| Error::Invalid("chat template cache poisoned".into()))?.insert(path, t.clone());
    Ok(t)
}

/// `messages` rendered with the model's chat template (`add_generation_prompt`: end with
/// the assistant turn's header, as for generation). The text carries the template's own
/// special tokens (bos included): tokenize it without adding bos.
pub fn chat_prompt(session: &Session, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
    let template = chat_template(session)?.ok_or_else(|| {
        Error::Invalid(format!(
            "This model ({}) has no chat template, so it cannot accept chat messages. Use /v1/steer/completion with a raw `prompt` instead.",
            session.model.info.name
        ))
    })?;
    let tok = &session.model.tokenizer;
    let piece = |id: Option<u32>| id.and_then(|i| tok.id_to_piece(i)).unwrap_or_default();
    render(&template, messages, add_generation_prompt, &piece(tok.bos_id()), &piece(tok.eos_id()))
}

/// Render a chat template (see the module docs).
pub fn render(template: &str, messages: &[ChatMessage], add_generation_prompt: bool, bos_token: &str, eos_token: &str) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
        Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
    });
    let bad = |e: minijinja::Error| Error::Invalid(format!("the chat template failed: {e}"));
    env.add_template("chat", template).map_err(bad)?;
    let ctx = minijinja::context! {
        messages => messages,
        add_generation_prompt => add_generation_prompt,
        bos_token => bos_token,
        eos_token => eos_token,
    };
    env.get_template("chat").map_err(bad)?.render(ctx).map_err(bad)
}

fn model_path(spec: &str) -> Result<PathBuf> {
    let p = Path::new(spec);
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    Ok(saex_model::load::resolve_hub_cache(spec)?)
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::File { path: path.display().to_string(), message: e.to_string() }
}

/// `tokenizer.chat_template` of a GGUF file (its metadata only is read); for an HF
/// directory, `chat_template.jinja` or `tokenizer_config.json`'s `chat_template` (a string,
/// or a list of named templates whose `default` is taken).
fn read_template(path: &Path) -> Result<Option<String>> {
    if path.is_file() {
        let mut f = std::fs::File::open(path).map_err(|e| file_err(path, e))?;
        let content = candle_core::quantized::gguf_file::Content::read(&mut f).map_err(|e| file_err(path, e))?;
        return Ok(match content.metadata.get("tokenizer.chat_template") {
            Some(candle_core::quantized::gguf_file::Value::String(s)) => Some(s.clone()),
            _ => None,
        });
    }
    let jinja = path.join("chat_template.jinja");
    if jinja.is_file() {
        return Ok(Some(std::fs::read_to_string(&jinja).map_err(|e| file_err(&jinja, e))?));
    }
    let cfg = path.join("tokenizer_config.json");
    if !cfg.is_file() {
        return Ok(None);
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).map_err(|e| file_err(&cfg, e))?).map_err(|e| file_err(&cfg, e))?;
    Ok(match &v["chat_template"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(list) => {
            list.iter().find(|t| t["name"] == "default").or(list.first()).and_then(|t| t["template"].as_str()).map(str::to_string)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(v: &[(&str, &str)]) -> Vec<ChatMessage> {
        v.iter().map(|(r, c)| ChatMessage { role: r.to_string(), content: c.to_string() }).collect()
    }

    /// SmolLM2-Instruct's template (ChatML with a default system prompt).
    const SMOL: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn chatml_renders_as_transformers_does() {
        let out = render(SMOL, &msgs(&[("user", "Hi!")]), true, "<|im_start|>", "<|im_end|>").unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"
        );
        let out = render(SMOL, &msgs(&[("system", "S"), ("user", "U")]), false, "", "").unwrap();
        assert_eq!(out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n");
    }

    /// Gemma's template: bos_token, `.strip()` (Python), raise_exception, and block trimming.
    #[test]
    fn python_methods_and_raise_exception() {
        let gemma = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}\n{{ '<start_of_turn>' + role + '\n' + message['content'] | trim }}{{ '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
        let out = render(gemma, &msgs(&[("user", "  Hello ")]), true, "<bos>", "<eos>").unwrap();
        assert_eq!(out, "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n");
        let strip = "{{ messages[0]['content'].strip() }}";
        assert_eq!(render(strip, &msgs(&[("user", "  x  ")]), false, "", "").unwrap(), "x");
        let raising = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}";
        let e = render(raising, &msgs(&[("assistant", "x")]), false, "", "").unwrap_err().to_string();
        assert!(e.contains("Conversation must start with user"), "{e}");
    }
}
