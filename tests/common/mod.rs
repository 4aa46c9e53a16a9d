//! Helpers shared by the binary's integration tests.

/// The numbers of a result row that must not depend on how the sweep ran (interrupted and
/// resumed, overlapped or one run at a time): not timings, not the backend's name.
pub fn outcome(row: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "status": row["status"], "upstream": row["upstream"], "downstream": row["downstream"],
        "epochs": row["epochs"], "steps": row["steps"], "params": row["params"],
        "train_flops": row["train_flops"], "config": row["config"],
    })
}
