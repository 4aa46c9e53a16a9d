//! Every run writes TensorBoard event files that TensorBoard's own reader reads: the documented
//! tags, one point per epoch for validation, the values of `metrics.jsonl` and `results.jsonl`.
//! Needs Python's `tensorboard` package (PyPI; `.ci/run` installs it); without it the test
//! skips, unless `PLATEAU_REQUIRE_TENSORBOARD=1` (set in CI) makes that a failure.

use std::process::Command;

use common::{result_rows, tiny_mixer_sweep};

mod common;

/// TensorBoard's `EventAccumulator` on one run's event folder: `{tag: [[step, value], …]}`,
/// and the hparams plugin's session (`"hparams"`: its values, group and end status; a
/// `google.protobuf.Value` reads as its plain JSON value).
const READ: &str = r#"
import json, sys
from google.protobuf.json_format import MessageToDict
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata
events = EventAccumulator(sys.argv[1])
events.Reload()
out = {tag: [[e.step, e.value] for e in events.Scalars(tag)]
       for tag in events.Tags()["scalars"]}
plugin = events.PluginTagToContent(metadata.PLUGIN_NAME)
start = metadata.parse_session_start_info_plugin_data(plugin[metadata.SESSION_START_INFO_TAG])
end = metadata.parse_session_end_info_plugin_data(plugin[metadata.SESSION_END_INFO_TAG])
out["hparams"] = {"values": {k: MessageToDict(v) for k, v in start.hparams.items()},
                  "group": start.group_name, "status": end.status}
print(json.dumps(out))
"#;

/// Sweeps one tiny Mixer in `work` (with `args`), returning the output folder.
fn sweep_tiny(work: &std::path::Path, args: &[&str]) -> std::path::PathBuf {
    let config = work.join("tb.toml");
    std::fs::write(&config, tiny_mixer_sweep("tb", "[8]", 400)).unwrap();
    let out = work.join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .arg("sweep")
        .arg(&config)
        .args(args)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

fn has_tensorboard() -> bool {
    Command::new("python3")
        .args(["-c", "import tensorboard"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn tensorboards_own_reader_finds_every_documented_scalar() {
    if !has_tensorboard() {
        assert!(
            std::env::var_os("PLATEAU_REQUIRE_TENSORBOARD").is_none(),
            "PLATEAU_REQUIRE_TENSORBOARD is set but python3 cannot import tensorboard"
        );
        eprintln!("skipped: python3 has no tensorboard package (pip install tensorboard)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let out = sweep_tiny(work.path(), &[]);
    let row = &result_rows(&out.join("tb"))[0];
    let run_dir = out.join("tb").join(row["run_id"].as_str().unwrap());
    let read = Command::new("python3")
        .args(["-c", READ])
        .arg(run_dir.join("tensorboard"))
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let scalars: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let points = |tag: &str| -> Vec<(i64, f64)> {
        scalars[tag]
            .as_array()
            .unwrap_or_else(|| panic!("no {tag}: {scalars}"))
            .iter()
            .map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap()))
            .collect()
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    // One validation point per epoch, at the steps done, equal to metrics.jsonl.
    let epochs: Vec<serde_json::Value> = std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let val = points("val/accuracy");
    assert_eq!(val.len(), 3);
    for ((step, value), epoch) in val.iter().zip(&epochs) {
        assert_eq!(*step, epoch["step"].as_i64().unwrap());
        assert!(
            close(*value, epoch["val_accuracy"].as_f64().unwrap()),
            "{value} {epoch}"
        );
    }
    assert_eq!(points("val/loss").len(), 3);
    // The loss wherever the loop read it: every 10 steps and the last (30 steps).
    let loss_steps: Vec<i64> = points("train/loss").iter().map(|p| p.0).collect();
    assert_eq!(loss_steps, [1, 11, 21, 30]);
    assert_eq!(points("train/lr").len(), 4);
    // The end of the run, once.
    let test = points("test/accuracy");
    assert_eq!(test.len(), 1);
    assert!(close(
        test[0].1,
        row["upstream"]["test_accuracy"].as_f64().unwrap()
    ));
    // The sweep's folder of readable names leads to the same events.
    let named = out.join("tb/tensorboard/mixer-tiny-p4_depth=1_width=8");
    assert_eq!(
        std::fs::canonicalize(&named).unwrap(),
        std::fs::canonicalize(run_dir.join("tensorboard")).unwrap()
    );
    // The run's axes, model config and size for the hparams dashboard, its session ended ok
    // (STATUS_SUCCESS = 1).
    let hparams = &scalars["hparams"];
    assert_eq!(hparams["values"]["width"], 8.0, "{hparams}");
    assert_eq!(hparams["values"]["preset"], "mixer-tiny-p4");
    assert_eq!(hparams["values"]["params"].as_f64(), row["params"].as_f64());
    assert_eq!(hparams["values"]["model.family"], "mixer");
    assert_eq!(hparams["group"], row["run_id"]);
    assert_eq!(hparams["status"], 1);
    let probe = points("downstream/synthetic/2-shot/pre_logits");
    let recorded = row["downstream"][0]["accuracy_mean"].as_f64().unwrap();
    assert!(
        probe.len() == 1 && close(probe[0].1, recorded),
        "{probe:?} {recorded}"
    );
}

#[test]
fn tracking_tensorboard_false_writes_no_event_files() {
    let work = tempfile::tempdir().unwrap();
    let out = sweep_tiny(work.path(), &["--set", "tracking.tensorboard=false"]);
    let row = &result_rows(&out.join("tb"))[0];
    assert_eq!(row["status"], "ok");
    let run_dir = out.join("tb").join(row["run_id"].as_str().unwrap());
    assert!(run_dir.join("metrics.jsonl").is_file());
    assert!(!run_dir.join("tensorboard").exists());
    assert!(!out.join("tb/tensorboard").exists());
}
