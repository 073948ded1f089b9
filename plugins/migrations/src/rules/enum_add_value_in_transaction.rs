//! `enum-add-value-in-transaction`: ALTER TYPE … ADD VALUE inside a transaction.

use gate_sqlkit::TokenKind;

use super::{Rule, rule, RuleId};
use crate::Severity;
use crate::analyze::{Analysis, Fact};

pub(super) static RULE: Rule = rule(
    "enum-add-value-in-transaction",
    "ALTER TYPE … ADD VALUE inside a transaction",
    Severity::High,
    true,
    "Before PostgreSQL 12, ALTER TYPE … ADD VALUE cannot run inside a transaction block; from 12 it can, but the new value cannot be used until the transaction commits.",
    "Add the enum value in its own migration outside a transaction (or at least do not use it in the same transaction).",
)
.versions("Fails before PostgreSQL 12 whenever the file runs in a transaction; from 12 only when a later statement in the same transaction uses the new value.")
.on(on);

/// ALTER TYPE … ADD VALUE in a transaction: an error before PostgreSQL 12;
/// from 12, the value is remembered, and a later statement of the same
/// transaction that uses it is reported once its walk is done.
fn on(a: &mut Analysis<'_>, fact: &Fact<'_>) {
    match fact {
        Fact::AddEnumValue {
            ty,
            value,
            new: false,
            ..
        } if a.file.in_tx() => {
            let pg = a.cfg.pg;
            if pg < 12 {
                a.add(
                    RuleId::EnumAddValueInTransaction,
                    format!("ALTER TYPE {ty} ADD VALUE '{value}' cannot run inside a transaction block on PostgreSQL {pg}."),
                    Some(ty.to_string()),
                );
            } else {
                a.file.enum_values_in_tx.push(value.to_string());
            }
        }
        Fact::Walked => value_use(a),
        _ => {}
    }
}

/// From PostgreSQL 12, a value added in a transaction cannot be used in it.
fn value_use(a: &mut Analysis<'_>) {
    if a.file.enum_values_in_tx.is_empty() || a.starts_with(&["ALTER"]) {
        return;
    }
    let t = a.t;
    let used: Vec<String> = a
        .file
        .enum_values_in_tx
        .iter()
        .filter(|v| t.iter().any(|x| x.kind == TokenKind::String && x.text == v.as_str()))
        .cloned()
        .collect();
    for v in used {
        a.add(
            RuleId::EnumAddValueInTransaction,
            format!("Enum value '{v}' is used in the transaction that added it; PostgreSQL rejects it until the transaction commits."),
            Some(v),
        );
    }
}

#[cfg(test)]
pub(super) const CASES: &str = r##"
[[case]]
name = "before 12 in a transaction"
sql = "ALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';"
pg_version = 11
expect = [{ rule = "enum-add-value-in-transaction", line = 1, status = "fail" }]

[[case]]
name = "12+: value used in the same transaction"
sql = "ALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';\nUPDATE people SET mood = 'meh' WHERE mood = 'sad';"
pg_version = 12
expect = [{ rule = "enum-add-value-in-transaction", line = 2 }]

[[case]]
name = "12+: not used"
sql = "ALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';"
pg_version = 12
expect = []

[[case]]
name = "outside a transaction before 12"
sql = "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'sad';"
pg_version = 10
in_transaction = false
expect = []

[[case]]
name = "used after the commit"
sql = "BEGIN;\nALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';\nCOMMIT;\nUPDATE people SET mood = 'meh';"
in_transaction = false
expect = []
"##;
