//! `gate:ignore` / `gate:ignore-file` (and squawk's) directives, and
//! whether each matched a finding.

use gate_sqlkit as sk;

use crate::rules::{self, RuleId};

/// An ignore directive and whether it matched a finding.
pub(crate) struct Ignore {
    pub(crate) line: u32,
    pub(crate) rules: Vec<String>,
    pub(crate) reason: String,
    pub(crate) used: bool,
    pub(crate) file_wide: bool,
}

impl Ignore {
    pub(crate) fn matches(&self, rule: RuleId) -> bool {
        self.rules
            .iter()
            .any(|r| r == "all" || r == "*" || rules::named(r).contains(&rule))
    }

    /// The file's `ignore-file` directives.
    pub(crate) fn file_wide(script: &sk::Script) -> Vec<Ignore> {
        script
            .ignore_file_directives()
            .into_iter()
            .map(|(line, rules, reason)| Ignore {
                line,
                rules,
                reason,
                used: false,
                file_wide: true,
            })
            .collect()
    }

    /// Every `gate:ignore` in the file; each applies to the statement right below it.
    pub(crate) fn statement(script: &sk::Script) -> Vec<Ignore> {
        script
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
            .collect()
    }
}
