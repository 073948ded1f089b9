//! The analysis: split, parse, classify, apply the rules, honour ignores.

mod add_column;
mod alter;
mod alter_table;
mod analysis;
mod columns;
mod config;
mod create;
mod drop;
mod state;
mod statement;
mod tokens;

use gate_sqlkit::{self as sk, Token};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::rules::{self, Rule, RuleId};
use crate::{CHECK_ID, Class, Finding, Location, MigrationFile, Severity, Status};

pub(crate) use add_column::AddedColumn;
pub(crate) use analysis::Analysis;
use analysis::*;
use columns::*;
pub(crate) use columns::{is_null_default, volatile_call};
use config::*;
use state::*;
pub(crate) use tokens::*;

const STATEMENT_CHARS: usize = 160;

// ---------------------------------------------------------------------------
// The run.

struct Counts {
    statements: usize,
    parsed: usize,
    by_class: [usize; 4],
}

impl Counts {
    fn new() -> Self {
        Counts {
            statements: 0,
            parsed: 0,
            by_class: [0; 4],
        }
    }

    fn add(&mut self, class: Class) {
        self.statements += 1;
        self.by_class[class_index(class)] += 1;
    }

    fn evidence(&self, out: &mut Vec<(String, String)>) {
        out.push(("statements".into(), self.statements.to_string()));
        for c in [Class::Expand, Class::Contract, Class::Breaking, Class::Data] {
            out.push((c.name().into(), self.by_class[class_index(c)].to_string()));
        }
    }
}

fn class_index(c: Class) -> usize {
    match c {
        Class::Expand => 0,
        Class::Contract => 1,
        Class::Breaking => 2,
        Class::Data => 3,
    }
}

fn finding(rule: &Rule, subject: &str, status: Status, message: String) -> Finding {
    Finding {
        check: CHECK_ID.to_string(),
        rule: Some(rule.id.to_string()),
        subject: subject.to_string(),
        status,
        severity: Some(rule.severity),
        message,
        evidence: Vec::new(),
        remediation: Some(rule.fix.to_string()),
        location: None,
    }
}

fn config_error(message: String) -> Finding {
    Finding {
        check: CHECK_ID.to_string(),
        rule: None,
        subject: "migrations".to_string(),
        status: Status::Error,
        severity: Some(Severity::High),
        message,
        evidence: Vec::new(),
        remediation: Some(
            "Fix the [migrations] table of the policy: pg_version (integer), exclude and include (lists of rule ids)."
                .to_string(),
        ),
        location: None,
    }
}

const GENERIC_CONTRACT_PLAN: &[&str] = &[
    "deploy code that no longer depends on what this statement removes or tightens on {object}",
    "wait until every instance of the previous release is gone",
    "apply the statement in a later migration",
];

const GENERIC_BREAKING_PLAN: &[&str] = &[
    "add the new form of {object} next to the old one",
    "deploy code that works with both",
    "migrate existing data in batches",
    "switch code to the new form",
    "remove the old form in a later release",
];

fn render_plan(steps: &[&str], object: Option<&str>) -> Vec<String> {
    let object = object.unwrap_or("the object");
    steps
        .iter()
        .map(|s| s.replace("{object}", object))
        .collect()
}

/// An ignore directive and whether it matched a finding.
struct Ignore {
    line: u32,
    rules: Vec<String>,
    reason: String,
    used: bool,
    file_wide: bool,
}

impl Ignore {
    fn matches(&self, rule: RuleId) -> bool {
        self.rules
            .iter()
            .any(|r| r == "all" || r == "*" || rules::named(r).contains(&rule))
    }
}

