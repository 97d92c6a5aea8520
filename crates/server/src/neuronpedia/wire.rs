//! The wire conventions of Neuronpedia's inference server: its error bodies and statuses,
//! the `X-SECRET-KEY` check, and key casing.
//!
//! Casing: the published Python client (1.10.x) sends and parses snake_case; Neuronpedia's
//! newer server and webapp speak camelCase. Requests are accepted in either; the answer is
//! in the casing the request used (snake_case for a request whose keys are all one word,
//! such as `{"prompt", "model", "source", "index"}`, with each multi-word key also given in
//! camelCase, which the Python client ignores).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::ApiError;

/// Neuronpedia's error body: `{"error": …}`, and for an unreadable request (422) FastAPI's
/// `detail` list too.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NpErrorBody {
    /// What went wrong.
    pub error: String,
    /// FastAPI-style validation details (422 only): `[{"loc": ["body", field], "msg", "type"}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub detail: Option<Value>,
}

/// A failed Neuronpedia request.
#[derive(Debug)]
pub(crate) struct NpError {
    pub status: StatusCode,
    pub message: String,
    pub detail: Option<Value>,
}

impl NpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> NpError {
        NpError { status, message: message.into(), detail: None }
    }

    /// 422 for a body that is not the route's request (FastAPI's status and `detail`).
    pub fn unprocessable(e: &serde_json::Error) -> NpError {
        let msg = e.to_string();
        let between = |s: &str| s.split('`').nth(1).map(str::to_string);
        let (kind, field) = if msg.starts_with("missing field") {
            ("missing", between(&msg))
        } else if msg.starts_with("unknown variant") {
            ("enum", None)
        } else {
            ("value_error", None)
        };
        let loc: Vec<Value> = std::iter::once(json!("body")).chain(field.map(Value::from)).collect();
        let text = if kind == "missing" { "Field required".to_string() } else { msg.clone() };
        NpError { status: StatusCode::UNPROCESSABLE_ENTITY, message: msg, detail: Some(json!([{ "loc": loc, "msg": text, "type": kind }])) }
    }
}

impl From<ApiError> for NpError {
    fn from(e: ApiError) -> NpError {
        // Neuronpedia answers an overloaded or slow server with 503 (retryable).
        let status = if e.status == StatusCode::GATEWAY_TIMEOUT { StatusCode::SERVICE_UNAVAILABLE } else { e.status };
        NpError { status, message: e.message, detail: None }
    }
}

impl From<saex_engine::Error> for NpError {
    fn from(e: saex_engine::Error) -> NpError {
        ApiError::from(e).into()
    }
}

impl IntoResponse for NpError {
    fn into_response(self) -> Response {
        (self.status, Json(NpErrorBody { error: self.message, detail: self.detail })).into_response()
    }
}

/// The key casing of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Snake,
    Camel,
    Both,
}

/// The casing `body`'s keys use (see the module docs).
pub(crate) fn casing(body: &Value) -> Case {
    fn walk(v: &Value, camel: &mut bool, snake: &mut bool) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    *camel |= k.bytes().any(|b| b.is_ascii_uppercase());
                    *snake |= k.contains('_');
                    walk(v, camel, snake);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, camel, snake)),
            _ => {}
        }
    }
    let (mut camel, mut snake) = (false, false);
    walk(body, &mut camel, &mut snake);
    match (camel, snake) {
        (true, false) => Case::Camel,
        (false, true) => Case::Snake,
        _ => Case::Both,
    }
}

/// `max_value_index` → `maxValueIndex`.
pub(crate) fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut up = false;
    for c in key.chars() {
        if c == '_' {
            up = !out.is_empty();
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `v` (snake_case keys) in `case`. Object keys without an underscore (data keys such as
/// `activeFeatures`' feature ids) are left as they are.
pub(crate) fn recase(v: Value, case: Case) -> Value {
    if case == Case::Snake {
        return v;
    }
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let v = recase(v, case);
                if k.contains('_') {
                    if case == Case::Both {
                        out.insert(k.clone(), v.clone());
                    }
                    out.insert(camel(&k), v);
                } else {
                    out.insert(k, v);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|v| recase(v, case)).collect()),
        other => other,
    }
}

/// The shared secret `X-SECRET-KEY` must carry. Never printed.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Equal in time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..n {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// Paths answered without the secret (liveness and the API description).
const OPEN: [&str; 3] = ["/health", "/healthz", "/openapi.json"];

/// 401 `{"error": "Invalid or missing X-SECRET-KEY header"}` unless the header carries the
/// secret (Neuronpedia's `check_secret_key`).
pub(crate) async fn check_secret(State(secret): State<std::sync::Arc<Secret>>, req: Request, next: Next) -> Response {
    if OPEN.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let given = req.headers().get("x-secret-key").map(|v| v.as_bytes());
    if given.is_some_and(|g| same(g, secret.0.as_bytes())) {
        return next.run(req).await;
    }
    NpError::new(StatusCode::UNAUTHORIZED, "Invalid or missing X-SECRET-KEY header").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casing_follows_the_request() {
        assert_eq!(casing(&json!({"source_set": "x", "prompt": "p"})), Case::Snake);
        assert_eq!(casing(&json!({"sourceSet": "x"})), Case::Camel);
        assert_eq!(casing(&json!({"prompt": "p", "model": "m"})), Case::Both);
        assert_eq!(casing(&json!({"features": [{"steering_vector": [1]}]})), Case::Snake);
        assert_eq!(camel("max_value_index"), "maxValueIndex");
        let v = json!({"max_value": 1, "activeFeatures": {"7": [[1, 0.5]]}, "results": [{"token_strings": []}]});
        assert_eq!(recase(v.clone(), Case::Snake), v);
        assert_eq!(
            recase(v.clone(), Case::Camel),
            json!({"maxValue": 1, "activeFeatures": {"7": [[1, 0.5]]}, "results": [{"tokenStrings": []}]})
        );
        let both = recase(v, Case::Both);
        assert_eq!((both["max_value"].clone(), both["maxValue"].clone()), (json!(1), json!(1)));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd") && !same(b"abc", b"ab") && !same(b"", b"a"));
    }

    #[test]
    fn missing_fields_are_named_as_fastapi_does() {
        let e = serde_json::from_value::<saex_engine::neuronpedia::TopkByTokenRequest>(json!({"prompt": "x", "model": "m"})).unwrap_err();
        let e = NpError::unprocessable(&e);
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.detail.unwrap()[0]["loc"], json!(["body", "source"]));
    }
}
