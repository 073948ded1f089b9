//! The CI examples in examples/ci, the GitHub Actions workflow and the GitLab
//! CI pipeline: each file is parsed and its structure checked (job order,
//! needs, the deploy job only on the default branch and after every stage,
//! reports and audit logs kept when a gate fails), then every `gate` command
//! of its `run:`/`script:` blocks is run with the real binary, job after job,
//! for a pull (merge) request and for a push to the default branch, each job
//! in its own clone of a fixture repository (the example policy, the rollout
//! specs, a sqlx migration history and a change adding migrations), with
//! artifacts passed between jobs as the CI passes them. CI variables get
//! test values; a `gate` command, variable or action the test cannot map
//! fails it, so the files and this test cannot drift apart. `gate rollout` is
//! run with `--check` only: a real rollout needs a router.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;
use yaml_serde::Value;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const GITHUB: &str = "examples/ci/github/gate.yml";
const GITLAB: &str = "examples/ci/gitlab/.gitlab-ci.yml";
const MIGRATIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/migrations/sqlx"
);
/// In the history of the fixture repository: its first migration has a
/// blocking finding, which a lint of the whole directory would report.
const HISTORY: &[&str] = &[
    "20240101000000_add_index.sql",
    "20240102000000_drop_column.sql",
];
const SAFE: &str = "20240103000000_concurrently.sql";
const BREAKING: &str = "20240104000000_rename.sql";

/// The run id a CI run gives `GATE_RUN_ID` here.
const RUN_ID: &str = "4242";

fn load(rel: &str) -> Value {
    let text =
        std::fs::read_to_string(Path::new(REPO).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A string or a list of strings (`needs: build`, `needs: [a, b]`).
fn names(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().map(|i| text(i).to_string()).collect(),
        _ => vec![],
    }
}

fn items(v: &Value) -> Vec<&Value> {
    v.as_sequence()
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

/// A mapping's string entries (an `env:` or `variables:` block).
fn string_map(v: &Value) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    if let Some(m) = v.as_mapping() {
        for (k, v) in m {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => panic!("{k:?}: not a scalar: {other:?}"),
            };
            map.insert(text(k).to_string(), value);
        }
    }
    map
}

/// The mapping's keys in file order.
fn keys(v: &Value) -> Vec<String> {
    v.as_mapping()
        .map(|m| m.keys().map(|k| text(k).to_string()).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- shell ---

/// The command lines of a `run:`/`script:` block: `\` continuations joined,
/// blank lines and comments dropped.
fn shell_lines(block: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in block.lines() {
        let line = raw.trim();
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let done = std::mem::take(&mut current);
        let done = done.trim();
        if !done.is_empty() && !done.starts_with('#') {
            lines.push(done.to_string());
        }
    }
    assert!(
        current.is_empty(),
        "a block ends in a continuation: {block}"
    );
    lines
}

/// Whether `line` runs gate some other way than as its first word (through a
/// path, after `if`, in a pipeline…), which this test could not map.
fn hides_gate(line: &str) -> bool {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)))
        .skip(1)
        .chain(line.split_whitespace().next().filter(|w| *w != "gate"))
        .any(|w| w == "gate" || w.ends_with("/gate"))
}

/// The words of a shell command line, with variables expanded by `var`.
/// Quotes and backslashes are honoured (an expansion is one word, quoted or
/// not: the files quote theirs); anything beyond a simple command
/// (pipes, redirections, `;`, `&&`, command substitution) is refused.
fn words(line: &str, var: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    let (mut single, mut double) = (false, false);
    while let Some(c) = chars.next() {
        if c.is_whitespace() && !single && !double {
            out.extend(word.take());
            continue;
        }
        // A word starts at its first character, quote or not: "" is a word.
        let w = word.get_or_insert_with(String::new);
        match c {
            '\'' if !double => single = !single,
            _ if single => w.push(c),
            '"' => double = !double,
            '\\' => w.push(chars.next().expect("a character after \\")),
            '$' => {
                let braced = chars.peek() == Some(&'{');
                if braced {
                    chars.next();
                }
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if !(n.is_ascii_alphanumeric() || n == '_') {
                        break;
                    }
                    name.push(n);
                    chars.next();
                }
                if braced {
                    assert_eq!(
                        chars.next(),
                        Some('}'),
                        "`{line}`: only ${{NAME}} is mapped"
                    );
                }
                assert!(!name.is_empty(), "`{line}`: a `$` this test cannot map");
                w.push_str(&var(&name));
            }
            c if !double && "|&;<>()`".contains(c) => {
                panic!(
                    "`{line}`: `{c}` makes it more than one gate command; this test cannot map it"
                )
            }
            '`' => panic!("`{line}`: command substitution; this test cannot map it"),
            c => w.push(c),
        }
    }
    assert!(!single && !double, "`{line}`: unbalanced quotes");
    out.extend(word);
    out
}

