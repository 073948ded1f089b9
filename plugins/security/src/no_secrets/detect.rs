//! The detectors: provider patterns (each validated past the regex), private-key
//! blocks, JWTs, passwords in URLs, and high-entropy values assigned to secret-named
//! keys. `scan` returns one candidate per secret, most specific detector first.

use std::sync::LazyLock;

use regex::Regex;

use super::entropy::{
    char_classes, is_code_reference, is_digest, is_identifier, is_path_or_url, is_placeholder,
    is_quoted_name, is_uuid, shannon,
};
use super::prefilter::{self, Kind, Region};
use super::providers::{self, Confidence, PROVIDERS, REGEXES};
use super::rules::Rule;

/// One secret found in a text. `start..end` is a byte span into that text.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub rule: Rule,
    pub start: usize,
    pub end: usize,
    pub secret: String,
    /// The key a generic secret was assigned to (`DB_PASSWORD`); not itself secret.
    pub key: Option<String>,
    /// For provider tokens: whether their checksum vouches for them.
    pub confidence: Option<Confidence>,
    /// A published example value (reported as `pass`): where it is published.
    pub sample: Option<&'static str>,
}

impl Candidate {
    /// Lower wins an overlap: a published sample, then the most specific detector.
    fn rank(&self) -> u8 {
        if self.sample.is_some() {
            0
        } else {
            1 + self.rule.specificity()
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Minimum Shannon entropy (bits/char) for values found only by their key name.
    pub min_entropy: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_entropy: DEFAULT_MIN_ENTROPY,
        }
    }
}

/// Every detector regex, for [`prepare`].
const DETECTORS: &[&LazyLock<Regex>] = &[
    &MASK,
    &AWS_KEY_ID,
    &AWS_SECRET,
    &GCP_SA_TYPE,
    &GCP_SA_KEY,
    &GCP_API_KEY,
    &AZURE_STORAGE,
    &AZURE_SAS,
    &AZURE_CLIENT_SECRET,
    &AZURE_CLIENT_SECRET_KEY,
    &PEM,
    &PPK,
    &PPK_PRIVATE_LINES,
    &JWT,
    &URL_PASSWORD,
    &GENERIC_ASSIGN,
    &BEARER,
    &SETTER,
    &DEFINED,
    &NETRC_PASSWORD,
    &SUBSCRIPT,
    &QUERY_PARAM,
    &SAS_SIGNATURE,
    &CONFIG_SET,
    &PLIST_PAIR,
    &BASIC_AUTH_CALL,
    &PLAIN_SECURE_STRING,
    &XML_KEY_VALUE,
    &XML_ELEMENT,
    &NEXT_LINE_VALUE,
    &USER_FLAG,
    &BASIC,
    &SECRET_FLAG,
    &K8S_NAME,
    &K8S_DATA_ENTRY,
];

/// Compiles every detector, the provider patterns and the keyword automaton,
/// then scans a sample that reaches each kind of region, so that the regexes'
/// match caches exist too. A pre-initialized instance (gate's built-in, see
/// `gate_plugin_sdk::Plugin::prepare`) starts with all of it done; the first
/// scan in any other instance would do it anyway.
pub fn prepare() {
    for detector in DETECTORS {
        LazyLock::force(detector);
    }
    LazyLock::force(&super::providers::REGEXES);
    scan(PREPARE_SAMPLE, &Options::default());
}

/// Touches each region kind the prefilter knows, with nothing a scan reports.
const PREPARE_SAMPLE: &str = "password = \"changeme\"\ntoken: x\napi_key=1\nsecret: y\n\
    Authorization: Bearer x\nBasic x\ncurl -u a:b --token x\nhttps://a:b@host/\n\
    <password>x</password>\n<add key=\"Password\" value=\"x\"/>\nsetProperty(\"A\", \"b\")\n\
    AKIA eyJ AIza -----BEGIN ghp_ npm_ sk- xox hf_\nkind: Secret\ndata:\n  a: eA==\n";

pub const DEFAULT_MIN_ENTROPY: f64 = 3.5;
/// Values found only by their key name must be at least this long.
pub const MIN_GENERIC_LEN: usize = 16;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("detector regex {pattern}: {e}"))
}

// Assignment operators across config and code: `=`, `:`, `:=`, `=>`.
macro_rules! assign {
    () => {
        r#"["']?[ \t]*(?::=|=>|:|=)[ \t]*["']?"#
    };
}

static MASK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"data:(?:image|font|audio|video)/[A-Za-z0-9.+\-]+;base64,[A-Za-z0-9+/=]+|\b(?:sha1|sha256|sha384|sha512)-[A-Za-z0-9+/]{20,}={0,2}",
    )
});
static AWS_KEY_ID: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b"));
static AWS_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i-u:aws[_.\-]?secret[_.\-]?(?:access[_.\-]?)?key|secret[_.\-]?access[_.\-]?key)",
        // An assignment, or the name and the value as two words of a command
        // (`aws configure set aws_secret_access_key …`).
        r#"(?:"#,
        assign!(),
        r#"|["']?[ \t]+["']?)"#,
        r"([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|\z)"
    ))
});
static GCP_SA_TYPE: LazyLock<Regex> = LazyLock::new(|| re(r#""type"\s*:\s*"service_account""#));
static GCP_SA_KEY: LazyLock<Regex> =
    LazyLock::new(|| re(r#""private_key"\s*:\s*"(-----BEGIN[^"]*)""#));
static GCP_API_KEY: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|\z)"));
static AZURE_STORAGE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i-u:AccountKey|azure[_.\-]?storage[_.\-]?(?:account[_.\-]?)?(?:access[_.\-]?)?key)",
        assign!(),
        r"([A-Za-z0-9+/]{86}==)"
    ))
});
static AZURE_SAS: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i-u:SharedAccessKey)[ \t]*=[ \t]*([A-Za-z0-9+/]{43}=)"));
static AZURE_CLIENT_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|\z)",
    )
});
static AZURE_CLIENT_SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i-u:azure[_.\-]?client[_.\-]?secret)",
        assign!(),
        r"([A-Za-z0-9_~.\-]{16,})"
    ))
});
static PEM: LazyLock<Regex> = LazyLock::new(|| {
    re(r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?)-----")
});
/// A PuTTY private key file's first line (`PuTTY-User-Key-File-3: ssh-ed25519`).
static PPK: LazyLock<Regex> =
    LazyLock::new(|| re(r"PuTTY-User-Key-File-[0-9]+:[ \t]*[A-Za-z0-9.@\-]+"));
