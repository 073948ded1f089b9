//! The hostile-plugin suite: every attack ends as `error` with a clear reason,
//! within its timeout plus max(250 ms, 20%), the host survives, and the other
//! checks in the same run are unaffected.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use common::*;

const TIMEOUT_MS: u64 = 1500;

fn slack() -> u64 {
    (TIMEOUT_MS / 5).max(250)
}

struct Run {
    report: serde_json::Value,
}

impl Run {
    fn error_reason(&self, id: &str) -> String {
        let c = check(&self.report, "hostile", id);
        assert_eq!(c["status"], "error", "{id} should be an error: {c:#}");
        c["findings"][0]["message"].as_str().unwrap().to_string()
    }
    fn duration_ms(&self, id: &str) -> u64 {
        check(&self.report, "hostile", id)["duration_ms"]
            .as_u64()
            .unwrap()
    }
}

/// One run with every attack plus two well-behaved checks, all concurrent.
fn run_all() -> Run {
    let ws = Workspace::new();
    ws.write("granted/ok.txt", "fine");
    ws.write("outside/secret.txt", "top secret");
    std::os::unix::fs::symlink(
        ws.path().join("outside/secret.txt"),
        ws.path().join("granted/link.txt"),
    )
    .unwrap();

    // A server that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });

    let policy = format!(
        r#"[policy]
name = "hostile"

{hostile}{echo}[[gate]]
name = "hostile"
checks = ["hostile.*", "echo.*"]

[[check]]
id = "hostile.escape"
params = {{ path = "granted/../outside/secret.txt" }}

[[check]]
id = "hostile.output"
params = {{ mb = 10 }}

[[check]]
id = "hostile.hang"
params = {{ target = "{hang_addr}" }}

[[check]]
id = "echo.findings"
params = {{ findings = [{{ subject = "neighbour", status = "pass" }}] }}
"#,
        hostile = plugin_block(
            "hostile",
            &format!(
                "fs = [\"granted\"]\nnet = [\"{hang_addr}\"]\ntimeout_ms = {TIMEOUT_MS}\nmemory_mb = 64\noutput_kb = 1024"
            )
        ),
        echo = plugin_block("echo", ""),
    );
    ws.write("policy.toml", &policy);
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        &[("GATE_HOSTILE_SECRET", "s3cr3t")],
    );
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    let report = json(&out);
    Run { report }
}

#[test]
fn hostile_plugins_end_as_errors_without_hurting_neighbours() {
    let run = run_all();
    let bound = TIMEOUT_MS + slack();

    // The plugin has an fs grant, so each check runs on a thread of its own:
    // the loop must still be cut off there by its own deadline, not left to
    // the caller's wait for a thread stuck in a file-system call.
    let r = run.error_reason("hostile.loop");
    assert!(
        r.contains("timed out after 1500 ms")
            && r.contains("timeout_ms")
            && !r.contains("file-system call"),
        "{r}"
    );
    assert!(
        run.duration_ms("hostile.loop") <= bound,
        "loop took {} ms",
        run.duration_ms("hostile.loop")
    );

    let r = run.error_reason("hostile.sleep");
    assert!(r.contains("timed out after 1500 ms"), "{r}");
    assert!(run.duration_ms("hostile.sleep") <= bound);

    let r = run.error_reason("hostile.hang");
    assert!(r.contains("timed out"), "{r}");
    assert!(run.duration_ms("hostile.hang") <= bound);

    let r = run.error_reason("hostile.alloc");
    assert!(
        r.contains("memory limit of 64 MiB exceeded") && r.contains("memory_mb"),
        "{r}"
    );

    let r = run.error_reason("hostile.recurse");
    assert!(r.contains("stack overflow"), "{r}");

    let r = run.error_reason("hostile.output");
    assert!(
        r.contains("exceeds the cap of 1048576 bytes") && r.contains("output_kb"),
        "{r}"
    );

    let r = run.error_reason("hostile.trap");
    assert!(
        r.contains("panicked") && r.contains("hostile plugin panics on purpose"),
        "{r}"
    );

    let r = run.error_reason("hostile.empty");
    assert!(r.contains("returned no findings"), "{r}");

    // Filesystem escapes: through `..`, and through a symlink.
    let r = run.error_reason("hostile.escape");
    assert!(
        r.contains("not granted `fs` access") && r.contains("outside/secret.txt"),
        "{r}"
    );

    // Ungranted env, URL and host:port: the message names plugin, resource and grant.
    let r = run.error_reason("hostile.env");
    assert!(
        r.contains("plugin `hostile` is not granted `env` access to `GATE_HOSTILE_SECRET`")
            && r.contains("env = [\"GATE_HOSTILE_SECRET\"]"),
        "{r}"
    );
    assert!(!r.contains("s3cr3t"));
    let r = run.error_reason("hostile.http");
    assert!(r.contains("not granted `http` access"), "{r}");
    let r = run.error_reason("hostile.net");
    assert!(
        r.contains("not granted `net` access to `127.0.0.1:9`"),
        "{r}"
    );

    // Neighbours in the same run are unaffected.
    assert_eq!(
        check(&run.report, "hostile", "hostile.ok")["status"],
        "pass"
    );
    assert_eq!(
        check(&run.report, "hostile", "echo.findings")["status"],
        "pass"
    );
}

