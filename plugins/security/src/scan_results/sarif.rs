//! The slice of SARIF 2.1.0 that deciding "is anything unsuppressed and severe"
//! needs, with the spec's defaulting rules (level, kind, rule lookup, messages).

use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
pub struct Log {
    pub version: Option<Value>,
    pub runs: Option<Vec<Run>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub tool: Tool,
    /// Absent means the tool did not produce results (§3.14.23); empty means none found.
    pub results: Option<Vec<SarifResult>>,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    #[serde(default)]
    pub invocations: Vec<Invocation>,
}

#[derive(Deserialize)]
pub struct Tool {
    pub driver: ToolComponent,
    #[serde(default)]
    pub extensions: Vec<ToolComponent>,
}

#[derive(Deserialize)]
pub struct ToolComponent {
    pub name: Option<String>,
    #[serde(default)]
    pub rules: Vec<ReportingDescriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportingDescriptor {
    pub id: Option<String>,
    pub name: Option<String>,
    pub short_description: Option<Message>,
    pub default_configuration: Option<Configuration>,
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub message_strings: Map<String, Value>,
    pub help_uri: Option<String>,
}

#[derive(Deserialize)]
pub struct Configuration {
    pub level: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    pub rule_id: Option<String>,
    pub rule_index: Option<usize>,
    pub rule: Option<RuleReference>,
    pub kind: Option<String>,
    pub level: Option<String>,
    pub message: Option<Message>,
    #[serde(default)]
    pub locations: Vec<Location>,
    pub suppressions: Option<Vec<Suppression>>,
    pub baseline_state: Option<String>,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReference {
    pub id: Option<String>,
    pub index: Option<usize>,
    pub tool_component: Option<ToolComponentReference>,
}

#[derive(Deserialize)]
pub struct ToolComponentReference {
    pub index: Option<usize>,
    pub name: Option<String>,
}

#[derive(Deserialize)]
pub struct Message {
    pub text: Option<String>,
    pub markdown: Option<String>,
    pub id: Option<String>,
    #[serde(default)]
    pub arguments: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub physical_location: Option<PhysicalLocation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalLocation {
    pub artifact_location: Option<ArtifactLocation>,
    pub region: Option<Region>,
}

#[derive(Deserialize)]
pub struct ArtifactLocation {
    pub uri: Option<String>,
    pub index: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    pub start_line: Option<u32>,
    pub start_column: Option<u32>,
}

#[derive(Deserialize)]
pub struct Artifact {
    pub location: Option<ArtifactLocation>,
}

#[derive(Deserialize)]
pub struct Suppression {
    pub status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    pub execution_successful: Option<bool>,
}

/// SARIF levels in rising order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    None,
    Note,
    Warning,
    Error,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "none" => Level::None,
            "note" => Level::Note,
            "warning" => Level::Warning,
            "error" => Level::Error,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

impl Run {
    pub fn tool_name(&self) -> &str {
        self.tool.driver.name.as_deref().unwrap_or("unknown tool")
    }

    /// The rule a result points at: by explicit reference (possibly into an
    /// extension), by `ruleIndex`, or by id in the driver and then the extensions.
    pub fn rule_of(&self, r: &SarifResult) -> Option<&ReportingDescriptor> {
        if let Some(reference) = &r.rule {
            let component = match &reference.tool_component {
                Some(ToolComponentReference { index: Some(i), .. }) => self.tool.extensions.get(*i),
                Some(ToolComponentReference { name: Some(n), .. }) => self
                    .tool
                    .extensions
                    .iter()
                    .find(|e| e.name.as_deref() == Some(n)),
                _ => Some(&self.tool.driver),
            };
            if let Some(component) = component {
                if let Some(i) = reference.index {
                    return component.rules.get(i);
                }
                if let Some(id) = &reference.id {
                    return component.rules.iter().find(|d| d.id.as_deref() == Some(id));
                }
            }
        }
        if let Some(i) = r.rule_index {
            return self.tool.driver.rules.get(i);
        }
        let id = r
            .rule_id
            .as_deref()
            .or(r.rule.as_ref().and_then(|x| x.id.as_deref()))?;
        let all = || {
            std::iter::once(&self.tool.driver)
                .chain(&self.tool.extensions)
                .flat_map(|c| &c.rules)
        };
        all()
            .find(|d| d.id.as_deref() == Some(id))
            // Hierarchical ids: `CA2000/1` falls back to `CA2000`.
            .or_else(|| {
                id.rsplit_once('/')
                    .and_then(|(base, _)| all().find(|d| d.id.as_deref() == Some(base)))
            })
    }

