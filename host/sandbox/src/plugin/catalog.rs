//! Host-side copies of plugin metadata (`describe()`), detached from the bindings.

use serde::{Deserialize, Serialize};

use crate::bindings::gate::plugin::types as wit;
use gate_core::model::Severity;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginMeta {
    pub id: String,
    pub version: String,
    pub description: String,
    pub checks: Vec<CheckMeta>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckMeta {
    pub id: String,
    pub title: String,
    pub description: String,
    pub default_severity: Severity,
    pub params: Vec<ParamMeta>,
    pub capabilities: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamMeta {
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub description: String,
    pub default: Option<String>,
}

pub fn severity(s: wit::Severity) -> Severity {
    match s {
        wit::Severity::Info => Severity::Info,
        wit::Severity::Low => Severity::Low,
        wit::Severity::Medium => Severity::Medium,
        wit::Severity::High => Severity::High,
        wit::Severity::Critical => Severity::Critical,
    }
}

impl From<wit::PluginInfo> for PluginMeta {
    fn from(p: wit::PluginInfo) -> Self {
        PluginMeta {
            id: p.id,
            version: p.version,
            description: p.description,
            checks: p
                .checks
                .into_iter()
                .map(|c| CheckMeta {
                    id: c.id,
                    title: c.title,
                    description: c.description,
                    default_severity: severity(c.default_severity),
                    params: c
                        .params
                        .into_iter()
                        .map(|p| ParamMeta {
                            name: p.name,
                            kind: p.kind,
                            required: p.required,
                            description: p.description,
                            default: p.default,
                        })
                        .collect(),
                    capabilities: c.capabilities,
                })
                .collect(),
        }
    }
}

/// Why a plugin's `describe()` cannot be trusted to name its checks, or `None`.
///
/// Gates select checks by id (`infra.*`) and exemptions waive them by id, so
/// a plugin that could declare another plugin's id would run its own code
/// under that id and collect that check's exemptions. Every id must therefore
/// be a well-formed check id inside the plugin's own namespace (`<plugin>.`),
/// and appear once.
pub fn id_problem(plugin: &str, meta: &PluginMeta) -> Option<String> {
    let namespace = format!("{plugin}.");
    let mut seen = std::collections::BTreeSet::new();
    for check in &meta.checks {
        let id = &check.id;
        if !id.starts_with(&namespace) {
            return Some(format!(
                "declares check `{id}`, outside its namespace: plugin `{plugin}`'s check ids must start with `{namespace}`"
            ));
        }
        if let Some(why) = crate::ids::check_id_problem(id) {
            return Some(format!("declares check `{id}`: {why}"));
        }
        if !seen.insert(id.as_str()) {
            return Some(format!(
                "declares check `{id}` twice; check ids must be unique"
            ));
        }
    }
    None
}

/// Capabilities a check may declare in `describe()` (`http|net` means
/// either): the WIT's capability interfaces that grants control.
pub const CAPABILITIES: [&str; 8] = [
    "fs", "env", "http", "net", "sql", "unix", "metrics", "system",
];

/// Every rule a plugin's `describe()` breaks, one sentence each; empty when
/// it keeps them all. The rules the host enforces when it loads a plugin
/// ([`id_problem`]: ids in the plugin's namespace, well-formed, unique), and
/// the ones that keep `gate checks list` and a policy's grants readable:
/// the plugin's version and description are set and it declares a check;
/// every check has a title and a description and declares at least one
/// known capability; its parameters have unique snake_case names, a kind and
/// a description, and a required one has no default. The guest SDK's
/// `testing::assert_catalogue_invariants` holds a plugin to the same rules
/// in its own unit tests.
pub fn catalogue_problems(plugin: &str, meta: &PluginMeta) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(problem) = id_problem(plugin, meta) {
        problems.push(format!("plugin `{plugin}` {problem}"));
    }
    if meta.version.trim().is_empty() || meta.description.trim().is_empty() {
        problems.push(format!("plugin `{plugin}` has no version or description"));
    }
    if meta.checks.is_empty() {
        problems.push(format!("plugin `{plugin}` declares no check"));
    }
    for check in &meta.checks {
        problems.extend(check_problems(check));
    }
    problems
}

/// The rules one check's metadata breaks (see [`catalogue_problems`]).
pub fn check_problems(check: &CheckMeta) -> Vec<String> {
    let id = &check.id;
    let mut problems = Vec::new();
    if check.title.trim().is_empty() || check.description.trim().is_empty() {
        problems.push(format!("{id}: no title or description"));
    }
    if check.capabilities.is_empty() {
        problems.push(format!("{id}: declares no capability"));
    }
    for cap in check.capabilities.iter().flat_map(|c| c.split('|')) {
        if !CAPABILITIES.contains(&cap) {
            problems.push(format!(
                "{id}: unknown capability `{cap}` (known: {})",
                CAPABILITIES.join(", ")
            ));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for param in &check.params {
        let name = &param.name;
        if !names.insert(name.as_str()) {
            problems.push(format!("{id}: parameter `{name}` is declared twice"));
        }
        let snake = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !snake {
            problems.push(format!("{id}: parameter `{name}` is not a snake_case name"));
        }
        if param.kind.trim().is_empty() || param.description.trim().is_empty() {
            problems.push(format!(
                "{id}: parameter `{name}` has no kind or description"
            ));
        }
        if param.required && param.default.is_some() {
            problems.push(format!(
                "{id}: parameter `{name}` is required yet has a default"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, kind: &str, required: bool, default: Option<&str>) -> ParamMeta {
        ParamMeta {
            name: name.into(),
            kind: kind.into(),
            required,
            description: "what it is".into(),
            default: default.map(str::to_string),
        }
    }

    #[test]
    fn a_sound_catalogue_has_no_problems() {
        let mut m = meta(&["acme.a", "acme.b-c.d"]);
        m.description = "Acme's checks".into();
        for c in &mut m.checks {
            c.title = "A check".into();
            c.description = "Checks a thing".into();
            c.capabilities = vec!["http|net".into()];
            c.params = vec![param("paths", "list<string>", true, None)];
        }
        assert_eq!(catalogue_problems("acme", &m), Vec::<String>::new());
    }

    #[test]
    fn names_every_broken_rule() {
        let mut m = meta(&["infra.a", "acme.b"]);
        m.checks[1].capabilities = vec!["disk".into()];
        m.checks[1].params = vec![
            param("Max", "integer", false, Some("3")),
            param("x", "", true, None),
            param("x", "integer", true, Some("1")),
        ];
        let text = catalogue_problems("acme", &m).join("\n");
        for needle in [
            "`infra.a`, outside its namespace",
            "plugin `acme` has no version or description",
            "infra.a: no title or description",
            "infra.a: declares no capability",
            "acme.b: unknown capability `disk`",
            "`Max` is not a snake_case",
            "`x` has no kind",
            "`x` is declared twice",
            "`x` is required yet has a default",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(
            catalogue_problems("acme", &meta(&[]))
                .contains(&"plugin `acme` declares no check".to_string())
        );
    }

    fn meta(ids: &[&str]) -> PluginMeta {
        PluginMeta {
            id: "acme".into(),
            version: "1".into(),
            description: String::new(),
            checks: ids
                .iter()
                .map(|id| CheckMeta {
                    id: id.to_string(),
                    title: String::new(),
                    description: String::new(),
                    default_severity: Severity::Low,
                    params: Vec::new(),
                    capabilities: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn ids_must_live_in_the_plugins_namespace() {
        assert_eq!(id_problem("acme", &meta(&["acme.a", "acme.b-c.d"])), None);
        for foreign in ["infra.disk-space", "acmex.a", "acme", "acme.", ".acme.a"] {
            let why = id_problem("acme", &meta(&["acme.a", foreign])).unwrap();
            assert!(why.contains(&format!("`{foreign}`")), "{why}");
        }
        let why = id_problem("acme", &meta(&["acme.A"])).unwrap();
        assert!(why.contains("kebab-case"), "{why}");
    }

    #[test]
    fn ids_must_be_unique() {
        let why = id_problem("acme", &meta(&["acme.a", "acme.b", "acme.a"])).unwrap();
        assert!(why.contains("`acme.a` twice"), "{why}");
    }
}
