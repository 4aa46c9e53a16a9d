//! IDX files (MNIST, Fashion-MNIST, KMNIST): a 4-byte magic `00 00 <type> <ndims>`, big-endian
//! `u32` dimensions, then the data. Only unsigned bytes (type `0x08`) occur in these datasets.

use std::io::Read;
use std::path::Path;

use crate::error::{DataError, Result};

/// A decoded IDX array of bytes.
#[derive(Debug, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Parses an IDX stream; `path` only names the source in errors. The header is read on its
/// own and the data straight into a buffer of its exact size, so Fashion-MNIST's 47 MB are
/// neither copied nor shifted after the read (every run process loads them).
pub fn parse(path: &Path, mut reader: impl Read) -> Result<IdxArray> {
    let fail = |message: String| DataError::format(path, message);
    let read_error = |e| super::read_error(path, e);
    // Up to `n` bytes: fewer only where the stream ends.
    let mut read_up_to = |n: usize| -> Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(n);
        (&mut reader)
            .take(n as u64)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        Ok(bytes)
    };
    let magic = read_up_to(4)?;
    if magic.len() < 4 || magic[0] != 0 || magic[1] != 0 {
        return Err(fail(format!(
            "not an IDX file: expected magic 00 00 08 0N, found {magic:02x?}"
        )));
    }
    if magic[2] != 0x08 {
        return Err(fail(format!(
            "IDX element type 0x{:02x} is not supported (expected 0x08, unsigned bytes)",
            magic[2]
        )));
    }
    let ndims = magic[3] as usize;
    let header = 4 + 4 * ndims;
    let dim_bytes = read_up_to(4 * ndims)?;
    if ndims == 0 || dim_bytes.len() < 4 * ndims {
        return Err(fail(format!(
            "truncated IDX header: {ndims} dimensions need {header} bytes, file has {}",
            4 + dim_bytes.len()
        )));
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| fail(format!("IDX dimensions {dims:?} overflow")))?;
    // Reserve no more than the file can hold (a corrupt header may claim terabytes).
    let mut data = Vec::with_capacity(expected.min(1 << 30));
    (&mut reader)
        .take(expected as u64)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    let extra = std::io::copy(&mut reader, &mut std::io::sink()).map_err(read_error)?;
    let found = data.len() + extra as usize;
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
    Ok(IdxArray { dims, data })
}

/// Reads an images file (3 dims: count, rows, cols) and a labels file (1 dim) that belong together.
pub fn read_pair(
    images_path: &Path,
    labels_path: &Path,
) -> Result<(Vec<u8>, Vec<u16>, usize, usize)> {
    let images = parse(images_path, super::open_maybe_gz(images_path)?)?;
    let labels = parse(labels_path, super::open_maybe_gz(labels_path)?)?;
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
        let array = parse(Path::new("x"), &idx(&[2, 1, 2], &[1, 2, 3, 4])[..]).unwrap();
        assert_eq!(array.dims, vec![2, 1, 2]);
        assert_eq!(array.data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn rejects_wrong_magic_type_and_truncation() {
        let path = Path::new("train-images-idx3-ubyte");
        let message = |bytes: &[u8]| parse(path, bytes).unwrap_err().to_string();
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
        let long = message(&idx(&[2, 2, 2], &[0; 10]));
        assert!(
            long.contains("need 8 data bytes") && long.contains("found 10"),
            "{long}"
        );
    }

    #[test]
    fn reads_gzipped_files_and_names_a_corrupt_stream() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t10k-labels-idx1-ubyte.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&idx(&[3], &[7, 8, 9])).unwrap();
        let mut bytes = gz.finish().unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let array = parse(&path, super::super::open_maybe_gz(&path).unwrap()).unwrap();
        assert_eq!((array.dims, array.data), (vec![3], vec![7, 8, 9]));

        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        bytes.truncate(bytes.len() - 4); // no trailer: the stream cannot be complete
        std::fs::write(&path, &bytes).unwrap();
        let error = parse(&path, super::super::open_maybe_gz(&path).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("t10k-labels-idx1-ubyte.gz") && error.contains("gzip"),
            "{error}"
        );
    }
}
