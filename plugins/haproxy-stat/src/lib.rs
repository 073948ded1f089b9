//! HAProxy's statistics in CSV: the stats page with `;csv`, or `show stat` on
//! the runtime API, as typed [`StatRow`]s.
//!
//! Shared by the host (`gate rollout`'s HAProxy driver reads the counters) and
//! the infra plugin (`infra.load-balancer` reads statuses and checks), so it
//! has no dependencies and builds both natively and for wasm32-wasip2.
//!
//! The first line is the header (`# pxname,svname,...`); columns are found by
//! name, so the parser follows HAProxy versions that add columns. Fields that
//! may hold commas (`check_desc`, `last_chk`) are double-quoted, CSV style.

mod csv;

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
    pub counters: Counters,
}

/// The traffic counters of a row. HAProxy leaves a counter empty where it does
/// not apply; an empty or missing counter reads as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Current sessions (`scur`).
    pub sessions: u64,
    /// Connection errors (`econ`).
    pub connection_errors: u64,
    /// Response errors (`eresp`).
    pub response_errors: u64,
    /// HTTP responses by class (`hrsp_1xx` … `hrsp_5xx`, then `hrsp_other`).
    pub http_responses: [u64; 6],
    /// Average response time over the last 1024 requests, ms (`rtime`).
    pub response_ms: u64,
}

impl Counters {
    /// Every HTTP response counted, whatever its class.
    pub fn responses(&self) -> u64 {
        self.http_responses.iter().sum()
    }

    pub fn http_5xx(&self) -> u64 {
        self.http_responses[4]
    }
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

const HTTP_RESPONSE_COLUMNS: [&str; 6] = [
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
];

/// Parses the CSV. The header must have `pxname`, `svname` and every column in
/// `required`. Errors say what came back instead, since the usual mistake is a
/// stats URL without `;csv` (HTML) or a socket answering an error.
pub fn parse(text: &str, required: &[&str]) -> Result<Vec<StatRow>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().unwrap_or("");
    let Some(names) = header
        .strip_prefix("# ")
        .or_else(|| header.strip_prefix('#'))
    else {
        return Err(not_csv(header));
    };
    let columns: HashMap<String, usize> = csv::split(names)
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n.trim().to_string(), i))
        .collect();
    for column in ["pxname", "svname"].iter().chain(required) {
        if !columns.contains_key(*column) {
            return Err(format!("the CSV header has no `{column}` column"));
        }
    }
    Ok(lines.map(|line| row(&columns, line)).collect())
}

/// What came back instead of the header.
fn not_csv(first_line: &str) -> String {
    let first = first_line.trim();
    let shown: String = first.chars().take(120).collect();
    if first.starts_with('<') {
        "got HTML, not CSV: the stats URL must end in `;csv`".to_string()
    } else if first.is_empty() {
        "the answer is empty".to_string()
    } else {
        format!("not HAProxy stats CSV (first line: `{shown}`)")
    }
}

fn row(columns: &HashMap<String, usize>, line: &str) -> StatRow {
    let fields = csv::split(line);
    let get = |name: &str| {
        columns
            .get(name)
            .and_then(|&i| fields.get(i))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let count = |name: &str| get(name).parse::<u64>().unwrap_or(0);
    StatRow {
        proxy: get("pxname"),
        name: get("svname"),
        status: get("status"),
        weight: get("weight").parse().ok(),
        backup: get("bck") == "1",
        check_status: get("check_status"),
        check_desc: get("check_desc"),
        addr: get("addr"),
        counters: Counters {
            sessions: count("scur"),
            connection_errors: count("econ"),
            response_errors: count("eresp"),
            http_responses: HTTP_RESPONSE_COLUMNS.map(count),
            response_ms: count("rtime"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "# pxname,svname,scur,econ,eresp,weight,bck,status,check_status,check_desc,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,rtime,addr,\n\
        web,FRONTEND,4,,,,,OPEN,,,0,10,0,0,0,0,,,\n\
        web,blue1,3,1,2,100,0,UP,L7OK,\"Layer7 check passed, fine\",0,90,0,5,5,0,4,127.0.0.1:8081,\n\
        web,spare,0,,,1,1,DOWN,L4CON,Layer4 connection problem,,,,,,,,127.0.0.1:8089,\n\
        web,BACKEND,3,1,2,101,0,UP,,,0,90,0,5,5,0,4,,\n";

    #[test]
    fn parses_rows_and_counters_by_column_name() {
        let rows = parse(STAT, &["status"]).unwrap();
        assert_eq!(rows.len(), 4);
        assert!(rows[0].is_frontend() && rows[3].is_backend());
        let blue = &rows[1];
        assert!(blue.is_server());
        assert_eq!(
            (
                blue.proxy.as_str(),
                blue.name.as_str(),
                blue.status.as_str()
            ),
            ("web", "blue1", "UP")
        );
        assert_eq!(blue.weight, Some(100));
        assert_eq!(blue.check_desc, "Layer7 check passed, fine");
        assert_eq!(blue.addr, "127.0.0.1:8081");
        assert_eq!(
            (blue.counters.responses(), blue.counters.http_5xx()),
            (100, 5)
        );
        assert_eq!(blue.counters.sessions, 3);
        assert_eq!(
            blue.counters.connection_errors + blue.counters.response_errors,
            3
        );
        assert_eq!(blue.counters.response_ms, 4);
        let spare = &rows[2];
        assert!(spare.backup);
        assert_eq!(spare.counters, Counters::default());
    }

    #[test]
    fn quoted_commas_do_not_shift_later_columns() {
        let text = "# pxname,svname,last_chk,status\nweb,w1,\"refused, at step 1\",DOWN\n";
        assert_eq!(parse(text, &["status"]).unwrap()[0].status, "DOWN");
    }

    #[test]
    fn explains_what_is_not_csv() {
        let err = |text: &str| parse(text, &["status"]).unwrap_err();
        assert!(err("<!DOCTYPE HTML PUBLIC").contains(";csv"));
        assert!(err("").contains("empty"));
        assert!(err("Permission denied\n").contains("Permission denied"));
        assert!(err("# a,b,c\n").contains("pxname"));
        assert!(err("# pxname,svname\n").contains("`status`"));
        assert_eq!(parse("# pxname,svname\n", &[]).unwrap(), []);
    }
}
