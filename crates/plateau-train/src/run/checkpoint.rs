//! Checkpoints. Two kinds, for two readers:
//! - the resume checkpoint (`checkpoint/`): the model in burnpack (which keeps parameter ids),
//!   the optimizer state and the training position, swapped in whole after each epoch (and at
//!   the step where a signal stopped the run);
//! - `model.safetensors`: the weights under readable names (`blocks.3.attn.qkv.weight`) for
//!   anyone with a safetensors reader (numpy, PyTorch).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Bytes, Device};
use plateau_models::Model;
use plateau_store::{StagedDir, current_or_previous, write_atomic};
use serde::{Deserialize, Serialize};

/// Where training stands after a finished epoch.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    /// Training images seen.
    pub images_seen: u64,
    /// Seconds spent training so far (across resumes).
    pub train_seconds: f64,
    /// Validation accuracy after the last epoch.
    pub val_accuracy: f64,
    /// Where a run stopped inside an epoch (by a signal); `None` at an epoch's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_epoch: Option<EpochPosition>,
}

/// How far a run got into the epoch after `TrainState::epoch`: enough to go on from the next
/// batch exactly as if it had never stopped (the epoch's order and augmentation stream are
/// derived from the run's seed and the epoch; only the stream's position is kept).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EpochPosition {
    /// Batches of the epoch's order already trained on.
    pub batches: usize,
    /// The augmentation stream's word position (a u128, as text: JSON numbers are f64 to
    /// many readers).
    pub augment_word_pos: String,
    /// The epoch's sum of read losses and their count so far (its logged mean loss).
    pub loss_sum: f64,
    pub loss_reads: usize,
}

/// The resume checkpoint's folder in a run's folder.
const DIR: &str = "checkpoint";

/// Saves the resume checkpoint of `run_dir`, replacing the previous one only once complete.
pub fn save(
    run_dir: &Path,
    model: &Model,
    optimizer: &ModuleOptimizer,
    state: &TrainState,
) -> Result<()> {
    // BatchNorm's running statistics lag one update behind until read in sync. Validation
    // does that before an epoch's checkpoint; a stop inside an epoch has not validated, and
    // would save the statistics of the step before. The copy `valid` makes shares them.
    drop(model.valid());
    let staged = StagedDir::new(&run_dir.join(DIR))?;
    let mut store = BurnpackStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("saving the model: {e:?}"))?;
    let model_bytes = store
        .get_bytes()
        .map_err(|e| anyhow::anyhow!("encoding the model: {e:?}"))?;
    staged.write_file("model.bpk", &model_bytes)?;
    let optimizer_bytes = optimizer
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("encoding the optimizer: {e:?}"))?;
    staged.write_file("optimizer.bin", &optimizer_bytes)?;
    staged.write_file(
        "state.json",
        serde_json::to_string_pretty(state)?.as_bytes(),
    )?;
    Ok(staged.replace()?)
}

/// The newest complete resume checkpoint of `run_dir`, if any.
fn latest_dir(run_dir: &Path) -> Option<PathBuf> {
    current_or_previous(&run_dir.join(DIR)).filter(|d| {
        d.join("state.json").is_file()
            && d.join("model.bpk").is_file()
            && d.join("optimizer.bin").is_file()
    })
}

/// Restores model, optimizer and position from `run_dir`, or `None` when there is no checkpoint.
/// `model` is a freshly built model on a device *without* autodiff: loading straight into an
/// autodiff model leaves parameters that are not graph leaves, and the next backward fails.
pub fn load(
    run_dir: &Path,
    model: Model,
    optimizer: ModuleOptimizer,
    device: &Device,
) -> Result<Option<(Model, ModuleOptimizer, TrainState)>> {
    let Some(dir) = latest_dir(run_dir) else {
        return Ok(None);
    };
    let damaged = |file: &str, what: &str| {
        format!(
            "{}: cannot load the {what} of the resume checkpoint (damaged or from another \
             version); delete {} to train this run from its start",
            dir.join(file).display(),
            dir.display()
        )
    };
    let state: TrainState = serde_json::from_slice(&std::fs::read(dir.join("state.json"))?)
        .with_context(|| damaged("state.json", "training state"))?;
    let bytes = std::fs::read(dir.join("model.bpk"))?;
    let model = read_burnpack(model, bytes).with_context(|| damaged("model.bpk", "model"))?;
    // Loaded on a plain device, then moved: `train()` makes the parameters tracked leaves again.
    let model = model.to_device(device).train();
    let optimizer_bytes = Bytes::from_bytes_vec(std::fs::read(dir.join("optimizer.bin"))?);
    let optimizer = optimizer
        .from_bytes(optimizer_bytes)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .with_context(|| damaged("optimizer.bin", "optimizer state"))?;
    Ok(Some((model, optimizer, state)))
}

/// Loads the weights of a burnpack file (the resume checkpoint) into `model`.
pub fn read_burnpack(mut model: Model, bytes: Vec<u8>) -> Result<Model> {
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)));
    model
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(model)
}

/// Loads the weights of a `model.safetensors` file into `model`.
pub fn read_safetensors(mut model: Model, bytes: Vec<u8>) -> Result<Model> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).skip_enum_variants(true);
    model
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(model)
}

/// Writes `model.safetensors` with readable tensor names.
pub fn export_safetensors(path: &Path, model: &Model) -> Result<()> {
    let mut store = SafetensorsStore::from_bytes(None).skip_enum_variants(true);
    model
        .save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("saving safetensors: {e:?}"))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| anyhow::anyhow!("encoding safetensors: {e:?}"))?;
    Ok(write_atomic(path, &canonical_safetensors(bytes)?)?)
}

/// The same safetensors file with its JSON header's keys in sorted order. Writers keep the
/// header's metadata in a hash map, so the same weights would otherwise give different bytes
/// from run to run; sorted, equal weights give equal files (and checksums).
pub fn canonical_safetensors(bytes: Vec<u8>) -> Result<Vec<u8>> {
    let malformed = || anyhow::anyhow!("not a safetensors file: its header is malformed");
    let header_len: [u8; 8] = bytes.get(..8).ok_or_else(malformed)?.try_into()?;
    let header_end = usize::try_from(u64::from_le_bytes(header_len))?
        .checked_add(8)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(malformed)?;
    // serde_json's map is ordered by key: parsing and printing sorts the header.
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..header_end]).map_err(|_| malformed())?;
    let mut sorted = serde_json::to_vec(&header)?;
    // The data that follows stays 8-byte aligned: pad with spaces, as the format does.
    sorted.resize(sorted.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + sorted.len() + bytes.len() - header_end);
    out.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    out.extend_from_slice(&sorted);
    out.extend_from_slice(&bytes[header_end..]);
    Ok(out)
}

/// Removes the resume checkpoint once the run is finished (the safetensors export stays).
pub fn remove(run_dir: &Path) {
    plateau_store::remove_replaced(&run_dir.join(DIR));
}
