//! What every config assertion shares, whichever plugin evaluates it
//! (`config.error-handling`, `config.rate-limits`, `security.compliance`):
//! resolving `exists`/`absent` against the value constraints, `matches`
//! patterns anchored to the whole value, and the shape of the finding about
//! one assertion in one file.

use gate_plugin_sdk::{Context, FindingBuilder, Status};
use std::sync::OnceLock;

use regex_automata::util::syntax;
use regex_automata::{MatchKind, meta};
use regex_syntax::hir::{
    Capture, Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Hir, HirKind,
    Literal, Look, Repetition,
};

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
/// The match semantics are the `regex` crate's: `Regex::new` builds the same
/// meta regex, with the same syntax, match kind and size limit, and the
/// lazy DFA as one more search engine. Two things are left out, both for
/// what compiling costs in a plugin's fresh instance
/// (docs/benchmarks.md, "Thirteenth pass"):
///
/// - the lazy DFA, whose reverse NFA compiles the pattern a second time; the
///   values a pattern is held to are short (one value of a config file or
///   of the environment), where it finds nothing sooner;
/// - the UTF-8 compiler, for ASCII values. On ASCII text a regex matches
///   exactly as its [`ascii_only`] form does, and that form has no class
///   reaching past U+007F, so it compiles without regex-automata's UTF-8
///   compiler, which zeroes a 10,000-entry table on every compile of a
///   Unicode class (about 0.3 ms for `.*/bin.*`). The full form is compiled
///   only for a value that is not ASCII.
#[derive(Debug)]
pub struct Pattern {
    pub raw: String,
    /// `\A(?:raw)\z`, parsed.
    anchored: Hir,
    ascii: meta::Regex,
    /// Compiled on first use, for values that are not ASCII.
    full: OnceLock<Result<meta::Regex, regex::Error>>,
}

impl Pattern {
    /// Errors are the `regex` crate's, with its messages. A syntax error
    /// quotes the regex as written, not its anchored form.
    pub fn new(raw: &str) -> Result<Pattern, regex::Error> {
        let parsed = syntax::parse_with(raw, &syntax::Config::new())
            .map_err(|e| regex::Error::Syntax(e.to_string()))?;
        let anchored = Hir::concat(vec![Hir::look(Look::Start), parsed, Hir::look(Look::End)]);
        let ascii = compile(&ascii_only(&anchored))?;
        Ok(Pattern {
            raw: raw.to_string(),
            anchored,
            ascii,
            full: OnceLock::new(),
        })
    }

    /// Whether all of `value` matches. An error only where `value` is not
    /// ASCII and the pattern's full form exceeds the size limit its ASCII
    /// form kept within (a Unicode class repeated many times, `\w{500}`):
    /// the `regex` crate refuses such a pattern outright.
    pub fn is_match(&self, value: &str) -> Result<bool, regex::Error> {
        if value.is_ascii() {
            return Ok(self.ascii.is_match(value));
        }
        match self.full.get_or_init(|| compile(&self.anchored)) {
            Ok(full) => Ok(full.is_match(value)),
            Err(e) => Err(e.clone()),
        }
    }
}

fn compile(hir: &Hir) -> Result<meta::Regex, regex::Error> {
    let config = meta::Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(true)
        .nfa_size_limit(Some(NFA_SIZE_LIMIT))
        .hybrid(false);
    meta::Builder::new()
        .configure(config)
        .build_from_hir(hir)
        .map_err(|e| match e.size_limit() {
            Some(limit) => regex::Error::CompiledTooBig(limit),
            None => regex::Error::Syntax(e.to_string()),
        })
}

