//! The keyword prefilter: one Aho-Corasick pass over a file for every detector's
//! literal anchors (provider prefixes, `-----BEGIN`, `eyJ`, `://`, secret-name
//! words), so the regexes run only on the lines around a hit. Most lines of
//! real source hold no anchor at all and are never looked at again.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::providers::PROVIDERS;

/// The detectors that are not provider tokens, as bits of [`Region::kinds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A secret-name word: `password`, `token`, `key`, … (the keyed detectors).
    Keyword = 0,
    AwsKeyId,
    GcpApiKey,
    AzureClientSecret,
    PrivateKey,
    Jwt,
    Url,
    Bearer,
    /// A data URI or SRI digest that is masked before detection.
    Mask,
    /// A GCP service-account file marker (a file-level condition).
    ServiceAccount,
    /// A command-line flag or header whose value is a credential (`-u`, `--token`).
    Flag,
    /// A Kubernetes Secret manifest, whose `data:` values are base64 (file level).
    K8sSecret,
    /// A published example value ([`super::detect::KNOWN_SAMPLES`]).
    Sample,
}

/// Anchors per kind. Keywords are matched in the three spellings code uses
/// (`password`, `PASSWORD`, `Password` as in `dbPassword`), so the automaton can
/// stay case-sensitive for provider prefixes such as Twilio's `SK`.
const KEYWORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
];
const KIND_ANCHORS: &[(Kind, &[&str])] = &[
    (Kind::AwsKeyId, &["AKIA", "ASIA", "ABIA", "ACCA"]),
    (Kind::GcpApiKey, &["AIza"]),
    (Kind::AzureClientSecret, &["Q~"]),
    (Kind::PrivateKey, &["-----BEGIN", "PuTTY-User-Key-File-"]),
    (Kind::Jwt, &["eyJ"]),
    (Kind::Url, &["://"]),
    (
        Kind::Bearer,
        &["bearer", "Bearer", "BEARER", "Basic ", "basic "],
    ),
    (
        Kind::Mask,
        &[";base64,", "sha1-", "sha256-", "sha384-", "sha512-"],
    ),
    (Kind::ServiceAccount, &["service_account"]),
    (
        Kind::Flag,
        &[
            "-u ",
            "--user",
            "--token",
            "--password",
            "--passwd",
            "--api-key",
            "--apikey",
            "--secret",
            "--client-secret",
            "--auth-token",
            "--access-token",
            "--account-key",
            "-AsPlainText",
        ],
    ),
    (Kind::K8sSecret, &["kind: Secret", "kind: \"Secret\""]),
];

/// What one automaton pattern stands for.
#[derive(Clone, Copy)]
enum Target {
    Kind(Kind),
    Provider(usize),
}

struct Automaton {
    ac: AhoCorasick,
    targets: Vec<Target>,
}

static AUTOMATON: LazyLock<Automaton> = LazyLock::new(|| {
    let mut patterns: Vec<String> = Vec::new();
    let mut targets = Vec::new();
    for word in KEYWORDS {
        let capital = format!("{}{}", word[..1].to_ascii_uppercase(), &word[1..]);
        for spelling in [word.to_string(), word.to_ascii_uppercase(), capital] {
            patterns.push(spelling);
            targets.push(Target::Kind(Kind::Keyword));
        }
    }
    for (kind, anchors) in KIND_ANCHORS {
        for a in *anchors {
            patterns.push((*a).to_string());
            targets.push(Target::Kind(*kind));
        }
    }
    for sample in super::detect::KNOWN_SAMPLES {
        patterns.push(sample.value.to_string());
        targets.push(Target::Kind(Kind::Sample));
    }
    for (i, p) in PROVIDERS.iter().enumerate() {
        for a in p.anchors {
            patterns.push((*a).to_string());
            targets.push(Target::Provider(i));
        }
    }
    let ac = AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        // A full DFA: one table look-up per byte. With this many patterns the
        // builder would pick a contiguous NFA, which follows failure links and
        // made this pass most of the scan (1 GB of source: 10.7 -> 5.4 s in
        // the sandbox). The table is built once, at prepare time, and is part
        // of the plugin's pre-initialised memory image (+280 KB).
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .unwrap_or_else(|e| panic!("prefilter automaton: {e}"));
    Automaton { ac, targets }
});

const _: () = assert!(PROVIDERS.len() <= 64, "Region::providers is a u64 bit set");

/// A span of the text worth running detectors on: a whole line, or a window of
/// a very long line (minified code, one-line JSON) around its hits.
#[derive(Clone, Debug, Default)]
pub struct Region {
    pub start: usize,
    pub end: usize,
    /// Bits of [`Kind`] anchored in this region.
    pub kinds: u32,
    /// Bits of [`PROVIDERS`] indices anchored in this region.
    pub providers: u64,
}

impl Region {
    pub fn has(&self, kind: Kind) -> bool {
        self.kinds & (1 << kind as u8) != 0
    }
}

/// Lines longer than this are cut into windows around their hits.
const LONG_LINE: usize = 4096;
const WINDOW_BEFORE: usize = 512;
const WINDOW_AFTER: usize = 2048;

/// The regions of `text` holding at least one anchor, in order, and the kinds
/// seen anywhere in the file.
pub fn regions(text: &str) -> (Vec<Region>, u32) {
    let automaton = &*AUTOMATON;
    let bytes = text.as_bytes();
    let mut out: Vec<Region> = Vec::new();
    let mut all = 0u32;
    for m in automaton.ac.find_overlapping_iter(text) {
        let (kind_bit, provider_bit) = match automaton.targets[m.pattern().as_usize()] {
            Target::Kind(k) => (1u32 << k as u8, 0u64),
            Target::Provider(i) => (0, 1u64 << i),
        };
        all |= kind_bit;
        let p = m.start();
        if let Some(last) = out.last_mut()
            && p < last.end
        {
            last.kinds |= kind_bit;
            last.providers |= provider_bit;
            continue;
        }
        let line_start = memchr::memrchr(b'\n', &bytes[..p]).map_or(0, |i| i + 1);
        let line_end = memchr::memchr(b'\n', &bytes[p..]).map_or(text.len(), |i| p + i);
        let (start, end) = if line_end - line_start <= LONG_LINE {
            (line_start, line_end)
        } else {
            let mut s = p.saturating_sub(WINDOW_BEFORE).max(line_start);
            while !text.is_char_boundary(s) {
                s += 1;
            }
            // Start at a token boundary so a window never begins inside a key name.
            if let Some(i) = bytes[s..p]
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                && s > line_start
            {
                s += i;
            }
            let mut e = (m.end() + WINDOW_AFTER).min(line_end);
            while !text.is_char_boundary(e) {
                e += 1;
            }
            (s, e)
        };
        match out.last_mut() {
            // A window that overlaps the previous one on the same long line.
            Some(last) if start < last.end => {
                last.end = last.end.max(end);
                last.kinds |= kind_bit;
                last.providers |= provider_bit;
            }
            _ => out.push(Region {
                start,
                end,
                kinds: kind_bit,
                providers: provider_bit,
            }),
        }
    }
    (out, all)
}

pub fn bit(kind: Kind) -> u32 {
    1 << kind as u8
}
