//! The sweep runner: plans the grid, skips what is done, trains the rest (each run in a child
//! process when the caller provides one, so a panic or an out-of-memory kill costs only that
//! run; on the CPU the next run's process starts early and trains beside the previous run's
//! evaluation, never beside its training), and appends one result row per run, in plan order.

use std::collections::VecDeque;
use std::process::ChildStdin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use plateau_metrics::results::{ResultRow, ResultsStore, RunStatus};

use crate::run::summary::RunSummary;
use crate::run::train::RunContext;
use crate::sweep::axes;
use crate::sweep::claims::{ClaimKeeper, Claimed, claim};
use crate::sweep::compute::planned_train_flops;
use crate::sweep::config::SweepConfig;
use crate::sweep::dry_run::print_plan;
use crate::sweep::folders::{
    TIMING_FILE, claim_dir, folder_rows, link_tensorboard_names, read_record, stale_runs,
    sweep_dir, write_record,
};
use crate::sweep::inputs::{load_downstream, plan};
use crate::sweep::one_run::train_in_process;
use crate::sweep::options::{ChildCommand, SweepOptions, Worker};
use crate::sweep::plan::PlannedRun;
use crate::sweep::progress::{Milestone, ProgressMode, SweepProgress};
use crate::sweep::reconcile::{Reconciled, reconcile};
use crate::sweep::record::{describe, result_row};
use crate::sweep::run_process::{RunEnd, ask_to_stop, let_train, start_run, watch_run};
use crate::sweep::scoring::{Scoring, el2n_scores, scoring_pass};
use crate::sweep::shards::assign;
use crate::sweep::timing::SweepTiming;
use crate::sweep::tracking::mlflow_sync::TrackedRun;
use crate::sweep::tracking::tracker::{RunNews, follow};
use crate::trace;

/// How often the runner looks at the stop flag while it waits for its run processes: a stop
/// signal must reach the training run within a step or two, and waking this often costs nothing
/// measurable.
const STOP_POLL: Duration = Duration::from_millis(10);

/// What one invocation of a sweep did, and where the sweep stands after it.
#[derive(Debug, Default)]
pub struct SweepOutcome {
    /// The rows of the runs trained by this invocation, in plan order.
    pub trained: Vec<ResultRow>,
    /// Runs whose row was restored from their folder, not trained (see `reconcile`).
    pub recorded: Vec<String>,
    /// The latest row of every planned run recorded as failed, by this invocation or an
    /// earlier one (`--rerun-failed` retries them).
    pub failed: Vec<ResultRow>,
}

/// Computes the EL2N scores the runs to train need, once each, before any of them starts (a
/// run process then reads them from the sweep folder).
fn score_for_pruning(
    todo: &[&PlannedRun],
    upstream: &crate::run::data::Upstream,
    dir: &std::path::Path,
    options: &SweepOptions,
    progress: &SweepProgress,
    stop: &AtomicBool,
) -> Result<()> {
    let scoring = Scoring {
        sweep_dir: dir,
        upstream,
        backend: options.backend,
        progress: match options.progress {
            ProgressMode::Off => ProgressMode::Off,
            _ => progress.run_mode(),
        },
        stop,
        say: &|line| progress.log(line),
    };
    // Runs of one training set share a pass: each pass is read or computed once here.
    let mut passes = std::collections::HashSet::new();
    for run in todo {
        if let Some(pass) = scoring_pass(&run.spec)?
            && passes.insert(pass.key.clone())
        {
            el2n_scores(&pass, &run.spec, &scoring)?;
        }
    }
    Ok(())
}

