//! Case files: the TOML a plugin project keeps under `cases/`, read into
//! typed [`Case`]s. Every error names the file, the line and the column.
//!
//! ```toml
//! [[case]]
//! name = "the health endpoint answers"
//! check = "acme.health"
//! params = { url = "https://status.example/health" }
//! env = { APP_MODE = "prod" }
//! files = { "config/app.yaml" = "mode: prod\n" }
//!
//! [[case.http]]
//! method = "GET"
//! url = "https://status.example/health"
//! status = 200
//! headers = { "content-type" = "text/plain" }
//! body = "ok"
//!
//! [[case.net]]
//! target = "db.internal:5432"
//! connected = true
//! reply = "+PONG\r\n"
//!
//! [[case.sql]]
//! connection = "app"
//! statement = "SELECT name, email FROM users"   # or statement_regex = "(?i)from users"
//! columns = ["name", "email"]
//! rows = [{ name = "alice", email = "a@example.com" }, { name = "bob" }]  # bob's email is NULL
//!
//! [[case.expect]]
//! status = "pass"
//! subject = "https://status.example/health"
//! message = "answered 200"   # a regex, optional
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use gate_core::model::Status;
use gate_sandbox::capabilities::{ConnectStub, HttpStub, NetStub, SqlStub, StatementMatch, Stubs};
use gate_sandbox::grant::{NetTarget, check_url};
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

/// One case: a check run with its params, fixture files and stubbed
/// capabilities, and the findings it must return.
#[derive(Clone, Debug)]
pub struct Case {
    /// The case file, as found under the project.
    pub file: PathBuf,
    /// 1-based line of the case's `name`.
    pub line: usize,
    pub name: String,
    pub check: String,
    /// The check's params, as JSON (`{}` when the case gives none).
    pub params: serde_json::Value,
    /// Relative path (only normal components) → contents.
    pub files: BTreeMap<PathBuf, String>,
    pub stubs: Stubs,
    pub expect: Vec<Expectation>,
}

/// One finding a case expects.
#[derive(Clone, Debug)]
pub struct Expectation {
    pub status: Status,
    /// Matched exactly.
    pub subject: String,
    /// Searched in the finding's message, when given.
    pub message: Option<Regex>,
}

/// A case file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{column}: {message}\nhelp: {help}", .file.display())]
pub struct CaseFileError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

const HELP: &str = "see docs/plugins/testing.md for the case-file format";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    case: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: Spanned<String>,
    check: String,
    #[serde(default)]
    params: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    files: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    http: Vec<RawHttp>,
    #[serde(default)]
    net: Vec<RawNet>,
    #[serde(default)]
    sql: Vec<RawSql>,
    #[serde(default)]
    expect: Vec<RawExpect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default = "get")]
    method: String,
    url: Spanned<String>,
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
}

fn get() -> String {
    "GET".to_string()
}

