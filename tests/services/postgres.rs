//! PostgreSQL 15 from Debian's `postgresql` package, with streaming replicas.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, initdb,
//! pg_basebackup and the server run as the `postgres` user (its uid/gid set
//! on the child process, as `runuser -u postgres --` would), in a temporary
//! scratch directory (see `scratch`) owned by `postgres`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{
    Proc, READY_TIMEOUT, StartFailure, free_port, require_bin, run_ok, running_as_root,
    start_with_retry, tempdir, wait_for,
};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL 15 server with superuser `gate` and database `gate`, trust
/// authentication on 127.0.0.1 (including replication connections).
pub struct Postgres {
    pub port: u16,
    /// `postgres://gate@127.0.0.1:<port>/gate`
    pub url: String,
    pub data_dir: PathBuf,
    /// Where `archive_command` copies each completed WAL segment, when the
    /// server was started with [`Postgres::start_archiving`].
    pub archive_dir: Option<PathBuf>,
    proc: Proc,
    dir: tempfile::TempDir,
}

/// A streaming replica built with `pg_basebackup -R -X stream`.
pub struct Replica {
    pub port: u16,
    /// `postgres://gate@127.0.0.1:<port>/gate` (read-only: hot standby)
    pub url: String,
    /// Its `application_name` in the primary's `pg_stat_replication`.
    pub name: String,
    primary_port: u16,
    proc: Proc,
    dir: tempfile::TempDir,
}

fn pg_bin(name: &str) -> PathBuf {
    require_bin(&format!("{PG_BIN}/{name}"), "postgresql")
}

/// The `postgres` user's uid and gid, when the tests run as root.
fn postgres_ids() -> Option<(u32, u32)> {
    if !running_as_root() {
        return None;
    }
    let passwd = fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let ids = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == "postgres")
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    });
    Some(
        ids.unwrap_or_else(|| {
            panic!("no `postgres` user: install postgresql (scripts/install-deps)")
        }),
    )
}

