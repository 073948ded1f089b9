//! Evaluation: load the plugins a policy uses, run each selected check once in
//! its own store (concurrently), then apply exemptions, enforcement and
//! `on_error` to build the [`Report`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;

use crate::hosted::HostedChecks;
use crate::policy::{Exemption, ExemptionTrust, Policy, glob};
use crate::report::{
    CheckReport, CheckStatus, ExemptionNotice, ExemptionRef, FindingReport, GateReport,
    GateVerdict, NoticeKind, Report, SignedBy, Timings, ToolInfo, Verdict,
};
use gate_core::clock::Clock;
use gate_core::model::{Enforcement, OnError, Severity, Status};
use gate_sandbox::capabilities::Sandbox;
use gate_sandbox::plugin::{CheckMeta, CheckRun, LoadedPlugin, PluginError, PluginSource, Runtime};

#[derive(Clone, Debug)]
pub struct EvaluateOptions {
    /// Only this gate; all gates when `None`.
    pub gate: Option<String>,
    /// Working directory that relative paths in params and grants resolve against.
    pub cwd: PathBuf,
    pub clock: Clock,
    /// The policy path as the user gave it, for the report.
    pub policy_file: String,
    /// When the process (or caller) started, for the start-up timing.
    pub started: Instant,
    /// The checks the host runs itself (see [`crate::hosted`]).
    pub hosted: HostedChecks,
}

/// Problems that stop evaluation before anything runs (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("{0}")]
    Policy(String),
}

/// The plugins a policy needs, and the checks they provide.
pub struct Plan {
    pub plugins: Vec<Arc<LoadedPlugin>>,
    /// Gate name → check ids in run order.
    pub gates: Vec<(String, Vec<String>)>,
}

impl Plan {
    pub fn check(&self, id: &str) -> Option<(&Arc<LoadedPlugin>, &CheckMeta)> {
        self.plugins
            .iter()
            .find_map(|p| p.meta.checks.iter().find(|c| c.id == id).map(|c| (p, c)))
    }

    pub fn all_checks(&self) -> impl Iterator<Item = (&Arc<LoadedPlugin>, &CheckMeta)> {
        self.plugins
            .iter()
            .flat_map(|p| p.meta.checks.iter().map(move |c| (p, c)))
    }
}

/// The plugin names a check-id pattern can refer to (`infra.*` → `infra`).
fn plugins_for_pattern(pattern: &str, known: &[String]) -> Vec<String> {
    let head = pattern.split('.').next().unwrap_or(pattern);
    if head.contains('*') {
        known
            .iter()
            .filter(|k| glob::matches(head, k))
            .cloned()
            .collect()
    } else {
        vec![head.to_string()]
    }
}