/// Runs the sweep.
pub fn run_sweep(
    config: &SweepConfig,
    options: &SweepOptions,
    child: ChildCommand,
    stop: &AtomicBool,
) -> Result<SweepOutcome> {
    let sweep_started = Instant::now();
    let dir = sweep_dir(config, options.out_dir.as_deref());
    let (upstream, runs) = plan(config, options.chatty())?;
    if options.dry_run {
        print_plan(config, &upstream, &runs, options.shard.map(|s| s.count))?;
        return Ok(SweepOutcome::default());
    }
    let shard = options.shard;
    let sharded = shard.is_some();
    let _lock = claim_dir(&dir, config, shard)?;
    if config.tracking.tensorboard {
        link_tensorboard_names(&dir, &runs, sharded)?;
    }
    let mlflow = match config.tracking.mlflow(&config.name) {
        Ok(target) => target,
        Err(why) => {
            eprintln!("warning: {why}; the sweep goes on without MLflow");
            None
        }
    };
    // Fetch downstream data now, so no run waits on a download (children then find it on disk).
    let downstream = load_downstream(config, &upstream, options.chatty())?;
    let store = ResultsStore::new(&dir);
    // A shard never writes the files all shards share (the results files, the report): each
    // run's folder holds its record, and `plateau report` merges them once every shard is done.
    let reconciled = match sharded {
        true => Reconciled::default(),
        false => {
            plateau_store::remove_stale_temporaries(&dir);
            reconcile(&dir, &store, &runs, options.backend, true)?
        }
    };
    let stale = match sharded {
        true => Vec::new(),
        false => stale_runs(&dir, &runs),
    };
    if !stale.is_empty() {
        eprintln!(
            "note: {} run folder(s) in {} are not runs of this config: it changed since they ran \
             ({}). Their rows stay in results.jsonl and in the report beside the new runs; to \
             keep the two studies apart, give the changed config another `name` (or --out), \
             or pass the old values with --set",
            stale.len(),
            dir.display(),
            stale.join(", ")
        );
    }
    let latest_rows = || -> Result<_> {
        Ok(match sharded {
            true => folder_rows(&dir, &runs),
            false => store.latest()?,
        })
    };
    let done = latest_rows()?;
    // This process's runs: its shard's share of the plan, or all of it.
    let share: Vec<&PlannedRun> = match shard {
        Some(shard) => {
            let costs = planned_train_flops(&upstream, &runs)?;
            let shard_of = assign(&runs, &costs, shard.count);
            runs.iter()
                .zip(shard_of)
                .filter(|(_, s)| *s == shard.index)
                .map(|(run, _)| run)
                .collect()
        }
        None => runs.iter().collect(),
    };
    let todo: Vec<&PlannedRun> = share
        .iter()
        .copied()
        .filter(|run| match done.get(&run.id).map(|row| row.status) {
            Some(RunStatus::Ok | RunStatus::Diverged) => false,
            Some(RunStatus::Failed) => options.rerun_failed,
            None => true,
        })
        .collect();
    let of_shard = match shard {
        Some(shard) => format!(" shard {} ({} of its runs)", shard.name(), share.len()),
        None => String::new(),
    };
    eprintln!(
        "sweep {}{of_shard}: {} runs, {} done, {} to train → {}",
        config.name,
        share.len(),
        share.len() - todo.len(),
        todo.len(),
        dir.display()
    );
    let mut timing = SweepTiming {
        setup_seconds: sweep_started.elapsed().as_secs_f64(),
        overlapped: options.overlap && child.is_some(),
        workers: options.workers.len().max(1),
        ..Default::default()
    };
    let started = Instant::now();
    let progress = SweepProgress::new(options.chatty(), &config.name, todo.len());
    score_for_pruning(&todo, &upstream, &dir, options, &progress, stop)?;
    // One run trains at a time, unless the sweep was given workers (devices, or shares of the
    // CPU's cores): then one per worker, each run's process on its own. With one worker and
    // overlap, the next run's process starts early (it loads its data, then waits) and trains
    // as soon as the previous run's training is over, beside that run's last validation, test
    // and probes: those leave a core idle for most small models.
    let workers = match options.workers.is_empty() {
        true => vec![Worker::default()],
        false => options.workers.clone(),
    };
    let parallel = workers.len();
    if parallel > 1 && child.is_none() {
        anyhow::bail!(
            "several runs at once (--jobs, --devices) need run processes: drop --in-process"
        );
    }
    let in_flight = match (child, options.overlap) {
        (Some(_), _) if parallel > 1 => parallel,
        (Some(_), true) => 3,
        _ => 1,
    };
    // A worker is busy while a run process it started is alive.
    let free_worker = |pending: &VecDeque<Pending>| {
        (0..parallel).find(|w| {
            !pending
                .iter()
                .any(|slot| slot.worker == *w && !matches!(slot.stage, Stage::Ended { .. }))
        })
    };
    let occupied = |pending: &VecDeque<Pending>| match parallel {
        1 => pending.len(),
        _ => pending
            .iter()
            .filter(|slot| !matches!(slot.stage, Stage::Ended { .. }))
            .count(),
    };
    let mut rows = Vec::new();
    let mut skipped = 0;
    // Set when a run could not write (a full disk): no new run starts, and the sweep ends with
    // that cause once the runs in flight are done.
    let mut halted: Option<String> = None;
    let (notes_sender, notes) = mpsc::channel::<(usize, Note)>();
    // A shard mirrors its own runs only: two shards must not both make one run's MLflow run.
    let tracked: Vec<TrackedRun> = share
        .iter()
        .map(|run| TrackedRun {
            id: run.id.clone(),
            dir: dir.join(&run.id),
            axes: run.axes.clone(),
        })
        .collect();
    let claims = ClaimKeeper::default();
    let shard_name = shard.map(|s| s.name());
    std::thread::scope(|scope| -> Result<()> {
        // Claims stay fresh while this loop runs (its sender dropped at the end stops them).
        let (_beating, beats) = mpsc::channel::<()>();
        let keeper = &claims;
        scope.spawn(move || keeper.keep_alive(&beats));
        // MLflow hears of each run from its own thread, which sends what the run writes as it
        // trains and, once this loop is over (its sender dropped), everything left.
        let (tracker, news) = mpsc::channel::<RunNews>();
        if let Some(target) = &mlflow {
            let (tracked, dir, progress) = (&tracked, &dir, &progress);
            scope.spawn(move || {
                follow(target, &config.name, tracked, news, dir, &|line| {
                    progress.log(line)
                })
            });
        }
        let mut pending: VecDeque<Pending> = VecDeque::new();
        let mut next = 0;
        loop {
            let stopping = stop.load(Ordering::SeqCst) || halted.is_some();
            // One run process loads its data at a time: three loading at once on two cores
            // made the first run start a second later.
            let loading = |pending: &VecDeque<Pending>| pending.iter().any(|slot| slot.loading);
            while occupied(&pending) < in_flight
                && next < todo.len()
                && !stopping
                && !loading(&pending)
            {
                let (index, run) = (next, todo[next]);
                next += 1;
                let run_dir = dir.join(&run.id);
                // Another process sharing the folder may have it (a duplicated task, a shard
                // of another split): it is that process's to finish.
                match claim(&run_dir, shard_name.clone())? {
                    // Finished by another process since this one planned: not trained twice.
                    Claimed::Mine(held)
                        if read_record(&run_dir).is_some_and(|r| {
                            matches!(r.row.status, RunStatus::Ok | RunStatus::Diverged)
                        }) =>
                    {
                        held.release();
                        skipped += 1;
                        continue;
                    }
                    Claimed::Mine(held) => claims.hold(&run.id, held),
                    Claimed::Elsewhere(holder) => {
                        progress.log(&format!(
                            "skipped: {} is being trained by {} pid {}{} (heartbeat {:.0} s ago)",
                            run.id,
                            holder.host,
                            holder.pid,
                            holder
                                .shard
                                .as_ref()
                                .map(|s| format!(", shard {s}"))
                                .unwrap_or_default(),
                            holder.age()
                        ));
                        skipped += 1;
                        continue;
                    }
                }
                let mut slot = Pending::new(index);
                // With one worker, every process shares it (and trains in turn).
                slot.worker = match parallel {
                    1 => 0,
                    _ => free_worker(&pending).expect("fewer processes than workers"),
                };
                if let Some(command) = child {
                    let mut command = command(&run.id);
                    command.envs(workers[slot.worker].env());
                    match start_run(command, &run_dir, progress.wants_events()) {
                        Ok(mut process) => {
                            slot.lifeline = process.stdin.take();
                            slot.loading = true;
                            let (sender, label, progress) =
                                (notes_sender.clone(), run.label(), &progress);
                            scope.spawn(move || {
                                let mut reached = |milestone| {
                                    let _ = sender.send((index, Note::Reached(milestone)));
                                };
                                let end =
                                    watch_run(process, &run_dir, &label, progress, &mut reached);
                                let _ = sender.send((index, Note::Ended(end)));
                            });
                        }
                        Err(error) => {
                            let why = format!("could not start the run's process: {error}");
                            slot.stage = Stage::Ended {
                                end: RunEnd::Summary(RunSummary::failed(why)),
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
                    let _ = tracker.send(RunNews::Started(run.id.clone()));
                    let ctx = RunContext {
                        upstream: &upstream,
                        downstream: &downstream,
                        el2n_scores: None,
                        backend: options.backend,
                        run_dir: run_dir.clone(),
                        progress: mode,
                        sweep: None,
                        stop,
                        tensorboard: config.tracking.tensorboard,
                    };
                    let end = train_in_process(run, &ctx);
                    slot.wall = slot.started.elapsed();
                    slot.stage = Stage::Ended { end, began: true };
                }
                pending.push_back(slot);
            }
            // The oldest waiting run process trains once fewer runs train than there are
            // workers (once no other run does, with one).
            let training = pending
                .iter()
                .filter(|slot| matches!(slot.stage, Stage::Training))
                .count();
            if training < parallel && !stopping {
                let waiting = pending
                    .iter_mut()
                    .find(|slot| matches!(slot.stage, Stage::Waiting));
                if let Some(slot) = waiting {
                    let run = todo[slot.index];
                    progress.log(&start_line(slot.index, todo.len(), started.elapsed(), run));
                    slot.stage = Stage::Training;
                    slot.started = Instant::now();
                    let _ = tracker.send(RunNews::Started(run.id.clone()));
                    if let Some(lifeline) = &mut slot.lifeline {
                        // A process that died already is recorded when its watcher reports.
                        let _ = let_train(lifeline);
                    }
                    // The next run's process may start loading now.
                    continue;
                }
            }
            // A run another process took over (this one's heartbeats went stale) is stopped
            // at once, without a checkpoint: the taker resumes from the last one.
            for slot in pending.iter_mut() {
                if slot.lifeline.is_some() && claims.is_lost(&todo[slot.index].id) {
                    slot.lifeline = None;
                }
            }
            if stopping {
                // Processes still waiting for their turn end without training; the one that
                // trains stops at its next step (it may not have heard the signal itself).
                for slot in pending.iter_mut() {
                    match slot.stage {
                        Stage::Waiting => slot.lifeline = None,
                        Stage::Training if !slot.asked_to_stop => {
                            if let Some(lifeline) = &mut slot.lifeline {
                                let _ = ask_to_stop(lifeline);
                            }
                            slot.asked_to_stop = true;
                        }
                        _ => {}
                    }
                }
            }
            // Results are recorded in the order of the plan.
            while pending
                .front()
                .is_some_and(|slot| matches!(slot.stage, Stage::Ended { .. }))
            {
                let slot = pending.pop_front().expect("front exists");
                let run = todo[slot.index];
                let Stage::Ended { end, began } = slot.stage else {
                    unreachable!("checked above")
                };
                if claims.is_lost(&run.id) {
                    progress.log(&format!(
                        "lost: {} was taken over by another process; it is that one's now",
                        run.id
                    ));
                    claims.release(&run.id);
                    continue;
                }
                // Whatever its end, this process is done with the run: recorded below, or left
                // to resume from its checkpoint (by this sweep's next invocation or another).
                claims.release(&run.id);
                let summary = match end {
                    RunEnd::Summary(summary) => summary,
                    RunEnd::Environment(why) => {
                        if began {
                            progress.log(&format!(
                                "stopped: {} could not write and keeps its last checkpoint",
                                run.id
                            ));
                        }
                        halted.get_or_insert(why);
                        continue;
                    }
                };
                if stop.load(Ordering::SeqCst) && summary.status == RunStatus::Failed {
                    if began {
                        progress.log(&format!(
                            "interrupted: {} keeps a checkpoint of where it stopped; rerun the \
                             sweep to resume",
                            run.id
                        ));
                    }
                    continue;
                }
                timing.add_run(slot.wall, &summary.seconds);
                let row = result_row(run, &summary, options.backend)?;
                // The run's folder first: it is what the results files are rebuilt from.
                write_record(&dir.join(&run.id), &ResultsStore::line_of(&row))?;
                let _ = tracker.send(RunNews::Ended(run.id.clone()));
                if !sharded {
                    trace::phase("append", &run.id);
                    store.append(&row)?;
                }
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
            // Some run process is still going: wait for it to say something (and look at the
            // stop flag every STOP_POLL, which a signal sets).
            let (index, note) = match notes.recv_timeout(STOP_POLL) {
                Ok(received) => received,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    unreachable!("this scope holds a sender")
                }
            };
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
                Note::Ended(end) => {
                    slot.loading = false;
                    let began = !matches!(slot.stage, Stage::Waiting);
                    slot.wall = slot.started.elapsed();
                    slot.stage = Stage::Ended { end, began };
                    slot.lifeline = None;
                }
            }
        }
        Ok(())
    })?;
    progress.finish();
    if let Some(why) = halted {
        anyhow::bail!("the sweep stopped before its runs could finish: {why}");
    }
    if skipped > 0 {
        eprintln!("{skipped} run(s) skipped: other processes sharing the folder train them");
    }
    if let Some(shard) = shard {
        eprintln!(
            "shard {} done; once every shard is, merge the results and the report with \
             `plateau report {}`",
            shard.name(),
            dir.display()
        );
        return Ok(SweepOutcome {
            failed: failed_rows(&share, &latest_rows()?),
            trained: rows,
            recorded: Vec::new(),
        });
    }
    trace::phase("report", &config.name);
    let reporting = Instant::now();
    let report = plateau_metrics::report::write_report(&dir, &axes::meanings())
        .with_context(|| format!("writing the report in {}", dir.display()))?;
    eprintln!("report: {}", report.display());
    timing.report_seconds = reporting.elapsed().as_secs_f64();
    timing.finish(sweep_started.elapsed());
    if timing.runs_trained > 0 {
        eprintln!("{}", timing.describe());
        let json = serde_json::to_string_pretty(&timing)?;
        plateau_store::write_atomic(&dir.join(TIMING_FILE), json.as_bytes())?;
    }
    Ok(SweepOutcome {
        failed: failed_rows(&share, &latest_rows()?),
        trained: rows,
        recorded: reconciled.restored,
    })
}

/// The rows recorded as failed among `runs` (this process's share of the plan).
fn failed_rows(
    runs: &[&PlannedRun],
    latest: &std::collections::BTreeMap<String, ResultRow>,
) -> Vec<ResultRow> {
    runs.iter()
        .filter_map(|run| latest.get(&run.id))
        .filter(|row| row.status == RunStatus::Failed)
        .cloned()
        .collect()
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
    /// The run process's stdin while it runs: a line lets it train, closing it stops it.
    lifeline: Option<ChildStdin>,
    /// Its process is loading data and model (not yet ready to train).
    loading: bool,
    /// It was told to stop at its next step.
    asked_to_stop: bool,
    /// The worker its process runs on (index into the sweep's workers).
    worker: usize,
}

/// Where a pending run stands. At most one per worker is `Training`.
enum Stage {
    /// Its process has started and waits for its turn.
    Waiting,
    Training,
    /// Training is over; it validates, tests and probes.
    Evaluating,
    /// `began`: whether it had been let train (a run that never did keeps no checkpoint).
    Ended {
        end: RunEnd,
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
            lifeline: None,
            loading: false,
            asked_to_stop: false,
            worker: 0,
        }
    }
}

/// What a thread watching a run process tells the sweep (with the run's index).
enum Note {
    /// The run process reached a milestone.
    Reached(Milestone),
    Ended(RunEnd),
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
