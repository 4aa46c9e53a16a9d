//! The sweep runner: plans the grid, skips what is done, trains the rest (each run in a child
//! process when the caller provides one, so a panic or an out-of-memory kill costs only that
//! run; on the CPU the next run's process starts early and trains beside the previous run's
//! evaluation, never beside its training), and appends one result row per run, in plan order.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use plateau_metrics::results::{ResultRow, ResultsStore, RunStatus};

use crate::Backend;
use crate::child::{SweepLink, let_train, record_failure, start_run, watch_run};
use crate::config::SweepConfig;
use crate::data::{DownstreamTask, Upstream};
use crate::plan::{PlannedRun, expand};
use crate::progress::{Milestone, ProgressMode, SweepProgress};
use crate::run::{RunContext, RunSummary, read_summary, train};
use crate::timing::SweepTiming;
use crate::trace;

/// How a sweep is run.
pub struct SweepOptions {
    pub backend: Backend,
    /// Overrides the config's `out_dir`.
    pub out_dir: Option<PathBuf>,
    pub dry_run: bool,
    pub rerun_failed: bool,
    /// How runs report; `Off` also silences data loading messages.
    pub progress: ProgressMode,
    /// Start the next run process while the previous one evaluates (see [`run_sweep`]).
    pub overlap: bool,
}

impl SweepOptions {
    fn chatty(&self) -> bool {
        !matches!(self.progress, ProgressMode::Off)
    }
}

/// Builds the command that trains one run (by id) in a child process; `None` trains in-process.
pub type ChildCommand<'a> = Option<&'a dyn Fn(&str) -> Command>;

/// `<out_dir>/<name>/`.
pub fn sweep_dir(config: &SweepConfig, out_dir: Option<&Path>) -> PathBuf {
    out_dir.unwrap_or(&config.out_dir).join(&config.name)
}

/// Loads the upstream data and expands the grid.
pub fn plan(config: &SweepConfig, progress: bool) -> Result<(Upstream, Vec<PlannedRun>)> {
    trace::phase("load-data", &config.name);
    let upstream = Upstream::load(&config.upstream, config.seed, progress)?;
    let runs = expand(config, upstream.input).map_err(|e| match e {
        plateau_models::ModelError::Invalid { field, message } => config.error_in(&field, message),
        other => config.error_in("grid", other),
    })?;
    Ok((upstream, runs))
}

/// Loads every downstream task at the model input of the sweep.
pub fn load_downstream(
    config: &SweepConfig,
    upstream: &Upstream,
    progress: bool,
) -> Result<Vec<DownstreamTask>> {
    config
        .downstream
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let loaded = DownstreamTask::load(task, upstream.input, config.seed, progress)?;
            // Refused now rather than after the first run has trained.
            let (class, smallest) = loaded
                .pool
                .class_counts()
                .into_iter()
                .enumerate()
                .min_by_key(|&(_, count)| count)
                .unwrap_or((0, 0));
            if let Some(&shots) = task.shots.iter().max().filter(|&&s| s > smallest) {
                return Err(config
                    .error_in(
                        &format!("downstream[{i}].shots"),
                        format!(
                            "{shots} shots per class, but class {class} of {} has only {smallest} \
                             examples in the few-shot pool; use at most {smallest}",
                            task.task_name()
                        ),
                    )
                    .into());
            }
            Ok(loaded)
        })
        .collect()
}

