//! The numpy-array pickles of animal-mnist: array location by dtype, and integer labels.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use plateau_data::formats::numpy_pickle::{Dtype, array_bytes, i64_values};

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz.pkl");
    for dtype in [Dtype::U8, Dtype::I64] {
        let _ = array_bytes(path, bytes, dtype);
    }
    let _ = i64_values(path, bytes);
});
