//! Attacks through the `sql` grant: statements that reach past the database
//! (server files, programs) or return more rows than a plugin may hold.

use gate_plugin_sdk::host::sql;
use gate_plugin_sdk::{Context, Finding, Status};

/// Runs the `statement` param on the `connection` param. `pass` reports
/// what came back (for the legitimate queries the tests also run).
pub fn query(ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
    let param = |key: &str| params.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    let (connection, statement) = (param("connection"), param("statement"));
    match sql::query(connection, statement, &[], 0) {
        Ok(r) => {
            let first = r
                .rows
                .first()
                .and_then(|row| row.first().cloned().flatten())
                .unwrap_or_default();
            vec![
                ctx.finding(connection, Status::Pass)
                    .message(format!("{} rows; first: {first}", r.rows.len()))
                    .evidence("rows", r.rows.len())
                    .build(),
            ]
        }
        Err(e) => vec![ctx.finding(connection, Status::Error).message(e).build()],
    }
}
