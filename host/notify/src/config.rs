//! A `[[notify]]` rule, checked: which events go to which target, with which
//! templates. Policies and rollout specs decode the table with their own
//! span-keeping decoder (`gate_eval::policy::notify`) into these types.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
pub use url::Url;

use crate::event::EventKind;

/// `target = "…"`: where a rule's notifications go.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum TargetKind {
    Webhook,
    Slack,
    Markdown,
}

/// A target with what it needs. Secrets are never here: only the names of
/// the environment variables that hold them.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A generic webhook signed per the Standard Webhooks specification.
    Webhook { url: Url, secret_env: String },
    /// Slack's Web API (`chat.postMessage`, then `chat.update`) at `url`
    /// (`https://slack.com/api`, or any server speaking it).
    Slack {
        url: Url,
        token_env: String,
        channel: String,
    },
    /// Markdown files in a directory, ready to paste into a status page or
    /// an email.
    Markdown { dir: PathBuf },
}

impl Target {
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Webhook { .. } => TargetKind::Webhook,
            Target::Slack { .. } => TargetKind::Slack,
            Target::Markdown { .. } => TargetKind::Markdown,
        }
    }

    /// Where it delivers, for messages: the URL (which holds no secret) or
    /// the directory.
    pub fn describe(&self) -> String {
        match self {
            Target::Webhook { url, .. } | Target::Slack { url, .. } => url.to_string(),
            Target::Markdown { dir } => dir.display().to_string(),
        }
    }
}

/// One `[[notify]]` rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Unique in its policy or spec; names the target in the outbox.
    pub name: String,
    pub target: Target,
    pub events: Vec<EventKind>,
    /// Templates that replace the defaults, by event kind (resolved paths).
    pub templates: BTreeMap<EventKind, PathBuf>,
    /// `exemption-expiring`: notify when an exemption has at most this many
    /// days left, once per exemption and threshold.
    pub exemption_days: Vec<u32>,
    /// How long one delivery attempt may take.
    pub timeout: Duration,
    /// Where the rule was written (`file:line:col`), for messages.
    pub at: String,
}

/// `exemption_days` when a rule does not set it.
pub const DEFAULT_EXEMPTION_DAYS: [u32; 3] = [14, 7, 1];
/// `timeout` when a rule does not set it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl Rule {
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }
}

/// Parses a target URL: http or https with a host, and no user or password
/// (a secret comes from the environment, never from the file).
pub fn parse_url(text: &str) -> Result<Url, (String, String)> {
    let url = Url::parse(text).map_err(|e| {
        (
            format!("`url` is not a URL: {e}"),
            "write an absolute http:// or https:// URL".to_string(),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err((
            format!(
                "`url` has scheme `{}`: only http and https are allowed",
                url.scheme()
            ),
            "write an http:// or https:// URL".to_string(),
        ));
    }
    if url.host().is_none() {
        return Err((
            "`url` has no host".to_string(),
            "write an absolute URL such as `https://hooks.example.com/gate`".to_string(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err((
            "`url` carries credentials".to_string(),
            "secrets come from the environment: remove the user and password from the URL and name the variable with `secret_env` or `token_env`".to_string(),
        ));
    }
    Ok(url)
}

/// Whether `name` can be an environment variable's name.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_on_the_parsed_url() {
        assert!(parse_url("https://hooks.example.com/x").is_ok());
        assert!(parse_url("http://127.0.0.1:8080/").is_ok());
        assert!(parse_url("ftp://example.com/").is_err());
        assert!(parse_url("file:///etc/passwd").is_err());
        assert!(parse_url("https://user:pw@example.com/").is_err());
        assert!(parse_url("HTTPS://EXAMPLE.com").is_ok());
        assert!(parse_url("not a url").is_err());
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("GATE_WEBHOOK_SECRET"));
        assert!(!is_env_name("whsec_abc="));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name(""));
    }
}
