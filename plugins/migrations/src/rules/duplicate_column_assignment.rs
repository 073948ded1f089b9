//! `duplicate-column-assignment`: Column assigned twice in one SET list.

use super::{Rule, RuleId, rule};
use crate::{Class, Severity};
use gate_sqlkit::Token;

use crate::analyze::{Analysis, Fact, depth_at, group, is, punct, split_commas};

pub(super) static RULE: Rule = rule(
    "duplicate-column-assignment",
    "Column assigned twice in one SET list",
    Severity::High,
    true,
    "PostgreSQL rejects an UPDATE (or ON CONFLICT DO UPDATE) that assigns the same column twice (\"multiple assignments to same column\"), so the migration fails when it reaches the statement.",
    "Assign each column once; combine the expressions if both were meant.",
)
.squawk(&["ban-duplicate-column-assignments"])
.class(Class::Data)
.on(on);

/// The SET list of an UPDATE (or of `INSERT … ON CONFLICT DO UPDATE`)
/// assigning one column twice, which PostgreSQL rejects ("multiple
/// assignments to same column"): every assignment after the first.
fn check(a: &mut Analysis<'_>) {
    if !a.starts_with(&["UPDATE", "INSERT"]) {
        return;
    }
    let t = a.t;
    let mut depth = 0i32;
    let mut set = None;
    for i in 0..t.len() {
        if punct(t, i, "(") {
            depth += 1;
        } else if punct(t, i, ")") {
            depth -= 1;
        } else if depth == 0
            && is(t, i, "SET")
            && (t[0].is("UPDATE") || is(t, i.wrapping_sub(1), "UPDATE"))
        {
            set = Some(i + 1);
            break;
        }
    }
    let Some(start) = set else { return };
    let end = (start..t.len())
        .find(|&k| {
            ["FROM", "WHERE", "RETURNING"].iter().any(|w| is(t, k, w))
                && !t[start..k].is_empty()
                && depth_at(t, start, k) == 0
        })
        .unwrap_or(t.len());
    let mut seen: Vec<String> = Vec::new();
    for element in split_commas(&t[start..end]) {
        // `(a, b) = (…)` assigns each name in the group.
        let targets: Vec<&Token> = match group(element, 0) {
            Some((inner, _)) => split_commas(inner)
                .into_iter()
                .filter(|c| c.len() == 1)
                .map(|c| &c[0])
                .collect(),
            // `a[1] = …` and `a.f = …` assign parts of a column: not compared.
            None if element.get(1).is_some_and(|x| x.text == "=") => vec![&element[0]],
            None => Vec::new(),
        };
        for target in targets.into_iter().filter(|x| x.is_name()) {
            let column = target.ident();
            if seen.contains(&column) {
                a.add_at(
                    RuleId::DuplicateColumnAssignment,
                    format!("Column {column} is assigned more than once in one SET list; PostgreSQL rejects the statement."),
                    Some(column),
                    target.span.start,
                );
            } else {
                seen.push(column);
            }
        }
    }
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
name = "update assigns a column twice"
sql = "UPDATE users SET a = 1, b = 2, a = 3 WHERE id = 1;"
expect = [{ rule = "duplicate-column-assignment", line = 1, status = "fail" }]

[[case]]
name = "tuple assignment repeats a column"
sql = "UPDATE users\nSET (a, b) = (1, 2),\n    b = 3\nWHERE id = 1;"
expect = [{ rule = "duplicate-column-assignment", line = 3 }]

[[case]]
name = "on conflict do update"
sql = "INSERT INTO users (id, a) VALUES (1, 2)\nON CONFLICT (id) DO UPDATE SET a = excluded.a, A = 3;"
expect = [{ rule = "duplicate-column-assignment", line = 2 }]

[[case]]
name = "distinct columns, subquery and where mention the same names"
sql = "UPDATE users SET a = (SELECT a FROM t WHERE a = 1), b = 2 WHERE a = 1 AND b = 2;"
expect = []

[[case]]
name = "quoted names differ by case"
sql = "UPDATE users SET \"A\" = 1, a = 2 WHERE id = 1;"
expect = []

[[case]]
name = "array elements of one column"
sql = "UPDATE users SET tags[1] = 'a', tags[2] = 'b' WHERE id = 1;"
expect = []
"##;
