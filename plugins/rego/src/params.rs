//! The parameters of `rego.conftest`, as a policy's `params` table writes
//! them, and their checks beyond what serde can say.

use gate_configfile::Format;
use gate_plugin_sdk::{Context, Finding, params};
use serde::Deserialize;

/// Files larger than this are an error rather than read (8 MiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "default_policy")]
    policy: Vec<String>,
    inputs: Vec<String>,
    #[serde(default)]
    data: Vec<String>,
    parser: Option<String>,
    #[serde(default = "default_namespaces")]
    namespaces: Vec<String>,
    #[serde(default)]
    all_namespaces: bool,
    #[serde(default)]
    rego_version: RegoVersion,
    #[serde(default = "default_max_file_bytes")]
    max_file_bytes: u64,
}

fn default_policy() -> Vec<String> {
    vec!["policy".to_string()]
}

fn default_namespaces() -> Vec<String> {
    vec!["main".to_string()]
}

fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

/// Which Rego syntax the policies are written in.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum RegoVersion {
    /// Rego v1 (OPA 1.0, Conftest 0.56 and later): `deny contains msg if { … }`.
    #[default]
    #[serde(rename = "v1")]
    V1,
    /// Rego v0 (OPA before 1.0): `deny[msg] { … }`; `import rego.v1` still works.
    #[serde(rename = "v0")]
    V0,
}

/// Which namespaces (Rego packages) are queried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Namespaces {
    /// These packages, as written (`main`, `kubernetes.admission`).
    Named(Vec<String>),
    /// Every package of the loaded policies (Conftest's `--all-namespaces`).
    All,
}

/// The parameters, checked.
#[derive(Clone, Debug)]
pub struct Params {
    pub policy: Vec<String>,
    pub inputs: Vec<String>,
    pub data: Vec<String>,
    /// Parses every input with this format instead of its extension's.
    pub parser: Option<Format>,
    pub namespaces: Namespaces,
    pub rego_version: RegoVersion,
    pub max_file_bytes: u64,
}

/// Parses and checks `params`; every problem becomes one `error` finding.
pub fn parse(ctx: &Context, value: &serde_json::Value) -> Result<Params, Vec<Finding>> {
    let raw: Raw = params::parse(ctx, value)?;
    let mut problems = Vec::new();
    if raw.policy.is_empty() {
        problems.push("`policy` must name at least one .rego file or directory".to_string());
    }
    if raw.inputs.is_empty() {
        problems.push("`inputs` must name at least one file or glob".to_string());
    }
    let parser = match raw.parser.as_deref() {
        None => None,
        Some(name) => match Format::from_name(name).filter(|f| !f.is_line_based()) {
            Some(f) => Some(f),
            None => {
                problems.push(format!("`parser` is `{name}`; use one of json, yaml, toml"));
                None
            }
        },
    };
    let namespaces = if raw.all_namespaces {
        Namespaces::All
    } else {
        if raw.namespaces.is_empty() {
            problems.push(
                "`namespaces` is empty; name at least one package, or set `all_namespaces = true`"
                    .to_string(),
            );
        }
        for ns in &raw.namespaces {
            if !is_namespace(ns) {
                problems.push(format!(
                    "namespace `{ns}` is not a Rego package path such as `main` or `kubernetes.admission`"
                ));
            }
        }
        Namespaces::Named(raw.namespaces)
    };
    if raw.max_file_bytes == 0 {
        problems.push("`max_file_bytes` must be greater than 0".to_string());
    }
    if !problems.is_empty() {
        return Err(params::invalid(ctx, problems.join("; ")));
    }
    Ok(Params {
        policy: raw.policy,
        inputs: raw.inputs,
        data: raw.data,
        parser,
        namespaces,
        rego_version: raw.rego_version,
        max_file_bytes: raw.max_file_bytes,
    })
}

/// `main`, `kubernetes.admission`: dot-separated Rego identifiers.
pub fn is_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testutil::ctx;

    fn problems(value: serde_json::Value) -> String {
        let findings = parse(&ctx(), &value).expect_err("params should be refused");
        assert_eq!(findings.len(), 1);
        findings[0].message.clone()
    }

    #[test]
    fn defaults_follow_conftest() {
        let p = parse(&ctx(), &json!({ "inputs": ["deploy/*.yaml"] })).unwrap();
        assert_eq!(p.policy, ["policy"]);
        assert_eq!(p.namespaces, Namespaces::Named(vec!["main".into()]));
        assert_eq!(p.rego_version, RegoVersion::V1);
        assert_eq!(p.parser, None);
        assert!(p.data.is_empty());
        assert_eq!(p.max_file_bytes, DEFAULT_MAX_FILE_BYTES);
    }

    #[test]
    fn all_namespaces_and_overrides() {
        let p = parse(
            &ctx(),
            &json!({ "inputs": ["a"], "all_namespaces": true, "parser": "YML", "rego_version": "v0" }),
        )
        .unwrap();
        assert_eq!(p.namespaces, Namespaces::All);
        assert_eq!(p.parser, Some(Format::Yaml));
        assert_eq!(p.rego_version, RegoVersion::V0);
    }

    #[test]
    fn refuses_what_cannot_work() {
        let text = problems(
            json!({ "inputs": [], "policy": [], "parser": "ini", "namespaces": ["main", "bad-name"], "max_file_bytes": 0 }),
        );
        for needle in [
            "`policy` must name",
            "`inputs` must name",
            "`parser` is `ini`",
            "`bad-name`",
            "`max_file_bytes`",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(
            problems(json!({ "inputs": ["a"], "namespace": ["main"] })).contains("unknown field")
        );
        assert!(problems(json!({ "inputs": ["a"], "rego_version": "v2" })).contains("v2"));
        assert!(problems(json!({ "policy": ["p"] })).contains("inputs"));
    }

    #[test]
    fn namespaces_are_package_paths() {
        for good in ["main", "kubernetes.admission", "_x.y1"] {
            assert!(is_namespace(good), "{good}");
        }
        for bad in ["", "a..b", "1a", "a-b", "data main"] {
            assert!(!is_namespace(bad), "{bad}");
        }
    }
}
