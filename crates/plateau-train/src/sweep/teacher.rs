//! Finding the teacher of a sweep's distilled runs while the grid is planned: a point of the
//! grid (trained first, like any run), or another sweep's finished run folder, checked against
//! this sweep's data before anything trains.

use std::path::{Path, PathBuf};

use plateau_models::{InputSpec, ModelError};
use sha2::{Digest, Sha256};

use crate::run::spec::RunSpec;
use crate::sweep::config::SweepConfig;
use crate::sweep::sections::TeacherConfig;

/// The teacher as planned runs name it.
pub(crate) struct Teacher {
    /// Its run id in this sweep, or `weights-<hash>` of an external teacher's weights.
    pub id: String,
    /// An external teacher's folder.
    pub dir: Option<PathBuf>,
}

fn invalid(field: &str, message: String) -> ModelError {
    ModelError::Invalid {
        field: field.to_string(),
        message,
    }
}

/// The teacher of `config`'s distilled runs; `planned` are the sweep's runs as (id, spec,
/// label) (the teacher of a grid point is among the undistilled ones).
pub(crate) fn find_teacher(
    config: &SweepConfig,
    teacher: &TeacherConfig,
    planned: &[(String, RunSpec, String)],
    input: InputSpec,
) -> Result<Teacher, ModelError> {
    match teacher {
        TeacherConfig::Point {
            preset,
            width,
            depth,
            seed,
        } => {
            let mut wanted = plateau_models::preset(preset)?.config();
            if let Some(width) = width {
                wanted = wanted.with_width(*width);
            }
            if let Some(depth) = depth {
                wanted = wanted.with_depth(*depth);
            }
            let undistilled = || planned.iter().filter(|(_, spec, _)| spec.distill.is_none());
            let found = undistilled().find(|(_, spec, _)| {
                spec.preset.as_deref() == Some(preset.as_str())
                    && spec.model == wanted
                    && spec.seed == *seed
            });
            match found {
                Some((id, _, _)) => Ok(Teacher {
                    id: id.clone(),
                    dir: None,
                }),
                None => {
                    let points: Vec<&str> = undistilled()
                        .take(12)
                        .map(|(_, _, label)| label.as_str())
                        .collect();
                    let shown = |name: &str, v: &Option<usize>| {
                        v.map(|v| format!(" {name}={v}")).unwrap_or_default()
                    };
                    Err(invalid(
                        "distill.teacher",
                        format!(
                            "no undistilled run of the grid is {preset}{}{} seed={seed}; add \
                             it to the grid or name one of: {}",
                            shown("width", width),
                            shown("depth", depth),
                            points.join("; ")
                        ),
                    ))
                }
            }
        }
        TeacherConfig::RunDir { run_dir } => external(&config.base_dir().join(run_dir), input),
    }
}

/// Another sweep's finished run as a teacher: its spec must fit this sweep's images and
/// classes; its identity is the hash of its weights.
fn external(dir: &Path, input: InputSpec) -> Result<Teacher, ModelError> {
    let field = "distill.teacher.run_dir";
    let config_path = dir.join("config.json");
    let text = std::fs::read(&config_path).map_err(|e| {
        invalid(
            field,
            format!(
                "{}: {e}; name the folder of a finished run (it holds config.json and \
                 model.safetensors)",
                config_path.display()
            ),
        )
    })?;
    let spec: RunSpec = serde_json::from_slice(&text).map_err(|e| {
        invalid(
            field,
            format!("{}: not a plateau run config ({e})", config_path.display()),
        )
    })?;
    let theirs = spec.input;
    if (theirs.channels, theirs.image_size, theirs.num_classes)
        != (input.channels, input.image_size, input.num_classes)
    {
        return Err(invalid(
            field,
            format!(
                "{}: the teacher takes {}×{}×{} images into {} classes, but this sweep's data \
                 gives {}×{}×{} into {}; distil from a teacher trained on this data (or set \
                 upstream.image_size / channels to match)",
                config_path.display(),
                theirs.channels,
                theirs.image_size,
                theirs.image_size,
                theirs.num_classes,
                input.channels,
                input.image_size,
                input.image_size,
                input.num_classes
            ),
        ));
    }
    let weights = dir.join("model.safetensors");
    let bytes = std::fs::read(&weights).map_err(|e| {
        invalid(
            field,
            format!(
                "{}: {e}; the teacher's run has not finished (rerun its sweep)",
                weights.display()
            ),
        )
    })?;
    let digest = Sha256::digest(&bytes);
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Ok(Teacher {
        id: format!("weights-{hash}"),
        dir: Some(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())),
    })
}
