//! Crash safety, the way it fails in practice: `plateau sweep` is killed with SIGKILL again and
//! again — while loading data, training, writing checkpoints, exporting weights, probing,
//! writing summaries, appending results and writing the report — and resumed each time. In the
//! end every run is recorded once, as ok, every file parses, and every number (and every weight)
//! equals that of a sweep that was never interrupted.
//!
//! The sweep announces its phases on stderr (`PLATEAU_TRACE_PHASES=1`); the harness waits for the
//! phase it means to hit, lets a random few milliseconds pass, and kills.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{outcome, result_rows};
use plateau_train::trace::{MARKER, TRACE_ENV};

mod common;

/// Eleven small runs of three epochs, probed on every layer: each run passes every phase. A
/// cycle of aimed kills lets about two runs finish (they are fast), so eleven leave work for
/// all four cycles. Two of them are distilled from a third (which the plan puts first): a
/// killed student reloads its teacher and resumes to the same numbers. Every batch is mixed
/// (mixup), so a resume must also draw the same mixing weights.
fn write_config(dir: &Path) -> PathBuf {
    write_config_with_epochs(dir, 3)
}

fn write_config_with_epochs(dir: &Path, epochs: usize) -> PathBuf {
    let path = dir.join("crash.toml");
    let text = r#"
name = "crash"
seed = 7
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 600
val_examples = 100
test_examples = 200
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = EPOCHS
warmup_steps = 5
augmentation = { mixup = 1.0 }
[distill]
teacher = { preset = "mixer-tiny-p4", width = 16, depth = 1, seed = 0 }
temperature = 2.0
ce_weight = 0.25
[[downstream]]
dataset = "synthetic"
name = "probe"
classes = [0, 1, 2, 3, 4]
shots = [1, 5]
seeds = 2
layers = "all"
test_examples = 100
[[grid]]
preset = "mixer-tiny-p4"
width = [8, 16]
depth = [1]
seed = [0, 1, 2]
[[grid]]
preset = "mixer-tiny-p4"
width = [8]
depth = [1]
seed = [0, 1]
distill = [true]
[[grid]]
preset = "vit-tiny-p4"
width = [8]
depth = [1]
seed = [0, 1]
[[grid]]
preset = "resnet-cifar"
width = [4]
depth = [1]
"#
    .replace("EPOCHS", &epochs.to_string());
    std::fs::write(&path, text).unwrap();
    path
}

fn sweep(config: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plateau"));
    command
        .arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .env(TRACE_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// The sweep of `config` never interrupted, in `work/straight`: what every resume must equal.
fn uninterrupted(config: &Path, work: &Path) -> PathBuf {
    let straight = work.join("straight");
    let status = sweep(config, &straight)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    straight
}

/// Every line the sweep (and its run processes, which share its stderr) write, as they arrive.
fn follow_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The phases a marker line names, as they arrive.
fn follow_phases(child: &mut Child) -> mpsc::Receiver<String> {
    let lines = follow_lines(child);
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines {
            if let Some(rest) = line.strip_prefix(MARKER) {
                let phase = rest.split_whitespace().next().unwrap_or("").to_string();
                if send.send(phase).is_err() {
                    break;
                }
            }
        }
    });
    receive
}

/// The tests of this file aim at moments of a few milliseconds: run at the same time they
/// slow each other down and the aims land elsewhere. One at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static AIMING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    AIMING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// How long after a phase starts the kill comes: phases that last milliseconds are hit within
/// a few, training anywhere in its epoch.
fn delay(phase: &str, rng: &mut Lcg) -> Duration {
    let max_ms = match phase {
        "train" => 60,
        "load-data" | "report" | "probe" => 20,
        _ => 3,
    };
    Duration::from_micros(rng.below(max_ms * 1000))
}

fn rows_by_id(out: &Path) -> BTreeMap<String, serde_json::Value> {
    let mut rows = BTreeMap::new();
    for row in result_rows(&out.join("crash")) {
        let id = row["run_id"].as_str().unwrap().to_string();
        assert!(
            rows.insert(id.clone(), row).is_none(),
            "run {id} is recorded twice"
        );
    }
    rows
}

fn files_named(dir: &Path, found: &mut Vec<PathBuf>, matches: &dyn Fn(&str) -> bool) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_named(&path, found, matches);
        } else if matches(&entry.file_name().to_string_lossy()) {
            found.push(path);
        }
    }
}

