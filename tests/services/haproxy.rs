//! HAProxy 2.6 (Debian's `haproxy` package) in the foreground (`-db`), with a
//! backend of real nginx servers, the stats page, the built-in Prometheus
//! exporter and the runtime API on a unix socket.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::{
    HttpServer, Proc, READY_TIMEOUT, StartFailure, free_port, require_bin, start_with_retry,
    tempdir, wait_for,
};

/// HAProxy with frontend `fe_web` -> backend `web` (servers `web1`..`webN`,
/// each an nginx answering `/healthz` with 200 and `/` with its own name),
/// health-checked with `option httpchk GET /healthz` and
/// `check inter 200ms fall 2 rise 1`.
pub struct HAProxy {
    /// `127.0.0.1:<port>`: frontend `fe_web`.
    pub frontend: String,
    /// `http://127.0.0.1:<port>/stats` (CSV at `/stats;csv`).
    pub stats_url: String,
    /// `http://127.0.0.1:<port>/metrics`: the built-in Prometheus exporter
    /// (same port as the stats page).
    pub metrics_url: String,
    /// Runtime API, `level admin`.
    pub admin_socket: PathBuf,
    /// Server names in backend `web`: `["web1", "web2", ..]`.
    pub backend_servers: Vec<String>,
    proc: Proc,
    /// The nginx behind each server (`None` once stopped).
    backends: Mutex<Vec<(String, Option<HttpServer>)>>,
    dir: tempfile::TempDir,
}

fn backend_server(name: &str) -> HttpServer {
    HttpServer::start(&format!(
        "location = /healthz {{ return 200 \"ok\\n\"; }}\nlocation / {{ return 200 \"{name}\\n\"; }}"
    ))
}

