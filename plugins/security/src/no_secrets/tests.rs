//! Detector cases (true positives and their look-alikes) and end-to-end runs over a
//! temp directory. Secrets are generated at run time so that this file itself does
//! not look like it leaks any (to this check, or to push protection).

use serde_json::json;

use super::detect::{Candidate, Options, is_secret_key, scan};
use super::rules::Rule;
use super::*;
use crate::testutil::{Sandbox, all_text, ctx, evidence, statuses};

const B62: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Deterministic pseudo-random text over an alphabet.
fn rnd(seed: u64, len: usize, alphabet: &str) -> String {
    let a: Vec<char> = alphabet.chars().collect();
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            a[((x >> 33) % a.len() as u64) as usize]
        })
        .collect()
}

fn b64url(bytes: &[u8]) -> String {
    let a = URLSAFE.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(a[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out.replace('_', "/").replace('/', "_")
}

/// A token in GitHub's (and npm's) format: 30 random base62 characters and their
/// CRC32 in six base62 digits.
fn gh(prefix: &str, seed: u64) -> String {
    let random = rnd(seed, 30, B62);
    format!(
        "{prefix}{random}{}",
        super::providers::base62_6(super::providers::crc32(random.as_bytes()))
    )
}

/// Standard, padded base64 (the alphabet HTTP Basic and Kubernetes use).
fn b64std(bytes: &[u8]) -> String {
    let a = B64.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                a[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

fn pem_body_lines(seed: u64) -> Vec<String> {
    (0..6).map(|i| rnd(seed + i, 64, B64)).collect()
}

fn pem(kind: &str, seed: u64) -> String {
    format!(
        "-----BEGIN {kind}-----\n{}\n-----END {kind}-----\n",
        pem_body_lines(seed).join("\n")
    )
}

fn jwt(header: &str, seed: u64) -> String {
    let payload = b64url(br#"{"sub":"svc-deploy","iat":1700000000}"#);
    format!(
        "{}.{}.{}",
        b64url(header.as_bytes()),
        payload,
        rnd(seed, 43, URLSAFE)
    )
}

fn rules(text: &str) -> Vec<&'static str> {
    scan(text, &Options::default())
        .iter()
        .map(|c| c.rule.id())
        .collect()
}

fn only(text: &str) -> Candidate {
    let found = scan(text, &Options::default());
    assert_eq!(
        found.len(),
        1,
        "expected one secret in {text:?}, got {found:?}"
    );
    found.into_iter().next().unwrap()
}

/// No secret in `text` (a published sample, reported as `pass`, is not one).
fn none(text: &str) {
    let found: Vec<_> = scan(text, &Options::default())
        .into_iter()
        .filter(|c| c.sample.is_none())
        .collect();
    assert!(
        found.is_empty(),
        "expected nothing in {text:?}, got {found:?}"
    );
}

// ---------- provider detectors: true positives ----------

#[test]
fn aws_access_key_ids() {
    for prefix in ["AKIA", "ASIA"] {
        let key = format!("{prefix}{}", rnd(1, 16, UPPER));
        let c = only(&format!("aws_access_key_id = {key}\n"));
        assert_eq!(
            (c.rule, c.secret.as_str()),
            (Rule::AwsAccessKeyId, key.as_str())
        );
    }
}

#[test]
fn aws_secret_access_keys_in_assignments() {
    let secret = rnd(2, 40, B64);
    for line in [
        format!("aws_secret_access_key = {secret}"),
        format!("AWS_SECRET_ACCESS_KEY=\"{secret}\""),
        format!("  \"SecretAccessKey\": \"{secret}\","),
        format!("aws_secret_key: '{secret}'"),
    ] {
        let c = only(&line);
        assert_eq!(
            (c.rule, c.secret.as_str()),
            (Rule::AwsSecretAccessKey, secret.as_str()),
            "{line}"
        );
    }
}

#[test]
fn gcp_service_account_json() {
    let body = pem_body_lines(3).join("\\n");
    let key = format!("-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n");
    let json = format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"acme-prod\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"{key}\",\n  \"client_email\": \"deploy@acme-prod.iam.gserviceaccount.com\"\n}}\n",
        rnd(4, 40, "0123456789abcdef")
    );
    // One finding, not one per detector that sees the embedded PEM block.
    let c = only(&json);
    assert_eq!(c.rule, Rule::GcpServiceAccount);
    assert_eq!(c.secret, key);
}

#[test]
fn gcp_api_keys() {
    let key = format!("AIza{}", rnd(5, 35, URLSAFE));
    let c = only(&format!("const mapsKey = \"{key}\";"));
    assert_eq!((c.rule, c.secret.as_str()), (Rule::GcpApiKey, key.as_str()));
}

#[test]
fn azure_storage_connection_strings_and_keys() {
    let key = format!("{}==", rnd(6, 86, B64));
    let conn = format!(
        "DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey={key};EndpointSuffix=core.windows.net"
    );
    let c = only(&conn);
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::AzureStorageAccountKey, key.as_str())
    );
    let c = only(&format!("AZURE_STORAGE_KEY: \"{key}\""));
    assert_eq!(c.rule, Rule::AzureStorageAccountKey);
    let sas = format!("{}=", rnd(7, 43, B64));
    let c = only(&format!(
        "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={sas}"
    ));
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::AzureSharedAccessKey, sas.as_str())
    );
}

#[test]
fn azure_client_secrets() {
    let modern = format!("{}8Q~{}", rnd(8, 3, B62), rnd(9, 34, B62));
    let c = only(&format!("clientSecret: {modern}"));
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::AzureClientSecret, modern.as_str())
    );
    let legacy = rnd(10, 32, B62);
    let c = only(&format!("AZURE_CLIENT_SECRET={legacy}"));
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::AzureClientSecret, legacy.as_str())
    );
}

#[test]
fn private_key_blocks_of_every_kind() {
    for kind in [
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "DSA PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
    ] {
        let c = only(&format!("# deploy key\n{}", pem(kind, 11)));
        assert_eq!(c.rule, Rule::PrivateKey, "{kind}");
        assert_eq!(c.secret, pem_body_lines(11).concat());
    }
}

#[test]
fn private_keys_with_armour_headers_and_escaped_newlines() {
    let legacy = format!(
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{}\n\n{}\n-----END RSA PRIVATE KEY-----\n",
        rnd(12, 32, "0123456789ABCDEF"),
        pem_body_lines(13).join("\n")
    );
    assert_eq!(rules(&legacy), ["private-key"]);
    let pgp = format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n{}\n={}\n-----END PGP PRIVATE KEY BLOCK-----\n",
        pem_body_lines(14).join("\n"),
        rnd(15, 4, B64)
    );
    assert_eq!(rules(&pgp), ["private-key"]);
    let yaml = format!(
        "tls_key: \"-----BEGIN EC PRIVATE KEY-----\\n{}\\n-----END EC PRIVATE KEY-----\\n\"\n",
        pem_body_lines(16).join("\\n")
    );
    assert_eq!(rules(&yaml), ["private-key"]);
}

#[test]
fn github_tokens() {
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
        let token = gh(prefix, 17);
        let c = only(&format!("GITHUB_TOKEN={token}"));
        assert_eq!(
            (c.rule, c.secret.as_str()),
            (Rule::GithubToken, token.as_str()),
            "{prefix}"
        );
    }
    let pat = format!("github_pat_{}_{}", rnd(18, 22, B62), rnd(19, 59, B62));
    let c = only(&format!("token: {pat}"));
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::GithubToken, pat.as_str())
    );
}

#[test]
fn gitlab_tokens() {
    let token = format!("glpat-{}", rnd(20, 20, URLSAFE));
    let c = only(&format!("export GITLAB_TOKEN=\"{token}\""));
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::GitlabToken, token.as_str())
    );
}

#[test]
fn slack_tokens_and_webhooks() {
    for kind in ["b", "a", "p", "r", "s"] {
        let token = format!(
            "xox{kind}-{}-{}-{}",
            rnd(21, 11, "0123456789"),
            rnd(22, 12, "0123456789"),
            rnd(23, 24, B62)
        );
        let c = only(&format!("slack: {token}"));
        assert_eq!(
            (c.rule, c.secret.as_str()),
            (Rule::SlackToken, token.as_str()),
            "{kind}"
        );
    }
    let hook = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        rnd(24, 8, UPPER),
        rnd(25, 10, UPPER),
        rnd(26, 24, B62)
    );
    let c = only(&format!("webhook_url = \"{hook}\""));
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::SlackWebhook, hook.as_str())
    );
}

#[test]
fn stripe_keys_live_restricted_and_test() {
    let body = rnd(27, 24, B62);
    let cases = [
        ("sk_live_", Rule::StripeLiveKey, Status::Fail),
        ("rk_live_", Rule::StripeRestrictedKey, Status::Fail),
        ("sk_test_", Rule::StripeTestKey, Status::Warn),
    ];
    for (prefix, rule, status) in cases {
        let key = format!("{prefix}{body}");
        let c = only(&format!("Stripe.api_key = '{key}'"));
        assert_eq!((c.rule, c.secret.as_str()), (rule, key.as_str()));
        assert_eq!(rule.status(), status);
    }
}

