//! `security.no-secrets`: a source tree is free of committed secrets.
//!
//! Provider patterns (cloud keys, private keys, tokens) plus high-entropy values
//! assigned to secret-named keys; see [`rules::Rule`] for the registry and
//! [`detect`] for how each is told apart from its look-alikes.

pub mod baseline;
pub mod detect;
pub mod entropy;
mod parts;
pub mod prefilter;
pub mod providers;
pub mod rules;

use std::io::Read;
use std::path::Path;

use gate_plugin_sdk::paths::join_display;
use gate_plugin_sdk::{
    Check, CheckInfo, Context, Finding, Part, Severity, Status, param, param_default, params,
};
use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde::Deserialize;

use crate::grants::{Grants, HostGrants, unreadable};
use crate::walk::{Item, walk};
use baseline::Baseline;
use gate_plugin_sdk::redact::redact;
use parts::Share;
use rules::Rule;

pub const ID: &str = "security.no-secrets";
const DEFAULT_MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Enough to tell text from binary, as git does.
const SNIFF_BYTES: usize = 8 * 1024;
/// Files up to this size are read whole before the binary test.
const SNIFF_WHOLE: u64 = 64 * 1024;
/// Skipped files named in the summary's evidence, so a reviewer can spot surprises.
const LIST_SKIPPED: usize = 10;

pub struct NoSecrets;

impl Check for NoSecrets {
    fn info(&self) -> CheckInfo {
        CheckInfo {
            id: ID.to_string(),
            title: "No secrets in the source tree".to_string(),
            description: "Scans files and directories for committed secrets: cloud provider keys, private keys, \
                          tokens of 27 providers recognised by their format (GitHub and npm verified by their \
                          CRC32 checksum; OpenAI, Anthropic, Hugging Face, Vault, Slack, Stripe, …), JWTs, \
                          passwords in URLs, and high-entropy values assigned to secret-named keys. Findings \
                          point at file:line with the secret redacted."
                .to_string(),
            default_severity: Severity::High,
            params: vec![
                param("paths", "list<string>", true, "Files or directories to scan, recursively. Symbolic links are not followed; `.git` is skipped."),
                param_default("exclude", "list<glob>", "Globs matched against each file's path relative to the scanned root (or as displayed), e.g. `**/testdata/**`, `*.lock`.", "[]"),
                param_default("allow", "list<regex>", "A secret is ignored when its line or the secret itself matches any of these.", "[]"),
                param_default("max_file_bytes", "integer", "Larger files are skipped (and counted), never read.", "1048576"),
                param_default("min_entropy", "float", "Minimum Shannon entropy (bits/char) for values found only by a secret-named key.", "3.5"),
                param_default("deny", "list<regex>", "Values that must never be in the tree: every match is a `fail` finding (rule `denied-pattern`), whatever `allow` or the baseline say.", "[]"),
                param("baseline", "string", false, "A baseline file (written by `gate secrets baseline`) listing accepted secrets by file, rule and salted hash: they are reported as `pass`, new ones as before. Read through the `fs` grant."),
                param_default("include_vendored", "bool", "Also scan vendored and generated trees (`node_modules`, `vendor`, `target`, `dist`, …), minified files and lockfiles, which are skipped and counted by default.", "false"),
            ],
            capabilities: vec!["fs".to_string()],
        }
    }

    fn run(&self, ctx: &Context, params: &serde_json::Value) -> Vec<Finding> {
        run(ctx, params, &HostGrants)
    }

    fn parts(&self, ctx: &Context, params: &serde_json::Value, available: u32) -> u32 {
        parts(ctx, params, &HostGrants, available)
    }

    fn run_part(&self, ctx: &Context, params: &serde_json::Value, part: Part) -> Vec<Finding> {
        run_part(ctx, params, &HostGrants, part)
    }

    fn merge(
        &self,
        ctx: &Context,
        _params: &serde_json::Value,
        parts: Vec<Vec<Finding>>,
    ) -> Vec<Finding> {
        parts::merge(ctx, parts)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    paths: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default = "default_max_file_bytes")]
    max_file_bytes: u64,
    #[serde(default = "default_min_entropy")]
    min_entropy: f64,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    baseline: Option<String>,
    #[serde(default)]
    include_vendored: bool,
}

fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

fn default_min_entropy() -> f64 {
    detect::DEFAULT_MIN_ENTROPY
}

/// Parameters after validation.
struct Config {
    paths: Vec<String>,
    exclude: GlobSet,
    allow: Vec<Regex>,
    max_file_bytes: u64,
    options: detect::Options,
    deny: Vec<Regex>,
    /// The baseline and its path as given.
    baseline: Option<(Baseline, String)>,
    include_vendored: bool,
}

fn configure(
    ctx: &Context,
    params: &serde_json::Value,
    grants: &dyn Grants,
) -> Result<Config, Vec<Finding>> {
    let p: Params = params::parse(ctx, params)?;
    let mut problems = Vec::new();
    if p.paths.is_empty() {
        problems.push("`paths` must name at least one file or directory".to_string());
    }
    if !(p.min_entropy > 0.0 && p.min_entropy <= 8.0) {
        problems.push(format!(
            "`min_entropy` must be in (0, 8], got {}",
            p.min_entropy
        ));
    }
    let mut globs = GlobSetBuilder::new();
    for g in &p.exclude {
        match Glob::new(g) {
            Ok(glob) => {
                globs.add(glob);
            }
            Err(e) => problems.push(format!("`exclude` glob `{g}`: {e}")),
        }
    }
    let mut allow = Vec::new();
    for a in &p.allow {
        match Regex::new(a) {
            Ok(r) => allow.push(r),
            Err(e) => problems.push(format!("`allow` regex `{a}`: {e}")),
        }
    }
    let mut deny = Vec::new();
    for d in &p.deny {
        match Regex::new(d) {
            Ok(r) if r.is_match("") => {
                problems.push(format!("`deny` regex `{d}` matches the empty string"))
            }
            Ok(r) => deny.push(r),
            Err(e) => problems.push(format!("`deny` regex `{d}`: {e}")),
        }
    }
    let exclude = globs
        .build()
        .map_err(|e| params::invalid(ctx, format!("`exclude`: {e}")))?;
    if !problems.is_empty() {
        return Err(params::invalid(ctx, problems.join("; ")));
    }
    let baseline = match &p.baseline {
        None => None,
        Some(path) => Some((load_baseline(ctx, grants, path)?, path.clone())),
    };
    Ok(Config {
        paths: p.paths,
        exclude,
        allow,
        max_file_bytes: p.max_file_bytes,
        options: detect::Options {
            min_entropy: p.min_entropy,
        },
        deny,
        baseline,
        include_vendored: p.include_vendored,
    })
}

/// Baselines are small; a larger file is a mistake worth an error.
const MAX_BASELINE_BYTES: u64 = 16 * 1024 * 1024;

fn load_baseline(ctx: &Context, grants: &dyn Grants, path: &str) -> Result<Baseline, Vec<Finding>> {
    let granted = grants
        .resolve(path)
        .map_err(|e| vec![unreadable(ctx, path, &e)])?;
    let bytes = gate_plugin_sdk::paths::read_bytes(&granted, MAX_BASELINE_BYTES)
        .map_err(|e| vec![unreadable(ctx, path, &e)])?;
    let text = String::from_utf8(bytes)
        .map_err(|_| params::invalid(ctx, format!("`baseline` {path}: not UTF-8 text")))?;
    Baseline::parse(&text).map_err(|e| params::invalid(ctx, format!("`baseline` {path}: {e}")))
}

pub fn run(ctx: &Context, params: &serde_json::Value, grants: &dyn Grants) -> Vec<Finding> {
    let config = match configure(ctx, params, grants) {
        Ok(c) => c,
        Err(findings) => return findings,
    };
    let mut findings = Vec::new();
    for (path, walked) in config.paths.iter().zip(walks(&config, grants, params)) {
        let tally = scan_root(
            ctx,
            &config,
            grants,
            path,
            walked,
            Share::WHOLE,
            &mut findings,
        );
        if tally.is_clean() {
            findings.push(clean(ctx, path, &tally));
        }
    }
    crate::cap(ctx, findings)
}

