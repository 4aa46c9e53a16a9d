//! Run ids of the shipped configs never change: a run id names a folder of finished work, and a
//! new id for the same run would train it again. These were computed before the sweep code was
//! regrouped (table of axes, `run/` and `sweep/`) and must survive any later change that does
//! not change what a run computes.

use std::path::Path;

fn planned(config: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(config);
    let config = plateau_train::SweepConfig::load(&path, &[]).unwrap();
    let (_, runs) = plateau_train::plan(&config, false).unwrap();
    runs.into_iter()
        .map(|run| (run.id.clone(), run.label()))
        .collect()
}

fn pinned(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    rows.iter()
        .map(|(id, label)| (id.to_string(), label.to_string()))
        .collect()
}

#[test]
fn smoke_run_ids_and_order_are_pinned() {
    assert_eq!(
        planned("configs/smoke.toml"),
        pinned(&[
            ("b13aa96f59c3", "resnet-cifar depth=1 width=8"),
            ("900bfd612a83", "vit-tiny-p4 depth=2 width=32"),
            ("3cde8cd707be", "mixer-tiny-p4 depth=2 width=32"),
        ])
    );
}

#[test]
fn quickstart_run_ids_and_order_are_pinned() {
    assert_eq!(
        planned("configs/quickstart.toml"),
        pinned(&[
            ("2d4a66d08d5b", "resnet-cifar depth=1 width=4"),
            ("6077fa825b19", "resnet-cifar depth=1 width=8"),
            ("56c6baff2eae", "resnet-cifar depth=1 width=16"),
            ("77c96d347e30", "vit-tiny-p4 depth=2 width=16"),
            ("140df6d92fbd", "vit-tiny-p4 depth=2 width=32"),
            ("bcb966297dc4", "vit-tiny-p4 depth=2 width=64"),
            ("c47c4b8edd44", "mixer-tiny-p4 depth=2 width=16"),
            ("d949ea7fd6ce", "mixer-tiny-p4 depth=2 width=32"),
            ("6fbb17653a22", "mixer-tiny-p4 depth=2 width=64"),
        ])
    );
}

#[test]
fn seeds_vary_fastest_in_the_fashion_mnist_grid() {
    let runs = planned("configs/fashion-mnist.toml");
    assert_eq!(runs.len(), 24);
    assert_eq!(runs[0].0, "02aaaeeadf38");
    assert_eq!(runs[1].0, "efb3f30345e9");
    assert_eq!(runs[23].0, "e09555afd086");
}

#[test]
fn unpruned_runs_keep_the_ids_they_had_before_pruning_was_swept() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/data-quality.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let plan = |text: &str| {
        let config = plateau_train::SweepConfig::parse(&path, text, &[]).unwrap();
        plateau_train::plan(&config, false).unwrap().1
    };
    let with_pruning = plan(&text);
    let without: String = text
        .lines()
        .filter(|line| !line.starts_with("prune") && !line.starts_with("keep"))
        .map(|line| format!("{line}\n"))
        .collect();
    let without = plan(&without);
    // 4 widths × 2 noise rates × {none, el2n, random}: the `none` point once, not once per `keep`.
    assert_eq!((with_pruning.len(), without.len()), (24, 8));
    let unpruned: Vec<&str> = with_pruning
        .iter()
        .filter(|run| run.axes["prune"] == "none")
        .map(|run| run.id.as_str())
        .collect();
    let before: Vec<&str> = without.iter().map(|run| run.id.as_str()).collect();
    assert_eq!(unpruned, before);
    assert!(
        with_pruning
            .iter()
            .all(|run| run.axes.contains_key("keep") == (run.axes["prune"] != "none"))
    );
}
