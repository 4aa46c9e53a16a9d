//! Accuracy and loss of a model on a labelled set (validation, upstream test, fine-tune test).

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use plateau_data::ImageSet;
use plateau_data::batch::batch_tensors;
use plateau_models::Model;

/// Accuracy and mean cross-entropy of `model` on `set`.
pub(crate) fn evaluate(
    model: &Model,
    set: &ImageSet,
    batch_size: usize,
    device: &Device,
) -> (f64, f64) {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let (mut correct, mut loss_sum) = (0usize, 0.0f64);
    let indices: Vec<usize> = (0..set.len()).collect();
    for batch in indices.chunks(batch_size) {
        let (images, labels) = batch_tensors(set, batch, None, device);
        let logits = model.forward(images);
        loss_sum += loss_fn
            .forward(logits.clone(), labels.clone())
            .into_scalar::<f32>() as f64
            * batch.len() as f64;
        let predicted = logits.argmax(1).reshape([batch.len()]);
        correct += predicted.equal(labels).int().sum().into_scalar::<i64>() as usize;
    }
    (
        correct as f64 / set.len().max(1) as f64,
        loss_sum / set.len().max(1) as f64,
    )
}

/// The model's logits on every image of `set`, row-major `[n, classes]`, in the set's order.
pub(crate) fn logits_of(
    model: &Model,
    set: &ImageSet,
    batch_size: usize,
    device: &Device,
) -> Vec<f32> {
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut all = Vec::with_capacity(set.len() * set.num_classes());
    for batch in indices.chunks(batch_size) {
        let (images, _) = batch_tensors(set, batch, None, device);
        let logits = model.forward(images).into_data();
        all.extend(logits.iter::<f32>());
    }
    all
}
