//! `unbatched-backfill`: UPDATE or DELETE of a whole existing table.

use super::{Rule, RuleId, rule};
use crate::{Class, Severity};
use sqlparser::ast;

use crate::analyze::{Analysis, Fact, ast_name, has_seq, is, name_at};

pub(super) static RULE: Rule = rule(
    "unbatched-backfill",
    "UPDATE or DELETE of a whole existing table",
    Severity::Medium,
    false,
    "An UPDATE or DELETE without WHERE on an existing table touches every row in one transaction: it holds row locks on all of them until the migration commits (blocking concurrent writes), bloats the table, and can run for a long time while the migration's other locks are held.",
    "Backfill in batches (by primary-key range, a few thousand rows each) committed separately, outside the schema migration.",
)
.plan(&[
    "ship the schema change first (nullable column or new table)",
    "backfill {object} in batches by primary-key range, committing each batch",
    "make the new state mandatory in a later migration",
])
.class(Class::Data)
.on(on);

/// UPDATE/DELETE without WHERE: from sqlparser's AST when it parsed the
/// statement, otherwise from the tokens.
fn check(a: &mut Analysis<'_>) {
    if !a.starts_with(&["UPDATE", "DELETE"]) {
        return;
    }
    let target = match a.ast.and_then(|a| a.first()) {
        Some(ast::Statement::Update(u)) => match (&u.table.relation, &u.selection) {
            (ast::TableFactor::Table { name, .. }, None) => Some(ast_name(name)),
            _ => None,
        },
        Some(ast::Statement::Delete(d)) => {
            let tables = match &d.from {
                ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
            };
            match (tables.first().map(|t| &t.relation), &d.selection, &d.using) {
                (Some(ast::TableFactor::Table { name, .. }), None, None) => {
                    Some(ast_name(name))
                }
                _ => None,
            }
        }
        Some(_) => None,
        None => {
            let t = a.t;
            let mut i = 1;
            if is(t, i, "FROM") {
                i += 1;
            }
            if is(t, i, "ONLY") {
                i += 1;
            }
            match name_at(t, i) {
                Some((name, _)) if !has_seq(t, &["WHERE"]) && !has_seq(t, &["USING"]) => {
                    Some(name)
                }
                _ => None,
            }
        }
    };
    let Some(table) = target else { return };
    if a.table_is_new(&table) {
        return;
    }
    let verb = a.t[0].text.clone();
    a.add(
        RuleId::UnbatchedBackfill,
        format!("{verb} of every row of {table} in one statement locks all its rows until the migration commits."),
        Some(table),
    );
}

/// Judges the statement once its walk is done.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    if matches!(fact, Fact::Walked) {
        check(a);
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "update without where"
sql = "UPDATE users SET active = true;"
expect = [{ rule = "unbatched-backfill", line = 1, status = "warn" }]

[[case]]
name = "delete without where"
sql = "-- purge\nDELETE FROM sessions;"
expect = [{ rule = "unbatched-backfill", line = 2 }]

[[case]]
name = "unparsed update without where (token fallback)"
sql = "UPDATE users SET tags[1:2] = '{a,b}';"
rules = ["unbatched-backfill", "parse-error"]
expect = [{ rule = "unbatched-backfill", line = 1 }, { rule = "parse-error", line = 1 }]

[[case]]
name = "quoted names keep their case"
sql = "UPDATE public.\"Users\" SET active = true;"
expect = [{ rule = "unbatched-backfill", line = 1 }]

[[case]]
name = "batched update"
sql = "UPDATE users SET active = true WHERE id BETWEEN 1 AND 10000;"
expect = []

[[case]]
name = "table created in the run"
sql = "CREATE TABLE t (a bigint);\nUPDATE t SET a = 1;"
expect = []
"##;