#[test]
fn jwts_with_an_alg_header() {
    let token = jwt(r#"{"alg":"HS256","typ":"JWT"}"#, 28);
    let c = only(&format!("Authorization: Bearer {token}"));
    assert_eq!((c.rule, c.secret.as_str()), (Rule::Jwt, token.as_str()));
    let rs = jwt(r#"{"typ":"JWT","alg":"RS256","kid":"k1"}"#, 29);
    assert_eq!(rules(&format!("id_token={rs}")), ["jwt"]);
}

#[test]
fn passwords_in_urls() {
    let pw = rnd(30, 14, B62);
    let c = only(&format!(
        "DATABASE_URL=postgres://app:{pw}@db.prod.internal:5432/app"
    ));
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::UrlPassword, pw.as_str())
    );
    assert_eq!(
        rules(&format!("amqp://svc:{pw}@mq.acme.io/")),
        ["url-password"]
    );
}

#[test]
fn generic_high_entropy_assignments() {
    let v = rnd(31, 24, B62);
    for line in [
        format!("password = \"{v}\""),
        format!("DB_PASSWORD={v}"),
        format!("  apiKey: '{v}'"),
        format!("\"client_secret\": \"{v}\","),
        format!("access_key => \"{v}\""),
        format!("secret := \"{v}\""),
        format!("api-key: {v}"),
        format!("auth_token: `{v}`"),
        format!("$dbPass = \"{v}\";"),
    ] {
        let c = only(&line);
        assert_eq!(
            (c.rule, c.secret.as_str()),
            (Rule::GenericSecret, v.as_str()),
            "{line}"
        );
        assert!(c.key.is_some());
    }
}

#[test]
fn generic_secrets_in_typed_declarations_and_literal_conversions() {
    let v = rnd(34, 32, B62);
    for line in [
        format!("static API_TOKEN: &str = \"{v}\";"),
        format!("const SIGNING_KEY: &'static str = \"{v}\";"),
        format!("const apiToken: string = \"{v}\";"),
        format!("val clientSecret: String = \"{v}\""),
        format!("var jwtSigningKey = []byte(\"{v}\")"),
        format!("const secret = Buffer.from('{v}');"),
        format!("SECRET_KEY = b\"{v}\""),
        format!("let password = String::from(\"{v}\");"),
        format!("datadog_app_key = \"{v}\""),
        format!("curl -H \"Authorization: Bearer {v}\" https://api.acme.io"),
        format!("      \"auth\": \"{v}\""),
    ] {
        let c = only(&line);
        assert_eq!(
            (c.rule, c.secret.as_str()),
            (Rule::GenericSecret, v.as_str()),
            "{line}"
        );
    }
}

#[test]
fn generic_secrets_from_punctuation_alphabets() {
    // django.core.management.utils.get_random_secret_key(): brackets, `$`, `%`.
    let django = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)";
    for seed in 0..200 {
        let v = rnd(1000 + seed, 50, django);
        for v in [v.clone(), format!("${}", &v[1..]), format!("%{}", &v[1..])] {
            let line = format!("SECRET_KEY = '{v}'");
            let found = scan(&line, &Options::default());
            assert_eq!(found.len(), 1, "{line}: {found:?}");
        }
    }
}

#[test]
fn generic_kubernetes_env_name_value_pairs() {
    let v = rnd(32, 28, B62);
    let yaml = format!(
        "env:\n  - name: DB_PASSWORD\n    value: \"{v}\"\n  - name: LOG_LEVEL\n    value: \"{}\"\n",
        rnd(33, 20, B62)
    );
    let c = only(&yaml);
    assert_eq!(
        (c.rule, c.key.as_deref()),
        (Rule::GenericSecret, Some("DB_PASSWORD"))
    );
}

#[test]
fn the_most_specific_detector_wins() {
    let token = gh("ghp_", 34);
    assert_eq!(rules(&format!("token = \"{token}\"")), ["github-token"]);
    let secret = rnd(35, 40, B64);
    assert_eq!(
        rules(&format!("aws_secret_access_key: \"{secret}\"")),
        ["aws-secret-access-key"]
    );
    let key = format!("sk_live_{}", rnd(36, 24, B62));
    assert_eq!(
        rules(&format!("STRIPE_SECRET_KEY={key}")),
        ["stripe-live-key"]
    );
}

#[test]
fn several_secrets_on_one_line_and_many_lines() {
    let a = format!("AKIA{}", rnd(37, 16, UPPER));
    let g = gh("ghp_", 38);
    let found = scan(&format!("x\n{a} {g}\n\n{g}\n"), &Options::default());
    let got: Vec<_> = found.iter().map(|c| c.rule).collect();
    assert_eq!(
        got,
        [Rule::AwsAccessKeyId, Rule::GithubToken, Rule::GithubToken]
    );
}

// ---------- look-alikes that must not match ----------

#[test]
fn aws_documentation_examples_and_near_misses() {
    none("aws_access_key_id = AKIAIOSFODNN7EXAMPLE");
    none("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    none("AKIAXXXXXXXXXXXXXXXX");
    // Part of a longer upper-case run, not a key id.
    none(&format!("XAKIA{}", rnd(39, 16, UPPER)));
    none(&format!("AKIA{}", rnd(40, 20, UPPER)));
    // Too short for a secret key, and a secret-key name with a placeholder.
    none("aws_secret_access_key = tooShort123");
    none("aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}");
}

#[test]
fn public_keys_certificates_and_mentions_of_pem_headers() {
    none(&pem("PUBLIC KEY", 41));
    none(&pem("CERTIFICATE", 42));
    none(&pem("RSA PUBLIC KEY", 43));
    none(
        "if line.starts_with(\"-----BEGIN RSA PRIVATE KEY-----\") {\n    parse_pkcs1(line)?;\n}\n",
    );
    none(
        "const HEADER = \"-----BEGIN PRIVATE KEY-----\";\nconst FOOTER = \"-----END PRIVATE KEY-----\";\n",
    );
    none("-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n");
    none(&format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        ["X"; 64].concat()
    ));
    // A service-account file whose key was stripped.
    none(
        "{\"type\": \"service_account\", \"private_key\": \"\", \"client_email\": \"a@b.iam.gserviceaccount.com\"}",
    );
}

#[test]
fn token_placeholders() {
    none(&format!("GITHUB_TOKEN=ghp_{}", "x".repeat(36)));
    none("GITHUB_TOKEN=ghp_1234567890abcdefghijklmnopqrstuvwxyz");
    none("SLACK_TOKEN=xoxb-your-token-here-123");
    none("xoxb-not-a-real-token-this-will-not-work");
    none("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX");
    none(&format!("GITLAB_TOKEN=glpat-{}", "x".repeat(20)));
    none(&format!("STRIPE_KEY=sk_live_{}", "X".repeat(24)));
    // Publishable keys are meant to be public.
    none(&format!(
        "STRIPE_PUBLISHABLE_KEY=pk_live_{}",
        rnd(44, 24, B62)
    ));
}

