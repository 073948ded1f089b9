//! Discovery and ordering of migration files, as the migration tools do it.
//!
//! | tool | files | order | transaction |
//! |---|---|---|---|
//! | sqlx | `<version>_name.sql`, or `.up.sql` + `.down.sql` | version, numeric | yes, unless `-- no-transaction` |
//! | diesel | `<dir>/up.sql` + `down.sql` | directory name | yes, unless `metadata.toml` has `run_in_transaction = false` |
//! | dbmate | `<version>_name.sql` with `-- migrate:up` / `-- migrate:down` | version, numeric | yes, unless `-- migrate:up transaction:false` |
//! | Flyway | `V<version>__name.sql`, `U<version>__` undo, `R__` repeatable | version, numeric by part (V2 < V10); repeatables last | yes, unless `<file>.conf` has `executeInTransaction=false` |
//! | golang-migrate | `<version>_name.up.sql` + `.down.sql` | version, numeric | never |
//! | unknown | any `*.sql` | file name | `[migrations] assume_in_transaction` |
//!
//! sqlx and golang-migrate share the `.up.sql`/`.down.sql` naming; a `go.mod`
//! above the directory means golang-migrate, otherwise sqlx (override with
//! `--layout`).

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gate_core::beneath::Kind;
use gate_sandbox::fs_grants::{FsError, FsGrants};

mod reads;
use reads::Reads;

/// The largest migration file (or diesel `metadata.toml`, Flyway `.conf`) read.
pub const MAX_SCRIPT_BYTES: u64 = 16 << 20;

/// The migration tool whose conventions a directory follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "kebab-case")]
pub enum Tool {
    Sqlx,
    Diesel,
    Dbmate,
    Flyway,
    GolangMigrate,
    /// No known convention: `*.sql` in file-name order.
    Plain,
}

impl Tool {
    pub const ALL: [Tool; 6] = [
        Tool::Sqlx,
        Tool::Diesel,
        Tool::Dbmate,
        Tool::Flyway,
        Tool::GolangMigrate,
        Tool::Plain,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Tool> {
        s.parse().ok()
    }

    /// The table in which the tool records applied migrations, and its version column.
    pub fn history_table(self) -> Option<&'static str> {
        match self {
            Tool::Sqlx => Some("_sqlx_migrations"),
            Tool::Diesel => Some("__diesel_schema_migrations"),
            Tool::Flyway => Some("flyway_schema_history"),
            Tool::Dbmate | Tool::GolangMigrate => Some("schema_migrations"),
            Tool::Plain => None,
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One SQL script as a migration tool would run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The path shown in reports: relative to the working directory when under it.
    pub path: String,
    /// The file on disk.
    pub file: PathBuf,
    /// The SQL (the whole file, or a dbmate section).
    pub contents: String,
    /// 1-based line of `file` on which `contents` starts.
    pub first_line: u32,
    /// Whether the tool runs the script inside a transaction.
    pub in_transaction: bool,
}

/// One migration: its up script and, where the layout has one, its down script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// The version as the tool records it (`20240101120000`, `1.2`, the diesel
    /// directory's version, or the file name for the plain layout).
    pub version: String,
    pub name: String,
    pub tool: Tool,
    pub up: Script,
    pub down: Option<Script>,
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{0}: no such file or directory")]
    Missing(String),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// Refused or failed beneath the grants (see [`FsGrants`]).
    #[error("{0}")]
    Fs(FsError),
}

/// Options of [`discover`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Paths in reports are shown relative to this directory.
    pub cwd: PathBuf,
    /// Transaction assumption for the plain layout.
    pub assume_in_transaction: bool,
    /// Forces a layout instead of detecting it.
    pub tool: Option<Tool>,
    /// What may be read: every listing, stat and read goes through these
    /// grants, beneath their directory handles.
    pub files: Arc<FsGrants>,
}