fn ok() -> u16 {
    200
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNet {
    target: Spanned<String>,
    #[serde(default = "yes")]
    connected: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    reply: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSql {
    connection: String,
    #[serde(default)]
    statement: Option<String>,
    #[serde(default)]
    statement_regex: Option<Spanned<String>>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    rows: Vec<Spanned<BTreeMap<String, toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    status: Status,
    subject: String,
    #[serde(default)]
    message: Option<Spanned<String>>,
}

/// Where a case file's text is, to turn byte offsets into lines and columns.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> CaseFileError {
        let (line, column) = line_column(self.text, span.start);
        CaseFileError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
            help: HELP.to_string(),
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// Reads the cases of one file; `file` is how the file is named in errors
/// and reports.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Case>, CaseFileError> {
    let source = Source { file, text };
    let raw: RawFile = toml::from_str(text)
        .map_err(|e| source.error(e.span().unwrap_or(0..0), e.message().trim_end().to_string()))?;
    raw.case
        .into_iter()
        .map(|case| typed(&source, case))
        .collect()
}

fn typed(source: &Source<'_>, raw: RawCase) -> Result<Case, CaseFileError> {
    let name_span = raw.name.span();
    let name = raw.name.into_inner();
    if raw.expect.is_empty() {
        return Err(source.error(
            name_span,
            format!(
                "case `{name}` expects nothing; add at least one [[case.expect]] (status, subject)"
            ),
        ));
    }
    let mut files = BTreeMap::new();
    let (files_span, raw_files) = match raw.files {
        Some(f) => (f.span(), f.into_inner()),
        None => (0..0, BTreeMap::new()),
    };
    for (path, contents) in raw_files {
        let relative = fixture_path(&path).ok_or_else(|| {
            source.error(
                files_span.clone(),
                format!(
                    "case `{name}`: file `{path}` must be a relative path without `..`, `.` or empty parts"
                ),
            )
        })?;
        files.insert(relative, contents);
    }
    let stubs = Stubs {
        env: raw.env,
        http: raw
            .http
            .into_iter()
            .map(|h| http_stub(source, h))
            .collect::<Result<_, _>>()?,
        net: raw
            .net
            .into_iter()
            .map(|n| net_stub(source, n))
            .collect::<Result<_, _>>()?,
        sql: raw
            .sql
            .into_iter()
            .map(|s| sql_stub(source, &name, name_span.clone(), s))
            .collect::<Result<_, _>>()?,
    };
    let expect = raw
        .expect
        .into_iter()
        .map(|e| expectation(source, e))
        .collect::<Result<_, _>>()?;
    Ok(Case {
        file: source.file.to_path_buf(),
        line: line_column(source.text, name_span.start).0,
        name,
        check: raw.check,
        params: serde_json::Value::Object(raw.params.unwrap_or_default()),
        files,
        stubs,
        expect,
    })
}

/// `path` as a relative path of normal components only, or `None`.
fn fixture_path(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    let normal = p.components().all(|c| matches!(c, Component::Normal(_)));
    (normal && !path.is_empty() && !path.split('/').any(|part| part.is_empty() || part == "."))
        .then(|| p.to_path_buf())
}

fn http_stub(source: &Source<'_>, raw: RawHttp) -> Result<HttpStub, CaseFileError> {
    let span = raw.url.span();
    let url = check_url(raw.url.get_ref())
        .map_err(|e| source.error(span, format!("[[case.http]] url: {e}")))?;
    Ok(HttpStub {
        method: raw.method.to_ascii_uppercase(),
        url,
        status: raw.status,
        headers: raw.headers.into_iter().collect(),
        body: raw.body.into_bytes(),
    })
}

fn net_stub(source: &Source<'_>, raw: RawNet) -> Result<NetStub, CaseFileError> {
    let span = raw.target.span();
    let target = NetTarget::parse(raw.target.get_ref())
        .map_err(|e| source.error(span, format!("[[case.net]] target: {e}")))?;
    Ok(NetStub {
        target,
        connect: Some(ConnectStub {
            connected: raw.connected,
            error: raw.error,
        }),
        reply: raw.reply.map(String::into_bytes),
    })
}

fn sql_stub(
    source: &Source<'_>,
    case: &str,
    case_span: Range<usize>,
    raw: RawSql,
) -> Result<SqlStub, CaseFileError> {
    let statement = match (raw.statement, raw.statement_regex) {
        (Some(text), None) => StatementMatch::Exact(text),
        (None, Some(re)) => {
            let span = re.span();
            StatementMatch::Pattern(
                Regex::new(re.get_ref()).map_err(|e| {
                    source.error(span, format!("[[case.sql]] statement_regex: {e}"))
                })?,
            )
        }
        _ => {
            return Err(source.error(
                case_span,
                format!(
                    "case `{case}`: each [[case.sql]] needs exactly one of `statement` (the text) and `statement_regex`"
                ),
            ));
        }
    };
    let mut rows = Vec::with_capacity(raw.rows.len());
    for row in raw.rows {
        let span = row.span();
        let row = row.into_inner();
        if let Some(extra) = row.keys().find(|k| !raw.columns.contains(k)) {
            return Err(source.error(
                span,
                format!(
                    "[[case.sql]] row names column `{extra}`, which is not in `columns` ({})",
                    raw.columns.join(", ")
                ),
            ));
        }
        rows.push(
            raw.columns
                .iter()
                .map(|c| row.get(c).map(cell_text))
                .collect(),
        );
    }
    Ok(SqlStub {
        connection: raw.connection,
        statement,
        columns: raw.columns,
        rows,
    })
}

/// A cell as PostgreSQL's text output would show it.
fn cell_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Boolean(true) => "t".to_string(),
        toml::Value::Boolean(false) => "f".to_string(),
        other => other.to_string(),
    }
}

