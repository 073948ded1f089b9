//! `gate serve`: the deployment dashboard. Server-rendered pages (usable
//! without JavaScript; a small script from `/static/` updates them live), a
//! JSON API under `/api/`, a server-sent-events stream of rollout events and
//! Prometheus metrics, all read from the deployment record: each rollout
//! through its [`Store`](gate_rollout::store::Store) (so the file state and a
//! shared database state alike), the audit logs through `gate-audit`
//! (docs/serve.md).
//!
//! - [`app`]: configuration, the served specs and policies, lookups by name;
//! - [`guard`]: Host/Origin checks and security headers on every request;
//! - [`audit_index`]: each audit log's index, followed as it grows;
//! - [`view`]: what is shown, as typed data (rollouts, evaluations,
//!   exemptions, audit, migrations);
//! - [`api`], [`pages`], [`events`], [`metrics`]: the four ways it is served;
//! - [`approve`]: the one write, a signed approval from the rollout page;
//! - [`chart`]: inline SVG charts; [`docs`]: the checks' documentation pages.

pub mod api;
pub mod app;
pub mod approve;
pub mod audit_index;
pub mod chart;
pub mod docs;
pub mod error;
pub mod events;
pub mod guard;
pub mod metrics;
pub mod pages;
pub mod view;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use app::{App, Config};
pub use error::{ApiError, ServeError};

/// Every route, behind the guard.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/checklist", get(pages::checklist))
        .route("/rollouts/{name}", get(pages::rollout))
        .route("/rollouts/{name}/analysis", get(pages::analysis))
        .route("/rollouts/{name}/approve", post(approve::submit))
        .route("/exemptions", get(pages::exemptions))
        .route("/audit", get(pages::audit))
        .route("/migrations", get(pages::migrations))
        .route("/checks/{id}", get(pages::check_doc))
        .route("/static/style.css", get(pages::style))
        .route("/static/live.js", get(pages::script))
        .route("/static/icon.svg", get(pages::icon))
        .route("/favicon.ico", get(pages::icon))
        .route("/api/overview", get(api::overview))
        .route("/api/rollouts", get(api::rollouts))
        .route("/api/rollouts/{name}", get(api::rollout))
        .route("/api/evaluations/latest", get(api::evaluations))
        .route("/api/exemptions", get(api::exemptions))
        .route("/api/audit", get(api::audit))
        .route("/api/events", get(events::stream))
        .route("/metrics", get(metrics::metrics))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            guard::guard,
        ))
        .with_state(app)
}

/// Loads what `config` names and serves it until the process stops.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let mut app = App::load(&config)?;
    app.open_databases().await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: config.listen,
        source,
    })?;
    app.bound(addr, &config.hosts);
    let app = Arc::new(app);
    // Index (and verify) every audit log before the first page asks.
    for index in &app.audits {
        let index = index.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = index.look() {
                tracing::warn!("reading the audit log in {}: {e}", index.location);
            }
        });
    }
    eprintln!(
        "gate serve: http://{addr}/ ({} rollouts, {} policies)",
        app.specs.len(),
        app.policies.len()
    );
    axum::serve(listener, router(app))
        .await
        .map_err(|source| ServeError::Listen { addr, source })
}

/// Runs blocking reads (audit logs are files read whole) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| ApiError::Unavailable(format!("the read failed: {e}")))?
}