/// Finds the migrations under each of `paths` (directories or single files),
/// in the order the tool would apply them; paths keep their given order.
pub fn discover(paths: &[PathBuf], options: &Options) -> Result<Vec<Migration>, LayoutError> {
    discover_with(&Reads::new(&options.files), paths, options)
}

fn discover_with(
    r: &Reads,
    paths: &[PathBuf],
    options: &Options,
) -> Result<Vec<Migration>, LayoutError> {
    let mut out = Vec::new();
    for path in paths {
        let full = options.cwd.join(path);
        let kind = match r.kind(&full) {
            Err(LayoutError::Fs(e)) if e.is_not_found() => None,
            other => other?,
        };
        if kind == Some(Kind::Dir) {
            out.extend(directory(r, &full, options)?);
        } else if kind == Some(Kind::File) {
            let parent = full.parent().unwrap_or(Path::new("."));
            let tool = options.tool.unwrap_or_else(|| detect_file(r, &full));
            let one = std::slice::from_ref(&full);
            let mut migrations = from_files(r, parent, one, tool, options)?;
            if migrations.is_empty() {
                // Not a name the layout recognises: take it as a plain script.
                migrations = from_files(r, parent, one, Tool::Plain, options)?;
            }
            out.extend(migrations);
        } else {
            return Err(LayoutError::Missing(shown(path, &options.cwd)));
        }
    }
    Ok(out)
}

fn is_diesel_dir(r: &Reads, p: &Path) -> Result<bool, LayoutError> {
    Ok(r.kind(p)? == Some(Kind::Dir) && r.kind(&p.join("up.sql"))? == Some(Kind::File))
}

/// The layout of a directory.
pub fn detect(files: &FsGrants, dir: &Path) -> Result<Tool, LayoutError> {
    detect_dir(&Reads::new(files), dir)
}

fn detect_dir(r: &Reads, dir: &Path) -> Result<Tool, LayoutError> {
    let entries = r.list(dir)?;
    for p in &entries {
        if is_diesel_dir(r, p)? {
            return Ok(Tool::Diesel);
        }
    }
    let mut sql: Vec<&PathBuf> = Vec::new();
    for p in &entries {
        if is_sql(r, p)? {
            sql.push(p);
        }
    }
    if sql.is_empty() {
        return Ok(Tool::Plain);
    }
    let names: Vec<String> = sql.iter().map(|p| file_name(p)).collect();
    if names.iter().any(|n| flyway_name(n).is_some()) {
        return Ok(Tool::Flyway);
    }
    if sql
        .iter()
        .any(|p| r.peek(p, |text| dbmate_marker(text, "up").is_some()))
    {
        return Ok(Tool::Dbmate);
    }
    if names.iter().any(|n| up_down_name(n).is_some()) {
        return Ok(if has_go_mod(r.files(), dir) {
            Tool::GolangMigrate
        } else {
            Tool::Sqlx
        });
    }
    if names.iter().any(|n| versioned_name(n).is_some()) {
        return Ok(Tool::Sqlx);
    }
    Ok(Tool::Plain)
}

fn detect_file(r: &Reads, file: &Path) -> Tool {
    let name = file_name(file);
    if flyway_name(&name).is_some() {
        return Tool::Flyway;
    }
    if r.peek(file, |t| dbmate_marker(t, "up").is_some()) {
        return Tool::Dbmate;
    }
    if up_down_name(&name).is_some() {
        let dir = file.parent().unwrap_or(Path::new("."));
        return if has_go_mod(r.files(), dir) {
            Tool::GolangMigrate
        } else {
            Tool::Sqlx
        };
    }
    if name == "up.sql" {
        return Tool::Diesel;
    }
    if versioned_name(&name).is_some() {
        return Tool::Sqlx;
    }
    Tool::Plain
}

