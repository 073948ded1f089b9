//! `config.cache`: Redis answers PING and runs with the settings the policy
//! requires (e.g. `maxmemory-policy`).
//!
//! Each `net.exchange` is one TCP connection, so the whole conversation is one
//! pipeline: `AUTH`, `PING`, one `CONFIG GET` per setting, then `QUIT`, after
//! which Redis closes the connection and the host returns every reply. The
//! password (from the URL or `password_env`) goes only into that pipeline.

use std::collections::BTreeMap;

use gate_plugin_sdk::host::{env, net};
use gate_plugin_sdk::redact::shown;
use gate_plugin_sdk::target::is_grant_denial;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Severity, Status, param, param_default, params,
};
use serde::Deserialize;
use serde_json::Value;

use crate::resp::{self, Reply};

pub const ID: &str = "config.cache";
const DEFAULT_TIMEOUT_MS: u32 = 3_000;
/// CONFIG GET replies are small; this bounds a misbehaving server.
const MAX_REPLY_BYTES: u32 = 1 << 20;

pub struct Cache;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub url: String,
    #[serde(default)]
    pub require: BTreeMap<String, Value>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl Check for Cache {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Cache reachable and configured".to_string(),
            description: "Speaks RESP to Redis over the `net` grant: PING must answer PONG, and each setting in \
                          `require` (read with CONFIG GET) must have the required value. The password is never \
                          printed."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("url", "string", true, "`redis://[user[:password]@]host[:port][/db]`; the port defaults to 6379. The `net` grant must allow `host:port`."),
                param("require", "{ setting = value | [values] }", false, "Settings and their required values, e.g. `{ \"maxmemory-policy\" = \"allkeys-lru\" }`; a list accepts any of its values. Memory sizes such as \"1gb\" compare by bytes, yes/no as booleans."),
                param("password_env", "string", false, "Environment variable holding the password (instead of putting it in `url`); needs the `env` grant."),
                param_default("timeout_ms", "integer", "Time allowed for the whole exchange.", "3000"),
            ],
            // `env` only serves `password_env`; the run names the grant if it is missing.
            capabilities: vec!["net".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, params) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let timeout_ms = p.timeout_ms;
        evaluate(ctx, &p, &env::get, &|target, data| {
            net::exchange(
                target,
                data,
                &net::ExchangeOptions {
                    max_bytes: MAX_REPLY_BYTES,
                    delimiter: None,
                    timeout_ms,
                },
            )
        })
    }
}

/// A parsed `redis://` URL.
pub struct RedisUrl {
    pub target: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The URL with the password replaced by `***`, for evidence.
    pub shown: String,
}

/// Prints the redacted form only, so the password cannot leak through `{:?}`.
impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    "a `%` in the URL's user info is not followed by two hex digits".to_string()
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's user info is not UTF-8".to_string())
}

pub fn parse_url(url: &str) -> Result<RedisUrl, String> {
    let rest = match url.split_once("://") {
        Some(("redis", rest)) => rest,
        Some(("rediss", _)) => {
            return Err("`rediss://` (TLS) is not supported: the `net` exchange is plain TCP; check TLS with `infra.certificates`".to_string());
        }
        Some((scheme, _)) => {
            return Err(format!(
                "`{scheme}://` is not a Redis URL; use redis://host:port"
            ));
        }
        None => {
            return Err(format!(
                "`{}` is not a URL; use redis://host:port",
                gate_plugin_sdk::redact::url(url)
            ));
        }
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (
                Some(percent_decode(user)?).filter(|s| !s.is_empty()),
                Some(percent_decode(pass)?).filter(|s| !s.is_empty()),
            ),
            None => (Some(percent_decode(u)?).filter(|s| !s.is_empty()), None),
        },
    };
    if hostport.is_empty() {
        return Err("the URL has no host".to_string());
    }
    let has_port = if hostport.starts_with('[') {
        hostport.contains("]:")
    } else {
        hostport.contains(':')
    };
    let target = if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:6379")
    };
    gate_plugin_sdk::target::Target::parse(&target)?;
    let shown_user = match (&username, &password) {
        (Some(u), Some(_)) => format!("{u}:***@"),
        (None, Some(_)) => ":***@".to_string(),
        (Some(u), None) => format!("{u}@"),
        (None, None) => String::new(),
    };
    Ok(RedisUrl {
        shown: format!("redis://{shown_user}{target}"),
        target,
        username,
        password,
    })
}

