//! `gate plugin new`: a plugin name the policy will accept, a directory
//! that holds nothing yet, then the language's scaffold.

use std::path::Path;

use crate::error::DevkitError;
use crate::lang::{Language, toolchain};

/// What a plugin name must look like, for messages.
pub const NAME_RULE: &str = "a plugin name is lower-case kebab-case starting with a letter \
     (letters a-z, digits and single dashes, e.g. `acme` or `acme-checks`); it becomes the \
     prefix of the plugin's check ids (`acme.example`)";

/// `Ok` when `name` is a plugin name a policy accepts and no built-in uses.
pub fn check_name(name: &str) -> Result<(), DevkitError> {
    if !gate_sandbox::ids::is_plugin_name(name) {
        return Err(DevkitError::Name {
            name: name.to_string(),
            why: NAME_RULE.to_string(),
        });
    }
    let builtins = &gate_sandbox::plugin::BUILTINS;
    if builtins.iter().any(|b| b.name == name) {
        return Err(DevkitError::Name {
            name: name.to_string(),
            why: format!(
                "it is the name of a built-in plugin ({}); pick another",
                builtins
                    .iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(())
}

/// Writes a new `language` project for plugin `name` into `dir`, which must
/// not exist yet or be empty.
pub fn new(name: &str, language: Language, dir: &Path) -> Result<(), DevkitError> {
    check_name(name)?;
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(DevkitError::NotEmpty {
                    path: dir.to_path_buf(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|source| DevkitError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Err(source) => {
            return Err(DevkitError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    toolchain(language).scaffold(name, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case_and_not_a_builtin() {
        for ok in ["acme", "acme-checks", "a1"] {
            check_name(ok).unwrap();
        }
        for bad in [
            "Acme",
            "acme_checks",
            "1acme",
            "acme.",
            "",
            "acme--x",
            "-acme",
        ] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(e.contains("lower-case kebab-case"), "{bad}: {e}");
        }
        let e = check_name("infra").unwrap_err().to_string();
        assert!(e.contains("built-in plugin"), "{e}");
    }

    #[test]
    fn a_non_empty_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let e = new("acme", Language::Rust, dir.path()).unwrap_err();
        assert!(matches!(e, DevkitError::NotEmpty { .. }), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
            "mine"
        );
    }
}
