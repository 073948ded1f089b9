//! The JSON API under `/api/`: the same data the pages render, as typed
//! documents (docs/serve.md lists them).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use crate::app::App;
use crate::blocking;
use crate::error::ApiError;
use crate::view::{audit, evaluations, exemptions, rollouts};

/// Audit entries returned per log at most.
pub const AUDIT_LIMIT: usize = 1000;

pub async fn overview(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let rollouts = rollouts::all(&app.specs).await?;
    let evaluations = blocking(&app, evaluations::all).await?;
    Ok(Json(
        json!({ "rollouts": rollouts, "evaluations": evaluations }),
    ))
}

pub async fn rollouts(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(rollouts::all(&app.specs).await?)))
}

pub async fn rollout(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<rollouts::Detail>, ApiError> {
    let spec = app.spec(&name)?;
    Ok(Json(rollouts::detail(spec).await?))
}

pub async fn evaluations(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(blocking(&app, evaluations::all).await?)))
}

pub async fn exemptions(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(blocking(&app, exemptions::all).await?)))
}

pub async fn audit(
    State(app): State<Arc<App>>,
    Query(filter): Query<audit::Filter>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter.parse()?;
    let logs = blocking(&app, move |app| audit::logs(app, &filter, AUDIT_LIMIT)).await?;
    Ok(Json(json!({ "logs": logs })))
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such page".into())
}
