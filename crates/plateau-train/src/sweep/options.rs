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
    /// Where runs train at once, one run process each (`--jobs`, `--devices`); empty: one run
    /// at a time, as always.
    pub workers: Vec<Worker>,
}

/// Where one run process trains when a sweep trains several at once: a device of a GPU backend,
/// or a share of the CPU's cores. Given to the process through the variables its backend reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Worker {
    /// `cuda:1`, `wgpu:0`.
    pub device: Option<String>,
    /// The CPU backend's threads (rayon's pool).
    pub threads: Option<usize>,
}

impl Worker {
    /// `jobs` processes on the CPU backend, the machine's cores split evenly between them.
    pub fn for_jobs(jobs: usize) -> Vec<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / jobs.max(1)).max(1);
        (0..jobs)
            .map(|_| Self {
                device: None,
                threads: Some(threads),
            })
            .collect()
    }

    /// One worker per device of `list` (`cuda:0,cuda:1,cuda:0`: a device named twice runs two
    /// processes), each of `backend`.
    pub fn for_devices(list: &[String], backend: Backend) -> Result<Vec<Self>, String> {
        list.iter()
            .map(|device| {
                let (kind, index) = device.split_once(':').unwrap_or((device, ""));
                if kind != backend.name() || backend == Backend::Flex {
                    return Err(format!(
                        "--devices {device}: give devices of the GPU backend this sweep runs on, \
                         e.g. --backend cuda --devices cuda:0,cuda:1 (on the CPU backend, use \
                         --jobs N)"
                    ));
                }
                index.parse::<usize>().map_err(|_| {
                    format!("--devices {device}: the device index must be a number, e.g. {kind}:0")
                })?;
                Ok(Self {
                    device: Some(device.clone()),
                    threads: None,
                })
            })
            .collect()
    }

    /// The variables that put a run process on this worker: CUDA sees only its GPU, wgpu takes
    /// its discrete GPU, the CPU backend sizes its pool.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(threads) = self.threads {
            env.push(("RAYON_NUM_THREADS", threads.to_string()));
        }
        match self.device.as_deref().and_then(|d| d.split_once(':')) {
            Some(("cuda", index)) => env.push(("CUDA_VISIBLE_DEVICES", index.to_string())),
            Some(("wgpu", index)) => env.push((
                "CUBECL_WGPU_DEFAULT_DEVICE",
                format!("DiscreteGpu({index})"),
            )),
            _ => {}
        }
        env
    }
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
            workers: Vec::new(),
        }
    }

    pub(crate) fn chatty(&self) -> bool {
        !matches!(self.progress, ProgressMode::Off)
    }
}

/// Builds the command that trains one run (by id) in a child process; `None` trains in-process.
pub type ChildCommand<'a> = Option<&'a dyn Fn(&str) -> Command>;
