//! `plateau datasets list|fetch|verify`: what is known, what is present, and getting the rest.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use plateau_data::fetch::{ensure, locate, verify};
use plateau_data::{DATASETS, DataRoots, DatasetSpec};

#[derive(Args)]
pub struct DatasetsArgs {
    #[command(subcommand)]
    command: DatasetsCommand,
}

#[derive(Subcommand)]
enum DatasetsCommand {
    /// Every known dataset, whether it is present and where.
    List,
    /// Fetch datasets into the user cache (default: every set that installs without internet).
    Fetch {
        /// Dataset names; none means every offline set.
        names: Vec<String>,
        /// Also fetch the sets that need internet (MNIST, CIFAR).
        #[arg(long)]
        all: bool,
    },
    /// Check the content checksums of present datasets and read them.
    Verify {
        /// Dataset names; none means every present dataset.
        names: Vec<String>,
    },
}

pub fn run(args: &DatasetsArgs) -> Result<ExitCode> {
    let names = match &args.command {
        DatasetsCommand::List => &[][..],
        DatasetsCommand::Fetch { names, .. } | DatasetsCommand::Verify { names } => names,
    };
    // An unknown name is a usage error (exit 2), like an unknown preset.
    if let Some(error) = names.iter().find_map(|name| plateau_data::spec(name).err()) {
        eprintln!("error: {error}");
        return Ok(ExitCode::from(2));
    }
    let roots = DataRoots::from_env(None);
    match &args.command {
        DatasetsCommand::List => list(&roots),
        DatasetsCommand::Fetch { names, all } => {
            let specs = select(names, |spec| *all || spec.offline)?;
            for spec in specs.into_iter().filter(|s| !s.files.is_empty()) {
                let found = ensure(spec, &roots, true)?;
                println!(
                    "{:<14} {} ({})",
                    spec.name,
                    found.dir.display(),
                    found.origin
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DatasetsCommand::Verify { names } => {
            let specs = select(names, |spec| locate(spec, &roots).is_some())?;
            let mut failed = false;
            for spec in specs.into_iter().filter(|s| !s.files.is_empty()) {
                let Some(found) = locate(spec, &roots) else {
                    println!("{:<14} MISSING; fix: {}", spec.name, spec.manual_fix());
                    failed = true;
                    continue;
                };
                for check in verify(spec, &found.dir) {
                    failed |= !check.ok;
                    let status = if check.ok { "ok" } else { "FAILED" };
                    println!(
                        "{:<14} {status:<6} {} ({})",
                        spec.name,
                        check.path.display(),
                        check.detail
                    );
                }
                match spec.load(&found.dir) {
                    Ok(raw) => println!(
                        "{:<14} read   {} train{} images, {} classes",
                        spec.name,
                        raw.train.len(),
                        raw.test
                            .map(|t| format!(" + {} test", t.len()))
                            .unwrap_or_default(),
                        raw.train.num_classes()
                    ),
                    Err(error) => {
                        failed = true;
                        println!("{:<14} FAILED to read: {error}", spec.name);
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn list(roots: &DataRoots) -> Result<ExitCode> {
    println!(
        "{:<14} {:<8} {:<40} description",
        "name", "offline", "present at"
    );
    for spec in DATASETS {
        let present = match (spec.files.is_empty(), locate(spec, roots)) {
            (true, _) => "generated".to_string(),
            (false, Some(found)) => format!("{} ({})", found.dir.display(), found.origin),
            (false, None) => "-".to_string(),
        };
        let offline = if spec.offline { "yes" } else { "no" };
        println!(
            "{:<14} {offline:<8} {present:<40} {}",
            spec.name, spec.description
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The named datasets, or every one passing `default` when no name is given.
fn select(
    names: &[String],
    default: impl Fn(&DatasetSpec) -> bool,
) -> Result<Vec<&'static DatasetSpec>> {
    if names.is_empty() {
        return Ok(DATASETS.iter().filter(|spec| default(spec)).collect());
    }
    Ok(names
        .iter()
        .map(|name| plateau_data::spec(name))
        .collect::<Result<_, _>>()?)
}
