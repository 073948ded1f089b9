//! Host-side copies of plugin metadata (`describe()`), detached from the bindings.

use serde::Serialize;

use crate::bindings::gate::plugin::types as wit;
use crate::model::Severity;

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