// ------------------------------------------------------------ variables ---

/// Variables as a CI job sees them: the file's own (innermost scope first),
/// then the values the CI provides, which the test chooses.
struct Vars {
    scopes: Vec<BTreeMap<String, String>>,
    provided: BTreeMap<String, String>,
    /// GitHub `${{ … }}` expressions and their values.
    exprs: BTreeMap<String, String>,
}

impl Vars {
    fn get(&self, name: &str) -> String {
        if let Some(raw) = self.scopes.iter().find_map(|s| s.get(name)) {
            return self.expand(raw);
        }
        self.provided.get(name).cloned().unwrap_or_else(|| {
            panic!("`${name}` is neither set in the file nor a CI variable this test maps")
        })
    }

    /// `raw` with `${{ expr }}` and `$NAME` replaced (GitLab expands
    /// variables inside variables).
    fn expand(&self, raw: &str) -> String {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            if let Some(expr) = rest.strip_prefix("{{") {
                let end = expr.find("}}").expect("a closing }}");
                let key = expr[..end].trim();
                out.push_str(self.exprs.get(key).unwrap_or_else(|| {
                    panic!("the expression `${{{{ {key} }}}}` has no test value")
                }));
                rest = &expr[end + 2..];
                continue;
            }
            let braced = rest.starts_with('{');
            let body = if braced { &rest[1..] } else { rest };
            let len = body
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(body.len());
            out.push_str(&self.get(&body[..len]));
            rest = &body[len + usize::from(braced)..];
        }
        out.push_str(rest);
        out
    }

    /// Every variable of the file in scope, expanded: the job's environment.
    fn env(&self) -> Vec<(String, String)> {
        let names: BTreeSet<&String> = self.scopes.iter().flat_map(|s| s.keys()).collect();
        names
            .into_iter()
            .map(|n| (n.clone(), self.get(n)))
            .collect()
    }
}

// -------------------------------------------------------------- pipeline ---

/// What started the pipeline.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Event {
    /// A pull request (GitHub) or merge request (GitLab).
    Change,
    /// The change merged: a push to the default branch.
    Push,
}

/// What a run of the pipeline starts from and what it expects.
struct Scenario {
    name: &'static str,
    event: Event,
    /// Migrations the change adds to the history.
    adds: &'static [&'static str],
    /// The exit of `gate migrate lint` over them.
    lint_exit: i32,
}

impl Scenario {
    /// Whether the deploy job runs: on the default branch, every gate passed.
    fn deploys(&self) -> bool {
        self.event == Event::Push && self.lint_exit == 0
    }
}

const CLEAN_CHANGE: Scenario = Scenario {
    name: "a change adding a safe migration",
    event: Event::Change,
    adds: &[SAFE],
    lint_exit: 0,
};

const BREAKING_CHANGE: Scenario = Scenario {
    name: "a change adding a breaking migration",
    event: Event::Change,
    adds: &[SAFE, BREAKING],
    lint_exit: 1,
};

const CLEAN_PUSH: Scenario = Scenario {
    name: "the safe change pushed to the default branch",
    event: Event::Push,
    adds: &[SAFE],
    lint_exit: 0,
};

/// A commit id GitLab gives `CI_COMMIT_BEFORE_SHA` in merge request pipelines.
const NO_COMMIT: &str = "0000000000000000000000000000000000000000";

/// A run of one CI file: a fixture repository to clone, the artifacts the
/// jobs stored, what ran and how each job ended.
struct Run {
    file: &'static str,
    scenario: &'static Scenario,
    ws: Workspace,
    origin: PathBuf,
    base: String,
    vkey: String,
    /// Kinds of gate commands run (`evaluate`, `migrate lint`, …).
    ran: Vec<String>,
    /// Each job run, and whether it succeeded.
    jobs: BTreeMap<String, bool>,
    /// Report files checked, by job.
    reports: BTreeMap<String, Vec<PathBuf>>,
}