/// A command for a PostgreSQL server program, run as `postgres` when root,
/// from `dir` (it must be able to read its working directory).
fn pg_command(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(pg_bin(program));
    cmd.current_dir(dir)
        .env("HOME", dir)
        .env("LC_ALL", "C")
        .env_remove("PGDATA")
        .env_remove("PGPORT")
        .env_remove("PGHOST");
    if let Some((uid, gid)) = postgres_ids() {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// A scratch directory that the `postgres` user owns.
fn pg_tempdir(what: &str) -> tempfile::TempDir {
    let dir = tempdir(what);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod tempdir");
    if let Some((uid, gid)) = postgres_ids() {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown tempdir");
    }
    dir
}

/// Runs one SQL script through psql as `gate` on database `db`.
fn run_psql(port: u16, db: &str, sql: &str) -> Result<String, String> {
    use std::io::Write;
    let psql = if Path::new(&format!("{PG_BIN}/psql")).exists() {
        pg_bin("psql")
    } else {
        require_bin("/usr/bin/psql", "postgresql-client")
    };
    let mut child = Command::new(psql)
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"])
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "gate",
            "-d",
            db,
        ])
        .args(["-f", "-"])
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGPASSWORD")
        .env_remove("PGSERVICE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .map_err(|e| format!("write to psql: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("psql: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        Ok(stdout.trim_end_matches('\n').to_string())
    } else {
        Err(format!(
            "psql on port {port} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            stdout
        ))
    }
}

/// Starts `postgres -D data_dir -p <port>` and waits until it accepts
/// connections (retrying on a bind race).
fn start_server(what: &str, dir: &Path, data_dir: &Path, ready_line: &str) -> (Proc, u16) {
    let log = dir.join("postgres.log");
    start_with_retry(what, || {
        let port = free_port();
        let _ = fs::remove_file(&log);
        let mut cmd = pg_command("postgres", dir);
        cmd.arg("-D").arg(data_dir).args(["-p", &port.to_string()]);
        let mut proc = Proc::spawn(what, &mut cmd, &log, &[], "QUIT");
        let log = log.clone();
        proc.wait_ready("ready to accept connections", || {
            let text = fs::read_to_string(&log).unwrap_or_default();
            (text.contains(ready_line) && run_psql(port, "postgres", "SELECT 1").is_ok())
                .then_some(())
        })?;
        Ok::<_, StartFailure>((proc, port))
    })
}

fn url(port: u16, user: &str) -> String {
    format!("postgres://{user}@127.0.0.1:{port}/gate")
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with_config("")
    }

    /// `extra_conf` is appended to postgresql.conf (it may override the
    /// harness's settings, except `port`, which is given on the command line).
    pub fn start_with_config(extra_conf: &str) -> Postgres {
        Postgres::start_in(pg_tempdir("pg"), extra_conf, None)
    }

    /// A primary that archives its WAL: `archive_mode = on` and an
    /// `archive_command` copying each segment into `archive_dir` (a
    /// directory of the server's user), as a point-in-time-recovery setup
    /// does. `pg_switch_wal()` sends the current segment there.
    pub fn start_archiving() -> Postgres {
        let dir = pg_tempdir("pg");
        let archive = postgres_owned_dir(&dir.path().join("wal-archive"));
        let conf = format!(
            "archive_mode = on
             archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'
             archive_timeout = 0
",
            archive = archive.display()
        );
        Postgres::start_in(dir, &conf, Some(archive))
    }

    fn start_in(
        dir: tempfile::TempDir,
        extra_conf: &str,
        archive_dir: Option<PathBuf>,
    ) -> Postgres {
        let data_dir = dir.path().join("data");
        run_ok(
            "initdb",
            pg_command("initdb", dir.path())
                .arg("-D")
                .arg(&data_dir)
                .args(["-U", "gate", "--auth=trust", "--no-sync"])
                .args(["-E", "UTF8", "--locale=C"]),
        );
        let socket_dir = dir.path().display().to_string();
        let conf = format!(
            "\n# gate test harness\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{socket_dir}'\n\
             wal_level = replica\n\
             max_wal_senders = 10\n\
             max_replication_slots = 10\n\
             hot_standby = on\n\
             wal_receiver_status_interval = 1s\n\
             shared_buffers = 32MB\n\
             fsync = off\n\
             logging_collector = off\n\
             log_destination = 'stderr'\n\
             {extra_conf}\n"
        );
        append(&data_dir.join("postgresql.conf"), &conf);
        fs::write(
            data_dir.join("pg_hba.conf"),
            "local all all trust\n\
             host all all 127.0.0.1/32 trust\n\
             local replication all trust\n\
             host replication all 127.0.0.1/32 trust\n",
        )
        .expect("write pg_hba.conf");
        let (proc, port) = start_server(
            "postgres",
            dir.path(),
            &data_dir,
            "database system is ready to accept connections",
        );
        run_psql(port, "postgres", "CREATE DATABASE gate").unwrap_or_else(|e| panic!("{e}"));
        Postgres {
            port,
            url: url(port, "gate"),
            data_dir,
            archive_dir,
            proc,
            dir,
        }
    }

    /// Where [`Postgres::base_backup`] writes its backups, one per
    /// subdirectory (created, owned by the server's user).
    pub fn backups_dir(&self) -> PathBuf {
        postgres_owned_dir(&self.dir.path().join("backups"))
    }

    /// A plain-format `pg_basebackup` (with its WAL, `-X stream`, and a
    /// `backup_manifest`) into `backups_dir()/<name>`; returns its path.
    pub fn base_backup(&self, name: &str) -> PathBuf {
        let target = self.backups_dir().join(name);
        run_ok(
            "pg_basebackup",
            pg_command("pg_basebackup", self.dir.path())
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "gate",
                ])
                .arg("-D")
                .arg(&target)
                .args(["-F", "plain", "-X", "stream", "-c", "fast", "--no-sync"]),
        );
        target
    }

    /// Runs `sql` (one or more statements) as superuser `gate` on database
    /// `gate`; panics on error. Returns psql's unaligned, tuples-only output
    /// (`-At`: rows on lines, columns separated by `|`), without the final
    /// newline.
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Postgres::psql`], returning the error text instead of panicking.
    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        run_psql(self.port, "gate", sql)
    }

    /// `postgres://<user>@127.0.0.1:<port>/gate`
    pub fn url_for(&self, user: &str) -> String {
        url(self.port, user)
    }

    /// `postgres://gate_monitor@127.0.0.1:<port>/gate`: the least-privileged
    /// login role gate's `sql` grant needs (docs/sandbox.md), created on
    /// first use: SELECT on every table (`pg_read_all_data`) and the
    /// statistics views (`pg_monitor`), nothing on the server's files or
    /// programs. gate refuses the superuser `gate` for plugins' queries.
    /// Create it before `add_replica` to use it on replicas too.
    pub fn monitor_url(&self) -> String {
        // Tests sharing one server may race to create it.
        self.psql(
            "DO $$ BEGIN CREATE ROLE gate_monitor LOGIN; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;\n\
             GRANT pg_read_all_data, pg_monitor TO gate_monitor;",
        );
        self.url_for("gate_monitor")
    }

    /// The server's log (stderr).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// Builds a streaming replica with `pg_basebackup -R -X stream`, starts it
    /// and waits until the primary's `pg_stat_replication` shows it
    /// `streaming`.
    pub fn add_replica(&self) -> Replica {
        static REPLICAS: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "replica{}_{}",
            std::process::id(),
            REPLICAS.fetch_add(1, Ordering::Relaxed) + 1
        );
        let dir = pg_tempdir("pg-replica");
        let data_dir = dir.path().join("data");
        run_ok(
            "pg_basebackup",
            pg_command("pg_basebackup", dir.path())
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "gate",
                ])
                .arg("-D")
                .arg(&data_dir)
                .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"]),
        );
        append(
            &data_dir.join("postgresql.conf"),
            &format!(
                "\n# gate test harness: replica\nunix_socket_directories = '{}'\n",
                dir.path().display()
            ),
        );
        append(
            &data_dir.join("postgresql.auto.conf"),
            &format!(
                "primary_conninfo = 'host=127.0.0.1 port={} user=gate application_name={name}'\n",
                self.port
            ),
        );
        let (proc, port) = start_server(
            "postgres replica",
            dir.path(),
            &data_dir,
            "database system is ready to accept read-only connections",
        );
        let query =
            format!("SELECT state FROM pg_stat_replication WHERE application_name = '{name}'");
        wait_for("the replica to stream", READY_TIMEOUT, || {
            match self.try_psql(&query) {
                Ok(state) if state == "streaming" => Ok(()),
                Ok(state) => Err(format!("state {state:?}")),
                Err(e) => Err(e),
            }
        });
        Replica {
            port,
            url: url(port, "gate"),
            name,
            primary_port: self.port,
            proc,
            dir,
        }
    }
}

