//! Attacks on the `fs` grant, through the real `gate` binary: symlink chains
//! longer than PATH_MAX, symlinks and `..` out of a grant, /proc magic links,
//! FIFOs and devices where a file is expected, oversize files, and rollout
//! state files that are symlinks. Every attack must end as a denial (an
//! `error` finding or a refused command) with nothing planted leaking into any
//! report format.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Planted in a file outside the grant and in gate's environment: it must
/// never reach a report.
const SECRET: &str = "sk_live_PLANTEDfs0secret0d3adb33f";

/// One directory name long enough that a dozen of them pass PATH_MAX.
fn long_name() -> String {
    "d".repeat(250)
}

/// Plants `<grant>/<link>`: a chain of symlinks that walks down a directory
/// chain longer than PATH_MAX (4096) inside the grant and then back up with
/// `..`, ending at `escape` (relative to the grant's parent, or absolute from
/// `/` when it starts with `/`). `realpath` fails on it with ENAMETOOLONG while
/// the kernel still opens the target, which is how the old string check failed
/// open.
fn plant_long_chain(root: &Path, grant: &str, link: &str, escape: &str) {
    let half: Vec<String> = (0..10).map(|_| long_name()).collect();
    let half = half.join("/");
    let g = root.join(grant);
    std::fs::create_dir_all(g.join(&half)).unwrap();
    // A short cut to the middle, so the second half can be created with a
    // path the kernel accepts (each path given to mkdir stays below PATH_MAX).
    let _ = std::fs::remove_file(g.join("s"));
    symlink(&half, g.join("s")).unwrap();
    std::fs::create_dir_all(g.join("s").join(&half)).unwrap();
    // From <grant>/<20 levels> back up: 20 `..` reach the grant, one more its parent.
    let ups = "../".repeat(20);
    let target = match escape.strip_prefix('/') {
        Some(abs) => {
            let depth = g.components().count() - 1; // components below `/`
            format!("{ups}{}{abs}", "../".repeat(depth))
        }
        None => format!("{ups}../{escape}"),
    };
    let back = g.join("s").join(&half).join("back");
    let _ = std::fs::remove_file(&back);
    symlink(&target, &back).unwrap();
    // The entry point goes through the short cut, so realpath expands the
    // full 20-level chain and gives up.
    symlink(format!("s/{half}/back"), g.join(link)).unwrap();
    assert!(
        std::fs::canonicalize(g.join(link)).is_err(),
        "the chain must defeat realpath"
    );
}

fn migrations_policy(grants: &str) -> String {
    format!(
        "[policy]\nname = \"fs\"\n\n[[plugin]]\nname = \"config\"\n[plugin.grants]\n{grants}\n\n\
         [[gate]]\nname = \"preflight\"\nchecks = [\"config.migrations-tested\"]\n\n\
         [[check]]\nid = \"config.migrations-tested\"\nparams = {{ paths = [\"db\"] }}\n"
    )
}

fn all_formats(ws: &Workspace, env: &[(&str, &str)]) -> Vec<(String, i32, String)> {
    ["human", "json", "sarif", "junit"]
        .iter()
        .map(|f| {
            let out = ws.gate_env(&["evaluate", "--policy", "policy.toml", "--format", f], env);
            (f.to_string(), code(&out), stdout(&out) + &stderr(&out))
        })
        .collect()
}

/// The example: `config.migrations-tested` with `fs = ["./db"]` on a
/// repository whose migration is a PATH_MAX symlink chain to a file outside
/// the grant and to `/proc/self/environ`.
#[test]
fn path_max_symlink_chain_in_migrations_reaches_no_report() {
    for escape in ["secret.sql", "/proc/self/environ"] {
        let ws = Workspace::new();
        ws.write("db/20240101000000_ok.sql", "SELECT 1;\n");
        ws.write(
            "secret.sql",
            &format!("CREATE INDEX {SECRET} ON users (email);\n"),
        );
        plant_long_chain(ws.path(), "db", "20240102000000_leak.sql", escape);
        ws.write("policy.toml", &migrations_policy("fs = [\"./db\"]"));
        for (format, c, text) in all_formats(&ws, &[("GATE_PLANTED_TOKEN", SECRET)]) {
            assert!(
                !text.contains(SECRET),
                "{escape}: the {format} report leaks the planted secret:\n{text}"
            );
            assert_eq!(c, 1, "{escape}: {format}: the gate must fail\n{text}");
        }
        let out = ws.gate_env(
            &["evaluate", "--policy", "policy.toml", "--format", "json"],
            &[("GATE_PLANTED_TOKEN", SECRET)],
        );
        let report = json(&out);
        let chk = check(&report, "preflight", "config.migrations-tested");
        assert_eq!(chk["status"], "error", "{escape}: {chk:#}");
        let msg = chk["findings"][0]["message"].as_str().unwrap();
        assert!(
            msg.contains("not granted `fs` access") && msg.contains("20240102000000_leak.sql"),
            "{escape}: {msg}"
        );
    }
}

