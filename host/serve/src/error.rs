//! The dashboard's errors: [`ServeError`] stops it from starting, an
//! [`ApiError`] answers one request with a 4xx or 5xx and a one-line reason
//! (as JSON under `/api/`, as text elsewhere) and never stops the server.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why the dashboard could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Policy(String),
    #[error("{0}")]
    Spec(String),
    #[error(
        "{addr} is not a loopback address: the dashboard would be reachable from other machines\n  help: pass --allow-remote to serve on it anyway (behind a proxy that authenticates), or listen on 127.0.0.1"
    )]
    Remote { addr: std::net::SocketAddr },
    #[error("two specs name the rollout `{0}`; each rollout must be served once")]
    DuplicateRollout(String),
    #[error("--vkey: {0}")]
    Verifier(String),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// Why one request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<gate_rollout::store::StoreError> for ApiError {
    fn from(e: gate_rollout::store::StoreError) -> ApiError {
        ApiError::Unavailable(gate_redact::scrub(&e.to_string()))
    }
}

impl From<gate_audit::AuditError> for ApiError {
    fn from(e: gate_audit::AuditError) -> ApiError {
        ApiError::Unavailable(gate_redact::scrub(&e.to_string()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() });
        (self.status(), axum::Json(body)).into_response()
    }
}
