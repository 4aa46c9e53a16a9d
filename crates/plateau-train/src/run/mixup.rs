//! Mixup on a batch tensor, and the labels it leaves: one label set, or two mixed by a weight.
//! (The weight is drawn in plateau-data's `Augmentation::mixup_weight`, from the epoch's
//! augmentation stream, so a resumed run mixes as the uninterrupted one did.)

use burn::nn::loss::CrossEntropyLoss;
use burn::prelude::*;

/// What a batch is trained towards.
pub enum Labels {
    Hard(Tensor<1, Int>),
    /// `weight` of `first`'s cross-entropy and `1 − weight` of `second`'s.
    Mixed {
        first: Tensor<1, Int>,
        second: Tensor<1, Int>,
        weight: f64,
    },
}

impl From<Tensor<1, Int>> for Labels {
    fn from(labels: Tensor<1, Int>) -> Self {
        Labels::Hard(labels)
    }
}

impl Labels {
    pub fn cross_entropy(&self, ce: &CrossEntropyLoss, logits: Tensor<2>) -> Tensor<1> {
        match self {
            Labels::Hard(labels) => ce.forward(logits, labels.clone()),
            Labels::Mixed {
                first,
                second,
                weight,
            } => {
                ce.forward(logits.clone(), first.clone()) * *weight
                    + ce.forward(logits, second.clone()) * (1.0 - *weight)
            }
        }
    }
}

/// `weight·images + (1 − weight)·rolled(images)`, the batch rolled by one along its first axis,
/// and the labels mixed alike.
pub fn mix(images: Tensor<4>, labels: Tensor<1, Int>, weight: f64) -> (Tensor<4>, Labels) {
    let n = images.dims()[0] as i64;
    let next: Vec<i64> = (0..n).map(|i| (i + 1) % n).collect();
    let next = Tensor::<1, Int>::from_ints(next.as_slice(), &images.device());
    let mixed = images.clone() * weight + images.select(0, next.clone()) * (1.0 - weight);
    let second = labels.clone().select(0, next);
    (
        mixed,
        Labels::Mixed {
            first: labels,
            second,
            weight,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::loss::CrossEntropyLossConfig;

    #[test]
    fn mixing_blends_each_image_with_the_next_and_weighs_both_labels() {
        let device = Device::flex();
        let images = Tensor::<1>::from_floats([0.0, 1.0, 4.0], &device).reshape([3, 1, 1, 1]);
        let labels = Tensor::<1, Int>::from_ints([0, 1, 2], &device);
        let (mixed, targets) = mix(images, labels.clone(), 0.75);
        let pixels: Vec<f32> = mixed.into_data().try_to_vec().unwrap();
        assert_eq!(pixels, [0.25, 1.75, 3.0]);
        let ce = CrossEntropyLossConfig::new().init(&device);
        let logits =
            Tensor::<1>::from_floats([2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 2.0], &device)
                .reshape([3, 3]);
        let got = targets
            .cross_entropy(&ce, logits.clone())
            .into_scalar::<f32>();
        let first = ce.forward(logits.clone(), labels).into_scalar::<f32>();
        let second = ce
            .forward(logits, Tensor::<1, Int>::from_ints([1, 2, 0], &device))
            .into_scalar::<f32>();
        assert!((got - (0.75 * first + 0.25 * second)).abs() < 1e-6);
    }
}
