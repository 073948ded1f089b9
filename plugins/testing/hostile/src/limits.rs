//! Attacks on the per-check limits that are not time: host handles and
//! memory grown behind the allocator's back.

use gate_plugin_sdk::{Context, Finding, Status};

/// Opens `path` (a file under the fs grant) again and again through WASI,
/// keeping every handle, until `count` are open at once. Each is a host fd
/// and a host table entry: holding thousands must stop at the host's cap.
pub fn handles(ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
    let path = params.get("path").and_then(|v| v.as_str()).unwrap_or(".");
    let count = params
        .get("count")
        .and_then(|v| v.as_u64())
        .unwrap_or(10_000) as usize;
    let mut held = Vec::with_capacity(count);
    for i in 0..count {
        match std::fs::File::open(path) {
            Ok(f) => held.push(f),
            Err(e) => {
                return vec![
                    ctx.finding(path, Status::Error)
                        .message(format!("open #{i} of {path} failed: {e}"))
                        .build(),
                ];
            }
        }
    }
    vec![
        ctx.finding(path, Status::Pass)
            .message(format!("escaped the sandbox: held {} handles", held.len()))
            .build(),
    ]
}

/// Grows linear memory with `memory.grow` directly, 1 MiB at a time, up to
/// `mb`: no allocator in between to abort politely.
pub fn grow(ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
    let target_mb = params.get("mb").and_then(|v| v.as_u64()).unwrap_or(2048) as usize;
    let page = 64 << 10;
    let mut grown_mb = 0;
    while grown_mb < target_mb {
        if !grow_pages((1 << 20) / page) {
            return vec![
                ctx.finding("memory", Status::Error)
                    .message(format!("memory.grow refused after {grown_mb} MiB"))
                    .build(),
            ];
        }
        grown_mb += 1;
    }
    vec![
        ctx.finding("memory", Status::Pass)
            .message(format!("escaped the sandbox: grew {grown_mb} MiB"))
            .build(),
    ]
}

/// One `memory.grow` of linear memory 0; `false` when the engine refuses it.
#[cfg(target_arch = "wasm32")]
fn grow_pages(pages: usize) -> bool {
    core::arch::wasm32::memory_grow(0, pages) != usize::MAX
}

/// The plugin crates are also unit-tested natively, where there is no linear
/// memory to grow: refuse, as an engine at its cap would.
#[cfg(not(target_arch = "wasm32"))]
fn grow_pages(_pages: usize) -> bool {
    false
}