/// A tree of fewer files than this is scanned in one piece: a second
/// instance would cost more than it saves.
const SPLIT_FILES: usize = 1000;

/// How many parts a run can use (`Check::parts`): as many as offered for a
/// tree of at least [`SPLIT_FILES`] files, else 1; 1 for parameters that
/// are refused, which the run then reports. The walks made to count the
/// files are kept for this instance's own part.
pub fn parts(
    ctx: &Context,
    params: &serde_json::Value,
    grants: &dyn Grants,
    available: u32,
) -> u32 {
    let Ok(config) = configure(ctx, params, grants) else {
        return 1;
    };
    let walks: Vec<RootWalk> = config
        .paths
        .iter()
        .map(|path| walk_root(&config, grants, path))
        .collect();
    let files: usize = walks.iter().map(RootWalk::files).sum();
    parts::keep_walks(params, walks);
    if files >= SPLIT_FILES { available } else { 1 }
}

/// Each root's walk: the one `parts` made in this instance for the same
/// params, or a fresh one.
fn walks(config: &Config, grants: &dyn Grants, params: &serde_json::Value) -> Vec<RootWalk> {
    parts::take_walks(params).unwrap_or_else(|| {
        config
            .paths
            .iter()
            .map(|path| walk_root(config, grants, path))
            .collect()
    })
}

/// One part of a run (`Check::run_part`): the files of every root whose
/// path falls to `part`, each root's findings followed by its tally, which
/// [`parts::merge`] turns back into the whole run's findings.
pub fn run_part(
    ctx: &Context,
    params: &serde_json::Value,
    grants: &dyn Grants,
    part: Part,
) -> Vec<Finding> {
    let share = Share::of(part);
    let config = match configure(ctx, params, grants) {
        Ok(c) => c,
        // Every part gets the same parameters: the first reports them.
        Err(findings) if share.reports_walk() => return findings,
        Err(_) => return Vec::new(),
    };
    let mut out = parts::PartOutput::default();
    let walks = walks(&config, grants, params);
    for (root, (path, walked)) in config.paths.iter().zip(walks).enumerate() {
        let mut findings = Vec::new();
        let tally = scan_root(ctx, &config, grants, path, walked, share, &mut findings);
        out.push_root(ctx, root, path, findings, tally);
    }
    out.finish()
}

/// Counters for one scanned root, reported on its `pass` finding.
#[derive(Default)]
struct Tally {
    scanned: usize,
    binary: usize,
    /// Files over `max_file_bytes`: how many, and the first names of them
    /// in walk order.
    large: usize,
    large_names: Vec<String>,
    excluded: usize,
    symlinks: usize,
    unreadable: usize,
    secrets: usize,
    vendored_files: usize,
    vendored_dirs: usize,
}

impl Tally {
    /// A root with no secret and nothing unreadable gets a `pass` finding.
    fn is_clean(&self) -> bool {
        self.secrets == 0 && self.unreadable == 0
    }

