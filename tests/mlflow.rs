//! A sweep logs every run to a real MLflow server (`mlflow server`, SQLite in a temporary
//! folder, started and stopped here), read back through MLflow's REST API: one MLflow run per
//! plateau run, its params, its metrics per epoch and at the end, its tags and artifacts, equal
//! to what the run folders hold; a second invocation makes no new MLflow run; a server that
//! stops mid-sweep costs a warning, not a run, and `plateau sync-tracking` sends what it missed.
//! Needs Python's `mlflow` package (PyPI; `.ci/run` installs it); without it the test skips,
//! unless `PLATEAU_REQUIRE_MLFLOW=1` (set in CI) makes that a failure.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{result_rows, tiny_mixer_sweep};
use serde_json::{Value, json};

mod common;

/// A `mlflow server` on a free port of 127.0.0.1, its store in `dir`; killed when dropped.
struct Server {
    child: Child,
    uri: String,
}

impl Server {
    fn start(dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--workers",
                "1",
            ])
            .args(["--port", &port.to_string()])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--artifacts-destination")
            .arg(dir.join("artifacts"))
            // No background job runner (MLflow 3's, for its GenAI features): a tracking
            // server is all a sweep needs, and it starts faster alone.
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: the server runs its workers as child processes, and
            // stopping it must stop them all.
            .process_group(0)
            .spawn()
            .expect("python3 -m mlflow server");
        let server = Self {
            child,
            uri: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while ureq::get(&format!("{}/health", server.uri)).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "mlflow server did not answer within 2 minutes"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        server
    }

    fn api(&self, endpoint: &str, body: Option<Value>) -> Value {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.uri);
        let mut response = match body {
            None => ureq::get(&url).call(),
            Some(body) => ureq::post(&url)
                .header("Content-Type", "application/json")
                .send(body.to_string()),
        }
        .unwrap_or_else(|e| panic!("{url}: {e}"));
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// Every active run of `experiment`, by its `plateau.run_id` tag.
    fn runs(&self, experiment: &str) -> Vec<Value> {
        let found = self.api(
            &format!("experiments/get-by-name?experiment_name={experiment}"),
            None,
        );
        let id = found["experiment"]["experiment_id"]
            .as_str()
            .unwrap()
            .to_string();
        let body = json!({ "experiment_ids": [id], "max_results": 100 });
        self.api("runs/search", Some(body))["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn history(&self, run: &Value, key: &str) -> Vec<(i64, f64)> {
        let id = run["info"]["run_id"].as_str().unwrap();
        self.api(
            &format!("metrics/get-history?run_id={id}&metric_key={key}"),
            None,
        )["metrics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| (m["step"].as_i64().unwrap(), m["value"].as_f64().unwrap()))
            .collect()
    }

    /// Kills the server and its workers.
    fn stop(self) {}
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn has_mlflow() -> bool {
    Command::new("python3")
        .args(["-c", "import mlflow"])
        .status()
        .is_ok_and(|s| s.success())
}

fn plateau(args: &[&str], uri: &str, experiment: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plateau"));
    command
        .args(args)
        .env("MLFLOW_TRACKING_URI", uri)
        .env("MLFLOW_EXPERIMENT_NAME", experiment);
    command
}

fn tag<'a>(run: &'a Value, key: &str) -> Option<&'a str> {
    run["data"]["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)?["value"]
        .as_str()
}

fn by_key(list: &Value, key: &str) -> Option<Value> {
    list.as_array()?
        .iter()
        .find(|entry| entry["key"] == key)
        .map(|entry| entry["value"].clone())
}

/// Each result row has exactly one MLflow run, FINISHED, with the row's params, its epochs'
/// points and its final metrics.
fn check_mirrored(server: &Server, experiment: &str, sweep_dir: &Path) {
    let rows = result_rows(sweep_dir);
    let runs = server.runs(experiment);
    assert_eq!(runs.len(), rows.len(), "one MLflow run per plateau run");
    for row in &rows {
        let id = row["run_id"].as_str().unwrap();
        let mine: Vec<&Value> = runs
            .iter()
            .filter(|r| tag(r, "plateau.run_id") == Some(id))
            .collect();
        assert_eq!(mine.len(), 1, "{id}: MLflow runs tagged with it");
        let run = mine[0];
        assert_eq!(run["info"]["status"], "FINISHED", "{id}");
        let params = &run["data"]["params"];
        assert_eq!(
            by_key(params, "width"),
            Some(Value::String(row["config"]["width"].to_string())),
            "{id}: the width axis as a param"
        );
        assert_eq!(
            by_key(params, "params"),
            Some(Value::String(row["params"].to_string())),
            "{id}: its parameter count"
        );
        let metrics = &run["data"]["metrics"];
        let test = row["upstream"]["test_accuracy"].as_f64().unwrap();
        assert_eq!(
            by_key(metrics, "test/accuracy").and_then(|v| v.as_f64()),
            Some(test)
        );
        let downstream = &row["downstream"][0];
        let key = format!(
            "downstream/{}/{}-shot/{}",
            downstream["task"].as_str().unwrap(),
            downstream["shots"],
            downstream["layer"].as_str().unwrap()
        );
        assert_eq!(
            by_key(metrics, &key).and_then(|v| v.as_f64()),
            downstream["accuracy_mean"].as_f64(),
            "{id}: {key}"
        );
        // One point per epoch, at the steps done, equal to metrics.jsonl.
        let epochs: Vec<(i64, f64)> =
            std::fs::read_to_string(sweep_dir.join(id).join("metrics.jsonl"))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .map(|l| {
                    (
                        l["step"].as_i64().unwrap(),
                        l["val_accuracy"].as_f64().unwrap(),
                    )
                })
                .collect();
        assert_eq!(epochs.len(), 3);
        assert_eq!(server.history(run, "val/accuracy"), epochs, "{id}");
        let run_id = run["info"]["run_id"].as_str().unwrap();
        let files = server.api(&format!("artifacts/list?run_id={run_id}"), None);
        let names: Vec<&str> = files["files"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["path"].as_str()).collect())
            .unwrap_or_default();
        for name in [
            "config.json",
            "summary.json",
            "metrics.jsonl",
            "result.json",
        ] {
            assert!(names.contains(&name), "{id}: artifact {name} in {names:?}");
        }
    }
}

