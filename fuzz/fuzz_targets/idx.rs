//! IDX files (MNIST family), raw and gzipped.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use plateau_data::formats::{gunzip, idx};

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz.idx");
    let _ = idx::parse(path, bytes);
    if let Ok(unzipped) = gunzip(Path::new("fuzz.idx.gz"), bytes) {
        let _ = idx::parse(path, &unzipped[..]);
    }
});
