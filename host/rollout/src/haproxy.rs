//! HAProxy through its runtime API (the admin socket): `show servers state`,
//! `show stat`, `set server B/S weight N`, `set server B/S state ready|drain|maint`.
//! Nothing here reloads HAProxy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::driver::{
    AdminState, DriverFuture, RouterError, ServerCounters, ServerState, TrafficDriver,
};
use super::spec::Router;

pub struct HaproxyDriver {
    pub socket: PathBuf,
    pub backend: String,
    pub timeout: Duration,
}

impl HaproxyDriver {
    /// The registry's constructor (driver.rs `DRIVERS`).
    pub fn connect(router: &Router) -> Box<dyn TrafficDriver> {
        Box::new(HaproxyDriver {
            socket: router.admin_socket.clone(),
            backend: router.backend.clone(),
            timeout: router.timeout,
        })
    }

    /// Runs one runtime-API command and returns HAProxy's answer.
    pub async fn command(&self, cmd: &str) -> Result<String, RouterError> {
        let channel = format!("HAProxy admin socket {}", self.socket.display());
        let unreachable = |detail: String| RouterError::Unreachable {
            channel: channel.clone(),
            detail,
        };
        let run = async {
            let mut stream = UnixStream::connect(&self.socket)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            stream
                .write_all(format!("{cmd}\n").as_bytes())
                .await
                .map_err(|e| unreachable(format!("writing `{cmd}`: {e}")))?;
            let mut out = String::new();
            stream
                .read_to_string(&mut out)
                .await
                .map_err(|e| unreachable(format!("reading the answer to `{cmd}`: {e}")))?;
            Ok(out)
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(unreachable(format!(
                "`{cmd}` timed out after {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// A command that answers nothing on success.
    async fn set(&self, cmd: &str) -> Result<(), RouterError> {
        let out = self.command(cmd).await?;
        let out = out.trim();
        if out.is_empty() {
            Ok(())
        } else {
            Err(RouterError::Refused {
                router: "HAProxy".into(),
                command: cmd.to_string(),
                answer: out.to_string(),
            })
        }
    }
}

/// Rows of a `# name name …` headed, space-separated table.
fn table(text: &str, sep: char) -> Vec<BTreeMap<&str, &str>> {
    let mut header: Vec<&str> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(h) = line.strip_prefix("# ") {
            header = h.split(sep).map(str::trim).collect();
            continue;
        }
        if line.is_empty() || header.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(sep).collect();
        rows.push(header.iter().copied().zip(fields).collect());
    }
    rows
}

pub fn parse_servers_state(text: &str, backend: &str) -> Result<Vec<ServerState>, RouterError> {
    let rows = table(text, ' ');
    if rows.is_empty() && !text.contains("# be_id") {
        return Err(RouterError::Unexpected {
            command: "show servers state".into(),
            answer: text.trim().to_string(),
        });
    }
    let mut out = Vec::new();
    for row in rows {
        if row.get("be_name") != Some(&backend) {
            continue;
        }
        let num = |k: &str| row.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let admin_bits = num("srv_admin_state");
        // SRV_ADMF_FMAINT 0x01, IMAINT 0x02, CMAINT 0x04, RMAINT 0x20 … ; FDRAIN 0x08, IDRAIN 0x10, HMAINT?
        let admin = if admin_bits & (0x01 | 0x02 | 0x04 | 0x20 | 0x40) != 0 {
            AdminState::Maint
        } else if admin_bits & (0x08 | 0x10) != 0 {
            AdminState::Drain
        } else {
            AdminState::Ready
        };
        out.push(ServerState {
            name: row.get("srv_name").unwrap_or(&"").to_string(),
            addr: row.get("srv_addr").unwrap_or(&"").to_string(),
            port: num("srv_port") as u16,
            weight: num("srv_uweight") as u16,
            admin,
            up: num("srv_op_state") == 2,
        });
    }
    Ok(out)
}

/// The counters of `backend`'s servers in `show stat` (parsed by `gate-haproxy-stat`,
/// shared with the infra plugin, so quoted commas in `check_desc` are handled).
pub fn parse_stat(text: &str, backend: &str) -> BTreeMap<String, ServerCounters> {
    let rows = gate_haproxy_stat::parse(text, &[]).unwrap_or_default();
    rows.into_iter()
        .filter(|row| row.proxy == backend && row.is_server())
        .map(|row| {
            let c = row.counters;
            let counters = ServerCounters {
                responses: c.responses(),
                http_5xx: c.http_5xx(),
                errors: c.connection_errors + c.response_errors,
                current_sessions: c.sessions,
                avg_response_ms: c.response_ms as f64,
            };
            (row.name, counters)
        })
        .collect()
}

impl TrafficDriver for HaproxyDriver {
    fn describe(&self) -> String {
        format!(
            "HAProxy backend `{}` ({})",
            self.backend,
            self.socket.display()
        )
    }

    fn servers(&self) -> DriverFuture<'_, Vec<ServerState>> {
        Box::pin(async move {
            let text = self
                .command(&format!("show servers state {}", self.backend))
                .await?;
            let servers = parse_servers_state(&text, &self.backend)?;
            if servers.is_empty() {
                return Err(RouterError::Missing(format!(
                    "HAProxy has no backend `{}` (or it has no servers): {}",
                    self.backend,
                    text.trim()
                )));
            }
            Ok(servers)
        })
    }

    fn set_weight<'a>(&'a self, server: &'a str, weight: u16) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            self.set(&format!(
                "set server {}/{server} weight {weight}",
                self.backend
            ))
            .await
        })
    }

    fn set_admin<'a>(&'a self, server: &'a str, state: AdminState) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            self.set(&format!(
                "set server {}/{server} state {}",
                self.backend,
                state.as_str()
            ))
            .await
        })
    }

    fn counters(&self) -> DriverFuture<'_, BTreeMap<String, ServerCounters>> {
        Box::pin(async move {
            let text = self.command("show stat").await?;
            if !text.starts_with("# pxname") {
                return Err(RouterError::Unexpected {
                    command: "show stat".into(),
                    answer: text.trim().to_string(),
                });
            }
            Ok(parse_stat(&text, &self.backend))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_state_is_parsed_by_header_name() {
        let text = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord\n3 web 1 blue1 127.0.0.1 2 0 100 100 10 6 3 4 6 0 0 0 - 8081 -\n3 web 2 green1 127.0.0.1 0 8 0 0 10 6 3 4 6 0 0 0 - 8082 -\n4 other 1 x 127.0.0.1 2 0 1 1 10 6 3 4 6 0 0 0 - 9 -\n";
        let s = parse_servers_state(text, "web").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "blue1");
        assert_eq!(s[0].port, 8081);
        assert!(s[0].up);
        assert_eq!(s[1].admin, AdminState::Drain);
        assert!(!s[1].up);
    }

    #[test]
    fn stat_counts_responses_and_errors() {
        let text = "# pxname,svname,scur,econ,eresp,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,rtime,\nweb,blue1,3,1,2,0,90,0,5,5,0,4,\nweb,BACKEND,3,1,2,0,90,0,5,5,0,4,\n";
        let c = parse_stat(text, "web");
        assert_eq!(c.len(), 1);
        let b = &c["blue1"];
        assert_eq!(
            (b.responses, b.http_5xx, b.errors, b.current_sessions),
            (100, 5, 3, 3)
        );
    }
}
