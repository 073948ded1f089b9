//! Tests of the real-service harness itself (tests/services): each service
//! starts, answers and stops; the TLS certificates behave as documented; the
//! replica streams, lags when paused and leaves; HAProxy follows its backends.

#[path = "services/mod.rs"]
mod services;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use services::*;

fn timed<T>(what: &str, start: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let value = start();
    eprintln!("{what} started in {:?}", t.elapsed());
    value
}

#[test]
fn free_ports_are_distinct() {
    let ports: BTreeSet<u16> = (0..50).map(|_| free_port()).collect();
    assert_eq!(ports.len(), 50);
}

#[test]
fn missing_binary_names_the_package() {
    let err = std::panic::catch_unwind(|| require_bin("gate-no-such-binary", "gate-no-such-pkg"))
        .unwrap_err();
    let message = err.downcast_ref::<String>().expect("panic message");
    assert!(
        message.contains("install gate-no-such-pkg (scripts/install-deps)"),
        "{message}"
    );
}

#[test]
fn postgres_starts_answers_and_stops() {
    let pg = timed("postgres", || {
        Postgres::start_with_config("log_statement = 'all'")
    });
    assert_eq!(
        pg.url,
        format!("postgres://gate@127.0.0.1:{}/gate", pg.port)
    );
    assert_eq!(
        pg.url_for("app"),
        format!("postgres://app@127.0.0.1:{}/gate", pg.port)
    );
    assert!(pg.psql("SELECT version()").starts_with("PostgreSQL 15."));
    assert_eq!(
        pg.psql("SELECT current_user, current_database()"),
        "gate|gate"
    );
    assert_eq!(
        pg.psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'gate'"),
        "t"
    );
    assert_eq!(pg.psql("SHOW listen_addresses"), "127.0.0.1");
    assert_eq!(pg.psql("SHOW log_statement"), "all");
    assert_eq!(pg.psql("SHOW wal_level"), "replica");
    assert_eq!(
        pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2); SELECT sum(x) FROM t"),
        "3"
    );
    let err = pg.try_psql("SELECT * FROM no_such_table").unwrap_err();
    assert!(err.contains("no_such_table"), "{err}");
    assert!(pg.data_dir.join("PG_VERSION").exists());

    let (port, data_dir) = (pg.port, pg.data_dir.clone());
    drop(pg);
    assert!(!port_open(port), "postgres still listening after drop");
    assert!(!data_dir.exists(), "data dir left behind");
}

#[test]
fn postgres_replica_streams_lags_and_leaves() {
    let pg = Postgres::start();
    pg.psql("CREATE TABLE t (id serial PRIMARY KEY, payload text)");
    let replica = timed("replica", || pg.add_replica());
    assert_eq!(
        replica.url,
        format!("postgres://gate@127.0.0.1:{}/gate", replica.port)
    );
    assert_eq!(replica.psql("SELECT pg_is_in_recovery()"), "t");
    assert_eq!(
        pg.psql(&format!(
            "SELECT state FROM pg_stat_replication WHERE application_name = '{}'",
            replica.name
        )),
        "streaming"
    );
    assert_eq!(replica.psql("SELECT count(*) FROM t"), "0");

    replica.pause_replay();
    pg.psql("INSERT INTO t (payload) SELECT repeat('x', 100) FROM generate_series(1, 1000)");
    let lag_query = format!(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), \
         COALESCE(EXTRACT(epoch FROM replay_lag), 0) \
         FROM pg_stat_replication WHERE application_name = '{}'",
        replica.name
    );
    let (bytes, seconds) = wait_for("measurable replay lag", Duration::from_secs(20), || {
        let row = pg.psql(&lag_query);
        let (bytes, seconds) = row.split_once('|').ok_or(row.clone())?;
        let bytes: f64 = bytes.parse().map_err(|_| row.clone())?;
        let seconds: f64 = seconds.parse().map_err(|_| row.clone())?;
        if bytes > 0.0 && seconds > 1.0 {
            Ok((bytes, seconds))
        } else {
            Err(row)
        }
    });
    eprintln!("paused replica: {bytes} bytes and {seconds:.1} s behind");
    assert_eq!(
        replica.psql("SELECT count(*) FROM t"),
        "0",
        "replay is paused"
    );

    replica.resume_replay();
    wait_for(
        "the replica to catch up",
        Duration::from_secs(20),
        || match replica.psql("SELECT count(*) FROM t").as_str() {
            "1000" => Ok(()),
            n => Err(n.to_string()),
        },
    );

    replica.stop();
    assert_eq!(pg.psql("SELECT count(*) FROM pg_stat_replication"), "0");
}