/// Runs `gate` in `ws`, killing it if it outlives `limit`; the elapsed time
/// is returned so deadline tests can bound it.
fn gate_bounded(
    ws: &Workspace,
    args: &[&str],
    limit: Duration,
) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(GATE)
        .args(args)
        .current_dir(ws.path())
        .env("GATE_CACHE_DIR", &ws.cache)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gate");
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn hostile_policy(grants: &str, checks: &[(&str, String)]) -> String {
    let mut text = format!(
        "[policy]\nname = \"fs\"\n\n{}[[gate]]\nname = \"g\"\nchecks = [{}]\n\n",
        plugin_block("hostile", grants),
        checks
            .iter()
            .map(|(id, _)| format!("\"{id}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (id, params) in checks {
        text.push_str(&format!("[[check]]\nid = \"{id}\"\nparams = {params}\n\n"));
    }
    text
}

fn paths_param(paths: &[&str]) -> String {
    let list: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    format!("{{ paths = [{}] }}", list.join(", "))
}

/// The findings of `id`, as (subject, status, message).
fn findings(report: &serde_json::Value, id: &str) -> Vec<(String, String, String)> {
    check(report, "g", id)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["subject"].as_str().unwrap_or("").to_string(),
                f["status"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Every host-side file call (`files.read`, `files.stat`, `files.resolve`,
/// `system.disk-usage`) against every way out of a grant: `..`, relative and
/// absolute symlinks, a PATH_MAX chain, a symlink to /proc, and /proc magic
/// links beneath a granted /proc/self. The same calls on the granted file
/// pass (the control).
#[test]
fn every_host_file_call_is_confined_beneath_its_grant() {
    let ws = Workspace::new();
    ws.write("granted/ok.txt", "fine");
    ws.write("outside/secret.txt", SECRET);
    let g = ws.path().join("granted");
    symlink("ok.txt", g.join("inner")).unwrap();
    symlink("../outside/secret.txt", g.join("rel")).unwrap();
    symlink(ws.path().join("outside/secret.txt"), g.join("abs")).unwrap();
    symlink("/proc/self/environ", g.join("environ")).unwrap();
    symlink("/proc/self/cwd/outside/secret.txt", g.join("magic")).unwrap();
    plant_long_chain(ws.path(), "granted", "long", "outside/secret.txt");
    let attacks = [
        "granted/../outside/secret.txt",
        "granted/rel",
        "granted/abs",
        "granted/environ",
        "granted/magic",
        "granted/long",
        "outside/secret.txt",
        "/proc/self/cwd/outside/secret.txt",
        "/proc/self/root/etc/passwd",
    ];
    let ids = [
        "hostile.fs-read",
        "hostile.fs-stat",
        "hostile.fs-resolve",
        "hostile.fs-disk",
    ];
    let checks: Vec<(&str, String)> = ids.iter().map(|id| (*id, paths_param(&attacks))).collect();
    ws.write(
        "policy.toml",
        &hostile_policy("fs = [\"granted\", \"/proc/self\"]", &checks),
    );
    let env = [("GATE_PLANTED_TOKEN", SECRET)];
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        &env,
    );
    let report = json(&out);
    for id in ids {
        let got = findings(&report, id);
        assert_eq!(got.len(), attacks.len(), "{id}: {got:#?}");
        for (subject, status, message) in got {
            assert_eq!(status, "error", "{id} reached {subject}: {message}");
            assert!(
                message.contains("not granted `fs` access") && message.contains(&subject),
                "{id} {subject}: {message}"
            );
        }
    }
    for (format, _, text) in all_formats(&ws, &env) {
        assert!(!text.contains(SECRET), "{format} leaks:\n{text}");
    }

    // The control: the same calls on what the grant holds succeed.
    let ok = paths_param(&["granted/ok.txt", "granted/inner", "granted"]);
    let checks: Vec<(&str, String)> = ids.iter().map(|id| (*id, ok.clone())).collect();
    ws.write(
        "policy.toml",
        &hostile_policy("fs = [\"granted\"]", &checks),
    );
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    let report = json(&out);
    for id in ids {
        for (subject, status, message) in findings(&report, id) {
            if id == "hostile.fs-read" && subject == "granted" {
                assert!(
                    message.contains("directory where a regular file"),
                    "{message}"
                );
                continue;
            }
            assert_eq!(status, "pass", "{id} {subject}: {message}");
        }
    }
    let reads = findings(&report, "hostile.fs-read");
    assert!(reads[1].2.contains("fine"), "{reads:?}");
}

/// FIFOs, devices and oversize files where a file is expected: refused at
/// once, never read.
#[test]
fn fifos_devices_and_oversize_files_are_refused() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("granted")).unwrap();
    mkfifo(&ws.path().join("granted/fifo"));
    ws.write("granted/big", &"x".repeat((1 << 20) + 1));
    ws.write(
        "policy.toml",
        &hostile_policy(
            "fs = [\"granted\", \"/dev\"]\ntimeout_ms = 3000",
            &[(
                "hostile.fs-read",
                paths_param(&["granted/fifo", "/dev/zero", "/dev/null", "granted/big"]),
            )],
        ),
    );
    let (out, took) = gate_bounded(
        &ws,
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        Duration::from_secs(30),
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let report = json(&out);
    let got = findings(&report, "hostile.fs-read");
    let expect = [
        "FIFO where a regular file is expected",
        "character device where a regular file is expected",
        "character device where a regular file is expected",
        "larger than the 1048576-byte limit",
    ];
    for ((subject, status, message), want) in got.iter().zip(expect) {
        assert_eq!(status, "error", "{subject}: {message}");
        assert!(message.contains(want), "{subject}: {message}");
    }
}

/// A `ca_file` that is a FIFO ends as an `error` finding within the check's
/// timeout, for HTTP and for TLS inspection.
#[test]
fn a_fifo_ca_file_ends_within_the_timeout() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("granted")).unwrap();
    mkfifo(&ws.path().join("granted/ca.pem"));
    ws.write(
        "policy.toml",
        &hostile_policy(
            "fs = [\"granted\"]\nhttp = [\"https://127.0.0.1:9/\"]\nnet = [\"127.0.0.1:9\"]\ntimeout_ms = 2000",
            &[
                (
                    "hostile.fs-ca-http",
                    "{ path = \"granted/ca.pem\", url = \"https://127.0.0.1:9/\" }".into(),
                ),
                (
                    "hostile.fs-ca-tls",
                    "{ path = \"granted/ca.pem\", target = \"127.0.0.1:9\" }".into(),
                ),
            ],
        ),
    );
    let (out, took) = gate_bounded(
        &ws,
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        Duration::from_secs(30),
    );
    assert!(
        took < Duration::from_secs(12),
        "gate ran {took:?} past a 2000 ms timeout: {}",
        stderr(&out)
    );
    let report = json(&out);
    for id in ["hostile.fs-ca-http", "hostile.fs-ca-tls"] {
        let got = findings(&report, id);
        let (_, status, message) = &got[0];
        assert_eq!(status, "error", "{id}: {message}");
        assert!(message.contains("FIFO"), "{id}: {message}");
    }
}

/// A plugin granted directories runs each check on a thread of its own, where
/// WASI's file calls block that thread. Opening a FIFO for reading through
/// WASI never returns (no writer comes): the check still ends at its timeout
/// as `error`, and the plugin's other check, on another thread, still runs.
#[test]
fn a_fifo_opened_through_wasi_ends_at_the_deadline() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("granted")).unwrap();
    let fifo = ws.path().join("granted/fifo");
    mkfifo(&fifo);
    ws.write(
        "policy.toml",
        &hostile_policy(
            "fs = [\"granted\"]\ntimeout_ms = 1500",
            &[
                (
                    "hostile.handles",
                    format!("{{ path = {:?}, count = 1 }}", fifo.display().to_string()),
                ),
                ("hostile.ok", "{}".into()),
            ],
        ),
    );
    let (out, took) = gate_bounded(
        &ws,
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        Duration::from_secs(30),
    );
    assert!(
        took < Duration::from_secs(10),
        "gate ran {took:?} past a 1500 ms timeout: {}",
        stderr(&out)
    );
    let report = json(&out);
    let (_, status, message) = &findings(&report, "hostile.handles")[0];
    assert_eq!(status, "error", "{message}");
    assert!(
        message.contains("timed out after 1500 ms (plugin `hostile` timeout_ms)")
            && message.contains("a file-system call had not returned"),
        "{message}"
    );
    assert_eq!(check(&report, "g", "hostile.ok")["status"], "pass");
}

