//! DROP of every kind of object, and REINDEX: the state they change, the
//! locks they take and the facts they emit.

use gate_sqlkit::Token;

use super::*;
use crate::Class;

/// A parsed DROP statement: what kind of object, which ones, and how.
struct DropTarget {
    /// `None` for a kind no rule judges (`DROP OWNED`, `DROP POLICY`, …).
    kind: Option<ObjectKind>,
    concurrently: bool,
    /// IF EXISTS.
    guarded: bool,
    cascade: bool,
    names: Vec<String>,
}

/// Whether a DROP of this kind fails when re-run without IF EXISTS.
fn guardable(kind: ObjectKind) -> bool {
    !matches!(
        kind,
        ObjectKind::ForeignTable | ObjectKind::Routine | ObjectKind::Aggregate
    )
}

fn drop_target(t: &[Token]) -> Option<DropTarget> {
    let mut i = 1;
    let kind = match t.get(i).map(|x| x.text.as_str()) {
        Some("MATERIALIZED") if is(t, 2, "VIEW") => {
            i += 2;
            Some(ObjectKind::MaterializedView)
        }
        Some("FOREIGN") if is(t, 2, "TABLE") => {
            i += 2;
            Some(ObjectKind::ForeignTable)
        }
        Some(k) => {
            i += 1;
            ObjectKind::from_keyword(k)
        }
        None => return None,
    };
    let concurrently = is(t, i, "CONCURRENTLY");
    if concurrently {
        i += 1;
    }
    let (guarded, mut j) = skip_if(t, i);
    let mut names = Vec::new();
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
    Some(DropTarget {
        kind,
        concurrently,
        guarded,
        cascade: has_anywhere(t, "CASCADE"),
        names,
    })
}

impl Analysis<'_> {
    /// DROP of any kind of object: contract, whatever it drops.
    pub(crate) fn drop(&mut self) {
        self.classify(Class::Contract);
        let Some(target) = drop_target(self.t) else {
            return;
        };
        let Some(kind) = target.kind else {
            return;
        };
        for name in &target.names {
            self.drop_object(&target, kind, name);
        }
    }

    /// Whether the migrations being judged created `name` of this kind
    /// (nothing uses it yet).
    fn drops_new(&self, kind: ObjectKind, name: &str) -> bool {
        match kind {
            ObjectKind::Table | ObjectKind::ForeignTable => self.run.tables.contains(name),
            ObjectKind::Index => self.run.indexes.contains(name),
            ObjectKind::Type | ObjectKind::Domain => self.run.types.contains(name),
            _ => false,
        }
    }

    fn drop_object(&mut self, target: &DropTarget, kind: ObjectKind, name: &str) {
        if kind == ObjectKind::Table {
            self.emit(Fact::TableNamed {
                verb: "DROP TABLE",
                table: name,
            });
        }
        let new = self.drops_new(kind, name);
        let locks = match kind {
            ObjectKind::Table | ObjectKind::ForeignTable => !new,
            ObjectKind::Index => !new && !target.concurrently,
            _ => false,
        };
        self.locks |= locks;
        let dropped = Dropped {
            kind,
            name,
            cascade: target.cascade,
            concurrently: target.concurrently,
            new,
        };
        let verb = dropped.verb();
        self.emit(Fact::Drop(dropped));
        if !new && guardable(kind) {
            self.emit(Fact::Guardable {
                what: &verb,
                object: name,
                guarded: target.guarded,
            });
        }
    }

    pub(crate) fn reindex(&mut self) {
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
        if !concurrently {
            self.locks = true;
            self.long_lock = true;
        }
        self.emit(Fact::Reindex {
            label: &label,
            name: &name,
            concurrently,
        });
    }
}
