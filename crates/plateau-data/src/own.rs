//! Datasets of the user's own, named by where they lie rather than by a registry name: an image
//! folder (`root/<class>/<image>`), a pair of IDX files, a folder in CIFAR-10's binary layout, or
//! an `.npz` or `.safetensors` file holding `images` (N×H×W or N×C×H×W, `uint8`, or floats in
//! [0, 1]) and `labels` (integers), with class names when it has them. Every error names the
//! file and what to change; nothing is checked against a checksum (there is none to trust).

use std::path::{Path, PathBuf};

use crate::dataset::ImageSet;
use crate::error::{DataError, Result};
use crate::formats::{folder, idx, npy};
use crate::registry::RawDataset;

/// Where a dataset of one's own lies.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnSource {
    Folder(PathBuf),
    Idx { images: PathBuf, labels: PathBuf },
    Cifar(PathBuf),
    Npz(PathBuf),
    Safetensors(PathBuf),
}

impl OwnSource {
    /// The source as a person names it (`folder data/flowers`).
    pub fn describe(&self) -> String {
        match self {
            OwnSource::Folder(p) => format!("folder {}", p.display()),
            OwnSource::Idx { images, .. } => format!("idx {}", images.display()),
            OwnSource::Cifar(p) => format!("cifar {}", p.display()),
            OwnSource::Npz(p) => format!("npz {}", p.display()),
            OwnSource::Safetensors(p) => format!("safetensors {}", p.display()),
        }
    }

    /// Reads the source: its images and, for a CIFAR folder, its own test split.
    pub fn load(&self) -> Result<RawDataset> {
        let only_train = |train| RawDataset { train, test: None };
        match self {
            OwnSource::Folder(root) => {
                exists(root)?;
                folder::read_native(root).map(only_train)
            }
            OwnSource::Idx { images, labels } => {
                exists(images)?;
                exists(labels)?;
                let (pixels, labels, rows, cols) = idx::read_pair(images, labels)?;
                let classes = class_count(&labels, images)?;
                ImageSet::new(pixels, labels, (1, rows, cols), numbered(classes)).map(only_train)
            }
            OwnSource::Cifar(dir) => {
                exists(dir)?;
                crate::spec("cifar10")?.load(dir)
            }
            OwnSource::Npz(path) => {
                let bytes = read(path)?;
                let arrays = npy::parse_npz(path, &bytes)?;
                from_arrays(path, arrays).map(only_train)
            }
            OwnSource::Safetensors(path) => {
                let bytes = read(path)?;
                from_safetensors(path, &bytes).map(only_train)
            }
        }
    }
}

/// Loads `train`, and `test` when given (which replaces a test split the source has).
pub fn load_own(train: &OwnSource, test: Option<&OwnSource>) -> Result<RawDataset> {
    let mut raw = train.load()?;
    if let Some(test) = test {
        let test_set = test.load()?.train;
        if test_set.class_names != raw.train.class_names {
            return Err(DataError::invalid(
                "test",
                format!(
                    "{} has classes {:?}, but {} has {:?}; the test set needs the same classes",
                    test.describe(),
                    test_set.class_names,
                    train.describe(),
                    raw.train.class_names
                ),
            ));
        }
        raw.test = Some(test_set);
    }
    Ok(raw)
}

