//! A sweep on a real Slurm cluster (the one-node cluster of `scripts/slurm-cluster.sh`, which
//! CI starts): `plateau slurm --submit` returns at once; the array's tasks and the merge job
//! record every run once, ok, equal number for number to the same sweep on one machine; a task
//! requeued while it trains (`scontrol requeue`), or warned of its time limit (USR1 to its batch
//! shell), stops at its next step, goes back in the queue and resumes from its checkpoint,
//! losing nothing and training nothing twice.
//! Skipped unless `SLURM_CONF` names a cluster that answers; `PLATEAU_REQUIRE_SLURM=1` (CI)
//! makes a missing cluster a failure.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{outcomes, result_rows};

mod common;

fn cluster_answers() -> bool {
    std::env::var_os("SLURM_CONF").is_some()
        && Command::new("sinfo")
            .arg("-h")
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

fn plateau(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "plateau {args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// How many processes of this machine have `path` on their command line (a task's batch
/// script and its plateau do: they name the output folder).
fn processes_naming(path: &Path) -> usize {
    let needle = path.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(&needle))
        .count()
}

/// Every job log in `sweep_dir` (the tasks' and the merges'), for a failure message.
fn job_logs(sweep_dir: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(sweep_dir.join("slurm")) else {
        return "(no slurm folder)".into();
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "out"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            format!("== {}\n{text}", e.file_name().to_string_lossy())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Submits the smoke sweep as `tasks` array tasks with `overrides`; the array's job id.
fn submit(out: &Path, tasks: usize, overrides: &[&str]) -> String {
    let mut args = vec!["slurm", "configs/smoke.toml", "--tasks"];
    let tasks = tasks.to_string();
    args.push(&tasks);
    args.extend(["--out", out.to_str().unwrap(), "--submit"]);
    for assignment in overrides {
        args.extend(["--set", assignment]);
    }
    let said = plateau(&args);
    let line = said
        .lines()
        .find(|l| l.starts_with("submitted: array job "))
        .unwrap_or_else(|| panic!("{said}"));
    line.split_whitespace()
        .nth(3)
        .unwrap()
        .trim_end_matches(',')
        .to_string()
}

/// The jobs in the queue, a line each (`id state`). An `squeue` that fails (slurmctld busy, as
/// it can be with the whole test suite beside it) is asked again: its empty output is not an
/// empty queue.
fn queue() -> String {
    for _ in 0..50 {
        let output = Command::new("squeue")
            .args(["-h", "-o", "%i %T"])
            .output()
            .unwrap();
        if output.status.success() {
            return String::from_utf8_lossy(&output.stdout).into_owned();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("squeue failed 50 times in a row");
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "{what}: not within {limit:?}; queue:\n{}",
            queue()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn epochs(run_dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn a_sweep_runs_as_a_slurm_array_and_survives_a_requeue() {
    if !cluster_answers() {
        assert!(
            std::env::var_os("PLATEAU_REQUIRE_SLURM").is_none(),
            "PLATEAU_REQUIRE_SLURM is set but no Slurm cluster answers (SLURM_CONF, sinfo)"
        );
        eprintln!(
            "skipped: no Slurm cluster (scripts/slurm-cluster.sh start DIR, then SLURM_CONF)"
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();

    // Three tasks, one run each, then the merge.
    let out = work.path().join("array");
    let submitted = Instant::now();
    let array = submit(&out, 3, &[]);
    assert!(
        submitted.elapsed() < Duration::from_secs(10),
        "--submit must not wait for the jobs"
    );
    wait_until("the array and its merge", Duration::from_secs(180), || {
        queue().trim().is_empty()
    });
    let sweep_dir = out.join("smoke");
    let rows = result_rows(&sweep_dir);
    assert_eq!(rows.len(), 3, "every run recorded once");
    assert!(rows.iter().all(|r| r["status"] == "ok"), "{rows:?}");
    for task in 0..3 {
        let log = sweep_dir.join(format!("slurm/{array}_{task}.out"));
        assert!(log.is_file(), "{}", log.display());
    }
    let alone = work.path().join("alone");
    plateau(&[
        "sweep",
        "configs/smoke.toml",
        "--out",
        alone.to_str().unwrap(),
    ]);
    assert_eq!(outcomes(&sweep_dir), outcomes(&alone.join("smoke")));

    // A task requeued while it trains (as an administrator or a preemption does), and a task
    // warned of its time limit (the batch shell gets USR1, as `--signal=B:USR1@120` asks; the
    // script stops plateau and requeues the task itself).
    stopped_and_resumed(work.path(), "requeue", None, &|task| {
        let status = Command::new("scontrol")
            .args(["requeue", task])
            .status()
            .unwrap();
        assert!(status.success());
    });
    let said = "stopped for the time limit or a preemption; requeueing";
    stopped_and_resumed(work.path(), "time-limit", Some(said), &|task| {
        let status = Command::new("scancel")
            .args(["--batch", "--signal=USR1", task])
            .status()
            .unwrap();
        assert!(status.success());
    });
}

/// Submits one task of longer runs into `work/<name>`, waits until a run is two epochs in,
/// stops the task with `stop`, lets the requeued task start at once, and checks that nothing
/// was lost, every epoch trained once, the stopped run resumed from its checkpoint, and the
/// task's log says `said`.
fn stopped_and_resumed(work: &Path, name: &str, said: Option<&str>, stop: &dyn Fn(&str)) {
    let out = work.join(name);
    let overrides = ["train.epochs=5", "upstream.train_examples=3000"];
    let array = submit(&out, 1, &overrides);
    let sweep_dir = out.join("smoke");
    let mut interrupted = None;
    wait_until("a run two epochs in", Duration::from_secs(180), || {
        let Ok(entries) = std::fs::read_dir(&sweep_dir) else {
            return false;
        };
        interrupted = entries
            .flatten()
            .map(|e| e.path())
            .find(|dir| epochs(dir).len() >= 2 && !dir.join("result.json").exists());
        interrupted.is_some()
    });
    let interrupted = interrupted.unwrap();
    let task = format!("{array}_0");
    stop(&task);
    // A requeued job waits for a begin time in the future: now is soon enough.
    wait_until(
        &format!("{name}: the task back in the queue"),
        Duration::from_secs(120),
        || {
            queue()
                .lines()
                .any(|l| l.starts_with(&task) && l.contains("PENDING"))
        },
    );
    // Slurm's `afterany` counts a requeued task as ended, so the merge may start now (it did in
    // CI): one started by hand here must find the task queued and queue itself behind it.
    let early_merge = Command::new("sbatch")
        .arg(format!("--export=ALL,PLATEAU_ARRAY_JOB={array}"))
        .arg(sweep_dir.join("slurm/merge.sbatch"))
        .status()
        .unwrap();
    assert!(early_merge.success());
    wait_until(
        &format!("{name}: the early merge queued behind the task"),
        Duration::from_secs(120),
        || job_logs(&sweep_dir).contains("still queued (requeued); merging after them"),
    );
    // Not before the stopped instance is gone: started while slurmd still tears it down, the
    // requeued task is killed at once ("job credential revoked"), which is why Slurm holds it.
    wait_until(
        &format!("{name}: the stopped task gone"),
        Duration::from_secs(120),
        || processes_naming(&out) == 0,
    );
    let _ = Command::new("scontrol")
        .args(["update", &format!("JobId={task}"), "StartTime=now"])
        .status();
    wait_until(
        &format!("{name}: the task and the merge"),
        Duration::from_secs(300),
        || queue().trim().is_empty(),
    );
    assert!(
        sweep_dir.join("results.jsonl").is_file(),
        "{name}: the merge job wrote no results:\n{}",
        job_logs(&sweep_dir)
    );
    let rows = result_rows(&sweep_dir);
    assert_eq!(rows.len(), 3, "{name}: nothing lost");
    assert!(rows.iter().all(|r| r["status"] == "ok"), "{name}: {rows:?}");
    for row in &rows {
        let id = row["run_id"].as_str().unwrap();
        assert_eq!(
            epochs(&sweep_dir.join(id)),
            [1, 2, 3, 4, 5],
            "{name}: {id}: every epoch once"
        );
    }
    // The task ran twice and went on from the stopped run's checkpoint: after its restart,
    // that run's first epoch line is past the two it had done.
    let log = std::fs::read_to_string(sweep_dir.join(format!("slurm/{array}_0.out"))).unwrap();
    if let Some(said) = said {
        assert!(
            log.contains(said),
            "{name}: {said:?} not in the task's log:\n{log}"
        );
    }
    let (_, after) = log
        .split_once(", restart 1")
        .unwrap_or_else(|| panic!("{name}: no restart in the task's log:\n{log}"));
    let id = interrupted.file_name().unwrap().to_str().unwrap();
    let label = rows
        .iter()
        .find(|r| r["run_id"] == id)
        .map(|r| format!("{} depth=", r["preset"].as_str().unwrap()))
        .unwrap();
    let resumed_from = after
        .lines()
        .find(|l| l.contains(&label) && l.contains(" epoch "))
        .and_then(|l| l.split(" epoch ").nth(1))
        .and_then(|e| e.split('/').next())
        .and_then(|e| e.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{name}: {id}: no epoch line after the restart:\n{after}"));
    assert!(
        resumed_from >= 3,
        "{name}: {id} resumed at epoch {resumed_from}:\n{after}"
    );
}
