//! `sql`: read-only queries on named PostgreSQL connections.
//!
//! The URL never sits in the policy: `[connections.NAME] url_env` names the
//! environment variable that holds it. Every statement runs inside a
//! `READ ONLY` transaction with a `statement_timeout`, which is rolled back.

use std::time::Instant;

use tokio_postgres::NoTls;
use tokio_postgres::types::Type;

use super::{HostState, bounded, granted};
use crate::bindings::gate::plugin::sql::{Host, QueryResult};

/// Most rows one query may return to a plugin.
const MAX_ROWS: usize = 10_000;

impl Host for HostState {
    async fn query(
        &mut self,
        connection: String,
        statement: String,
        params: Vec<Option<String>>,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<QueryResult, String>> {
        if !granted(&self.sandbox.grants.sql, &connection) {
            return Ok(Err(self.sandbox.denied("sql", &connection, &connection)));
        }
        let Some(conn) = self.sandbox.resources.connections.get(&connection) else {
            return Ok(Err(format!(
                "no connection named `{connection}`; define [connections.{connection}] in the policy"
            )));
        };
        if conn.kind != "postgres" {
            return Ok(Err(format!(
                "connection `{connection}` is of kind `{}`; only postgres is supported",
                conn.kind
            )));
        }
        let url = match std::env::var(&conn.url_env) {
            Ok(u) if !u.is_empty() => u,
            _ => {
                return Ok(Err(format!(
                    "connection `{connection}`: environment variable {} (url_env) is not set",
                    conn.url_env
                )));
            }
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
    // The URL may hold a password: errors name the connection, never the URL.
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.map_err(|e| {
        format!(
            "connect to `{name}`: {}",
            e.to_string().replace(&url, "<url>")
        )
    })?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let result = async {
        client
            .batch_execute(&format!(
                "BEGIN READ ONLY; SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}",
                timeout_ms.max(1),
                timeout_ms.max(1)
            ))
            .await
            .map_err(|e| format!("`{name}`: {e}"))?;
        let types: Vec<Type> = params.iter().map(|_| Type::TEXT).collect();
        let stmt = client
            .prepare_typed(&statement, &types)
            .await
            .map_err(|e| format!("`{name}`: {}", db_error(&e)))?;
        let args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let rows = client
            .query(&stmt, &args)
            .await
            .map_err(|e| format!("`{name}`: {}", db_error(&e)))?;
        let columns: Vec<String> = stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let mut out = Vec::with_capacity(rows.len().min(MAX_ROWS));
        for row in rows.iter().take(MAX_ROWS) {
            let mut cells = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                cells.push(cell_text(row, i));
            }
            out.push(cells);
        }
        let _ = client.batch_execute("ROLLBACK").await;
        Ok(QueryResult {
            columns,
            rows: out,
            elapsed_ms: started.elapsed().as_millis() as u32,
        })
    }
    .await;
    drop(client);
    driver.abort();
    result
}

fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
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