fn exists(path: &Path) -> Result<()> {
    match path.exists() {
        true => Ok(()),
        false => Err(DataError::format(
            path,
            "no such file or folder (relative paths are relative to the config file)",
        )),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    exists(path)?;
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

/// Class names `0`, `1`, … for labels that come without names.
fn numbered(classes: usize) -> Vec<String> {
    (0..classes).map(|c| c.to_string()).collect()
}

/// The number of classes of unnamed labels, which must run 0..K without a class left empty.
fn class_count(labels: &[u16], path: &Path) -> Result<usize> {
    let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let mut counts = vec![0usize; classes];
    for &label in labels {
        counts[label as usize] += 1;
    }
    match counts.iter().position(|&n| n == 0) {
        Some(empty) => Err(DataError::format(
            path,
            format!(
                "class {empty} has no images, though labels run to {}; number the classes \
                 0..{} without gaps",
                classes - 1,
                classes - 1
            ),
        )),
        None => Ok(classes),
    }
}

/// Images and labels from named arrays (`images`, `labels`, optional `class_names`).
fn from_arrays(path: &Path, arrays: Vec<(String, npy::Array)>) -> Result<ImageSet> {
    let take = |name: &str| arrays.iter().find(|(n, _)| n == name).map(|(_, a)| a);
    let found = || {
        arrays
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing = |name: &str| {
        DataError::format(
            path,
            format!(
                "no `{name}` array (found: {}); save images and labels",
                found()
            ),
        )
    };
    let images = take("images").ok_or_else(|| missing("images"))?;
    let labels = take("labels").ok_or_else(|| missing("labels"))?;
    let names = take("class_names").and_then(|a| a.strings());
    let pixels = images
        .numbers()
        .ok_or_else(|| DataError::format(path, "`images` must hold numbers"))?;
    let labels = labels
        .numbers()
        .ok_or_else(|| DataError::format(path, "`labels` must hold integers"))?;
    assemble(
        path,
        &images.shape,
        images.dtype.is_float(),
        &pixels,
        &labels,
        names,
    )
}

/// Images and labels from a safetensors file; class names from its metadata (`class_names`, a
/// JSON list), as `plateau features` writes them.
fn from_safetensors(path: &Path, bytes: &[u8]) -> Result<ImageSet> {
    use safetensors::{Dtype as St, SafeTensors};
    let fail = |message: String| DataError::format(path, message);
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| fail(format!("not a safetensors file: {e}")))?;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| fail(format!("not a safetensors file: {e}")))?;
    let names: Option<Vec<String>> = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get("class_names"))
        .map(|text| {
            serde_json::from_str(text)
                .map_err(|_| fail("metadata `class_names` must be a JSON list of strings".into()))
        })
        .transpose()?;
    let array = |name: &str| -> Result<npy::Array> {
        let view = tensors.tensor(name).map_err(|_| {
            let found: Vec<String> = tensors.names().into_iter().map(String::from).collect();
            fail(format!(
                "no `{name}` tensor (found: {}); save images and labels",
                found.join(", ")
            ))
        })?;
        let dtype = match view.dtype() {
            St::U8 => npy::Dtype::U8,
            St::I8 => npy::Dtype::I8,
            St::U16 => npy::Dtype::U16,
            St::I16 => npy::Dtype::I16,
            St::U32 => npy::Dtype::U32,
            St::I32 => npy::Dtype::I32,
            St::U64 => npy::Dtype::U64,
            St::I64 => npy::Dtype::I64,
            St::F32 => npy::Dtype::F32,
            St::F64 => npy::Dtype::F64,
            other => {
                return Err(fail(format!(
                    "`{name}` is {other:?}; save images as uint8 or float32 and labels as integers"
                )));
            }
        };
        Ok(npy::Array {
            dtype,
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        })
    };
    let images = array("images")?;
    let labels = array("labels")?;
    assemble(
        path,
        &images.shape,
        images.dtype.is_float(),
        &images.numbers().unwrap_or_default(),
        &labels.numbers().unwrap_or_default(),
        names,
    )
}

