use super::*;

fn texts(sql: &str) -> Vec<String> {
    split(sql).statements.into_iter().map(|s| s.text).collect()
}

#[test]
fn splits_simple_statements() {
    assert_eq!(
        texts("CREATE TABLE a (id int);\nALTER TABLE a ADD b text;\n"),
        vec!["CREATE TABLE a (id int)", "ALTER TABLE a ADD b text"]
    );
}

#[test]
fn last_statement_without_semicolon() {
    let s = split("SELECT 1;\nSELECT 2\n");
    assert_eq!(s.statements.len(), 2);
    assert!(s.statements[0].terminated);
    assert!(!s.statements[1].terminated);
    assert_eq!(s.statements[1].text, "SELECT 2");
}

#[test]
fn empty_statements_are_dropped() {
    assert_eq!(texts(";;  ;\nSELECT 1;;"), vec!["SELECT 1"]);
    assert!(split("").statements.is_empty());
    assert!(split("  \n -- only a comment\n").statements.is_empty());
}

#[test]
fn spans_lines_and_columns() {
    let sql = "-- header\n\n  SELECT 1;  UPDATE t\n SET a = 1;\n";
    let s = split(sql);
    let a = &s.statements[0];
    assert_eq!((a.line, a.column, a.end_line), (3, 3, 3));
    assert_eq!(&sql[a.span.clone()], "SELECT 1");
    let b = &s.statements[1];
    assert_eq!((b.line, b.column, b.end_line), (3, 14, 4));
    assert_eq!(&sql[b.span.clone()], "UPDATE t\n SET a = 1");
}

#[test]
fn columns_count_characters() {
    let s = split("SELECT 'é'; SELECT 2;");
    assert_eq!(s.statements[1].column, 13);
    assert_eq!(
        &"SELECT 'é'; SELECT 2;"[s.statements[1].span.clone()],
        "SELECT 2"
    );
}

#[test]
fn semicolons_in_comments_and_strings() {
    let sql = "SELECT 'a;b', \"c;d\" -- e;f\n /* g; /* h; */ i; */ FROM t; SELECT 2;";
    let t = texts(sql);
    assert_eq!(t.len(), 2);
    assert!(t[0].starts_with("SELECT 'a;b'") && t[0].ends_with("FROM t"));
}

#[test]
fn doubled_quotes() {
    assert_eq!(
        texts("SELECT 'it''s; fine'; SELECT \"a\"\";b\";"),
        vec!["SELECT 'it''s; fine'", "SELECT \"a\"\";b\""]
    );
}

#[test]
fn escape_strings() {
    assert_eq!(
        texts(r"SELECT E'it\'s; ok'; SELECT e'\\'; SELECT 3;"),
        vec![r"SELECT E'it\'s; ok'", r"SELECT e'\\'", "SELECT 3"]
    );
    // In a standard string a backslash is literal.
    assert_eq!(
        texts(r"SELECT '\'; SELECT 2;"),
        vec![r"SELECT '\'", "SELECT 2"]
    );
}

#[test]
fn dollar_quotes() {
    let sql = "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\
               DO $body$ BEGIN PERFORM 1; $x$ ; $x$; END $body$;\n\
               SELECT $1, a$b$c;";
    let t = texts(sql);
    assert_eq!(t.len(), 3, "{t:?}");
    assert!(t[0].ends_with("LANGUAGE sql"));
    assert!(t[1].starts_with("DO $body$") && t[1].ends_with("END $body$"));
    assert_eq!(t[2], "SELECT $1, a$b$c");
}

#[test]
fn nested_dollar_tags() {
    let sql = "CREATE FUNCTION g() RETURNS void AS $fn$\nBEGIN\n EXECUTE $q$ SELECT ';' $q$;\nEND;\n$fn$ LANGUAGE plpgsql;\nSELECT 1;";
    let s = split(sql);
    assert_eq!(s.statements.len(), 2);
    assert_eq!(s.statements[1].line, 6);
}

