//! Batch mode: a JSONL prompts file, one request per line. Each line is a JSON object of
//! request fields (`{"prompt": "…"}`, `{"id": 7, "text": "…", "gen_tokens": 32}`) laid over
//! the command line's options, or a bare JSON string taken as a prompt.

use serde_json::Value;

use super::request::DiscoverRequest;
use super::response::LineError;
use crate::error::{Error, Result};

/// The request of one prompts-file line: `base` (without its prompt/text) overridden by the
/// line's fields.
pub fn request_from_line(base: &DiscoverRequest, line: &str) -> Result<DiscoverRequest> {
    let line_value: Value = serde_json::from_str(line).map_err(|e| Error::Invalid(format!("not JSON: {e}")))?;
    let overrides = match line_value {
        Value::String(p) => serde_json::json!({ "prompt": p }),
        Value::Object(o) => Value::Object(o),
        other => return Err(Error::Invalid(format!("expected a JSON object or string, got {other}"))),
    };
    let mut merged = serde_json::to_value(DiscoverRequest { prompt: None, text: None, id: None, ..base.clone() })
        .map_err(|e| Error::Invalid(e.to_string()))?;
    if let (Value::Object(m), Value::Object(o)) = (&mut merged, overrides) {
        m.extend(o);
    }
    crate::from_json(merged)
}

/// A failed line's output object: its number, its `id` when the line has one, the field
/// at fault and the message.
pub fn line_error(line: usize, text: &str, field: Option<&str>, error: String) -> LineError {
    let id = serde_json::from_str::<Value>(text).ok().and_then(|v| v.get("id").cloned());
    LineError { line, id, field: field.map(str::to_string), error }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::request::ScoreMode;

    #[test]
    fn lines_override_the_base() {
        let base = DiscoverRequest { score_mode: ScoreMode::Max, gen_tokens: 16, prompt: Some("ignored".into()), ..Default::default() };
        let r = request_from_line(&base, r#"{"id": "q1", "text": "hello", "return_top_x": 3}"#).unwrap();
        assert_eq!(r.text.as_deref(), Some("hello"));
        assert_eq!(r.prompt, None); // the base's prompt does not leak into a text line
        assert_eq!((r.score_mode, r.gen_tokens, r.return_top_x), (ScoreMode::Max, 16, 3));
        assert_eq!(r.id, Some(serde_json::json!("q1")));
        let r = request_from_line(&base, r#""just a prompt""#).unwrap();
        assert_eq!(r.prompt.as_deref(), Some("just a prompt"));
    }

    #[test]
    fn bad_lines_say_why_and_which_field() {
        let base = DiscoverRequest::default();
        let e = request_from_line(&base, r#"{"prompt": "a", "gen_tokens": "many"}"#).unwrap_err();
        assert_eq!(e.field_name(), Some("gen_tokens"), "{e}");
        let e = request_from_line(&base, r#"{"prompt": "a", "bogus": 1}"#).unwrap_err();
        assert_eq!(e.field_name(), Some("bogus"), "{e}");
        assert!(request_from_line(&base, "{not json").is_err());
        assert!(request_from_line(&base, "[1]").is_err());
        let e = request_from_line(&base, r#"{"id": 9, "prompt": 3}"#).unwrap_err();
        let le = line_error(4, r#"{"id": 9, "prompt": 3}"#, e.field_name(), e.to_string());
        assert_eq!((le.line, le.id, le.field.as_deref()), (4, Some(serde_json::json!(9)), Some("prompt")));
    }
}
