//! What `config.migrations-tested` knows about an expand/contract
//! migration in progress on its connection ([`crate::expand`]): that one
//! is running (both versions served, and which `search_path` each uses),
//! that its validation failed (complete is blocked), and which pending SQL
//! migrations change the structure of a table it works on. Such a statement
//! would run under the migration's views and triggers: the version views
//! list their columns, so a column added by plain SQL is missing from both
//! versions, and dropping or renaming a column a view uses fails.

use gate_core::model::{Location, Severity, Status};
use gate_sandbox::plugin::RawFinding;
use gate_sqlkit::{Token, TokenKind};
use tokio_postgres::Client;

use super::expand::state::{self, Record};
use super::layout::Migration;

/// The migration in progress on `client`, if any; read inside the caller's
/// read-only transaction.
pub async fn read(client: &Client) -> Result<Option<Record>, String> {
    if !state::exists(client).await.map_err(|e| e.to_string())? {
        return Ok(None);
    }
    state::active(client).await.map_err(|e| e.to_string())
}

/// A pending statement that changes a table of the migration in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub file: String,
    pub line: u32,
    pub table: String,
    pub statement: String,
}

/// `schema.name` or `name`, from `tokens[at]`; the name and the index after it.
fn qualified_name(tokens: &[Token], at: usize) -> Option<(Option<String>, String, usize)> {
    let first = tokens.get(at).filter(|t| t.is_name())?;
    let dot = tokens
        .get(at + 1)
        .is_some_and(|t| t.kind == TokenKind::Punct && t.text == ".");
    match tokens.get(at + 2).filter(|t| dot && t.is_name()) {
        Some(second) => Some((Some(first.ident()), second.ident(), at + 3)),
        None => Some((None, first.ident(), at + 1)),
    }
}

/// Skips the words in `optional`, in order, where present.
fn skip(tokens: &[Token], mut at: usize, optional: &[&[&str]]) -> usize {
    for words in optional {
        if words
            .iter()
            .enumerate()
            .all(|(k, w)| tokens.get(at + k).is_some_and(|t| t.is(w)))
        {
            at += words.len();
        }
    }
    at
}

/// The tables whose structure the statement changes: `ALTER TABLE` (any
/// action, RENAME included) and `DROP TABLE`.
fn changed_tables(tokens: &[Token]) -> Vec<(Option<String>, String)> {
    let starts = |a: &str, b: &str| {
        tokens.first().is_some_and(|t| t.is(a)) && tokens.get(1).is_some_and(|t| t.is(b))
    };
    if starts("ALTER", "TABLE") {
        let at = skip(tokens, 2, &[&["IF", "EXISTS"], &["ONLY"]]);
        return qualified_name(tokens, at)
            .map(|(schema, name, _)| vec![(schema, name)])
            .unwrap_or_default();
    }
    if starts("DROP", "TABLE") {
        let mut at = skip(tokens, 2, &[&["IF", "EXISTS"]]);
        let mut out = Vec::new();
        while let Some((schema, name, next)) = qualified_name(tokens, at) {
            out.push((schema, name));
            match tokens.get(next) {
                Some(t) if t.kind == TokenKind::Punct && t.text == "," => at = next + 1,
                _ => break,
            }
        }
        return out;
    }
    Vec::new()
}

/// Every pending statement that changes a table of `record`.
pub fn conflicts(pending: &[Migration], record: &Record) -> Vec<Conflict> {
    let tables: Vec<&str> = record.operations.iter().map(|op| op.table()).collect();
    let mut out = Vec::new();
    for m in pending {
        let script = gate_sqlkit::split(&m.up.contents);
        let offset = m.up.first_line.max(1) - 1;
        for stmt in &script.statements {
            for (schema, table) in changed_tables(&stmt.tokens()) {
                let ours = schema.as_deref().is_none_or(|s| s == record.schema);
                if ours && tables.contains(&table.as_str()) {
                    out.push(Conflict {
                        file: m.up.path.clone(),
                        line: stmt.line + offset,
                        table,
                        statement: stmt.collapsed(120),
                    });
                }
            }
        }
    }
    out
}

/// The findings for the migration in progress on connection `connection`.
pub fn findings(connection: &str, record: &Record, conflicts: &[Conflict]) -> Vec<RawFinding> {
    let mut tables: Vec<&str> = record.operations.iter().map(|op| op.table()).collect();
    tables.sort_unstable();
    tables.dedup();
    let evidence = vec![
        ("migration".to_string(), record.name.clone()),
        ("phase".to_string(), record.phase.to_string()),
        ("old_version".to_string(), record.old_version.clone()),
        ("new_version".to_string(), record.new_version.clone()),
        ("tables".to_string(), tables.join(", ")),
    ];
    let mut out = vec![RawFinding {
        rule: Some("expand-contract-in-progress".into()),
        subject: record.name.clone(),
        status: Status::Warn,
        severity: Some(Severity::Medium),
        message: format!(
            "expand/contract migration `{}` is in progress on `{connection}` (phase {}): \
             applications at the old version use search_path = {}, at the new version {}",
            record.name, record.phase, record.old_version, record.new_version
        ),
        evidence: evidence.clone(),
        remediation: Some(
            "deploy each application with its version's search_path; run `gate migrate complete` \
             once none uses the old version, or `gate migrate rollback`"
                .into(),
        ),
        location: None,
    }];
    if let Some(validation) = &record.validation {
        let count = validation["failures"].as_array().map_or(0, Vec::len);
        out.push(RawFinding {
            rule: Some("expand-contract-validation".into()),
            subject: record.name.clone(),
            status: Status::Fail,
            severity: Some(Severity::High),
            message: format!(
                "migration `{}` failed validation ({count} check(s)): complete is blocked",
                record.name
            ),
            evidence: [evidence.clone(), vec![("failures".into(), validation.to_string())]].concat(),
            remediation: Some(
                "fix the rows `gate migrate status` names and run `gate migrate validate`, or `gate migrate rollback`"
                    .into(),
            ),
            location: None,
        });
    }
    out.extend(conflicts.iter().map(|c| RawFinding {
        rule: Some("expand-contract-conflict".into()),
        subject: c.table.clone(),
        status: Status::Fail,
        severity: Some(Severity::High),
        message: format!(
            "`{}` changes table {} while expand/contract migration `{}` is in progress on it: \
             the version views and triggers would not follow",
            c.statement, c.table, record.name
        ),
        evidence: evidence.clone(),
        remediation: Some(format!(
            "complete (`gate migrate complete`) or roll back `{}` first, or make the change an operation of it",
            record.name
        )),
        location: Some(Location {
            file: c.file.clone(),
            line: Some(c.line),
            column: None,
        }),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(sql: &str) -> Vec<String> {
        changed_tables(&gate_sqlkit::tokenize(sql))
            .into_iter()
            .map(|(s, t)| match s {
                Some(s) => format!("{s}.{t}"),
                None => t,
            })
            .collect()
    }

    #[test]
    fn alter_and_drop_table_name_the_tables_they_change() {
        assert_eq!(changed("ALTER TABLE users ADD COLUMN x int"), ["users"]);
        assert_eq!(
            changed("alter table if exists only public.\"Users\" rename to u2"),
            ["public.Users"]
        );
        assert_eq!(
            changed("DROP TABLE IF EXISTS a, app.b CASCADE"),
            ["a", "app.b"]
        );
        assert!(changed("UPDATE users SET x = 1").is_empty());
        assert!(changed("CREATE INDEX CONCURRENTLY i ON users (x)").is_empty());
        assert!(changed("SELECT 1").is_empty());
    }
}
