//! `[[notify]]` in a policy or a rollout spec: which events go to which
//! target ([docs/incidents.md](../../../../docs/incidents.md#notifications)).
//! Decoded with the same span-keeping decoder as every other table, so an
//! unknown key, a misspelt event or a bad URL is an error at its
//! file:line:col; the result is `gate_notify`'s typed [`Rule`].

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use gate_notify::config::{self, DEFAULT_EXEMPTION_DAYS, DEFAULT_TIMEOUT};
use gate_notify::{EventKind, Rule, Target, TargetKind};
use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use super::PolicyError;
use super::decode::{Item, Rejection, decode};
use super::errors::Errors;
use super::source::{SourceFile, resolve};

/// `[[notify]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    pub name: Spanned<String>,
    pub target: Spanned<TargetKind>,
    pub events: Spanned<Vec<Spanned<EventKind>>>,
    pub url: Option<Spanned<String>>,
    pub secret_env: Option<Spanned<String>>,
    pub token_env: Option<Spanned<String>>,
    pub channel: Option<Spanned<String>>,
    pub dir: Option<Spanned<String>>,
    pub templates: Option<BTreeMap<EventKind, Spanned<String>>>,
    pub exemption_days: Option<Spanned<Vec<Spanned<u32>>>>,
    pub timeout_ms: Option<Spanned<u64>>,
}

impl Item for RawNotify {
    fn reject(key: &str, _value: &DeValue<'_>, what: &str) -> Option<Rejection> {
        matches!(key, "secret" | "token" | "password" | "webhook_secret").then(|| Rejection {
            message: format!("`{key}` is not allowed in {what}"),
            help: "secrets come from the environment, never from the file: put it in an \
                   environment variable and name it with `secret_env` (webhook) or \
                   `token_env` (slack)"
                .to_string(),
            at_value: false,
        })
    }
}

/// Where a rule's events come from: `what` names the file kind in messages.
pub struct Source<'a> {
    pub what: &'a str,
    /// The event kinds this kind of file sends.
    pub allowed: &'a [EventKind],
}

/// What a policy's rules can name.
pub const POLICY_EVENTS: Source<'static> = Source {
    what: "a policy",
    allowed: &[
        EventKind::EvaluationFailed,
        EventKind::ExemptionExpiring,
        EventKind::DrillResult,
    ],
};

/// What a rollout spec's rules can name.
pub const SPEC_EVENTS: Source<'static> = Source {
    what: "a rollout spec",
    allowed: &[
        EventKind::RolloutStarted,
        EventKind::Step,
        EventKind::AwaitingApproval,
        EventKind::Promoted,
        EventKind::RolledBack,
        EventKind::AnalysisFailed,
        EventKind::DrillResult,
    ],
};

/// The Slack Web API's base when a rule gives none.
const SLACK_API: &str = "https://slack.com/api";

/// Decodes `[[notify]]` (`value`, the array) of `src`; every problem is
/// reported to `errors` and its rule dropped.
pub fn decode_rules(
    src: &SourceFile,
    value: Spanned<DeValue<'_>>,
    from: &Source<'_>,
    errors: &mut Errors,
) -> Vec<Rule> {
    let at = src.origin_of(&value.span());
    let items = match value.into_inner() {
        DeValue::Array(items) => items,
        other => {
            errors.push(
                PolicyError::at(
                    &at,
                    format!(
                        "`notify` must be an array of tables, found {}",
                        other.type_str()
                    ),
                )
                .with_help("write `[[notify]]` with double brackets: there may be many"),
            );
            return Vec::new();
        }
    };
    let mut rules: Vec<Rule> = Vec::new();
    for item in items {
        let origin = src.origin_of(&item.span());
        let Some(raw) = decode::<RawNotify>(src, item, "[[notify]]", errors).item else {
            continue;
        };
        let before = rules.len();
        if let Some(rule) = check(src, raw, origin.to_string(), from, errors) {
            if let Some(first) = rules.iter().find(|r| r.name == rule.name) {
                errors.push(
                    PolicyError::at(
                        &origin,
                        format!("a second `[[notify]]` named `{}`", rule.name),
                    )
                    .with_help(format!(
                        "the first is at {}; give each rule its own name",
                        first.at
                    )),
                );
                continue;
            }
            rules.push(rule);
        }
        debug_assert!(rules.len() <= before + 1);
    }
    rules
}

