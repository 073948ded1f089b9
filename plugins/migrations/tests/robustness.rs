//! No input makes the validator panic (a panic is a trap in the component):
//! token soup built from SQL keywords, punctuation, quotes and non-ASCII text.

use gate_plugin_migrations::{MigrationFile, Status, validate};

const VOCAB: &[&str] = &[
    "ALTER",
    "TABLE",
    "ADD",
    "COLUMN",
    "DROP",
    "CREATE",
    "INDEX",
    "CONCURRENTLY",
    "IF",
    "NOT",
    "EXISTS",
    "ON",
    "ONLY",
    "RENAME",
    "TO",
    "TYPE",
    "SET",
    "DATA",
    "NULL",
    "DEFAULT",
    "VALUE",
    "BEFORE",
    "CONSTRAINT",
    "CHECK",
    "UNIQUE",
    "PRIMARY",
    "KEY",
    "FOREIGN",
    "REFERENCES",
    "VALID",
    "VALIDATE",
    "USING",
    "BEGIN",
    "ATOMIC",
    "END",
    "COMMIT",
    "ROLLBACK",
    "TRUNCATE",
    "CASCADE",
    "REINDEX",
    "VACUUM",
    "FULL",
    "CLUSTER",
    "DOMAIN",
    "SCHEMA",
    "DETACH",
    "PARTITION",
    "UPDATE",
    "DELETE",
    "FROM",
    "WHERE",
    "REFRESH",
    "MATERIALIZED",
    "VIEW",
    "SEQUENCE",
    "GENERATED",
    "IDENTITY",
    "STORED",
    "AS",
    "lock_timeout",
    "=",
    "'2s'",
    "users",
    "t",
    "\"Quoted\"",
    "émoji_🚀",
    "(",
    ")",
    ",",
    ".",
    ";",
    "::",
    "*",
    "$$",
    "$x$",
    "'",
    "\"",
    "--",
    "/*",
    "*/",
    "E'\\'",
    "0",
    "varchar(10)",
    "serial",
    "int",
    "timestamp",
    "\n",
    "\r\n",
    "-- gate:ignore drop-table why\n",
    "-- gate:ignore-file all\n",
    "-- no-transaction\n",
    "COPY t FROM stdin;\n",
    "\\.\n",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn token_soup_never_panics() {
    let mut rng = Lcg(42);
    for round in 0..3000 {
        let len = rng.next() % 40;
        let mut sql = String::new();
        for _ in 0..len {
            sql.push_str(VOCAB[rng.next() % VOCAB.len()]);
            sql.push(if rng.next().is_multiple_of(3) {
                '\n'
            } else {
                ' '
            });
        }
        let files = vec![
            MigrationFile {
                path: format!("{round}.sql"),
                contents: sql.clone(),
                first_line: (rng.next() % 3) as u32,
                in_transaction: rng.next().is_multiple_of(2),
            },
            MigrationFile {
                path: "next.sql".into(),
                contents: sql,
                first_line: u32::MAX,
                in_transaction: true,
            },
        ];
        let pg = 9 + rng.next() % 10;
        let findings = validate(&files, &format!("{{\"pg_version\": {pg}}}"));
        assert!(
            findings
                .iter()
                .any(|f| f.rule.as_deref() == Some("parse-coverage")),
            "round {round}"
        );
        assert!(findings.iter().all(|f| f.status != Status::Error));
    }
}

#[test]
fn deep_nesting_is_a_parse_error_not_a_crash() {
    let sql = format!(
        "SELECT {}1{};\nALTER TABLE t ADD COLUMN c bigint DEFAULT {}1{};",
        "(".repeat(5000),
        ")".repeat(5000),
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let findings = validate(
        &[MigrationFile {
            path: "deep.sql".into(),
            contents: sql,
            first_line: 1,
            in_transaction: true,
        }],
        "{}",
    );
    assert!(
        findings
            .iter()
            .any(|f| f.rule.as_deref() == Some("parse-error"))
    );
}
