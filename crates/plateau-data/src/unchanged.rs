//! Before a dataset is read, each of its files that has a known checksum (pinned by the
//! registry, or recorded when it was fetched) must still have it: a file changed under its
//! checksum (a partial copy, a hand edit, a package upgrade) stops the load with the file named,
//! instead of training silently on other data.
//!
//! Hashing reads the whole file, so a file that passed is remembered by its size and
//! modification time in the user cache (`.checked/<dataset>`), and hashed again only once
//! either changes. The memory is best effort: a read-only cache costs a hash, never a load.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::cache::{content_sha256, find_file};
use crate::error::{DataError, Result};
use crate::fetch::{expected_sha256, read_manifest};
use crate::registry::DatasetSpec;

/// The folder in the user cache that remembers which files passed.
const CHECKED: &str = ".checked";

/// Checks every file of `spec` in `dir` that has a known checksum.
pub fn check_unchanged(spec: &DatasetSpec, dir: &Path, cache: &Path) -> Result<()> {
    let memory = cache.join(CHECKED).join(spec.name);
    let remembered = std::fs::read_to_string(&memory).unwrap_or_default();
    let manifest = read_manifest(dir);
    let mut passed = String::new();
    for file in spec.files {
        let (Some(path), Some(expected)) =
            (find_file(dir, file.name), expected_sha256(file, &manifest))
        else {
            continue;
        };
        let Some(stamp) = stamp(&path, &expected) else {
            continue;
        };
        if !remembered.lines().any(|line| line == stamp) {
            let actual = content_sha256(&path)?;
            if actual != expected {
                return Err(DataError::Checksum {
                    dataset: spec.name.to_string(),
                    path,
                    expected,
                    actual,
                });
            }
        }
        passed.push_str(&stamp);
        passed.push('\n');
    }
    if passed != remembered {
        let _ = plateau_store::write_atomic(&memory, passed.as_bytes());
    }
    Ok(())
}

/// One line of the memory: the file as it was when it had checksum `sha256`.
fn stamp(path: &Path, sha256: &str) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    let path: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Some(format!(
        "{sha256} {} {} {}",
        meta.len(),
        modified.as_nanos(),
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::MANIFEST;
    use crate::registry::FileSpec;

    fn spec(files: &'static [FileSpec]) -> DatasetSpec {
        DatasetSpec {
            name: "tiny",
            description: "",
            files,
            sources: &[],
            system_dirs: &[],
            offline: true,
            load: |_| unreachable!("not loaded"),
        }
    }

    const FILES: &[FileSpec] = &[FileSpec {
        name: "images",
        sha256: None,
    }];

    /// A folder holding `images` with its manifest, as a fetch leaves it.
    fn fetched(dir: &Path, content: &[u8]) {
        std::fs::write(dir.join("images"), content).unwrap();
        let sum = crate::cache::sha256_hex(content);
        std::fs::write(dir.join(MANIFEST), format!("{sum}  images\n")).unwrap();
    }

    #[test]
    fn a_file_changed_under_its_checksum_is_named_and_an_unchanged_one_passes() {
        let data = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        fetched(data.path(), b"the images");
        let spec = spec(FILES);
        check_unchanged(&spec, data.path(), cache.path()).unwrap();
        // Passed once: remembered, and still passes.
        assert!(cache.path().join(CHECKED).join("tiny").is_file());
        check_unchanged(&spec, data.path(), cache.path()).unwrap();

        // Same length, other bytes, a later time (set, not waited for: file systems keep
        // times at different grains): the stamp no longer matches, and the hash catches it.
        let images = data.path().join("images");
        let before = std::fs::metadata(&images).unwrap().modified().unwrap();
        std::fs::write(&images, b"the imagez").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&images)
            .unwrap()
            .set_modified(before + std::time::Duration::from_secs(2))
            .unwrap();
        let error = check_unchanged(&spec, data.path(), cache.path())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("images")
                && error.contains("checksum mismatch")
                && error.contains("plateau datasets fetch tiny"),
            "{error}"
        );
        // The file itself is left as it was.
        assert_eq!(
            std::fs::read(data.path().join("images")).unwrap(),
            b"the imagez"
        );
    }

    #[test]
    fn files_without_a_known_checksum_and_read_only_caches_do_not_stop_a_load() {
        let data = tempfile::tempdir().unwrap();
        std::fs::write(data.path().join("images"), b"put here by hand").unwrap();
        let cache = data.path().join("not-a-folder");
        std::fs::write(&cache, b"").unwrap();
        check_unchanged(&spec(FILES), data.path(), &cache).unwrap();
        fetched(data.path(), b"fetched");
        check_unchanged(&spec(FILES), data.path(), &cache).unwrap();
    }
}