/// Checks one decoded rule, reporting each problem at its own span.
fn check(
    src: &SourceFile,
    raw: RawNotify,
    at: String,
    from: &Source<'_>,
    errors: &mut Errors,
) -> Option<Rule> {
    let mut c = Checker {
        src,
        errors,
        ok: true,
        table: raw.name.span(),
    };
    let name = c.name(&raw.name);
    let kind = *raw.target.get_ref();
    c.stray_keys(kind, &raw);
    let target = c.target(kind, &raw);
    let events = c.events(raw.events, from);
    let templates = c.templates(raw.templates.unwrap_or_default());
    let exemption_days = c.exemption_days(raw.exemption_days);
    let timeout = c.timeout(raw.timeout_ms);
    if !c.ok {
        return None;
    }
    Some(Rule {
        name,
        target: target?,
        events,
        templates,
        exemption_days,
        timeout,
        at,
    })
}

/// The state of checking one rule: where errors go and whether any was
/// found. Each method checks one key.
struct Checker<'a, 'e> {
    src: &'a SourceFile,
    errors: &'e mut Errors,
    ok: bool,
    /// The rule's own span (its `name`), for what is missing from it.
    table: Range<usize>,
}

impl Checker<'_, '_> {
    fn fail(&mut self, span: Range<usize>, message: String, help: String) {
        self.ok = false;
        self.errors
            .push(PolicyError::at(&self.src.origin_of(&span), message).with_help(help));
    }

    fn name(&mut self, name: &Spanned<String>) -> String {
        let text = name.get_ref().clone();
        let valid = text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'));
        if !valid {
            self.fail(
                name.span(),
                format!("notify `name` `{text}` is not a lower-case name"),
                "use lower-case letters, digits, `-` and `_`, e.g. `ops-webhook`".into(),
            );
        }
        text
    }

