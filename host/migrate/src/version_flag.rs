//! A flagd flag that pins which version's schema applications read
//! (docs/migrations.md, "Pinning reads with a flagd flag"). Its two
//! variants are the `search_path` of each version: `old` and `new`. An
//! application evaluates the flag and sets its `search_path` to the value,
//! so a team moves reads to the new version gradually (flagd targeting,
//! fractional rollouts) or pins them, without a deploy.
//!
//! gate keeps the flag in step with the migration: `start` sets both
//! variants (a new flag reads `old`); `complete` refuses while any
//! evaluation can still give `old` (the schema it names is about to be
//! dropped), then points both variants at the new version; `rollback`
//! points both at the old version. The file is replaced atomically, never
//! written through a symlink, and keeps its other flags and keys in order.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use gate_core::atomic_file;

/// `--flagd FILE --flag KEY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionFlag {
    pub file: PathBuf,
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("{file}: {error}")]
    Read { file: String, error: std::io::Error },
    #[error("{file}:{line}:{column}: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Shape { file: String, message: String },
    #[error(transparent)]
    Write(#[from] gate_core::file_error::FileError),
    /// `complete` would drop the schema an evaluation can still give.
    #[error(
        "{file}: flag `{key}` can still give variant `old` ({why}); switch it to `new` (\"defaultVariant\": \"new\" and no targeting) once every application reads the new version, then complete"
    )]
    StillOld {
        file: String,
        key: String,
        why: String,
    },
}

impl VersionFlag {
    fn shown(&self) -> String {
        self.file.display().to_string()
    }

    fn shape(&self, message: impl Into<String>) -> FlagError {
        FlagError::Shape {
            file: self.shown(),
            message: message.into(),
        }
    }

