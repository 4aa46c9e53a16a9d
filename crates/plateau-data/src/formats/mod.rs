//! Readers of real dataset formats. Each returns plain arrays and names the file in every error.

pub mod cifar;
pub mod digits_csv;
pub mod folder;
pub mod idx;
pub mod mnist_json;
pub mod numpy_pickle;
pub mod synthetic;

use std::io::Read;
use std::path::Path;

use crate::error::{DataError, Result};

/// The bytes of `path`, gunzipped when it ends in `.gz`.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if path.extension().is_some_and(|ext| ext == "gz") {
        gunzip(path, &raw)
    } else {
        Ok(raw)
    }
}

pub fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| DataError::format(path, format!("not a valid gzip stream: {e}")))?;
    Ok(out)
}
