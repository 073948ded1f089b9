//! `[[notify]]` in a policy or a rollout spec: which events go to which
//! target ([docs/incidents.md](../../../../docs/incidents.md#notifications)).
//! Decoded with the same span-keeping decoder as every other table, so an
//! unknown key, a misspelt event or a bad URL is an error at its
//! file:line:col; the result is `gate_notify`'s typed [`Rule`].

use std::collections::BTreeMap;
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

fn check(
    src: &SourceFile,
    raw: RawNotify,
    at: String,
    from: &Source<'_>,
    errors: &mut Errors,
) -> Option<Rule> {
    let mut ok = true;
    let fail = |errors: &mut Errors, span: std::ops::Range<usize>, m: String, h: String| {
        errors.push(PolicyError::at(&src.origin_of(&span), m).with_help(h));
    };
    let name = raw.name.get_ref().clone();
    let name_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'));
    if !name_ok {
        ok = false;
        fail(
            errors,
            raw.name.span(),
            format!("notify `name` `{name}` is not a lower-case name"),
            "use lower-case letters, digits, `-` and `_`, e.g. `ops-webhook`".into(),
        );
    }
    let kind = *raw.target.get_ref();
    // Keys that belong to other targets.
    let allowed_keys: &[&str] = match kind {
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
            && !allowed_keys.contains(&key)
        {
            ok = false;
            fail(
                errors,
                span,
                format!("`{key}` does not apply to a `{kind}` target"),
                format!(
                    "a `{kind}` target takes {}",
                    allowed_keys
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    let table_span = raw.name.span();
    let required =
        |errors: &mut Errors, key: &str, v: &Option<Spanned<String>>| -> Option<String> {
            match v {
                Some(v) => Some(v.get_ref().clone()),
                None => {
                    errors.push(
                        PolicyError::at(
                            &src.origin_of(&table_span),
                            format!("a `{kind}` target needs `{key}`"),
                        )
                        .with_help(format!("add `{key} = …` to this [[notify]]")),
                    );
                    None
                }
            }
        };
    let env = |errors: &mut Errors, v: &Option<Spanned<String>>| {
        if let Some(v) = v
            && !config::is_env_name(v.get_ref())
        {
            errors.push(
                PolicyError::at(
                    &src.origin_of(&v.span()),
                    "this is not the name of an environment variable",
                )
                .with_help(
                    "name the variable that holds the secret (e.g. `GATE_WEBHOOK_SECRET`), never the secret itself",
                ),
            );
            return false;
        }
        true
    };
    ok &= env(errors, &raw.secret_env);
    ok &= env(errors, &raw.token_env);
    let url = |errors: &mut Errors, default: Option<&str>| -> Option<config::Url> {
        let (text, span) = match (&raw.url, default) {
            (Some(u), _) => (u.get_ref().as_str(), u.span()),
            (None, Some(d)) => (d, table_span.clone()),
            (None, None) => return None,
        };
        match config::parse_url(text) {
            Ok(u) => Some(u),
            Err((m, h)) => {
                errors.push(PolicyError::at(&src.origin_of(&span), m).with_help(h));
                None
            }
        }
    };
    let target = match kind {
        TargetKind::Webhook => {
            let u = match &raw.url {
                Some(_) => url(errors, None),
                None => {
                    required(errors, "url", &None);
                    None
                }
            };
            let s = required(errors, "secret_env", &raw.secret_env);
            u.zip(s)
                .map(|(url, secret_env)| Target::Webhook { url, secret_env })
        }
        TargetKind::Slack => {
            let u = url(errors, Some(SLACK_API));
            let t = required(errors, "token_env", &raw.token_env);
            let c = required(errors, "channel", &raw.channel);
            match (u, t, c) {
                (Some(url), Some(token_env), Some(channel)) => Some(Target::Slack {
                    url,
                    token_env,
                    channel,
                }),
                _ => None,
            }
        }
        TargetKind::Markdown => required(errors, "dir", &raw.dir).map(|d| Target::Markdown {
            dir: resolve(src.dir(), &d),
        }),
    };
    let events_span = raw.events.span();
    let mut events = Vec::new();
    for e in raw.events.into_inner() {
        let k = *e.get_ref();
        if !from.allowed.contains(&k) {
            ok = false;
            fail(
                errors,
                e.span(),
                format!("`{k}` is not an event of {}", from.what),
                format!(
                    "{} sends {}",
                    from.what,
                    from.allowed
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        } else if !events.contains(&k) {
            events.push(k);
        }
    }
    if events.is_empty() && ok {
        ok = false;
        fail(
            errors,
            events_span,
            "`events` is empty: this rule would never notify".into(),
            "list the events to send, e.g. `events = [\"rolled-back\", \"promoted\"]`".into(),
        );
    }
    let mut templates = BTreeMap::new();
    for (k, path) in raw.templates.unwrap_or_default() {
        let resolved: PathBuf = resolve(src.dir(), path.get_ref());
        if !resolved.is_file() {
            ok = false;
            fail(
                errors,
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
        ok = false;
        fail(
            errors,
            table_span.clone(),
            e.to_string(),
            "fix the template (minijinja, Jinja2 syntax); `gate notify render` shows what it renders".into(),
        );
    }
    let exemption_days = match raw.exemption_days {
        None => DEFAULT_EXEMPTION_DAYS.to_vec(),
        Some(days) => {
            let span = days.span();
            let mut d: Vec<u32> = days
                .into_inner()
                .into_iter()
                .map(Spanned::into_inner)
                .collect();
            d.sort_unstable();
            d.dedup();
            if d.is_empty() {
                ok = false;
                fail(
                    errors,
                    span,
                    "`exemption_days` is empty".into(),
                    "write thresholds in days, e.g. `[14, 7, 1]`".into(),
                );
            }
            d
        }
    };
    let timeout = match raw.timeout_ms {
        None => DEFAULT_TIMEOUT,
        Some(t) if *t.get_ref() == 0 => {
            ok = false;
            fail(
                errors,
                t.span(),
                "`timeout_ms` must be more than 0".into(),
                "e.g. `timeout_ms = 5000`".into(),
            );
            DEFAULT_TIMEOUT
        }
        Some(t) => Duration::from_millis(*t.get_ref()),
    };
    if !ok {
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
