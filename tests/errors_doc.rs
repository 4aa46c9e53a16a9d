//! Every kind of bad input a user can give, run through the real `plateau` binary: each must
//! exit non-zero with one clear message (the file, the line:column for TOML, the field, the valid
//! choices or the fix) and leave the results already in the output folder untouched.
//!
//! The messages are kept in `docs/errors.md`; this test fails when the program and the page
//! differ. `PLATEAU_BLESS=1 cargo test --release --test errors_doc` rewrites the page.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{write_npz, write_png};

mod common;

/// A valid, tiny sweep; each case breaks one thing in it.
const BASE: &str = r#"name = "errs"
seed = 1

[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 200
val_examples = 50
test_examples = 50

[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = 1

[[downstream]]
dataset = "synthetic"
name = "probe"
shots = [1, 5]
seeds = 1
test_examples = 50

[[grid]]
preset = "mixer-tiny-p4"
width = [8]
depth = [1]
"#;

/// What a case's command runs in: a scratch folder with an output folder that already holds
/// results, which no bad input may touch.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// The results a previous sweep of the same name left.
    fn results(&self) -> PathBuf {
        self.out().join("errs").join("results.jsonl")
    }

    /// Writes the base config with `from` replaced by `to` (which must occur).
    fn config_with(&self, from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "{from:?} is not in the base config");
        self.write("sweep.toml", &BASE.replacen(from, to, 1))
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// The base config with its upstream dataset replaced by `source` (a TOML table).
    fn own_upstream(&self, source: &str) -> String {
        self.config_with(
            "dataset = \"synthetic\"\nimage_size = 16",
            &format!("dataset = {source}\nimage_size = 16"),
        )
    }

    fn sweep(&self, config: String) -> Vec<String> {
        vec![
            "sweep".into(),
            config,
            "--out".into(),
            self.out().to_string_lossy().into_owned(),
        ]
    }
}

struct Case {
    what: &'static str,
    /// Writes what the case needs and returns the command's arguments.
    args: fn(&Scratch) -> Vec<String>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            what: "config file missing",
            args: |s| s.sweep(s.dir.join("nope.toml").to_string_lossy().into_owned()),
        },
        Case {
            what: "malformed TOML",
            args: |s| s.sweep(s.config_with("lr = 1e-2", "lr = = 1e-2")),
        },
        Case {
            what: "unknown key",
            args: |s| s.sweep(s.config_with("batch_size = 50", "batch_sise = 50")),
        },
        Case {
            what: "unknown key in a grid entry",
            args: |s| s.sweep(s.config_with("width = [8]", "widht = [8]")),
        },
        Case {
            what: "missing section",
            args: |s| {
                let without_train = BASE.replace(
                    "[train]\noptimizer = \"adamw\"\nlr = 1e-2\nbatch_size = 50\nepochs = 1\n",
                    "",
                );
                s.sweep(s.write("sweep.toml", &without_train))
            },
        },
        Case {
            what: "wrong type",
            args: |s| s.sweep(s.config_with("epochs = 1", "epochs = \"one\"")),
        },
        Case {
            what: "unknown preset",
            args: |s| s.sweep(s.config_with("mixer-tiny-p4", "mixer-huge-p4")),
        },
        Case {
            what: "unknown model family",
            args: |s| {
                s.sweep(s.config_with(
                    "preset = \"mixer-tiny-p4\"",
                    "model = { family = \"cnn\", width = 8 }",
                ))
            },
        },
        Case {
            what: "unknown dataset",
            args: |s| s.sweep(s.config_with("dataset = \"synthetic\"", "dataset = \"imagenet\"")),
        },
        Case {
            what: "unknown optimizer",
            args: |s| s.sweep(s.config_with("\"adamw\"", "\"adam\"")),
        },
        Case {
            what: "attention heads do not divide the width",
            args: |s| {
                let config = s.config_with("mixer-tiny-p4", "vit-tiny-p4");
                let text = std::fs::read_to_string(&config)
                    .unwrap()
                    .replace("width = [8]", "width = [10]");
                s.sweep(s.write("sweep.toml", &text))
            },
        },
        Case {
            what: "patch does not divide the image size",
            args: |s| s.sweep(s.config_with("image_size = 16", "image_size = 18")),
        },
        Case {
            what: "zero width",
            args: |s| s.sweep(s.config_with("width = [8]", "width = [0]")),
        },
        Case {
            what: "negative width",
            args: |s| s.sweep(s.config_with("width = [8]", "width = [-8]")),
        },
        Case {
            what: "empty axis",
            args: |s| s.sweep(s.config_with("width = [8]", "width = []")),
        },
        Case {
            what: "empty grid",
            args: |s| {
                let start = BASE.find("[[grid]]").unwrap();
                let text = format!("grid = []\n{}", &BASE[..start]);
                s.sweep(s.write("sweep.toml", &text))
            },
        },
        Case {
            what: "zero batch size",
            args: |s| s.sweep(s.config_with("batch_size = 50", "batch_size = 0")),
        },
        Case {
            what: "both epochs and steps",
            args: |s| s.sweep(s.config_with("epochs = 1", "epochs = 1\nsteps = 10")),
        },
        Case {
            what: "shots larger than the pool",
            args: |s| s.sweep(s.config_with("shots = [1, 5]", "shots = [1, 5000]")),
        },
        Case {
            what: "--set on an unknown key",
            args: |s| {
                let mut args = s.sweep(s.config_with("", ""));
                args.extend(["--set".into(), "train.learning_rate=0.1".into()]);
                args
            },
        },
        Case {
            what: "--set without a value",
            args: |s| {
                let mut args = s.sweep(s.config_with("", ""));
                args.extend(["--set".into(), "train.lr".into()]);
                args
            },
        },
        Case {
            what: "unknown backend",
            args: |s| {
                let mut args = vec!["--backend".to_string(), "tpu".to_string()];
                args.extend(s.sweep(s.config_with("", "")));
                args
            },
        },
        Case {
            what: "output folder holds another sweep's results",
            args: |s| {
                s.write(
                    "out/errs/sweep.json",
                    r#"{"name": "another-sweep", "seed": 3}"#,
                );
                s.sweep(s.config_with("", ""))
            },
        },
        Case {
            what: "dataset file changed under its checksum",
            args: |s| {
                // The digits CSV, cut off in its first row: its pinned checksum tells before
                // a parser sees it.
                s.write(
                    "data/digits.csv",
                    "0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0,0,3",
                );
                let config = s.config_with(
                    "dataset = \"synthetic\"\nimage_size = 16",
                    &format!(
                        "dataset = \"digits\"\npath = {:?}\nimage_size = 16",
                        s.dir.join("data")
                    ),
                );
                s.sweep(config)
            },
        },
        Case {
            what: "own data: folder missing",
            args: |s| s.sweep(s.own_upstream("{ folder = \"data/photos\" }")),
        },
        Case {
            what: "own data: empty class folder",
            args: |s| {
                write_png(&s.dir.join("data/photos/cat/1.png"), 8, 10);
                std::fs::create_dir_all(s.dir.join("data/photos/dog")).unwrap();
                s.sweep(s.own_upstream("{ folder = \"data/photos\" }"))
            },
        },
        Case {
            what: "own data: unreadable image",
            args: |s| {
                write_png(&s.dir.join("data/photos/cat/1.png"), 8, 10);
                s.write("data/photos/dog/2.png", "not a png");
                s.sweep(s.own_upstream("{ folder = \"data/photos\" }"))
            },
        },
        Case {
            what: "own data: mixed image sizes",
            args: |s| {
                write_png(&s.dir.join("data/photos/cat/1.png"), 8, 10);
                write_png(&s.dir.join("data/photos/dog/2.png"), 12, 10);
                s.sweep(s.own_upstream("{ folder = \"data/photos\" }"))
            },
        },
        Case {
            what: "own data: label out of range",
            args: |s| {
                write_npz(
                    &s.dir.join("data/set.npz"),
                    &[3, 2, 2],
                    &[0; 12],
                    &[0, 1, -1],
                );
                s.sweep(s.own_upstream("{ npz = \"data/set.npz\" }"))
            },
        },
        Case {
            what: "own data: two sources in one table",
            args: |s| s.sweep(s.own_upstream("{ folder = \"a\", npz = \"b.npz\" }")),
        },
        Case {
            what: "own data with a registry dataset's `path`",
            args: |s| s.sweep(s.own_upstream("{ folder = \"data/photos\" }\npath = \"data\"")),
        },
        Case {
            what: "own data: fewer images per class than the shots",
            args: |s| {
                for (class, value) in [("cat", 10), ("dog", 200)] {
                    for i in 0..4 {
                        write_png(&s.dir.join(format!("data/few/{class}/{i}.png")), 8, value);
                    }
                }
                let config = s.config_with(
                    "dataset = \"synthetic\"\nname = \"probe\"",
                    "dataset = { folder = \"data/few\" }\nname = \"probe\"",
                );
                s.sweep(config)
            },
        },
        Case {
            what: "label noise rate out of range",
            args: |s| {
                s.sweep(s.config_with("depth = [1]", "depth = [1]\nlabel_noise = [0.0, 1.2]"))
            },
        },
        Case {
            what: "asymmetric label noise without a class map",
            args: |s| {
                s.sweep(s.config_with(
                    "image_size = 16",
                    "image_size = 16\nlabel_noise = 0.2\nnoise = \"asymmetric\"",
                ))
            },
        },
        Case {
            what: "label noise map naming an unknown class",
            args: |s| {
                s.sweep(s.config_with(
                    "image_size = 16",
                    "image_size = 16\nlabel_noise = 0.2\nnoise = \"asymmetric\"\nnoise_map = { zebra = \"0\" }",
                ))
            },
        },
        Case {
            what: "pruning fraction out of range",
            args: |s| {
                s.sweep(s.config_with(
                    "depth = [1]",
                    "depth = [1]\nprune = [\"random\"]\nkeep = [0.5, 1.5]",
                ))
            },
        },
        Case {
            what: "unknown pruning metric",
            args: |s| {
                s.sweep(s.config_with("depth = [1]", "depth = [1]\nprune = [\"forgetting\"]"))
            },
        },
        Case {
            what: "EL2N pruning without a scorer",
            args: |s| {
                s.sweep(s.config_with(
                    "depth = [1]",
                    "depth = [1]\nprune = [\"el2n\"]\nkeep = [0.5]",
                ))
            },
        },
        Case {
            what: "pruning scorer preset that does not exist",
            args: |s| {
                s.sweep(s.config_with(
                    "image_size = 16",
                    "image_size = 16\nprune = \"el2n\"\nkeep = 0.5\nprune_scorer = { preset = \"resnet-9000\" }",
                ))
            },
        },
        Case {
            what: "distillation without a teacher",
            args: |s| s.sweep(s.config_with("depth = [1]", "depth = [1]\ndistill = [false, true]")),
        },
        Case {
            what: "distillation teacher that is not in the grid",
            args: |s| {
                s.sweep(s.config_with(
                    "depth = [1]",
                    "depth = [1]\ndistill = [false, true]\n[distill]\nteacher = { preset = \"vit-tiny-p4\", width = 64 }",
                ))
            },
        },
        Case {
            what: "distillation teacher folder that holds no run",
            args: |s| {
                s.sweep(s.config_with(
                    "depth = [1]",
                    "depth = [1]\ndistill = [true]\n[distill]\nteacher = { run_dir = \"runs/none\" }",
                ))
            },
        },
        Case {
            what: "distillation temperature swept without distillation",
            args: |s| {
                s.sweep(s.config_with(
                    "depth = [1]",
                    "depth = [1]\ntemperature = [1.0, 2.0]\n[distill]\nteacher = { preset = \"mixer-tiny-p4\" }",
                ))
            },
        },
        Case {
            what: "distillation temperature that is not positive",
            args: |s| {
                s.sweep(s.config_with(
                    "depth = [1]",
                    "depth = [1]\ndistill = [true]\ntemperature = [1.0, 0.0]\n[distill]\nteacher = { preset = \"mixer-tiny-p4\" }",
                ))
            },
        },
        Case {
            what: "an MLflow address that is not a server's",
            args: |s| {
                s.sweep(s.config_with(
                    "depth = [1]",
                    "depth = [1]\n[tracking]\nmlflow_uri = \"./mlruns\"",
                ))
            },
        },
        Case {
            what: "plateau sync-tracking on a folder that is not a sweep's",
            args: |s| vec!["sync-tracking".into(), s.dir.to_string_lossy().into_owned()],
        },
        Case {
            what: "truncated resume checkpoint",
            args: |s| {
                let config = s.config_with("", "");
                let id = run_id(&config);
                let checkpoint = format!("out/errs/{id}/checkpoint");
                s.write(&format!("{checkpoint}/state.json"), r#"{"epoch": 1, "step": 4, "images_seen": 200, "train_seconds": 1.0, "val_accuracy": 0.5}"#);
                s.write(&format!("{checkpoint}/model.bpk"), "BURNPACK");
                s.write(&format!("{checkpoint}/optimizer.bin"), "");
                s.sweep(config)
            },
        },
        Case {
            what: "a run failed in an earlier sweep",
            args: |s| {
                let config = s.config_with("", "");
                let id = run_id(&config);
                // An earlier invocation recorded this run as failed (the harness's earlier line
                // stays first).
                let failed = serde_json::json!({
                    "run_id": id, "family": "mixer", "preset": "mixer-tiny-p4",
                    "config": {"width": 8, "depth": 1}, "model": {}, "params": 1,
                    "flops_per_image": 1, "train_flops": 1.0, "backend": "flex",
                    "status": "failed", "error": "run process ended with signal 9 (SIGKILL)",
                    "upstream": null, "downstream": [], "train_seconds": 0.0,
                    "images_per_second": 0.0, "epochs": 0, "steps": 0
                });
                let earlier = std::fs::read_to_string(s.results()).unwrap();
                s.write("out/errs/results.jsonl", &format!("{earlier}{failed}\n"));
                s.sweep(config)
            },
        },
        Case {
            what: "truncated model.safetensors (plateau features)",
            args: |s| {
                let config = s.config_with("", "");
                let id = run_id(&config);
                let run = format!("out/errs/{id}");
                let spec = plan_spec(&config);
                s.write(&format!("{run}/config.json"), &spec);
                s.write(
                    &format!("{run}/model.safetensors"),
                    "\u{8}\0\0\0\0\0\0\0{\"a\":",
                );
                vec![
                    "features".into(),
                    s.dir.join(&run).to_string_lossy().into_owned(),
                    "--task".into(),
                    "probe".into(),
                    "--out".into(),
                    s.dir
                        .join("features.safetensors")
                        .to_string_lossy()
                        .into_owned(),
                ]
            },
        },
    ]
}