impl Run {
    fn new(file: &'static str, scenario: &'static Scenario) -> Self {
        // The example policy checks free space in the job's checkout.
        let ws = Workspace::roomy();
        let origin = ws.path().join("origin");
        copy_dir(&Path::new(REPO).join("policies"), &origin.join("policies"));
        copy_dir(
            &Path::new(REPO).join("examples/rollouts"),
            &origin.join("examples/rollouts"),
        );
        std::fs::write(origin.join(".gitignore"), ".gate/\n").unwrap();
        let migrations = origin.join("migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        let add = |names: &[&str]| {
            for name in names {
                std::fs::copy(Path::new(MIGRATIONS).join(name), migrations.join(name)).unwrap();
            }
        };
        add(HISTORY);
        git(&origin, &["init", "-q", "-b", "main"]);
        git(&origin, &["add", "-A"]);
        git(&origin, &["commit", "-q", "-m", "history"]);
        let base = git(&origin, &["rev-parse", "HEAD"]).trim().to_string();
        git(&origin, &["checkout", "-q", "-b", "change"]);
        add(scenario.adds);
        git(&origin, &["add", "-A"]);
        git(&origin, &["commit", "-q", "-m", "change"]);
        let key = ws.gate(&["audit", "key"]);
        assert_eq!(code(&key), 0, "{}", stderr(&key));
        let vkey = stdout(&key).trim().to_string();
        Run {
            file,
            scenario,
            ws,
            origin,
            base,
            vkey,
            ran: vec![],
            jobs: BTreeMap::new(),
            reports: BTreeMap::new(),
        }
    }

    fn job_dir(&self, job: &str) -> PathBuf {
        self.ws.path().join("jobs").join(job)
    }

    fn artifact_dir(&self, name: &str) -> PathBuf {
        self.ws.path().join("artifacts").join(name)
    }

    /// The job's checkout: a clone of the change, of `depth` commits (all
    /// of them and every branch when `None`).
    fn checkout(&self, job: &str, depth: Option<u32>) -> PathBuf {
        let dir = self.job_dir(job);
        let origin = format!("file://{}", self.origin.display());
        let mut args = vec!["clone", "-q", "--branch", "change"];
        let depth = depth.map(|d| d.to_string());
        if let Some(d) = &depth {
            args.extend(["--depth", d]);
        } else {
            args.push("--no-local");
        }
        args.extend([origin.as_str(), dir.to_str().unwrap()]);
        git(self.ws.path(), &args);
        dir
    }