/// A required value, ready to compare with what CONFIG GET returns.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    Bytes(u64, String),
    Bool(bool),
    Text(String),
}

impl Want {
    fn parse(value: &Value) -> Result<Want, String> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => return Ok(Want::Bool(*b)),
            other => return Err(format!("{other} is not a string, number or boolean")),
        };
        if let Some(b) =
            memory_bytes(&text).filter(|_| text.chars().any(|c| c.is_ascii_alphabetic()))
        {
            return Ok(Want::Bytes(b, text));
        }
        Ok(match text.to_ascii_lowercase().as_str() {
            "yes" | "true" => Want::Bool(true),
            "no" | "false" => Want::Bool(false),
            _ => Want::Text(text),
        })
    }

    fn accepts(&self, actual: &str) -> bool {
        match self {
            Want::Bytes(b, _) => memory_bytes(actual) == Some(*b),
            Want::Bool(b) => match actual.trim().to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" => *b,
                "no" | "false" | "0" => !*b,
                _ => false,
            },
            Want::Text(t) => t.eq_ignore_ascii_case(actual.trim()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Want::Bytes(b, text) => format!("{text} ({b} bytes)"),
            Want::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            Want::Text(t) => t.clone(),
        }
    }
}

/// Redis memory notation: `1k` = 1000, `1kb` = 1024, likewise m/mb, g/gb.
fn memory_bytes(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1 << 10,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// The host's `env.get`, or a stand-in.
pub type LookupEnv<'a> = &'a dyn Fn(&str) -> Result<Option<String>, String>;
/// One `net.exchange` with `host:port`: bytes out, every reply byte back.
pub type Exchange<'a> = &'a dyn Fn(&str, &[u8]) -> Result<Vec<u8>, String>;

/// The settings `require` names, each with the values it accepts.
type Wants<'p> = Vec<(&'p str, Vec<Want>)>;

pub fn evaluate(
    ctx: &Context,
    p: &Params,
    lookup_env: LookupEnv,
    exchange: Exchange,
) -> Vec<Finding> {
    let (mut url, wants) = match validate(p) {
        Ok(v) => v,
        Err(problems) => return params::invalid(ctx, problems.join("; ")),
    };
    let subject = url.target.clone();
    if let Some(var) = &p.password_env {
        match password(ctx, &subject, &url, var, lookup_env) {
            Ok(pw) => url.password = Some(pw),
            Err(f) => return f,
        }
    }
    let cannot_see = |message: String, hint: &str| {
        vec![
            ctx.finding(&subject, Status::Error)
                .message(message)
                .evidence("url", &url.shown)
                .remediation(hint)
                .build(),
        ]
    };
    let replies = match converse(&url, &wants, exchange) {
        Ok(r) => r,
        Err((message, hint)) => return cannot_see(message, &hint),
    };
    let mut replies = replies.into_iter();
    let ping = match greeting(ctx, &subject, &url, &mut replies) {
        Ok(f) => f,
        Err((message, hint)) => return cannot_see(message, hint),
    };
    let mut out = vec![ping];
    for (name, want) in &wants {
        out.push(setting(ctx, &subject, &url, name, want, replies.next()));
    }
    out
}

