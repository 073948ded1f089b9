//! Test-only plugin that attacks the sandbox: one check per attack. The host
//! must turn every one of them into an `error` with a clear reason, within
//! the plugin's timeout, without disturbing other checks.

use gate_plugin_sdk::host::{env, http, net};
use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Plugin, Severity, Status};

mod fs;
mod limits;
mod network;
mod parts;
mod sql;

struct Attack {
    id: &'static str,
    title: &'static str,
}

fn str_param<'a>(params: &'a serde_json::Value, key: &str, default: &'a str) -> &'a str {
    params.get(key).and_then(|v| v.as_str()).unwrap_or(default)
}

#[inline(never)]
fn recurse(n: u64, acc: &mut [u64; 64]) -> u64 {
    acc[(n % 64) as usize] = n;
    if n == u64::MAX {
        return 0;
    }
    recurse(n + 1, acc) + acc[(n % 7) as usize]
}

/// A finding that reports what the attack achieved: `pass` means the sandbox
/// let it through, which the tests treat as a failure of the host.
fn outcome(ctx: &Context, subject: &str, r: Result<String, String>) -> Vec<Finding> {
    match r {
        Ok(got) => vec![
            ctx.finding(subject, Status::Pass)
                .message(format!("escaped the sandbox: {got}"))
                .build(),
        ],
        Err(e) => vec![ctx.finding(subject, Status::Error).message(e).build()],
    }
}

fn read_raw(cwd: &str, path: &str) -> Result<String, String> {
    // Ask the host first, as the SDK does; then try WASI directly with the
    // unresolved path, as a malicious plugin would.
    let resolved = gate_plugin_sdk::host::files::resolve(path, false);
    let host_said = resolved.as_ref().err().cloned();
    let target = match resolved {
        Ok(abs) => abs,
        Err(_) if path.starts_with('/') => path.to_string(),
        Err(_) => format!("{cwd}/{path}"),
    };
    match std::fs::read_to_string(&target) {
        Ok(s) => Ok(format!("read {} bytes from {path}", s.len())),
        Err(e) => Err(match host_said {
            Some(h) => format!("{h} (WASI: {e})"),
            None => format!("{path}: {e}"),
        }),
    }
}

impl Check for Attack {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: self.id.into(),
            title: self.title.into(),
            description: "Test-only hostile behaviour.".into(),
            default_severity: Severity::High,
            params: vec![],
            capabilities: vec![],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        if let Some(findings) = network::run(self.id, ctx, params) {
            return findings;
        }
        match self.id {
            "hostile.loop" => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "hostile.alloc" => {
                let mut keep: Vec<Vec<u8>> = Vec::new();
                loop {
                    keep.push(vec![7u8; 1 << 20]);
                    std::hint::black_box(&keep);
                }
            }
            "hostile.recurse" => {
                let mut acc = [0u64; 64];
                let n = recurse(0, &mut acc);
                vec![
                    ctx.finding("stack", Status::Pass)
                        .message(format!("{n}"))
                        .build(),
                ]
            }
            "hostile.escape" => {
                let path = str_param(params, "path", "/etc/passwd");
                outcome(ctx, path, read_raw(&ctx.cwd, path))
            }
            "hostile.env" => {
                let name = str_param(params, "name", "GATE_HOSTILE_SECRET");
                outcome(ctx, name, env::get(name).map(|v| format!("{name}={v:?}")))
            }
            "hostile.http" => {
                let url = str_param(params, "url", "http://127.0.0.1:9/");
                let req = http::Request {
                    method: "GET".into(),
                    url: url.into(),
                    headers: vec![],
                    body: None,
                    timeout_ms: 1000,
                    max_bytes: 1024,
                    ca_file: None,
                };
                outcome(
                    ctx,
                    url,
                    http::fetch(&req).map(|r| format!("HTTP {}", r.status)),
                )
            }
            "hostile.net" => {
                let target = str_param(params, "target", "127.0.0.1:9");
                outcome(
                    ctx,
                    target,
                    net::connect(target, 1000).map(|r| format!("connected={}", r.connected)),
                )
            }
            "hostile.output" => {
                let mb = params.get("mb").and_then(|v| v.as_u64()).unwrap_or(10) as usize;
                (0..mb)
                    .map(|i| {
                        ctx.finding(format!("chunk-{i}"), Status::Pass)
                            .message("x".repeat(1 << 20))
                            .build()
                    })
                    .collect()
            }
            "hostile.sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                vec![
                    ctx.finding("sleep", Status::Pass)
                        .message("woke up")
                        .build(),
                ]
            }
            "hostile.hang" => {
                let target = str_param(params, "target", "127.0.0.1:9");
                let opts = net::ExchangeOptions {
                    max_bytes: 16,
                    delimiter: None,
                    timeout_ms: 3_600_000,
                };
                match net::exchange(target, b"PING\r\n", &opts) {
                    Ok(b) => vec![
                        ctx.finding(target, Status::Pass)
                            .message(format!("{} bytes", b.len()))
                            .build(),
                    ],
                    Err(e) => vec![ctx.finding(target, Status::Error).message(e).build()],
                }
            }
            "hostile.trap" => panic!("hostile plugin panics on purpose"),
            "hostile.empty" => Vec::new(),
            id if id.starts_with("hostile.fs-") => fs::run(id, ctx, params).unwrap_or_default(),
            "hostile.handles" => limits::handles(ctx, params),
            "hostile.memory-grow" => limits::grow(ctx, params),
            "hostile.sql" => sql::query(ctx, params),
            _ => vec![ctx.finding("ok", Status::Pass).message("behaved").build()],
        }
    }
}

