//! The test bed for rollout end-to-end tests: HAProxy 2.6 in front of one
//! nginx process per backend server (each stamping its version on every
//! response, with a configurable error share and health), a shell `ctl`
//! script per server to stop it and start it again with another version, an
//! optional Prometheus scraping HAProxy, and a bounded load generator that
//! records the version, status or error of every request.
//!
//! Contract: the "Rollout test bed" section of tests/services/API.md.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{
    Proc, Prometheus, READY_TIMEOUT, StartFailure, free_port, log_tail, require_bin,
    running_as_root, start_with_retry, tempdir, wait_for,
};

/// One backend server of the bed.
#[derive(Debug, Clone, Copy)]
pub struct Backend<'a> {
    /// HAProxy server name in backend `web`, e.g. `blue1`.
    pub name: &'a str,
    /// Stamped on every response: body `<version>\n`, header `X-Version`.
    /// Letters, digits and `._:+-` only.
    pub version: &'a str,
    /// Share (0..=100 %) of `/` requests answered 500 (chosen by nginx
    /// `split_clients` on `$request_id`).
    pub error_percent: u8,
    /// `/healthz` answers 200 "ok" when `true`, 503 otherwise.
    pub healthy: bool,
}

/// The `[stable]` (`blue1`, v1) and `[candidate]` (`green1`, v2) tables of
/// a spec on a bed started with those two servers.
pub const SIDES: &str = r#"
[stable]
servers = ["blue1"]
version = "v1"

[candidate]
servers = ["green1"]
version = "v2"
"#;

/// A healthy server of `version` that answers every request.
pub fn backend<'a>(name: &'a str, version: &'a str) -> Backend<'a> {
    Backend {
        name,
        version,
        error_percent: 0,
        healthy: true,
    }
}

/// A backend server as started by the bed.
#[derive(Debug, Clone)]
pub struct BedServer {
    pub name: String,
    /// The version it was started with (a later `ctl start` may change it;
    /// `<dir>/servers/<name>/version` holds the current one).
    pub version: String,
    /// Its nginx's port on 127.0.0.1 (kept across `ctl stop`/`ctl start`).
    pub port: u16,
    /// `<dir>/servers/<name>/ctl`: `ctl stop`, `ctl start <version>
    /// [--error-percent N] [--healthy|--unhealthy]`, `ctl status`.
    pub ctl: PathBuf,
}

/// A server's line of `show servers state web`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// `srv_op_state`: 0 stopped (DOWN), 1 starting, 2 running (UP), 3
    /// stopping.
    pub op_state: u8,
    /// `srv_admin_state` bit flags: 0x01 forced maint (`state maint`), 0x08
    /// forced drain (`state drain`), others internal.
    pub admin_state: u8,
    /// `srv_uweight`: the current weight (`set server ... weight N`).
    pub weight: u16,
    /// `srv_iweight`: the weight from the configuration.
    pub initial_weight: u16,
    pub port: u16,
}

impl ServerState {
    /// Health checks say UP (whatever the admin state).
    pub fn is_up(&self) -> bool {
        self.op_state == 2
    }
    /// `set server ... state drain` is in force.
    pub fn is_drain(&self) -> bool {
        self.admin_state & 0x08 != 0
    }
    /// `set server ... state maint` is in force.
    pub fn is_maint(&self) -> bool {
        self.admin_state & 0x01 != 0
    }
}

/// HAProxy (frontend `fe_web` -> backend `web`) in front of one nginx per
/// [`Backend`]; everything is stopped on drop.
pub struct RolloutBed {
    /// `127.0.0.1:<port>` of frontend `fe_web`.
    pub frontend: String,
    /// Runtime API socket, `level admin`.
    pub admin_socket: PathBuf,
    /// `http://127.0.0.1:<port>/metrics` (HAProxy's Prometheus exporter).
    pub metrics_url: String,
    /// `http://127.0.0.1:<port>/stats` (CSV at `/stats;csv`).
    pub stats_url: String,
    /// Always `"web"`.
    pub backend: String,
    pub servers: Vec<BedServer>,
    /// The bed's temporary directory: `servers/<name>/` per server,
    /// `haproxy/`, and room for the test's spec and state files.
    pub dir: PathBuf,
    prometheus: Option<Prometheus>,
    haproxy: Option<Proc>,
    /// Dropped after HAProxy is stopped, before the directory goes.
    nginx: NginxGuard,
    _tmp: tempfile::TempDir,
}

/// Runs `ctl stop` for every server started so far when dropped (also when
/// [`RolloutBed::start`] panics half-way).
struct NginxGuard(Vec<PathBuf>);