#[test]
fn http_server_serves_locations_and_stops() {
    let http = timed("nginx", || {
        HttpServer::start(
            "location = /healthz { return 200 \"ok\\n\"; }\n\
             location = /broken { return 503 \"down\\n\"; }",
        )
    });
    assert_eq!(http.base_url, format!("http://127.0.0.1:{}", http.port));
    let (status, body) = http_get(&format!("{}/healthz", http.base_url)).unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _) = http_get(&format!("{}/broken", http.base_url)).unwrap();
    assert_eq!(status, 503);
    let (status, _) = http_get(&format!("{}/missing", http.base_url)).unwrap();
    assert_eq!(status, 404);
    let port = http.port;
    drop(http);
    assert!(!port_open(port), "nginx still listening after drop");
}

/// `openssl s_client` against `addr`, verifying against `ca` for hostname
/// `localhost`; stdin is `input`. Returns (success, stdout + stderr).
fn s_client(addr: &str, ca: &std::path::Path, extra: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new(require_bin("openssl", "openssl"))
        .args(["s_client", "-connect", addr, "-servername", "localhost"])
        .args([
            "-verify_hostname",
            "localhost",
            "-verify_return_error",
            "-CAfile",
        ])
        .arg(ca)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl s_client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn openssl_ok(args: &[&str], file: &std::path::Path) -> (bool, String) {
    let out = Command::new(require_bin("openssl", "openssl"))
        .args(args)
        .arg(file)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn tls_endpoints_behave_as_documented() {
    let tls = timed("TLS endpoints", TlsEndpoints::start);
    let ca = tls.ca_file.as_path();
    let brief = ["-brief"];

    let (ok, out) = s_client(&tls.valid, ca, &brief, "");
    assert!(ok && out.contains("Verification: OK"), "valid: {out}");
    let (ok, out) = s_client(&tls.expired, ca, &brief, "");
    assert!(
        !ok && out.contains("certificate has expired"),
        "expired: {out}"
    );
    let (ok, out) = s_client(&tls.wrong_host, ca, &brief, "");
    assert!(
        !ok && out.contains("hostname mismatch"),
        "wrong host: {out}"
    );

    // TLS 1.0 only on the legacy endpoint.
    let tls1 = ["-brief", "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"];
    let (ok, out) = s_client(&tls.legacy_tls, ca, &tls1, "");
    assert!(
        ok && out.contains("Protocol version: TLSv1\n"),
        "legacy TLS 1.0: {out}"
    );
    let (ok, out) = s_client(&tls.valid, ca, &tls1, "");
    assert!(!ok, "valid endpoint accepted TLS 1.0: {out}");
    let (ok, out) = s_client(&tls.legacy_tls, ca, &brief, "");
    assert!(
        ok && out.contains("Protocol version: TLSv1.2"),
        "legacy TLS 1.2: {out}"
    );

    // HSTS on `/`, not on `/nohsts`.
    let get = |path: &str| {
        let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        let (ok, out) = s_client(&tls.valid, ca, &["-quiet"], &request);
        assert!(ok && out.contains("HTTP/1.1 200"), "GET {path}: {out}");
        out
    };
    assert!(get("/").contains("Strict-Transport-Security: max-age=31536000"));
    assert!(!get("/nohsts").contains("Strict-Transport-Security"));

    // The files themselves.
    let files = &tls.cert_files;
    let (ok, out) = openssl_ok(&["verify", "-CAfile", ca.to_str().unwrap()], &files.valid);
    assert!(ok, "{out}");
    let (ok, out) = openssl_ok(&["verify", "-CAfile", ca.to_str().unwrap()], &files.expired);
    assert!(!ok && out.contains("certificate has expired"), "{out}");
    let eighty_nine_days = (89 * 86400).to_string();
    let (ok, out) = openssl_ok(
        &["x509", "-noout", "-checkend", &eighty_nine_days, "-in"],
        &files.valid,
    );
    assert!(ok, "valid cert expires within 89 days: {out}");
    let (ok, _) = openssl_ok(&["x509", "-noout", "-checkend", "0", "-in"], &files.expired);
    assert!(!ok, "expired cert not expired");
    let (_, out) = openssl_ok(&["x509", "-noout", "-enddate", "-in"], &files.expired);
    assert!(out.contains("notAfter=Feb  1 00:00:00 2020 GMT"), "{out}");
    let (_, out) = openssl_ok(
        &["x509", "-noout", "-ext", "subjectAltName", "-in"],
        &files.valid,
    );
    assert!(out.contains("DNS:localhost, IP Address:127.0.0.1"), "{out}");
    let (_, out) = openssl_ok(
        &["x509", "-noout", "-ext", "subjectAltName", "-in"],
        &files.wrong_host,
    );
    assert!(
        out.contains("DNS:wrong.example") && !out.contains("localhost"),
        "{out}"
    );

    // A second set in the same process reuses the certificates, in its own files.
    let again = timed("TLS endpoints (again)", TlsEndpoints::start);
    assert_ne!(again.ca_file, tls.ca_file);
    let (ok, out) = s_client(&again.valid, &again.ca_file, &brief, "");
    assert!(
        ok && out.contains("Verification: OK"),
        "valid (again): {out}"
    );
    drop(again);

    let ports: Vec<String> = [&tls.valid, &tls.expired, &tls.wrong_host, &tls.legacy_tls]
        .iter()
        .map(|a| a.to_string())
        .collect();
    drop(tls);
    for addr in ports {
        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
        assert!(!port_open(port), "{addr} still open after drop");
    }
}

#[test]
fn haproxy_follows_its_backends() {
    let hap = timed("haproxy with 2 backends", || HAProxy::start(2));
    assert_eq!(hap.backend_servers, ["web1", "web2"]);

    let answers = |n: usize| -> BTreeSet<String> {
        (0..n)
            .map(|_| {
                let (status, body) = http_get(&format!("http://{}/", hap.frontend)).unwrap();
                assert_eq!(status, 200, "{body}");
                body.trim().to_string()
            })
            .collect()
    };
    assert_eq!(answers(4), BTreeSet::from(["web1".into(), "web2".into()]));

    let (status, csv) = http_get(&format!("{};csv", hap.stats_url)).unwrap();
    assert_eq!(status, 200);
    assert!(csv.starts_with("# pxname,svname,"), "{csv}");
    assert!(
        csv.contains("\nweb,web1,") && csv.contains("\nweb,web2,"),
        "{csv}"
    );
    let (status, metrics) = http_get(&hap.metrics_url).unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains("haproxy_server_status{proxy=\"web\",server=\"web1\",state=\"UP\"} 1"),
        "{metrics}"
    );
    assert!(hap.command("show servers state web").contains(" web1 "));

    hap.stop_backend("web1");
    let t = Instant::now();
    hap.wait_state("web1", false);
    eprintln!("web1 marked DOWN {:?} after its nginx stopped", t.elapsed());
    assert_eq!(hap.server_status("web1").as_deref(), Some("DOWN"));
    assert_eq!(hap.server_status("web2").as_deref(), Some("UP"));
    assert_eq!(answers(3), BTreeSet::from(["web2".into()]));

    hap.start_backend("web1");
    hap.wait_state("web1", true);
    assert_eq!(answers(4).len(), 2);

    hap.command("disable server web/web2");
    assert_eq!(hap.server_status("web2").as_deref(), Some("MAINT"));
    hap.wait_state("web2", false);
    hap.command("enable server web/web2");
    hap.wait_state("web2", true);

    let port: u16 = hap.frontend.rsplit(':').next().unwrap().parse().unwrap();
    drop(hap);
    assert!(!port_open(port), "haproxy still listening after drop");
}

const RULES_WITH_RUNBOOK: &str = r#"groups:
  - name: gate-test
    rules:
      - alert: BackendDown
        expr: haproxy_backend_active_servers{proxy="web"} < 1
        for: 1m
        labels:
          severity: page
        annotations:
          summary: backend web has no server up
          runbook_url: https://runbooks.example/backend-down
"#;

const RULES_WITHOUT_RUNBOOK: &str = r#"groups:
  - name: gate-test-bare
    rules:
      - alert: TargetDown
        expr: up == 0
        annotations:
          summary: a scrape target is down
"#;

#[test]
fn prometheus_scrapes_haproxy_and_loads_rules() {
    let hap = HAProxy::start(1);
    let exporter = hap
        .metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let prom = timed("prometheus", || {
        Prometheus::start(
            &[("haproxy", exporter, "/metrics")],
            &[RULES_WITH_RUNBOOK, RULES_WITHOUT_RUNBOOK],
        )
    });
    let t = Instant::now();
    prom.wait_up("haproxy");
    eprintln!("job haproxy up {:?} after start", t.elapsed());

    let result = prom.query("haproxy_backend_active_servers{proxy=\"web\"}");
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(result[0]["value"][1], "1");

    let (status, body) = http_get(&format!("{}/api/v1/rules", prom.url)).unwrap();
    assert_eq!(status, 200);
    let rules: serde_json::Value = serde_json::from_str(&body).unwrap();
    let alerts: Vec<&serde_json::Value> = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    let names: BTreeSet<&str> = alerts.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["BackendDown", "TargetDown"]));
    let runbook = |name: &str| {
        alerts.iter().find(|r| r["name"] == name).unwrap()["annotations"]["runbook_url"].clone()
    };
    assert_eq!(
        runbook("BackendDown"),
        "https://runbooks.example/backend-down"
    );
    assert!(runbook("TargetDown").is_null());

    // Rule files added later are picked up by a reload.
    std::fs::write(
        prom.rule_dir.join("extra.yml"),
        "groups:\n  - name: extra\n    rules:\n      - record: job:up:sum\n        expr: sum(up)\n",
    )
    .unwrap();
    prom.reload();
    wait_for("the recording rule", Duration::from_secs(20), || {
        let result = prom.query("job:up:sum");
        if result.is_empty() {
            Err("no sample yet".to_string())
        } else {
            Ok(())
        }
    });

    let port: u16 = prom.url.rsplit(':').next().unwrap().parse().unwrap();
    drop(prom);
    assert!(!port_open(port), "prometheus still listening after drop");
}

