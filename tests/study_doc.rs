//! The Fashion-MNIST study (`docs/study/fashion-mnist.md`) is rebuilt from the run folders
//! committed beside it (records, configs and metrics; no weights):
//! - `plateau report` on a copy of the folder, without its results files, report or figures,
//!   merges the same rows and draws the same figures as the committed ones;
//! - every number of the write-up is one the committed results produce: its tables are made
//!   here from `results.jsonl` (and each run's `metrics.jsonl`), and the output shown under each
//!   `plateau …` command is what the command prints now (numbers compared to their printed
//!   precision, since a fit's last digit may differ across machines).
//!
//! `PLATEAU_BLESS=1 cargo test --release --test study_doc` rewrites the page's tables and
//! command outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;

const DOC: &str = "docs/study/fashion-mnist.md";
const SWEEP: &str = "docs/study/fashion-mnist";
/// What `plateau report` writes, left out of the copy it rebuilds from.
const REBUILT: &[&str] = &["results.jsonl", "results.csv", "report.html", "plots"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn plateau(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "plateau {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target = to.join(&name);
        match entry.file_type().unwrap().is_dir() {
            true => copy_tree(&entry.path(), &target, &[]),
            false => {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
}

/// Splits `text` into runs of number characters and the rest.
fn tokens(text: &str) -> Vec<(bool, String)> {
    let mut out: Vec<(bool, String)> = Vec::new();
    for ch in text.chars() {
        let numeric =
            ch.is_ascii_digit() || ch == '.' || ch == 'e' && out.last().is_some_and(|t| t.0);
        match out.last_mut() {
            Some((kind, token)) if *kind == numeric => token.push(ch),
            _ => out.push((numeric, ch.to_string())),
        }
    }
    out
}

/// Equal but for numbers, which may differ by one unit of their last printed digit (and a
/// little more for large ones: a fit's bootstrap bounds).
fn same_up_to_rounding(a: &str, b: &str) -> Result<(), String> {
    let (ta, tb) = (tokens(a), tokens(b));
    if ta.len() != tb.len() {
        return Err(format!("{} tokens against {}", ta.len(), tb.len()));
    }
    for ((na, xa), (_, xb)) in ta.iter().zip(&tb) {
        if xa == xb {
            continue;
        }
        let close = *na
            && match (xa.parse::<f64>(), xb.parse::<f64>()) {
                (Ok(x), Ok(y)) => {
                    let unit = xa
                        .split_once('.')
                        .map_or(1.0, |(_, d)| 10f64.powi(-(d.len() as i32)));
                    (x - y).abs() <= 2.0 * unit + 1e-3 * x.abs().max(y.abs())
                }
                _ => false,
            };
        if !close {
            return Err(format!("{xa:?} against {xb:?}"));
        }
    }
    Ok(())
}

#[test]
fn the_committed_run_folders_rebuild_the_results_and_the_figures() {
    let committed = root().join(SWEEP);
    let copy = tempfile::tempdir().unwrap();
    let dir = copy.path().join("fashion-mnist");
    copy_tree(&committed, &dir, REBUILT);
    plateau(&["report", dir.to_str().unwrap()]);

    let by_id = |rows: Vec<Value>| -> BTreeMap<String, Value> {
        rows.into_iter()
            .map(|r| {
                (
                    r["run_id"].as_str().unwrap().to_string(),
                    common::outcome(&r),
                )
            })
            .collect()
    };
    let rebuilt = by_id(common::result_rows(&dir));
    let shown = by_id(common::result_rows(&committed));
    assert_eq!(rebuilt.len(), shown.len(), "the same runs");
    assert_eq!(rebuilt, shown, "the same rows");

    let svgs = |dir: &Path| -> BTreeMap<String, String> {
        std::fs::read_dir(dir.join("plots"))
            .unwrap()
            .flatten()
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(e.path()).unwrap())
            })
            .collect()
    };
    let (drawn, figures) = (svgs(&dir), svgs(&committed));
    assert_eq!(
        drawn.keys().collect::<Vec<_>>(),
        figures.keys().collect::<Vec<_>>(),
        "the same figures"
    );
    for (name, svg) in &drawn {
        same_up_to_rounding(svg, &figures[name])
            .unwrap_or_else(|e| panic!("{SWEEP}/plots/{name} differs: {e}"));
    }
}