impl Drop for NginxGuard {
    fn drop(&mut self) {
        // In parallel: each waits for its nginx to exit.
        let stoppers: Vec<_> = self
            .0
            .drain(..)
            .map(|ctl| {
                thread::spawn(move || {
                    if let Err(e) = run_ctl(&ctl, &["stop"]) {
                        eprintln!("rollout bed: {e}");
                    }
                })
            })
            .collect();
        for stopper in stoppers {
            let _ = stopper.join();
        }
    }
}

/// Health-check interval and thresholds of every server (`check inter
/// 200ms fall 2 rise 1`): a stopped server is DOWN after ~0.4-0.6 s, a
/// started one UP after ~0.2 s.
pub const CHECK_INTER_MS: u64 = 200;

const CTL_TEMPLATE: &str = r##"#!/bin/bash
# gate rollout test bed: controls the nginx of server @NAME@.
#   ctl stop                      graceful stop (nginx -s quit), waits <= 10 s for the pid to go
#   ctl start VERSION [--error-percent N] [--healthy|--unhealthy]
#                                 (re)writes nginx.conf to stamp VERSION, starts nginx,
#                                 waits <= 10 s until 127.0.0.1:@PORT@ accepts
#   ctl status                    prints "running VERSION" or "stopped" (exit 0 / 3)
# Settings not given keep their last value (see ./settings).
set -u
NAME='@NAME@'
DIR='@DIR@'
PORT=@PORT@
NGINX='@NGINX@'
USER_LINE='@USER_LINE@'
PIDFILE="$DIR/nginx.pid"

die() { echo "ctl $NAME: $*" >&2; exit 1; }
pid_of() { [ -s "$PIDFILE" ] && cat "$PIDFILE"; }
# Alive and not a zombie: a daemonized nginx's parent is PID 1, which may be
# slow to reap it.
alive() {
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
running() { local pid; pid=$(pid_of) && alive "$pid"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

do_stop() {
    if ! running; then
        rm -f "$PIDFILE"
        return 0
    fi
    local pid i
    pid=$(pid_of)
    "$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/error.log" -s quit \
        </dev/null >>"$DIR/stdout.log" 2>&1 || kill -QUIT "$pid" 2>/dev/null
    for i in $(seq 1 500); do
        alive "$pid" || { rm -f "$PIDFILE"; return 0; }
        sleep 0.02
    done
    # nginx made itself a process-group leader (setsid): kill master and workers.
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    rm -f "$PIDFILE"
    die "nginx (pid $pid) did not quit within 10 s: killed"
}

do_start() {
    [ $# -ge 1 ] || die "usage: ctl start VERSION [--error-percent N] [--healthy|--unhealthy]"
    local version=$1
    shift
    case "$version" in
        ''|*[!A-Za-z0-9._:+-]*) die "bad version '$version' (letters, digits, ._:+- only)" ;;
    esac
    ERROR_PERCENT=0
    HEALTHY=1
    [ -f "$DIR/settings" ] && . "$DIR/settings"
    while [ $# -gt 0 ]; do
        case "$1" in
            --error-percent) [ $# -ge 2 ] || die "--error-percent needs a value"; ERROR_PERCENT=$2; shift 2 ;;
            --error-percent=*) ERROR_PERCENT=${1#*=}; shift ;;
            --healthy) HEALTHY=1; shift ;;
            --unhealthy) HEALTHY=0; shift ;;
            *) die "unknown option '$1'" ;;
        esac
    done
    case "$ERROR_PERCENT" in ''|*[!0-9]*) die "bad --error-percent '$ERROR_PERCENT'" ;; esac
    [ "$ERROR_PERCENT" -le 100 ] || die "--error-percent must be 0..100"
    do_stop || exit 1
    printf 'ERROR_PERCENT=%s\nHEALTHY=%s\n' "$ERROR_PERCENT" "$HEALTHY" >"$DIR/settings"
    local split health
    if [ "$ERROR_PERCENT" -eq 0 ]; then
        split='* 200;'
    elif [ "$ERROR_PERCENT" -eq 100 ]; then
        split='* 500;'
    else
        split="$ERROR_PERCENT% 500; * 200;"
    fi
    if [ "$HEALTHY" = 1 ]; then
        health='return 200 "ok\n";'
    else
        health='return 503 "unhealthy\n";'
    fi
    mkdir -p "$DIR/tmp"
    cat >"$DIR/nginx.conf" <<EOF
