//! nginx (Debian's `nginx` package) run in the foreground from a temporary
//! prefix: `nginx -p <dir>/ -c <dir>/nginx.conf -e <dir>/error.log` with
//! `daemon off`, so it needs nothing under /etc or /var and works as root.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::{
    Proc, StartFailure, free_port, port_open, require_bin, running_as_root, start_with_retry,
    tempdir,
};

/// An nginx process listening on `ports`, with its files in `dir`.
pub(crate) struct Nginx {
    pub ports: Vec<u16>,
    proc: Proc,
    pub dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with the `server { }` blocks that `servers` returns for
    /// `nports` fresh ports, and waits until it listens on all of them.
    pub fn start(
        what: &str,
        dir: tempfile::TempDir,
        nports: usize,
        servers: impl Fn(&[u16]) -> String,
    ) -> Nginx {
        let nginx = require_bin("nginx", "nginx");
        let root = dir.path().to_path_buf();
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp).expect("create nginx temp dir");
        let conf_path = root.join("nginx.conf");
        let pid_path = root.join("nginx.pid");
        let error_log = root.join("error.log");
        let stdout_log = root.join("stdout.log");
        let (proc, ports) = start_with_retry(what, || {
            let ports: Vec<u16> = (0..nports).map(|_| free_port()).collect();
            let user = if running_as_root() {
                "user root;\n"
            } else {
                ""
            };
            let conf = format!(
                "# gate test harness\n\
                 daemon off;\n\
                 master_process on;\n\
                 worker_processes 1;\n\
                 {user}\
                 pid {pid};\n\
                 error_log {error_log} notice;\n\
                 events {{ worker_connections 512; }}\n\
                 http {{\n\
                 access_log off;\n\
                 default_type text/plain;\n\
                 client_body_temp_path {tmp}/client_body;\n\
                 proxy_temp_path {tmp}/proxy;\n\
                 fastcgi_temp_path {tmp}/fastcgi;\n\
                 uwsgi_temp_path {tmp}/uwsgi;\n\
                 scgi_temp_path {tmp}/scgi;\n\
                 {servers}\n\
                 }}\n",
                pid = pid_path.display(),
                error_log = error_log.display(),
                tmp = tmp.display(),
                servers = servers(&ports),
            );
            fs::write(&conf_path, conf).expect("write nginx.conf");
            let _ = fs::remove_file(&pid_path);
            let _ = fs::remove_file(&error_log);
            let _ = fs::remove_file(&stdout_log);
            let mut cmd = Command::new(&nginx);
            cmd.arg("-p")
                .arg(format!("{}/", root.display()))
                .arg("-c")
                .arg(&conf_path)
                .arg("-e")
                .arg(&error_log);
            let mut proc = Proc::spawn(
                what,
                &mut cmd,
                &stdout_log,
                std::slice::from_ref(&error_log),
                "TERM",
            );
            let pid = proc.pid().to_string();
            // nginx writes its pid file only after binding every listener:
            // then the ports are ours, not another process's.
            proc.wait_ready("listening", || {
                let written = fs::read_to_string(&pid_path).unwrap_or_default();
                (written.trim() == pid && ports.iter().all(|p| port_open(*p))).then_some(())
            })?;
            Ok::<_, StartFailure>((proc, ports))
        });
        Nginx { ports, proc, dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }
}

/// nginx serving fixed responses: health checks, probes, HAProxy backends.
pub struct HttpServer {
    pub port: u16,
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    nginx: Nginx,
}

impl HttpServer {
    /// `locations`: nginx `location` blocks (or any server-level directives),
    /// e.g. `location /healthz { return 200 "ok"; }`. They go into one
    /// `server { listen 127.0.0.1:<port>; ... }`. The default type is
    /// `text/plain`; there is no access log.
    pub fn start(locations: &str) -> HttpServer {
        let nginx = Nginx::start("nginx", tempdir("nginx"), 1, |ports| {
            format!(
                "server {{\nlisten 127.0.0.1:{};\nserver_name _;\n{locations}\n}}",
                ports[0]
            )
        });
        let port = nginx.ports[0];
        HttpServer {
            port,
            base_url: format!("http://127.0.0.1:{port}"),
            nginx,
        }
    }

    /// The server's temporary directory (its prefix): files placed here can
    /// be served with `root`/`alias`.
    pub fn dir(&self) -> &Path {
        self.nginx.path()
    }
}
