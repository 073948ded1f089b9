//! The network sandbox under attack: the real `gate` binary runs the hostile
//! plugin against real listeners on 127.0.0.1 and 127.0.0.2 (and real Unix
//! sockets), and every test judges the host by what the listeners actually
//! received, not by what the host said. The property tests generate corpora of
//! URLs, `host:port` targets and socket paths (userinfo, dot segments and their
//! encodings, IDNA, case, ports, trailing dots, IPv6, symlinks) and hold the
//! host to: granted => what was reached is inside the grant; denied => nothing
//! was reached.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// One request as an HTTP listener received it.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    host: String,
    case: Option<usize>,
}

/// An HTTP server on `ip` that records every request and answers 200, or a
/// redirect to `location` when one is set.
struct HttpRecorder {
    port: u16,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl HttpRecorder {
    fn start(ip: Ipv4Addr, location: Option<String>) -> Self {
        Self::on(TcpListener::bind((ip, 0)).expect("bind"), location)
    }

    fn on(listener: TcpListener, location: Option<String>) -> Self {
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let record = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, location.as_deref(), &record);
            }
        });
        HttpRecorder { port, hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

/// Answers one request, recording it first: once gate has the answer, the
/// test may read the hits at once.
fn serve(mut stream: TcpStream, location: Option<&str>, record: &Mutex<Vec<Hit>>) -> Option<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        if stream.read(&mut byte).ok()? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let response = match location {
        Some(l) => format!(
            "HTTP/1.1 302 Found\r\nLocation: {l}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        None => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into(),
    };
    record.lock().unwrap().push(Hit {
        path,
        host: headers.get("host").cloned().unwrap_or_default(),
        case: headers.get("x-case").and_then(|c| c.parse().ok()),
    });
    stream.write_all(response.as_bytes()).ok()
}

/// A line server (TCP or Unix) that records each line it receives and answers `ack`.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn serve<S: Read + Write>(&self, stream: S) {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if reader.read_line(&mut line).is_ok() && !line.is_empty() {
            self.0.lock().unwrap().push(line.trim().to_string());
            reader.get_mut().write_all(b"ack\n").ok();
        }
    }

    fn tcp(listener: TcpListener) -> Self {
        let lines = Lines::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                l.serve(s);
            }
        });
        lines
    }

    fn unix(path: &Path) -> Self {
        let listener = UnixListener::bind(path).expect("bind unix socket");
        let lines = Lines::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                l.serve(s);
            }
        });
        lines
    }

    fn got(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Runs one hostile check with `params` under `grants`; returns its findings
/// by case number: (status, message).
fn run_cases(
    ws: &Workspace,
    grants: &str,
    id: &str,
    params: Value,
    env: &[(&str, &str)],
) -> Vec<(String, String)> {
    let policy = format!(
        "[policy]\nname = \"network\"\n\n{}[[gate]]\nname = \"net\"\nchecks = [\"{id}\"]\n\n\
         [[check]]\nid = \"{id}\"\nparams = {}\n",
        plugin_block("hostile", &format!("{grants}\ntimeout_ms = 60000")),
        toml(&params),
    );
    ws.write("policy.toml", &policy);
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        env,
    );
    let report = json(&out);
    let c = check(&report, "net", id);
    let findings = c["findings"].as_array().expect("findings");
    let mut by_case = vec![(String::new(), String::new()); findings.len()];
    for f in findings {
        let subject = f["subject"].as_str().unwrap();
        let i: usize = subject
            .strip_prefix("case-")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected finding {f:#}\nstderr: {}", stderr(&out)));
        by_case[i] = (
            f["status"].as_str().unwrap().to_string(),
            f["message"].as_str().unwrap_or_default().to_string(),
        );
    }
    by_case
}

fn http_cases(urls: &[(String, Value)]) -> Value {
    json!({ "cases": urls.iter().map(|(u, h)| json!({ "url": u, "headers": h })).collect::<Vec<_>>() })
}

fn quoted(list: &[String]) -> String {
    list.iter()
        .map(|s| Value::String(s.clone()).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

// --- the classes as found, each first shown reaching what it must not --------

#[test]
fn http_userinfo_and_redirects_never_reach_another_host() {
    let ws = Workspace::new();
    let other = HttpRecorder::start(Ipv4Addr::new(127, 0, 0, 2), None);
    let via_userinfo = format!("http://127.0.0.1:1@127.0.0.2:{}/", other.port);
    let redirect_direct = HttpRecorder::start(
        Ipv4Addr::LOCALHOST,
        Some(format!("http://127.0.0.2:{}/r1", other.port)),
    );
    let redirect_userinfo = HttpRecorder::start(Ipv4Addr::LOCALHOST, Some(via_userinfo.clone()));
    let plain = HttpRecorder::start(Ipv4Addr::LOCALHOST, None);
    // The shape policies/production.toml used: every port of 127.0.0.1.
    let grants = r#"http = ["http://127.0.0.1:*"]"#;
    let cases = [
        via_userinfo.clone(),
        format!("http://127.0.0.1:{}@127.0.0.2:{}/", plain.port, other.port),
        format!("http://127.0.0.1:{}/", redirect_direct.port),
        format!("http://127.0.0.1:{}/", redirect_userinfo.port),
        format!("http://127.0.0.1:{}/fine", plain.port),
    ];
    let urls: Vec<(String, Value)> = cases.iter().map(|u| (u.clone(), json!({}))).collect();
    let got = run_cases(&ws, grants, "hostile.http-cases", http_cases(&urls), &[]);

    assert!(
        other.hits().is_empty(),
        "reached 127.0.0.2: {:?}",
        other.hits()
    );
    assert!(got[0].1.contains("credentials"), "{:?}", got[0]);
    assert!(got[1].1.contains("credentials"), "{:?}", got[1]);
    assert!(got[2].1.contains("not granted"), "{:?}", got[2]);
    assert!(got[3].1.contains("credentials"), "{:?}", got[3]);
    assert_eq!(got[4].0, "pass", "the granted URL works: {:?}", got[4]);
    assert_eq!(plain.hits()[0].path, "/fine");
}

#[test]
fn http_path_grants_hold_against_dot_segments_and_encodings() {
    let ws = Workspace::new();
    let server = HttpRecorder::start(Ipv4Addr::LOCALHOST, None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let grants = format!(r#"http = ["{base}/api/*"]"#);
    let paths = [
        "/api/../admin",
        "/api/./../admin",
        "/api/%2e%2e/admin",
        "/api/%2E%2e/admin",
        "/api/.%2e/admin",
        "/api/a/b",
        "/api/a%2fb",
        "/api\\..\\admin",
        "/api/health",
    ];
    let urls: Vec<(String, Value)> = paths
        .iter()
        .map(|p| (format!("{base}{p}"), json!({})))
        .collect();
    let got = run_cases(&ws, &grants, "hostile.http-cases", http_cases(&urls), &[]);
    let reached: Vec<String> = server.hits().into_iter().map(|h| h.path).collect();
    assert_eq!(reached, ["/api/health"], "findings: {got:?}");
    for (status, message) in &got[..paths.len() - 1] {
        assert_eq!(status, "error", "{message}");
    }
}

#[test]
fn plugins_cannot_choose_the_virtual_host_or_hop_by_hop_headers() {
    let ws = Workspace::new();
    let server = HttpRecorder::start(Ipv4Addr::LOCALHOST, None);
    let url = format!("http://127.0.0.1:{}/", server.port);
    let grants = format!(r#"http = ["{url}"]"#);
    let headers = [
        json!({ "Host": "admin.internal" }),
        json!({ "host": "admin.internal" }),
        json!({ ":authority": "admin.internal" }),
        json!({ "Connection": "upgrade" }),
        json!({ "Upgrade": "h2c" }),
        json!({ "Transfer-Encoding": "chunked" }),
        json!({ "Proxy-Authorization": "Basic eA==" }),
        json!({ "Accept": "text/plain" }),
    ];
    let urls: Vec<(String, Value)> = headers.iter().map(|h| (url.clone(), h.clone())).collect();
    let got = run_cases(&ws, &grants, "hostile.http-cases", http_cases(&urls), &[]);
    for (i, h) in headers[..headers.len() - 1].iter().enumerate() {
        let name = h.as_object().unwrap().keys().next().unwrap();
        assert_eq!(got[i].0, "error", "{name}: {:?}", got[i]);
        assert!(got[i].1.contains(&format!("`{name}`")), "{:?}", got[i]);
    }
    let hits = server.hits();
    assert_eq!(hits.len(), 1, "only the plain request arrives: {hits:?}");
    assert_eq!(hits[0].host, format!("127.0.0.1:{}", server.port));
    assert_eq!(got.last().unwrap().0, "pass");
}

#[test]
fn proxies_from_the_environment_are_not_used() {
    let ws = Workspace::new();
    let proxy = HttpRecorder::start(Ipv4Addr::new(127, 0, 0, 2), None);
    let server = HttpRecorder::start(Ipv4Addr::LOCALHOST, None);
    let url = format!("http://127.0.0.1:{}/direct", server.port);
    let grants = format!(r#"http = ["{url}"]"#);
    let proxy_url = format!("http://127.0.0.2:{}", proxy.port);
    let env: Vec<(&str, &str)> = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .into_iter()
        .map(|k| (k, proxy_url.as_str()))
        .chain([("NO_PROXY", ""), ("no_proxy", "")])
        .collect();
    let got = run_cases(
        &ws,
        &grants,
        "hostile.http-cases",
        http_cases(&[(url.clone(), json!({}))]),
        &env,
    );
    assert!(
        proxy.hits().is_empty(),
        "went through the proxy: {:?}",
        proxy.hits()
    );
    assert_eq!(got[0].0, "pass", "{:?}", got[0]);
    assert_eq!(server.hits().len(), 1);
}

#[test]
fn net_ip_patterns_never_accept_names() {
    let ws = Workspace::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Lines::tcp(listener);
    let grants = format!(r#"net = ["127.0.0.*:{port}"]"#);
    let targets = [
        format!("127.0.0.1.attacker.example:{port}"),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("127.1:{port}"),
    ];
    let got = run_cases(
        &ws,
        &grants,
        "hostile.net-cases",
        json!({ "targets": targets }),
        &[],
    );
    assert!(got[0].1.contains("not granted"), "{:?}", got[0]);
    assert!(got[1].1.contains("not granted"), "{:?}", got[1]);
    assert_eq!(got[2].0, "pass", "{:?}", got[2]);
    // `127.1` is 127.0.0.1, the address the pattern names.
    assert_eq!(got[3].0, "pass", "{:?}", got[3]);
    assert_eq!(server.got(), ["case-2", "case-3"]);

    let resolved = run_cases(
        &ws,
        &grants,
        "hostile.resolve-cases",
        json!({ "hosts": ["127.0.0.1.attacker.example", "localhost", "127.0.0.1"] }),
        &[],
    );
    assert!(resolved[0].1.contains("not granted"), "{:?}", resolved[0]);
    assert!(resolved[1].1.contains("not granted"), "{:?}", resolved[1]);
    assert_eq!(resolved[2], ("pass".into(), "127.0.0.1".into()));
}

/// A directory with a granted `haproxy/` holding `admin.sock`, and sockets
/// outside it reached through `..`, a symlinked socket and a symlinked directory.
struct Sockets {
    _dir: tempfile::TempDir,
    root: PathBuf,
    granted: Lines,
    outside: Lines,
    elsewhere: Lines,
}

impl Sockets {
    fn new() -> Self {
        // Short paths: sun_path holds 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("gs")
            .tempdir_in("/tmp")
            .unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir(root.join("haproxy")).unwrap();
        std::fs::create_dir(root.join("elsewhere")).unwrap();
        let granted = Lines::unix(&root.join("haproxy/admin.sock"));
        let outside = Lines::unix(&root.join("other.sock"));
        std::os::unix::fs::symlink(root.join("other.sock"), root.join("haproxy/evil.sock"))
            .unwrap();
        std::os::unix::fs::symlink("../other.sock", root.join("haproxy/rel.sock")).unwrap();
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join("haproxy/sub")).unwrap();
        let elsewhere = Lines::unix(&root.join("elsewhere/x.sock"));
        Sockets {
            _dir: dir,
            root,
            granted,
            outside,
            elsewhere,
        }
    }

    /// Everything that reached a socket outside the grant.
    fn escaped(&self) -> Vec<String> {
        [self.outside.got(), self.elsewhere.got()].concat()
    }

    fn grants(&self) -> String {
        format!(
            "unix = [{}]",
            quoted(&[self.root.join("haproxy/*.sock").display().to_string()])
        )
    }
}

#[test]
fn unix_grants_hold_against_dot_dot_and_symlinks() {
    let s = Sockets::new();
    let ws = Workspace::new();
    let r = s.root.display();
    let paths = [
        format!("{r}/haproxy/../other.sock"),
        format!("{r}/haproxy/evil.sock"),
        format!("{r}/haproxy/rel.sock"),
        format!("{r}/haproxy/sub/x.sock"),
        format!("{r}/haproxy/./admin.sock"),
    ];
    let got = run_cases(
        &ws,
        &s.grants(),
        "hostile.unix-cases",
        json!({ "paths": paths }),
        &[],
    );
    assert!(s.escaped().is_empty(), "escaped: {:?} {got:?}", s.escaped());
    for g in &got[..4] {
        assert_eq!(g.0, "error", "{g:?}");
    }
    assert!(got[1].1.contains("not a socket"), "{:?}", got[1]);
    assert_eq!(got[4].0, "pass", "{:?}", got[4]);
    assert_eq!(s.granted.got(), ["case-4"]);
}

// --- property tests: decision versus what was reached ------------------------

fn config() -> Config {
    Config {
        cases: 3,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Whether a request as received is inside `http://127.0.0.1:PORT/api/*`,
/// judged the way a server would: decode, then resolve dot segments.
fn inside_api_grant(hit: &Hit, port: u16) -> bool {
    let path = hit.path.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_decode(path).replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    hit.host == format!("127.0.0.1:{port}") && out.len() == 2 && out[0] == "api"
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn url_strategy(granted: u16, other: u16) -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "http://",
        "HTTP://",
        "http:",
        "http:/",
        "http:\\\\",
        "https://",
        "ftp://",
    ]);
    let userinfo = prop::sample::select(vec![
        String::new(),
        "u@".into(),
        "u:p@".into(),
        format!("127.0.0.1:{granted}@"),
        "127.0.0.1@".into(),
        "%40@".into(),
    ]);
    let host = prop::sample::select(vec![
        "127.0.0.1",
        "127.0.0.2",
        "127.1",
        "0x7f.0.0.1",
        "2130706433",
        "localhost",
        "LOCALHOST",
        "127.0.0.1.",
        "127.0.0.1.attacker.example",
        "[::1]",
        "[::ffff:127.0.0.2]",
        "bücher.example",
    ]);
    let port = prop::sample::select(vec![
        format!(":{granted}"),
        format!(":{other}"),
        format!(":0{granted}"),
        String::new(),
    ]);
    let segment = prop::sample::select(vec![
        "api",
        "API",
        "%61pi",
        "health",
        "",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        ".%2e",
        "..;",
        "a%2fb",
        "a%5cb",
        "admin",
        "x.y",
        "%2e%2e%2fadmin",
    ]);
    let segments = prop::collection::vec(segment, 0..4);
    let tail = prop::sample::select(vec!["", "?q=1", "?/../admin", "#/../admin", "/"]);
    let anything = (scheme, userinfo, host, port, segments.clone(), tail.clone()).prop_map(
        |(s, u, h, p, segs, t)| {
            let path: String = segs.iter().map(|x| format!("/{x}")).collect();
            format!("{s}{u}{h}{p}{path}{t}")
        },
    );
    // Most cases start as the grant does, so the path attacks meet the matcher
    // (a text glob over the URL let these through).
    let near = (segments, tail).prop_map(move |(segs, t)| {
        let path: String = segs.iter().map(|x| format!("/{x}")).collect();
        format!("http://127.0.0.1:{granted}/api{path}{t}")
    });
    prop_oneof![1 => anything, 2 => near]
}

#[test]
fn property_http_decision_matches_what_is_reached() {
    let ws = Workspace::new();
    let granted = HttpRecorder::start(Ipv4Addr::LOCALHOST, None);
    // The same port on another address, and another port: both out of the grant.
    let same_port_other_ip = TcpListener::bind((Ipv4Addr::new(127, 0, 0, 2), granted.port))
        .map(|l| HttpRecorder::on(l, None));
    let other = HttpRecorder::start(Ipv4Addr::new(127, 0, 0, 2), None);
    let grants = format!(r#"http = ["http://127.0.0.1:{}/api/*"]"#, granted.port);
    let strategy = prop::collection::vec(url_strategy(granted.port, other.port), 40..60);
    let mut runner = TestRunner::new(config());
    let seen_pass = std::cell::Cell::new(0);
    runner
        .run(&strategy, |mut urls| {
            // One URL known to be granted, so the run can tell "reached" apart.
            urls.push(format!("http://127.0.0.1:{}/api/health", granted.port));
            let before = granted.hits().len();
            let cases: Vec<(String, Value)> = urls.iter().map(|u| (u.clone(), json!({}))).collect();
            let got = run_cases(&ws, &grants, "hostile.http-cases", http_cases(&cases), &[]);
            let hits: Vec<Hit> = granted.hits()[before..].to_vec();
            prop_assert!(
                other.hits().is_empty(),
                "reached another port: {:?}",
                other.hits()
            );
            if let Ok(r) = &same_port_other_ip {
                prop_assert!(r.hits().is_empty(), "reached 127.0.0.2: {:?}", r.hits());
            }
            for hit in &hits {
                prop_assert!(
                    inside_api_grant(hit, granted.port),
                    "outside the grant: {hit:?} from {:?}",
                    hit.case.map(|c| &urls[c])
                );
            }
            for (i, (status, message)) in got.iter().enumerate() {
                let reached = hits.iter().any(|h| h.case == Some(i));
                if status == "pass" {
                    seen_pass.set(seen_pass.get() + 1);
                    prop_assert!(reached, "{} passed without reaching: {message}", urls[i]);
                } else {
                    prop_assert!(!reached, "{} was refused ({message}) yet reached", urls[i]);
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(
        seen_pass.get() >= 3,
        "the granted URL must work in every run"
    );
}

#[test]
fn property_net_decision_matches_what_is_reached() {
    let ws = Workspace::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let granted = Lines::tcp(listener);
    let outside = Lines::default();
    if let Ok(l) = TcpListener::bind((Ipv4Addr::new(127, 0, 0, 2), port)) {
        let o = outside.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                o.serve(s);
            }
        });
    }
    let grants = format!(r#"net = ["127.0.0.1:{port}"]"#);
    let host = prop::sample::select(vec![
        "127.0.0.1",
        "127.0.0.2",
        "127.1",
        "127.0.0.1.",
        "0x7f000002",
        "2130706434",
        "127.0.0.1.attacker.example",
        "localhost",
        "[::ffff:127.0.0.2]",
        "[::1]",
        "127.0.0.1 ",
        "127.0.0.1%00",
        "",
    ]);
    let port_text = prop::sample::select(vec![
        port.to_string(),
        format!("0{port}"),
        format!("+{port}"),
        format!("{port}:{port}"),
        "*".to_string(),
    ]);
    let strategy = prop::collection::vec(
        (host, port_text).prop_map(|(h, p)| format!("{h}:{p}")),
        30..40,
    );
    let mut runner = TestRunner::new(config());
    runner
        .run(&strategy, |mut targets| {
            targets.push(format!("127.0.0.1:{port}"));
            granted.0.lock().unwrap().clear();
            let got = run_cases(
                &ws,
                &grants,
                "hostile.net-cases",
                json!({ "targets": targets }),
                &[],
            );
            prop_assert!(
                outside.got().is_empty(),
                "reached 127.0.0.2: {:?}",
                outside.got()
            );
            let reached = granted.got();
            for (i, (status, message)) in got.iter().enumerate() {
                let hit = reached.contains(&format!("case-{i}"));
                prop_assert_eq!(status == "pass", hit, "{}: {}", targets[i], message);
            }
            prop_assert_eq!(&got.last().unwrap().0, "pass");
            Ok(())
        })
        .unwrap();
}

#[test]
fn property_unix_decision_matches_what_is_reached() {
    let s = Sockets::new();
    let ws = Workspace::new();
    let root = s.root.display().to_string();
    // Relative paths resolve against the working directory: the workspace.
    std::os::unix::fs::symlink(&s.root, ws.path().join("r")).unwrap();
    let prefix = prop::sample::select(vec![
        format!("{root}/haproxy"),
        format!("{root}//haproxy/"),
        format!("{root}/./haproxy"),
        format!("{root}/haproxy/.."),
        format!("{root}/haproxy/sub"),
        format!("{root}/elsewhere"),
        "r/haproxy".to_string(),
        root.clone(),
    ]);
    let middle = prop::sample::select(vec!["", "/.", "/..", "/sub", "/../haproxy"]);
    let name = prop::sample::select(vec![
        "admin.sock",
        "evil.sock",
        "rel.sock",
        "other.sock",
        "x.sock",
        "missing.sock",
        "",
    ]);
    let strategy = prop::collection::vec(
        (prefix, middle, name).prop_map(|(p, m, n)| format!("{p}{m}/{n}")),
        30..40,
    );
    let mut runner = TestRunner::new(config());
    runner
        .run(&strategy, |mut paths| {
            paths.push(format!("{root}/haproxy/admin.sock"));
            s.granted.0.lock().unwrap().clear();
            let got = run_cases(
                &ws,
                &s.grants(),
                "hostile.unix-cases",
                json!({ "paths": paths }),
                &[],
            );
            prop_assert!(s.escaped().is_empty(), "escaped: {:?}", s.escaped());
            let reached = s.granted.got();
            for (i, (status, message)) in got.iter().enumerate() {
                let hit = reached.contains(&format!("case-{i}"));
                prop_assert_eq!(status == "pass", hit, "{}: {}", paths[i], message);
            }
            prop_assert_eq!(&got.last().unwrap().0, "pass");
            Ok(())
        })
        .unwrap();
}
