//! Folders written beside their target and swapped in whole: a reader sees the old folder or
//! the complete new one. Two ways in, for two kinds of target:
//! - [`StagedDir::replace`]: the writer owns the target (a run's resume checkpoint); the old
//!   folder becomes `.<name>.old` until the new one is in place, so a crash between the two
//!   renames leaves the old one to resume from ([`current_or_previous`]);
//! - [`StagedDir::promote_unless`]: writers may race (two processes fetching one dataset); the
//!   first complete copy stays.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::atomic::{parent_dir, sync_dir};
use crate::error::{Result, at};

/// A fresh folder beside `target`, removed on drop unless swapped in. Its name marks it as a
/// temporary, so [`remove_stale_temporaries`](crate::remove_stale_temporaries) removes the
/// folder a killed writer left.
pub struct StagedDir {
    path: PathBuf,
    target: PathBuf,
}

impl StagedDir {
    pub fn new(target: &Path) -> Result<Self> {
        // Unique per process and per call: threads of one process may stage the same target.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        let path = target.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(at(&path))?;
        }
        std::fs::create_dir_all(&path).map_err(at(&path))?;
        Ok(Self {
            path,
            target: target.to_path_buf(),
        })
    }

    /// The folder to fill.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Empties the folder for another attempt.
    pub fn reset(&self) -> Result<()> {
        std::fs::remove_dir_all(&self.path).map_err(at(&self.path))?;
        std::fs::create_dir_all(&self.path).map_err(at(&self.path))
    }

    /// Writes and fsyncs one file of the folder (no temporary needed: the folder is one).
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path.join(name);
        let mut file = std::fs::File::create(&path).map_err(at(&path))?;
        file.write_all(bytes).map_err(at(&path))?;
        file.sync_all().map_err(at(&path))
    }

    /// Swaps the folder in for its target, whose old content is dropped once the new one is in
    /// place.
    pub fn replace(self) -> Result<()> {
        let previous = previous_path(&self.target);
        let _ = std::fs::remove_dir_all(&previous);
        if self.target.exists() {
            std::fs::rename(&self.target, &previous).map_err(at(&self.target))?;
        }
        self.swap_in()?;
        let _ = std::fs::remove_dir_all(&previous);
        Ok(())
    }

    /// Makes the folder its target, unless the target exists and `keep_existing` says it is a
    /// complete copy (someone finished first); an incomplete target is replaced.
    pub fn promote_unless(self, keep_existing: impl Fn(&Path) -> bool) -> Result<()> {
        if self.target.exists() {
            if keep_existing(&self.target) {
                return Ok(());
            }
            std::fs::remove_dir_all(&self.target).map_err(at(&self.target))?;
        }
        self.swap_in()
    }

    fn swap_in(&self) -> Result<()> {
        sync_dir(&self.path).map_err(at(&self.path))?;
        std::fs::rename(&self.path, &self.target).map_err(at(&self.target))?;
        let parent = parent_dir(&self.target);
        sync_dir(parent).map_err(at(parent))
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        // After a swap the path no longer exists and this is a no-op.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Where [`StagedDir::replace`] keeps the old folder while it swaps.
fn previous_path(target: &Path) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(".{name}.old"))
}

/// The folder [`StagedDir::replace`] last swapped in for `target`: the target, or the previous
/// folder when a crash came between the two renames. `None` when there is neither.
pub fn current_or_previous(target: &Path) -> Option<PathBuf> {
    [target.to_path_buf(), previous_path(target)]
        .into_iter()
        .find(|dir| dir.is_dir())
}

/// Removes `target` and the previous folder [`StagedDir::replace`] may have left beside it.
pub fn remove_replaced(target: &Path) {
    let _ = std::fs::remove_dir_all(target);
    let _ = std::fs::remove_dir_all(previous_path(target));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn replace_swaps_whole_folders() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("checkpoint");
        for content in ["one", "two"] {
            let staged = StagedDir::new(&target).unwrap();
            staged.write_file("state.json", content.as_bytes()).unwrap();
            staged.replace().unwrap();
        }
        assert_eq!(read(&target, "state.json"), "two");
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(
            names.len(),
            1,
            "neither the staged nor the old folder is left"
        );
    }

    #[test]
    fn a_crash_between_the_renames_leaves_the_previous_folder() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("checkpoint");
        std::fs::create_dir_all(previous_path(&target)).unwrap();
        assert_eq!(current_or_previous(&target), Some(previous_path(&target)));
        std::fs::create_dir_all(&target).unwrap();
        assert_eq!(current_or_previous(&target), Some(target.clone()));
        assert_eq!(current_or_previous(&root.path().join("none")), None);
    }

    #[test]
    fn promote_keeps_a_complete_target_and_replaces_an_incomplete_one() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("dataset");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("file"), "first").unwrap();
        let staged = StagedDir::new(&target).unwrap();
        staged.write_file("file", b"second").unwrap();
        staged.promote_unless(|_| true).unwrap();
        assert_eq!(read(&target, "file"), "first");
        let staged = StagedDir::new(&target).unwrap();
        staged.write_file("file", b"third").unwrap();
        staged.promote_unless(|_| false).unwrap();
        assert_eq!(read(&target, "file"), "third");
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "dropped staging folders are removed");
    }
}