#[test]
fn begin_atomic_bodies() {
    let sql = "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n\
               BEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN a ELSE 0 END + b;\n  SELECT 1;\nEND;\n\
               BEGIN;\nSELECT 2;\nCOMMIT;";
    let t = texts(sql);
    assert_eq!(t.len(), 4, "{t:?}");
    assert!(t[0].ends_with("END"));
    assert_eq!(&t[1..], ["BEGIN", "SELECT 2", "COMMIT"]);
}

#[test]
fn begin_transaction_is_not_atomic() {
    assert_eq!(
        texts("BEGIN; SELECT 1; END; SELECT atomic FROM t;"),
        vec!["BEGIN", "SELECT 1", "END", "SELECT atomic FROM t"]
    );
}

#[test]
fn unterminated_string_runs_to_end() {
    let s = split("SELECT 1; SELECT 'oops; SELECT 2;");
    assert_eq!(s.statements.len(), 2);
    assert!(s.statements[1].unterminated_quote);
    assert!(!s.statements[0].unterminated_quote);
}

#[test]
fn comments_before_statements() {
    let sql = "-- no-transaction\n-- gate:ignore-file require-timeout\n\n\
               CREATE INDEX i ON t (a);\n\
               -- gate:ignore add-index-not-concurrently small table\n\
               CREATE INDEX j ON t (b); -- trailing\n\
               /* block */\nSELECT 1;\n-- end";
    let s = split(sql);
    assert_eq!(s.statements.len(), 3);
    assert_eq!(s.leading_comments.len(), 2);
    assert_eq!(s.statements[0].comments.len(), 2);
    assert_eq!(s.statements[1].comments.len(), 1);
    assert_eq!(s.statements[1].comments[0].line, 5);
    assert_eq!(
        s.statements[2]
            .comments
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>(),
        ["trailing", "block"]
    );
    assert_eq!(s.trailing_comments.len(), 1);
    assert_eq!(s.trailing_comments[0].text, "end");
    assert_eq!(s.comments.len(), 6);
    assert!(s.no_transaction());
    assert_eq!(
        s.directives(),
        vec![
            Directive::NoTransaction,
            Directive::IgnoreFile {
                rules: vec!["require-timeout".into()],
                reason: String::new()
            }
        ]
    );
}

#[test]
fn ignores_directly_above() {
    let sql = "-- gate:ignore rule-a far away\n\nSELECT 0;\n\
               -- gate:ignore rule-b,rule-c because reasons\n-- plain comment\n\
               -- gate:ignore rule-d\nSELECT 1;";
    let s = split(sql);
    assert_eq!(s.statements[0].ignores().len(), 0, "blank line separates");
    let ig = s.statements[1].ignores();
    assert_eq!(
        ig,
        vec![
            (
                4,
                vec!["rule-b".to_string(), "rule-c".to_string()],
                "because reasons".to_string()
            ),
            (6, vec!["rule-d".to_string()], String::new()),
        ]
    );
}

#[test]
fn ignore_file_anywhere() {
    let s = split("SELECT 1;\n-- gate:ignore-file x reason here\nSELECT 2;");
    assert!(s.directives().is_empty());
    assert_eq!(
        s.ignore_file_directives(),
        vec![(2, vec!["x".to_string()], "reason here".to_string())]
    );
}

#[test]
fn directive_parsing() {
    assert_eq!(
        parse_directive(" NO-TRANSACTION "),
        Some(Directive::NoTransaction)
    );
    assert_eq!(parse_directive("something else"), None);
    assert_eq!(parse_directive("gate:ignored x"), None);
    assert_eq!(
        parse_directive("gate:ignore"),
        Some(Directive::Ignore {
            rules: vec![],
            reason: String::new()
        })
    );
}

#[test]
fn no_statements_all_comments_leading() {
    let s = split("-- no-transaction\n");
    assert!(s.no_transaction());
    assert!(s.statements.is_empty());
}

