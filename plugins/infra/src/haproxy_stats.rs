//! HAProxy's statistics in CSV: the stats page with `;csv`, or `show stat` on
//! the runtime API. The first line is the header (`# pxname,svname,...`);
//! columns are found by name, so the parser follows HAProxy versions that add
//! columns. Fields that may hold commas are double-quoted, CSV style.

use std::collections::HashMap;

/// One line of `show stat`: a frontend, a backend aggregate or a server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatRow {
    /// Proxy name (`pxname`).
    pub proxy: String,
    /// `FRONTEND`, `BACKEND`, or the server name (`svname`).
    pub name: String,
    pub status: String,
    /// Effective weight; 0 means the server gets no new traffic.
    pub weight: Option<u32>,
    /// A backup server (`bck` = 1), used only when no active server is up.
    pub backup: bool,
    /// Health-check result code, e.g. `L7OK`, `L4CON`, `L7STS`.
    pub check_status: String,
    /// Human description of the last check, e.g. `Layer4 connection problem`.
    pub check_desc: String,
    /// The server's address, e.g. `10.0.0.1:8080`.
    pub addr: String,
}

impl StatRow {
    pub fn is_frontend(&self) -> bool {
        self.name == "FRONTEND"
    }

    pub fn is_backend(&self) -> bool {
        self.name == "BACKEND"
    }

    pub fn is_server(&self) -> bool {
        !self.is_frontend() && !self.is_backend()
    }
}

/// Splits one CSV line, honouring double quotes (`""` is a literal quote).
fn split(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Parses the CSV. Errors say what came back instead, since the usual mistake
/// is a stats URL without `;csv` (HTML) or a socket answering an error.
pub fn parse(text: &str) -> Result<Vec<StatRow>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().unwrap_or("");
    let Some(names) = header
        .strip_prefix("# ")
        .or_else(|| header.strip_prefix('#'))
    else {
        let first = header.trim();
        let shown: String = first.chars().take(120).collect();
        return Err(if first.starts_with('<') {
            "got HTML, not CSV: the stats URL must end in `;csv`".to_string()
        } else if first.is_empty() {
            "the answer is empty".to_string()
        } else {
            format!("not HAProxy stats CSV (first line: `{shown}`)")
        });
    };
    let columns: HashMap<String, usize> = split(names)
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n.trim().to_string(), i))
        .collect();
    for required in ["pxname", "svname", "status"] {
        if !columns.contains_key(required) {
            return Err(format!("the CSV header has no `{required}` column"));
        }
    }
    let mut rows = Vec::new();
    for line in lines {
        let fields = split(line);
        let get = |name: &str| {
            columns
                .get(name)
                .and_then(|&i| fields.get(i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        rows.push(StatRow {
            proxy: get("pxname"),
            name: get("svname"),
            status: get("status"),
            weight: get("weight").parse().ok(),
            backup: get("bck") == "1",
            check_status: get("check_status"),
            check_desc: get("check_desc"),
            addr: get("addr"),
        });
    }
    Ok(rows)
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
        assert_eq!(split(r#"a,"b,c","d""e",,"#), ["a", "b,c", "d\"e", "", ""]);
        let text = "# pxname,svname,last_chk,status\nweb,w1,\"refused, at step 1\",DOWN\n";
        assert_eq!(parse(text).unwrap()[0].status, "DOWN");
    }
}