#[test]
fn jwt_look_alikes() {
    // The jwt.io sample everyone pastes into docs.
    none(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    );
    // A header without `alg`, a header that is not JSON, a truncated token.
    none(&jwt(r#"{"typ":"JWT"}"#, 45));
    none(&format!(
        "eyJ{}.eyJ{}.{}",
        rnd(46, 20, B62),
        rnd(47, 20, B62),
        rnd(48, 43, URLSAFE)
    ));
    none(&format!(
        "{}.{}.",
        b64url(br#"{"alg":"HS256"}"#),
        b64url(b"{}")
    ));
}

#[test]
fn generated_passwords_in_urls_to_local_and_documentation_hosts() {
    let pw = rnd(60, 18, B62);
    for host in [
        "localhost:5433",
        "127.0.0.1",
        "db.internal.acme.example",
        "x.example.com",
    ] {
        assert_eq!(
            rules(&format!("DATABASE_URL=postgres://app:{pw}@{host}/app")),
            ["url-password"],
            "{host}"
        );
    }
    // Shorter than a generated secret, or a word: a local default.
    none(&format!(
        "postgres://app:{}@localhost/app",
        rnd(61, 12, B62)
    ));
    none("redis://default:devpassword2024@localhost:6379");
}

#[test]
fn values_a_provider_detector_rejected_are_not_generic_secrets() {
    let good = gh("ghp_", 62);
    assert_eq!(rules(&format!("token: {good}")), ["github-token"]);
    // The checksum does not hold, or the token is too short: a made-up example.
    let mut bad = good.clone();
    bad.replace_range(10..11, if &good[10..11] == "A" { "B" } else { "A" });
    for line in [
        format!("token: {bad}"),
        format!("GITHUB_TOKEN={}", &good[..30]),
        format!("NPM_TOKEN=npm_{}", rnd(63, 36, B62)),
        format!("HF_TOKEN=hf_{}", rnd(64, 34, "abcdef0123456789")),
    ] {
        none(&line);
    }
    // Without a provider's prefix, the same randomness is a secret of unknown kind.
    assert_eq!(
        rules(&format!("token: ghx_{}", rnd(65, 36, B62))),
        ["generic-secret"]
    );
    // A JWT header and payload without a signature: encoded JSON, not a token.
    let unsigned = format!(
        "{}.{}",
        b64url(br#"{"alg":"none"}"#),
        b64url(br#"{"sub":"svc"}"#)
    );
    none(&format!("token: {unsigned}"));
}

#[test]
fn keys_that_name_a_digest_or_a_configuration_are_not_secret_names() {
    let hex = rnd(66, 64, "0123456789abcdef");
    none(&format!("token_sha256: {hex}"));
    none(&format!(
        "password_md5 = \"{}\"",
        rnd(67, 32, "0123456789abcdef")
    ));
    none(&format!(
        "cert_thumbprint: {}",
        rnd(68, 40, "0123456789ABCDEF")
    ));
    none(&format!(
        "token-config: {}",
        b64std(b"info replicas false debug info replicas")
    ));
    assert_eq!(
        rules(&format!("token: {}", rnd(69, 32, B62))),
        ["generic-secret"]
    );
}

#[test]
fn url_look_alikes() {
    none("postgres://postgres:postgres@localhost:5432/app");
    none("redis://default:s3cretpassw0rd@127.0.0.1:6379");
    none("postgres://app:${DB_PASSWORD}@db.prod.internal/app");
    none("https://user:password@db.acme.io/");
    none("mysql://root:Xk9aQ2mN4pL7@db.example.com/app");
    none("git+ssh://git@github.com/acme/app.git");
    // Shapes from URL-parser test suites: not userinfo characters, or not a host.
    none("http://&a:foo(b]c@d:2/");
    none("https://user:pass[\u{7f}@foo/bar");
    none("http://Aladdin:opensesame@y.ep");
}

#[test]
fn generic_placeholders_references_and_non_secrets() {
    for line in [
        "password = \"changeme\"",
        "password = \"changeme-in-production-1234\"",
        "DB_PASSWORD=${DB_PASSWORD}",
        "api_key: <your-api-key-goes-here>",
        "api_key: \"{{ .Values.apiKey }}\"",
        "token: xxxxxxxxxxxxxxxxxxxxxxxx",
        "secret = \"aaaaaaaaaaaaaaaaaaaaaaaa\"",
        "SECRET_KEY=EXAMPLEa1b2c3d4e5f6g7h8i9",
        "client_secret: 123e4567-e89b-12d3-a456-426614174000",
        "password: hunter2",
        "password = \"correct horse battery staple\"",
        "password = os.environ[\"DB_PASSWORD\"]",
        "token = settings.GITHUB_TOKEN",
        "password: \"mysecretpassword\"",
        "secret_name: prod-db-credentials-v12",
        "password_file: /run/secrets/db_password",
        "token_url: https://auth.acme.io/oauth2/token",
        "secretKeyRef: db-credentials-2024",
        "\"tokenizer\": \"bert-base-uncased-v2\"",
        "password = get_password_from_vault(\"db\")",
        "api_key = DB_API_KEY_FROM_THE_VAULT",
        "token: my_super_secret_token_2",
        "password: %(db_password)s",
        "pub type TokenStream = proc_macro2::TokenStream;",
        "password: \"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\"",
        "password = \"$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$Kx0q9L4XdGk2vJ8Yt1pR\"",
        "$env:DB_PASSWORD = \"$env:VAULT_DB_PASSWORD_VALUE\"",
        "set API_TOKEN=%DEPLOY_API_TOKEN_VALUE%",
        "password = \"$(cat /run/secrets/db_password)\"",
        "curl -H \"Authorization: Bearer ${GITHUB_TOKEN}\" https://api.github.com",
        "curl -H \"Authorization: Bearer someAccessTokenValue\"",
        "-H 'Authorization: Bearer YOUR_ACCESS_TOKEN_HERE'",
        "let token: String = get_token_from_vault(region);",
        "const apiKey: string = process.env.API_KEY;",
        "password = os.environ.get(\"DB_PASSWORD\", \"\")",
        "app_key_id = \"AppKeyId-Prod-Eu-West\"",
        "b\"HTTP/1.1 200 OK\\r\\nAccess-Control-Allow-Credentials: hell\\x01o\\r\\nBread: baguette\\r\\n\";",
    ] {
        none(line);
    }
}

#[test]
fn lockfiles_and_data_uris() {
    let cargo_lock = format!(
        "[[package]]\nname = \"secret-service\"\nversion = \"3.0.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n",
        rnd(49, 64, "0123456789abcdef")
    );
    none(&cargo_lock);
    let package_lock = format!(
        "\"node_modules/js-tokens\": {{\n  \"version\": \"4.0.0\",\n  \"resolved\": \"https://registry.npmjs.org/js-tokens/-/js-tokens-4.0.0.tgz\",\n  \"integrity\": \"sha512-{}==\"\n}},\n",
        rnd(50, 86, B64)
    );
    none(&package_lock);
    // A key-shaped run inside a base64 image must not match.
    let png = format!(
        "<img src=\"data:image/png;base64,iVBORw0KGgo{}AIza{}{}\">",
        rnd(51, 200, B64),
        rnd(52, 35, B62),
        rnd(53, 200, B64)
    );
    none(&png);
    let css = format!(
        "src: url(data:font/woff2;base64,{}{}{});",
        rnd(54, 100, B64),
        gh("ghp_", 55),
        rnd(56, 100, B64)
    );
    none(&css);
    // An SRI hash whose base64 happens to contain a key id shape.
    none(&format!(
        "integrity=\"sha384-{}AKIA{}\"",
        rnd(57, 20, B64),
        rnd(58, 16, UPPER)
    ));
}

#[test]
fn azure_emulator_key_is_a_known_sample() {
    none(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
    );
}

#[test]
fn min_entropy_is_tunable() {
    let line = "password = \"Summer2024Summer2024\"";
    assert!(scan(line, &Options { min_entropy: 2.5 }).len() == 1);
    assert!(scan(line, &Options { min_entropy: 4.5 }).is_empty());
}

#[test]
fn secret_key_names() {
    for k in [
        "password",
        "DB_PASSWORD",
        "dbPass",
        "clientSecret",
        "api-key",
        "APIKEY",
        "access_key",
        "auth_token",
        "x.secret",
        "encryption_key",
        "datadog_app_key",
        "auth",
    ] {
        assert!(is_secret_key(k), "{k}");
    }
    for k in [
        "secret_name",
        "token_url",
        "password_file",
        "username",
        "key",
        "tokenType",
        "api_key_id",
        "passwordHash",
        "oauth",
        "auth_type",
        "authDomain",
    ] {
        assert!(!is_secret_key(k), "{k}");
    }
}

// ---------- the check, end to end ----------

fn run_in(sb: &Sandbox, params: serde_json::Value) -> Vec<Finding> {
    run(&ctx(ID), &params, &sb.grants())
}

/// One sample of every detector, one per line.
fn every_kind() -> Vec<(Rule, String, String)> {
    let gh = gh("ghp_", 60);
    let aws = format!("AKIA{}", rnd(61, 16, UPPER));
    let aws_secret = rnd(62, 40, B64);
    let gcp = format!("AIza{}", rnd(63, 35, URLSAFE));
    let az = format!("{}==", rnd(64, 86, B64));
    let sas = format!("{}=", rnd(65, 43, B64));
    let azc = format!("{}7Q~{}", rnd(66, 3, B62), rnd(67, 34, B62));
    let gl = format!("glpat-{}", rnd(68, 20, URLSAFE));
    let sl = format!("xoxb-{}-{}", rnd(69, 12, "0123456789"), rnd(70, 24, B62));
    let hook = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        rnd(71, 8, UPPER),
        rnd(72, 10, UPPER),
        rnd(73, 24, B62)
    );
    let sk = format!("sk_live_{}", rnd(74, 24, B62));
    let rk = format!("rk_live_{}", rnd(75, 24, B62));
    let skt = format!("sk_test_{}", rnd(76, 24, B62));
    let j = jwt(r#"{"alg":"HS256"}"#, 77);
    let pw = rnd(78, 14, B62);
    let generic = rnd(79, 24, B62);
    vec![
        (Rule::GithubToken, gh.clone(), format!("GITHUB_TOKEN={gh}")),
        (Rule::AwsAccessKeyId, aws.clone(), format!("key_id: {aws}")),
        (
            Rule::AwsSecretAccessKey,
            aws_secret.clone(),
            format!("aws_secret_access_key = {aws_secret}"),
        ),
        (Rule::GcpApiKey, gcp.clone(), format!("maps = \"{gcp}\"")),
        (
            Rule::AzureStorageAccountKey,
            az.clone(),
            format!("AccountName=a;AccountKey={az};"),
        ),
        (
            Rule::AzureSharedAccessKey,
            sas.clone(),
            format!("SharedAccessKeyName=x;SharedAccessKey={sas}"),
        ),
        (
            Rule::AzureClientSecret,
            azc.clone(),
            format!("secret: {azc}"),
        ),
        (Rule::GitlabToken, gl.clone(), format!("gl {gl}")),
        (Rule::SlackToken, sl.clone(), format!("slack {sl}")),
        (Rule::SlackWebhook, hook.clone(), format!("hook {hook}")),
        (Rule::StripeLiveKey, sk.clone(), format!("stripe {sk}")),
        (
            Rule::StripeRestrictedKey,
            rk.clone(),
            format!("stripe {rk}"),
        ),
        (Rule::StripeTestKey, skt.clone(), format!("stripe {skt}")),
        (Rule::Jwt, j.clone(), format!("bearer {j}")),
        (
            Rule::UrlPassword,
            pw.clone(),
            format!("url = \"https://svc:{pw}@api.acme.io/\""),
        ),
        (
            Rule::GenericSecret,
            generic.clone(),
            format!("api_key = \"{generic}\""),
        ),
        (
            Rule::PrivateKey,
            pem_body_lines(80).concat(),
            pem("OPENSSH PRIVATE KEY", 80),
        ),
    ]
}

#[test]
fn finds_every_kind_with_location_and_never_leaks_the_secret() {
    let sb = Sandbox::new();
    let kinds = every_kind();
    let text: String = kinds
        .iter()
        .map(|(_, _, line)| format!("{line}\n"))
        .collect();
    sb.write("repo/config/leaky.env", &text);
    let findings = run_in(&sb, json!({ "paths": ["repo"] }));
    let got: Vec<_> = findings
        .iter()
        .map(|f| f.rule.clone().unwrap_or_default())
        .collect();
    let want: Vec<_> = kinds.iter().map(|(r, _, _)| r.id().to_string()).collect();
    assert_eq!(got, want);
    for (f, (rule, secret, _)) in findings.iter().zip(&kinds) {
        assert_eq!(f.subject, "repo/config/leaky.env");
        assert_eq!(f.status, rule.status());
        assert_eq!(f.severity, Some(rule.severity()));
        assert!(f.message.contains(rule.title()), "{}", f.message);
        let loc = f.location.as_ref().unwrap();
        assert_eq!(loc.file, "repo/config/leaky.env");
        assert_eq!(
            evidence(f, "secret"),
            Some(gate_plugin_sdk::redact::redact(secret).as_str())
        );
        let text = all_text(f);
        assert!(
            !text.contains(secret.as_str()),
            "{} leaked in {text}",
            rule.id()
        );
        // Not even the part after a well-known prefix.
        let tail = &secret[secret.len().saturating_sub(12)..];
        assert!(
            !text.contains(tail),
            "{} leaked its tail in {text}",
            rule.id()
        );
    }
    let lines: Vec<_> = findings
        .iter()
        .map(|f| f.location.as_ref().unwrap().line.unwrap())
        .collect();
    assert_eq!(&lines[..3], [1, 2, 3]);
    assert_eq!(findings[0].location.as_ref().unwrap().column, Some(14));
}

#[test]
fn columns_count_characters_and_crlf_is_tolerated() {
    let sb = Sandbox::new();
    let token = gh("ghp_", 81);
    sb.write("a.txt", format!("first\r\n# clé: «{token}»\r\n"));
    let f = &run_in(&sb, json!({ "paths": ["a.txt"] }))[0];
    let loc = f.location.as_ref().unwrap();
    assert_eq!((loc.line, loc.column), (Some(2), Some(9)));
}

#[test]
fn clean_tree_reports_one_pass_with_counts() {
    let sb = Sandbox::new();
    sb.write("repo/src/main.rs", "fn main() { println!(\"hi\"); }\n");
    sb.write("repo/README.md", "password: see the vault\n");
    sb.write("repo/logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR ghp_0000");
    sb.write("repo/big.sql", "x".repeat(2000));
    sb.write("repo/Cargo.lock", "checksum = \"abc\"\n");
    sb.write("repo/.git/config", format!("token = {}", gh("ghp_", 82)));
    let findings = run_in(
        &sb,
        json!({ "paths": ["repo"], "max_file_bytes": 1000, "exclude": ["*.lock"] }),
    );
    assert_eq!(statuses(&findings), [Status::Pass]);
    let f = &findings[0];
    assert_eq!(f.subject, "repo");
    assert_eq!(evidence(f, "files_scanned"), Some("2"));
    assert_eq!(evidence(f, "files_skipped_binary"), Some("1"));
    assert_eq!(evidence(f, "files_skipped_large"), Some("1"));
    assert_eq!(evidence(f, "files_excluded"), Some("1"));
    assert_eq!(evidence(f, "skipped_large"), Some("repo/big.sql"));
}

#[test]
fn binary_files_hide_nothing_in_their_text_and_large_files_are_not_read() {
    let sb = Sandbox::new();
    let token = gh("ghp_", 83);
    let mut binary = vec![0u8; 16];
    binary.extend(token.as_bytes());
    sb.write("bin/blob", binary);
    sb.write("bin/huge.txt", format!("{token}\n{}", "y".repeat(5000)));
    let findings = run_in(&sb, json!({ "paths": ["bin"], "max_file_bytes": 4096 }));
    assert_eq!(statuses(&findings), [Status::Pass]);
    assert_eq!(evidence(&findings[0], "files_skipped_binary"), Some("1"));
    assert_eq!(evidence(&findings[0], "files_skipped_large"), Some("1"));
}

#[test]
fn a_nul_byte_after_the_first_8_kib_is_still_text() {
    let sb = Sandbox::new();
    let token = gh("ghp_", 84);
    let mut text = format!("{token}\n").into_bytes();
    text.extend(vec![b'a'; 9000]);
    text.push(0);
    sb.write("late-nul.txt", text);
    let findings = run_in(&sb, json!({ "paths": ["late-nul.txt"] }));
    assert_eq!(findings[0].rule.as_deref(), Some("github-token"));
}

#[test]
fn exclude_globs_are_relative_to_the_scanned_root() {
    let sb = Sandbox::new();
    let token = gh("ghp_", 85);
    sb.write("repo/src/testdata/fixture.env", format!("T={token}"));
    sb.write("repo/testdata/top.env", format!("T={token}"));
    sb.write("repo/pkg/yarn.lock", format!("T={token}"));
    sb.write("repo/docs/guide.md", format!("T={token}"));
    sb.write("repo/src/app.env", format!("T={token}"));
    let findings = run_in(
        &sb,
        json!({ "paths": ["repo"], "exclude": ["**/testdata/**", "*.lock", "repo/docs/**"] }),
    );
    let subjects: Vec<_> = findings.iter().map(|f| f.subject.as_str()).collect();
    assert_eq!(subjects, ["repo/src/app.env"]);
    // Pruned directories are not even listed, so their files are not counted.
    let findings = run_in(
        &sb,
        json!({ "paths": ["repo"], "exclude": ["**/testdata/**", "*.lock", "repo/docs/**", "src/app.env"] }),
    );
    assert_eq!(statuses(&findings), [Status::Pass]);
    assert_eq!(evidence(&findings[0], "files_excluded"), Some("2"));
}

#[test]
fn allow_patterns_match_the_line_or_the_secret() {
    let sb = Sandbox::new();
    let a = gh("ghp_", 86);
    let b = gh("ghp_", 87);
    let c = gh("ghp_", 88);
    sb.write("x.env", format!("A={a} # fixture-token\nB={b}\nC={c}\n"));
    let allow_b = regex::escape(&b[..12]);
    let findings = run_in(
        &sb,
        json!({ "paths": ["x.env"], "allow": ["fixture-token", allow_b] }),
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].location.as_ref().unwrap().line, Some(3));
}

#[test]
fn several_roots_each_get_a_verdict() {
    let sb = Sandbox::new();
    sb.write("clean/a.txt", "nothing here");
    sb.write("dirty/b.txt", format!("k: AKIA{}", rnd(89, 16, UPPER)));
    let findings = run_in(&sb, json!({ "paths": ["clean", "dirty", "./clean/a.txt"] }));
    let got: Vec<_> = findings
        .iter()
        .map(|f| (f.subject.as_str(), f.status))
        .collect();
    assert_eq!(
        got,
        [
            ("clean", Status::Pass),
            ("dirty/b.txt", Status::Fail),
            ("./clean/a.txt", Status::Pass)
        ]
    );
}

#[test]
fn missing_and_ungranted_paths_are_errors_naming_the_cause() {
    let sb = Sandbox::new();
    sb.write("granted/a.txt", "ok");
    sb.write("other/b.txt", "ok");
    let findings = run(
        &ctx(ID),
        &json!({ "paths": ["granted/nope", "other"] }),
        &sb.grants_only("granted"),
    );
    assert_eq!(statuses(&findings), [Status::Error, Status::Error]);
    assert_eq!(findings[0].subject, "granted/nope");
    assert!(
        findings[0].message.contains("No such file"),
        "{}",
        findings[0].message
    );
    assert_eq!(findings[1].subject, "other");
    assert!(
        findings[1].message.contains("fs grant"),
        "{}",
        findings[1].message
    );
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_an_error_not_a_pass() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.write("repo/ok.txt", "fine");
    sb.write("repo/locked.txt", "hidden");
    let locked = sb.path("repo/locked.txt");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&locked).is_ok() {
        return; // running as root: permissions are not enforced
    }
    let findings = run_in(&sb, json!({ "paths": ["repo"] }));
    assert_eq!(statuses(&findings), [Status::Error]);
    assert_eq!(findings[0].subject, "repo/locked.txt");
}

#[test]
fn bad_params_are_error_findings() {
    let sb = Sandbox::new();
    for (params, needle) in [
        (json!({}), "missing field `paths`"),
        (json!({ "paths": [] }), "at least one"),
        (
            json!({ "paths": ["."], "exclude": ["a/**b["] }),
            "`exclude` glob",
        ),
        (json!({ "paths": ["."], "allow": ["("] }), "`allow` regex"),
        (json!({ "paths": ["."], "min_entropy": 0 }), "min_entropy"),
        (
            json!({ "paths": ["."], "path": ["x"] }),
            "unknown field `path`",
        ),
    ] {
        let findings = run_in(&sb, params.clone());
        assert_eq!(statuses(&findings), [Status::Error], "{params}");
        assert_eq!(findings[0].subject, "params");
        assert!(
            findings[0].message.contains(needle),
            "{params}: {}",
            findings[0].message
        );
    }
}

#[test]
fn findings_are_capped_without_changing_the_verdict() {
    let sb = Sandbox::new();
    let text: String = (0..600)
        .map(|i| format!("AKIA{}\n", rnd(1000 + i, 16, UPPER)))
        .collect();
    sb.write("many.txt", text);
    let findings = run_in(&sb, json!({ "paths": ["many.txt"] }));
    assert_eq!(findings.len(), crate::MAX_FINDINGS);
    let last = findings.last().unwrap();
    assert_eq!(last.status, Status::Fail);
    assert_eq!(evidence(last, "omitted"), Some("101"));
}

#[test]
fn info_lists_the_contracted_params() {
    let info = NoSecrets.info();
    assert_eq!(info.id, "security.no-secrets");
    let names: Vec<_> = info.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "paths",
            "exclude",
            "allow",
            "max_file_bytes",
            "min_entropy",
            "deny",
            "baseline",
            "include_vendored"
        ]
    );
    assert!(info.params[0].required);
    assert_eq!(info.params[3].default.as_deref(), Some("1048576"));
}

// ---------- provider families identified by format alone ----------

const HEXL: &str = "0123456789abcdef";
const DIGITS: &str = "0123456789";
const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// One token per family, with no key name around it (the format is the evidence).
fn family_tokens() -> Vec<(Rule, String)> {
    vec![
        (
            Rule::OpenaiApiKey,
            format!("sk-proj-{}", rnd(101, 120, URLSAFE)),
        ),
        (
            Rule::OpenaiApiKey,
            format!("sk-{}T3BlbkFJ{}", rnd(102, 20, B62), rnd(103, 20, B62)),
        ),
        (
            Rule::AnthropicApiKey,
            format!("sk-ant-api03-{}AA", rnd(104, 93, URLSAFE)),
        ),
        (
            Rule::NotionToken,
            format!("ntn_{}{}", rnd(105, 11, DIGITS), rnd(106, 35, B62)),
        ),
        (
            Rule::SourcegraphToken,
            format!("sgp_{}_{}", rnd(107, 16, HEXL), rnd(108, 40, HEXL)),
        ),
        (
            Rule::SourcegraphToken,
            format!("sgp_{}", rnd(109, 40, HEXL)),
        ),
        (
            Rule::HuggingfaceToken,
            format!("hf_{}", rnd(110, 34, LETTERS)),
        ),
        (
            Rule::HuggingfaceToken,
            format!("api_org_{}", rnd(111, 34, LETTERS)),
        ),
        (Rule::VaultToken, format!("hvs.{}", rnd(112, 91, URLSAFE))),
        (Rule::VaultToken, format!("hvb.{}", rnd(113, 134, URLSAFE))),
        (Rule::NpmToken, gh("npm_", 114)),
        (
            Rule::PypiToken,
            format!("pypi-AgEIcHlwaS5vcmc{}", rnd(115, 140, URLSAFE)),
        ),
        (Rule::GithubToken, gh("ghp_", 116)),
        (
            Rule::GithubToken,
            format!("github_pat_11{}_{}", rnd(117, 20, B62), rnd(118, 59, B62)),
        ),
        (
            Rule::SlackWebhook,
            format!(
                "hooks.slack.com/services/T{}/B{}/{}",
                rnd(119, 10, UPPER),
                rnd(120, 10, UPPER),
                rnd(121, 24, B62)
            ),
        ),
        (
            Rule::SendgridApiKey,
            format!("SG.{}.{}", rnd(122, 22, URLSAFE), rnd(123, 43, URLSAFE)),
        ),
        (Rule::TwilioApiKey, format!("SK{}", rnd(124, 32, HEXL))),
        (Rule::MailgunApiKey, format!("key-{}", rnd(125, 32, HEXL))),
        (Rule::ShopifyToken, format!("shpat_{}", rnd(126, 32, HEXL))),
        (
            Rule::DigitaloceanToken,
            format!("dop_v1_{}", rnd(127, 64, HEXL)),
        ),
        (
            Rule::DopplerToken,
            format!("dp.st.prd.{}", rnd(128, 43, B62)),
        ),
        (Rule::LinearApiKey, format!("lin_api_{}", rnd(129, 40, B62))),
        (
            Rule::AtlassianApiToken,
            format!("ATATT3{}", rnd(130, 186, URLSAFE)),
        ),
        (Rule::GitlabToken, format!("glrt-{}", rnd(131, 20, B62))),
        (Rule::GitlabToken, format!("GR1348941{}", rnd(132, 20, B62))),
        (Rule::DatabricksToken, format!("dapi{}", rnd(133, 32, HEXL))),
        (
            Rule::StripeWebhookSecret,
            format!("whsec_{}", rnd(134, 32, B62)),
        ),
        (
            Rule::PostmanApiKey,
            format!("PMAK-{}-{}", rnd(135, 24, HEXL), rnd(136, 34, HEXL)),
        ),
        (
            Rule::GrafanaToken,
            format!("glsa_{}_{}", rnd(137, 32, B62), rnd(138, 8, HEXL)),
        ),
        (
            Rule::NewrelicApiKey,
            format!("NRAK-{}", rnd(139, 27, UPPER)),
        ),
        (Rule::PulumiToken, format!("pul-{}", rnd(140, 40, HEXL))),
        (
            Rule::TerraformToken,
            format!("{}.atlasv1.{}", rnd(141, 14, B62), rnd(142, 70, B62)),
        ),
        (
            Rule::DiscordWebhook,
            format!(
                "https://discord.com/api/webhooks/{}/{}",
                rnd(143, 18, DIGITS),
                rnd(144, 68, URLSAFE)
            ),
        ),
    ]
}

#[test]
fn provider_families_are_found_by_format_alone() {
    for (rule, token) in family_tokens() {
        for text in [
            format!("{token}\n"),
            format!("const CLIENT = new Client(\"{token}\");\n"),
            format!("  - run: deploy --with {token} --yes\n"),
        ] {
            let c = only(&text);
            assert_eq!(
                (c.rule, c.secret.as_str()),
                (rule, token.as_str()),
                "{text}"
            );
        }
    }
}

#[test]
fn every_provider_rule_has_a_case() {
    let covered: std::collections::HashSet<Rule> =
        family_tokens().into_iter().map(|(r, _)| r).collect();
    for p in super::providers::PROVIDERS {
        assert!(
            covered.contains(&p.rule) || matches!(p.rule, Rule::SlackToken | Rule::StripeLiveKey),
            "no case for {}",
            p.rule.id()
        );
    }
}

#[test]
fn checksummed_tokens_say_so_and_a_wrong_checksum_is_not_the_provider() {
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"] {
        let good = gh(prefix, 150);
        let c = only(&format!("x {good}\n"));
        assert_eq!(
            c.confidence,
            Some(super::providers::Confidence::Checksum),
            "{prefix}"
        );
        // One checksum character changed: right shape, wrong token.
        let mut bad = good.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        none(&format!("x {bad}\n"));
        // Nor a generic secret under a secret-named key: the prefix claims a
        // format the checksum refutes, so it is a made-up example.
        none(&format!("API_TOKEN = \"{bad}\"\n"));
    }
    // The checksum of a known string: CRC-32 of "123456789" is 0xCBF43926.
    assert_eq!(super::providers::crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(super::providers::base62_6(0), "000000");
    assert_eq!(super::providers::base62_6(61), "00000z");
}

#[test]
fn provider_near_misses_are_not_reported() {
    for text in [
        // Placeholders in the provider's shape.
        format!("OPENAI_API_KEY=sk-proj-{}", "x".repeat(60)),
        "ANTHROPIC_API_KEY=sk-ant-api03-your-key-here".to_string(),
        format!("hf_{}", "abcdefghijklmnopqrstuvwxyzabcdefgh"),
        format!("NOTION=ntn_{}", "0".repeat(46)),
        format!("vault: hvs.{}", "EXAMPLE".repeat(14)),
        // Too short, wrong alphabet, one case only.
        "sgp_1234".to_string(),
        format!("hf_{}", rnd(160, 34, "abcdefghijklmnopqrstuvwxyz")),
        format!("SK{}", "0".repeat(32)),
        format!("key-{}", "a".repeat(32)),
        format!("dapi{}", "1234567890abcdef".repeat(2)),
        // Identifiers that start like a prefix.
        "let hf_config = load_hf_config();".to_string(),
        "fn npm_install_with_retries() {}".to_string(),
        "let sk_live_mode = true;".to_string(),
    ] {
        none(&text);
    }
}

#[test]
fn long_lines_are_scanned_in_windows_around_their_hits() {
    // A minified bundle: one 200 kB line, with a token deep inside.
    let token = gh("ghp_", 170);
    let filler = "var a=1;".repeat(25_000);
    let text = format!("{filler}{{t:\"{token}\"}}{filler}");
    let c = only(&text);
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::GithubToken, token.as_str())
    );
    assert_eq!(&text[c.start..c.end], token);
}

