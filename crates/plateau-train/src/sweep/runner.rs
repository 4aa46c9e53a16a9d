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
use crate::sweep::axes;
use crate::sweep::config::SweepConfig;
use crate::sweep::dry_run::print_plan;
use crate::sweep::folders::{TIMING_FILE, claim_dir, finished_on_disk, sweep_dir};
use crate::sweep::inputs::{load_downstream, plan};
use crate::sweep::one_run::train_in_process;
use crate::sweep::options::{ChildCommand, SweepOptions};
use crate::sweep::plan::PlannedRun;
use crate::sweep::progress::{Milestone, ProgressMode, SweepProgress};
use crate::sweep::record::{describe, result_row};
use crate::sweep::run_process::{let_train, start_run, watch_run};
use crate::sweep::timing::SweepTiming;
use crate::trace;

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
    plateau_store::remove_stale_temporaries(&dir);
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
