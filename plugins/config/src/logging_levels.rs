//! `config.logging-levels`: no debug/trace logging in the target environment's config.
//!
//! Level values are read as directive lists, so `RUST_LOG=info,hyper=debug`
//! and log4j's `DEBUG, stdout` are split and every level in them is checked.

use std::collections::{BTreeSet, HashSet};

use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;

use crate::source::{self, SourceFile};
use gate_configfile::{self as document, Entry, Format};

pub const ID: &str = "config.logging-levels";

pub struct LoggingLevels;

/// Level names gate recognises, with the standard level each one means.
/// Aliases from log4j, Serilog/.NET, java.util.logging, syslog and winston.
const LEVELS: &[(&str, &str)] = &[
    ("trace", "trace"),
    ("all", "trace"),
    ("verbose", "trace"),
    ("finest", "trace"),
    ("finer", "trace"),
    ("silly", "trace"),
    ("debug", "debug"),
    ("fine", "debug"),
    ("info", "info"),
    ("information", "info"),
    ("notice", "info"),
    ("warn", "warn"),
    ("warning", "warn"),
    ("error", "error"),
    ("err", "error"),
    ("severe", "error"),
    ("fatal", "fatal"),
    ("critical", "fatal"),
    ("crit", "fatal"),
    ("alert", "fatal"),
    ("emerg", "fatal"),
    ("panic", "fatal"),
    ("off", "off"),
];

/// The standard level a level name means, case-insensitively.
pub fn canonical(name: &str) -> Option<&'static str> {
    let name = name.trim().to_ascii_lowercase();
    LEVELS
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, level)| *level)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub files: Vec<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default = "default_forbidden")]
    pub forbidden: Vec<String>,
    #[serde(default)]
    pub format: Option<String>,
}

fn default_forbidden() -> Vec<String> {
    vec!["debug".to_string(), "trace".to_string()]
}

/// Parameters after validation.
struct Config {
    key: Option<String>,
    /// Canonical forbidden levels.
    forbidden: BTreeSet<&'static str>,
    format: Option<Format>,
}

impl Params {
    fn validate(&self) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        if self.files.is_empty() {
            problems.push("`files` must name at least one file".to_string());
        }
        if self.key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            problems.push("`key` is empty".to_string());
        }
        if self.forbidden.is_empty() {
            problems.push("`forbidden` must name at least one level".to_string());
        }
        let mut forbidden = BTreeSet::new();
        for name in &self.forbidden {
            match canonical(name) {
                Some(level) => {
                    forbidden.insert(level);
                }
                None => problems.push(format!(
                    "`forbidden` names unknown level `{name}`; known levels: trace, debug, info, warn, error, fatal"
                )),
            }
        }
        let format = match &self.format {
            None => None,
            Some(name) => match Format::from_name(name) {
                Some(f) => Some(f),
                None => {
                    problems.push(format!(
                        "unknown `format` `{name}`; use one of {}",
                        Format::NAMES
                    ));
                    None
                }
            },
        };
        if problems.is_empty() {
            Ok(Config {
                key: self.key.clone(),
                forbidden,
                format,
            })
        } else {
            Err(problems)
        }
    }
}

impl Check for LoggingLevels {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "No debug logging".to_string(),
            description: "Logging levels in config files (JSON, YAML, TOML, .env, .properties, .ini) are not debug or trace"
                .to_string(),
            default_severity: Severity::Medium,
            params: vec![
                param("files", "list<string>", true, "Config files to inspect"),
                param(
                    "key",
                    "string",
                    false,
                    "Dotted path of the level setting, e.g. \"logging.level\"; when unset, common level keys are scanned",
                ),
                param_default(
                    "forbidden",
                    "list<string>",
                    "Levels that must not be configured (case-insensitive; aliases such as ALL or Verbose count as trace)",
                    r#"["debug", "trace"]"#,
                ),
                param(
                    "format",
                    "string",
                    false,
                    "Force the file format (json, yaml, toml, env, properties, ini) instead of guessing it from the file name",
                ),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        match params::parse(ctx, params) {
            Ok(p) => evaluate(ctx, &p, source::read),
            Err(findings) => findings,
        }
    }
}