/// The run processes of a killed sweep exit on their own (they watch their stdin) instead of
/// training on as orphans beside the next resume.
fn assert_run_processes_end(out: &Path) {
    let needle = out.to_string_lossy().into_owned();
    let alive = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
            .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
            .filter(|cmdline| cmdline.contains(&needle) && cmdline.contains(" train "))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while !alive().is_empty() {
        assert!(Instant::now() < deadline, "orphaned runs: {:?}", alive());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_sweep_killed_in_every_phase_resumes_to_the_uninterrupted_result() {
    let _turn = one_at_a_time();
    let work = tempfile::tempdir().unwrap();
    let config = write_config(work.path());
    let straight = uninterrupted(&config, work.path());
    let expected = rows_by_id(&straight);
    assert_eq!(expected.len(), 11);
    let distilled = expected
        .values()
        .filter(|row| !row["distillation"].is_null());
    assert_eq!(distilled.count(), 2);

    // Each cycle targets the phases of the run in progress, in order; the report, which comes
    // only once every run is done, is hit last.
    let cycle = [
        "load-data",
        "train",
        "checkpoint",
        "export",
        "probe",
        "summary",
        "append",
    ];
    let mut targets: Vec<&str> = cycle
        .iter()
        .cycle()
        .take(4 * cycle.len())
        .copied()
        .collect();
    targets.extend(["report"; 3]);

    let killed = work.path().join("killed");
    // `PLATEAU_KILL_SEED=N` replays (or varies) the kill moments.
    let seed = std::env::var("PLATEAU_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut rng = Lcg(seed);
    let mut hits: BTreeMap<&str, usize> = BTreeMap::new();
    let started = Instant::now();
    for target in &targets {
        let mut child = sweep(&config, &killed).spawn().unwrap();
        let phases = follow_phases(&mut child);
        let mut hit = false;
        // Until the target phase starts, or the sweep ends without reaching it.
        while let Ok(phase) = phases.recv() {
            if phase == *target {
                std::thread::sleep(delay(target, &mut rng));
                child.kill().unwrap(); // SIGKILL
                hit = true;
                break;
            }
        }
        let status = child.wait().unwrap();
        if hit {
            *hits.entry(target).or_default() += 1;
            assert_run_processes_end(&killed);
        } else {
            assert!(status.success(), "the sweep failed aiming at {target}");
        }
    }
    let kills: usize = hits.values().sum();
    eprintln!(
        "{kills} kills (seed {seed}) in {:.1} s: {hits:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        kills >= 20,
        "only {kills} kill points were reached: {hits:?}"
    );
    for phase in cycle.iter().chain(["report"].iter()) {
        assert!(hits.contains_key(phase), "no kill during {phase}: {hits:?}");
    }

    // The last resume runs to the end.
    assert_resumes_to(&config, &killed, &straight);
}

/// The last resume of `killed` runs to the end, and its every run equals the uninterrupted
/// sweep in `straight`: numbers, weights, logs; nothing half-written is left.
fn assert_resumes_to(config: &Path, killed: &Path, straight: &Path) {
    let expected = rows_by_id(straight);
    let status = sweep(config, killed)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let resumed = rows_by_id(killed);
    assert_eq!(
        resumed.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (id, row) in &resumed {
        assert_eq!(row["status"], "ok", "{id}: {row}");
        assert_eq!(outcome(row), outcome(&expected[id]), "run {id}");
        let run_dir = killed.join("crash").join(id);
        // The exported weights are bit for bit those of the uninterrupted run, and load.
        let weights = std::fs::read(run_dir.join("model.safetensors")).unwrap();
        let reference = std::fs::read(straight.join("crash").join(id).join("model.safetensors"));
        assert!(weights == reference.unwrap(), "{id}: weights differ");
        let spec: plateau_train::RunSpec =
            serde_json::from_slice(&std::fs::read(run_dir.join("config.json")).unwrap()).unwrap();
        let model = spec
            .model
            .init(&spec.input, &burn::tensor::Device::flex())
            .unwrap();
        plateau_train::read_safetensors(model, weights)
            .unwrap_or_else(|e| panic!("{id}: model.safetensors does not load: {e:#}"));
        // Every epoch is logged once.
        let epochs: Vec<u64> = std::fs::read_to_string(run_dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                value["epoch"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(epochs, [1, 2, 3], "{id}: metrics.jsonl");
        // The TensorBoard events parse and hold no step twice: one validation point per
        // epoch, one test point, the same values as the uninterrupted run.
        let events = |dir: &Path| {
            plateau_store::read_scalars(&dir.join("tensorboard/events.out.tfevents.plateau"))
                .unwrap_or_else(|e| panic!("{id}: no event file: {e}"))
        };
        let scalars = events(&run_dir);
        let mut seen = std::collections::BTreeSet::new();
        for s in &scalars {
            assert!(
                seen.insert((s.tag.clone(), s.step)),
                "{id}: {} twice at {}",
                s.tag,
                s.step
            );
        }
        let values = |all: &[plateau_store::Scalar], tag: &str| -> Vec<(i64, f32)> {
            all.iter()
                .filter(|s| s.tag == tag)
                .map(|s| (s.step, s.value))
                .collect()
        };
        let straight_events = events(&straight.join("crash").join(id));
        for tag in ["val/accuracy", "test/accuracy", "train/loss"] {
            assert_eq!(
                values(&scalars, tag),
                values(&straight_events, tag),
                "{id}: {tag}"
            );
        }
        assert_eq!(values(&scalars, "val/accuracy").len(), 3, "{id}");
        assert!(
            !run_dir.join("checkpoint").exists(),
            "{id}: checkpoint left"
        );
    }
    let mut leftovers = Vec::new();
    files_named(killed, &mut leftovers, &|name| name.contains(".tmp-"));
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let report = std::fs::read_to_string(killed.join("crash").join("report.html")).unwrap();
    assert!(report.trim_end().ends_with("</html>"));
}

#[test]
fn a_run_process_exits_when_its_sweep_is_killed() {
    let _turn = one_at_a_time();
    let work = tempfile::tempdir().unwrap();
    // Long enough that a run outliving its sweep would still be training when looked for.
    let config = write_config_with_epochs(work.path(), 400);
    let out = work.path().join("out");
    let mut child = sweep(&config, &out).spawn().unwrap();
    let phases = follow_phases(&mut child);
    while let Ok(phase) = phases.recv() {
        if phase == "train" {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_run_processes_end(&out);
}

/// Whether some run of the sweep in `out` keeps a checkpoint taken inside an epoch.
fn stopped_mid_epoch(out: &Path) -> bool {
    let Ok(runs) = std::fs::read_dir(out.join("crash")) else {
        return false;
    };
    runs.flatten().any(|run| {
        std::fs::read_to_string(run.path().join("checkpoint").join("state.json"))
            .is_ok_and(|state| state.contains("within_epoch"))
    })
}

#[test]
fn stop_signals_stop_at_the_next_step_and_the_resume_is_bit_identical() {
    let _turn = one_at_a_time();
    let work = tempfile::tempdir().unwrap();
    let config = write_config(work.path());
    let straight = uninterrupted(&config, work.path());

    let stopped = work.path().join("stopped");
    let mut rng = Lcg(0x51e7);
    let mut mid_epoch = 0;
    // Each signal twice, each time a little way into a run's training.
    for (signal, number) in [("TERM", 15), ("INT", 2), ("HUP", 1), ("USR1", 10)].repeat(2) {
        let mut child = sweep(&config, &stopped).spawn().unwrap();
        let lines = follow_lines(&mut child);
        let mut said = Vec::new();
        while let Ok(line) = lines.recv() {
            let training = line.starts_with(MARKER) && line.contains(" train ");
            said.push(line);
            if training {
                std::thread::sleep(Duration::from_micros(rng.below(40_000)));
                let sent = Command::new("kill")
                    .args(["-s", signal, &child.id().to_string()])
                    .status()
                    .unwrap();
                assert!(sent.success());
                break;
            }
        }
        said.extend(lines.iter());
        let status = child.wait().unwrap();
        let said = said.join("\n");
        if said.contains(" 0 to train") {
            break; // every run finished before this signal found one training
        }
        assert_eq!(status.code(), Some(128 + number), "SIG{signal}:\n{said}");
        assert!(
            said.contains("stopping at the next training step") && said.contains("stopped by"),
            "SIG{signal}: the sweep says it stops and why:\n{said}"
        );
        assert!(!said.contains("\"failed\""), "{said}");
        assert_run_processes_end(&stopped);
        if stopped_mid_epoch(&stopped) {
            mid_epoch += 1;
        }
    }
    assert!(
        mid_epoch >= 2,
        "only {mid_epoch} stops landed inside an epoch"
    );
    assert_resumes_to(&config, &stopped, &straight);
}
