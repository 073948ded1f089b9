//! The `[[plugin]]` block that pins a built component in a policy: its name,
//! its path relative to the policy's directory, its sha256, and the grants
//! its checks declare, as placeholders to narrow. Also keeps the pin of a
//! project's `policy-snippet.toml` current.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use gate_sandbox::plugin::CheckMeta;

use crate::error::DevkitError;

/// The policy a new project carries to try its plugin.
pub const SNIPPET: &str = "policy-snippet.toml";

/// `[[plugin]]` for plugin `name` at `path` (as the policy will write it).
pub fn plugin_block(name: &str, path: &Path, sha256: &str, checks: &[CheckMeta]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "[[plugin]]");
    let _ = writeln!(out, "name = {}", quoted(name));
    let _ = writeln!(out, "path = {}", quoted(&path.display().to_string()));
    let _ = writeln!(out, "sha256 = \"{sha256}\"");
    let _ = writeln!(out, "[plugin.grants]");
    for line in grant_lines(checks) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// One line per capability the checks declare, naming the checks: `fs` as a
/// working grant of the policy's directory (narrow it), every other one
/// commented out with a placeholder to fill in.
fn grant_lines(checks: &[CheckMeta]) -> Vec<String> {
    let mut needed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for check in checks {
        for capability in &check.capabilities {
            // `a|b`: either will do; both are offered.
            for one in capability.split('|') {
                let users = needed.entry(one.trim()).or_default();
                if !users.contains(&check.id.as_str()) {
                    users.push(&check.id);
                }
            }
        }
    }
    if needed.is_empty() {
        return vec!["# the checks declare no capability".into()];
    }
    needed
        .into_iter()
        .filter_map(|(capability, users)| {
            let by = users.join(", ");
            let line = match capability {
                "fs" | "system" => {
                    format!("fs = [\".\"]   # {by}: narrow it to the directories the checks read")
                }
                "env" => format!("# env = [\"VARIABLE\"]   # {by}: the variables it reads"),
                "http" => format!(
                    "# http = [\"https://host.example/path/*\"]   # {by}: the URLs it fetches"
                ),
                "net" => {
                    format!("# net = [\"host.example:443\"]   # {by}: the addresses it connects to")
                }
                "unix" => {
                    format!("# unix = [\"/run/app/app.sock\"]   # {by}: the sockets it talks to")
                }
                "sql" => format!(
                    "# sql = [\"CONNECTION\"]   # {by}: with a [connections.CONNECTION] table"
                ),
                "metrics" => {
                    format!("# metrics = [\"PROVIDER\"]   # {by}: with a [metrics.PROVIDER] table")
                }
                "log" | "clock" => return None,
                other => format!("# `{other}` ({by}) is no capability this gate grants"),
            };
            Some(line)
        })
        .collect()
}

fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `file` as a path relative to the directory `dir` (both made absolute
/// against the working directory, lexically: nothing is resolved).
pub fn relative_to(dir: &Path, file: &Path) -> PathBuf {
    let (Ok(dir), Ok(file)) = (std::path::absolute(dir), std::path::absolute(file)) else {
        return file.to_path_buf();
    };
    let (dir, file) = (normal(&dir), normal(&file));
    let common = dir.iter().zip(&file).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..dir.len() {
        rel.push("..");
    }
    for c in &file[common..] {
        rel.push(c.as_os_str());
    }
    rel
}

/// `p` without `.` and with `..` applied to what precedes it.
fn normal(p: &Path) -> Vec<Component<'_>> {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Sets the `sha256` of plugin `name` in `project/policy-snippet.toml` to
/// `sha256`. `Ok(false)` when the file is absent or holds no such plugin
/// with a pin (the author has made it their own).
pub fn update_snippet(project: &Path, name: &str, sha256: &str) -> Result<bool, DevkitError> {
    let path = project.join(SNIPPET);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(DevkitError::Io { path, source }),
    };
    let Some(updated) = with_pin(&text, name, sha256) else {
        return Ok(false);
    };
    if updated != text {
        crate::files::write(project, SNIPPET, &updated)?;
    }
    Ok(true)
}

