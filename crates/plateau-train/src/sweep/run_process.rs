//! Run processes: a sweep trains each run in a child process of its own binary (`plateau
//! train CONFIG --run ID`), so a panic or an out-of-memory kill costs only that run. This is
//! the protocol between the two: the flags the sweep passes, what the child prints on its
//! stdout (progress, milestones and, when it fails, its cause), and how the sweep reads how it
//! ended.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use plateau_metrics::results::RunStatus;

use crate::run::summary::{RunSummary, read_summary};
use crate::sweep::progress::{Milestone, SweepProgress};

/// The `plateau train` flag that asks a child run for progress events instead of its own bar.
pub const PROGRESS_EVENTS_FLAG: &str = "--progress-events";

/// The `plateau train` flag a sweep passes to its run processes. Such a process:
/// - loads its data and model, prints a [`Ready`](Milestone::Ready) event on stdout, then
///   waits for a `train` line on stdin before it trains, so a sweep can start it early and let
///   it train once the run before it is done training;
/// - prints a [`Trained`](Milestone::Trained) event on stdout when its training is over, while
///   it goes on to evaluate and probe;
/// - exits as soon as stdin closes: when its sweep dies, however it dies (a SIGKILL runs no
///   handler), so an orphan never trains on beside a resumed sweep.
pub const SWEEP_CHILD_FLAG: &str = "--sweep-child";

/// What a sweep writes on a run process's stdin to let it train.
const TRAIN_LINE: &str = "train";

/// What a sweep writes on a run process's stdin when it was asked to stop (a signal): the run
/// stops at its next step, as if the signal had reached it (a scheduler may signal only the
/// sweep).
const STOP_LINE: &str = "stop";

/// Where a run process writes why it failed, for the sweep to record.
pub const ERROR_LOG: &str = "error.log";

/// A run process's side of its stdin link to the sweep (see [`SWEEP_CHILD_FLAG`]).
pub struct SweepLink {
    may_train: Arc<(Mutex<bool>, Condvar)>,
}

