//! Builders for findings, so checks read as "what was found" rather than struct literals.

use crate::{Finding, Location, Severity, Status};

pub struct FindingBuilder {
    finding: Finding,
}

impl FindingBuilder {
    pub fn new(check: &str, subject: impl Into<String>, status: Status) -> Self {
        FindingBuilder {
            finding: Finding {
                check: check.to_string(),
                rule: None,
                subject: subject.into(),
                status,
                severity: None,
                message: String::new(),
                evidence: Vec::new(),
                remediation: None,
                location: None,
            },
        }
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.finding.message = message.into();
        self
    }

    pub fn rule(mut self, rule: impl Into<String>) -> Self {
        self.finding.rule = Some(rule.into());
        self
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.finding.severity = Some(severity);
        self
    }

    /// Adds one evidence entry. Callers redact secrets before they get here.
    pub fn evidence(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.finding.evidence.push((key.into(), value.to_string()));
        self
    }

    pub fn remediation(mut self, hint: impl Into<String>) -> Self {
        self.finding.remediation = Some(hint.into());
        self
    }

    pub fn location(
        mut self,
        file: impl Into<String>,
        line: Option<u32>,
        column: Option<u32>,
    ) -> Self {
        self.finding.location = Some(Location {
            file: file.into(),
            line,
            column,
        });
        self
    }

    /// The finding, with any well-known credential or URL password left in
    /// its text masked ([`crate::redact::scrub`]): the last line of defence
    /// for a value a check printed without [`crate::redact::shown`], such as
    /// a parser's error quoting the line it failed on.
    pub fn build(self) -> Finding {
        use crate::redact::scrub;
        let mut f = self.finding;
        f.subject = scrub(&f.subject);
        f.message = scrub(&f.message);
        for (_, value) in &mut f.evidence {
            *value = scrub(value);
        }
        f.remediation = f.remediation.map(|r| scrub(&r));
        f
    }
}
