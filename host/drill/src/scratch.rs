//! The scratch PostgreSQL instance a restore drill recovers into: a copy of
//! a base backup in a fresh private directory, configured to recover from
//! the WAL archive, listening on 127.0.0.1 on an ephemeral port, and
//! removed afterwards.
//!
//! PostgreSQL refuses to run as root. When gate runs as root, every
//! PostgreSQL program, the copy and the directory itself are run through
//! `runuser -u postgres --`, so the data directory belongs to `postgres`
//! (the test harness, tests/services/postgres.rs, does the same). Otherwise
//! they run as the user running gate.
//!
//! Only the instance's Unix socket, in the 0700 scratch directory, accepts
//! connections (`pg_hba.conf`: `local all all trust`); the TCP listener on
//! 127.0.0.1 matches no `pg_hba.conf` line, so nobody else on the machine
//! can read the restored data while the drill runs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Where PostgreSQL's server programs are (Debian's layout);
/// `GATE_PG_BINDIR` overrides it.
pub const DEFAULT_BINDIR: &str = "/usr/lib/postgresql/15/bin";

fn bindir() -> PathBuf {
    std::env::var_os("GATE_PG_BINDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BINDIR))
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `program args…`, through `runuser -u postgres --` when gate is root.
fn command(program: &Path) -> Command {
    let mut cmd = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.env("LC_ALL", "C")
        .env_remove("PGDATA")
        .env_remove("PGPORT")
        .env_remove("PGHOST")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd`; on failure the error says `what` and the program's stderr.
async fn run(what: &str, cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("{what}: cannot run it: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A scratch instance: its directory, data directory and port.
pub struct Scratch {
    pub root: PathBuf,
    pub data: PathBuf,
    pub port: u16,
    started: bool,
}

/// A port the kernel has just handed out on 127.0.0.1 and nobody holds.
fn ephemeral_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("127.0.0.1:0: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("127.0.0.1:0: {e}"))
}

impl Scratch {
    /// A private directory under the temporary directory holding a copy of
    /// `backup` as `data/`.
    pub async fn create(backup: &Path) -> Result<Scratch, String> {
        let template = std::env::temp_dir().join("gate-drill-restore-XXXXXX");
        let root = run(
            "mktemp",
            command(Path::new("mktemp")).arg("-d").arg(&template),
        )
        .await?;
        let root = PathBuf::from(root);
        let scratch = Scratch {
            data: root.join("data"),
            root,
            port: 0,
            started: false,
        };
        let copied = run(
            "copying the base backup",
            command(Path::new("cp"))
                .arg("-a")
                .arg(backup)
                .arg(&scratch.data),
        )
        .await;
        if let Err(e) = copied {
            scratch.remove().await;
            return Err(e);
        }
        Ok(scratch)
    }

    /// Sets the instance up to recover: `recovery.signal`, the recovery and
    /// connection settings (appended to `postgresql.auto.conf`, which
    /// overrides `postgresql.conf`), and a `pg_hba.conf` of its own.
    pub fn configure(&mut self, recovery: &str) -> Result<(), String> {
        use std::io::Write;
        self.port = ephemeral_port()?;
        let io = |what: &str, e: std::io::Error| format!("{what} in {}: {e}", self.data.display());
        // A copy of a running server's directory may carry these; the
        // instance must start as a fresh recovery, not a standby.
        for stale in ["postmaster.pid", "standby.signal"] {
            match std::fs::remove_file(self.data.join(stale)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(stale, e)),
            }
        }
        let settings = format!(
            "\n# gate drill restore: scratch instance\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{root}'\n\
             archive_mode = off\n\
             primary_conninfo = ''\n\
             hot_standby = on\n\
             logging_collector = off\n\
             {recovery}\n",
            port = self.port,
            root = self.root.display(),
        );
        // Existing files, opened without creating (or following) anything
        // new: they keep their owner, `postgres` when gate is root.
        let open = |name: &str, append: bool| {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .append(append)
                .write(true)
                .truncate(!append)
                .custom_flags(libc::O_NOFOLLOW)
                .open(self.data.join(name))
        };
        open("postgresql.auto.conf", true)
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .map_err(|e| io("postgresql.auto.conf", e))?;
        open("pg_hba.conf", false)
            .and_then(|mut f| f.write_all(b"local all all trust\n"))
            .map_err(|e| io("pg_hba.conf", e))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.data.join("recovery.signal"))
            .map_err(|e| io("recovery.signal", e))?;
        if running_as_root() {
            // recovery.signal is removed by the server at promotion: it
            // must be the server user's to remove (the directory is).
            let _ = std::fs::set_permissions(
                self.data.join("recovery.signal"),
                std::os::unix::fs::PermissionsExt::from_mode(0o644),
            );
        }
        Ok(())
    }

    /// `pg_ctl start`, waiting up to `timeout` for the server to accept
    /// connections (during recovery: once it is consistent).
    pub async fn start(&mut self, timeout: Duration) -> Result<(), String> {
        let log = self.root.join("postgres.log");
        let started = run(
            "pg_ctl start",
            command(&bindir().join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", &timeout.as_secs().max(1).to_string(), "start"]),
        )
        .await;
        self.started = true;
        started
            .map(drop)
            .map_err(|e| format!("{e}\n{}", self.log_tail(20)))
    }

    /// The last `n` lines of the server's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The socket directory, for connecting.
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    /// Stops the server (immediately: the copy is thrown away) and removes
    /// the directory. Never fails: what could not be removed is logged.
    pub async fn remove(self) {
        if self.started {
            let stopped = run(
                "pg_ctl stop",
                command(&bindir().join("pg_ctl"))
                    .arg("-D")
                    .arg(&self.data)
                    .args(["-m", "immediate", "-w", "-t", "30", "stop"]),
            )
            .await;
            if stopped.is_err() {
                self.kill_postmaster();
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!(
                "could not remove the scratch instance's directory {}: {e}",
                self.root.display()
            );
        }
    }

    /// SIGKILL to the postmaster named in `postmaster.pid`, when pg_ctl
    /// could not stop it: it must not outlive its removed directory.
    fn kill_postmaster(&self) {
        let Ok(text) = std::fs::read_to_string(self.data.join("postmaster.pid")) else {
            return;
        };
        if let Some(pid) = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<i32>().ok())
            && pid > 1
        {
            // SAFETY: kill has no memory preconditions.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}
