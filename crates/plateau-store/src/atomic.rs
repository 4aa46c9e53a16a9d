//! Whole-file replaces and the temporaries they leave when a writer is killed.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, at};

/// What every temporary's name contains: `.<name>.tmp-<pid>` (files) or
/// `.<name>.tmp-<pid>-<n>` (staged folders).
const TEMPORARY_MARK: &str = ".tmp-";

/// The temporary that [`write_atomic`] fills before renaming it to `path`: in the same folder
/// (a rename across file systems is not atomic), hidden, and unique to this process.
pub(crate) fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}{TEMPORARY_MARK}{}", std::process::id()))
}

/// Whether a file or folder name is one of this crate's temporaries.
pub fn is_temporary(name: &str) -> bool {
    name.contains(TEMPORARY_MARK)
}

/// Writes `bytes` to `path` atomically: a reader, or a process that starts after a crash, sees
/// the old content or the new, never a mix. Creates missing parent folders. On failure (a full
/// disk) the temporary is removed and `path` keeps its old content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir).map_err(at(dir))?;
    let tmp = temporary_path(path);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    };
    write().map_err(|error| {
        let _ = std::fs::remove_file(&tmp);
        at(path)(error)
    })
}

/// Flushes a folder's entries (a rename, a new file) to disk, so a power cut cannot undo them;
/// a no-op where folders cannot be opened as files (Windows).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    let _ = dir;
    Ok(())
}

/// Removes the temporaries (files and staged folders) that killed writers left in `dir`; their
/// complete versions were never renamed into place, so nothing is lost. Call it only while no
/// other process writes into `dir` (under the sweep's or the run's lock).
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !is_temporary(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        let _ = match entry.file_type() {
            Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
    }
}

pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("file");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_failed_write_keeps_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        write_atomic(&path, b"old").unwrap();
        // A folder where the temporary must go makes the write fail half-way.
        std::fs::create_dir(temporary_path(&path)).unwrap();
        let error = write_atomic(&path, b"new").unwrap_err();
        assert_eq!(error.path, path);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn stale_temporaries_files_and_folders_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("results.jsonl");
        std::fs::write(&keep, b"x").unwrap();
        std::fs::write(temporary_path(&keep), b"half").unwrap();
        std::fs::create_dir_all(dir.path().join(".checkpoint.tmp-99-0/inner")).unwrap();
        remove_stale_temporaries(dir.path());
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["results.jsonl"]);
    }
}
