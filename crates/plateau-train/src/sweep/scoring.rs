//! EL2N scores for pruning, computed once per sweep and training set, before the runs that
//! need them, and kept in the sweep folder:
//!
//! ```text
//! pruning/el2n-<key>.json        the scores, written atomically (read back on resume)
//! pruning/el2n-<key>/seed-<s>/   each scorer's run folder (checkpoints: a killed pass resumes)
//! ```
//!
//! A scorer is the configured preset trained briefly on the run's training set (the sweep's
//! recipe for `prune_scorer.epochs`), once per scorer seed; the scores (plateau-data's `el2n`)
//! are averaged over the seeds. `<key>` hashes the scorers' specs, so runs with the same
//! training set share one scoring pass, and a changed scorer or data scores anew.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use plateau_data::prune::el2n;
use plateau_metrics::results::RunStatus;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Backend;
use crate::features::load_trained;
use crate::run::data::Upstream;
use crate::run::evaluate::logits_of;
use crate::run::spec::{RunSpec, run_id};
use crate::run::summary::read_summary;
use crate::run::train::{RunContext, train};
use crate::sweep::folders::lock_run_dir;
use crate::sweep::plan::PlannedRun;
use crate::sweep::progress::ProgressMode;
use crate::sweep::sections::{PruneMetric, ScorerConfig, TrainConfig, UpstreamConfig};

/// The folder of a sweep that holds its pruning scores.
const PRUNING_DIR: &str = "pruning";

/// Where the scorers train and what they may use.
pub(crate) struct Scoring<'a> {
    pub sweep_dir: &'a Path,
    pub upstream: &'a Upstream,
    pub backend: Backend,
    pub progress: ProgressMode,
    pub stop: &'a AtomicBool,
    /// Says a line to the user (above the progress bars of a sweep).
    pub say: &'a dyn Fn(&str),
}

/// The EL2N scores a run prunes by, or `None` for a run that does not.
pub(crate) fn scores_for(spec: &RunSpec, scoring: &Scoring) -> Result<Option<Vec<f32>>> {
    scoring_pass(spec)?
        .map(|pass| el2n_scores(&pass, spec, scoring))
        .transpose()
}

/// One scoring pass: the scorer, its spec and run id per seed, and the key that names its
/// files (runs with the same key share the pass).
pub(crate) struct ScoringPass {
    pub scorer: ScorerConfig,
    pub specs: Vec<RunSpec>,
    pub ids: Vec<String>,
    pub key: String,
}

/// The scoring pass of a run that prunes by EL2N; `None` for any other run.
pub(crate) fn scoring_pass(spec: &RunSpec) -> Result<Option<ScoringPass>> {
    let (Some(PruneMetric::El2n), Some(scorer)) =
        (&spec.upstream.prune, &spec.upstream.prune_scorer)
    else {
        return Ok(None);
    };
    let specs = scorer_specs(spec, scorer)?;
    let ids: Vec<String> = specs.iter().map(run_id).collect();
    let digest = Sha256::digest(ids.join(",").as_bytes());
    let key = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Ok(Some(ScoringPass {
        scorer: scorer.clone(),
        specs,
        ids,
        key,
    }))
}

/// What `pruning/el2n-<key>.json` holds.
#[derive(Serialize, Deserialize)]
struct ScoresFile {
    scorer: ScorerConfig,
    /// The scorer run of each seed, by id (their folders are beside this file).
    scorer_runs: Vec<String>,
    /// One score per training example, in the training set's order.
    scores: Vec<f32>,
}

