//! `ApiError`: every failure as JSON `{"error": …, "field": …}` with the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Message for the client.
    pub message: String,
    /// The request field at fault.
    pub field: Option<String>,
}

impl ApiError {
    /// 400 naming `field`.
    pub fn bad_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into(), field: Some(field.to_string()) }
    }

    /// Any status, no field.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), field: None }
    }

    /// A server-side failure: logged in full, reported generically (paths and internals
    /// stay on the server).
    pub fn internal(e: &dyn std::fmt::Display) -> ApiError {
        eprintln!("error: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error (see the server log)")
    }
}

impl From<saex_discover::Error> for ApiError {
    fn from(e: saex_discover::Error) -> ApiError {
        if matches!(e, saex_discover::Error::Model(saex_model::Error::Cancelled)) {
            // Only past the time limit, after the client already got its 504.
            return ApiError::new(StatusCode::GATEWAY_TIMEOUT, "cancelled at the time limit");
        }
        if e.is_client_error() {
            let field = e.field_name().map(str::to_string);
            ApiError { status: StatusCode::BAD_REQUEST, message: e.to_string(), field }
        } else {
            ApiError::internal(&e)
        }
    }
}

impl From<saex_engine::Error> for ApiError {
    fn from(e: saex_engine::Error) -> ApiError {
        match e {
            saex_engine::Error::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
            saex_engine::Error::Model(saex_model::Error::Cancelled) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "cancelled at the time limit"),
            saex_engine::Error::Model(saex_model::Error::TooLong { .. } | saex_model::Error::Invalid(_)) => {
                ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
            }
            other => ApiError::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(f) = self.field {
            body["field"] = f.into();
        }
        (self.status, Json(body)).into_response()
    }
}
