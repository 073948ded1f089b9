//! The Slack-compatible target: one message per rollout run, kept up to
//! date. Incoming webhooks cannot edit a message, so this speaks the Web
//! API: `chat.postMessage` for a thread's first event, then `chat.update`
//! of that message (the latest event's message above a timeline of the
//! earlier ones). The bot token comes from the environment variable the
//! rule names, sent only in the `Authorization` header; `url` is the API's
//! base (`https://slack.com/api`), so any server speaking it works.
//!
//! The thread (channel, message `ts`, timeline) is kept in the outbox as
//! `slack.<rule>.<thread>.json`. The limit: gate killed between Slack's
//! answer to `chat.postMessage` and that file's write posts the message a
//! second time on the next attempt (the Web API has no idempotency key).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{Rule, Target};
use crate::deliver::Failure;
use crate::outbox::{Entry, Outbox};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Thread {
    channel: String,
    ts: String,
    /// One line per event delivered to the message, oldest first.
    timeline: Vec<String>,
}

/// The state file of the message `entry` belongs to: one per rollout run,
/// or per event when it stands alone.
fn state_name(rule: &str, entry: &Entry) -> String {
    let e = &entry.event;
    let key = if e.thread.is_empty() {
        e.id.clone()
    } else {
        let mut h = Sha256::new();
        h.update(e.subject.as_bytes());
        h.update([0]);
        h.update(e.thread.as_bytes());
        hex::encode(&h.finalize()[..12])
    };
    format!("slack.{rule}.{key}.json")
}

fn text(entry: &Entry, timeline: &[String]) -> String {
    let mut text = entry.message.trim_end().to_string();
    if timeline.len() > 1 {
        text.push_str("\n\n*Timeline*\n");
        for line in timeline {
            text.push_str(&format!("• {line}\n"));
        }
    }
    text
}

/// One attempt for `rule` (a Slack target).
pub async fn send(
    client: &reqwest::Client,
    rule: &Rule,
    outbox: &dyn Outbox,
    entry: &Entry,
    timeout: std::time::Duration,
) -> Result<(), Failure> {
    let Target::Slack {
        url: base,
        token_env,
        channel,
    } = &rule.target
    else {
        return Err(Failure::config("not a Slack target"));
    };
    let rule = rule.name.as_str();
    let token = std::env::var(token_env).map_err(|_| {
        Failure::config(format!(
            "the environment variable `{token_env}` (the Slack token) is not set"
        ))
    })?;
    let name = state_name(rule, entry);
    let thread: Option<Thread> = outbox
        .read_state(&name)
        .await
        .map_err(|e| Failure::config(e.to_string()))?
        .and_then(|b| serde_json::from_slice(&b).ok());
    let line = format!("{} {}", entry.event.time, entry.event.summary);
    let mut timeline = thread
        .as_ref()
        .map(|t| t.timeline.clone())
        .unwrap_or_default();
    if !timeline.contains(&line) {
        timeline.push(line);
    }
    let (method, mut body) = match &thread {
        None => ("chat.postMessage", json!({ "channel": channel })),
        Some(t) => ("chat.update", json!({ "channel": t.channel, "ts": t.ts })),
    };
    body["text"] = json!(text(entry, &timeline));
    body["unfurl_links"] = json!(false);
    let url = format!("{}/{method}", base.as_str().trim_end_matches('/'));
    let response = client
        .post(url)
        .timeout(timeout)
        .bearer_auth(token)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
        .map_err(Failure::network)?;
    let answer = Failure::check(response).await?;
    let answer: Value = serde_json::from_str(&answer)
        .map_err(|_| Failure::answer(format!("{method}: the answer is not JSON")))?;
    if answer["ok"] != json!(true) {
        let why = answer["error"].as_str().unwrap_or("no `error` given");
        return Err(Failure::answer(format!("{method}: not ok: {why}")));
    }
    let thread = match thread {
        Some(t) => Thread { timeline, ..t },
        None => Thread {
            channel: answer["channel"]
                .as_str()
                .unwrap_or(channel.as_str())
                .to_string(),
            ts: answer["ts"]
                .as_str()
                .ok_or_else(|| Failure::answer(format!("{method}: no `ts` in the answer")))?
                .to_string(),
            timeline,
        },
    };
    let bytes = serde_json::to_vec(&thread).unwrap_or_default();
    outbox
        .write_state(&name, &bytes)
        .await
        .map_err(|e| Failure::config(e.to_string()))
}