#[test]
fn sweeps_mirror_their_runs_into_a_real_mlflow_server() {
    if !has_mlflow() {
        assert!(
            std::env::var_os("PLATEAU_REQUIRE_MLFLOW").is_none(),
            "PLATEAU_REQUIRE_MLFLOW is set but python3 cannot import mlflow"
        );
        eprintln!("skipped: python3 has no mlflow package (pip install mlflow)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("mlflow");
    std::fs::create_dir_all(&store).unwrap();
    let server = Server::start(&store);
    let out = work.path().join("out");
    let toml = work.path().join("ml.toml");
    std::fs::write(&toml, tiny_mixer_sweep("ml", "[8, 16]", 400)).unwrap();
    let sweep = |uri: &str| {
        let output = plateau(
            &[
                "sweep",
                toml.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            uri,
            "plateau-test",
        )
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    let first = sweep(&server.uri);
    assert!(!first.contains("warning: MLflow"), "{first}");
    check_mirrored(&server, "plateau-test", &out.join("ml"));
    // A second invocation trains nothing and makes no MLflow run, nor a second point.
    let second = sweep(&server.uri);
    assert!(second.contains("2 done, 0 to train"), "{second}");
    check_mirrored(&server, "plateau-test", &out.join("ml"));

    // The server stops while a sweep runs: every run still ends ok, the sweep warns, and
    // `sync-tracking` sends what the server missed once it is back (continuing the MLflow run
    // made before the outage, not making a second).
    let outage_toml = work.path().join("outage.toml");
    std::fs::write(
        &outage_toml,
        tiny_mixer_sweep("outage", "[8, 16, 24]", 2000),
    )
    .unwrap();
    let outage_out = work.path().join("outage-out");
    let running = plateau(
        &[
            "sweep",
            outage_toml.to_str().unwrap(),
            "--out",
            outage_out.to_str().unwrap(),
        ],
        &server.uri,
        "plateau-outage",
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let sweep_dir = outage_out.join("outage");
    let first_record = || -> Option<PathBuf> {
        std::fs::read_dir(&sweep_dir)
            .ok()?
            .flatten()
            .map(|e| e.path().join("result.json"))
            .find(|p| p.is_file())
    };
    let waited = Instant::now();
    while first_record().is_none() {
        assert!(
            waited.elapsed() < Duration::from_secs(300),
            "no run finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.stop();
    let output = running.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("warning: MLflow at"), "{stderr}");
    assert!(stderr.contains("plateau sync-tracking"), "{stderr}");
    let rows = result_rows(&sweep_dir);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["status"] == "ok"));

    let server = Server::start(&store);
    let synced = plateau(
        &["sync-tracking", sweep_dir.to_str().unwrap()],
        &server.uri,
        "plateau-outage",
    )
    .output()
    .unwrap();
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    check_mirrored(&server, "plateau-outage", &sweep_dir);
    // The first sweep's experiment is still there, untouched.
    check_mirrored(&server, "plateau-test", &out.join("ml"));
}