/// Runs the sweep; returns the result rows of this invocation.
pub fn run_sweep(
    config: &SweepConfig,
    options: &SweepOptions,
    child: ChildCommand,
    stop: &AtomicBool,
) -> Result<Vec<ResultRow>> {
    let sweep_started = Instant::now();
    let dir = sweep_dir(config, options.out_dir.as_deref());
    let (upstream, runs) = plan(config, options.chatty())?;
    if options.dry_run {
        print_plan(config, &upstream, &runs)?;
        return Ok(Vec::new());
    }
    let _lock = claim_dir(&dir, config)?;
    // Fetch downstream data now, so no run waits on a download (children then find it on disk).
    let downstream = load_downstream(config, &upstream, options.chatty())?;
    let store = ResultsStore::new(&dir);
    store.repair()?;
    remove_stale_temporaries(&dir);
    let done = store.latest()?;
    let todo: Vec<&PlannedRun> = runs
        .iter()
        .filter(|run| match done.get(&run.id).map(|row| row.status) {
            Some(RunStatus::Ok | RunStatus::Diverged) => false,
            Some(RunStatus::Failed) => options.rerun_failed,
            None => true,
        })
        .collect();
    eprintln!(
        "sweep {}: {} runs, {} done, {} to train → {}",
        config.name,
        runs.len(),
        runs.len() - todo.len(),
        todo.len(),
        dir.display()
    );
    let mut timing = SweepTiming {
        setup_seconds: sweep_started.elapsed().as_secs_f64(),
        overlapped: options.overlap && child.is_some(),
        ..Default::default()
    };
    let started = Instant::now();
    let progress = SweepProgress::new(options.chatty(), &config.name, todo.len());
    // At most one run trains at a time. With overlap, the next run's process starts early (it
    // loads its data, then waits) and trains as soon as the previous run's training is over,
    // beside that run's last validation, test and probes: those leave a core idle for most
    // small models.
    let in_flight = match (child, options.overlap) {
        (Some(_), true) => 3,
        _ => 1,
    };
    let mut rows = Vec::new();
    let (notes_sender, notes) = mpsc::channel::<(usize, Note)>();
    std::thread::scope(|scope| -> Result<()> {
        let mut pending: VecDeque<Pending> = VecDeque::new();
        let mut next = 0;
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            // One run process loads its data at a time: three loading at once on two cores
            // made the first run start a second later.
            let loading = |pending: &VecDeque<Pending>| pending.iter().any(|slot| slot.loading);
            while pending.len() < in_flight && next < todo.len() && !stopping && !loading(&pending)
            {
                let (index, run) = (next, todo[next]);
                next += 1;
                let run_dir = dir.join(&run.id);
                let mut slot = Pending::new(index);
                if let Some(summary) = finished_on_disk(&run_dir) {
                    slot.stage = Stage::Ended {
                        summary,
                        began: true,
                    };
                    slot.ours = false;
                } else if let Some(command) = child {
                    match start_run(command(&run.id), &run_dir, progress.wants_events()) {
                        Ok(mut process) => {
                            slot.lifeline = process.stdin.take();
                            slot.loading = true;
                            let (sender, label, progress) =
                                (notes_sender.clone(), run.label(), &progress);
                            scope.spawn(move || {
                                let mut reached = |milestone| {
                                    let _ = sender.send((index, Note::Reached(milestone)));
                                };
                                let summary =
                                    watch_run(process, &run_dir, &label, progress, &mut reached);
                                let _ = sender.send((index, Note::Ended(summary)));
                            });
                        }
                        Err(error) => {
                            let why = format!("could not start the run's process: {error}");
                            slot.stage = Stage::Ended {
                                summary: RunSummary::failed(why),
                                began: false,
                            };
                        }
                    }
                } else {
                    progress.log(&start_line(index, todo.len(), started.elapsed(), run));
                    let mode = match options.progress {
                        ProgressMode::Off => ProgressMode::Off,
                        _ => progress.run_mode(),
                    };
                    let summary = train_in_process(
                        run,
                        &upstream,
                        &downstream,
                        options.backend,
                        mode,
                        &run_dir,
                        stop,
                    );
                    slot.wall = slot.started.elapsed();
                    slot.stage = Stage::Ended {
                        summary,
                        began: true,
                    };
                }
                pending.push_back(slot);
            }
            // The oldest waiting run process trains once no other run does.
            let training = pending
                .iter()
                .any(|slot| matches!(slot.stage, Stage::Training));
            if !training && !stopping {
                let waiting = pending
                    .iter_mut()
                    .find(|slot| matches!(slot.stage, Stage::Waiting));
                if let Some(slot) = waiting {
                    let run = todo[slot.index];
                    progress.log(&start_line(slot.index, todo.len(), started.elapsed(), run));
                    slot.stage = Stage::Training;
                    slot.started = Instant::now();
                    if let Some(lifeline) = &mut slot.lifeline {
                        // A process that died already is recorded when its watcher reports.
                        let _ = let_train(lifeline);
                    }
                    // The next run's process may start loading now.
                    continue;
                }
            }
            if stopping {
                // Processes still waiting for their turn end without training.
                for slot in pending
                    .iter_mut()
                    .filter(|slot| matches!(slot.stage, Stage::Waiting))
                {
                    slot.lifeline = None;
                }
            }
            // Results are recorded in the order of the plan.
            while pending
                .front()
                .is_some_and(|slot| matches!(slot.stage, Stage::Ended { .. }))
            {
                let slot = pending.pop_front().expect("front exists");
                let run = todo[slot.index];
                let Stage::Ended { summary, began } = slot.stage else {
                    unreachable!("checked above")
                };
                if stop.load(Ordering::SeqCst) && summary.status == RunStatus::Failed {
                    if began {
                        progress.log(&format!(
                            "interrupted: {} keeps its last epoch checkpoint; rerun the sweep \
                             to resume",
                            run.id
                        ));
                    }
                    continue;
                }
                if slot.ours {
                    timing.add_run(slot.wall, &summary.seconds);
                }
                let row = result_row(run, &summary, options.backend)?;
                trace::phase("append", &run.id);
                store.append(&row)?;
                progress.log(&format!("    {}: {}", run.id, describe(&row)));
                progress.run_done();
                rows.push(row);
            }
            if pending.is_empty() {
                match next == todo.len() || stopping {
                    true => break,
                    false => continue,
                }
            }
            // Some run process is still going: wait for it to say something.
            let (index, note) = notes.recv().expect("this scope holds a sender");
            let Some(slot) = pending.iter_mut().find(|slot| slot.index == index) else {
                continue;
            };
            match note {
                Note::Reached(Milestone::Ready) => slot.loading = false,
                Note::Reached(Milestone::Trained) => {
                    if matches!(slot.stage, Stage::Training) {
                        slot.stage = Stage::Evaluating;
                    }
                }
                Note::Ended(summary) => {
                    slot.loading = false;
                    let began = !matches!(slot.stage, Stage::Waiting);
                    slot.wall = slot.started.elapsed();
                    slot.stage = Stage::Ended { summary, began };
                    slot.lifeline = None;
                }
            }
        }
        Ok(())
    })?;
    progress.finish();
    trace::phase("report", &config.name);
    let reporting = Instant::now();
    let report = plateau_metrics::report::write_report(&dir)
        .with_context(|| format!("writing the report in {}", dir.display()))?;
    eprintln!("report: {}", report.display());
    timing.report_seconds = reporting.elapsed().as_secs_f64();
    timing.finish(sweep_started.elapsed());
    if timing.runs_trained > 0 {
        eprintln!("{}", timing.describe());
        let json = serde_json::to_string_pretty(&timing)?;
        plateau_data::cache::write_atomic(&dir.join(TIMING_FILE), json.as_bytes())?;
    }
    Ok(rows)
}

