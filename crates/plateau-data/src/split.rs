//! Splits: train/validation/test, class subsets, data-size limits, and few-shot samples.
//!
//! Every draw is seeded and stratified by class, so the same seed gives the same split on any
//! machine, and every model of a sweep sees the same examples. Few-shot samples shuffle each
//! class once per seed and take its first k examples, so the 1-shot set is inside the 5-shot set.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::dataset::ImageSet;
use crate::error::{DataError, Result};
use crate::registry::RawDataset;

/// How much of a set to keep or hold out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Amount {
    /// A fraction in (0, 1] of each class.
    Fraction(f64),
    /// A total count, spread over classes in proportion to their sizes.
    Count(usize),
}

/// Indices of each class, shuffled by `seed`.
fn shuffled_by_class(set: &ImageSet, seed: u64) -> Vec<Vec<usize>> {
    let mut by_class = vec![Vec::new(); set.num_classes()];
    for (i, &label) in set.labels.iter().enumerate() {
        by_class[label as usize].push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for indices in &mut by_class {
        indices.shuffle(&mut rng);
    }
    by_class
}

/// Per-class counts that realise `amount` of `set` (largest remainders, so counts add up).
fn per_class_counts(set: &ImageSet, amount: Amount, field: &str) -> Result<Vec<usize>> {
    let counts = set.class_counts();
    let total = set.len();
    let wanted = match amount {
        Amount::Fraction(f) if f > 0.0 && f <= 1.0 => (f * total as f64).round() as usize,
        Amount::Count(n) if n > 0 && n <= total => n,
        Amount::Fraction(f) => {
            return Err(DataError::invalid(
                field,
                format!("fraction {f} must lie in (0, 1]"),
            ));
        }
        Amount::Count(n) => {
            return Err(DataError::invalid(
                field,
                format!("{n} examples asked for, but the set has {total} (use 1..={total})"),
            ));
        }
    };
    let exact: Vec<f64> = counts
        .iter()
        .map(|&c| c as f64 * wanted as f64 / total as f64)
        .collect();
    let mut taken: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    let short = wanted - taken.iter().sum::<usize>();
    for &class in order.iter().take(short) {
        taken[class] += 1;
    }
    Ok(taken)
}

/// Splits `set` into `(rest, held_out)` with `amount` of each class held out.
pub fn stratified_split(
    set: &ImageSet,
    amount: Amount,
    seed: u64,
    field: &str,
) -> Result<(ImageSet, ImageSet)> {
    let held_counts = per_class_counts(set, amount, field)?;
    let (mut rest, mut held) = (Vec::new(), Vec::new());
    for (indices, &n) in shuffled_by_class(set, seed).iter().zip(&held_counts) {
        held.extend_from_slice(&indices[..n]);
        rest.extend_from_slice(&indices[n..]);
    }
    // Keep the original order inside each part: stable, and easy to reason about.
    rest.sort_unstable();
    held.sort_unstable();
    Ok((set.select(&rest), set.select(&held)))
}

/// A stratified subset of `amount` of the set (data-size sweeps). Subsets of one set and seed
/// are nested, and with a count each class's share never shrinks as the count grows: the
/// per-class counts are a prefix of one fixed order of class slots (Webster's divisor method),
/// where largest-remainder rounding could give a class one example fewer at a larger count.
pub fn subsample(set: &ImageSet, amount: Amount, seed: u64, field: &str) -> Result<ImageSet> {
    let counts = match amount {
        Amount::Fraction(f) if f == 1.0 => return Ok(set.clone()),
        Amount::Fraction(_) => return Ok(stratified_split(set, amount, seed, field)?.1),
        Amount::Count(n) if n == 0 || n > set.len() => {
            return Err(DataError::invalid(
                field,
                format!(
                    "{n} examples asked for, but the set has {} (use 1..={})",
                    set.len(),
                    set.len()
                ),
            ));
        }
        Amount::Count(n) => monotone_counts(&set.class_counts(), n),
    };
    let mut kept = Vec::new();
    for (indices, &n) in shuffled_by_class(set, seed).iter().zip(&counts) {
        kept.extend_from_slice(&indices[..n]);
    }
    kept.sort_unstable();
    Ok(set.select(&kept))
}

/// Per-class counts for `n` of the examples: the first `n` of all class slots ordered by
/// `(j + ½) / size` (the j-th slot of a class of `size`), ties by class. A prefix, so every
/// class's count rises with `n`; and within one of its proportional share.
fn monotone_counts(sizes: &[usize], n: usize) -> Vec<usize> {
    let mut slots: Vec<(f64, usize)> = sizes
        .iter()
        .enumerate()
        .flat_map(|(class, &size)| (0..size).map(move |j| ((j as f64 + 0.5) / size as f64, class)))
        .collect();
    slots.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut counts = vec![0; sizes.len()];
    for &(_, class) in &slots[..n] {
        counts[class] += 1;
    }
    counts
}

/// Only the images of `classes` (original label numbers), relabelled `0..classes.len()` in
/// the order given.
pub fn class_subset(set: &ImageSet, classes: &[usize], field: &str) -> Result<ImageSet> {
    if classes.is_empty() {
        return Err(DataError::invalid(field, "lists no classes"));
    }
    let mut new_label = vec![None; set.num_classes()];
    for (new, &old) in classes.iter().enumerate() {
        let slot = new_label.get_mut(old).ok_or_else(|| {
            DataError::invalid(
                field,
                format!(
                    "class {old} does not exist; classes are 0..={}",
                    set.num_classes() - 1
                ),
            )
        })?;
        if slot.replace(new as u16).is_some() {
            return Err(DataError::invalid(
                field,
                format!("class {old} is listed twice"),
            ));
        }
    }
    let keep: Vec<usize> = (0..set.len())
        .filter(|&i| new_label[set.labels[i] as usize].is_some())
        .collect();
    let mut subset = set.select(&keep);
    for label in &mut subset.labels {
        *label = new_label[*label as usize].unwrap();
    }
    subset.class_names = classes
        .iter()
        .map(|&c| set.class_names[c].clone())
        .collect();
    Ok(subset)
}

/// Upstream data: what the model trains on, chooses hyper-parameters on, and is tested on.
#[derive(Clone, Debug)]
pub struct UpstreamSplits {
    pub train: ImageSet,
    pub val: ImageSet,
    pub test: ImageSet,
}

/// Holds `val` out of the training set; the test split is the publisher's, or `test` carved
/// from the pool when the set has none.
pub fn upstream(raw: RawDataset, val: Amount, test: Amount, seed: u64) -> Result<UpstreamSplits> {
    let (pool, test) = downstream(raw, test, seed)?;
    let (train, val) = stratified_split(&pool, val, seed.wrapping_add(1), "upstream.val")?;
    Ok(UpstreamSplits { train, val, test })
}

/// Downstream data: `(pool, test)`; shots are drawn from the pool only. The test split is the
/// publisher's when there is one, otherwise `test` of every class carved out by `seed`.
pub fn downstream(raw: RawDataset, test: Amount, seed: u64) -> Result<(ImageSet, ImageSet)> {
    match raw.test {
        Some(published) => Ok((raw.train, published)),
        None => stratified_split(&raw.train, test, seed, "test"),
    }
}

/// Indices into `labels` of `shots` examples of each of `num_classes` classes, for `seed`.
pub fn few_shot_indices(
    labels: &[u16],
    num_classes: usize,
    shots: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, &label) in labels.iter().enumerate() {
        by_class[label as usize].push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked = Vec::with_capacity(shots * num_classes);
    for (class, indices) in by_class.iter_mut().enumerate() {
        if indices.len() < shots {
            return Err(DataError::invalid(
                "shots",
                format!(
                    "{shots} shots per class, but class {class} has only {} examples in the pool",
                    indices.len()
                ),
            ));
        }
        indices.shuffle(&mut rng);
        picked.extend_from_slice(&indices[..shots]);
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::synthetic;

    fn set() -> ImageSet {
        synthetic::generate(4, 30, 8, 1, 0).unwrap()
    }

    #[test]
    fn stratified_split_is_seeded_disjoint_and_balanced() {
        let set = set();
        let (rest, held) = stratified_split(&set, Amount::Fraction(0.2), 5, "val").unwrap();
        assert_eq!(held.class_counts(), vec![6; 4]);
        assert_eq!(rest.len() + held.len(), set.len());
        let (_, again) = stratified_split(&set, Amount::Fraction(0.2), 5, "val").unwrap();
        assert_eq!(held, again);
        let (_, other) = stratified_split(&set, Amount::Fraction(0.2), 6, "val").unwrap();
        assert_ne!(held.pixels, other.pixels);
        let counted = subsample(&set, Amount::Count(10), 0, "train.examples").unwrap();
        assert_eq!(counted.len(), 10);
        assert!(counted.class_counts().iter().all(|&c| (2..=3).contains(&c)));
        assert!(
            subsample(&set, Amount::Count(121), 0, "train.examples")
                .unwrap_err()
                .to_string()
                .contains("train.examples")
        );
    }

    #[test]
    fn class_subset_relabels_in_the_given_order() {
        let subset = class_subset(&set(), &[3, 1], "classes").unwrap();
        assert_eq!(subset.class_names, vec!["cross", "square"]);
        assert_eq!(subset.class_counts(), vec![30, 30]);
        assert!(class_subset(&set(), &[7], "classes").is_err());
        assert!(class_subset(&set(), &[1, 1], "classes").is_err());
    }

    #[test]
    fn few_shot_is_seeded_nested_and_balanced() {
        let labels = set().labels;
        let five = few_shot_indices(&labels, 4, 5, 1).unwrap();
        assert_eq!(five, few_shot_indices(&labels, 4, 5, 1).unwrap());
        assert_ne!(five, few_shot_indices(&labels, 4, 5, 2).unwrap());
        let one = few_shot_indices(&labels, 4, 1, 1).unwrap();
        assert!(one.iter().all(|i| five.contains(i)), "1-shot ⊂ 5-shot");
        for class in 0..4u16 {
            assert_eq!(five.iter().filter(|&&i| labels[i] == class).count(), 5);
        }
        let error = few_shot_indices(&labels, 4, 31, 0).unwrap_err().to_string();
        assert!(
            error.contains("shots") && error.contains("only 30"),
            "{error}"
        );
    }

    #[test]
    fn subsets_by_count_are_nested_and_every_class_only_grows() {
        // Uneven classes, where largest remainders would shrink some class at some count.
        let labels: Vec<u16> = [(0u16, 37usize), (1, 23), (2, 11), (3, 5)]
            .iter()
            .flat_map(|&(class, n)| std::iter::repeat_n(class, n))
            .collect();
        let names = (0..4).map(|c| format!("c{c}")).collect();
        let set = ImageSet::new(
            (0..labels.len()).map(|i| i as u8).collect(),
            labels,
            (1, 1, 1),
            names,
        )
        .unwrap();
        let mut previous: Option<ImageSet> = None;
        for n in 1..=set.len() {
            let subset = subsample(&set, Amount::Count(n), 9, "train_examples").unwrap();
            assert_eq!(subset.len(), n);
            let counts = subset.class_counts();
            for (class, &count) in counts.iter().enumerate() {
                let share = n as f64 * set.class_counts()[class] as f64 / set.len() as f64;
                assert!(
                    (count as f64 - share).abs() < 1.0 + 1e-9,
                    "n {n}: {counts:?}"
                );
            }
            if let Some(smaller) = &previous {
                let grows = smaller
                    .class_counts()
                    .iter()
                    .zip(&counts)
                    .all(|(a, b)| a <= b);
                assert!(grows, "n {n}: {:?} → {counts:?}", smaller.class_counts());
                // Nested: every image of the smaller subset is in this one (pixels are ids).
                assert!(
                    smaller.pixels.iter().all(|p| subset.pixels.contains(p)),
                    "n {n}"
                );
            }
            previous = Some(subset);
        }
    }
}