    /// Runs the `gate` lines of `block`, in order, until one fails as a
    /// shell with `-e` would; returns whether all succeeded.
    fn run_block(&mut self, job: &str, dir: &Path, block: &str, vars: &Vars, ci: &str) -> bool {
        for line in shell_lines(block) {
            assert!(
                !hides_gate(&line),
                "{}: job {job}: `{line}` runs gate in a way this test cannot map",
                self.file
            );
            if !line.starts_with("gate ") {
                continue;
            }
            let mut args = words(&line, &|name| vars.get(name));
            args.remove(0);
            let kind = command_kind(&args);
            if kind == "rollout" {
                // The real rollout moves traffic through a router; here it
                // is validated with --check, which parses the same flags.
                args.insert(1, "--check".into());
            }
            let expected = self.expected_exit(&kind, &line);
            let mut env = vars.env();
            env.extend([("CI".into(), "true".into()), (ci.into(), "true".into())]);
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (&**k, &**v)).collect();
            let args: Vec<&str> = args.iter().map(|a| &**a).collect();
            let out = self.ws.gate_in(dir, &args, &env);
            assert_eq!(
                code(&out),
                expected,
                "{}: job {job}: `{line}` ({}):\n{}{}",
                self.file,
                self.scenario.name,
                stdout(&out),
                stderr(&out)
            );
            self.ran.push(kind);
            if expected != 0 {
                return false;
            }
        }
        true
    }

    fn expected_exit(&self, kind: &str, line: &str) -> i32 {
        match kind {
            // The example policy's blocking gate passes.
            "evaluate" => 0,
            "migrate lint" => self.scenario.lint_exit,
            "audit verify" | "rollout --check" | "rollout" => 0,
            _ => panic!(
                "{}: `{line}`: this test has no expectation for `gate {kind}`; add one",
                self.file
            ),
        }
    }

    /// Copies `from` into the directory `to`: a directory's contents, or a
    /// file.
    fn store(&self, from: &Path, to: &Path) {
        assert!(
            from.exists(),
            "{}: artifact path {} does not exist",
            self.file,
            from.display()
        );
        if from.is_dir() {
            copy_dir(from, to);
        } else {
            std::fs::create_dir_all(to).unwrap();
            std::fs::copy(from, to.join(from.file_name().unwrap())).unwrap();
        }
    }

    /// Checks report `file` with `valid` and keeps it for [`Run::assert_outcome`].
    fn report(&mut self, job: &str, file: PathBuf, valid: fn(&Path)) {
        valid(&file);
        self.reports.entry(job.into()).or_default().push(file);
    }

    /// After the audit job: the logs it verified hold the pipeline's run id.
    fn audit_job_done(&self, job: &str, ok: bool, dir: &Path) {
        if job == "audit" && ok {
            for log in ["preflight", "migrations"] {
                self.assert_run_ids(dir, &format!(".gate/audit/{log}"), RUN_ID);
            }
        }
    }

    /// Restores artifact `name` into `to`, with the modes an artifact
    /// download gives (0755 directories, 0644 files), not the ones gate made.
    fn restore(&self, name: &str, to: &Path) {
        let from = self.artifact_dir(name);
        assert!(from.exists(), "{}: no artifact {name}", self.file);
        copy_dir(&from, to);
        reset_modes(to);
    }

    /// Every entry of the audit log `dir` carries the pipeline's run id.
    fn assert_run_ids(&self, dir: &Path, log: &str, run_id: &str) {
        let out = self.ws.gate_in(
            dir,
            &["audit", "show", "--audit", log, "--format", "json"],
            &[],
        );
        assert_eq!(code(&out), 0, "{log}: {}", stderr(&out));
        let entries = json(&out);
        let entries = entries.as_array().expect("entries");
        assert!(!entries.is_empty(), "{}: {log} is empty", self.file);
        for entry in entries {
            assert_eq!(entry["run_id"], run_id, "{}: {log}: {entry}", self.file);
        }
    }

    /// After the run: every stage ran, and the reports say what the scenario
    /// expects.
    fn assert_outcome(&self) {
        let kinds: BTreeSet<&str> = self.ran.iter().map(|k| &**k).collect();
        let mut expected = BTreeSet::from(["evaluate", "migrate lint", "audit verify"]);
        if self.scenario.deploys() {
            expected.extend(["rollout --check", "rollout"]);
        }
        assert_eq!(kinds, expected, "{}: {}", self.file, self.scenario.name);
        let deployed = self.jobs.get("deploy").copied();
        assert_eq!(
            deployed,
            self.scenario.deploys().then_some(true),
            "{}: deploy job for {}",
            self.file,
            self.scenario.name
        );
        let migrations_ok = self.scenario.lint_exit == 0;
        assert_eq!(
            self.jobs.get("migrations"),
            Some(&migrations_ok),
            "{}",
            self.file
        );
        // The audit job verified the failed stage's log too.
        assert_eq!(self.jobs.get("audit"), Some(&true), "{}: audit", self.file);
        let reports = self.reports.get("migrations").expect("a migrations report");
        for report in reports {
            let body = std::fs::read_to_string(report).unwrap();
            for name in self.scenario.adds {
                assert!(body.contains(name), "{}: {name}", report.display());
            }
            assert!(
                !body.contains(HISTORY[0]),
                "{}: the history was linted again",
                report.display()
            );
            let breaking = body.contains("rename-column");
            assert_eq!(
                breaking,
                self.scenario.lint_exit == 1,
                "{}",
                report.display()
            );
        }
    }
}

/// `evaluate`, `migrate lint`, `audit verify`, `rollout --check`, `rollout`.
fn command_kind(args: &[String]) -> String {
    let sub = args.first().map(String::as_str).unwrap_or("");
    match sub {
        "migrate" | "audit" | "policy" | "exemption" | "checks" => {
            format!("{sub} {}", args.get(1).map(String::as_str).unwrap_or(""))
        }
        "rollout" if args.iter().any(|a| a == "--check") => "rollout --check".into(),
        _ => sub.to_string(),
    }
}

fn reset_modes(path: &Path) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let mode = if meta.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            reset_modes(&entry.unwrap().path());
        }
    }
}

