//! The analysis: split each file, parse each statement, walk it into typed
//! facts ([`Fact`]) that every rule's `on` hook judges, classify it, honour
//! ignores, and add the run's own notes (parse errors, unused ignores, file
//! summaries, parse coverage). A run can also split into parts that run at
//! once (`parts`).

mod add_column;
mod alter;
mod alter_table;
mod analysis;
mod columns;
mod config;
#[cfg(test)]
mod corpora;
mod coverage;
mod create;
mod drop;
mod facts;
mod ignores;
mod parts;
mod run;
mod state;
mod statement;
mod tokens;

use std::ops::Range;

use gate_sqlkit as sk;
use sqlparser::dialect::PostgreSqlDialect;

use crate::rules::{self, Rule, RuleId};
use crate::{CHECK_ID, Class, Finding, Location, MigrationFile, Severity, Status};

use crate::rules::uncommitted_transaction;
pub(crate) use add_column::AddedColumn;
pub(crate) use analysis::Analysis;
use analysis::*;
use columns::*;
pub(crate) use columns::{TypeName, is_null_default, type_text, volatile_call};
use config::*;
use coverage::Coverage;
pub(crate) use facts::*;
use ignores::Ignore;
pub use parts::{merge, parts, validate_part};
use run::FileRun;
pub(crate) use run::Mode;
pub(crate) use state::FileState;
use state::*;
pub(crate) use tokens::*;

const STATEMENT_CHARS: usize = 160;

// ---------------------------------------------------------------------------
// The run.

/// A walk's statements: how many, how many sqlparser parsed, how many of each class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    statements: usize,
    parsed: usize,
    by_class: [usize; 4],
}

/// The classes in the order the counts' evidence lists them.
const CLASSES: [Class; 4] = [Class::Expand, Class::Contract, Class::Breaking, Class::Data];

impl Counts {
    fn add(&mut self, class: Class) {
        self.statements += 1;
        self.by_class[class_index(class)] += 1;
    }

    /// Adds another walk's counts.
    fn sum(&mut self, other: &Counts) {
        self.statements += other.statements;
        self.parsed += other.parsed;
        for (total, n) in self.by_class.iter_mut().zip(other.by_class) {
            *total += n;
        }
    }

    fn evidence(&self, out: &mut Vec<(String, String)>) {
        out.push(("statements".into(), self.statements.to_string()));
        for c in CLASSES {
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
    run_error(
        message,
        Some(
            "Fix the [migrations] table of the policy: pg_version (integer), exclude and include (lists of rule ids)."
                .to_string(),
        ),
    )
}

/// The one `error` finding of a run that could not be validated.
fn run_error(message: String, remediation: Option<String>) -> Finding {
    Finding {
        check: CHECK_ID.to_string(),
        rule: None,
        subject: "migrations".to_string(),
        status: Status::Error,
        severity: Some(Severity::High),
        message,
        evidence: Vec::new(),
        remediation,
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

/// Validates the migrations in order. A bad config gives one `error` finding.
pub fn validate(files: &[MigrationFile], config: &str) -> Vec<Finding> {
    let cfg = match parse_config(config) {
        Ok(c) => c,
        Err(e) => return vec![config_error(e)],
    };
    let mut pass = Pass::new(&cfg);
    pass.files(files, 0..files.len());
    pass.finish()
}

/// A walk over files in order: the state carried from file to file, and
/// the findings and parse coverage of the files it validates.
struct Pass<'c> {
    cfg: &'c Config,
    run: RunState,
    dialect: PostgreSqlDialect,
    out: Vec<Finding>,
    coverage: Coverage,
}

impl<'c> Pass<'c> {
    fn new(cfg: &'c Config) -> Self {
        Pass {
            cfg,
            run: RunState::default(),
            dialect: PostgreSqlDialect {},
            out: Vec::new(),
            coverage: Coverage::default(),
        }
    }

    /// Validates `files[own]`, after replaying the files before it for
    /// their state (none when `own` is empty: nothing needs it).
    fn files(&mut self, files: &[MigrationFile], own: Range<usize>) {
        if !own.is_empty() {
            for file in &files[..own.start] {
                self.file(file, Mode::Replay);
            }
        }
        for file in &files[own] {
            self.file(file, Mode::Validate);
        }
    }

    /// Walks the next file: validates it, or replays it for its state only.
    fn file(&mut self, file: &MigrationFile, mode: Mode) {
        if self.cfg.scope == Scope::Migration {
            // The migrations before this one are applied: what they created
            // exists and holds data by now.
            self.run.tables = Objects::default();
            self.run.indexes = Objects::default();
            self.run.types = Objects::default();
        }
        let (script, all_tokens) = sk::split_tokens(&file.contents);
        let mut walk = FileRun::new(self.cfg, file, &script, &all_tokens, mode);
        for (stmt, tokens) in script.statements.iter().zip(&all_tokens) {
            walk.statement(&mut self.run, &self.dialect, stmt, tokens);
        }
        walk.finish();
        if mode == Mode::Validate {
            self.out.append(&mut walk.out);
            self.coverage.add_file(&walk.counts);
        }
    }

    /// The findings of the validated files, then their parse-coverage
    /// note unless it is excluded.
    fn finish(mut self) -> Vec<Finding> {
        self.out.extend(self.coverage.finding(self.cfg));
        self.out
    }
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

    /// A replay reports nothing and leaves, file after file, the state a
    /// validation of the same files leaves; and the runs do reach every
    /// kind of state.
    #[test]
    fn replay_leaves_the_state_of_a_validation() {
        let mut reached = [false; 5];
        for run in corpora::runs() {
            let cfg = parse_config(&run.config).unwrap();
            let (mut validated, mut replayed) = (Pass::new(&cfg), Pass::new(&cfg));
            for file in &run.files {
                validated.file(file, Mode::Validate);
                replayed.file(file, Mode::Replay);
                let state = &validated.run;
                assert_eq!(replayed.run, *state, "{}: after {}", run.name, file.path);
                let empty = Objects::default();
                for (seen, now) in reached.iter_mut().zip([
                    state.tables != empty,
                    state.indexes != empty,
                    state.types != empty,
                    !state.not_null_checks.is_empty(),
                    !state.validated_not_null.is_empty(),
                ]) {
                    *seen |= now;
                }
            }
            assert!(replayed.out.is_empty(), "{}", run.name);
            assert_eq!(replayed.coverage, Coverage::default(), "{}", run.name);
        }
        assert_eq!(reached, [true; 5]);
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
        // The text itself, as reports carry it.
        assert_eq!(
            summaries[0].evidence("phases"),
            Some(r#"[{"line":1,"classification":"expand"},{"line":2,"classification":"data"}]"#)
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