/// The count of base64 lines of a PuTTY key's private part.
static PPK_PRIVATE_LINES: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?m)^Private-Lines:[ \t]*([0-9]{1,3})\r?$"));
static JWT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*)"));
static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    // RFC 3986 userinfo characters (minus quotes), then a host name or IPv6 literal.
    re(concat!(
        r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://",
        // The user may be empty: `redis://:…@host` (Redis before ACLs has none).
        r"([A-Za-z0-9\-._~%!$&()*+,;=]{0,64}):([A-Za-z0-9\-._~%!$&()*+,;=]{1,128})@",
        r"([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?:[:/?#\s\x22\x27]|\z)"
    ))
});
static GENERIC_ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"([A-Za-z_][A-Za-z0-9_.\-]*)",
        // `\"` too: JSON strings that hold config (`"{\"password\": \"…\"}"`).
        r#"\\?["']?[ \t]*"#,
        // The operator, or a declared type and `=`: Rust `API_TOKEN: &str = `,
        // TypeScript `apiKey: string = `, Kotlin/Swift `val token: String = `.
        // Go `var apiSecret string = `, Makefile `?=`, `::=`, `:::=`, `+=`, PHP `.=`.
        r"(?::[ \t]*&?(?:'static[ \t]+)?(?:str|String|string|\[u8\])[ \t]*=|[ \t]+(?:string|\[\]byte)[ \t]*=|:::=|::=|\?=|\+=|\.=|:=|=>|=|:)",
        r#"[ \t]*"#,
        // A literal, possibly inside a conversion that keeps it literal: Go
        // `[]byte("…")`, Node `Buffer.from("…")`, Rust `String::from("…")`,
        // Python `b"…"`.
        r#"(?:(?:\[\]byte\(|Buffer\.from\(|String::from\(|[bBrR]{1,2})?\\?"([^"\\\n]*)\\?""#,
        r#"|(?:\[\]byte\(|Buffer\.from\(|String::from\(|[bBrR]{1,2})?'([^'\n]*)'"#,
        // A bare value never starts with `:` (`RsaPrivateKey::from_der` is a path).
        r#"|`([^`\n]*)`|([^ \t\r\n"'`,;#:][^ \t\r\n"'`,;#]*))"#
    ))
});
/// `Authorization: Bearer <token>` in curl commands, HTTP files and code.
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i-u:\bbearer)[ \t]+([A-Za-z0-9\-._~+/]{16,}=*)(?:[^A-Za-z0-9\-._~+/=]|\z)")
});
/// `System.setProperty("DB_PASSWORD", "…")`, `os.Setenv(…)`, `env::set_var(…)`,
/// `putenv`: the name is a string too.
static SETTER: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"(?:setProperty|[Ss]etenv|set_var|putenv|SetEnvironmentVariable)\(\s*["']([A-Za-z_][A-Za-z0-9_.\-]*)["']\s*,\s*"#,
        r#"(?:"([^"\n]*)"|'([^'\n]*)')"#
    ))
});
/// A subscript assignment of any container: `os.environ["DB_PASSWORD"] = "…"`,
/// Flask's `app.config["SECRET_KEY"] = "…"`, Ruby's `ENV['API_TOKEN'] = '…'`.
static SUBSCRIPT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"\[\s*["']([A-Za-z_][A-Za-z0-9_.\-]*)["']\s*\]\s*=\s*"#,
        r#"(?:"([^"\n]*)"|'([^'\n]*)')"#
    ))
});
/// A name and a literal in the shapes of code that defines a constant or a
/// setting without an assignment operator: PHP `define('DB_PASSWORD', '…')`,
/// C `#define WIFI_PASSWORD "…"`, .NET's section keys in JSON
/// (`"Smtp:Password": "…"`), and SQL's `PASSWORD '…'` (named by the keyword).
/// The name is one of groups 1–4, the value group 5 or 6.
static DEFINED: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"(?:\bdefine\(\s*["']([A-Za-z_][A-Za-z0-9_.\-]*)["']\s*,\s*"#,
        r#"|^[ \t]*#[ \t]*define[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]+"#,
        r#"|"((?:[A-Za-z0-9_.\-]+:)+[A-Za-z0-9_.\-]+)"[ \t]*:[ \t]*"#,
        r#"|\b(PASSWORD)[ \t]+)"#,
        r#"(?:"([^"\n]*)"|'([^'\n]*)')"#
    ))
});
/// A URL query or JDBC parameter: `?password=…`, `&access_token=…`,
/// `;password=…`. The name is group 1, the value group 2.
static QUERY_PARAM: LazyLock<Regex> =
    LazyLock::new(|| re(r#"[?&;]([A-Za-z_][A-Za-z0-9_.\-]*)=([^&;#\s"'<>]+)"#));
/// An Azure SAS URL's signature (`…?sv=…&sig=…`): an HMAC made with the account key.
static SAS_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"[?&]sv=[0-9-]{10}&(?:[^\s&#]+&)*sig=((?:[A-Za-z0-9+/]|%2[Bb]|%2[Ff]){43}(?:=|%3[Dd]))")
});
/// A setting given on a command line as two words: `npm config set NAME VALUE`,
/// `git config --global NAME VALUE`, `dotnet user-secrets set NAME VALUE`.
static CONFIG_SET: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"\b(?:configure[ \t]+set|config[ \t]+set|user-secrets[ \t]+set|config(?:[ \t]+--(?:global|local|system))?)"#,
        r#"[ \t]+["']?([A-Za-z_/@.:\-][^\s"'=]*)["']?[ \t]+(?:"([^"\n]+)"|'([^'\n]+)'|([^\s"'`]+))"#
    ))
});
/// `.netrc`'s `password …` (its keywords are lower case and unquoted).
static NETRC_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?:^|\s)(password|passwd)[ \t]+([^\s"'=:,;()]+)(?:\s|\z)"#));
/// A user and password passed to an HTTP client: Python requests'
/// `auth=("user", "…")`, `HTTPBasicAuth("user", "…")`, Go's
/// `req.SetBasicAuth("user", "…")`, Ruby's `basic_auth("user", "…")`.
static BASIC_AUTH_CALL: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"(?:\bauth\s*=\s*\(|\b(?:SetBasicAuth|HTTPBasicAuth|BasicAuth|basic_auth)\()"#,
        r#"\s*["']([^"'\n]+)["']\s*,\s*["']([^"'\n]+)["']\s*\)"#
    ))
});
/// PowerShell's `ConvertTo-SecureString "…" -AsPlainText`: a password in clear.
static PLAIN_SECURE_STRING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(ConvertTo-SecureString)[ \t]+(?:-String[ \t]+)?(?:"([^"\n]*)"|'([^'\n]*)')[^\n]*-AsPlainText"#,
    )
});
/// XML attributes that name a setting and give its value: NuGet's
/// `<add key="Password" value="…"/>`, `<setting name="ApiKey" value="…">`.
static XML_KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"\b(?:key|name)\s*=\s*"([A-Za-z_][A-Za-z0-9_.:\-]*)"\s+value\s*=\s*"([^"\n]*)""#)
});
/// `<password>…</password>` on one line.
static XML_ELEMENT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"<([A-Za-z_][A-Za-z0-9_.:\-]*)(?:\s[^<>]*)?>([^<>\s]+)</([A-Za-z_][A-Za-z0-9_.:\-]*)>")
});
/// A property list's `<key>password</key>`, with its `<string>…</string>` after
/// it on the same line; [`NEXT_LINE_VALUE`] finds the key alone on its line.
static PLIST_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    re(r"<key>\s*([A-Za-z_][A-Za-z0-9_.:\- ]*?)\s*</key>\s*<string>([^<>\s]+)</string>")
});
/// A key whose value starts on the next line: `<password>` alone, a property
/// list's `<key>password</key>` alone, YAML `token: |`
/// or `token: >-`, an assignment left open with `\` or `(`, or `token:` alone.
static NEXT_LINE_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"^\s*(?:<key>\s*([A-Za-z_][A-Za-z0-9_.:\- ]*?)\s*</key>|<([A-Za-z_][A-Za-z0-9_.:\-]*)(?:\s[^<>]*)?>",
        r#"|["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?[ \t]*(?::|=|:=)[ \t]*(?:[|>][+\-]?|\\|\()?)\s*$"#
    ))
});
/// `curl -u user:password`, `--user user:password`.
static USER_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?:^|\s)(?:-u|--user)(?:[ \t]+|=)["']?([^\s"':$]+):([^\s"']+?)["']?(?:\s|\z)"#)
});
/// `Authorization: Basic <base64 of user:password>`.
static BASIC: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i-u:\bbasic)[ \t]+([A-Za-z0-9+/]{8,}={0,2})(?:[^A-Za-z0-9+/=]|\z)"));
/// `--password …`, `--token=…`, `--api-key …` on command lines.
static SECRET_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"(?:^|\s)(--(?:password|passwd|token|api-key|apikey|secret|client-secret|auth-token|access-token|account-key))"#,
        r#"(?:[ \t]+|=)(?:"([^"\n]*)"|'([^'\n]*)'|([^\s"'`]+))"#
    ))
});
static K8S_NAME: LazyLock<Regex> =
    LazyLock::new(|| re(r#"^\s*-?\s*name:\s*["']?([A-Za-z0-9_.\-]+)["']?\s*$"#));

/// Published sample credentials: documented, never valid, and everywhere in docs.
/// Reported as `pass` with a note saying where they are published, so a reader
/// sees they were recognised rather than missed.
pub const KNOWN_SAMPLES: &[Sample] = &[
    Sample {
        value: "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        rule: Rule::AzureStorageAccountKey,
        source: "the Azurite / Azure Storage Emulator account key",
    },
    Sample {
        value: "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        rule: Rule::Jwt,
        source: "the jwt.io example token's signature",
    },
    Sample {
        value: "AKIAIOSFODNN7EXAMPLE",
        rule: Rule::AwsAccessKeyId,
        source: "the AWS documentation's example access key ID",
    },
    Sample {
        value: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        rule: Rule::AwsSecretAccessKey,
        source: "the AWS documentation's example secret access key",
    },
    Sample {
        value: "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        rule: Rule::BasicAuth,
        source: "RFC 7617's Basic authentication example (Aladdin / open sesame)",
    },
    Sample {
        value: "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        rule: Rule::StripeTestKey,
        source: "the Stripe API reference's example test key",
    },
];

/// A published example credential: documented, never valid, and everywhere in docs.
pub struct Sample {
    pub value: &'static str,
    pub rule: Rule,
    /// Where it is published.
    pub source: &'static str,
}

fn known_sample(secret: &str) -> bool {
    KNOWN_SAMPLES.iter().any(|s| secret.contains(s.value))
}

/// Finds every secret in `text`. One prefilter pass finds the lines holding an
/// anchor of some detector; each detector then runs only on the lines its own
/// anchors marked. Image data URIs and SRI digests (long base64 runs that would
/// otherwise match token shapes by chance) are masked first when present.
pub fn scan(text: &str, opts: &Options) -> Vec<Candidate> {
    let (regions, seen) = prefilter::regions(text);
    if regions.is_empty() {
        return Vec::new();
    }
    let masked;
    let t = if seen & prefilter::bit(Kind::Mask) != 0 {
        masked = mask(text);
        masked.as_str()
    } else {
        text
    };
    let service_account =
        seen & prefilter::bit(Kind::ServiceAccount) != 0 && GCP_SA_TYPE.is_match(t);
    let mut found = Vec::new();
    for r in &regions {
        let mut at = At {
            found: &mut found,
            base: r.start,
        };
        let line = &t[r.start..r.end];
        providers(line, r, &mut at);
        cloud_keys(line, r, opts, service_account, &mut at);
        if r.has(Kind::PrivateKey) {
            private_keys(t, r, &mut found);
        }
        let mut at = At {
            found: &mut found,
            base: r.start,
        };
        jwts_and_urls(line, r, opts, &mut at);
        if r.has(Kind::Keyword) || r.has(Kind::Bearer) || r.has(Kind::Flag) {
            generic(t, r, opts, &mut found);
        }
        if r.has(Kind::Sample) {
            samples(line, r.start, &mut found);
        }
    }
    if seen & prefilter::bit(Kind::K8sSecret) != 0 {
        k8s_secret_data(t, opts, &mut found);
    }
    resolve_overlaps(found)
}

/// Published example values, as `pass` candidates that win over any detector's
/// view of the same text.
fn samples(line: &str, base: usize, found: &mut Vec<Candidate>) {
    for sample in KNOWN_SAMPLES {
        for (i, _) in line.match_indices(sample.value) {
            found.push(Candidate {
                rule: sample.rule,
                start: base + i,
                end: base + i + sample.value.len(),
                secret: sample.value.to_string(),
                key: None,
                confidence: None,
                sample: Some(sample.source),
            });
        }
    }
}

/// A `data:` entry of a Kubernetes Secret: `  key: base64`.
static K8S_DATA_ENTRY: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"^([ \t]+)["']?([A-Za-z0-9_.\-]+)["']?:[ \t]*["']?([A-Za-z0-9+/]{8,}={0,2})["']?$"#)
});