fn rollout_spec(ws: &Workspace) -> PathBuf {
    ws.write(
        "web.toml",
        &format!(
            "[rollout]\nname = \"web\"\nstrategy = \"canary\"\nstate_dir = \"state\"\n\n\
             [router]\nkind = \"haproxy\"\nadmin_socket = \"{}\"\nbackend = \"web\"\n\n\
             [stable]\nservers = [\"blue1\"]\nversion = \"v1\"\n\n\
             [candidate]\nservers = [\"green1\"]\nversion = \"v2\"\n\n\
             [health]\npath = \"/healthz\"\nexpect_status = 200\ntimeout_ms = 200\n\n\
             [canary]\nsteps = [50, 100]\npause = \"0s\"\n",
            ws.path().join("no-haproxy.sock").display()
        ),
    )
}

/// `web.lock` planted as a symlink to a victim: `gate status` (read-only)
/// and `gate rollout` refuse it and the victim keeps its contents; a
/// symlinked `events.jsonl` is refused too.
#[test]
fn rollout_state_files_that_are_symlinks_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let spec = rollout_spec(&ws);
    let state = ws.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = ws.write("victim.txt", "precious contents\n");
    symlink(&victim, state.join("web.lock")).unwrap();
    let spec = spec.to_string_lossy().into_owned();

    let out = ws.gate(&["status", "--spec", &spec]);
    assert_ne!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("symlink"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious contents\n"
    );

    let (out, _) = gate_bounded(&ws, &["rollout", "--spec", &spec], Duration::from_secs(60));
    assert_ne!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious contents\n"
    );

    // The lock is fine now; the event log is the symlink.
    std::fs::remove_file(state.join("web.lock")).unwrap();
    symlink(&victim, state.join("web.events.jsonl")).unwrap();
    let (out, _) = gate_bounded(&ws, &["rollout", "--spec", &spec], Duration::from_secs(60));
    assert_ne!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("symlink"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious contents\n"
    );
}

