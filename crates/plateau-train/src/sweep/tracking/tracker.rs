//! The sweep process is MLflow's one client: a thread beside the runner mirrors each run it
//! starts every few seconds as it trains (reading what the run writes in its folder), then, when
//! the sweep ends, every run of the plan. The server is never on a run's critical path: a
//! server that is down or slow costs a warning and a pause, and what it missed goes at the end
//! of the sweep, or later with `plateau sync-tracking DIR`.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sweep::folders::{read_record, read_sweep_config, run_folders};
use crate::sweep::tracking::MlflowTarget;
use crate::sweep::tracking::mlflow_sync::{Mirror, Sent, TrackedRun};

/// How often a training run's new epochs are sent.
const PASS_EVERY: Duration = Duration::from_secs(5);

/// How long the tracker leaves a server alone after it failed to answer.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// What the runner tells the tracker.
pub(crate) enum RunNews {
    /// The run began training in this invocation.
    Started(String),
    /// Its record is written: it has ended.
    Ended(String),
}

/// Follows the sweep's runs until `news` closes (the sweep's loop is over), then mirrors every
/// run of `runs` whose folder exists. `say` prints a line beside the sweep's progress.
pub(crate) fn follow(
    target: &MlflowTarget,
    sweep: &str,
    runs: &[TrackedRun],
    news: Receiver<RunNews>,
    sweep_dir: &Path,
    say: &dyn Fn(&str),
) {
    let mut tracker = Tracker::new(target, sweep, say);
    let mut live: Vec<&TrackedRun> = Vec::new();
    let mut ended: HashSet<String> = HashSet::new();
    let mut last_pass = Instant::now();
    loop {
        match news.recv_timeout(PASS_EVERY) {
            Ok(RunNews::Started(id)) => live.extend(runs.iter().find(|r| r.id == id)),
            Ok(RunNews::Ended(id)) => {
                ended.insert(id);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_pass.elapsed() >= PASS_EVERY || !ended.is_empty() {
            for run in &live {
                tracker.send(run, ended.contains(&run.id));
            }
            live.retain(|run| !tracker.is_done(&run.id));
            ended.retain(|id| live.iter().any(|run| &run.id == id));
            last_pass = Instant::now();
        }
    }
    // The end of the sweep: what was missed, every planned run that has a folder, one more try
    // (stopping at the first failure: a server that is down would cost each run its retries).
    tracker.paused_until = None;
    let mut unsent = 0;
    for run in runs.iter().filter(|r| r.dir.join("config.json").is_file()) {
        // A run that began here and never ended was interrupted: its old record (a failed
        // attempt's) is not its end.
        let interrupted = live.iter().any(|r| r.id == run.id) && !ended.contains(&run.id);
        if tracker.paused_until.is_some() || !tracker.send(run, !interrupted) {
            unsent += 1;
        } else if interrupted {
            tracker.mark_interrupted(&run.id);
        }
    }
    if unsent > 0 {
        say(&format!(
            "warning: MLflow at {}: {unsent} run(s) not sent in full; send them once the server \
             is back with `plateau sync-tracking {}`",
            target.uri,
            sweep_dir.display()
        ));
    }
}

/// The MLflow side of a sweep: its connection, what each run has sent, and its pauses.
struct Tracker<'a> {
    target: &'a MlflowTarget,
    sweep: &'a str,
    say: &'a dyn Fn(&str),
    mirror: Option<Mirror>,
    sent: HashMap<String, Sent>,
    /// Set after a failure: no call before then.
    paused_until: Option<Instant>,
    /// The last call failed (a warning was given; the next one is for the end of the outage).
    failing: bool,
    warned_artifacts: bool,
}

impl<'a> Tracker<'a> {
    fn new(target: &'a MlflowTarget, sweep: &'a str, say: &'a dyn Fn(&str)) -> Self {
        Self {
            target,
            sweep,
            say,
            mirror: None,
            sent: HashMap::new(),
            paused_until: None,
            failing: false,
            warned_artifacts: false,
        }
    }

    fn is_done(&self, id: &str) -> bool {
        self.sent.get(id).is_some_and(|s| s.done)
    }

    /// Sends what `run` has that MLflow lacks; `ended`: its record counts as its end. False
    /// when it could not (the server failed, or is paused after a failure).
    fn send(&mut self, run: &TrackedRun, ended: bool) -> bool {
        if self
            .paused_until
            .is_some_and(|until| Instant::now() < until)
        {
            return false;
        }
        let result = self.try_send(run, ended);
        if let Err(error) = result {
            if !self.failing {
                (self.say)(&format!(
                    "warning: MLflow at {}: {error:#}; the sweep goes on, and sends what was \
                     missed when it ends",
                    self.target.uri
                ));
            }
            self.failing = true;
            self.paused_until = Some(Instant::now() + PAUSE_AFTER_FAILURE);
            return false;
        }
        self.failing = false;
        self.paused_until = None;
        let refused = self.mirror.as_ref().is_some_and(|m| m.artifacts_refused);
        if refused && !self.warned_artifacts {
            self.warned_artifacts = true;
            (self.say)(&format!(
                "note: MLflow at {} keeps artifacts where only its clients write (not served \
                 over REST); runs are sent without artifacts (`mlflow server` serves them by \
                 default, or with --serve-artifacts)",
                self.target.uri
            ));
        }
        true
    }

    fn try_send(&mut self, run: &TrackedRun, ended: bool) -> Result<()> {
        if self.mirror.is_none() {
            self.mirror = Some(Mirror::connect(self.target, self.sweep)?);
        }
        let mirror = self.mirror.as_mut().expect("connected above");
        let record = ended.then(|| read_record(&run.dir)).flatten();
        let sent = self.sent.entry(run.id.clone()).or_default();
        mirror.sync(run, record.as_ref().map(|r| &r.row), sent)
    }

    fn mark_interrupted(&mut self, id: &str) {
        if let (Some(mirror), Some(sent)) = (&self.mirror, self.sent.get(id)) {
            let _ = mirror.interrupted(sent);
        }
    }
}

/// What `plateau sync-tracking` did.
#[derive(Debug)]
pub struct SyncReport {
    pub uri: String,
    pub experiment: String,
    /// Run folders mirrored in full (ended runs) or as far as they go (unfinished ones).
    pub runs: usize,
}

/// `plateau sync-tracking DIR`: mirrors every run folder of the sweep in `dir` into MLflow (the
/// server and experiment of `MLFLOW_TRACKING_URI` / `MLFLOW_EXPERIMENT_NAME`, or else of the
/// sweep's `[tracking]` section). What is there already is not sent twice.
pub fn sync_tracking(dir: &Path) -> Result<SyncReport> {
    let config = read_sweep_config(dir)?;
    let target = match config.tracking.mlflow(&config.name) {
        Ok(Some(target)) => target,
        Ok(None) => bail!(
            "no MLflow server to send to: set MLFLOW_TRACKING_URI (e.g. http://127.0.0.1:5000), \
             or `mlflow_uri` in the sweep's [tracking] section"
        ),
        Err(why) => bail!("{why}"),
    };
    let mut mirror = Mirror::connect(&target, &config.name)
        .with_context(|| format!("MLflow at {}", target.uri))?;
    let mut runs = 0;
    for (id, run_dir) in run_folders(dir) {
        let run = TrackedRun {
            id,
            dir: run_dir,
            axes: Default::default(),
        };
        let record = read_record(&run.dir);
        let mut sent = Sent::default();
        mirror
            .sync(&run, record.as_ref().map(|r| &r.row), &mut sent)
            .with_context(|| format!("MLflow at {}: run {}", target.uri, run.id))?;
        runs += 1;
    }
    Ok(SyncReport {
        uri: target.uri,
        experiment: target.experiment,
        runs,
    })
}
