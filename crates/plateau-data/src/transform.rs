//! Preparing images for a model, once per dataset: resize to the model's input size and match
//! its channels. Per-batch work (scaling, augmentation) lives in `batch.rs`.

use image::imageops::FilterType;
use image::{GrayImage, ImageBuffer, Luma};

use crate::dataset::ImageSet;
use crate::error::{DataError, Result};

/// `set` with `channels × size × size` images.
pub fn prepare(set: ImageSet, channels: usize, size: usize) -> Result<ImageSet> {
    with_channels(resize(set, size), channels)
}

/// Bilinear resize of every channel plane to `size × size` (the set itself when already that
/// size: a training set is tens of megabytes, and every run process prepares one).
pub fn resize(set: ImageSet, size: usize) -> ImageSet {
    if set.height == size && set.width == size {
        return set;
    }
    let plane = set.height * set.width;
    let mut pixels = Vec::with_capacity(set.len() * set.channels * size * size);
    for channel_plane in set.pixels.chunks_exact(plane) {
        let image: GrayImage = ImageBuffer::<Luma<u8>, _>::from_raw(
            set.width as u32,
            set.height as u32,
            channel_plane.to_vec(),
        )
        .expect("plane has height × width bytes");
        pixels.extend(
            image::imageops::resize(&image, size as u32, size as u32, FilterType::Triangle)
                .into_raw(),
        );
    }
    ImageSet {
        pixels,
        height: size,
        width: size,
        ..set
    }
}

/// Grey → RGB by copying the plane; RGB → grey by luminance (ITU-R BT.601); the set itself
/// when it has `channels` already.
pub fn with_channels(set: ImageSet, channels: usize) -> Result<ImageSet> {
    let plane = set.height * set.width;
    let pixels = match (set.channels, channels) {
        (from, to) if from == to => return Ok(set),
        (1, 3) => set
            .pixels
            .chunks_exact(plane)
            .flat_map(|p| p.iter().chain(p).chain(p).copied())
            .collect(),
        (3, 1) => set
            .pixels
            .chunks_exact(3 * plane)
            .flat_map(|rgb| {
                (0..plane).map(move |i| {
                    let (r, g, b) = (
                        rgb[i] as f32,
                        rgb[plane + i] as f32,
                        rgb[2 * plane + i] as f32,
                    );
                    (0.299 * r + 0.587 * g + 0.114 * b).round() as u8
                })
            })
            .collect(),
        (from, to) => {
            return Err(DataError::invalid(
                "in_channels",
                format!("cannot turn {from}-channel images into {to} channels (1 ↔ 3 only)"),
            ));
        }
    };
    Ok(ImageSet {
        pixels,
        channels,
        ..set
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(values: &[u8], side: usize) -> ImageSet {
        ImageSet::new(values.to_vec(), vec![0], (1, side, side), vec!["a".into()]).unwrap()
    }

    #[test]
    fn resizes_and_keeps_flat_images_flat() {
        let resized = resize(grey(&[200; 64], 8), 28);
        assert_eq!(
            (resized.height, resized.width, resized.pixels.len()),
            (28, 28, 784)
        );
        assert!(resized.pixels.iter().all(|&v| v == 200));
    }

    #[test]
    fn channels_round_trip() {
        let set = grey(&[0, 50, 100, 250], 2);
        let rgb = with_channels(set.clone(), 3).unwrap();
        assert_eq!(rgb.pixels, [[0, 50, 100, 250]; 3].concat());
        assert_eq!(with_channels(rgb, 1).unwrap().pixels, set.pixels);
        assert!(
            with_channels(set, 2)
                .unwrap_err()
                .to_string()
                .contains("in_channels")
        );
    }
}
