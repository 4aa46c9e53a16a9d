//! How a sweep is run: the choices of the command line, not of the config.

use std::path::PathBuf;
use std::process::Command;

use crate::Backend;
use crate::sweep::progress::ProgressMode;
use crate::sweep::shards::Shard;

/// How a sweep is run.
pub struct SweepOptions {
    pub backend: Backend,
    /// Overrides the config's `out_dir`.
    pub out_dir: Option<PathBuf>,
    pub dry_run: bool,
    pub rerun_failed: bool,
    /// How runs report; `Off` also silences data loading messages.
    pub progress: ProgressMode,
    /// Start the next run process while the previous one evaluates (see [`run_sweep`](crate::run_sweep)).
    pub overlap: bool,
    /// Train only this shard's share of the plan, into a folder other shards share (see
    /// `shards.rs`). With `dry_run`, prints the split among its `count` shards.
    pub shard: Option<Shard>,
}

impl SweepOptions {
    /// What a program that runs a sweep in its own process wants: the CPU backend, no progress
    /// output, the config's output folder unless `out_dir` says otherwise.
    pub fn quiet(out_dir: Option<PathBuf>) -> Self {
        Self {
            backend: Backend::Flex,
            out_dir,
            dry_run: false,
            rerun_failed: false,
            progress: ProgressMode::Off,
            overlap: false,
            shard: None,
        }
    }

    pub(crate) fn chatty(&self) -> bool {
        !matches!(self.progress, ProgressMode::Off)
    }
}

/// Builds the command that trains one run (by id) in a child process; `None` trains in-process.
pub type ChildCommand<'a> = Option<&'a dyn Fn(&str) -> Command>;
