use std::cell::RefCell;

use gate_plugin_sdk::Status;
use serde_json::json;

use super::*;

const PASSWORD: &str = "s3cret-Redis-pw";

fn ctx() -> Context {
    Context {
        check: ID.to_string(),
        cwd: "/work".to_string(),
    }
}

/// Runs the check against a canned server reply; returns the findings and the request sent.
fn run(params: serde_json::Value, reply: Result<&[u8], &str>) -> (Vec<Finding>, Vec<u8>) {
    let p: Params = match params::parse(&ctx(), &params) {
        Ok(p) => p,
        Err(f) => return (f, Vec::new()),
    };
    let sent = RefCell::new(Vec::new());
    let out = evaluate(
        &ctx(),
        &p,
        &|name| {
            Ok(match name {
                "REDIS_PASSWORD" => Some(PASSWORD.to_string()),
                _ => None,
            })
        },
        &|target, data| {
            assert_eq!(target, "127.0.0.1:6380");
            sent.borrow_mut().extend_from_slice(data);
            reply.map(<[u8]>::to_vec).map_err(str::to_string)
        },
    );
    (out, sent.into_inner())
}

fn statuses(f: &[Finding]) -> Vec<Status> {
    f.iter().map(|f| f.status).collect()
}

fn assert_no_password(findings: &[Finding]) {
    let dump = format!("{findings:?}");
    assert!(!dump.contains(PASSWORD), "password leaked: {dump}");
}

/// Replies in request order: PING, then settings in name order, then QUIT.
const POLICY_REPLY: &[u8] =
    b"+PONG\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n*2\r\n$9\r\nmaxmemory\r\n$9\r\n268435456\r\n*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n+OK\r\n";

#[test]
fn ping_and_settings_pass() {
    let (out, sent) = run(
        json!({"url": "redis://127.0.0.1:6380", "require": {
            "maxmemory-policy": "allkeys-lru", "maxmemory": "256mb", "appendonly": false
        }}),
        Ok(POLICY_REPLY),
    );
    assert_eq!(statuses(&out), [Status::Pass; 4], "{out:#?}");
    assert_eq!(out[0].subject, "127.0.0.1:6380");
    // BTreeMap order: appendonly, maxmemory, maxmemory-policy.
    assert_eq!(out[1].subject, "127.0.0.1:6380#appendonly");
    let text = String::from_utf8(sent).unwrap();
    assert!(text.starts_with("*1\r\n$4\r\nPING\r\n"), "{text}");
    assert!(text.ends_with("*1\r\n$4\r\nQUIT\r\n"));
    assert!(!text.contains("AUTH"));
}

#[test]
fn wrong_setting_fails_and_lists_are_alternatives() {
    let reply = b"+PONG\r\n*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n+OK\r\n";
    let (out, _) = run(
        json!({"url": "redis://127.0.0.1:6380", "require": {"maxmemory-policy": ["allkeys-lru", "allkeys-lfu"]}}),
        Ok(reply),
    );
    assert_eq!(statuses(&out), [Status::Pass, Status::Fail]);
    assert_eq!(
        out[1].message,
        "`maxmemory-policy` is `noeviction`, required allkeys-lru or allkeys-lfu"
    );
    assert_eq!(out[1].rule.as_deref(), Some("maxmemory-policy"));
}

