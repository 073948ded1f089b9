//! OSV advisories (<https://ossf.github.io/osv-schema/>): the fields gate reads,
//! and whether a package version is affected.

use std::cmp::Ordering;

use gate_plugin_sdk::Severity;
use serde::Deserialize;

use super::cvss;
use super::lockfile::Ecosystem;
use super::version::Scheme;

/// One vulnerability record: one JSON file in the advisory directory.
#[derive(Clone, Debug, Deserialize)]
pub struct Vuln {
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub severity: Vec<SeverityScore>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<PackageRef>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub severity: Vec<SeverityScore>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PackageRef {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// Exactly one of the fields is set in a valid record.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Event {
    #[serde(default)]
    pub introduced: Option<String>,
    #[serde(default)]
    pub fixed: Option<String>,
    #[serde(default)]
    pub last_affected: Option<String>,
    #[serde(default)]
    pub limit: Option<String>,
}

/// Why a version is affected, and what fixes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// `fixed` versions of the ranges that matched, in range order.
    pub fixed: Vec<String>,
    /// The version was listed explicitly in `versions`.
    pub listed: bool,
}

/// How bad an advisory says it is, and where that came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Rated {
    pub severity: Severity,
    /// e.g. `CVSS_V3 7.2 (CVSS:3.1/AV:N/...)` or `database_specific HIGH`.
    pub source: String,
}

impl Vuln {
    pub fn parse(text: &str) -> Result<Vuln, String> {
        let v: Vuln = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if v.id.trim().is_empty() {
            return Err("`id` is empty".to_string());
        }
        Ok(v)
    }

    /// Checks `name@version` of `ecosystem` against every `affected` entry.
    /// `Err` when a range cannot be evaluated (an unparseable bound), so an
    /// advisory gate cannot read never silently counts as "not affected".
    pub fn affects(
        &self,
        ecosystem: Ecosystem,
        name: &str,
        version: &str,
    ) -> Result<Option<(usize, Hit)>, String> {
        for (index, affected) in self.affected.iter().enumerate() {
            let Some(pkg) = &affected.package else {
                continue;
            };
            if Ecosystem::from_osv(&pkg.ecosystem) != Some(ecosystem)
                || ecosystem.normalize(&pkg.name) != ecosystem.normalize(name)
            {
                continue;
            }
            if let Some(hit) = affected.matches(ecosystem, version)? {
                return Ok(Some((index, hit)));
            }
        }
        Ok(None)
    }

    /// Severity from, in order: a CVSS v3 vector (on the affected entry, then the
    /// record), then `database_specific.severity` / `ecosystem_specific.severity`.
    pub fn rating(&self, affected: Option<&Affected>) -> Option<Rated> {
        let scores = affected
            .map(|a| a.severity.as_slice())
            .unwrap_or_default()
            .iter()
            .chain(&self.severity);
        for s in scores {
            if s.kind.starts_with("CVSS_V3")
                && let Some(score) = cvss::base_score(&s.score)
            {
                return Some(Rated {
                    severity: cvss::rating(score),
                    source: format!("CVSS {score:.1} ({})", s.score),
                });
            }
        }
        let words = [
            affected.and_then(|a| a.database_specific.as_ref()),
            affected.and_then(|a| a.ecosystem_specific.as_ref()),
            self.database_specific.as_ref(),
        ];
        for (where_, value) in [
            "database_specific",
            "ecosystem_specific",
            "database_specific",
        ]
        .iter()
        .zip(words)
        {
            if let Some(word) = value
                .and_then(|v| v.get("severity"))
                .and_then(|s| s.as_str())
                && let Some(severity) = cvss::from_word(word)
            {
                return Some(Rated {
                    severity,
                    source: format!("{where_}.severity {word}"),
                });
            }
        }
        None
    }

    /// The advisory id followed by its aliases, as shown in findings.
    pub fn names(&self) -> String {
        if self.aliases.is_empty() {
            self.id.clone()
        } else {
            format!("{} ({})", self.id, self.aliases.join(", "))
        }
    }
}

impl Affected {
    fn matches(&self, ecosystem: Ecosystem, version: &str) -> Result<Option<Hit>, String> {
        let scheme = ecosystem.scheme();
        let equal = |listed: &str| {
            listed == version || scheme.compare(listed, version) == Some(Ordering::Equal)
        };
        if self.versions.iter().any(|v| equal(v)) {
            return Ok(Some(Hit {
                fixed: self.fixed_versions(),
                listed: true,
            }));
        }
        if !scheme.parses(version) {
            // Only an explicit listing can match a version gate cannot order.
            if self.ranges.iter().any(|r| r.kind != "GIT") {
                return Err(format!(
                    "version `{version}` is not a valid {} version, so the advisory's ranges cannot be applied",
                    ecosystem.scheme_name()
                ));
            }
            return Ok(None);
        }
        for range in &self.ranges {
            // GIT ranges are commits; SEMVER and ECOSYSTEM are ordered by the scheme.
            if range.kind == "GIT" {
                continue;
            }
            if range_contains(scheme, &range.events, version)? {
                return Ok(Some(Hit {
                    fixed: range
                        .events
                        .iter()
                        .filter_map(|e| e.fixed.clone())
                        .collect(),
                    listed: false,
                }));
            }
        }
        Ok(None)
    }

