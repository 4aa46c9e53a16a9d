//! Every data error names the file or field at fault and, where there is one, the fix.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// The OS error is part of the message and not a `source`: error chains would print it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{path}: content checksum mismatch: expected sha256 {expected}, found {actual} (the file changed since its checksum was recorded); restore it, or delete it and fetch the dataset again (`plateau datasets fetch {dataset}`)"
    )]
    Checksum {
        dataset: String,
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("unknown dataset `{name}`; known datasets: {}", valid.join(", "))]
    UnknownDataset { name: String, valid: Vec<String> },
    #[error(
        "dataset `{dataset}` is not present; looked in:\n{}\nfix: {fix}",
        list(tried)
    )]
    NotFound {
        dataset: String,
        tried: Vec<String>,
        fix: String,
    },
    #[error(
        "could not fetch dataset `{dataset}`; every source failed:\n{}\nfix: {fix}",
        list(attempts)
    )]
    FetchFailed {
        dataset: String,
        attempts: Vec<String>,
        fix: String,
    },
    #[error("invalid `{field}`: {message}")]
    Invalid { field: String, message: String },
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("  - {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl DataError {
    pub fn format(path: &Path, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub fn io(path: &Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl From<plateau_store::StoreError> for DataError {
    fn from(e: plateau_store::StoreError) -> Self {
        Self::Io {
            path: e.path,
            error: e.error,
        }
    }
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;
