//! A numpy array saved with `pickle` (protocol ≥ 2), as the `animal-mnist` package ships it.
//! We do not run a pickle VM: we read the dtype name from the header and the raw array bytes from
//! the one `BINBYTES` opcode that holds them, which ends just before the closing opcodes.

use std::path::Path;

use crate::error::{DataError, Result};

/// Element types found in the datasets we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    U8,
    I64,
}

impl Dtype {
    fn marker(self) -> &'static [u8] {
        // SHORT_BINUNICODE of length 2 holding numpy's dtype code.
        match self {
            Dtype::U8 => b"\x8c\x02u1",
            Dtype::I64 => b"\x8c\x02i8",
        }
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::I64 => 8,
        }
    }
}

/// At most this many bytes of closing opcodes may follow the array data.
const MAX_TRAILER: usize = 16;

/// The raw array bytes of a pickled ndarray of `dtype`.
pub fn array_bytes<'a>(path: &Path, bytes: &'a [u8], dtype: Dtype) -> Result<&'a [u8]> {
    let fail = |message: &str| DataError::format(path, message.to_string());
    if bytes.first() != Some(&0x80) || bytes.last() != Some(&b'.') {
        return Err(fail(
            "not a pickle (expected a PROTO opcode first and STOP last)",
        ));
    }
    let header_end = bytes.len().min(512);
    if !bytes[..header_end]
        .windows(dtype.marker().len())
        .any(|w| w == dtype.marker())
    {
        return Err(DataError::format(
            path,
            format!("the pickled array is not of dtype {dtype:?}"),
        ));
    }
    for start in 0..header_end {
        let (len_bytes, len) = match bytes[start] {
            b'C' if start + 2 <= bytes.len() => (1, bytes[start + 1] as usize),
            b'B' if start + 5 <= bytes.len() => (
                4,
                u32::from_le_bytes(bytes[start + 1..start + 5].try_into().unwrap()) as usize,
            ),
            0x8e if start + 9 <= bytes.len() => (
                8,
                u64::from_le_bytes(bytes[start + 1..start + 9].try_into().unwrap()) as usize,
            ),
            _ => continue,
        };
        let data_start = start + 1 + len_bytes;
        let Some(data_end) = data_start.checked_add(len) else {
            continue;
        };
        if data_end < bytes.len()
            && bytes.len() - data_end <= MAX_TRAILER
            && len % dtype.size() == 0
        {
            return Ok(&bytes[data_start..data_end]);
        }
    }
    Err(fail(
        "no array data found: truncated file, or not a pickled numpy array",
    ))
}

/// The values of a pickled `int64` array.
pub fn i64_values(path: &Path, bytes: &[u8]) -> Result<Vec<i64>> {
    let data = array_bytes(path, bytes, Dtype::I64)?;
    Ok(data
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of the `animal-mnist` files: a header, BINBYTES, the data, closing opcodes.
    fn pickle(dtype: &[u8], data: &[u8]) -> Vec<u8> {
        let mut bytes = b"\x80\x04\x95numpy.core.multiarray\x94".to_vec();
        bytes.extend_from_slice(dtype);
        bytes.extend_from_slice(b"\x94\x89B");
        bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(b"\x94t\x94b.");
        bytes
    }

    #[test]
    fn finds_u8_and_i64_arrays() {
        let images = pickle(b"\x8c\x02u1", &[1, 2, 3, 4]);
        assert_eq!(
            array_bytes(Path::new("p"), &images, Dtype::U8).unwrap(),
            &[1, 2, 3, 4]
        );
        let labels: Vec<u8> = [5i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            i64_values(Path::new("p"), &pickle(b"\x8c\x02i8", &labels)).unwrap(),
            vec![5, -1]
        );
    }

    #[test]
    fn rejects_truncation_and_wrong_dtype() {
        let images = pickle(b"\x8c\x02u1", &[7; 300]);
        let truncated = &images[..images.len() - 40];
        assert!(array_bytes(Path::new("animal.gz"), truncated, Dtype::U8).is_err());
        let message = array_bytes(Path::new("animal.gz"), &images, Dtype::I64)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("animal.gz") && message.contains("I64"),
            "{message}"
        );
    }
}
