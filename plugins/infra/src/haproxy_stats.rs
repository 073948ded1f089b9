//! HAProxy's statistics as `infra.load-balancer` judges them: how a server's
//! status counts toward `min_up`, and how it reads in evidence. The CSV itself
//! (the stats page with `;csv`, or `show stat`) is parsed by `gate-haproxy-stat`,
//! shared with the host's rollout driver.

pub use gate_haproxy_stat::StatRow;

/// Parses the CSV; `infra.load-balancer` needs the `status` column besides the
/// names. Errors say what came back instead.
pub fn parse(text: &str) -> Result<Vec<StatRow>, String> {
    gate_haproxy_stat::parse(text, &["status"])
}

/// How a server's status counts toward `min_up`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// `UP` with a non-zero weight: takes traffic, health checks pass.
    Up,
    /// `DRAIN`, or `UP` with weight 0: healthy but takes no new traffic.
    Draining,
    /// `no check`: HAProxy sends traffic, but nothing verifies the server.
    Unchecked,
    /// `DOWN`, `MAINT`, `NOLB`, and the transitional `UP 1/3` (checks failing,
    /// or not yet confirmed after a start) and `DOWN 1/2` (checks passing, not
    /// yet up).
    NotUp,
}

pub fn classify(row: &StatRow) -> ServerState {
    let status = row.status.trim();
    if status == "UP" {
        if row.weight == Some(0) {
            ServerState::Draining
        } else {
            ServerState::Up
        }
    } else if status.starts_with("DRAIN") {
        ServerState::Draining
    } else if status.eq_ignore_ascii_case("no check") {
        ServerState::Unchecked
    } else {
        ServerState::NotUp
    }
}

/// A server's status for evidence: `UP (L7OK)`, `DOWN (L4CON: Layer4 connection problem)`.
pub fn describe(row: &StatRow) -> String {
    let mut s = row.status.clone();
    if s.starts_with("UP ") || s.starts_with("DOWN ") || s.starts_with("NOLB ") {
        // `UP 1/3`: checks started failing (or have not confirmed it yet);
        // `DOWN 1/2`: checks started passing. Either way it is in transition.
        s.push_str(" (transitional)");
    }
    if row.status == "UP" && row.weight == Some(0) {
        s.push_str(", weight 0");
    }
    // A leading `*` marks a check in progress; the result is the last one.
    let check = row.check_status.trim_start_matches('*').trim();
    if !check.is_empty() {
        s.push_str(&format!(" [{check}"));
        if !row.check_desc.is_empty() && !check.ends_with("OK") {
            s.push_str(&format!(": {}", row.check_desc));
        }
        s.push(']');
    }
    if row.backup {
        s.push_str(" (backup)");
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Real `show stat` from HAProxy 2.6: web1 UP, web2 DOWN (refused), web3
    /// without checks, web4 drained, web5 failing its HTTP check, web6 at
    /// weight 0, web7 in maintenance, a backup server, and backend `api` all
    /// down; frontend `fe_admin` disabled.
    pub const SHOW_STAT: &str = include_str!("../fixtures/haproxy/show-stat.csv");
    /// The same HAProxy a moment after start: `spare` and `api1` are still
    /// initialising (`UP 1/3`).
    pub const SHOW_STAT_STARTING: &str = include_str!("../fixtures/haproxy/show-stat-starting.csv");

    fn row<'a>(rows: &'a [StatRow], proxy: &str, name: &str) -> &'a StatRow {
        rows.iter()
            .find(|r| r.proxy == proxy && r.name == name)
            .unwrap_or_else(|| panic!("no {proxy}/{name}"))
    }

    #[test]
    fn parses_rows_by_column_name() {
        let rows = parse(SHOW_STAT).unwrap();
        assert_eq!(rows.len(), 14);
        assert!(rows[0].is_frontend());
        assert_eq!(rows[0].status, "OPEN");
        assert_eq!(row(&rows, "fe_admin", "FRONTEND").status, "PAUSED");
        let web1 = row(&rows, "web", "web1");
        assert_eq!(web1.weight, Some(1));
        assert_eq!(web1.check_status, "L7OK");
        assert_eq!(web1.check_desc, "Layer7 check passed");
        assert_eq!(web1.addr, "127.0.0.1:58081");
        assert!(row(&rows, "web", "spare").backup);
        assert!(row(&rows, "web", "BACKEND").is_backend());
    }

    #[test]
    fn classifies_statuses() {
        use ServerState::*;
        let rows = parse(SHOW_STAT).unwrap();
        let state = |n: &str| classify(row(&rows, "web", n));
        assert_eq!(state("web1"), Up);
        assert_eq!(state("web2"), NotUp);
        assert_eq!(state("web3"), Unchecked);
        assert_eq!(state("web4"), Draining);
        assert_eq!(state("web5"), NotUp);
        assert_eq!(state("web6"), Draining);
        assert_eq!(state("web7"), NotUp);
        assert_eq!(state("spare"), Up);
        let starting = parse(SHOW_STAT_STARTING).unwrap();
        assert_eq!(classify(row(&starting, "api", "api1")), NotUp);

        assert_eq!(describe(row(&rows, "web", "web1")), "UP [L7OK]");
        assert_eq!(
            describe(row(&rows, "web", "web2")),
            "DOWN [L4CON: Layer4 connection problem]"
        );
        assert_eq!(describe(row(&rows, "web", "web6")), "UP, weight 0 [L7OK]");
        assert_eq!(describe(row(&rows, "web", "spare")), "UP [L7OK] (backup)");
        assert_eq!(
            describe(row(&starting, "api", "api1")),
            "UP 1/3 (transitional) [INI: Initializing]"
        );
    }

    #[test]
    fn explains_what_is_not_csv() {
        assert!(parse("<!DOCTYPE HTML PUBLIC").unwrap_err().contains(";csv"));
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(
            parse("Permission denied\n")
                .unwrap_err()
                .contains("Permission denied")
        );
        assert!(parse("# a,b,c\n").unwrap_err().contains("pxname"));
    }

    #[test]
    fn csv_quotes_hold_commas() {
        let text = "# pxname,svname,last_chk,status\nweb,w1,\"refused, at step 1\",DOWN\n";
        assert_eq!(parse(text).unwrap()[0].status, "DOWN");
    }
}
