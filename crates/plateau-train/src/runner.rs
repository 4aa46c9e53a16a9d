//! The sweep runner: plans the grid, skips what is done, trains the rest one run at a time (each
//! in a child process when the caller provides one, so a panic or an out-of-memory kill costs only
//! that run), and appends one result row per run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use plateau_metrics::results::{ResultRow, ResultsStore, RunStatus};

use crate::Backend;
use crate::config::SweepConfig;
use crate::data::{DownstreamTask, Upstream};
use crate::plan::{PlannedRun, expand};
use crate::progress::{ProgressMode, SweepProgress};
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
    let sweep_started = std::time::Instant::now();
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
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let progress = SweepProgress::new(options.chatty(), &config.name, todo.len());
    let mut rows = Vec::new();
    for (i, run) in todo.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let eta = match i {
            0 => String::new(),
            _ => format!(
                ", eta {:.0} s",
                started.elapsed().as_secs_f64() / i as f64 * (todo.len() - i) as f64
            ),
        };
        progress.log(&format!(
            "[{}/{}{eta}] {} {}",
            i + 1,
            todo.len(),
            run.id,
            run.label()
        ));
        let run_dir = dir.join(&run.id);
        // A run that finished after its sweep was killed (before the row was written) has
        // its summary on disk already: record it instead of training again.
        let finished = read_summary(&run_dir)
            .ok()
            .filter(|s| s.status != RunStatus::Failed);
        let run_started = std::time::Instant::now();
        let trained = finished.is_none();
        let summary = match (finished, child) {
            (Some(summary), _) => {
                // Finish its tidying too, should the kill have come before that.
                crate::checkpoint::remove(&run_dir);
                remove_stale_temporaries(&run_dir);
                summary
            }
            (None, Some(command)) => {
                train_in_child(command(&run.id), &run_dir, &run.label(), &progress)
            }
            (None, None) => {
                let mode = match options.progress {
                    ProgressMode::Off => ProgressMode::Off,
                    _ => progress.run_mode(),
                };
                train_in_process(
                    run,
                    &upstream,
                    &downstream,
                    options.backend,
                    mode,
                    &run_dir,
                    stop,
                )
            }
        };
        if stop.load(Ordering::SeqCst) && summary.status == RunStatus::Failed {
            progress.log(&format!(
                "interrupted: {} keeps its last epoch checkpoint; rerun the sweep to resume",
                run.id
            ));
            break;
        }
        if trained {
            timing.add_run(run_started.elapsed(), &summary.seconds);
        }
        let row = result_row(run, &summary, options.backend)?;
        trace::phase("append", &run.id);
        store.append(&row)?;
        progress.log(&format!("    {}", describe(&row)));
        progress.run_done();
        rows.push(row);
    }
    progress.finish();
    trace::phase("report", &config.name);
    let reporting = std::time::Instant::now();
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
        stop,
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| train(run, &ctx))) {
        Ok(Ok(summary)) => summary,
        Ok(Err(error)) => failed(format!("{error:#}")),
        Err(panic) => failed(panic_message(&panic)),
    }
}

fn train_in_child(
    mut command: Command,
    run_dir: &Path,
    label: &str,
    progress: &SweepProgress,
) -> RunSummary {
    // An error of an earlier attempt must not pass for this one.
    let _ = std::fs::remove_file(run_dir.join(ERROR_LOG));
    // Under our bars the child sends progress events on its stdout; otherwise it shares our
    // stderr and logs plain lines itself. It leaves its error in a file either way.
    if progress.wants_events() {
        command
            .arg(PROGRESS_EVENTS_FLAG)
            .stdout(std::process::Stdio::piped());
    }
    // The child watches this pipe and exits when it closes: when we die, however we die (a
    // SIGKILL runs no handler), so an orphan never trains on beside a resumed sweep.
    command
        .arg(EXIT_WITH_PARENT_FLAG)
        .stdin(std::process::Stdio::piped());
    let status = match command.spawn() {
        Ok(mut child) => {
            // Held open until the child ends (`wait` would close it first).
            let _lifeline = child.stdin.take();
            if let Some(stdout) = child.stdout.take() {
                progress.follow_child(label, stdout);
            }
            child.wait()
        }
        Err(error) => Err(error),
    };
    let status = match status {
        Ok(status) => status,
        Err(error) => return failed(format!("could not run the run's process: {error}")),
    };
    match (status.success(), read_summary(run_dir)) {
        (true, Ok(summary)) => summary,
        (_, Ok(summary)) if summary.status == RunStatus::Diverged => summary,
        _ => {
            let why = std::fs::read_to_string(run_dir.join(ERROR_LOG)).unwrap_or_default();
            failed(format!(
                "run process ended with {}: {}",
                describe_exit(&status),
                why.trim()
            ))
        }
    }
}

/// How a run process ended, in words that point at the likely cause.
fn describe_exit(status: &std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        match status.signal() {
            Some(9) => {
                return "signal 9 (SIGKILL: killed, e.g. by the kernel's out-of-memory killer; \
                        `dmesg` tells) — give it more memory or a smaller model or batch"
                    .to_string();
            }
            Some(6) => {
                return "signal 6 (SIGABRT: aborted, as a failed memory allocation does; the \
                        run's output above names the allocation) — give it more memory or a \
                        smaller model or batch"
                    .to_string();
            }
            Some(signal) => return format!("signal {signal}"),
            None => {}
        }
    }
    "an unknown signal".to_string()
}

/// The `plateau train` flag that asks a child run for progress events instead of its own bar.
pub const PROGRESS_EVENTS_FLAG: &str = "--progress-events";

/// The `plateau train` flag that makes a child run exit when its sweep process is gone.
pub const EXIT_WITH_PARENT_FLAG: &str = "--exit-with-parent";

/// Exits this process as soon as standard input closes, which is when the sweep that started
/// it dies. Everything a run writes is atomic, so stopping anywhere loses only unsaved work.
pub fn exit_with_parent() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin().lock();
        while matches!(std::io::Read::read(&mut stdin, &mut sink), Ok(n) if n > 0) {}
        std::process::exit(137);
    });
}

/// Where a run process writes why it failed, for the sweep to record.
pub const ERROR_LOG: &str = "error.log";

/// Records a run's failure in its folder (the `train` command calls this on error or panic).
pub fn record_failure(run_dir: &Path, message: &str) {
    let _ = std::fs::create_dir_all(run_dir);
    let _ = std::fs::write(run_dir.join(ERROR_LOG), message);
}

fn failed(error: String) -> RunSummary {
    RunSummary {
        status: RunStatus::Failed,
        error: Some(error),
        upstream: None,
        downstream: Vec::new(),
        train_seconds: 0.0,
        images_per_second: 0.0,
        images_seen: 0,
        epochs: 0,
        steps: 0,
        seconds: Default::default(),
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

/// Trains the run `run_id` of the sweep in this process (what a child process does).
pub fn train_one(
    config: &SweepConfig,
    run_id: &str,
    options: &SweepOptions,
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