fn assert_sarif(path: &Path) {
    let body = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let sarif: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(sarif["version"], "2.1.0", "{}", path.display());
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["name"], "gate");
    assert!(sarif["runs"][0]["results"].is_array(), "{}", path.display());
}

fn assert_junit(path: &Path) {
    let body = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(body.starts_with("<?xml"), "{}: {body}", path.display());
    assert!(body.contains("<testsuites ") && body.contains("<testcase "));
    assert!(
        body.trim_end().ends_with("</testsuites>"),
        "{}",
        path.display()
    );
}

/// A job condition that runs it after a failed job it needs.
fn runs_after_failure(condition: &str) -> bool {
    condition.contains("always()") || condition.contains("!cancelled()")
}

// ---------------------------------------------------------------- GitHub ---

fn github_vars(run: &Run, workflow: &Value, job: &Value, step: &Value) -> Vars {
    Vars {
        scopes: vec![
            string_map(&step["env"]),
            string_map(&job["env"]),
            string_map(&workflow["env"]),
        ],
        provided: BTreeMap::new(),
        exprs: BTreeMap::from([
            ("github.run_id".into(), RUN_ID.into()),
            ("vars.GATE_AUDIT_VKEY".into(), run.vkey.clone()),
            // The migrations' base: origin/<base branch> on a pull request,
            // the commit before the push on main.
            (
                "github.event_name == 'pull_request' && format('origin/{0}', github.base_ref) || github.event.before"
                    .into(),
                match run.scenario.event {
                    Event::Change => "origin/main".into(),
                    Event::Push => run.base.clone(),
                },
            ),
        ]),
    }
}

/// The event part of a job's `if:` in the workflow (whether a job runs
/// after a failure is [`runs_after_failure`]'s part).
fn github_condition(condition: &str, event: Event) -> bool {
    match condition {
        "" | "${{ !cancelled() && needs.build.result == 'success' }}" => true,
        "github.event_name == 'push' && github.ref == 'refs/heads/main'" => event == Event::Push,
        other => panic!("{GITHUB}: the job condition `{other}` has no meaning in this test"),
    }
}

fn run_github(scenario: &'static Scenario) -> Run {
    let workflow = load(GITHUB);
    let mut run = Run::new(GITHUB, scenario);
    for name in keys(&workflow["jobs"]) {
        let job = &workflow["jobs"][name.as_str()];
        if name == "build" {
            continue; // builds gate from source: checked by github_workflow_structure
        }
        let needs = names(&job["needs"]);
        let needs_ok = needs
            .iter()
            .all(|n| n == "build" || run.jobs.get(n) == Some(&true));
        let condition = text(&job["if"]);
        if !github_condition(condition, scenario.event)
            || !needs_ok && !runs_after_failure(condition)
        {
            continue;
        }
        let ok = run_github_job(&mut run, &workflow, &name, job);
        run.jobs.insert(name, ok);
    }
    run
}

/// Runs the steps of one job as the runner would: after a failed step only
/// those whose `if:` runs them anyway.
fn run_github_job(run: &mut Run, workflow: &Value, name: &str, job: &Value) -> bool {
    let mut dir = run.job_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut ok = true;
    for step in items(&job["steps"]) {
        let condition = text(&step["if"]);
        if !ok && !runs_after_failure(condition) {
            continue;
        }
        let with = &step["with"];
        let action = text(&step["uses"]);
        let action = action.split('@').next().unwrap();
        match action {
            "" => {
                let vars = github_vars(run, workflow, job, step);
                let block = text(&step["run"]).to_string();
                ok &= run.run_block(name, &dir, &block, &vars, "GITHUB_ACTIONS");
            }
            "actions/checkout" => {
                std::fs::remove_dir(&dir).unwrap();
                let full = with["fetch-depth"].as_u64() == Some(0);
                dir = run.checkout(name, if full { None } else { Some(1) });
            }
            // The gate binary the build job cached: the test runs its own.
            "actions/cache/restore" => assert_eq!(text(&with["path"]), "gate-bin"),
            "github/codeql-action/upload-sarif" => {
                assert!(condition.starts_with("always()"), "{name}: {condition}");
                run.report(name, dir.join(text(&with["sarif_file"])), assert_sarif);
            }
            "actions/upload-artifact" => {
                let path = text(&with["path"]);
                if path.starts_with('.') {
                    assert_eq!(with["include-hidden-files"], Value::Bool(true), "{name}");
                }
                run.store(&dir.join(path), &run.artifact_dir(text(&with["name"])));
            }
            "actions/download-artifact" => {
                let pattern = text(&with["pattern"]);
                let prefix = pattern.strip_suffix('*').expect("a `prefix*` pattern");
                assert_eq!(with["merge-multiple"], Value::Bool(true), "{name}");
                let to = dir.join(text(&with["path"]));
                let stored = std::fs::read_dir(run.ws.path().join("artifacts")).unwrap();
                for artifact in stored {
                    let artifact = artifact.unwrap().file_name().into_string().unwrap();
                    if artifact.starts_with(prefix) {
                        run.restore(&artifact, &to);
                    }
                }
            }
            other => panic!("{GITHUB}: job {name}: this test does not know the action {other}"),
        }
    }
    run.audit_job_done(name, ok, &dir);
    ok
}

