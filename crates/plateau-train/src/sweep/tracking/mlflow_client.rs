//! MLflow's REST API (`/api/2.0/mlflow/…`), the calls a sweep needs: experiments by name, runs
//! by tag, batches of metrics and params, a run's status, and artifacts where the server
//! proxies them (`mlflow server` does by default: artifact URIs `mlflow-artifacts:/…`).
//!
//! Every call has a time limit and is tried a few times when the server is unreachable or
//! answers 5xx/429; a refusal (4xx) is not retried. The caller decides what a failure means
//! (for a sweep: a warning, never a failed run).

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

/// Tries per call, and the waits between them.
const BACKOFF: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(2)];

/// What one request may take, connecting and in all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// MLflow's limits on one `log-batch` call.
const BATCH_METRICS: usize = 1000;
const BATCH_PARAMS: usize = 100;

/// MLflow's own authentication variables (a token, or a user and password).
const TOKEN_VAR: &str = "MLFLOW_TRACKING_TOKEN";
const USER_VAR: &str = "MLFLOW_TRACKING_USERNAME";
const PASSWORD_VAR: &str = "MLFLOW_TRACKING_PASSWORD";

pub(crate) struct MlflowClient {
    base: String,
    agent: ureq::Agent,
    authorization: Option<String>,
}

/// An MLflow run as the server describes it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RemoteRun {
    pub id: String,
    /// `RUNNING`, `FINISHED`, `FAILED`, `KILLED` or `SCHEDULED`.
    pub status: String,
    pub artifact_uri: String,
}

impl RemoteRun {
    fn from_json(run: &Value) -> Result<Self> {
        let info = &run["info"];
        let text = |key: &str| info[key].as_str().unwrap_or_default().to_string();
        let id = text("run_id");
        if id.is_empty() {
            bail!("the server described a run without a run_id: {run}");
        }
        Ok(Self {
            id,
            status: text("status"),
            artifact_uri: text("artifact_uri"),
        })
    }

    pub fn is_ended(&self) -> bool {
        matches!(self.status.as_str(), "FINISHED" | "FAILED" | "KILLED")
    }
}

/// One point of a metric.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Metric {
    pub key: String,
    pub value: f64,
    /// Milliseconds since the Unix epoch. MLflow keeps one point per (key, step, time, value),
    /// so sending a point twice with the same time stores it once.
    pub timestamp: i64,
    pub step: i64,
}

