//! Version ordering for advisory ranges: SemVer 2.0 (crates.io, npm) and
//! PEP 440 (PyPI), each lenient in the ways real lockfiles and advisories are.

use std::cmp::Ordering;

/// A SemVer version. `1`, `1.2` and a leading `v` are accepted (missing parts
/// are 0), because advisories write `introduced: "0"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SemVer {
    release: [u64; 3],
    pre: Vec<Identifier>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Identifier {
    Numeric(u64),
    Alpha(String),
}

impl Ord for Identifier {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Identifier::Numeric(a), Identifier::Numeric(b)) => a.cmp(b),
            (Identifier::Numeric(_), Identifier::Alpha(_)) => Ordering::Less,
            (Identifier::Alpha(_), Identifier::Numeric(_)) => Ordering::Greater,
            (Identifier::Alpha(a), Identifier::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Identifier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl SemVer {
    pub fn parse(text: &str) -> Option<SemVer> {
        let s = text.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        // Build metadata never affects precedence.
        let s = s.split_once('+').map_or(s, |(v, _)| v);
        let (core, pre) = match s.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (s, None),
        };
        let mut release = [0u64; 3];
        let mut parts = core.split('.');
        for (i, slot) in release.iter_mut().enumerate() {
            match parts.next() {
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    *slot = p.parse().ok()?;
                }
                None if i > 0 => break,
                _ => return None,
            }
        }
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => p
                .split('.')
                .map(|id| {
                    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    {
                        None
                    } else if id.bytes().all(|b| b.is_ascii_digit()) {
                        id.parse().ok().map(Identifier::Numeric)
                    } else {
                        Some(Identifier::Alpha(id.to_string()))
                    }
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(SemVer { release, pre })
    }
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        self.release.cmp(&other.release).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release comes before its release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            }
        })
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A PEP 440 version, normalised (`1.0-RC1` is `1.0rc1`, `1.0-1` is `1.0.post1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pep440 {
    epoch: u64,
    /// Without trailing zeros, so `1.0` == `1`.
    release: Vec<u64>,
    /// Sort key of the pre-release part: dev-only release < a < b < rc < final.
    pre: (u8, u64),
    /// (0, 0) without a post-release, (1, n) with one.
    post: (u8, u64),
    /// (0, n) for a dev release, (1, 0) without.
    dev: (u8, u64),
    local: Vec<Identifier>,
}

impl Pep440 {
    pub fn parse(text: &str) -> Option<Pep440> {
        let lower = text.trim().to_ascii_lowercase();
        let s = lower.strip_prefix('v').unwrap_or(&lower);
        let (s, local) = match s.split_once('+') {
            Some((v, l)) => (v, Some(l)),
            None => (s, None),
        };
        let (epoch, rest) = match s.split_once('!') {
            Some((e, r)) => (e.parse().ok()?, r),
            None => (0, s),
        };
        let (release, rest) = pep440_release(rest)?;
        let Suffixes { pre, post, dev } = pep440_suffixes(rest)?;
        let local = match local {
            None => Vec::new(),
            Some(l) => pep440_local(l)?,
        };
        let pre_key = match (pre, post, dev) {
            (Some((phase, n)), _, _) => (phase, n),
            // `1.0.dev1` sorts before `1.0a1`.
            (None, None, Some(_)) => (0, 0),
            _ => (4, 0),
        };
        Some(Pep440 {
            epoch,
            release,
            pre: pre_key,
            post: post.map_or((0, 0), |n| (1, n)),
            dev: dev.map_or((1, 0), |n| (0, n)),
            local,
        })
    }
}

fn digits_end(t: &str) -> usize {
    t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len())
}

/// `t` without one leading `.`, `-` or `_`.
fn strip_sep(t: &str) -> &str {
    t.strip_prefix(['.', '-', '_']).unwrap_or(t)
}

/// The number after an optional separator (0 when there is none), and the rest.
fn sep_number(t: &str) -> (u64, &str) {
    let t = strip_sep(t);
    let end = digits_end(t);
    (t[..end].parse().unwrap_or(0), &t[end..])
}

/// The release segment `N(.N)*`, without trailing zeros (so `1.0` == `1`), and the rest.
fn pep440_release(mut rest: &str) -> Option<(Vec<u64>, &str)> {
    let mut release = Vec::new();
    loop {
        let end = digits_end(rest);
        if end == 0 {
            return None;
        }
        release.push(rest[..end].parse().ok()?);
        rest = &rest[end..];
        match rest.strip_prefix('.') {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => rest = r,
            _ => break,
        }
    }
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    Some((release, rest))
}

/// The optional pre-, post- and dev-release parts after the release segment.
struct Suffixes {
    /// (phase: 1 a, 2 b, 3 rc; number).
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

/// Reads the suffixes; `None` when anything else is left over.
fn pep440_suffixes(mut rest: &str) -> Option<Suffixes> {
    let mut suffixes = Suffixes {
        pre: None,
        post: None,
        dev: None,
    };
    // Pre-release: a|alpha|b|beta|c|rc|pre|preview, optional separator and number.
    let after = strip_sep(rest);
    for (spelling, phase) in [
        ("alpha", 1u8),
        ("beta", 2),
        ("preview", 3),
        ("pre", 3),
        ("rc", 3),
        ("a", 1),
        ("b", 2),
        ("c", 3),
    ] {
        if let Some(r) = after.strip_prefix(spelling) {
            let (n, r) = sep_number(r);
            suffixes.pre = Some((phase, n));
            rest = r;
            break;
        }
    }
    // Post-release: .post1, -r1, -rev1, or the implicit `-1`.
    let after = strip_sep(rest);
    for spelling in ["post", "rev", "r"] {
        if let Some(r) = after.strip_prefix(spelling) {
            let (n, r) = sep_number(r);
            suffixes.post = Some(n);
            rest = r;
            break;
        }
    }
    if suffixes.post.is_none()
        && let Some(r) = rest.strip_prefix('-')
        && r.starts_with(|c: char| c.is_ascii_digit())
    {
        let (n, r) = sep_number(r);
        suffixes.post = Some(n);
        rest = r;
    }
    if let Some(r) = strip_sep(rest).strip_prefix("dev") {
        let (n, r) = sep_number(r);
        suffixes.dev = Some(n);
        rest = r;
    }
    rest.is_empty().then_some(suffixes)
}

/// A local version label (`+ubuntu.1`): alphanumeric identifiers.
fn pep440_local(l: &str) -> Option<Vec<Identifier>> {
    l.split(['.', '-', '_'])
        .map(|id| match id.parse() {
            _ if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) => None,
            Ok(n) => Some(Identifier::Numeric(n)),
            Err(_) => Some(Identifier::Alpha(id.to_string())),
        })
        .collect()
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.release.cmp(&other.release))
            .then_with(|| self.pre.cmp(&other.pre))
            .then_with(|| self.post.cmp(&other.post))
            .then_with(|| self.dev.cmp(&other.dev))
            .then_with(|| self.local.cmp(&other.local))
    }
}

impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// How an ecosystem orders its versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    SemVer,
    Pep440,
}

impl Scheme {
    /// Compares two versions; `None` when either does not parse.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Scheme::SemVer => Some(SemVer::parse(a)?.cmp(&SemVer::parse(b)?)),
            Scheme::Pep440 => Some(Pep440::parse(a)?.cmp(&Pep440::parse(b)?)),
        }
    }

    pub fn parses(self, v: &str) -> bool {
        match self {
            Scheme::SemVer => SemVer::parse(v).is_some(),
            Scheme::Pep440 => Pep440::parse(v).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sem(a: &str, b: &str) -> Ordering {
        Scheme::SemVer.compare(a, b).unwrap()
    }

    fn pep(a: &str, b: &str) -> Ordering {
        Scheme::Pep440.compare(a, b).unwrap()
    }

    #[test]
    fn semver_precedence_follows_the_spec() {
        // The example chain from semver.org §11.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
            "10.0.0",
        ];
        for w in chain.windows(2) {
            assert_eq!(sem(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(sem(w[1], w[0]), Ordering::Greater);
        }
        assert_eq!(sem("1.0.0+build.7", "1.0.0"), Ordering::Equal);
        assert_eq!(sem("v1.2.3", "1.2.3"), Ordering::Equal);
    }

    #[test]
    fn semver_accepts_advisory_shorthands() {
        assert_eq!(sem("0", "0.0.0"), Ordering::Equal);
        assert_eq!(sem("0.0.0-0", "0.0.0"), Ordering::Less);
        assert_eq!(sem("1.2", "1.2.0"), Ordering::Equal);
        for bad in ["", "a.b.c", "1.2.3.4", "1..2", "1.2.3-", "1.2.3-a..b"] {
            assert!(SemVer::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn pep440_orders_dev_pre_final_post() {
        let chain = [
            "1.0.dev0",
            "1.0a1",
            "1.0a2.dev1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local.1",
            "1.0.post1.dev0",
            "1.0.post1",
            "1.0.1",
            "1.1",
            "2!0.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(pep(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn pep440_normalises_spellings() {
        assert_eq!(pep("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(pep("1.0-RC1", "1.0rc1"), Ordering::Equal);
        assert_eq!(pep("1.0alpha1", "1.0a1"), Ordering::Equal);
        assert_eq!(pep("1.0.c1", "1.0rc1"), Ordering::Equal);
        assert_eq!(pep("1.0-1", "1.0.post1"), Ordering::Equal);
        assert_eq!(pep("1.0-r2", "1.0.post2"), Ordering::Equal);
        assert_eq!(pep("v2.31.0", "2.31"), Ordering::Equal);
        assert_eq!(pep("1.0a", "1.0a0"), Ordering::Equal);
        assert_eq!(pep("2.9", "2.10"), Ordering::Less);
        for bad in ["", "abc", "1.0foo", "1.0+", "1.0+a..b"] {
            assert!(Pep440::parse(bad).is_none(), "{bad:?}");
        }
    }
}