#[test]
fn github_workflow_structure() {
    let w = load(GITHUB);
    let jobs = &w["jobs"];
    assert_eq!(
        keys(jobs),
        ["build", "preflight", "migrations", "audit", "deploy"]
    );
    assert_eq!(w["env"]["GATE_RUN_ID"], "${{ github.run_id }}");
    let on = keys(&w["on"]);
    assert_eq!(on, ["pull_request", "push"]);
    assert_eq!(names(&w["on"]["push"]["branches"]), ["main"]);

    let build = text(&items(&jobs["build"]["steps"]).last().unwrap()["run"]).to_string();
    assert!(build.contains("cargo build --release"), "{build}");
    for stage in ["preflight", "migrations"] {
        assert_eq!(names(&jobs[stage]["needs"]), ["build"], "{stage}");
        assert_eq!(jobs[stage]["permissions"]["security-events"], "write");
        // The signing key is set up before gate records anything.
        let steps = items(&jobs[stage]["steps"]);
        let key = steps
            .iter()
            .position(|s| text(&s["run"]).contains("GATE_AUDIT_KEY="))
            .expect("a step setting GATE_AUDIT_KEY");
        let gate = steps
            .iter()
            .position(|s| text(&s["run"]).trim_start().starts_with("gate "))
            .expect("a gate step");
        assert!(key < gate, "{stage}");
        assert!(
            steps.iter().any(|s| text(&s["uses"])
                .starts_with("github/codeql-action/upload-sarif@")
                && text(&s["if"]).starts_with("always()")),
            "{stage}: SARIF uploaded even when the gate fails"
        );
        assert!(
            steps
                .iter()
                .any(|s| text(&s["uses"]).starts_with("actions/upload-artifact@")
                    && text(&s["if"]) == "always()"),
            "{stage}: audit log kept even when the gate fails"
        );
    }
    let audit = &jobs["audit"];
    let mut needs = names(&audit["needs"]);
    needs.sort();
    assert_eq!(needs, ["build", "migrations", "preflight"]);
    assert!(runs_after_failure(text(&audit["if"])));

    let deploy = &jobs["deploy"];
    let mut needs = names(&deploy["needs"]);
    needs.sort();
    assert_eq!(needs, ["audit", "build", "migrations", "preflight"]);
    let condition = text(&deploy["if"]);
    assert!(
        condition.contains("github.ref == 'refs/heads/main'")
            && condition.contains("github.event_name == 'push'")
            && !runs_after_failure(condition),
        "deploy runs on pushes to main only, after every stage passed: {condition}"
    );
    assert_eq!(deploy["environment"], "production");
    assert_eq!(
        deploy["concurrency"]["cancel-in-progress"],
        Value::Bool(false)
    );
}

#[test]
fn github_workflow_commands_run_for_a_clean_change() {
    let run = run_github(&CLEAN_CHANGE);
    run.assert_outcome();
}

#[test]
fn github_workflow_commands_run_and_deploy_on_main() {
    let run = run_github(&CLEAN_PUSH);
    run.assert_outcome();
}

#[test]
fn github_workflow_commands_run_for_a_breaking_change() {
    let run = run_github(&BREAKING_CHANGE);
    run.assert_outcome();
}

// ---------------------------------------------------------------- GitLab ---

/// Whether a rule's `if:` holds for `event`.
fn gitlab_if(condition: &str, event: Event) -> bool {
    match condition {
        "" => true,
        "$CI_PIPELINE_SOURCE == \"merge_request_event\"" => event == Event::Change,
        "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" => event == Event::Push,
        other => panic!("{GITLAB}: the rule `{other}` has no meaning in this test"),
    }
}

