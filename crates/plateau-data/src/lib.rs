//! plateau-data: real image datasets (IDX, CIFAR, image folders, and the sets that ship inside
//! registry packages), their discovery, fetching and checksums, splits and few-shot sampling, and
//! batches as burn tensors.
//!
//! A new dataset:
//! 1. a reader in `formats/` if its files are in a format not yet read (tested on a small
//!    file, with a fuzz target for binary formats);
//! 2. an entry in `registry.rs`'s [`DATASETS`]: its files and their content checksums, its
//!    classes, and its sources in order (a system package, a registry package, a URL);
//! 3. a line in `tests/real_datasets.rs` once it installs through a registry.
//!
//! Durable writes (fetched files, manifests, staged dataset folders) go through plateau-store.

pub mod batch;
pub mod cache;
pub mod dataset;
pub mod error;
pub mod fetch;
pub mod formats;
pub mod noise;
pub mod own;
pub mod prune;
pub mod registry;
pub mod split;
pub mod transform;
pub mod unchanged;

pub use cache::DataRoots;
pub use dataset::ImageSet;
pub use error::{DataError, Result};
pub use own::{OwnSource, load_own};
pub use registry::{DATASETS, DatasetSpec, RawDataset, spec};

/// Loads a known dataset, fetching it first when it is nowhere on disk, after checking that
/// its files still have their checksums.
pub fn load(name: &str, roots: &DataRoots, progress: bool) -> Result<RawDataset> {
    let spec = spec(name)?;
    let found = fetch::ensure(spec, roots, progress)?;
    unchanged::check_unchanged(spec, &found.dir, &roots.cache)?;
    spec.load(&found.dir)
}