/// Kubernetes Secret `data:` values are base64 of the secret: each is decoded and
/// scanned (a provider token inside is found by its format), and judged as a value
/// of its key when the key is secret-named. Findings point at the base64 text.
fn k8s_secret_data(t: &str, opts: &Options, found: &mut Vec<Candidate>) {
    let mut in_data = false;
    // The base64 text of every entry: judged decoded only, so the generic
    // detector's view of it (random-looking base64) is dropped.
    let mut encoded: Vec<(usize, usize)> = Vec::new();
    let mut decoded_found = Vec::new();
    let mut offset = 0;
    for line in t.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end();
        if body == "data:" || body == "stringData:" {
            in_data = body == "data:";
            continue;
        }
        let Some(c) = K8S_DATA_ENTRY.captures(body).filter(|_| in_data) else {
            in_data &= body.is_empty() || body.starts_with(['#', ' ', '\t']);
            continue;
        };
        let (key, m) = (&c[2], c.get(3).unwrap());
        encoded.push((start + m.start(), start + m.end()));
        let Some(decoded) = base64url_decode(m.as_str()).and_then(|b| String::from_utf8(b).ok())
        else {
            continue;
        };
        let inner = scan(&decoded, opts);
        let candidate = |rule, key: Option<&str>| Candidate {
            rule,
            start: start + m.start(),
            end: start + m.end(),
            secret: m.as_str().to_string(),
            key: key.map(str::to_string),
            confidence: None,
            sample: None,
        };
        if let Some(first) = inner.first() {
            decoded_found.push(candidate(first.rule, first.key.as_deref()));
        } else if is_secret_key(key) && generic_value_ok(decoded.trim_end(), true, opts) {
            decoded_found.push(candidate(Rule::GenericSecret, Some(key)));
        }
    }
    found.retain(|c| {
        !(c.rule == Rule::GenericSecret && encoded.iter().any(|&(s, e)| s <= c.start && c.end <= e))
    });
    found.extend(decoded_found);
}

