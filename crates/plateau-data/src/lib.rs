//! plateau-data: real image datasets (IDX, CIFAR, image folders, and the sets that ship inside
//! registry packages), their discovery, fetching and checksums, splits and few-shot sampling, and
//! batches as burn tensors.

pub mod batch;
pub mod cache;
pub mod dataset;
pub mod error;
pub mod fetch;
pub mod formats;
pub mod registry;
pub mod split;
pub mod transform;

pub use cache::DataRoots;
pub use dataset::ImageSet;
pub use error::{DataError, Result};
pub use registry::{DATASETS, DatasetSpec, RawDataset, spec};

/// Loads a known dataset, fetching it first when it is nowhere on disk.
pub fn load(name: &str, roots: &DataRoots, progress: bool) -> Result<RawDataset> {
    let spec = spec(name)?;
    let found = fetch::ensure(spec, roots, progress)?;
    spec.load(&found.dir)
}