    /// The file a result is about, as the report wrote it.
    pub fn uri_of(&self, r: &SarifResult) -> Option<String> {
        let loc = r
            .locations
            .iter()
            .find_map(|l| l.physical_location.as_ref())?;
        let art = loc.artifact_location.as_ref()?;
        let uri = art.uri.clone().or_else(|| {
            let i = art.index?;
            self.artifacts.get(i)?.location.as_ref()?.uri.clone()
        })?;
        Some(
            uri.strip_prefix("file://")
                .map(str::to_string)
                .unwrap_or(uri),
        )
    }
}

impl SarifResult {
    pub fn rule_id<'a>(&'a self, rule: Option<&'a ReportingDescriptor>) -> Option<&'a str> {
        self.rule_id
            .as_deref()
            .or(self.rule.as_ref().and_then(|r| r.id.as_deref()))
            .or(rule.and_then(|r| r.id.as_deref()))
    }

    /// §3.27.10: a result whose kind is not `fail` has level `none`; otherwise its
    /// own level, else the rule's default, else `warning`.
    pub fn level(&self, rule: Option<&ReportingDescriptor>) -> Level {
        if self.kind.as_deref().is_some_and(|k| k != "fail") {
            return Level::None;
        }
        self.level
            .as_deref()
            .or(rule.and_then(|r| r.default_configuration.as_ref()?.level.as_deref()))
            .and_then(Level::parse)
            .unwrap_or(Level::Warning)
    }

    /// GitHub's `security-severity` property (0–10), on the result or its rule.
    pub fn security_severity(&self, rule: Option<&ReportingDescriptor>) -> Option<f64> {
        let read = |props: &Map<String, Value>| -> Option<f64> {
            match props.get("security-severity")? {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        };
        read(&self.properties).or_else(|| rule.and_then(|r| read(&r.properties)))
    }

    /// Suppressed when at least one suppression exists and none is still under
    /// review or rejected (§3.27.23; a suppression without status is accepted).
    pub fn is_suppressed(&self) -> bool {
        match &self.suppressions {
            Some(s) if !s.is_empty() => s
                .iter()
                .all(|x| x.status.as_deref().is_none_or(|st| st == "accepted")),
            _ => false,
        }
    }

    /// A result the baseline says is gone is not a current problem.
    pub fn is_absent(&self) -> bool {
        self.baseline_state.as_deref() == Some("absent")
    }

    pub fn text(&self, rule: Option<&ReportingDescriptor>) -> String {
        let m = self.message.as_ref();
        if let Some(t) = m.and_then(|m| m.text.as_deref().or(m.markdown.as_deref())) {
            return substitute(t, &m.unwrap().arguments);
        }
        let from_rule = m.and_then(|m| {
            let template = rule?.message_strings.get(m.id.as_deref()?)?;
            let t = template
                .get("text")
                .or(template.get("markdown"))?
                .as_str()?;
            Some(substitute(t, &m.arguments))
        });
        from_rule
            .or_else(|| rule.and_then(|r| r.short_description.as_ref()?.text.clone()))
            .or_else(|| rule.and_then(|r| r.name.clone()))
            .unwrap_or_default()
    }
}

/// Fills `{0}`, `{1}`, … placeholders from message arguments.
fn substitute(template: &str, args: &[String]) -> String {
    let mut out = template.to_string();
    for (i, a) in args.iter().enumerate() {
        out = out.replace(&format!("{{{i}}}"), a);
    }
    out
}