/// `hir` as it matches ASCII text: on any ASCII haystack it matches exactly
/// where `hir` does, and no class or literal in it reaches past U+007F.
///
/// Every character an ASCII haystack offers is ASCII, so a class can only
/// ever match its ASCII members (case folding has already made `(?i)k` the
/// class `[Kk\u{212A}]`), and a literal with a non-ASCII character cannot
/// match at all. Look-arounds stay: a Unicode word boundary and an ASCII
/// one agree on ASCII text, and the NFA compiles either without the UTF-8
/// compiler.
fn ascii_only(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => hir.clone(),
        HirKind::Literal(Literal(bytes)) if bytes.is_ascii() => hir.clone(),
        HirKind::Literal(_) => Hir::fail(),
        HirKind::Class(Class::Unicode(class)) => {
            let mut ascii = class.clone();
            ascii.intersect(&ClassUnicode::new([ClassUnicodeRange::new('\0', '\x7F')]));
            Hir::class(Class::Unicode(ascii))
        }
        HirKind::Class(Class::Bytes(class)) => {
            let mut ascii = class.clone();
            ascii.intersect(&ClassBytes::new([ClassBytesRange::new(0, 0x7F)]));
            Hir::class(Class::Bytes(ascii))
        }
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            sub: Box::new(ascii_only(&rep.sub)),
            ..rep.clone()
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            sub: Box::new(ascii_only(&cap.sub)),
            ..cap.clone()
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(ascii_only).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(ascii_only).collect()),
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

    /// The assertion could not be checked: its `matches` pattern cannot be
    /// applied to a value (see [`Pattern::is_match`]).
    pub fn unmatchable(&self, ctx: &Context, err: &regex::Error) -> FindingBuilder {
        self.start(ctx, Status::Error)
            .message(format!(
                "`{}`: the `matches` pattern cannot be applied to a value in {}: {err}",
                self.path, self.file
            ))
            .remediation("simplify the `matches` pattern".to_string())
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
        assert_eq!(p.is_match("on"), Ok(true));
        assert_eq!(p.is_match("untrue"), Ok(false));
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
                    Ok(theirs.is_match(value)),
                    "pattern {raw:?} on {value:?}"
                );
            }
        }
    }

    /// Patterns and values built at random from pieces that tell the ASCII
    /// form from the full one (Unicode classes, case folding, non-ASCII
    /// literals, word boundaries): `Pattern` answers as `Regex` on every
    /// pair, ASCII values and others alike.
    #[test]
    fn random_patterns_answer_as_the_regex_crate_does() {
        const PIECES: [&str; 24] = [
            "a",
            "é",
            "K",
            "(?i)k",
            "(?i:ß)",
            ".",
            "\\w",
            "\\W",
            "\\d",
            "\\s",
            "\\b",
            "\\B",
            "[^x]",
            "[a-zé]",
            "\\D",
            "[[:^alpha:]]",
            "(?-u:\\w)",
            "(?s:.)",
            "x",
            "1",
            "\\x{212A}",
            "[α-ω]",
            "ab",
            " ",
        ];
        const REPEATS: [&str; 6] = ["", "*", "+", "?", "{2}", "*?"];
        const TEXT: [&str; 14] = [
            "a", "é", "K", "k", "\u{212A}", "ß", "ss", "x", "1", " ", "\n", "β", "日", "_",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..400 {
            let mut raw = String::new();
            for _ in 0..1 + next(4) {
                if next(5) == 0 {
                    raw.push('|');
                }
                raw.push_str(&format!("(?:{}){}", PIECES[next(24)], REPEATS[next(6)]));
            }
            let ours = Pattern::new(&raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            let theirs = regex::Regex::new(&format!(r"\A(?:{raw})\z")).expect(&raw);
            for _ in 0..30 {
                let value: String = (0..next(6)).map(|_| TEXT[next(14)]).collect();
                assert_eq!(
                    ours.is_match(&value),
                    Ok(theirs.is_match(&value)),
                    "pattern {raw:?} on {value:?}"
                );
            }
        }
    }

    /// A pattern whose full form is too big for the size limit while its
    /// ASCII form is not: ASCII values are held to it, the others get the
    /// error the `regex` crate gives for the pattern itself.
    #[test]
    fn a_pattern_too_big_only_beyond_ascii_errs_only_on_such_values() {
        let raw = "\\w{1000}";
        assert!(matches!(
            regex::Regex::new(raw),
            Err(regex::Error::CompiledTooBig(_))
        ));
        let p = Pattern::new(raw).unwrap();
        assert_eq!(p.is_match(&"a".repeat(1000)), Ok(true));
        assert_eq!(p.is_match(&"a".repeat(999)), Ok(false));
        assert_eq!(
            p.is_match(&"é".repeat(1000)),
            Err(regex::Error::CompiledTooBig(NFA_SIZE_LIMIT))
        );
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