impl MlflowClient {
    /// A client of the server at `uri` (`http://host:port`, no trailing `/`).
    pub fn new(uri: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            base: uri.trim_end_matches('/').to_string(),
            agent,
            authorization: authorization(),
        }
    }

    /// The id of the experiment `name`, made if it does not exist.
    pub fn experiment_id(&self, name: &str) -> Result<String> {
        let found = self.call(
            "GET",
            &format!(
                "experiments/get-by-name?experiment_name={}",
                query_escape(name)
            ),
            None,
        );
        match found {
            Ok(body) => return id_in(&body["experiment"]["experiment_id"]),
            Err(error) if error.to_string().contains("RESOURCE_DOES_NOT_EXIST") => {}
            Err(error) => return Err(error),
        }
        match self.call("POST", "experiments/create", Some(json!({ "name": name }))) {
            Ok(body) => id_in(&body["experiment_id"]),
            // Another process made it in between.
            Err(error) if error.to_string().contains("RESOURCE_ALREADY_EXISTS") => {
                let body = self.call(
                    "GET",
                    &format!(
                        "experiments/get-by-name?experiment_name={}",
                        query_escape(name)
                    ),
                    None,
                )?;
                id_in(&body["experiment"]["experiment_id"])
            }
            Err(error) => Err(error),
        }
    }

    /// The active run of `experiment` whose tag `key` is `value`, if there is one.
    pub fn find_run(&self, experiment: &str, key: &str, value: &str) -> Result<Option<RemoteRun>> {
        let filter = format!("tags.`{key}` = '{}'", value.replace('\'', "\\'"));
        let body = self.call(
            "POST",
            "runs/search",
            Some(json!({ "experiment_ids": [experiment], "filter": filter, "max_results": 2 })),
        )?;
        match body["runs"].as_array().and_then(|runs| runs.first()) {
            Some(run) => Ok(Some(RemoteRun::from_json(run)?)),
            None => Ok(None),
        }
    }

    pub fn create_run(
        &self,
        experiment: &str,
        name: &str,
        start_ms: i64,
        tags: &[(String, String)],
    ) -> Result<RemoteRun> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect();
        let body = self.call(
            "POST",
            "runs/create",
            Some(json!({
                "experiment_id": experiment, "run_name": name, "start_time": start_ms, "tags": tags
            })),
        )?;
        RemoteRun::from_json(&body["run"])
    }

    /// Logs params (a param, once logged, keeps its value: MLflow refuses another) and metrics,
    /// in batches within MLflow's limits.
    pub fn log_batch(
        &self,
        run: &str,
        params: &[(String, String)],
        metrics: &[Metric],
    ) -> Result<()> {
        for chunk in params.chunks(BATCH_PARAMS) {
            let params: Vec<Value> = chunk
                .iter()
                .map(|(k, v)| json!({ "key": k, "value": v }))
                .collect();
            self.call(
                "POST",
                "runs/log-batch",
                Some(json!({ "run_id": run, "params": params })),
            )?;
        }
        for chunk in metrics.chunks(BATCH_METRICS) {
            let metrics: Vec<Value> = chunk
                .iter()
                .map(|m| {
                    json!({ "key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step })
                })
                .collect();
            self.call(
                "POST",
                "runs/log-batch",
                Some(json!({ "run_id": run, "metrics": metrics })),
            )?;
        }
        Ok(())
    }

    /// Sets a run's status (`FINISHED`, `FAILED`, …) and end time.
    pub fn set_status(&self, run: &str, status: &str, end_ms: i64) -> Result<()> {
        self.call(
            "POST",
            "runs/update",
            Some(json!({ "run_id": run, "status": status, "end_time": end_ms })),
        )?;
        Ok(())
    }

    /// Uploads `bytes` as the artifact `name` of `run`. `Ok(false)`: the server does not take
    /// artifacts over REST for this run (its artifact store is a path or a bucket the client
    /// would write itself).
    pub fn upload_artifact(&self, run: &RemoteRun, name: &str, bytes: &[u8]) -> Result<bool> {
        let Some(path) = run.artifact_uri.strip_prefix("mlflow-artifacts:") else {
            return Ok(false);
        };
        // `mlflow-artifacts:/1/<run>/artifacts` or `mlflow-artifacts://host:port/1/<run>/…`.
        let path = match path.strip_prefix("//") {
            Some(rest) => rest.split_once('/').map_or("", |(_, p)| p),
            None => path.trim_start_matches('/'),
        };
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{path}/{name}",
            self.base
        );
        self.send(
            "PUT",
            &url,
            Some(bytes.to_vec()),
            "application/octet-stream",
        )?;
        Ok(true)
    }

    /// One call of `/api/2.0/mlflow/<endpoint>`, its JSON answer.
    fn call(&self, method: &str, endpoint: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.base);
        let text = self.send(
            method,
            &url,
            body.map(|b| b.to_string().into_bytes()),
            "application/json",
        )?;
        match text.trim() {
            "" => Ok(json!({})),
            text => serde_json::from_str(text)
                .map_err(|e| anyhow!("{url}: the answer is not JSON ({e}): {text:.200}")),
        }
    }

    /// Sends one request, tried again on a transport error or a 5xx/429 answer.
    fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<Vec<u8>>,
        content: &str,
    ) -> Result<String> {
        let mut waits = BACKOFF.iter();
        loop {
            let retry = match self.send_once(method, url, body.as_deref(), content) {
                Ok((status, text)) if status < 300 => return Ok(text),
                Ok((status, text)) if status == 429 || status >= 500 => {
                    anyhow!("{method} {url}: HTTP {status}: {text:.300}")
                }
                Ok((status, text)) => bail!("{method} {url}: HTTP {status}: {text:.300}"),
                Err(error) => anyhow!("{method} {url}: {error}"),
            };
            match waits.next() {
                Some(wait) => std::thread::sleep(*wait),
                None => return Err(retry),
            }
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
        content: &str,
    ) -> Result<(u16, String), ureq::Error> {
        let auth = self.authorization.as_deref();
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut request = self.agent.get(url);
                if let Some(auth) = auth {
                    request = request.header("Authorization", auth);
                }
                request.call()?
            }
            (_, body) => {
                let mut request = match method {
                    "PUT" => self.agent.put(url),
                    _ => self.agent.post(url),
                }
                .header("Content-Type", content);
                if let Some(auth) = auth {
                    request = request.header("Authorization", auth);
                }
                request.send(body.unwrap_or_default())?
            }
        };
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((status, text))
    }
}

fn id_in(value: &Value) -> Result<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the server's answer has no experiment id: {value}"))
}

/// The `Authorization` header MLflow's variables ask for, if any.
fn authorization() -> Option<String> {
    use base64::Engine;
    if let Ok(token) = std::env::var(TOKEN_VAR) {
        return Some(format!("Bearer {token}"));
    }
    let user = std::env::var(USER_VAR).ok()?;
    let password = std::env::var(PASSWORD_VAR).unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Some(format!("Basic {encoded}"))
}

/// Percent-encodes a query value (everything but unreserved characters).
fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_escape("my sweep/1"), "my%20sweep%2F1");
        assert_eq!(query_escape("a-b_c.d~"), "a-b_c.d~");
    }

    #[test]
    fn an_unreachable_server_fails_after_its_retries() {
        // Port 9 (discard) on localhost refuses at once: three tries, two waits, then an error
        // that names the address.
        let client = MlflowClient::new("http://127.0.0.1:9");
        let error = client.experiment_id("x").unwrap_err().to_string();
        assert!(error.contains("127.0.0.1:9"), "{error}");
    }
}