/// Candidates found in a region, whose offsets are relative to `base`.
struct At<'f> {
    found: &'f mut Vec<Candidate>,
    base: usize,
}

impl At<'_> {
    fn push(&mut self, rule: Rule, m: regex::Match<'_>) {
        self.push_checked(rule, m, None);
    }

    fn push_checked(&mut self, rule: Rule, m: regex::Match<'_>, confidence: Option<Confidence>) {
        self.found.push(Candidate {
            rule,
            start: self.base + m.start(),
            end: self.base + m.end(),
            secret: m.as_str().to_string(),
            key: None,
            confidence,
            sample: None,
        });
    }
}

/// Tokens whose format names their provider (see [`super::providers`]).
fn providers(line: &str, r: &Region, at: &mut At<'_>) {
    let mut bits = r.providers;
    while bits != 0 {
        let i = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let provider = &PROVIDERS[i];
        for c in REGEXES[i].captures_iter(line) {
            let m = c.get(1).unwrap();
            if let Some((rule, confidence)) = provider.classify(m.as_str()) {
                at.push_checked(rule, m, Some(confidence));
            }
        }
    }
}

/// AWS, GCP and Azure credentials.
fn cloud_keys(line: &str, r: &Region, opts: &Options, service_account: bool, at: &mut At<'_>) {
    if r.has(Kind::AwsKeyId) {
        for c in AWS_KEY_ID.captures_iter(line) {
            let m = c.get(1).unwrap();
            if !is_placeholder(&m.as_str()[4..]) {
                at.push(Rule::AwsAccessKeyId, m);
            }
        }
    }
    if r.has(Kind::GcpApiKey) {
        for c in GCP_API_KEY.captures_iter(line) {
            let m = c.get(1).unwrap();
            if !is_placeholder(&m.as_str()[4..]) {
                at.push(Rule::GcpApiKey, m);
            }
        }
    }
    if r.has(Kind::AzureClientSecret) {
        for c in AZURE_CLIENT_SECRET.captures_iter(line) {
            let m = c.get(1).unwrap();
            if !is_placeholder(m.as_str()) {
                at.push(Rule::AzureClientSecret, m);
            }
        }
    }
    if !r.has(Kind::Keyword) {
        return;
    }
    for c in AWS_SECRET.captures_iter(line) {
        let m = c.get(1).unwrap();
        if !is_placeholder(m.as_str()) && shannon(m.as_str()) >= opts.min_entropy {
            at.push(Rule::AwsSecretAccessKey, m);
        }
    }
    if service_account {
        for c in GCP_SA_KEY.captures_iter(line) {
            let m = c.get(1).unwrap();
            if let Some(header) = PEM.find(m.as_str())
                && pem_body(&m.as_str()[header.end()..]).is_some()
            {
                at.push(Rule::GcpServiceAccount, m);
            }
        }
    }
    for c in AZURE_STORAGE.captures_iter(line) {
        let m = c.get(1).unwrap();
        if !known_sample(m.as_str()) && !is_placeholder(m.as_str()) {
            at.push(Rule::AzureStorageAccountKey, m);
        }
    }
    for c in AZURE_SAS.captures_iter(line) {
        let m = c.get(1).unwrap();
        if !is_placeholder(m.as_str()) {
            at.push(Rule::AzureSharedAccessKey, m);
        }
    }
    for c in AZURE_CLIENT_SECRET_KEY.captures_iter(line) {
        let m = c.get(1).unwrap();
        if generic_value_ok(m.as_str(), true, opts) {
            at.push(Rule::AzureClientSecret, m);
        }
    }
}