/// A run the sweep has started and not yet recorded.
struct Pending {
    /// Its place in the sweep's list of runs to train.
    index: usize,
    stage: Stage,
    /// When it was let train: time it spent waiting for its turn is not its own.
    started: Instant,
    /// From being let train to its result.
    wall: Duration,
    /// False for a run that had finished before this sweep (its time is not ours).
    ours: bool,
    /// The run process's stdin while it runs: a line lets it train, closing it stops it.
    lifeline: Option<ChildStdin>,
    /// Its process is loading data and model (not yet ready to train).
    loading: bool,
}

/// Where a pending run stands. At most one is `Training`.
enum Stage {
    /// Its process has started and waits for its turn.
    Waiting,
    Training,
    /// Training is over; it validates, tests and probes.
    Evaluating,
    /// `began`: whether it had been let train (a run that never did keeps no checkpoint).
    Ended {
        summary: RunSummary,
        began: bool,
    },
}

impl Pending {
    fn new(index: usize) -> Self {
        Self {
            index,
            stage: Stage::Waiting,
            started: Instant::now(),
            wall: Duration::ZERO,
            ours: true,
            lifeline: None,
            loading: false,
        }
    }
}

/// What a thread watching a run process tells the sweep (with the run's index).
enum Note {
    /// The run process reached a milestone.
    Reached(Milestone),
    Ended(RunSummary),
}

