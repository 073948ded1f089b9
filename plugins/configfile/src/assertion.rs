//! What every config assertion shares, whichever plugin evaluates it
//! (`config.error-handling`, `config.rate-limits`, `security.compliance`):
//! resolving `exists`/`absent` against the value constraints, `matches`
//! patterns anchored to the whole value, and the shape of the finding about
//! one assertion in one file.

use gate_plugin_sdk::{Context, FindingBuilder, Status};
use regex_automata::util::syntax;
use regex_automata::{MatchKind, meta};

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

/// A user's regex held to whole values: a `matches` constraint, or a
/// pattern of `config.env-vars`. Kept as written (for messages), and
/// anchored to the whole value, so `"true"` does not accept `"untrue"`.
///
/// The match semantics are the `regex` crate's: `Regex::new` builds this
/// same meta regex, with the same syntax, match kind and size limit, and the
/// lazy DFA as one more search engine. That engine is left out here. The
/// values a pattern is held to are short (one value of a config file or the
/// environment), where the lazy DFA finds nothing sooner, while building it
/// compiles the pattern a second time, in reverse. In a plugin's fresh
/// instance each compile of a Unicode class also zeroes a 10,000-entry table
/// of regex-automata's UTF-8 compiler, so a pattern like `.*/bin.*` cost a
/// check about half a millisecond (docs/benchmarks.md, "Thirteenth pass").
#[derive(Debug)]
pub struct Pattern {
    pub raw: String,
    whole: meta::Regex,
}

impl Pattern {
    /// Errors are the `regex` crate's, with its messages. A syntax error
    /// quotes the regex as written, not its anchored form.
    pub fn new(raw: &str) -> Result<Pattern, regex::Error> {
        syntax::parse_with(raw, &syntax::Config::new())
            .map_err(|e| regex::Error::Syntax(e.to_string()))?;
        let config = meta::Config::new()
            .match_kind(MatchKind::LeftmostFirst)
            .utf8_empty(true)
            .nfa_size_limit(Some(NFA_SIZE_LIMIT))
            .hybrid(false);
        let whole = meta::Builder::new()
            .configure(config)
            .syntax(syntax::Config::new().utf8(true))
            .build(&format!(r"\A(?:{raw})\z"))
            .map_err(|e| match (e.size_limit(), e.syntax_error()) {
                (Some(limit), _) => regex::Error::CompiledTooBig(limit),
                (None, Some(syntax)) => regex::Error::Syntax(syntax.to_string()),
                (None, None) => regex::Error::Syntax(e.to_string()),
            })?;
        Ok(Pattern {
            raw: raw.to_string(),
            whole,
        })
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.whole.is_match(value)
    }
}

/// `regex::RegexBuilder`'s default limit on a compiled pattern.
const NFA_SIZE_LIMIT: usize = 10 * (1 << 20);

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

    /// `Pattern` drops only a search engine from what `regex::Regex` builds:
    /// over every pattern and value here it answers as `Regex` anchored the
    /// same way does.
    #[test]
    fn patterns_answer_as_the_regex_crate_does() {
        let patterns = [
            ".*/bin.*",
            "^1\\.[23]$",
            "true|on",
            "",
            "a*",
            "(?i)tls",
            "(?i)straße",
            "\\w+",
            "\\d{2,4}",
            "\\s*x\\s*",
            "[^a-z]+",
            "\\bon\\b.*",
            "(?m)^on$",
            "(?s).+",
            "é.",
            ".",
            "[[:alpha:]]+",
            "[α-ω]+",
            "(a|ab)(c|bcd)",
            "x?y??z*?",
            "\\x{212A}",
            "(?i)k",
            "[\\u{0}-\\u{10FFFF}]*",
            "(?u:\\W)+",
            "\\B",
            "(?-u:\\w)+",
        ];
        let values = [
            "",
            "on",
            "untrue",
            "true",
            "/usr/local/bin:/usr/bin",
            "1.2",
            "1.3",
            "1.4",
            "TLS",
            "STRASSE",
            "straße",
            "héllo",
            "12",
            "12345",
            " x ",
            "ABC",
            "on and on",
            "on\noff",
            "ab\ncd",
            "é!",
            "\u{212A}",
            "k",
            "K",
            "αβγ",
            "abcd",
            "yz",
            "日本語",
            "\0",
        ];
        for raw in patterns {
            let ours = Pattern::new(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            let theirs = regex::Regex::new(&format!(r"\A(?:{raw})\z")).expect(raw);
            for value in values {
                assert_eq!(
                    ours.is_match(value),
                    theirs.is_match(value),
                    "pattern {raw:?} on {value:?}"
                );
            }
        }
    }

    /// A pattern that does not compile gets the `regex` crate's error for
    /// the pattern as written, not for its anchored form.
    #[test]
    fn pattern_errors_are_the_regex_crates_for_the_pattern_as_written() {
        for raw in [
            "(",
            "a{2,1}",
            "[z-a]",
            "\\p{NoSuchClass}",
            "(?<n>a)(?<n>b)",
            "x)",
        ] {
            let ours = Pattern::new(raw).expect_err(raw).to_string();
            let theirs = regex::Regex::new(raw).expect_err(raw).to_string();
            assert_eq!(ours, theirs, "pattern {raw:?}");
        }
        let huge = "\\w{1000}{1000}";
        assert!(matches!(
            Pattern::new(huge),
            Err(regex::Error::CompiledTooBig(limit)) if limit == NFA_SIZE_LIMIT
        ));
        assert!(matches!(
            regex::Regex::new(huge),
            Err(regex::Error::CompiledTooBig(_))
        ));
    }
}
