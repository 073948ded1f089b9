//! The checks every request passes before a handler sees it, and the
//! headers every answer carries: the `Host` must be one the server answers
//! to (a DNS-rebinding page reaching 127.0.0.1 under another name is
//! refused), an `Origin`, when sent, must be the server's own, and a write
//! must carry one; pages are sent with a Content-Security-Policy that allows
//! no inline script and no framing.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::error::ApiError;

/// Scripts, styles and images from the server only; no inline script, no
/// eval, no framing, forms post only back here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let mut response = match check(&app, req.method(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            tracing::warn!("refused {} {}: {e}", req.method(), req.uri().path());
            e.into_response()
        }
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Whether a request may reach a handler.
pub fn check(app: &App, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let text = |name: header::HeaderName| -> Result<Option<&str>, ApiError> {
        headers
            .get(&name)
            .map(|v| {
                v.to_str()
                    .map_err(|_| ApiError::BadRequest(format!("the {name} header is not text")))
            })
            .transpose()
    };
    let host = text(header::HOST)?
        .ok_or_else(|| ApiError::BadRequest("the request has no Host header".into()))?;
    if !app.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(ApiError::Forbidden(
            "this server does not answer to that Host (start it with --host NAME to add one)"
                .into(),
        ));
    }
    let origin = text(header::ORIGIN)?;
    if let Some(origin) = origin {
        let own = app
            .hosts
            .iter()
            .any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")));
        if !own {
            return Err(ApiError::Forbidden(
                "cross-origin requests are refused".into(),
            ));
        }
    }
    if text(header::HeaderName::from_static("sec-fetch-site"))? == Some("cross-site") {
        return Err(ApiError::Forbidden(
            "cross-origin requests are refused".into(),
        ));
    }
    let reads = matches!(*method, Method::GET | Method::HEAD);
    if !reads && origin.is_none() {
        return Err(ApiError::Forbidden(
            "a write must come from this server's own page (no Origin header)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        App {
            specs: Vec::new(),
            policies: Vec::new(),
            audits: Vec::new(),
            verifier: None,
            hosts: vec!["127.0.0.1:8080".into(), "localhost:8080".into()],
            submitter: "test".into(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn own_host_and_origin_pass_others_are_refused() {
        let app = app();
        let ok = |m: &Method, h: &[(&'static str, &str)]| check(&app, m, &headers(h)).is_ok();
        assert!(ok(&Method::GET, &[("host", "127.0.0.1:8080")]));
        assert!(ok(&Method::GET, &[("host", "LOCALHOST:8080")]));
        assert!(!ok(&Method::GET, &[("host", "rebound.example:8080")]));
        assert!(!ok(&Method::GET, &[]));
        assert!(!ok(
            &Method::GET,
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example")
            ]
        ));
        assert!(!ok(
            &Method::GET,
            &[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]
        ));
        assert!(ok(
            &Method::POST,
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080")
            ]
        ));
        assert!(!ok(&Method::POST, &[("host", "127.0.0.1:8080")]));
        assert!(!ok(
            &Method::POST,
            &[("host", "127.0.0.1:8080"), ("origin", "null")]
        ));
    }
}
