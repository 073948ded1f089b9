//! The analysis: split, parse, classify, apply the rules, honour ignores.

use std::collections::{HashMap, HashSet};

use gate_sqlkit::{self as sk, Token, TokenKind};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::rules::{self, Rule};
use crate::{CHECK_ID, Class, Finding, Location, MigrationFile, Severity, Status};

const DEFAULT_PG: u32 = 15;
const STATEMENT_CHARS: usize = 160;

/// The policy's `[migrations]` table, plus the host's `scope`.
#[derive(Debug)]
struct Config {
    pg: u32,
    exclude: HashSet<String>,
    include: HashSet<String>,
    assume_in_transaction: bool,
    scope: Scope,
}

/// Which of the given files run together, so that an object one of them
/// creates is new (empty, unused by running code) to the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// `"migration"` (the default): each file is a migration applied on its
    /// own, after the ones before it, which exist and hold data by then.
    /// Only objects created earlier in the same file are new.
    Migration,
    /// `"run"`: the files are one pending set, applied together in one
    /// deploy; objects created by any earlier file of the set are new.
    Run,
}

fn rule_list(v: &serde_json::Value, key: &str) -> Result<HashSet<String>, String> {
    let Some(items) = v.as_array() else {
        return Err(format!("`{key}` must be a list of rule ids, got {v}"));
    };
    let mut out = HashSet::new();
    for item in items {
        let Some(id) = item.as_str() else {
            return Err(format!("`{key}` must be a list of rule ids, got {item}"));
        };
        if rules::find(id).is_none() {
            return Err(format!(
                "`{key}` names an unknown rule `{id}`; `gate plugins describe migrations` lists the rules"
            ));
        }
        out.insert(id.to_string());
    }
    Ok(out)
}

fn parse_config(text: &str) -> Result<Config, String> {
    let mut cfg = Config {
        pg: DEFAULT_PG,
        exclude: HashSet::new(),
        include: HashSet::new(),
        assume_in_transaction: false,
        scope: Scope::Migration,
    };
    if text.trim().is_empty() {
        return Ok(cfg);
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("the migrations config is not valid JSON: {e}"))?;
    let Some(map) = value.as_object() else {
        return Err(format!(
            "the migrations config must be a table (JSON object), got {value}"
        ));
    };
    if let Some(v) = map.get("pg_version").filter(|v| !v.is_null()) {
        let major = match v {
            serde_json::Value::Number(n) => n.as_f64().map(|f| f as u32),
            serde_json::Value::String(s) => s.split('.').next().and_then(|m| m.trim().parse().ok()),
            _ => None,
        };
        match major {
            Some(m) if (9..=40).contains(&m) => cfg.pg = m,
            _ => {
                return Err(format!(
                    "`pg_version` must be a PostgreSQL major version such as 15, got {v}"
                ));
            }
        }
    }
    if let Some(v) = map.get("exclude").filter(|v| !v.is_null()) {
        cfg.exclude = rule_list(v, "exclude")?;
    }
    if let Some(v) = map.get("include").filter(|v| !v.is_null()) {
        cfg.include = rule_list(v, "include")?;
    }
    if let Some(v) = map.get("assume_in_transaction").filter(|v| !v.is_null()) {
        cfg.assume_in_transaction = v
            .as_bool()
            .ok_or_else(|| format!("`assume_in_transaction` must be true or false, got {v}"))?;
    }
    if let Some(v) = map.get("scope").filter(|v| !v.is_null()) {
        cfg.scope = match v.as_str() {
            Some("migration") => Scope::Migration,
            Some("run") => Scope::Run,
            _ => {
                return Err(format!("`scope` must be \"migration\" or \"run\", got {v}"));
            }
        };
    }
    Ok(cfg)
}

impl Config {
    fn enabled(&self, rule: &Rule) -> bool {
        !self.exclude.contains(rule.id) && (!rule.opt_in || self.include.contains(rule.id))
    }
}

/// A rule hit inside one statement.
struct Hit {
    rule: &'static str,
    message: String,
    object: Option<String>,
    /// Byte offset in the statement text the finding points at (default: its start).
    at: Option<usize>,
}

fn hit(rule: &'static str, message: String, object: Option<String>) -> Hit {
    Hit {
        rule,
        message,
        object,
        at: None,
    }
}

// ---------------------------------------------------------------------------
// Token helpers.

fn is(t: &[Token], i: usize, kw: &str) -> bool {
    t.get(i).is_some_and(|x| x.is(kw))
}

fn seq(t: &[Token], i: usize, kws: &[&str]) -> bool {
    kws.iter().enumerate().all(|(k, kw)| is(t, i + k, kw))
}

fn punct(t: &[Token], i: usize, p: &str) -> bool {
    t.get(i)
        .is_some_and(|x| x.kind == TokenKind::Punct && x.text == p)
}

/// Whether the keyword sequence occurs anywhere at parenthesis depth 0.
fn has_seq(t: &[Token], kws: &[&str]) -> bool {
    let mut depth = 0i32;
    for i in 0..t.len() {
        if punct(t, i, "(") {
            depth += 1;
        } else if punct(t, i, ")") {
            depth -= 1;
        } else if depth == 0 && seq(t, i, kws) {
            return true;
        }
    }
    false
}

fn has_anywhere(t: &[Token], kw: &str) -> bool {
    t.iter().any(|x| x.is(kw))
}

/// A possibly qualified name at `i`: (lower-cased `a.b`, index after it).
fn name_at(t: &[Token], i: usize) -> Option<(String, usize)> {
    let first = t.get(i).filter(|x| x.is_name())?;
    let mut name = first.ident();
    let mut j = i + 1;
    while punct(t, j, ".") && t.get(j + 1).is_some_and(Token::is_name) {
        name.push('.');
        name.push_str(&t[j + 1].ident());
        j += 2;
    }
    Some((name, j))
}