/// `[3/9, eta 120 s] 1a2b3c4d5e6f resnet …`
fn start_line(index: usize, count: usize, elapsed: Duration, run: &PlannedRun) -> String {
    let eta = match index {
        0 => String::new(),
        _ => format!(
            ", eta {:.0} s",
            elapsed.as_secs_f64() / index as f64 * (count - index) as f64
        ),
    };
    format!("[{}/{count}{eta}] {} {}", index + 1, run.id, run.label())
}

/// The summary of a run that finished after its sweep was killed, before its row was
/// written: recorded instead of trained again (its tidying finished too).
fn finished_on_disk(run_dir: &Path) -> Option<RunSummary> {
    let summary = read_summary(run_dir)
        .ok()
        .filter(|s| s.status != RunStatus::Failed)?;
    crate::checkpoint::remove(run_dir);
    remove_stale_temporaries(run_dir);
    Some(summary)
}

fn train_in_process(
    run: &PlannedRun,
    upstream: &Upstream,
    downstream: &[DownstreamTask],
    backend: Backend,
    progress: ProgressMode,
    run_dir: &Path,
    stop: &AtomicBool,
) -> RunSummary {
    let ctx = RunContext {
        upstream,
        downstream,
        backend,
        run_dir: run_dir.to_path_buf(),
        progress,
        sweep: None,
        stop,
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| train(run, &ctx))) {
        Ok(Ok(summary)) => summary,
        Ok(Err(error)) => RunSummary::failed(format!("{error:#}")),
        Err(panic) => RunSummary::failed(panic_message(&panic)),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    format!("panicked: {text}")
}

fn result_row(run: &PlannedRun, summary: &RunSummary, backend: Backend) -> Result<ResultRow> {
    let cost = run.spec.model.cost(&run.spec.input)?;
    Ok(ResultRow {
        run_id: run.id.clone(),
        family: run.spec.model.family().to_string(),
        preset: run.spec.preset.clone(),
        config: run.axes.clone(),
        model: serde_json::to_value(&run.spec.model)?,
        params: cost.params,
        flops_per_image: cost.flops,
        train_flops: 3.0 * cost.flops as f64 * summary.images_seen as f64,
        backend: backend.name().to_string(),
        status: summary.status,
        error: summary.error.clone(),
        upstream: summary.upstream.clone(),
        downstream: summary.downstream.clone(),
        train_seconds: summary.train_seconds,
        images_per_second: summary.images_per_second,
        epochs: summary.epochs,
        steps: summary.steps,
    })
}

fn describe(row: &ResultRow) -> String {
    match (&row.status, &row.upstream) {
        (RunStatus::Ok, Some(up)) => {
            let best = row
                .downstream
                .iter()
                .filter(|d| d.layer == "pre_logits")
                .map(|d| format!("{} {}-shot {:.3}", d.task, d.shots, d.accuracy_mean))
                .collect::<Vec<_>>();
            format!(
                "ok: test accuracy {:.4}, {:.0} s, {:.0} img/s{}",
                up.test_accuracy,
                row.train_seconds,
                row.images_per_second,
                if best.is_empty() {
                    String::new()
                } else {
                    format!("; {}", best.join(", "))
                }
            )
        }
        (status, _) => format!("{status:?}: {}", row.error.as_deref().unwrap_or("")),
    }
}

