//! One statement under analysis: its tokens, hits, classification and
//! locks, the dispatch of its facts to the rules, and the helpers rules
//! report through.

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
    /// In [`Mode::Replay`] the facts go to no rule: the walk only keeps
    /// the state.
    pub(crate) mode: Mode,
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

    /// [`Analysis::add`], pointing at byte `at` of the statement when given.
    pub(crate) fn report(
        &mut self,
        rule: RuleId,
        message: String,
        object: Option<String>,
        at: Option<usize>,
    ) {
        match at {
            Some(at) => self.add_at(rule, message, object, at),
            None => self.add(rule, message, object),
        }
    }

    /// Hands a fact of the statement to every rule, in registry order
    /// (to none in [`Mode::Replay`]: a rule's hook only judges, it keeps no
    /// state beyond the file's own reporting flags).
    pub(crate) fn emit(&mut self, fact: Fact<'_>) {
        if self.mode == Mode::Replay {
            return;
        }
        for id in RuleId::ALL {
            if let Some(on) = id.rule().on {
                on(self, &fact);
            }
        }
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
}