/// Whether the job is in the pipeline for `event`, and the rule that put it
/// there (`None` for a job without rules).
fn gitlab_rule(job: &Value, event: Event) -> Option<Option<&Value>> {
    let rules = items(&job["rules"]);
    if rules.is_empty() {
        return Some(None);
    }
    rules
        .into_iter()
        .find(|r| gitlab_if(text(&r["if"]), event))
        .map(Some)
}

fn gitlab_vars(run: &Run, file: &Value, job: &Value, dir: &Path) -> Vars {
    let rule = gitlab_rule(job, run.scenario.event)
        .flatten()
        .map(|r| string_map(&r["variables"]));
    // Each pipeline has the variables of its kind.
    let before = match run.scenario.event {
        Event::Change => ("CI_MERGE_REQUEST_DIFF_BASE_SHA", run.base.clone()),
        Event::Push => ("CI_COMMIT_BEFORE_SHA", run.base.clone()),
    };
    Vars {
        scopes: vec![
            string_map(&job["variables"]),
            rule.unwrap_or_default(),
            string_map(&file["variables"]),
        ],
        provided: BTreeMap::from([
            ("CI_PIPELINE_ID".into(), RUN_ID.into()),
            ("CI_PROJECT_DIR".into(), dir.display().to_string()),
            (before.0.into(), before.1),
            ("GATE_AUDIT_VKEY".into(), run.vkey.clone()),
        ])
        .into_iter()
        .chain(
            (run.scenario.event == Event::Change)
                .then(|| ("CI_COMMIT_BEFORE_SHA".into(), NO_COMMIT.into())),
        )
        .collect(),
        exprs: BTreeMap::new(),
    }
}

/// A `script:`/`before_script:` entry list as one block of lines.
fn script(v: &Value) -> String {
    items(v).iter().map(|l| format!("{}\n", text(l))).collect()
}

fn run_gitlab(scenario: &'static Scenario) -> Run {
    let file = load(GITLAB);
    let mut run = Run::new(GITLAB, scenario);
    let stages = names(&file["stages"]);
    for stage in &stages {
        for name in keys(&file) {
            let job = &file[name.as_str()];
            if name == "build" || name.starts_with('.') || text(&job["stage"]) != stage {
                continue;
            }
            let needs = names(&job["needs"]);
            let needs_ok = needs
                .iter()
                .all(|n| n == "build" || run.jobs.get(n) == Some(&true));
            // A job no rule matches is not in this pipeline; a manual one
            // is started, as the person deploying would.
            let Some(rule) = gitlab_rule(job, scenario.event) else {
                continue;
            };
            let always = rule.is_some_and(|r| text(&r["when"]) == "always");
            if !needs_ok && !always {
                continue;
            }
            let ok = run_gitlab_job(&mut run, &file, &name, job);
            run.jobs.insert(name, ok);
        }
    }
    run
}

fn run_gitlab_job(run: &mut Run, file: &Value, name: &str, job: &Value) -> bool {
    let depth = string_map(&job["variables"]).get("GIT_DEPTH").cloned();
    // GitLab's default clone depth is 20; "0" clones everything.
    let depth = match depth.as_deref() {
        Some("0") => None,
        Some(d) => Some(d.parse().unwrap()),
        None => Some(20),
    };
    let dir = run.checkout(name, depth);
    for need in names(&job["needs"]).iter().filter(|n| *n != "build") {
        if run.artifact_dir(need).exists() {
            run.restore(need, &dir);
        }
    }
    let vars = gitlab_vars(run, file, job, &dir);
    let template = &file[text(&job["extends"])];
    for before in [&template["before_script"], &job["before_script"]] {
        assert!(run.run_block(name, &dir, &script(before), &vars, "GITLAB_CI"));
    }
    let ok = run.run_block(name, &dir, &script(&job["script"]), &vars, "GITLAB_CI");
    let artifacts = &job["artifacts"];
    if ok || text(&artifacts["when"]) == "always" {
        for path in names(&artifacts["paths"]) {
            // GitLab keeps each path where it was in the job's directory.
            let from = dir.join(&path);
            let to = run.artifact_dir(name).join(&path);
            let to = if from.is_dir() {
                &to
            } else {
                to.parent().unwrap()
            };
            run.store(&from, to);
        }
        if let Some(junit) = artifacts["reports"]["junit"].as_str() {
            assert_eq!(
                artifacts["when"], "always",
                "{name}: reports kept on failure"
            );
            run.report(name, dir.join(junit), assert_junit);
        }
    }
    run.audit_job_done(name, ok, &dir);
    ok
}

