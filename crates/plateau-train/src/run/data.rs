//! Wires plateau-data to a run: loads the upstream and downstream datasets, splits them with the
//! sweep's data seed, and prepares images at the model's input size and channels.

use plateau_data::split::{Amount, UpstreamSplits, class_subset, downstream, subsample, upstream};
use plateau_data::transform::prepare;
use plateau_data::{DataRoots, ImageSet, RawDataset};
use plateau_models::InputSpec;

use std::path::Path;

use crate::sweep::sections::{DownstreamConfig, UpstreamConfig};
use crate::sweep::source::DatasetSource;

/// A known dataset (found or fetched) or one's own (its paths relative to `base`), restricted
/// to `classes` when given.
fn load_dataset(
    source: &DatasetSource,
    path: Option<&Path>,
    base: &Path,
    classes: Option<&[usize]>,
    field: &str,
    progress: bool,
) -> plateau_data::Result<RawDataset> {
    let raw = match source {
        DatasetSource::Named(name) => {
            let roots = DataRoots::from_env(path.map(|p| p.to_path_buf()));
            plateau_data::load(name, &roots, progress)?
        }
        DatasetSource::Own(own) => plateau_data::load_own(
            &own.resolve(base),
            own.test.as_deref().map(|t| t.resolve(base)).as_ref(),
        )?,
    };
    let Some(classes) = classes else {
        return Ok(raw);
    };
    Ok(RawDataset {
        train: class_subset(&raw.train, classes, field)?,
        test: raw
            .test
            .map(|t| class_subset(&t, classes, field))
            .transpose()?,
    })
}

/// A stratified subset of at most `limit` examples (evaluation sets are capped to save time).
fn at_most(
    set: ImageSet,
    limit: Option<usize>,
    seed: u64,
    field: &str,
) -> plateau_data::Result<ImageSet> {
    match limit {
        Some(n) if n < set.len() => subsample(&set, Amount::Count(n), seed, field),
        _ => Ok(set),
    }
}

/// The upstream dataset, split once for the whole sweep.
pub struct Upstream {
    pub splits: UpstreamSplits,
    pub input: InputSpec,
}

impl Upstream {
    /// Loads and splits the upstream data; `base` is where relative paths of one's own data
    /// start (the config's folder).
    pub fn load(
        config: &UpstreamConfig,
        base: &Path,
        data_seed: u64,
        progress: bool,
    ) -> plateau_data::Result<Self> {
        let raw = load_dataset(
            &config.dataset,
            config.path.as_deref(),
            base,
            config.classes.as_deref(),
            "upstream.classes",
            progress,
        )?;
        let input = InputSpec::new(
            config.channels.unwrap_or(raw.train.channels),
            config.image_size.unwrap_or(raw.train.height),
            raw.train.num_classes(),
        );
        let mut splits = upstream(
            raw,
            Amount::Fraction(config.val_fraction),
            Amount::Fraction(config.test_fraction),
            data_seed,
        )?;
        splits.test = at_most(
            splits.test,
            config.test_examples,
            data_seed,
            "upstream.test_examples",
        )?;
        splits.val = at_most(
            splits.val,
            config.val_examples,
            data_seed,
            "upstream.val_examples",
        )?;
        let fit = |set: ImageSet| prepare(set, input.channels, input.image_size);
        let splits = UpstreamSplits {
            train: fit(splits.train)?,
            val: fit(splits.val)?,
            test: fit(splits.test)?,
        };
        Ok(Self { splits, input })
    }

    /// The training set of one run (a data-size axis may shrink it).
    pub fn train_set(
        &self,
        train_examples: Option<usize>,
        data_seed: u64,
    ) -> plateau_data::Result<ImageSet> {
        match train_examples {
            None => Ok(self.splits.train.clone()),
            Some(n) => subsample(
                &self.splits.train,
                Amount::Count(n),
                data_seed,
                "upstream.train_examples",
            ),
        }
    }
}

/// A downstream task's few-shot pool and test split, prepared for the model's input.
pub struct DownstreamTask {
    pub config: DownstreamConfig,
    pub pool: ImageSet,
    pub test: ImageSet,
}

impl DownstreamTask {
    pub fn load(
        config: &DownstreamConfig,
        input: InputSpec,
        base: &Path,
        data_seed: u64,
        progress: bool,
    ) -> plateau_data::Result<Self> {
        let raw = load_dataset(
            &config.dataset,
            config.path.as_deref(),
            base,
            config.classes.as_deref(),
            "downstream.classes",
            progress,
        )?;
        let (pool, test) = downstream(raw, Amount::Fraction(config.test_fraction), data_seed)?;
        let test = at_most(
            test,
            config.test_examples,
            data_seed,
            "downstream.test_examples",
        )?;
        Ok(Self {
            config: config.clone(),
            pool: prepare(pool, input.channels, input.image_size)?,
            test: prepare(test, input.channels, input.image_size)?,
        })
    }
}
