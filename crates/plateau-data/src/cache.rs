//! Where datasets live on disk, and content checksums (durable writes: `plateau-store`).
//!
//! A dataset is looked for, in order, in a path given in the config, `$PLATEAU_DATA/<name>`,
//! the user cache (`~/.cache/plateau/<name>`, or `$XDG_CACHE_HOME/plateau/<name>`), and the
//! system locations where registry packages install it. Fetched data lands in the user cache,
//! written into a staging folder and renamed into place, so a half-done fetch never looks complete.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::formats::read_maybe_gz;

/// The roots searched for datasets, in order.
#[derive(Clone, Debug)]
pub struct DataRoots {
    /// A dataset folder given explicitly (config `path`); searched first, not appended to.
    pub explicit: Option<PathBuf>,
    /// `$PLATEAU_DATA`: a folder holding one sub-folder per dataset.
    pub env: Option<PathBuf>,
    /// The user cache: where fetched datasets are written.
    pub cache: PathBuf,
}

impl DataRoots {
    /// Roots from the environment, with an optional explicit dataset folder.
    pub fn from_env(explicit: Option<PathBuf>) -> Self {
        let cache = dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("plateau");
        Self {
            explicit,
            env: std::env::var_os("PLATEAU_DATA").map(PathBuf::from),
            cache,
        }
    }

    /// Roots that search only `cache` (tests, isolated runs).
    pub fn cache_only(cache: impl Into<PathBuf>) -> Self {
        Self {
            explicit: None,
            env: None,
            cache: cache.into(),
        }
    }

    /// Candidate folders for `dataset`, in search order, each with where it came from.
    pub fn candidates(&self, dataset: &str, system_dirs: &[&str]) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        if let Some(path) = &self.explicit {
            out.push(("config path".to_string(), path.clone()));
        }
        if let Some(env) = &self.env {
            out.push(("$PLATEAU_DATA".to_string(), env.join(dataset)));
        }
        out.push(("user cache".to_string(), self.cache.join(dataset)));
        for dir in system_dirs {
            out.push(("system package".to_string(), PathBuf::from(dir)));
        }
        out
    }
}

/// `dir/name`, or `dir/name.gz` when only the compressed file is there.
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Some(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    gz.is_file().then_some(gz)
}

/// SHA-256 of a file's content, gunzipped first when the file is `.gz`.
pub fn content_sha256(path: &Path) -> Result<String> {
    Ok(sha256_hex(&read_maybe_gz(path)?))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Md5;
    hex(&Md5::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gz_and_plain_files_have_the_same_content_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("x");
        std::fs::write(&plain, b"hello").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"hello").unwrap();
        std::fs::write(dir.path().join("y.gz"), gz.finish().unwrap()).unwrap();
        assert_eq!(
            content_sha256(&plain).unwrap(),
            content_sha256(&dir.path().join("y.gz")).unwrap()
        );
        assert_eq!(find_file(dir.path(), "y").unwrap(), dir.path().join("y.gz"));
        assert!(find_file(dir.path(), "z").is_none());
    }

    #[test]
    fn search_order_is_config_env_cache_system() {
        let roots = DataRoots {
            explicit: Some("/cfg".into()),
            env: Some("/env".into()),
            cache: "/cache".into(),
        };
        let order: Vec<PathBuf> = roots
            .candidates("d", &["/usr/share/d"])
            .into_iter()
            .map(|c| c.1)
            .collect();
        let expected: Vec<PathBuf> = ["/cfg", "/env/d", "/cache/d", "/usr/share/d"]
            .map(PathBuf::from)
            .to_vec();
        assert_eq!(order, expected);
    }
}
