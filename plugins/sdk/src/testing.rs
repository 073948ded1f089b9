//! Test helpers for plugin crates (feature `testing`, for `[dev-dependencies]`
//! only, so none of this reaches a component).
//!
//! [`assert_catalogue_invariants`] holds every plugin's `describe()` to the
//! rules the host enforces when it loads a plugin (a check id lives in the
//! plugin's namespace, is well-formed and unique) and to the rules that keep
//! `gate checks list` and the docs readable (titles, descriptions, declared
//! capabilities and parameters). [`assert_checks_documented`] ties each check
//! to its page under `docs/checks/`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::{CheckInfo, ParamInfo, PluginInfo};

/// Capabilities a check may declare (`http|net` means either).
pub const CAPABILITIES: [&str; 8] = [
    "fs", "env", "http", "net", "sql", "unix", "metrics", "system",
];

/// Panics, naming every broken rule, unless the catalogue keeps them all:
///
/// * the plugin id is a lower-case kebab-case name; version and description are set;
/// * there is at least one check, and every check id is `<plugin>.<name>`, with
///   lower-case kebab-case segments, and appears once;
/// * every check has a title and a description, declares at least one known
///   capability, and its parameters have unique snake_case names, a kind and a
///   description; a required parameter has no default.
pub fn assert_catalogue_invariants(catalog: &PluginInfo) {
    let mut problems = Vec::new();
    if !is_name(&catalog.id) {
        problems.push(format!(
            "plugin id `{}` is not a lower-case kebab-case name",
            catalog.id
        ));
    }
    if catalog.version.trim().is_empty() || catalog.description.trim().is_empty() {
        problems.push(format!(
            "plugin `{}` has no version or description",
            catalog.id
        ));
    }
    if catalog.checks.is_empty() {
        problems.push(format!("plugin `{}` declares no check", catalog.id));
    }
    let mut seen = BTreeSet::new();
    for check in &catalog.checks {
        if !seen.insert(check.id.as_str()) {
            problems.push(format!("check `{}` is declared twice", check.id));
        }
        check_problems(&catalog.id, check, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "plugin `{}` breaks catalogue invariants:\n  {}",
        catalog.id,
        problems.join("\n  ")
    );
}

/// Panics unless every check has a page `docs_dir/<check id>.md` that names
/// each of its parameters in backquotes.
pub fn assert_checks_documented(catalog: &PluginInfo, docs_dir: &Path) {
    for check in &catalog.checks {
        let page = docs_dir.join(format!("{}.md", check.id));
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        for param in &check.params {
            assert!(
                text.contains(&format!("`{}`", param.name)),
                "{} does not document parameter `{}`",
                page.display(),
                param.name
            );
        }
    }
}

fn check_problems(plugin: &str, check: &CheckInfo, problems: &mut Vec<String>) {
    let id = &check.id;
    match id
        .strip_prefix(plugin)
        .and_then(|rest| rest.strip_prefix('.'))
    {
        Some(name) if name.split('.').all(is_segment) => {}
        Some(_) => problems.push(format!(
            "check id `{id}` is not lower-case kebab-case segments separated by dots"
        )),
        None => problems.push(format!(
            "check id `{id}` is outside the plugin's namespace `{plugin}.`"
        )),
    }
    if check.title.trim().is_empty() || check.description.trim().is_empty() {
        problems.push(format!("{id}: no title or description"));
    }
    if check.capabilities.is_empty() {
        problems.push(format!("{id}: declares no capability"));
    }
    for cap in check.capabilities.iter().flat_map(|c| c.split('|')) {
        if !CAPABILITIES.contains(&cap) {
            problems.push(format!("{id}: unknown capability `{cap}`"));
        }
    }
    let mut names = BTreeSet::new();
    for param in &check.params {
        if !names.insert(param.name.as_str()) {
            problems.push(format!(
                "{id}: parameter `{}` is declared twice",
                param.name
            ));
        }
        param_problems(id, param, problems);
    }
}

fn param_problems(check: &str, param: &ParamInfo, problems: &mut Vec<String>) {
    let name = &param.name;
    let snake = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !snake {
        problems.push(format!(
            "{check}: parameter `{name}` is not a snake_case name"
        ));
    }
    if param.kind.trim().is_empty() || param.description.trim().is_empty() {
        problems.push(format!(
            "{check}: parameter `{name}` has no kind or description"
        ));
    }
    if param.required && param.default.is_some() {
        problems.push(format!(
            "{check}: parameter `{name}` is required yet has a default"
        ));
    }
}

/// A lower-case kebab-case name starting with a letter (`acme-checks`).
fn is_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase()) && is_segment(s)
}

/// `[a-z0-9]+(-[a-z0-9]+)*`.
fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Severity, param, param_default};

    fn catalog(checks: Vec<CheckInfo>) -> PluginInfo {
        PluginInfo {
            id: "acme".into(),
            version: "1".into(),
            description: "Acme's checks".into(),
            checks,
        }
    }

    fn check(id: &str, params: Vec<ParamInfo>, capabilities: &[&str]) -> CheckInfo {
        CheckInfo {
            id: id.into(),
            title: "A check".into(),
            description: "Checks a thing".into(),
            default_severity: Severity::Low,
            params,
            capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn problems(catalog: PluginInfo) -> String {
        let panic = std::panic::catch_unwind(|| assert_catalogue_invariants(&catalog))
            .expect_err("the catalogue should break an invariant");
        panic.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn a_sound_catalogue_passes() {
        assert_catalogue_invariants(&catalog(vec![
            check(
                "acme.a",
                vec![param("paths", "list<string>", true, "Files")],
                &["fs"],
            ),
            check(
                "acme.b-c.d",
                vec![param_default("max", "integer", "Cap", "3")],
                &["http|net"],
            ),
        ]));
    }

    #[test]
    fn names_every_broken_rule() {
        let text = problems(catalog(vec![
            check("infra.a", vec![], &["fs"]),
            check("acme.A", vec![], &["fs"]),
            check("acme.b", vec![], &[]),
            check("acme.b", vec![], &["disk"]),
            check(
                "acme.c",
                vec![
                    param_default("Max", "integer", "Cap", "3"),
                    param("x", "", true, "X"),
                    ParamInfo {
                        default: Some("1".into()),
                        ..param("x", "integer", true, "X")
                    },
                ],
                &["fs"],
            ),
        ]));
        for needle in [
            "`infra.a` is outside",
            "`acme.A` is not lower-case",
            "acme.b: declares no capability",
            "`acme.b` is declared twice",
            "unknown capability `disk`",
            "`Max` is not a snake_case",
            "`x` has no kind",
            "`x` is declared twice",
            "`x` is required yet has a default",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }
}