/// Validates the migrations in order. A bad config gives one `error` finding.
pub fn validate(files: &[MigrationFile], config: &str) -> Vec<Finding> {
    let cfg = match parse_config(config) {
        Ok(c) => c,
        Err(e) => return vec![config_error(e)],
    };
    let mut out = Vec::new();
    let mut run = RunState::default();
    let mut total = Counts::new();
    let dialect = PostgreSqlDialect {};

    for file in files {
        if cfg.scope == Scope::Migration {
            // The migrations before this one are applied: what they created
            // exists and holds data by now.
            run.tables = Objects::default();
            run.indexes = Objects::default();
            run.types = Objects::default();
        }
        let script = sk::split(&file.contents);
        let index = sk::LineIndex::new(&file.contents);
        let offset = file.first_line.max(1) - 1;
        let assumed = cfg.assume_in_transaction && !script.assumed_transaction_disabled();
        let file_tx = (file.in_transaction || assumed) && !script.no_transaction();
        let all_tokens: Vec<Vec<Token>> = script.statements.iter().map(|s| s.tokens()).collect();
        let mut state = FileState {
            file_tx,
            tool_open: file_tx,
            several_units: several_units(&all_tokens, file_tx),
            ..FileState::default()
        };
        let mut counts = Counts::new();
        // (absolute line, classification) of every statement, for `gate migrate plan`.
        let mut phases: Vec<serde_json::Value> = Vec::new();
        let mut file_ignores: Vec<Ignore> = script
            .ignore_file_directives()
            .into_iter()
            .map(|(line, rules, reason)| Ignore {
                line,
                rules,
                reason,
                used: false,
                file_wide: true,
            })
            .collect();
        // Every `gate:ignore` in the file; each applies to the statement right below it.
        let mut stmt_ignores: Vec<Ignore> = script
            .comments
            .iter()
            .filter_map(|c| match c.directive() {
                Some(sk::Directive::Ignore { rules, reason }) => Some(Ignore {
                    line: c.line,
                    rules,
                    reason,
                    used: false,
                    file_wide: false,
                }),
                _ => None,
            })
            .collect();

        for (stmt, tokens) in script.statements.iter().zip(all_tokens) {
            let (parsed, parse_error) = match Parser::parse_sql(&dialect, &stmt.text) {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let first = tokens.first().map(|x| x.text.as_str()).unwrap_or("");
            let mut hits = Vec::new();

            // Transaction control.
            let control = sk::transaction_control(&tokens);
            let starts_tx = control == Some(sk::TxControl::Begin);
            let ends_tx = matches!(
                control,
                Some(sk::TxControl::Commit | sk::TxControl::Rollback)
            );
            let rolls_back = control == Some(sk::TxControl::Rollback);
            if starts_tx {
                if state.in_tx() {
                    let why = if state.explicit.is_some() {
                        "another BEGIN is still open"
                    } else {
                        "the migration tool already runs this file in a transaction"
                    };
                    hits.push(hit(
                        RuleId::TransactionNesting,
                        format!("BEGIN inside a transaction does nothing: {why}."),
                        None,
                    ));
                } else if state.file_tx {
                    // The file ended the tool's transaction itself earlier
                    // (`COMMIT; CREATE INDEX CONCURRENTLY …; BEGIN;`): this
                    // BEGIN opens the one the tool commits at the end.
                    state.tool_open = true;
                } else {
                    let ignore_lines = stmt.ignores().into_iter().map(|(l, _, _)| l).collect();
                    state.explicit = Some((stmt.line, stmt.column, ignore_lines));
                }
            } else if ends_tx {
                if state.explicit.is_some() || state.tool_open {
                    if state.explicit.is_none() {
                        hits.push(hit(
                            RuleId::TransactionNesting,
                            format!("{first} ends the migration tool's own transaction early; later statements lose its atomicity."),
                            None,
                        ));
                    }
                    state.explicit = None;
                    state.tool_open = false;
                    if rolls_back {
                        state.roll_back(&mut run);
                    } else {
                        state.end_tx();
                    }
                } else {
                    hits.push(hit(
                        RuleId::TransactionNesting,
                        format!("{first} with no transaction in progress does nothing (PostgreSQL only warns): a BEGIN is missing or the {first} is doubled."),
                        None,
                    ));
                }
            }

            let mut analysis = Analysis {
                cfg: &cfg,
                run: &mut run,
                file: &mut state,
                t: &tokens,
                ast: parsed.as_deref(),
                hits,
                class: Class::Expand,
                locks: false,
                long_lock: false,
                foreign: false,
            };
            analysis.statement();
            if analysis.locks && !analysis.file.lock_timeout && !analysis.file.lock_timeout_reported
            {
                analysis.file.lock_timeout_reported = true;
                analysis.hits.push(hit(
                    RuleId::RequireLockTimeout,
                    "This statement waits for a lock with no lock_timeout set earlier in the file, queueing every query on the table behind it.".into(),
                    None,
                ));
            }
            if analysis.long_lock
                && !analysis.file.statement_timeout
                && !analysis.file.statement_timeout_reported
            {
                analysis.file.statement_timeout_reported = true;
                analysis.hits.push(hit(
                    RuleId::RequireStatementTimeout,
                    "This statement holds a lock with no statement_timeout set earlier in the file.".into(),
                    None,
                ));
            }
            let class = analysis.class;
            let mut hits = std::mem::take(&mut analysis.hits);
            if !state.in_tx() {
                state.end_tx();
            }
            if let Some(e) = &parse_error {
                hits.push(hit(
                    RuleId::ParseError,
                    format!("sqlparser could not parse this statement ({e}); only token-level rules checked it."),
                    None,
                ));
            } else {
                counts.parsed += 1;
            }
            counts.add(class);
            phases.push(serde_json::json!({
                "line": stmt.line.saturating_add(offset),
                "classification": class.name(),
            }));

            let lines: Vec<u32> = stmt.ignores().into_iter().map(|(l, _, _)| l).collect();
            let collapsed = stmt.collapsed(STATEMENT_CHARS);
            let statement_plan = hits.iter().find_map(|h| {
                let rule = h.rule.rule();
                (!rule.plan.is_empty()).then(|| render_plan(rule.plan, h.object.as_deref()))
            });
            for h in hits {
                if !cfg.enabled(h.rule) {
                    continue;
                }
                let rule = h.rule.rule();
                let mut ignored = None;
                let own = stmt_ignores
                    .iter_mut()
                    .filter(|ig| lines.contains(&ig.line));
                for ig in own.chain(file_ignores.iter_mut()) {
                    if ig.matches(h.rule) {
                        ig.used = true;
                        ignored = Some(if ig.reason.is_empty() {
                            "no reason given".to_string()
                        } else {
                            ig.reason.clone()
                        });
                        break;
                    }
                }
                let status = if ignored.is_some() {
                    Status::Skip
                } else if rule.blocking {
                    Status::Fail
                } else {
                    Status::Warn
                };
                let mut f = finding(rule, &file.path, status, h.message);
                let (line, column) = match h.at {
                    Some(at) => index.position(stmt.span.start + at),
                    None => (stmt.line, stmt.column),
                };
                f.location = Some(Location {
                    file: file.path.clone(),
                    line: Some(line.saturating_add(offset)),
                    column: Some(column),
                });
                f.evidence
                    .push(("classification".into(), class.name().into()));
                f.evidence.push(("statement".into(), collapsed.clone()));
                if let Some(o) = &h.object {
                    f.evidence.push(("object".into(), o.clone()));
                }
                f.evidence.push(("pg_version".into(), cfg.pg.to_string()));
                let plan = if !rule.plan.is_empty() {
                    Some(render_plan(rule.plan, h.object.as_deref()))
                } else if matches!(class, Class::Breaking | Class::Contract) {
                    // Another rule's plan for the same statement, or the generic one.
                    Some(statement_plan.clone().unwrap_or_else(|| {
                        let generic = if class == Class::Breaking {
                            GENERIC_BREAKING_PLAN
                        } else {
                            GENERIC_CONTRACT_PLAN
                        };
                        render_plan(generic, h.object.as_deref())
                    }))
                } else {
                    None
                };
                if let Some(plan) = plan {
                    f.evidence.push((
                        "plan".into(),
                        serde_json::to_string(&plan).unwrap_or_default(),
                    ));
                }
                if let Some(reason) = ignored {
                    f.evidence.push(("ignored".into(), reason));
                }
                out.push(f);
            }
        }

        // An explicit BEGIN left open.
        if let Some((line, column, ignore_lines)) = state.explicit.take() {
            let id = RuleId::UncommittedTransaction;
            let rule = id.rule();
            if cfg.enabled(id) {
                let ignored = stmt_ignores
                    .iter_mut()
                    .filter(|ig| ignore_lines.contains(&ig.line))
                    .chain(file_ignores.iter_mut())
                    .find(|ig| ig.matches(id));
                let status = match &ignored {
                    Some(_) => Status::Skip,
                    None => Status::Fail,
                };
                let reason = ignored.map(|ig| {
                    ig.used = true;
                    ig.reason.clone()
                });
                let mut f = finding(
                    rule,
                    &file.path,
                    status,
                    "BEGIN is never committed in this file; its changes are rolled back or left holding locks.".into(),
                );
                f.location = Some(Location {
                    file: file.path.clone(),
                    line: Some(line.saturating_add(offset)),
                    column: Some(column),
                });
                f.evidence.push(("classification".into(), "expand".into()));
                f.evidence.push(("statement".into(), "BEGIN".into()));
                f.evidence.push(("pg_version".into(), cfg.pg.to_string()));
                if let Some(r) = reason {
                    f.evidence.push(("ignored".into(), r));
                }
                out.push(f);
            }
        }

        // Ignores that silenced nothing.
        let unused_rule = RuleId::UnusedIgnore.rule();
        if cfg.enabled(RuleId::UnusedIgnore) {
            for ig in stmt_ignores.iter().chain(file_ignores.iter()) {
                if ig.used {
                    continue;
                }
                // squawk's comments carry their own directive as the reason.
                let directive = if let Some(squawk) = ig.reason.strip_prefix("-- squawk-") {
                    if ig.file_wide {
                        "squawk-ignore-file"
                    } else {
                        let _ = squawk;
                        "squawk-ignore"
                    }
                } else if ig.file_wide {
                    "gate:ignore-file"
                } else {
                    "gate:ignore"
                };
                let unknown: Vec<&String> = ig
                    .rules
                    .iter()
                    .filter(|r| *r != "all" && *r != "*" && rules::named(r).is_empty())
                    .collect();
                let disabled = ig.rules.iter().all(|r| {
                    let named = rules::named(r);
                    !named.is_empty() && named.iter().all(|&rule| !cfg.enabled(rule))
                });
                if !ig.rules.is_empty() && unknown.is_empty() && disabled {
                    continue;
                }
                let message = if ig.rules.is_empty() {
                    format!("`-- {directive}` names no rule, so it ignores nothing.")
                } else if !unknown.is_empty() {
                    format!(
                        "`-- {directive} {}` names unknown rule {}, so it ignores nothing.",
                        ig.rules.join(","),
                        unknown
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    format!(
                        "`-- {directive} {}` matched no finding.",
                        ig.rules.join(",")
                    )
                };
                let mut f = finding(unused_rule, &file.path, Status::Warn, message);
                f.location = Some(Location {
                    file: file.path.clone(),
                    line: Some(ig.line.saturating_add(offset)),
                    column: Some(1),
                });
                f.evidence.push(("rules".into(), ig.rules.join(",")));
                out.push(f);
            }
        }

        let summary_rule = RuleId::FileSummary.rule();
        if cfg.enabled(RuleId::FileSummary) {
            let c = &counts.by_class;
            let mut f = finding(
                summary_rule,
                &file.path,
                Status::Pass,
                format!(
                    "{}: {} statements ({} expand, {} contract, {} breaking, {} data).",
                    file.path, counts.statements, c[0], c[1], c[2], c[3]
                ),
            );
            f.remediation = None;
            f.location = Some(Location {
                file: file.path.clone(),
                line: None,
                column: None,
            });
            counts.evidence(&mut f.evidence);
            f.evidence
                .push(("parsed".into(), counts.parsed.to_string()));
            f.evidence
                .push(("in_transaction".into(), state.file_tx.to_string()));
            f.evidence.push((
                "phases".into(),
                serde_json::Value::Array(std::mem::take(&mut phases)).to_string(),
            ));
            out.push(f);
        }

        total.statements += counts.statements;
        total.parsed += counts.parsed;
        for k in 0..4 {
            total.by_class[k] += counts.by_class[k];
        }
    }

    let coverage_rule = RuleId::ParseCoverage.rule();
    if cfg.enabled(RuleId::ParseCoverage) {
        let percent = (total.parsed * 100)
            .checked_div(total.statements)
            .unwrap_or(100);
        let full = total.parsed == total.statements;
        let mut f = finding(
            coverage_rule,
            "migrations",
            if full { Status::Pass } else { Status::Warn },
            format!(
                "sqlparser parsed {} of {} statements ({percent}%) in {} files.",
                total.parsed,
                total.statements,
                files.len()
            ),
        );
        f.remediation = None;
        total.evidence(&mut f.evidence);
        f.evidence
            .insert(1, ("parsed".into(), total.parsed.to_string()));
        f.evidence
            .insert(2, ("coverage_percent".into(), percent.to_string()));
        f.evidence.push(("files".into(), files.len().to_string()));
        f.evidence.push(("pg_version".into(), cfg.pg.to_string()));
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(sql: &str) -> MigrationFile {
        MigrationFile {
            path: "m/001.sql".into(),
            contents: sql.into(),
            first_line: 1,
            in_transaction: true,
        }
    }

    #[test]
    fn config_errors_are_single_error_findings() {
        for bad in [
            "[1]",
            "{\"pg_version\": \"abc\"}",
            "{\"exclude\": [\"no-such-rule\"]}",
            "{\"include\": \"x\"}",
            "not json",
        ] {
            let f = validate(&[file("SELECT 1;")], bad);
            assert_eq!(f.len(), 1, "{bad}");
            assert_eq!(f[0].status, Status::Error, "{bad}");
            assert!(!f[0].message.is_empty());
        }
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let cfg = parse_config("{\"other\": 1}").unwrap();
        assert_eq!(cfg.pg, 15);
        assert_eq!(parse_config("").unwrap().pg, 15);
        assert_eq!(parse_config("{\"pg_version\": \"12.4\"}").unwrap().pg, 12);
    }

    #[test]
    fn summaries() {
        let f = validate(
            &[
                file("CREATE TABLE public.a (id bigint);\nUPDATE a SET id = 1;"),
                file(""),
            ],
            "{}",
        );
        let summaries: Vec<_> = f
            .iter()
            .filter(|f| f.rule.as_deref() == Some("file-summary"))
            .collect();
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[0].evidence("statements"), Some("2"));
        assert_eq!(summaries[0].evidence("expand"), Some("1"));
        assert_eq!(summaries[0].evidence("data"), Some("1"));
        assert_eq!(summaries[1].evidence("statements"), Some("0"));
        let phases: serde_json::Value =
            serde_json::from_str(summaries[0].evidence("phases").unwrap()).unwrap();
        assert_eq!(
            phases,
            serde_json::json!([
                {"line": 1, "classification": "expand"},
                {"line": 2, "classification": "data"}
            ])
        );
        assert_eq!(summaries[1].evidence("phases"), Some("[]"));
        assert_eq!(summaries[0].location.as_ref().unwrap().line, None);
        let cov = f.last().unwrap();
        assert_eq!(cov.rule.as_deref(), Some("parse-coverage"));
        assert_eq!(cov.subject, "migrations");
        assert_eq!(cov.status, Status::Pass);
        assert_eq!(cov.evidence("coverage_percent"), Some("100"));
    }

    #[test]
    fn finding_shape() {
        let mut m = file("-- x\nALTER TABLE users RENAME COLUMN email TO mail;");
        m.first_line = 10;
        let f = validate(&[m], "{}");
        let r = f
            .iter()
            .find(|f| f.rule.as_deref() == Some("rename-column"))
            .unwrap();
        assert_eq!(r.check, "migrations");
        assert_eq!(r.subject, "m/001.sql");
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.location.as_ref().unwrap().line, Some(11));
        assert_eq!(r.evidence("classification"), Some("breaking"));
        assert_eq!(r.evidence("object"), Some("users.email"));
        assert_eq!(r.evidence("pg_version"), Some("15"));
        let plan: Vec<String> = serde_json::from_str(r.evidence("plan").unwrap()).unwrap();
        assert!(plan.len() >= 4 && plan[0].contains("users.email"));
        assert!(r.remediation.is_some());
    }
}
