//! Each example in `examples/` builds (`cargo test` builds them all) and runs at toy size,
//! printing what it promises.

use std::path::PathBuf;
use std::process::Command;

/// The built example `name`, beside this test binary: `target/release/examples/NAME` after
/// `cargo build --examples`, or the newest `NAME-<hash>` that `cargo test` builds.
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let dir = deps
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples");
    let prefix = format!("{name}-");
    let built = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            (file == name || file.starts_with(&prefix)) && path.extension().is_none()
        })
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok());
    built.unwrap_or_else(|| {
        panic!(
            "example {name} is not built in {}; the whole `cargo test --release --workspace` \
             (or `cargo build --release --examples`) builds it",
            dir.display()
        )
    })
}

/// Runs an example with a fresh output folder and returns what it printed.
fn run(name: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(example(name))
        .arg(out.path())
        .current_dir(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn one_sweep_trains_in_process_and_reads_its_results_back() {
    let out = run("one_sweep");
    assert!(out.contains("3 run(s) trained now, 0 failed"), "{out}");
    assert_eq!(out.matches("upstream test accuracy").count(), 3, "{out}");
    assert!(out.contains("probe 5-shot"), "the fit's table: {out}");
}

#[test]
fn own_folder_trains_and_probes_on_an_image_folder() {
    let out = run("own_folder");
    assert_eq!(out.matches("probe 5-shot").count(), 2, "{out}");
}

#[test]
fn probe_features_fits_the_saturation_law_without_a_model() {
    let out = run("probe_features");
    assert_eq!(out.matches("5-shot error").count(), 9, "{out}");
    assert!(
        out.contains("e_DS = ") && out.contains("the floor is"),
        "{out}"
    );
}

#[test]
fn custom_shape_counts_match_burn_and_the_shape_trains() {
    let out = run("custom_shape");
    let counted = out
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap();
    assert!(
        out.contains(&format!("({counted} by burn's count)")),
        "the analytic count equals burn's: {out}"
    );
    assert!(
        out.contains(&format!("{counted} parameters, upstream test accuracy")),
        "{out}"
    );
}
