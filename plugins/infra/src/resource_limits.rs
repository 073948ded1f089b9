//! `infra.resource-limits`: the host gate runs on has the open-files limit,
//! memory and CPUs a deployment needs, and Kubernetes manifests declare
//! `resources.limits.cpu` and `resources.limits.memory` for every container.
//!
//! Host facts come from the `system` capability and describe the environment
//! gate itself runs in (its own `RLIMIT_NOFILE`, `MemAvailable` capped by the
//! cgroup's `memory.max`, the CPUs it may use): run gate where the service runs
//! for them to mean something about the service.

use gate_plugin_sdk::host::system;
use gate_plugin_sdk::redact::shown;
use gate_plugin_sdk::{Check, CheckInfo, Context, Finding, Severity, Status, param, params};
use serde::Deserialize;

use crate::file_glob;
use crate::k8s_limits::{self, Container};
use crate::size::ByteSize;

pub const ID: &str = "infra.resource-limits";

pub struct ResourceLimits;

const MIB: u64 = 1024 * 1024;
const MAX_MANIFEST: u64 = 16 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub min_open_files: Option<u64>,
    #[serde(default)]
    pub min_memory_mb: Option<u64>,
    #[serde(default)]
    pub min_cpus: Option<f64>,
    #[serde(default)]
    pub manifests: Option<Vec<String>>,
}

impl Params {
    fn wants_host(&self) -> bool {
        self.min_open_files.is_some() || self.min_memory_mb.is_some() || self.min_cpus.is_some()
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.wants_host() && self.manifests.is_none() {
            problems.push(
                "set at least one of `min_open_files`, `min_memory_mb`, `min_cpus`, `manifests`"
                    .to_string(),
            );
        }
        if let Some(m) = &self.manifests {
            if m.is_empty() {
                problems.push("`manifests` must name at least one file or pattern".to_string());
            }
            if m.iter().any(|p| p.trim().is_empty()) {
                problems.push("`manifests` contains an empty path".to_string());
            }
        }
        if let Some(c) = self.min_cpus
            && !(c.is_finite() && c > 0.0)
        {
            problems.push(format!("`min_cpus` must be more than 0, not {c}"));
        }
        problems
    }
}

/// The host facts the check compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostLimits {
    pub open_files_soft: u64,
    pub open_files_hard: u64,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub cpus: u32,
}

/// A manifest file as read by the host side.
pub struct ManifestFile {
    pub display: String,
    pub text: Result<String, String>,
}

impl Check for ResourceLimits {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "Resource limits".to_string(),
            description: "Open-files limit, available memory and CPUs meet the minimums; every container in Kubernetes manifests declares resources.limits.cpu and .memory"
                .to_string(),
            default_severity: Severity::Medium,
            params: vec![
                param("min_open_files", "integer", false, "Minimum soft open-files limit (RLIMIT_NOFILE) of the environment gate runs in"),
                param("min_memory_mb", "integer", false, "Minimum available memory in MiB (MemAvailable, capped by the cgroup limit)"),
                param("min_cpus", "number", false, "Minimum CPUs available"),
                param("manifests", "list<string>", false, "Kubernetes YAML files or patterns (`k8s/**/*.yaml`) whose containers must declare CPU and memory limits"),
            ],
            capabilities: vec!["system|fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, raw: &serde_json::Value) -> Vec<Finding> {
        let p: Params = match params::parse(ctx, raw) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let problems = p.problems();
        if !problems.is_empty() {
            return params::invalid(ctx, problems.join("; "));
        }
        let mut out = Vec::new();
        if p.wants_host() {
            let limits = system::limits().map(|l| HostLimits {
                open_files_soft: l.open_files_soft,
                open_files_hard: l.open_files_hard,
                memory_total_bytes: l.memory_total_bytes,
                memory_available_bytes: l.memory_available_bytes,
                cpus: l.cpus,
            });
            out.extend(evaluate_host(ctx, &p, limits));
        }
        if let Some(patterns) = &p.manifests {
            out.extend(evaluate_manifests(ctx, patterns, read_manifests));
        }
        out
    }
}

