//! The policy's `[migrations]` table: PostgreSQL version, rule include/exclude lists, transaction assumption and scope.

use std::collections::HashSet;

use crate::rules::RuleId;

pub(crate) const DEFAULT_PG: u32 = 15;

/// The policy's `[migrations]` table, plus the host's `scope`.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) pg: u32,
    pub(crate) exclude: HashSet<RuleId>,
    pub(crate) include: HashSet<RuleId>,
    pub(crate) assume_in_transaction: bool,
    pub(crate) scope: Scope,
}

/// Which of the given files run together, so that an object one of them
/// creates is new (empty, unused by running code) to the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `"migration"` (the default): each file is a migration applied on its
    /// own, after the ones before it, which exist and hold data by then.
    /// Only objects created earlier in the same file are new.
    Migration,
    /// `"run"`: the files are one pending set, applied together in one
    /// deploy; objects created by any earlier file of the set are new.
    Run,
}

pub(crate) fn rule_list(v: &serde_json::Value, key: &str) -> Result<HashSet<RuleId>, String> {
    let Some(items) = v.as_array() else {
        return Err(format!("`{key}` must be a list of rule ids, got {v}"));
    };
    let mut out = HashSet::new();
    for item in items {
        let Some(id) = item.as_str() else {
            return Err(format!("`{key}` must be a list of rule ids, got {item}"));
        };
        let Some(rule) = RuleId::from_name(id) else {
            return Err(format!(
                "`{key}` names an unknown rule `{id}`; `gate plugins describe migrations` lists the rules"
            ));
        };
        out.insert(rule);
    }
    Ok(out)
}

pub(crate) fn parse_config(text: &str) -> Result<Config, String> {
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
            Some(m) if gate_sqlkit::PG_MAJOR_VERSIONS.contains(&m) => cfg.pg = m,
            _ => {
                let known = gate_sqlkit::PG_MAJOR_VERSIONS;
                return Err(format!(
                    "`pg_version` must be a PostgreSQL major version from {} to {}, such as 15, got {v}",
                    known.start(),
                    known.end()
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
    pub(crate) fn enabled(&self, id: RuleId) -> bool {
        !self.exclude.contains(&id) && (!id.rule().opt_in || self.include.contains(&id))
    }
}
