//! Pruning a run's training set, the last step of its data preparation (after the subset and
//! the label noise): at random, or by EL2N score (computed before the run, by the sweep's
//! `scoring.rs`, and handed to it in its [`RunContext`](crate::run::train::RunContext)).

use anyhow::{Context, Result};
use plateau_data::ImageSet;
use plateau_data::prune::{KeepEnd, prune_at_random, prune_by_score};
use plateau_metrics::results::{Pruning, TrainingData};

use crate::run::spec::RunSpec;
use crate::sweep::sections::{PruneKeep, PruneMetric};

/// The training set of a run after its pruning, and its record with the pruning in it.
pub(crate) fn prune(
    spec: &RunSpec,
    set: ImageSet,
    record: Option<TrainingData>,
    el2n_scores: Option<&[f32]>,
) -> Result<(ImageSet, Option<TrainingData>)> {
    let up = &spec.upstream;
    let metric = match up.prune {
        None | Some(PruneMetric::None) => return Ok((set, record)),
        Some(metric) => metric,
    };
    let keep = up.keep.context("validated: pruning has a fraction kept")?;
    let (pruned, kept_end) = match metric {
        PruneMetric::Random => (prune_at_random(&set, keep, spec.data_seed, "keep")?, None),
        PruneMetric::El2n => {
            let scores = el2n_scores.context(
                "this run prunes by EL2N score, but no scores were given: train it through \
                 `plateau sweep` (or `plateau train CONFIG --run ID`), which scores first",
            )?;
            let end = up.prune_keep.unwrap_or_default();
            let which = match end {
                PruneKeep::Hard => KeepEnd::Hard,
                PruneKeep::Easy => KeepEnd::Easy,
            };
            (
                prune_by_score(&set, scores, keep, which, "keep")?,
                Some(end.name().to_string()),
            )
        }
        PruneMetric::None => unreachable!("returned above"),
    };
    let mut record = record.unwrap_or_default();
    record.examples = pruned.len();
    record.pruning = Some(Pruning {
        metric: metric.name().to_string(),
        keep,
        kept_end,
        before: set.len(),
        after: pruned.len(),
    });
    Ok((pruned, Some(record)))
}