/// Removes the temporary files (`*.tmp-<pid>`) of writes that a killed process left half-done;
/// their complete versions were never renamed into place, so nothing is lost.
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().contains(".tmp-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The time account of the latest invocation that trained something.
pub const TIMING_FILE: &str = "timing.json";

/// The lock file that keeps two sweeps from writing into one folder at once.
pub const LOCK_FILE: &str = "sweep.lock";

/// Takes `dir` for this sweep: locks it against a second sweep running at the same time (the
/// lock lasts as long as the returned file is open, and the OS drops it if we are killed), and
/// refuses a folder that holds another sweep's results.
fn claim_dir(dir: &Path, config: &SweepConfig) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let lock_path = dir.join(LOCK_FILE);
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .with_context(|| lock_path.display().to_string())?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            bail!(
                "another sweep is writing to {} ({}); wait for it to finish, stop it, or pass \
                 another --out",
                dir.display(),
                match holder.trim() {
                    "" => "its process holds sweep.lock".to_string(),
                    pid => format!("process {pid} holds sweep.lock"),
                }
            );
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("locking {}", lock_path.display()));
        }
    }
    {
        use std::io::{Seek, Write};
        lock.set_len(0)?;
        lock.seek(std::io::SeekFrom::Start(0))?;
        write!(lock, "{}", std::process::id())?;
        lock.flush()?;
    }
    let marker = dir.join("sweep.json");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let owner: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: corrupt", marker.display()))?;
        if owner["name"] != serde_json::Value::String(config.name.clone()) {
            bail!(
                "{} holds the results of sweep {}, not {:?}; choose another --out or sweep name",
                dir.display(),
                owner["name"],
                config.name
            );
        }
    }
    let json = serde_json::to_string_pretty(config)?;
    plateau_data::cache::write_atomic(&marker, json.as_bytes())?;
    Ok(lock)
}

fn print_plan(config: &SweepConfig, upstream: &Upstream, runs: &[PlannedRun]) -> Result<()> {
    println!(
        "{:<12}  {:<40}  {:>12}  {:>10}  {:>14}",
        "run", "model", "params", "GFLOPs/img", "train PFLOPs"
    );
    let mut total = 0.0;
    for run in runs {
        let cost = run.spec.model.cost(&run.spec.input)?;
        let examples = run
            .spec
            .upstream
            .train_examples
            .unwrap_or(upstream.splits.train.len()) as f64;
        let images = match (run.spec.train.steps, run.spec.train.epochs) {
            (Some(steps), _) => (steps * run.spec.train.batch_size) as f64,
            (None, Some(epochs)) => epochs as f64 * examples,
            _ => 0.0,
        };
        let train_flops = 3.0 * cost.flops as f64 * images;
        total += train_flops;
        println!(
            "{:<12}  {:<40}  {:>12}  {:>10.4}  {:>14.6}",
            run.id,
            run.label(),
            cost.params,
            cost.flops as f64 / 1e9,
            train_flops / 1e15
        );
    }
    println!(
        "{} runs of sweep {}; estimated training compute {:.4} PFLOPs",
        runs.len(),
        config.name,
        total / 1e15
    );
    Ok(())
}

/// Trains the run `run_id` of the sweep in this process (what a child process does, with its
/// `sweep` link).
pub fn train_one(
    config: &SweepConfig,
    run_id: &str,
    options: &SweepOptions,
    sweep: Option<&SweepLink>,
    stop: &AtomicBool,
) -> Result<RunSummary> {
    let (upstream, runs) = plan(config, false)?;
    let run = runs.iter().find(|r| r.id == run_id).with_context(|| {
        format!(
            "no run {run_id} in sweep {}; `plateau sweep CONFIG --dry-run` lists the run ids",
            config.name
        )
    })?;
    let downstream = load_downstream(config, &upstream, false)?;
    let run_dir = sweep_dir(config, options.out_dir.as_deref()).join(run_id);
    let ctx = RunContext {
        upstream: &upstream,
        downstream: &downstream,
        backend: options.backend,
        run_dir: run_dir.clone(),
        progress: options.progress.clone(),
        sweep,
        stop,
    };
    // A panic (shapes, out-of-memory on a GPU allocator) is recorded like an error.
    let hook_dir = run_dir.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        record_failure(&hook_dir, &format!("panicked: {info}"));
        default_hook(info);
    }));
    let summary =
        train(run, &ctx).inspect_err(|error| record_failure(&run_dir, &format!("{error:#}")))?;
    if summary.status == RunStatus::Diverged {
        bail!("diverged: {}", summary.error.as_deref().unwrap_or(""));
    }
    Ok(summary)
}
