//! Append-only JSON lines (`results.jsonl`, `metrics.jsonl`). Each record is appended in one
//! write and fsynced, so a kill can tear only the last line; readers skip a torn line and
//! [`Jsonl::repair`] cuts it off before the next append.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::atomic::write_atomic;
use crate::error::{Result, at};

/// One JSON-lines file.
#[derive(Clone, Debug)]
pub struct Jsonl {
    path: PathBuf,
}

impl Jsonl {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every complete line that parses as `T`, in file order; a missing file has none. A torn
    /// last line and lines that do not parse are skipped.
    pub fn read<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        Ok(complete_lines(&self.read_text()?)
            .filter_map(|line| serde_json::from_str(line.trim_end()).ok())
            .collect())
    }

    /// Every complete line, in file order: its text and, when it parses, its record (a line
    /// damaged in the middle of the file, or written by another version, has none). A torn last
    /// line is left out.
    pub fn read_lines<T: DeserializeOwned>(&self) -> Result<Vec<Line<T>>> {
        Ok(complete_lines(&self.read_text()?)
            .enumerate()
            .map(|(index, line)| {
                let text = line.trim_end().to_string();
                Line {
                    number: index + 1,
                    record: serde_json::from_str(&text).ok(),
                    text,
                }
            })
            .collect())
    }

    /// Replaces the whole file with `lines` (each without its newline), atomically. Lines are
    /// written as given, so records read earlier keep their exact bytes (parsing and printing a
    /// float again need not give the same digits).
    pub fn rewrite(&self, lines: &[&str]) -> Result<()> {
        let mut text = String::new();
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        write_atomic(&self.path, text.as_bytes())
    }

    /// Cuts a torn last line (an append killed half-way) off the file, so every line ends
    /// again. Call it only while no other process appends.
    pub fn repair(&self) -> Result<()> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(at(&self.path)(error)),
        };
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(at(&self.path))?;
            file.set_len(complete as u64).map_err(at(&self.path))?;
            file.sync_all().map_err(at(&self.path))?;
        }
        Ok(())
    }

    /// Appends `record` as one line in a single write, then fsyncs. A torn last line left by an
    /// earlier kill is ended first, so it cannot swallow the new record.
    pub fn append<T: Serialize + ?Sized>(&self, record: &T) -> Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(at(dir))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&self.path)
            .map_err(at(&self.path))?;
        let mut line = match ends_torn(&mut file).map_err(at(&self.path))? {
            true => "\n".to_string(),
            false => String::new(),
        };
        line.push_str(&serde_json::to_string(record).expect("records serialise"));
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(at(&self.path))?;
        file.sync_all().map_err(at(&self.path))
    }

    /// Keeps the complete lines that parse and that `keep` accepts, dropping the rest (a torn
    /// line included); the file is replaced atomically, and only when something is dropped.
    pub fn retain(&self, keep: impl Fn(&serde_json::Value) -> bool) -> Result<()> {
        let text = self.read_text()?;
        let kept: String = complete_lines(&text)
            .filter(|line| serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| keep(&v)))
            .collect();
        if kept != text {
            write_atomic(&self.path, kept.as_bytes())?;
        }
        Ok(())
    }

    fn read_text(&self) -> Result<String> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(error) => Err(at(&self.path)(error)),
        }
    }
}

/// One complete line of a JSON-lines file.
#[derive(Clone, Debug, PartialEq)]
pub struct Line<T> {
    /// 1-based.
    pub number: usize,
    /// Without its newline.
    pub text: String,
    /// `None` when the text does not parse.
    pub record: Option<T>,
}

/// The lines of `text` that end with a newline (newline included).
fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
}

/// Whether a non-empty file's last byte is not a newline (reads one byte, not the file).
fn ends_torn(file: &mut std::fs::File) -> std::io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn file() -> (tempfile::TempDir, Jsonl) {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = Jsonl::new(dir.path().join("x.jsonl"));
        (dir, jsonl)
    }

    #[test]
    fn damaged_lines_are_reported_with_their_number_and_rewrite_replaces_the_file() {
        let (_dir, jsonl) = file();
        std::fs::write(jsonl.path(), "{\"a\": 1}\nnot json\n{\"a\": 3}\n{\"torn").unwrap();
        let lines = jsonl.read_lines::<Value>().unwrap();
        assert_eq!(lines.len(), 3, "the torn last line is left out");
        assert_eq!((lines[1].number, lines[1].text.as_str()), (2, "not json"));
        assert_eq!(lines[1].record, None);
        assert_eq!(lines[2].record, Some(json!({"a": 3})));
        jsonl.rewrite(&[&lines[0].text, &lines[2].text]).unwrap();
        assert_eq!(
            std::fs::read_to_string(jsonl.path()).unwrap(),
            "{\"a\": 1}\n{\"a\": 3}\n"
        );
    }

    #[test]
    fn appends_and_reads_in_order_and_a_missing_file_is_empty() {
        let (_dir, jsonl) = file();
        assert!(jsonl.read::<Value>().unwrap().is_empty());
        jsonl.append(&json!({"a": 1})).unwrap();
        jsonl.append(&json!({"a": 2})).unwrap();
        assert_eq!(
            jsonl.read::<Value>().unwrap(),
            [json!({"a": 1}), json!({"a": 2})]
        );
    }

    #[test]
    fn a_torn_last_line_is_skipped_repaired_and_never_swallows_an_append() {
        let (_dir, jsonl) = file();
        jsonl.append(&json!({"a": 1})).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(jsonl.path())
            .unwrap();
        f.write_all(b"{\"a\": 2, \"b").unwrap();
        assert_eq!(jsonl.read::<Value>().unwrap(), [json!({"a": 1})]);
        // Appending without a repair first ends the torn line: the new record stays whole.
        jsonl.append(&json!({"a": 3})).unwrap();
        assert_eq!(
            jsonl.read::<Value>().unwrap(),
            [json!({"a": 1}), json!({"a": 3})]
        );
        f.write_all(b"{\"torn").unwrap();
        jsonl.repair().unwrap();
        let text = std::fs::read_to_string(jsonl.path()).unwrap();
        assert!(text.ends_with("{\"a\":3}\n"), "{text:?}");
    }

    #[cfg(unix)]
    #[test]
    fn retain_drops_rejected_and_torn_lines_and_keeps_the_file_when_nothing_is_dropped() {
        let (_dir, jsonl) = file();
        for epoch in 1..=3 {
            jsonl.append(&json!({"epoch": epoch})).unwrap();
        }
        // A rewrite renames a new file into place: another inode.
        let inode =
            || std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(jsonl.path()).unwrap());
        let before = inode();
        jsonl.retain(|_| true).unwrap();
        assert_eq!(before, inode(), "nothing dropped, nothing rewritten");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(jsonl.path())
            .unwrap();
        f.write_all(b"{\"epoch\": 4").unwrap();
        jsonl
            .retain(|v| v["epoch"].as_u64().is_some_and(|e| e <= 2))
            .unwrap();
        assert_eq!(
            jsonl.read::<Value>().unwrap(),
            [json!({"epoch": 1}), json!({"epoch": 2})]
        );
        assert!(
            std::fs::read_to_string(jsonl.path())
                .unwrap()
                .ends_with('\n')
        );
    }
}