/// `gate status` writes nothing: no state directory, lock or file appears.
#[test]
fn status_is_read_only() {
    let ws = Workspace::new();
    let spec = rollout_spec(&ws).to_string_lossy().into_owned();
    let _ = ws.gate(&["status", "--spec", &spec]);
    assert!(!ws.path().join("state").exists());
    std::fs::create_dir(ws.path().join("state")).unwrap();
    let _ = ws.gate(&["status", "--spec", &spec]);
    assert_eq!(
        std::fs::read_dir(ws.path().join("state")).unwrap().count(),
        0
    );
}

/// A state directory others may write to, or a symlink to one, is refused.
#[test]
fn a_shared_or_symlinked_state_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let spec = rollout_spec(&ws).to_string_lossy().into_owned();
    std::fs::create_dir(ws.path().join("elsewhere")).unwrap();
    symlink(ws.path().join("elsewhere"), ws.path().join("state")).unwrap();
    let (out, _) = gate_bounded(&ws, &["rollout", "--spec", &spec], Duration::from_secs(60));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(ws.path().join("elsewhere"))
            .unwrap()
            .count(),
        0
    );

    std::fs::remove_file(ws.path().join("state")).unwrap();
    std::fs::create_dir(ws.path().join("state")).unwrap();
    std::fs::set_permissions(
        ws.path().join("state"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let (out, _) = gate_bounded(&ws, &["rollout", "--spec", &spec], Duration::from_secs(60));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("writable by group or others"),
        "{}",
        stderr(&out)
    );
}