    /// Every count, by name: what a part's tally carries to `merge`.
    fn counts_mut(&mut self) -> [(&'static str, &mut usize); 9] {
        [
            ("scanned", &mut self.scanned),
            ("binary", &mut self.binary),
            ("large", &mut self.large),
            ("excluded", &mut self.excluded),
            ("symlinks", &mut self.symlinks),
            ("unreadable", &mut self.unreadable),
            ("secrets", &mut self.secrets),
            ("vendored_files", &mut self.vendored_files),
            ("vendored_dirs", &mut self.vendored_dirs),
        ]
    }

    /// Adds another part's counts of the same root.
    fn add(&mut self, mut other: Tally) {
        for ((_, mine), (_, theirs)) in self.counts_mut().into_iter().zip(other.counts_mut()) {
            *mine += *theirs;
        }
        self.large_names.extend(other.large_names);
    }

    fn skipped_large(&mut self, display: String) {
        self.large += 1;
        if self.large_names.len() < LIST_SKIPPED {
            self.large_names.push(display);
        }
    }
}

/// What walking one root found.
pub(crate) enum RootWalk {
    /// The walk's items, and how many vendored directories it pruned.
    Walked {
        items: Vec<Item>,
        vendored_dirs: usize,
    },
    /// The root could not be resolved or listed.
    Unreadable(String),
}

impl RootWalk {
    fn files(&self) -> usize {
        match self {
            RootWalk::Walked { items, .. } => {
                items.iter().filter(|i| matches!(i, Item::File(_))).count()
            }
            RootWalk::Unreadable(_) => 0,
        }
    }
}

/// Whether a file (by its path relative to its root, or as displayed) is excluded.
fn excluded(config: &Config, rel: &str, display: &str) -> bool {
    config.exclude.is_match(rel) || config.exclude.is_match(display.trim_start_matches("./"))
}

/// Walks one root, pruning vendored directories (unless included) and
/// directories whose every file an `exclude` glob ending in `/**` or `/*`
/// would exclude (`**/testdata/**`), so their contents are never listed.
fn walk_root(config: &Config, grants: &dyn Grants, path: &str) -> RootWalk {
    let granted = match grants.resolve(path) {
        Ok(g) => g,
        Err(e) => return RootWalk::Unreadable(e),
    };
    let vendored_dirs = std::cell::Cell::new(0usize);
    let prune = |rel: &str| {
        if !config.include_vendored && is_vendored_dir(rel) {
            vendored_dirs.set(vendored_dirs.get() + 1);
            return true;
        }
        let probe = format!("{rel}/\u{0}");
        excluded(config, &probe, &join_display(&granted.display, &probe))
    };
    match walk(&granted.display, Path::new(&granted.absolute), &prune) {
        Ok(items) => RootWalk::Walked {
            items,
            vendored_dirs: vendored_dirs.get(),
        },
        Err(e) => RootWalk::Unreadable(e),
    }
}

/// Scans the files of one walked root that fall to `share`; what the walk
/// itself met (a root that cannot be read, unreadable directories, symbolic
/// links, pruned directories) only the share that reports the walk counts.
fn scan_root(
    ctx: &Context,
    config: &Config,
    grants: &dyn Grants,
    path: &str,
    walked: RootWalk,
    share: Share,
    findings: &mut Vec<Finding>,
) -> Tally {
    let mut tally = Tally::default();
    let items = match walked {
        RootWalk::Walked {
            items,
            vendored_dirs,
        } => {
            if share.reports_walk() {
                tally.vendored_dirs = vendored_dirs;
            }
            items
        }
        RootWalk::Unreadable(e) => {
            unreadable_root(ctx, share, path, &e, &mut tally, findings);
            return tally;
        }
    };
    for item in items {
        match item {
            Item::File(file) if !share.owns(&file.rel) => {}
            Item::File(file) => {
                if excluded(config, &file.rel, &file.display) {
                    tally.excluded += 1;
                    continue;
                }
                if !config.include_vendored && is_generated_file(&file.rel) {
                    tally.vendored_files += 1;
                    continue;
                }
                match read_text(grants, &file.absolute, config.max_file_bytes) {
                    Ok(Content::Text(text)) => {
                        tally.scanned += 1;
                        tally.secrets += scan_file(ctx, config, &file.display, &text, findings);
                    }
                    Ok(Content::Binary) => tally.binary += 1,
                    Ok(Content::Large) => tally.skipped_large(file.display),
                    Err(e) => {
                        tally.unreadable += 1;
                        findings.push(unreadable(ctx, &file.display, &e));
                    }
                }
            }
            Item::Symlink if share.reports_walk() => tally.symlinks += 1,
            Item::Unreadable { display, error } if share.reports_walk() => {
                tally.unreadable += 1;
                findings.push(unreadable(ctx, &display, &error));
            }
            Item::Symlink | Item::Unreadable { .. } => {}
        }
    }
    tally
}

/// A root that cannot be read, reported once: by the share that reports the walk.
fn unreadable_root(
    ctx: &Context,
    share: Share,
    path: &str,
    error: &str,
    tally: &mut Tally,
    findings: &mut Vec<Finding>,
) {
    if share.reports_walk() {
        tally.unreadable += 1;
        findings.push(unreadable(ctx, path, error));
    }
}

/// The `pass` finding of a root with no secret and nothing unreadable: what
/// was scanned and what was skipped, so a reviewer can spot surprises.
fn clean(ctx: &Context, path: &str, tally: &Tally) -> Finding {
    let mut f = ctx
        .finding(path, Status::Pass)
        .message(format!(
            "no secrets found in {} file(s) under `{path}`",
            tally.scanned
        ))
        .evidence("files_scanned", tally.scanned)
        .evidence("files_skipped_binary", tally.binary)
        .evidence("files_skipped_large", tally.large)
        .evidence("files_excluded", tally.excluded)
        .evidence("symlinks_skipped", tally.symlinks)
        .evidence("vendored_dirs_skipped", tally.vendored_dirs)
        .evidence("generated_files_skipped", tally.vendored_files);
    if tally.large > 0 {
        let mut names = tally.large_names.join(", ");
        if tally.large > tally.large_names.len() {
            names.push_str(&format!(
                " (+{} more)",
                tally.large - tally.large_names.len()
            ));
        }
        f = f.evidence("skipped_large", names);
    }
    f.build()
}

enum Content {
    Text(String),
    Binary,
    /// Larger than `max_file_bytes`: counted, never read.
    Large,
}

/// Reads a file the walk found: a text file of at most `max_bytes`, and only
/// the first 8 KiB of a large binary one.
///
/// Every call into the host costs far more than the bytes it moves, so a file
/// of at most 64 KiB (most of a source tree) is read whole in one call, with
/// no `stat` before it: the host refuses it, having read nothing, when it is
/// larger. Only then is the file opened here and its length asked, to skip it
/// when it is over `max_bytes`, or to sniff it for binary content before
/// reading it up to that length.
fn read_text(grants: &dyn Grants, path: &Path, max_bytes: u64) -> Result<Content, String> {
    if let Some(absolute) = path.to_str()
        && let Ok(bytes) = grants.read_whole(absolute, SNIFF_WHOLE.min(max_bytes))
    {
        return Ok(text_or_binary(bytes));
    }
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len > max_bytes {
        return Ok(Content::Large);
    }
    let want = usize::try_from(len).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; want];
    let mut filled = 0;
    // Large files are sniffed first, so a binary one costs 8 KiB, not its length.
    if len > SNIFF_WHOLE {
        filled = read_into(&mut file, &mut buf[..SNIFF_BYTES.min(want)])?;
        if buf[..filled].contains(&0) {
            return Ok(Content::Binary);
        }
    }
    if filled == SNIFF_BYTES || len <= SNIFF_WHOLE {
        filled += read_into(&mut file, &mut buf[filled..])?;
    }
    buf.truncate(filled);
    Ok(text_or_binary(buf))
}

