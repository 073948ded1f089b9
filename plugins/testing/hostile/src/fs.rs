//! Attacks on the `fs` grant through the host's own file calls (not WASI):
//! `files.read`, `files.stat`, `files.resolve`, `system.disk-usage`, and a
//! `ca_file` for `http.fetch` and `net.tls-inspect`. Each reports `pass` with
//! what it reached when the host let it through, so a leak shows in the report.

use gate_plugin_sdk::host::{files, http, net, system};
use gate_plugin_sdk::{Context, Finding};

use super::{outcome, str_param};

/// Runs the fs attack `id` on each of `paths` (or the one `path`), one
/// finding per path; `None` when `id` is not an fs attack.
pub fn run(id: &str, ctx: &Context, params: &serde_json::Value) -> Option<Vec<Finding>> {
    let paths: Vec<&str> = match params.get("paths").and_then(|v| v.as_array()) {
        Some(list) => list.iter().filter_map(|v| v.as_str()).collect(),
        None => vec![str_param(params, "path", "/etc/passwd")],
    };
    let mut out = Vec::new();
    for path in paths {
        out.extend(attack(id, ctx, params, path)?);
    }
    Some(out)
}

fn attack(id: &str, ctx: &Context, params: &serde_json::Value, path: &str) -> Option<Vec<Finding>> {
    let result = match id {
        "hostile.fs-read" => files::read(path, 1 << 20)
            .map(|b| format!("read {} bytes: {}", b.len(), String::from_utf8_lossy(&b))),
        "hostile.fs-stat" => {
            files::stat(path).map(|s| format!("{} of {} bytes, mode {:o}", s.kind, s.size, s.mode))
        }
        "hostile.fs-resolve" => files::resolve(path, false),
        "hostile.fs-disk" => system::disk_usage(path).map(|d| format!("{} bytes", d.total_bytes)),
        "hostile.fs-ca-http" => {
            let req = http::Request {
                method: "GET".into(),
                url: str_param(params, "url", "https://127.0.0.1:9/").into(),
                headers: vec![],
                body: None,
                timeout_ms: 0,
                max_bytes: 1024,
                ca_file: Some(path.into()),
            };
            http::fetch(&req).map(|r| format!("HTTP {}", r.status))
        }
        "hostile.fs-ca-tls" => {
            let opts = net::TlsOptions {
                server_name: None,
                ca_file: Some(path.into()),
                timeout_ms: 0,
            };
            net::tls_inspect(str_param(params, "target", "127.0.0.1:9"), &opts)
                .map(|t| format!("TLS {}", t.protocol))
        }
        _ => return None,
    };
    Some(outcome(ctx, path, result))
}
