//! `plateau slurm CONFIG --tasks N`: a sweep as a Slurm job array on the cluster's own
//! scheduler, not one of plateau's. Two batch scripts in `<sweep>/slurm/`:
//!
//! - `sweep.sbatch`: an array of N tasks, each `plateau sweep CONFIG --shards N` (its shard from
//!   `SLURM_ARRAY_TASK_ID`), logs in `%A_%a.out`. It asks for a warning signal before its time
//!   limit and is requeueable: the script forwards the signal to plateau (which stops at its
//!   next step with a resumable checkpoint), waits for it, then requeues the task, which resumes
//!   where it stopped. A task that simply ends is not requeued.
//! - `merge.sbatch`: `plateau report` (merging every run's record into the results files and the
//!   report) and `plateau status`, run after the array with `--dependency=afterany`. Slurm
//!   counts a requeued task as ended there, so a merge that finds the array's tasks still
//!   queued submits itself again behind them instead of merging half a sweep.
//!
//! With `--submit` both go to `sbatch` and the command returns at once with their job ids.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// What `plateau slurm` was asked for.
#[derive(Clone, Debug, Default)]
pub struct SlurmJob {
    /// The sweep's config, output folder and `--set` overrides, as the tasks will pass them.
    pub config: PathBuf,
    pub out: Option<PathBuf>,
    pub overrides: Vec<String>,
    /// `--backend`, when not the default.
    pub backend: Option<String>,
    pub tasks: usize,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub gpus_per_task: Option<usize>,
    pub cpus_per_task: Option<usize>,
    pub mem: Option<String>,
    /// Lines added to both scripts' headers, e.g. `#SBATCH --account=lab`.
    pub extra: Vec<String>,
}

/// How long before its time limit a task is told to stop (`--signal=B:USR1@…`): enough for
/// the step in progress and a checkpoint.
const WARNING_SECONDS: u32 = 120;

/// The merge job's variable naming the array it follows (set by [`submit`]).
const ARRAY_VARIABLE: &str = "PLATEAU_ARRAY_JOB";

/// The two scripts, written.
#[derive(Debug)]
pub struct SlurmScripts {
    pub sweep: PathBuf,
    pub merge: PathBuf,
}

/// Job ids of a submitted sweep.
#[derive(Debug)]
pub struct Submitted {
    pub array: String,
    pub merge: String,
}

/// Writes `<sweep_dir>/slurm/sweep.sbatch` and `merge.sbatch` for `job`; `plateau` is the
/// binary the tasks run (the cluster's nodes must see it at that path, as they see the folder).
pub fn write_scripts(job: &SlurmJob, sweep_dir: &Path, plateau: &Path) -> Result<SlurmScripts> {
    if job.tasks == 0 {
        bail!("--tasks must be at least 1");
    }
    for line in &job.extra {
        if !line.trim_start().starts_with("#SBATCH") {
            bail!("--extra {line:?}: give a whole batch directive, e.g. '#SBATCH --account=lab'");
        }
    }
    let absolute = |path: &Path| -> Result<PathBuf> {
        std::path::absolute(path).with_context(|| path.display().to_string())
    };
    let slurm_dir = absolute(&sweep_dir.join("slurm"))?;
    std::fs::create_dir_all(&slurm_dir).with_context(|| slurm_dir.display().to_string())?;
    let sweep_dir = absolute(sweep_dir)?;
    let plateau = absolute(plateau)?;
    let name = sweep_dir
        .file_name()
        .map_or("sweep".into(), |n| n.to_string_lossy().into_owned());

    let mut sweep_args = vec![quote(&plateau.display().to_string())];
    if let Some(backend) = &job.backend {
        sweep_args.push(format!("--backend {}", quote(backend)));
    }
    sweep_args.push(format!(
        "sweep {}",
        quote(&absolute(&job.config)?.display().to_string())
    ));
    if let Some(out) = &job.out {
        sweep_args.push(format!(
            "--out {}",
            quote(&absolute(out)?.display().to_string())
        ));
    }
    for assignment in &job.overrides {
        sweep_args.push(format!("--set {}", quote(assignment)));
    }
    sweep_args.push(format!("--shards {}", job.tasks));

    let mut header = vec![
        format!("#SBATCH --job-name=plateau-{name}"),
        format!("#SBATCH --array=0-{}", job.tasks - 1),
        format!("#SBATCH --output={}/%A_%a.out", slurm_dir.display()),
        // A requeued task appends to its log instead of replacing it.
        "#SBATCH --open-mode=append".into(),
        format!("#SBATCH --signal=B:USR1@{WARNING_SECONDS}"),
        "#SBATCH --requeue".into(),
    ];
    header.extend(resources(job));
    let sweep = format!(
        "#!/bin/bash\n{header}\n{extra}\n\
         # Written by `plateau slurm`; one task per shard of sweep {name}.\n\
         set -u\n\
         cd {cwd}\n\
         echo \"plateau: task ${{SLURM_ARRAY_TASK_ID}} of job ${{SLURM_ARRAY_JOB_ID}} on $(hostname), restart ${{SLURM_RESTART_COUNT:-0}}\"\n\
         {command} &\n\
         plateau=$!\n\
         # Slurm's warning (or a preemption) reaches this shell: plateau stops at its next step with\n\
         # a resumable checkpoint, then the task goes back in the queue and resumes there.\n\
         requeue=0\n\
         trap 'requeue=1; kill -USR1 \"$plateau\" 2>/dev/null' USR1\n\
         trap 'kill -TERM \"$plateau\" 2>/dev/null' TERM\n\
         wait \"$plateau\"; status=$?\n\
         # A trapped signal ends `wait` early: wait until plateau itself has stopped.\n\
         while kill -0 \"$plateau\" 2>/dev/null; do wait \"$plateau\"; status=$?; done\n\
         if [ \"$requeue\" = 1 ]; then\n\
         \x20 echo \"plateau: stopped for the time limit or a preemption; requeueing\"\n\
         \x20 scontrol requeue \"${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}\"\n\
         fi\n\
         exit \"$status\"\n",
        header = header.join("\n"),
        extra = job.extra.join("\n"),
        cwd = quote(&absolute(Path::new("."))?.display().to_string()),
        command = sweep_args.join(" "),
    );

    let mut merge_header = vec![
        format!("#SBATCH --job-name=plateau-{name}-merge"),
        format!("#SBATCH --output={}/merge_%j.out", slurm_dir.display()),
    ];
    merge_header.extend(
        job.partition
            .iter()
            .map(|p| format!("#SBATCH --partition={p}")),
    );
    let scripts = SlurmScripts {
        sweep: slurm_dir.join("sweep.sbatch"),
        merge: slurm_dir.join("merge.sbatch"),
    };
    let merge = format!(
        "#!/bin/bash\n{header}\n{extra}\n\
         # Written by `plateau slurm`: after every task of the array, whatever their end.\n\
         set -u\n\
         # `afterany` also counts a task that was requeued as ended, so this job can start while\n\
         # that task waits to run again: then it queues itself once more, behind the array.\n\
         array=\"${{{ARRAY_VARIABLE}:-}}\"\n\
         if [ -n \"$array\" ] && squeue -h -j \"$array\" -o %i 2>/dev/null | grep -q .; then\n\
         \x20 echo \"plateau: tasks of job $array are still queued (requeued); merging after them\"\n\
         \x20 exec sbatch --parsable --export=ALL,{ARRAY_VARIABLE}=\"$array\" --dependency=afterany:\"$array\" {script}\n\
         fi\n\
         {plateau} report {dir}\n\
         {plateau} status {dir}\n",
        header = merge_header.join("\n"),
        extra = job.extra.join("\n"),
        plateau = quote(&plateau.display().to_string()),
        dir = quote(&sweep_dir.display().to_string()),
        script = quote(&scripts.merge.display().to_string()),
    );
    plateau_store::write_atomic(&scripts.sweep, sweep.as_bytes())?;
    plateau_store::write_atomic(&scripts.merge, merge.as_bytes())?;
    Ok(scripts)
}

