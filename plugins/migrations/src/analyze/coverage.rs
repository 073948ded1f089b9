//! The run's parse-coverage note: how many of the statements sqlparser
//! parsed, over how many files, written after the last file; and the same
//! note read back, so that the parts of a run in parts carry their counts
//! to the merge in the note each part ends with.

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

    /// Adds the coverage of other files (another part of the run).
    pub(super) fn sum(&mut self, other: &Coverage) {
        self.counts.sum(&other.counts);
        self.files += other.files;
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

    /// The coverage a parse-coverage note states: the inverse of
    /// [`Coverage::finding`]. `None` for any other finding.
    pub(super) fn read(f: &Finding) -> Option<Coverage> {
        if f.rule.as_deref() != Some(RuleId::ParseCoverage.name()) {
            return None;
        }
        let n = |key: &str| f.evidence(key)?.parse::<usize>().ok();
        let mut counts = Counts {
            statements: n("statements")?,
            parsed: n("parsed")?,
            by_class: [0; 4],
        };
        for c in CLASSES {
            counts.by_class[class_index(c)] = n(c.name())?;
        }
        Some(Coverage {
            counts,
            files: n("files")?,
        })
    }
}
