//! Shards of one sweep, as the tasks of a cluster job run them: processes started at once on
//! one shared folder, each training its share; `plateau report` merges their records into the
//! same results, number for number, as one machine's sweep; processes whose shares overlap
//! (another split of the same sweep) never train a run twice; `plateau status` reads it all
//! from the folder.

use std::path::Path;
use std::process::{Child, Command, Output};

use common::{outcomes, result_rows, tiny_mixer_sweep};

mod common;

fn plateau(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plateau"));
    command.args(args);
    command
}

fn sweep(config: &Path, out: &Path, shard: Option<&str>) -> Child {
    let mut command = plateau(&[
        "sweep",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    if let Some(shard) = shard {
        command.args(["--shard", shard]);
    }
    command
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn finished(child: Child) -> String {
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    assert!(status.success(), "{stderr}");
    stderr
}

/// How many runs a sweep process said it trained.
fn trained(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.contains("runs trained this time") || l.contains("run trained this time"))
        .unwrap_or_else(|| panic!("no summary line: {stderr}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn shards_train_their_shares_and_merge_into_the_one_machine_results() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("sh.toml");
    std::fs::write(&config, tiny_mixer_sweep("sh", "[8, 16, 24, 32, 40]", 400)).unwrap();

    // The split, as --dry-run prints it: every run in one of the three shards.
    let dry = plateau(&[
        "sweep",
        config.to_str().unwrap(),
        "--dry-run",
        "--shards",
        "3",
    ])
    .output()
    .unwrap();
    let printed = String::from_utf8_lossy(&dry.stdout);
    let shard_runs: usize = printed
        .lines()
        .filter(|l| l.starts_with("shard "))
        .map(|l| {
            l.split_whitespace()
                .nth(2)
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(shard_runs, 5, "{printed}");

    let shared = work.path().join("shared");
    let tasks: Vec<Child> = (0..3)
        .map(|i| sweep(&config, &shared, Some(&format!("{i}/3"))))
        .collect();
    let logs: Vec<String> = tasks.into_iter().map(finished).collect();
    assert_eq!(
        logs.iter().map(|l| trained(l)).sum::<usize>(),
        5,
        "{logs:?}"
    );
    let sweep_dir = shared.join("sh");
    // No shard wrote the shared results file; the merge does.
    assert!(!sweep_dir.join("results.jsonl").exists());
    let status = plateau(&["status", sweep_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(
        said.contains("5 runs: 5 done, 0 failed, 0 running"),
        "{said}"
    );
    let report = plateau(&["report", sweep_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(sweep_dir.join("report.html").is_file());

    let alone = work.path().join("alone");
    finished(sweep(&config, &alone, None));
    assert_eq!(outcomes(&sweep_dir), outcomes(&alone.join("sh")));
    // Merging again adds nothing.
    plateau(&["report", sweep_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(result_rows(&sweep_dir).len(), 5);
}

#[test]
fn overlapping_shares_never_train_a_run_twice() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("race.toml");
    std::fs::write(&config, tiny_mixer_sweep("race", "[8, 16, 24, 32]", 400)).unwrap();
    let out = work.path().join("out");
    // The whole plan, and the two halves of another split, at once on one folder.
    let racers: Vec<Child> = ["0/1", "0/2", "1/2"]
        .iter()
        .map(|shard| sweep(&config, &out, Some(shard)))
        .collect();
    let logs: Vec<String> = racers.into_iter().map(finished).collect();
    assert_eq!(
        logs.iter().map(|l| trained(l)).sum::<usize>(),
        4,
        "{logs:?}"
    );
    let sweep_dir = out.join("race");
    for entry in std::fs::read_dir(&sweep_dir).unwrap().flatten() {
        let metrics = entry.path().join("metrics.jsonl");
        if metrics.is_file() {
            let epochs = std::fs::read_to_string(&metrics).unwrap().lines().count();
            assert_eq!(epochs, 3, "{}: each epoch once", entry.path().display());
            // Released once recorded.
            assert!(!entry.path().join("claim-0.json").exists());
        }
    }
    plateau(&["report", sweep_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let rows = result_rows(&sweep_dir);
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["status"] == "ok"));
}
