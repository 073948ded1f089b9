//! Host-side copies of plugin metadata (`describe()`), detached from the bindings.

use serde::Serialize;

use crate::bindings::gate::plugin::types as wit;
use gate_core::model::Severity;

#[derive(Clone, Debug, Serialize)]
pub struct PluginMeta {
    pub id: String,
    pub version: String,
    pub description: String,
    pub checks: Vec<CheckMeta>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckMeta {
    pub id: String,
    pub title: String,
    pub description: String,
    pub default_severity: Severity,
    pub params: Vec<ParamMeta>,
    pub capabilities: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