impl SweepLink {
    /// Starts reading stdin: a `train` line lets [`wait_to_train`](Self::wait_to_train) return;
    /// a `stop` line sets `stop`; its end exits the process. Everything a run writes is atomic,
    /// so stopping anywhere loses only unsaved work.
    pub fn follow_stdin(stop: Arc<AtomicBool>) -> Self {
        crate::sweep::progress::mark_as_run_process();
        let may_train = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = may_train.clone();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                match line.trim() {
                    TRAIN_LINE => {
                        let (allowed, changed) = &*flag;
                        *allowed.lock().unwrap_or_else(|e| e.into_inner()) = true;
                        changed.notify_all();
                    }
                    STOP_LINE => stop.store(true, Ordering::SeqCst),
                    _ => {}
                }
            }
            std::process::exit(137);
        });
        Self { may_train }
    }

    /// Blocks until the sweep lets this run train.
    pub fn wait_to_train(&self) {
        let (allowed, changed) = &*self.may_train;
        let mut allowed = allowed.lock().unwrap_or_else(|e| e.into_inner());
        while !*allowed {
            allowed = changed.wait(allowed).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Records why a run failed: on stdout for its sweep (`to_sweep`, a run process's pipe, which
/// a full disk cannot stop), and in its folder for anyone reading it later (best effort).
pub fn record_failure(run_dir: &Path, message: &str, environment: bool, to_sweep: bool) {
    if to_sweep {
        crate::sweep::progress::announce_failure(message, environment);
    }
    let _ = std::fs::create_dir_all(run_dir);
    let _ = std::fs::write(run_dir.join(ERROR_LOG), message);
}

/// Starts the run process `command`. It loads its data, then waits for [`let_train`] on the
/// returned stdin; closing that stdin stops it.
pub fn start_run(mut command: Command, run_dir: &Path, events: bool) -> std::io::Result<Child> {
    // An error of an earlier attempt must not pass for this one.
    let _ = std::fs::remove_file(run_dir.join(ERROR_LOG));
    // Under the sweep's bars the child sends progress events on its stdout; otherwise it shares
    // its stderr, which the sweep prints (and keeps the end of, for a run that dies without
    // saying why). Either way its stdout tells when training is over, and it leaves its error in
    // a file.
    if events {
        command.arg(PROGRESS_EVENTS_FLAG);
    }
    command
        .arg(SWEEP_CHILD_FLAG)
        .stdout(std::process::Stdio::piped())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
}

/// Lets a started run process train.
pub fn let_train(stdin: &mut ChildStdin) -> std::io::Result<()> {
    writeln!(stdin, "{TRAIN_LINE}")?;
    stdin.flush()
}

/// Asks a training run process to stop at its next step.
pub fn ask_to_stop(stdin: &mut ChildStdin) -> std::io::Result<()> {
    writeln!(stdin, "{STOP_LINE}")?;
    stdin.flush()
}

/// How a run process ended.
pub(crate) enum RunEnd {
    /// With a summary to record: finished, diverged, or failed with its cause.
    Summary(RunSummary),
    /// Stopped by the machine's storage (a full disk, a read-only mount): not the run's
    /// failure. It is not recorded and resumes from its last checkpoint.
    Environment(String),
}

/// Follows a started run process (its stdin taken by the caller) to its end and returns how it
/// ended. `milestone` is called as the child says it is ready and that its training is over
/// (not at all if it dies first).
pub(crate) fn watch_run(
    mut child: Child,
    run_dir: &Path,
    label: &str,
    progress: &SweepProgress,
    milestone: &mut dyn FnMut(Milestone),
) -> RunEnd {
    let stderr = child.stderr.take();
    let (failure, status, stderr_tail) = std::thread::scope(|scope| {
        let tail = scope.spawn(|| {
            stderr
                .map(|e| forward_stderr(e, progress))
                .unwrap_or_default()
        });
        let failure = match child.stdout.take() {
            Some(stdout) => progress.follow_child(label, stdout, milestone),
            None => None,
        };
        let status = child.wait();
        (failure, status, tail.join().unwrap_or_default())
    });
    let status = match status {
        Ok(status) => status,
        Err(error) => {
            let why = format!("could not wait for the run's process: {error}");
            return RunEnd::Summary(RunSummary::failed(why));
        }
    };
    match (status.success(), read_summary(run_dir), failure) {
        (true, Ok(summary), _) => RunEnd::Summary(summary),
        (_, Ok(summary), _) if summary.status == RunStatus::Diverged => RunEnd::Summary(summary),
        (_, _, Some(failure)) if failure.environment => RunEnd::Environment(failure.error),
        // The cause came over the pipe, once; its stderr holds the same words.
        (_, _, Some(failure)) => RunEnd::Summary(RunSummary::failed(format!(
            "run process ended with {}: {}",
            describe_exit(&status),
            failure.error.trim()
        ))),
        (_, _, None) => {
            // A process that died before it could say why (a signal, an abort, an exit from a
            // library): what it left in its folder, and the last lines it wrote on stderr.
            let left = std::fs::read_to_string(run_dir.join(ERROR_LOG)).unwrap_or_default();
            let mut why = format!("run process ended with {}", describe_exit(&status));
            if !left.trim().is_empty() {
                why = format!("{why}: {}", left.trim());
            }
            if !stderr_tail.is_empty() {
                why = format!(
                    "{why}\nits last lines on stderr:\n{}",
                    stderr_tail.join("\n")
                );
            }
            RunEnd::Summary(RunSummary::failed(why))
        }
    }
}

/// How many of a run process's last stderr lines a failure record keeps, and how long each.
const STDERR_TAIL_LINES: usize = 12;
const STDERR_LINE_CHARS: usize = 400;

/// Prints a run process's stderr as it comes and returns its last lines.
fn forward_stderr(stderr: impl std::io::Read, progress: &SweepProgress) -> Vec<String> {
    let mut tail = std::collections::VecDeque::with_capacity(STDERR_TAIL_LINES);
    let mut reader = std::io::BufReader::new(stderr);
    let mut bytes = Vec::new();
    // Lines as bytes: a library may write what is not UTF-8, and one such line must not end
    // the forwarding (the child would then block on a full pipe).
    while reader.read_until(b'\n', &mut bytes).is_ok_and(|n| n > 0) {
        let line = String::from_utf8_lossy(&bytes);
        let line = line.trim_end_matches(['\n', '\r']);
        progress.log(line);
        if is_backtrace(line) {
            bytes.clear();
            continue;
        }
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.chars().take(STDERR_LINE_CHARS).collect());
        bytes.clear();
    }
    tail.into()
}

/// Whether `line` belongs to a Rust backtrace (its frames, their locations, its notes): printed,
/// but kept out of a failure record, where it would push out the message before it.
fn is_backtrace(line: &str) -> bool {
    let line = line.trim_start();
    let frame = line
        .split_once(": ")
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    frame
        || line.starts_with("at ")
        || line == "stack backtrace:"
        || (line.starts_with("note: ") && line.contains("RUST_BACKTRACE"))
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

#[cfg(test)]
mod tests {
    use super::is_backtrace;

    #[test]
    fn backtrace_frames_and_notes_are_told_from_messages() {
        for frame in [
            "stack backtrace:",
            "   0: __rustc::rust_begin_unwind",
            "  13: <std::sys::sync::once::futex::Once>::call",
            "             at ./src/run/train.rs:105:9",
            "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
        ] {
            assert!(is_backtrace(frame), "{frame}");
        }
        for message in [
            "memory allocation of 3221225472 bytes failed",
            "thread 'main' panicked at src/main.rs:3:5:",
            "error: r0003: loss became NaN",
            "note: the run resumes from its checkpoint",
        ] {
            assert!(!is_backtrace(message), "{message}");
        }
    }
}
