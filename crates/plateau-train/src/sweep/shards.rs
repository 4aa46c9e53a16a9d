//! Shards: a sweep's plan split between N processes (the tasks of a Slurm job array, the pods of
//! a Kubernetes Indexed Job), each training only its share into one shared sweep folder.
//!
//! The split is a pure function of the plan: every task computes it alone and all agree. Runs
//! are dealt out largest first, each to the shard with the least analytic training FLOPs so far
//! (longest-processing-time order), so shards end together: no shard's load exceeds another's
//! by more than the largest run's cost. A distilled run goes with its teacher, so it never
//! waits on another task.

use std::collections::BTreeMap;

use crate::sweep::plan::PlannedRun;

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Where a task learns its shard when `--shard` is not given.
const SLURM_TASK: &str = "SLURM_ARRAY_TASK_ID";
const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";
const SLURM_MAX: &str = "SLURM_ARRAY_TASK_MAX";
const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";

impl Shard {
    /// `I/N`, as `--shard` takes it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("--shard {text:?}: give I/N with 0 <= I < N, e.g. --shard 0/4");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = index.trim().parse().map_err(|_| bad())?;
        let count: usize = count.trim().parse().map_err(|_| bad())?;
        match index < count {
            true => Ok(Self { index, count }),
            false => Err(bad()),
        }
    }

    /// The shard the environment names: a Slurm array task (its id within the array's range),
    /// or a Kubernetes Indexed Job's pod with `shards` given. `Ok(None)`: neither.
    pub fn from_env(shards: Option<usize>) -> Result<Option<Self>, String> {
        Self::from_vars(shards, &|name| std::env::var(name).ok())
    }

    fn from_vars(
        shards: Option<usize>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        let number = |name: &str| -> Result<Option<usize>, String> {
            match var(name) {
                None => Ok(None),
                Some(text) => text
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name}={text:?} is not a number")),
            }
        };
        if let Some(task) = number(SLURM_TASK)? {
            let min = number(SLURM_MIN)?.unwrap_or(0);
            let count = match (shards, number(SLURM_COUNT)?, number(SLURM_MAX)?) {
                (Some(n), _, _) => n,
                (None, Some(n), _) => n,
                (None, None, Some(max)) => max + 1 - min,
                (None, None, None) => {
                    return Err(format!(
                        "{SLURM_TASK} is set but not the array's size ({SLURM_COUNT} or \
                         {SLURM_MAX}); pass --shards N"
                    ));
                }
            };
            let index = task
                .checked_sub(min)
                .ok_or_else(|| format!("{SLURM_TASK}={task} is below {SLURM_MIN}={min}"))?;
            return Self::checked(index, count, SLURM_TASK).map(Some);
        }
        if let Some(index) = number(K8S_INDEX)? {
            let count = shards.ok_or_else(|| {
                format!("{K8S_INDEX} is set (a Kubernetes Indexed Job): pass --shards N, the job's completions")
            })?;
            return Self::checked(index, count, K8S_INDEX).map(Some);
        }
        Ok(None)
    }

    fn checked(index: usize, count: usize, source: &str) -> Result<Self, String> {
        match index < count {
            true => Ok(Self { index, count }),
            false => Err(format!(
                "{source} gives shard {index}, but there are only {count} shards"
            )),
        }
    }

    /// `2/4`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.index, self.count)
    }
}

