//! CREATE: tables, indexes, types, domains and the objects only re-runs
//! care about: the new objects it records and the facts it emits.

use super::*;

impl Analysis<'_> {
    pub(crate) fn create(&mut self) {
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
                    self.emit(Fact::CreateDomain {
                        name: &name,
                        check: has_anywhere(t, "CHECK"),
                    });
                }
            }
            "SCHEMA" | "EXTENSION" | "SEQUENCE" => {
                let (guarded, j) = skip_if(t, i + 1);
                if let Some((name, _)) = name_at(t, j) {
                    self.emit(Fact::Guardable {
                        what: &format!("CREATE {kind}"),
                        object: &name,
                        guarded,
                    });
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

    pub(crate) fn create_table(&mut self, i: usize) {
        let t = self.t;
        let (guarded, i) = skip_if(t, i);
        let Some((table, j)) = name_at(t, i) else {
            return;
        };
        self.created(Kind::Table, &table);
        self.emit(Fact::Guardable {
            what: "CREATE TABLE",
            object: &table,
            guarded,
        });
        self.emit(Fact::TableNamed {
            verb: "CREATE TABLE",
            table: &table,
        });
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
                    self.emit(Fact::ColumnType {
                        object: &object,
                        ty: &col.ty,
                        at: col.at,
                    });
                }
            }
        }
    }

    pub(crate) fn create_index(&mut self, i: usize) {
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
        let new_table = self.table_is_new(&table);
        if !new_table && !concurrently {
            self.locks = true;
            self.long_lock = true;
        }
        self.emit(Fact::CreateIndex {
            label: &label,
            table: &table,
            concurrently,
            new_table,
        });
        // IF NOT EXISTS needs a name; an index on a new table goes with it.
        if !new_table && (index.is_some() || !concurrently) {
            self.emit(Fact::Guardable {
                what: "CREATE INDEX",
                object: &label,
                guarded,
            });
        }
    }
}