#[test]
fn every_number_of_the_write_up_comes_from_the_committed_results() {
    let path = root().join(DOC);
    let shown = std::fs::read_to_string(&path).unwrap();
    let rows: Vec<Value> = common::result_rows(&root().join(SWEEP))
        .into_iter()
        .filter(|r| r["status"] == "ok")
        .collect();
    let mut expected = shown.clone();
    for (name, table) in tables(&rows) {
        expected = replace_table(&expected, name, &table);
    }
    expected = with_command_outputs(&expected);
    if std::env::var_os("PLATEAU_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let shown = std::fs::read_to_string(&path).unwrap();
    if let Err(e) = same_up_to_rounding(&shown, &expected) {
        panic!("{DOC} is out of date ({e}); rerun with PLATEAU_BLESS=1");
    }
}

/// `text` with the lines between `<!-- table:NAME -->` and `<!-- /table -->` replaced by `table`.
fn replace_table(text: &str, name: &str, table: &str) -> String {
    let open = format!("<!-- table:{name} -->\n");
    let close = "<!-- /table -->";
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("{DOC} has no {open:?}"))
        + open.len();
    let end = start + text[start..].find(close).unwrap();
    format!("{}{table}{}", &text[..start], &text[end..])
}

/// `text` with the block after every ```` ```sh ```` block of one `plateau …` line replaced by
/// what that command prints.
fn with_command_outputs(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        out.push_str(lines[i]);
        let is_command = lines[i].trim_end() == "```sh"
            && lines.get(i + 1).is_some_and(|l| l.starts_with("plateau "))
            && lines.get(i + 2).is_some_and(|l| l.trim_end() == "```")
            && lines.get(i + 4).is_some_and(|l| l.trim_end() == "```text");
        if !is_command {
            i += 1;
            continue;
        }
        let command = lines[i + 1].trim_end();
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        for line in &lines[i + 1..i + 5] {
            out.push_str(line);
        }
        out.push_str(&plateau(&args));
        i += 5;
        while i < lines.len() && lines[i].trim_end() != "```" {
            i += 1;
        }
    }
    out
}

// ---- The tables, from the results ----

fn axis<'a>(row: &'a Value, name: &str) -> &'a Value {
    &row["config"][name]
}

fn width(row: &Value) -> u64 {
    axis(row, "width").as_u64().unwrap()
}

fn distilled(row: &Value) -> bool {
    axis(row, "distill") == &Value::Bool(true)
}

fn noise(row: &Value) -> f64 {
    axis(row, "label_noise").as_f64().unwrap_or(0.0)
}

/// The scratch curves: neither distilled nor trained on noisy labels.
fn reference(row: &Value) -> bool {
    !distilled(row) && noise(row) == 0.0
}

fn test_accuracy(row: &Value) -> f64 {
    row["upstream"]["test_accuracy"].as_f64().unwrap()
}

fn probe(row: &Value, task: &str, shots: u64, layer: &str) -> f64 {
    row["downstream"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["task"] == task && d["shots"] == shots && d["layer"] == layer)
        .and_then(|d| d["accuracy_mean"].as_f64())
        .unwrap_or_else(|| panic!("{}: no {task} {shots}-shot {layer}", row["run_id"]))
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// `mean ± half the range` of the seeds, or the value alone for one seed.
fn spread(values: &[f64]) -> String {
    let (low, high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    match values.len() {
        1 => format!("{:.3}", values[0]),
        _ => format!("{:.3} ± {:.3}", mean(values), (high - low) / 2.0),
    }
}

fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

const FAMILIES: &[(&str, &str)] = &[("resnet", "ResNet"), ("vit", "ViT"), ("mixer", "Mixer")];
const TASKS: &[&str] = &["mnist-10k", "animal-mnist", "digits"];

/// The rows of `family` passing `keep`, grouped by width (the seeds of a size together).
fn by_width<'a>(
    rows: &'a [Value],
    family: &str,
    keep: impl Fn(&Value) -> bool,
) -> BTreeMap<u64, Vec<&'a Value>> {
    let mut sizes: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for row in rows.iter().filter(|r| r["family"] == family && keep(r)) {
        sizes.entry(width(row)).or_default().push(row);
    }
    sizes
}

