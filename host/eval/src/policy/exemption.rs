//! Exemptions: when one applies, and loading them from their own files.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{Days, NaiveDate};

use super::document::{ExemptionDecl, PolicyDoc, parse_exemption_file};
use super::errors::Errors;
use super::glob;
use super::source::SourceFile;
use super::{Exemption, PolicyError};

impl Exemption {
    /// Whether this exemption covers a finding of `check_id` about `subject`.
    /// Says nothing about expiry: see [`Exemption::is_active`].
    pub fn matches(&self, check_id: &str, subject: &str) -> bool {
        glob::matches(&self.check, check_id)
            && self
                .subject_match
                .as_deref()
                .is_none_or(|pattern| glob::matches(pattern, subject))
    }

    /// Whether the exemption still applies on `today` (UTC). It holds through the
    /// end of its `expires` day.
    pub fn is_active(&self, today: NaiveDate) -> bool {
        today <= self.expires
    }

    /// Whether the exemption is active but runs out within `days` days of `today`
    /// (`expires` on or before `today + days`), which deserves a warning.
    pub fn expires_within(&self, today: NaiveDate, days: u32) -> bool {
        self.is_active(today)
            && today
                .checked_add_days(Days::new(days.into()))
                .is_none_or(|limit| self.expires <= limit)
    }
}

/// Loads the files named by `doc`'s `exemptions = [...]` patterns. A file reached
/// through several patterns or policies is read once (`seen` holds canonical paths).
pub(crate) fn load_files(
    doc: &PolicyDoc,
    seen: &mut HashSet<PathBuf>,
    inputs: &mut Vec<super::InputFile>,
    errors: &mut Errors,
) -> Vec<ExemptionDecl> {
    let dir = doc.file.parent().unwrap_or(std::path::Path::new(""));
    let mut exemptions = Vec::new();
    for pattern in &doc.exemption_files {
        if pattern.value.trim().is_empty() {
            errors.push(PolicyError::at(
                &pattern.origin,
                "empty path in `exemptions`",
            ));
            continue;
        }
        for path in glob::expand_files(dir, &pattern.value) {
            let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(identity) {
                continue;
            }
            errors.note_file(&path);
            if let Some(src) = SourceFile::read(&path, Some(&pattern.origin), errors) {
                inputs.push(super::InputFile::of(&src));
                exemptions.extend(parse_exemption_file(&src, errors));
            }
        }
    }
    exemptions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Origin;

    fn exemption(check: &str, subject: Option<&str>, expires: NaiveDate) -> Exemption {
        Exemption {
            check: check.into(),
            subject_match: subject.map(Into::into),
            reason: "r".into(),
            approved_by: "a".into(),
            ticket: None,
            expires,
            signature: None,
            trust: crate::policy::ExemptionTrust::NotRequired,
            origin: Origin {
                file: "p.toml".into(),
                line: 1,
                column: 1,
            },
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn holds_through_the_end_of_the_expiry_day() {
        let today = date(2026, 3, 10);
        assert!(exemption("a.b", None, today).is_active(today));
        assert!(exemption("a.b", None, date(2026, 3, 11)).is_active(today));
        assert!(!exemption("a.b", None, date(2026, 3, 9)).is_active(today));
    }

    #[test]
    fn expires_within_is_inclusive_and_only_for_active() {
        let today = date(2026, 3, 10);
        let e = |d| exemption("a.b", None, d);
        assert!(e(today).expires_within(today, 0));
        assert!(e(today).expires_within(today, 14));
        assert!(e(date(2026, 3, 24)).expires_within(today, 14));
        assert!(!e(date(2026, 3, 25)).expires_within(today, 14));
        // Already expired: reported as expired, not as about to expire.
        assert!(!e(date(2026, 3, 9)).expires_within(today, 14));
        assert!(e(NaiveDate::MAX).expires_within(NaiveDate::MAX, u32::MAX));
    }

    #[test]
    fn matches_check_and_subject_globs() {
        let today = date(2026, 1, 1);
        let e = exemption("security.api-keys-*", Some("key:legacy-*"), today);
        assert!(e.matches("security.api-keys-rotated", "key:legacy-billing"));
        assert!(!e.matches("security.api-keys-rotated", "key:billing"));
        assert!(!e.matches("security.tls-expiry", "key:legacy-billing"));
        let any = exemption("infra.disk-space", None, today);
        assert!(any.matches("infra.disk-space", "/var"));
        assert!(any.matches("infra.disk-space", ""));
        assert!(!any.matches("infra.disk-space-2", "/var"));
    }
}
