//! What a rule is: its id, title, severity, explanation, safe alternative,
//! plan, squawk names, the classification its hit gives a statement, and
//! its detection: the hook every fact of every statement goes to.

use crate::analyze::{Analysis, Fact};
use crate::{Class, Severity};

/// One rule, as its module under `src/rules/` declares it.
pub struct Rule {
    /// Stable kebab-case id, the module's name with `-` for `_`.
    pub id: &'static str,
    pub title: &'static str,
    /// What goes wrong: the lock taken or the client that breaks.
    pub problem: &'static str,
    /// The safe alternative, in one or two sentences (the finding's remediation).
    pub fix: &'static str,
    /// PostgreSQL-version notes, empty when the version does not matter.
    pub versions: &'static str,
    pub severity: Severity,
    /// A hit fails the check (`fail`); otherwise it only warns.
    pub blocking: bool,
    /// Runs only when the policy lists it in `include`.
    pub opt_in: bool,
    /// A note or summary about the run, not a check of a statement.
    pub pseudo: bool,
    /// The classification a hit gives its statement (at least), if any.
    pub class: Option<Class>,
    /// The expand/contract steps for breaking and contract changes;
    /// `{object}` is replaced by the object the finding names.
    pub plan: &'static [&'static str],
    /// The squawk rules this one covers.
    pub squawk: &'static [&'static str],
    /// The rule's detection: called with every [`Fact`] of every statement,
    /// in walk order; it matches the facts it judges and reports its hits
    /// through the [`Analysis`]. `None` for the pseudo-rules and for
    /// `uncommitted-transaction`, which the file's run reports at its end.
    pub(crate) on: Option<fn(&mut Analysis<'_>, &Fact<'_>)>,
}

impl Rule {
    /// The `describe()` description: the problem, then the safe alternative.
    pub fn description(&self) -> String {
        let mut d = String::new();
        if self.opt_in {
            d.push_str("Opt-in. ");
        }
        d.push_str(self.problem);
        d.push(' ');
        d.push_str(self.fix);
        if !self.versions.is_empty() {
            d.push(' ');
            d.push_str(self.versions);
        }
        d
    }

    pub(super) const fn versions(mut self, v: &'static str) -> Self {
        self.versions = v;
        self
    }
    pub(super) const fn plan(mut self, p: &'static [&'static str]) -> Self {
        self.plan = p;
        self
    }
    pub(super) const fn squawk(mut self, s: &'static [&'static str]) -> Self {
        self.squawk = s;
        self
    }
    pub(super) const fn opt_in(mut self) -> Self {
        self.opt_in = true;
        self
    }
    pub(super) const fn pseudo(mut self) -> Self {
        self.pseudo = true;
        self
    }
    pub(super) const fn class(mut self, c: Class) -> Self {
        self.class = Some(c);
        self
    }
    pub(super) const fn on(mut self, f: fn(&mut Analysis<'_>, &Fact<'_>)) -> Self {
        self.on = Some(f);
        self
    }
}

/// A rule with the required fields; the builder methods add the rest.
pub(super) const fn rule(
    id: &'static str,
    title: &'static str,
    severity: Severity,
    blocking: bool,
    problem: &'static str,
    fix: &'static str,
) -> Rule {
    Rule {
        id,
        title,
        problem,
        fix,
        versions: "",
        severity,
        blocking,
        opt_in: false,
        pseudo: false,
        class: None,
        plan: &[],
        squawk: &[],
        on: None,
    }
}
