//! `gate serve` end to end: the real `gate` binary serves a real rollout
//! (HAProxy in front of nginx backends, driven by `gate rollout`), and the
//! tests read it the ways its users do: the JSON API and the event stream
//! over HTTP, `/metrics` scraped by a real Prometheus, and every page in
//! headless Chromium driven over WebDriver (chromedriver), where the weights
//! must change without a reload as the rollout steps, approvals must appear
//! as they arrive, the analysis chart must fill with measurements, a canary
//! under load must be followed to promotion and to rollback, and the
//! browser log must stay free of errors. Signed approvals and a signed
//! promotion are taken from the page. Refusals:
//! unsigned and invalid approvals, other origins and hosts, path traversal
//! in every route parameter. Planted secrets never appear in any answer.

#[path = "services/mod.rs"]
mod services;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use services::rollout::{Backend, RolloutBed, backend};
use services::{Prometheus, free_port, require_bin};

/// A database password and a token planted in what is served.
const DB_PASSWORD: &str = "Pl4nted-db-pass-93af";
const TOKEN: &str = "AKIAQZRWKXPBMJNTVHLD";

fn gate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
    cmd.env("GATE_USER", "ci");
    cmd
}

/// The sides of a spec on the bed, then `rest`.
fn write_spec_file(
    bed: &RolloutBed,
    name: &str,
    (stable, candidate): (&str, &str),
    rest: &str,
) -> PathBuf {
    bed.write_spec(
        name,
        "canary",
        &format!(
            r#"[stable]
servers = ["{stable}"]
version = "v-{stable}"

[candidate]
servers = ["{candidate}"]
version = "v-{candidate}"
{rest}"#
        ),
    )
}

/// A canary spec on the bed that waits for approval at each step; `extra`
/// is appended (`[approvals]`, metrics).
fn write_spec(bed: &RolloutBed, name: &str, stable: &str, candidate: &str, extra: &str) -> PathBuf {
    let rest = format!(
        r#"
[canary]
steps = [20, 60, 100]
pause = "until-approved"

[[analysis]]
name = "error-rate"
provider = "haproxy"
query = "candidate_5xx_ratio"
max = 0.05
interval = "1s"
min_samples = 0
{extra}
"#
    );
    write_spec_file(bed, name, (stable, candidate), &rest)
}

