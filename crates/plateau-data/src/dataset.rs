//! Images in memory: `u8` pixels laid out `[N, C, H, W]`, one label per image, class names.

use crate::error::{DataError, Result};

/// A labelled set of equally sized images.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// Pixels, `[len, channels, height, width]`, row-major.
    pub pixels: Vec<u8>,
    pub labels: Vec<u16>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub class_names: Vec<String>,
}

impl ImageSet {
    /// Checks that pixels, labels and class names agree.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<u16>,
        (channels, height, width): (usize, usize, usize),
        class_names: Vec<String>,
    ) -> Result<Self> {
        let set = Self {
            pixels,
            labels,
            channels,
            height,
            width,
            class_names,
        };
        let expected = set.labels.len() * set.image_len();
        if set.pixels.len() != expected {
            return Err(DataError::invalid(
                "pixels",
                format!(
                    "{} bytes for {} images of {channels}×{height}×{width} (expected {expected})",
                    set.pixels.len(),
                    set.labels.len()
                ),
            ));
        }
        if let Some(&label) = set
            .labels
            .iter()
            .find(|&&l| l as usize >= set.class_names.len())
        {
            return Err(DataError::invalid(
                "labels",
                format!("label {label} but only {} classes", set.class_names.len()),
            ));
        }
        Ok(set)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Pixels of image `index`, `[C, H, W]`.
    pub fn image(&self, index: usize) -> &[u8] {
        let len = self.image_len();
        &self.pixels[index * len..(index + 1) * len]
    }

    /// Images per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &label in &self.labels {
            counts[label as usize] += 1;
        }
        counts
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Self {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
            ..*self
        }
    }

    /// Drops the images that also occur (same pixels) in `other`; returns how many it dropped.
    pub fn without_images_of(&self, other: &ImageSet) -> (Self, usize) {
        let theirs: std::collections::HashSet<&[u8]> =
            (0..other.len()).map(|i| other.image(i)).collect();
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| !theirs.contains(self.image(i)))
            .collect();
        (self.select(&keep), self.len() - keep.len())
    }

    /// Drops exact duplicate images (same pixels), keeping the first of each.
    pub fn deduplicated(&self) -> Self {
        let mut seen = std::collections::HashSet::new();
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| seen.insert(self.image(i)))
            .collect();
        self.select(&keep)
    }
}