    /// Keys that belong to other targets.
    fn stray_keys(&mut self, kind: TargetKind, raw: &RawNotify) {
        let allowed: &[&str] = match kind {
            TargetKind::Webhook => &["url", "secret_env"],
            TargetKind::Slack => &["url", "token_env", "channel"],
            TargetKind::Markdown => &["dir"],
        };
        for (key, span) in [
            ("url", raw.url.as_ref().map(Spanned::span)),
            ("secret_env", raw.secret_env.as_ref().map(Spanned::span)),
            ("token_env", raw.token_env.as_ref().map(Spanned::span)),
            ("channel", raw.channel.as_ref().map(Spanned::span)),
            ("dir", raw.dir.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span
                && !allowed.contains(&key)
            {
                self.fail(
                    span,
                    format!("`{key}` does not apply to a `{kind}` target"),
                    format!("a `{kind}` target takes {}", ticked(allowed)),
                );
            }
        }
    }

    /// A key the target cannot do without.
    fn required(
        &mut self,
        kind: TargetKind,
        key: &str,
        v: &Option<Spanned<String>>,
    ) -> Option<String> {
        if v.is_none() {
            self.errors.push(
                PolicyError::at(
                    &self.src.origin_of(&self.table),
                    format!("a `{kind}` target needs `{key}`"),
                )
                .with_help(format!("add `{key} = …` to this [[notify]]")),
            );
        }
        v.as_ref().map(|v| v.get_ref().clone())
    }

    /// `secret_env` / `token_env` name a variable, never hold the secret.
    fn env_name(&mut self, v: &Option<Spanned<String>>) {
        if let Some(v) = v
            && !config::is_env_name(v.get_ref())
        {
            self.fail(
                v.span(),
                "this is not the name of an environment variable".into(),
                "name the variable that holds the secret (e.g. `GATE_WEBHOOK_SECRET`), never \
                 the secret itself"
                    .into(),
            );
        }
    }

    fn url(&mut self, url: &Option<Spanned<String>>, default: Option<&str>) -> Option<config::Url> {
        let (text, span) = match (url, default) {
            (Some(u), _) => (u.get_ref().as_str(), u.span()),
            (None, Some(d)) => (d, self.table.clone()),
            (None, None) => return None,
        };
        match config::parse_url(text) {
            Ok(u) => Some(u),
            Err((m, h)) => {
                self.errors
                    .push(PolicyError::at(&self.src.origin_of(&span), m).with_help(h));
                None
            }
        }
    }

    fn target(&mut self, kind: TargetKind, raw: &RawNotify) -> Option<Target> {
        self.env_name(&raw.secret_env);
        self.env_name(&raw.token_env);
        match kind {
            TargetKind::Webhook => {
                let url = match &raw.url {
                    Some(_) => self.url(&raw.url, None),
                    None => self.required(kind, "url", &None).and(None),
                };
                let secret_env = self.required(kind, "secret_env", &raw.secret_env);
                url.zip(secret_env)
                    .map(|(url, secret_env)| Target::Webhook { url, secret_env })
            }
            TargetKind::Slack => {
                let url = self.url(&raw.url, Some(SLACK_API));
                let token_env = self.required(kind, "token_env", &raw.token_env);
                let channel = self.required(kind, "channel", &raw.channel);
                Some(Target::Slack {
                    url: url?,
                    token_env: token_env?,
                    channel: channel?,
                })
            }
            TargetKind::Markdown => {
                self.required(kind, "dir", &raw.dir)
                    .map(|d| Target::Markdown {
                        dir: resolve(self.src.dir(), &d),
                    })
            }
        }
    }

    fn events(
        &mut self,
        raw: Spanned<Vec<Spanned<EventKind>>>,
        from: &Source<'_>,
    ) -> Vec<EventKind> {
        let span = raw.span();
        let mut events = Vec::new();
        for e in raw.into_inner() {
            let k = *e.get_ref();
            if !from.allowed.contains(&k) {
                self.fail(
                    e.span(),
                    format!("`{k}` is not an event of {}", from.what),
                    format!("{} sends {}", from.what, ticked(from.allowed)),
                );
            } else if !events.contains(&k) {
                events.push(k);
            }
        }
        if events.is_empty() && self.ok {
            self.fail(
                span,
                "`events` is empty: this rule would never notify".into(),
                "list the events to send, e.g. `events = [\"rolled-back\", \"promoted\"]`".into(),
            );
        }
        events
    }

    fn templates(
        &mut self,
        raw: BTreeMap<EventKind, Spanned<String>>,
    ) -> BTreeMap<EventKind, PathBuf> {
        let mut templates = BTreeMap::new();
        for (k, path) in raw {
            let resolved: PathBuf = resolve(self.src.dir(), path.get_ref());
            if !resolved.is_file() {
                self.fail(
                    path.span(),
                    format!("template `{}` does not exist", resolved.display()),
                    "name a template file, relative to this file".into(),
                );
                continue;
            }
            templates.insert(k, resolved);
        }
        // Compiled now, so a template error stops the run before anything happens.
        if let Err(e) = gate_notify::template::Templates::load(&templates) {
            self.fail(
                self.table.clone(),
                e.to_string(),
                "fix the template (minijinja, Jinja2 syntax); `gate notify render` shows what \
                 it renders"
                    .into(),
            );
        }
        templates
    }

    fn exemption_days(&mut self, raw: Option<Spanned<Vec<Spanned<u32>>>>) -> Vec<u32> {
        let Some(days) = raw else {
            return DEFAULT_EXEMPTION_DAYS.to_vec();
        };
        let span = days.span();
        let mut d: Vec<u32> = days
            .into_inner()
            .into_iter()
            .map(Spanned::into_inner)
            .collect();
        d.sort_unstable();
        d.dedup();
        if d.is_empty() {
            self.fail(
                span,
                "`exemption_days` is empty".into(),
                "write thresholds in days, e.g. `[14, 7, 1]`".into(),
            );
        }
        d
    }

    fn timeout(&mut self, raw: Option<Spanned<u64>>) -> Duration {
        match raw {
            None => DEFAULT_TIMEOUT,
            Some(t) if *t.get_ref() == 0 => {
                self.fail(
                    t.span(),
                    "`timeout_ms` must be more than 0".into(),
                    "e.g. `timeout_ms = 5000`".into(),
                );
                DEFAULT_TIMEOUT
            }
            Some(t) => Duration::from_millis(*t.get_ref()),
        }
    }
}

/// `` `a`, `b` `` for a help text.
fn ticked(items: &[impl std::fmt::Display]) -> String {
    items
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
