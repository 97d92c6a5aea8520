//! `ApiError`: every failure as JSON `{"error": …, "field": …}` with the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in one line.
    pub error: String,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

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
        tracing::error!("{e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error (see the server log)")
    }
}

impl From<saex_engine::Error> for ApiError {
    fn from(e: saex_engine::Error) -> ApiError {
        if e.is_cancelled() {
            // Only past the time limit, after the client already got its 504.
            return ApiError::new(StatusCode::GATEWAY_TIMEOUT, "cancelled at the time limit");
        }
        match &e {
            // The registry file is broken: the request cannot be served until someone fixes it.
            saex_engine::Error::Labels(l @ saex_engine::saex_labels::Error::Corrupt { .. }) => {
                return ApiError::new(StatusCode::CONFLICT, l.to_string())
            }
            saex_engine::Error::Labels(l @ saex_engine::saex_labels::Error::Fetch(_)) => {
                return ApiError::new(StatusCode::BAD_GATEWAY, l.to_string())
            }
            _ => {}
        }
        if e.is_client_error() {
            let field = e.field_name().map(str::to_string);
            let message = match &e {
                saex_engine::Error::Field { message, .. } => format!("`{}`: {message}", field.as_deref().unwrap_or("")),
                other => other.to_string(),
            };
            ApiError { status: StatusCode::BAD_REQUEST, message, field }
        } else {
            ApiError::internal(&e)
        }
    }
}

impl From<saex_analysis::Error> for ApiError {
    fn from(e: saex_analysis::Error) -> ApiError {
        saex_engine::Error::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.message, field: self.field })).into_response()
    }
}