fn read_manifests(pattern: &str) -> Result<Vec<ManifestFile>, String> {
    let expansion = file_glob::expand(pattern, &file_glob::host_resolve)?;
    let mut out: Vec<ManifestFile> = expansion
        .unreadable
        .into_iter()
        .map(|(display, e)| ManifestFile {
            text: Err(e),
            display,
        })
        .collect();
    for f in expansion.files {
        let granted = gate_plugin_sdk::paths::GrantedPath {
            display: f.display.clone(),
            absolute: f.absolute.to_string_lossy().into_owned(),
        };
        let text = gate_plugin_sdk::paths::read_bytes(&granted, MAX_MANIFEST)
            .and_then(|b| String::from_utf8(b).map_err(|_| "not valid UTF-8".to_string()));
        out.push(ManifestFile {
            display: f.display,
            text,
        });
    }
    Ok(out)
}

/// Compares the host's limits with the minimums.
pub fn evaluate_host(
    ctx: &Context,
    params: &Params,
    limits: Result<HostLimits, String>,
) -> Vec<Finding> {
    let l = match limits {
        Ok(l) => l,
        Err(e) => {
            return vec![
                ctx.finding("host", Status::Error)
                    .message(format!("cannot read the host's limits: {e}"))
                    .build(),
            ];
        }
    };
    let mut out = Vec::new();
    if let Some(min) = params.min_open_files {
        let ok = l.open_files_soft >= min;
        let mut f = ctx
            .finding("open-files", if ok { Status::Pass } else { Status::Fail })
            .message(if ok {
                format!("open-files limit {} (min {min})", l.open_files_soft)
            } else {
                format!(
                    "open-files limit {} is below min_open_files {min}",
                    l.open_files_soft
                )
            })
            .evidence("soft", l.open_files_soft)
            .evidence("hard", l.open_files_hard);
        if !ok {
            f = f.remediation(if l.open_files_hard >= min {
                format!("raise the soft limit (`ulimit -n {min}`, LimitNOFILE= in the systemd unit); the hard limit {} allows it", l.open_files_hard)
            } else {
                format!("raise the hard and soft limits to at least {min} (limits.conf, LimitNOFILE= in the systemd unit, the container runtime's ulimits)")
            });
        }
        out.push(f.build());
    }
    if let Some(min) = params.min_memory_mb {
        let ok = l.memory_available_bytes >= min.saturating_mul(MIB);
        let mut f = ctx
            .finding("memory", if ok { Status::Pass } else { Status::Fail })
            .message(if ok {
                format!(
                    "{} available of {} (min {min} MiB)",
                    ByteSize(l.memory_available_bytes),
                    ByteSize(l.memory_total_bytes)
                )
            } else {
                format!(
                    "available memory {} is below min_memory_mb {min} MiB (total {})",
                    ByteSize(l.memory_available_bytes),
                    ByteSize(l.memory_total_bytes)
                )
            })
            .evidence("available_mb", l.memory_available_bytes / MIB)
            .evidence("total_mb", l.memory_total_bytes / MIB);
        if !ok {
            f = f.remediation("free memory on the host, raise the cgroup/container memory limit, or run on a bigger machine");
        }
        out.push(f.build());
    }
    if let Some(min) = params.min_cpus {
        let ok = f64::from(l.cpus) >= min;
        let mut f = ctx
            .finding("cpus", if ok { Status::Pass } else { Status::Fail })
            .message(if ok {
                format!("{} CPUs available (min {min})", l.cpus)
            } else {
                format!("{} CPUs available, below min_cpus {min}", l.cpus)
            })
            .evidence("cpus", l.cpus);
        if !ok {
            f = f.remediation(
                "raise the CPU quota/affinity of this environment, or run on a bigger machine",
            );
        }
        out.push(f.build());
    }
    out
}