#[test]
fn tokenize_uppercases_and_skips_comments() {
    let t =
        tokenize("alter table \"Users\" /* x */ add column e text default 'drop table' -- c\n;");
    let texts: Vec<_> = t.iter().map(|t| (t.kind, t.text.as_str())).collect();
    use TokenKind::*;
    assert_eq!(
        texts,
        vec![
            (Word, "ALTER"),
            (Word, "TABLE"),
            (QuotedIdent, "Users"),
            (Word, "ADD"),
            (Word, "COLUMN"),
            (Word, "E"),
            (Word, "TEXT"),
            (Word, "DEFAULT"),
            (String, "drop table"),
            (Punct, ";"),
        ]
    );
    assert!(t[0].is("ALTER"));
    assert_eq!(t[2].ident(), "Users");
    assert_eq!(t[5].ident(), "e");
}

#[test]
fn tokenize_dollar_and_escapes() {
    let t = tokenize("SELECT $tag$a'b$tag$, 'x''y', E'z'");
    assert_eq!(t[1].text, "a'b");
    assert_eq!(t[3].text, "x'y");
    assert_eq!(t[5].text, "z");
}

#[test]
fn collapse_whitespace() {
    let s = split("ALTER   TABLE t\n   ADD COLUMN -- why\n a  text DEFAULT 'x  y';");
    assert_eq!(
        s.statements[0].collapsed(160),
        "ALTER TABLE t ADD COLUMN a text DEFAULT 'x  y'"
    );
    assert_eq!(s.statements[0].collapsed(12), "ALTER TABLE…");
}

#[test]
fn line_index() {
    let idx = LineIndex::new("ab\ncd\n");
    assert_eq!(idx.position(0), (1, 1));
    assert_eq!(idx.position(3), (2, 1));
    assert_eq!(idx.position(4), (2, 2));
    assert_eq!(idx.position(6), (3, 1));
}

#[test]
fn crlf_files() {
    let s = split("-- gate:ignore r why\r\nSELECT 1;\r\nSELECT 2;\r\n");
    assert_eq!(s.statements[1].line, 3);
    assert_eq!(s.statements[0].ignores()[0].2, "why");
}

#[test]
fn transaction_control_statements() {
    let s = split(
        "BEGIN; START TRANSACTION ISOLATION LEVEL SERIALIZABLE; COMMIT; END; ROLLBACK; ABORT;\n\
         ROLLBACK TO SAVEPOINT a; COMMIT PREPARED 'x'; SELECT 1;",
    );
    let kinds: Vec<_> = s
        .statements
        .iter()
        .map(|s| s.transaction_control())
        .collect();
    use TxControl::*;
    assert_eq!(
        kinds,
        vec![
            Some(Begin),
            Some(Begin),
            Some(Commit),
            Some(Commit),
            Some(Rollback),
            Some(Rollback),
            None,
            None,
            None
        ]
    );
    let atomic = split("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;");
    assert_eq!(atomic.statements[0].transaction_control(), None);
}

#[test]
fn transaction_restrictions() {
    let cases = [
        ("CREATE INDEX CONCURRENTLY i ON t (a)", true),
        (
            "create unique index concurrently if not exists i on t (a)",
            true,
        ),
        ("DROP INDEX CONCURRENTLY IF EXISTS i", true),
        ("REINDEX (VERBOSE) INDEX CONCURRENTLY i", true),
        ("ALTER TABLE p DETACH PARTITION c CONCURRENTLY", true),
        ("ALTER TYPE mood ADD VALUE 'meh'", true),
        ("VACUUM ANALYZE t", true),
        ("CREATE DATABASE x", true),
        ("ALTER SYSTEM SET work_mem = '64MB'", true),
        ("CREATE INDEX i ON t (a)", false),
        ("DROP INDEX i", false),
        ("SELECT 'CREATE INDEX CONCURRENTLY'", false),
        ("ALTER TABLE t ADD COLUMN concurrently text", false),
    ];
    for (sql, restricted) in cases {
        let s = split(sql);
        assert_eq!(
            s.statements[0].transaction_restriction().is_some(),
            restricted,
            "{sql}"
        );
    }
}

#[test]
fn identifiers_keep_quoted_case_in_tokens() {
    let t = tokenize("ALTER TABLE public.\"Users\" RENAME TO \"Accounts\"\"x\"");
    assert_eq!(t[2].ident(), "public");
    assert_eq!(t[4].ident(), "Users");
    assert_eq!(t[7].ident(), "Accounts\"x");
}

