//! Read-only SQL through the host's `sql` capability, behind a closure type so
//! checks' logic runs in native tests against canned rows.

use gate_plugin_sdk::host::sql;

/// Every cell as text, SQL NULL as `None`.
pub type Rows = Vec<Vec<Option<String>>>;

/// Runs one statement with text parameters.
pub type Query<'a> = &'a dyn Fn(&str, &[Option<String>]) -> Result<Rows, String>;

pub const TIMEOUT_MS: u32 = 5_000;

/// The host-backed query for a named connection.
pub fn host(connection: &str) -> impl Fn(&str, &[Option<String>]) -> Result<Rows, String> + '_ {
    move |statement, params| sql::query(connection, statement, params, TIMEOUT_MS).map(|r| r.rows)
}

/// PostgreSQL's text rendering of booleans, and the spellings settings accept.
pub fn truthy(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "on" | "yes" | "y" | "1" => Some(true),
        "f" | "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Cell `i` of a row as text (`""` for NULL or a missing column).
pub fn cell(row: &[Option<String>], i: usize) -> &str {
    row.get(i).and_then(|c| c.as_deref()).unwrap_or("")
}