#[test]
fn prefilter_regions_cover_hits_and_skip_clean_lines() {
    let text = "fn main() {}\nlet token = x;\nplain\n";
    let (regions, _) = super::prefilter::regions(text);
    assert_eq!(regions.len(), 1);
    assert_eq!(&text[regions[0].start..regions[0].end], "let token = x;");
    assert!(regions[0].has(super::prefilter::Kind::Keyword));
    assert!(
        super::prefilter::regions("nothing here\nat all\n")
            .0
            .is_empty()
    );
}

#[test]
fn type_annotations_constants_and_identifiers_are_never_secrets() {
    for text in [
        "    credential: &NSURLCredential,",
        "pub const SSL_PRIVATE_KEY_BITS: X509_KEY_USAGE_DIGITAL_SIGNATURE = 4096;",
        "    pub password: String,",
        "    secret: Option<&'static str>,",
        "let token = getToken();",
        "    private_key: &SecKeyRef,",
        "authToken: AuthenticationTokenProvider",
        "SECRET_MANAGER_CLIENT = SecretManagerServiceClient",
        "type ApiKey = HeaderValue;",
        // Shapes from a real-tree audit (docs/checks/security.no-secrets.md).
        "    pub credentials: MI_UserCredentials_0,",
        "    pub OpenPrivateKey: SslOpenPrivateKeyFn,",
        "    ResourceReturnTypeToken: D3D10_SB_RESOURCE_RETURN_TYPE,",
        "pub const SPTOKENKEY_RETAINEDAUDIO: &'static str = \"SecondsPerRetainedAudioEvent\";",
        "        RsaPrivateKey::from_der(pkcs8_key.private_key)?.try_into()",
        "            let secret = caps.name(SECRET_GROUP)?;",
        "        dot2_token: (node.dot2_token).map(|it| Token![..](tokens_helper(f, &it.spans))),",
    ] {
        none(text);
    }
    // A literal of the same length next to them still is.
    assert_eq!(
        rules(&format!("    secret: {},", rnd(190, 24, B62))),
        ["generic-secret"]
    );
}