/// Private keys whose key material is there: PEM blocks (the body follows the
/// header's line and must decode) and PuTTY `.ppk` files (the lines their
/// `Private-Lines:` counts). The finding spans the header.
fn private_keys(t: &str, r: &Region, found: &mut Vec<Candidate>) {
    let headers = PPK
        .find_iter(&t[r.start..r.end])
        .map(|m| (m, ppk_private_part as fn(&str) -> Option<String>))
        .chain(
            PEM.find_iter(&t[r.start..r.end])
                .map(|m| (m, pem_body as fn(&str) -> Option<String>)),
        );
    for (m, body_after) in headers {
        let end = r.start + m.end();
        if let Some(body) = body_after(&t[end..]) {
            found.push(Candidate {
                rule: Rule::PrivateKey,
                start: r.start + m.start(),
                end,
                secret: body,
                key: None,
                confidence: None,
                sample: None,
            });
        }
    }
}

/// The private part of a PuTTY key file, from the text after its first line:
/// the `Private-Lines: N` lines of base64 that follow, within the next 64 lines.
fn ppk_private_part(after: &str) -> Option<String> {
    let window: String = after.split_inclusive('\n').take(64).collect();
    let c = PPK_PRIVATE_LINES.captures(&window)?;
    let count: usize = c[1].parse().ok()?;
    let rest = &window[c.get(0)?.end()..];
    let body: String = rest.lines().skip(1).take(count).map(str::trim).collect();
    let base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=';
    (count > 0 && body.len() >= 40 && body.bytes().all(base64)).then_some(body)
}

/// JWTs and passwords in URLs.
fn jwts_and_urls(line: &str, r: &Region, opts: &Options, at: &mut At<'_>) {
    if r.has(Kind::Jwt) {
        for c in JWT.captures_iter(line) {
            let m = c.get(1).unwrap();
            if is_jwt(m.as_str()) {
                at.push(Rule::Jwt, m);
            }
        }
    }
    if r.has(Kind::Url) {
        for c in URL_PASSWORD.captures_iter(line) {
            let (user, password, host) = (c.get(1).unwrap(), c.get(2).unwrap(), c.get(3).unwrap());
            if url_password_ok(user.as_str(), password.as_str(), host.as_str(), opts) {
                at.push(Rule::UrlPassword, password);
            }
        }
        for c in captures_near(&SAS_SIGNATURE, line, line.contains("sig=")) {
            at.push(Rule::AzureSharedAccessKey, c.get(1).unwrap());
        }
    }
}

/// Replaces spans that are known not to hold secrets with spaces (same byte length,
/// so offsets into the masked text are offsets into the original).
fn mask(text: &str) -> String {
    let mut bytes: Option<Vec<u8>> = None;
    for m in MASK.find_iter(text) {
        let b = bytes.get_or_insert_with(|| text.as_bytes().to_vec());
        b[m.start()..m.end()].fill(b' ');
    }
    match bytes {
        // Only ASCII spans were overwritten with ASCII, so this stays valid UTF-8.
        Some(b) => String::from_utf8(b).unwrap_or_else(|_| text.to_string()),
        None => text.to_string(),
    }
}

/// The base64 body after a `-----BEGIN … PRIVATE KEY-----` header, or `None` when the
/// header is only mentioned (in code that parses keys, in docs) rather than followed
/// by key material. Handles real newlines and `\n` escapes inside JSON/YAML strings,
/// and skips armour headers (`Proc-Type:`, `DEK-Info:`, `Version:`).
fn pem_body(after: &str) -> Option<String> {
    let end = after
        .char_indices()
        .nth(16 * 1024)
        .map_or(after.len(), |(i, _)| i);
    let region = after[..end].replace("\\n", "\n");
    let mut body = String::new();
    let mut longest = 0;
    'lines: for line in region.lines().take(200) {
        let (line, last) = match line.find("-----END") {
            Some(p) => (&line[..p], true),
            None => (line, false),
        };
        if line.contains(':') && !last {
            continue;
        }
        for token in line.split_whitespace() {
            let token =
                token.trim_matches(|c| matches!(c, '"' | '\'' | ',' | ';' | '\\' | '(' | ')'));
            if token.is_empty() {
                continue;
            }
            if token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            {
                body.push_str(token);
                longest = longest.max(token.len());
            } else {
                break 'lines;
            }
        }
        if last {
            break;
        }
    }
    let filler =
        body.contains("XXXX") || body.contains("xxxx") || body.contains("AAAAAAAAAAAAAAAAAAAAAAAA");
    (body.len() >= 64 && longest >= 40 && !filler).then_some(body)
}