/// A policy with one exemption and a source file holding a token.
fn write_policy(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/app.py"),
        format!("aws_access_key_id = \"{TOKEN}\"\n"),
    )
    .unwrap();
    let text = format!(
        r#"[policy]
name = "dashboard"

[[plugin]]
name = "security"
[plugin.grants]
fs = ["./src"]

[metrics.prom]
kind = "prometheus"
url = "http://dash:{DB_PASSWORD}@127.0.0.1:9/"

[[gate]]
name = "preflight"
checks = ["security.no-secrets"]
enforcement = "block"

[[check]]
id = "security.no-secrets"
params = {{ paths = ["src"] }}

[[exemption]]
check = "security.no-secrets"
match = "src/fixtures/*"
reason = "test fixtures"
approved_by = "secops@example.com"
expires = 2099-12-31
"#
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `gate serve`.
struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(specs: &[&Path], policies: &[&Path]) -> Served {
        let port = free_port();
        let mut cmd = gate();
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
        for s in specs {
            cmd.arg("--spec").arg(s);
        }
        for p in policies {
            cmd.arg("--policy").arg(p);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let served = Served { child, port };
        let until = Instant::now() + Duration::from_secs(20);
        while served.get("/api/rollouts").0 != 200 {
            assert!(Instant::now() < until, "gate serve did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        served
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host())
    }

    /// A request with these extra header lines; status, headers, body.
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new(), String::new());
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: {}\r\n", self.host()));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        (status, head.to_string(), body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (s, _, b) = self.request("GET", path, &[], "");
        (s, b)
    }

    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    fn post_form(&self, path: &str, origin: Option<&str>, form: &[(&str, &str)]) -> (u16, String) {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", services::url_encode(v)))
            .collect();
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        if let Some(o) = origin {
            headers.push(("Origin", o));
        }
        let (s, _, b) = self.request("POST", path, &headers, &body.join("&"));
        (s, b)
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn state(bed: &RolloutBed, name: &str) -> Value {
    let path = bed.dir.join("state").join(format!("{name}.state.json"));
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `gate rollout` process, killed when the test ends (or fails).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_rollout(spec: &Path) -> Running {
    Running(
        gate()
            .args(["rollout", "--quiet", "--spec"])
            .arg(spec)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn approve_by(spec: &Path, by: &str) {
    let out = gate()
        .args(["approve", "--by", by, "--spec"])
        .arg(spec)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn sign(key: &Path, message: &str) -> String {
    let file = key.with_extension("msg");
    std::fs::write(&file, message).unwrap();
    // ssh-keygen does not overwrite an earlier signature.
    let _ = std::fs::remove_file(file.with_extension("msg.sig"));
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "gate-approval", "-f"])
        .arg(key)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(file.with_extension("msg.sig")).unwrap()
}

/// The bed, a policy evaluated once, two specs (one with `[approvals]`) and
/// `gate serve` over them.
struct Env {
    bed: RolloutBed,
    plain: PathBuf,
    signed: PathBuf,
    policy: PathBuf,
    keys: PathBuf,
    served: Served,
}

fn env() -> Env {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let keys = bed.dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let alice = keygen(&keys, "alice");
    let public = std::fs::read_to_string(alice.with_extension("pub")).unwrap();
    std::fs::write(
        keys.join("allowed_signers"),
        format!("alice@example.com {public}"),
    )
    .unwrap();
    let plain = write_spec(&bed, "web", "blue1", "green1", "");
    let signed = write_spec(
        &bed,
        "web-signed",
        "green1",
        "blue1",
        &format!(
            "\n[approvals]\nallowed_signers = \"keys/allowed_signers\"\nrequired = 1\n\n[metrics.prom]\nurl = \"http://dash:{DB_PASSWORD}@127.0.0.1:9/\"\n"
        ),
    );
    let policy = write_policy(&bed.dir.join("policy"));
    let out = gate()
        .current_dir(policy.parent().unwrap())
        .args(["evaluate", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let served = Served::start(&[&plain, &signed], &[&policy]);
    Env {
        bed,
        plain,
        signed,
        policy,
        keys,
        served,
    }
}

/// Every route parameter refuses traversal, and no answer carries a planted secret.
fn assert_refusals_and_no_secrets(s: &Served) {
    for bad in [
        "..",
        "%2e%2e",
        "%2E%2E%2Fetc%2Fpasswd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "web%2F..%2F..%2Fx",
    ] {
        for route in ["/rollouts/", "/api/rollouts/", "/checks/"] {
            let (status, body) = s.get(&format!("{route}{bad}"));
            assert!(
                (400..500).contains(&status),
                "{route}{bad}: {status} {body}"
            );
            assert!(!body.contains("root:"), "{route}{bad}: {body}");
        }
        let (status, _) = s.post_form(
            &format!("/rollouts/{bad}/approve"),
            Some(&s.url("")),
            &[
                ("action", "approve"),
                ("challenge", "x"),
                ("signature", "y"),
            ],
        );
        assert!((400..500).contains(&status), "approve {bad}: {status}");
    }
    assert_eq!(s.get("/rollouts/no-such").0, 404);
    // Another Host (DNS rebinding) and another Origin are refused, reads included.
    let (status, _, _) = s.request("GET", "/api/rollouts", &[("Host", "evil.example:80")], "");
    assert_eq!(status, 403);
    let (status, _, _) = s.request(
        "GET",
        "/api/rollouts",
        &[("Origin", "http://evil.example")],
        "",
    );
    assert_eq!(status, 403);
    let (status, head, _) = s.request("GET", "/", &[], "");
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-security-policy:") && head.contains("frame-ancestors 'none'"),
        "{head}"
    );
    assert!(
        !head.contains("unsafe-eval") && !head.contains("unsafe-inline"),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    // A write from another origin, or with no Origin at all, is refused.
    let form = [
        ("action", "approve"),
        ("challenge", "x"),
        ("signature", "y"),
    ];
    assert_eq!(
        s.post_form(
            "/rollouts/web-signed/approve",
            Some("http://evil.example"),
            &form
        )
        .0,
        403
    );
    assert_eq!(
        s.post_form("/rollouts/web-signed/approve", None, &form).0,
        403
    );
    for path in [
        "/",
        "/checklist",
        "/exemptions",
        "/audit",
        "/migrations",
        "/rollouts/web",
        "/rollouts/web-signed",
        "/api/overview",
        "/api/rollouts",
        "/api/rollouts/web",
        "/api/rollouts/web-signed",
        "/api/evaluations/latest",
        "/api/exemptions",
        "/api/audit",
        "/metrics",
        "/checks/security.no-secrets",
    ] {
        let (status, body) = s.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            !body.contains(DB_PASSWORD),
            "{path} shows the database password"
        );
        assert!(!body.contains(TOKEN), "{path} shows the token");
    }
}

#[test]
fn api_events_metrics_and_refusals_against_a_running_rollout() {
    let e = env();
    let s = &e.served;
    // Before the rollout: the rollout is listed, not started, with the router's weights.
    let list = s.json("/api/rollouts");
    let web = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["status"]["phase"], Value::Null);
    assert_eq!(web["status"]["router_candidate_percent"], 0);
    // The event stream, open before the rollout starts.
    let mut sse = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        sse,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        s.host()
    )
    .unwrap();
    let rollout = spawn_rollout(&e.plain);
    wait_until("step 1 of web", Duration::from_secs(60), || {
        state(&e.bed, "web")["step"] == 1
    });
    let detail = s.json("/api/rollouts/web");
    assert_eq!(detail["status"]["phase"], "progressing");
    assert_eq!(detail["status"]["router_candidate_percent"], 20);
    assert!(
        detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|ev| ev["event"] == "step")
    );
    approve_by(&e.plain, "dana");
    wait_until("step 2 of web", Duration::from_secs(60), || {
        state(&e.bed, "web")["step"] == 2
    });
    // The analysis chart covers the run (from the events), not only the current step.
    wait_until("an analysis measurement", Duration::from_secs(30), || {
        let d = s.json("/api/rollouts/web");
        d["analyses"][0]["measurements"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    });
    // The stream sent the step and approval events, each once.
    let mut seen = String::new();
    let mut buf = [0u8; 8192];
    let until = Instant::now() + Duration::from_secs(30);
    while !(seen.contains("\"approved\"") || seen.contains("\"approval\""))
        || seen.matches("event: rollout").count() < 3
    {
        assert!(Instant::now() < until, "events not streamed: {seen}");
        let n = sse.read(&mut buf).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let ids: Vec<&str> = seen
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "an event was sent twice");
    assert!(seen.contains("dana"), "{seen}");
    // Refusals: an unsigned and an invalid signature on the signed spec are refused (it is not running: 400).
    assert_refusals_and_no_secrets(s);
    // Metrics scraped by a real Prometheus.
    let prom = Prometheus::start(&[("gate", &s.host(), "/metrics")], &[]);
    prom.wait_up("gate");
    let weights = prom.query("gate_rollout_server_weight{rollout=\"web\"}");
    assert_eq!(weights.len(), 2, "{weights:?}");
    let phase = prom.query("gate_rollouts{phase=\"progressing\"}");
    assert_eq!(phase[0]["value"][1], "1", "{phase:?}");
    let evals = prom.query("gate_evaluations{policy=\"dashboard\"}");
    assert!(!evals.is_empty(), "{evals:?}");
    let days = prom.query("gate_exemption_days_to_expiry{policy=\"dashboard\"}");
    assert!(!days.is_empty(), "{days:?}");
    // The exemptions and evaluations APIs.
    let ex = s.json("/api/exemptions");
    assert_eq!(ex[0]["check"], "security.no-secrets");
    assert_eq!(ex[0]["signature"], "unsigned");
    assert_eq!(ex[0]["expiry"], "valid");
    let latest = s.json("/api/evaluations/latest");
    assert_eq!(latest[0]["policy"], "dashboard");
    assert_eq!(
        latest[0]["evaluation"]["checks"][0]["id"],
        "security.no-secrets"
    );
    // The planted token was found (a finding exists), and is shown nowhere.
    assert!(
        latest[0]["evaluation"]["checks"][0]["findings"].as_u64() > Some(0),
        "{latest}"
    );
    let audit = s.json("/api/audit?kind=evaluation");
    assert!(
        audit["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["matching"].as_u64() > Some(0))
    );
    assert_eq!(s.get("/api/audit?kind=nonsense").0, 400);
    drop(rollout);
    let _ = &e.policy;
}

/// A WebDriver session on a chromedriver this test started.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn start() -> Browser {
        let chromedriver = require_bin("chromedriver", "chromium-driver");
        let chromium = require_bin("chromium", "chromium");
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
        };
        wait_until("chromedriver", Duration::from_secs(20), || {
            services::port_open(port)
        });
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100"]
            },
            "goog:loggingPrefs": { "browser": "ALL" }
        }}});
        let answer = b.call("POST", "/session", Some(caps));
        b.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).expect("chromedriver answers");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap();
        let (head, payload) = read_response(&mut stream);
        let raw = format!("{head}\r\n\r\n{payload}");
        let v: Value = serde_json::from_str(&payload)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}: {raw}"));
        v.get("value").cloned().unwrap_or(v)
    }

    fn session(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn open(&self, url: &str) {
        self.call("POST", &self.session("/url"), Some(json!({ "url": url })));
    }

    /// Runs `script` in the page and returns its value.
    fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.session("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    fn text(&self, css: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent : null;",
            json!(css)
        );
        self.eval(&script).as_str().unwrap_or_default().to_string()
    }

    fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            &self.session("/element"),
            Some(json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &self.session(&format!("/element/{id}/value")),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &self.session(&format!("/element/{id}/click")),
            Some(json!({})),
        );
    }

    /// The browser's console log entries since the last call.
    fn log(&self) -> Vec<Value> {
        let v = self.call(
            "POST",
            &self.session("/se/log"),
            Some(json!({ "type": "browser" })),
        );
        v.as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no browser log: {v}"))
    }

    /// Saves a screenshot of the page: under cargo's temporary directory for
    /// tests, or over the documentation's copy in `docs/screenshots` with
    /// `GATE_UPDATE_SCREENSHOTS=1` (a test run leaves the tree as it was).
    fn screenshot(&self, name: &str) {
        let v = self.call("GET", &self.session("/screenshot"), None);
        let png = base64_decode(v.as_str().expect("a screenshot"));
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        let dir = if std::env::var_os("GATE_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
        } else {
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// Reads one HTTP response: headers, then `Content-Length` bytes (or chunks
/// to the last one); chromedriver keeps the connection open.
fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut raw: Vec<u8> = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return (String::from_utf8_lossy(&raw).into_owned(), String::new()),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let lower = head.to_ascii_lowercase();
    let length: Option<usize> = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let mut body = raw[head_end + 4..].to_vec();
    loop {
        let done = match length {
            Some(n) => body.len() >= n,
            None => body.ends_with(b"0\r\n\r\n"),
        };
        if done {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let body = if length.is_none() && lower.contains("chunked") {
        dechunk(&body)
    } else {
        body
    };
    (head, body)
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|c| !matches!(c, b'=' | b'\n' | b'\r'))
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|&c| u32::from(value(c))).collect();
        let n = v
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, x)| acc | (x << (18 - 6 * i)));
        out.push((n >> 16) as u8);
        if v.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if v.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

