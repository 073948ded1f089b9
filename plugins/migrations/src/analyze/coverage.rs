//! The run's parse-coverage note: how many of the statements sqlparser
//! parsed, over how many files, written after the last file.

use super::*;

/// The parse coverage of the files a walk validated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Coverage {
    pub(super) counts: Counts,
    pub(super) files: usize,
}

impl Coverage {
    /// Counts one more validated file, with its statements' counts.
    pub(super) fn add_file(&mut self, counts: &Counts) {
        self.counts.sum(counts);
        self.files += 1;
    }

    /// The parse-coverage note, unless the rule is excluded.
    pub(super) fn finding(&self, cfg: &Config) -> Option<Finding> {
        if !cfg.enabled(RuleId::ParseCoverage) {
            return None;
        }
        let total = &self.counts;
        let percent = (total.parsed * 100)
            .checked_div(total.statements)
            .unwrap_or(100);
        let full = total.parsed == total.statements;
        let mut f = finding(
            RuleId::ParseCoverage.rule(),
            "migrations",
            if full { Status::Pass } else { Status::Warn },
            format!(
                "sqlparser parsed {} of {} statements ({percent}%) in {} files.",
                total.parsed, total.statements, self.files
            ),
        );
        f.remediation = None;
        total.evidence(&mut f.evidence);
        f.evidence
            .insert(1, ("parsed".into(), total.parsed.to_string()));
        f.evidence
            .insert(2, ("coverage_percent".into(), percent.to_string()));
        f.evidence.push(("files".into(), self.files.to_string()));
        f.evidence.push(("pg_version".into(), cfg.pg.to_string()));
        Some(f)
    }
}
