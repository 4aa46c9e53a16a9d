//! Helpers shared by the binary's integration tests.

use std::path::Path;

/// The rows of a sweep folder's `results.jsonl`, in file order; a line that does not parse
/// fails the test with its number.
pub fn result_rows(sweep_dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(sweep_dir.join("results.jsonl")).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("results.jsonl line {}: {e}: {line}", i + 1))
        })
        .collect()
}

/// The numbers of a result row that must not depend on how the sweep ran (interrupted and
/// resumed, overlapped or one run at a time): not timings, not the backend's name.
pub fn outcome(row: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "status": row["status"], "upstream": row["upstream"], "downstream": row["downstream"],
        "epochs": row["epochs"], "steps": row["steps"], "params": row["params"],
        "train_flops": row["train_flops"], "config": row["config"],
    })
}