/// One runtime-API command over a unix socket; the reply.
fn socket_command(socket: &std::path::Path, cmd: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(format!("{}\n", cmd.trim_end()).as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

/// Starts HAProxy (`-db`, retrying on a port clash) with the runtime API on
/// `admin_socket`, frontend `fe_web` -> backend `web` made of `backend`
/// (balance, checks and server lines), and a `stats` frontend with the stats
/// page and the Prometheus exporter. `defaults` holds the timeout and retry
/// lines. Returns the process and the frontend and stats ports once the
/// runtime API answers (every listener is bound by then).
pub(crate) fn spawn(
    label: &str,
    haproxy: &std::path::Path,
    cfg_path: &std::path::Path,
    admin_socket: &std::path::Path,
    log: &std::path::Path,
    defaults: &str,
    backend: &str,
) -> (Proc, u16, u16) {
    start_with_retry(label, || {
        let fe_port = free_port();
        let stats_port = free_port();
        let cfg = format!(
            "# gate test harness ({label})\n\
             global\n\
             \x20   nbthread 1\n\
             \x20   stats socket {socket} mode 600 level admin\n\
             \x20   stats timeout 30s\n\
             \n\
             defaults\n\
             \x20   mode http\n\
             {defaults}\
             \n\
             frontend fe_web\n\
             \x20   bind 127.0.0.1:{fe_port}\n\
             \x20   default_backend web\n\
             \n\
             backend web\n\
             {backend}\
             \n\
             frontend stats\n\
             \x20   bind 127.0.0.1:{stats_port}\n\
             \x20   http-request use-service prometheus-exporter if {{ path /metrics }}\n\
             \x20   stats enable\n\
             \x20   stats uri /stats\n\
             \x20   stats refresh 10s\n",
            socket = admin_socket.display(),
        );
        fs::write(cfg_path, cfg).expect("write haproxy.cfg");
        let _ = fs::remove_file(log);
        let _ = fs::remove_file(admin_socket);
        let mut cmd = Command::new(haproxy);
        cmd.arg("-db").arg("-f").arg(cfg_path);
        let mut proc = Proc::spawn(label, &mut cmd, log, &[], "TERM");
        proc.wait_ready("runtime API answering", || {
            socket_command(admin_socket, "show info")
                .ok()
                .filter(|reply| reply.contains("Name: HAProxy"))
                .map(|_| ())
        })?;
        Ok::<_, StartFailure>((proc, fe_port, stats_port))
    })
}

impl HAProxy {
    /// Starts `servers` nginx backends and HAProxy in front of them, and waits
    /// until every server is UP.
    pub fn start(servers: usize) -> HAProxy {
        let haproxy = require_bin("haproxy", "haproxy");
        let dir = tempdir("haproxy");
        let admin_socket = dir.path().join("admin.sock");
        let cfg_path = dir.path().join("haproxy.cfg");
        let log = dir.path().join("haproxy.log");
        let backends: Vec<(String, Option<HttpServer>)> = (1..=servers)
            .map(|i| {
                let name = format!("web{i}");
                let server = backend_server(&name);
                (name, Some(server))
            })
            .collect();
        let server_lines: String = backends
            .iter()
            .map(|(name, server)| {
                format!(
                    "    server {name} 127.0.0.1:{} check inter 200ms fall 2 rise 1\n",
                    server.as_ref().unwrap().port
                )
            })
            .collect();
        let defaults = "    timeout connect 2s\n\
                        \x20   timeout client 10s\n\
                        \x20   timeout server 10s\n\
                        \x20   timeout check 1s\n";
        let backend =
            format!("    balance roundrobin\n    option httpchk GET /healthz\n{server_lines}");
        let (proc, fe_port, stats_port) = spawn(
            "haproxy",
            &haproxy,
            &cfg_path,
            &admin_socket,
            &log,
            defaults,
            &backend,
        );
        let haproxy = HAProxy {
            frontend: format!("127.0.0.1:{fe_port}"),
            stats_url: format!("http://127.0.0.1:{stats_port}/stats"),
            metrics_url: format!("http://127.0.0.1:{stats_port}/metrics"),
            admin_socket,
            backend_servers: backends.iter().map(|(name, _)| name.clone()).collect(),
            proc,
            backends: Mutex::new(backends),
            dir,
        };
        for server in &haproxy.backend_servers {
            haproxy.wait_state(server, true);
        }
        haproxy
    }

    /// Sends one runtime-API command (e.g. `show stat`, `disable server
    /// web/web1`) and returns the reply.
    pub fn command(&self, cmd: &str) -> String {
        socket_command(&self.admin_socket, cmd).unwrap_or_else(|e| {
            panic!(
                "haproxy runtime API `{cmd}` on {}: {e}\n{}",
                self.admin_socket.display(),
                self.proc.log_tail()
            )
        })
    }

    /// The `status` column of `show stat` for server `server` of backend
    /// `web`: `UP`, `DOWN`, `MAINT`, `UP 1/2`, ...
    pub fn server_status(&self, server: &str) -> Option<String> {
        let csv = self.command("show stat");
        let mut lines = csv.lines();
        let header = lines.next()?.trim_start_matches("# ");
        let columns: Vec<&str> = header.split(',').collect();
        let col = |name: &str| columns.iter().position(|c| *c == name);
        let (px, sv, status) = (col("pxname")?, col("svname")?, col("status")?);
        lines.find_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields.get(px) == Some(&"web") && fields.get(sv) == Some(&server))
                .then(|| fields.get(status).map(|s| s.to_string()))
                .flatten()
        })
    }

    /// Waits until health checks mark `server` UP (`up`) or DOWN (`!up`;
    /// `MAINT` counts as down).
    pub fn wait_state(&self, server: &str, up: bool) {
        let want = if up { "UP" } else { "DOWN" };
        let what = format!("haproxy server web/{server} to be {want}");
        wait_for(&what, READY_TIMEOUT, || {
            let status = self.server_status(server);
            let reached = match status.as_deref() {
                Some(s) if up => s == "UP",
                Some(s) => s.starts_with("DOWN") || s.starts_with("MAINT"),
                None => false,
            };
            if reached {
                Ok(())
            } else {
                Err(format!("status {status:?}"))
            }
        });
    }

    /// Stops the nginx behind `server`: health checks then mark it DOWN
    /// (see [`HAProxy::wait_state`]).
    pub fn stop_backend(&self, server: &str) {
        let mut backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        let entry = backends
            .iter_mut()
            .find(|(name, _)| name == server)
            .unwrap_or_else(|| panic!("no server {server} in backend web"));
        drop(entry.1.take());
    }

    /// Starts a new nginx for `server` (after [`HAProxy::stop_backend`]) and
    /// points the server at it through the runtime API (`set server
    /// web/<server> addr 127.0.0.1 port <port>`); health checks then mark it
    /// UP.
    pub fn start_backend(&self, server: &str) {
        let mut backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        let entry = backends
            .iter_mut()
            .find(|(name, _)| name == server)
            .unwrap_or_else(|| panic!("no server {server} in backend web"));
        if entry.1.is_some() {
            return;
        }
        let nginx = backend_server(server);
        let reply = self.command(&format!(
            "set server web/{server} addr 127.0.0.1 port {}",
            nginx.port
        ));
        assert!(
            !reply.to_ascii_lowercase().contains("error") && !reply.contains("No such"),
            "set server web/{server} addr: {reply}"
        );
        entry.1 = Some(nginx);
    }

    /// HAProxy's own output (alerts and warnings).
    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }
}
