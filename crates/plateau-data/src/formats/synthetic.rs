//! A seeded synthetic dataset: each class is a kind of procedural pattern (disc, ring, bars,
//! stripes, …) drawn at a random position, scale and contrast over noise. Class structure is
//! strong but not trivial, so small models learn it in seconds: for tests and smoke runs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::ImageSet;
use crate::error::{DataError, Result};

pub const CLASS_NAMES: [&str; 10] = [
    "disc",
    "square",
    "ring",
    "cross",
    "horizontal-bars",
    "vertical-bars",
    "diagonal-stripes",
    "triangle",
    "checker",
    "corner-blob",
];

/// `per_class` images of each of `num_classes` patterns, `channels × size × size`.
pub fn generate(
    num_classes: usize,
    per_class: usize,
    size: usize,
    channels: usize,
    seed: u64,
) -> Result<ImageSet> {
    if !(1..=CLASS_NAMES.len()).contains(&num_classes) {
        return Err(DataError::invalid(
            "num_classes",
            format!("{num_classes}: the synthetic set has 1 to 10 classes"),
        ));
    }
    if size < 4 || channels == 0 {
        return Err(DataError::invalid(
            "image_size",
            format!("{size}: synthetic images need at least 4 px and 1 channel"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(num_classes * per_class * channels * size * size);
    let mut labels = Vec::new();
    for i in 0..num_classes * per_class {
        let class = i % num_classes; // interleaved, so any prefix is balanced
        let plane = draw(class, size, &mut rng);
        for _ in 0..channels {
            let tint: f32 = rng.random_range(0.7..1.0);
            pixels.extend(
                plane
                    .iter()
                    .map(|&v| (v * tint * 255.0).clamp(0.0, 255.0) as u8),
            );
        }
        labels.push(class as u16);
    }
    let names = CLASS_NAMES[..num_classes]
        .iter()
        .map(|s| s.to_string())
        .collect();
    ImageSet::new(pixels, labels, (channels, size, size), names)
}

/// One grey plane in 0..1 of the pattern of `class`.
fn draw(class: usize, size: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let s = size as f32;
    let (cx, cy) = (
        rng.random_range(0.3..0.7) * s,
        rng.random_range(0.3..0.7) * s,
    );
    let r = rng.random_range(0.18..0.32) * s;
    let period = rng.random_range(3.0..5.0f32).max(s / 8.0);
    let (fg, bg) = (rng.random_range(0.6..1.0f32), rng.random_range(0.0..0.3f32));
    let mut plane = Vec::with_capacity(size * size);
    for y in 0..size {
        for x in 0..size {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let d = (dx * dx + dy * dy).sqrt();
            let on = match class {
                0 => d < r,
                1 => dx.abs() < r && dy.abs() < r,
                2 => (d - r).abs() < r * 0.3,
                3 => {
                    (dx.abs() < r * 0.3 && dy.abs() < r * 1.2)
                        || (dy.abs() < r * 0.3 && dx.abs() < r * 1.2)
                }
                4 => ((y as f32 / period) as usize).is_multiple_of(2),
                5 => ((x as f32 / period) as usize).is_multiple_of(2),
                6 => (((x + y) as f32 / period) as usize).is_multiple_of(2),
                7 => dy > -r && dy < r && dx.abs() < (dy + r) * 0.5,
                8 => {
                    ((x as f32 / period) as usize + (y as f32 / period) as usize).is_multiple_of(2)
                }
                _ => (x as f32) < s * 0.45 && (y as f32) < s * 0.45 && d > r * 0.2,
            };
            let noise: f32 = rng.random_range(-0.15..0.15);
            plane.push(if on { fg } else { bg } + noise);
        }
    }
    plane
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_balanced_and_distinct_per_seed() {
        let a = generate(4, 5, 16, 1, 3).unwrap();
        assert_eq!(a, generate(4, 5, 16, 1, 3).unwrap());
        assert_ne!(a.pixels, generate(4, 5, 16, 1, 4).unwrap().pixels);
        assert_eq!(a.class_counts(), vec![5; 4]);
        assert_eq!(a.len(), 20);
        assert!(generate(11, 1, 16, 1, 0).is_err());
    }

    #[test]
    fn classes_differ_on_average() {
        // The mean image of a disc and of horizontal bars are far apart.
        let set = generate(5, 50, 16, 1, 0).unwrap();
        let mean = |class: u16| -> Vec<f32> {
            let mut sum = vec![0.0; 256];
            for i in (0..set.len()).filter(|&i| set.labels[i] == class) {
                for (s, &v) in sum.iter_mut().zip(set.image(i)) {
                    *s += v as f32 / 50.0;
                }
            }
            sum
        };
        let gap: f32 = mean(0)
            .iter()
            .zip(mean(4))
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / 256.0;
        assert!(gap > 20.0, "mean images differ by only {gap}");
    }
}