# gate rollout test bed: server $NAME, version $version
$USER_LINE
worker_processes 1;
pid $PIDFILE;
error_log $DIR/error.log notice;
worker_shutdown_timeout 5s;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/plain;
    keepalive_timeout 60s;
    keepalive_requests 1000000;
    client_body_temp_path $DIR/tmp/client_body;
    proxy_temp_path $DIR/tmp/proxy;
    fastcgi_temp_path $DIR/tmp/fastcgi;
    uwsgi_temp_path $DIR/tmp/uwsgi;
    scgi_temp_path $DIR/tmp/scgi;
    split_clients "\$request_id" \$gate_status { $split }
    server {
        listen 127.0.0.1:$PORT;
        server_name _;
        add_header X-Version "$version" always;
        location = /healthz { $health }
        location / {
            if (\$gate_status = 500) { return 500 "error $version\n"; }
            return 200 "$version\n";
        }
    }
}
EOF
    rm -f "$PIDFILE"
    # nginx daemonizes (setsid) after binding its port; its output goes to a
    # file so that whoever runs ctl is not left holding a pipe open.
    if ! "$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/error.log" \
        </dev/null >>"$DIR/stdout.log" 2>&1; then
        tail -n 20 "$DIR/error.log" "$DIR/stdout.log" >&2 2>/dev/null
        die "nginx failed to start"
    fi
    local i
    for i in $(seq 1 200); do
        if running && port_open; then
            echo "$version" >"$DIR/version"
            return 0
        fi
        sleep 0.05
    done
    tail -n 20 "$DIR/error.log" >&2 2>/dev/null
    die "nginx not accepting on 127.0.0.1:$PORT within 10 s"
}

case "${1:-}" in
    stop) do_stop ;;
    start) shift; do_start "$@" ;;
    status)
        if running; then echo "running $(cat "$DIR/version" 2>/dev/null)"; else echo stopped; exit 3; fi ;;
    *) die "usage: ctl stop | ctl start VERSION [--error-percent N] [--healthy|--unhealthy] | ctl status" ;;
esac
"##;

