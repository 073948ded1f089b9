//! `sql`: read-only queries on named PostgreSQL connections.
//!
//! The URL never sits in the policy: `[connections.NAME] url_env` names the
//! environment variable that holds it. The session's role must not be a
//! superuser or reach the server's files or programs
//! ([`crate::postgres::connect_least_privileged`]). Every statement runs
//! inside a `READ ONLY` transaction with a `statement_timeout`, which is
//! rolled back, and its rows are fetched through a portal a page at a time,
//! so a huge result stops at the caps instead of filling memory first.

use std::time::Instant;

use tokio_postgres::types::Type;

use super::{HostState, bounded, granted};
use crate::bindings::gate::plugin::sql::{Host, QueryResult};
use crate::postgres::db_error;

/// Most rows one query may return to a plugin.
const MAX_ROWS: usize = 10_000;
/// Most bytes of cell text one query may return to a plugin.
const MAX_BYTES: usize = 8 << 20;
/// Rows fetched per round trip.
const PAGE_ROWS: i32 = 500;

impl Host for HostState {
    async fn query(
        &mut self,
        connection: String,
        statement: String,
        params: Vec<Option<String>>,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<QueryResult, String>> {
        if let Some(stubbed) = self.stubbed(
            |s| s.query(&connection, &statement),
            |s| s.denied("sql", &connection, &connection),
        ) {
            return Ok(stubbed);
        }
        if !granted(&self.sandbox.grants.sql, &connection) {
            return Ok(Err(self.sandbox.denied("sql", &connection, &connection)));
        }
        let url = match crate::postgres::url(&self.sandbox.resources.connections, &connection) {
            Ok(url) => url,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let budget = self.budget(timeout_ms);
        let what = format!("query on `{connection}`");
        Ok(bounded(
            budget,
            &what,
            run(
                url,
                statement,
                params,
                budget.as_millis() as u64,
                connection.clone(),
            ),
        )
        .await)
    }
}

async fn run(
    url: String,
    statement: String,
    params: Vec<Option<String>>,
    timeout_ms: u64,
    name: String,
) -> Result<QueryResult, String> {
    let started = Instant::now();
    let mut session = crate::postgres::connect_least_privileged(&name, &url)
        .await
        .map_err(|e| e.to_string())?;
    let tx = session
        .client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(|e| format!("`{name}`: {}", db_error(&e)))?;
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}",
        timeout_ms.max(1),
        timeout_ms.max(1)
    ))
    .await
    .map_err(|e| format!("`{name}`: {}", db_error(&e)))?;
    let types: Vec<Type> = params.iter().map(|_| Type::TEXT).collect();
    let stmt = tx
        .prepare_typed(&statement, &types)
        .await
        .map_err(|e| format!("`{name}`: {}", db_error(&e)))?;
    let portal = tx
        .bind_raw(&stmt, params.iter())
        .await
        .map_err(|e| format!("`{name}`: {}", db_error(&e)))?;
    let columns: Vec<String> = stmt
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    loop {
        let page = tx
            .query_portal(&portal, PAGE_ROWS)
            .await
            .map_err(|e| format!("`{name}`: {}", db_error(&e)))?;
        let last = page.len() < PAGE_ROWS as usize;
        for row in &page {
            let cells: Vec<Option<String>> =
                (0..columns.len()).map(|i| cell_text(row, i)).collect();
            bytes += cells.iter().flatten().map(String::len).sum::<usize>();
            rows.push(cells);
            if rows.len() > MAX_ROWS {
                return Err(format!(
                    "query on `{name}` returns more than {MAX_ROWS} rows, the most a plugin may \
                     read at once; narrow it (WHERE, LIMIT or an aggregate)"
                ));
            }
            if bytes > MAX_BYTES {
                return Err(format!(
                    "query on `{name}` returns more than {} MiB of data, the most a plugin may \
                     read at once; narrow it (WHERE, LIMIT or fewer columns)",
                    MAX_BYTES >> 20
                ));
            }
        }
        if last {
            break;
        }
    }
    // Nothing a plugin runs is ever kept (dropping `tx` would roll back too).
    let _ = tx.rollback().await;
    Ok(QueryResult {
        columns,
        rows,
        elapsed_ms: started.elapsed().as_millis() as u32,
    })
}

/// Renders one cell as text. Types without a text mapping here come back as
/// `<typename>`: plugins cast such columns to text in SQL (`lag::text`).
fn cell_text(row: &tokio_postgres::Row, i: usize) -> Option<String> {
    use tokio_postgres::types::Type as T;
    let ty = row.columns()[i].type_().clone();
    macro_rules! get {
        ($t:ty) => {
            row.try_get::<_, Option<$t>>(i)
                .ok()
                .flatten()
                .map(|v| v.to_string())
        };
    }
    match ty {
        T::BOOL => get!(bool),
        T::INT2 => get!(i16),
        T::INT4 => get!(i32),
        T::INT8 => get!(i64),
        T::OID => get!(u32),
        T::FLOAT4 => get!(f32),
        T::FLOAT8 => get!(f64),
        T::TEXT | T::VARCHAR | T::NAME | T::BPCHAR | T::UNKNOWN => get!(String),
        _ => row
            .try_get::<_, Option<String>>(i)
            .ok()
            .flatten()
            .or_else(|| Some(format!("<{}>", ty.name()))),
    }
}