    fn fixed_versions(&self) -> Vec<String> {
        self.ranges
            .iter()
            .flat_map(|r| r.events.iter().filter_map(|e| e.fixed.clone()))
            .collect()
    }
}

/// OSV's evaluation: with the events sorted by version, a version is affected
/// after an `introduced` at or below it, until a `fixed` at or below it or a
/// `last_affected` below it.
pub fn range_contains(scheme: Scheme, events: &[Event], version: &str) -> Result<bool, String> {
    let cmp = |a: &str, b: &str| -> Result<Ordering, String> {
        // "0" means "from the beginning" whatever the scheme.
        match (a == "0", b == "0") {
            (true, true) => return Ok(Ordering::Equal),
            (true, false) => return Ok(Ordering::Less),
            (false, true) => return Ok(Ordering::Greater),
            _ => {}
        }
        scheme
            .compare(a, b)
            .ok_or_else(|| format!("cannot compare versions `{a}` and `{b}`"))
    };
    // (bound, kind): 0 introduced, 1 fixed, 2 last_affected.
    let mut bounds: Vec<(&str, u8)> = Vec::new();
    for e in events {
        if let Some(v) = &e.introduced {
            bounds.push((v, 0));
        }
        if let Some(v) = &e.fixed {
            bounds.push((v, 1));
        }
        if let Some(v) = &e.last_affected {
            bounds.push((v, 2));
        }
    }
    for (b, _) in &bounds {
        cmp(b, b)?;
    }
    bounds.sort_by(|a, b| cmp(a.0, b.0).unwrap_or(Ordering::Equal).then(a.1.cmp(&b.1)));
    let mut affected = false;
    for (bound, kind) in bounds {
        let order = cmp(version, bound)?;
        match kind {
            0 if order != Ordering::Less => affected = true,
            1 if order != Ordering::Less => affected = false,
            2 if order == Ordering::Greater => affected = false,
            _ => {}
        }
    }
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(list: &[(&str, &str)]) -> Vec<Event> {
        list.iter()
            .map(|(k, v)| {
                let mut e = Event::default();
                let v = Some(v.to_string());
                match *k {
                    "introduced" => e.introduced = v,
                    "fixed" => e.fixed = v,
                    "last_affected" => e.last_affected = v,
                    _ => e.limit = v,
                }
                e
            })
            .collect()
    }

    fn contains(list: &[(&str, &str)], v: &str) -> bool {
        range_contains(Scheme::SemVer, &events(list), v).unwrap()
    }

    #[test]
    fn introduced_fixed_pairs() {
        let r = [
            ("introduced", "0"),
            ("fixed", "0.2.4"),
            ("introduced", "1.0.0"),
            ("fixed", "1.2.6"),
        ];
        for (v, want) in [
            ("0.0.1", true),
            ("0.2.3", true),
            ("0.2.4", false),
            ("0.9.9", false),
            ("1.0.0", true),
            ("1.2.5", true),
            ("1.2.6", false),
            ("2.0.0", false),
        ] {
            assert_eq!(contains(&r, v), want, "{v}");
        }
    }

    #[test]
    fn events_in_any_order_and_last_affected() {
        let r = [("fixed", "1.2.6"), ("introduced", "1.0.0")];
        assert!(contains(&r, "1.1.0"));
        assert!(!contains(&r, "0.9.0"));
        let r = [("introduced", "1.0.0"), ("last_affected", "1.4.0")];
        assert!(contains(&r, "1.4.0"));
        assert!(!contains(&r, "1.4.1"));
        // No upper bound: every later version is affected.
        let r = [("introduced", "0")];
        assert!(contains(&r, "99.0.0"));
        // A pre-release below the introduced version is not affected.
        let r = [("introduced", "2.0.0"), ("fixed", "2.1.0")];
        assert!(!contains(&r, "2.0.0-rc.1"));
        assert!(contains(&r, "2.1.0-rc.1"));
    }

    #[test]
    fn pep440_ranges() {
        let r = events(&[("introduced", "2.3.0"), ("fixed", "2.31.0")]);
        assert!(range_contains(Scheme::Pep440, &r, "2.28.1").unwrap());
        assert!(range_contains(Scheme::Pep440, &r, "2.31.0rc1").unwrap());
        assert!(!range_contains(Scheme::Pep440, &r, "2.31").unwrap());
        assert!(!range_contains(Scheme::Pep440, &r, "2.2.9").unwrap());
    }

    #[test]
    fn unparseable_bounds_are_errors() {
        let r = events(&[("introduced", "0"), ("fixed", "not-a-version")]);
        assert!(range_contains(Scheme::SemVer, &r, "1.0.0").is_err());
    }
}
