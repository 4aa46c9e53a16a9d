//! `plateau logits`: a finished run's upstream test images exactly as its model sees them
//! (resized, normalised), their labels and the model's logits, as safetensors, so that another
//! framework can check it reproduces the model: `benches/reference/reproduce.py` loads
//! `model.safetensors` into the PyTorch twin and compares.
//!
//! File layout: `images` f32 `[n, channels, size, size]`, `labels` i64 `[n]`, `logits` f32
//! `[n, classes]`; metadata: the run folder and the accuracy of these logits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use plateau_data::batch::batch_tensors;
use safetensors::tensor::{Dtype, TensorView};

use crate::Backend;
use crate::features::load_trained;
use crate::run::checkpoint::canonical_safetensors;
use crate::run::data::Upstream;
use crate::run::summary::read_summary;

/// What an export wrote.
#[derive(Debug)]
pub struct LogitsExport {
    pub path: PathBuf,
    pub images: usize,
    /// Accuracy of the exported logits on the exported labels.
    pub accuracy: f64,
    /// The upstream test accuracy the run recorded, when it did.
    pub reported: Option<f64>,
}

/// Exports the upstream test split of the run in `run_dir` with its model's logits.
pub fn export_logits(run_dir: &Path, out: &Path, backend: Backend) -> Result<LogitsExport> {
    let (spec, model, device) = load_trained(run_dir, backend)?;
    let upstream = Upstream::load(&spec.upstream, spec.data_base(), spec.data_seed, false)?;
    let test = &upstream.splits.test;
    let (mut images, mut labels, mut logits) = (Vec::new(), Vec::new(), Vec::new());
    let indices: Vec<usize> = (0..test.len()).collect();
    let mut correct = 0usize;
    for batch in indices.chunks(spec.train.eval_batch_size) {
        let (input, targets) = batch_tensors(test, batch, None, &device);
        let output = model.forward(input.clone());
        let predicted = output.clone().argmax(1).reshape([batch.len()]);
        correct += predicted
            .equal(targets.clone())
            .int()
            .sum()
            .into_scalar::<i64>() as usize;
        images.extend(input.into_data().try_to_vec::<f32>().map_err(anyhow_data)?);
        logits.extend(
            output
                .into_data()
                .try_to_vec::<f32>()
                .map_err(anyhow_data)?,
        );
        labels.extend(batch.iter().map(|&i| test.labels[i] as i64));
    }
    let n = test.len();
    let as_bytes =
        |values: &[f32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let label_bytes: Vec<u8> = labels.iter().flat_map(|v| v.to_le_bytes()).collect();
    let (image_bytes, logit_bytes) = (as_bytes(&images), as_bytes(&logits));
    let accuracy = correct as f64 / n.max(1) as f64;
    let shape = [n, test.channels, test.height, test.width].to_vec();
    let views = vec![
        ("images", TensorView::new(Dtype::F32, shape, &image_bytes)?),
        (
            "labels",
            TensorView::new(Dtype::I64, vec![n], &label_bytes)?,
        ),
        (
            "logits",
            TensorView::new(Dtype::F32, vec![n, spec.input.num_classes], &logit_bytes)?,
        ),
    ];
    let metadata = HashMap::from([
        ("run_dir".to_string(), run_dir.display().to_string()),
        ("accuracy".to_string(), accuracy.to_string()),
    ]);
    let bytes = safetensors::serialize(views, Some(metadata))?;
    plateau_store::write_atomic(out, &canonical_safetensors(bytes)?)?;
    Ok(LogitsExport {
        path: out.to_path_buf(),
        images: n,
        accuracy,
        reported: read_summary(run_dir)
            .ok()
            .and_then(|s| s.upstream.map(|u| u.test_accuracy)),
    })
}

fn anyhow_data(error: burn::tensor::DataError) -> anyhow::Error {
    anyhow::anyhow!("reading a tensor back: {error:?}")
}