struct Hostile;

impl Plugin for Hostile {
    const ID: &'static str = "hostile";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Test-only plugin that attacks the sandbox";
    fn checks() -> Vec<Box<dyn Check>> {
        [
            ("hostile.loop", "Loops forever"),
            ("hostile.alloc", "Allocates without bound"),
            ("hostile.recurse", "Recurses until the stack overflows"),
            ("hostile.escape", "Reads a path outside its fs grant"),
            ("hostile.env", "Reads an ungranted environment variable"),
            ("hostile.http", "Fetches an ungranted URL"),
            ("hostile.net", "Connects to an ungranted host:port"),
            ("hostile.output", "Returns more output than the cap"),
            ("hostile.sleep", "Sleeps through a WASI poll"),
            ("hostile.hang", "Waits on a host call that never answers"),
            ("hostile.trap", "Panics"),
            ("hostile.empty", "Returns no findings"),
            ("hostile.ok", "Behaves"),
            (
                "hostile.fs-read",
                "Reads a path through the host's files.read",
            ),
            (
                "hostile.fs-stat",
                "Stats a path through the host's files.stat",
            ),
            (
                "hostile.fs-resolve",
                "Resolves a path through the host's files.resolve",
            ),
            ("hostile.fs-disk", "Asks the disk usage of a path"),
            ("hostile.fs-ca-http", "Names a path as an HTTP ca_file"),
            ("hostile.fs-ca-tls", "Names a path as a TLS ca_file"),
            ("hostile.http-cases", "Fetches a list of URLs with headers"),
            (
                "hostile.net-cases",
                "Exchanges bytes with a list of host:port targets",
            ),
            (
                "hostile.unix-cases",
                "Exchanges bytes over a list of socket paths",
            ),
            ("hostile.resolve-cases", "Resolves a list of host names"),
            ("hostile.handles", "Holds thousands of open files"),
            (
                "hostile.memory-grow",
                "Grows linear memory past its cap without the allocator",
            ),
            (
                "hostile.sql",
                "Runs the statement it is given on a granted connection",
            ),
        ]
        .into_iter()
        .map(|(id, title)| Box::new(Attack { id, title }) as Box<dyn Check>)
        .chain([Box::new(parts::Parts) as Box<dyn Check>])
        .collect()
    }
}

gate_plugin_sdk::plugin!(Hostile);
