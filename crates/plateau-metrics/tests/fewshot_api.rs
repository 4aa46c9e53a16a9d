//! The few-shot probe as a caller uses it, through the crate-root re-exports:
//! draw k shots per class per seed, score each seed, summarise with `mean_std`.

use plateau_metrics::{
    FeatureMatrix, Formulation, ProbeConfig, RidgeProbe, choose_l2, few_shot_accuracy, mean_std,
};

/// SplitMix64, so the test needs no `rand`.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn normal(&mut self) -> f64 {
        let mut uniform = || ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let (u, v) = (uniform(), uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `per_class` rows around each centre, labels in class order.
fn sample(
    rng: &mut Rng,
    centres: &[Vec<f64>],
    per_class: usize,
    noise: f64,
) -> (Vec<f32>, Vec<u16>) {
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (c, centre) in centres.iter().enumerate() {
        for _ in 0..per_class {
            values.extend(centre.iter().map(|m| (m + noise * rng.normal()) as f32));
            labels.push(c as u16);
        }
    }
    (values, labels)
}

/// k distinct pool indices of each class (the pool holds `per_class` rows per class, in order).
fn draw_shots(rng: &mut Rng, classes: usize, per_class: usize, k: usize) -> Vec<usize> {
    let mut shots = Vec::new();
    for c in 0..classes {
        let mut rows: Vec<usize> = (c * per_class..(c + 1) * per_class).collect();
        for i in 0..k {
            let j = i + rng.below(per_class - i);
            rows.swap(i, j);
        }
        shots.extend_from_slice(&rows[..k]);
    }
    shots
}

#[test]
fn per_seed_few_shot_accuracy_summarised_with_mean_std() {
    let (classes, dim, per_class) = (10, 64, 40);
    let mut rng = Rng(7);
    // Moderately separated clusters: neither trivial nor hopeless.
    let centres: Vec<Vec<f64>> = (0..classes)
        .map(|_| (0..dim).map(|_| 0.6 * rng.normal()).collect())
        .collect();
    let (pool, pool_labels) = sample(&mut rng, &centres, per_class, 1.0);
    let (test, test_labels) = sample(&mut rng, &centres, 50, 1.0);
    let pool = FeatureMatrix::new(&pool, dim).unwrap();
    let test = FeatureMatrix::new(&test, dim).unwrap();
    let config = ProbeConfig::default();

    let mut summary = Vec::new();
    for k in [1, 5, 25] {
        let accuracies: Vec<f64> = (0..3)
            .map(|seed| {
                let mut draw = Rng(1000 * k as u64 + seed);
                let shots = draw_shots(&mut draw, classes, per_class, k);
                few_shot_accuracy(
                    pool,
                    &pool_labels,
                    test,
                    &test_labels,
                    classes,
                    &shots,
                    &config,
                )
                .unwrap()
            })
            .collect();
        let (mean, std) = mean_std(&accuracies);
        assert!((0.0..=1.0).contains(&mean) && std >= 0.0);
        assert!(
            accuracies.iter().all(|&a| a > 0.1),
            "k={k}: {accuracies:?} (chance is 0.1)"
        );
        summary.push(mean);
    }
    // More shots help: 25-shot beats 1-shot clearly.
    assert!(summary[2] > summary[0] + 0.1, "{summary:?}");
}

#[test]
fn chosen_l2_feeds_the_probe() {
    let (classes, dim, per_class) = (5, 200, 10);
    let mut rng = Rng(8);
    let centres: Vec<Vec<f64>> = (0..classes)
        .map(|_| (0..dim).map(|_| 0.5 * rng.normal()).collect())
        .collect();
    let (pool, pool_labels) = sample(&mut rng, &centres, per_class, 1.0);
    let (test, test_labels) = sample(&mut rng, &centres, 40, 1.0);
    let pool = FeatureMatrix::new(&pool, dim).unwrap();
    let test = FeatureMatrix::new(&test, dim).unwrap();
    let shots = draw_shots(&mut Rng(9), classes, per_class, 5);

    let candidates = [1.0, 32.0, 1024.0, 32768.0];
    let l2 = choose_l2(pool, &pool_labels, classes, &shots, &candidates, 100.0).unwrap();
    assert!(candidates.contains(&l2));
    let config = ProbeConfig {
        l2_reg: l2,
        ..ProbeConfig::default()
    };

    // few_shot_accuracy is the probe fitted on the gathered shot rows.
    let rows: Vec<f32> = shots
        .iter()
        .flat_map(|&i| pool.row(i).iter().copied())
        .collect();
    let labels: Vec<u16> = shots.iter().map(|&i| pool_labels[i]).collect();
    let probe = RidgeProbe::fit(
        FeatureMatrix::new(&rows, dim).unwrap(),
        &labels,
        classes,
        &config,
    )
    .unwrap();
    assert_eq!(probe.formulation(), Formulation::Dual); // 25 rows, 201 columns
    assert_eq!(probe.weights().shape(), (dim + 1, classes));
    let acc = few_shot_accuracy(
        pool,
        &pool_labels,
        test,
        &test_labels,
        classes,
        &shots,
        &config,
    )
    .unwrap();
    assert_eq!(acc, probe.accuracy(test, &test_labels));
    assert!(acc > 0.5, "accuracy {acc} (chance 0.2)");
}