/// The EL2N scores of `spec`'s training set (before pruning), from its scoring `pass`: read from
/// the sweep folder, or computed there when no finished pass is on disk.
pub(crate) fn el2n_scores(
    pass: &ScoringPass,
    spec: &RunSpec,
    scoring: &Scoring,
) -> Result<Vec<f32>> {
    let ScoringPass {
        scorer,
        specs,
        ids,
        key,
    } = pass;
    let dir = scoring.sweep_dir.join(PRUNING_DIR);
    let file = dir.join(format!("el2n-{key}.json"));
    let (train_set, _) = scoring
        .upstream
        .train_set(&specs[0].upstream, spec.data_seed)?;
    if let Some(scores) = read_scores(&file, train_set.len()) {
        return Ok(scores);
    }
    let work = dir.join(format!("el2n-{key}"));
    std::fs::create_dir_all(&work).with_context(|| work.display().to_string())?;
    // A second process that wants the same scores waits here, then reads the first one's.
    let _lock = lock_run_dir(&work)?;
    if let Some(scores) = read_scores(&file, train_set.len()) {
        return Ok(scores);
    }
    (scoring.say)(&format!(
        "scoring {} training examples for EL2N pruning: {} × {} seeds, {} epochs → {}",
        train_set.len(),
        scorer.preset,
        scorer.seeds,
        scorer.epochs,
        file.display()
    ));
    let mut sum = vec![0.0f64; train_set.len()];
    for (scorer_spec, id) in specs.iter().zip(ids) {
        let run_dir = work.join(format!("seed-{}", scorer_spec.seed));
        train_scorer(scorer_spec, id, &run_dir, scoring)?;
        let (_, model, device) = load_trained(&run_dir, scoring.backend)?;
        let logits = logits_of(&model, &train_set, spec.train.eval_batch_size, &device);
        let scores = el2n(&logits, &train_set.labels, train_set.num_classes());
        for (total, score) in sum.iter_mut().zip(scores) {
            *total += score as f64;
        }
    }
    let scores: Vec<f32> = sum
        .iter()
        .map(|s| (s / specs.len() as f64) as f32)
        .collect();
    let json = serde_json::to_vec(&ScoresFile {
        scorer: scorer.clone(),
        scorer_runs: ids.clone(),
        scores: scores.clone(),
    })?;
    plateau_store::write_atomic(&file, &json)?;
    Ok(scores)
}

/// The scorer's spec for each of its seeds: the run's data without its pruning, the sweep's
/// recipe for `epochs`, no downstream tasks.
fn scorer_specs(spec: &RunSpec, scorer: &ScorerConfig) -> Result<Vec<RunSpec>> {
    let mut model = plateau_models::preset(&scorer.preset)?.config();
    if let Some(width) = scorer.width {
        model = model.with_width(width);
    }
    if let Some(depth) = scorer.depth {
        model = model.with_depth(depth);
    }
    model
        .validate(&spec.input)
        .context("upstream.prune_scorer: the scorer does not fit this dataset")?;
    let upstream = UpstreamConfig {
        prune: None,
        keep: None,
        prune_scorer: None,
        prune_keep: None,
        ..spec.upstream.clone()
    };
    let train = TrainConfig {
        epochs: Some(scorer.epochs),
        steps: None,
        ..spec.train.clone()
    };
    Ok((0..scorer.seeds)
        .map(|seed| RunSpec {
            preset: Some(scorer.preset.clone()),
            model: model.clone(),
            input: spec.input,
            upstream: upstream.clone(),
            train: train.clone(),
            downstream: Vec::new(),
            seed,
            data_seed: spec.data_seed,
            config_dir: spec.config_dir.clone(),
            distill: None,
        })
        .collect())
}

/// The scores in `file`, if it holds a finished pass over a set of `examples`; a damaged file
/// is said and scored again (the scores are derived data).
fn read_scores(file: &Path, examples: usize) -> Option<Vec<f32>> {
    let bytes = std::fs::read(file).ok()?;
    match serde_json::from_slice::<ScoresFile>(&bytes) {
        Ok(read) if read.scores.len() == examples => Some(read.scores),
        Ok(read) => {
            eprintln!(
                "note: {} holds {} scores for {examples} training examples; scoring again",
                file.display(),
                read.scores.len()
            );
            None
        }
        Err(error) => {
            eprintln!(
                "note: {} is damaged ({error}); scoring again",
                file.display()
            );
            None
        }
    }
}