/// Three base64url segments whose first decodes to a JSON object naming an `alg`.
fn is_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(json) = base64url_decode(header) else {
        return false;
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(&json)
    else {
        return false;
    };
    let Some(alg) = map.get("alg").and_then(|a| a.as_str()) else {
        return false;
    };
    let signed_enough = if alg.eq_ignore_ascii_case("none") {
        true
    } else {
        signature.len() >= 16
    };
    signed_enough && !payload.is_empty() && !known_sample(signature)
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Passwords every README, compose file and CI service uses locally.
const DEFAULT_PASSWORDS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "pwd",
    "secret",
    "postgres",
    "root",
    "admin",
    "guest",
    "test",
    "user",
    "mysql",
    "redis",
    "changeme",
    "opensesame",
    "foobar",
];

/// Passwords in URLs, minus the ones every README and compose file uses locally:
/// on a local or documentation host (`localhost`, `*.example`) only a password
/// that looks generated, by the bar a value under a secret-named key must pass
/// (a real one pasted into a README with its host redacted is still real).
fn url_password_ok(user: &str, password: &str, host: &str, opts: &Options) -> bool {
    let host = host.to_ascii_lowercase();
    let local = matches!(
        host.as_str(),
        "localhost" | "127.0.0.1" | "[::1]" | "0.0.0.0"
    ) || host.ends_with(".example")
        || host.ends_with(".local")
        || host.ends_with(".test")
        || ["example.com", "example.org", "example.net"]
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")));
    let pw = password.to_ascii_lowercase();
    let generated = password.len() >= MIN_GENERIC_LEN
        && char_classes(password) >= 2
        && shannon(password) >= opts.min_entropy;
    password.len() >= 6
        // With no user (`redis://:…@host`) only a generated password counts:
        // URL parser test data is full of `scheme://:pass@host` shapes.
        && ((!local && !user.is_empty()) || generated)
        && password != user
        && !DEFAULT_PASSWORDS.contains(&pw.as_str())
        && !is_placeholder(password)
}

/// Words in a key name that say its value is a secret (compared with `_.-` removed,
/// lower-cased, so `clientSecret`, `CLIENT_SECRET` and `client-secret` agree).
const SECRET_KEY_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "appkey",
    "applicationkey",
    "accesskey",
    "accountkey",
    "storagekey",
    "authkey",
    "privatekey",
    "signingkey",
    "encryptionkey",
    "masterkey",
    "credential",
];

/// Key-name endings that say the value is *about* a secret, not the secret:
/// `secret_name`, `token_url`, `password_file`, `SECRET_KEY_REF`.
const NOT_SECRET_SUFFIXES: &[&str] = &[
    "name",
    "names",
    "file",
    "filename",
    "path",
    "dir",
    "url",
    "uri",
    "endpoint",
    "ref",
    "env",
    "type",
    "id",
    "ids",
    "length",
    "len",
    "size",
    "count",
    "ttl",
    "expiry",
    "expiration",
    "expires",
    "expiresat",
    "header",
    "prefix",
    "field",
    "version",
    "policy",
    "algorithm",
    "alg",
    "hint",
    "format",
    "mode",
    "enabled",
    "required",
    "provider",
    "location",
    "store",
    "manager",
    "arn",
    "hash",
    "digest",
    "sha1",
    "sha256",
    "sha512",
    "md5",
    "checksum",
    "fingerprint",
    "thumbprint",
    "config",
    "settings",
    "keyref",
    "selector",
    "mount",
];

