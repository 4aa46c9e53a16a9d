//! CIFAR-10/100 binary batches, under every label layout.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use plateau_data::formats::cifar::{CifarLabels, parse_batch};

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz_batch.bin");
    for labels in [
        CifarLabels::Ten,
        CifarLabels::HundredFine,
        CifarLabels::HundredCoarse,
    ] {
        let _ = parse_batch(path, bytes, labels);
    }
});
