//! The server-rendered pages (askama templates under `templates/`): every
//! page works without JavaScript; `/static/live.js` updates the rollout
//! figures in place from `/api/events` and redraws the analysis charts from
//! `/rollouts/NAME/analysis` as measurements arrive.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};

use crate::app::{App, valid_name};
use crate::blocking;
use crate::error::ApiError;
use crate::view::audit::{self, Filter, LogView};
use crate::view::evaluations::{self, Latest};
use crate::view::exemptions::{self, ExemptionView};
use crate::view::migrations::{self, PolicyMigrations};
use crate::view::rollouts::{self, AnalysisView, Detail, Summary};

/// Audit entries shown per log on the audit page.
pub const AUDIT_SHOWN: usize = 500;

pub fn render(t: &impl Template) -> Result<String, ApiError> {
    t.render()
        .map_err(|e| ApiError::Unavailable(format!("rendering the page: {e}")))
}

fn page(t: &impl Template) -> Result<Html<String>, ApiError> {
    render(t).map(Html)
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct Overview {
    pub rollouts: Vec<Summary>,
    pub evaluations: Vec<Latest>,
}

#[derive(Template)]
#[template(path = "checklist.html")]
pub struct Checklist {
    pub evaluations: Vec<Latest>,
}

#[derive(Template)]
#[template(path = "rollout.html")]
pub struct RolloutPage {
    pub r: Detail,
    /// The analysis section, rendered by [`AnalysisSection`].
    pub analysis: String,
}

/// A rollout's analyses and their charts: part of the rollout page, and
/// served alone (`/rollouts/NAME/analysis`) for the page to redraw.
#[derive(Template)]
#[template(path = "analysis.html")]
pub struct AnalysisSection<'a> {
    pub analyses: &'a [AnalysisView],
}

#[derive(Template)]
#[template(path = "exemptions.html")]
pub struct Exemptions {
    pub exemptions: Vec<ExemptionView>,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct Audit {
    pub logs: Vec<LogView>,
    /// Each entry kind, and whether it is the one filtered on.
    pub kinds: Vec<(&'static str, bool)>,
    pub kind: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "migrations.html")]
pub struct Migrations {
    pub policies: Vec<PolicyMigrations>,
}

#[derive(Template)]
#[template(path = "check.html")]
pub struct CheckDoc {
    pub id: String,
    pub text: &'static str,
}

/// What became of a posted approval.
#[derive(Template)]
#[template(path = "outcome.html")]
pub struct Outcome {
    pub title: &'static str,
    pub detail: String,
    pub rollout: String,
}

pub async fn overview(State(app): State<Arc<App>>) -> Result<Html<String>, ApiError> {
    let rollouts = rollouts::all(&app.specs).await?;
    let evaluations = blocking(&app, evaluations::all).await?;
    page(&Overview {
        rollouts,
        evaluations,
    })
}

pub async fn checklist(State(app): State<Arc<App>>) -> Result<Html<String>, ApiError> {
    let evaluations = blocking(&app, evaluations::all).await?;
    page(&Checklist { evaluations })
}

pub async fn rollout(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Html<String>, ApiError> {
    let spec = app.spec(&name)?;
    let r = rollouts::detail(spec).await?;
    let analysis = render(&AnalysisSection {
        analyses: &r.analyses,
    })?;
    page(&RolloutPage { r, analysis })
}

/// The rollout page's analysis section alone, as it is now.
pub async fn analysis(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Html<String>, ApiError> {
    let spec = app.spec(&name)?;
    let analyses = rollouts::analyses(spec).await?;
    page(&AnalysisSection {
        analyses: &analyses,
    })
}

pub async fn exemptions(State(app): State<Arc<App>>) -> Result<Html<String>, ApiError> {
    let exemptions = blocking(&app, exemptions::all).await?;
    page(&Exemptions { exemptions })
}

pub async fn audit(
    State(app): State<Arc<App>>,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, ApiError> {
    let parsed = filter.parse()?;
    let logs = blocking(&app, move |app| audit::logs(app, &parsed, AUDIT_SHOWN)).await?;
    let kind = filter.kind.unwrap_or_default();
    page(&Audit {
        logs,
        kinds: <gate_audit::Kind as strum::IntoEnumIterator>::iter()
            .map(<&'static str>::from)
            .map(|k| (k, k == kind))
            .collect(),
        kind,
        since: filter.since.unwrap_or_default(),
    })
}

pub async fn migrations(State(app): State<Arc<App>>) -> Result<Html<String>, ApiError> {
    let policies = blocking(&app, migrations::all).await?;
    page(&Migrations { policies })
}

pub async fn check_doc(Path(id): Path<String>) -> Result<Html<String>, ApiError> {
    valid_name(&id, "check")?;
    let text = crate::docs::page(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no documentation page for check `{id}`")))?;
    page(&CheckDoc { id, text })
}

pub async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/style.css"),
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../static/live.js"),
    )
}

pub async fn icon() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "image/svg+xml")],
        include_str!("../static/icon.svg"),
    )
}