impl Replica {
    /// `postgres://<user>@127.0.0.1:<port>/gate` on the replica.
    pub fn url_for(&self, user: &str) -> String {
        url(self.port, user)
    }

    /// Runs `sql` on the replica (read-only) as `gate`; panics on error.
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        run_psql(self.port, "gate", sql)
    }

    /// `SELECT pg_wal_replay_pause()`, waiting until replay is paused: WAL
    /// written on the primary afterwards is received but not replayed, so
    /// `replay_lsn`/`replay_lag` in the primary's `pg_stat_replication` fall
    /// behind.
    pub fn pause_replay(&self) {
        self.psql("SELECT pg_wal_replay_pause()");
        wait_for("replay to pause", READY_TIMEOUT, || {
            match self.try_psql("SELECT pg_get_wal_replay_pause_state()") {
                Ok(s) if s == "paused" => Ok(()),
                Ok(s) => Err(s),
                Err(e) => Err(e),
            }
        });
    }

    pub fn resume_replay(&self) {
        self.psql("SELECT pg_wal_replay_resume()");
    }

    /// Stops the replica and waits until it is gone from the primary's
    /// `pg_stat_replication`.
    pub fn stop(mut self) {
        self.proc.stop();
        let query = format!(
            "SELECT count(*) FROM pg_stat_replication WHERE application_name = '{}'",
            self.name
        );
        let primary = self.primary_port;
        wait_for(
            "the stopped replica to leave pg_stat_replication",
            Duration::from_secs(20),
            || match run_psql(primary, "gate", &query) {
                Ok(n) if n == "0" => Ok(()),
                Ok(n) => Err(format!("{n} rows")),
                // The primary itself is gone: so is the replica's entry.
                Err(_) if !super::port_open(primary) => Ok(()),
                Err(e) => Err(e),
            },
        );
    }
}

/// `path` created (if missing) and owned by the server's user, 0700.
fn postgres_owned_dir(path: &Path) -> PathBuf {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).expect("chmod");
    if let Some((uid, gid)) = postgres_ids() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    }
    path.to_path_buf()
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    fs::File::options()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("append to {}: {e}", path.display()));
}