/// A key name lower-cased without `_`, `.` and `-`, so `clientSecret`,
/// `CLIENT_SECRET` and `client-secret` compare equal.
fn normalized_key(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '.' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// True when a key name (`DB_PASSWORD`, `apiKey`, `client-secret`) announces a secret.
pub fn is_secret_key(key: &str) -> bool {
    let norm = normalized_key(key);
    // `auth` alone is Docker's and npm's field for base64 `user:password`.
    let named = SECRET_KEY_WORDS.iter().any(|w| norm.contains(w))
        || norm.ends_with("pass")
        || norm.ends_with("pwd")
        || norm == "auth";
    named && !NOT_SECRET_SUFFIXES.iter().any(|s| norm.ends_with(s))
}

/// Whether a value assigned to a secret-named key looks like a real secret.
fn generic_value_ok(value: &str, quoted: bool, opts: &Options) -> bool {
    value.chars().count() >= MIN_GENERIC_LEN
        && !value.contains(char::is_whitespace)
        && !is_placeholder(value)
        && !is_uuid(value)
        && !is_digest(value)
        && !is_path_or_url(value)
        && !is_code_reference(value)
        && !providers::claims_format(value)
        && !(value.starts_with("eyJ") && value.contains('.') && !is_jwt(value))
        && char_classes(value) >= 2
        && (quoted || (bare_literal(value) && !is_identifier(value)))
        && !(quoted && is_quoted_name(value))
        && shannon(value) >= opts.min_entropy
}

/// An unquoted value is often an identifier (`accessTokenValue`); a literal secret
/// has digits, or upper and lower case mixed more evenly than camelCase does.
fn bare_literal(value: &str) -> bool {
    if value.bytes().any(|b| b.is_ascii_digit()) {
        return true;
    }
    let letters = value.bytes().filter(u8::is_ascii_alphabetic).count().max(1);
    let upper = value.bytes().filter(u8::is_ascii_uppercase).count();
    let ratio = upper as f64 / letters as f64;
    (0.25..=0.75).contains(&ratio)
}

/// `password = "…"`, `apiKey: …`, `CLIENT_SECRET=…` in the assignment shapes of
/// config and code, bearer and basic credentials in headers and command lines,
/// setters (`System.setProperty`), XML settings, and values that start on the
/// line after their key (Kubernetes `- name:`/`value:`, `<password>` elements,
/// YAML block scalars), which need not hold an anchor of their own.
fn generic(t: &str, r: &Region, opts: &Options, found: &mut Vec<Candidate>) {
    let line = &t[r.start..r.end];
    headers_and_flags(line, r, opts, found);
    if !r.has(Kind::Keyword) {
        return;
    }
    if let Some((name, next_start, next)) = value_on_next_line(t, r, line) {
        assignments(next, next_start, Some(&name), opts, found);
        let trimmed = next.trim().trim_matches(['"', '\'', ',', ';', ')']);
        // A property list's value: `<string>…</string>` on the line after its `<key>`.
        let trimmed = trimmed
            .strip_prefix("<string>")
            .and_then(|v| v.strip_suffix("</string>"))
            .unwrap_or(trimmed);
        if !trimmed.is_empty() && !trimmed.starts_with('<') && generic_value_ok(trimmed, true, opts)
        {
            let start = next_start + (trimmed.as_ptr() as usize - next.as_ptr() as usize);
            found.push(Candidate {
                rule: Rule::GenericSecret,
                start,
                end: start + trimmed.len(),
                secret: trimmed.to_string(),
                key: Some(name),
                confidence: None,
                sample: None,
            });
        }
        return;
    }
    assignments(line, r.start, None, opts, found);
    named_literals(line, r.start, opts, found);
}

/// Credentials in HTTP headers (`Authorization: Bearer …`, `Basic …`) and on
/// command lines (`curl -u user:…`, `--password …`, PowerShell's
/// `ConvertTo-SecureString "…" -AsPlainText`).
fn headers_and_flags(line: &str, r: &Region, opts: &Options, found: &mut Vec<Candidate>) {
    if r.has(Kind::Bearer) {
        for c in BEARER.captures_iter(line) {
            let m = c.get(1).unwrap();
            if generic_value_ok(m.as_str(), false, opts) {
                found.push(generic_candidate(r.start, m, "Authorization: Bearer"));
            }
        }
        for c in BASIC.captures_iter(line) {
            let m = c.get(1).unwrap();
            let decoded = base64url_decode(m.as_str()).and_then(|b| String::from_utf8(b).ok());
            if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':'))
                && credential_ok(user, password)
            {
                found.push(basic_candidate(r.start, m));
            }
        }
    }
    if r.has(Kind::Flag) {
        for c in USER_FLAG.captures_iter(line) {
            let (user, password) = (c.get(1).unwrap(), c.get(2).unwrap());
            if credential_ok(user.as_str(), password.as_str()) {
                found.push(basic_candidate(r.start, password));
            }
        }
        for c in SECRET_FLAG.captures_iter(line) {
            let flag = c.get(1).unwrap().as_str();
            let Some(m) = c.get(2).or(c.get(3)).or(c.get(4)) else {
                continue;
            };
            if generic_value_ok(m.as_str(), true, opts) {
                found.push(generic_candidate(r.start, m, flag));
            }
        }
        for c in PLAIN_SECURE_STRING.captures_iter(line) {
            if let Some(m) = c.get(2).or(c.get(3))
                && generic_value_ok(m.as_str(), true, opts)
            {
                found.push(generic_candidate(r.start, m, &c[1]));
            }
        }
    }
}

/// A secret-named key and a literal in the shapes of code and config other
/// than an assignment: setters, constants without an operator, `.netrc`,
/// credentials passed to HTTP clients, XML settings. `base` is where `line`
/// starts in the scanned text.
fn named_literals(line: &str, base: usize, opts: &Options, found: &mut Vec<Candidate>) {
    for c in SETTER
        .captures_iter(line)
        .chain(captures_near(&SUBSCRIPT, line, line.contains(']')))
    {
        let key = c.get(1).unwrap().as_str();
        if let Some(m) = c.get(2).or(c.get(3))
            && is_secret_key(key)
            && generic_value_ok(m.as_str(), true, opts)
        {
            found.push(generic_candidate(base, m, key));
        }
    }
    for c in DEFINED.captures_iter(line) {
        let key = (1..=4).find_map(|i| c.get(i)).unwrap().as_str();
        if let Some(m) = c.get(5).or(c.get(6))
            && is_secret_key(key)
            && generic_value_ok(m.as_str(), true, opts)
        {
            found.push(generic_candidate(base, m, key));
        }
    }
    for c in captures_near(&QUERY_PARAM, line, line.contains(['?', '&', ';'])) {
        let (key, m) = (&c[1], c.get(2).unwrap());
        // Percent-encoded spaces (`secure%20password`, `a+b`) make a phrase, not a key.
        let phrase = m.as_str().contains("%20") || m.as_str().contains('+');
        if is_secret_key(key) && !phrase && generic_value_ok(m.as_str(), false, opts) {
            found.push(generic_candidate(base, m, key));
        }
    }
    for c in captures_near(
        &CONFIG_SET,
        line,
        line.contains("config") || line.contains("user-secrets"),
    ) {
        let key = &c[1];
        // The setting's own name: the part after a registry URL's `:` or a path's `/`.
        let name = key.rsplit([':', '/']).next().unwrap_or(key);
        if let Some(m) = c.get(2).or(c.get(3)).or(c.get(4))
            && is_secret_key(name)
            && generic_value_ok(m.as_str(), c.get(4).is_none(), opts)
        {
            found.push(generic_candidate(base, m, name));
        }
    }
    for c in NETRC_PASSWORD.captures_iter(line) {
        let m = c.get(2).unwrap();
        if generic_value_ok(m.as_str(), false, opts) {
            found.push(generic_candidate(base, m, &c[1]));
        }
    }
    for c in BASIC_AUTH_CALL.captures_iter(line) {
        let (user, password) = (c.get(1).unwrap(), c.get(2).unwrap());
        if credential_ok(user.as_str(), password.as_str()) {
            found.push(basic_candidate(base, password));
        }
    }
    for c in XML_KEY_VALUE.captures_iter(line).chain(captures_near(
        &PLIST_PAIR,
        line,
        line.contains("<key>"),
    )) {
        let (key, m) = (&c[1], c.get(2).unwrap());
        if is_secret_key(key) && generic_value_ok(m.as_str(), true, opts) {
            found.push(generic_candidate(base, m, key));
        }
    }
    for c in XML_ELEMENT.captures_iter(line) {
        let (open, m, close) = (&c[1], c.get(2).unwrap(), &c[3]);
        if open == close && is_secret_key(open) && generic_value_ok(m.as_str(), true, opts) {
            found.push(generic_candidate(base, m, open));
        }
    }
}

