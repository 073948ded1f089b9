//! Notification receivers on 127.0.0.1, written in Python
//! (tests/notify/receiver.py): a Standard Webhooks receiver that verifies
//! every signature with the `standardwebhooks` package (scripts/install-deps),
//! never with gate's own code, and a local stand-in for Slack's Web API,
//! since no real Slack can run here. Each answers by a script of statuses
//! and timeouts and reports what it saw at `GET /stats`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A webhook secret for the tests (base64 of 24 bytes, `whsec_` prefixed).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The Slack stand-in's bearer token.
pub const TOKEN: &str = "xoxb-test-token-0123456789";

/// A receiver process; killed when dropped.
pub struct Receiver {
    child: Child,
    pub url: String,
}

impl Receiver {
    /// `mode` is `webhook` or `slack`; `script` answers each id's attempts
    /// in turn (`500,timeout,429:2,200`; the last repeats).
    pub fn start(mode: &str, script: &str) -> Receiver {
        let script_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notify/receiver.py");
        let mut child = Command::new("python3")
            .arg(script_path)
            .args([
                "--mode", mode, "--secret", SECRET, "--token", TOKEN, "--script", script,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 (scripts/install-deps)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            panic!("the receiver did not start (is `standardwebhooks` installed? scripts/install-deps): {line:?}")
        });
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn stats(&self) -> Value {
        let addr = self.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        write!(
            s,
            "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let body = out.split("\r\n\r\n").nth(1).unwrap();
        serde_json::from_str(body).unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `{id: n}` map of the stats as numbers.
pub fn counts(map: &Value) -> BTreeMap<String, u64> {
    map.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}