#[test]
fn password_goes_only_into_auth() {
    let (out, sent) = run(
        json!({"url": format!("redis://app:{PASSWORD}@127.0.0.1:6380/0"), "require": {"maxmemory-policy": "allkeys-lru"}}),
        Ok(b"+OK\r\n+PONG\r\n*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n+OK\r\n"),
    );
    assert_eq!(statuses(&out), [Status::Pass, Status::Pass], "{out:#?}");
    let text = String::from_utf8(sent).unwrap();
    assert!(
        text.starts_with(&format!(
            "*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$15\r\n{PASSWORD}\r\n"
        )),
        "{text}"
    );
    assert_eq!(
        out[0].evidence[0],
        (
            "url".to_string(),
            "redis://app:***@127.0.0.1:6380".to_string()
        )
    );
    assert_no_password(&out);

    let (out, sent) = run(
        json!({"url": "redis://127.0.0.1:6380", "password_env": "REDIS_PASSWORD"}),
        Ok(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n-NOAUTH Authentication required.\r\n+OK\r\n"),
    );
    assert!(String::from_utf8(sent).unwrap().contains(PASSWORD));
    assert_eq!(statuses(&out), [Status::Error]);
    assert!(
        out[0].message.contains("refused the credentials"),
        "{}",
        out[0].message
    );
    assert_no_password(&out);
}

#[test]
fn cannot_see_is_an_error() {
    let url =
        json!({"url": "redis://127.0.0.1:6380", "require": {"maxmemory-policy": "allkeys-lru"}});
    // Unreachable.
    let (out, _) = run(
        url.clone(),
        Err(
            "exchange with 127.0.0.1:6380: connect 127.0.0.1:6380: Connection refused (os error 111)",
        ),
    );
    assert_eq!(statuses(&out), [Status::Error]);
    assert!(out[0].message.contains("Connection refused"));
    // Not granted.
    let (out, _) = run(
        url.clone(),
        Err("plugin `config` is not granted `net` access to `127.0.0.1:6380`; add ..."),
    );
    assert!(out[0].remediation.as_ref().unwrap().contains("net"));
    // Password required but not given.
    let (out, _) = run(
        url.clone(),
        Ok(b"-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n+OK\r\n"),
    );
    assert_eq!(statuses(&out), [Status::Error]);
    assert!(out[0].message.contains("requires authentication"));
    // Not Redis at all.
    let (out, _) = run(url.clone(), Ok(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
    assert_eq!(statuses(&out), [Status::Error]);
    // CONFIG renamed away, or an unknown setting.
    let (out, _) = run(
        url.clone(),
        Ok(b"+PONG\r\n-ERR unknown command 'CONFIG', with args beginning with: 'GET' \r\n+OK\r\n"),
    );
    assert_eq!(statuses(&out), [Status::Pass, Status::Error]);
    let (out, _) = run(url.clone(), Ok(b"+PONG\r\n*0\r\n+OK\r\n"));
    assert_eq!(statuses(&out), [Status::Pass, Status::Error]);
    // Connection closed mid-pipeline.
    let (out, _) = run(url, Ok(b"+PONG\r\n*2\r\n$16\r\nmaxmem"));
    assert_eq!(statuses(&out), [Status::Pass, Status::Error]);
    // password_env unset.
    let (out, _) = run(
        json!({"url": "redis://127.0.0.1:6380", "password_env": "UNSET"}),
        Ok(b""),
    );
    assert_eq!(statuses(&out), [Status::Error]);
}

#[test]
fn unhealthy_ping_fails() {
    let (out, _) = run(
        json!({"url": "redis://127.0.0.1:6380"}),
        Ok(b"-LOADING Redis is loading the dataset in memory\r\n+OK\r\n"),
    );
    assert_eq!(statuses(&out), [Status::Fail]);
    assert_eq!(out[0].rule.as_deref(), Some("ping"));
}

#[test]
fn urls() {
    let u = parse_url("redis://localhost").unwrap();
    assert_eq!(u.target, "localhost:6379");
    assert_eq!(u.shown, "redis://localhost:6379");
    let u = parse_url("redis://:p%40ss@[::1]:7000/2").unwrap();
    assert_eq!(u.target, "[::1]:7000");
    assert_eq!(u.password.as_deref(), Some("p@ss"));
    assert_eq!(u.username, None);
    assert_eq!(u.shown, "redis://:***@[::1]:7000");
    assert!(parse_url("rediss://h:6380").unwrap_err().contains("TLS"));
    assert!(parse_url("http://h").is_err());
    let Err(e) = parse_url(&format!("{PASSWORD}@host")) else {
        panic!("parsed")
    };
    assert!(!e.contains(PASSWORD), "{e}");
}

#[test]
fn memory_and_boolean_values() {
    assert_eq!(memory_bytes("1gb"), Some(1 << 30));
    assert_eq!(memory_bytes("1g"), Some(1_000_000_000));
    assert_eq!(memory_bytes("100mb"), Some(100 << 20));
    assert_eq!(memory_bytes("0"), Some(0));
    assert_eq!(memory_bytes("lots"), None);
    assert!(Want::parse(&json!("1gb")).unwrap().accepts("1073741824"));
    assert!(Want::parse(&json!(0)).unwrap().accepts("0"));
    assert!(Want::parse(&json!("yes")).unwrap().accepts("yes"));
    assert!(!Want::parse(&json!(true)).unwrap().accepts("no"));
}

#[test]
fn bad_params_are_reported_together() {
    let (out, _) = run(
        json!({"url": "rediss://x", "require": {"maxmemory *": "x", "a": [], "b": {"c": 1}}, "timeout_ms": 0}),
        Ok(b""),
    );
    assert_eq!(out.len(), 1);
    for part in [
        "TLS",
        "`maxmemory *`",
        "`require.a` is an empty list",
        "`require.b`",
        "timeout_ms",
    ] {
        assert!(out[0].message.contains(part), "{part}: {}", out[0].message);
    }
}