/// Binary when a NUL is in the first 8 KiB, as git decides.
fn text_or_binary(bytes: Vec<u8>) -> Content {
    if bytes[..bytes.len().min(SNIFF_BYTES)].contains(&0) {
        return Content::Binary;
    }
    Content::Text(match String::from_utf8(bytes) {
        Ok(s) => s,
        // Latin-1 and friends: the secrets we look for are ASCII either way.
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_into(file: &mut std::fs::File, buf: &mut [u8]) -> Result<usize, String> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(filled)
}

/// Scans one file's text and appends a finding per secret; returns how many of
/// them are not `pass` (published samples and baselined secrets are).
fn scan_file(
    ctx: &Context,
    config: &Config,
    display: &str,
    text: &str,
    findings: &mut Vec<Finding>,
) -> usize {
    let mut candidates = detect::scan(text, &config.options);
    candidates.extend(denied(config, text));
    if candidates.is_empty() {
        return 0;
    }
    let lines = LineIndex::new(text);
    let mut failing = 0;
    for c in candidates {
        let (line_no, line) = lines.line_of(text, c.start);
        let denied = c.rule == Rule::Denied;
        if !denied
            && config
                .allow
                .iter()
                .any(|r| r.is_match(line) || r.is_match(&c.secret))
        {
            continue;
        }
        let column = text[lines.starts[line_no]..c.start].chars().count() + 1;
        let line_no = line_no + 1;
        let rule = c.rule;
        let fingerprint = config
            .baseline
            .as_ref()
            .map(|(b, path)| (b.fingerprint(rule.id(), &c.secret), b, path));
        let baselined = fingerprint
            .as_ref()
            .filter(|(f, b, _)| !denied && b.accepts(display, rule.id(), f))
            .map(|(_, _, path)| path.as_str());
        let (status, message) = verdict(rule, c.sample, baselined, &format!("{display}:{line_no}"));
        if status != Status::Pass {
            failing += 1;
        }
        let mut f = ctx
            .finding(display, status)
            .rule(rule.id())
            .severity(rule.severity())
            .message(message)
            .evidence("secret", redact(&c.secret))
            .evidence("type", rule.title());
        if let Some(key) = &c.key {
            f = f.evidence("key", key);
        }
        if c.confidence == Some(providers::Confidence::Checksum) {
            // The provider's own checksum holds: not a look-alike or a typed example.
            f = f.evidence("checksum", "valid");
        }
        if let Some(source) = c.sample {
            f = f.evidence("note", format!("published example: {source}"));
        }
        if let Some((fp, _, _)) = &fingerprint {
            // Salted with the baseline's own salt: what `gate secrets baseline`
            // records, never the secret.
            f = f.evidence("fingerprint", fp);
        }
        findings.push(
            f.remediation(rule.remediation())
                .location(
                    display,
                    u32::try_from(line_no).ok(),
                    u32::try_from(column).ok(),
                )
                .build(),
        );
    }
    failing
}

/// Matches of the `deny` patterns: always reported, past `allow` and the baseline.
fn denied(config: &Config, text: &str) -> Vec<detect::Candidate> {
    let mut out = Vec::new();
    for (i, re) in config.deny.iter().enumerate() {
        for m in re.find_iter(text) {
            out.push(detect::Candidate {
                rule: Rule::Denied,
                start: m.start(),
                end: m.end(),
                secret: m.as_str().to_string(),
                key: Some(format!("deny[{i}]")),
                confidence: None,
                sample: None,
            });
        }
    }
    out
}

/// A secret's status and message at `at` (`file:line`): a published example
/// and a baselined secret pass, anything else has its rule's status.
fn verdict(
    rule: Rule,
    sample: Option<&str>,
    baselined: Option<&str>,
    at: &str,
) -> (Status, String) {
    match (sample, baselined) {
        (Some(source), _) => (
            Status::Pass,
            format!(
                "{} in {at} is {source}, published as an example: not a secret",
                rule.title()
            ),
        ),
        (None, Some(path)) => (
            Status::Pass,
            format!(
                "{} in {at} is accepted in the baseline {path}",
                rule.title()
            ),
        ),
        (None, None) => (rule.status(), format!("{} in {at}", rule.title())),
    }
}

/// Directories of other people's code or of build output, skipped unless
/// `include_vendored`: dependencies are scanned where they are published.
const VENDORED_DIRS: &[&str] = &[
    "node_modules",
    "bower_components",
    "vendor",
    "third_party",
    "target",
    "dist",
    "build",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".gradle",
    ".terraform",
];

/// Lockfiles hold checksums by the thousand and never a secret of their own.
const LOCKFILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "go.sum",
    "poetry.lock",
    "Pipfile.lock",
    "composer.lock",
    "Gemfile.lock",
    "packages.lock.json",
    "uv.lock",
];

fn is_vendored_dir(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    VENDORED_DIRS.contains(&name)
}

fn is_generated_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    LOCKFILES.contains(&name)
        || [".min.js", ".min.css", ".min.mjs", ".js.map", ".css.map"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Byte offsets of line starts, for offset → line:column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The 0-based line holding `offset`, and that line's text.
    fn line_of<'t>(&self, text: &'t str, offset: usize) -> (usize, &'t str) {
        let i = self.starts.partition_point(|&s| s <= offset) - 1;
        let end = self.starts.get(i + 1).map_or(text.len(), |&e| e - 1);
        (i, text[self.starts[i]..end].trim_end_matches('\r'))
    }
}

#[cfg(test)]
mod tests;
