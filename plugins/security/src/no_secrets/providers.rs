//! Provider tokens: secrets whose format alone names the provider (`ghp_…`,
//! `sk-ant-…`, `hvs.…`), so they need no key name around them. Each entry gives
//! the literal anchors the prefilter looks for, the token's shape, and how a match
//! is told from a look-alike: the provider's checksum where it has one (GitHub and
//! npm carry a CRC32 in their last six characters), otherwise entropy and the
//! placeholder test on the random part.

use std::sync::LazyLock;

use regex::Regex;

use super::entropy::{is_placeholder, shannon};
use super::rules::Rule;

/// How sure a match is that it is the provider's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    /// The provider's own checksum holds: not a coincidence, not a typed example.
    Checksum,
    /// The shape and the randomness of the body fit.
    Shape,
}

/// Tells a match from a look-alike: `None` rejects it.
type Verify = fn(&str) -> Option<Confidence>;

pub struct Provider {
    pub rule: Rule,
    /// Literal text every token of this kind contains (case-sensitive).
    pub anchors: &'static [&'static str],
    /// The token is capture group 1.
    pattern: &'static str,
    verify: Verify,
}

/// After the token: a character that cannot continue it, or the end.
macro_rules! end {
    () => {
        r"(?:[^A-Za-z0-9_\-]|\z)"
    };
}
/// Before the token: the start, or a character that cannot be part of a word.
macro_rules! start {
    () => {
        r"(?:^|[^A-Za-z0-9_\-])"
    };
}