    /// The whole file (a new one when it does not exist yet).
    fn load(&self) -> Result<Value, FlagError> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(json!({
                    "$schema": "https://flagd.dev/schema/v0/flags.json",
                    "flags": {}
                }));
            }
            Err(error) => {
                return Err(FlagError::Read {
                    file: self.shown(),
                    error,
                });
            }
        };
        let root: Value = serde_json::from_str(&text).map_err(|e| FlagError::Json {
            file: self.shown(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        match root.get("flags") {
            Some(Value::Object(_)) => Ok(root),
            _ => Err(self.shape(
                "`flags` must be an object of flag definitions by key (the form gate keeps a version flag in)",
            )),
        }
    }

    fn save(&self, root: &Value) -> Result<(), FlagError> {
        let mut text = serde_json::to_string_pretty(root).expect("serialisable");
        text.push('\n');
        atomic_file::write(&self.file, &[text.as_bytes()])?;
        Ok(())
    }

    /// Runs `change` on the flag's definition (an empty object when it is
    /// missing) and saves the file.
    fn update(&self, change: impl FnOnce(&mut Map<String, Value>)) -> Result<(), FlagError> {
        let mut root = self.load()?;
        let flags = root["flags"].as_object_mut().expect("checked by load");
        let flag = flags
            .entry(self.key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(flag) = flag else {
            return Err(self.shape(format!("flag `{}` is not an object", self.key)));
        };
        change(flag);
        self.save(&root)
    }

    /// After the expand: both variants; a new flag reads `old`. An existing
    /// flag keeps its default variant and targeting.
    pub fn expanded(&self, old_version: &str, new_version: &str) -> Result<(), FlagError> {
        self.update(|flag| {
            flag.entry("state").or_insert_with(|| json!("ENABLED"));
            flag.insert(
                "variants".into(),
                json!({ "old": old_version, "new": new_version }),
            );
            flag.entry("defaultVariant").or_insert_with(|| json!("old"));
        })
    }

    /// Before the contract: every evaluation must give `new`.
    pub fn ready_to_complete(&self) -> Result<(), FlagError> {
        let root = self.load()?;
        let still_old = |why: &str| FlagError::StillOld {
            file: self.shown(),
            key: self.key.clone(),
            why: why.to_string(),
        };
        let Some(flag) = root["flags"].get(&self.key) else {
            return Err(still_old(
                "the flag is missing, so applications fall back to their code default",
            ));
        };
        if flag.get("state").and_then(Value::as_str) != Some("ENABLED") {
            return Err(still_old(
                "it is not ENABLED, so applications fall back to their code default",
            ));
        }
        if flag.get("defaultVariant").and_then(Value::as_str) != Some("new") {
            return Err(still_old("its defaultVariant is not `new`"));
        }
        if flag
            .get("targeting")
            .is_some_and(|t| !t.is_null() && t != &json!({}))
        {
            return Err(still_old("its targeting may choose `old`"));
        }
        Ok(())
    }

    /// After complete or rollback: the one version left, whatever is read.
    pub fn settled(&self, version: &str, variant: &str) -> Result<(), FlagError> {
        self.update(|flag| {
            flag.insert("state".into(), json!("ENABLED"));
            flag.insert("variants".into(), json!({ "old": version, "new": version }));
            flag.insert("defaultVariant".into(), json!(variant));
            flag.remove("targeting");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(dir: &tempfile::TempDir) -> VersionFlag {
        VersionFlag {
            file: dir.path().join("flags.json"),
            key: "users-schema".into(),
        }
    }

    fn read(f: &VersionFlag) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&f.file).unwrap()).unwrap()
    }

    #[test]
    fn the_flag_follows_the_migration_and_blocks_complete_until_it_reads_new() {
        let dir = tempfile::tempdir().unwrap();
        let f = flag(&dir);
        std::fs::write(
            &f.file,
            r#"{"flags": {"other": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}"#,
        )
        .unwrap();
        f.expanded("public", "gate_v2").unwrap();
        let root = read(&f);
        assert_eq!(root["flags"]["users-schema"]["variants"]["new"], "gate_v2");
        assert_eq!(root["flags"]["users-schema"]["defaultVariant"], "old");
        assert_eq!(root["flags"]["other"]["defaultVariant"], "on");
        let keys: Vec<&String> = root["flags"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["other", "users-schema"]);
        assert!(matches!(
            f.ready_to_complete(),
            Err(FlagError::StillOld { .. })
        ));

        // A fractional rollout of reads still gives `old` to some.
        let mut root = read(&f);
        root["flags"]["users-schema"]["defaultVariant"] = json!("new");
        root["flags"]["users-schema"]["targeting"] =
            json!({"fractional": [["old", 50], ["new", 50]]});
        std::fs::write(&f.file, root.to_string()).unwrap();
        // A second start (resumed) keeps what the team set.
        f.expanded("public", "gate_v2").unwrap();
        let err = f.ready_to_complete().unwrap_err().to_string();
        assert!(err.contains("targeting"), "{err}");

        let mut root = read(&f);
        root["flags"]["users-schema"]
            .as_object_mut()
            .unwrap()
            .remove("targeting");
        std::fs::write(&f.file, root.to_string()).unwrap();
        f.ready_to_complete().unwrap();
        f.settled("gate_v2", "new").unwrap();
        let root = read(&f);
        assert_eq!(root["flags"]["users-schema"]["variants"]["old"], "gate_v2");
    }

    #[test]
    fn a_broken_file_is_named_at_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let f = flag(&dir);
        std::fs::write(&f.file, "{\n  \"flags\": {,}\n}\n").unwrap();
        let err = f.expanded("a", "b").unwrap_err().to_string();
        assert!(err.contains("flags.json:2:"), "{err}");
        std::fs::write(&f.file, r#"{"flags": []}"#).unwrap();
        let err = f.expanded("a", "b").unwrap_err().to_string();
        assert!(err.contains("`flags` must be an object"), "{err}");
    }

    #[test]
    fn a_symlink_in_place_of_the_file_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let f = flag(&dir);
        let target = dir.path().join("elsewhere.json");
        std::fs::write(&target, r#"{"flags": {}}"#).unwrap();
        std::os::unix::fs::symlink(&target, &f.file).unwrap();
        f.expanded("a", "b").unwrap();
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            r#"{"flags": {}}"#
        );
        assert!(!std::fs::symlink_metadata(&f.file).unwrap().is_symlink());
    }
}
