//! Data pruning for data-quality studies: keep a fraction of a training set, chosen by a score
//! or at random.
//!
//! - **EL2N** (Paul et al. 2021, *Deep Learning on a Data Diet*): an example's score is the L2
//!   norm of (softmax output − one-hot label) of a briefly trained model, averaged over a few
//!   of its seeds. High scores are hard (or mislabelled) examples, low scores easy ones.
//!   Sorscher et al. 2022 find keeping the hardest best when data is plentiful and the easiest
//!   when it is scarce, so both are offered.
//! - **Random**: the baseline any metric must beat.
//!
//! Both prune within each class and keep the same count per class, `max(1, round(keep · n_c))`,
//! so a pruned set keeps the class balance of the set it came from, and EL2N and random pruning
//! at one fraction differ only in which examples they keep.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::dataset::ImageSet;
use crate::error::{DataError, Result};

/// Which end of the score order is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepEnd {
    /// The highest scores (hardest examples).
    Hard,
    /// The lowest scores (easiest examples).
    Easy,
}

/// Keeps random and score-based choices apart from other seeded draws of the same data seed.
const RANDOM_PRUNE_STREAM: u64 = 0x7072_756e_65;

/// EL2N scores of a set from a model's logits (`[n, classes]`, row-major) and the set's labels:
/// `‖softmax(logits) − onehot(label)‖₂` per example.
pub fn el2n(logits: &[f32], labels: &[u16], classes: usize) -> Vec<f32> {
    assert_eq!(
        logits.len(),
        labels.len() * classes,
        "logits are [n, classes]"
    );
    logits
        .chunks(classes)
        .zip(labels)
        .map(|(row, &label)| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let exp: Vec<f64> = row.iter().map(|&z| (z as f64 - max).exp()).collect();
            let total: f64 = exp.iter().sum();
            let squares: f64 = exp
                .iter()
                .enumerate()
                .map(|(class, e)| {
                    let target = if class == label as usize { 1.0 } else { 0.0 };
                    (e / total - target).powi(2)
                })
                .sum();
            squares.sqrt() as f32
        })
        .collect()
}

/// How many examples of each class a fraction `keep` leaves.
pub fn kept_per_class(set: &ImageSet, keep: f64, field: &str) -> Result<Vec<usize>> {
    if !(keep > 0.0 && keep <= 1.0) {
        return Err(DataError::invalid(
            field,
            format!("{keep} must lie in (0, 1]: the fraction of training examples kept"),
        ));
    }
    Ok(set
        .class_counts()
        .into_iter()
        .map(|n| match n {
            0 => 0,
            n => ((keep * n as f64).round() as usize).clamp(1, n),
        })
        .collect())
}

/// The examples of `set` that score-based pruning keeps: per class, the `kept_per_class`
/// highest (`Hard`) or lowest (`Easy`) scores; ties go to the lower index.
pub fn prune_by_score(
    set: &ImageSet,
    scores: &[f32],
    keep: f64,
    end: KeepEnd,
    field: &str,
) -> Result<ImageSet> {
    if scores.len() != set.len() {
        return Err(DataError::invalid(
            field,
            format!(
                "{} scores for a training set of {} examples",
                scores.len(),
                set.len()
            ),
        ));
    }
    let quotas = kept_per_class(set, keep, field)?;
    let mut by_class = indices_by_class(set);
    for indices in &mut by_class {
        indices.sort_by(|&a, &b| {
            let order = scores[a].total_cmp(&scores[b]);
            let order = match end {
                KeepEnd::Hard => order.reverse(),
                KeepEnd::Easy => order,
            };
            order.then(a.cmp(&b))
        });
    }
    Ok(take(set, by_class, &quotas))
}

/// The examples of `set` that random pruning keeps: per class, the first `kept_per_class` of one
/// seeded shuffle, so a smaller fraction keeps a subset of what a larger one keeps.
pub fn prune_at_random(set: &ImageSet, keep: f64, seed: u64, field: &str) -> Result<ImageSet> {
    let quotas = kept_per_class(set, keep, field)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ RANDOM_PRUNE_STREAM);
    let mut by_class = indices_by_class(set);
    for indices in &mut by_class {
        indices.shuffle(&mut rng);
    }
    Ok(take(set, by_class, &quotas))
}

fn indices_by_class(set: &ImageSet) -> Vec<Vec<usize>> {
    let mut by_class = vec![Vec::new(); set.num_classes()];
    for (i, &label) in set.labels.iter().enumerate() {
        by_class[label as usize].push(i);
    }
    by_class
}