#[test]
fn gitlab_pipeline_structure() {
    let f = load(GITLAB);
    assert_eq!(names(&f["stages"]), ["build", "gate", "audit", "deploy"]);
    assert_eq!(f["variables"]["GATE_RUN_ID"], "$CI_PIPELINE_ID");
    let workflow: Vec<&str> = items(&f["workflow"]["rules"])
        .iter()
        .map(|r| text(&r["if"]))
        .collect();
    assert_eq!(
        workflow,
        [
            "$CI_PIPELINE_SOURCE == \"merge_request_event\"",
            "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
        ]
    );
    assert!(script(&f["build"]["script"]).contains("cargo build --release"));
    let stage_of = |job: &str| text(&f[job]["stage"]).to_string();
    for (job, stage, needs) in [
        ("build", "build", &[][..]),
        ("preflight", "gate", &["build"][..]),
        ("migrations", "gate", &["build"][..]),
        ("audit", "audit", &["build", "preflight", "migrations"][..]),
        (
            "deploy",
            "deploy",
            &["build", "preflight", "migrations", "audit"][..],
        ),
    ] {
        assert_eq!(stage_of(job), stage, "{job}");
        assert_eq!(names(&f[job]["needs"]), needs, "{job}");
    }
    let mr = gitlab_rule(&f["migrations"], Event::Change)
        .flatten()
        .unwrap();
    assert_eq!(
        mr["variables"]["MIGRATIONS_BASE"],
        "$CI_MERGE_REQUEST_DIFF_BASE_SHA"
    );
    assert_eq!(f["migrations"]["variables"]["GIT_DEPTH"], "0");
    let audit = items(&f["audit"]["rules"]);
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0]["when"], "always",
        "the audit log is verified after a failure too"
    );

    let deploy = &f["deploy"];
    let rules = items(&deploy["rules"]);
    assert_eq!(rules.len(), 1, "deploy has one rule: the default branch");
    assert_eq!(rules[0]["if"], "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH");
    assert_eq!(rules[0]["when"], "manual");
    assert!(
        rules[0]["allow_failure"].is_null(),
        "a manual deploy blocks the pipeline"
    );
    assert_eq!(deploy["environment"]["name"], "production");
    assert_eq!(deploy["resource_group"], "production");
}

#[test]
fn gitlab_pipeline_commands_run_for_a_clean_change() {
    let run = run_gitlab(&CLEAN_CHANGE);
    run.assert_outcome();
}

#[test]
fn gitlab_pipeline_commands_run_and_deploy_on_the_default_branch() {
    let run = run_gitlab(&CLEAN_PUSH);
    run.assert_outcome();
}

#[test]
fn gitlab_pipeline_commands_run_for_a_breaking_change() {
    let run = run_gitlab(&BREAKING_CHANGE);
    run.assert_outcome();
}

// ------------------------------------------------- the test's own parsing ---

#[test]
fn shell_parsing_maps_what_it_can_and_refuses_the_rest() {
    let vars = |name: &str| match name {
        "P" => "a b".to_string(),
        other => panic!("unknown {other}"),
    };
    assert_eq!(
        shell_lines("gate a \\\n  --b c\n# note\n\ngate d\n"),
        ["gate a --b c", "gate d"]
    );
    assert_eq!(
        words(r#"gate x --p "$P" --q ${P} 'lit $P' \"q """#, &vars),
        ["gate", "x", "--p", "a b", "--q", "a b", "lit $P", "\"q", ""]
    );
    for refused in [
        "gate a | tee x",
        "gate a > f",
        "gate a && gate b",
        "gate $(x)",
    ] {
        let result = std::panic::catch_unwind(|| words(refused, &vars));
        assert!(result.is_err(), "{refused}");
    }
    assert!(hides_gate("./gate-bin/gate evaluate"));
    assert!(hides_gate("if gate evaluate; then"));
    assert!(!hides_gate("gate evaluate --policy p"));
    assert!(!hides_gate(
        "export PATH=\"$CI_PROJECT_DIR/gate-bin:$PATH\""
    ));
}