pub static PROVIDERS: &[Provider] = &[
    Provider {
        rule: Rule::GithubToken,
        anchors: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        pattern: concat!(
            start!(),
            r"((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251})",
            end!()
        ),
        verify: github_classic,
    },
    Provider {
        rule: Rule::GithubToken,
        anchors: &["github_pat_"],
        pattern: concat!(
            start!(),
            r"(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})",
            end!()
        ),
        verify: |s| shaped(&s[11..], 4.0),
    },
    Provider {
        rule: Rule::GitlabToken,
        anchors: &[
            "glpat-",
            "gldt-",
            "glrt-",
            "glptt-",
            "glcbt-",
            "glimt-",
            "glagent-",
            "gloas-",
            "glsoat-",
            "glffct-",
            "glft-",
            "GR1348941",
        ],
        pattern: concat!(
            start!(),
            r"((?:glpat|gldt|glrt|glptt|glcbt|glimt|glagent|gloas|glsoat|glffct|glft)-[0-9A-Za-z_\-.]{20,}",
            r"|GR1348941[0-9A-Za-z_\-]{20,})",
            r"(?:[^0-9A-Za-z_\-.]|\z)"
        ),
        verify: |s| shaped(&s[s.find(['-', '1']).map_or(0, |i| i + 1)..], 3.0),
    },
    Provider {
        rule: Rule::SlackToken,
        anchors: &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-", "xapp-"],
        pattern: concat!(
            r"\b(xox[baprs]-[0-9A-Za-z\-]{10,250}|xapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+)",
            r"(?:[^0-9A-Za-z\-]|\z)"
        ),
        verify: |s| {
            (s.bytes().any(|b| b.is_ascii_digit()) && !is_placeholder(&s[5..]))
                .then_some(Confidence::Shape)
        },
    },
    Provider {
        rule: Rule::SlackWebhook,
        anchors: &["hooks.slack.com/"],
        // With or without the scheme: `hooks.slack.com/services/T…/B…/…` in a
        // config value that prepends `https://` itself is the same secret.
        pattern: r"((?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{20,})",
        verify: |s| {
            let path = &s[s.find("hooks.slack.com/")? + 16..];
            (!path.split('/').skip(1).any(is_placeholder)).then_some(Confidence::Shape)
        },
    },
    Provider {
        rule: Rule::DiscordWebhook,
        anchors: &["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"],
        pattern: r"((?:https?://)?(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_\-]{60,68})",
        verify: |s| shaped(&s[s.rfind('/')? + 1..], 4.0),
    },
    Provider {
        rule: Rule::StripeLiveKey,
        anchors: &["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
        pattern: r"\b((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,247})\b",
        verify: |s| (!is_placeholder(&s[8..])).then_some(Confidence::Shape),
    },
    Provider {
        rule: Rule::StripeWebhookSecret,
        anchors: &["whsec_"],
        pattern: r"\b(whsec_[A-Za-z0-9+/]{32,88}={0,2})(?:[^A-Za-z0-9+/=]|\z)",
        verify: |s| shaped(&s[6..], 3.5),
    },
    Provider {
        rule: Rule::OpenaiApiKey,
        anchors: &[
            "sk-proj-",
            "sk-svcacct-",
            "sk-admin-",
            "sk-None-",
            "T3BlbkFJ",
        ],
        // Project, service-account and admin keys, and the older `sk-…T3BlbkFJ…`
        // keys (the base64 of "OpenAI" in the middle).
        pattern: concat!(
            start!(),
            r"(sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{40,250}",
            r"|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})",
            end!()
        ),
        verify: openai,
    },
    Provider {
        rule: Rule::AnthropicApiKey,
        anchors: &["sk-ant-"],
        pattern: concat!(
            start!(),
            r"(sk-ant-[a-z]{3,5}[0-9]{2}-[A-Za-z0-9_\-]{80,120})",
            end!()
        ),
        verify: |s| shaped(&s[14..], 4.0),
    },
    Provider {
        rule: Rule::NotionToken,
        anchors: &["ntn_"],
        pattern: concat!(start!(), r"(ntn_[0-9]{11}[A-Za-z0-9]{35})", end!()),
        verify: |s| shaped(&s[4..], 4.0),
    },
    Provider {
        // Internal integration tokens issued before `ntn_`.
        rule: Rule::NotionToken,
        anchors: &["secret_"],
        pattern: concat!(start!(), r"(secret_[A-Za-z0-9]{43})", end!()),
        verify: |s| shaped(&s[7..], 4.0),
    },
    Provider {
        rule: Rule::SourcegraphToken,
        anchors: &["sgp_"],
        pattern: concat!(
            start!(),
            r"(sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40})",
            end!()
        ),
        verify: |s| shaped(&s[s.rfind('_')? + 1..], 3.0),
    },
    Provider {
        rule: Rule::HuggingfaceToken,
        anchors: &["hf_", "api_org_"],
        pattern: concat!(start!(), r"((?:hf_|api_org_)[A-Za-z]{34})", end!()),
        verify: |s| {
            let body = &s[s.rfind('_')? + 1..];
            let mixed = body.bytes().any(|b| b.is_ascii_uppercase())
                && body.bytes().any(|b| b.is_ascii_lowercase());
            mixed.then(|| shaped(body, 3.8))?
        },
    },
    Provider {
        rule: Rule::VaultToken,
        anchors: &["hvs.", "hvb.", "hvr."],
        pattern: concat!(start!(), r"(hv[sbr]\.[A-Za-z0-9_\-]{24,300})", end!()),
        verify: |s| shaped(&s[4..], 4.0),
    },
    Provider {
        rule: Rule::NpmToken,
        anchors: &["npm_"],
        pattern: concat!(start!(), r"(npm_[A-Za-z0-9]{36})", end!()),
        verify: |s| crc32_base62_ok(&s[4..]).then_some(Confidence::Checksum),
    },
    Provider {
        rule: Rule::PypiToken,
        anchors: &["pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"],
        // A macaroon whose location is pypi.org (or test.pypi.org).
        pattern: r"\b(pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,})",
        verify: |s| shaped(&s[24..], 4.5),
    },
    Provider {
        rule: Rule::SendgridApiKey,
        anchors: &["SG."],
        pattern: concat!(
            start!(),
            r"(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})",
            end!()
        ),
        verify: |s| shaped(&s[26..], 4.0),
    },
    Provider {
        rule: Rule::TwilioApiKey,
        anchors: &["SK"],
        pattern: r"\b(SK[0-9a-f]{32})\b",
        verify: |s| hex_ok(&s[2..]),
    },
    Provider {
        rule: Rule::MailgunApiKey,
        anchors: &["key-"],
        pattern: r"\b(key-[0-9a-f]{32})\b",
        verify: |s| hex_ok(&s[4..]),
    },
    Provider {
        rule: Rule::ShopifyToken,
        anchors: &["shpat_", "shpca_", "shppa_", "shpss_"],
        pattern: r"\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b",
        verify: |s| hex_ok(&s[6..]),
    },
    Provider {
        rule: Rule::DigitaloceanToken,
        anchors: &["dop_v1_", "doo_v1_", "dor_v1_"],
        pattern: r"\b(do[opr]_v1_[a-f0-9]{64})\b",
        verify: |s| hex_ok(&s[7..]),
    },
    Provider {
        rule: Rule::DopplerToken,
        anchors: &[
            "dp.pt.",
            "dp.st.",
            "dp.sa.",
            "dp.ct.",
            "dp.scim.",
            "dp.audit.",
        ],
        pattern: concat!(
            start!(),
            r"(dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_\-]{1,40}\.)?[A-Za-z0-9]{40,44})",
            end!()
        ),
        verify: |s| shaped(&s[s.rfind('.')? + 1..], 4.0),
    },
    Provider {
        rule: Rule::LinearApiKey,
        anchors: &["lin_api_", "lin_oauth_"],
        pattern: r"\b(lin_api_[A-Za-z0-9]{40}|lin_oauth_[a-f0-9]{64})\b",
        verify: |s| shaped(&s[s.rfind('_')? + 1..], 3.0),
    },
    Provider {
        rule: Rule::AtlassianApiToken,
        anchors: &["ATATT3", "ATCTT3"],
        pattern: concat!(
            start!(),
            r"((?:ATATT|ATCTT)3[A-Za-z0-9_\-=]{150,250})",
            end!()
        ),
        verify: |s| shaped(&s[6..], 4.5),
    },
    Provider {
        rule: Rule::DatabricksToken,
        anchors: &["dapi"],
        pattern: r"\b(dapi[a-f0-9]{32}(?:-[0-9]+)?)\b",
        verify: |s| hex_ok(&s[4..36]),
    },
    Provider {
        rule: Rule::PostmanApiKey,
        anchors: &["PMAK-"],
        pattern: r"\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b",
        verify: |s| hex_ok(&s[30..]),
    },
    Provider {
        rule: Rule::GrafanaToken,
        anchors: &["glsa_", "glc_"],
        pattern: concat!(
            start!(),
            r"(glsa_[A-Za-z0-9]{32}_[a-fA-F0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,2})",
            r"(?:[^A-Za-z0-9_\-+/=]|\z)"
        ),
        verify: |s| shaped(&s[s.find('_')? + 1..], 4.0),
    },
    Provider {
        rule: Rule::NewrelicApiKey,
        anchors: &["NRAK-"],
        pattern: r"\b(NRAK-[A-Z0-9]{27})\b",
        verify: |s| shaped(&s[5..], 3.5),
    },
    Provider {
        // Admin, insert (ingest), query and REST API keys.
        rule: Rule::NewrelicApiKey,
        anchors: &["NRAA-", "NRII-", "NRIQ-", "NRRA-"],
        pattern: concat!(
            start!(),
            r"(NR(?:AA|II|IQ|RA)-[A-Za-z0-9_\-]{27,40})",
            end!()
        ),
        verify: |s| shaped(&s[5..], 3.5),
    },
    Provider {
        // Ingest license keys: 36 hex characters, then `NRAL`.
        rule: Rule::NewrelicApiKey,
        anchors: &["NRAL"],
        pattern: r"\b([a-f0-9]{36}NRAL)\b",
        verify: |s| hex_ok(&s[..36]),
    },
    Provider {
        rule: Rule::PulumiToken,
        anchors: &["pul-"],
        pattern: r"\b(pul-[a-f0-9]{40})\b",
        verify: |s| hex_ok(&s[4..]),
    },
    Provider {
        rule: Rule::TerraformToken,
        anchors: &[".atlasv1."],
        pattern: concat!(
            start!(),
            r"([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,})",
            end!()
        ),
        verify: |s| shaped(&s[23..], 4.5),
    },
];

/// The compiled patterns, in [`PROVIDERS`] order.
pub static REGEXES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    PROVIDERS
        .iter()
        .map(|p| {
            Regex::new(p.pattern).unwrap_or_else(|e| panic!("provider regex {}: {e}", p.pattern))
        })
        .collect()
});