fn directory(r: &Reads, dir: &Path, options: &Options) -> Result<Vec<Migration>, LayoutError> {
    let tool = match options.tool {
        Some(t) => t,
        None => detect_dir(r, dir)?,
    };
    if tool == Tool::Diesel {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for p in r.list(dir)? {
            if is_diesel_dir(r, &p)? {
                dirs.push(p);
            }
        }
        dirs.sort_by(|a, b| natural(&file_name(a), &file_name(b)));
        return dirs.iter().map(|d| diesel(r, d, options)).collect();
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for p in r.list(dir)? {
        if is_sql(r, &p)? {
            files.push(p);
        }
    }
    from_files(r, dir, &files, tool, options)
}

fn from_files(
    r: &Reads,
    dir: &Path,
    files: &[PathBuf],
    tool: Tool,
    options: &Options,
) -> Result<Vec<Migration>, LayoutError> {
    match tool {
        Tool::Diesel => diesel_migrations(r, dir, files, options),
        Tool::Sqlx | Tool::GolangMigrate => up_down_migrations(r, files, tool, options),
        Tool::Dbmate => dbmate_migrations(r, files, tool, options),
        Tool::Flyway => flyway_migrations(r, files, tool, options),
        Tool::Plain => plain_migrations(r, files, tool, options),
    }
}

/// Diesel: one directory per migration (`up.sql`, `down.sql`).
fn diesel_migrations(
    r: &Reads,
    dir: &Path,
    files: &[PathBuf],
    options: &Options,
) -> Result<Vec<Migration>, LayoutError> {
    let mut out: Vec<Migration> = Vec::new();
    for f in files {
        out.push(diesel(r, f.parent().unwrap_or(dir), options)?);
    }
    Ok(out)
}

/// sqlx and golang-migrate: `VERSION_NAME.up.sql` / `.down.sql`, or one
/// `VERSION_NAME.sql` (sqlx); sqlx's `-- no-transaction` takes a file out of
/// the transaction.
fn up_down_migrations(
    r: &Reads,
    files: &[PathBuf],
    tool: Tool,
    options: &Options,
) -> Result<Vec<Migration>, LayoutError> {
    let mut out: Vec<Migration> = Vec::new();
    let mut downs = Vec::new();
    for f in files {
        let name = file_name(f);
        let (version, rest, kind) = match up_down_name(&name) {
            Some((v, rest, up)) => (v, rest, if up { "up" } else { "down" }),
            None => match versioned_name(&name) {
                Some((v, rest)) => (v, rest, "up"),
                None => continue,
            },
        };
        let text = read(r, f, options)?;
        let in_transaction = tool == Tool::Sqlx && !gate_sqlkit::declares_no_transaction(&text);
        let script = script(f, text, 1, in_transaction, options);
        if kind == "down" {
            downs.push((version.to_string(), script));
            continue;
        }
        out.push(Migration {
            version: version.to_string(),
            name: rest.to_string(),
            tool,
            up: script,
            down: None,
        });
    }
    attach_downs(&mut out, downs);
    out.sort_by(|a, b| natural(&a.version, &b.version).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// dbmate: one file per migration, `-- migrate:up` and `-- migrate:down`
/// sections, `transaction:false` on the section header.
fn dbmate_migrations(
    r: &Reads,
    files: &[PathBuf],
    tool: Tool,
    options: &Options,
) -> Result<Vec<Migration>, LayoutError> {
    let mut out: Vec<Migration> = Vec::new();
    for f in files {
        let name = file_name(f);
        let text = read(r, f, options)?;
        let Some((up, up_line, header)) = dbmate_section(&text, "up") else {
            continue;
        };
        let in_transaction = !header.contains("transaction:false");
        let version = versioned_name(&name)
            .map(|(v, _)| v.to_string())
            .unwrap_or_else(|| name.clone());
        let down = dbmate_section(&text, "down").map(|(down, line, header)| {
            let tx = !header.contains("transaction:false");
            script(f, down, line, tx, options)
        });
        out.push(Migration {
            name: versioned_name(&name)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|| name.trim_end_matches(".sql").to_string()),
            version,
            tool,
            up: script(f, up, up_line, in_transaction, options),
            down,
        });
    }
    out.sort_by(|a, b| natural(&a.version, &b.version));
    Ok(out)
}

/// Flyway: `V`ersioned, `U`ndo and `R`epeatable files (repeatables last,
/// by name); `executeInTransaction=false` in the file's `.conf`.
fn flyway_migrations(
    r: &Reads,
    files: &[PathBuf],
    tool: Tool,
    options: &Options,
) -> Result<Vec<Migration>, LayoutError> {
    let mut out: Vec<Migration> = Vec::new();
    let mut downs = Vec::new();
    let mut repeatable = Vec::new();
    for f in files {
        let name = file_name(f);
        let Some((prefix, version, desc)) = flyway_name(&name) else {
            continue;
        };
        let text = read(r, f, options)?;
        let conf = read_optional(r, f.with_file_name(format!("{name}.conf")), options)?;
        let in_transaction = !conf.lines().any(|l| {
            l.replace(' ', "")
                .eq_ignore_ascii_case("executeInTransaction=false")
        });
        let s = script(f, text, 1, in_transaction, options);
        let m = Migration {
            version: version.to_string(),
            name: desc.to_string(),
            tool,
            up: s,
            down: None,
        };
        match prefix {
            'U' => downs.push((version.to_string(), m.up)),
            'R' => repeatable.push(m),
            _ => out.push(m),
        }
    }
    attach_downs(&mut out, downs);
    out.sort_by(|a, b| flyway_version_cmp(&a.version, &b.version));
    repeatable.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(repeatable);
    Ok(out)
}

/// Plain SQL files, in name order.
fn plain_migrations(
    r: &Reads,
    files: &[PathBuf],
    tool: Tool,
    options: &Options,
) -> Result<Vec<Migration>, LayoutError> {
    let mut out: Vec<Migration> = Vec::new();
    for f in files {
        let name = file_name(f);
        let text = read(r, f, options)?;
        // squawk's `-- squawk-disable-assume-in-transaction` takes a
        // file out of the assumed transaction, so files written for
        // squawk keep their meaning.
        let in_transaction =
            options.assume_in_transaction && !gate_sqlkit::disables_assumed_transaction(&text);
        out.push(Migration {
            version: name.clone(),
            name: name.trim_end_matches(".sql").to_string(),
            tool,
            up: script(f, text, 1, in_transaction, options),
            down: None,
        });
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(out)
}

fn attach_downs(out: &mut [Migration], downs: Vec<(String, Script)>) {
    for (version, down) in downs {
        if let Some(m) = out.iter_mut().find(|m| m.version == version) {
            m.down = Some(down);
        }
    }
}

fn diesel(r: &Reads, dir: &Path, options: &Options) -> Result<Migration, LayoutError> {
    let name = file_name(dir);
    let meta = read_optional(r, dir.join("metadata.toml"), options)?;
    let in_transaction = !meta.lines().any(|l| {
        let l = l.replace(' ', "");
        l.starts_with("run_in_transaction=false")
    });
    let up_file = dir.join("up.sql");
    let up = script(
        &up_file,
        read(r, &up_file, options)?,
        1,
        in_transaction,
        options,
    );
    let down_file = dir.join("down.sql");
    let down = if r.kind(&down_file)? == Some(Kind::File) {
        Some(script(
            &down_file,
            read(r, &down_file, options)?,
            1,
            in_transaction,
            options,
        ))
    } else {
        None
    };
    // `2023-01-01-000000_create_users` → version `20230101000000`, as diesel records it.
    let (version, rest) = name.split_once('_').unwrap_or((name.as_str(), ""));
    Ok(Migration {
        version: version.chars().filter(|c| *c != '-').collect(),
        name: rest.to_string(),
        tool: Tool::Diesel,
        up,
        down,
    })
}

fn script(file: &Path, contents: String, first_line: u32, tx: bool, o: &Options) -> Script {
    Script {
        path: shown(file, &o.cwd),
        file: file.to_path_buf(),
        contents,
        first_line,
        in_transaction: tx,
    }
}

/// A whole UTF-8 file beneath its grant, at most [`MAX_SCRIPT_BYTES`].
fn read(r: &Reads, file: &Path, options: &Options) -> Result<String, LayoutError> {
    r.take(file).map_err(|e| match e {
        LayoutError::Invalid { message, .. } => LayoutError::Invalid {
            path: shown(file, &options.cwd),
            message,
        },
        other => other,
    })
}

/// A settings file next to a migration: empty when absent, but one that
/// exists must be readable beneath the grant like any other.
fn read_optional(r: &Reads, file: PathBuf, options: &Options) -> Result<String, LayoutError> {
    match r.kind(&file)? {
        None => Ok(String::new()),
        Some(_) => read(r, &file, options),
    }
}

/// `path` relative to `cwd` when it lies under it.
pub fn shown(path: &Path, cwd: &Path) -> String {
    let full = cwd.join(path);
    let rel = full.strip_prefix(cwd).unwrap_or(&full);
    rel.display().to_string()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A `*.sql` entry that is a regular file beneath its grant. The type is
/// asked of the kernel for every `*.sql` name, so an entry that leads out of
/// the grant is an error here, never silently skipped.
fn is_sql(r: &Reads, p: &Path) -> Result<bool, LayoutError> {
    if !p.extension().is_some_and(|e| e.eq_ignore_ascii_case("sql")) {
        return Ok(false);
    }
    Ok(r.kind(p)? == Some(Kind::File))
}

/// A `go.mod` in the directory or above it, up to the working directory
/// (existence only, nothing is read).
fn has_go_mod(files: &FsGrants, dir: &Path) -> bool {
    files.exists_above(dir, "go.mod")
}

/// `<digits>_rest.sql` → (digits, rest).
fn versioned_name(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".sql")?;
    let (version, rest) = stem.split_once('_')?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())).then_some((version, rest))
}

/// `<digits>_rest.up.sql` / `.down.sql` → (digits, rest, is_up).
fn up_down_name(name: &str) -> Option<(&str, &str, bool)> {
    let (stem, up) = match name.strip_suffix(".up.sql") {
        Some(s) => (s, true),
        None => (name.strip_suffix(".down.sql")?, false),
    };
    let (version, rest) = stem.split_once('_')?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()))
        .then_some((version, rest, up))
}

