//! Every data error names the file or field at fault and, where there is one, the fix.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: content checksum mismatch: expected sha256 {expected}, found {actual}; delete the file and fetch again (`plateau datasets fetch {dataset}`)"
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

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;