// ---------- structure-aware extraction ----------

#[test]
fn assignment_shapes_of_many_languages_and_formats() {
    let v = rnd(200, 28, B62);
    for text in [
        format!("var apiSecret string = \"{v}\""),
        format!("DB_PASSWORD ?= {v}"),
        format!("DB_PASSWORD ::= {v}"),
        format!("DB_PASSWORD :::= {v}"),
        format!("$password .= '{v}';"),
        format!("System.setProperty(\"db.password\", \"{v}\");"),
        format!("os.Setenv(\"API_TOKEN\", \"{v}\")"),
        format!("os.environ[\"API_TOKEN\"] = \"{v}\""),
        format!("    <add key=\"Password\" value=\"{v}\" />"),
        format!("<setting name=\"ApiKey\" value=\"{v}\"/>"),
        format!("<password>{v}</password>"),
        format!("  \"settings\": \"{{\\\"password\\\": \\\"{v}\\\"}}\","),
        format!("<password>\n    {v}\n</password>"),
        format!("client_secret: |\n  {v}\n"),
        format!("API_TOKEN = \\\n    \"{v}\""),
    ] {
        let c = only(&text);
        assert_eq!(
            (c.rule, c.secret.as_str()),
            (Rule::GenericSecret, v.as_str()),
            "{text}"
        );
        assert_eq!(&text[c.start..c.end], v, "{text}");
    }
}