/// `V1_2__desc.sql` → ('V', "1.2", "desc"); `R__desc.sql` → ('R', "", "desc").
fn flyway_name(name: &str) -> Option<(char, String, &str)> {
    let stem = name.strip_suffix(".sql")?;
    let prefix = stem
        .chars()
        .next()
        .filter(|c| matches!(c, 'V' | 'U' | 'R'))?;
    let (version, desc) = stem[1..].split_once("__")?;
    if prefix == 'R' {
        return version.is_empty().then_some(('R', String::new(), desc));
    }
    let valid = !version.is_empty()
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'_');
    valid.then(|| (prefix, version.replace('_', "."), desc))
}

/// Flyway versions compare part by part, numerically: 1.2 < 1.10 < 2.
fn flyway_version_cmp(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<u128> {
        s.split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let (mut a, mut b) = (parts(a), parts(b));
    while a.last() == Some(&0) && a.len() > 1 {
        a.pop();
    }
    while b.last() == Some(&0) && b.len() > 1 {
        b.pop();
    }
    a.cmp(&b)
}

/// Numeric when both are all digits (2 < 10), else text.
fn natural(a: &str, b: &str) -> Ordering {
    let digits = |s: &str| {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.trim_start_matches('0').to_string()
    };
    let (da, db) = (digits(a), digits(b));
    if !da.is_empty() || !db.is_empty() {
        let by_number = da.len().cmp(&db.len()).then_with(|| da.cmp(&db));
        if by_number != Ordering::Equal {
            return by_number;
        }
    }
    a.cmp(b)
}

/// The line (0-based index) of `-- migrate:<which>` and the marker line's text.
fn dbmate_marker<'a>(text: &'a str, which: &str) -> Option<(usize, &'a str)> {
    let marker = format!("migrate:{which}");
    text.lines().enumerate().find_map(|(i, line)| {
        let t = line.trim_start();
        let rest = t.strip_prefix("--")?.trim_start();
        let after = rest.strip_prefix(&marker)?;
        (after.is_empty() || after.starts_with(char::is_whitespace)).then_some((i, line))
    })
}

