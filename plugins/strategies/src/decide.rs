//! The decision rules of the built-in strategies. Every function here is a pure
//! function of (spec, state): the host can crash at any point and call again
//! with the persisted state to get the same answer.

use std::collections::BTreeSet;

use crate::model::{Action, Analysis, Decision, HealthStatus, Spec, State, Verdict};

/// Validates the spec and the state, then returns the next action.
pub fn decide(spec: &Spec, state: &State) -> Result<Decision, String> {
    validate_analyses(&spec.analysis)?;
    match spec.strategy.as_str() {
        Some("canary") => canary(spec, state),
        Some("blue-green") => blue_green(spec, state),
        Some("rolling") => rolling(spec, state),
        Some(other) => Err(format!(
            "unknown strategy `{other}`: the built-in plugin provides blue-green, canary and rolling"
        )),
        None => Err(format!(
            "strategy must be one of blue-green, canary, rolling; got {}",
            spec.strategy
        )),
    }
}

fn validate_analyses(analyses: &[Analysis]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for a in analyses {
        if a.name.is_empty() {
            return Err("analysis: an entry has an empty name".into());
        }
        if !seen.insert(a.name.as_str()) {
            return Err(format!("analysis: `{}` is defined twice", a.name));
        }
        if a.interval_ms == 0 {
            return Err(format!("analysis `{}`: interval_ms must be > 0", a.name));
        }
    }
    Ok(())
}

/// Looks up the analyses a blue-green phase names.
fn named<'a>(spec: &'a Spec, names: &[String], field: &str) -> Result<Vec<&'a Analysis>, String> {
    names
        .iter()
        .map(|n| {
            spec.analysis.iter().find(|a| &a.name == n).ok_or_else(|| {
                format!("blue_green.{field} names `{n}`, which is not in the spec's analysis list")
            })
        })
        .collect()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn candidate_version(spec: &Spec) -> String {
    spec.candidate
        .version
        .as_ref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default()
}

/// `health.candidate == unhealthy` (and, when `failing_counts`, any failing
/// server) → rollback.
fn health_rollback(state: &State, failing_counts: bool) -> Option<Decision> {
    let failing = &state.health.failing;
    let names = if failing.is_empty() {
        String::new()
    } else {
        format!(" (failing: {})", failing.join(", "))
    };
    if state.health.candidate == HealthStatus::Unhealthy {
        return Some(Decision::new(
            Action::Rollback,
            format!("candidate unhealthy{names}"),
        ));
    }
    if failing_counts && !failing.is_empty() {
        return Some(Decision::new(
            Action::Rollback,
            format!("health check failed on {}", failing.join(", ")),
        ));
    }
    None
}

// ---------------------------------------------------------------------------
// One step: analyses, pause and approval.
// ---------------------------------------------------------------------------

/// What a step needs before it is over.
struct StepPlan<'a> {
    /// Prefix for reasons, e.g. `step 2/4 (10%)`.
    label: String,
    analyses: Vec<&'a Analysis>,
    /// Minimum time the step lasts (`pause_ms`, or `post_promotion_ms`).
    min_ms: u64,
    until_approved: bool,
}

enum StepOutcome {
    /// The step is not over: do this.
    Act(Decision),
    /// The step is over; the caller moves on.
    Passed,
}

/// Counts of one analysis' measurements in the current step.
#[derive(Default)]
struct Tally<'a> {
    success: usize,
    failure: usize,
    inconclusive: usize,
    /// `error`s counting back from the newest, skipping `pending` (which is
    /// not a verdict and neither counts nor breaks the run).
    trailing_errors: usize,
    last_error: Option<&'a str>,
    /// The newest measurement of any kind.
    last_at: Option<u64>,
}

fn tally<'a>(state: &'a State, name: &str) -> Tally<'a> {
    let mut t = Tally::default();
    let Some(ms) = state.analysis.get(name).map(|a| &a.measurements) else {
        return t;
    };
    for m in ms {
        match m.result {
            Verdict::Success => t.success += 1,
            Verdict::Failure => t.failure += 1,
            Verdict::Inconclusive => t.inconclusive += 1,
            Verdict::Error | Verdict::Pending => {}
        }
        t.last_at = Some(t.last_at.map_or(m.at_ms, |l| l.max(m.at_ms)));
    }
    for m in ms.iter().rev() {
        match m.result {
            Verdict::Pending => continue,
            Verdict::Error => {
                t.trailing_errors += 1;
                if t.last_error.is_none() {
                    t.last_error = m.message.as_deref();
                }
            }
            _ => break,
        }
    }
    t
}

