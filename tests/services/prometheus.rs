//! Prometheus 2.42 (Debian's `prometheus` package) scraping the given
//! targets every second, with rule files evaluated every second.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use super::{
    Proc, READY_TIMEOUT, StartFailure, free_port, http_get, http_request, require_bin,
    start_with_retry, tempdir, url_encode, wait_for,
};

pub struct Prometheus {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    /// Holds the rule files (`rules_<n>.yml`); `rule_files` is
    /// `<rule_dir>/*.yml`. Add files and call [`Prometheus::reload`].
    pub rule_dir: PathBuf,
    proc: Proc,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// `jobs`: (job name, "host:port", metrics path); `rules`: rule-file YAML
    /// texts (each written to `rule_dir/rules_<n>.yml`; an invalid one makes
    /// the start panic with Prometheus's error).
    pub fn start(jobs: &[(&str, &str, &str)], rules: &[&str]) -> Prometheus {
        let prometheus = require_bin("prometheus", "prometheus");
        let dir = tempdir("prometheus");
        let rule_dir = dir.path().join("rules");
        fs::create_dir_all(&rule_dir).expect("create rule dir");
        for (i, rule) in rules.iter().enumerate() {
            fs::write(rule_dir.join(format!("rules_{}.yml", i + 1)), rule).expect("write rules");
        }
        let mut config = format!(
            "# gate test harness\n\
             global:\n\
             \x20 scrape_interval: 1s\n\
             \x20 scrape_timeout: 1s\n\
             \x20 evaluation_interval: 1s\n\
             rule_files:\n\
             \x20 - {}/*.yml\n\
             scrape_configs:\n",
            rule_dir.display()
        );
        if jobs.is_empty() {
            config.push_str("  []\n");
        }
        for (job, target, path) in jobs {
            config.push_str(&format!(
                "  - job_name: {job:?}\n    metrics_path: {path:?}\n    static_configs:\n      - targets: [{target:?}]\n"
            ));
        }
        let config_path = dir.path().join("prometheus.yml");
        fs::write(&config_path, config).expect("write prometheus.yml");
        let log = dir.path().join("prometheus.log");
        let (proc, port) = start_with_retry("prometheus", || {
            let port = free_port();
            let _ = fs::remove_file(&log);
            let mut cmd = Command::new(&prometheus);
            cmd.current_dir(dir.path())
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--web.enable-lifecycle")
                .arg("--storage.tsdb.retention.time=1d");
            let mut proc = Proc::spawn("prometheus", &mut cmd, &log, &[], "TERM");
            let ready_url = format!("http://127.0.0.1:{port}/-/ready");
            proc.wait_ready("ready", || {
                // Logged after the listener was bound: then the port is ours.
                let text = fs::read_to_string(&log).unwrap_or_default();
                (text.contains("Server is ready to receive web requests")
                    && http_get(&ready_url).is_ok_and(|(status, _)| status == 200))
                .then_some(())
            })?;
            Ok::<_, StartFailure>((proc, port))
        });
        Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            rule_dir,
            proc,
            dir,
        }
    }

    /// An instant PromQL query: the `data.result` array of the API's answer.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let url = format!("{}/api/v1/query?query={}", self.url, url_encode(promql));
        let (status, body) =
            http_get(&url).unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.proc.log_tail()));
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {url}: {status}, not JSON ({e}): {body}"));
        assert_eq!(json["status"], "success", "GET {url}: {body}");
        json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until every target of `job` has `up == 1`.
    pub fn wait_up(&self, job: &str) {
        let promql = format!("up{{job={job:?}}}");
        wait_for(&format!("Prometheus job {job} up"), READY_TIMEOUT, || {
            let result = self.query(&promql);
            let up = !result.is_empty() && result.iter().all(|r| r["value"][1] == "1");
            if up {
                Ok(())
            } else {
                Err(format!("{result:?}"))
            }
        });
    }

    /// Reloads the configuration and rule files (`POST /-/reload`).
    pub fn reload(&self) {
        let url = format!("{}/-/reload", self.url);
        let response =
            http_request("POST", &url, None).unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert_eq!(
            response.status,
            200,
            "POST {url}: {}\n{}",
            response.body,
            self.proc.log_tail()
        );
    }

    /// Prometheus's own log.
    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }
}