/// The URL and the required settings, or every problem with the parameters.
fn validate(p: &Params) -> Result<(RedisUrl, Wants<'_>), Vec<String>> {
    let mut problems = Vec::new();
    let url = parse_url(&p.url)
        .map_err(|e| problems.push(format!("`url`: {e}")))
        .ok();
    let mut wants: Wants = Vec::new();
    for (name, value) in &p.require {
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('*') {
            problems.push(format!("`require`: `{name}` is not a single setting name"));
            continue;
        }
        let values: Vec<&Value> = match value {
            Value::Array(items) if !items.is_empty() => items.iter().collect(),
            Value::Array(_) => {
                problems.push(format!("`require.{name}` is an empty list"));
                continue;
            }
            v => vec![v],
        };
        match values
            .into_iter()
            .map(Want::parse)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(w) => wants.push((name, w)),
            Err(e) => problems.push(format!("`require.{name}`: {e}")),
        }
    }
    if p.timeout_ms == 0 {
        problems.push("`timeout_ms` must be at least 1".to_string());
    }
    match url {
        Some(url) if problems.is_empty() => Ok((url, wants)),
        _ => Err(problems),
    }
}

/// The password from `password_env`, or the `error` finding saying why not.
fn password(
    ctx: &Context,
    subject: &str,
    url: &RedisUrl,
    var: &str,
    lookup_env: LookupEnv,
) -> Result<String, Vec<Finding>> {
    match lookup_env(var) {
        Ok(Some(pw)) if !pw.is_empty() => Ok(pw),
        Ok(_) => Err(vec![
            ctx.finding(subject, Status::Error)
                .message(format!(
                    "`{var}` (password_env) is not set, so gate cannot authenticate to {}",
                    url.shown
                ))
                .remediation(format!("export {var} in the environment gate runs in"))
                .build(),
        ]),
        Err(e) => Err(vec![
            ctx.finding(subject, Status::Error)
                .message(format!("cannot read `{var}` (password_env): {e}"))
                .build(),
        ]),
    }
}

/// Sends AUTH (with a password), PING, one CONFIG GET per setting and QUIT in
/// one exchange, and returns the replies; or why Redis could not be seen, and
/// the hint for it.
fn converse(
    url: &RedisUrl,
    wants: &Wants,
    exchange: Exchange,
) -> Result<Vec<Reply>, (String, String)> {
    let mut request = Vec::new();
    if let Some(password) = &url.password {
        match &url.username {
            Some(user) => request.extend(resp::command(&["AUTH", user, password])),
            None => request.extend(resp::command(&["AUTH", password])),
        }
    }
    request.extend(resp::command(&["PING"]));
    for (name, _) in wants {
        request.extend(resp::command(&["CONFIG", "GET", name]));
    }
    request.extend(resp::command(&["QUIT"]));
    let bytes = exchange(&url.target, &request).map_err(|e| {
        let e = scrub(&e, url.password.as_deref());
        let hint = if is_grant_denial(&e) {
            format!(
                "add \"{}\" to the `config` plugin's `net` grant",
                url.target
            )
        } else {
            "check that Redis is running and reachable from where gate runs".to_string()
        };
        (format!("cannot reach Redis at {}: {e}", url.target), hint)
    })?;
    match resp::parse_all(&bytes) {
        Ok((replies, _)) => Ok(replies),
        Err(e) => Err((
            format!("{} did not answer in RESP: {e}", url.target),
            NOT_REDIS.to_string(),
        )),
    }
}

const NOT_REDIS: &str = "check that `url` points at a Redis server";

