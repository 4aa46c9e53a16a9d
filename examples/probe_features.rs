//! The few-shot probe and the saturation law on feature arrays of one's own, with no model and
//! no burn: each "model" below is a set of features whose classes separate more cleanly as its
//! upstream error falls, probed on a test set with 10 % wrong labels; the probe measures
//! downstream few-shot error, and the fit says where it saturates.
//!
//! `cargo run --release --example probe_features`

use plateau_metrics::fewshot::{FeatureMatrix, ProbeConfig, few_shot_accuracy};
use plateau_metrics::fit::{BootstrapOptions, LawForm, PointSet, fit_curve, floor_verdict};

/// `per_class` rows of `dim` features per class: class means one apart, noise of `spread`.
fn features(
    classes: usize,
    per_class: usize,
    dim: usize,
    spread: f64,
    seed: u64,
) -> (Vec<f32>, Vec<u16>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for i in 0..classes * per_class {
        let class = i % classes;
        for d in 0..dim {
            // Box–Muller; only the first few dimensions carry the class.
            let normal = (-2.0 * uniform().max(1e-12).ln()).sqrt()
                * (std::f64::consts::TAU * uniform()).cos();
            let mean = if d % classes == class && d < 4 * classes {
                1.0
            } else {
                0.0
            };
            values.push((mean + spread * normal) as f32);
        }
        labels.push(class as u16);
    }
    (values, labels)
}

fn main() -> anyhow::Result<()> {
    let (classes, dim) = (5, 32);
    let mut points = Vec::new();
    for (model, upstream_error) in [0.6f64, 0.45, 0.35, 0.25, 0.18, 0.12, 0.08, 0.05, 0.03]
        .iter()
        .enumerate()
    {
        // Better upstream models (lower error) give less noisy features.
        let spread = 0.15 + 2.5 * upstream_error;
        let (pool, pool_labels) = features(classes, 20, dim, spread, model as u64);
        let (test, mut test_labels) = features(classes, 60, dim, spread, 100 + model as u64);
        // One test label in ten is wrong, as in a set with label noise: an error no features
        // remove, which the fit should find as its floor.
        for label in test_labels.iter_mut().step_by(10) {
            *label = (*label + 1) % classes as u16;
        }
        // Five shots per class: the first five pool rows of each class.
        let labels = &pool_labels;
        let shots: Vec<usize> = (0..classes)
            .flat_map(|c| {
                (0..labels.len())
                    .filter(move |&i| labels[i] as usize == c)
                    .take(5)
            })
            .collect();
        let accuracy = few_shot_accuracy(
            FeatureMatrix::new(&pool, dim)?,
            &pool_labels,
            FeatureMatrix::new(&test, dim)?,
            &test_labels,
            classes,
            &shots,
            &ProbeConfig::default(),
        )?;
        println!(
            "model {model}: upstream error {upstream_error:.2}, 5-shot error {:.3}",
            1.0 - accuracy
        );
        points.push((*upstream_error, 1.0 - accuracy));
    }
    let fit = fit_curve(
        &points,
        PointSet::All,
        LawForm::Saturation,
        &BootstrapOptions::default(),
    )?;
    let [k, alpha, e_ir] = ["k", "alpha", "e_ir"].map(|name| fit.parameter(name));
    let interval = fit.interval("e_ir");
    println!(
        "e_DS = {k:.3} * e_US^{alpha:.3} + {e_ir:.3} (e_IR 95% interval [{:.3}, {:.3}])",
        interval.low, interval.high
    );
    let verdict = floor_verdict(&fit, &points);
    match verdict.identified {
        true => println!("the floor is identified"),
        false => println!("the floor is not identified: {}", verdict.note),
    }
    Ok(())
}
