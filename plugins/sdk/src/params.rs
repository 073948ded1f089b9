//! Parameter parsing: a typo in a policy's `params` becomes an `error` finding that
//! names the check and the problem, never a trap.

use serde::de::DeserializeOwned;

use crate::{Context, Finding, Status};

/// Parses `params` into `T` (which should use `#[serde(deny_unknown_fields)]`).
pub fn parse<T: DeserializeOwned>(
    ctx: &Context,
    params: &serde_json::Value,
) -> Result<T, Vec<Finding>> {
    serde_json::from_value(params.clone()).map_err(|e| {
        vec![
            ctx.finding("params", Status::Error)
                .message(format!("invalid params for `{}`: {e}", ctx.check))
                .remediation("see `gate checks list` for this check's parameters")
                .build(),
        ]
    })
}

/// An `error` finding for a parameter that parsed but makes no sense.
pub fn invalid(ctx: &Context, message: impl Into<String>) -> Vec<Finding> {
    vec![
        ctx.finding("params", Status::Error)
            .message(format!(
                "invalid params for `{}`: {}",
                ctx.check,
                message.into()
            ))
            .remediation("see `gate checks list` for this check's parameters")
            .build(),
    ]
}