/// The matches of `re` in `line`, searched only when the line holds a literal
/// every match contains (`present`): most lines the prefilter marks are plain
/// assignments, and even a search that finds nothing costs its setup.
fn captures_near<'h>(
    re: &'static Regex,
    line: &'h str,
    present: bool,
) -> impl Iterator<Item = regex::Captures<'h>> {
    present
        .then(|| re.captures_iter(line))
        .into_iter()
        .flatten()
}

/// When `line` names a secret whose value is on the next line, that key and line.
fn value_on_next_line<'t>(t: &'t str, r: &Region, line: &str) -> Option<(String, usize, &'t str)> {
    let name = if let Some(c) = K8S_NAME.captures(line) {
        c[1].to_string()
    } else {
        let c = NEXT_LINE_VALUE.captures(line)?;
        (1..=3).find_map(|i| c.get(i))?.as_str().to_string()
    };
    if !is_secret_key(&name) || r.end >= t.len() {
        return None;
    }
    let next_start = r.end + 1;
    let next_end = t[next_start..]
        .find('\n')
        .map_or(t.len(), |i| next_start + i);
    Some((
        name,
        next_start,
        t[next_start..next_end].trim_end_matches('\r'),
    ))
}

/// A user and password from a command line or a Basic header, minus defaults and
/// variables.
fn credential_ok(user: &str, password: &str) -> bool {
    !user.is_empty()
        && password.len() >= 6
        && password != user
        && !password.starts_with('$')
        && !is_placeholder(password)
        && !DEFAULT_PASSWORDS.contains(&password.to_ascii_lowercase().as_str())
}

fn basic_candidate(base: usize, m: regex::Match<'_>) -> Candidate {
    Candidate {
        rule: Rule::BasicAuth,
        start: base + m.start(),
        end: base + m.end(),
        secret: m.as_str().to_string(),
        key: None,
        confidence: None,
        sample: None,
    }
}

/// A value found by its key name: a generic secret, unless name and value
/// together say whose it is. An Azure storage account key is 64 random bytes
/// in base64 (88 characters ending in `==`) under an account- or storage-key
/// name, however the setting spells it (`storage_account_key`,
/// `<add key="StorageAccountKey" …>`, `--account-key`).
fn generic_candidate(base: usize, m: regex::Match<'_>, key: &str) -> Candidate {
    let norm = normalized_key(key);
    let azure_storage = (norm.contains("accountkey") || norm.contains("storagekey"))
        && m.as_str().len() == 88
        && m.as_str().ends_with("==")
        && m.as_str()[..86]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    Candidate {
        rule: if azure_storage {
            Rule::AzureStorageAccountKey
        } else {
            Rule::GenericSecret
        },
        start: base + m.start(),
        end: base + m.end(),
        secret: m.as_str().to_string(),
        key: Some(key.to_string()),
        confidence: None,
        sample: None,
    }
}

/// Secret-named keys assigned a literal on one line; `value` stands for
/// `previous_name` when the line follows a Kubernetes `name:`.
fn assignments(
    line: &str,
    base: usize,
    previous_name: Option<&str>,
    opts: &Options,
    found: &mut Vec<Candidate>,
) {
    for c in GENERIC_ASSIGN.captures_iter(line) {
        let mut key = &c[1];
        if key.eq_ignore_ascii_case("value")
            && let Some(name) = previous_name
        {
            key = name;
        }
        if !is_secret_key(key) {
            continue;
        }
        let (m, quoted) = match (c.get(2).or(c.get(3)).or(c.get(4)), c.get(5)) {
            (Some(q), _) => (q, true),
            (None, Some(b)) => (b, false),
            (None, None) => continue,
        };
        if generic_value_ok(m.as_str(), quoted, opts) {
            found.push(generic_candidate(base, m, key));
        }
    }
}

/// Where two candidates overlap, keeps the more specific detector (then the longer match).
fn resolve_overlaps(mut found: Vec<Candidate>) -> Vec<Candidate> {
    found.sort_by_key(|c| (c.start, c.rank(), usize::MAX - c.end));
    let mut kept: Vec<Candidate> = Vec::with_capacity(found.len());
    for c in found {
        // Kept candidates are ordered by start, so a clash is among the last few.
        let window = kept.len().saturating_sub(16);
        let clash = kept[window..]
            .iter()
            .rposition(|k| k.start < c.end && c.start < k.end)
            .map(|i| i + window);
        match clash {
            None => kept.push(c),
            Some(i) => {
                let k = &kept[i];
                let better = (c.rank(), usize::MAX - (c.end - c.start))
                    < (k.rank(), usize::MAX - (k.end - k.start));
                if better {
                    kept[i] = c;
                }
            }
        }
    }
    kept.sort_by_key(|c| c.start);
    kept
}

#[cfg(test)]
mod prepare_tests {
    use super::*;

    /// A detector added to this file but not to `DETECTORS` would be
    /// compiled on first use in every instance again.
    #[test]
    fn prepare_covers_every_detector() {
        let source = include_str!("detect.rs");
        let declared: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix("static "))
            .filter(|l| l.contains(": LazyLock<Regex>"))
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(declared.len(), DETECTORS.len(), "{declared:?}");
        let listed = source
            .split("const DETECTORS:")
            .nth(1)
            .and_then(|rest| rest.split("\n];").next())
            .unwrap();
        for name in declared {
            assert!(
                listed.contains(&format!("&{name},")),
                "{name} is not in DETECTORS"
            );
        }
        prepare();
        for detector in DETECTORS {
            assert!(LazyLock::get(detector).is_some());
        }
    }

    #[test]
    fn the_prepare_sample_holds_no_secret() {
        assert!(scan(PREPARE_SAMPLE, &Options::default()).is_empty());
    }
}