/// The resource directives of the array's tasks.
fn resources(job: &SlurmJob) -> Vec<String> {
    let mut lines = Vec::new();
    let mut add = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            lines.push(format!("#SBATCH --{key}={value}"));
        }
    };
    add("partition", job.partition.clone());
    add("time", job.time.clone());
    add("gpus-per-task", job.gpus_per_task.map(|g| g.to_string()));
    add("cpus-per-task", job.cpus_per_task.map(|c| c.to_string()));
    add("mem", job.mem.clone());
    lines
}

/// Submits the array, then the merge after it; returns at once with their ids.
pub fn submit(scripts: &SlurmScripts) -> Result<Submitted> {
    let array = sbatch(&[], &scripts.sweep)?;
    let merge = sbatch(
        &[
            format!("--dependency=afterany:{array}"),
            format!("--export=ALL,{ARRAY_VARIABLE}={array}"),
        ],
        &scripts.merge,
    )?;
    Ok(Submitted { array, merge })
}

fn sbatch(args: &[String], script: &Path) -> Result<String> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .context("running sbatch (is this a Slurm login node? `sbatch --version` should answer)")?;
    if !output.status.success() {
        bail!(
            "sbatch {}: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // `--parsable` prints `id` or `id;cluster`.
    let text = String::from_utf8_lossy(&output.stdout);
    let id = text
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    match id.is_empty() {
        true => bail!("sbatch {} printed no job id", script.display()),
        false => Ok(id),
    }
}

/// A word for bash, in single quotes where it needs them.
fn quote(word: &str) -> String {
    let plain = word
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@%".contains(&b));
    match plain && !word.is_empty() {
        true => word.to_string(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_array_script_runs_one_shard_per_task_and_requeues_on_its_warning() {
        let dir = tempfile::tempdir().unwrap();
        let job = SlurmJob {
            config: "configs/smoke.toml".into(),
            overrides: vec!["train.epochs=3".into(), "name=it's".into()],
            tasks: 4,
            partition: Some("gpu".into()),
            gpus_per_task: Some(1),
            extra: vec!["#SBATCH --account=lab".into()],
            ..Default::default()
        };
        let scripts =
            write_scripts(&job, &dir.path().join("smoke"), Path::new("/opt/plateau")).unwrap();
        let sweep = std::fs::read_to_string(&scripts.sweep).unwrap();
        for line in [
            "#SBATCH --array=0-3",
            "#SBATCH --signal=B:USR1@120",
            "#SBATCH --requeue",
            "#SBATCH --partition=gpu",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --account=lab",
            "--set train.epochs=3 --set 'name=it'\\''s' --shards 4 &",
            "scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"",
        ] {
            assert!(sweep.contains(line), "{line} not in:\n{sweep}");
        }
        assert!(sweep.contains("/smoke/slurm/%A_%a.out"));
        let merge = std::fs::read_to_string(&scripts.merge).unwrap();
        assert!(merge.contains("/opt/plateau report "), "{merge}");
        assert!(
            merge.contains("--dependency=afterany:\"$array\" ") && merge.contains("/merge.sbatch"),
            "a merge started by a requeue queues itself again: {merge}"
        );
        let bad = SlurmJob {
            extra: vec!["--account=lab".into()],
            ..job
        };
        assert!(write_scripts(&bad, dir.path(), Path::new("p")).is_err());
    }
}
