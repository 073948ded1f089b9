//! Runs a plugin's cases and the rules every plugin keeps, each run in its
//! own stubbed sandbox: a fresh fixture directory as working directory and
//! only `fs` grant, the case's stubs for `env`, `http`, `net` and `sql`, and
//! nothing real reachable.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use gate_core::clock::Clock;
use gate_sandbox::capabilities::{Sandbox, Stubs};
use gate_sandbox::grants::FsGrant;
use gate_sandbox::plugin::{
    CheckMeta, LoadedPlugin, NO_FINDINGS, PluginSource, Runtime, catalogue_problems,
};
use serde_json::Value;

use super::expect::{Seen, compare};
use super::file::Case;
use super::report::{CaseResult, Outcome, RuleResult, TestReport};
use super::rules::{self, Probe, Rule, RunOutcome};
use crate::error::DevkitError;

/// The component under test.
pub struct Component<'a> {
    /// The plugin's name: its check ids start with `name.`.
    pub name: &'a str,
    pub path: &'a Path,
}

/// Loads the component and runs `cases`, then the rules, one after the
/// other. Errors only when the component cannot be loaded or a fixture
/// cannot be written; everything a plugin does wrong is in the report.
pub async fn run(
    runtime: &Runtime,
    component: Component<'_>,
    cases: &[Case],
    clock: Clock,
) -> Result<TestReport, DevkitError> {
    let started = Instant::now();
    let started_at = clock.now();
    let wasm = std::fs::read(component.path).map_err(|source| DevkitError::Io {
        path: component.path.to_path_buf(),
        source,
    })?;
    let sha256 = sha256_hex(&wasm);
    let source = PluginSource {
        name: component.name.to_string(),
        wasm: wasm.into(),
        sha256: sha256.clone(),
        path: Some(component.path.to_path_buf()),
        builtin: None,
    };
    let empty = scratch()?;
    let sandbox = Sandbox::stubbed(
        component.name,
        empty.path(),
        Vec::new(),
        clock,
        Stubs::default(),
    );
    let plugin = runtime
        .load(&source, Arc::new(sandbox))
        .await
        .map_err(|e| DevkitError::Other(e.to_string()))?;
    let runner = Runner {
        runtime,
        plugin: &plugin,
        clock,
    };
    let mut case_results = Vec::new();
    for case in cases {
        case_results.push(runner.case(case).await?);
    }
    let mut rule_results = vec![RuleResult::judged(
        Rule::Catalogue,
        None,
        "describe()".into(),
        catalogue_problems(component.name, &plugin.meta),
        0,
    )];
    for check in &plugin.meta.checks {
        rule_results.extend(runner.rules(check, cases, &case_results).await?);
    }
    Ok(TestReport {
        plugin: component.name.to_string(),
        component: component.path.display().to_string(),
        sha256,
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        cases: case_results,
        rules: rule_results,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn scratch() -> Result<tempfile::TempDir, DevkitError> {
    tempfile::Builder::new()
        .prefix("gate-plugin-test-")
        .tempdir()
        .map_err(|source| DevkitError::Io {
            path: std::env::temp_dir(),
            source,
        })
}

struct Runner<'a> {
    runtime: &'a Runtime,
    plugin: &'a LoadedPlugin,
    clock: Clock,
}

impl Runner<'_> {
    /// Runs `check` with `params` in a fresh fixture holding `files`, with
    /// `stubs`; `grant_fixture: false` grants no `fs` at all.
    async fn run(
        &self,
        check: &str,
        params: &Value,
        files: &std::collections::BTreeMap<std::path::PathBuf, String>,
        stubs: Stubs,
        grant_fixture: bool,
    ) -> Result<(RunOutcome, u64), DevkitError> {
        let fixture = scratch()?;
        write_fixture(fixture.path(), files)?;
        let fs = if grant_fixture {
            vec![FsGrant {
                path: fixture.path().to_path_buf(),
                writable: false,
            }]
        } else {
            Vec::new()
        };
        let sandbox = Sandbox::stubbed(&self.plugin.name, fixture.path(), fs, self.clock, stubs);
        let plugin = self.plugin.with_sandbox(Arc::new(sandbox));
        let run = self.runtime.run_check(&plugin, check, params).await;
        let outcome = match run.outcome {
            Ok(findings) => RunOutcome::Findings(findings.iter().map(Seen::from).collect()),
            Err(reason) if reason == NO_FINDINGS => RunOutcome::Empty,
            Err(reason) => RunOutcome::Failed(reason),
        };
        Ok((outcome, run.duration.as_millis() as u64))
    }

    async fn case(&self, case: &Case) -> Result<CaseResult, DevkitError> {
        let mut result = CaseResult::new(case);
        if !self.plugin.meta.checks.iter().any(|c| c.id == case.check) {
            let declared: Vec<&str> = self
                .plugin
                .meta
                .checks
                .iter()
                .map(|c| c.id.as_str())
                .collect();
            result.error = Some(format!(
                "the plugin declares no check `{}` (it declares {})",
                case.check,
                declared.join(", ")
            ));
            result.outcome = Outcome::Fail;
            return Ok(result);
        }
        let (outcome, ms) = self
            .run(
                &case.check,
                &case.params,
                &case.files,
                case.stubs.clone(),
                true,
            )
            .await?;
        result.duration_ms = ms;
        match outcome {
            RunOutcome::Findings(seen) => {
                result.mismatches = compare(&case.expect, &seen);
                result.findings = seen;
            }
            RunOutcome::Empty => result.error = Some(NO_FINDINGS.to_string()),
            RunOutcome::Failed(reason) => result.error = Some(format!("the run failed: {reason}")),
        }
        if result.error.is_some() || !result.mismatches.is_empty() {
            result.outcome = Outcome::Fail;
        }
        Ok(result)
    }

    /// The rules for one check, starting from its first case (params,
    /// fixture and stubs), or from nothing when it has no case.
    async fn rules(
        &self,
        check: &CheckMeta,
        cases: &[Case],
        case_results: &[CaseResult],
    ) -> Result<Vec<RuleResult>, DevkitError> {
        let sample = cases.iter().find(|c| c.check == check.id);
        let sample_params =
            sample.map_or_else(|| Value::Object(Default::default()), |c| c.params.clone());
        let (probes, skipped) = rules::probes(check, &sample_params);
        let mut results = Vec::new();
        let mut empty_runs: Vec<String> = case_results
            .iter()
            .filter(|r| r.check == check.id && r.error.as_deref() == Some(NO_FINDINGS))
            .map(|r| format!("case `{}` returned no findings", r.name))
            .collect();
        for probe in probes {
            let (outcome, ms) = self.probe(check, &probe, sample).await?;
            if matches!(outcome, RunOutcome::Empty) {
                empty_runs.push(format!("{} returned no findings", probe.label));
            }
            results.push(RuleResult::judged(
                probe.rule,
                Some(check.id.clone()),
                probe.label,
                rules::judge(&outcome),
                ms,
            ));
        }
        for n in skipped {
            results.push(RuleResult::not_applicable(n.rule, &check.id, n.reason));
        }
        results.push(RuleResult::judged(
            Rule::NotEmpty,
            Some(check.id.clone()),
            "every run of its cases and rules".into(),
            empty_runs,
            0,
        ));
        Ok(results)
    }

    async fn probe(
        &self,
        check: &CheckMeta,
        probe: &Probe,
        sample: Option<&Case>,
    ) -> Result<(RunOutcome, u64), DevkitError> {
        let no_files = std::collections::BTreeMap::new();
        match (probe.denied, sample) {
            (false, Some(case)) => {
                self.run(
                    &check.id,
                    &probe.params,
                    &case.files,
                    case.stubs.clone(),
                    true,
                )
                .await
            }
            (false, None) => {
                self.run(&check.id, &probe.params, &no_files, Stubs::default(), true)
                    .await
            }
            (true, _) => {
                self.run(&check.id, &probe.params, &no_files, Stubs::default(), false)
                    .await
            }
        }
    }
}

/// Writes a case's files into the fresh directory `root`: every path has
/// only normal components (checked when the case file was read), every
/// directory and file is created new, never through a symlink.
fn write_fixture(
    root: &Path,
    files: &std::collections::BTreeMap<std::path::PathBuf, String>,
) -> Result<(), DevkitError> {
    use std::io::Write;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DevkitError::Io { path, source }
    };
    for (relative, contents) in files {
        let path = root.join(relative);
        let mut dir = root.to_path_buf();
        for part in relative.parent().into_iter().flat_map(Path::components) {
            dir.push(part);
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                // Created for an earlier file of the same case: a directory
                // (never a symlink, which nothing here creates).
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let md = std::fs::symlink_metadata(&dir).map_err(io(&dir))?;
                    if !md.is_dir() {
                        return Err(DevkitError::Other(format!(
                            "fixture {}: `{}` is both a file and a directory",
                            root.display(),
                            relative.display()
                        )));
                    }
                }
                Err(e) => return Err(io(&dir)(e)),
            }
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(contents.as_bytes()).map_err(io(&path))?;
    }
    Ok(())
}
