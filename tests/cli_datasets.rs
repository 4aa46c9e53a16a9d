//! `plateau datasets` as a user runs it.

use std::process::Command;

fn plateau(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_plateau"))
        .args(args)
        .output()
        .expect("the plateau binary runs")
}

#[test]
fn list_names_every_dataset() {
    let out = plateau(&["datasets", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for spec in plateau_data::DATASETS {
        assert!(
            text.contains(spec.name),
            "{} missing from\n{text}",
            spec.name
        );
    }
}

#[test]
fn unknown_dataset_exits_2_with_the_known_names() {
    let out = plateau(&["datasets", "fetch", "imagenet-21k"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("imagenet-21k") && stderr.contains("fashion-mnist"),
        "{stderr}"
    );
}

#[test]
fn verify_reads_a_fetched_set() {
    // `digits` is tiny; fetch it (a no-op when present), then verify and read it.
    assert!(plateau(&["datasets", "fetch", "digits"]).status.success());
    let out = plateau(&["datasets", "verify", "digits"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("sha256 ok") && text.contains("1797 train images"),
        "{text}"
    );
}