/// Every external plugin the policy declares, with the problem that stops it
/// from loading. `compile = false` only reads and hashes each file (cheap,
/// what `evaluate` does for plugins no selected gate uses); `compile = true`
/// also compiles it and requires a `check` component (`gate policy lint`).
pub fn verify_declared_plugins(
    runtime: &Runtime,
    policy: &Policy,
    compile: bool,
) -> Vec<(crate::policy::Origin, PluginError)> {
    let declared: Vec<_> = policy.plugins.iter().filter(|p| p.path.is_some()).collect();
    let checked: Vec<Result<(), PluginError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = declared
            .iter()
            .map(|spec| {
                scope.spawn(move || {
                    let source = PluginSource::resolve(&spec.name, Some(spec))?;
                    if compile {
                        runtime.expect_world(&source, gate_sandbox::plugin::World::Check)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("plugin verification thread"))
            .collect()
    });
    declared
        .into_iter()
        .zip(checked)
        .filter_map(|(spec, r)| r.err().map(|e| (spec.origin.clone(), e)))
        .collect()
}

/// Loads the plugins the selected gates use and expands their check patterns.
/// A declared plugin whose pin does not match its file is a policy error even
/// when no selected gate uses it.
pub async fn plan(
    runtime: &Runtime,
    policy: &Policy,
    options: &EvaluateOptions,
) -> Result<Plan, EvaluateError> {
    let gates: Vec<_> = match &options.gate {
        Some(name) => vec![policy.gate(name).ok_or_else(|| {
            EvaluateError::Policy(format!(
                "no gate named `{name}` in {} (gates: {})",
                options.policy_file,
                policy
                    .gates
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?],
        None => policy.gates.iter().collect(),
    };
    let mut known: Vec<String> = gate_sandbox::plugin::BUILTINS
        .iter()
        .map(|b| b.name.to_string())
        .collect();
    known.extend(
        policy
            .plugins
            .iter()
            .filter(|p| p.path.is_some())
            .map(|p| p.name.clone()),
    );
    let mut needed = BTreeSet::new();
    for g in gates.iter().filter(|g| g.enforcement != Enforcement::Off) {
        for pattern in &g.checks {
            needed.extend(plugins_for_pattern(pattern, &known));
        }
    }
    if let Some((origin, e)) = verify_declared_plugins(runtime, policy, false)
        .into_iter()
        .next()
    {
        return Err(EvaluateError::Policy(format!("{origin}: {e}")));
    }
    let plugins = load_plugins(runtime, policy, &needed, options).await?;
    let mut plan = Plan {
        plugins,
        gates: Vec::new(),
    };
    for g in gates {
        let mut ids: Vec<String> = Vec::new();
        if g.enforcement != Enforcement::Off {
            for pattern in &g.checks {
                let matched: Vec<String> = plan
                    .all_checks()
                    .filter(|(_, c)| glob::matches(pattern, &c.id))
                    .map(|(_, c)| c.id.clone())
                    .collect();
                if matched.is_empty() {
                    return Err(EvaluateError::Policy(format!(
                        "{}: gate `{}` names `{pattern}`, which matches no check of the loaded plugins; \
                         see `gate checks list`",
                        g.origin, g.name
                    )));
                }
                for id in matched {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        plan.gates.push((g.name.clone(), ids));
    }
    Ok(plan)
}

/// A plugin's grants as the policy gives them, with a built-in's own default
/// timeout ([`gate_sandbox::plugin::Builtin::default_timeout_ms`]) where the
/// policy sets none.
fn plugin_grants(
    policy: Option<&gate_sandbox::grants::Grants>,
    source: &PluginSource,
) -> gate_sandbox::grants::Grants {
    let mut grants = policy.cloned().unwrap_or_default();
    if grants.timeout_ms.is_none() {
        grants.timeout_ms = source.builtin.and_then(|b| b.default_timeout_ms());
    }
    grants
}

/// Compiles the named plugins concurrently (each on a blocking thread).
pub async fn load_plugins(
    runtime: &Runtime,
    policy: &Policy,
    names: &BTreeSet<String>,
    options: &EvaluateOptions,
) -> Result<Vec<Arc<LoadedPlugin>>, EvaluateError> {
    let resources = Arc::new(policy.resources());
    let mut sources = Vec::new();
    for name in names {
        let spec = policy.plugin(name);
        let source = PluginSource::resolve(name, spec)?;
        let grants = plugin_grants(spec.map(|s| &s.grants), &source);
        let sandbox = Arc::new(Sandbox::with_resources(
            name,
            grants,
            &options.cwd,
            options.clock,
            resources.clone(),
        ));
        sources.push((source, sandbox));
    }
    // Compilation (or cache loading) is CPU-bound: one thread per plugin, on
    // top of wasmtime's own parallel compilation of each plugin's functions.
    let compiled: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .iter()
            .map(|(source, _)| scope.spawn(move || runtime.compile(source)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("compile thread"))
            .collect()
    });
    let mut out = Vec::new();
    for ((source, sandbox), compiled) in sources.into_iter().zip(compiled) {
        let (pre, cache) = compiled?;
        let mut plugin = runtime.describe(&source, sandbox, pre, cache).await?;
        let hosted = options.hosted.metas(&plugin.name, plugin.builtin);
        plugin.meta.checks.extend(hosted);
        out.push(Arc::new(plugin));
    }
    // Each plugin's ids are already confined to its own namespace
    // (`catalog::id_problem`); this keeps ids unique across plugins even if
    // two namespaces ever overlap, since `Plan::check` would otherwise pick
    // whichever plugin loaded first.
    let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
    for plugin in &out {
        for check in &plugin.meta.checks {
            if let Some(first) = owners.insert(&check.id, &plugin.name) {
                return Err(EvaluateError::Policy(format!(
                    "check `{}` is declared by both plugin `{first}` and plugin `{}`; check ids must be unique",
                    check.id, plugin.name
                )));
            }
        }
    }
    Ok(out)
}

/// Runs the plan and builds the report.
pub async fn evaluate(
    runtime: Arc<Runtime>,
    policy: &Policy,
    plan: &Plan,
    options: &EvaluateOptions,
) -> Result<Report, EvaluateError> {
    let started_at = options.clock.now();
    let started = Instant::now();
    let today = options.clock.today();
    check_configs_provided(policy, plan)?;
    let to_run = checks_to_run(policy, plan);
    let runs = run_checks(runtime, policy, plan, options, &to_run).await;
    let checks_ms = started.elapsed().as_millis();
    let (gates, used) = gate_reports(policy, plan, &runs, today);
    let timings = Timings {
        startup_ms: started
            .saturating_duration_since(options.started)
            .as_millis() as u64,
        checks_ms: checks_ms as u64,
        plugin_ms: runs
            .values()
            .map(|r| r.duration.saturating_sub(r.host_time))
            .sum::<std::time::Duration>()
            .as_millis() as u64,
        host_ms: runs
            .values()
            .map(|r| r.host_time)
            .sum::<std::time::Duration>()
            .as_millis() as u64,
    };
    let evaluated: Vec<&str> = to_run.iter().map(String::as_str).collect();
    let exemption_notices = notices(policy, today, &used, &evaluated, options.gate.is_some());
    let verdict = if gates.iter().any(|g| g.verdict == GateVerdict::Fail) {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    Ok(Report {
        verdict,
        policy: policy.name.clone(),
        policy_file: options.policy_file.clone(),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        gates,
        exemption_notices,
        tool: ToolInfo {
            name: "gate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        timings,
    })
}

/// A `[[check]]` that names a loaded plugin's namespace must name one of
/// its checks.
fn check_configs_provided(policy: &Policy, plan: &Plan) -> Result<(), EvaluateError> {
    for c in &policy.checks {
        if plan.check(&c.id).is_none()
            && plan
                .plugins
                .iter()
                .any(|p| c.id.starts_with(&format!("{}.", p.name)))
        {
            return Err(EvaluateError::Policy(format!(
                "{}: [[check]] configures `{}`, which plugin `{}` does not provide; see `gate checks list`",
                c.origin,
                c.id,
                c.id.split('.').next().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// The checks to run, in plan order: each once, even when several gates
/// include it, and none whose enforcement is off.
fn checks_to_run(policy: &Policy, plan: &Plan) -> Vec<String> {
    let mut to_run: Vec<String> = Vec::new();
    for (gate, ids) in &plan.gates {
        let gate_enf = policy
            .gate(gate)
            .map(|g| g.enforcement)
            .unwrap_or(Enforcement::Block);
        for id in ids {
            let enf = policy
                .check_config(id)
                .and_then(|c| c.enforcement)
                .unwrap_or(gate_enf);
            if enf != Enforcement::Off && !to_run.contains(id) {
                to_run.push(id.clone());
            }
        }
    }
    to_run
}

/// Runs the checks concurrently (hosted ones on the host, the others in
/// their plugin's sandbox); every id gets a run, a lost task an error.
async fn run_checks(
    runtime: Arc<Runtime>,
    policy: &Policy,
    plan: &Plan,
    options: &EvaluateOptions,
    to_run: &[String],
) -> BTreeMap<String, CheckRun> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, id) in to_run.iter().enumerate() {
        let (plugin, _) = plan.check(id).expect("planned check exists");
        let plugin = plugin.clone();
        let runtime = runtime.clone();
        let id = id.clone();
        let params = options.hosted.params(policy, &id);
        let hosted = options.hosted.clone();
        tasks.spawn(async move {
            let run = match hosted.find(&plugin, &id) {
                Some(check) => check.run(&runtime, &plugin, &params).await,
                None => runtime.run_check(&plugin, &id, &params).await,
            };
            (index, run)
        });
    }
    let mut runs: Vec<Option<CheckRun>> = (0..to_run.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, run)) => runs[index] = Some(run),
            Err(e) => tracing::error!("check task failed: {e}"),
        }
    }
    to_run
        .iter()
        .zip(runs)
        .map(|(id, run)| {
            (
                id.clone(),
                run.unwrap_or_else(|| CheckRun {
                    outcome: Err("the check's task was lost (host bug)".into()),
                    duration: Default::default(),
                    host_time: Default::default(),
                    instances: 1,
                }),
            )
        })
        .collect()
}

/// One report per planned gate, and the indexes (into
/// `policy.exemptions`) of the exemptions that applied.
fn gate_reports(
    policy: &Policy,
    plan: &Plan,
    runs: &BTreeMap<String, CheckRun>,
    today: NaiveDate,
) -> (Vec<GateReport>, BTreeSet<usize>) {
    // Indexed into `policy.exemptions`, so use can be reported per exemption.
    let active: Vec<(usize, &Exemption)> = policy
        .exemptions
        .iter()
        .enumerate()
        .filter(|(_, e)| e.is_active(today) && e.is_honoured())
        .collect();
    let mut used: BTreeSet<usize> = BTreeSet::new();
    let mut gates = Vec::new();
    for (gate_name, ids) in &plan.gates {
        let spec = policy.gate(gate_name).expect("planned gate exists");
        let mut checks = Vec::new();
        for id in ids {
            let (plugin, meta) = plan.check(id).expect("planned check exists");
            let config = policy.check_config(id);
            let enforcement = config
                .and_then(|c| c.enforcement)
                .unwrap_or(spec.enforcement);
            let on_error = config.and_then(|c| c.on_error).unwrap_or_default();
            let severity = config
                .and_then(|c| c.severity)
                .unwrap_or(meta.default_severity);
            checks.push(check_report(
                plugin,
                meta,
                enforcement,
                on_error,
                severity,
                config.and_then(|c| c.severity),
                runs.get(id.as_str()),
                &active,
                &mut used,
            ));
        }
        gates.push(GateReport {
            name: gate_name.clone(),
            enforcement: spec.enforcement,
            verdict: gate_verdict(spec.enforcement, &checks),
            checks,
        });
    }
    (gates, used)
}

/// Off when the gate is off; fail when a check blocks; warn when one
/// warned, failed or errored without blocking; else pass.
fn gate_verdict(enforcement: Enforcement, checks: &[CheckReport]) -> GateVerdict {
    if enforcement == Enforcement::Off {
        GateVerdict::Off
    } else if checks.iter().any(|c| c.blocking) {
        GateVerdict::Fail
    } else if checks.iter().any(|c| {
        matches!(
            c.status,
            CheckStatus::Warn | CheckStatus::Fail | CheckStatus::Error
        )
    }) {
        GateVerdict::Warn
    } else {
        GateVerdict::Pass
    }
}

pub fn exemption_ref(e: &Exemption) -> ExemptionRef {
    ExemptionRef {
        check: e.check.clone(),
        subject_match: e.subject_match.clone(),
        reason: e.reason.clone(),
        approved_by: e.approved_by.clone(),
        ticket: e.ticket.clone(),
        expires: e.expires,
        source: e.origin.to_string(),
        signed_by: match &e.trust {
            ExemptionTrust::Signed {
                principal,
                fingerprint,
            } => Some(SignedBy {
                principal: principal.clone(),
                fingerprint: fingerprint.clone(),
            }),
            _ => None,
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn check_report(
    plugin: &LoadedPlugin,
    meta: &CheckMeta,
    enforcement: Enforcement,
    on_error: OnError,
    severity: Severity,
    severity_override: Option<Severity>,
    run: Option<&CheckRun>,
    active: &[(usize, &Exemption)],
    used: &mut BTreeSet<usize>,
) -> CheckReport {
    let mut report = CheckReport {
        id: meta.id.clone(),
        title: meta.title.clone(),
        plugin: plugin.name.clone(),
        status: CheckStatus::Skip,
        severity,
        enforcement,
        blocking: false,
        duration_ms: 0,
        host_ms: 0,
        instances: 1,
        findings: Vec::new(),
        exemption: None,
        error: None,
        description: meta.description.clone(),
    };
    let Some(run) = run else {
        // enforcement = off for this check: listed, not run.
        return report;
    };
    report.duration_ms = run.duration.as_millis() as u64;
    report.host_ms = run.host_time.as_millis() as u64;
    report.instances = run.instances;
    report.findings = match &run.outcome {
        Ok(findings) => findings
            .iter()
            .cloned()
            .map(|f| {
                let mut f = f.into_report(meta.default_severity);
                if let Some(s) = severity_override {
                    f.severity = s;
                }
                f
            })
            .collect(),
        Err(reason) => {
            report.error = Some(reason.clone());
            vec![FindingReport {
                rule: None,
                subject: meta.id.clone(),
                status: Status::Error,
                severity,
                message: reason.clone(),
                evidence: Default::default(),
                remediation: None,
                location: None,
                exemption: None,
            }]
        }
    };

    let mut worst_all = Status::Pass;
    let mut worst_open = Status::Pass;
    for f in &mut report.findings {
        worst_all = worst_all.max(f.status);
        if f.status >= Status::Warn
            && let Some((index, e)) = active.iter().find(|(_, e)| e.matches(&meta.id, &f.subject))
        {
            used.insert(*index);
            f.exemption = Some(exemption_ref(e));
            continue;
        }
        worst_open = worst_open.max(f.status);
    }
    report.status = if worst_all >= Status::Warn && worst_open < Status::Warn {
        report.exemption = report.findings.iter().find_map(|f| f.exemption.clone());
        CheckStatus::Exempt
    } else {
        worst_open.into()
    };
    report.blocking = enforcement == Enforcement::Block
        && match report.status {
            CheckStatus::Fail => true,
            CheckStatus::Error => on_error == OnError::Fail,
            _ => false,
        };
    report
}

fn notices(
    policy: &Policy,
    today: NaiveDate,
    used: &BTreeSet<usize>,
    evaluated: &[&str],
    single_gate: bool,
) -> Vec<ExemptionNotice> {
    let mut out = Vec::new();
    for (i, e) in policy.exemptions.iter().enumerate() {
        let r = exemption_ref(e);
        if let ExemptionTrust::Refused(why) = &e.trust {
            out.push(ExemptionNotice {
                kind: NoticeKind::Unverified,
                message: format!(
                    "exemption for `{}` at {} is not honoured: {why}",
                    e.check, e.origin
                ),
                exemption: r,
            });
            continue;
        }
        if !e.is_active(today) {
            out.push(ExemptionNotice {
                kind: NoticeKind::Expired,
                message: format!(
                    "exemption for `{}` approved by {} expired on {} and no longer applies",
                    e.check, e.approved_by, e.expires
                ),
                exemption: r,
            });
            continue;
        }
        if e.expires_within(today, policy.warn_days) {
            let days = (e.expires - today).num_days();
            out.push(ExemptionNotice {
                kind: NoticeKind::ExpiringSoon,
                message: format!(
                    "exemption for `{}` expires on {} ({} day{} left); renew it or fix the finding",
                    e.check,
                    e.expires,
                    days,
                    if days == 1 { "" } else { "s" }
                ),
                exemption: r.clone(),
            });
        }
        let relevant = !single_gate || evaluated.iter().any(|id| glob::matches(&e.check, id));
        if relevant && !used.contains(&i) {
            out.push(ExemptionNotice {
                kind: NoticeKind::Unused,
                message: format!(
                    "exemption for `{}`{} matched no finding; remove it if it is no longer needed",
                    e.check,
                    e.subject_match
                        .as_deref()
                        .map(|m| format!(" (match `{m}`)"))
                        .unwrap_or_default()
                ),
                exemption: r,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_sandbox::grants::Grants;

    #[test]
    fn the_security_built_in_gets_its_own_default_timeout_unless_the_policy_sets_one() {
        let security = PluginSource::resolve("security", None).unwrap();
        assert_eq!(plugin_grants(None, &security).timeout_ms, Some(120_000));
        let set = Grants {
            timeout_ms: Some(3_000),
            ..Grants::default()
        };
        assert_eq!(plugin_grants(Some(&set), &security).timeout_ms, Some(3_000));
        // Other built-ins keep the sandbox's default; so does a plugin from a
        // file, whatever its name.
        let config = PluginSource::resolve("config", None).unwrap();
        assert_eq!(plugin_grants(None, &config).timeout_ms, None);
        let file = PluginSource {
            builtin: None,
            path: Some(PathBuf::from("security.wasm")),
            ..security
        };
        assert_eq!(plugin_grants(None, &file).timeout_ms, None);
    }
}
