//! Image folders: `root/<class>/<image>.png|jpg|jpeg`, classes sorted by name; read at a chosen
//! size and channels, or at the images' own.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use crate::dataset::ImageSet;
use crate::error::{DataError, Result};

const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Reads an image folder, every image converted to `channels` (1 = grey, 3 = RGB) and resized
/// to `size × size`.
pub fn read(root: &Path, channels: usize, size: usize) -> Result<ImageSet> {
    if !matches!(channels, 1 | 3) {
        return Err(DataError::invalid(
            "channels",
            format!("{channels}: image folders load 1 (grey) or 3 (RGB) channels"),
        ));
    }
    let (images, class_names) = open_all(root)?;
    let resized: Vec<(PathBuf, image::DynamicImage, u16)> = images
        .into_iter()
        .map(|(path, image, label)| {
            let image = image.resize_exact(size as u32, size as u32, FilterType::Triangle);
            (path, image, label)
        })
        .collect();
    assemble(&resized, channels == 1, class_names)
}

/// Reads an image folder at its images' own size: every image must have the first one's size
/// (a folder of mixed sizes is an error naming two of them); grey when every image is grey,
/// RGB otherwise. A sweep resizes to the model's input later, as for any dataset.
pub fn read_native(root: &Path) -> Result<ImageSet> {
    let (images, class_names) = open_all(root)?;
    let (first, first_image, _) = &images[0];
    let size = (first_image.width(), first_image.height());
    if let Some((path, image, _)) = images
        .iter()
        .find(|(_, image, _)| (image.width(), image.height()) != size)
    {
        return Err(DataError::format(
            path,
            format!(
                "mixed image sizes: this image is {}×{}, {} is {}×{}; resize the folder's \
                 images to one size",
                image.width(),
                image.height(),
                first.display(),
                size.0,
                size.1
            ),
        ));
    }
    let grey = images
        .iter()
        .all(|(_, image, _)| !image.color().has_color());
    assemble(&images, grey, class_names)
}

/// Every image of the folder with its label, in class then file name order, and the class
/// names; an empty class folder, or none at all, is an error.
type Opened = (Vec<(PathBuf, image::DynamicImage, u16)>, Vec<String>);

fn open_all(root: &Path) -> Result<Opened> {
    let class_dirs = sorted_entries(root, |p| p.is_dir())?;
    if class_dirs.is_empty() {
        return Err(DataError::format(
            root,
            "no class folders: expected root/<class>/<image>.png|jpg",
        ));
    }
    let mut images = Vec::new();
    let mut class_names = Vec::new();
    for (label, dir) in class_dirs.iter().enumerate() {
        let files = sorted_entries(dir, |p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })?;
        if files.is_empty() {
            return Err(DataError::format(
                dir,
                "empty class folder: no .png, .jpg or .jpeg images",
            ));
        }
        for path in files {
            let image = image::open(&path).map_err(|e| {
                DataError::format(
                    &path,
                    format!("unreadable image ({e}); replace or remove the file"),
                )
            })?;
            images.push((path, image, label as u16));
        }
        class_names.push(
            dir.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
    }
    Ok((images, class_names))
}

/// The images (all one size) as planar pixels, grey or RGB.
fn assemble(
    images: &[(PathBuf, image::DynamicImage, u16)],
    grey: bool,
    class_names: Vec<String>,
) -> Result<ImageSet> {
    let (width, height) = (images[0].1.width() as usize, images[0].1.height() as usize);
    let channels = if grey { 1 } else { 3 };
    let mut pixels = Vec::with_capacity(images.len() * channels * width * height);
    let mut labels = Vec::with_capacity(images.len());
    for (_, image, label) in images {
        match grey {
            true => pixels.extend_from_slice(image.to_luma8().as_raw()),
            false => pixels.extend(hwc_to_chw(image.to_rgb8().as_raw(), 3)),
        }
        labels.push(*label);
    }
    ImageSet::new(pixels, labels, (channels, height, width), class_names)
}

fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if keep(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Interleaved `[H, W, C]` pixels to planar `[C, H, W]`.
pub fn hwc_to_chw(hwc: &[u8], channels: usize) -> Vec<u8> {
    let plane = hwc.len() / channels;
    let mut chw = vec![0; hwc.len()];
    for (i, px) in hwc.chunks_exact(channels).enumerate() {
        for (c, &v) in px.iter().enumerate() {
            chw[c * plane + i] = v;
        }
    }
    chw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, value: u8) {
        image::RgbImage::from_pixel(4, 4, image::Rgb([value, 0, 255]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn reads_classes_in_name_order_and_resizes() {
        let root = tempfile::tempdir().unwrap();
        for (class, value) in [("cat", 10), ("ant", 200)] {
            std::fs::create_dir(root.path().join(class)).unwrap();
            write_png(&root.path().join(class).join("a.png"), value);
        }
        std::fs::write(root.path().join("ant").join("notes.txt"), "skip me").unwrap();
        let set = read(root.path(), 3, 8).unwrap();
        assert_eq!(set.class_names, vec!["ant", "cat"]);
        assert_eq!(set.labels, vec![0, 1]);
        assert_eq!((set.channels, set.height, set.width), (3, 8, 8));
        // Planar layout: red plane first, then green, then blue.
        assert_eq!(set.image(0)[0], 200);
        assert_eq!(set.image(0)[64], 0);
        assert_eq!(set.image(0)[128], 255);
        assert_eq!(read(root.path(), 1, 8).unwrap().image_len(), 64);
    }

    #[test]
    fn a_folder_is_read_at_its_own_size_and_mixed_sizes_are_refused() {
        let root = tempfile::tempdir().unwrap();
        for class in ["ant", "bee"] {
            std::fs::create_dir(root.path().join(class)).unwrap();
            image::GrayImage::from_pixel(5, 3, image::Luma([7]))
                .save(root.path().join(class).join("a.png"))
                .unwrap();
        }
        let set = read_native(root.path()).unwrap();
        assert_eq!((set.channels, set.height, set.width), (1, 3, 5));
        assert_eq!(set.class_names, ["ant", "bee"]);
        write_png(&root.path().join("bee").join("b.png"), 9);
        let message = read_native(root.path()).unwrap_err().to_string();
        assert!(
            message.contains("b.png") && message.contains("mixed image sizes"),
            "{message}"
        );
    }

    #[test]
    fn empty_class_and_bad_image_name_the_path() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("empty")).unwrap();
        let message = read(root.path(), 1, 8).unwrap_err().to_string();
        assert!(
            message.contains("empty") && message.contains("empty class folder"),
            "{message}"
        );

        std::fs::write(root.path().join("empty").join("broken.png"), b"not a png").unwrap();
        let message = read(root.path(), 1, 8).unwrap_err().to_string();
        assert!(
            message.contains("broken.png") && message.contains("unreadable"),
            "{message}"
        );
    }
}