/// Validation accuracy the last epoch added, in points.
fn last_epoch_gain(run_dir: &Path) -> f64 {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    let accuracies: Vec<f64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["val_accuracy"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let n = accuracies.len();
    100.0 * (accuracies[n - 1] - accuracies[n - 2])
}

fn tables(rows: &[Value]) -> Vec<(&'static str, String)> {
    vec![
        ("upstream", upstream_table(rows)),
        ("downstream", downstream_table(rows)),
        ("layers", layers_table(rows)),
        ("distill", distill_table(rows)),
        ("noise", noise_table(rows)),
        ("cost", cost_table(rows)),
        ("published", published_table(rows)),
    ]
}

fn upstream_table(rows: &[Value]) -> String {
    let mut out = String::from(
        "| family | width | params | upstream test accuracy | last epoch adds (val, points) | train s per run |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (family, label) in FAMILIES {
        for (width, runs) in by_width(rows, family, reference) {
            let accuracy: Vec<f64> = runs.iter().map(|r| test_accuracy(r)).collect();
            let gains: Vec<f64> = runs
                .iter()
                .map(|r| last_epoch_gain(&root().join(SWEEP).join(r["run_id"].as_str().unwrap())))
                .collect();
            let seconds: Vec<f64> = runs
                .iter()
                .map(|r| r["train_seconds"].as_f64().unwrap())
                .collect();
            out.push_str(&format!(
                "| {label} | {width} | {} | {} | {:+.1} | {:.0} |\n",
                count(runs[0]["params"].as_u64().unwrap()),
                spread(&accuracy),
                mean(&gains),
                mean(&seconds),
            ));
        }
    }
    out
}

fn downstream_table(rows: &[Value]) -> String {
    let mut out = String::from("| family | params |");
    for task in TASKS {
        out.push_str(&format!(" {task} 5-shot | {task} 25-shot |"));
    }
    out.push_str("\n|---|---:|");
    out.push_str(&"---:|".repeat(2 * TASKS.len()));
    out.push('\n');
    for (family, label) in FAMILIES {
        for (_, runs) in by_width(rows, family, reference) {
            out.push_str(&format!(
                "| {label} | {} |",
                count(runs[0]["params"].as_u64().unwrap())
            ));
            for task in TASKS {
                for shots in [5, 25] {
                    let accuracy: Vec<f64> = runs
                        .iter()
                        .map(|r| probe(r, task, shots, "pre_logits"))
                        .collect();
                    out.push_str(&format!(" {:.3} |", mean(&accuracy)));
                }
            }
            out.push('\n');
        }
    }
    out
}

/// MNIST-10k 25-shot accuracy at every probed layer of each family's largest model.
fn layers_table(rows: &[Value]) -> String {
    let mut out = String::from(
        "| family | params | layer | relative depth | mnist-10k 25-shot | animal-mnist 25-shot |\n\
         |---|---:|---|---:|---:|---:|\n",
    );
    for (family, label) in FAMILIES {
        let sizes = by_width(rows, family, reference);
        let (_, runs) = sizes.iter().next_back().unwrap();
        let mut layers: Vec<(f64, String)> = runs[0]["downstream"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["task"] == "mnist-10k" && d["shots"] == 25)
            .map(|d| {
                (
                    d["relative_depth"].as_f64().unwrap(),
                    d["layer"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        layers.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (depth, layer) in layers {
            let at = |task| {
                mean(
                    &runs
                        .iter()
                        .map(|r| probe(r, task, 25, &layer))
                        .collect::<Vec<_>>(),
                )
            };
            out.push_str(&format!(
                "| {label} | {} | `{layer}` | {depth:.2} | {:.3} | {:.3} |\n",
                count(runs[0]["params"].as_u64().unwrap()),
                at("mnist-10k"),
                at("animal-mnist"),
            ));
        }
    }
    out
}

fn distill_table(rows: &[Value]) -> String {
    let header = "| family | params | scratch | distilled | gap (points) | mnist-10k 25-shot scratch | distilled | agreement with the teacher |\n\
                  |---|---:|---:|---:|---:|---:|---:|---:|\n";
    against_scratch(rows, header, distilled, |students| {
        format!(
            " {:.2} |",
            students[0]["distillation"]["agreement"].as_f64().unwrap()
        )
    })
}

fn noise_table(rows: &[Value]) -> String {
    let header = "| family | params | clean labels | 40 % noisy labels | cost (points) | mnist-10k 25-shot clean | noisy |\n\
                  |---|---:|---:|---:|---:|---:|---:|\n";
    against_scratch(rows, header, |r| noise(r) > 0.0, |_| String::new())
}

/// A row per size of the runs `pick` keeps beside the scratch runs of that size: upstream test
/// accuracy of both, the difference in points, MNIST-10k 25-shot of both, then `more`.
fn against_scratch(
    rows: &[Value],
    header: &str,
    pick: impl Fn(&Value) -> bool,
    more: impl Fn(&[&Value]) -> String,
) -> String {
    let accuracy = |runs: &[&Value]| runs.iter().map(|r| test_accuracy(r)).collect::<Vec<_>>();
    let shots = |runs: &[&Value]| {
        mean(
            &runs
                .iter()
                .map(|r| probe(r, "mnist-10k", 25, "pre_logits"))
                .collect::<Vec<_>>(),
        )
    };
    let mut out = String::from(header);
    for (family, label) in FAMILIES {
        let scratch = by_width(rows, family, reference);
        for (width, picked) in by_width(rows, family, &pick) {
            let Some(twins) = scratch.get(&width) else {
                continue;
            };
            let (a, b) = (accuracy(twins), accuracy(&picked));
            out.push_str(&format!(
                "| {label} | {} | {} | {} | {:+.1} | {:.3} | {:.3} |{}\n",
                count(picked[0]["params"].as_u64().unwrap()),
                spread(&a),
                spread(&b),
                100.0 * (mean(&b) - mean(&a)),
                shots(twins),
                shots(&picked),
                more(&picked),
            ));
        }
    }
    out
}

/// Runs, training compute and training time per part of the study.
fn cost_table(rows: &[Value]) -> String {
    let mut out = String::from(
        "| part | runs | training PFLOPs | training minutes |\n|---|---:|---:|---:|\n",
    );
    let parts: [(&str, &dyn Fn(&Value) -> bool); 3] = [
        ("scratch curves", &reference),
        ("distilled students (teacher forwards included)", &distilled),
        ("label noise", &|r: &Value| noise(r) > 0.0),
    ];
    let mut all = (0, 0.0, 0.0);
    for (part, keep) in parts {
        let runs: Vec<&Value> = rows.iter().filter(|r| keep(r)).collect();
        let flops = runs
            .iter()
            .map(|r| r["train_flops"].as_f64().unwrap())
            .fold(0.0, |a, b| a + b);
        let seconds = runs
            .iter()
            .map(|r| r["train_seconds"].as_f64().unwrap())
            .fold(0.0, |a, b| a + b);
        out.push_str(&format!(
            "| {part} | {} | {:.4} | {:.1} |\n",
            runs.len(),
            flops / 1e15,
            seconds / 60.0
        ));
        all = (all.0 + runs.len(), all.1 + flops, all.2 + seconds);
    }
    out.push_str(&format!(
        "| all | {} | {:.4} | {:.1} |\n",
        all.0,
        all.1 / 1e15,
        all.2 / 60.0
    ));
    let timing: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(SWEEP).join("timing.json")).unwrap(),
    )
    .unwrap();
    out.push_str(&format!(
        "| wall time of the sweep, two runs at once (`timing.json`) | {} | | {:.1} |\n",
        timing["runs_trained"],
        timing["wall_seconds"].as_f64().unwrap() / 60.0
    ));
    out
}

/// Results others published for the whole Fashion-MNIST test split, as the benchmark table of
/// the dataset authors' README (github.com/zalandoresearch/fashion-mnist) lists them (submitted
/// results, not checked by the maintainers; all trained on the 60,000 training images; epochs
/// mostly unstated): what, parameters, preprocessing and augmentation, test accuracy.
const PUBLISHED: &[(&str, &str, &str, &str)] = &[
    (
        "2 conv layers + max pooling (Keras)",
        "not stated",
        "none",
        "0.876",
    ),
    (
        "3 conv layers + pooling + BN",
        "not stated",
        "none",
        "0.903",
    ),
    (
        "MLP 256-128-64",
        "≈ 243k (784·256 + 256·128 + 128·64 + 64·10 weights and biases)",
        "none",
        "0.900",
    ),
    (
        "2 conv layers, < 100k parameters",
        "< 100k",
        "none",
        "0.925",
    ),
    (
        "2 conv layers, 113k parameters",
        "113k",
        "normalization",
        "0.922",
    ),
    (
        "ResNet18",
        "≈ 11M",
        "normalization, flips, translation, rotation",
        "0.949",
    ),
    (
        "WRN40-4",
        "8.9M",
        "mean/std, random crops, horizontal flips",
        "0.967",
    ),
    (
        "human, no fashion expertise (1,000 test images)",
        "",
        "",
        "0.835",
    ),
];

/// plateau's largest scratch model per family beside the published results.
fn published_table(rows: &[Value]) -> String {
    let mut out = String::from(
        "| model | parameters | training data and augmentation | test accuracy |\n|---|---|---|---:|\n",
    );
    for (family, label) in FAMILIES {
        let sizes = by_width(rows, family, reference);
        let (width, runs) = sizes.iter().next_back().unwrap();
        let accuracy: Vec<f64> = runs.iter().map(|r| test_accuracy(r)).collect();
        let epochs = runs[0]["epochs"].as_u64().unwrap();
        out.push_str(&format!(
            "| **plateau {label}, width {width}** (mean of {} seeds) | {} | 20,000 images × {epochs} epochs; crops ±2 px, horizontal flips | {} |\n",
            runs.len(),
            count(runs[0]["params"].as_u64().unwrap()),
            spread(&accuracy),
        ));
    }
    for (what, params, augmentation, accuracy) in PUBLISHED {
        let data = match augmentation.is_empty() {
            true => "—".to_string(),
            false => format!("60,000 images; {augmentation}"),
        };
        let params = if params.is_empty() { "—" } else { params };
        out.push_str(&format!("| {what} | {params} | {data} | {accuracy} |\n"));
    }
    out
}
