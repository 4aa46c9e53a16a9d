//! plateau-train: wires plateau-data, plateau-models and plateau-metrics into runs and sweeps.
//!
//! - `run/`: one training run, from a resolved [`RunSpec`] to its [`RunSummary`].
//! - `sweep/`: a TOML config into a plan of runs, each trained in a process of its own, and a
//!   folder of results.
//! - [`bench`] and [`features`]: tools on top (step timing, feature exports).
//!
//! As a library, read a config, run it and read its results:
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use plateau_train::{Backend, ProgressMode, SweepConfig, SweepOptions, run_sweep};
//!
//! let config = SweepConfig::load("configs/smoke.toml".as_ref(), &[])?;
//! let options = SweepOptions {
//!     backend: Backend::default(),
//!     out_dir: None,
//!     dry_run: false,
//!     rerun_failed: false,
//!     progress: ProgressMode::Off,
//!     overlap: false,
//!     shard: None,
//!     workers: Vec::new(),
//! };
//! let outcome = run_sweep(&config, &options, None, &AtomicBool::new(false))?;
//! for row in &outcome.trained {
//!     println!("{} {:?} {:?}", row.run_id, row.status, row.upstream);
//! }
//! # anyhow::Ok(())
//! ```
//!
//! Where new things go:
//! - **an architecture**: plateau-models (a file per family and a `ModelConfig` variant); the
//!   sweep sees it through its presets and `model = { family = … }`; nothing here changes.
//! - **a dataset**: plateau-data (a file in `formats/` and a registry entry); nothing here.
//! - **a sweep axis**: one entry in `sweep/axes.rs` (name, values, how it sets a run's spec,
//!   its role for studies); config keys, planning, selection and the report follow from it.
//! - **a downstream measurement**: a file in `run/measure/` implementing `Measurement`, and
//!   one line in its `MEASUREMENTS`; add its seconds to `PhaseSeconds` if it needs its own.
//! - **a durable file**: write it through plateau-store (atomic replace, staged folder or JSONL).

mod backend;
pub mod bench;
pub mod devices;
pub mod features;
pub mod logits;
mod run;
mod sweep;
#[doc(hidden)]
pub mod trace;

pub use backend::{Backend, BackendError};
pub use run::checkpoint::{read_burnpack, read_safetensors};
pub use run::data::{DownstreamTask, Upstream};
pub use run::spec::{DistillSpec, RunSpec, run_id};
pub use run::summary::{RunSummary, read_summary};
pub use run::train::{RunContext, train};
pub use sweep::axes::meanings as axis_meanings;
pub use sweep::claims::ClaimInfo;
pub use sweep::config::{
    ConfigError, Dedup, DistillConfig, DownstreamConfig, FinetuneConfig, GridEntry, Layers,
    NoiseKind, OptimizerKind, PruneKeep, PruneMetric, Schedule, ScorerConfig, SweepConfig,
    TeacherConfig, TrackingConfig, TrainConfig, UpstreamConfig,
};
pub use sweep::folders::sweep_dir;
pub use sweep::inputs::{load_downstream, plan};
pub use sweep::one_run::train_one;
pub use sweep::options::{ChildCommand, SweepOptions, Worker};
pub use sweep::plan::{PlannedRun, expand, grid_size};
pub use sweep::progress::ProgressMode;
pub use sweep::reconcile::merge_results;
pub use sweep::run_process::{SWEEP_CHILD_FLAG, SweepLink};
pub use sweep::runner::{SweepOutcome, run_sweep};
pub use sweep::shards::Shard;
pub use sweep::slurm::{SlurmJob, SlurmScripts, Submitted, submit, write_scripts};
pub use sweep::source::{DatasetSource, IdxFiles, OwnDataset};
pub use sweep::status::{RunState, SweepStatus, sweep_status};
pub use sweep::tracking::tracker::{SyncReport, sync_tracking};

/// The results a sweep writes, as plateau-metrics reads them.
pub use plateau_metrics::results::{DownstreamResult, ResultRow, ResultsStore, RunStatus};