/// When the analysis is next due: `interval_ms` after its newest measurement,
/// or after the step started.
fn next_due(a: &Analysis, t: &Tally, state: &State) -> u64 {
    let last = t
        .last_at
        .map_or(state.step_started_ms, |l| l.max(state.step_started_ms));
    last.saturating_add(a.interval_ms)
}

/// One step of a strategy: limits that roll back, then a human for too many
/// inconclusive measurements, then whether the step is over, and otherwise
/// what to measure or how long to wait.
fn run_step(plan: &StepPlan, state: &State) -> StepOutcome {
    let tallies: Vec<Tally> = plan
        .analyses
        .iter()
        .map(|a| tally(state, &a.name))
        .collect();
    if let Some(rollback) = limits_exceeded(plan, &tallies) {
        return StepOutcome::Act(rollback);
    }
    let approved = state.approval.is_some();
    if let Some(wait) = too_inconclusive(plan, &tallies).filter(|_| !approved) {
        return StepOutcome::Act(wait);
    }
    step_progress(plan, &tallies, state)
}

/// Failures over `failure_limit` or errors in a row over
/// `consecutive_error_limit`, in the spec's order of analyses → rollback.
fn limits_exceeded(plan: &StepPlan, tallies: &[Tally]) -> Option<Decision> {
    let label = &plan.label;
    for (a, t) in plan.analyses.iter().zip(tallies) {
        if t.failure > a.failure_limit as usize {
            return Some(Decision::new(
                Action::Rollback,
                format!(
                    "{label}: {}: {} > failure_limit {}",
                    a.name,
                    plural(t.failure, "failure", "failures"),
                    a.failure_limit
                ),
            ));
        }
        if t.trailing_errors > a.consecutive_error_limit as usize {
            let last = t
                .last_error
                .map(|m| format!(" (last: {m})"))
                .unwrap_or_default();
            return Some(Decision::new(
                Action::Rollback,
                format!(
                    "{label}: {}: {} in a row > consecutive_error_limit {}{last}",
                    a.name,
                    plural(t.trailing_errors, "error", "errors"),
                    a.consecutive_error_limit
                ),
            ));
        }
    }

    None
}

/// Too many inconclusive measurements: a human decides → await-approval. An
/// approval recorded during this step is that decision (go on).
fn too_inconclusive(plan: &StepPlan, tallies: &[Tally]) -> Option<Decision> {
    let inconclusive: Vec<String> = plan
        .analyses
        .iter()
        .zip(tallies)
        .filter(|(a, t)| t.inconclusive > a.inconclusive_limit as usize)
        .map(|(a, t)| {
            format!(
                "{}: {} > inconclusive_limit {}",
                a.name,
                plural(t.inconclusive, "inconclusive", "inconclusive"),
                a.inconclusive_limit
            )
        })
        .collect();
    (!inconclusive.is_empty()).then(|| {
        Decision::new(
            Action::AwaitApproval,
            format!(
                "{}: {}; `gate promote` to go on, `gate abort` to roll back",
                plan.label,
                inconclusive.join("; ")
            ),
        )
    })
}