/// Checks every file; `read` is the granted file reader (a closure so tests can fake it).
pub fn evaluate(
    ctx: &Context,
    params: &Params,
    read: impl Fn(&str) -> Result<SourceFile, String>,
) -> Vec<Finding> {
    let config = match params.validate() {
        Ok(c) => c,
        Err(problems) => return params::invalid(ctx, problems.join("; ")),
    };
    params
        .files
        .iter()
        .flat_map(|path| match read(path) {
            Ok(file) => check_file(ctx, &config, &file),
            Err(message) => vec![source::unreadable(ctx, path, &message)],
        })
        .collect()
}

/// One level found in a setting: the directive it came from and its standard level.
#[derive(Debug, PartialEq, Eq)]
pub struct Directive {
    pub text: String,
    pub level: &'static str,
}

/// The levels a setting's value turns on. A comma-separated value is a list of
/// directives (`info,hyper=debug`, `DEBUG, stdout`); `target=level` counts as
/// `level`. For `RUST_LOG` a bare target (`hyper`) enables every level, so it
/// counts as trace, and a trailing `/regex` filter is ignored.
pub fn directives(value: &str, rust_log: bool) -> Vec<Directive> {
    let spec = if rust_log {
        value.split('/').next().unwrap_or("")
    } else {
        value
    };
    spec.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter_map(|d| {
            let level_part = d.rsplit_once('=').map_or(d, |(_, level)| level);
            let level = canonical(level_part)
                .or_else(|| (rust_log && !d.contains('=')).then_some("trace"))?;
            Some(Directive {
                text: d.to_string(),
                level,
            })
        })
        .collect()
}

