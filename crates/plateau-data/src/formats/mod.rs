//! Readers of real dataset formats. Each returns plain arrays and names the file in every error.

pub mod cifar;
pub mod digits_csv;
pub mod folder;
pub mod idx;
pub mod mnist_json;
pub mod npy;
pub mod numpy_pickle;
pub mod synthetic;

use std::io::Read;
use std::path::Path;

use crate::error::{DataError, Result};

/// The bytes of `path`, gunzipped when it ends in `.gz`.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_maybe_gz(path)?
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(path, e))?;
    Ok(bytes)
}

/// A reader of the bytes of `path`, gunzipped when it ends in `.gz`; map its errors with
/// [`read_error`].
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    Ok(match is_gz(path) {
        true => Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file))),
        false => Box::new(file),
    })
}

/// The error of a failed read from [`open_maybe_gz`]: in a gzipped file, a corrupt or
/// truncated stream (a format error, as [`gunzip`] reports it).
pub fn read_error(path: &Path, error: std::io::Error) -> DataError {
    match is_gz(path) {
        true => not_gzip(path, error),
        false => DataError::io(path, error),
    }
}

fn not_gzip(path: &Path, error: std::io::Error) -> DataError {
    DataError::format(path, format!("not a valid gzip stream: {error}"))
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "gz")
}

pub fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| not_gzip(path, e))?;
    Ok(out)
}
