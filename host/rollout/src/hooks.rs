//! Hook and instance commands: `sh -c` in the spec's directory, with a
//! timeout, the rollout's facts in the environment, and output captured for
//! the event log.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

pub struct CommandOutput {
    pub ok: bool,
    pub summary: String,
}

/// Runs one shell command. Never panics; a timeout kills it.
pub async fn run(
    command: &str,
    dir: &Path,
    env: &[(&str, &str)],
    timeout: Duration,
) -> CommandOutput {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return CommandOutput {
                ok: false,
                summary: format!("cannot start `{command}`: {e}"),
            };
        }
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => CommandOutput {
            ok: false,
            summary: format!("`{command}` timed out after {} s", timeout.as_secs()),
        },
        Ok(Err(e)) => CommandOutput {
            ok: false,
            summary: format!("`{command}`: {e}"),
        },
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let text: String = text.trim().chars().take(2000).collect();
            CommandOutput {
                ok: out.status.success(),
                summary: if out.status.success() {
                    text
                } else {
                    format!("`{command}` exited with {}: {text}", out.status)
                },
            }
        }
    }
}

/// `{server}` and `{version}` in an instance command.
pub fn substitute(template: &str, server: &str, version: &str) -> String {
    template
        .replace("{server}", server)
        .replace("{version}", version)
}
