//! plateau-train: the training loop, optimizers and schedules, checkpoints, and the sweep
//! planner and runner. For now it holds device selection; the trainer issue fills the rest.

pub mod backend;

pub use backend::{Backend, BackendError};
