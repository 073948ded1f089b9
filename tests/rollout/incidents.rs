//! Incident records (docs/incidents.md) of real rollouts through the
//! rollout test bed: a bad canary under load opens exactly one incident
//! with the timeline of what happened, a crash anywhere in the rollback
//! still leaves exactly one, a manual rollback names who asked, a promoted
//! rollout opens none; and the rendering and help, as snapshots.

use super::*;

pub(super) fn incident_list(spec: &std::path::Path) -> Vec<Value> {
    let out = run(&[
        "incident",
        "list",
        "--spec",
        spec.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("incident list is JSON")
        .as_array()
        .cloned()
        .unwrap()
}

fn incident_entries(audit: &std::path::Path) -> Vec<Value> {
    audit_entries(audit)
        .into_iter()
        .filter(|e| e["kind"] == "incident")
        .collect()
}

/// The canary of these tests: 20 % then 50 %, judged every 300 ms (at
/// 600 req/s, 20 % gives 36 samples a window, above `min_samples`).
fn canary_body(pause: &str) -> String {
    format!(
        "{SIDES}\n[canary]\nsteps = [20, 50, 100]\npause = \"{pause}\"\n\n[audit]\ndir = \"audit\"\n{}",
        error_rate("300ms", 20)
    )
}

/// The candidate turns bad once it has 50 % of the traffic: the incident's
/// timeline has both steps with their weights, the analyses, the failing
/// value that triggered the rollback, the rollback and stable's health.
#[test]
fn bad_canary_under_load_opens_exactly_one_incident_with_its_timeline() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let spec = bed.write_spec("inc", "canary", &canary_body("3s"));
    let s = spec.to_str().unwrap();
    let load = load(&bed, 600.0);
    wait_requests(&load, 300, Duration::from_secs(5));
    let child = spawn(&["rollout", "--quiet", "--spec", s]);
    let until = Instant::now() + Duration::from_secs(30);
    while !of_kind(&events(&bed, "inc"), "step")
        .iter()
        .any(|e| e["candidate_percent"] == 50)
    {
        assert!(Instant::now() < until, "step 2 (50%) not reached");
        std::thread::sleep(Duration::from_millis(20));
    }
    bed.ctl_start("green1", "v2", &["--error-percent", "30"]);
    let out = child.wait_with_output().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let report = load.stop();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(bed.weights()["green1"], 0);

    let all = incident_list(&spec);
    assert_eq!(all.len(), 1, "{all:#?}");
    let inc = &all[0];
    let st = state(&bed, "inc");
    assert_eq!(inc["run_id"], st["run_id"]);
    assert_eq!(inc["outcome"], "rolled-back");
    let id = inc["id"].as_str().unwrap();
    assert!(id.starts_with("inc-20") && id.ends_with("-1"), "{id}");

    // The trigger is the failing measurement the event log has, with its
    // query and threshold.
    let trigger = &inc["trigger"];
    assert_eq!(trigger["kind"], "analysis");
    assert_eq!(trigger["name"], "error-rate");
    assert_eq!(trigger["query"], "candidate_5xx_ratio");
    assert_eq!(trigger["conditions"][0]["kind"], "max");
    assert_eq!(trigger["conditions"][0]["threshold"], 0.01);
    assert_eq!(trigger["candidate_percent"], 50);
    assert_eq!(trigger["result"], "failure");
    let evs = events(&bed, "inc");
    let failed = of_kind(&evs, "analysis")
        .into_iter()
        .rfind(|e| e["measurement"]["result"] == "failure")
        .expect("a failed measurement");
    assert_eq!(trigger["value"], failed["measurement"]["value"]);
    assert!(trigger["value"].as_f64().unwrap() > 0.01, "{trigger}");

    // The timeline: the steps in order with their weights, then the failure,
    // the rollback, all traffic back on stable, and stable healthy.
    let timeline = inc["timeline"].as_array().unwrap();
    let steps: Vec<(u64, u64)> = timeline
        .iter()
        .filter(|e| e["event"] == "step")
        .map(|e| {
            (
                e["candidate_percent"].as_u64().unwrap(),
                e["weights"]["green1"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(steps.iter().map(|s| s.0).collect::<Vec<_>>(), [20, 50]);
    assert!(steps[0].1 > 0 && steps[0].1 < steps[1].1, "{steps:?}");
    let at = |kind: &str| {
        timeline
            .iter()
            .position(|e| e["event"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {timeline:#?}"))
    };
    let failure = timeline
        .iter()
        .position(|e| e["event"] == "analysis" && e["result"] == "failure")
        .unwrap();
    assert_eq!(timeline[failure]["value"], trigger["value"]);
    assert!(
        timeline[..failure]
            .iter()
            .any(|e| e["event"] == "analysis" && e["result"] == "success")
    );
    assert!(at("start") < at("step"));
    assert!(failure < at("rollback"));
    assert!(at("rollback") < at("rolled-back"));
    assert!(at("rollback") < at("health"));
    assert_eq!(inc["health_after"]["healthy"], true);
    assert_eq!(inc["health_after"]["servers"], serde_json::json!(["blue1"]));
    let to_stable = inc["rollback"]["time_to_stable_ms"].as_u64().unwrap();
    assert!(to_stable < 1000, "{to_stable} ms to stable");
    assert_eq!(inc["impact"]["max_candidate_percent"], 50);
    assert_eq!(inc["actors"]["started_by"], st["started_by"]);
    // After the rollback no request reached the candidate.
    let done = of_kind(&evs, "rolled-back")[0]["ts_ms"].as_u64().unwrap();
    assert!(
        !report
            .split(done + 100, report.stopped_ms)
            .contains_key("v2")
    );

    // `gate incident show` renders it; every format names the trigger's value.
    let value = format!("{:.4}", trigger["value"].as_f64().unwrap());
    let md = run(&["incident", "show", id, "--spec", s]);
    assert_eq!(md.status.code(), Some(0), "{}", text(&md));
    let md = String::from_utf8_lossy(&md.stdout).to_string();
    for want in [
        "## Summary",
        "## Impact",
        "## Trigger",
        "## Timeline",
        "## Actions",
        "## Follow-ups",
        "`error-rate`",
        "max 0.01",
        value.as_str(),
        "50% on the candidate (weights blue1 100, green1 100)",
    ] {
        assert!(md.contains(want), "no `{want}` in:\n{md}");
    }
    let shown = run(&["incident", "show", id, "--spec", s, "--format", "json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&shown.stdout).unwrap(),
        *inc
    );
    let missing = run(&["incident", "show", "inc-19700101-9", "--spec", s]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));

    // The audit log has one `incident` entry for it, under the run id.
    let audit = bed.dir.join("audit");
    let entries = incident_entries(&audit);
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0]["run_id"], st["run_id"]);
    assert_eq!(entries[0]["detail"]["id"], id);
    assert_eq!(entries[0]["detail"]["trigger"], "analysis");
    assert_eq!(entries[0]["detail"]["outcome"], "rolled-back");
    assert_eq!(entries[0]["seq"], inc["audit_seq"]);
    let out = run(&["audit", "verify", "--audit", audit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    eprintln!(
        "incident {id}: {} timeline entries, {value} > 0.01, {to_stable} ms to 100% stable, {} requests",
        timeline.len(),
        report.total()
    );
}

/// Killed before the rollback moved traffic, after the incident's audit
/// entry, and after the incident was stored: each re-run finishes the
/// rollback, and there is still exactly one incident and one entry, with
/// the analysis as its trigger.
#[test]
fn a_crash_during_the_rollback_still_opens_exactly_one_incident() {
    let bad = Backend {
        name: "green1",
        version: "v2",
        error_percent: 30,
        healthy: true,
    };
    let bed = RolloutBed::start(&[backend("blue1", "v1"), bad], &[100, 0]);
    let load = load(&bed, 400.0);
    wait_requests(&load, 200, Duration::from_secs(5));
    for (i, point) in [
        "rollback-saved:1",
        "after-incident-entry:1",
        "after-incident:1",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("crash{i}");
        let spec = bed.write_spec(&name, "canary", &canary_body("5s"));
        let s = spec.to_str().unwrap();
        let out = run(&["rollout", "--quiet", "--spec", s, "--failpoint", point]);
        assert_eq!(
            out.status.code(),
            None,
            "{point}: not killed: {}",
            text(&out)
        );
        assert_eq!(state(&bed, &name)["phase"], "rolling-back", "{point}");
        let out = run(&["rollout", "--quiet", "--spec", s]);
        assert_eq!(out.status.code(), Some(1), "{point}: {}", text(&out));
        assert_eq!(state(&bed, &name)["phase"], "rolled-back", "{point}");
        assert_eq!(bed.weights()["green1"], 0, "{point}");
        // And once more: a finished rollout opens nothing more.
        let out = run(&["rollout", "--quiet", "--spec", s]);
        assert_eq!(out.status.code(), Some(1), "{point}: {}", text(&out));

        let all = incident_list(&spec);
        assert_eq!(all.len(), 1, "{point}: {all:#?}");
        assert_eq!(all[0]["trigger"]["kind"], "analysis", "{point}");
        assert_eq!(all[0]["trigger"]["name"], "error-rate", "{point}");
        let entries: Vec<Value> = incident_entries(&bed.dir.join("audit"))
            .into_iter()
            .filter(|e| e["detail"]["service"] == name.as_str())
            .collect();
        assert_eq!(entries.len(), 1, "{point}: {entries:#?}");
        assert_eq!(entries[0]["seq"], all[0]["audit_seq"], "{point}");
        assert_eq!(entries[0]["detail"]["id"], all[0]["id"], "{point}");
        bed.command("set server web/blue1 weight 100");
        bed.command("set server web/green1 weight 0");
    }
    let _ = load.stop();
    let audit = bed.dir.join("audit");
    let out = run(&["audit", "verify", "--audit", audit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// `gate rollback` during a paused step: the incident's trigger and actors
/// name who asked.
#[test]
fn a_manual_rollback_opens_an_incident_naming_who_asked() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let spec = bed.write_spec("hand", "canary", &canary_body("until-approved"));
    let s = spec.to_str().unwrap();
    let load = load(&bed, 600.0);
    let child = spawn(&["rollout", "--quiet", "--spec", s]);
    wait_event(&bed, "hand", "awaiting-approval", Duration::from_secs(20));
    let rb = run(&["rollback", "--spec", s, "--by", "bob"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    let out = child.wait_with_output().unwrap();
    let _ = load.stop();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = incident_list(&spec);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["trigger"]["kind"], "manual");
    assert_eq!(all[0]["trigger"]["action"], "rollback");
    assert_eq!(all[0]["trigger"]["by"], "bob");
    assert_eq!(all[0]["actors"]["requested_by"], "bob");
    assert_eq!(all[0]["impact"]["candidate_percent_at_trigger"], 20);
    let listed = run(&["incident", "list", "--spec", s]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("`gate rollback` by bob"),
        "{}",
        text(&listed)
    );
    let entries = incident_entries(&bed.dir.join("audit"));
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["detail"]["trigger"], "manual");
}

/// `gate rollback` with no `gate rollout` running (it was killed mid-step)
/// rolls back in its own process and opens the incident itself.
#[test]
fn gate_rollback_with_no_runner_opens_the_incident_itself() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let spec = bed.write_spec("alone", "canary", &canary_body("5s"));
    let s = spec.to_str().unwrap();
    let out = run(&[
        "rollout",
        "--quiet",
        "--spec",
        s,
        "--failpoint",
        "after-state-write:2",
    ]);
    assert_eq!(out.status.code(), None, "not killed: {}", text(&out));
    assert!(bed.weights()["green1"] > 0, "{:?}", bed.weights());
    let rb = run(&["rollback", "--spec", s, "--by", "dave"]);
    assert_eq!(rb.status.code(), Some(0), "{}", text(&rb));
    assert_eq!(bed.weights()["green1"], 0);
    let all = incident_list(&spec);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["trigger"]["kind"], "manual");
    assert_eq!(all[0]["trigger"]["by"], "dave");
    assert_eq!(all[0]["impact"]["candidate_percent_at_trigger"], 20);
    assert_eq!(all[0]["health_after"]["healthy"], true);
    assert_eq!(incident_entries(&bed.dir.join("audit")).len(), 1);
}

#[test]
fn a_promoted_rollout_opens_no_incident() {
    let bed = RolloutBed::start(
        &[backend("blue1", "v1"), backend("green1", "v2")],
        &[100, 0],
    );
    let spec = bed.write_spec("good", "canary", &canary_body("400ms"));
    let load = load(&bed, 600.0);
    wait_requests(&load, 100, Duration::from_secs(5));
    let out = run(&["rollout", "--quiet", "--spec", spec.to_str().unwrap()]);
    let _ = load.stop();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(incident_list(&spec).is_empty());
    assert!(incident_entries(&bed.dir.join("audit")).is_empty());
    assert!(!bed.dir.join("state/incidents").exists());
    let listed = run(&["incident", "list", "--spec", spec.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "no incidents\n");
}

/// A stored incident with fixed times, in `.gate/state` of a scratch
/// working directory (the default without `--spec`).
fn fixture_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let incidents = dir.path().join(".gate/state/incidents");
    std::fs::create_dir_all(&incidents).unwrap();
    for d in [dir.path().join(".gate/state"), incidents.clone()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/incidents/web-20261203-1.json"
    );
    std::fs::copy(fixture, incidents.join("web-20261203-1.json")).unwrap();
    dir
}

/// A snapshot in tests/snapshots, with the other CLI snapshots.
fn snapshot(name: &str, value: String) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.bind(|| insta::assert_snapshot!(name.to_string(), value));
}

#[test]
fn incident_renderings_snapshots() {
    let dir = fixture_dir();
    let show = |args: &[&str]| {
        let out = gate().current_dir(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    snapshot(
        "incident_markdown",
        show(&["incident", "show", "web-20261203-1"]),
    );
    snapshot(
        "incident_text",
        show(&["incident", "show", "web-20261203-1", "--format", "text"]),
    );
    snapshot("incident_list", show(&["incident", "list"]));
    // JSON is the stored record, unchanged.
    let json: Value = serde_json::from_str(&show(&[
        "incident",
        "show",
        "web-20261203-1",
        "--format",
        "json",
    ]))
    .unwrap();
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".gate/state/incidents/web-20261203-1.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json, stored);
}

#[test]
fn incident_help_snapshots() {
    for args in [
        &["incident"][..],
        &["incident", "list"],
        &["incident", "show"],
    ] {
        let mut all = args.to_vec();
        all.push("--help");
        let out = run(&all);
        assert_eq!(out.status.code(), Some(0));
        snapshot(
            &format!("help_{}", args.join("_")),
            String::from_utf8_lossy(&out.stdout).to_string(),
        );
    }
}
