//! One file's walk: transaction control, the analysis of each statement,
//! the findings of its hits with ignores applied, and the file's own
//! findings (an uncommitted BEGIN, unused ignores, the summary).

use gate_sqlkit::{self as sk, Token};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::*;

/// What a file's walk is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Judge every statement and report: parse coverage, findings, the
    /// file's own notes.
    Validate,
    /// Only carry the file's effect on the [`RunState`] to the files after
    /// it: the same walk of every statement's tokens (transactions, the
    /// grammar walkers that record objects and constraints), with no
    /// sqlparser parse, no rule judging a fact, and nothing reported.
    Replay,
}

pub(super) struct FileRun<'f> {
    cfg: &'f Config,
    mode: Mode,
    file: &'f MigrationFile,
    index: sk::LineIndex<'f>,
    /// Added to the file's line numbers (`first_line` - 1).
    offset: u32,
    state: FileState,
    pub(super) counts: Counts,
    /// (absolute line, classification) of every statement, for `gate migrate plan`.
    phases: Vec<(u32, Class)>,
    file_ignores: Vec<Ignore>,
    /// Every `gate:ignore` in the file; each applies to the statement right below it.
    stmt_ignores: Vec<Ignore>,
    pub(super) out: Vec<Finding>,
}

impl<'f> FileRun<'f> {
    pub(super) fn new(
        cfg: &'f Config,
        file: &'f MigrationFile,
        script: &sk::Script,
        all_tokens: &[Vec<Token>],
        mode: Mode,
    ) -> Self {
        let assumed = cfg.assume_in_transaction && !script.assumed_transaction_disabled();
        let file_tx = (file.in_transaction || assumed) && !script.no_transaction();
        // A replay reports nothing: it needs no line positions, no ignores
        // and no count of the file's transactions (only a rule reads it).
        let reports = mode == Mode::Validate;
        let (text, file_ignores, stmt_ignores) = if reports {
            let text = file.contents.as_str();
            (text, Ignore::file_wide(script), Ignore::statement(script))
        } else {
            ("", Vec::new(), Vec::new())
        };
        FileRun {
            cfg,
            mode,
            file,
            index: sk::LineIndex::new(text),
            offset: file.first_line.max(1) - 1,
            state: FileState {
                file_tx,
                tool_open: file_tx,
                several_units: reports && several_units(all_tokens, file_tx),
                ..FileState::default()
            },
            counts: Counts::default(),
            phases: Vec::new(),
            file_ignores,
            stmt_ignores,
            out: Vec::new(),
        }
    }

    /// Analyses one statement and reports its hits (in [`Mode::Replay`],
    /// only analyses it).
    pub(super) fn statement(
        &mut self,
        run: &mut RunState,
        dialect: &PostgreSqlDialect,
        stmt: &sk::Statement,
        tokens: &[Token],
    ) {
        if self.mode == Mode::Replay {
            self.analyse(run, stmt, tokens, None);
            return;
        }
        let parsed = Parser::parse_sql(dialect, &stmt.text);
        let (class, mut hits) = self.analyse(run, stmt, tokens, parsed.as_deref().ok());
        if let Err(e) = &parsed {
            hits.push(hit(
                RuleId::ParseError,
                format!("sqlparser could not parse this statement ({e}); only token-level rules checked it."),
                None,
            ));
        } else {
            self.counts.parsed += 1;
        }
        self.counts.add(class);
        self.phases
            .push((stmt.line.saturating_add(self.offset), class));
        self.report(stmt, hits, class);
    }

    /// The walk of one statement, in both modes: its transaction control,
    /// its grammar (the state it changes, the facts it emits) and the end
    /// of an implicit transaction; its class and the rules' hits.
    fn analyse(
        &mut self,
        run: &mut RunState,
        stmt: &sk::Statement,
        tokens: &[Token],
        ast: Option<&[sqlparser::ast::Statement]>,
    ) -> (Class, Vec<Hit>) {
        let event = self.transaction_control(run, stmt, tokens);
        let mut analysis = Analysis {
            cfg: self.cfg,
            mode: self.mode,
            run,
            file: &mut self.state,
            t: tokens,
            ast,
            hits: Vec::new(),
            class: Class::Expand,
            locks: false,
            long_lock: false,
            foreign: false,
        };
        if let Some(event) = event {
            analysis.emit(Fact::Transaction(event));
        }
        analysis.statement();
        let class = analysis.class;
        let hits = std::mem::take(&mut analysis.hits);
        if !self.state.in_tx() {
            self.state.end_tx();
        }
        (class, hits)
    }

