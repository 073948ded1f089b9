//! The generic webhook target, signed per the Standard Webhooks
//! specification: `webhook-id` (the event id, the same on every attempt),
//! `webhook-timestamp` (Unix seconds of the attempt) and
//! `webhook-signature` = `v1,` + base64(HMAC-SHA256(secret, "id.timestamp.body")),
//! the secret being the base64 after `whsec_` in the environment variable
//! the rule names. The secret is read at each attempt and goes nowhere else.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::deliver::Failure;
use crate::outbox::Entry;

/// The JSON body: `type`, `timestamp` and `data`, as the specification
/// recommends; `data` holds the event's fields and the rendered message.
pub fn body(entry: &Entry) -> String {
    let e = &entry.event;
    json!({
        "type": e.kind.webhook_type(),
        "timestamp": e.time,
        "data": {
            "id": e.id,
            "event": e.kind.as_str(),
            "subject": e.subject,
            "summary": e.summary,
            "message": entry.message,
            "fields": e.fields,
        }
    })
    .to_string()
}

/// The secret's key bytes: the base64 after an optional `whsec_` prefix.
pub fn key(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret
        .trim()
        .strip_prefix("whsec_")
        .unwrap_or(secret.trim());
    STANDARD
        .decode(b64)
        .map_err(|_| "the webhook secret is not `whsec_` followed by base64".to_string())
}

/// The `webhook-signature` header value.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// One attempt.
pub async fn send(
    client: &reqwest::Client,
    url: &url::Url,
    secret_env: &str,
    entry: &Entry,
    timeout: std::time::Duration,
) -> Result<(), Failure> {
    let secret = std::env::var(secret_env).map_err(|_| {
        Failure::config(format!(
            "the environment variable `{secret_env}` (the webhook secret) is not set"
        ))
    })?;
    let key = key(&secret).map_err(Failure::config)?;
    let body = body(entry);
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign(&key, &entry.event.id, timestamp, &body);
    let response = client
        .post(url.clone())
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("user-agent", concat!("gate/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", &entry.event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(Failure::network)?;
    Failure::check(response).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_specification_example() {
        // The example of the Standard Webhooks specification.
        let key = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_bad_secret_is_named_without_its_value() {
        let e = key("whsec_not base64!").unwrap_err();
        assert!(!e.contains("not base64!"), "{e}");
    }
}