/// `text` with the `sha256 = "…"` line of the `[[plugin]]` table named
/// `name` replaced, or `None` when there is no such line.
fn with_pin(text: &str, name: &str, sha256: &str) -> Option<String> {
    let name_line = format!("name = {}", quoted(name));
    let mut in_plugin = false;
    let mut is_ours = false;
    let mut done = false;
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            // A new table: `[plugin.grants]` still belongs to the plugin.
            in_plugin = trimmed == "[[plugin]]" || (in_plugin && trimmed.starts_with("[plugin."));
            if trimmed == "[[plugin]]" {
                is_ours = false;
            }
        } else if in_plugin && trimmed == name_line {
            is_ours = true;
        }
        if in_plugin && is_ours && !done && trimmed.starts_with("sha256") {
            let ending = if line.ends_with('\n') { "\n" } else { "" };
            out.push(format!("sha256 = \"{sha256}\"{ending}"));
            done = true;
            continue;
        }
        out.push(line.to_string());
    }
    done.then(|| out.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_core::model::Severity;

    fn check(id: &str, capabilities: &[&str]) -> CheckMeta {
        CheckMeta {
            id: id.into(),
            title: String::new(),
            description: String::new(),
            default_severity: Severity::Low,
            params: Vec::new(),
            capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn the_block_grants_fs_and_leaves_placeholders_for_the_rest() {
        let block = plugin_block(
            "acme",
            Path::new("acme/build/acme.wasm"),
            "ab",
            &[
                check("acme.a", &["fs", "http"]),
                check("acme.b", &["metrics|fs", "log"]),
            ],
        );
        let policy: toml::Table = toml::from_str(&block).expect("valid TOML");
        let plugin = &policy["plugin"][0];
        assert_eq!(plugin["path"].as_str(), Some("acme/build/acme.wasm"));
        assert_eq!(plugin["grants"]["fs"].as_array().unwrap().len(), 1);
        assert!(
            plugin["grants"].get("http").is_none(),
            "placeholders are comments"
        );
        assert!(
            block.contains("fs = [\".\"]   # acme.a, acme.b:"),
            "{block}"
        );
        assert!(block.contains("# http = ["), "{block}");
        assert!(
            block.contains("# metrics = [\"PROVIDER\"]   # acme.b"),
            "{block}"
        );
        assert!(!block.contains("log"), "{block}");
    }

    #[test]
    fn paths_are_relative_to_the_policy_directory() {
        assert_eq!(
            relative_to(Path::new("/w/p"), Path::new("/w/p/acme/build/a.wasm")),
            PathBuf::from("acme/build/a.wasm")
        );
        assert_eq!(
            relative_to(Path::new("/w/policies"), Path::new("/w/acme/build/a.wasm")),
            PathBuf::from("../acme/build/a.wasm")
        );
        assert_eq!(
            relative_to(Path::new("/w/p/./x/.."), Path::new("/w/p/a.wasm")),
            PathBuf::from("a.wasm")
        );
    }

    #[test]
    fn only_the_named_plugins_pin_is_replaced() {
        let text = "[[plugin]]\nname = \"other\"\npath = \"o.wasm\"\nsha256 = \"11\"\n\n\
                    [[plugin]]\nname = \"acme\"\npath = \"a.wasm\"\nsha256 = \"00\"\n[plugin.grants]\nfs = [\".\"]\n";
        let updated = with_pin(text, "acme", "ff").unwrap();
        assert!(updated.contains("name = \"other\"\npath = \"o.wasm\"\nsha256 = \"11\""));
        assert!(
            updated
                .contains("name = \"acme\"\npath = \"a.wasm\"\nsha256 = \"ff\"\n[plugin.grants]")
        );
        assert_eq!(with_pin(text, "absent", "ff"), None);
    }
}