/// A key segment without case, `_`, `-` or `.`, so `LOG_LEVEL`, `logLevel` and `log-level` agree.
fn normalized(segment: &str) -> String {
    segment
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a key looks like a logging-level setting: some segment ends in
/// `level`/`levels` (`level`, `LOG_LEVEL`, `logging.level.root`, .NET's
/// `Logging.LogLevel.Default`, Serilog's `MinimumLevel`), or is `RUST_LOG` or
/// log4j's `rootLogger`/`rootCategory`.
pub fn is_level_key(path: &[String]) -> bool {
    path.iter().map(|s| normalized(s)).any(|s| {
        s.ends_with("level")
            || s.ends_with("levels")
            || s.ends_with("rustlog")
            || s == "rootlogger"
            || s == "rootcategory"
    })
}

fn is_rust_log(entry: &Entry) -> bool {
    normalized(entry.leaf()).ends_with("rustlog")
}

fn check_file(ctx: &Context, config: &Config, file: &SourceFile) -> Vec<Finding> {
    let path = file.path.as_str();
    let Some(format) = config.format.or_else(|| Format::detect(path)) else {
        return vec![
            ctx.finding(path, Status::Error)
                .message(format!("cannot tell the format of {path} from its name"))
                .remediation(format!("set `format` to one of {}", Format::NAMES))
                .build(),
        ];
    };
    let entries = match document::entries(format, &file.text) {
        Ok(e) => e,
        Err(err) => return vec![source::unparsable(ctx, path, format, &err)],
    };

    let settings = match select(ctx, config, path, &entries) {
        Ok(s) => s,
        Err(findings) => return findings,
    };
    if settings.is_empty() {
        // Scanning found nothing: the check looked, but verified nothing.
        return vec![
            ctx.finding(path, Status::Warn)
                .message(format!("no logging-level setting found in {path}"))
                .evidence("settings", 0)
                .remediation(
                    "set `key` to the level setting's dotted path, or drop this file from `files`",
                )
                .build(),
        ];
    }

    let forbidden_list = config
        .forbidden
        .iter()
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let mut used_lines = HashSet::new();
    let mut findings = Vec::new();
    for (entry, found) in &settings {
        let bad: Vec<&Directive> = found
            .iter()
            .filter(|d| config.forbidden.contains(d.level))
            .collect();
        if bad.is_empty() {
            continue;
        }
        let at = document::locate(format, &file.text, entry, &mut used_lines);
        findings.push(forbidden(ctx, path, entry, &bad, &forbidden_list, at));
    }
    if findings.is_empty() {
        let all: Vec<&Directive> = settings.iter().flat_map(|(_, d)| d).collect();
        findings.push(
            ctx.finding(path, Status::Pass)
                .message(format!(
                    "{} logging-level setting(s), none at {forbidden_list}",
                    settings.len()
                ))
                .evidence("settings", settings.len())
                .evidence(
                    "keys",
                    settings
                        .iter()
                        .map(|(e, _)| e.key())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .evidence("levels", levels_of(&all))
                .build(),
        );
    }
    findings
}

/// The failure for a setting that turns on forbidden levels.
fn forbidden(
    ctx: &Context,
    path: &str,
    entry: &Entry,
    bad: &[&Directive],
    forbidden_list: &str,
    at: Option<(u32, u32)>,
) -> Finding {
    let key = entry.key();
    let (line, column) = at.unzip();
    let what = if bad.len() == 1 && bad[0].text.eq_ignore_ascii_case(entry.value.trim()) {
        format!("is set to `{}`", bad[0].text)
    } else {
        let list = bad
            .iter()
            .map(|d| format!("`{}`", d.text))
            .collect::<Vec<_>>()
            .join(", ");
        format!("enables {} via {list}", levels_of(bad))
    };
    ctx.finding(format!("{path}#{key}"), Status::Fail)
        .message(format!("`{key}` {what} (forbidden: {forbidden_list})"))
        .evidence("key", &key)
        .evidence("levels", levels_of(bad))
        .evidence(
            "directives",
            bad.iter()
                .map(|d| d.text.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )
        .evidence("forbidden", forbidden_list)
        .location(path, line, column)
        .remediation("set this logger to info or higher for the target environment")
        .build()
}

/// A level setting and the levels its value turns on.
type Setting<'a> = (&'a Entry, Vec<Directive>);

/// The settings to check: those under `key`, or the scanned level keys. A `key`
/// that is absent or holds no level is an error, since the check was told where
/// to look and found nothing to verify.
fn select<'a>(
    ctx: &Context,
    config: &Config,
    path: &str,
    entries: &'a [Entry],
) -> Result<Vec<Setting<'a>>, Vec<Finding>> {
    let with_levels = |e: &'a Entry| (e, directives(&e.value, is_rust_log(e)));
    let Some(key) = &config.key else {
        return Ok(entries
            .iter()
            .filter(|e| is_level_key(&e.path))
            .map(with_levels)
            .filter(|(_, d)| !d.is_empty())
            .collect());
    };
    let prefix = format!("{key}.");
    let selected: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            let k = e.key();
            k == *key || k.starts_with(&prefix)
        })
        .collect();
    if selected.is_empty() {
        return Err(vec![
            ctx.finding(path, Status::Error)
                .message(format!(
                    "{path} has no `{key}` setting, so its logging level cannot be checked"
                ))
                .remediation("fix `key`, or leave it unset to scan for common level keys")
                .build(),
        ]);
    }
    let settings: Vec<_> = selected
        .into_iter()
        .map(with_levels)
        .filter(|(_, d)| !d.is_empty())
        .collect();
    if settings.is_empty() {
        return Err(vec![
            ctx.finding(path, Status::Error)
                .message(format!(
                    "`{key}` in {path} holds no log level gate recognises"
                ))
                .remediation("point `key` at the level setting itself")
                .build(),
        ]);
    }
    Ok(settings)
}

