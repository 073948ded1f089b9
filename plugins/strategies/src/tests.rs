//! Table-driven tests of the built-in strategies, through the JSON interface
//! (`decide_json`), driven by a tiny simulated host that applies each action to
//! the state the way docs/strategy-plugins.md says the host does.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::decide_json;

// ---------------------------------------------------------------------------
// Spec builders
// ---------------------------------------------------------------------------

/// An analysis with `min_samples` 100; limits as given.
fn analysis(name: &str, interval_ms: u64, failure: u32, inconclusive: u32, errors: u32) -> Value {
    json!({
        "name": name, "interval_ms": interval_ms, "failure_limit": failure,
        "inconclusive_limit": inconclusive, "consecutive_error_limit": errors,
        "min_samples": 100
    })
}

fn error_rate() -> Value {
    analysis("error-rate", 5000, 0, 0, 2)
}

fn base(strategy: &str, analyses: Vec<Value>) -> Value {
    json!({
        "name": "web",
        "strategy": strategy,
        "stable":    { "servers": ["blue1"],  "version": "v1" },
        "candidate": { "servers": ["green1"], "version": "v2" },
        "analysis": analyses,
    })
}

fn canary(steps: &[u32], pause_ms: u64, until_approved: bool, analyses: Vec<Value>) -> Value {
    let mut s = base("canary", analyses);
    s["canary"] = json!({ "steps": steps, "pause_ms": pause_ms, "until_approved": until_approved });
    s
}

fn blue_green(
    pre: &[&str],
    post: &[&str],
    pause_ms: u64,
    post_ms: u64,
    until_approved: bool,
) -> Value {
    let mut s = base(
        "blue-green",
        vec![analysis("smoke", 2000, 0, 0, 2), error_rate()],
    );
    s["blue_green"] = json!({
        "pause_ms": pause_ms, "until_approved": until_approved,
        "pre_promotion_analysis": pre, "post_promotion_analysis": post,
        "post_promotion_ms": post_ms
    });
    s
}

fn rolling(servers: &[&str], pause_ms: u64, until_approved: bool, analyses: Vec<Value>) -> Value {
    let mut s = base("rolling", analyses);
    s["rolling"] =
        json!({ "servers": servers, "pause_ms": pause_ms, "until_approved": until_approved });
    s
}

fn initial_state() -> Value {
    json!({
        "now_ms": 0, "step": 0, "step_started_ms": 0, "memory": {},
        "candidate_percent": 0,
        "health": { "candidate": "unknown", "failing": [] },
        "analysis": {}, "approval": null, "replaced": []
    })
}

// ---------------------------------------------------------------------------
// The simulated host
// ---------------------------------------------------------------------------

type MeasureFn = dyn Fn(&str, u32, usize) -> &'static str;
type HealthFn = dyn Fn(u32) -> (&'static str, Vec<&'static str>);

/// What the simulated world does.
struct Script {
    /// (analysis, step, index of the measurement within the step) → result.
    measure: Box<MeasureFn>,
    /// Health after the step-th set-weights/replace.
    health: Box<HealthFn>,
    /// Whether a human approves when asked at this step.
    approve: Box<dyn Fn(u32) -> bool>,
}

impl Script {
    fn ok() -> Self {
        Script {
            measure: Box::new(|_, _, _| "success"),
            health: Box::new(|_| ("healthy", vec![])),
            approve: Box::new(|_| true),
        }
    }
    fn measure(mut self, f: impl Fn(&str, u32, usize) -> &'static str + 'static) -> Self {
        self.measure = Box::new(f);
        self
    }
    fn health(mut self, f: impl Fn(u32) -> (&'static str, Vec<&'static str>) + 'static) -> Self {
        self.health = Box::new(f);
        self
    }
    fn approve(mut self, f: impl Fn(u32) -> bool + 'static) -> Self {
        self.approve = Box::new(f);
        self
    }
    /// A fixed sequence of results per step (the last one repeats).
    fn sequence(self, seq: &'static [&'static str]) -> Self {
        self.measure(move |_, _, i| seq[i.min(seq.len() - 1)])
    }
}

#[derive(Debug, PartialEq)]
enum End {
    Promote,
    Rollback(String),
    /// The plugin asked for an approval the script refused to give.
    Stuck(String),
    Err(String),
    /// The iteration budget ran out.
    Running,
}

struct Run {
    end: End,
    /// Every action, in short form (see `short`).
    trace: Vec<String>,
    /// The persisted state when the run ended.
    state: Value,
}

impl Run {
    fn count(&self, prefix: &str) -> usize {
        self.trace.iter().filter(|t| t.starts_with(prefix)).count()
    }
}

