//! `hostile.parts`: a check of the `check-in-parts` world that misbehaves in
//! one part on request, so the host's handling of split runs can be tested.
//!
//! Params: `ask` (the parts it asks for; default: all the host offers, and
//! more than offered to see the host clamp it), `panic_part` and `loop_part`
//! (a part that panics or never returns), `empty_merge` (merge returns
//! nothing), `meet` (a granted writable directory: every part writes a file
//! there and waits until every other part has written its own, which only
//! ends if the parts run at once).

use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Part, Severity, Status};

pub struct Parts;

fn number(params: &serde_json::Value, key: &str) -> Option<u32> {
    params
        .get(key)
        .and_then(|v| v.as_u64())
        .and_then(|n| u32::try_from(n).ok())
}

/// Writes `meet/part-INDEX` and waits up to 20 s for all `count` files.
fn meet(dir: &str, part: Part) -> Result<(), String> {
    let resolved = gate_plugin_sdk::host::files::resolve(dir, true)?;
    let mine = format!("{resolved}/part-{}", part.index);
    std::fs::write(&mine, b"here").map_err(|e| format!("{mine}: {e}"))?;
    for _ in 0..2000 {
        let here = (0..part.count)
            .filter(|i| std::path::Path::new(&format!("{resolved}/part-{i}")).exists())
            .count();
        if here == part.count as usize {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(format!("part {} waited 20 s for the others", part.index))
}

impl Check for Parts {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: "hostile.parts".into(),
            title: "Splits its run into parts, one of which may misbehave".into(),
            description: "Test-only hostile behaviour.".into(),
            default_severity: Severity::High,
            params: vec![],
            capabilities: vec![],
        }
    }

    fn run(&self, ctx: &Context, _params: &serde_json::Value) -> Vec<Finding> {
        vec![
            ctx.finding("whole", Status::Pass)
                .message("ran whole")
                .build(),
        ]
    }

    fn parts(&self, _ctx: &Context, params: &serde_json::Value, available: u32) -> u32 {
        number(params, "ask").unwrap_or(available)
    }

    fn run_part(&self, ctx: &Context, params: &serde_json::Value, part: Part) -> Vec<Finding> {
        if number(params, "panic_part") == Some(part.index) {
            panic!("hostile part {} panics on purpose", part.index);
        }
        if number(params, "loop_part") == Some(part.index) {
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        let status = match params.get("meet").and_then(|v| v.as_str()) {
            Some(dir) => match meet(dir, part) {
                Ok(()) => Status::Pass,
                Err(e) => return vec![ctx.finding("meet", Status::Error).message(e).build()],
            },
            None => Status::Pass,
        };
        vec![
            ctx.finding(format!("part-{}", part.index), status)
                .message(format!("part {} of {}", part.index + 1, part.count))
                .build(),
        ]
    }

    fn merge(
        &self,
        ctx: &Context,
        params: &serde_json::Value,
        parts: Vec<Vec<Finding>>,
    ) -> Vec<Finding> {
        if params.get("empty_merge").and_then(|v| v.as_bool()) == Some(true) {
            return Vec::new();
        }
        let count = parts.len();
        let mut out: Vec<Finding> = parts.into_iter().flatten().collect();
        out.push(
            ctx.finding("merged", Status::Pass)
                .message(format!("merged {count} parts"))
                .build(),
        );
        out
    }
}
