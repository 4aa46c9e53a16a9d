//! CIFAR-10 / CIFAR-100 binary batches: fixed-size records of label byte(s) then 3×32×32 pixels
//! (channel-major, as plateau stores images).

use std::path::Path;

use crate::error::{DataError, Result};

pub const IMAGE_BYTES: usize = 3 * 32 * 32;

/// Which label of a record to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CifarLabels {
    /// CIFAR-10: one label byte per record.
    Ten,
    /// CIFAR-100 fine labels (100 classes); records carry `coarse, fine`.
    HundredFine,
    /// CIFAR-100 coarse labels (20 superclasses).
    HundredCoarse,
}

impl CifarLabels {
    fn label_bytes(self) -> usize {
        match self {
            CifarLabels::Ten => 1,
            _ => 2,
        }
    }

    fn record_len(self) -> usize {
        self.label_bytes() + IMAGE_BYTES
    }
}

/// Parses one batch file's bytes into `(pixels [N, 3, 32, 32], labels)`.
pub fn parse_batch(path: &Path, bytes: &[u8], labels: CifarLabels) -> Result<(Vec<u8>, Vec<u16>)> {
    let record = labels.record_len();
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(DataError::format(
            path,
            format!(
                "a CIFAR batch is a whole number of {record}-byte records ({} label byte(s) + {IMAGE_BYTES} pixels); this file has {} bytes{}",
                labels.label_bytes(),
                bytes.len(),
                if labels == CifarLabels::Ten {
                    " (a CIFAR-100 file? its records are 3074 bytes)"
                } else {
                    ""
                }
            ),
        ));
    }
    let mut pixels = Vec::with_capacity(bytes.len() / record * IMAGE_BYTES);
    let mut out_labels = Vec::with_capacity(bytes.len() / record);
    for chunk in bytes.chunks_exact(record) {
        let label = match labels {
            CifarLabels::Ten | CifarLabels::HundredCoarse => chunk[0],
            CifarLabels::HundredFine => chunk[1],
        };
        out_labels.push(u16::from(label));
        pixels.extend_from_slice(&chunk[labels.label_bytes()..]);
    }
    Ok((pixels, out_labels))
}

/// Reads and concatenates batch files.
pub fn read_batches(
    paths: &[impl AsRef<Path>],
    labels: CifarLabels,
) -> Result<(Vec<u8>, Vec<u16>)> {
    let mut pixels = Vec::new();
    let mut all_labels = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let (p, l) = parse_batch(path, &bytes, labels)?;
        pixels.extend(p);
        all_labels.extend(l);
    }
    Ok((pixels, all_labels))
}

/// Class names, one per non-empty line (`batches.meta.txt`, `fine_label_names.txt`).
pub fn read_names(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_records_into_labels_and_pixels() {
        let mut bytes = vec![7];
        bytes.extend(vec![1; IMAGE_BYTES]);
        bytes.push(3);
        bytes.extend(vec![2; IMAGE_BYTES]);
        let (pixels, labels) = parse_batch(Path::new("b"), &bytes, CifarLabels::Ten).unwrap();
        assert_eq!(labels, vec![7, 3]);
        assert_eq!(pixels.len(), 2 * IMAGE_BYTES);
        assert_eq!(pixels[IMAGE_BYTES], 2);

        let mut hundred = vec![4, 42];
        hundred.extend(vec![0; IMAGE_BYTES]);
        let fine = parse_batch(Path::new("b"), &hundred, CifarLabels::HundredFine)
            .unwrap()
            .1;
        let coarse = parse_batch(Path::new("b"), &hundred, CifarLabels::HundredCoarse)
            .unwrap()
            .1;
        assert_eq!((fine, coarse), (vec![42], vec![4]));
    }

    #[test]
    fn wrong_length_names_the_file_and_record_size() {
        let error =
            parse_batch(Path::new("data_batch_1.bin"), &[0; 3074], CifarLabels::Ten).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("data_batch_1.bin") && message.contains("3073-byte"),
            "{message}"
        );
    }
}
