//! `gate migrate plan --operations FILE`: the statements of SQL migrations
//! as an expand/contract operations file ([`crate::expand::ops`]) that
//! `gate migrate start` runs with both versions served.
//!
//! Each statement gate recognises becomes its operation: `ALTER TABLE … ADD
//! COLUMN`, `RENAME COLUMN`, `RENAME TO`, `ALTER COLUMN … TYPE`, `SET NOT
//! NULL`, `DROP COLUMN`, `ADD CONSTRAINT` (check, unique, foreign key),
//! `CREATE [UNIQUE] INDEX` on plain columns, `CREATE TABLE` with plain
//! columns and `DROP TABLE`. Session settings and transaction control are
//! left out (gate sets its own lock_timeout and transactions); anything else
//! is kept as `raw_sql`, which gate lints and runs as written. What only a
//! person can say (the old value of a changed type, the value of existing
//! rows for a new NOT NULL column) is left out with a `# decide:` comment
//! above the operation, so the file is refused until someone decides.

use std::fmt::Write;

use gate_sqlkit::{Token, TokenKind};

use super::layout::Migration;

/// One statement, and what it became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// `file:line` of the statement.
    pub source: String,
    pub sql: String,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `kind = { … }`, and what a person must still decide, if anything.
    Operation {
        kind: &'static str,
        fields: Vec<(&'static str, Field)>,
        decide: Option<String>,
    },
    /// Kept as written, as `raw_sql`.
    Raw,
    /// Not carried over, and why.
    Left(&'static str),
}

/// A field of an operation, rendered as TOML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Text(String),
    Bool(bool),
    List(Vec<String>),
    Table(Vec<(&'static str, Field)>),
    Tables(Vec<Vec<(&'static str, Field)>>),
}

fn text(s: impl Into<String>) -> Field {
    Field::Text(s.into())
}

impl Field {
    fn render(&self) -> String {
        match self {
            Field::Text(s) => toml::Value::String(s.clone()).to_string(),
            Field::Bool(b) => b.to_string(),
            Field::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|s| toml::Value::String(s.clone()).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Field::Table(fields) => inline(fields),
            Field::Tables(rows) => format!(
                "[\n{}]",
                rows.iter()
                    .map(|r| format!("  {},\n", inline(r)))
                    .collect::<String>()
            ),
        }
    }
}

fn inline(fields: &[(&'static str, Field)]) -> String {
    let pairs: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k} = {}", v.render()))
        .collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// `kind = { … }`, or a `[operation.kind]` table when a field spans lines
/// (TOML's inline tables are one line).
fn operation(kind: &str, fields: &[(&'static str, Field)]) -> String {
    if !fields.iter().any(|(_, f)| matches!(f, Field::Tables(_))) {
        return format!("{kind} = {}", inline(fields));
    }
    let mut out = format!("[operation.{kind}]");
    for (k, v) in fields {
        out.push_str(&format!("\n{k} = {}", v.render()));
    }
    out
}

/// A walk over one statement's tokens, with the text between them.
struct Cursor<'a> {
    sql: &'a str,
    tokens: Vec<Token>,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(sql: &'a str) -> Self {
        Cursor {
            sql,
            tokens: gate_sqlkit::tokenize(sql),
            at: 0,
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn is(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is(kw))
    }

    fn punct(&self, p: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == TokenKind::Punct && t.text == p)
    }

    /// Consumes the words, in order, if all are next.
    fn eat(&mut self, words: &[&str]) -> bool {
        let all = words
            .iter()
            .enumerate()
            .all(|(k, w)| self.tokens.get(self.at + k).is_some_and(|t| t.is(w)));
        if all {
            self.at += words.len();
        }
        all
    }

    fn done(&self) -> bool {
        self.at >= self.tokens.len()
    }

    fn name(&mut self) -> Option<String> {
        let t = self.peek().filter(|t| t.is_name())?.ident();
        self.at += 1;
        Some(t)
    }

    /// `schema.name` or `name`: the name (gate's operations name tables of
    /// one schema, the file's `schema`).
    fn table(&mut self) -> Option<String> {
        let first = self.name()?;
        if self.punct(".") {
            self.at += 1;
            return self.name();
        }
        Some(first)
    }

    /// The text from the current token up to (not including) the first
    /// top-level token that satisfies `stop`, or the end.
    fn until(&mut self, stop: impl Fn(&Token) -> bool) -> Option<String> {
        let start = self.peek()?.span.start;
        let mut depth = 0i32;
        let mut end = start;
        while let Some(t) = self.peek() {
            if depth == 0 && stop(t) {
                break;
            }
            if t.kind == TokenKind::Punct && t.text == "(" {
                depth += 1;
            } else if t.kind == TokenKind::Punct && t.text == ")" {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            end = t.span.end;
            self.at += 1;
        }
        let s = self.sql[start..end].trim();
        (!s.is_empty()).then(|| s.to_string())
    }

    /// `( … )`: the text inside.
    fn group(&mut self) -> Option<String> {
        if !self.punct("(") {
            return None;
        }
        self.at += 1;
        let inner = self.until(|_| false)?;
        self.punct(")").then(|| self.at += 1)?;
        Some(inner)
    }

    /// `(a, b)`: plain column names only.
    fn columns(&mut self) -> Option<Vec<String>> {
        let inner = self.group()?;
        let mut c = Cursor::new(&inner);
        let mut out = vec![c.name()?];
        while c.punct(",") {
            c.at += 1;
            out.push(c.name()?);
        }
        c.done().then_some(out)
    }
}

/// A word (or comma) that ends a column's type or an expression in a
/// column definition.
fn column_keyword(t: &Token) -> bool {
    (t.kind == TokenKind::Punct && t.text == ",")
        || [
            "NOT",
            "NULL",
            "DEFAULT",
            "CHECK",
            "PRIMARY",
            "REFERENCES",
            "UNIQUE",
            "CONSTRAINT",
            "COLLATE",
            "GENERATED",
        ]
        .iter()
        .any(|k| t.is(k))
}

fn op(kind: &'static str, fields: Vec<(&'static str, Field)>) -> Outcome {
    Outcome::Operation {
        kind,
        fields,
        decide: None,
    }
}

/// A column definition after `ADD [COLUMN]`: name, type, NOT NULL,
/// DEFAULT, CHECK; `None` for anything else.
fn add_column(c: &mut Cursor, table: &str) -> Option<Outcome> {
    c.eat(&["IF", "NOT", "EXISTS"]);
    let column = c.name()?;
    let ty = c.until(column_keyword)?;
    let mut fields = vec![
        ("table", text(table)),
        ("column", text(&column)),
        ("type", text(ty)),
    ];
    let mut not_null = false;
    let mut default = false;
    while !c.done() {
        if c.eat(&["NOT", "NULL"]) {
            not_null = true;
        } else if c.eat(&["NULL"]) {
        } else if c.eat(&["DEFAULT"]) {
            fields.push(("default", text(c.until(column_keyword)?)));
            default = true;
        } else if c.eat(&["CHECK"]) {
            fields.push(("check", text(c.group()?)));
        } else {
            return None;
        }
    }
    if !not_null {
        return Some(op("add_column", fields));
    }
    fields.push(("not_null", Field::Bool(true)));
    Some(Outcome::Operation {
        kind: "add_column",
        fields,
        decide: (!default).then(|| {
            format!("`up`: the value of {column} for existing rows and the old version's writes (an SQL expression over the old columns), or a `default`")
        }),
    })
}

fn add_constraint(c: &mut Cursor, table: &str) -> Option<Outcome> {
    let name = c.name()?;
    let mut fields = vec![("table", text(table)), ("name", text(name))];
    if c.eat(&["CHECK"]) {
        fields.push(("kind", text("check")));
        fields.push(("check", text(c.group()?)));
    } else if c.eat(&["UNIQUE"]) {
        fields.push(("kind", text("unique")));
        fields.push(("columns", Field::List(c.columns()?)));
    } else if c.eat(&["FOREIGN", "KEY"]) {
        fields.push(("kind", text("foreign_key")));
        fields.push(("columns", Field::List(c.columns()?)));
        c.eat(&["REFERENCES"]).then_some(())?;
        let references = c.table()?;
        let columns = c.columns()?;
        fields.push((
            "references",
            Field::Table(vec![
                ("table", text(references)),
                ("columns", Field::List(columns)),
            ]),
        ));
        if c.eat(&["ON", "DELETE"]) {
            let action = if c.eat(&["NO", "ACTION"]) {
                "no_action"
            } else if c.eat(&["RESTRICT"]) {
                "restrict"
            } else if c.eat(&["CASCADE"]) {
                "cascade"
            } else if c.eat(&["SET", "NULL"]) {
                "set_null"
            } else if c.eat(&["SET", "DEFAULT"]) {
                "set_default"
            } else {
                return None;
            };
            fields.push(("on_delete", text(action)));
        }
    } else {
        return None;
    }
    // NOT VALID is what gate does anyway.
    c.eat(&["NOT", "VALID"]);
    c.done().then(|| op("add_constraint", fields))
}

/// `ALTER TABLE t <one action>`.
fn alter_table(c: &mut Cursor) -> Option<Outcome> {
    c.eat(&["IF", "EXISTS"]);
    c.eat(&["ONLY"]);
    let table = c.table()?;
    let t = || text(&table);
    if c.eat(&["RENAME", "TO"]) {
        let to = c.name()?;
        return c
            .done()
            .then(|| op("rename_table", vec![("table", t()), ("to", text(to))]));
    }
    if c.eat(&["RENAME"]) {
        c.eat(&["COLUMN"]);
        let from = c.name()?;
        c.eat(&["TO"]).then_some(())?;
        let to = c.name()?;
        let fields = vec![("table", t()), ("from", text(from)), ("to", text(to))];
        return c.done().then(|| op("rename_column", fields));
    }
    if c.eat(&["ADD", "CONSTRAINT"]) {
        return add_constraint(c, &table);
    }
    if c.eat(&["ADD"]) {
        c.eat(&["COLUMN"]);
        return add_column(c, &table);
    }
    if c.eat(&["DROP"]) {
        c.eat(&["COLUMN"]);
        c.eat(&["IF", "EXISTS"]);
        let column = c.name()?;
        return c.done().then(|| {
            op(
                "drop_column",
                vec![("table", t()), ("column", text(column))],
            )
        });
    }
    c.eat(&["ALTER"]).then_some(())?;
    c.eat(&["COLUMN"]);
    let column = c.name()?;
    if c.eat(&["SET", "NOT", "NULL"]) {
        let fields = vec![("table", t()), ("column", text(column))];
        return c.done().then(|| op("set_not_null", fields));
    }
    c.eat(&["SET", "DATA"]);
    c.eat(&["TYPE"]).then_some(())?;
    let ty = c.until(|t| t.is("USING") || t.is("COLLATE"))?;
    let up = if c.eat(&["USING"]) {
        c.until(|_| false)?
    } else {
        format!("{column}::{ty}")
    };
    c.done().then_some(())?;
    Some(Outcome::Operation {
        kind: "change_type",
        fields: vec![
            ("table", t()),
            ("column", text(&column)),
            ("type", text(ty)),
            ("up", text(up)),
        ],
        decide: Some(format!(
            "`down`: the old version's value of {column} from the new one, e.g. \"{column}::<old type>\""
        )),
    })
}

/// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON t (cols)`.
fn create_index(c: &mut Cursor) -> Option<Outcome> {
    let unique = c.eat(&["UNIQUE"]);
    c.eat(&["INDEX"]).then_some(())?;
    c.eat(&["CONCURRENTLY"]);
    c.eat(&["IF", "NOT", "EXISTS"]);
    let name = c.name()?;
    c.eat(&["ON"]).then_some(())?;
    c.eat(&["ONLY"]);
    let table = c.table()?;
    c.eat(&["USING", "BTREE"]);
    let columns = c.columns()?;
    let mut fields = vec![
        ("table", text(table)),
        ("name", text(name)),
        ("columns", Field::List(columns)),
    ];
    if unique {
        fields.push(("unique", Field::Bool(true)));
    }
    c.done().then(|| op("create_index", fields))
}

/// `CREATE TABLE t (col type [NOT NULL] [DEFAULT e] [PRIMARY KEY], …,
/// [PRIMARY KEY (cols)])`.
fn create_table(c: &mut Cursor) -> Option<Outcome> {
    c.eat(&["TABLE"]).then_some(())?;
    c.eat(&["IF", "NOT", "EXISTS"]);
    let table = c.table()?;
    let body = c.group()?;
    c.done().then_some(())?;
    let mut b = Cursor::new(&body);
    let mut columns = Vec::new();
    let mut primary_key = Vec::new();
    loop {
        if b.eat(&["PRIMARY", "KEY"]) {
            primary_key = b.columns()?;
        } else {
            let name = b.name()?;
            let ty =
                b.until(|t| column_keyword(t) || (t.kind == TokenKind::Punct && t.text == ","))?;
            let mut col = vec![("name", text(&name)), ("type", text(ty))];
            while !b.done() && !b.punct(",") {
                if b.eat(&["NOT", "NULL"]) {
                    col.push(("not_null", Field::Bool(true)));
                } else if b.eat(&["NULL"]) {
                } else if b.eat(&["PRIMARY", "KEY"]) {
                    primary_key.push(name.clone());
                } else if b.eat(&["DEFAULT"]) {
                    let e = b.until(|t| {
                        column_keyword(t) || (t.kind == TokenKind::Punct && t.text == ",")
                    })?;
                    col.push(("default", text(e)));
                } else {
                    return None;
                }
            }
            columns.push(col);
        }
        if b.done() {
            break;
        }
        b.punct(",").then(|| b.at += 1)?;
    }
    let mut fields = vec![("table", text(table))];
    if !primary_key.is_empty() {
        fields.push(("primary_key", Field::List(primary_key)));
    }
    fields.push(("columns", Field::Tables(columns)));
    Some(op("create_table", fields))
}

fn drop_table(c: &mut Cursor) -> Option<Outcome> {
    c.eat(&["TABLE"]).then_some(())?;
    c.eat(&["IF", "EXISTS"]);
    let table = c.table()?;
    c.eat(&["RESTRICT"]);
    c.done()
        .then(|| op("drop_table", vec![("table", text(table))]))
}

/// What one statement becomes.
pub fn statement(sql: &str) -> Outcome {
    let mut c = Cursor::new(sql);
    let first = c.peek().map(|t| t.text.clone()).unwrap_or_default();
    match first.as_str() {
        "SET" | "RESET" => {
            return Outcome::Left("a session setting: gate sets its own lock_timeout");
        }
        "BEGIN" | "COMMIT" | "START" | "END" | "ROLLBACK" => {
            return Outcome::Left(
                "transaction control: gate runs each step in its own transaction",
            );
        }
        _ => {}
    }
    let planned = if c.eat(&["ALTER", "TABLE"]) {
        alter_table(&mut c)
    } else if c.eat(&["CREATE"]) {
        if c.is("TABLE") {
            create_table(&mut c)
        } else {
            create_index(&mut c)
        }
    } else if c.eat(&["DROP"]) {
        drop_table(&mut c)
    } else {
        None
    };
    planned.unwrap_or(Outcome::Raw)
}

/// Every statement of `migrations`, in order.
pub fn plan(migrations: &[Migration]) -> Vec<Planned> {
    let mut out = Vec::new();
    for m in migrations {
        let script = gate_sqlkit::split(&m.up.contents);
        let offset = m.up.first_line.max(1) - 1;
        for stmt in &script.statements {
            out.push(Planned {
                source: format!("{}:{}", m.up.path, stmt.line + offset),
                sql: stmt.text.clone(),
                outcome: statement(&stmt.text),
            });
        }
    }
    out
}

/// The operations file, named `name`.
pub fn render(name: &str, planned: &[Planned]) -> String {
    let mut out = format!(
        "# Written by `gate migrate plan --operations`; read it before `gate migrate start`.\nname = {}\n",
        toml::Value::String(name.to_string())
    );
    for p in planned {
        let one_line = gate_sqlkit::collapse(&p.sql, 100);
        match &p.outcome {
            Outcome::Left(why) => {
                let _ = writeln!(out, "\n# {}: `{one_line}` left out: {why}", p.source);
            }
            Outcome::Raw => {
                let _ = writeln!(
                    out,
                    "\n# {}: kept as written (raw_sql is linted, run as is, and not served to the two versions separately)\n[[operation]]\nraw_sql = {{ up = {} }}",
                    p.source,
                    toml::Value::String(p.sql.clone())
                );
            }
            Outcome::Operation {
                kind,
                fields,
                decide,
            } => {
                let _ = writeln!(out, "\n# {}: {one_line}", p.source);
                if let Some(d) = decide {
                    let _ = writeln!(out, "# decide: {d}");
                }
                let _ = writeln!(out, "[[operation]]\n{}", operation(kind, fields));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(sql: &str) -> String {
        match statement(sql) {
            Outcome::Operation { kind, fields, .. } => operation(kind, &fields),
            Outcome::Raw => "raw".into(),
            Outcome::Left(_) => "left".into(),
        }
    }

    #[test]
    fn each_statement_becomes_its_operation() {
        let cases = [
            (
                "ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT ''",
                r#"add_column = { table = "users", column = "email", type = "text", default = "''", not_null = true }"#,
            ),
            (
                "alter table public.users rename column name to full_name",
                r#"rename_column = { table = "users", from = "name", to = "full_name" }"#,
            ),
            (
                "ALTER TABLE users RENAME TO customers",
                r#"rename_table = { table = "users", to = "customers" }"#,
            ),
            (
                "ALTER TABLE orders ALTER COLUMN amount TYPE bigint",
                r#"change_type = { table = "orders", column = "amount", type = "bigint", up = "amount::bigint" }"#,
            ),
            (
                "ALTER TABLE orders ALTER amount SET DATA TYPE numeric(12, 2) USING amount / 100.0",
                r#"change_type = { table = "orders", column = "amount", type = "numeric(12, 2)", up = "amount / 100.0" }"#,
            ),
            (
                "ALTER TABLE users ALTER COLUMN city SET NOT NULL",
                r#"set_not_null = { table = "users", column = "city" }"#,
            ),
            (
                "ALTER TABLE users DROP COLUMN IF EXISTS note",
                r#"drop_column = { table = "users", column = "note" }"#,
            ),
            (
                "ALTER TABLE users ADD CONSTRAINT amount_positive CHECK (amount >= 0) NOT VALID",
                r#"add_constraint = { table = "users", name = "amount_positive", kind = "check", check = "amount >= 0" }"#,
            ),
            (
                "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE",
                r#"add_constraint = { table = "orders", name = "orders_user_fk", kind = "foreign_key", columns = ["user_id"], references = { table = "users", columns = ["id"] }, on_delete = "cascade" }"#,
            ),
            (
                "CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email)",
                r#"create_index = { table = "users", name = "users_email", columns = ["email"], unique = true }"#,
            ),
            (
                "DROP TABLE IF EXISTS legacy",
                r#"drop_table = { table = "legacy" }"#,
            ),
            ("CREATE INDEX users_lower ON users (lower(email))", "raw"),
            (
                "ALTER TABLE users ADD COLUMN a int, ADD COLUMN b int",
                "raw",
            ),
            ("UPDATE users SET city = 'x'", "raw"),
            ("SET lock_timeout = '2s'", "left"),
        ];
        for (sql, want) in cases {
            assert_eq!(kind(sql), want, "{sql}");
        }
    }

    #[test]
    fn create_table_with_plain_columns() {
        let got = kind(
            "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL, note text DEFAULT 'none')",
        );
        assert_eq!(
            got,
            "[operation.create_table]\ntable = \"orders\"\nprimary_key = [\"id\"]\ncolumns = [\n  { name = \"id\", type = \"bigint\" },\n  { name = \"user_id\", type = \"bigint\", not_null = true },\n  { name = \"note\", type = \"text\", default = \"'none'\" },\n]"
        );
    }
}
