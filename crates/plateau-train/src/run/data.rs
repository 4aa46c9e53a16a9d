//! Wires plateau-data to a run: loads the upstream and downstream datasets, splits them with the
//! sweep's data seed, and prepares images at the model's input size and channels.

use plateau_data::split::{Amount, UpstreamSplits, class_subset, downstream, subsample, upstream};
use plateau_data::transform::prepare;
use plateau_data::{DataRoots, ImageSet, RawDataset};
use plateau_models::InputSpec;

use std::path::Path;

use plateau_data::noise::{Noise, corrupt_labels};
use plateau_metrics::results::{LabelNoise, TrainingData};

use crate::sweep::sections::{Dedup, DownstreamConfig, NoiseKind, UpstreamConfig};
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
    /// With `dedup`: `(copies within training, copies of test images)` dropped before splitting.
    pub dropped: Option<(usize, usize)>,
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
        // Deduplicate first: validation and test are then carved from clean data.
        let (raw, dropped) = match config.dedup {
            None => (raw, None),
            Some(Dedup::Exact) => {
                let unique = raw.train.deduplicated();
                let copies = raw.train.len() - unique.len();
                let (train, test_copies) = match &raw.test {
                    Some(test) => unique.without_images_of(test),
                    None => (unique, 0),
                };
                let raw = RawDataset {
                    train,
                    test: raw.test,
                };
                (raw, Some((copies, test_copies)))
            }
        };
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
        // A class map naming no class of the data is refused here, before any run trains.
        class_pairs(config.noise_map.iter().flatten(), &splits.train.class_names)?;
        let fit = |set: ImageSet| prepare(set, input.channels, input.image_size);
        let splits = UpstreamSplits {
            train: fit(splits.train)?,
            val: fit(splits.val)?,
            test: fit(splits.test)?,
        };
        Ok(Self {
            splits,
            input,
            dropped,
        })
    }

    /// The training set of one run: its subset (a data-size axis may shrink it), then its
    /// label noise; and, when noise changed it, what the run's record says of its data.
    pub fn train_set(
        &self,
        config: &UpstreamConfig,
        data_seed: u64,
    ) -> plateau_data::Result<(ImageSet, Option<TrainingData>)> {
        let mut set = match config.train_examples {
            None => self.splits.train.clone(),
            Some(n) => subsample(
                &self.splits.train,
                Amount::Count(n),
                data_seed,
                "upstream.train_examples",
            )?,
        };
        let mut record = TrainingData {
            examples: set.len(),
            label_noise: None,
            duplicates_dropped: self.dropped.map(|d| d.0),
            test_copies_dropped: self.dropped.map(|d| d.1),
            pruning: None,
        };
        let Some(rate) = config.label_noise.filter(|r| *r > 0.0) else {
            return Ok((set, self.dropped.is_some().then_some(record)));
        };
        let kind = config.noise.unwrap_or_default();
        let noise = match kind {
            NoiseKind::Symmetric => Noise::Symmetric,
            NoiseKind::Asymmetric => Noise::Asymmetric(class_pairs(
                config.noise_map.iter().flatten(),
                &set.class_names,
            )?),
        };
        let report = corrupt_labels(&mut set, rate, &noise, data_seed)?;
        record.label_noise = Some(LabelNoise {
            kind: kind.name().to_string(),
            rate,
            corrupted: report.corrupted,
            flipped: report.flipped,
            flipped_rate: report.flipped_rate,
        });
        Ok((set, Some(record)))
    }
}

/// A class map's names (or numbers) as label pairs; an unknown class names the valid ones.
fn class_pairs<'a>(
    map: impl Iterator<Item = (&'a String, &'a String)>,
    classes: &[String],
) -> plateau_data::Result<Vec<(u16, u16)>> {
    let class = |name: &str| -> plateau_data::Result<u16> {
        classes
            .iter()
            .position(|c| c == name)
            .or_else(|| name.parse::<usize>().ok().filter(|&n| n < classes.len()))
            .map(|i| i as u16)
            .ok_or_else(|| {
                plateau_data::DataError::invalid(
                    "upstream.noise_map",
                    format!(
                        "no class `{name}` in the training set; its classes: {}",
                        classes.join(", ")
                    ),
                )
            })
    };
    map.map(|(from, to)| Ok((class(from)?, class(to)?)))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::config::SweepConfig;

    fn config(extra: &str) -> UpstreamConfig {
        let text = format!(
            "name = \"n\"\n[upstream]\ndataset = \"synthetic\"\ntrain_examples = 400\n{extra}\n\
             [train]\noptimizer = \"adamw\"\nlr = 1e-2\nbatch_size = 50\nepochs = 1\n\
             [[grid]]\npreset = \"mixer-tiny-p4\"\n"
        );
        SweepConfig::parse(Path::new("n.toml"), &text, &[])
            .unwrap()
            .upstream
    }

    fn load(config: &UpstreamConfig) -> plateau_data::Result<Upstream> {
        Upstream::load(config, Path::new("."), 1, false)
    }

    /// The training set `config` gives, and the same without its noise.
    fn noisy_and_clean(
        data: &Upstream,
        config: &UpstreamConfig,
    ) -> (ImageSet, Option<TrainingData>, ImageSet) {
        let (noisy, record) = data.train_set(config, 1).unwrap();
        let without = UpstreamConfig {
            label_noise: None,
            ..config.clone()
        };
        (noisy, record, data.train_set(&without, 1).unwrap().0)
    }

    #[test]
    fn noise_touches_the_training_subset_only() {
        let config = config("label_noise = 0.3");
        let data = load(&config).unwrap();
        let (noisy, record, clean) = noisy_and_clean(&data, &config);
        let record = record.unwrap();
        let noise = record.label_noise.unwrap();
        assert_eq!((record.examples, noise.corrupted), (400, 120));
        let changed = noisy
            .labels
            .iter()
            .zip(&clean.labels)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(changed, noise.flipped);
        assert_eq!(noisy.pixels, clean.pixels, "the images are the clean ones");
        // Validation and test are those of the same data loaded without noise.
        let without = load(&UpstreamConfig {
            label_noise: None,
            ..config
        })
        .unwrap();
        assert_eq!(data.splits.val, without.splits.val);
        assert_eq!(data.splits.test, without.splits.test);
    }

    #[test]
    fn a_class_map_names_classes_or_is_refused_with_the_valid_ones() {
        let config = config("label_noise = 0.5\nnoise = \"asymmetric\"\nnoise_map = { 0 = \"1\" }");
        let data = load(&config).unwrap();
        let (noisy, record, clean) = noisy_and_clean(&data, &config);
        for (new, old) in noisy.labels.iter().zip(&clean.labels) {
            assert!(new == old || (*old, *new) == (0, 1), "{old} → {new}");
        }
        assert!(record.unwrap().label_noise.unwrap().flipped > 0);
        // Refused as the data loads, before any run could train on it.
        let bad = config_with_map("zebra");
        let error = load(&bad).err().unwrap().to_string();
        assert!(
            error.contains("noise_map") && error.contains("zebra"),
            "{error}"
        );
    }

    fn config_with_map(class: &str) -> UpstreamConfig {
        config(&format!(
            "label_noise = 0.5\nnoise = \"asymmetric\"\nnoise_map = {{ {class} = \"1\" }}"
        ))
    }
}
