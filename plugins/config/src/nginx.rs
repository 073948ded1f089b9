//! nginx's rate-limit directives as flat entries, so `config.rate-limits`
//! assertions can bound them like any other setting:
//!
//! | directive | entries |
//! |---|---|
//! | `limit_req_zone $key zone=api:10m rate=10r/s;` | `limit_req_zone.api.rate` = requests per second (`r/m` ÷ 60), `.size`, `.key` |
//! | `limit_req zone=api burst=20 nodelay;` | `limit_req.api.burst` (0 when unset), `.nodelay` |
//! | `limit_req_status 429;` | `limit_req_status` |
//! | `limit_conn_zone $key zone=addr:10m;` | `limit_conn_zone.addr.size`, `.key` |
//! | `limit_conn addr 10;` | `limit_conn.addr` |
//! | `limit_rate 100k;` | `limit_rate` |

use gate_configfile::Entry;

/// `true` for files that look like nginx configuration: blocks with braces.
pub fn looks_like_nginx(path: &str, text: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    (name.ends_with(".conf") || name == "nginx.conf")
        && (text.contains('{') || text.contains("limit_req"))
}

/// Directives with their 1-based line: `(line, words)`.
fn statements(text: &str) -> Vec<(u32, Vec<String>)> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut start_line = 1u32;
    let mut line = 1u32;
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    let flush_word = |word: &mut String, words: &mut Vec<String>| {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == '\\' {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            } else {
                word.push(c);
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        line += 1;
                        break;
                    }
                }
                flush_word(&mut word, &mut words);
            }
            ';' | '{' | '}' => {
                flush_word(&mut word, &mut words);
                if !words.is_empty() {
                    out.push((start_line, std::mem::take(&mut words)));
                }
            }
            c if c.is_whitespace() => flush_word(&mut word, &mut words),
            c => {
                if words.is_empty() && word.is_empty() {
                    start_line = line;
                }
                word.push(c);
            }
        }
    }
    out
}

fn entry(path: &[&str], value: impl Into<String>, line: u32) -> Entry {
    Entry {
        path: path.iter().map(|s| s.to_string()).collect(),
        value: value.into(),
        position: Some((line, 1)),
    }
}

/// `10r/s` → 10, `30r/m` → 0.5 requests per second.
pub fn rate_per_second(rate: &str) -> Option<f64> {
    let (n, unit) = rate
        .strip_suffix("r/s")
        .map(|n| (n, 1.0))
        .or_else(|| rate.strip_suffix("r/m").map(|n| (n, 60.0)))?;
    n.parse::<f64>().ok().map(|n| n / unit)
}

fn arg<'a>(words: &'a [String], name: &str) -> Option<&'a str> {
    words
        .iter()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
}

/// The rate-limit entries of an nginx configuration.
pub fn entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (line, words) in statements(text) {
        let directive = words[0].as_str();
        match directive {
            "limit_req_zone" | "limit_conn_zone" => {
                let Some(zone) = arg(&words, "zone") else {
                    continue;
                };
                let (name, size) = zone.split_once(':').unwrap_or((zone, ""));
                if let Some(key) = words.get(1).filter(|w| !w.contains('=')) {
                    out.push(entry(&[directive, name, "key"], key.clone(), line));
                }
                out.push(entry(&[directive, name, "size"], size, line));
                if let Some(rate) = arg(&words, "rate") {
                    let value = rate_per_second(rate).map_or(rate.to_string(), |r| r.to_string());
                    out.push(entry(&[directive, name, "rate"], value, line));
                }
            }
            "limit_req" => {
                let Some(zone) = arg(&words, "zone") else {
                    continue;
                };
                out.push(entry(
                    &["limit_req", zone, "burst"],
                    arg(&words, "burst").unwrap_or("0"),
                    line,
                ));
                let nodelay = words.iter().any(|w| w == "nodelay");
                out.push(entry(
                    &["limit_req", zone, "nodelay"],
                    nodelay.to_string(),
                    line,
                ));
            }
            "limit_conn" if words.len() >= 3 => {
                out.push(entry(&["limit_conn", &words[1]], words[2].clone(), line));
            }
            "limit_req_status" | "limit_conn_status" | "limit_rate" | "limit_req_log_level"
                if words.len() >= 2 =>
            {
                out.push(entry(&[directive], words[1].clone(), line));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
http {
    # Per-client request rate for the public API.
    limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;
    limit_req_zone $server_name zone=login:1m rate=30r/m;
    limit_conn_zone $binary_remote_addr zone=addr:10m;

    server {
        listen 8080;
        location /api/ {
            limit_req zone=api burst=20 nodelay;
            limit_req_status 429;
            limit_conn addr 10;
            proxy_pass http://app;
        }
        location /login {
            limit_req zone=login;
            return 200 "a ; b { c }";
        }
    }
}
"#;

    fn pairs(text: &str) -> Vec<(String, String, u32)> {
        entries(text)
            .into_iter()
            .map(|e| (e.key(), e.value, e.position.unwrap().0))
            .collect()
    }

    #[test]
    fn reads_rate_limit_directives() {
        let got = pairs(CONF);
        let want = [
            ("limit_req_zone.api.key", "$binary_remote_addr", 4),
            ("limit_req_zone.api.size", "10m", 4),
            ("limit_req_zone.api.rate", "10", 4),
            ("limit_req_zone.login.key", "$server_name", 5),
            ("limit_req_zone.login.size", "1m", 5),
            ("limit_req_zone.login.rate", "0.5", 5),
            ("limit_conn_zone.addr.key", "$binary_remote_addr", 6),
            ("limit_conn_zone.addr.size", "10m", 6),
            ("limit_req.api.burst", "20", 11),
            ("limit_req.api.nodelay", "true", 11),
            ("limit_req_status", "429", 12),
            ("limit_conn.addr", "10", 13),
            ("limit_req.login.burst", "0", 17),
            ("limit_req.login.nodelay", "false", 17),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, v, l)| (k.to_string(), v.to_string(), *l))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn detection_and_rates() {
        assert!(looks_like_nginx("/etc/nginx/conf.d/api.conf", CONF));
        assert!(!looks_like_nginx("app.conf", "[section]\nkey = value\n"));
        assert!(!looks_like_nginx("nginx.yaml", CONF));
        assert_eq!(rate_per_second("5r/s"), Some(5.0));
        assert_eq!(rate_per_second("120r/m"), Some(2.0));
        assert_eq!(rate_per_second("fast"), None);
    }
}