/// No limit is exceeded: the step is over, or analyses are due, or only the
/// approval is missing, or it waits for the next analysis or the pause's end.
fn step_progress(plan: &StepPlan, tallies: &[Tally], state: &State) -> StepOutcome {
    let label = &plan.label;
    let approved = state.approval.is_some();
    let passed = |a: &Analysis, t: &Tally| {
        t.success >= 1 || (approved && t.inconclusive > a.inconclusive_limit as usize)
    };
    let all_passed = plan.analyses.iter().zip(tallies).all(|(a, t)| passed(a, t));
    let now = state.now_ms;
    let pause_end = state.step_started_ms.saturating_add(plan.min_ms);
    let pause_done = now >= pause_end;

    if all_passed && pause_done && (!plan.until_approved || approved) {
        return StepOutcome::Passed;
    }

    // Analyses keep running for as long as the step lasts, so a failure late
    // in the step still rolls back.
    let due: Vec<String> = plan
        .analyses
        .iter()
        .zip(tallies)
        .filter(|(a, t)| now >= next_due(a, t, state))
        .map(|(a, _)| a.name.clone())
        .collect();
    if !due.is_empty() {
        let reason = format!("{label}: measuring {}", due.join(", "));
        return StepOutcome::Act(Decision::new(Action::Analyse { names: due }, reason));
    }

    if all_passed && pause_done {
        // Only the approval is missing.
        return StepOutcome::Act(Decision::new(
            Action::AwaitApproval,
            format!("{label}: passed; waiting for `gate approve` or `gate promote`"),
        ));
    }

    // Sleep until the next analysis is due or the pause ends, whichever is first.
    let mut wake = plan
        .analyses
        .iter()
        .zip(tallies)
        .map(|(a, t)| (next_due(a, t, state), a.name.as_str()))
        .min();
    if !pause_done && wake.is_none_or(|(at, _)| pause_end <= at) {
        wake = Some((pause_end, "pause"));
    }
    // Non-empty: with no analyses all of them have passed, so the pause is
    // what is left. The fallback only guards against a logic slip.
    let (at, what) = wake.unwrap_or((now.saturating_add(1000), "next check"));
    let ms = at.saturating_sub(now).max(1);
    let mut waiting_for: Vec<String> = plan
        .analyses
        .iter()
        .zip(tallies)
        .filter(|(a, t)| !passed(a, t))
        .map(|(a, _)| a.name.clone())
        .collect();
    if !pause_done {
        waiting_for.push(format!("pause ({} ms left)", pause_end - now));
    }
    if plan.until_approved && !approved {
        waiting_for.push("approval".into());
    }
    let reason = format!(
        "{label}: next: {what} in {ms} ms; waiting for {}",
        waiting_for.join(", ")
    );
    StepOutcome::Act(Decision::new(Action::Wait { ms }, reason))
}

// ---------------------------------------------------------------------------
// canary
// ---------------------------------------------------------------------------

fn canary(spec: &Spec, state: &State) -> Result<Decision, String> {
    let c = spec
        .canary
        .as_ref()
        .ok_or("strategy `canary` needs a `canary` table")?;
    let steps = &c.steps;
    if steps.is_empty() {
        return Err(
            "canary.steps is empty: give at least one percentage, e.g. [1, 10, 50, 100]".into(),
        );
    }
    for (i, &p) in steps.iter().enumerate() {
        if p > 100 {
            return Err(format!(
                "canary.steps[{i}] is {p}%: a step is a percentage, at most 100"
            ));
        }
        if p == 0 {
            return Err(format!(
                "canary.steps[{i}] is 0%: every step must send some traffic to the candidate"
            ));
        }
        // Equal neighbours are allowed: a second step at the same weight is
        // another observation window (e.g. [10, 100, 100]).
        if i > 0 && p < steps[i - 1] {
            return Err(format!(
                "canary.steps must be ascending: step {} ({p}%) is below step {i} ({}%)",
                i + 1,
                steps[i - 1]
            ));
        }
    }
    let n = steps.len();
    let s = state.step as usize;
    if s > n {
        return Err(format!(
            "state.step is {s} but the canary has only {n} steps (did the spec change during the rollout?)"
        ));
    }

    if let Some(rollback) = health_rollback(state, false) {
        return Ok(rollback);
    }
    if s == 0 {
        return Ok(set_weights(steps, 1));
    }
    let plan = StepPlan {
        label: format!("step {s}/{n} ({}%)", steps[s - 1]),
        analyses: spec.analysis.iter().collect(),
        min_ms: c.pause_ms,
        until_approved: c.until_approved,
    };
    Ok(match run_step(&plan, state) {
        StepOutcome::Act(action) => action,
        StepOutcome::Passed if s < n => set_weights(steps, s as u32 + 1),
        StepOutcome::Passed => Decision::new(
            Action::Promote,
            format!(
                "all {} passed; promoting the candidate{}",
                plural(n, "canary step", "canary steps"),
                candidate_version(spec)
            ),
        ),
    })
}

fn set_weights(steps: &[u32], step: u32) -> Decision {
    let pct = steps[step as usize - 1];
    let after = if step > 1 {
        format!(" (step {} passed)", step - 1)
    } else {
        String::new()
    };
    Decision::new(
        Action::SetWeights {
            candidate_percent: pct,
            step,
        },
        format!("step {step}/{}: {pct}% to candidate{after}", steps.len()),
    )
}

// ---------------------------------------------------------------------------
// blue-green
// ---------------------------------------------------------------------------