#[test]
fn redis_starts_with_extra_conf_and_stops() {
    let redis = timed("redis", || Redis::start("maxmemory-policy allkeys-lru"));
    assert_eq!(redis.addr, format!("127.0.0.1:{}", redis.port));
    assert_eq!(redis.command(&["PING"]), "PONG");
    assert_eq!(
        redis.command(&["CONFIG", "GET", "maxmemory-policy"]),
        "maxmemory-policy\nallkeys-lru"
    );
    assert_eq!(redis.command(&["CONFIG", "GET", "save"]), "save\n");
    assert_eq!(
        redis.command(&["CONFIG", "GET", "appendonly"]),
        "appendonly\nno"
    );
    assert_eq!(redis.command(&["SET", "k", "v"]), "OK");
    assert_eq!(redis.command(&["GET", "k"]), "v");
    assert!(redis.command(&["NOSUCHCOMMAND"]).starts_with("-ERR"));
    let port = redis.port;
    drop(redis);
    assert!(!port_open(port), "redis still listening after drop");
}

#[test]
fn start_failure_panics_with_the_service_log() {
    let Err(err) = std::panic::catch_unwind(|| Redis::start("no-such-directive yes")) else {
        panic!("redis started with a bad directive");
    };
    let message = err.downcast_ref::<String>().expect("panic message");
    assert!(
        message.contains("redis-server failed to start") && message.contains("Bad directive"),
        "{message}"
    );
}
