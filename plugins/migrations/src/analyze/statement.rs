//! The dispatch over statement kinds, and the statements that need no grammar of their own: transactions, SET, DML, TRUNCATE, REINDEX.

use gate_sqlkit::TokenKind;

use super::*;
use crate::Class;

impl Analysis<'_> {
    /// Walks the statement, emitting its facts; the rules judge them.
    pub(crate) fn statement(&mut self) {
        self.emit(Fact::Statement);
        self.walk();
        self.emit(Fact::Walked);
        self.emit(Fact::Locks {
            waits: self.locks,
            long: self.long_lock,
        });
    }

    /// The statement's grammar, by its first keyword.
    fn walk(&mut self) {
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
            "UPDATE" | "DELETE" | "INSERT" | "COPY" | "MERGE" | "DO" | "CALL" | "WITH"
            | "VALUES" => self.classify(Class::Data),
            "CREATE" => self.create(),
            "ALTER" => self.alter(),
            "DROP" => self.drop(),
            "TRUNCATE" => {
                self.classify(Class::Data);
                self.locks = true;
                self.long_lock = true;
            }
            "REINDEX" => self.reindex(),
            "LOCK" => {
                self.locks = true;
                self.long_lock = true;
            }
            _ => {}
        }
    }

    pub(crate) fn set(&mut self) {
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
    pub(crate) fn select_into(&mut self) {
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
    pub(crate) fn set_config(&mut self) {
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
}