impl Provider {
    /// The rule a checked match reports: Stripe splits by prefix.
    pub fn classify(&self, token: &str) -> Option<(Rule, Confidence)> {
        let confidence = (self.verify)(token)?;
        let rule = match self.rule {
            Rule::StripeLiveKey => match token.get(..8)? {
                "sk_live_" => Rule::StripeLiveKey,
                "rk_live_" => Rule::StripeRestrictedKey,
                _ => Rule::StripeTestKey,
            },
            r => r,
        };
        Some((rule, confidence))
    }
}

/// Whether `value` begins with a prefix that only one provider's tokens carry
/// (`ghp_`, `npm_`, `hf_`, `sk-ant-`, …): then that provider's detector, which
/// knows the token's length, alphabet and checksum, is the one to decide, and
/// a value it rejected (a checksum that does not hold, a wrong length) is a
/// made-up example, not a secret of unknown kind. Prefixes a random value or a
/// word can start with by chance (`SK`, `key-`, `dapi`) do not count.
pub fn claims_format(value: &str) -> bool {
    PROVIDERS.iter().any(|p| {
        p.anchors.iter().any(|a| {
            a.len() >= 3 && a.ends_with(['_', '-', '.']) && *a != "key-" && value.starts_with(a)
        })
    })
}

/// OpenAI keys: the random part after `sk-` and the kind (`proj-`, …), which
/// may itself hold `-` and `_`.
fn openai(token: &str) -> Option<Confidence> {
    let body = &token[3..];
    let body = ["proj-", "svcacct-", "admin-", "None-"]
        .iter()
        .find_map(|kind| body.strip_prefix(kind))
        .unwrap_or(body);
    shaped(body, 4.0)
}