#[test]
fn credentials_on_command_lines_and_in_headers() {
    let pw = rnd(201, 18, B62);
    let c = only(&format!("curl -u deploy:{pw} https://api.internal/v1"));
    assert_eq!((c.rule, c.secret.as_str()), (Rule::BasicAuth, pw.as_str()));
    let c = only(&format!(
        "curl --user 'deploy:{pw}' https://api.internal/v1"
    ));
    assert_eq!((c.rule, c.secret.as_str()), (Rule::BasicAuth, pw.as_str()));
    let basic = b64std(format!("deploy:{pw}").as_bytes());
    let c = only(&format!(
        "curl -H \"Authorization: Basic {basic}\" https://api.internal"
    ));
    assert_eq!(
        (c.rule, c.secret.as_str()),
        (Rule::BasicAuth, basic.as_str())
    );
    let v = rnd(202, 24, B62);
    for flag in ["--password", "--token", "--api-key"] {
        let text = format!("./deploy {flag} {v} --env prod");
        let c = only(&text);
        assert_eq!(
            (c.rule, c.secret.as_str()),
            (Rule::GenericSecret, v.as_str()),
            "{text}"
        );
        assert_eq!(c.key.as_deref(), Some(flag));
        let text = format!("./deploy {flag}={v}");
        assert_eq!(only(&text).secret, v, "{text}");
    }
    let hf = format!("hf_{}", rnd(203, 34, LETTERS));
    assert_eq!(
        rules(&format!("huggingface-cli login --token {hf}")),
        ["huggingface-token"]
    );
    // Variables, defaults and placeholders are not credentials.
    for text in [
        "curl -u admin:admin https://x.internal",
        "curl -u \"$USER:$PASSWORD\" https://x.internal",
        "curl -u deploy:changeme https://x.internal",
        "./deploy --password \"$DEPLOY_PASSWORD\"",
        "./deploy --token ${{ secrets.TOKEN }}",
        "mysql -u root -p",
    ] {
        none(text);
    }
}

#[test]
fn next_line_values_need_a_secret_named_key() {
    let v = rnd(204, 28, B62);
    none(&format!("<description>\n    {v}\n</description>"));
    none(&format!("checksum: |\n  {v}\n"));
    none("password:\n  - name: x\n");
}

#[test]
fn kubernetes_secret_data_is_decoded_before_scanning() {
    let pw = rnd(210, 24, B62);
    let token = gh("ghp_", 211);
    let manifest = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n  DB_PASSWORD: {}\n  ci: {}\n  region: {}\n",
        b64std(pw.as_bytes()),
        b64std(token.as_bytes()),
        b64std(b"eu-west-1-region-name"),
    );
    let found = scan(&manifest, &Options::default());
    let got: Vec<(Rule, &str)> = found
        .iter()
        .map(|c| (c.rule, &manifest[c.start..c.end]))
        .collect();
    assert_eq!(
        got,
        [
            (Rule::GenericSecret, b64std(pw.as_bytes()).as_str()),
            (Rule::GithubToken, b64std(token.as_bytes()).as_str()),
        ]
    );
    // Outside a Secret's `data:` nothing is decoded: the token is just base64 (the
    // password's base64 is still a random value under a secret-named key).
    let config = manifest.replace("kind: Secret", "kind: ConfigMap");
    assert_eq!(rules(&config), ["generic-secret"]);
    // Inside a Secret, base64 of a placeholder is a placeholder.
    none(&format!(
        "kind: Secret\ndata:\n  DB_PASSWORD: {}\n",
        b64std(b"changeme-please")
    ));
}

// ---------- samples, deny, baseline, vendored trees ----------

#[test]
fn published_examples_are_passes_with_a_note() {
    let sb = Sandbox::new();
    sb.write(
        "repo/docs/aws.md",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nstripe: sk_test_4eC39HqLyjWDarjtT1zdp7dc\ncurl -H 'Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=='\n",
    );
    let findings = run_in(&sb, json!({ "paths": ["repo"] }));
    let samples: Vec<_> = findings.iter().filter(|f| f.rule.is_some()).collect();
    assert_eq!(samples.len(), 4, "{findings:?}");
    for f in &samples {
        assert_eq!(f.status, Status::Pass);
        assert!(
            f.message.contains("published as an example"),
            "{}",
            f.message
        );
        assert!(
            evidence(f, "note")
                .unwrap()
                .starts_with("published example: ")
        );
        assert!(!all_text(f).contains("IOSFODNN7"));
    }
    // The root's own verdict is a pass: no secret was found.
    assert!(findings.iter().all(|f| f.status == Status::Pass));
}

#[test]
fn deny_patterns_are_always_reported() {
    let sb = Sandbox::new();
    sb.write("repo/app.env", "INTERNAL_HOST=db-prod-7.corp.internal\n");
    let findings = run_in(
        &sb,
        json!({ "paths": ["repo"], "deny": ["db-prod-[0-9]+\\.corp\\.internal"], "allow": ["INTERNAL_HOST"] }),
    );
    let f = findings
        .iter()
        .find(|f| f.rule.as_deref() == Some("denied-pattern"))
        .expect("denied");
    assert_eq!(f.status, Status::Fail);
    assert_eq!(evidence(f, "key"), Some("deny[0]"));
    assert!(!all_text(f).contains("corp.internal"));
    let bad = run_in(&sb, json!({ "paths": ["repo"], "deny": ["(", ".*"] }));
    assert_eq!(statuses(&bad), [Status::Error]);
    assert!(all_text(&bad[0]).contains("matches the empty string"));
}