/// Checks shapes, ranges and labels, and lays the pixels out as `u8`.
fn assemble(
    path: &Path,
    shape: &[usize],
    float: bool,
    pixels: &[f64],
    labels: &[f64],
    names: Option<Vec<String>>,
) -> Result<ImageSet> {
    let fail = |message: String| DataError::format(path, message);
    let (count, channels, height, width) = match *shape {
        [n, h, w] => (n, 1, h, w),
        [n, c, h, w] if c == 1 || c == 3 => (n, c, h, w),
        _ => {
            return Err(fail(format!(
                "`images` has shape {shape:?}; expected N×H×W or N×C×H×W with C = 1 or 3"
            )));
        }
    };
    if labels.len() != count {
        return Err(fail(format!(
            "{count} images but {} labels; they must pair one to one",
            labels.len()
        )));
    }
    // Bytes as they are; floats must lie in [0, 1].
    let (low, high) = pixels
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let bytes: Vec<u8> = match float {
        true if low >= 0.0 && high <= 1.0 => {
            pixels.iter().map(|v| (v * 255.0).round() as u8).collect()
        }
        false if low >= 0.0 && high <= 255.0 => pixels.iter().map(|&v| v as u8).collect(),
        _ => {
            return Err(fail(format!(
                "`images` values run from {low} to {high}; give uint8 (0–255) or floats in [0, 1]"
            )));
        }
    };
    let mut out = Vec::with_capacity(labels.len());
    for (i, &label) in labels.iter().enumerate() {
        let limit = names.as_ref().map_or(u16::MAX as usize, Vec::len);
        if label < 0.0 || label.fract() != 0.0 || label as usize >= limit {
            return Err(fail(format!(
                "label {label} of image {i} is out of range{}",
                match &names {
                    Some(n) => format!(
                        ": {} class names, so labels run 0..{}",
                        n.len(),
                        n.len() - 1
                    ),
                    None => ": labels are class numbers 0, 1, 2, …".to_string(),
                }
            )));
        }
        out.push(label as u16);
    }
    let names = match names {
        Some(names) => names,
        None => numbered(class_count(&out, path)?),
    };
    ImageSet::new(bytes, out, (channels, height, width), names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::npy::tests::npy;

    fn npz(path: &Path, arrays: &[(&str, Vec<u8>)]) {
        let file = std::fs::File::create(path).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        for (name, bytes) in arrays {
            zip.start_file(
                format!("{name}.npy"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            std::io::Write::write_all(&mut zip, bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn an_npz_of_bytes_and_one_of_floats_give_the_same_images() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..4 * 2 * 2).map(|i| (i * 17) as u8).collect();
        let labels: Vec<u8> = [0i64, 1, 0, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bytes_file = dir.path().join("bytes.npz");
        npz(
            &bytes_file,
            &[
                ("images", npy("|u1", &[4, 2, 2], &pixels)),
                ("labels", npy("<i8", &[4], &labels)),
            ],
        );
        let floats: Vec<u8> = pixels
            .iter()
            .flat_map(|&p| (f32::from(p) / 255.0).to_le_bytes())
            .collect();
        let floats_file = dir.path().join("floats.npz");
        npz(
            &floats_file,
            &[
                ("images", npy("<f4", &[4, 1, 2, 2], &floats)),
                ("labels", npy("<i8", &[4], &labels)),
            ],
        );
        let a = OwnSource::Npz(bytes_file).load().unwrap().train;
        let b = OwnSource::Npz(floats_file).load().unwrap().train;
        assert_eq!(a, b);
        assert_eq!((a.channels, a.height, a.width, a.len()), (1, 2, 2, 4));
        assert_eq!(a.class_names, ["0", "1"]);
    }

    #[test]
    fn bad_arrays_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npz");
        let labels =
            |values: &[i64]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
        let images = npy("|u1", &[3, 1, 1], &[1, 2, 3]);
        let cases: [(&[(&str, Vec<u8>)], &str); 4] = [
            (&[("images", images.clone())], "no `labels` array"),
            (
                &[
                    ("images", images.clone()),
                    ("labels", npy("<i8", &[2], &labels(&[0, 1]))),
                ],
                "3 images but 2 labels",
            ),
            (
                &[
                    ("images", images.clone()),
                    ("labels", npy("<i8", &[3], &labels(&[0, -1, 1]))),
                ],
                "out of range",
            ),
            (
                &[
                    ("images", images.clone()),
                    ("labels", npy("<i8", &[3], &labels(&[0, 2, 2]))),
                ],
                "class 1 has no images",
            ),
        ];
        for (arrays, expected) in cases {
            npz(&path, arrays);
            let error = OwnSource::Npz(path.clone()).load().unwrap_err().to_string();
            assert!(
                error.contains("bad.npz") && error.contains(expected),
                "{error}"
            );
        }
        let missing = OwnSource::Folder(dir.path().join("nope"))
            .load()
            .unwrap_err();
        assert!(
            missing.to_string().contains("relative to the config file"),
            "{missing}"
        );
    }

    #[test]
    fn safetensors_with_class_names_in_its_metadata() {
        use safetensors::tensor::TensorView;
        let dir = tempfile::tempdir().unwrap();
        let pixels = vec![0u8, 255, 128, 64];
        let labels: Vec<u8> = [1i32, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let tensors = [
            (
                "images",
                TensorView::new(safetensors::Dtype::U8, vec![2, 1, 2], &pixels).unwrap(),
            ),
            (
                "labels",
                TensorView::new(safetensors::Dtype::I32, vec![2], &labels).unwrap(),
            ),
        ];
        let metadata = std::collections::HashMap::from([(
            "class_names".to_string(),
            r#"["cat","dog"]"#.to_string(),
        )]);
        let path = dir.path().join("set.safetensors");
        safetensors::serialize_to_file(tensors, Some(metadata), &path).unwrap();
        let set = OwnSource::Safetensors(path).load().unwrap().train;
        assert_eq!(set.class_names, ["cat", "dog"]);
        assert_eq!(set.labels, [1, 0]);
        assert_eq!((set.height, set.width), (1, 2));
    }
}
