//! Whether a run's findings are exactly what a case expects: every
//! expectation met by its own finding, and no finding left over.
//!
//! An expectation is met by a finding with the same status and subject whose
//! message the expectation's regex (if any) finds a match in. When several
//! findings could meet several expectations, they are paired so that as many
//! as possible are met (a maximum bipartite matching), so the order of the
//! `[[case.expect]]` blocks never matters.

use std::fmt;

use gate_core::model::Status;
use gate_sandbox::plugin::RawFinding;
use serde::Serialize;

use super::file::Expectation;

/// What of a finding a case can expect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub status: Status,
    pub subject: String,
    pub message: String,
}

impl From<&RawFinding> for Seen {
    fn from(f: &RawFinding) -> Self {
        Seen {
            status: f.status,
            subject: f.subject.clone(),
            message: f.message.clone(),
        }
    }
}

/// Why a case's findings are not what it expects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Mismatch {
    /// A finding that no expectation describes.
    Unexpected(Seen),
    /// An expectation that no finding meets.
    Missing {
        status: Status,
        subject: String,
        /// The regex the message had to match.
        message: Option<String>,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Unexpected(seen) => write!(
                f,
                "unexpected finding: {} `{}`: {}",
                seen.status, seen.subject, seen.message
            ),
            Mismatch::Missing {
                status,
                subject,
                message,
            } => {
                write!(f, "missing finding: {status} `{subject}`")?;
                if let Some(re) = message {
                    write!(f, " with a message matching /{re}/")?;
                }
                Ok(())
            }
        }
    }
}

fn meets(e: &Expectation, s: &Seen) -> bool {
    e.status == s.status
        && e.subject == s.subject
        && e.message.as_ref().is_none_or(|re| re.is_match(&s.message))
}

/// The mismatches between `expect` and `seen`: empty when they match exactly.
/// Missing expectations come first, in file order, then unexpected findings
/// in the order the plugin returned them.
pub fn compare(expect: &[Expectation], seen: &[Seen]) -> Vec<Mismatch> {
    // owner[j] = the expectation finding j is paired with.
    let mut owner: Vec<Option<usize>> = vec![None; seen.len()];
    for i in 0..expect.len() {
        let mut visited = vec![false; seen.len()];
        augment(i, expect, seen, &mut owner, &mut visited);
    }
    let mut mismatches: Vec<Mismatch> = (0..expect.len())
        .filter(|i| !owner.contains(&Some(*i)))
        .map(|i| Mismatch::Missing {
            status: expect[i].status,
            subject: expect[i].subject.clone(),
            message: expect[i].message.as_ref().map(|re| re.as_str().to_string()),
        })
        .collect();
    mismatches.extend(
        seen.iter()
            .zip(&owner)
            .filter(|(_, o)| o.is_none())
            .map(|(s, _)| Mismatch::Unexpected(s.clone())),
    );
    mismatches
}

/// Kuhn's augmenting path from expectation `i`: pairs it with a finding,
/// moving earlier pairs along when that frees one.
fn augment(
    i: usize,
    expect: &[Expectation],
    seen: &[Seen],
    owner: &mut [Option<usize>],
    visited: &mut [bool],
) -> bool {
    for j in 0..seen.len() {
        if visited[j] || !meets(&expect[i], &seen[j]) {
            continue;
        }
        visited[j] = true;
        let free = match owner[j] {
            None => true,
            Some(k) => augment(k, expect, seen, owner, visited),
        };
        if free {
            owner[j] = Some(i);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn e(status: Status, subject: &str, message: Option<&str>) -> Expectation {
        Expectation {
            status,
            subject: subject.into(),
            message: message.map(|m| Regex::new(m).unwrap()),
        }
    }

    fn s(status: Status, subject: &str, message: &str) -> Seen {
        Seen {
            status,
            subject: subject.into(),
            message: message.into(),
        }
    }

    #[test]
    fn exact_match_has_no_mismatch() {
        let expect = [
            e(Status::Pass, "a", None),
            e(Status::Fail, "b", Some("^too ")),
        ];
        let seen = [
            s(Status::Fail, "b", "too old"),
            s(Status::Pass, "a", "fine"),
        ];
        assert_eq!(compare(&expect, &seen), vec![]);
    }

    #[test]
    fn names_the_unexpected_and_the_missing_finding() {
        let expect = [e(Status::Pass, "a", None)];
        let seen = [s(Status::Fail, "a", "broken")];
        let m = compare(&expect, &seen);
        assert_eq!(
            m.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "missing finding: pass `a`".to_string(),
                "unexpected finding: fail `a`: broken".to_string()
            ]
        );
    }

    #[test]
    fn status_subject_and_message_all_count() {
        let expect = [e(Status::Pass, "a", Some("ok$"))];
        assert_eq!(compare(&expect, &[s(Status::Pass, "a", "ok")]), vec![]);
        assert_eq!(compare(&expect, &[s(Status::Pass, "a", "ok!")]).len(), 2);
        assert_eq!(compare(&expect, &[s(Status::Pass, "A", "ok")]).len(), 2);
        assert_eq!(compare(&expect, &[s(Status::Warn, "a", "ok")]).len(), 2);
    }

    #[test]
    fn each_finding_meets_one_expectation() {
        // Two identical expectations need two findings.
        let expect = [e(Status::Pass, "a", None), e(Status::Pass, "a", None)];
        let m = compare(&expect, &[s(Status::Pass, "a", "x")]);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(matches!(m[0], Mismatch::Missing { .. }));
        // An extra finding is unexpected even when it looks like a met one.
        let m = compare(
            &expect[..1],
            &[s(Status::Pass, "a", "x"), s(Status::Pass, "a", "y")],
        );
        assert_eq!(m, vec![Mismatch::Unexpected(s(Status::Pass, "a", "y"))]);
    }

    #[test]
    fn pairing_does_not_depend_on_order() {
        // The loose expectation comes first and could take the only finding
        // the strict one accepts; the matching moves it along.
        let expect = [
            e(Status::Pass, "a", None),
            e(Status::Pass, "a", Some("^strict")),
        ];
        let seen = [
            s(Status::Pass, "a", "strict one"),
            s(Status::Pass, "a", "loose"),
        ];
        assert_eq!(compare(&expect, &seen), vec![]);
    }
}
