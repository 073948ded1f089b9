//! Redis 7 (Debian's `redis-server` package) without persistence.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use super::{Proc, StartFailure, free_port, require_bin, start_with_retry, tempdir};

pub struct Redis {
    /// `127.0.0.1:<port>`
    pub addr: String,
    pub port: u16,
    proc: Proc,
    dir: tempfile::TempDir,
}

impl Redis {
    /// `extra_conf`: redis.conf lines appended to the harness's (`port`,
    /// `bind 127.0.0.1`, `save ""`, `appendonly no`, `dir <tempdir>`), e.g.
    /// `"maxmemory-policy allkeys-lru"`.
    pub fn start(extra_conf: &str) -> Redis {
        let redis = require_bin("redis-server", "redis-server");
        let dir = tempdir("redis");
        let conf_path = dir.path().join("redis.conf");
        let log = dir.path().join("redis.log");
        let stdout_log = dir.path().join("stdout.log");
        let (proc, port) = start_with_retry("redis-server", || {
            let port = free_port();
            let conf = format!(
                "# gate test harness\n\
                 port {port}\n\
                 bind 127.0.0.1\n\
                 daemonize no\n\
                 save \"\"\n\
                 appendonly no\n\
                 dir {dir}\n\
                 logfile {log}\n\
                 {extra_conf}\n",
                dir = dir.path().display(),
                log = log.display(),
            );
            fs::write(&conf_path, conf).expect("write redis.conf");
            let _ = fs::remove_file(&log);
            let _ = fs::remove_file(&stdout_log);
            let mut cmd = Command::new(&redis);
            cmd.current_dir(dir.path()).arg(&conf_path);
            let mut proc = Proc::spawn(
                "redis-server",
                &mut cmd,
                &stdout_log,
                std::slice::from_ref(&log),
                "TERM",
            );
            // Logged after the listener was bound: then the port is ours.
            proc.wait_ready("ready", || {
                fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("Ready to accept connections")
                    .then_some(())
            })?;
            Ok::<_, StartFailure>((proc, port))
        });
        Redis {
            addr: format!("127.0.0.1:{port}"),
            port,
            proc,
            dir,
        }
    }

    /// Sends one command (RESP array of `args`) and returns the reply as
    /// text: simple and bulk strings as they are, integers in decimal, nil as
    /// `(nil)`, errors as `-<message>`, arrays one element per line.
    pub fn command(&self, args: &[&str]) -> String {
        let mut stream = TcpStream::connect(&self.addr)
            .unwrap_or_else(|e| panic!("connect to redis {}: {e}", self.addr));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream
            .write_all(request.as_bytes())
            .expect("write to redis");
        let mut reader = BufReader::new(stream);
        read_reply(&mut reader).unwrap_or_else(|e| panic!("redis {args:?}: {e}"))
    }

    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(line.len().min(1));
    let count = || {
        rest.parse::<i64>()
            .map_err(|_| std::io::Error::other(format!("bad RESP line {line:?}")))
    };
    match kind {
        "+" | ":" => Ok(rest.to_string()),
        "-" => Ok(format!("-{rest}")),
        "$" => {
            let n = count()?;
            if n < 0 {
                return Ok("(nil)".into());
            }
            let mut buf = vec![0; n as usize + 2];
            reader.read_exact(&mut buf)?;
            buf.truncate(n as usize);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        "*" => {
            let n = count()?;
            let items = (0..n.max(0))
                .map(|_| read_reply(reader))
                .collect::<std::io::Result<Vec<_>>>()?;
            Ok(items.join("\n"))
        }
        _ => Err(std::io::Error::other(format!("bad RESP line {line:?}"))),
    }
}