/// Trains one scorer, unless its folder holds a finished one; a stopped one resumes.
fn train_scorer(spec: &RunSpec, id: &str, run_dir: &Path, scoring: &Scoring) -> Result<()> {
    let finished = read_summary(run_dir).is_ok_and(|s| s.status == RunStatus::Ok)
        && run_dir.join("model.safetensors").is_file();
    if finished {
        return Ok(());
    }
    let run = PlannedRun {
        id: id.to_string(),
        spec: spec.clone(),
        axes: [("seed".to_string(), spec.seed.into())].into(),
    };
    let ctx = RunContext {
        upstream: scoring.upstream,
        downstream: &[],
        el2n_scores: None,
        backend: scoring.backend,
        run_dir: run_dir.to_path_buf(),
        progress: scoring.progress.clone(),
        sweep: None,
        stop: scoring.stop,
        // A scorer is a means, not a run of the study: nothing for TensorBoard to show.
        tensorboard: false,
    };
    let summary = train(&run, &ctx)
        .with_context(|| format!("training the EL2N scorer {}", run_dir.display()))?;
    if summary.status != RunStatus::Ok {
        bail!(
            "the EL2N scorer in {} did not finish ({}); give `upstream.prune_scorer` another \
             preset or fewer epochs, or lower `train.lr`",
            run_dir.display(),
            summary.error.unwrap_or_default()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::pruning::prune;
    use crate::sweep::config::SweepConfig;
    use plateau_data::ImageSet;
    use std::path::PathBuf;

    fn spec_and_data(prune: &str) -> (RunSpec, Upstream) {
        let text = format!(
            "name = \"p\"\n[upstream]\ndataset = \"synthetic\"\nimage_size = 8\n\
             train_examples = 120\nval_examples = 40\ntest_examples = 40\nkeep = 0.5\n\
             prune = \"{prune}\"\nlabel_noise = 0.2\n\
             prune_scorer = {{ preset = \"mixer-tiny-p4\", width = 8, epochs = 1, seeds = 2 }}\n\
             [train]\noptimizer = \"adamw\"\nlr = 1e-2\nbatch_size = 40\nepochs = 1\n\
             [[grid]]\npreset = \"mixer-tiny-p4\"\ndepth = [1]\n"
        );
        let config = SweepConfig::parse(Path::new("p.toml"), &text, &[]).unwrap();
        let (upstream, runs) = crate::sweep::inputs::plan(&config, false).unwrap();
        (runs[0].spec.clone(), upstream)
    }

    fn scoring<'a>(dir: &'a Path, upstream: &'a Upstream, stop: &'a AtomicBool) -> Scoring<'a> {
        Scoring {
            sweep_dir: dir,
            upstream,
            backend: Backend::default(),
            progress: ProgressMode::Off,
            stop,
            say: &|_| {},
        }
    }

    /// Softmax − one-hot, by hand, for the logits of each scorer on the (noisy) training set.
    fn direct_el2n(work: &Path, set: &ImageSet, seeds: u64) -> Vec<f64> {
        let mut mean = vec![0.0; set.len()];
        for seed in 0..seeds {
            let (_, model, device) =
                load_trained(&work.join(format!("seed-{seed}")), Backend::default()).unwrap();
            let logits = logits_of(&model, set, 7, &device);
            let k = set.num_classes();
            for (i, row) in logits.chunks(k).enumerate() {
                let exp: Vec<f64> = row.iter().map(|&z| (z as f64).exp()).collect();
                let total: f64 = exp.iter().sum();
                let norm = exp
                    .iter()
                    .enumerate()
                    .map(|(c, e)| (e / total - f64::from(c == set.labels[i] as usize)).powi(2))
                    .sum::<f64>()
                    .sqrt();
                mean[i] += norm / seeds as f64;
            }
        }
        mean
    }

    #[test]
    fn el2n_scores_are_the_seed_mean_of_a_direct_computation_and_come_back_from_disk() {
        let (spec, upstream) = spec_and_data("el2n");
        let sweep = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let scoring = scoring(sweep.path(), &upstream, &stop);
        let scores = scores_for(&spec, &scoring).unwrap().unwrap();
        let (noisy, _) = upstream.train_set(&spec.upstream, spec.data_seed).unwrap();
        assert_eq!(scores.len(), 120);
        let files: Vec<PathBuf> = std::fs::read_dir(sweep.path().join(PRUNING_DIR))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let file = files.iter().find(|p| p.is_file()).unwrap().clone();
        let work = files.iter().find(|p| p.is_dir()).unwrap().clone();
        for (score, direct) in scores.iter().zip(direct_el2n(&work, &noisy, 2)) {
            assert!((*score as f64 - direct).abs() < 1e-5, "{score} vs {direct}");
        }
        // Read back, not retrained; a damaged file is scored again from the finished scorers.
        let trained = std::fs::metadata(work.join("seed-0/model.safetensors"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(scores_for(&spec, &scoring).unwrap().unwrap(), scores);
        std::fs::write(&file, b"{\"scores\": [1, 2").unwrap();
        assert_eq!(scores_for(&spec, &scoring).unwrap().unwrap(), scores);
        let after = std::fs::metadata(work.join("seed-0/model.safetensors"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(trained, after, "the scorer was not trained again");

        // Keeping the hard end keeps the highest scores of each class.
        let (pruned, record) = prune(&spec, noisy.clone(), None, Some(&scores)).unwrap();
        let record = record.unwrap().pruning.unwrap();
        let quotas = plateau_data::prune::kept_per_class(&noisy, 0.5, "keep").unwrap();
        let kept: usize = quotas.iter().sum();
        assert_eq!(
            (record.before, record.after, pruned.len()),
            (120, kept, kept)
        );
        assert_eq!(pruned.class_counts(), quotas);
        for class in 0..noisy.num_classes() as u16 {
            fn of_class(set: &ImageSet, class: u16) -> impl Iterator<Item = usize> + '_ {
                (0..set.len()).filter(move |&i| set.labels[i] == class)
            }
            let kept: std::collections::HashSet<&[u8]> =
                of_class(&pruned, class).map(|i| pruned.image(i)).collect();
            let lowest_kept = of_class(&noisy, class)
                .filter(|&i| kept.contains(noisy.image(i)))
                .map(|i| scores[i])
                .fold(f32::INFINITY, f32::min);
            let highest_dropped = of_class(&noisy, class)
                .filter(|&i| !kept.contains(noisy.image(i)))
                .map(|i| scores[i])
                .fold(f32::NEG_INFINITY, f32::max);
            assert!(
                lowest_kept >= highest_dropped,
                "class {class}: {lowest_kept} < {highest_dropped}"
            );
        }
    }

    #[test]
    fn random_pruning_keeps_as_many_per_class_as_el2n_without_a_scorer() {
        let (random, upstream) = spec_and_data("random");
        assert!(
            random.upstream.prune_scorer.is_none(),
            "unused, so not in the id"
        );
        let sweep = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let scoring = scoring(sweep.path(), &upstream, &stop);
        let (set, _) = upstream
            .train_set(&random.upstream, random.data_seed)
            .unwrap();
        let (pruned, record) = prune(
            &random,
            set.clone(),
            None,
            scores_for(&random, &scoring).unwrap().as_deref(),
        )
        .unwrap();
        assert!(!sweep.path().join(PRUNING_DIR).exists());
        let quotas = plateau_data::prune::kept_per_class(&set, 0.5, "keep").unwrap();
        assert_eq!(pruned.class_counts(), quotas);
        assert_eq!(record.unwrap().pruning.unwrap().metric, "random");
    }
}
