//! A sweep config: parsing, `--set` overrides (lines starting `#set `), validation, and grid
//! expansion must return an error, never panic.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use plateau_models::InputSpec;
use plateau_train::SweepConfig;

fuzz_target!(|text: &str| {
    let overrides: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("#set "))
        .map(str::to_string)
        .collect();
    if let Ok(config) = SweepConfig::parse(Path::new("fuzz.toml"), text, &overrides) {
        // Expanding a huge grid is legitimate but slow; the fuzzer only expands small ones.
        if plateau_train::grid_size(&config) <= 64 {
            let _ = plateau_train::expand(&config, InputSpec::new(1, 28, 10));
        }
    }
});
