//! One error for every durable write: the path and what the OS said.

use std::path::{Path, PathBuf};

pub type Result<T> = std::result::Result<T, StoreError>;

/// A failed read or write of `path`. Its message carries the OS error once (it is not also
/// reported as a `source`, which error chains would print a second time).
#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl StoreError {
    pub fn new(path: &Path, error: std::io::Error) -> Self {
        Self {
            path: path.to_path_buf(),
            error,
        }
    }

    /// The OS error's kind (`StorageFull`, `PermissionDenied`, …).
    pub fn kind(&self) -> std::io::ErrorKind {
        self.error.kind()
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for std::io::Error {
    fn from(error: StoreError) -> Self {
        std::io::Error::new(error.error.kind(), error.to_string())
    }
}

/// `.map_err(at(path))`: tags an OS error with the path it concerns.
pub(crate) fn at(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::new(path, error)
}