fn write_ctl(server_dir: &Path, name: &str, port: u16, nginx: &Path) -> PathBuf {
    let user_line = if running_as_root() { "user root;" } else { "" };
    let script = CTL_TEMPLATE
        .replace("@NAME@", name)
        .replace("@DIR@", &server_dir.display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@NGINX@", &nginx.display().to_string())
        .replace("@USER_LINE@", user_line);
    let ctl = server_dir.join("ctl");
    fs::write(&ctl, script).unwrap_or_else(|e| panic!("write {}: {e}", ctl.display()));
    fs::set_permissions(&ctl, fs::Permissions::from_mode(0o755)).expect("chmod ctl");
    ctl
}

/// Runs `<ctl> args..`: Ok(stdout) or Err(exit status and output). The
/// script is read by `bash` rather than exec'd: a just-written file can still
/// be open for writing in a child that another test thread forked meanwhile,
/// and exec'ing it then fails with ETXTBSY ("Text file busy").
fn run_ctl(ctl: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(ctl)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", ctl.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} {} failed ({}):\n{}{}",
            ctl.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// One runtime-API command over a unix socket; the reply.
fn socket_command(socket: &Path, cmd: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(format!("{}\n", cmd.trim_end()).as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

impl RolloutBed {
    /// Writes the spec `<dir>/<name>.toml` for this bed: `[rollout]` (state
    /// in `state/`), `[router]` on the bed's HAProxy, `[health]` on
    /// `/healthz`, then `body` (sides, strategy tables, analyses, notify).
    pub fn write_spec(&self, name: &str, strategy: &str, body: &str) -> PathBuf {
        let text = format!(
            r#"[rollout]
name = "{name}"
strategy = "{strategy}"
state_dir = "state"

[router]
kind = "haproxy"
admin_socket = "{socket}"
backend = "web"

[health]
path = "/healthz"
expect_status = 200
timeout_ms = 1000

{body}
"#,
            socket = self.admin_socket.display()
        );
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts one nginx per server (via its `ctl start`), then HAProxy with
    /// `server <name> 127.0.0.1:<port> weight <w>` for each, and waits until
    /// every healthy server is UP and every unhealthy one DOWN.
    /// `weights[i]` belongs to `servers[i]` (0..=256).
    pub fn start(servers: &[Backend], weights: &[u16]) -> RolloutBed {
        assert_eq!(servers.len(), weights.len(), "one weight per server");
        assert!(!servers.is_empty(), "at least one server");
        let haproxy_bin = require_bin("/usr/sbin/haproxy", "haproxy");
        let nginx_bin = require_bin("nginx", "nginx");
        require_bin("bash", "bash");
        let tmp = tempdir("rollout");
        let dir = tmp.path().to_path_buf();

        let mut bed_servers = Vec::new();
        let mut nginx = NginxGuard(Vec::new());
        for backend in servers {
            assert!(backend.error_percent <= 100, "error_percent 0..=100");
            assert!(
                !backend.name.is_empty()
                    && backend
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)),
                "bad server name {:?}",
                backend.name
            );
            let server_dir = dir.join("servers").join(backend.name);
            fs::create_dir_all(&server_dir).expect("create server dir");
            let mut args = vec![
                "start".to_string(),
                backend.version.to_string(),
                "--error-percent".to_string(),
                backend.error_percent.to_string(),
            ];
            if !backend.healthy {
                args.push("--unhealthy".to_string());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (port, ctl) = start_with_retry(&format!("nginx {}", backend.name), || {
                let port = free_port();
                let ctl = write_ctl(&server_dir, backend.name, port, &nginx_bin);
                let started = run_ctl(&ctl, &args);
                // Even a failed start may leave an nginx behind.
                if !nginx.0.contains(&ctl) {
                    nginx.0.push(ctl.clone());
                }
                match started {
                    Ok(_) => Ok((port, ctl)),
                    Err(message) => Err(StartFailure {
                        port_in_use: message
                            .to_ascii_lowercase()
                            .contains("address already in use"),
                        message,
                    }),
                }
            });
            bed_servers.push(BedServer {
                name: backend.name.to_string(),
                version: backend.version.to_string(),
                port,
                ctl,
            });
        }

        let hdir = dir.join("haproxy");
        fs::create_dir_all(&hdir).expect("create haproxy dir");
        let admin_socket = hdir.join("admin.sock");
        let cfg_path = hdir.join("haproxy.cfg");
        let log = hdir.join("haproxy.log");
        let server_lines: String = bed_servers
            .iter()
            .zip(weights)
            .map(|(s, w)| {
                format!(
                    "    server {} 127.0.0.1:{} weight {w} check inter {CHECK_INTER_MS}ms fall 2 rise 1\n",
                    s.name, s.port
                )
            })
            .collect();
        let defaults = "    timeout connect 1s\n\
                        \x20   timeout client 10s\n\
                        \x20   timeout server 10s\n\
                        \x20   timeout http-keep-alive 30s\n\
                        \x20   timeout check 1s\n\
                        \x20   retries 3\n\
                        \x20   option redispatch 1\n\
                        \x20   retry-on conn-failure empty-response response-timeout\n";
        let backend = format!(
            "    balance roundrobin\n    option httpchk GET /healthz\n    http-check expect status 200\n{server_lines}"
        );
        let (proc, fe_port, stats_port) = super::haproxy::spawn(
            "haproxy (rollout bed)",
            &haproxy_bin,
            &cfg_path,
            &admin_socket,
            &log,
            defaults,
            &backend,
        );
        let bed = RolloutBed {
            frontend: format!("127.0.0.1:{fe_port}"),
            admin_socket,
            metrics_url: format!("http://127.0.0.1:{stats_port}/metrics"),
            stats_url: format!("http://127.0.0.1:{stats_port}/stats"),
            backend: "web".to_string(),
            servers: bed_servers,
            dir,
            prometheus: None,
            haproxy: Some(proc),
            nginx,
            _tmp: tmp,
        };
        for backend in servers {
            if backend.healthy {
                bed.wait_up(backend.name);
            } else {
                bed.wait_down(backend.name);
            }
        }
        bed
    }

    /// Starts Prometheus (job `haproxy`, scrape interval 1 s) scraping
    /// [`RolloutBed::metrics_url`], waits until the target is up, and returns
    /// Prometheus's URL. A second call returns the same URL.
    pub fn with_prometheus(&mut self) -> String {
        if self.prometheus.is_none() {
            let target = self
                .metrics_url
                .trim_start_matches("http://")
                .trim_end_matches("/metrics")
                .to_string();
            let prom = Prometheus::start(&[("haproxy", &target, "/metrics")], &[]);
            prom.wait_up("haproxy");
            self.prometheus = Some(prom);
        }
        self.prometheus.as_ref().unwrap().url.clone()
    }

    /// The Prometheus started by [`RolloutBed::with_prometheus`].
    pub fn prometheus(&self) -> Option<&Prometheus> {
        self.prometheus.as_ref()
    }

    /// The server called `name`; panics when there is none.
    pub fn server(&self, name: &str) -> &BedServer {
        self.servers
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no server {name} in the rollout bed"))
    }

    /// `<dir>/servers/{server}/ctl`: the ctl path with the rollout spec's
    /// `{server}` placeholder, e.g. `format!("{} start {{version}}",
    /// bed.ctl_pattern())` for a spec's `start` command.
    pub fn ctl_pattern(&self) -> String {
        format!("{}/servers/{{server}}/ctl", self.dir.display())
    }

    /// One runtime-API command (e.g. `set server web/green1 weight 100`);
    /// the reply (empty for a successful `set`).
    pub fn command(&self, cmd: &str) -> String {
        socket_command(&self.admin_socket, cmd).unwrap_or_else(|e| {
            panic!(
                "haproxy runtime API `{cmd}` on {}: {e}\n{}",
                self.admin_socket.display(),
                self.log_tail()
            )
        })
    }

    /// Every server's state from `show servers state web`.
    pub fn states(&self) -> HashMap<String, ServerState> {
        let reply = self.command("show servers state web");
        let mut columns: Vec<&str> = Vec::new();
        let mut states = HashMap::new();
        for line in reply.lines() {
            if let Some(header) = line.strip_prefix("# ") {
                columns = header.split_whitespace().collect();
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            if columns.is_empty() || fields.len() < columns.len().min(10) {
                continue;
            }
            let get = |name: &str| -> Option<&str> {
                columns
                    .iter()
                    .position(|c| *c == name)
                    .and_then(|i| fields.get(i).copied())
            };
            if get("be_name") != Some("web") {
                continue;
            }
            let num = |name: &str| -> u64 { get(name).and_then(|v| v.parse().ok()).unwrap_or(0) };
            let Some(name) = get("srv_name") else {
                continue;
            };
            states.insert(
                name.to_string(),
                ServerState {
                    op_state: num("srv_op_state") as u8,
                    admin_state: num("srv_admin_state") as u8,
                    weight: num("srv_uweight") as u16,
                    initial_weight: num("srv_iweight") as u16,
                    port: num("srv_port") as u16,
                },
            );
        }
        assert!(
            !states.is_empty(),
            "no servers in `show servers state web`:\n{reply}"
        );
        states
    }

    /// Every server's current weight (`srv_uweight`).
    pub fn weights(&self) -> HashMap<String, u16> {
        self.states()
            .into_iter()
            .map(|(name, state)| (name, state.weight))
            .collect()
    }

    /// `show stat` as (column name -> value) maps for the servers of
    /// backend `web`, keyed by server name.
    pub fn stat(&self) -> HashMap<String, HashMap<String, String>> {
        let csv = self.command("show stat");
        let mut lines = csv.lines();
        let header = lines.next().unwrap_or_default().trim_start_matches("# ");
        let columns: Vec<&str> = header.split(',').collect();
        let mut out = HashMap::new();
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            if fields.first() != Some(&"web") {
                continue;
            }
            let Some(sv) = fields.get(1) else { continue };
            if *sv == "BACKEND" || *sv == "FRONTEND" {
                continue;
            }
            let row: HashMap<String, String> = columns
                .iter()
                .zip(&fields)
                .map(|(c, f)| (c.to_string(), f.to_string()))
                .collect();
            out.insert(sv.to_string(), row);
        }
        out
    }

    /// The `status` column of `show stat`: `UP`, `DOWN`, `DRAIN`, `MAINT`,
    /// `UP 1/2`, `no check`...
    pub fn status(&self, name: &str) -> String {
        self.stat()
            .get(name)
            .and_then(|row| row.get("status").cloned())
            .unwrap_or_else(|| panic!("no server web/{name} in `show stat`"))
    }

    /// Current sessions on the server (`scur` of `show stat`).
    pub fn scur(&self, name: &str) -> u64 {
        self.stat()
            .get(name)
            .and_then(|row| row.get("scur").and_then(|v| v.parse().ok()))
            .unwrap_or_else(|| panic!("no scur for web/{name} in `show stat`"))
    }

    /// Waits (up to 30 s) until health checks say `name` is UP
    /// (`srv_op_state` 2, whatever its admin state: drain or maint do not
    /// matter).
    pub fn wait_up(&self, name: &str) {
        wait_for(&format!("web/{name} UP"), READY_TIMEOUT, || {
            match self.states().get(name) {
                Some(s) if s.is_up() => Ok(()),
                other => Err(format!("{other:?}, status {}", self.status(name))),
            }
        });
    }

    /// Waits (up to 30 s) until health checks say `name` is DOWN
    /// (`srv_op_state` 0).
    pub fn wait_down(&self, name: &str) {
        wait_for(&format!("web/{name} DOWN"), READY_TIMEOUT, || {
            match self.states().get(name) {
                Some(s) if s.op_state == 0 => Ok(()),
                other => Err(format!("{other:?}, status {}", self.status(name))),
            }
        });
    }

    /// Waits (up to `timeout`) until `scur` of `name` is 0: no request in
    /// flight on it (after `state drain` or `weight 0`).
    pub fn wait_idle(&self, name: &str, timeout: Duration) {
        wait_for(&format!("web/{name} scur 0"), timeout, || {
            match self.scur(name) {
                0 => Ok(()),
                n => Err(format!("scur {n}")),
            }
        });
    }

    /// `<ctl> stop` for `name`; panics with its output on failure.
    pub fn ctl_stop(&self, name: &str) {
        let ctl = &self.server(name).ctl;
        run_ctl(ctl, &["stop"]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// `<ctl> start <version> [extra..]` for `name`; panics with its output
    /// on failure.
    pub fn ctl_start(&self, name: &str, version: &str, extra: &[&str]) {
        let ctl = &self.server(name).ctl;
        let mut args = vec!["start", version];
        args.extend_from_slice(extra);
        run_ctl(ctl, &args).unwrap_or_else(|e| panic!("{e}"));
    }

    /// HAProxy's output (alerts, warnings) and the servers' nginx error logs.
    pub fn log_tail(&self) -> String {
        let mut logs = vec![self.dir.join("haproxy/haproxy.log")];
        for s in &self.servers {
            logs.push(self.dir.join("servers").join(&s.name).join("error.log"));
        }
        log_tail(&logs, 30)
    }
}

impl Drop for RolloutBed {
    fn drop(&mut self) {
        self.prometheus.take();
        if let Some(mut proc) = self.haproxy.take() {
            proc.stop();
        }
        // Then `self.nginx` drops: `ctl stop` for every server.
    }
}

// ---------------------------------------------------------------------------
// Load generator
// ---------------------------------------------------------------------------

/// Per-request timeout (connect + write + read).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How a [`Load`] runs. It stops at whichever limit comes first (or at
/// [`Load::stop`]).
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Worker threads, each with one keep-alive connection at a time.
    pub concurrency: usize,
    /// Total paced rate over all workers; `None`: as fast as possible.
    pub rate_per_sec: Option<f64>,
    /// Requests to send in all.
    pub max_requests: u64,
    pub max_duration: Duration,
}

impl Default for LoadOptions {
    /// 4 workers, 200 req/s, at most 10 000 requests or 30 s.
    fn default() -> Self {
        LoadOptions {
            concurrency: 4,
            rate_per_sec: Some(200.0),
            max_requests: 10_000,
            max_duration: Duration::from_secs(30),
        }
    }
}

/// One request's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Unix epoch milliseconds when the response (or the error) arrived.
    pub at_ms: u64,
    /// The `X-Version` header, when there was a response carrying one.
    pub version: Option<String>,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// Connect, write or read error, timeout, or malformed response.
    pub error: Option<String>,
    /// From just before the request was written (or the connection opened)
    /// to `at_ms`, in microseconds.
    pub latency_us: u64,
}

impl Sample {
    /// A response with a 2xx status.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Unix epoch milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A running load generator (HTTP/1.1 `GET /` with keep-alive).
pub struct Load {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    workers: Vec<JoinHandle<()>>,
    connections: Arc<AtomicU64>,
    started_ms: u64,
}

/// Everything a [`Load`] recorded, sorted by `at_ms`.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub samples: Vec<Sample>,
    /// When the load started / stopped (unix epoch ms).
    pub started_ms: u64,
    pub stopped_ms: u64,
    /// TCP connections opened: `concurrency` plus one per error or
    /// `Connection: close` (and per 5 s of idleness) when keep-alive works.
    pub connections: u64,
}

impl Load {
    /// Starts `options.concurrency` workers sending `GET /` to `frontend`
    /// (`host:port`).
    pub fn start(frontend: &str, options: LoadOptions) -> Load {
        assert!(options.concurrency > 0, "concurrency > 0");
        let addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(frontend)
            .unwrap_or_else(|e| panic!("resolve {frontend}: {e}"))
            .next()
            .unwrap_or_else(|| panic!("resolve {frontend}: no address"));
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let tickets = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + options.max_duration;
        let request = Arc::new(format!(
            "GET / HTTP/1.1\r\nHost: {frontend}\r\nUser-Agent: gate-rollout-load\r\n\r\n"
        ));
        let workers = (0..options.concurrency)
            .map(|_| {
                let stop = stop.clone();
                let samples = samples.clone();
                let tickets = tickets.clone();
                let connections = connections.clone();
                let request = request.clone();
                let options = options.clone();
                thread::spawn(move || {
                    let mut conn: Option<Conn> = None;
                    loop {
                        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
                            return;
                        }
                        let ticket = tickets.fetch_add(1, Ordering::Relaxed);
                        if ticket >= options.max_requests {
                            return;
                        }
                        if let Some(rate) = options.rate_per_sec {
                            let due = start + Duration::from_secs_f64(ticket as f64 / rate);
                            loop {
                                let now = Instant::now();
                                if now >= due {
                                    break;
                                }
                                if stop.load(Ordering::Relaxed) || now >= deadline {
                                    return;
                                }
                                thread::sleep((due - now).min(Duration::from_millis(20)));
                            }
                        }
                        let sample = one_request(&mut conn, addr, request.as_bytes(), &connections);
                        samples
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(sample);
                    }
                })
            })
            .collect();
        Load {
            stop,
            samples,
            workers,
            connections,
            started_ms: now_ms(),
        }
    }

    /// Requests recorded so far.
    pub fn count(&self) -> usize {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// A copy of what was recorded so far (the load keeps running).
    pub fn snapshot(&self) -> LoadReport {
        let mut samples = self
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        samples.sort_by_key(|s| s.at_ms);
        LoadReport {
            samples,
            started_ms: self.started_ms,
            stopped_ms: now_ms(),
            connections: self.connections.load(Ordering::Relaxed),
        }
    }

    /// `true` once every worker has finished (limit reached).
    pub fn finished(&self) -> bool {
        self.workers.iter().all(|w| w.is_finished())
    }

    /// Stops now (requests in flight complete or time out) and reports.
    pub fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        self.finish()
    }

    /// Waits until `max_requests` or `max_duration` is reached, and reports.
    pub fn wait(self) -> LoadReport {
        self.finish()
    }

    fn finish(mut self) -> LoadReport {
        for worker in self.workers.drain(..) {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        let mut samples =
            std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()));
        samples.sort_by_key(|s| s.at_ms);
        LoadReport {
            samples,
            started_ms: self.started_ms,
            stopped_ms: now_ms(),
            connections: self.connections.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    last_used: Instant,
}

/// A keep-alive connection idle this long is replaced before use rather
/// than risking a race with the server closing it.
const MAX_IDLE: Duration = Duration::from_secs(5);

/// Sends one request on `conn` (opening a new connection when there is none
/// or it is stale), records the outcome, and drops the connection after an
/// error or `Connection: close`, so that the next request uses a new one.
fn one_request(
    conn: &mut Option<Conn>,
    addr: SocketAddr,
    request: &[u8],
    connections: &AtomicU64,
) -> Sample {
    let t0 = Instant::now();
    let deadline = t0 + REQUEST_TIMEOUT;
    if conn
        .as_ref()
        .is_some_and(|c| c.last_used.elapsed() > MAX_IDLE)
    {
        *conn = None;
    }
    let result = (|| -> Result<(u16, Option<String>, bool), String> {
        if conn.is_none() {
            let stream = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT)
                .map_err(|e| format!("connect: {e}"))?;
            connections.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            *conn = Some(Conn {
                stream,
                buf: Vec::with_capacity(1024),
                last_used: Instant::now(),
            });
        }
        let c = conn.as_mut().unwrap();
        c.stream
            .set_write_timeout(Some(remaining(deadline)?))
            .map_err(|e| format!("set timeout: {e}"))?;
        c.stream
            .write_all(request)
            .map_err(|e| format!("write: {e}"))?;
        read_response(c, deadline)
    })();
    let latency_us = t0.elapsed().as_micros() as u64;
    let at_ms = now_ms();
    match result {
        Ok((status, version, keep)) => {
            if keep {
                if let Some(c) = conn.as_mut() {
                    c.last_used = Instant::now();
                }
            } else {
                *conn = None;
            }
            Sample {
                at_ms,
                version,
                status: Some(status),
                error: None,
                latency_us,
            }
        }
        Err(error) => {
            *conn = None;
            Sample {
                at_ms,
                version: None,
                status: None,
                error: Some(error),
                latency_us,
            }
        }
    }
}

fn remaining(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(format!("timeout after {REQUEST_TIMEOUT:?}"))
    } else {
        Ok(left)
    }
}

/// Reads more bytes into `c.buf`; `Ok(false)` at EOF.
fn fill(c: &mut Conn, deadline: Instant) -> Result<bool, String> {
    c.stream
        .set_read_timeout(Some(remaining(deadline)?))
        .map_err(|e| format!("set timeout: {e}"))?;
    let mut chunk = [0u8; 4096];
    match c.stream.read(&mut chunk) {
        Ok(0) => Ok(false),
        Ok(n) => {
            c.buf.extend_from_slice(&chunk[..n]);
            Ok(true)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(format!("timeout after {REQUEST_TIMEOUT:?}"))
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// Reads one response from `c` (leaving any following bytes in `c.buf`):
/// status, `X-Version`, whether the connection may be reused.
fn read_response(c: &mut Conn, deadline: Instant) -> Result<(u16, Option<String>, bool), String> {
    let head_end = loop {
        if let Some(i) = c.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if !fill(c, deadline)? {
            return Err(if c.buf.is_empty() {
                "read: connection closed before a response".to_string()
            } else {
                "read: connection closed inside the response head".to_string()
            });
        }
    };
    let head = String::from_utf8_lossy(&c.buf[..head_end]).into_owned();
    c.buf.drain(..head_end + 4);
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let http10 = status_line.starts_with("HTTP/1.0");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut version = None;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = http10;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "x-version" => version = Some(v.to_string()),
            "content-length" => {
                length = Some(v.parse().map_err(|_| format!("bad content-length {v:?}"))?)
            }
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            "connection" => {
                let v = v.to_ascii_lowercase();
                if v.contains("close") {
                    close = true;
                } else if v.contains("keep-alive") {
                    close = false;
                }
            }
            _ => {}
        }
    }
    if chunked {
        loop {
            let eol = loop {
                if let Some(i) = c.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if !fill(c, deadline)? {
                    return Err("read: connection closed inside a chunked body".into());
                }
            };
            let size_text = String::from_utf8_lossy(&c.buf[..eol]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            c.buf.drain(..eol + 2);
            if size == 0 {
                // Trailers (none expected) end with an empty line.
                loop {
                    if let Some(i) = c.buf.windows(2).position(|w| w == b"\r\n") {
                        let empty = i == 0;
                        c.buf.drain(..i + 2);
                        if empty {
                            break;
                        }
                        continue;
                    }
                    if !fill(c, deadline)? {
                        return Err("read: connection closed inside chunked trailers".into());
                    }
                }
                break;
            }
            while c.buf.len() < size + 2 {
                if !fill(c, deadline)? {
                    return Err("read: connection closed inside a chunk".into());
                }
            }
            c.buf.drain(..size + 2);
        }
    } else if let Some(length) = length {
        while c.buf.len() < length {
            if !fill(c, deadline)? {
                return Err("read: connection closed inside the body".into());
            }
        }
        c.buf.drain(..length);
    } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
        // Body delimited by the end of the connection.
        while fill(c, deadline)? {}
        c.buf.clear();
        close = true;
    }
    Ok((status, version, !close))
}

impl LoadReport {
    pub fn total(&self) -> usize {
        self.samples.len()
    }

    /// Errors plus non-2xx responses.
    pub fn failed(&self) -> usize {
        self.samples.iter().filter(|s| !s.ok()).count()
    }

    pub fn failed_samples(&self) -> Vec<&Sample> {
        self.samples.iter().filter(|s| !s.ok()).collect()
    }

    /// Samples with `from_ms <= at_ms < to_ms`.
    pub fn window(&self, from_ms: u64, to_ms: u64) -> impl Iterator<Item = &Sample> {
        self.samples
            .iter()
            .filter(move |s| s.at_ms >= from_ms && s.at_ms < to_ms)
    }

    /// Responses per `X-Version` (any status, so a version's 500s count as
    /// its traffic) with `from_ms <= at_ms < to_ms`. Samples without a
    /// version (errors, HAProxy's own 503s) are not counted.
    pub fn split(&self, from_ms: u64, to_ms: u64) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for s in self.window(from_ms, to_ms) {
            if let Some(v) = &s.version {
                *counts.entry(v.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Percentage (0..=100) of the versioned responses in the window that
    /// came from `version`; 0 when the window has none.
    pub fn share(&self, version: &str, from_ms: u64, to_ms: u64) -> f64 {
        let split = self.split(from_ms, to_ms);
        let all: usize = split.values().sum();
        if all == 0 {
            return 0.0;
        }
        100.0 * split.get(version).copied().unwrap_or(0) as f64 / all as f64
    }

    /// The first `at_ms >= after_ms` of a response from `version`.
    pub fn first_at(&self, version: &str, after_ms: u64) -> Option<u64> {
        self.samples
            .iter()
            .find(|s| s.at_ms >= after_ms && s.version.as_deref() == Some(version))
            .map(|s| s.at_ms)
    }

    /// The last `at_ms` of a response from `version`.
    pub fn last_at(&self, version: &str) -> Option<u64> {
        self.samples
            .iter()
            .rev()
            .find(|s| s.version.as_deref() == Some(version))
            .map(|s| s.at_ms)
    }

    /// Responses per status code (errors not counted).
    pub fn statuses(&self) -> HashMap<u16, usize> {
        let mut counts = HashMap::new();
        for s in &self.samples {
            if let Some(status) = s.status {
                *counts.entry(status).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Completed requests per second over the report's span.
    pub fn rate(&self) -> f64 {
        let (Some(first), Some(last)) = (self.samples.first(), self.samples.last()) else {
            return 0.0;
        };
        let span_ms = last.at_ms.saturating_sub(first.at_ms).max(1);
        self.samples.len() as f64 * 1000.0 / span_ms as f64
    }

    /// The `q` quantile (0..=1) of latencies, in microseconds.
    pub fn latency_quantile_us(&self, q: f64) -> u64 {
        let mut lat: Vec<u64> = self.samples.iter().map(|s| s.latency_us).collect();
        if lat.is_empty() {
            return 0;
        }
        lat.sort_unstable();
        let i = ((lat.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        lat[i]
    }

    /// A one-line summary for failure messages and logs.
    pub fn summary(&self) -> String {
        let mut split: Vec<(String, usize)> = self.split(0, u64::MAX).into_iter().collect();
        split.sort();
        let mut statuses: Vec<(u16, usize)> = self.statuses().into_iter().collect();
        statuses.sort();
        let errors = self.samples.iter().filter(|s| s.error.is_some()).count();
        format!(
            "{} requests, {} failed ({errors} errors), {} connections, {:.0} req/s, p50 {} us, p99 {} us, versions {split:?}, statuses {statuses:?}",
            self.total(),
            self.failed(),
            self.connections,
            self.rate(),
            self.latency_quantile_us(0.5),
            self.latency_quantile_us(0.99),
        )
    }
}