fn expectation(source: &Source<'_>, raw: RawExpect) -> Result<Expectation, CaseFileError> {
    let message = match raw.message {
        None => None,
        Some(re) => {
            let span = re.span();
            Some(Regex::new(re.get_ref()).map_err(|e| {
                source.error(
                    span,
                    format!("[[case.expect]] message is not a valid regex: {e}"),
                )
            })?)
        }
    };
    Ok(Expectation {
        status: raw.status,
        subject: raw.subject,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[case]]
name = "all"
check = "acme.x"
params = { paths = ["a"], max = 3 }
env = { APP = "1" }
files = { "a/b.txt" = "hi" }

[[case.http]]
url = "https://example.com/x"
body = "ok"

[[case.net]]
target = "db:5432"
connected = false
error = "connection refused"

[[case.sql]]
connection = "app"
statement_regex = "(?i)from users"
columns = ["name", "email"]
rows = [{ name = "alice", email = "a@x" }, { name = "bob" }, { name = 3, email = true }]

[[case.expect]]
status = "pass"
subject = "a"
message = "^present"
"#;

    #[test]
    fn reads_every_key() {
        let cases = parse(Path::new("cases/x.toml"), GOOD).unwrap();
        let c = &cases[0];
        assert_eq!(
            (c.name.as_str(), c.check.as_str(), c.line),
            ("all", "acme.x", 3)
        );
        assert_eq!(c.params, serde_json::json!({"paths": ["a"], "max": 3}));
        assert_eq!(c.files[Path::new("a/b.txt")], "hi");
        assert_eq!(c.stubs.env["APP"], "1");
        assert_eq!(
            (c.stubs.http[0].method.as_str(), c.stubs.http[0].status),
            ("GET", 200)
        );
        assert!(!c.stubs.net[0].connect.as_ref().unwrap().connected);
        assert_eq!(
            c.stubs.sql[0].rows,
            vec![
                vec![Some("alice".into()), Some("a@x".into())],
                vec![Some("bob".into()), None],
                vec![Some("3".into()), Some("t".into())],
            ]
        );
        assert!(c.expect[0].message.as_ref().unwrap().is_match("present: a"));
    }

    fn error(text: &str) -> CaseFileError {
        parse(Path::new("cases/bad.toml"), text).unwrap_err()
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = error("[[case]]\nname = \"x\"\ncheck = \"acme.x\"\nbogus = 1\n");
        assert_eq!((e.line, e.column), (4, 1), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
        assert!(e.to_string().starts_with("cases/bad.toml:4:1: "), "{e}");

        let e = error("[[case]]\nname = \"x\"\ncheck = \"acme.x\"\n");
        assert_eq!((e.line, e.column), (2, 8), "{e}");
        assert!(e.message.contains("expects nothing"), "{e}");

        let e = error(
            "[[case]]\nname = \"x\"\ncheck = \"acme.x\"\n[[case.expect]]\nstatus = \"pass\"\nsubject = \"s\"\nmessage = \"(\"\n",
        );
        assert_eq!((e.line, e.column), (7, 11), "{e}");

        let e = error(
            "[[case]]\nname = \"x\"\ncheck = \"acme.x\"\nfiles = { \"../up\" = \"\" }\n[[case.expect]]\nstatus = \"oops\"\nsubject = \"s\"\n",
        );
        assert_eq!(e.line, 6, "{e}");

        let e = error(
            "[[case]]\nname = \"x\"\ncheck = \"acme.x\"\nfiles = { \"../up\" = \"\" }\n[[case.expect]]\nstatus = \"pass\"\nsubject = \"s\"\n",
        );
        assert_eq!((e.line, e.column), (4, 9), "{e}");
        assert!(e.message.contains("`../up`"), "{e}");
    }

    #[test]
    fn rows_name_only_declared_columns() {
        let e = error(
            "[[case]]\nname = \"x\"\ncheck = \"acme.x\"\n[[case.sql]]\nconnection = \"a\"\nstatement = \"SELECT 1\"\ncolumns = [\"one\"]\nrows = [{ two = 2 }]\n[[case.expect]]\nstatus = \"pass\"\nsubject = \"s\"\n",
        );
        assert_eq!((e.line, e.column), (8, 9), "{e}");
        assert!(e.message.contains("`two`"), "{e}");
    }

    #[test]
    fn fixture_paths_stay_inside() {
        assert!(fixture_path("a/b.txt").is_some());
        for bad in ["", "/etc/passwd", "../x", "a/../b", "./a", "a//b", "a/"] {
            assert!(fixture_path(bad).is_none(), "{bad}");
        }
    }
}