/// A random body: no placeholder word or filler, and at least `min_entropy` bits
/// per character (random base62 of this length scores 4.5–5.3; hex 3.4–4).
fn shaped(body: &str, min_entropy: f64) -> Option<Confidence> {
    (!is_placeholder(body) && shannon(body) >= min_entropy).then_some(Confidence::Shape)
}

/// A random hex body: both digits and letters, and not a run.
fn hex_ok(body: &str) -> Option<Confidence> {
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    (digits > 0 && digits < body.len())
        .then(|| shaped(body, 3.0))
        .flatten()
}

/// GitHub's classic tokens: 30 random characters and 6 of checksum when the body
/// is 36 long; longer server-to-server tokens have no checksum to test.
fn github_classic(token: &str) -> Option<Confidence> {
    let body = &token[4..];
    if body.len() == 36 {
        return crc32_base62_ok(body).then_some(Confidence::Checksum);
    }
    shaped(body, 4.0)
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The last six characters are the CRC32 of the rest, in base62, zero-padded
/// (the scheme GitHub's and npm's token formats share).
pub fn crc32_base62_ok(body: &str) -> bool {
    if body.len() < 7 || !body.is_ascii() {
        return false;
    }
    let (random, check) = body.split_at(body.len() - 6);
    base62_6(crc32(random.as_bytes())).as_bytes() == check.as_bytes()
}

/// `n` as six base62 digits, most significant first (2^32 < 62^6).
pub fn base62_6(mut n: u32) -> String {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// CRC-32/ISO-HDLC (zlib's), bitwise: tokens are short and checksummed rarely.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