/// The shard of every run of `runs` (in order) among `count`, given each run's cost.
pub(crate) fn assign(runs: &[PlannedRun], costs: &[f64], count: usize) -> Vec<usize> {
    assert!(count > 0 && runs.len() == costs.len());
    // A unit: a run, and the runs distilled from it (which wait for its weights).
    let teacher_of = |run: &PlannedRun| -> Option<usize> {
        let teacher = &run.spec.distill.as_ref()?.teacher;
        runs.iter().position(|other| &other.id == teacher)
    };
    let mut units: BTreeMap<usize, (f64, Vec<usize>)> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        let head = teacher_of(run).unwrap_or(i);
        let unit = units.entry(head).or_default();
        unit.0 += costs[i];
        unit.1.push(i);
    }
    let mut order: Vec<(usize, f64, Vec<usize>)> = units
        .into_iter()
        .map(|(head, (cost, members))| (head, cost, members))
        .collect();
    // Largest first; ties in plan order, so every task computes the same split.
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut load = vec![0.0_f64; count];
    let mut shard_of = vec![0; runs.len()];
    for (_, cost, members) in order {
        let lightest = (0..count)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .expect("count > 0");
        load[lightest] += cost;
        for member in members {
            shard_of[member] = lightest;
        }
    }
    shard_of
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::spec::DistillSpec;
    use crate::sweep::config::SweepConfig;
    use crate::sweep::plan::expand;

    fn runs(count: usize) -> Vec<PlannedRun> {
        let widths: Vec<String> = (1..=count).map(|w| (w * 4).to_string()).collect();
        let text = format!(
            "name = \"s\"\n[upstream]\ndataset = \"synthetic\"\n[train]\noptimizer = \"sgd\"\nlr = 0.1\nbatch_size = 8\nepochs = 1\n\
             [[grid]]\npreset = \"mixer-tiny-p4\"\nwidth = [{}]\n",
            widths.join(", ")
        );
        let config = SweepConfig::parse("s.toml".as_ref(), &text, &[]).unwrap();
        let input = plateau_models::InputSpec {
            channels: 1,
            image_size: 16,
            num_classes: 10,
        };
        expand(&config, input).unwrap()
    }

    #[test]
    fn shards_partition_the_plan_deterministically_and_balance_within_the_largest_run() {
        let runs = runs(23);
        let costs: Vec<f64> = (0..runs.len())
            .map(|i| ((i * 7919) % 97 + 1) as f64)
            .collect();
        for count in [1, 2, 3, 5, 8, 30] {
            let shards = assign(&runs, &costs, count);
            assert_eq!(shards, assign(&runs, &costs, count), "deterministic");
            // A partition: every run in exactly one shard, every shard index valid.
            assert_eq!(shards.len(), runs.len());
            assert!(shards.iter().all(|&s| s < count));
            let mut load = vec![0.0; count];
            for (i, &s) in shards.iter().enumerate() {
                load[s] += costs[i];
            }
            let largest = costs.iter().cloned().fold(0.0, f64::max);
            let (max, min) = load
                .iter()
                .fold((f64::MIN, f64::MAX), |(hi, lo), &l| (hi.max(l), lo.min(l)));
            if count <= runs.len() {
                assert!(max - min <= largest, "{count} shards: loads {load:?}");
            }
        }
    }

    #[test]
    fn a_distilled_run_goes_with_its_teacher() {
        let mut runs = runs(6);
        let teacher = runs[5].id.clone();
        for student in &mut runs[..3] {
            student.spec.distill = Some(DistillSpec {
                teacher: teacher.clone(),
                teacher_dir: None,
                temperature: 1.0,
                ce_weight: 0.0,
            });
        }
        let costs = vec![1.0; runs.len()];
        let shards = assign(&runs, &costs, 3);
        assert!(shards[..3].iter().all(|&s| s == shards[5]), "{shards:?}");
    }

    #[test]
    fn the_shard_comes_from_the_flag_slurm_or_kubernetes() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("1-3").is_err());
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let slurm = vars(&[(SLURM_TASK, "5"), (SLURM_MIN, "4"), (SLURM_MAX, "7")]);
        assert_eq!(
            Shard::from_vars(None, &slurm),
            Ok(Some(Shard { index: 1, count: 4 }))
        );
        let counted = vars(&[(SLURM_TASK, "2"), (SLURM_COUNT, "3")]);
        assert_eq!(
            Shard::from_vars(None, &counted),
            Ok(Some(Shard { index: 2, count: 3 }))
        );
        let k8s = vars(&[(K8S_INDEX, "2")]);
        assert!(Shard::from_vars(None, &k8s).is_err(), "needs --shards");
        assert_eq!(
            Shard::from_vars(Some(4), &k8s),
            Ok(Some(Shard { index: 2, count: 4 }))
        );
        assert!(
            Shard::from_vars(Some(2), &k8s).is_err(),
            "index past the count"
        );
        assert_eq!(Shard::from_vars(None, &vars(&[])), Ok(None));
    }
}
