//! Label noise for data-quality studies: a seeded, exact number of training labels replaced.
//!
//! - **Symmetric** (DivideMix's protocol): ⌊r·N⌋ training examples, chosen by the seed, get a
//!   label drawn uniformly over all K classes, their own included, so the expected share of
//!   labels that actually change is r·(K−1)/K.
//! - **Asymmetric**: a class map (CIFAR-10's truck→automobile, bird→airplane, deer→horse,
//!   cat↔dog); ⌊r·M⌋ of the M examples of mapped classes, chosen by the seed, take their class's
//!   image under the map.
//!
//! The noisy labels are a pure function of (the training set, the seed, the rate, the kind, the
//! map): every model of a sweep sees the same ones, and a resumed run the same again. Validation
//! and test sets are never passed here.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::ImageSet;
use crate::error::{DataError, Result};

/// How labels are corrupted.
#[derive(Clone, Debug, PartialEq)]
pub enum Noise {
    Symmetric,
    /// `(from, to)` class pairs, each `from` at most once.
    Asymmetric(Vec<(u16, u16)>),
}

/// What corrupting did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseReport {
    /// Examples whose label was redrawn (symmetric) or mapped (asymmetric): ⌊rate · eligible⌋.
    pub corrupted: usize,
    /// Of those, the labels that ended up different from the original.
    pub flipped: usize,
    /// `flipped` over all training examples.
    pub flipped_rate: f64,
}

/// Keeps distinct streams for noise and the other seeded choices made with the same data seed.
const NOISE_STREAM: u64 = 0x6e6f_6973_65;

/// Corrupts `rate` of the labels of `set` (a training set) and says how many changed.
pub fn corrupt_labels(
    set: &mut ImageSet,
    rate: f64,
    noise: &Noise,
    seed: u64,
) -> Result<NoiseReport> {
    if !(0.0..1.0).contains(&rate) {
        return Err(DataError::invalid(
            "label_noise",
            format!("{rate} must lie in [0, 1)"),
        ));
    }
    let classes = set.num_classes() as u16;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ NOISE_STREAM);
    let mut eligible: Vec<usize> = match noise {
        Noise::Symmetric => (0..set.len()).collect(),
        Noise::Asymmetric(map) => (0..set.len())
            .filter(|&i| map.iter().any(|(from, _)| *from == set.labels[i]))
            .collect(),
    };
    eligible.shuffle(&mut rng);
    let corrupted = (rate * eligible.len() as f64).floor() as usize;
    let mut chosen = eligible[..corrupted].to_vec();
    // Replaced in index order, so the draws do not depend on the shuffle's layout beyond the choice.
    chosen.sort_unstable();
    let mut flipped = 0;
    for i in chosen {
        let old = set.labels[i];
        let new = match noise {
            Noise::Symmetric => rng.random_range(0..classes),
            Noise::Asymmetric(map) => {
                map.iter()
                    .find(|(from, _)| *from == old)
                    .expect("only mapped classes are eligible")
                    .1
            }
        };
        flipped += usize::from(new != old);
        set.labels[i] = new;
    }
    Ok(NoiseReport {
        corrupted,
        flipped,
        flipped_rate: flipped as f64 / set.len().max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(per_class: usize, classes: usize) -> ImageSet {
        let labels: Vec<u16> = (0..per_class * classes)
            .map(|i| (i % classes) as u16)
            .collect();
        let names = (0..classes).map(|c| format!("c{c}")).collect();
        ImageSet::new(vec![0; labels.len()], labels, (1, 1, 1), names).unwrap()
    }

    #[test]
    fn symmetric_noise_redraws_exactly_the_documented_count_the_same_way_every_time() {
        let clean = set(100, 10);
        let mut a = clean.clone();
        let report = corrupt_labels(&mut a, 0.4, &Noise::Symmetric, 7).unwrap();
        assert_eq!(report.corrupted, 400);
        let changed = a
            .labels
            .iter()
            .zip(&clean.labels)
            .filter(|(x, y)| x != y)
            .count();
        assert_eq!(report.flipped, changed);
        // About (K−1)/K of the redrawn labels change.
        assert!((320..=400).contains(&changed), "{changed}");
        let mut b = clean.clone();
        assert_eq!(
            corrupt_labels(&mut b, 0.4, &Noise::Symmetric, 7).unwrap(),
            report
        );
        assert_eq!(a.labels, b.labels, "a pure function of the seed");
        let mut c = clean.clone();
        corrupt_labels(&mut c, 0.4, &Noise::Symmetric, 8).unwrap();
        assert_ne!(a.labels, c.labels);
        assert!(corrupt_labels(&mut c, 1.0, &Noise::Symmetric, 8).is_err());
    }

    #[test]
    fn asymmetric_noise_maps_exactly_as_given_and_only_mapped_classes() {
        let clean = set(50, 4);
        let mut noisy = clean.clone();
        let map = Noise::Asymmetric(vec![(1, 2), (2, 1)]);
        let report = corrupt_labels(&mut noisy, 0.5, &map, 3).unwrap();
        assert_eq!(
            report.corrupted, 50,
            "half of the 100 examples of classes 1 and 2"
        );
        assert_eq!(report.flipped, 50);
        for (new, old) in noisy.labels.iter().zip(&clean.labels) {
            match (*old, *new) {
                (o, n) if o == n => {}
                (1, 2) | (2, 1) => {}
                other => panic!("{other:?} is not in the map"),
            }
        }
    }
}