fn assert_clean_log(b: &Browser, page: &str) {
    let severe: Vec<Value> = b
        .log()
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(severe.is_empty(), "{page}: console errors {severe:?}");
}

#[test]
fn dashboard_in_chromium_follows_a_rollout_live_and_takes_a_signed_approval() {
    let e = env();
    let s = &e.served;
    let b = Browser::start();
    let mut rollout = spawn_rollout(&e.plain);
    wait_until("step 1 of web", Duration::from_secs(60), || {
        state(&e.bed, "web")["step"] == 1
    });
    // The rollout page, open while the rollout steps: the weights change without a reload.
    b.open(&s.url("/rollouts/web"));
    wait_until("the live badge", Duration::from_secs(10), || {
        b.eval("return !document.getElementById('live').hidden;") == true
    });
    b.eval("window.__loaded = 'same-page'; return 1;");
    assert_eq!(b.text("[data-field=\"router-percent\"]"), "20");
    let before = b.text("[data-weight=\"green1\"]");
    approve_by(&e.plain, "dana");
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let percent = b.text("[data-field=\"router-percent\"]");
        let weight = b.text("[data-weight=\"green1\"]");
        if percent == "60" && weight != before {
            break;
        }
        assert!(
            Instant::now() < until,
            "the page's weights did not follow the router: {percent}%, green1 weight {weight} (was {before})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_until(
        "the approval in the timeline",
        Duration::from_secs(30),
        || b.text("#events").contains("dana"),
    );
    assert_eq!(
        b.eval("return window.__loaded;"),
        "same-page",
        "the page was reloaded"
    );
    b.screenshot("rollout");
    assert_clean_log(&b, "/rollouts/web");
    for (path, shot) in [
        ("/", "overview"),
        ("/checklist", "checklist"),
        ("/exemptions", "exemptions"),
        ("/audit", "audit"),
        ("/migrations", "migrations"),
    ] {
        b.open(&s.url(path));
        assert!(b.text("main").len() > 20, "{path} is empty");
        if path == "/" {
            assert!(
                b.text("#rollouts").contains("web-signed"),
                "{}",
                b.text("main")
            );
        }
        b.screenshot(shot);
        assert_clean_log(&b, path);
    }
    // Finish the plain rollout, then run the signed one and approve it from the page.
    approve_by(&e.plain, "dana");
    wait_until("step 3 of web", Duration::from_secs(60), || {
        state(&e.bed, "web")["step"] == 3
    });
    approve_by(&e.plain, "dana");
    let _ = rollout.0.wait();
    assert_eq!(state(&e.bed, "web")["phase"], "promoted");
    let signed = spawn_rollout(&e.signed);
    wait_until("step 1 of web-signed", Duration::from_secs(60), || {
        state(&e.bed, "web-signed")["step"] == 1
    });
    // An invalid signature through the form is refused (403) and recorded.
    let challenge = s.json("/api/rollouts/web-signed")["approvals"]["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    let mallory = keygen(&e.keys, "mallory");
    let (status, body) = s.post_form(
        "/rollouts/web-signed/approve",
        Some(&s.url("")),
        &[
            ("action", "approve"),
            ("challenge", &challenge),
            ("signature", &sign(&mallory, &challenge)),
        ],
    );
    assert_eq!(status, 403, "{body}");
    let (status, _) = s.post_form(
        "/rollouts/web-signed/approve",
        Some(&s.url("")),
        &[
            ("action", "approve"),
            ("challenge", &challenge),
            ("signature", ""),
        ],
    );
    assert_eq!(status, 403);
    // Both refusals go on to the rollout, whose runner records them.
    let events = e.bed.dir.join("state/web-signed.events.jsonl");
    let refusals = || {
        std::fs::read_to_string(&events)
            .unwrap_or_default()
            .matches("approval-refused")
            .count()
    };
    wait_until(
        "the runner records both refusals",
        Duration::from_secs(10),
        || refusals() >= 2,
    );
    assert_eq!(refusals(), 2);
    // alice signs the challenge the page shows and pastes the signature.
    b.open(&s.url("/rollouts/web-signed"));
    let shown = b.eval("return document.querySelector('textarea[name=challenge]').value;");
    assert_eq!(shown.as_str(), Some(challenge.as_str()));
    b.screenshot("approval");
    b.type_into(
        "textarea[name=signature]",
        &sign(&e.keys.join("alice"), &challenge),
    );
    b.click("form.approve button");
    wait_until("the outcome page", Duration::from_secs(10), || {
        b.text("#outcome") == "Approval sent"
    });
    wait_until("step 2 of web-signed", Duration::from_secs(60), || {
        state(&e.bed, "web-signed")["step"] == 2
    });
    let approvals = state(&e.bed, "web-signed")["approvals"].clone();
    assert_eq!(approvals[0]["by"], "alice@example.com", "{approvals}");
    assert_clean_log(&b, "approval");
    promote_from_the_page(&e, &b);
    drop(signed);
    let _ = &e.policy;
}

/// The signed rollout, on step 2, is signed on to its last step, where the
/// page asks for a signed promote: an unsigned one is refused (403), and
/// alice's signature of the promote challenge, pasted into the form,
/// promotes the candidate.
fn promote_from_the_page(e: &Env, b: &Browser) {
    let s = &e.served;
    let alice = e.keys.join("alice");
    let challenge = s.json("/api/rollouts/web-signed")["approvals"]["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("step=2\n"), "{challenge}");
    let (status, body) = s.post_form(
        "/rollouts/web-signed/approve",
        Some(&s.url("")),
        &[
            ("action", "approve"),
            ("challenge", &challenge),
            ("signature", &sign(&alice, &challenge)),
        ],
    );
    assert_eq!(status, 200, "{body}");
    wait_until("step 3 of web-signed", Duration::from_secs(60), || {
        state(&e.bed, "web-signed")["step"] == 3
    });
    let promote = s.json("/api/rollouts/web-signed")["approvals"]["promote_challenge"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(promote.ends_with("action=promote\n"), "{promote}");
    b.open(&s.url("/rollouts/web-signed"));
    assert_eq!(
        b.eval("return document.querySelectorAll('form.approve').length;"),
        0,
        "the last step asks for a promote, not an approval"
    );
    let shown = b.eval(
        "return document.querySelector('form.promote textarea[name=challenge]').value + '|' + document.querySelector('form.promote input[name=action]').value;",
    );
    assert_eq!(shown.as_str(), Some(format!("{promote}|promote").as_str()));
    let (status, body) = s.post_form(
        "/rollouts/web-signed/approve",
        Some(&s.url("")),
        &[
            ("action", "promote"),
            ("challenge", &promote),
            ("signature", ""),
        ],
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(state(&e.bed, "web-signed")["phase"], "progressing");
    b.type_into(
        "form.promote textarea[name=signature]",
        &sign(&alice, &promote),
    );
    b.click("form.promote button");
    wait_until("the outcome page", Duration::from_secs(10), || {
        b.text("#outcome") == "Promotion sent"
    });
    wait_until("web-signed promoted", Duration::from_secs(60), || {
        state(&e.bed, "web-signed")["phase"] == "promoted"
    });
    let approvals = state(&e.bed, "web-signed")["approvals"].clone();
    let last = approvals.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "promote", "{approvals}");
    assert_eq!(last["step"], 3, "{approvals}");
    assert_eq!(last["verified"], true, "{approvals}");
    assert_clean_log(b, "promote");
}

/// Prometheus queries over HAProxy's exporter: the candidate's 5xx share
/// of its responses, and its responses, over the analysis window.
const PROM_5XX_RATIO: &str = r#"sum(increase(haproxy_server_http_responses_total{proxy="{{backend}}",server=~"{{servers}}",code="5xx"}[{{window}}])) / sum(increase(haproxy_server_http_responses_total{proxy="{{backend}}",server=~"{{servers}}"}[{{window}}]))"#;
const PROM_SAMPLES: &str = r#"sum(increase(haproxy_server_http_responses_total{proxy="{{backend}}",server=~"{{servers}}"}[{{window}}]))"#;

/// A canary that steps on its own (a pause per step) and is analysed by a
/// real Prometheus scraping HAProxy.
fn write_loaded_spec(bed: &RolloutBed, name: &str, candidate: &str, prom: &str) -> PathBuf {
    let rest = format!(
        r#"
[canary]
steps = [25, 50, 100]
pause = "7s"

[[analysis]]
name = "error-rate"
provider = "prom"
query = '{PROM_5XX_RATIO}'
samples_query = '{PROM_SAMPLES}'
max = 0.05
interval = "3s"
min_samples = 10
inconclusive_limit = 20

[metrics.prom]
url = "{prom}"
"#
    );
    write_spec_file(bed, name, ("blue1", candidate), &rest)
}

/// The measured points of the rollout page's analysis chart, as drawn.
fn chart_points(b: &Browser) -> Vec<(f64, String)> {
    let v = b.eval(
        "return Array.from(document.querySelectorAll('#analysis svg circle.point')).map(c => [c.dataset.value, c.dataset.result]);",
    );
    v.as_array()
        .unwrap_or_else(|| panic!("no chart points: {v}"))
        .iter()
        .map(|p| {
            let value = p[0].as_str().and_then(|t| t.parse().ok());
            (
                value.unwrap_or_else(|| panic!("a point without a value: {p}")),
                p[1].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Opens `name`'s page before its rollout starts, runs the rollout, and
/// follows it on that page (never reloaded) until the phase reads `until`.
fn follow_on_the_page(
    b: &Browser,
    s: &Served,
    spec: &Path,
    name: &str,
    until: &str,
) -> Vec<(f64, String)> {
    b.open(&s.url(&format!("/rollouts/{name}")));
    wait_until("the live badge", Duration::from_secs(10), || {
        b.eval("return !document.getElementById('live').hidden;") == true
    });
    assert_eq!(b.text("[data-field=\"phase\"]"), "not started");
    assert!(chart_points(b).is_empty(), "a chart before any measurement");
    b.eval("window.__loaded = 'same-page'; return 1;");
    let rollout = spawn_rollout(spec);
    wait_until(
        &format!("{name} to read {until} on the page"),
        Duration::from_secs(150),
        || b.text("[data-field=\"phase\"]") == until,
    );
    drop(rollout);
    // The chart is redrawn as measurements arrive; the last one may follow the phase.
    let mut points = Vec::new();
    wait_until(
        "measured points on the chart",
        Duration::from_secs(10),
        || {
            points = chart_points(b);
            !points.is_empty()
        },
    );
    assert_eq!(
        b.eval("return window.__loaded;"),
        "same-page",
        "the page was reloaded"
    );
    assert_clean_log(b, name);
    points
}

/// "A person can follow a canary from start to promotion, or to rollback,
/// on the page alone": under a steady load through HAProxy, a canary of a
/// good candidate analysed by Prometheus reaches `promoted` on its page,
/// whose chart shows the measured error rates; a candidate answering half
/// its requests with 500s reaches `rolled-back`, with the failed analysis
/// on the chart and in the timeline. The page is opened before each run
/// and never reloaded.
#[test]
fn loaded_canary_followed_on_the_page_to_promotion_and_to_rollback() {
    let mut bed = RolloutBed::start(
        &[
            backend("blue1", "v1"),
            backend("green1", "v2"),
            Backend {
                name: "red1",
                version: "v3",
                error_percent: 50,
                healthy: true,
            },
        ],
        &[100, 0, 0],
    );
    let prom = bed.with_prometheus();
    let good = write_loaded_spec(&bed, "canary-good", "green1", &prom);
    let bad = write_loaded_spec(&bed, "canary-bad", "red1", &prom);
    let s = Served::start(&[&good, &bad], &[]);
    let load = services::rollout::Load::start(
        &bed.frontend,
        services::rollout::LoadOptions {
            concurrency: 4,
            rate_per_sec: Some(200.0),
            max_requests: 200_000,
            max_duration: Duration::from_secs(400),
        },
    );
    let b = Browser::start();
    let bad_points = follow_on_the_page(&b, &s, &bad, "canary-bad", "rolled-back");
    assert!(
        bad_points.iter().any(|(v, r)| r == "failure" && *v > 0.05),
        "no failed measurement on the chart: {bad_points:?}"
    );
    let timeline = b.text("#events");
    assert!(
        timeline.contains("error-rate: failure") && timeline.contains("rollback"),
        "{timeline}"
    );
    // The stage list follows too: the rollout stage failed.
    let stages = b.text("#stages");
    assert!(
        stages.starts_with("rollout: failed"),
        "the stages on the page: {stages}"
    );
    b.screenshot("canary-rolled-back");
    assert_eq!(state(&bed, "canary-bad")["phase"], "rolled-back");
    let good_points = follow_on_the_page(&b, &s, &good, "canary-good", "promoted");
    assert!(
        good_points.iter().any(|(_, r)| r == "success")
            && good_points
                .iter()
                .all(|(v, r)| r != "failure" && (0.0..=0.05).contains(v)),
        "the good candidate's chart: {good_points:?}"
    );
    assert_eq!(b.text("[data-field=\"percent\"]"), "100");
    assert_eq!(
        b.text("#stages"),
        "rollout: passed",
        "the stages on the page"
    );
    b.screenshot("canary-promoted");
    assert_eq!(state(&bed, "canary-good")["phase"], "promoted");
    let report = load.stop();
    assert!(report.total() > 1000, "{}", report.summary());
}

#[test]
fn serve_help_snapshot_and_start_refusals() {
    let out = gate().args(["serve", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(
        "help_serve",
        String::from_utf8_lossy(&out.stdout).to_string()
    );
    // Nothing to serve, and a non-loopback address without --allow-remote: exit 2, with help.
    let out = gate().args(["serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("help:"));
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path());
    let out = gate()
        .args(["serve", "--listen", "0.0.0.0:0", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-remote"), "{stderr}");
}