/// Checks every container in the manifests; `read` expands a pattern and
/// reads the files (a closure so tests can fake it).
pub fn evaluate_manifests(
    ctx: &Context,
    patterns: &[String],
    read: impl Fn(&str) -> Result<Vec<ManifestFile>, String>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut containers = 0;
    let mut cannot_read = false;
    for pattern in patterns {
        let files = match read(pattern) {
            Ok(f) => f,
            Err(e) => {
                cannot_read = true;
                out.push(
                    ctx.finding(pattern, Status::Error)
                        .message(format!("cannot read manifests `{pattern}`: {e}"))
                        .remediation("fix the path, or the `infra` plugin's `fs` grant")
                        .build(),
                );
                continue;
            }
        };
        if files.is_empty() {
            cannot_read = true;
            out.push(
                ctx.finding(pattern, Status::Error)
                    .message(format!("`{pattern}` matched no manifest file"))
                    .remediation("fix the path or pattern in `manifests`")
                    .build(),
            );
        }
        for file in files {
            let parsed = file.text.and_then(|t| k8s_limits::parse(&t));
            match parsed {
                Ok(m) => {
                    containers += m.containers.len();
                    out.extend(
                        m.containers
                            .iter()
                            .flat_map(|c| container(ctx, &file.display, c)),
                    );
                }
                Err(e) => {
                    cannot_read = true;
                    let line = e
                        .strip_prefix("line ")
                        .and_then(|r| r.split(':').next())
                        .and_then(|n| n.parse().ok());
                    out.push(
                        ctx.finding(&file.display, Status::Error)
                            .message(format!("cannot read {}: {e}", file.display))
                            .location(&file.display, line, None)
                            .build(),
                    );
                }
            }
        }
    }
    if containers == 0 && !cannot_read {
        out.push(
            ctx.finding(patterns.join(", "), Status::Error)
                .message("the manifests hold no workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob), so there are no containers to check")
                .remediation("point `manifests` at the rendered workload manifests (e.g. `helm template` or `kustomize build` output)")
                .build(),
        );
    }
    out
}

