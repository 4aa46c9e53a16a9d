//! The four datasets that install offline, read for real. Each test fetches its set through the
//! registries on first use (as `plateau datasets fetch` does), then checks counts, shapes, label
//! balance and the content checksums.

use std::collections::HashSet;

use plateau_data::fetch::{ensure, verify};
use plateau_data::split::{Amount, downstream, few_shot_indices};
use plateau_data::{DataRoots, RawDataset, spec};

fn load_verified(name: &str) -> RawDataset {
    let spec = spec(name).unwrap();
    let found = ensure(spec, &DataRoots::from_env(None), false).unwrap_or_else(|e| panic!("{e}"));
    for check in verify(spec, &found.dir) {
        assert!(check.ok, "{}: {}", check.path.display(), check.detail);
    }
    spec.load(&found.dir).unwrap()
}

#[test]
fn fashion_mnist() {
    let raw = load_verified("fashion-mnist");
    let test = raw.test.as_ref().unwrap();
    assert_eq!((raw.train.len(), test.len()), (60_000, 10_000));
    assert_eq!(
        (raw.train.channels, raw.train.height, raw.train.width),
        (1, 28, 28)
    );
    assert_eq!(raw.train.class_counts(), vec![6_000; 10]);
    assert_eq!(test.class_counts(), vec![1_000; 10]);
    assert_eq!(raw.train.class_names[9], "Ankle boot");
}

#[test]
fn mnist_10k() {
    let raw = load_verified("mnist-10k");
    assert!(raw.test.is_none());
    assert_eq!(raw.train.len(), 10_000);
    assert_eq!(
        raw.train.class_counts(),
        vec![1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    // Digits are bright strokes on black: most pixels are 0, none exceed 255 by construction.
    let zeros = raw.train.pixels.iter().filter(|&&p| p == 0).count();
    assert!(zeros > raw.train.pixels.len() / 2);
}

#[test]
fn animal_mnist_without_duplicates() {
    let raw = load_verified("animal-mnist");
    assert_eq!(raw.train.len(), 10_000 - 284);
    assert_eq!((raw.train.height, raw.train.width), (28, 28));
    let distinct: HashSet<&[u8]> = (0..raw.train.len()).map(|i| raw.train.image(i)).collect();
    assert_eq!(distinct.len(), raw.train.len());
    // Duplicates were mostly birds and bears.
    assert_eq!(
        raw.train.class_counts(),
        vec![937, 812, 992, 996, 997, 1000, 1000, 997, 985, 1000]
    );
}

#[test]
fn digits() {
    let raw = load_verified("digits");
    assert_eq!(raw.train.len(), 1_797);
    assert_eq!(
        (raw.train.channels, raw.train.height, raw.train.width),
        (1, 8, 8)
    );
    assert_eq!(
        raw.train.class_counts(),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
}

#[test]
fn few_shot_pools_never_share_an_image_with_test() {
    for name in ["animal-mnist", "digits"] {
        let raw = load_verified(name);
        let (pool, test) = downstream(raw, Amount::Fraction(0.5), 0).unwrap();
        let test_images: HashSet<&[u8]> = (0..test.len()).map(|i| test.image(i)).collect();
        for seed in 0..3 {
            let shots = few_shot_indices(&pool.labels, pool.num_classes(), 25, seed).unwrap();
            assert_eq!(shots.len(), 250);
            assert!(
                shots.iter().all(|&i| !test_images.contains(pool.image(i))),
                "{name} seed {seed}"
            );
        }
    }
}
