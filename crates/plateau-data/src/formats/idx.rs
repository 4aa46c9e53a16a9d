//! IDX files (MNIST, Fashion-MNIST, KMNIST): a 4-byte magic `00 00 <type> <ndims>`, big-endian
//! `u32` dimensions, then the data. Only unsigned bytes (type `0x08`) occur in these datasets.

use std::path::Path;

use crate::error::{DataError, Result};

/// A decoded IDX array of bytes.
#[derive(Debug, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Parses IDX bytes; `path` only names the source in errors. The data stays in `bytes` (the
/// header is cut off in place), so every run process does not fault in a second buffer of
/// Fashion-MNIST's 47 MB.
pub fn parse(path: &Path, mut bytes: Vec<u8>) -> Result<IdxArray> {
    let fail = |message: String| DataError::format(path, message);
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(fail(format!(
            "not an IDX file: expected magic 00 00 08 0N, found {:02x?}",
            &bytes[..bytes.len().min(4)]
        )));
    }
    if bytes[2] != 0x08 {
        return Err(fail(format!(
            "IDX element type 0x{:02x} is not supported (expected 0x08, unsigned bytes)",
            bytes[2]
        )));
    }
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if ndims == 0 || bytes.len() < header {
        return Err(fail(format!(
            "truncated IDX header: {ndims} dimensions need {header} bytes, file has {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| fail(format!("IDX dimensions {dims:?} overflow")))?;
    let found = bytes.len() - header;
    if found != expected {
        return Err(fail(format!(
            "IDX dimensions {dims:?} need {expected} data bytes after the {header}-byte header, found {found}{}",
            if found < expected {
                " (truncated file?)"
            } else {
                ""
            }
        )));
    }
    bytes.drain(..header);
    Ok(IdxArray { dims, data: bytes })
}

/// Reads an images file (3 dims: count, rows, cols) and a labels file (1 dim) that belong together.
pub fn read_pair(
    images_path: &Path,
    labels_path: &Path,
) -> Result<(Vec<u8>, Vec<u16>, usize, usize)> {
    let images = parse(images_path, super::read_maybe_gz(images_path)?)?;
    let labels = parse(labels_path, super::read_maybe_gz(labels_path)?)?;
    let [count, rows, cols] = images.dims[..] else {
        return Err(DataError::format(
            images_path,
            format!(
                "expected 3 dimensions (count, rows, cols), found {:?}",
                images.dims
            ),
        ));
    };
    if labels.dims != [count] {
        return Err(DataError::format(
            labels_path,
            format!(
                "expected {count} labels to match {}, found dimensions {:?}",
                images_path.display(),
                labels.dims
            ),
        ));
    }
    let labels = labels.data.into_iter().map(u16::from).collect();
    Ok((images.data, labels, rows, cols))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn parses_dims_and_data() {
        let array = parse(Path::new("x"), idx(&[2, 1, 2], &[1, 2, 3, 4])).unwrap();
        assert_eq!(array.dims, vec![2, 1, 2]);
        assert_eq!(array.data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn rejects_wrong_magic_type_and_truncation() {
        let path = Path::new("train-images-idx3-ubyte");
        let message = |bytes: &[u8]| parse(path, bytes.to_vec()).unwrap_err().to_string();
        assert!(message(b"PK\x03\x04rest").contains("not an IDX file"));
        assert!(message(&[0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]).contains("0x0d"));
        let truncated = message(&idx(&[2, 2, 2], &[0; 5]));
        assert!(
            truncated.contains("need 8 data bytes") && truncated.contains("truncated"),
            "{truncated}"
        );
        assert!(
            truncated.starts_with("train-images-idx3-ubyte"),
            "{truncated}"
        );
        assert!(message(&[0, 0, 8, 3, 0, 0]).contains("truncated IDX header"));
    }
}
