//! Bad configs are refused with the file, the place and the fix.

use std::path::Path;

use plateau_train::SweepConfig;

const VALID: &str = r#"
name = "x"
[upstream]
dataset = "synthetic"
[train]
optimizer = "adamw"
lr = 1e-3
batch_size = 8
epochs = 1
[[grid]]
preset = "resnet-cifar"
width = [8, 16]
"#;

fn error(text: &str, overrides: &[&str]) -> String {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    SweepConfig::parse(Path::new("configs/bad.toml"), text, &overrides)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_valid_config_parses_and_set_overrides_fields() {
    let config = SweepConfig::parse(Path::new("c.toml"), VALID, &[]).unwrap();
    assert_eq!(
        config.grid[0].axis("width"),
        Some(&[serde_json::json!(8), serde_json::json!(16)][..])
    );
    let overrides = [
        "train.epochs=3".to_string(),
        "grid.0.width=[4]".to_string(),
        "upstream.dataset=digits".to_string(),
    ];
    let config = SweepConfig::parse(Path::new("c.toml"), VALID, &overrides).unwrap();
    assert_eq!(config.train.epochs, Some(3));
    assert_eq!(
        config.grid[0].axis("width"),
        Some(&[serde_json::json!(4)][..])
    );
    assert_eq!(
        config.upstream.dataset,
        plateau_train::DatasetSource::Named("digits".into())
    );
}

#[test]
fn unknown_keys_and_malformed_toml_name_file_line_and_column() {
    let typo = error(&VALID.replace("batch_size", "batchsize"), &[]);
    assert!(
        typo.starts_with("configs/bad.toml") && typo.contains("batchsize") && typo.contains("line"),
        "{typo}"
    );
    let malformed = error("name = \n", &[]);
    assert!(
        malformed.contains("configs/bad.toml") && malformed.contains("line 1"),
        "{malformed}"
    );
}

#[test]
fn impossible_values_name_the_field() {
    assert!(
        error(
            &VALID.replace("preset = \"resnet-cifar\"", "preset = \"resnet9000\""),
            &[]
        )
        .contains("grid[0].preset")
    );
    assert!(error(&VALID.replace("width = [8, 16]", "width = []"), &[]).contains("grid[0].width"));
    assert!(error(VALID, &["train.steps=10"]).contains("train.epochs"));
    assert!(error(VALID, &["train.batch_size=0"]).contains("train.batch_size"));
    assert!(error(&VALID.replace("adamw", "adam"), &[]).contains("adam"));
    let no_grid = VALID.split("[[grid]]").next().unwrap().to_string() + "grid = []\n";
    assert!(error(&no_grid, &[]).contains("grid"));
}

#[test]
fn grid_axes_come_from_the_table_of_axes() {
    // Every axis of the table is a grid key; its values are checked for their kind where the
    // TOML parser can point at them.
    let axes = plateau_train::axis_meanings();
    assert!(axes.iter().any(|a| a.name == "lr") && axes.iter().any(|a| a.name == "seed"));
    let typo = error(&VALID.replace("width = [8, 16]", "widht = [8]"), &[]);
    for axis in &axes {
        assert!(typo.contains(&format!("`{}`", axis.name)), "{typo}");
    }
    let fraction = error(&VALID.replace("width = [8, 16]", "width = [8.5]"), &[]);
    let line = VALID.lines().position(|l| l.starts_with("width")).unwrap() + 1;
    assert!(
        fraction.contains(&format!("line {line}")) && fraction.contains("u64"),
        "{fraction}"
    );
    let not_finite = error(&VALID.replace("width = [8, 16]", "lr = [nan]"), &[]);
    assert!(
        not_finite.contains("lr") && not_finite.contains("finite"),
        "{not_finite}"
    );
    let twice = error(
        &VALID.replace("width = [8, 16]", "seed = [0]\nseed = [1]"),
        &[],
    );
    assert!(twice.contains("seed"), "{twice}");
}

#[test]
fn every_config_shipped_in_configs_parses_and_expands() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config =
                SweepConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(plateau_train::grid_size(&config) > 0, "{}", path.display());
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "configs/ holds the quickstart, smoke and data-quality sweeps"
    );
}