/// The id of the config's only run.
fn run_id(config: &str) -> String {
    let config = plateau_train::SweepConfig::load(Path::new(config), &[]).unwrap();
    let (_, runs) = plateau_train::plan(&config, false).unwrap();
    runs[0].id.clone()
}

/// The `config.json` a run of the config writes.
fn plan_spec(config: &str) -> String {
    let config = plateau_train::SweepConfig::load(Path::new(config), &[]).unwrap();
    let (_, runs) = plateau_train::plan(&config, false).unwrap();
    serde_json::to_string_pretty(&runs[0].spec).unwrap()
}

/// One row of the page: the case, the command as a user types it, and what plateau says.
fn run_case(case: &Case) -> (String, String) {
    let scratch = Scratch {
        dir: tempfile::tempdir().unwrap().keep(),
    };
    let earlier = "{\"run_id\": \"earlier\", \"kept\": true}\n";
    scratch.write("out/errs/results.jsonl", earlier);
    let args = (case.args)(&scratch);
    let output = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(&args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let shown = |text: &str| text.replace(&scratch.dir.to_string_lossy().into_owned(), "<dir>");
    assert!(
        !output.status.success(),
        "{}: exited with success\n{stderr}",
        case.what
    );
    assert!(
        std::fs::read_to_string(scratch.results())
            .unwrap()
            .starts_with(earlier),
        "{}: earlier results were changed",
        case.what
    );
    // The sweep's own last word (a failed run's process also printed its error above it).
    let lines: Vec<&str> = stderr.lines().collect();
    let last = lines
        .iter()
        .rposition(|l| l.starts_with("error"))
        .unwrap_or(lines.len());
    let error = &lines[last..];
    assert!(
        !error.is_empty(),
        "{}: no error line in\n{stderr}",
        case.what
    );
    let _ = std::fs::remove_dir_all(&scratch.dir);
    let command = format!("plateau {}", shown(&args.join(" ")));
    (command, shown(&error.join("\n")))
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

fn page(rows: &[(String, String, String)]) -> String {
    let mut page = String::from(
        "# Errors for bad input\n\n\
         What plateau says for each kind of bad input. Every case exits with a non-zero code and \
         leaves the results already in the output folder as they were. `<dir>` stands for the \
         folder the command ran in.\n\n\
         This page is checked by `tests/errors_doc.rs`, which runs every case through the real \
         binary; `PLATEAU_BLESS=1 cargo test --release --test errors_doc` rewrites it after a \
         message changes.\n\n\
         | case | command | message |\n|---|---|---|\n",
    );
    for (what, command, message) in rows {
        page.push_str(&format!(
            "| {} | `{}` | {} |\n",
            cell(what),
            cell(command),
            cell(message)
        ));
    }
    page.push_str(MACHINE_FAULTS);
    page
}

/// What the page says of faults that are not bad input; other tests check these messages.
const MACHINE_FAULTS: &str = "
## Faults from the machine, and damaged results

Not bad input, so not in the table; the tests named check each.

- **A full disk** under the output folder (or a quota, a file-size limit, a read-only mount, \
an I/O error): `error: the sweep stopped before its runs could finish: <path>: No space left on \
device (os error 28)` and a `fix:` line (free space, then rerun the same command). No run is \
recorded as failed; the run that could not write keeps its last checkpoint \
(`tests/disk_full.rs`).
- **An output folder that stops taking files** (permission denied): the same stop, with `fix: \
make that folder writable again (or pass another --out)` (`tests/disk_full.rs`).
- **A run process that dies without saying why** (a signal, an abort, an exit from a library): \
its record names the exit and keeps `its last lines on stderr` (backtrace frames left out); a \
run that said why is recorded with that cause alone (`tests/failure_isolation.rs`).
- **A damaged line in `results.jsonl`**: `warning: <file> line <n> (run <id>) is damaged; \
moved it to results.jsonl.damaged`; the run's row comes back from its folder and it is not \
trained again. A lost `results.jsonl` is rebuilt the same way \
(`crates/plateau-train/tests/sweep.rs`).
- **A line from another plateau version** (JSON, but not a row this one reads): a warning; the \
line is kept as it is and left out of reports and fits.
- **An edited config** sweeping into the same folder: `note: <n> run folder(s) in <dir> are not \
runs of this config` with their ids and how to keep the studies apart (`tests/stale_runs.rs`).
- **A stop signal** (SIGINT, SIGTERM, SIGHUP, SIGUSR1): `SIGTERM: stopping at the next \
training step`, then `stopped by SIGTERM; rerun the same command to resume`; exit code 128 + \
the signal's number (`tests/kill_resume.rs`).
";

#[test]
fn every_bad_input_gets_one_clear_message_and_docs_errors_md_shows_it() {
    let rows: Vec<(String, String, String)> = cases()
        .iter()
        .map(|case| {
            let (command, message) = run_case(case);
            (case.what.to_string(), command, message)
        })
        .collect();
    let page = page(&rows);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md");
    if std::env::var_os("PLATEAU_BLESS").is_some() {
        std::fs::write(&path, &page).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == page,
        "docs/errors.md is out of date; rerun with PLATEAU_BLESS=1 and read the diff.\n{page}"
    );
}