/// The distinct standard levels of some directives, in severity order.
fn levels_of(directives: &[&Directive]) -> String {
    let order = ["trace", "debug", "info", "warn", "error", "fatal", "off"];
    order
        .iter()
        .filter(|l| directives.iter().any(|d| d.level == **l))
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn run(params: serde_json::Value, files: &[(&str, &str)]) -> Vec<Finding> {
        let params: Params = serde_json::from_value(params).expect("params parse");
        evaluate(&ctx(), &params, |path| {
            files
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(p, text)| SourceFile::new(*p, *text))
                .ok_or_else(|| format!("{path} is outside the fs grants; add it to `fs`"))
        })
    }

    fn levels(value: &str, rust_log: bool) -> Vec<(&str, &'static str)> {
        directives(value, rust_log)
            .into_iter()
            .map(|d| {
                (
                    &value[value.find(&d.text).unwrap()..][..d.text.len()],
                    d.level,
                )
            })
            .collect()
    }

    #[test]
    fn splits_directives() {
        assert_eq!(levels("info", false), vec![("info", "info")]);
        assert_eq!(levels("DEBUG", false), vec![("DEBUG", "debug")]);
        assert_eq!(levels("DEBUG, stdout", false), vec![("DEBUG", "debug")]);
        assert_eq!(
            levels("info,hyper=debug,tower_http=TRACE", true),
            vec![
                ("info", "info"),
                ("hyper=debug", "debug"),
                ("tower_http=TRACE", "trace")
            ]
        );
        assert_eq!(
            levels("warn,my_crate", true),
            vec![("warn", "warn"), ("my_crate", "trace")]
        );
        assert_eq!(levels("my_crate", false), vec![]);
        assert_eq!(levels("info/foo.*", true), vec![("info", "info")]);
        assert_eq!(
            levels("app[span{id=1}]=debug", true),
            vec![("app[span{id=1}]=debug", "debug")]
        );
        assert_eq!(levels("Verbose", false), vec![("Verbose", "trace")]);
        assert_eq!(levels("/var/log/app.log", false), vec![]);
    }

    #[test]
    fn recognises_level_keys() {
        let path = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        for key in [
            "level",
            "LOG_LEVEL",
            "logLevel",
            "log-level",
            "RUST_LOG",
            "logging.level.root",
            "Logging.LogLevel.Default",
            "Serilog.MinimumLevel.Override.Microsoft",
            "log4j.rootLogger",
            "APP_LOG_LEVEL",
        ] {
            assert!(is_level_key(&path(key)), "{key}");
        }
        for key in ["server.port", "log.file", "DEBUG_TOOLBAR", "logger.name"] {
            assert!(!is_level_key(&path(key)), "{key}");
        }
    }

    #[test]
    fn forbidden_level_fails_at_its_line() {
        let yaml = "logging:\n  level:\n    root: INFO\n    com.example: DEBUG\n";
        let out = run(
            serde_json::json!({"files": ["app.yaml"]}),
            &[("app.yaml", yaml)],
        );
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.subject, "app.yaml#logging.level.com.example");
        assert_eq!(
            f.message,
            "`logging.level.com.example` is set to `DEBUG` (forbidden: debug, trace)"
        );
        let loc = f.location.as_ref().unwrap();
        assert_eq!(
            (loc.file.as_str(), loc.line, loc.column),
            ("app.yaml", Some(4), Some(18))
        );
    }

    #[test]
    fn rust_log_directives_are_each_checked() {
        let env = "PORT=8080\nRUST_LOG=info,hyper=debug\n";
        let out = run(serde_json::json!({"files": [".env"]}), &[(".env", env)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(
            out[0].message,
            "`RUST_LOG` enables debug via `hyper=debug` (forbidden: debug, trace)"
        );
        assert_eq!(out[0].location.as_ref().unwrap().line, Some(2));
    }

    #[test]
    fn clean_file_passes_with_evidence() {
        let toml = "[log]\nlevel = \"warn\"\n[server]\nport = 8080\n";
        let out = run(
            serde_json::json!({"files": ["app.toml"]}),
            &[("app.toml", toml)],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Pass);
        assert_eq!(out[0].subject, "app.toml");
        assert!(
            out[0]
                .evidence
                .contains(&("keys".to_string(), "log.level".to_string()))
        );
        assert!(
            out[0]
                .evidence
                .contains(&("levels".to_string(), "warn".to_string()))
        );
    }

    #[test]
    fn custom_forbidden_levels_and_aliases() {
        let json = r#"{"Serilog": {"MinimumLevel": {"Default": "Information"}}}"#;
        let out = run(
            serde_json::json!({"files": ["a.json"], "forbidden": ["INFO"]}),
            &[("a.json", json)],
        );
        assert_eq!(out[0].status, Status::Fail);
        let out = run(
            serde_json::json!({"files": ["a.json"]}),
            &[("a.json", json)],
        );
        assert_eq!(out[0].status, Status::Pass);
        let props = "log4j.rootLogger=ALL, stdout\n";
        let out = run(
            serde_json::json!({"files": ["log4j.properties"]}),
            &[("log4j.properties", props)],
        );
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            out[0].message.contains("enables trace via `ALL`"),
            "{}",
            out[0].message
        );
    }

    #[test]
    fn explicit_key_selects_a_subtree_and_must_exist() {
        let yaml = "app:\n  log:\n    level: info\n    modules:\n      db: trace\nother:\n  level: debug\n";
        let files = [("a.yml", yaml)];
        let out = run(
            serde_json::json!({"files": ["a.yml"], "key": "app.log"}),
            &files,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "a.yml#app.log.modules.db");
        assert_eq!(out[0].location.as_ref().unwrap().line, Some(5));

        let out = run(
            serde_json::json!({"files": ["a.yml"], "key": "app.log.level"}),
            &files,
        );
        assert_eq!(out[0].status, Status::Pass);

        let out = run(
            serde_json::json!({"files": ["a.yml"], "key": "logging.level"}),
            &files,
        );
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("has no `logging.level` setting"));

        let yaml = "logging:\n  level: 5\n";
        let out = run(
            serde_json::json!({"files": ["b.yml"], "key": "logging.level"}),
            &[("b.yml", yaml)],
        );
        assert_eq!(out[0].status, Status::Error);
    }

    #[test]
    fn file_without_level_settings_warns() {
        let out = run(
            serde_json::json!({"files": ["a.json"]}),
            &[("a.json", r#"{"port": 1}"#)],
        );
        assert_eq!(out[0].status, Status::Warn);
    }

    #[test]
    fn unreadable_unparseable_and_unknown_files_are_errors() {
        let out = run(
            serde_json::json!({"files": ["missing.yaml", "bad.json", "config", "forced"], "format": null}),
            &[
                ("bad.json", "{\n  \"level\": debug\n}"),
                ("config", "level=debug"),
            ],
        );
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|f| f.status == Status::Error));
        assert!(out[0].message.contains("add it to `fs`"));
        assert_eq!(out[1].location.as_ref().unwrap().line, Some(2));
        assert!(out[2].message.contains("cannot tell the format"));

        let out = run(
            serde_json::json!({"files": ["config"], "format": "env"}),
            &[("config", "level=debug")],
        );
        assert_eq!(out[0].status, Status::Fail);
    }

    #[test]
    fn bad_params_are_reported_together() {
        let out = run(
            serde_json::json!({"files": [], "forbidden": ["debgu"], "format": "xml"}),
            &[],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Error);
        for part in [
            "at least one file",
            "unknown level `debgu`",
            "unknown `format` `xml`",
        ] {
            assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
        }
        let out = LoggingLevels.run(&ctx(), &serde_json::json!({"file": ["a"]}));
        assert_eq!(out[0].status, Status::Error);
    }
}
