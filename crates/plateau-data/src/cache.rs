//! Where datasets live on disk, content checksums, and atomic writes.
//!
//! A dataset is looked for, in order, in a path given in the config, `$PLATEAU_DATA/<name>`,
//! the user cache (`~/.cache/plateau/<name>`, or `$XDG_CACHE_HOME/plateau/<name>`), and the
//! system locations where registry packages install it. Fetched data lands in the user cache,
//! written into a staging folder and renamed into place, so a half-done fetch never looks complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};
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

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::io(path, e)
    })
}

/// Flushes a folder's entries (a rename) to disk, so a power cut cannot undo it; a no-op where
/// folders cannot be opened as files (Windows).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    let _ = dir;
    Ok(())
}

/// Makes a finished staging folder the dataset folder `target` in one rename. An existing
/// `target` is replaced only when `keep_existing` says it is not a complete copy (another
/// thread or process may have finished the same fetch first).
pub fn promote(staging: &Path, target: &Path, keep_existing: impl Fn(&Path) -> bool) -> Result<()> {
    if target.exists() {
        if keep_existing(target) {
            return Ok(());
        }
        std::fs::remove_dir_all(target).map_err(|e| DataError::io(target, e))?;
    }
    std::fs::rename(staging, target).map_err(|e| DataError::io(target, e))?;
    if let Some(parent) = target.parent() {
        // Persist the rename itself.
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// A fresh staging folder next to `target`, removed on drop unless promoted.
pub struct Staging {
    pub path: PathBuf,
}

impl Staging {
    pub fn new(target: &Path) -> Result<Self> {
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        // Unique per process and per call: threads of one process may fetch at the same time.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = target.with_file_name(format!(".staging-{name}-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| DataError::io(&path, e))?;
        }
        std::fs::create_dir_all(&path).map_err(|e| DataError::io(&path, e))?;
        Ok(Self { path })
    }

    /// Empties the folder for another attempt.
    pub fn reset(&self) -> Result<()> {
        std::fs::remove_dir_all(&self.path).map_err(|e| DataError::io(&self.path, e))?;
        std::fs::create_dir_all(&self.path).map_err(|e| DataError::io(&self.path, e))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("file");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

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