#[test]
fn copy_from_stdin_data_is_skipped() {
    let sql = "CREATE TABLE t (a text);\nCOPY t (a) FROM stdin;\nit's; not sql\n'unbalanced\n\\.\nSELECT 1;\n";
    let s = split(sql);
    let texts: Vec<_> = s.statements.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "CREATE TABLE t (a text)",
            "COPY t (a) FROM stdin",
            "SELECT 1"
        ]
    );
    assert_eq!(s.statements[2].line, 6);
    // Without a terminator the data runs to the end.
    let s = split("COPY t FROM STDIN;\n1\t2\n");
    assert_eq!(s.statements.len(), 1);
    // COPY from a file is an ordinary statement.
    assert_eq!(
        split("COPY t FROM '/tmp/x.csv'; SELECT 2;")
            .statements
            .len(),
        2
    );
}

/// The splitter tracks `COPY … FROM STDIN` as it walks a statement's
/// lexemes; it must decide as the statement's own tokens do (the first
/// token is the word COPY, two tokens in a row are FROM STDIN).
#[test]
fn copy_from_stdin_is_recognised_as_by_the_statements_tokens() {
    let by_tokens = |statement: &str| {
        let t = tokenize(statement);
        t.first().is_some_and(|x| x.is("COPY"))
            && t.windows(2).any(|w| w[0].is("FROM") && w[1].is("STDIN"))
    };
    let statements = [
        ("COPY t FROM STDIN", true),
        ("copy t (a, b) from stdin with (format csv)", true),
        ("COPY t FROM /* data follows */ -- yes\n STDIN", true),
        ("/* lead */ COPY t FROM stdin", true),
        ("COPY t FROM \u{17f}tdin", true),
        ("COPY t FROM \"STDIN\"", false),
        ("COPY t FROM 'STDIN'", false),
        ("COPY t FROM '/tmp/x.csv'", false),
        ("COPY t TO STDOUT", false),
        ("COPY t FROM, STDIN", false),
        ("COPY t FROM.STDIN", false),
        ("\"COPY\" t FROM STDIN", false),
        ("SELECT 1 FROM STDIN", false),
        (
            "CREATE RULE r AS ON INSERT TO t DO COPY t FROM STDIN",
            false,
        ),
        ("COPY", false),
        ("FROM STDIN", false),
    ];
    for (statement, expected) in statements {
        assert_eq!(by_tokens(statement), expected, "{statement:?}");
        let sql = format!("{statement};\n1\t2; not sql\n\\.\nSELECT 3;");
        let texts: Vec<_> = split(&sql).statements.into_iter().map(|s| s.text).collect();
        // The data skipped, or split as statements.
        let skipped = texts.len() == 2 && texts[1] == "SELECT 3";
        let split_as_sql = texts.len() == 3 && texts[1] == "1\t2";
        assert!(skipped != split_as_sql, "{statement:?}: {texts:?}");
        assert_eq!(skipped, expected, "{statement:?}: {texts:?}");
    }
}

/// Random text made of the characters the lexer cares about never panics,
/// and statement spans always point at their text.
#[test]
fn random_text_never_panics() {
    const ALPHABET: &[char] = &[
        'a', 'E', 'e', 'U', '&', '$', '1', '\'', '"', '\\', ';', '-', '/', '*', '(', ')', '.', ':',
        '\n', '\r', ' ', 'é', '🚀', 'B', 'G', 'I', 'N', 'A', 'T', 'O', 'M', 'C', '\t',
    ];
    let mut state: u64 = 7;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for _ in 0..5000 {
        let len = next() % 60;
        let text: String = (0..len)
            .map(|_| ALPHABET[next() % ALPHABET.len()])
            .collect();
        let script = split(&text);
        for s in &script.statements {
            assert_eq!(&text[s.span.clone()], s.text);
            assert!(s.line >= 1 && s.end_line >= s.line);
            let _ = s.tokens();
            let _ = s.ignores();
            let _ = s.collapsed(20);
            let _ = s.transaction_restriction();
        }
        let _ = script.directives();
        let _ = tokenize(&text);
    }
}