    /// BEGIN, COMMIT and ROLLBACK: the transaction state, and what the
    /// statement did to it (`None` for other statements).
    fn transaction_control<'t>(
        &mut self,
        run: &mut RunState,
        stmt: &sk::Statement,
        tokens: &'t [Token],
    ) -> Option<TxEvent<'t>> {
        let keyword = tokens.first().map(|x| x.text.as_str()).unwrap_or("");
        match sk::transaction_control(tokens)? {
            sk::TxControl::Begin => Some(self.begin(stmt)),
            control => {
                let open = self.state.explicit.is_some() || self.state.tool_open;
                if !open {
                    return Some(TxEvent::EndsNothing { keyword });
                }
                let ends_tool = self.state.explicit.is_none();
                self.state.explicit = None;
                self.state.tool_open = false;
                if control == sk::TxControl::Rollback {
                    self.state.roll_back(run);
                } else {
                    self.state.end_tx();
                }
                Some(if ends_tool {
                    TxEvent::EndsToolTransaction { keyword }
                } else {
                    TxEvent::Plain
                })
            }
        }
    }

    /// BEGIN: opens the file's own transaction, reopens the tool's, or
    /// does nothing inside an open one.
    fn begin(&mut self, stmt: &sk::Statement) -> TxEvent<'static> {
        if self.state.in_tx() {
            return TxEvent::NestedBegin {
                explicit: self.state.explicit.is_some(),
            };
        }
        if self.state.file_tx {
            // The file ended the tool's transaction itself earlier
            // (`COMMIT; CREATE INDEX CONCURRENTLY …; BEGIN;`): this
            // BEGIN opens the one the tool commits at the end.
            self.state.tool_open = true;
        } else {
            let ignore_lines = stmt.ignores().into_iter().map(|(l, _, _)| l).collect();
            self.state.explicit = Some((stmt.line, stmt.column, ignore_lines));
        }
        TxEvent::Plain
    }

    /// The findings of a statement's hits, with ignores applied.
    fn report(&mut self, stmt: &sk::Statement, hits: Vec<Hit>, class: Class) {
        if hits.is_empty() {
            return;
        }
        let lines: Vec<u32> = stmt.ignores().into_iter().map(|(l, _, _)| l).collect();
        let collapsed = stmt.collapsed(STATEMENT_CHARS);
        let statement_plan = hits.iter().find_map(|h| {
            let rule = h.rule.rule();
            (!rule.plan.is_empty()).then(|| render_plan(rule.plan, h.object.as_deref()))
        });
        for h in hits {
            if !self.cfg.enabled(h.rule) {
                continue;
            }
            let ignored = self.ignore_reason(&lines, h.rule);
            let mut f = self.hit_finding(stmt, &h, class, ignored.is_some());
            f.evidence.push(("statement".into(), collapsed.clone()));
            if let Some(o) = &h.object {
                f.evidence.push(("object".into(), o.clone()));
            }
            f.evidence
                .push(("pg_version".into(), self.cfg.pg.to_string()));
            if let Some(plan) = plan(
                h.rule.rule(),
                class,
                statement_plan.as_ref(),
                h.object.as_deref(),
            ) {
                f.evidence.push((
                    "plan".into(),
                    serde_json::to_string(&plan).unwrap_or_default(),
                ));
            }
            if let Some(reason) = ignored {
                f.evidence.push(("ignored".into(), reason));
            }
            self.out.push(f);
        }
    }

    /// The reason of the first ignore (on the statement's lines, then
    /// file-wide) that matches `rule`, marking it used.
    fn ignore_reason(&mut self, lines: &[u32], rule: RuleId) -> Option<String> {
        let own = self
            .stmt_ignores
            .iter_mut()
            .filter(|ig| lines.contains(&ig.line));
        let ig = own
            .chain(self.file_ignores.iter_mut())
            .find(|ig| ig.matches(rule))?;
        ig.used = true;
        Some(if ig.reason.is_empty() {
            "no reason given".to_string()
        } else {
            ig.reason.clone()
        })
    }

    /// A hit's finding with its status, location and classification.
    fn hit_finding(&self, stmt: &sk::Statement, h: &Hit, class: Class, ignored: bool) -> Finding {
        let rule = h.rule.rule();
        let status = if ignored {
            Status::Skip
        } else if rule.blocking {
            Status::Fail
        } else {
            Status::Warn
        };
        let mut f = finding(rule, &self.file.path, status, h.message.clone());
        let (line, column) = match h.at {
            Some(at) => self.index.position(stmt.span.start + at),
            None => (stmt.line, stmt.column),
        };
        f.location = Some(Location {
            file: self.file.path.clone(),
            line: Some(line.saturating_add(self.offset)),
            column: Some(column),
        });
        f.evidence
            .push(("classification".into(), class.name().into()));
        f
    }

    /// The file's own findings, after its last statement (none in
    /// [`Mode::Replay`]).
    pub(super) fn finish(&mut self) {
        if self.mode == Mode::Replay {
            return;
        }
        self.uncommitted();
        self.unused_ignores();
        self.summary();
    }

    /// An explicit BEGIN left open: `uncommitted-transaction` judges the
    /// file's end; the finding points at the BEGIN and honours its ignores.
    fn uncommitted(&mut self) {
        let message = uncommitted_transaction::at_file_end(&self.state);
        if let Some(message) = message
            && let Some((line, column, ignore_lines)) = self.state.explicit.take()
        {
            let id = RuleId::UncommittedTransaction;
            let rule = id.rule();
            if self.cfg.enabled(id) {
                let ignored = self
                    .stmt_ignores
                    .iter_mut()
                    .filter(|ig| ignore_lines.contains(&ig.line))
                    .chain(self.file_ignores.iter_mut())
                    .find(|ig| ig.matches(id));
                let status = match &ignored {
                    Some(_) => Status::Skip,
                    None => Status::Fail,
                };
                let reason = ignored.map(|ig| {
                    ig.used = true;
                    ig.reason.clone()
                });
                let mut f = finding(rule, &self.file.path, status, message);
                f.location = Some(Location {
                    file: self.file.path.clone(),
                    line: Some(line.saturating_add(self.offset)),
                    column: Some(column),
                });
                f.evidence.push(("classification".into(), "expand".into()));
                f.evidence.push(("statement".into(), "BEGIN".into()));
                f.evidence
                    .push(("pg_version".into(), self.cfg.pg.to_string()));
                if let Some(r) = reason {
                    f.evidence.push(("ignored".into(), r));
                }
                self.out.push(f);
            }
        }
    }

    /// Ignores that silenced nothing.
    fn unused_ignores(&mut self) {
        let unused_rule = RuleId::UnusedIgnore.rule();
        if self.cfg.enabled(RuleId::UnusedIgnore) {
            for ig in self.stmt_ignores.iter().chain(self.file_ignores.iter()) {
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
                    !named.is_empty() && named.iter().all(|&rule| !self.cfg.enabled(rule))
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
                let mut f = finding(unused_rule, &self.file.path, Status::Warn, message);
                f.location = Some(Location {
                    file: self.file.path.clone(),
                    line: Some(ig.line.saturating_add(self.offset)),
                    column: Some(1),
                });
                f.evidence.push(("rules".into(), ig.rules.join(",")));
                self.out.push(f);
            }
        }
    }

    /// The per-file summary.
    fn summary(&mut self) {
        let summary_rule = RuleId::FileSummary.rule();
        if self.cfg.enabled(RuleId::FileSummary) {
            let c = &self.counts.by_class;
            let mut f = finding(
                summary_rule,
                &self.file.path,
                Status::Pass,
                format!(
                    "{}: {} statements ({} expand, {} contract, {} breaking, {} data).",
                    self.file.path, self.counts.statements, c[0], c[1], c[2], c[3]
                ),
            );
            f.remediation = None;
            f.location = Some(Location {
                file: self.file.path.clone(),
                line: None,
                column: None,
            });
            self.counts.evidence(&mut f.evidence);
            f.evidence
                .push(("parsed".into(), self.counts.parsed.to_string()));
            f.evidence
                .push(("in_transaction".into(), self.state.file_tx.to_string()));
            f.evidence
                .push(("phases".into(), phases_json(&self.phases)));
            self.out.push(f);
        }
    }
}

/// The plan evidence of a hit: the rule's own plan; for a breaking or
/// contract statement, another rule's plan for the same statement or the
/// generic one.
fn plan(
    rule: &Rule,
    class: Class,
    statement_plan: Option<&Vec<String>>,
    object: Option<&str>,
) -> Option<Vec<String>> {
    if !rule.plan.is_empty() {
        Some(render_plan(rule.plan, object))
    } else if matches!(class, Class::Breaking | Class::Contract) {
        Some(statement_plan.cloned().unwrap_or_else(|| {
            let generic = if class == Class::Breaking {
                GENERIC_BREAKING_PLAN
            } else {
                GENERIC_CONTRACT_PLAN
            };
            render_plan(generic, object)
        }))
    } else {
        None
    }
}

/// The statements' classifications as a JSON array of
/// `{"line": …, "classification": …}` objects, written directly: one
/// string per file rather than a JSON map per statement.
fn phases_json(phases: &[(u32, Class)]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + phases.len() * 40);
    out.push('[');
    for (i, (line, class)) in phases.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Class names are plain lower-case words: nothing to escape.
        let _ = write!(
            out,
            r#"{{"line":{line},"classification":"{}"}}"#,
            class.name()
        );
    }
    out.push(']');
    out
}
