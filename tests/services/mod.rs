//! Real services for the end-to-end tests: PostgreSQL 15 (with streaming
//! replicas), nginx (plain HTTP and TLS endpoints), HAProxy 2.6, Prometheus
//! 2.42 and Redis 7, all from Debian's packages (scripts/install-deps).
//!
//! Include it with `#[path = "services/mod.rs"] mod services;`. The contract is
//! tests/services/API.md; docs/testing.md describes the harness.
//!
//! Every service listens on 127.0.0.1 only, on an ephemeral port, keeps its
//! files in its own temporary directory, and is stopped (signalled, waited
//! for, killed if it lingers) when its handle drops. Start-up waits for
//! readiness with a bounded timeout and panics with the service's own log tail
//! on failure; a bind race on the chosen port is retried with a new port. A
//! missing binary panics with "install <package> (scripts/install-deps)": a
//! test never skips silently.

#![allow(dead_code, unused_imports)]

// Also a module of `common`: a test file that includes both harnesses has two
// copies of this small file, which is harmless.
#[allow(clippy::duplicate_mod)]
#[path = "../common/scratch.rs"]
mod scratch;

mod haproxy;
mod nginx;
mod postgres;
mod prometheus;
pub mod receiver;
mod redis;
pub mod rollout;
mod tls;

pub use haproxy::HAProxy;
pub use nginx::HttpServer;
pub use postgres::{Postgres, Replica};
pub use prometheus::Prometheus;
pub use redis::Redis;
pub use tls::{CertFiles, TlsEndpoints};

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// How long a service may take to become ready (the machine may be busy
/// compiling next to the tests).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopping service may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Start attempts when the chosen port turns out to be taken.
const START_ATTEMPTS: usize = 5;

/// Ports handed out by this process: two services of one test binary never
/// get the same port, even while neither has bound it yet.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A free 127.0.0.1 TCP port, found by binding port 0. Never the same port
/// twice in one process. Another process may still take it before the service
/// binds it: the services retry with a new port when that happens.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        drop(listener);
        if HANDED_OUT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port)
        {
            return port;
        }
    }
    panic!("no free 127.0.0.1 port found");
}

/// `true` when something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// The absolute path of a binary from a Debian package; panics naming the
/// package when it is missing. `name` is a bare name (looked up in `PATH` and
/// the usual sbin/bin directories) or an absolute path.
pub fn require_bin(name: &str, package: &str) -> PathBuf {
    find_bin(name)
        .unwrap_or_else(|| panic!("`{name}` not found: install {package} (scripts/install-deps)"))
}