/// Step 0: the candidate at 0 %, pre-promotion analyses, `pause_ms`, approval.
/// Step 1 (after `set-weights` 100): post-promotion analyses for at least
/// `post_promotion_ms`, then `promote`.
fn blue_green(spec: &Spec, state: &State) -> Result<Decision, String> {
    let bg = spec
        .blue_green
        .as_ref()
        .ok_or("strategy `blue-green` needs a `blue_green` table")?;
    let pre = named(spec, &bg.pre_promotion_analysis, "pre_promotion_analysis")?;
    let post = named(spec, &bg.post_promotion_analysis, "post_promotion_analysis")?;
    if state.step > 1 {
        return Err(format!(
            "state.step is {} but blue-green has only one step (the switch)",
            state.step
        ));
    }

    if let Some(rollback) = health_rollback(state, false) {
        return Ok(rollback);
    }
    if state.step == 0 {
        let plan = StepPlan {
            label: "pre-promotion (candidate at 0%)".into(),
            analyses: pre,
            min_ms: bg.pause_ms,
            until_approved: bg.until_approved,
        };
        return Ok(match run_step(&plan, state) {
            StepOutcome::Act(action) => action,
            StepOutcome::Passed => Decision::new(
                Action::SetWeights {
                    candidate_percent: 100,
                    step: 1,
                },
                if plan.analyses.is_empty() {
                    "switch: 100% to candidate"
                } else {
                    "switch: 100% to candidate (pre-promotion analysis passed)"
                },
            ),
        });
    }
    let plan = StepPlan {
        label: "post-promotion (candidate at 100%)".into(),
        analyses: post,
        min_ms: bg.post_promotion_ms,
        until_approved: false,
    };
    Ok(match run_step(&plan, state) {
        StepOutcome::Act(action) => action,
        StepOutcome::Passed => Decision::new(
            Action::Promote,
            format!(
                "post-promotion checks passed; promoting the candidate{}",
                candidate_version(spec)
            ),
        ),
    })
}

// ---------------------------------------------------------------------------
// rolling
// ---------------------------------------------------------------------------

fn rolling(spec: &Spec, state: &State) -> Result<Decision, String> {
    let r = spec
        .rolling
        .as_ref()
        .ok_or("strategy `rolling` needs a `rolling` table")?;
    if r.servers.is_empty() {
        return Err("rolling.servers is empty: name the servers to replace, in order".into());
    }
    let mut seen = BTreeSet::new();
    for s in &r.servers {
        if !seen.insert(s.as_str()) {
            return Err(format!("rolling.servers lists `{s}` twice"));
        }
    }
    let mut done = BTreeSet::new();
    for s in &state.replaced {
        if !seen.contains(s.as_str()) {
            return Err(format!(
                "state.replaced names `{s}`, which is not in rolling.servers (did the spec change during the rollout?)"
            ));
        }
        if !done.insert(s.as_str()) {
            return Err(format!("state.replaced lists `{s}` twice"));
        }
    }
    if state.step as usize != state.replaced.len() {
        return Err(format!(
            "state.step is {} but {} replaced: the two must move together",
            state.step,
            plural(state.replaced.len(), "server is", "servers are")
        ));
    }

    if let Some(rollback) = health_rollback(state, true) {
        return Ok(rollback);
    }
    let n = r.servers.len();
    let next = r.servers.iter().find(|s| !done.contains(s.as_str()));
    let replace = |server: &String, after: String| {
        Decision::new(
            Action::Replace {
                server: server.clone(),
                step: state.step + 1,
            },
            format!("step {}/{n}: replacing {server}{after}", state.step + 1),
        )
    };
    if state.replaced.is_empty() {
        // `servers` is not empty, so there is a first one.
        return Ok(replace(next.unwrap_or(&r.servers[0]), String::new()));
    }
    let last = state.replaced.last().map_or("", String::as_str);
    let plan = StepPlan {
        label: format!("step {}/{n} ({last} replaced)", state.step),
        analyses: spec.analysis.iter().collect(),
        min_ms: r.pause_ms,
        until_approved: r.until_approved,
    };
    Ok(match run_step(&plan, state) {
        StepOutcome::Act(action) => action,
        StepOutcome::Passed => match next {
            Some(server) => replace(server, format!(" ({last} passed)")),
            None => Decision::new(
                Action::Promote,
                format!(
                    "all {} replaced and checked; promoting the candidate{}",
                    plural(n, "server", "servers"),
                    candidate_version(spec)
                ),
            ),
        },
    })
}
