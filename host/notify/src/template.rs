//! Communication templates: one per event kind, Markdown, rendered with
//! minijinja (Jinja2 syntax) from the event's fields. The defaults are
//! built in; a rule's `templates = { step = "file" }` replaces one, read
//! when the rule is loaded, so an error in it (named by file and line)
//! stops the run before anything happens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::Environment;

use crate::NotifyError;
use crate::event::{Event, EventKind};

/// The built-in template of each kind, as shipped in the binary.
pub fn default_source(kind: EventKind) -> &'static str {
    match kind {
        EventKind::RolloutStarted => include_str!("../templates/rollout-started.md.j2"),
        EventKind::Step => include_str!("../templates/step.md.j2"),
        EventKind::AwaitingApproval => include_str!("../templates/awaiting-approval.md.j2"),
        EventKind::Promoted => include_str!("../templates/promoted.md.j2"),
        EventKind::RolledBack => include_str!("../templates/rolled-back.md.j2"),
        EventKind::AnalysisFailed => include_str!("../templates/analysis-failed.md.j2"),
        EventKind::EvaluationFailed => include_str!("../templates/evaluation-failed.md.j2"),
        EventKind::ExemptionExpiring => include_str!("../templates/exemption-expiring.md.j2"),
        EventKind::DrillResult => include_str!("../templates/drill-result.md.j2"),
    }
}

/// The templates of one rule: the defaults, with its overrides.
pub struct Templates {
    env: Environment<'static>,
    /// The template's name in `env` for each kind: the override's path, or
    /// `default/<kind>.md`.
    names: BTreeMap<EventKind, String>,
}

impl Templates {
    /// The defaults and the given overrides, each read and compiled now.
    pub fn load(overrides: &BTreeMap<EventKind, PathBuf>) -> Result<Templates, NotifyError> {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        let mut names = BTreeMap::new();
        for &kind in <EventKind as strum::VariantArray>::VARIANTS {
            let (name, source) = match overrides.get(&kind) {
                Some(path) => (path.display().to_string(), read(path)?),
                None => (
                    format!("default/{kind}.md"),
                    default_source(kind).to_string(),
                ),
            };
            env.add_template_owned(name.clone(), source)
                .map_err(|e| template_error(&name, &e))?;
            names.insert(kind, name);
        }
        Ok(Templates { env, names })
    }

    /// `event` rendered with its kind's template.
    pub fn render(&self, event: &Event) -> Result<String, NotifyError> {
        let name = &self.names[&event.kind];
        let template = self
            .env
            .get_template(name)
            .map_err(|e| template_error(name, &e))?;
        let text = template
            .render(event.context())
            .map_err(|e| template_error(name, &e))?;
        Ok(text)
    }
}

fn read(path: &Path) -> Result<String, NotifyError> {
    std::fs::read_to_string(path).map_err(|e| NotifyError::Template {
        at: path.display().to_string(),
        message: format!("cannot read the template: {e}"),
    })
}

/// A template error located at the template's file and line.
fn template_error(name: &str, e: &minijinja::Error) -> NotifyError {
    let at = match e.line() {
        Some(line) => format!("{name}:{line}"),
        None => name.to_string(),
    };
    let mut message = e.kind().to_string();
    if let Some(detail) = e.detail() {
        message.push_str(": ");
        message.push_str(detail);
    }
    NotifyError::Template { at, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    #[test]
    fn every_default_renders_without_its_fields() {
        let t = Templates::load(&BTreeMap::new()).unwrap();
        for &kind in <EventKind as strum::VariantArray>::VARIANTS {
            let e = Event::new(kind, "web", &[], "summary", Map::new());
            let text = t.render(&e).unwrap();
            assert!(text.contains("web"), "{kind}: {text}");
        }
    }

    #[test]
    fn an_override_replaces_the_default_and_its_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("step.md");
        std::fs::write(&good, "step {{ step }} of {{ subject }}\n").unwrap();
        let t = Templates::load(&BTreeMap::from([(EventKind::Step, good)])).unwrap();
        let mut f = Map::new();
        f.insert("step".into(), json!(3));
        let e = Event::new(EventKind::Step, "web", &[], "s", f);
        assert_eq!(t.render(&e).unwrap(), "step 3 of web\n");

        let bad = dir.path().join("bad.md");
        std::fs::write(&bad, "line one\n{% if step %}\nno end\n").unwrap();
        let err = Templates::load(&BTreeMap::from([(EventKind::Step, bad.clone())]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with(&format!("{}:", bad.display())),
            "names the file: {err}"
        );
        assert!(
            err.contains(":3") || err.contains(":2"),
            "names the line: {err}"
        );
    }
}