fn last_part(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Skips `IF EXISTS` / `IF NOT EXISTS` at `i`.
fn skip_if(t: &[Token], i: usize) -> (bool, usize) {
    if seq(t, i, &["IF", "NOT", "EXISTS"]) {
        (true, i + 3)
    } else if seq(t, i, &["IF", "EXISTS"]) {
        (true, i + 2)
    } else {
        (false, i)
    }
}

/// The parenthesis depth at `end`, counting from `start`.
fn depth_at(t: &[Token], start: usize, end: usize) -> i32 {
    t[start..end].iter().fold(0, |d, x| {
        if x.kind == TokenKind::Punct && x.text == "(" {
            d + 1
        } else if x.kind == TokenKind::Punct && x.text == ")" {
            d - 1
        } else {
            d
        }
    })
}

/// Splits at commas on parenthesis depth 0.
fn split_commas(t: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for i in 0..t.len() {
        if punct(t, i, "(") || punct(t, i, "[") {
            depth += 1;
        } else if punct(t, i, ")") || punct(t, i, "]") {
            depth -= 1;
        } else if depth == 0 && punct(t, i, ",") {
            out.push(&t[start..i]);
            start = i + 1;
        }
    }
    out.push(&t[start..]);
    out.retain(|s| !s.is_empty());
    out
}

/// The tokens inside the parenthesis group opening at `i`, and the index after it.
fn group(t: &[Token], i: usize) -> Option<(&[Token], usize)> {
    if !punct(t, i, "(") {
        return None;
    }
    let mut depth = 0;
    for j in i..t.len() {
        if punct(t, j, "(") {
            depth += 1;
        } else if punct(t, j, ")") {
            depth -= 1;
            if depth == 0 {
                return Some((&t[i + 1..j], j + 1));
            }
        }
    }
    Some((&t[i + 1..], t.len()))
}

/// The boolean option `name` of a parenthesised option list such as
/// `(FULL, VERBOSE)` or `(CONCURRENTLY false)`: `None` when absent, and on
/// unless its value is false, off or 0.
fn option_on(options: &[Token], name: &str) -> Option<bool> {
    split_commas(options)
        .into_iter()
        .find(|o| o[0].is(name))
        .map(|o| match o.get(1) {
            None => true,
            Some(v) => !(v.is("FALSE") || v.is("OFF") || v.text == "0"),
        })
}

/// An AST object name as PostgreSQL folds it: unquoted parts lower-cased.
fn ast_name(name: &ast::ObjectName) -> String {
    name.0
        .iter()
        .filter_map(ast::ObjectNamePart::as_ident)
        .map(|i| match i.quote_style {
            Some(_) => i.value.clone(),
            None => i.value.to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

// ---------------------------------------------------------------------------
// Column definitions.

const COLUMN_CONSTRAINT_WORDS: &[&str] = &[
    "CONSTRAINT",
    "NOT",
    "NULL",
    "DEFAULT",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "CHECK",
    "GENERATED",
    "COLLATE",
    "COMPRESSION",
    "STORAGE",
];

struct ColumnDef {
    name: String,
    ty: Vec<Token>,
    not_null: bool,
    /// The DEFAULT expression's tokens (`NULL` for `DEFAULT NULL`).
    default: Option<Vec<Token>>,
    primary_key: bool,
    unique: bool,
    references: bool,
    check: bool,
    identity: bool,
    stored: bool,
    /// Byte offset of the name in the statement.
    at: usize,
}

fn column_def(t: &[Token]) -> Option<ColumnDef> {
    let first = t.first().filter(|x| x.is_name())?;
    let mut col = ColumnDef {
        name: first.ident(),
        ty: Vec::new(),
        not_null: false,
        default: None,
        primary_key: false,
        unique: false,
        references: false,
        check: false,
        identity: false,
        stored: false,
        at: first.span.start,
    };
    let is_boundary = |tok: &Token| {
        tok.kind == TokenKind::Word && COLUMN_CONSTRAINT_WORDS.contains(&tok.text.as_str())
    };
    let mut i = 1;
    let mut depth = 0i32;
    while i < t.len() {
        if punct(t, i, "(") {
            depth += 1;
        } else if punct(t, i, ")") {
            depth -= 1;
        } else if depth == 0 && is_boundary(&t[i]) {
            break;
        }
        col.ty.push(t[i].clone());
        i += 1;
    }
    while i < t.len() {
        if seq(t, i, &["NOT", "NULL"]) {
            col.not_null = true;
            i += 2;
        } else if is(t, i, "DEFAULT") {
            let start = i + 1;
            let mut j = start;
            let mut depth = 0i32;
            while j < t.len() {
                if punct(t, j, "(") {
                    depth += 1;
                } else if punct(t, j, ")") {
                    depth -= 1;
                } else if depth == 0 && j > start && is_boundary(&t[j]) {
                    break;
                }
                j += 1;
            }
            col.default = Some(t[start..j].to_vec());
            i = j;
        } else if seq(t, i, &["PRIMARY", "KEY"]) {
            col.primary_key = true;
            i += 2;
        } else if is(t, i, "UNIQUE") {
            col.unique = true;
            i += 1;
        } else if is(t, i, "REFERENCES") {
            col.references = true;
            i += 1;
        } else if is(t, i, "CHECK") {
            col.check = true;
            i += 1;
        } else if is(t, i, "GENERATED") {
            if has_anywhere(&t[i..], "IDENTITY") {
                col.identity = true;
            }
            if has_anywhere(&t[i..], "STORED") {
                col.stored = true;
            }
            i += 1;
        } else {
            i += 1;
        }
    }
    Some(col)
}

fn type_text(ty: &[Token]) -> String {
    let mut s = String::new();
    for (k, tok) in ty.iter().enumerate() {
        let punct_here = tok.kind == TokenKind::Punct
            && matches!(tok.text.as_str(), "(" | ")" | "," | "[" | "]" | ".");
        let after_open = k > 0 && (punct(ty, k - 1, "(") || punct(ty, k - 1, "."));
        let glue = k > 0 && !punct_here && !after_open;
        if glue {
            s.push(' ');
        }
        s.push_str(&tok.text.to_lowercase());
    }
    s
}

/// The type-preference rules a column type trips.
fn type_rules(ty: &[Token]) -> Vec<&'static str> {
    // Skip a `pg_catalog.` qualifier.
    let ty = if ty.len() > 2 && punct(ty, 1, ".") {
        &ty[2..]
    } else {
        ty
    };
    let Some(first) = ty.first().and_then(type_name) else {
        return Vec::new();
    };
    let has_len = punct(ty, 1, "(") || (is(ty, 1, "VARYING") && punct(ty, 2, "("));
    match first.as_str() {
        "varchar" if has_len => vec!["prefer-text"],
        "character" if is(ty, 1, "VARYING") => {
            if has_len {
                vec!["prefer-text"]
            } else {
                vec![]
            }
        }
        "char" | "character" | "bpchar" | "nchar" => vec!["ban-char"],
        "int" | "integer" | "int4" => vec!["prefer-bigint"],
        "serial" | "serial4" => vec!["prefer-bigint", "prefer-identity"],
        "bigserial" | "serial8" => vec!["prefer-identity"],
        "smallint" | "int2" => vec!["prefer-bigint-over-smallint"],
        "smallserial" | "serial2" => vec!["prefer-bigint-over-smallint", "prefer-identity"],
        "timestamp" if !has_seq(ty, &["WITH", "TIME", "ZONE"]) => vec!["prefer-timestamptz"],
        _ => vec![],
    }
}

/// A type's name as PostgreSQL resolves it: `"bpchar"` and `"serial"` are
/// the same types as the unquoted words (a quoted name is case-sensitive,
/// so `"SERIAL"` is not).
fn type_name(tok: &Token) -> Option<String> {
    tok.is_name().then(|| tok.ident())
}

fn is_serial(ty: &[Token]) -> bool {
    ty.first().and_then(type_name).is_some_and(|x| {
        matches!(
            x.as_str(),
            "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2"
        )
    })
}

/// Functions that are safe in a default from PostgreSQL 11 (stable or immutable).
const NON_VOLATILE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "statement_timestamp",
    "transaction_timestamp",
    "lower",
    "upper",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "concat",
    "to_json",
    "to_jsonb",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "make_interval",
    "make_date",
    "date_trunc",
    "array",
    "cast",
    "row",
];

/// If the default calls a volatile (or unknown, possibly volatile) function, its name.
fn volatile_call(default: &[Token]) -> Option<String> {
    for i in 0..default.len() {
        let tok = &default[i];
        if tok.kind != TokenKind::Word || !punct(default, i + 1, "(") {
            continue;
        }
        // `'0'::numeric(10,2)` and `CAST(x AS numeric(10,2))` are types, not calls.
        if i > 0 && (punct(default, i - 1, "::") || is(default, i - 1, "AS")) {
            continue;
        }
        let name = tok.text.to_lowercase();
        if !NON_VOLATILE.contains(&name.as_str()) {
            return Some(name);
        }
    }
    None
}

fn is_null_default(d: &Option<Vec<Token>>) -> bool {
    match d {
        None => true,
        Some(t) => t.len() == 1 && t[0].is("NULL"),
    }
}

// ---------------------------------------------------------------------------
// State.

/// Names of objects created by the migrations being judged, with the schema
/// the statement gave. A qualified name matches the same qualified name or
/// an unqualified one (search_path is not known here); an unqualified name
/// matches any schema's object of that name.
#[derive(Default)]
struct Objects(HashMap<String, HashSet<Option<String>>>);

/// `(schema, name)` of a possibly qualified name (`db.schema.name` keeps `schema`).
fn split_name(name: &str) -> (Option<String>, String) {
    let mut parts = name.rsplit('.');
    let last = parts.next().unwrap_or(name).to_string();
    (parts.next().map(str::to_string), last)
}

impl Objects {
    fn insert(&mut self, name: &str) {
        let (schema, last) = split_name(name);
        self.0.entry(last).or_default().insert(schema);
    }

    fn remove(&mut self, name: &str) {
        let (schema, last) = split_name(name);
        if let Some(schemas) = self.0.get_mut(&last) {
            schemas.remove(&schema);
        }
    }

    fn contains(&self, name: &str) -> bool {
        let (schema, last) = split_name(name);
        self.0.get(&last).is_some_and(|schemas| match schema {
            None => !schemas.is_empty(),
            Some(s) => schemas.contains(&Some(s)) || schemas.contains(&None),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Table,
    Index,
    Type,
}

#[derive(Default)]
struct RunState {
    /// New objects (see [`Scope`]).
    tables: Objects,
    indexes: Objects,
    types: Objects,
    /// NOT VALID `CHECK (col IS NOT NULL)` constraints: name → (table, column).
    not_null_checks: HashMap<String, (String, String)>,
    /// (table, column) with a validated `IS NOT NULL` check.
    validated_not_null: HashSet<(String, String)>,
}

#[derive(Default)]
struct FileState {
    /// The tool runs the file in a transaction.
    file_tx: bool,
    /// The tool's transaction is open: from the start of a `file_tx` file
    /// until the file's own COMMIT/ROLLBACK ends it, and again after a BEGIN
    /// that reopens it for the tool's final COMMIT.
    tool_open: bool,
    /// The file's statements run in more than one transaction (or outside
    /// any), so a failure part-way leaves earlier parts committed.
    several_units: bool,
    /// Objects created in the open transaction, dropped from the new
    /// objects again if it rolls back.
    created_in_tx: Vec<(Kind, String)>,
    /// An explicit BEGIN is open: its statement's line, column and the
    /// lines of the `gate:ignore`s above it.
    explicit: Option<(u32, u32, Vec<u32>)>,
    lock_timeout: bool,
    statement_timeout: bool,
    lock_timeout_reported: bool,
    statement_timeout_reported: bool,
    /// Constraints added NOT VALID in the current transaction.
    not_valid_in_tx: HashSet<String>,
    /// Enum values added in the current transaction.
    enum_values_in_tx: Vec<String>,
}

impl FileState {
    fn in_tx(&self) -> bool {
        self.tool_open || self.explicit.is_some()
    }

    fn end_tx(&mut self) {
        self.not_valid_in_tx.clear();
        self.enum_values_in_tx.clear();
        self.created_in_tx.clear();
    }

    /// ROLLBACK: what the transaction created does not exist any more.
    fn roll_back(&mut self, run: &mut RunState) {
        for (kind, name) in self.created_in_tx.drain(..) {
            run.objects(kind).remove(&name);
        }
        self.end_tx();
    }
}

impl RunState {
    fn objects(&mut self, kind: Kind) -> &mut Objects {
        match kind {
            Kind::Table => &mut self.tables,
            Kind::Index => &mut self.indexes,
            Kind::Type => &mut self.types,
        }
    }
}

/// Whether the statements of a file, from the tokens of each, run in more
/// than one transaction or outside one: the same walk as the analysis
/// (BEGIN opens, COMMIT/ROLLBACK closes, the tool's transaction opens the
/// file when `file_tx`), counting transactions that hold a statement and
/// statements outside any transaction.
fn several_units(statements: &[Vec<Token>], file_tx: bool) -> bool {
    let mut open = file_tx;
    let mut holds = false;
    let mut units = 0;
    for tokens in statements {
        match sk::transaction_control(tokens) {
            Some(sk::TxControl::Begin) => {
                if !open {
                    open = true;
                    holds = false;
                }
            }
            Some(sk::TxControl::Commit | sk::TxControl::Rollback) => {
                if open && holds {
                    units += 1;
                }
                open = false;
                holds = false;
            }
            None if open => holds = true,
            None => units += 1,
        }
    }
    if open && holds {
        units += 1;
    }
    units > 1
}

struct Analysis<'a> {
    cfg: &'a Config,
    run: &'a mut RunState,
    file: &'a mut FileState,
    t: &'a [Token],
    /// sqlparser's statements, when it parsed this one.
    ast: Option<&'a [ast::Statement]>,
    hits: Vec<Hit>,
    class: Class,
    /// The statement takes a lock that blocks reads or writes on an existing object.
    locks: bool,
    /// Counts for statement_timeout too (not CREATE INDEX CONCURRENTLY).
    long_lock: bool,
    /// The statement alters a foreign table.
    foreign: bool,
}

impl Analysis<'_> {
    fn add(&mut self, rule: &'static str, message: String, object: Option<String>) {
        self.hits.push(hit(rule, message, object));
    }

    fn add_at(&mut self, rule: &'static str, message: String, object: Option<String>, at: usize) {
        self.hits.push(Hit {
            at: Some(at),
            ..hit(rule, message, object)
        });
    }

    fn classify(&mut self, c: Class) {
        self.class = self.class.max(c);
    }

    /// A statement that fails when re-run needs its guard unless the whole
    /// file is one transaction: outside a transaction, or in one of several
    /// transactions, a failure part-way leaves it applied.
    fn robust(&mut self, guarded: bool, what: &str, object: &str) {
        if guarded || (self.file.in_tx() && !self.file.several_units) {
            return;
        }
        let guard = if what.starts_with("DROP") {
            "IF EXISTS"
        } else {
            "IF NOT EXISTS"
        };
        let where_ = if self.file.in_tx() {
            "in one of several transactions of the file"
        } else {
            "outside a transaction"
        };
        self.add(
            "prefer-robust-statements",
            format!("{what} {object} runs {where_} without {guard}, so re-running the migration after a partial failure fails."),
            Some(object.to_string()),
        );
    }

    fn table_is_new(&self, table: &str) -> bool {
        self.run.tables.contains(table)
    }

    /// Records an object the statement creates (new for the rest of the
    /// scope, unless its transaction rolls back).
    fn created(&mut self, kind: Kind, name: &str) {
        self.run.objects(kind).insert(name);
        if self.file.in_tx() {
            self.file.created_in_tx.push((kind, name.to_string()));
        }
    }

    /// The opt-in `require-table-schema` for a table the statement names.
    fn table_schema(&mut self, table: &str, verb: &str) {
        if !table.contains('.') {
            self.add(
                "require-table-schema",
                format!("{verb} {table} names the table without a schema; it resolves through whatever search_path is at run time."),
                Some(table.to_string()),
            );
        }
    }

    fn type_checks(&mut self, ty: &[Token], object: &str, at: usize) {
        for rule in type_rules(ty) {
            let text = type_text(ty);
            let message = match rule {
                "prefer-text" => {
                    format!("{object} is {text}; prefer text with a CHECK on its length.")
                }
                "ban-char" => format!("{object} is {text}; char(n) pads with spaces, prefer text."),
                "prefer-bigint" => format!("{object} is a 32-bit {text}; prefer bigint."),
                "prefer-bigint-over-smallint" => {
                    format!("{object} is a 16-bit {text}; prefer bigint.")
                }
                "prefer-identity" => {
                    format!("{object} is {text}; prefer bigint GENERATED BY DEFAULT AS IDENTITY.")
                }
                _ => format!("{object} is timestamp without time zone; prefer timestamptz."),
            };
            self.add_at(rule, message, Some(object.to_string()), at);
        }
    }

    fn long_identifiers(&mut self) {
        let mut seen = HashSet::new();
        for tok in self.t {
            if tok.is_name() && tok.ident().len() > 63 && seen.insert(tok.ident()) {
                let name = tok.ident();
                self.add_at(
                    "identifier-too-long",
                    format!(
                        "Identifier {name} is {} bytes; PostgreSQL truncates it to 63.",
                        name.len()
                    ),
                    Some(name),
                    tok.span.start,
                );
            }
        }
    }

    // -- statements ------------------------------------------------------

    fn statement(&mut self) {
        let t = self.t;
        let Some(first) = t.first() else { return };
        match first.text.as_str() {
            "BEGIN" | "START" if first.kind == TokenKind::Word => {}
            "COMMIT" | "END" | "ROLLBACK" | "ABORT" => {}
            "SET" | "RESET" => self.set(),
            "SELECT" => {
                self.classify(Class::Data);
                self.set_config();
                self.select_into();
            }
            "UPDATE" | "DELETE" => {
                self.classify(Class::Data);
                self.unbatched();
                self.duplicate_assignments();
            }
            "INSERT" => {
                self.classify(Class::Data);
                self.duplicate_assignments();
            }
            "COPY" | "MERGE" | "DO" | "CALL" | "WITH" | "VALUES" => self.classify(Class::Data),
            "REFRESH" if !has_anywhere(t, "CONCURRENTLY") => {
                self.classify(Class::Data);
                let view = (1..t.len())
                    .find(|&k| is(t, k, "VIEW"))
                    .and_then(|k| name_at(t, k + 1))
                    .map(|(n, _)| n)
                    .unwrap_or_default();
                self.add(
                    "refresh-matview-not-concurrently",
                    format!("REFRESH MATERIALIZED VIEW {view} without CONCURRENTLY blocks every read of {view} until it finishes."),
                    Some(view),
                );
            }
            "CREATE" => {
                self.long_identifiers();
                self.create();
            }
            "ALTER" => {
                self.long_identifiers();
                self.alter();
            }
            "DROP" => self.drop(),
            "TRUNCATE" => self.truncate(),
            "REINDEX" => self.reindex(),
            "VACUUM"
                if is(t, 1, "FULL")
                    || group(t, 1).is_some_and(|(o, _)| option_on(o, "FULL") == Some(true)) =>
            {
                self.locks = true;
                self.long_lock = true;
                self.add(
                    "vacuum-full-or-cluster",
                    "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock.".into(),
                    None,
                );
            }
            "CLUSTER" => {
                self.locks = true;
                self.long_lock = true;
                let object = name_at(t, 1).map(|(n, _)| n);
                self.add(
                    "vacuum-full-or-cluster",
                    format!(
                        "CLUSTER {} rewrites the table under an ACCESS EXCLUSIVE lock.",
                        object.as_deref().unwrap_or("")
                    )
                    .replace("CLUSTER  ", "CLUSTER "),
                    object,
                );
            }
            "LOCK" => {
                self.locks = true;
                self.long_lock = true;
            }
            _ => {}
        }
        self.enum_value_use();
    }

    /// UPDATE/DELETE without WHERE: from sqlparser's AST when it parsed the
    /// statement, otherwise from the tokens.
    fn unbatched(&mut self) {
        let target = match self.ast.and_then(|a| a.first()) {
            Some(ast::Statement::Update(u)) => match (&u.table.relation, &u.selection) {
                (ast::TableFactor::Table { name, .. }, None) => Some(ast_name(name)),
                _ => None,
            },
            Some(ast::Statement::Delete(d)) => {
                let tables = match &d.from {
                    ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
                };
                match (tables.first().map(|t| &t.relation), &d.selection, &d.using) {
                    (Some(ast::TableFactor::Table { name, .. }), None, None) => {
                        Some(ast_name(name))
                    }
                    _ => None,
                }
            }
            Some(_) => None,
            None => {
                let t = self.t;
                let mut i = 1;
                if is(t, i, "FROM") {
                    i += 1;
                }
                if is(t, i, "ONLY") {
                    i += 1;
                }
                match name_at(t, i) {
                    Some((name, _)) if !has_seq(t, &["WHERE"]) && !has_seq(t, &["USING"]) => {
                        Some(name)
                    }
                    _ => None,
                }
            }
        };
        let Some(table) = target else { return };
        if self.table_is_new(&table) {
            return;
        }
        let verb = self.t[0].text.clone();
        self.add(
            "unbatched-backfill",
            format!("{verb} of every row of {table} in one statement locks all its rows until the migration commits."),
            Some(table),
        );
    }

    /// The SET list of an UPDATE (or of `INSERT … ON CONFLICT DO UPDATE`)
    /// assigning one column twice, which PostgreSQL rejects ("multiple
    /// assignments to same column"): every assignment after the first.
    fn duplicate_assignments(&mut self) {
        let t = self.t;
        let mut depth = 0i32;
        let mut set = None;
        for i in 0..t.len() {
            if punct(t, i, "(") {
                depth += 1;
            } else if punct(t, i, ")") {
                depth -= 1;
            } else if depth == 0
                && is(t, i, "SET")
                && (t[0].is("UPDATE") || is(t, i.wrapping_sub(1), "UPDATE"))
            {
                set = Some(i + 1);
                break;
            }
        }
        let Some(start) = set else { return };
        let end = (start..t.len())
            .find(|&k| {
                ["FROM", "WHERE", "RETURNING"].iter().any(|w| is(t, k, w))
                    && !t[start..k].is_empty()
                    && depth_at(t, start, k) == 0
            })
            .unwrap_or(t.len());
        let mut seen: Vec<String> = Vec::new();
        for element in split_commas(&t[start..end]) {
            // `(a, b) = (…)` assigns each name in the group.
            let targets: Vec<&Token> = match group(element, 0) {
                Some((inner, _)) => split_commas(inner)
                    .into_iter()
                    .filter(|c| c.len() == 1)
                    .map(|c| &c[0])
                    .collect(),
                // `a[1] = …` and `a.f = …` assign parts of a column: not compared.
                None if element.get(1).is_some_and(|x| x.text == "=") => vec![&element[0]],
                None => Vec::new(),
            };
            for target in targets.into_iter().filter(|x| x.is_name()) {
                let column = target.ident();
                if seen.contains(&column) {
                    self.add_at(
                        "duplicate-column-assignment",
                        format!("Column {column} is assigned more than once in one SET list; PostgreSQL rejects the statement."),
                        Some(column),
                        target.span.start,
                    );
                } else {
                    seen.push(column);
                }
            }
        }
    }

    fn set(&mut self) {
        let t = self.t;
        let mut i = 1;
        if is(t, i, "SESSION") || is(t, i, "LOCAL") {
            i += 1;
        }
        let reset = t[0].is("RESET");
        let Some(name) = t.get(i).filter(|x| x.kind == TokenKind::Word) else {
            return;
        };
        let value = t.get(i + 2).map(|x| x.text.trim().to_string());
        let on = !reset
            && value
                .as_deref()
                .is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("DEFAULT"));
        match name.text.as_str() {
            "LOCK_TIMEOUT" => self.file.lock_timeout = on,
            "STATEMENT_TIMEOUT" => self.file.statement_timeout = on,
            _ => {}
        }
    }

    /// `SELECT … INTO [TEMP|UNLOGGED] [TABLE] t` creates `t`, like CREATE TABLE AS.
    fn select_into(&mut self) {
        let t = self.t;
        let mut depth = 0i32;
        for i in 0..t.len() {
            if punct(t, i, "(") {
                depth += 1;
            } else if punct(t, i, ")") {
                depth -= 1;
            } else if depth == 0 && is(t, i, "INTO") {
                let mut j = i + 1;
                while ["TEMP", "TEMPORARY", "UNLOGGED", "TABLE"]
                    .iter()
                    .any(|k| is(t, j, k))
                {
                    j += 1;
                }
                if let Some((table, _)) = name_at(t, j) {
                    self.created(Kind::Table, &table);
                }
                return;
            }
        }
    }

    /// `SELECT set_config('lock_timeout', '2s', …)`.
    fn set_config(&mut self) {
        let t = self.t;
        for i in 0..t.len() {
            if t[i].is("SET_CONFIG") && punct(t, i + 1, "(") {
                let name = t.get(i + 2).map(|x| x.text.to_lowercase());
                let value = t.get(i + 4).map(|x| x.text.trim().to_string());
                let on = value.as_deref().is_some_and(|v| v != "0");
                match name.as_deref() {
                    Some("lock_timeout") => self.file.lock_timeout = on,
                    Some("statement_timeout") => self.file.statement_timeout = on,
                    _ => {}
                }
            }
        }
    }

    fn create(&mut self) {
        let t = self.t;
        let mut i = 1;
        if seq(t, i, &["OR", "REPLACE"]) {
            i += 2;
        }
        while ["TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL"]
            .iter()
            .any(|k| is(t, i, k))
        {
            i += 1;
        }
        let unique = is(t, i, "UNIQUE");
        if unique {
            i += 1;
        }
        let kind = t.get(i).map(|x| x.text.clone()).unwrap_or_default();
        match kind.as_str() {
            "TABLE" => self.create_table(i + 1),
            "FOREIGN" if is(t, i + 1, "TABLE") => self.create_table(i + 2),
            "INDEX" => self.create_index(i + 1),
            "TYPE" => {
                if let Some((name, _)) = name_at(t, i + 1) {
                    self.created(Kind::Type, &name);
                }
            }
            "DOMAIN" => {
                if let Some((name, _)) = name_at(t, i + 1) {
                    self.created(Kind::Type, &name);
                    if has_anywhere(t, "CHECK") {
                        self.add(
                            "create-domain-with-constraint",
                            format!("Domain {name} is created with a CHECK constraint, which is hard to change later."),
                            Some(name),
                        );
                    }
                }
            }
            "SCHEMA" | "EXTENSION" | "SEQUENCE" => {
                let (guarded, j) = skip_if(t, i + 1);
                if let Some((name, _)) = name_at(t, j) {
                    self.robust(guarded, &format!("CREATE {kind}"), &name);
                }
            }
            "TRIGGER" | "CONSTRAINT" => {
                // CREATE TRIGGER takes SHARE ROW EXCLUSIVE on the table.
                if let Some(on) = (i..t.len()).find(|&k| is(t, k, "ON"))
                    && let Some((table, _)) = name_at(t, on + 1)
                    && !self.table_is_new(&table)
                {
                    self.locks = true;
                }
            }
            _ => {}
        }
    }

    fn create_table(&mut self, i: usize) {
        let t = self.t;
        let (guarded, i) = skip_if(t, i);
        let Some((table, j)) = name_at(t, i) else {
            return;
        };
        self.created(Kind::Table, &table);
        self.robust(guarded, "CREATE TABLE", &table);
        self.table_schema(&table, "CREATE TABLE");
        if let Some((body, _)) = group(t, j) {
            for element in split_commas(body) {
                let head = &element[0];
                if [
                    "CONSTRAINT",
                    "CHECK",
                    "PRIMARY",
                    "UNIQUE",
                    "FOREIGN",
                    "EXCLUDE",
                    "LIKE",
                ]
                .iter()
                .any(|k| head.is(k))
                {
                    continue;
                }
                if let Some(col) = column_def(element) {
                    let object = format!("{}.{}", last_part(&table), col.name);
                    self.type_checks(&col.ty, &object, col.at);
                }
            }
        }
    }

    fn create_index(&mut self, i: usize) {
        let t = self.t;
        let mut i = i;
        let concurrently = is(t, i, "CONCURRENTLY");
        if concurrently {
            i += 1;
        }
        let (guarded, mut i) = skip_if(t, i);
        let mut index = None;
        if !is(t, i, "ON")
            && let Some((name, j)) = name_at(t, i)
        {
            index = Some(name);
            i = j;
        }
        if !is(t, i, "ON") {
            return;
        }
        i += 1;
        if is(t, i, "ONLY") {
            i += 1;
        }
        let Some((table, _)) = name_at(t, i) else {
            return;
        };
        if let Some(name) = &index {
            // An index lives in its table's schema.
            let qualified = match (name.contains('.'), split_name(&table).0) {
                (false, Some(schema)) => format!("{schema}.{name}"),
                _ => name.clone(),
            };
            self.created(Kind::Index, &qualified);
        }
        let label = index.clone().unwrap_or_else(|| format!("on {table}"));
        if concurrently && self.file.in_tx() {
            self.add(
                "concurrently-in-transaction",
                format!("CREATE INDEX CONCURRENTLY {label} cannot run inside a transaction block; the migration will fail."),
                Some(label.clone()),
            );
        }
        if !self.table_is_new(&table) {
            if !concurrently {
                self.locks = true;
                self.long_lock = true;
                self.add(
                    "create-index-not-concurrently",
                    format!("CREATE INDEX {label} without CONCURRENTLY blocks writes to {table} until the index is built."),
                    Some(label.clone()),
                );
            }
            if index.is_some() || !concurrently {
                self.robust(guarded, "CREATE INDEX", &label);
            }
        }
    }

    fn drop(&mut self) {
        let t = self.t;
        self.classify(Class::Contract);
        let mut i = 1;
        let kind = match t.get(i).map(|x| x.text.as_str()) {
            Some("MATERIALIZED") if is(t, 2, "VIEW") => {
                i += 2;
                "MATERIALIZED VIEW".to_string()
            }
            Some("FOREIGN") if is(t, 2, "TABLE") => {
                i += 2;
                "FOREIGN TABLE".to_string()
            }
            Some(k) => {
                i += 1;
                k.to_string()
            }
            None => return,
        };
        let concurrently = is(t, i, "CONCURRENTLY");
        if concurrently {
            i += 1;
        }
        let (guarded, i) = skip_if(t, i);
        let mut names = Vec::new();
        let mut j = i;
        while let Some((name, next)) = name_at(t, j) {
            names.push(name);
            j = next;
            // Skip a function's argument list.
            if let Some((_, after)) = group(t, j) {
                j = after;
            }
            if punct(t, j, ",") {
                j += 1;
            } else {
                break;
            }
        }
        let cascade = has_anywhere(t, "CASCADE");
        let what = format!("DROP {kind}");
        for name in names {
            if kind == "TABLE" {
                self.table_schema(&name, "DROP TABLE");
            }
            let (rule, created) = match kind.as_str() {
                "TABLE" | "FOREIGN TABLE" => ("drop-table", self.run.tables.contains(&name)),
                "INDEX" => ("drop-index", self.run.indexes.contains(&name)),
                "DATABASE" => ("drop-database", false),
                "SCHEMA" => ("drop-schema", false),
                "VIEW" | "MATERIALIZED VIEW" => ("drop-view", false),
                "FUNCTION" | "PROCEDURE" | "ROUTINE" | "AGGREGATE" => ("drop-function", false),
                "TYPE" | "DOMAIN" => ("drop-type", self.run.types.contains(&name)),
                "SEQUENCE" => ("drop-sequence", false),
                "EXTENSION" => ("drop-extension", false),
                _ => ("", false),
            };
            if rule == "drop-index" {
                if concurrently && self.file.in_tx() {
                    self.add(
                        "concurrently-in-transaction",
                        format!("DROP INDEX CONCURRENTLY {name} cannot run inside a transaction block; the migration will fail."),
                        Some(name.clone()),
                    );
                }
                if !concurrently && !created {
                    self.locks = true;
                    self.add(
                        "drop-index-not-concurrently",
                        format!("DROP INDEX {name} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table."),
                        Some(name.clone()),
                    );
                }
            } else if !rule.is_empty() && !created {
                if rule == "drop-table" {
                    self.locks = true;
                }
                let extra = if cascade {
                    " with CASCADE, which also drops everything that depends on it"
                } else {
                    ""
                };
                self.add(
                    rule,
                    format!("{what} {name}{extra} breaks running code that still uses it."),
                    Some(name.clone()),
                );
            }
            let robust_kinds = [
                "TABLE",
                "INDEX",
                "VIEW",
                "MATERIALIZED VIEW",
                "SEQUENCE",
                "SCHEMA",
                "TYPE",
                "DOMAIN",
                "FUNCTION",
                "PROCEDURE",
                "EXTENSION",
                "TRIGGER",
                "DATABASE",
            ];
            if !created && robust_kinds.contains(&kind.as_str()) {
                self.robust(guarded, &what, &name);
            }
        }
    }

    fn truncate(&mut self) {
        let t = self.t;
        self.classify(Class::Data);
        self.locks = true;
        self.long_lock = true;
        let mut i = 1;
        if is(t, i, "TABLE") {
            i += 1;
        }
        if is(t, i, "ONLY") {
            i += 1;
        }
        let name = name_at(t, i).map(|(n, _)| n);
        if has_anywhere(t, "CASCADE") {
            let label = name.clone().unwrap_or_default();
            self.add(
                "truncate-cascade",
                format!("TRUNCATE {label} CASCADE also empties every table that references it."),
                name,
            );
        }
    }

    fn reindex(&mut self) {
        let t = self.t;
        let mut i = 1;
        let mut concurrently = false;
        if let Some((options, after)) = group(t, i) {
            concurrently = option_on(options, "CONCURRENTLY") == Some(true);
            i = after;
        }
        let kind = t.get(i).map(|x| x.text.clone()).unwrap_or_default();
        // REINDEX SYSTEM rebuilds the catalogs, which cannot be done
        // concurrently: there is no safer form to ask for.
        if kind == "SYSTEM" {
            return;
        }
        i += 1;
        if is(t, i, "CONCURRENTLY") {
            concurrently = true;
            i += 1;
        }
        let name = name_at(t, i).map(|(n, _)| n).unwrap_or_default();
        let label = format!("{} {name}", kind).trim().to_string();
        if concurrently {
            if self.file.in_tx() {
                self.add(
                    "concurrently-in-transaction",
                    format!("REINDEX {label} CONCURRENTLY cannot run inside a transaction block; the migration will fail."),
                    Some(name),
                );
            }
        } else {
            self.locks = true;
            self.long_lock = true;
            self.add(
                "reindex-not-concurrently",
                format!(
                    "REINDEX {label} without CONCURRENTLY blocks writes while the index is rebuilt."
                ),
                Some(name),
            );
        }
    }

    fn alter(&mut self) {
        let t = self.t;
        let kind = t.get(1).map(|x| x.text.clone()).unwrap_or_default();
        match kind.as_str() {
            "TABLE" => self.alter_table(2),
            // A foreign table's data lives elsewhere: nothing is scanned or
            // rewritten, but renames, drops and type changes break readers
            // all the same.
            "FOREIGN" if is(t, 2, "TABLE") => {
                self.foreign = true;
                self.alter_table(3);
            }
            "TYPE" => self.alter_type(),
            "DOMAIN" => self.alter_domain(),
            _ => self.alter_other(&kind),
        }
    }

    /// ALTER INDEX/VIEW/SEQUENCE/FUNCTION/SCHEMA/… : renames and schema moves.
    fn alter_other(&mut self, kind: &str) {
        let t = self.t;
        let mut i = 2;
        let mut kind = kind.to_string();
        if kind == "MATERIALIZED" && is(t, 2, "VIEW") {
            kind = "MATERIALIZED VIEW".into();
            i = 3;
        }
        let (_, i) = skip_if(t, i);
        let Some((name, j)) = name_at(t, i) else {
            return;
        };
        let created = match kind.as_str() {
            "INDEX" => self.run.indexes.contains(&name),
            _ => false,
        };
        if let Some(r) = (j..t.len()).find(|&k| is(t, k, "RENAME")) {
            self.classify(Class::Breaking);
            if created {
                if let Some(to) = (r..t.len()).find(|&k| is(t, k, "TO"))
                    && let Some((new, _)) = name_at(t, to + 1)
                {
                    let renamed = match split_name(&name).0 {
                        Some(schema) => format!("{schema}.{}", last_part(&new)),
                        None => new,
                    };
                    self.created(Kind::Index, &renamed);
                }
                return;
            }
            let object = format!("{} {name}", kind.to_lowercase());
            self.add(
                "rename-object",
                format!("Renaming {object} breaks running code that uses the old name."),
                Some(name),
            );
        } else if has_seq(&t[j..], &["SET", "SCHEMA"]) && !created {
            self.classify(Class::Breaking);
            self.add(
                "set-schema",
                format!("Moving {} {name} to another schema breaks running code that uses its old qualified name.", kind.to_lowercase()),
                Some(name),
            );
        }
    }

    fn alter_type(&mut self) {
        let t = self.t;
        let Some((name, j)) = name_at(t, 2) else {
            return;
        };
        let created = self.run.types.contains(&name);
        if is(t, j, "ADD") && is(t, j + 1, "VALUE") {
            let (_, k) = skip_if(t, j + 2);
            let value = t
                .get(k)
                .filter(|x| x.kind == TokenKind::String)
                .map(|x| x.text.clone())
                .unwrap_or_default();
            if !has_anywhere(&t[k..], "BEFORE") && !has_anywhere(&t[k..], "AFTER") {
                self.add(
                    "enum-value-ordering",
                    format!("Value '{value}' is appended to the end of enum {name}; say BEFORE or AFTER if order matters."),
                    Some(name.clone()),
                );
            }
            if self.file.in_tx() && !created {
                if self.cfg.pg < 12 {
                    self.add(
                        "enum-add-value-in-transaction",
                        format!(
                            "ALTER TYPE {name} ADD VALUE '{value}' cannot run inside a transaction block on PostgreSQL {}.",
                            self.cfg.pg
                        ),
                        Some(name.clone()),
                    );
                } else {
                    self.file.enum_values_in_tx.push(value);
                }
            }
            return;
        }
        let attribute_actions = ["ADD", "DROP", "ALTER"]
            .iter()
            .any(|k| is(t, j, k) && is(t, j + 1, "ATTRIBUTE"));
        if attribute_actions {
            for action in split_commas(&t[j..]) {
                self.type_attribute(&name, created, action);
            }
            return;
        }
        if created {
            return;
        }
        if has_seq(&t[j..], &["SET", "SCHEMA"]) {
            self.classify(Class::Breaking);
            self.add(
                "set-schema",
                format!("Moving type {name} to another schema breaks running code that uses its old qualified name."),
                Some(name),
            );
        } else if is(t, j, "RENAME") {
            self.classify(Class::Breaking);
            let what = if is(t, j + 1, "VALUE") {
                format!("a value of enum {name}")
            } else if is(t, j + 1, "ATTRIBUTE") {
                format!("an attribute of type {name}")
            } else {
                format!("type {name}")
            };
            self.add(
                "rename-object",
                format!("Renaming {what} breaks running code that uses the old name."),
                Some(name),
            );
        }
    }

    /// One `ADD|DROP|ALTER ATTRIBUTE` action of ALTER TYPE on a composite
    /// type: the attributes are the type's columns, with the same
    /// compatibility rules (no lock on a table is involved).
    fn type_attribute(&mut self, ty: &str, created: bool, a: &[Token]) {
        if !is(a, 1, "ATTRIBUTE") {
            return;
        }
        let at = a[0].span.start;
        let short = last_part(ty).to_string();
        if is(a, 0, "ADD") {
            if let Some(col) = column_def(&a[2..]) {
                let object = format!("{short}.{}", col.name);
                self.type_checks(&col.ty, &object, col.at);
            }
            return;
        }
        let (_, k) = skip_if(a, 2);
        let Some((attr, k)) = name_at(a, k) else {
            return;
        };
        let object = format!("{short}.{attr}");
        if is(a, 0, "DROP") {
            if created {
                return;
            }
            self.classify(Class::Contract);
            self.add_at(
                "drop-column",
                format!("Dropping attribute {object} of type {ty} breaks running code that still reads or writes it."),
                Some(object),
                at,
            );
            return;
        }
        if is(a, k, "TYPE") || seq(a, k, &["SET", "DATA", "TYPE"]) {
            let start = if is(a, k, "TYPE") { k + 1 } else { k + 3 };
            let end = (start..a.len())
                .find(|&m| is(a, m, "COLLATE") || is(a, m, "CASCADE") || is(a, m, "RESTRICT"))
                .unwrap_or(a.len());
            let new_ty = &a[start..end];
            self.type_checks(new_ty, &object, at);
            if created {
                return;
            }
            self.classify(Class::Breaking);
            self.add_at(
                "change-column-type",
                format!(
                    "Changing the type of attribute {object} to {} can break running code that reads it.",
                    type_text(new_ty)
                ),
                Some(object),
                at,
            );
        }
    }

    /// From PostgreSQL 12, a value added in a transaction cannot be used in it.
    fn enum_value_use(&mut self) {
        if self.file.enum_values_in_tx.is_empty() || self.t.first().is_some_and(|x| x.is("ALTER")) {
            return;
        }
        let used: Vec<String> = self
            .file
            .enum_values_in_tx
            .iter()
            .filter(|v| {
                self.t
                    .iter()
                    .any(|x| x.kind == TokenKind::String && &x.text == *v)
            })
            .cloned()
            .collect();
        for v in used {
            self.add(
                "enum-add-value-in-transaction",
                format!("Enum value '{v}' is used in the transaction that added it; PostgreSQL rejects it until the transaction commits."),
                Some(v),
            );
        }
    }

    fn alter_domain(&mut self) {
        let t = self.t;
        let Some((name, j)) = name_at(t, 2) else {
            return;
        };
        if self.run.types.contains(&name) {
            return;
        }
        if seq(t, j, &["SET", "NOT", "NULL"]) {
            self.classify(Class::Contract);
            self.locks = true;
            self.add(
                "alter-domain-add-constraint",
                format!(
                    "SET NOT NULL on domain {name} checks every column that uses it, under locks."
                ),
                Some(name),
            );
        } else if is(t, j, "ADD") {
            self.classify(Class::Contract);
            if !has_seq(t, &["NOT", "VALID"]) {
                self.locks = true;
                self.add(
                    "alter-domain-add-constraint",
                    format!("Adding a constraint to domain {name} checks every column that uses it, under locks."),
                    Some(name),
                );
            }
        } else if is(t, j, "DROP") && is(t, j + 1, "CONSTRAINT") {
            self.classify(Class::Contract);
            self.add(
                "drop-constraint",
                format!("Dropping a constraint of domain {name} removes a guarantee running code may rely on."),
                Some(name),
            );
        } else if is(t, j, "RENAME") {
            self.classify(Class::Breaking);
            self.add(
                "rename-object",
                format!("Renaming domain {name} breaks running code that uses the old name."),
                Some(name),
            );
        } else if has_seq(&t[j..], &["SET", "SCHEMA"]) {
            self.classify(Class::Breaking);
            self.add(
                "set-schema",
                format!("Moving domain {name} to another schema breaks running code that uses its old qualified name."),
                Some(name),
            );
        }
    }

    fn alter_table(&mut self, start: usize) {
        let t = self.t;
        let (_, mut i) = skip_if(t, start);
        if is(t, i, "ONLY") {
            i += 1;
        }
        let Some((table, mut j)) = name_at(t, i) else {
            return;
        };
        if t.get(j).is_some_and(|x| x.text == "*") {
            j += 1;
        }
        if !self.foreign {
            self.table_schema(&table, "ALTER TABLE");
        }
        let new = self.table_is_new(&table);
        if !new {
            self.locks = true;
            self.long_lock = !self.foreign;
        }
        let short = last_part(&table).to_string();
        for action in split_commas(&t[j..]) {
            self.table_action(&table, &short, new, action);
        }
    }

    fn table_action(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let pg = self.cfg.pg;
        let at = a[0].span.start;
        let first = a[0].text.as_str();
        match first {
            "ADD" => {
                let constraint_words = [
                    "CONSTRAINT",
                    "CHECK",
                    "UNIQUE",
                    "PRIMARY",
                    "FOREIGN",
                    "EXCLUDE",
                ];
                if constraint_words.iter().any(|k| is(a, 1, k)) {
                    // A foreign table's constraints are not checked against its data.
                    if !self.foreign {
                        self.add_constraint(table, short, new, a);
                    }
                    return;
                }
                let mut k = 1;
                if is(a, k, "COLUMN") {
                    k += 1;
                }
                let (guarded, k) = skip_if(a, k);
                let Some(col) = column_def(&a[k..]) else {
                    return;
                };
                let object = format!("{short}.{}", col.name);
                self.type_checks(&col.ty, &object, col.at);
                if new || self.foreign {
                    return;
                }
                self.robust(guarded, "ADD COLUMN", &object);
                let serial = is_serial(&col.ty);
                let generates = serial || col.identity;
                if generates && col.primary_key {
                    self.classify(Class::Expand);
                    self.add_at(
                        "add-serial-primary-key",
                        format!("Adding {object} as a {} primary key rewrites {table} and builds its index under an ACCESS EXCLUSIVE lock.", if serial { "serial" } else { "identity" }),
                        Some(object.clone()),
                        at,
                    );
                } else {
                    let required = (col.not_null || col.primary_key)
                        && is_null_default(&col.default)
                        && !generates
                        && !col.stored;
                    if required {
                        self.classify(Class::Breaking);
                        self.add_at(
                            "add-required-column",
                            format!("Adding {object} as NOT NULL without a default fails on a non-empty table and breaks inserts from running code."),
                            Some(object.clone()),
                            at,
                        );
                    }
                    let rewrite = if col.stored {
                        Some("a GENERATED … STORED expression".to_string())
                    } else if generates {
                        Some(if serial {
                            "a serial default (nextval)".to_string()
                        } else {
                            "an identity".to_string()
                        })
                    } else if let Some(d) = col
                        .default
                        .as_ref()
                        .filter(|_| !is_null_default(&col.default))
                    {
                        match volatile_call(d) {
                            Some(f) => Some(format!("the volatile default {f}()")),
                            None if pg < 11 => Some(format!("a default on PostgreSQL {pg}")),
                            None => None,
                        }
                    } else {
                        None
                    };
                    if let Some(why) = rewrite {
                        self.add_at(
                            "add-column-volatile-default",
                            format!("Adding {object} with {why} rewrites {table} under an ACCESS EXCLUSIVE lock."),
                            Some(object.clone()),
                            at,
                        );
                    }
                    if col.primary_key {
                        self.add_at(
                            "add-primary-key",
                            format!("Adding {object} as PRIMARY KEY builds the key index on {table} under an ACCESS EXCLUSIVE lock."),
                            Some(object.clone()),
                            at,
                        );
                    }
                }
                if col.unique {
                    self.add_at(
                        "add-unique-constraint",
                        format!("Adding {object} as UNIQUE builds its index on {table} under an ACCESS EXCLUSIVE lock."),
                        Some(object.clone()),
                        at,
                    );
                }
                if col.references {
                    self.add_at(
                        "add-foreign-key",
                        format!("Adding {object} with REFERENCES adds a validated foreign key, locking {table} and the referenced table."),
                        Some(object.clone()),
                        at,
                    );
                }
                if col.check {
                    self.add_at(
                        "constraint-missing-not-valid",
                        format!("Adding {object} with a CHECK validates it immediately under an ACCESS EXCLUSIVE lock on {table}."),
                        Some(object.clone()),
                        at,
                    );
                }
            }
            "DROP" => {
                if is(a, 1, "CONSTRAINT") {
                    let (guarded, k) = skip_if(a, 2);
                    let name = name_at(a, k).map(|(n, _)| n).unwrap_or_default();
                    let object = format!("{short}.{name}");
                    if new {
                        return;
                    }
                    self.classify(Class::Contract);
                    self.robust(guarded, "DROP CONSTRAINT", &object);
                    self.add_at(
                        "drop-constraint",
                        format!("Dropping constraint {name} on {table} removes a guarantee running code may rely on."),
                        Some(object),
                        at,
                    );
                    return;
                }
                let mut k = 1;
                if is(a, k, "COLUMN") {
                    k += 1;
                }
                let (guarded, k) = skip_if(a, k);
                let Some((col, _)) = name_at(a, k) else {
                    return;
                };
                let object = format!("{short}.{col}");
                if new {
                    return;
                }
                self.classify(Class::Contract);
                self.robust(guarded, "DROP COLUMN", &object);
                self.add_at(
                    "drop-column",
                    format!("Dropping column {object} breaks running code that still selects or inserts it."),
                    Some(object),
                    at,
                );
            }
            "ALTER" => {
                let mut k = 1;
                if is(a, k, "COLUMN") {
                    k += 1;
                }
                let Some((col, k)) = name_at(a, k) else {
                    return;
                };
                let object = format!("{short}.{col}");
                if is(a, k, "TYPE") || seq(a, k, &["SET", "DATA", "TYPE"]) {
                    let ty_start = if is(a, k, "TYPE") { k + 1 } else { k + 3 };
                    let ty_end = (ty_start..a.len())
                        .find(|&m| is(a, m, "USING") || is(a, m, "COLLATE"))
                        .unwrap_or(a.len());
                    let ty = &a[ty_start..ty_end];
                    self.type_checks(ty, &object, at);
                    if new {
                        return;
                    }
                    self.classify(Class::Breaking);
                    let effect = if self.foreign {
                        "can break running code that reads it"
                    } else {
                        "rewrites {table} under an ACCESS EXCLUSIVE lock and can break running code"
                    }
                    .replace("{table}", table);
                    self.add_at(
                        "change-column-type",
                        format!(
                            "Changing the type of {object} to {} {effect}.",
                            type_text(ty)
                        ),
                        Some(object),
                        at,
                    );
                    return;
                }
                if new {
                    return;
                }
                if seq(a, k, &["SET", "NOT", "NULL"]) && !self.foreign {
                    self.classify(Class::Contract);
                    let validated = self
                        .run
                        .validated_not_null
                        .contains(&(short.to_string(), col.clone()));
                    if pg >= 12 && validated {
                        return;
                    }
                    let extra = if validated {
                        format!(" (PostgreSQL {pg} cannot use the validated CHECK; 12 can)")
                    } else {
                        String::new()
                    };
                    self.add_at(
                        "set-not-null",
                        format!("SET NOT NULL on {object} scans {table} under an ACCESS EXCLUSIVE lock{extra}."),
                        Some(object),
                        at,
                    );
                } else if seq(a, k, &["DROP", "NOT", "NULL"]) {
                    self.add_at(
                        "drop-not-null",
                        format!("Dropping NOT NULL on {object} lets NULLs reach running code that does not expect them."),
                        Some(object),
                        at,
                    );
                } else if seq(a, k, &["DROP", "DEFAULT"]) {
                    self.classify(Class::Contract);
                    self.add_at(
                        "drop-default",
                        format!("Dropping the default of {object} breaks inserts from running code that omit the column."),
                        Some(object),
                        at,
                    );
                } else if seq(a, k, &["DROP", "EXPRESSION"]) {
                    self.classify(Class::Contract);
                    self.add_at(
                        "drop-generated-expression",
                        format!("Dropping the generated expression of {object} leaves it unfilled for running code."),
                        Some(object),
                        at,
                    );
                } else if seq(a, k, &["DROP", "IDENTITY"])
                    || seq(a, k, &["ADD", "GENERATED"])
                    || (is(a, k, "SET") && is(a, k + 1, "GENERATED"))
                {
                    self.classify(Class::Contract);
                    self.add_at(
                        "alter-identity",
                        format!("Changing the identity of {object} changes how running code gets its ids."),
                        Some(object),
                        at,
                    );
                }
            }
            "RENAME" => {
                if is(a, 1, "TO") {
                    let newname = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
                    if new {
                        let renamed = match split_name(table).0 {
                            Some(schema) => format!("{schema}.{}", last_part(&newname)),
                            None => newname.clone(),
                        };
                        self.created(Kind::Table, &renamed);
                        return;
                    }
                    self.classify(Class::Breaking);
                    self.add_at(
                        "rename-table",
                        format!("Renaming table {table} to {newname} breaks running code that uses the old name."),
                        Some(table.to_string()),
                        at,
                    );
                    return;
                }
                if new {
                    return;
                }
                if is(a, 1, "CONSTRAINT") {
                    let name = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
                    self.classify(Class::Breaking);
                    self.add_at(
                        "rename-object",
                        format!("Renaming constraint {name} on {table} breaks code and scripts that use the old name."),
                        Some(format!("{short}.{name}")),
                        at,
                    );
                    return;
                }
                let k = if is(a, 1, "COLUMN") { 2 } else { 1 };
                let Some((col, m)) = name_at(a, k) else {
                    return;
                };
                let newname = name_at(a, m + 1).map(|(n, _)| n).unwrap_or_default();
                self.classify(Class::Breaking);
                self.add_at(
                    "rename-column",
                    format!("Renaming column {short}.{col} to {newname} breaks running code that uses the old name."),
                    Some(format!("{short}.{col}")),
                    at,
                );
            }
            "VALIDATE" => {
                let name = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
                if let Some(target) = self.run.not_null_checks.get(&name).cloned() {
                    self.run.validated_not_null.insert(target);
                }
                if self.file.in_tx() && self.file.not_valid_in_tx.contains(&name) {
                    self.add_at(
                        "validate-in-same-transaction",
                        format!("Constraint {name} on {table} is validated in the transaction that added it, keeping the ACCESS EXCLUSIVE lock during the scan."),
                        Some(format!("{short}.{name}")),
                        at,
                    );
                }
            }
            "SET"
                if ["TABLESPACE", "LOGGED", "UNLOGGED"]
                    .iter()
                    .any(|k| is(a, 1, k))
                    || seq(a, 1, &["ACCESS", "METHOD"]) =>
            {
                if new || self.foreign {
                    return;
                }
                let what = if is(a, 1, "ACCESS") {
                    "SET ACCESS METHOD".to_string()
                } else {
                    format!("SET {}", a[1].text)
                };
                self.add_at(
                    "alter-table-rewrite",
                    format!("ALTER TABLE {table} {what} rewrites the whole table under an ACCESS EXCLUSIVE lock."),
                    Some(table.to_string()),
                    at,
                );
            }
            "SET" if is(a, 1, "SCHEMA") => {
                if new {
                    return;
                }
                self.classify(Class::Breaking);
                self.add_at(
                    "set-schema",
                    format!("Moving table {table} to another schema breaks running code that uses its old qualified name."),
                    Some(table.to_string()),
                    at,
                );
            }
            "DETACH" => {
                let concurrently = has_anywhere(a, "CONCURRENTLY");
                let part = name_at(a, 2).map(|(n, _)| n).unwrap_or_default();
                self.classify(Class::Contract);
                if concurrently {
                    if self.file.in_tx() {
                        self.add_at(
                            "concurrently-in-transaction",
                            format!("DETACH PARTITION {part} CONCURRENTLY cannot run inside a transaction block; the migration will fail."),
                            Some(part),
                            at,
                        );
                    }
                } else if pg >= 14 && !new {
                    self.add_at(
                        "detach-partition-not-concurrently",
                        format!("Detaching partition {part} from {table} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on {table}."),
                        Some(part),
                        at,
                    );
                }
            }
            _ => {}
        }
    }

    fn add_constraint(&mut self, table: &str, short: &str, new: bool, a: &[Token]) {
        let at = a[0].span.start;
        let mut k = 1;
        let mut name = None;
        if is(a, k, "CONSTRAINT")
            && let Some((n, next)) = name_at(a, k + 1)
        {
            name = Some(n);
            k = next;
        }
        let not_valid = has_seq(a, &["NOT", "VALID"]);
        let using_index = has_seq(a, &["USING", "INDEX"]);
        let label = name.clone().unwrap_or_else(|| "constraint".into());
        let object = format!("{short}.{label}");
        if let Some(n) = &name {
            if not_valid {
                self.file.not_valid_in_tx.insert(n.clone());
            }
            // CHECK (col IS NOT NULL): remember it for SET NOT NULL.
            if is(a, k, "CHECK")
                && let Some((inner, _)) = group(a, k + 1)
                && inner.len() == 4
                && inner[0].is_name()
                && seq(inner, 1, &["IS", "NOT", "NULL"])
            {
                let target = (short.to_string(), inner[0].ident());
                if not_valid {
                    self.run.not_null_checks.insert(n.clone(), target);
                } else {
                    self.run.validated_not_null.insert(target);
                }
            }
        }
        if new {
            return;
        }
        self.classify(Class::Contract);
        if is(a, k, "CHECK") && !not_valid {
            self.add_at(
                "constraint-missing-not-valid",
                format!("CHECK constraint {label} on {table} is validated immediately, scanning {table} under an ACCESS EXCLUSIVE lock."),
                Some(object),
                at,
            );
        } else if is(a, k, "FOREIGN") && !not_valid {
            self.add_at(
                "add-foreign-key",
                format!("Foreign key {label} on {table} is validated immediately, locking {table} and the referenced table during the scan."),
                Some(object),
                at,
            );
        } else if (is(a, k, "UNIQUE") || is(a, k, "EXCLUDE")) && !using_index {
            let what = if is(a, k, "UNIQUE") {
                "UNIQUE"
            } else {
                "Exclusion"
            };
            self.add_at(
                "add-unique-constraint",
                format!("{what} constraint {label} builds its index on {table} under an ACCESS EXCLUSIVE lock."),
                Some(object),
                at,
            );
        } else if is(a, k, "PRIMARY") && !using_index {
            self.add_at(
                "add-primary-key",
                format!("PRIMARY KEY {label} builds its index on {table} under an ACCESS EXCLUSIVE lock."),
                Some(object),
                at,
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The run.

struct Counts {
    statements: usize,
    parsed: usize,
    by_class: [usize; 4],
}

impl Counts {
    fn new() -> Self {
        Counts {
            statements: 0,
            parsed: 0,
            by_class: [0; 4],
        }
    }

    fn add(&mut self, class: Class) {
        self.statements += 1;
        self.by_class[class_index(class)] += 1;
    }

    fn evidence(&self, out: &mut Vec<(String, String)>) {
        out.push(("statements".into(), self.statements.to_string()));
        for c in [Class::Expand, Class::Contract, Class::Breaking, Class::Data] {
            out.push((c.name().into(), self.by_class[class_index(c)].to_string()));
        }
    }
}

fn class_index(c: Class) -> usize {
    match c {
        Class::Expand => 0,
        Class::Contract => 1,
        Class::Breaking => 2,
        Class::Data => 3,
    }
}

fn finding(rule: &Rule, subject: &str, status: Status, message: String) -> Finding {
    Finding {
        check: CHECK_ID.to_string(),
        rule: Some(rule.id.to_string()),
        subject: subject.to_string(),
        status,
        severity: Some(rule.severity),
        message,
        evidence: Vec::new(),
        remediation: Some(rule.fix.to_string()),
        location: None,
    }
}

fn config_error(message: String) -> Finding {
    Finding {
        check: CHECK_ID.to_string(),
        rule: None,
        subject: "migrations".to_string(),
        status: Status::Error,
        severity: Some(Severity::High),
        message,
        evidence: Vec::new(),
        remediation: Some(
            "Fix the [migrations] table of the policy: pg_version (integer), exclude and include (lists of rule ids)."
                .to_string(),
        ),
        location: None,
    }
}

const GENERIC_CONTRACT_PLAN: &[&str] = &[
    "deploy code that no longer depends on what this statement removes or tightens on {object}",
    "wait until every instance of the previous release is gone",
    "apply the statement in a later migration",
];

const GENERIC_BREAKING_PLAN: &[&str] = &[
    "add the new form of {object} next to the old one",
    "deploy code that works with both",
    "migrate existing data in batches",
    "switch code to the new form",
    "remove the old form in a later release",
];

fn render_plan(steps: &[&str], object: Option<&str>) -> Vec<String> {
    let object = object.unwrap_or("the object");
    steps
        .iter()
        .map(|s| s.replace("{object}", object))
        .collect()
}

/// An ignore directive and whether it matched a finding.
struct Ignore {
    line: u32,
    rules: Vec<String>,
    reason: String,
    used: bool,
    file_wide: bool,
}

impl Ignore {
    fn matches(&self, rule: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r == "all" || r == "*" || rules::named(r).iter().any(|named| named.id == rule))
    }
}

/// Validates the migrations in order. A bad config gives one `error` finding.
pub fn validate(files: &[MigrationFile], config: &str) -> Vec<Finding> {
    let cfg = match parse_config(config) {
        Ok(c) => c,
        Err(e) => return vec![config_error(e)],
    };
    let mut out = Vec::new();
    let mut run = RunState::default();
    let mut total = Counts::new();
    let dialect = PostgreSqlDialect {};

    for file in files {
        if cfg.scope == Scope::Migration {
            // The migrations before this one are applied: what they created
            // exists and holds data by now.
            run.tables = Objects::default();
            run.indexes = Objects::default();
            run.types = Objects::default();
        }
        let script = sk::split(&file.contents);
        let index = sk::LineIndex::new(&file.contents);
        let offset = file.first_line.max(1) - 1;
        let assumed = cfg.assume_in_transaction && !script.assumed_transaction_disabled();
        let file_tx = (file.in_transaction || assumed) && !script.no_transaction();
        let all_tokens: Vec<Vec<Token>> = script.statements.iter().map(|s| s.tokens()).collect();
        let mut state = FileState {
            file_tx,
            tool_open: file_tx,
            several_units: several_units(&all_tokens, file_tx),
            ..FileState::default()
        };
        let mut counts = Counts::new();
        // (absolute line, classification) of every statement, for `gate migrate plan`.
        let mut phases: Vec<serde_json::Value> = Vec::new();
        let mut file_ignores: Vec<Ignore> = script
            .ignore_file_directives()
            .into_iter()
            .map(|(line, rules, reason)| Ignore {
                line,
                rules,
                reason,
                used: false,
                file_wide: true,
            })
            .collect();
        // Every `gate:ignore` in the file; each applies to the statement right below it.
        let mut stmt_ignores: Vec<Ignore> = script
            .comments
            .iter()
            .filter_map(|c| match c.directive() {
                Some(sk::Directive::Ignore { rules, reason }) => Some(Ignore {
                    line: c.line,
                    rules,
                    reason,
                    used: false,
                    file_wide: false,
                }),
                _ => None,
            })
            .collect();

        for (stmt, tokens) in script.statements.iter().zip(all_tokens) {
            let (parsed, parse_error) = match Parser::parse_sql(&dialect, &stmt.text) {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let first = tokens.first().map(|x| x.text.as_str()).unwrap_or("");
            let mut hits = Vec::new();

            // Transaction control.
            let control = sk::transaction_control(&tokens);
            let starts_tx = control == Some(sk::TxControl::Begin);
            let ends_tx = matches!(
                control,
                Some(sk::TxControl::Commit | sk::TxControl::Rollback)
            );
            let rolls_back = control == Some(sk::TxControl::Rollback);
            if starts_tx {
                if state.in_tx() {
                    let why = if state.explicit.is_some() {
                        "another BEGIN is still open"
                    } else {
                        "the migration tool already runs this file in a transaction"
                    };
                    hits.push(hit(
                        "transaction-nesting",
                        format!("BEGIN inside a transaction does nothing: {why}."),
                        None,
                    ));
                } else if state.file_tx {
                    // The file ended the tool's transaction itself earlier
                    // (`COMMIT; CREATE INDEX CONCURRENTLY …; BEGIN;`): this
                    // BEGIN opens the one the tool commits at the end.
                    state.tool_open = true;
                } else {
                    let ignore_lines = stmt.ignores().into_iter().map(|(l, _, _)| l).collect();
                    state.explicit = Some((stmt.line, stmt.column, ignore_lines));
                }
            } else if ends_tx {
                if state.explicit.is_some() || state.tool_open {
                    if state.explicit.is_none() {
                        hits.push(hit(
                            "transaction-nesting",
                            format!("{first} ends the migration tool's own transaction early; later statements lose its atomicity."),
                            None,
                        ));
                    }
                    state.explicit = None;
                    state.tool_open = false;
                    if rolls_back {
                        state.roll_back(&mut run);
                    } else {
                        state.end_tx();
                    }
                } else {
                    hits.push(hit(
                        "transaction-nesting",
                        format!("{first} with no transaction in progress does nothing (PostgreSQL only warns): a BEGIN is missing or the {first} is doubled."),
                        None,
                    ));
                }
            }

            let mut analysis = Analysis {
                cfg: &cfg,
                run: &mut run,
                file: &mut state,
                t: &tokens,
                ast: parsed.as_deref(),
                hits,
                class: Class::Expand,
                locks: false,
                long_lock: false,
                foreign: false,
            };
            analysis.statement();
            if analysis.locks && !analysis.file.lock_timeout && !analysis.file.lock_timeout_reported
            {
                analysis.file.lock_timeout_reported = true;
                analysis.hits.push(hit(
                    "require-lock-timeout",
                    "This statement waits for a lock with no lock_timeout set earlier in the file, queueing every query on the table behind it.".into(),
                    None,
                ));
            }
            if analysis.long_lock
                && !analysis.file.statement_timeout
                && !analysis.file.statement_timeout_reported
            {
                analysis.file.statement_timeout_reported = true;
                analysis.hits.push(hit(
                    "require-statement-timeout",
                    "This statement holds a lock with no statement_timeout set earlier in the file.".into(),
                    None,
                ));
            }
            let class = analysis.class;
            let mut hits = std::mem::take(&mut analysis.hits);
            if !state.in_tx() {
                state.end_tx();
            }
            if let Some(e) = &parse_error {
                hits.push(hit(
                    "parse-error",
                    format!("sqlparser could not parse this statement ({e}); only token-level rules checked it."),
                    None,
                ));
            } else {
                counts.parsed += 1;
            }
            counts.add(class);
            phases.push(serde_json::json!({
                "line": stmt.line.saturating_add(offset),
                "classification": class.name(),
            }));

            let lines: Vec<u32> = stmt.ignores().into_iter().map(|(l, _, _)| l).collect();
            let collapsed = stmt.collapsed(STATEMENT_CHARS);
            let statement_plan = hits.iter().find_map(|h| {
                let rule = rules::find(h.rule)?;
                (!rule.plan.is_empty()).then(|| render_plan(rule.plan, h.object.as_deref()))
            });
            for h in hits {
                let Some(rule) = rules::find(h.rule) else {
                    continue;
                };
                if !cfg.enabled(rule) {
                    continue;
                }
                let mut ignored = None;
                let own = stmt_ignores
                    .iter_mut()
                    .filter(|ig| lines.contains(&ig.line));
                for ig in own.chain(file_ignores.iter_mut()) {
                    if ig.matches(rule.id) {
                        ig.used = true;
                        ignored = Some(if ig.reason.is_empty() {
                            "no reason given".to_string()
                        } else {
                            ig.reason.clone()
                        });
                        break;
                    }
                }
                let status = if ignored.is_some() {
                    Status::Skip
                } else if rule.blocking {
                    Status::Fail
                } else {
                    Status::Warn
                };
                let mut f = finding(rule, &file.path, status, h.message);
                let (line, column) = match h.at {
                    Some(at) => index.position(stmt.span.start + at),
                    None => (stmt.line, stmt.column),
                };
                f.location = Some(Location {
                    file: file.path.clone(),
                    line: Some(line.saturating_add(offset)),
                    column: Some(column),
                });
                f.evidence
                    .push(("classification".into(), class.name().into()));
                f.evidence.push(("statement".into(), collapsed.clone()));
                if let Some(o) = &h.object {
                    f.evidence.push(("object".into(), o.clone()));
                }
                f.evidence.push(("pg_version".into(), cfg.pg.to_string()));
                let plan = if !rule.plan.is_empty() {
                    Some(render_plan(rule.plan, h.object.as_deref()))
                } else if matches!(class, Class::Breaking | Class::Contract) {
                    // Another rule's plan for the same statement, or the generic one.
                    Some(statement_plan.clone().unwrap_or_else(|| {
                        let generic = if class == Class::Breaking {
                            GENERIC_BREAKING_PLAN
                        } else {
                            GENERIC_CONTRACT_PLAN
                        };
                        render_plan(generic, h.object.as_deref())
                    }))
                } else {
                    None
                };
                if let Some(plan) = plan {
                    f.evidence.push((
                        "plan".into(),
                        serde_json::to_string(&plan).unwrap_or_default(),
                    ));
                }
                if let Some(reason) = ignored {
                    f.evidence.push(("ignored".into(), reason));
                }
                out.push(f);
            }
        }

        // An explicit BEGIN left open.
        if let Some((line, column, ignore_lines)) = state.explicit.take() {
            let rule = rules::find("uncommitted-transaction").expect("rule exists");
            if cfg.enabled(rule) {
                let ignored = stmt_ignores
                    .iter_mut()
                    .filter(|ig| ignore_lines.contains(&ig.line))
                    .chain(file_ignores.iter_mut())
                    .find(|ig| ig.matches(rule.id));
                let status = match &ignored {
                    Some(_) => Status::Skip,
                    None => Status::Fail,
                };
                let reason = ignored.map(|ig| {
                    ig.used = true;
                    ig.reason.clone()
                });
                let mut f = finding(
                    rule,
                    &file.path,
                    status,
                    "BEGIN is never committed in this file; its changes are rolled back or left holding locks.".into(),
                );
                f.location = Some(Location {
                    file: file.path.clone(),
                    line: Some(line.saturating_add(offset)),
                    column: Some(column),
                });
                f.evidence.push(("classification".into(), "expand".into()));
                f.evidence.push(("statement".into(), "BEGIN".into()));
                f.evidence.push(("pg_version".into(), cfg.pg.to_string()));
                if let Some(r) = reason {
                    f.evidence.push(("ignored".into(), r));
                }
                out.push(f);
            }
        }

        // Ignores that silenced nothing.
        let unused_rule = rules::find("unused-ignore").expect("rule exists");
        if cfg.enabled(unused_rule) {
            for ig in stmt_ignores.iter().chain(file_ignores.iter()) {
                if ig.used {
                    continue;
                }
                // squawk's comments carry their own directive as the reason.
                let directive = if let Some(squawk) = ig.reason.strip_prefix("-- squawk-") {
                    if ig.file_wide {
                        "squawk-ignore-file"
                    } else {
                        let _ = squawk;
                        "squawk-ignore"
                    }
                } else if ig.file_wide {
                    "gate:ignore-file"
                } else {
                    "gate:ignore"
                };
                let unknown: Vec<&String> = ig
                    .rules
                    .iter()
                    .filter(|r| *r != "all" && *r != "*" && rules::named(r).is_empty())
                    .collect();
                let disabled = ig.rules.iter().all(|r| {
                    let named = rules::named(r);
                    !named.is_empty() && named.iter().all(|rule| !cfg.enabled(rule))
                });
                if !ig.rules.is_empty() && unknown.is_empty() && disabled {
                    continue;
                }
                let message = if ig.rules.is_empty() {
                    format!("`-- {directive}` names no rule, so it ignores nothing.")
                } else if !unknown.is_empty() {
                    format!(
                        "`-- {directive} {}` names unknown rule {}, so it ignores nothing.",
                        ig.rules.join(","),
                        unknown
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    format!(
                        "`-- {directive} {}` matched no finding.",
                        ig.rules.join(",")
                    )
                };
                let mut f = finding(unused_rule, &file.path, Status::Warn, message);
                f.location = Some(Location {
                    file: file.path.clone(),
                    line: Some(ig.line.saturating_add(offset)),
                    column: Some(1),
                });
                f.evidence.push(("rules".into(), ig.rules.join(",")));
                out.push(f);
            }
        }

        let summary_rule = rules::find("file-summary").expect("rule exists");
        if cfg.enabled(summary_rule) {
            let c = &counts.by_class;
            let mut f = finding(
                summary_rule,
                &file.path,
                Status::Pass,
                format!(
                    "{}: {} statements ({} expand, {} contract, {} breaking, {} data).",
                    file.path, counts.statements, c[0], c[1], c[2], c[3]
                ),
            );
            f.remediation = None;
            f.location = Some(Location {
                file: file.path.clone(),
                line: None,
                column: None,
            });
            counts.evidence(&mut f.evidence);
            f.evidence
                .push(("parsed".into(), counts.parsed.to_string()));
            f.evidence
                .push(("in_transaction".into(), state.file_tx.to_string()));
            f.evidence.push((
                "phases".into(),
                serde_json::Value::Array(std::mem::take(&mut phases)).to_string(),
            ));
            out.push(f);
        }

        total.statements += counts.statements;
        total.parsed += counts.parsed;
        for k in 0..4 {
            total.by_class[k] += counts.by_class[k];
        }
    }

    let coverage_rule = rules::find("parse-coverage").expect("rule exists");
    if cfg.enabled(coverage_rule) {
        let percent = (total.parsed * 100)
            .checked_div(total.statements)
            .unwrap_or(100);
        let full = total.parsed == total.statements;
        let mut f = finding(
            coverage_rule,
            "migrations",
            if full { Status::Pass } else { Status::Warn },
            format!(
                "sqlparser parsed {} of {} statements ({percent}%) in {} files.",
                total.parsed,
                total.statements,
                files.len()
            ),
        );
        f.remediation = None;
        total.evidence(&mut f.evidence);
        f.evidence
            .insert(1, ("parsed".into(), total.parsed.to_string()));
        f.evidence
            .insert(2, ("coverage_percent".into(), percent.to_string()));
        f.evidence.push(("files".into(), files.len().to_string()));
        f.evidence.push(("pg_version".into(), cfg.pg.to_string()));
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(sql: &str) -> MigrationFile {
        MigrationFile {
            path: "m/001.sql".into(),
            contents: sql.into(),
            first_line: 1,
            in_transaction: true,
        }
    }

    #[test]
    fn config_errors_are_single_error_findings() {
        for bad in [
            "[1]",
            "{\"pg_version\": \"abc\"}",
            "{\"exclude\": [\"no-such-rule\"]}",
            "{\"include\": \"x\"}",
            "not json",
        ] {
            let f = validate(&[file("SELECT 1;")], bad);
            assert_eq!(f.len(), 1, "{bad}");
            assert_eq!(f[0].status, Status::Error, "{bad}");
            assert!(!f[0].message.is_empty());
        }
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let cfg = parse_config("{\"other\": 1}").unwrap();
        assert_eq!(cfg.pg, 15);
        assert_eq!(parse_config("").unwrap().pg, 15);
        assert_eq!(parse_config("{\"pg_version\": \"12.4\"}").unwrap().pg, 12);
    }

    #[test]
    fn summaries() {
        let f = validate(
            &[
                file("CREATE TABLE public.a (id bigint);\nUPDATE a SET id = 1;"),
                file(""),
            ],
            "{}",
        );
        let summaries: Vec<_> = f
            .iter()
            .filter(|f| f.rule.as_deref() == Some("file-summary"))
            .collect();
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[0].evidence("statements"), Some("2"));
        assert_eq!(summaries[0].evidence("expand"), Some("1"));
        assert_eq!(summaries[0].evidence("data"), Some("1"));
        assert_eq!(summaries[1].evidence("statements"), Some("0"));
        let phases: serde_json::Value =
            serde_json::from_str(summaries[0].evidence("phases").unwrap()).unwrap();
        assert_eq!(
            phases,
            serde_json::json!([
                {"line": 1, "classification": "expand"},
                {"line": 2, "classification": "data"}
            ])
        );
        assert_eq!(summaries[1].evidence("phases"), Some("[]"));
        assert_eq!(summaries[0].location.as_ref().unwrap().line, None);
        let cov = f.last().unwrap();
        assert_eq!(cov.rule.as_deref(), Some("parse-coverage"));
        assert_eq!(cov.subject, "migrations");
        assert_eq!(cov.status, Status::Pass);
        assert_eq!(cov.evidence("coverage_percent"), Some("100"));
    }

    #[test]
    fn finding_shape() {
        let mut m = file("-- x\nALTER TABLE users RENAME COLUMN email TO mail;");
        m.first_line = 10;
        let f = validate(&[m], "{}");
        let r = f
            .iter()
            .find(|f| f.rule.as_deref() == Some("rename-column"))
            .unwrap();
        assert_eq!(r.check, "migrations");
        assert_eq!(r.subject, "m/001.sql");
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.location.as_ref().unwrap().line, Some(11));
        assert_eq!(r.evidence("classification"), Some("breaking"));
        assert_eq!(r.evidence("object"), Some("users.email"));
        assert_eq!(r.evidence("pg_version"), Some("15"));
        let plan: Vec<String> = serde_json::from_str(r.evidence("plan").unwrap()).unwrap();
        assert!(plan.len() >= 4 && plan[0].contains("users.email"));
        assert!(r.remediation.is_some());
    }
}
