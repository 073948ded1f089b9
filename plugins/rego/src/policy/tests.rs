use super::*;

fn load(sources: &[(&str, &str)]) -> Result<Policy, Vec<Diagnostic>> {
    let sources: Vec<(String, String)> = sources
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    Policy::load(&sources, RegoVersion::V1)
}

fn rules(queries: &[Query]) -> Vec<String> {
    queries
        .iter()
        .map(|q| format!("{} {:?}", q.path(), q.kind))
        .collect()
}

#[test]
fn conftest_rule_names() {
    for failure in ["deny", "violation", "deny_root", "violation_a_1", "deny_X9"] {
        assert_eq!(Kind::of(failure), Some(Kind::Failure), "{failure}");
    }
    for warning in ["warn", "warn_latest_tag"] {
        assert_eq!(Kind::of(warning), Some(Kind::Warning), "{warning}");
    }
    for helper in [
        "denied", "deny_", "deny__x", "warning", "allow", "deny-x", "is_deny",
    ] {
        assert_eq!(Kind::of(helper), None, "{helper}");
    }
}

#[test]
fn finds_the_rules_of_each_namespace() {
    let policy = load(&[
        (
            "policy/k8s.rego",
            "package main\n\
             deny contains \"a\" if { input.x }\n\
             deny_privileged contains \"b\" if { input.y }\n\
             warn_latest contains \"c\" if { input.z }\n\
             is_pod if { input.kind == \"Pod\" }\n\
             deny_fn(x) := x\n",
        ),
        (
            "policy/tf.rego",
            "package terraform.aws\nviolation contains {\"msg\": \"d\"} if { input.w }\n",
        ),
        ("policy/lib.rego", "package lib\nhelper(x) := x\n"),
    ])
    .unwrap();
    assert_eq!(policy.namespaces(), ["lib", "main", "terraform.aws"]);
    let main = policy.queries(Some(&["main".to_string()])).unwrap();
    assert_eq!(
        rules(&main),
        [
            "data.main.deny Failure",
            "data.main.deny_privileged Failure",
            "data.main.warn_latest Warning"
        ]
    );
    let all = policy.queries(None).unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[3].path(), "data.terraform.aws.violation");
    let err = policy
        .queries(Some(&["lib".into(), "nope".into()]))
        .unwrap_err();
    assert!(err[0].contains("`lib` defines no deny"), "{err:?}");
    assert!(
        err[1].contains("`nope` is not a package") && err[1].contains("lib, main, terraform.aws"),
        "{err:?}"
    );
}

#[test]
fn a_policy_without_rules_has_nothing_to_query() {
    let policy = load(&[("p.rego", "package lib\nx := 1\n")]).unwrap();
    let err = policy.queries(None).unwrap_err();
    assert!(err[0].contains("no package defines"), "{err:?}");
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let err = load(&[(
        "policy/broken.rego",
        "package main\n\ndeny contains msg if {\n  msg := concat(\",\", [\"a\", \"b\"]\n}\n",
    )])
    .err()
    .expect("a syntax error");
    assert_eq!(err.len(), 1);
    let (file, line, col) = err[0].position.clone().expect("a position");
    assert_eq!(file, "policy/broken.rego");
    // regorus stops at the statement that lacks its `)`.
    assert_eq!((line, col), (4, 7), "{err:?}");
    assert!(!err[0].message.contains("-->"), "{}", err[0].message);
}

#[test]
fn v0_syntax_needs_rego_version_v0() {
    let v0 = "package main\ndeny[msg] {\n  input.user == \"root\"\n  msg := \"root\"\n}\n";
    assert!(load(&[("p.rego", v0)]).is_err());
    let sources = vec![("p.rego".to_string(), v0.to_string())];
    let policy = Policy::load(&sources, RegoVersion::V0).unwrap();
    assert_eq!(
        rules(&policy.queries(None).unwrap()),
        ["data.main.deny Failure"]
    );
}

#[test]
fn calls_to_missing_built_ins_are_refused_before_evaluation() {
    let err = load(&[(
        "policy/net.rego",
        "package main\n\
         deny contains msg if {\n\
         \x20 input.kind == \"Service\"\n\
         \x20 resp := http.send({\"method\": \"GET\", \"url\": input.url})\n\
         \x20 resp.status_code != 200\n\
         \x20 msg := \"down\"\n\
         }\n\
         warn contains sprintf(\"%v\", [opa.runtime().version]) if { true }\n",
    )])
    .err()
    .expect("undefined functions");
    let messages: Vec<String> = err.iter().map(|d| d.message.clone()).collect();
    assert_eq!(err.len(), 2, "{messages:?}");
    assert!(messages[0].contains("`http.send`"), "{messages:?}");
    assert_eq!(
        err[0].position,
        Some(("policy/net.rego".to_string(), 4, 11))
    );
    assert!(messages[1].contains("`opa.runtime`"), "{messages:?}");
}