/// The `-- migrate:<which>` section: its text (from the line after the
/// marker up to the next marker), its first line (1-based) and the marker line.
fn dbmate_section(text: &str, which: &str) -> Option<(String, u32, String)> {
    let (index, header) = dbmate_marker(text, which)?;
    let other = if which == "up" { "down" } else { "up" };
    let end = dbmate_marker(text, other)
        .map(|(i, _)| i)
        .filter(|i| *i > index);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let stop = end.unwrap_or(lines.len());
    let body: String =
        lines[(index + 1).min(lines.len())..stop.max(index + 1).min(lines.len())].concat();
    Some((body, index as u32 + 2, header.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    fn run(dir: &tempfile::TempDir, sub: &str) -> Vec<Migration> {
        let options = Options {
            cwd: dir.path().to_path_buf(),
            assume_in_transaction: true,
            tool: None,
            files: Arc::new(FsGrants::of_paths(&[PathBuf::from(".")], dir.path())),
        };
        discover(&[PathBuf::from(sub)], &options).unwrap()
    }

    fn whole(dir: &tempfile::TempDir) -> FsGrants {
        FsGrants::of_paths(&[PathBuf::from(".")], dir.path())
    }

    fn names(ms: &[Migration]) -> Vec<String> {
        ms.iter().map(|m| m.up.path.clone()).collect()
    }

    /// Each entry's kind asked once, each file read once, one listing,
    /// whatever the layout detection looked at: for a plain directory the
    /// directory itself, its listing, every entry's kind (diesel asks it
    /// of each) and every `*.sql` file's text (dbmate's markers are looked
    /// for in each, and the migration keeps that text).
    #[test]
    fn every_path_is_asked_of_the_kernel_once() {
        let mut files: Vec<(String, String)> = (0..40)
            .map(|i| (format!("m/{i:03}.sql"), format!("SELECT {i};")))
            .collect();
        files.push(("m/README.md".into(), "not sql".into()));
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let dir = tree(&borrowed);
        let grants = whole(&dir);
        let options = Options {
            cwd: dir.path().to_path_buf(),
            assume_in_transaction: true,
            tool: None,
            files: Arc::new(FsGrants::of_paths(&[PathBuf::from(".")], dir.path())),
        };
        let r = Reads::new(&grants);
        let ms = discover_with(&r, &[PathBuf::from("m")], &options).unwrap();
        assert_eq!(ms.len(), 40);
        assert_eq!(ms[7].up.contents, "SELECT 7;");
        assert_eq!(r.calls(), 1 + 1 + 41 + 40);
    }

    #[test]
    fn sqlx_orders_by_numeric_version_and_reads_no_transaction() {
        let dir = tree(&[
            ("m/20240102000000_b.sql", "CREATE TABLE b ();"),
            ("m/20240101000000_a.sql", "CREATE TABLE a ();"),
            (
                "m/20240103000000_c.sql",
                "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON a (x);",
            ),
            ("m/README.md", "not sql"),
        ]);
        let ms = run(&dir, "m");
        assert_eq!(
            detect(&whole(&dir), &dir.path().join("m")).unwrap(),
            Tool::Sqlx
        );
        assert_eq!(
            names(&ms),
            [
                "m/20240101000000_a.sql",
                "m/20240102000000_b.sql",
                "m/20240103000000_c.sql"
            ]
        );
        assert!(ms[0].up.in_transaction);
        assert!(!ms[2].up.in_transaction);
        assert_eq!(ms[0].version, "20240101000000");
        assert_eq!(ms[0].name, "a");
    }

    #[test]
    fn sqlx_reversible_pairs_up_and_down() {
        let dir = tree(&[
            ("m/2_b.up.sql", "CREATE TABLE b ();"),
            ("m/2_b.down.sql", "DROP TABLE b;"),
            ("m/10_c.up.sql", "CREATE TABLE c ();"),
            ("m/1_a.up.sql", "CREATE TABLE a ();"),
        ]);
        let ms = run(&dir, "m");
        assert_eq!(ms[0].tool, Tool::Sqlx);
        assert_eq!(
            names(&ms),
            ["m/1_a.up.sql", "m/2_b.up.sql", "m/10_c.up.sql"]
        );
        assert_eq!(ms[1].down.as_ref().unwrap().path, "m/2_b.down.sql");
        assert!(ms[1].up.in_transaction);
        assert!(ms[0].down.is_none());
    }

    #[test]
    fn golang_migrate_never_runs_in_a_transaction() {
        let dir = tree(&[
            ("go.mod", "module x\n"),
            ("db/000002_b.up.sql", "CREATE TABLE b ();"),
            ("db/000001_a.up.sql", "CREATE TABLE a ();"),
            ("db/000001_a.down.sql", "DROP TABLE a;"),
        ]);
        let ms = run(&dir, "db");
        assert_eq!(ms[0].tool, Tool::GolangMigrate);
        assert_eq!(names(&ms), ["db/000001_a.up.sql", "db/000002_b.up.sql"]);
        assert!(ms.iter().all(|m| !m.up.in_transaction));
        assert_eq!(ms[0].down.as_ref().unwrap().contents, "DROP TABLE a;");
    }

    #[test]
    fn diesel_directories_with_metadata() {
        let dir = tree(&[
            (
                "migrations/2023-02-01-000000_b/up.sql",
                "CREATE TABLE b ();",
            ),
            ("migrations/2023-02-01-000000_b/down.sql", "DROP TABLE b;"),
            (
                "migrations/2023-02-01-000000_b/metadata.toml",
                "run_in_transaction = false\n",
            ),
            (
                "migrations/2023-01-01-000000_a/up.sql",
                "CREATE TABLE a ();",
            ),
            ("migrations/2023-01-01-000000_a/down.sql", "DROP TABLE a;"),
            ("migrations/.keep", ""),
        ]);
        let ms = run(&dir, "migrations");
        assert_eq!(ms[0].tool, Tool::Diesel);
        assert_eq!(
            names(&ms),
            [
                "migrations/2023-01-01-000000_a/up.sql",
                "migrations/2023-02-01-000000_b/up.sql"
            ]
        );
        assert_eq!(ms[0].version, "20230101000000");
        assert!(ms[0].up.in_transaction);
        assert!(!ms[1].up.in_transaction);
        assert_eq!(
            ms[1].down.as_ref().unwrap().path,
            "migrations/2023-02-01-000000_b/down.sql"
        );
    }

    #[test]
    fn dbmate_sections_with_lines_and_transaction_flag() {
        let dir = tree(&[
            (
                "db/migrations/20200102000000_b.sql",
                "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON a (x);\n\n-- migrate:down\nDROP INDEX i;\n",
            ),
            (
                "db/migrations/20200101000000_a.sql",
                "-- a comment\n-- migrate:up\nCREATE TABLE a (x int);\n-- migrate:down\nDROP TABLE a;\n",
            ),
        ]);
        let ms = run(&dir, "db/migrations");
        assert_eq!(ms[0].tool, Tool::Dbmate);
        assert_eq!(ms[0].version, "20200101000000");
        assert_eq!(ms[0].up.contents, "CREATE TABLE a (x int);\n");
        assert_eq!(ms[0].up.first_line, 3);
        assert!(ms[0].up.in_transaction);
        let down = ms[0].down.as_ref().unwrap();
        assert_eq!(down.contents, "DROP TABLE a;\n");
        assert_eq!(down.first_line, 5);
        assert!(!ms[1].up.in_transaction);
        assert_eq!(ms[1].up.first_line, 2);
    }

    #[test]
    fn flyway_orders_versions_numerically_with_undo_and_repeatable() {
        let dir = tree(&[
            ("sql/V10__ten.sql", "SELECT 10;"),
            ("sql/V2__two.sql", "SELECT 2;"),
            ("sql/V1_1__one_one.sql", "SELECT 11;"),
            ("sql/V1__one.sql", "SELECT 1;"),
            ("sql/U2__two.sql", "SELECT -2;"),
            ("sql/R__views.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;"),
            ("sql/V2__two.sql.conf", "executeInTransaction=false\n"),
        ]);
        let ms = run(&dir, "sql");
        assert_eq!(ms[0].tool, Tool::Flyway);
        assert_eq!(
            names(&ms),
            [
                "sql/V1__one.sql",
                "sql/V1_1__one_one.sql",
                "sql/V2__two.sql",
                "sql/V10__ten.sql",
                "sql/R__views.sql"
            ]
        );
        assert_eq!(ms[1].version, "1.1");
        assert_eq!(ms[2].down.as_ref().unwrap().path, "sql/U2__two.sql");
        assert!(!ms[2].up.in_transaction);
        assert!(ms[3].up.in_transaction);
    }

    #[test]
    fn unknown_layout_is_lexicographic_with_the_assumption() {
        let dir = tree(&[("x/b.sql", "SELECT 2;"), ("x/a.sql", "SELECT 1;")]);
        let ms = run(&dir, "x");
        assert_eq!(ms[0].tool, Tool::Plain);
        assert_eq!(names(&ms), ["x/a.sql", "x/b.sql"]);
        assert!(ms[0].up.in_transaction);
        let options = Options {
            cwd: dir.path().to_path_buf(),
            assume_in_transaction: false,
            tool: None,
            files: Arc::new(FsGrants::of_paths(&[PathBuf::from(".")], dir.path())),
        };
        let ms = discover(&[PathBuf::from("x")], &options).unwrap();
        assert!(!ms[0].up.in_transaction);
    }

    #[test]
    fn single_files_and_missing_paths() {
        let dir = tree(&[("m/20240101000000_a.sql", "-- no-transaction\nSELECT 1;")]);
        let ms = run(&dir, "m/20240101000000_a.sql");
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].tool, Tool::Sqlx);
        assert!(!ms[0].up.in_transaction);
        let options = Options {
            cwd: dir.path().to_path_buf(),
            assume_in_transaction: true,
            tool: None,
            files: Arc::new(FsGrants::of_paths(&[PathBuf::from(".")], dir.path())),
        };
        let err = discover(&[PathBuf::from("nope")], &options).unwrap_err();
        assert_eq!(err.to_string(), "nope: no such file or directory");
    }

    #[test]
    fn natural_order() {
        assert_eq!(natural("2", "10"), Ordering::Less);
        assert_eq!(natural("0002", "10"), Ordering::Less);
        assert_eq!(flyway_version_cmp("1.2", "1.10"), Ordering::Less);
        assert_eq!(flyway_version_cmp("1.0", "1"), Ordering::Equal);
    }
}
