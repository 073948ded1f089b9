//! One statement under analysis: its tokens, hits, classification and locks, and the helpers rules report through.

use std::collections::HashSet;

use gate_sqlkit::Token;
use sqlparser::ast;

use super::*;
use crate::Class;
use crate::rules::RuleId;

/// A rule hit inside one statement.
pub(crate) struct Hit {
    pub(crate) rule: RuleId,
    pub(crate) message: String,
    pub(crate) object: Option<String>,
    /// Byte offset in the statement text the finding points at (default: its start).
    pub(crate) at: Option<usize>,
}

pub(crate) fn hit(rule: RuleId, message: String, object: Option<String>) -> Hit {
    Hit {
        rule,
        message,
        object,
        at: None,
    }
}

pub(crate) struct Analysis<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) run: &'a mut RunState,
    pub(crate) file: &'a mut FileState,
    pub(crate) t: &'a [Token],
    /// sqlparser's statements, when it parsed this one.
    pub(crate) ast: Option<&'a [ast::Statement]>,
    pub(crate) hits: Vec<Hit>,
    pub(crate) class: Class,
    /// The statement takes a lock that blocks reads or writes on an existing object.
    pub(crate) locks: bool,
    /// Counts for statement_timeout too (not CREATE INDEX CONCURRENTLY).
    pub(crate) long_lock: bool,
    /// The statement alters a foreign table.
    pub(crate) foreign: bool,
}

impl Analysis<'_> {
    /// Records a hit of `rule`, which classifies the statement as the rule says.
    pub(crate) fn add(&mut self, rule: RuleId, message: String, object: Option<String>) {
        if let Some(class) = rule.rule().class {
            self.classify(class);
        }
        self.hits.push(hit(rule, message, object));
    }

    /// [`Analysis::add`], pointing at byte `at` of the statement.
    pub(crate) fn add_at(
        &mut self,
        rule: RuleId,
        message: String,
        object: Option<String>,
        at: usize,
    ) {
        self.add(rule, message, object);
        if let Some(h) = self.hits.last_mut() {
            h.at = Some(at);
        }
    }

    /// Whether the statement starts with one of these keywords.
    pub(crate) fn starts_with(&self, keywords: &[&str]) -> bool {
        self.t
            .first()
            .is_some_and(|x| keywords.iter().any(|k| x.is(k)))
    }

    pub(crate) fn classify(&mut self, c: Class) {
        self.class = self.class.max(c);
    }

    /// A statement that fails when re-run needs its guard unless the whole
    /// file is one transaction: outside a transaction, or in one of several
    /// transactions, a failure part-way leaves it applied.
    pub(crate) fn robust(&mut self, guarded: bool, what: &str, object: &str) {
        if guarded || (self.file.in_tx() && !self.file.several_units) {
            return;
        }
        let guard = if what.starts_with("DROP") {
            "IF EXISTS"
        } else {
            "IF NOT EXISTS"
        };
        let where_ = if self.file.in_tx() {
            "in one of several transactions of the file"
        } else {
            "outside a transaction"
        };
        self.add(
            RuleId::PreferRobustStatements,
            format!("{what} {object} runs {where_} without {guard}, so re-running the migration after a partial failure fails."),
            Some(object.to_string()),
        );
    }

    pub(crate) fn table_is_new(&self, table: &str) -> bool {
        self.run.tables.contains(table)
    }

    /// Records an object the statement creates (new for the rest of the
    /// scope, unless its transaction rolls back).
    pub(crate) fn created(&mut self, kind: Kind, name: &str) {
        self.run.objects(kind).insert(name);
        if self.file.in_tx() {
            self.file.created_in_tx.push((kind, name.to_string()));
        }
    }

    /// The opt-in `require-table-schema` for a table the statement names.
    pub(crate) fn table_schema(&mut self, table: &str, verb: &str) {
        if !table.contains('.') {
            self.add(
                RuleId::RequireTableSchema,
                format!("{verb} {table} names the table without a schema; it resolves through whatever search_path is at run time."),
                Some(table.to_string()),
            );
        }
    }

    pub(crate) fn type_checks(&mut self, ty: &[Token], object: &str, at: usize) {
        for rule in type_rules(ty) {
            let text = type_text(ty);
            let message = match rule {
                RuleId::PreferText => {
                    format!("{object} is {text}; prefer text with a CHECK on its length.")
                }
                RuleId::BanChar => {
                    format!("{object} is {text}; char(n) pads with spaces, prefer text.")
                }
                RuleId::PreferBigint => format!("{object} is a 32-bit {text}; prefer bigint."),
                RuleId::PreferBigintOverSmallint => {
                    format!("{object} is a 16-bit {text}; prefer bigint.")
                }
                RuleId::PreferIdentity => {
                    format!("{object} is {text}; prefer bigint GENERATED BY DEFAULT AS IDENTITY.")
                }
                _ => format!("{object} is timestamp without time zone; prefer timestamptz."),
            };
            self.add_at(rule, message, Some(object.to_string()), at);
        }
    }

    pub(crate) fn long_identifiers(&mut self) {
        let mut seen = HashSet::new();
        for tok in self.t {
            if tok.is_name() && tok.ident().len() > 63 && seen.insert(tok.ident()) {
                let name = tok.ident();
                self.add_at(
                    RuleId::IdentifierTooLong,
                    format!(
                        "Identifier {name} is {} bytes; PostgreSQL truncates it to 63.",
                        name.len()
                    ),
                    Some(name),
                    tok.span.start,
                );
            }
        }
    }
}