/// Like [`require_bin`], without the panic.
pub fn find_bin(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        if is_executable(&path) {
            return Some(path);
        }
    } else {
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::env::split_paths(&path_var).chain(
            [
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ]
            .into_iter()
            .map(PathBuf::from),
        );
        for dir in dirs {
            let path = dir.join(name);
            if is_executable(&path) {
                return Some(path);
            }
        }
    }
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `true` when this process runs as root (PostgreSQL then needs to switch to
/// the `postgres` user).
pub(crate) fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// A fresh temporary directory `gate-<what>-XXXX` on a filesystem with room
/// to spare: tests check free space on the services' data directories and
/// expect a pass, whatever the machine's own disk holds (see `scratch`).
pub(crate) fn tempdir(what: &str) -> tempfile::TempDir {
    scratch::roomy_tempdir(&format!("gate-{what}-"))
}

/// The last `lines` lines of each log file that exists.
pub(crate) fn log_tail(logs: &[PathBuf], lines: usize) -> String {
    let mut out = String::new();
    for log in logs {
        let Ok(bytes) = fs::read(log) else { continue };
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().collect();
        let start = all.len().saturating_sub(lines);
        out.push_str(&format!(
            "--- {} (last {} lines)\n",
            log.display(),
            all.len() - start
        ));
        for line in &all[start..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    if out.is_empty() {
        out.push_str("(no log output)\n");
    }
    out
}

fn logs_mention_port_in_use(logs: &[PathBuf]) -> bool {
    logs.iter().any(|log| {
        fs::read(log).is_ok_and(|b| {
            let text = String::from_utf8_lossy(&b).to_ascii_lowercase();
            text.contains("address already in use") || text.contains("address in use")
        })
    })
}

/// A service process that this test owns. Spawned in its own process group;
/// on drop it gets `stop_signal`, is waited for, and its whole process group
/// is killed if it has not exited within [`STOP_TIMEOUT`].
pub(crate) struct Proc {
    name: String,
    child: Child,
    /// Log files to show when something goes wrong (stdout/stderr first).
    pub logs: Vec<PathBuf>,
    stop_signal: &'static str,
    stopped: bool,
}

/// Why a start attempt failed.
pub(crate) struct StartFailure {
    pub port_in_use: bool,
    pub message: String,
}

impl Proc {
    /// Spawns `cmd` with stdin closed and stdout/stderr appended to
    /// `stdout_log`; `extra_logs` are the service's own log files.
    pub fn spawn(
        name: &str,
        cmd: &mut Command,
        stdout_log: &Path,
        extra_logs: &[PathBuf],
        stop_signal: &'static str,
    ) -> Proc {
        // Stopping needs `kill`: fail now rather than in `Drop`.
        require_bin("kill", "procps");
        let out = File::options()
            .create(true)
            .append(true)
            .open(stdout_log)
            .unwrap_or_else(|e| panic!("open {}: {e}", stdout_log.display()));
        let err = out.try_clone().expect("clone log file handle");
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({:?}): {e}", cmd.get_program()));
        let mut logs = vec![stdout_log.to_path_buf()];
        logs.extend(extra_logs.iter().cloned());
        Proc {
            name: name.to_string(),
            child,
            logs,
            stop_signal,
            stopped: false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn log_tail(&self) -> String {
        log_tail(&self.logs, 60)
    }

    /// Polls `probe` until it yields a value, the process exits, or
    /// [`READY_TIMEOUT`] passes. An exit is reported as a [`StartFailure`]
    /// (flagged `port_in_use` when the logs say so); a timeout panics.
    pub fn wait_ready<T>(
        &mut self,
        what: &str,
        mut probe: impl FnMut() -> Option<T>,
    ) -> Result<T, StartFailure> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut delay = Duration::from_millis(10);
        loop {
            if let Some(status) = self.exited() {
                return Err(StartFailure {
                    port_in_use: logs_mention_port_in_use(&self.logs),
                    message: format!(
                        "{} exited ({status}) before {what}\n{}",
                        self.name,
                        self.log_tail()
                    ),
                });
            }
            if let Some(value) = probe() {
                return Ok(value);
            }
            if Instant::now() > deadline {
                let tail = self.log_tail();
                self.stop();
                panic!(
                    "{} did not reach \"{what}\" within {READY_TIMEOUT:?}\n{tail}",
                    self.name
                );
            }
            thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(100));
        }
    }

    /// Signals the process, waits for it, kills its process group if it
    /// lingers. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if self.exited().is_some() {
            return;
        }
        let pid = self.child.id();
        signal(self.stop_signal, &pid.to_string());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        eprintln!(
            "{} (pid {pid}) ignored SIG{} for {STOP_TIMEOUT:?}: killing its process group",
            self.name, self.stop_signal
        );
        signal("KILL", &format!("-{pid}"));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `kill -s SIG -- target` (a pid, or `-pgid` for a process group).
/// Never panics: it runs from `Drop`.
fn signal(sig: &str, target: &str) {
    let kill = find_bin("kill").unwrap_or_else(|| PathBuf::from("/bin/kill"));
    let _ = Command::new(kill)
        .args(["-s", sig, "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs `attempt` until it succeeds, retrying (with new ports, chosen by the
/// attempt) when the service could not bind its port; panics otherwise.
pub(crate) fn start_with_retry<T>(
    what: &str,
    mut attempt: impl FnMut() -> Result<T, StartFailure>,
) -> T {
    let mut last = String::new();
    for n in 1..=START_ATTEMPTS {
        match attempt() {
            Ok(value) => return value,
            Err(failure) if failure.port_in_use => {
                eprintln!("{what}: port taken (attempt {n}/{START_ATTEMPTS}), retrying");
                last = failure.message;
            }
            Err(failure) => panic!("{what} failed to start: {}", failure.message),
        }
    }
    panic!("{what} failed to start: its port was taken {START_ATTEMPTS} times\n{last}");
}

/// Polls `probe` every 50 ms until it returns a value; panics after
/// `timeout` with `what` and the last observation.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) => {
                if Instant::now() > deadline {
                    panic!("timed out after {timeout:?} waiting for {what}; last: {last}");
                }
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a short-lived command to completion; panics with its output unless
/// it succeeds. Returns stdout.
pub(crate) fn run_ok(what: &str, cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {:?}: {e}", cmd.get_program()));
    if !out.status.success() {
        panic!(
            "{what} failed ({}): {:?}\n--- stdout\n{}--- stderr\n{}",
            out.status,
            cmd,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Percent-encodes `s` for a URL query component.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response read by [`http_request`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client for `http://host:port/path` URLs (no TLS), with
/// `Connection: close` and 10 s timeouts.
pub fn http_request(method: &str, url: &str, body: Option<&str>) -> io::Result<HttpResponse> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::other(format!("not an http:// URL: {url}")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(authority)?
        .next()
        .ok_or_else(|| io::Error::other(format!("cannot resolve {authority}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: gate-tests\r\n"
    );
    if !body.is_empty() || method == "POST" || method == "PUT" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other("no end of HTTP headers in the response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut payload = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line: {status_line}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        payload = dechunk(&payload)?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&payload).into_owned(),
    })
}

/// `GET url`: the status code and the body.
pub fn http_get(url: &str) -> io::Result<(u16, String)> {
    http_request("GET", url, None).map(|r| (r.status, r.body))
}

fn dechunk(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| io::Error::other("truncated chunked body"))?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::other(format!("bad chunk size {size_text:?}")))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            return Err(io::Error::other("truncated chunk"));
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
}