#[test]
fn user_functions_resolve_through_packages_and_imports() {
    let policy = load(&[
        (
            "lib/k8s.rego",
            "package lib.k8s\nis_privileged(c) if { c.securityContext.privileged }\nname(x) := x.metadata.name\n",
        ),
        (
            "main.rego",
            "package main\n\
             import data.lib.k8s\n\
             import data.lib.k8s.name as display\n\
             local(x) := upper(x)\n\
             deny contains local(display(input)) if {\n\
             \x20 some c in input.spec.containers\n\
             \x20 k8s.is_privileged(c)\n\
             \x20 data.lib.k8s.is_privileged(c)\n\
             \x20 print(\"checked\", c.name)\n\
             }\n",
        ),
    ]);
    assert!(policy.is_ok(), "{:?}", policy.err());
    let err = load(&[(
        "main.rego",
        "package main\nimport data.lib.k8s\ndeny contains \"x\" if { k8s.missing(input) }\n",
    )])
    .err()
    .expect("undefined");
    assert!(err[0].message.contains("`k8s.missing`"), "{err:?}");
}

#[test]
fn analysis_errors_are_the_policys() {
    let err = load(&[("p.rego", "package main\ndeny contains msg if { x > 1 }\n")])
        .err()
        .expect("an unsafe variable");
    assert!(err[0].position.is_some(), "{err:?}");
}

#[test]
fn diagnostics_read_regorus_errors() {
    let d = Diagnostic::from_error(
        &"\n--> a:b.rego:3:7\n  |\n3 | x := \n  |       ^\nerror: unexpected eof",
    );
    assert_eq!(d.position, Some(("a:b.rego".to_string(), 3, 7)));
    assert_eq!(d.message, "unexpected eof");
    let plain = Diagnostic::from_error(&"data must be object");
    assert_eq!(plain.position, None);
    assert_eq!(plain.message, "data must be object");
}

/// OPA built-ins regorus does not provide, as docs/rego.md lists them. If
/// this fails, regorus (or the features the plugin enables) changed: update
/// the list and the page.
const MISSING: [&str; 40] = [
    "crypto.hmac.equal",
    "crypto.hmac.md5",
    "crypto.hmac.sha1",
    "crypto.hmac.sha256",
    "crypto.hmac.sha512",
    "crypto.md5",
    "crypto.parse_private_keys",
    "crypto.sha1",
    "crypto.sha256",
    "crypto.x509.parse_and_verify_certificates",
    "crypto.x509.parse_certificate_request",
    "crypto.x509.parse_certificates",
    "crypto.x509.parse_keypair",
    "crypto.x509.parse_rsa_private_key",
    "graphql.parse",
    "graphql.schema_is_valid",
    "http.send",
    "io.jwt.decode",
    "io.jwt.decode_verify",
    "io.jwt.encode_sign",
    "io.jwt.verify_rs256",
    "json.match_schema",
    "json.verify_schema",
    "net.cidr_contains_matches",
    "net.cidr_intersects",
    "net.cidr_merge",
    "net.lookup_ip_addr",
    "opa.runtime",
    "providers.aws.sign_req",
    "regex.globs_match",
    "rego.metadata.chain",
    "rego.metadata.rule",
    "rego.parse_module",
    "strings.render_template",
    "uuid.parse",
    "uuid.rfc4122",
    // Conftest's own.
    "parse_config",
    "parse_config_file",
    "parse_combined_config_files",
    // Deprecated in OPA 1.0.
    "re_match",
];

/// Built-ins Conftest policies commonly use, present with the plugin's features.
const PRESENT: [&str; 16] = [
    "regex.match",
    "glob.match",
    "net.cidr_contains",
    "time.parse_rfc3339_ns",
    "time.now_ns",
    "semver.compare",
    "yaml.unmarshal",
    "json.patch",
    "base64.decode",
    "hex.encode",
    "urlquery.encode",
    "graph.reachable",
    "object.get",
    "strings.any_prefix_match",
    "units.parse_bytes",
    "sprintf",
];

#[test]
fn documented_missing_built_ins() {
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rego.md"),
    )
    .unwrap();
    for name in MISSING {
        assert!(
            !BUILTINS.contains_key(name),
            "regorus now provides `{name}`"
        );
        assert!(
            page.contains(&format!("`{name}`")),
            "docs/rego.md does not list `{name}`"
        );
    }
    for name in PRESENT {
        assert!(BUILTINS.contains_key(name), "`{name}` is missing");
    }
}
