//! A sweep, from one TOML file to a folder of results: the config and its table of axes, the
//! plan, the runner that trains each run in a process of its own, and what it records.
//!
//! - `config.rs`: the TOML file, validated; `sections.rs`: its data, training and downstream
//!   sections; `source.rs`: a `dataset` (a registry name or data of one's own); `grid.rs`: its
//!   `[[grid]]` entries; `overrides.rs`: `--set`.
//! - `axes.rs`: the table of sweep axes, each declared once.
//! - `plan.rs`: grid expansion into run specs and their ids; `dry_run.rs` prints it;
//!   `teacher.rs`: the teacher of distilled runs, found and checked as the grid is planned.
//! - `inputs.rs`: the data every run reads, loaded once and checked before anything trains.
//! - `runner.rs`: the loop over runs; `options.rs`: how it is run; `scoring.rs`: the EL2N
//!   scores that pruned runs need, computed once per sweep before them; `compute.rs`: each
//!   run's training FLOPs before it trains.
//! - `shards.rs`: the plan split among the tasks of a cluster job; `claims.rs`: which process
//!   trains a run when several share the sweep folder; `slurm.rs`: the batch scripts of
//!   `plateau slurm`.
//! - `run_process.rs`: the protocol between a sweep and its run processes; `one_run.rs`: a run
//!   trained in this process or as a run process.
//! - `record.rs`: a run's result row; `folders.rs`: output folders, their locks and the
//!   record each run keeps; `reconcile.rs`: results files rebuilt from the run folders.
//! - `progress.rs` + `timing.rs`: what a sweep shows and where its time went; `status.rs`:
//!   where a sweep stands, read from its folder (`plateau status`).
//! - `tracking/`: the `[tracking]` section, and the MLflow server the sweep feeds as it runs.

pub(crate) mod axes;
pub(crate) mod claims;
pub(crate) mod compute;
pub(crate) mod config;
pub(crate) mod dry_run;
pub(crate) mod folders;
pub(crate) mod grid;
pub(crate) mod inputs;
pub(crate) mod one_run;
pub(crate) mod options;
pub(crate) mod overrides;
pub(crate) mod plan;
pub(crate) mod progress;
pub(crate) mod reconcile;
pub(crate) mod record;
pub(crate) mod run_process;
pub(crate) mod runner;
pub(crate) mod scoring;
pub(crate) mod sections;
pub(crate) mod shards;
pub(crate) mod slurm;
pub(crate) mod source;
pub(crate) mod status;
pub(crate) mod teacher;
pub(crate) mod timing;
pub(crate) mod tracking;