/// The first `quotas[c]` of each class's ordered indices, back in the set's own order.
fn take(set: &ImageSet, by_class: Vec<Vec<usize>>, quotas: &[usize]) -> ImageSet {
    let mut kept: Vec<usize> = by_class
        .into_iter()
        .zip(quotas)
        .flat_map(|(indices, &n)| indices.into_iter().take(n))
        .collect();
    kept.sort_unstable();
    set.select(&kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `per_class` examples of each of `classes` classes; image `i` has the pixel value `i`
    /// (mod 256), so kept examples can be told apart.
    fn set(per_class: usize, classes: usize) -> ImageSet {
        let n = per_class * classes;
        let labels: Vec<u16> = (0..n).map(|i| (i % classes) as u16).collect();
        let pixels = (0..n).map(|i| i as u8).collect();
        let names = (0..classes).map(|c| format!("c{c}")).collect();
        ImageSet::new(pixels, labels, (1, 1, 1), names).unwrap()
    }

    #[test]
    fn el2n_is_the_distance_of_the_softmax_from_the_one_hot_label() {
        let logits = [0.0f32, 0.0, 2.0, -1.0, 0.5, 0.5];
        let scores = el2n(&logits, &[1, 0], 3);
        for (row, (&label, score)) in logits.chunks(3).zip([1u16, 0].iter().zip(scores)) {
            let total: f64 = row.iter().map(|&z| (z as f64).exp()).sum();
            let direct: f64 = row
                .iter()
                .enumerate()
                .map(|(c, &z)| ((z as f64).exp() / total - f64::from(c == label as usize)).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!((score as f64 - direct).abs() < 1e-6, "{score} vs {direct}");
        }
        // A confident right answer scores near 0, a confident wrong one near √2.
        let sure = el2n(&[20.0, 0.0], &[0], 2);
        let sure_wrong = el2n(&[20.0, 0.0], &[1], 2);
        assert!(sure[0] < 1e-6 && (sure_wrong[0] - 2f32.sqrt()).abs() < 1e-5);
    }

    #[test]
    fn keeping_the_hard_end_keeps_the_highest_scores_of_each_class() {
        let data = set(10, 2);
        let scores: Vec<f32> = (0..20).map(|i| ((i * 7) % 20) as f32).collect();
        let hard = prune_by_score(&data, &scores, 0.3, KeepEnd::Hard, "keep").unwrap();
        let easy = prune_by_score(&data, &scores, 0.3, KeepEnd::Easy, "keep").unwrap();
        assert_eq!(hard.class_counts(), vec![3, 3]);
        for class in 0..2u16 {
            let mut of_class: Vec<(f32, u8)> = (0..20)
                .filter(|i| i % 2 == class as usize)
                .map(|i| (scores[i], i as u8))
                .collect();
            of_class.sort_by(|a, b| b.0.total_cmp(&a.0));
            let highest: Vec<u8> = of_class[..3].iter().map(|p| p.1).collect();
            let lowest: Vec<u8> = of_class[7..].iter().map(|p| p.1).collect();
            let kept = |s: &ImageSet| -> Vec<u8> {
                let mut v: Vec<u8> = (0..s.len())
                    .filter(|&i| s.labels[i] == class)
                    .map(|i| s.image(i)[0])
                    .collect();
                v.sort_unstable();
                v
            };
            let sorted = |mut v: Vec<u8>| {
                v.sort_unstable();
                v
            };
            assert_eq!(kept(&hard), sorted(highest));
            assert_eq!(kept(&easy), sorted(lowest));
        }
    }

    #[test]
    fn random_pruning_keeps_the_same_count_per_class_as_scoring_and_nests() {
        let data = set(9, 3);
        let scores = vec![0.5; data.len()];
        for keep in [0.2, 0.5, 1.0] {
            let random = prune_at_random(&data, keep, 4, "keep").unwrap();
            let scored = prune_by_score(&data, &scores, keep, KeepEnd::Hard, "keep").unwrap();
            assert_eq!(random.class_counts(), scored.class_counts(), "keep {keep}");
        }
        let small = prune_at_random(&data, 0.3, 4, "keep").unwrap();
        let large = prune_at_random(&data, 0.7, 4, "keep").unwrap();
        assert!((0..small.len()).all(|i| large.pixels.contains(&small.image(i)[0])));
        assert_eq!(small, prune_at_random(&data, 0.3, 4, "keep").unwrap());
        assert_ne!(small, prune_at_random(&data, 0.3, 5, "keep").unwrap());
    }

    #[test]
    fn a_fraction_outside_zero_to_one_is_refused_with_the_field() {
        let data = set(4, 2);
        for keep in [0.0, 1.5, f64::NAN] {
            let error = prune_at_random(&data, keep, 0, "grid[0].keep").unwrap_err();
            assert!(error.to_string().contains("grid[0].keep"), "{error}");
        }
        let error = prune_by_score(&data, &[1.0], 0.5, KeepEnd::Hard, "scores").unwrap_err();
        assert!(error.to_string().contains("1 scores"), "{error}");
    }
}