#[test]
fn baselined_secrets_pass_and_new_ones_fail_with_a_fingerprint() {
    let sb = Sandbox::new();
    let old = gh("ghp_", 220);
    let new = gh("ghp_", 221);
    sb.write("repo/a.env", format!("X={old}\n"));
    sb.write("repo/b.env", format!("X={new}\n"));
    let salt = "0f".repeat(32);
    sb.write(
        "baseline.json",
        format!(r#"{{"version":1,"salt":"{salt}"}}"#),
    );
    // First run: both new, each with its fingerprint.
    let first = run_in(
        &sb,
        json!({ "paths": ["repo"], "baseline": "baseline.json" }),
    );
    let fails: Vec<_> = first.iter().filter(|f| f.status == Status::Fail).collect();
    assert_eq!(fails.len(), 2, "{first:?}");
    let fp_a = evidence(fails[0], "fingerprint").unwrap().to_string();
    assert_eq!(fp_a.len(), 64);
    assert!(!all_text(fails[0]).contains(&old[4..]));
    // Accept a.env's token only.
    sb.write(
        "baseline.json",
        format!(
            r#"{{"version":1,"salt":"{salt}","secrets":[{{"file":"repo/a.env","rule":"github-token","hash":"{fp_a}"}}]}}"#
        ),
    );
    let second = run_in(
        &sb,
        json!({ "paths": ["repo"], "baseline": "baseline.json" }),
    );
    let by_file = |name: &str| second.iter().find(|f| f.subject.ends_with(name)).unwrap();
    assert_eq!(by_file("a.env").status, Status::Pass);
    assert!(
        by_file("a.env")
            .message
            .contains("accepted in the baseline baseline.json")
    );
    assert_eq!(by_file("b.env").status, Status::Fail);
    // The same secret moved to another file is not accepted there.
    sb.write("repo/b.env", format!("X={old}\n"));
    let third = run_in(
        &sb,
        json!({ "paths": ["repo"], "baseline": "baseline.json" }),
    );
    assert_eq!(third.iter().filter(|f| f.status == Status::Fail).count(), 1);
    // A broken baseline is an error naming its position; a missing one is unreadable.
    sb.write("baseline.json", "{\n  \"version\": 1,\n  \"salt\": 7\n}");
    let bad = run_in(
        &sb,
        json!({ "paths": ["repo"], "baseline": "baseline.json" }),
    );
    assert_eq!(statuses(&bad), [Status::Error]);
    assert!(all_text(&bad[0]).contains("line 3, column"), "{bad:?}");
    let missing = run_in(&sb, json!({ "paths": ["repo"], "baseline": "nope.json" }));
    assert_eq!(statuses(&missing), [Status::Error]);
}

#[test]
fn vendored_trees_and_generated_files_are_skipped_unless_included() {
    let sb = Sandbox::new();
    let token = gh("ghp_", 230);
    for path in [
        "repo/node_modules/pkg/index.js",
        "repo/vendor/lib/x.go",
        "repo/target/debug/build/out.rs",
        "repo/dist/app.js",
        "repo/web/app.min.js",
        "repo/Cargo.lock",
        "repo/package-lock.json",
    ] {
        sb.write(path, format!("t = \"{token}\"\n"));
    }
    sb.write("repo/src/main.rs", "fn main() {}\n");
    let findings = run_in(&sb, json!({ "paths": ["repo"] }));
    assert_eq!(statuses(&findings), [Status::Pass], "{findings:?}");
    assert_eq!(evidence(&findings[0], "vendored_dirs_skipped"), Some("4"));
    assert_eq!(evidence(&findings[0], "generated_files_skipped"), Some("3"));
    assert_eq!(evidence(&findings[0], "files_scanned"), Some("1"));
    let all = run_in(&sb, json!({ "paths": ["repo"], "include_vendored": true }));
    assert_eq!(all.iter().filter(|f| f.status == Status::Fail).count(), 7);
}

/// Small files are read whole in one call; one that grew past the length
/// the walk saw is read the other way, up to that length, and one that is
/// binary is recognised either way.
#[test]
fn small_files_are_read_whole_large_ones_sniffed_and_oversize_ones_skipped() {
    let sb = Sandbox::new();
    let grants = sb.grants();
    let text = |c: Content| match c {
        Content::Text(t) => t,
        Content::Binary => panic!("text read as binary"),
        Content::Large => panic!("text skipped as large"),
    };
    sb.write("a.txt", "token = \"abc\"\n");
    let got = read_text(&grants, &sb.path("a.txt"), DEFAULT_MAX_FILE_BYTES).unwrap();
    assert_eq!(text(got), "token = \"abc\"\n");
    sb.write("b.bin", b"\x7fELF\x00\x01rest");
    let got = read_text(&grants, &sb.path("b.bin"), DEFAULT_MAX_FILE_BYTES).unwrap();
    assert!(matches!(got, Content::Binary));
    // Over 64 KiB: not read whole, sniffed, then read to its length.
    let big = "x = 1\n".repeat(20_000);
    sb.write("big.txt", big.as_bytes());
    let got = read_text(&grants, &sb.path("big.txt"), DEFAULT_MAX_FILE_BYTES).unwrap();
    assert_eq!(text(got), big);
    let mut bin = vec![b'a'; 100_000];
    bin[10] = 0;
    sb.write("big.bin", &bin);
    let got = read_text(&grants, &sb.path("big.bin"), DEFAULT_MAX_FILE_BYTES).unwrap();
    assert!(matches!(got, Content::Binary));
    // Over `max_file_bytes`, small or large: skipped.
    for (name, max) in [("a.txt", 10), ("big.txt", 100_000)] {
        let got = read_text(&grants, &sb.path(name), max).unwrap();
        assert!(matches!(got, Content::Large), "{name}");
    }
    assert!(read_text(&grants, &sb.path("missing"), 10).is_err());
}

#[test]
fn secrets_defined_without_an_assignment_operator() {
    let v = format!("{}4x", rnd(70, 16, B62));
    for line in [
        format!("define('DB_PASSWORD', '{v}');"),
        format!("#define WIFI_PASSWORD \"{v}\""),
        format!("  \"Smtp:Password\": \"{v}\""),
        format!("CREATE ROLE reporting LOGIN PASSWORD '{v}';"),
        format!("  password {v}"),
        format!("machine api.acme.io login deploy password {v}"),
        format!("$s = ConvertTo-SecureString \"{v}\" -AsPlainText -Force"),
        format!(
            "System.setProperty(\"javax.net.ssl.keyStorePassword\", \"{}-{}\");",
            &v[..11],
            &v[11..]
        ),
    ] {
        assert_eq!(rules(&line), ["generic-secret"], "{line}");
    }
    for line in [
        format!("auth=(\"exporter\", \"{v}\"),"),
        format!("req.SetBasicAuth(\"exporter\", \"{v}\")"),
        format!("HTTPBasicAuth('exporter', '{v}')"),
    ] {
        assert_eq!(rules(&line), ["basic-auth"], "{line}");
    }
    // Names and prose, not values.
    none("#define PASSWORD_MAX_LEN 64");
    none("define('DB_PASSWORD', getenv('DB_PASSWORD'));");
    none("Enter your password below and confirm it");
    none("req.SetBasicAuth(user, pass)");
    none("ALTER ROLE app PASSWORD NULL;");
}

#[test]
fn azure_storage_keys_under_any_account_key_name() {
    let key = format!("{}==", rnd(71, 86, B64));
    for line in [
        format!("<add key=\"StorageAccountKey\" value=\"{key}\" />"),
        format!("  storage_account_key = \"{key}\""),
        format!("acmectl login --account-key {key}"),
    ] {
        assert_eq!(rules(&line), ["azure-storage-account-key"], "{line}");
    }
    // The same name with a value of another shape is a generic secret.
    assert_eq!(
        rules(&format!("storage_account_key = \"{}\"", rnd(72, 40, B62))),
        ["generic-secret"]
    );
}

#[test]
fn provider_formats_added_from_the_held_out_corpus() {
    // An OpenAI project key whose random part holds `-` and `_`.
    let body = format!(
        "{}-{}_{}",
        rnd(73, 60, URLSAFE),
        rnd(74, 40, B62),
        rnd(75, 5, B62)
    );
    assert_eq!(rules(&format!("using sk-proj-{body}")), ["openai-api-key"]);
    // Notion's tokens from before `ntn_`.
    assert_eq!(
        rules(&format!("const NOTION = 'secret_{}';", rnd(76, 43, B62))),
        ["notion-token"]
    );
    // New Relic insert keys and ingest license keys.
    assert_eq!(
        rules(&format!("const k = 'NRII-{}';", rnd(77, 32, URLSAFE))),
        ["newrelic-api-key"]
    );
    assert_eq!(
        rules(&format!(
            "license_key: {}NRAL",
            rnd(78, 36, "0123456789abcdef")
        )),
        ["newrelic-api-key"]
    );
    // Grafana's legacy API keys are base64 JSON without a dot: still secrets.
    let grafana = b64std(br#"{"k":"sb7Vt4GnQBqNJ9gKuACgoBILHmT13gdW","n":"deploy","id":1}"#);
    assert_eq!(
        rules(&format!(
            "\"grafanaApiKey\": \"{}\"",
            grafana.trim_end_matches('=')
        )),
        ["generic-secret"]
    );
}

#[test]
fn url_passwords_with_an_empty_user() {
    let v = rnd(77, 24, B62);
    assert_eq!(
        rules(&format!("redis://:{v}@cache.internal:6379/0")),
        ["url-password"]
    );
    // A port after the scheme's colon is no password, and URL parsers' test
    // data (short or percent-encoded passwords with no user) is no leak.
    none("proxy = http://:8080@");
    none(r#""href": "javascript://:bowser@x/","#);
    none(r#""href": "http://:%3A%40c@d:2/","#);
}

#[test]
fn secret_named_query_and_jdbc_parameters() {
    let v = rnd(78, 24, B62);
    for line in [
        format!("jdbc:postgresql://db.internal:5432/app?user=app&password={v}"),
        format!("jdbc:sqlserver://db.internal:1433;databaseName=app;user=sa;password={v};"),
        format!("curl 'https://api.internal/v2/items?limit=10&access_token={v}'"),
        format!(
            "<add name=\"Main\" connectionString=\"Server=db.internal;Database=app;User Id=app;Password={v};\" />"
        ),
    ] {
        assert_eq!(rules(&line), ["generic-secret"], "{line}");
    }
    // Variables, placeholders and parameters that are not secrets.
    none("https://api.example.com/v1?access_token=${TOKEN}");
    none("https://example.com/?token=YOUR_TOKEN_HERE");
    none(&format!("https://api.internal/v1?page={v}&limit=10"));
    // A form body in a test, whose "password" is a phrase.
    none(r#"check_body(b"username=user&password=secure%20password").await;"#);
}

#[test]
fn azure_sas_signatures() {
    let sig = rnd(5, 43, B62);
    let url = format!(
        "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01&sig={sig}%3D"
    );
    assert_eq!(rules(&url), ["azure-shared-access-key"]);
    // A `sig` that is not a SAS signature (no `sv=` version, or too short).
    none(&format!(
        "https://cdn.internal/img.png?w=200&sig={}",
        rnd(6, 12, B62)
    ));
}

#[test]
fn settings_given_as_two_words_on_a_command_line() {
    let aws = rnd(3, 40, B64);
    assert_eq!(
        rules(&format!("aws configure set aws_secret_access_key {aws}")),
        ["aws-secret-access-key"]
    );
    let v = rnd(79, 24, B62);
    assert_eq!(
        rules(&format!(
            "npm config set //registry.internal/:_authToken {v}"
        )),
        ["generic-secret"]
    );
    assert_eq!(
        rules(&format!(
            "dotnet user-secrets set \"Smtp:Password\" \"{v}\""
        )),
        ["generic-secret"]
    );
    none("git config --global credential.helper store");
    none("npm config set //registry.internal/:_authToken ${NPM_TOKEN}");
}

#[test]
fn subscript_assignments_of_any_container() {
    let v = rnd(80, 24, B62);
    for line in [
        format!("app.config[\"JWT_SECRET_KEY\"] = \"{v}\""),
        format!("ENV['STRIPE_SECRET'] = '{v}'"),
        format!("os.environ[\"DB_PASSWORD\"] = \"{v}\""),
    ] {
        assert_eq!(rules(&line), ["generic-secret"], "{line}");
    }
    // A comparison, not an assignment.
    none(&format!("if config[\"password\"] == \"{v}\" {{"));
}

#[test]
fn property_list_keys_and_their_strings() {
    let v = rnd(81, 24, B62);
    assert_eq!(
        rules(&format!("<key>password</key>\n<string>{v}</string>")),
        ["generic-secret"]
    );
    assert_eq!(
        rules(&format!("\t<key>api_token</key><string>{v}</string>")),
        ["generic-secret"]
    );
    none(&format!(
        "<key>CFBundleIdentifier</key>\n<string>{v}</string>"
    ));
    none("<key>password</key>\n<string>$(PASSWORD)</string>");
}

#[test]
fn putty_private_key_files() {
    let ppk = format!(
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n{}\n{}\n\
         Private-Lines: 1\n{}\nPrivate-MAC: {}",
        rnd(1, 64, B64),
        rnd(2, 20, B64),
        rnd(3, 44, B64),
        rnd(4, 64, "0123456789abcdef")
    );
    assert_eq!(rules(&ppk), ["private-key"]);
    // The format described, with no key in it.
    none("PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\n<your key here>");
}

/// The run split into `count` parts and merged, as the host runs it when it
/// can give the check more than one instance.
fn run_in_parts(sb: &Sandbox, params: &serde_json::Value, count: u32) -> Vec<Finding> {
    // The first instance is asked first, and keeps its walk for part 0.
    parts(&ctx(ID), params, &sb.grants(), count);
    let parts = (0..count)
        .map(|index| run_part(&ctx(ID), params, &sb.grants(), Part { index, count }))
        .collect();
    parts::merge(&ctx(ID), parts)
}

fn shown(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(|f| format!("{f:?}")).collect()
}

/// A tree with something of every kind the walk and the tally count.
fn mixed_tree(sb: &Sandbox) {
    for d in 0..6 {
        for f in 0..9 {
            let body = match (d + f) % 4 {
                0 => format!("token = \"{}\"\n", gh("ghp_", 200 + d * 10 + f)),
                1 => "fn main() {}\n".to_string(),
                2 => format!("a\nb\npassword = \"{}\"\n", rnd(300 + d * 10 + f, 24, B62)),
                _ => "plain text\n".to_string(),
            };
            sb.write(&format!("repo/d{d}/sub{}/f{f}.txt", f % 2), body);
        }
        sb.write(&format!("repo/d{d}/big{d}.sql"), "x".repeat(3000));
        sb.write(&format!("repo/d{d}/img{d}.png"), b"\x89PNG\0\0");
    }
    sb.write("repo/a.b", format!("k = {}\n", gh("ghp_", 290)));
    sb.write("repo/a/z.txt", format!("k = {}\n", gh("ghp_", 291)));
    sb.write(
        "repo/node_modules/x/index.js",
        format!("k = {}\n", gh("ghp_", 292)),
    );
    sb.write("repo/Cargo.lock", "checksum = \"abc\"\n");
    sb.write("repo/skip.env", format!("k = {}\n", gh("ghp_", 293)));
    sb.write("clean/one.txt", "nothing here\n");
    for i in 0..14 {
        sb.write(&format!("clean/large/{i:02}.txt"), "y".repeat(3000));
    }
    sb.write("clean/pic.gif", b"GIF89a\0");
    std::os::unix::fs::symlink("one.txt", sb.path("clean/link")).unwrap();
}

#[test]
fn a_run_in_parts_merges_to_the_findings_of_a_run_in_one_piece() {
    let sb = Sandbox::new();
    mixed_tree(&sb);
    let params = json!({
        "paths": ["repo", "clean", "missing"],
        "max_file_bytes": 2048,
        "exclude": ["*.env"],
    });
    let whole = run(&ctx(ID), &params, &sb.grants());
    assert!(whole.len() > 20, "{:?}", shown(&whole));
    let clean = whole
        .iter()
        .find(|f| f.subject == "clean")
        .expect("the clean root's pass finding");
    assert_eq!(evidence(clean, "files_skipped_large"), Some("14"));
    assert_eq!(evidence(clean, "symlinks_skipped"), Some("1"));
    assert!(
        whole
            .iter()
            .any(|f| f.subject == "missing" && f.status == Status::Error)
    );
    for count in [1, 2, 3, 5] {
        let merged = run_in_parts(&sb, &params, count);
        assert_eq!(shown(&merged), shown(&whole), "{count} parts");
    }
}

#[test]
fn every_file_is_read_by_exactly_one_part() {
    let sb = Sandbox::new();
    for i in 0..40 {
        sb.write(&format!("tree/{}/{i}.txt", i % 7), "fine\n");
    }
    let params = json!({ "paths": ["tree"] });
    let count = 3;
    let scanned: Vec<usize> = (0..count)
        .map(|index| {
            let out = run_part(&ctx(ID), &params, &sb.grants(), Part { index, count });
            let tally = out
                .iter()
                .find(|f| f.rule.as_deref() == Some("part-tally"))
                .unwrap();
            evidence(tally, "scanned").unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(scanned.iter().sum::<usize>(), 40, "{scanned:?}");
    assert!(
        scanned.iter().all(|n| *n > 0),
        "every part gets files: {scanned:?}"
    );
    let merged = run_in_parts(&sb, &params, count);
    assert_eq!(evidence(&merged[0], "files_scanned"), Some("40"));
}

#[test]
fn the_cap_holds_across_parts_as_in_one_piece() {
    let sb = Sandbox::new();
    for i in 0..(crate::MAX_FINDINGS as u64 + 40) {
        sb.write(
            &format!("keys/{:03}/k{i}.txt", i % 300),
            format!("k{i} = {}\n", gh("ghp_", 1000 + i)),
        );
    }
    let params = json!({ "paths": ["keys"] });
    let whole = run(&ctx(ID), &params, &sb.grants());
    assert_eq!(whole.len(), crate::MAX_FINDINGS);
    assert_eq!(evidence(whole.last().unwrap(), "omitted"), Some("41"));
    for count in [2, 4] {
        assert_eq!(
            shown(&run_in_parts(&sb, &params, count)),
            shown(&whole),
            "{count} parts"
        );
    }
}

#[test]
fn refused_parameters_are_reported_once() {
    let sb = Sandbox::new();
    let params = json!({ "paths": [] });
    let merged = run_in_parts(&sb, &params, 3);
    assert_eq!(shown(&merged), shown(&run(&ctx(ID), &params, &sb.grants())));
    assert_eq!(statuses(&merged), [Status::Error]);
    assert_eq!(parts(&ctx(ID), &params, &sb.grants(), 4), 1);
}

#[test]
fn a_small_tree_runs_whole_and_a_large_one_splits_over_the_walk_it_counted() {
    let sb = Sandbox::new();
    for i in 0..SPLIT_FILES - 1 {
        sb.write(&format!("tree/{}/{i}.txt", i % 10), "fine\n");
    }
    let params = json!({ "paths": ["tree"] });
    assert_eq!(parts(&ctx(ID), &params, &sb.grants(), 4), 1);
    sb.write("tree/last.txt", "fine\n");
    assert_eq!(parts(&ctx(ID), &params, &sb.grants(), 4), 4);
    // The walk made to count the files is the one part 0 scans: a file
    // added since is not in it (the other parts walk afresh).
    sb.write("tree/later.txt", "fine\n");
    let whole = Part { index: 0, count: 1 };
    let scanned = || {
        let out = run_part(&ctx(ID), &params, &sb.grants(), whole);
        let tally = out.iter().find(|f| f.rule.as_deref() == Some("part-tally"));
        evidence(tally.unwrap(), "scanned").map(str::to_string)
    };
    assert_eq!(scanned().as_deref(), Some("1000"));
    // Taken once: the next run walks again.
    assert_eq!(scanned().as_deref(), Some("1001"));
}