/// `set-weights 10 #2`, `wait 5000`, `analyse a,b`, `replace web1 #1`, …
fn short(a: &Value) -> String {
    let name = a["action"].as_str().unwrap();
    match name {
        "set-weights" => format!("set-weights {} #{}", a["candidate_percent"], a["step"]),
        "wait" => format!("wait {}", a["ms"]),
        "analyse" => {
            let names: Vec<&str> = a["names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect();
            format!("analyse {}", names.join(","))
        }
        "replace" => format!("replace {} #{}", a["server"].as_str().unwrap(), a["step"]),
        other => other.to_string(),
    }
}

fn intervals(spec: &Value) -> BTreeMap<String, u64> {
    spec["analysis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["interval_ms"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Calls the plugin with the current state and applies its action, up to `max`
/// times. Checks the invariants of every answer on the way.
fn simulate(spec: &Value, mut state: Value, script: &Script, max: usize) -> Run {
    let spec_json = spec.to_string();
    let intervals = intervals(spec);
    let mut trace = Vec::new();
    for _ in 0..max {
        let state_json = state.to_string();
        let out = decide_json(&spec_json, &state_json);
        // A pure function: the same input gives the same answer.
        assert_eq!(out, decide_json(&spec_json, &state_json));
        let action: Value = match out {
            Ok(text) => serde_json::from_str(&text).unwrap(),
            Err(e) => {
                return Run {
                    end: End::Err(e),
                    trace,
                    state,
                };
            }
        };
        let reason = action["reason"].as_str().unwrap_or_default().to_string();
        assert!(!reason.is_empty(), "action without a reason: {action}");
        assert!(action.get("memory").is_none(), "built-ins keep no memory");
        trace.push(short(&action));
        let now = state["now_ms"].as_u64().unwrap();
        let step = state["step"].as_u64().unwrap() as u32;
        match action["action"].as_str().unwrap() {
            "set-weights" | "replace" => {
                let next = action["step"].as_u64().unwrap() as u32;
                assert_eq!(next, step + 1, "steps advance one at a time: {action}");
                if let Some(p) = action.get("candidate_percent") {
                    let p = p.as_u64().unwrap();
                    assert!(p <= 100);
                    state["candidate_percent"] = json!(p);
                }
                if let Some(server) = action.get("server") {
                    state["replaced"]
                        .as_array_mut()
                        .unwrap()
                        .push(server.clone());
                }
                let (h, failing) = (script.health)(next);
                state["step"] = json!(next);
                state["step_started_ms"] = json!(now);
                state["analysis"] = json!({});
                state["approval"] = Value::Null;
                state["health"] = json!({ "candidate": h, "failing": failing });
            }
            "wait" => {
                let ms = action["ms"].as_u64().unwrap();
                assert!(ms >= 1, "wait of 0 ms: {action}");
                state["now_ms"] = json!(now + ms);
            }
            "analyse" => {
                let started = state["step_started_ms"].as_u64().unwrap();
                for name in action["names"].as_array().unwrap() {
                    let name = name.as_str().unwrap();
                    let list = state["analysis"][name]["measurements"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let last = list
                        .last()
                        .map_or(started, |m| m["at_ms"].as_u64().unwrap().max(started));
                    assert!(
                        now >= last + intervals[name],
                        "{name} analysed at {now}, before it was due ({last} + {})",
                        intervals[name]
                    );
                    let result = (script.measure)(name, step, list.len());
                    let m = if result == "error" {
                        json!({ "at_ms": now, "result": "error", "samples": 0,
                                "message": "Prometheus down" })
                    } else {
                        let samples = if result == "pending" { 12 } else { 180 };
                        json!({ "at_ms": now, "result": result, "value": 0.002,
                                "samples": samples })
                    };
                    let mut list = list;
                    list.push(m);
                    state["analysis"][name] = json!({ "measurements": list });
                }
            }
            "await-approval" => {
                if (script.approve)(step) {
                    state["approval"] = json!({ "by": "alice", "at": "2026-11-26T23:00:00Z" });
                } else {
                    return Run {
                        end: End::Stuck(reason),
                        trace,
                        state,
                    };
                }
            }
            "promote" => {
                return Run {
                    end: End::Promote,
                    trace,
                    state,
                };
            }
            "rollback" => {
                return Run {
                    end: End::Rollback(reason),
                    trace,
                    state,
                };
            }
            other => panic!("unexpected action {other}"),
        }
    }
    Run {
        end: End::Running,
        trace,
        state,
    }
}

fn run(spec: &Value, script: &Script) -> Run {
    simulate(spec, initial_state(), script, 10_000)
}

/// The single next action for a hand-written state.
fn next(spec: &Value, state: &Value) -> Value {
    let out = decide_json(&spec.to_string(), &state.to_string()).unwrap();
    serde_json::from_str(&out).unwrap()
}

fn assert_rollback(run: &Run, contains: &str) {
    match &run.end {
        End::Rollback(reason) => assert!(
            reason.contains(contains),
            "rollback reason {reason:?} lacks {contains:?}"
        ),
        other => panic!("expected a rollback, got {other:?}; trace {:?}", run.trace),
    }
}

// ---------------------------------------------------------------------------
// canary
// ---------------------------------------------------------------------------

#[test]
fn canary_without_analysis_lasts_pause_ms_per_step() {
    let r = run(
        &canary(&[1, 10, 50, 100], 30_000, false, vec![]),
        &Script::ok(),
    );
    assert_eq!(r.end, End::Promote);
    assert_eq!(
        r.trace,
        [
            "set-weights 1 #1",
            "wait 30000",
            "set-weights 10 #2",
            "wait 30000",
            "set-weights 50 #3",
            "wait 30000",
            "set-weights 100 #4",
            "wait 30000",
            "promote"
        ]
    );
    assert_eq!(r.state["now_ms"], 120_000);
}

#[test]
fn canary_happy_path_with_analysis() {
    let spec = canary(&[1, 10, 50, 100], 12_000, false, vec![error_rate()]);
    let r = run(&spec, &Script::ok());
    assert_eq!(r.end, End::Promote);
    let step = |pct: u32, n: u32| {
        vec![
            format!("set-weights {pct} #{n}"),
            "wait 5000".into(),
            "analyse error-rate".into(),
            "wait 5000".into(),
            "analyse error-rate".into(),
            // the pause ends before the next measurement is due
            "wait 2000".into(),
        ]
    };
    let mut expected: Vec<String> = [(1, 1), (10, 2), (50, 3), (100, 4)]
        .iter()
        .flat_map(|&(p, n)| step(p, n))
        .collect();
    expected.push("promote".into());
    assert_eq!(r.trace, expected);
    assert_eq!(r.state["now_ms"], 48_000);
}

#[test]
fn canary_step_lasts_until_every_analysis_has_a_success() {
    // pause 0: the step ends at the first success, not before.
    let spec = canary(
        &[20, 100],
        0,
        false,
        vec![analysis("latency", 3000, 0, 5, 4)],
    );
    let r = run(
        &spec,
        &Script::ok().sequence(&["inconclusive", "inconclusive", "success"]),
    );
    assert_eq!(r.end, End::Promote);
    assert_eq!(
        r.trace[..7],
        [
            "set-weights 20 #1",
            "wait 3000",
            "analyse latency",
            "wait 3000",
            "analyse latency",
            "wait 3000",
            "analyse latency"
        ]
    );
    assert_eq!(r.trace[7], "set-weights 100 #2");
}

#[test]
fn canary_two_analyses_are_each_measured_on_their_own_interval() {
    let spec = canary(
        &[50],
        10_000,
        false,
        vec![
            analysis("fast", 3000, 0, 0, 4),
            analysis("slow", 5000, 0, 0, 4),
        ],
    );
    let r = run(&spec, &Script::ok());
    assert_eq!(r.end, End::Promote);
    assert_eq!(
        r.trace,
        [
            "set-weights 50 #1",
            "wait 3000",
            "analyse fast", // 3000
            "wait 2000",
            "analyse slow", // 5000
            "wait 1000",
            "analyse fast", // 6000
            "wait 3000",
            "analyse fast", // 9000
            "wait 1000",
            // 10000: both passed and the pause is over
            "promote"
        ]
    );
}

#[test]
fn canary_repeated_and_partial_steps() {
    // A step at 100 that is not the last one, and a canary that ends below 100.
    for (steps, weights) in [
        (
            &[10, 100, 100][..],
            &[
                "set-weights 10 #1",
                "set-weights 100 #2",
                "set-weights 100 #3",
            ][..],
        ),
        (&[5, 50][..], &["set-weights 5 #1", "set-weights 50 #2"][..]),
        (&[100][..], &["set-weights 100 #1"][..]),
    ] {
        let r = run(
            &canary(steps, 1000, false, vec![error_rate()]),
            &Script::ok(),
        );
        assert_eq!(r.end, End::Promote, "{steps:?}");
        let set: Vec<&String> = r
            .trace
            .iter()
            .filter(|t| t.starts_with("set-weights"))
            .collect();
        assert_eq!(set, weights, "{steps:?}");
    }
}

/// Failure, error and inconclusive limits, Argo-style, as (name, analysis,
/// results per step, results at which step (others succeed), expected end).
#[test]
fn canary_analysis_limits() {
    enum Expect {
        Promote,
        Rollback(&'static str),
        Stuck(&'static str),
        /// The step never ends (nor rolls back).
        Forever,
    }
    let cases: Vec<(&str, Value, &'static [&'static str], Expect)> = vec![
        (
            "one failure > failure_limit 0",
            analysis("error-rate", 5000, 0, 0, 4),
            &["success", "failure"],
            Expect::Rollback("step 2/4 (10%): error-rate: 1 failure > failure_limit 0"),
        ),
        (
            "one failure within failure_limit 1",
            analysis("error-rate", 5000, 1, 0, 4),
            &["failure", "success"],
            Expect::Promote,
        ),
        (
            "two failures > failure_limit 1, not in a row",
            analysis("error-rate", 5000, 1, 0, 4),
            &["failure", "success", "failure"],
            Expect::Rollback("error-rate: 2 failures > failure_limit 1"),
        ),
        (
            "errors in a row > consecutive_error_limit",
            analysis("error-rate", 5000, 0, 0, 2),
            &["error", "error", "error"],
            Expect::Rollback(
                "error-rate: 3 errors in a row > consecutive_error_limit 2 (last: Prometheus down)",
            ),
        ),
        (
            "errors broken by a success do not add up",
            analysis("error-rate", 1000, 0, 0, 2),
            &["error", "error", "success", "error", "error", "success"],
            Expect::Promote,
        ),
        (
            "pending neither counts nor breaks a run of errors",
            analysis("error-rate", 5000, 0, 0, 2),
            &["error", "pending", "error", "pending", "error", "success"],
            Expect::Rollback("3 errors in a row > consecutive_error_limit 2"),
        ),
        (
            "errors alone never pass a step",
            analysis("error-rate", 5000, 0, 0, 1000),
            &["error"],
            Expect::Forever,
        ),
        (
            "inconclusive > inconclusive_limit waits for a human",
            analysis("error-rate", 5000, 0, 1, 4),
            &["inconclusive", "inconclusive"],
            Expect::Stuck("error-rate: 2 inconclusive > inconclusive_limit 1"),
        ),
        (
            "inconclusive within the limit",
            analysis("error-rate", 5000, 0, 1, 4),
            &["inconclusive", "success"],
            Expect::Promote,
        ),
        (
            "pending is ignored until min_samples is reached",
            analysis("error-rate", 5000, 0, 0, 0),
            &["pending", "pending", "pending", "pending", "success"],
            Expect::Promote,
        ),
    ];
    for (name, a, seq, expect) in cases {
        // A 20 s pause: four measurements per step at least.
        let spec = canary(&[1, 10, 50, 100], 20_000, false, vec![a]);
        // The sequence plays in step 2; the other steps succeed at once.
        let script = Script::ok()
            .measure(move |_, step, i| {
                if step == 2 {
                    seq[i.min(seq.len() - 1)]
                } else {
                    "success"
                }
            })
            .approve(|_| false);
        let r = simulate(&spec, initial_state(), &script, 500);
        match expect {
            Expect::Promote => assert_eq!(r.end, End::Promote, "{name}: {:?}", r.trace),
            Expect::Rollback(reason) => assert_rollback(&r, reason),
            Expect::Forever => {
                assert_eq!(r.end, End::Running, "{name}");
                assert_eq!(r.state["step"], 2, "{name}");
            }
            Expect::Stuck(reason) => match &r.end {
                End::Stuck(got) => assert!(got.contains(reason), "{name}: {got}"),
                other => panic!("{name}: expected await-approval, got {other:?}"),
            },
        }
    }
}

#[test]
fn canary_pending_delays_the_step_past_its_pause() {
    let spec = canary(
        &[1, 100],
        5000,
        false,
        vec![analysis("error-rate", 5000, 0, 0, 0)],
    );
    let script = Script::ok().measure(|_, step, i| {
        if step == 1 && i < 3 {
            "pending"
        } else {
            "success"
        }
    });
    let r = run(&spec, &script);
    assert_eq!(r.end, End::Promote);
    // Step 1: three pending measurements (5, 10, 15 s), the success at 20 s.
    assert_eq!(
        r.trace.iter().position(|t| t == "set-weights 100 #2"),
        Some(9)
    );
    assert_eq!(r.state["now_ms"], 25_000);
}

#[test]
fn canary_inconclusive_then_approval_goes_on_and_failure_still_rolls_back() {
    let spec = canary(
        &[10, 100],
        0,
        false,
        vec![analysis("error-rate", 5000, 0, 0, 4)],
    );
    // Inconclusive only: the approval is the decision; the step passes.
    let r = run(&spec, &Script::ok().sequence(&["inconclusive"]));
    assert_eq!(r.end, End::Promote);
    assert_eq!(r.count("await-approval"), 2, "{:?}", r.trace);

    // After the approval a failure still rolls back.
    let spec = canary(
        &[10, 100],
        20_000,
        false,
        vec![analysis("error-rate", 5000, 0, 0, 4)],
    );
    let r = run(
        &spec,
        &Script::ok().sequence(&["inconclusive", "success", "failure"]),
    );
    assert_rollback(
        &r,
        "step 1/2 (10%): error-rate: 1 failure > failure_limit 0",
    );
    assert_eq!(r.count("await-approval"), 1);
}

#[test]
fn canary_until_approved_waits_for_an_approval_at_every_step() {
    let spec = canary(&[1, 10, 100], 10_000, true, vec![error_rate()]);
    let r = run(&spec, &Script::ok());
    assert_eq!(r.end, End::Promote);
    assert_eq!(r.count("await-approval"), 3);
    // The approval is asked for only once the analyses passed and the pause ended.
    let first = r.trace.iter().position(|t| t == "await-approval").unwrap();
    assert_eq!(
        r.trace[..=first],
        [
            "set-weights 1 #1",
            "wait 5000",
            "analyse error-rate",
            "wait 5000",
            "analyse error-rate",
            "await-approval"
        ]
    );

    // Nobody approves: the rollout stays at step 1.
    let r = run(&spec, &Script::ok().approve(|_| false));
    assert!(matches!(&r.end, End::Stuck(reason) if reason.contains("step 1/3 (1%): passed")));
    assert_eq!(r.state["step"], 1);

    // An approval given early (during the pause) is enough.
    let mut state = initial_state();
    state["step"] = json!(1);
    state["step_started_ms"] = json!(0);
    state["now_ms"] = json!(10_000);
    state["approval"] = json!({ "by": "alice", "at": "2026-11-26T23:00:00Z" });
    state["analysis"] = json!({ "error-rate": { "measurements": [
        { "at_ms": 5000, "result": "success", "value": 0.001, "samples": 200 }
    ] } });
    assert_eq!(next(&spec, &state)["action"], "set-weights");
}

#[test]
fn canary_unhealthy_candidate_rolls_back_whatever_the_analyses_say() {
    let spec = canary(&[1, 10, 50, 100], 10_000, false, vec![error_rate()]);
    let script = Script::ok().health(|step| {
        if step == 3 {
            ("unhealthy", vec!["green1"])
        } else {
            ("healthy", vec![])
        }
    });
    let r = run(&spec, &script);
    assert_rollback(&r, "candidate unhealthy (failing: green1)");
    assert_eq!(r.state["step"], 3);
    assert_eq!(r.trace.last().unwrap(), "rollback");

    // Even before any traffic moved.
    let mut state = initial_state();
    state["health"] = json!({ "candidate": "unhealthy", "failing": [] });
    assert_eq!(next(&spec, &state)["action"], "rollback");
    // `unknown` is not a reason to stop.
    assert_eq!(next(&spec, &initial_state())["action"], "set-weights");
    // For canary only `candidate` decides; `failing` alone does not roll back.
    let mut state = initial_state();
    state["health"] = json!({ "candidate": "healthy", "failing": ["blue1"] });
    assert_eq!(next(&spec, &state)["action"], "set-weights");
}

#[test]
fn canary_wait_is_bounded_by_the_next_analysis_and_the_pause() {
    // The example state of docs/strategy-plugins.md.
    let spec = canary(&[1, 10, 50, 100], 30_000, false, vec![error_rate()]);
    let state = json!({
        "now_ms": 41200, "step": 2, "step_started_ms": 36000, "memory": {},
        "candidate_percent": 10,
        "health": { "candidate": "healthy", "failing": [] },
        "analysis": { "error-rate": { "measurements": [
            { "at_ms": 41000, "result": "success", "value": 0.002, "samples": 180 }
        ] } },
        "approval": null, "replaced": []
    });
    let a = next(&spec, &state);
    assert_eq!(a["action"], "wait");
    assert_eq!(a["ms"], 4800); // error-rate due at 46000

    // All passed, 100 ms of pause left: wait exactly that.
    let mut s = state.clone();
    s["now_ms"] = json!(65_900);
    s["analysis"]["error-rate"]["measurements"][0]["at_ms"] = json!(65_000);
    assert_eq!(next(&spec, &s)["ms"], 100);

    // Overdue analysis: analyse now, never a wait of 0.
    let mut s = state.clone();
    s["now_ms"] = json!(46_000);
    assert_eq!(next(&spec, &s)["action"], "analyse");
    // A measurement stamped before the step started counts from the step start.
    let mut s = state.clone();
    s["analysis"]["error-rate"]["measurements"][0]["at_ms"] = json!(1000);
    s["now_ms"] = json!(40_000);
    assert_eq!(next(&spec, &s)["ms"], 1000);
}

// ---------------------------------------------------------------------------
// resume
// ---------------------------------------------------------------------------

/// Kill the host after every action, before or after applying it, and resume
/// from the persisted state: the rollout goes on exactly as without the crash.
#[test]
fn resume_from_any_persisted_state() {
    let cases = [
        canary(
            &[1, 10, 50, 100],
            12_000,
            true,
            vec![error_rate(), analysis("latency", 3000, 1, 2, 2)],
        ),
        blue_green(&["smoke"], &["error-rate"], 4000, 10_000, true),
        rolling(&["web1", "web2", "web3"], 7000, false, vec![error_rate()]),
    ];
    let script = || {
        Script::ok().measure(|name, _, i| match (name, i % 3) {
            ("latency", 0) => "inconclusive",
            (_, 1) => "pending",
            _ => "success",
        })
    };
    for spec in cases {
        let full = run(&spec, &script());
        assert_eq!(full.end, End::Promote, "{spec}");
        for k in 0..full.trace.len() {
            // Run k actions, persist (serialise) the state, "crash".
            let first = simulate(&spec, initial_state(), &script(), k);
            let persisted: Value = serde_json::from_str(&first.state.to_string()).unwrap();
            // Resume: the remaining actions are exactly the rest of the full run.
            let rest = run_from(&spec, persisted, &script());
            assert_eq!(rest.end, End::Promote);
            let mut joined = first.trace.clone();
            joined.extend(rest.trace);
            assert_eq!(joined, full.trace, "resumed after {k} actions");
        }
    }
}

fn run_from(spec: &Value, state: Value, script: &Script) -> Run {
    simulate(spec, state, script, 10_000)
}

#[test]
fn resume_in_the_middle_of_a_step() {
    let spec = canary(&[1, 10, 50, 100], 30_000, false, vec![error_rate()]);
    // Step 3 done (pause over, a success): the next step.
    let mut state = initial_state();
    state["step"] = json!(3);
    state["candidate_percent"] = json!(50);
    state["step_started_ms"] = json!(100_000);
    state["now_ms"] = json!(131_000);
    state["health"] = json!({ "candidate": "healthy", "failing": [] });
    state["analysis"] = json!({ "error-rate": { "measurements": [
        { "at_ms": 105_000, "result": "success", "value": 0.001, "samples": 500 },
        { "at_ms": 110_000, "result": "pending", "value": 0.0, "samples": 3 }
    ] } });
    let a = next(&spec, &state);
    assert_eq!(
        a,
        json!({ "action": "set-weights", "candidate_percent": 100, "step": 4,
                "reason": "step 4/4: 100% to candidate (step 3 passed)" })
    );
    // The last step passed: promote.
    state["step"] = json!(4);
    assert_eq!(next(&spec, &state)["action"], "promote");
    // `memory` handed back by the host is ignored; unknown fields too.
    state["memory"] = json!({ "anything": 1 });
    state["new_host_field"] = json!([1, 2]);
    state["analysis"]["error-rate"]["measurements"][0]["labels"] = json!({});
    assert_eq!(next(&spec, &state)["action"], "promote");
}

// ---------------------------------------------------------------------------
// blue-green
// ---------------------------------------------------------------------------

#[test]
fn blue_green_happy_paths() {
    let cases: Vec<(Value, Vec<&str>, u64)> = vec![
        (
            blue_green(&[], &[], 0, 0, false),
            vec!["set-weights 100 #1", "promote"],
            0,
        ),
        (
            blue_green(&["smoke"], &["error-rate"], 0, 10_000, false),
            vec![
                "wait 2000",
                "analyse smoke",
                "set-weights 100 #1",
                "wait 5000",
                "analyse error-rate",
                "wait 5000",
                "promote",
            ],
            12_000,
        ),
        (
            // pause_ms holds the switch; post_promotion_ms without analyses.
            blue_green(&[], &[], 20_000, 3000, false),
            vec!["wait 20000", "set-weights 100 #1", "wait 3000", "promote"],
            23_000,
        ),
        (
            blue_green(&["smoke"], &[], 0, 0, true),
            vec![
                "wait 2000",
                "analyse smoke",
                "await-approval",
                "set-weights 100 #1",
                "promote",
            ],
            2000,
        ),
    ];
    for (spec, trace, end_ms) in cases {
        let r = run(&spec, &Script::ok());
        assert_eq!(r.end, End::Promote, "{spec}");
        assert_eq!(r.trace, trace, "{spec}");
        assert_eq!(r.state["now_ms"], end_ms, "{spec}");
    }
}

#[test]
fn blue_green_failures_roll_back() {
    let spec = blue_green(&["smoke"], &["error-rate"], 0, 30_000, false);
    // Pre-promotion failure: no traffic ever moves.
    let r = run(
        &spec,
        &Script::ok().measure(|name, _, _| {
            if name == "smoke" {
                "failure"
            } else {
                "success"
            }
        }),
    );
    assert_rollback(
        &r,
        "pre-promotion (candidate at 0%): smoke: 1 failure > failure_limit 0",
    );
    assert_eq!(r.count("set-weights"), 0);
    // Post-promotion failure after the switch.
    let r = run(
        &spec,
        &Script::ok().measure(|name, _, i| {
            if name == "error-rate" && i == 2 {
                "failure"
            } else {
                "success"
            }
        }),
    );
    assert_rollback(
        &r,
        "post-promotion (candidate at 100%): error-rate: 1 failure",
    );
    assert_eq!(r.count("set-weights 100"), 1);
    // Provider down after the switch.
    let r = run(
        &spec,
        &Script::ok().measure(|name, _, _| {
            if name == "error-rate" {
                "error"
            } else {
                "success"
            }
        }),
    );
    assert_rollback(
        &r,
        "error-rate: 3 errors in a row > consecutive_error_limit 2",
    );
    // Unhealthy candidate after the switch.
    let r = run(
        &spec,
        &Script::ok().health(|_| ("unhealthy", vec!["green1"])),
    );
    assert_rollback(&r, "candidate unhealthy");
    assert_eq!(r.state["step"], 1);
    // until_approved applies before the switch only.
    let spec = blue_green(&[], &["error-rate"], 0, 10_000, true);
    let r = run(&spec, &Script::ok().approve(|_| false));
    assert!(matches!(&r.end, End::Stuck(reason) if reason.contains("pre-promotion")));
    assert_eq!(r.state["step"], 0);
    assert_eq!(r.count("set-weights"), 0);
}

// ---------------------------------------------------------------------------
// rolling
// ---------------------------------------------------------------------------

#[test]
fn rolling_happy_paths() {
    let r = run(
        &rolling(&["web1", "web2", "web3"], 10_000, false, vec![error_rate()]),
        &Script::ok(),
    );
    assert_eq!(r.end, End::Promote);
    let per = |s: &str, n: u32| {
        vec![
            format!("replace {s} #{n}"),
            "wait 5000".into(),
            "analyse error-rate".into(),
            "wait 5000".into(),
        ]
    };
    let mut expected: Vec<String> = [("web1", 1), ("web2", 2), ("web3", 3)]
        .iter()
        .flat_map(|&(s, n)| per(s, n))
        .collect();
    expected.push("promote".into());
    assert_eq!(r.trace, expected);
    assert_eq!(r.state["replaced"], json!(["web1", "web2", "web3"]));

    // No analyses, no pause: one replacement after the other.
    let r = run(&rolling(&["a", "b"], 0, false, vec![]), &Script::ok());
    assert_eq!(r.trace, ["replace a #1", "replace b #2", "promote"]);

    // until_approved: an approval after each server.
    let r = run(&rolling(&["a", "b"], 0, true, vec![]), &Script::ok());
    assert_eq!(
        r.trace,
        [
            "replace a #1",
            "await-approval",
            "replace b #2",
            "await-approval",
            "promote"
        ]
    );
}

#[test]
fn rolling_failures_roll_back() {
    let spec = rolling(&["web1", "web2", "web3"], 10_000, false, vec![error_rate()]);
    // web2 fails its health check.
    let r = run(
        &spec,
        &Script::ok().health(|step| {
            if step == 2 {
                ("healthy", vec!["web2"])
            } else {
                ("healthy", vec![])
            }
        }),
    );
    assert_rollback(&r, "health check failed on web2");
    assert_eq!(r.state["replaced"], json!(["web1", "web2"]));
    assert_eq!(r.trace.last().unwrap(), "rollback");
    // Analysis failure after web1.
    let r = run(&spec, &Script::ok().sequence(&["failure"]));
    assert_rollback(&r, "step 1/3 (web1 replaced): error-rate: 1 failure");
    // Inconclusive: a human decides.
    let r = run(
        &spec,
        &Script::ok().sequence(&["inconclusive"]).approve(|_| false),
    );
    assert!(matches!(&r.end, End::Stuck(reason) if reason.contains("inconclusive_limit 0")));
}

#[test]
fn rolling_resumes_with_the_servers_not_yet_replaced() {
    let spec = rolling(&["web1", "web2", "web3"], 0, false, vec![]);
    let mut state = initial_state();
    state["step"] = json!(1);
    state["replaced"] = json!(["web1"]);
    state["health"] = json!({ "candidate": "healthy", "failing": [] });
    let a = next(&spec, &state);
    assert_eq!(
        a,
        json!({ "action": "replace", "server": "web2", "step": 2,
                "reason": "step 2/3: replacing web2 (web1 passed)" })
    );
    // Replaced out of order (by hand): the first one not replaced is next.
    state["replaced"] = json!(["web2"]);
    assert_eq!(next(&spec, &state)["server"], "web1");
    state["step"] = json!(3);
    state["replaced"] = json!(["web1", "web2", "web3"]);
    assert_eq!(next(&spec, &state)["action"], "promote");
}

// ---------------------------------------------------------------------------
// bad input
// ---------------------------------------------------------------------------

#[test]
fn bad_specs_and_states_are_errors() {
    let ok_state = initial_state();
    let c = canary(&[1, 10, 50, 100], 0, false, vec![error_rate()]);
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        (
            "no steps",
            canary(&[], 0, false, vec![]),
            ok_state.clone(),
            "canary.steps is empty",
        ),
        (
            "descending",
            canary(&[10, 5, 100], 0, false, vec![]),
            ok_state.clone(),
            "canary.steps must be ascending: step 2 (5%) is below step 1 (10%)",
        ),
        (
            "over 100",
            canary(&[10, 150], 0, false, vec![]),
            ok_state.clone(),
            "canary.steps[1] is 150%",
        ),
        (
            "zero",
            canary(&[0, 10], 0, false, vec![]),
            ok_state.clone(),
            "canary.steps[0] is 0%",
        ),
        (
            "fractional",
            with(
                canary(&[1, 10], 0, false, vec![]),
                &["canary", "steps"],
                json!([0.5, 10]),
            ),
            ok_state.clone(),
            "spec:",
        ),
        (
            "no canary table",
            base("canary", vec![]),
            ok_state.clone(),
            "needs a `canary` table",
        ),
        (
            "unknown strategy",
            base("linear", vec![]),
            ok_state.clone(),
            "unknown strategy `linear`",
        ),
        (
            "custom plugin table",
            with(c.clone(), &["strategy"], json!({ "path": "x.wasm" })),
            ok_state.clone(),
            "strategy must be one of",
        ),
        (
            "rolling without servers",
            rolling(&[], 0, false, vec![]),
            ok_state.clone(),
            "rolling.servers is empty",
        ),
        (
            "rolling duplicate",
            rolling(&["a", "a"], 0, false, vec![]),
            ok_state.clone(),
            "lists `a` twice",
        ),
        (
            "interval 0",
            canary(&[1], 0, false, vec![analysis("x", 0, 0, 0, 0)]),
            ok_state.clone(),
            "interval_ms must be > 0",
        ),
        (
            "analysis twice",
            canary(&[1], 0, false, vec![error_rate(), error_rate()]),
            ok_state.clone(),
            "`error-rate` is defined twice",
        ),
        (
            "blue-green unknown analysis",
            blue_green(&["nope"], &[], 0, 0, false),
            ok_state.clone(),
            "pre_promotion_analysis names `nope`",
        ),
        (
            "step beyond the steps",
            c.clone(),
            with(ok_state.clone(), &["step"], json!(5)),
            "state.step is 5 but the canary has only 4 steps",
        ),
        (
            "blue-green step 2",
            blue_green(&[], &[], 0, 0, false),
            with(ok_state.clone(), &["step"], json!(2)),
            "blue-green has only one step",
        ),
        (
            "rolling unknown replaced",
            rolling(&["a", "b"], 0, false, vec![]),
            with(
                with(ok_state.clone(), &["replaced"], json!(["z"])),
                &["step"],
                json!(1),
            ),
            "state.replaced names `z`",
        ),
        (
            "rolling step mismatch",
            rolling(&["a", "b"], 0, false, vec![]),
            with(ok_state.clone(), &["replaced"], json!(["a"])),
            "state.step is 0 but 1 server is replaced",
        ),
        (
            "unknown verdict",
            c.clone(),
            with(
                ok_state.clone(),
                &["analysis"],
                json!({ "error-rate": { "measurements": [
             { "at_ms": 1, "result": "maybe" } ] } }),
            ),
            "state:",
        ),
        (
            "unknown health",
            c.clone(),
            with(ok_state.clone(), &["health", "candidate"], json!("sick")),
            "state:",
        ),
        (
            "no now_ms",
            c.clone(),
            json!({}),
            "state: missing field `now_ms`",
        ),
    ];
    for (name, spec, state, expected) in cases {
        match decide_json(&spec.to_string(), &state.to_string()) {
            Err(e) => assert!(e.contains(expected), "{name}: {e:?} lacks {expected:?}"),
            Ok(a) => panic!("{name}: expected an error, got {a}"),
        }
    }
    assert!(decide_json("{", "{}").unwrap_err().starts_with("spec:"));
}

/// `v` with the value at `path` replaced by `x`.
fn with(mut v: Value, path: &[&str], x: Value) -> Value {
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = &mut cur[*p];
    }
    cur[path[path.len() - 1]] = x;
    v
}

// ---------------------------------------------------------------------------
// wire format and describe
// ---------------------------------------------------------------------------

#[test]
fn actions_serialise_as_the_contract_says() {
    let spec = canary(&[1, 10, 50, 100], 0, false, vec![]);
    assert_eq!(
        decide_json(&spec.to_string(), &initial_state().to_string()).unwrap(),
        r#"{"action":"set-weights","candidate_percent":1,"step":1,"reason":"step 1/4: 1% to candidate"}"#
    );
    let spec = canary(&[1, 10], 0, false, vec![error_rate()]);
    let mut state = initial_state();
    state["step"] = json!(1);
    state["now_ms"] = json!(5000);
    assert_eq!(
        next(&spec, &state),
        json!({ "action": "analyse", "names": ["error-rate"], "reason": "step 1/2 (1%): measuring error-rate" })
    );
    state["now_ms"] = json!(1000);
    assert_eq!(
        next(&spec, &state),
        json!({ "action": "wait", "ms": 4000,
                "reason": "step 1/2 (1%): next: error-rate in 4000 ms; waiting for error-rate" })
    );
}

#[test]
fn describe_lists_the_three_strategies() {
    let all = crate::describe::strategies();
    let ids: Vec<&str> = all.iter().map(|s| s.id).collect();
    assert_eq!(ids, ["blue-green", "canary", "rolling"]);
    for s in &all {
        assert!(!s.title.is_empty() && !s.description.is_empty());
        assert!(s.params.iter().any(|p| p.name == "analysis"));
        let table = s.id.replace('-', "_");
        assert!(
            s.params
                .iter()
                .any(|p| p.name.starts_with(&format!("{table}.")))
        );
    }
    assert_eq!(crate::describe::ID, "strategies");
}
