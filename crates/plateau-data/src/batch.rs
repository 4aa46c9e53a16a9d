//! Batches as burn tensors: seeded epoch order, pixels scaled to [-1, 1] (as big_vision's
//! `value_range(-1, 1)`, the same for upstream and downstream), and training augmentation.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::ImageSet;

/// Training-time augmentation; the default does nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augmentation {
    /// Random crop of the image padded by this many pixels on every side (0: no crop).
    #[serde(default)]
    pub crop_padding: usize,
    /// Mirror left–right with probability 1/2 (not for digits or text).
    #[serde(default)]
    pub horizontal_flip: bool,
    /// Mixup (Zhang et al. 2018): each batch becomes `λ·x + (1 − λ)·x'`, `x'` the batch rolled
    /// by one, with `λ ~ Beta(mixup, mixup)` drawn per batch, and the loss mixes the two
    /// label sets alike. `1.0` (λ uniform) is what big_vision distils with; 0 is off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mixup: f64,
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

impl Augmentation {
    /// Whether images reach the model as they are (mixup works on the batch tensor, not here).
    pub fn is_identity(&self) -> bool {
        self.crop_padding == 0 && !self.horizontal_flip
    }

    /// The mixing weight of one batch, from the epoch's augmentation stream; `None` without
    /// mixup.
    pub fn mixup_weight(&self, rng: &mut ChaCha8Rng) -> Option<f64> {
        if self.mixup <= 0.0 {
            return None;
        }
        let beta = rand_distr::Beta::new(self.mixup, self.mixup).expect("validated: mixup > 0");
        Some(rng.sample(beta))
    }
}

/// `u8` pixel → model input.
#[inline]
pub fn scale_pixel(value: u8) -> f32 {
    value as f32 / 127.5 - 1.0
}

/// The order of examples in epoch `epoch`: a permutation fixed by `(seed, epoch)`, so a resumed
/// run sees the same batches.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut epoch_rng(seed, epoch, 0));
    order
}

/// A random stream for one purpose (`stream`) of one epoch.
pub fn epoch_rng(seed: u64, epoch: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch.wrapping_mul(4).wrapping_add(stream));
    rng
}

/// Scaled (and, with `augment`, augmented) pixels of the images at `indices`, `[B, C, H, W]`.
pub fn batch_pixels(
    set: &ImageSet,
    indices: &[usize],
    augment: Option<(&Augmentation, &mut ChaCha8Rng)>,
) -> Vec<f32> {
    let (c, h, w) = (set.channels, set.height, set.width);
    let mut out = Vec::with_capacity(indices.len() * c * h * w);
    match augment {
        Some((aug, rng)) if !aug.is_identity() => {
            let pad = aug.crop_padding as isize;
            for &index in indices {
                let image = set.image(index);
                let dy = rng.random_range(-pad as i64..=pad as i64) as isize;
                let dx = rng.random_range(-pad as i64..=pad as i64) as isize;
                let flip = aug.horizontal_flip && rng.random_bool(0.5);
                for plane in image.chunks_exact(h * w) {
                    for y in 0..h as isize {
                        let sy = y + dy;
                        for x in 0..w as isize {
                            let sx = if flip { w as isize - 1 - x } else { x } + dx;
                            let inside =
                                (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx);
                            // Padding is black, as torchvision's RandomCrop(padding=…).
                            let value = if inside {
                                plane[(sy * w as isize + sx) as usize]
                            } else {
                                0
                            };
                            out.push(scale_pixel(value));
                        }
                    }
                }
            }
        }
        _ => {
            for &index in indices {
                out.extend(set.image(index).iter().map(|&v| scale_pixel(v)));
            }
        }
    }
    out
}

/// Images `[B, C, H, W]` and labels `[B]` of `indices` on `device`.
pub fn batch_tensors(
    set: &ImageSet,
    indices: &[usize],
    augment: Option<(&Augmentation, &mut ChaCha8Rng)>,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let pixels = batch_pixels(set, indices, augment);
    let shape = [indices.len(), set.channels, set.height, set.width];
    let images = Tensor::from_data(TensorData::new(pixels, shape), device);
    let labels: Vec<i64> = indices.iter().map(|&i| set.labels[i] as i64).collect();
    let labels = Tensor::from_data(TensorData::new(labels, [indices.len()]), device);
    (images, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> ImageSet {
        // One 1×3×3 image with pixels 1..=9.
        ImageSet::new((1..=9).collect(), vec![0], (1, 3, 3), vec!["a".into()]).unwrap()
    }

    #[test]
    fn scales_to_minus_one_one() {
        assert_eq!(scale_pixel(0), -1.0);
        assert_eq!(scale_pixel(255), 1.0);
        let pixels = batch_pixels(&ramp(), &[0], None);
        assert_eq!(pixels.len(), 9);
        assert_eq!(pixels[8], scale_pixel(9));
    }

    #[test]
    fn flip_mirrors_and_crop_shifts_in_black() {
        let set = ramp();
        let flip = Augmentation {
            crop_padding: 0,
            horizontal_flip: true,
            mixup: 0.0,
        };
        let mut seen = std::collections::HashSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for _ in 0..20 {
            let row: Vec<f32> = batch_pixels(&set, &[0], Some((&flip, &mut rng)))[..3].to_vec();
            seen.insert(row.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            assert!(
                row == [1.0, 2.0, 3.0].map(|v| scale_pixel(v as u8))
                    || row == [3.0, 2.0, 1.0].map(|v| scale_pixel(v as u8))
            );
        }
        assert_eq!(seen.len(), 2, "both orientations occur");

        let crop = Augmentation {
            crop_padding: 1,
            horizontal_flip: false,
            mixup: 0.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut any_shifted = false;
        for _ in 0..20 {
            let pixels = batch_pixels(&set, &[0], Some((&crop, &mut rng)));
            // Every output pixel is an input pixel or black padding.
            assert!(
                pixels
                    .iter()
                    .all(|&v| v == -1.0 || (1..=9).any(|p| scale_pixel(p) == v))
            );
            any_shifted |= pixels.contains(&-1.0);
        }
        assert!(any_shifted);
    }

    #[test]
    fn epoch_order_is_a_seeded_permutation() {
        let order = epoch_order(50, 3, 0);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(order, epoch_order(50, 3, 0));
        assert_ne!(order, epoch_order(50, 3, 1));
        assert_ne!(order, epoch_order(50, 4, 0));
    }

    #[test]
    fn tensors_have_the_batch_shape() {
        let set = crate::formats::synthetic::generate(3, 4, 8, 1, 0).unwrap();
        let (images, labels) = batch_tensors(&set, &[0, 5, 7], None, &Device::flex());
        assert_eq!(images.dims(), [3, 1, 8, 8]);
        assert_eq!(
            labels.into_data().iter::<i64>().collect::<Vec<_>>(),
            vec![0, 2, 1]
        );
    }
}
