//! NumPy's `.npy` arrays (and so `.npz`, a zip of them): a magic `\x93NUMPY`, a version, a
//! Python-literal header (`{'descr': '<f4', 'fortran_order': False, 'shape': (10, 28, 28), }`),
//! then the data in C order. Written here rather than taken from a crate: plateau needs one
//! header and a handful of little-endian dtypes, and the zip reader is already a dependency.

use std::path::Path;

use crate::error::{DataError, Result};

/// An array's element type, as far as images and labels need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
    /// Fixed-width UTF-32 strings of this many characters (`<U12`: class names).
    Unicode(usize),
}

impl Dtype {
    fn parse(descr: &str) -> Option<Self> {
        let (order, kind) = descr.split_at(1.min(descr.len()));
        if !matches!(order, "<" | "|" | "=") {
            return None; // big-endian arrays are not written by any common tool on x86 or ARM
        }
        Some(match kind {
            "u1" => Dtype::U8,
            "i1" => Dtype::I8,
            "u2" => Dtype::U16,
            "i2" => Dtype::I16,
            "u4" => Dtype::U32,
            "i4" => Dtype::I32,
            "u8" => Dtype::U64,
            "i8" => Dtype::I64,
            "f4" => Dtype::F32,
            "f8" => Dtype::F64,
            _ => Dtype::Unicode(kind.strip_prefix('U')?.parse().ok()?),
        })
    }

    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F64)
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
            Dtype::Unicode(chars) => 4 * chars,
        }
    }
}

/// A parsed array: its type, shape and raw little-endian data.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl Array {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every element as `f64` (numbers only).
    pub fn numbers(&self) -> Option<Vec<f64>> {
        let d = &self.data;
        let chunks = |n: usize| d.chunks_exact(n);
        Some(match self.dtype {
            Dtype::U8 => d.iter().map(|&v| f64::from(v)).collect(),
            Dtype::I8 => d.iter().map(|&v| f64::from(v as i8)).collect(),
            Dtype::U16 => chunks(2)
                .map(|c| f64::from(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Dtype::I16 => chunks(2)
                .map(|c| f64::from(i16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Dtype::U32 => chunks(4)
                .map(|c| f64::from(u32::from_le_bytes(c.try_into().unwrap())))
                .collect(),
            Dtype::I32 => chunks(4)
                .map(|c| f64::from(i32::from_le_bytes(c.try_into().unwrap())))
                .collect(),
            Dtype::U64 => chunks(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            Dtype::I64 => chunks(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            Dtype::F32 => chunks(4)
                .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())))
                .collect(),
            Dtype::F64 => chunks(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            Dtype::Unicode(_) => return None,
        })
    }

    /// Every element as a string (`<U…` arrays only), trailing NULs dropped.
    pub fn strings(&self) -> Option<Vec<String>> {
        let Dtype::Unicode(chars) = self.dtype else {
            return None;
        };
        Some(
            self.data
                .chunks_exact(4 * chars.max(1))
                .map(|item| {
                    item.chunks_exact(4)
                        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                        .take_while(|&c| c != 0)
                        .filter_map(char::from_u32)
                        .collect()
                })
                .collect(),
        )
    }
}

/// Parses a whole `.npy` file; `path` names it in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Array> {
    let fail = |message: String| DataError::format(path, message);
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or_else(|| fail("not a .npy array (no \\x93NUMPY magic)".into()))?;
    let (header_len, start) = match rest.first() {
        Some(1) if rest.len() >= 4 => (usize::from(u16::from_le_bytes([rest[2], rest[3]])), 4),
        Some(2 | 3) if rest.len() >= 6 => (
            u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize,
            6,
        ),
        _ => return Err(fail("unknown .npy version or truncated header".into())),
    };
    let header = rest
        .get(start..start + header_len)
        .ok_or_else(|| fail("truncated .npy header".into()))?;
    let header = std::str::from_utf8(header).map_err(|_| fail("header is not text".into()))?;
    let field = |name: &str| -> Option<&str> {
        let at = header.find(&format!("'{name}'"))? + name.len() + 2;
        Some(header[at..].trim_start().strip_prefix(':')?.trim_start())
    };
    let descr = field("descr")
        .and_then(|v| v.strip_prefix('\'')?.split('\'').next())
        .ok_or_else(|| fail(format!("no 'descr' in header {header:?}")))?;
    let dtype = Dtype::parse(descr).ok_or_else(|| {
        fail(format!(
            "dtype {descr:?} is not read; save images as uint8 or float32 and labels as integers"
        ))
    })?;
    if field("fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(fail(
            "Fortran-ordered array; save it with numpy's default C order".into(),
        ));
    }
    let shape_text = field("shape")
        .and_then(|v| v.strip_prefix('(')?.split(')').next())
        .ok_or_else(|| fail(format!("no 'shape' in header {header:?}")))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| fail(format!("unreadable shape ({shape_text})")))?;
    let data = &rest[start + header_len..];
    let expected = shape
        .iter()
        .try_fold(dtype.size(), |n, &d| n.checked_mul(d))
        .ok_or_else(|| fail(format!("shape {shape:?} is too large")))?;
    if data.len() != expected {
        return Err(fail(format!(
            "{} data bytes for shape {shape:?} of {descr} (expected {expected}); the file is cut \
             short or damaged",
            data.len()
        )));
    }
    Ok(Array {
        dtype,
        shape,
        data: data.to_vec(),
    })
}