#[test]
fn squawk_directives() {
    assert_eq!(
        parse_directive(" squawk-ignore ban-drop-column, renaming-column"),
        Some(Directive::Ignore {
            rules: vec!["ban-drop-column".into(), "renaming-column".into()],
            reason: "-- squawk-ignore".into()
        })
    );
    // A file-wide squawk ignore without rules ignores every rule.
    assert_eq!(
        parse_directive("squawk-ignore-file"),
        Some(Directive::IgnoreFile {
            rules: vec!["all".into()],
            reason: "-- squawk-ignore-file".into()
        })
    );
    // gate's own file-wide ignore without rules still names none.
    assert_eq!(
        parse_directive("gate:ignore-file"),
        Some(Directive::IgnoreFile {
            rules: vec![],
            reason: String::new()
        })
    );
    let s = split("SELECT 1;\n-- squawk-disable-assume-in-transaction\nSELECT 2;");
    assert!(s.assumed_transaction_disabled());
    assert!(!split("-- no-transaction\nSELECT 1;").assumed_transaction_disabled());
}

#[test]
fn directive_shortcuts_answer_as_the_split_does() {
    let cases = [
        "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);",
        "--   NO-Transaction  \nSELECT 1;",
        "/* no-transaction */ SELECT 1;",
        "SELECT 1;\n-- no-transaction\n",
        "SELECT 'no-transaction';",
        "-- not no-transaction at all\nSELECT 1;",
        "-- squawk-disable-assume-in-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);",
        "SELECT 1; -- SQUAWK-DISABLE-ASSUME-IN-TRANSACTION",
        "SELECT '-- squawk-disable-assume-in-transaction';",
        "-- squawk-disable-assume\nSELECT 1;",
        "-",
        "-- no-transactio",
        "",
        "SELECT 1 - 2; -- a-b",
        "-- é no-transaction é\nSELECT 1;",
    ];
    for sql in cases {
        let script = split(sql);
        assert_eq!(
            declares_no_transaction(sql),
            script.no_transaction(),
            "{sql:?}"
        );
        assert_eq!(
            disables_assumed_transaction(sql),
            script.assumed_transaction_disabled(),
            "{sql:?}"
        );
    }
    // The shortcut itself: the word in any ASCII case, at the start, the
    // end, or not at all.
    assert!(spells("x NO-TRANSACTION", "no-transaction"));
    assert!(spells("no-transaction", "no-transaction"));
    assert!(!spells("no-transactio", "no-transaction"));
    assert!(!spells("o-transaction", "no-transaction"));
    assert!(!spells("no transaction", "no-transaction"));
}

#[test]
fn tokens_from_one_lexing_are_each_statements_own() {
    let scripts = [
        "SELECT 1; SELECT 2",
        "CREATE TABLE t (a int); -- trailing\n/* between */ INSERT INTO t VALUES (1);;",
        "SELECT 'a;b', \"we\"\"ird\", E'x\\'y', $$ body ; $$, $tag$ $$ ; $tag$ FROM t;",
        "DO $f$ BEGIN RAISE NOTICE 'x;'; END $f$; SELECT /* in /* nested */ */ 2;",
        "COPY t (a) FROM stdin;\n1\n2; not sql\n\\.\nSELECT 3;",
        "SELECT $1::int, a->>'k', b::text[] FROM t WHERE c <> 1 AND d ~* 'x';",
        "SELECT 'unterminated; SELECT 2;",
        "SELECT 1 /* unterminated comment ; SELECT 2;",
        "-- only a comment\n",
        "",
        "ALTER TABLE \"Quoted Name\" ADD COLUMN é text; SELECT ÉTÉ FROM x",
        "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;\n-- no-transaction",
    ];
    for sql in scripts {
        let (script, tokens) = split_tokens(sql);
        assert_eq!(script, split(sql), "{sql:?}");
        assert_eq!(tokens.len(), script.statements.len(), "{sql:?}");
        for (stmt, got) in script.statements.iter().zip(&tokens) {
            assert_eq!(got, &stmt.tokens(), "{sql:?}: {:?}", stmt.text);
        }
    }
}