fn container(ctx: &Context, file: &str, c: &Container) -> Vec<Finding> {
    let what = format!(
        "{}container `{}` of {}/{}",
        if c.init { "init " } else { "" },
        c.name,
        c.kind,
        c.workload
    );
    let base = |status: Status| {
        ctx.finding(c.subject(), status)
            .location(file, c.line, None)
            .evidence("file", file)
            .evidence("kind", &c.kind)
            .evidence("workload", &c.workload)
            .evidence("container", &c.name)
    };
    let mut out = Vec::new();
    for (rule, key, value) in [
        ("cpu-limit", "cpu", &c.cpu_limit),
        ("memory-limit", "memory", &c.memory_limit),
    ] {
        if value.is_none() {
            out.push(
                base(Status::Fail)
                    .rule(rule)
                    .message(format!("{what} declares no resources.limits.{key}"))
                    .remediation(format!(
                        "add `resources: {{ limits: {{ {key}: … }} }}` to the container; without it one pod can starve its node"
                    ))
                    .build(),
            );
        }
    }
    if out.is_empty() {
        out.push(
            base(Status::Pass)
                .message(format!(
                    "{what} limits cpu {} and memory {}",
                    shown("cpu", c.cpu_limit.as_deref().unwrap_or_default()),
                    shown("memory", c.memory_limit.as_deref().unwrap_or_default())
                ))
                .build(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            check: ID.to_string(),
            cwd: "/work".to_string(),
        }
    }

    fn params(json: serde_json::Value) -> Params {
        serde_json::from_value(json).expect("params")
    }

    const LIMITS: HostLimits = HostLimits {
        open_files_soft: 1024,
        open_files_hard: 524_288,
        memory_total_bytes: 8 << 30,
        memory_available_bytes: 3 << 30,
        cpus: 2,
    };

    #[test]
    fn host_limits_pass_and_fail() {
        let p = params(
            serde_json::json!({"min_open_files": 1024, "min_memory_mb": 2048, "min_cpus": 2}),
        );
        let out = evaluate_host(&ctx(), &p, Ok(LIMITS));
        let got: Vec<_> = out.iter().map(|f| (f.subject.as_str(), f.status)).collect();
        assert_eq!(
            got,
            [
                ("open-files", Status::Pass),
                ("memory", Status::Pass),
                ("cpus", Status::Pass)
            ]
        );

        let p = params(
            serde_json::json!({"min_open_files": 65536, "min_memory_mb": 4096, "min_cpus": 4}),
        );
        let out = evaluate_host(&ctx(), &p, Ok(LIMITS));
        assert!(out.iter().all(|f| f.status == Status::Fail));
        assert!(
            out[0]
                .remediation
                .as_ref()
                .unwrap()
                .contains("ulimit -n 65536")
        );
        assert!(
            out[1]
                .message
                .contains("3.0 GiB is below min_memory_mb 4096 MiB"),
            "{}",
            out[1].message
        );
        assert!(
            out[2]
                .message
                .contains("2 CPUs available, below min_cpus 4")
        );

        let out = evaluate_host(&ctx(), &p, Err("no /proc/meminfo".into()));
        assert_eq!((out.len(), out[0].status), (1, Status::Error));
    }

    fn files(
        map: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Result<Vec<ManifestFile>, String> {
        move |pattern: &str| {
            if pattern.starts_with("/denied") {
                return Err("not granted".into());
            }
            Ok(map
                .iter()
                .filter(|(name, _)| name.starts_with(pattern.trim_end_matches('*')))
                .map(|(name, text)| ManifestFile {
                    display: name.to_string(),
                    text: Ok(text.to_string()),
                })
                .collect())
        }
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        resources:\n          limits: {cpu: 1, memory: 1Gi}\n      - name: sidecar\n        resources:\n          limits: {memory: 64Mi}\n";
    const JOB: &str = "kind: Job\nmetadata: {name: once}\nspec:\n  template:\n    spec:\n      initContainers:\n      - name: wait\n      containers:\n      - name: run\n        resources: {limits: {cpu: 100m, memory: 32Mi}}\n";

    #[test]
    fn containers_without_limits_fail_per_limit_with_lines() {
        let out = evaluate_manifests(
            &ctx(),
            &["k8s/*".to_string()],
            files(&[("k8s/deploy.yaml", DEPLOY), ("k8s/job.yaml", JOB)]),
        );
        let got: Vec<_> = out
            .iter()
            .map(|f| {
                (
                    f.subject.as_str(),
                    f.rule.as_deref(),
                    f.status,
                    f.location.as_ref().and_then(|l| l.line),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("Deployment/web/app", None, Status::Pass, Some(9)),
                (
                    "Deployment/web/sidecar",
                    Some("cpu-limit"),
                    Status::Fail,
                    Some(12)
                ),
                ("Job/once/wait", Some("cpu-limit"), Status::Fail, Some(7)),
                ("Job/once/wait", Some("memory-limit"), Status::Fail, Some(7)),
                ("Job/once/run", None, Status::Pass, Some(9)),
            ]
        );
        assert_eq!(out[1].location.as_ref().unwrap().file, "k8s/deploy.yaml");
        assert!(
            out[2]
                .message
                .contains("init container `wait` of Job/once declares no resources.limits.cpu")
        );
    }

    #[test]
    fn unreadable_and_empty_manifests_are_errors() {
        let out = evaluate_manifests(
            &ctx(),
            &["/denied/x.yaml".to_string(), "none/*".to_string()],
            files(&[]),
        );
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|f| f.status == Status::Error));
        let out = evaluate_manifests(
            &ctx(),
            &["svc.yaml".to_string()],
            files(&[("svc.yaml", "kind: Service\nmetadata: {name: x}\n")]),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("no workload"));
        let out = evaluate_manifests(
            &ctx(),
            &["bad.yaml".to_string()],
            files(&[("bad.yaml", "kind: Pod\n---\nspec: [\n")]),
        );
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].location.as_ref().unwrap().line.is_some());
    }

    #[test]
    fn bad_params() {
        let out = ResourceLimits.run(&ctx(), &serde_json::json!({}));
        assert_eq!(out[0].status, Status::Error);
        assert!(out[0].message.contains("set at least one"));
        let out = ResourceLimits.run(&ctx(), &serde_json::json!({"min_cpus": 0, "manifests": []}));
        assert!(out[0].message.contains("more than 0"));
        assert!(out[0].message.contains("at least one file"));
    }
}