/// A version-1 `.npy` file of `data` (raw little-endian bytes of `descr`, e.g. `|u1`, `<i8`),
/// as numpy writes one: for tests and for programs that hand plateau arrays.
pub fn encode(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // numpy pads the header so that the data starts on a 64-byte boundary.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// The arrays of an `.npz` file by name (`images.npy` → `images`).
pub fn parse_npz(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Array)>> {
    let fail = |message: String| DataError::format(path, message);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| fail(format!("not an .npz (zip) file: {e}")))?;
    let mut arrays = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| fail(format!("damaged .npz entry {i}: {e}")))?;
        let Some(name) = entry.name().strip_suffix(".npy").map(str::to_string) else {
            continue;
        };
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data)
            .map_err(|e| fail(format!("{name}.npy: {e}")))?;
        let inner = path.join(format!("{name}.npy"));
        arrays.push((name, parse(&inner, &data)?));
    }
    Ok(arrays)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use super::encode as npy;

    #[test]
    fn reads_numbers_and_strings_and_refuses_what_it_cannot_read() {
        let path = Path::new("x.npy");
        let floats: Vec<u8> = [0.0f32, 0.5, 1.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let array = parse(path, &npy("<f4", &[3], &floats)).unwrap();
        assert_eq!(array.shape, [3]);
        assert_eq!(array.numbers().unwrap(), [0.0, 0.5, 1.0]);

        let names: Vec<u8> = ["ant", "bee"]
            .iter()
            .flat_map(|s| {
                let mut chars: Vec<u32> = s.chars().map(u32::from).collect();
                chars.resize(4, 0);
                chars.into_iter().flat_map(u32::to_le_bytes)
            })
            .collect();
        let array = parse(path, &npy("<U4", &[2], &names)).unwrap();
        assert_eq!(array.strings().unwrap(), ["ant", "bee"]);

        let short = parse(path, &npy("|u1", &[2, 3], &[1, 2, 3])).unwrap_err();
        assert!(short.to_string().contains("cut short"), "{short}");
        let complex = parse(path, &npy("<c8", &[1], &[0; 8])).unwrap_err();
        assert!(
            complex.to_string().contains("uint8 or float32"),
            "{complex}"
        );
        assert!(parse(path, b"PK\x03\x04").is_err());
    }
}
