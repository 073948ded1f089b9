//! The policy file format as serde types, with source spans.
//!
//! These types are the schema: unknown keys are rejected (`deny_unknown_fields`),
//! and the list of valid keys for "did you mean" comes from them too
//! ([`fields_of`]). Every field is optional unless it identifies its item, because
//! `extends` merges key by key and a child may set just one key.

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::forward_to_deserialize_any;
use toml::Spanned;
use toml::de::DeValue;
use toml::value::Datetime;

use super::decode::{Item, Rejection};
use super::{Enforcement, OnError, Severity};

/// `[policy]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeader {
    pub name: Option<Spanned<String>>,
    pub extends: Option<Vec<Spanned<String>>>,
    pub max_exemption_days: Option<Spanned<u32>>,
    pub warn_days: Option<Spanned<u32>>,
    pub exemptions: Option<Vec<Spanned<String>>>,
    pub exemption_signers: Option<Spanned<String>>,
}

impl Item for RawHeader {}

/// `[[plugin]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlugin {
    pub name: Spanned<String>,
    pub path: Option<Spanned<String>>,
    pub sha256: Option<Spanned<String>>,
    /// Decoded on its own (see `document.rs`) so its errors do not hide the plugin's.
    #[allow(dead_code)]
    pub grants: Option<RawGrants>,
}

impl Item for RawPlugin {}

/// `[plugin.grants]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrants {
    pub http: Option<Vec<Spanned<String>>>,
    pub net: Option<Vec<Spanned<String>>>,
    pub unix: Option<Vec<Spanned<String>>>,
    pub fs: Option<Vec<Spanned<String>>>,
    pub env: Option<Vec<Spanned<String>>>,
    pub sql: Option<Vec<Spanned<String>>>,
    pub metrics: Option<Vec<Spanned<String>>>,
    pub timeout_ms: Option<Spanned<u64>>,
    pub memory_mb: Option<Spanned<u64>>,
    pub output_kb: Option<Spanned<u64>>,
    pub parallel: Option<Spanned<u64>>,
}

impl Item for RawGrants {}

/// `[connections.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConnection {
    pub kind: Option<Spanned<String>>,
    pub url_env: Option<Spanned<String>>,
    pub scratch: Option<Spanned<bool>>,
}

impl Item for RawConnection {
    fn reject(key: &str, _value: &DeValue<'_>, what: &str) -> Option<Rejection> {
        matches!(key, "url" | "uri" | "dsn" | "password").then(|| Rejection {
            message: format!("`{key}` is not allowed in {what}"),
            help: "secrets come from the environment, never from the policy file: put the \
                   URL in an environment variable and name it with `url_env`, \
                   e.g. `url_env = \"DATABASE_URL\"`"
                .to_string(),
            at_value: false,
        })
    }
}

/// `[migrations]`: how `gate migrate` and `config.migrations-tested` read
/// and validate SQL migrations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMigrations {
    pub paths: Option<Vec<Spanned<String>>>,
    pub pg_version: Option<Spanned<u32>>,
    pub exclude: Option<Vec<Spanned<String>>>,
    pub include: Option<Vec<Spanned<String>>>,
    pub assume_in_transaction: Option<Spanned<bool>>,
}

impl Item for RawMigrations {}

/// `[audit]`: where `gate evaluate` and `gate migrate` record their
/// decisions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub dir: Option<Spanned<String>>,
}

impl Item for RawAudit {}

/// `[drills.restore.NAME]`: how `gate drill restore --connection NAME`
/// restores that connection's database (docs/drills.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRestoreDrill {
    pub base_backups: Spanned<String>,
    pub wal_archive: Spanned<String>,
    pub timeout_secs: Option<Spanned<u64>>,
    pub verify: Option<Vec<Spanned<RawVerifyQuery>>>,
}

impl Item for RawRestoreDrill {}

/// One `verify = [{ sql = "…", expect = "…" }]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVerifyQuery {
    pub sql: String,
    pub expect: String,
}

/// `[metrics.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub kind: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
}

impl Item for RawMetrics {}

/// `[[gate]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGate {
    pub name: Spanned<String>,
    pub checks: Option<Spanned<Vec<Spanned<String>>>>,
    pub enforcement: Option<Spanned<Enforcement>>,
}

impl Item for RawGate {}

/// `[[check]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub id: Spanned<String>,
    pub severity: Option<Spanned<Severity>>,
    pub enforcement: Option<Spanned<Enforcement>>,
    pub on_error: Option<Spanned<OnError>>,
    pub params: Option<Spanned<toml::Table>>,
}

impl Item for RawCheck {}

/// `[[exemption]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExemption {
    pub check: Spanned<String>,
    #[serde(rename = "match")]
    pub subject_match: Option<Spanned<String>>,
    pub reason: Spanned<String>,
    pub approved_by: Spanned<String>,
    pub ticket: Option<Spanned<String>>,
    pub expires: Spanned<Datetime>,
    pub signature: Option<Spanned<String>>,
}

impl Item for RawExemption {
    fn reject(key: &str, value: &DeValue<'_>, _what: &str) -> Option<Rejection> {
        // A quoted date would otherwise fail with serde's "expected a TOML datetime",
        // which does not say what to write instead.
        let DeValue::String(text) = value else {
            return None;
        };
        (key == "expires").then(|| Rejection {
            message: "`expires` must be a TOML date, not a string".to_string(),
            help: format!(
                "remove the quotes: `expires = {}`",
                if text.trim().is_empty() {
                    "2026-12-31"
                } else {
                    text.trim()
                }
            ),
            at_value: true,
        })
    }
}

/// The keys a serde struct accepts, in declaration order, read from its derived
/// `Deserialize` impl so that the list cannot drift from the schema.
pub(crate) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("field probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field probe"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_the_serde_types() {
        assert_eq!(
            fields_of::<RawExemption>(),
            [
                "check",
                "match",
                "reason",
                "approved_by",
                "ticket",
                "expires",
                "signature"
            ]
        );
        assert_eq!(fields_of::<RawGate>(), ["name", "checks", "enforcement"]);
        assert!(fields_of::<RawGrants>().contains(&"output_kb"));
    }
}