/// The replies to AUTH (when sent) and PING: the PING finding, or why Redis
/// could not be seen and the hint for it.
fn greeting(
    ctx: &Context,
    subject: &str,
    url: &RedisUrl,
    replies: &mut impl Iterator<Item = Reply>,
) -> Result<Finding, (String, &'static str)> {
    let target = &url.target;
    if url.password.is_some() {
        match replies.next() {
            Some(Reply::Simple(ok)) if ok == "OK" => {}
            Some(other) => {
                let what = scrub(&other.describe(), url.password.as_deref());
                return Err((
                    format!("Redis at {target} refused the credentials: {what}"),
                    "check the user and password (url or password_env)",
                ));
            }
            None => {
                return Err((
                    format!("Redis at {target} closed the connection without answering"),
                    NOT_REDIS,
                ));
            }
        }
    }
    match replies.next() {
        Some(Reply::Simple(pong)) if pong == "PONG" => Ok(ctx
            .finding(subject, Status::Pass)
            .message(format!("Redis at {target} answered PING with PONG"))
            .evidence("url", &url.shown)
            .build()),
        Some(Reply::Error(e)) if e.starts_with("NOAUTH") => Err((
            format!("Redis at {target} requires authentication: {e}"),
            "put the password in `password_env` (or the URL)",
        )),
        Some(other) => Ok(ctx
            .finding(subject, Status::Fail)
            .rule("ping")
            .message(format!(
                "Redis at {target} answered PING with {} instead of PONG",
                other.describe()
            ))
            .evidence("url", &url.shown)
            .remediation(
                "check the server's state (loading, replica without master, out of memory)",
            )
            .build()),
        None => Err((
            format!("Redis at {target} closed the connection without answering PING"),
            NOT_REDIS,
        )),
    }
}

/// The finding for one required setting, from its CONFIG GET reply.
fn setting(
    ctx: &Context,
    subject: &str,
    url: &RedisUrl,
    name: &str,
    want: &[Want],
    reply: Option<Reply>,
) -> Finding {
    let expected_text = want
        .iter()
        .map(Want::describe)
        .collect::<Vec<_>>()
        .join(" or ");
    let base = |status| {
        ctx.finding(format!("{subject}#{name}"), status)
            .evidence("setting", name)
            .evidence("required", &expected_text)
    };
    let items = match reply {
        None => {
            return base(Status::Error)
                .message(format!(
                    "Redis at {} closed the connection before answering CONFIG GET {name}",
                    url.target
                ))
                .build();
        }
        Some(Reply::Error(e)) => {
            return base(Status::Error)
                .message(format!("CONFIG GET {name} failed: {e}"))
                .remediation("allow CONFIG GET for gate's user (ACL `+config|get`), or un-rename the CONFIG command")
                .build();
        }
        Some(Reply::Array(Some(items))) if items.is_empty() => {
            return base(Status::Error)
                .message(format!("Redis at {} has no setting `{name}`", url.target))
                .remediation("check the setting's name against `CONFIG GET *`")
                .build();
        }
        Some(Reply::Array(Some(items))) => items,
        Some(other) => {
            return base(Status::Error)
                .message(format!("CONFIG GET {name} returned {}", other.describe()))
                .build();
        }
    };
    let value = items
        .chunks(2)
        .find(|pair| pair[0].text().is_some_and(|k| k.eq_ignore_ascii_case(name)))
        .and_then(|pair| pair.get(1))
        .and_then(Reply::text)
        .map(|v| shown(name, &v));
    match value {
        None => base(Status::Error)
            .message(format!("CONFIG GET {name} returned no value for it"))
            .build(),
        Some(actual) if want.iter().any(|w| w.accepts(&actual)) => base(Status::Pass)
            .message(format!("`{name}` is `{actual}`"))
            .evidence("actual", &actual)
            .build(),
        Some(actual) => base(Status::Fail)
            .rule(name)
            .message(format!("`{name}` is `{actual}`, required {expected_text}"))
            .evidence("actual", &actual)
            .remediation(format!(
                "set `{name} {}` in redis.conf (and CONFIG SET it on the running server)",
                want[0].describe().split(' ').next().unwrap_or_default()
            ))
            .build(),
    }
}

/// Removes the password from a message, in case a server or the host echoes it.
fn scrub(message: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if !p.is_empty() => message.replace(p, "***"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests;