#[test]
fn symlink_out_of_a_granted_directory_is_denied() {
    let ws = Workspace::new();
    ws.write("granted/ok.txt", "fine");
    ws.write("outside/secret.txt", "top secret");
    std::os::unix::fs::symlink(
        ws.path().join("outside/secret.txt"),
        ws.path().join("granted/link.txt"),
    )
    .unwrap();
    let policy = format!(
        "[policy]\nname = \"t\"\n\n{}[[gate]]\nname = \"hostile\"\nchecks = [\"hostile.escape\"]\n\n\
         [[check]]\nid = \"hostile.escape\"\nparams = {{ path = \"granted/link.txt\" }}\n",
        plugin_block("hostile", "fs = [\"granted\"]\ntimeout_ms = 2000")
    );
    ws.write("policy.toml", &policy);
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    let report = json(&out);
    let c = check(&report, "hostile", "hostile.escape");
    assert_eq!(c["status"], "error", "{c:#}");
    let msg = c["findings"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("not granted `fs` access") && msg.contains("leads outside its grant"),
        "{msg}"
    );
    // And the raw WASI read was refused too: nothing leaked.
    assert!(!stdout(&out).contains("top secret"));
}

#[test]
fn a_granted_read_inside_the_sandbox_works() {
    // The control for the escape tests: the same attack on a granted file passes,
    // so the errors above come from the sandbox, not from a broken plugin.
    let ws = Workspace::new();
    ws.write("granted/ok.txt", "fine");
    let policy = format!(
        "[policy]\nname = \"t\"\n\n{}[[gate]]\nname = \"g\"\nchecks = [\"hostile.escape\"]\n\n\
         [[check]]\nid = \"hostile.escape\"\nparams = {{ path = \"granted/ok.txt\" }}\n",
        plugin_block("hostile", "fs = [\"granted\"]")
    );
    ws.write("policy.toml", &policy);
    let out = ws.gate(&["evaluate", "--policy", "policy.toml", "--format", "json"]);
    let report = json(&out);
    assert_eq!(check(&report, "g", "hostile.escape")["status"], "pass");
}

#[test]
fn hang_server_really_never_answers() {
    // Guard against the hang test passing for the wrong reason.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let _held: Vec<_> = listener.incoming().flatten().collect();
    });
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4];
    assert!(s.read(&mut buf).is_err());
}

#[test]
fn winch_compiled_plugins_are_held_to_the_same_limits() {
    // GATE_COMPILER=winch trades code quality for compile speed; the sandbox
    // must not notice: timeouts, memory caps and stack limits still hold.
    let ws = Workspace::new();
    let policy = format!(
        "[policy]\nname = \"winch\"\n\n{}[[gate]]\nname = \"hostile\"\n\
         checks = [\"hostile.loop\", \"hostile.alloc\", \"hostile.recurse\", \"hostile.ok\"]\n",
        plugin_block("hostile", "timeout_ms = 1000\nmemory_mb = 32")
    );
    ws.write("policy.toml", &policy);
    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml", "--format", "json"],
        &[("GATE_COMPILER", "winch")],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    let reason = |id: &str| {
        let c = check(&report, "hostile", id);
        assert_eq!(c["status"], "error", "{c:#}");
        c["findings"][0]["message"].as_str().unwrap().to_string()
    };
    assert!(reason("hostile.loop").contains("timed out after 1000 ms"));
    assert!(
        check(&report, "hostile", "hostile.loop")["duration_ms"]
            .as_u64()
            .unwrap()
            <= 1250
    );
    assert!(reason("hostile.alloc").contains("memory limit of 32 MiB exceeded"));
    assert!(reason("hostile.recurse").contains("stack overflow"));
    assert_eq!(check(&report, "hostile", "hostile.ok")["status"], "pass");

    let out = ws.gate_env(
        &["evaluate", "--policy", "policy.toml"],
        &[("GATE_COMPILER", "llvm")],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("GATE_COMPILER"), "{}", stderr(&out));
}
