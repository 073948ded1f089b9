//! What every config assertion shares, whichever plugin evaluates it
//! (`config.error-handling`, `config.rate-limits`, `security.compliance`):
//! resolving `exists`/`absent` against the value constraints, `matches`
//! patterns anchored to the whole value, and the shape of the finding about
//! one assertion in one file.

use gate_plugin_sdk::{Context, FindingBuilder, Status};
use regex::Regex;

/// What an assertion demands of the keys its path selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// At least one must exist.
    Exists,
    /// None may exist.
    Absent,
    /// The values that exist must satisfy the constraints (`equals`, `matches`…).
    Constrained,
}

/// Why `exists`/`absent` and the constraints do not make one demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresenceProblem {
    Contradiction,
    AbsentWithConstraint,
    Nothing,
}

impl PresenceProblem {
    /// The problem in words; `constraints` are the assertion's constraint keys.
    pub fn describe(self, constraints: &[&str]) -> String {
        let names: Vec<String> = constraints.iter().map(|c| format!("`{c}`")).collect();
        match self {
            PresenceProblem::Contradiction => {
                "`exists` and `absent` contradict each other".to_string()
            }
            PresenceProblem::AbsentWithConstraint => format!(
                "a path that must be absent cannot also have {}",
                names.join("/")
            ),
            PresenceProblem::Nothing => {
                format!("needs one of {}, `exists` or `absent`", names.join(", "))
            }
        }
    }
}

/// Resolves `exists` and `absent` given whether any value constraint is set.
/// A constraint implies existence unless the assertion says the key is optional.
pub fn presence(
    exists: Option<bool>,
    absent: Option<bool>,
    constrained: bool,
) -> Result<Presence, PresenceProblem> {
    match (exists, absent) {
        (Some(a), Some(b)) if a == b => Err(PresenceProblem::Contradiction),
        (Some(false), _) | (_, Some(true)) if constrained => {
            Err(PresenceProblem::AbsentWithConstraint)
        }
        (Some(false), _) | (_, Some(true)) => Ok(Presence::Absent),
        _ if constrained => Ok(Presence::Constrained),
        (Some(true), _) | (_, Some(false)) => Ok(Presence::Exists),
        (None, None) => Err(PresenceProblem::Nothing),
    }
}

/// A `matches` regex: as written (for messages), and anchored to the whole
/// value, so `"true"` does not accept `"untrue"`.
#[derive(Debug)]
pub struct Pattern {
    pub raw: String,
    whole: Regex,
}

impl Pattern {
    pub fn new(raw: &str) -> Result<Pattern, regex::Error> {
        // Compiled as written first, so an error quotes the user's regex.
        Regex::new(raw)?;
        Ok(Pattern {
            raw: raw.to_string(),
            whole: Regex::new(&format!(r"\A(?:{raw})\z"))?,
        })
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.whole.is_match(value)
    }
}

/// One assertion checked against one file: the finding's subject is
/// `file:path`, and its evidence says what was expected and how much matched.
pub struct Verdict<'a> {
    pub file: &'a str,
    /// The assertion's path as written.
    pub path: &'a str,
    /// What the assertion demands, as a statement (`equals 3`).
    pub expected: &'a str,
    /// How many values the path selected.
    pub matched: usize,
}

impl Verdict<'_> {
    /// A pass: "`path` {detail} in {file}".
    pub fn pass(&self, ctx: &Context, detail: &str) -> FindingBuilder {
        let message = format!("`{}` {detail} in {}", self.path, self.file);
        self.start(ctx, Status::Pass).message(message)
    }

    /// A failure: "{what}: {detail} in {file}", with the edit that fixes it.
    pub fn fail(&self, ctx: &Context, what: &str, detail: &str) -> FindingBuilder {
        self.start(ctx, Status::Fail)
            .message(format!("{what}: {detail} in {}", self.file))
            .remediation(format!(
                "edit {} so that `{}` {}",
                self.file, self.path, self.expected
            ))
    }

    fn start(&self, ctx: &Context, status: Status) -> FindingBuilder {
        ctx.finding(format!("{}:{}", self.file, self.path), status)
            .evidence("path", self.path)
            .evidence("expected", self.expected)
            .evidence("matched", self.matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_follows_exists_absent_and_constraints() {
        use Presence::*;
        use PresenceProblem::*;
        assert_eq!(presence(Some(true), None, false), Ok(Exists));
        assert_eq!(presence(None, Some(false), false), Ok(Exists));
        assert_eq!(presence(None, Some(true), false), Ok(Absent));
        assert_eq!(presence(Some(false), None, false), Ok(Absent));
        assert_eq!(presence(None, None, true), Ok(Constrained));
        assert_eq!(presence(Some(true), None, true), Ok(Constrained));
        assert_eq!(presence(Some(true), Some(true), false), Err(Contradiction));
        assert_eq!(presence(None, Some(true), true), Err(AbsentWithConstraint));
        assert_eq!(presence(None, None, false), Err(Nothing));
        assert_eq!(
            Nothing.describe(&["equals", "matches"]),
            "needs one of `equals`, `matches`, `exists` or `absent`"
        );
    }

    #[test]
    fn patterns_match_whole_values() {
        let p = Pattern::new("true|on").unwrap();
        assert!(p.is_match("on") && !p.is_match("untrue"));
        assert!(Pattern::new("(").is_err());
    }
}
