//! plateau-train: the sweep config and planner, the training loop, checkpoints, and the sweep
//! runner that wires plateau-data, plateau-models and plateau-metrics together.

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod child;
pub mod config;
pub mod data;
pub mod features;
pub mod finetune;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod run;
pub mod runner;
pub mod schedule;
pub mod step;
pub mod timing;
pub mod trace;

pub use backend::{Backend, BackendError};
pub use config::SweepConfig;
pub use runner::{SweepOptions, run_sweep, train_one};
