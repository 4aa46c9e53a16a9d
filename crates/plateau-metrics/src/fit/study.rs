//! What `plateau fit` fits: points taken from a sweep's results (or a CSV of them), grouped into
//! series, each fitted with intervals and asked its questions (predictions, targets, a held-out
//! check, whether its floor is identified), printed as a table or JSON.
//!
//! - x = upstream error: the saturation law `e_DS = k·e_US^α + e_IR`, one series per downstream
//!   task and shot count, over every family (the paper's Figure 1 view).
//! - x = params, FLOPs, training FLOPs or examples: a size law (`a·x^(−b) + c`, or the bent law),
//!   one series per family, of upstream error (or of downstream error with `--task`).
//! - Either way, one series per value of every axis that sets a condition of the study
//!   ([`AxisRole::Condition`]: distilled or not, a label-noise rate), never mixed in one curve.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::answers::{self, FloorVerdict, Holdout, Prediction, Target};
use super::{BootstrapOptions, CurveFit, FitError, LawForm, PointSet, fit_curve};
use crate::axes::{AxisMeaning, AxisRole, role_of};
use crate::results::{ResultRow, ResultsStore};
use crate::selection::select_by_validation;

/// The x of a fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum XAxis {
    #[default]
    UpstreamError,
    Params,
    Flops,
    TrainFlops,
    TrainExamples,
}

impl XAxis {
    pub const ALL: [XAxis; 5] = [
        XAxis::UpstreamError,
        XAxis::Params,
        XAxis::Flops,
        XAxis::TrainFlops,
        XAxis::TrainExamples,
    ];

    pub fn name(self) -> &'static str {
        match self {
            XAxis::UpstreamError => "upstream_error",
            XAxis::Params => "params",
            XAxis::Flops => "flops",
            XAxis::TrainFlops => "train_flops",
            XAxis::TrainExamples => "train_examples",
        }
    }

    fn of(self, row: &ResultRow) -> Option<f64> {
        match self {
            XAxis::UpstreamError => row.upstream.as_ref().map(|u| 1.0 - u.test_accuracy),
            XAxis::Params => Some(row.params as f64),
            XAxis::Flops => Some(row.flops_per_image as f64),
            XAxis::TrainFlops => Some(row.train_flops),
            XAxis::TrainExamples => row.config.get("train_examples").and_then(|v| v.as_f64()),
        }
    }
}

impl std::str::FromStr for XAxis {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        XAxis::ALL
            .into_iter()
            .find(|x| x.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = XAxis::ALL.iter().map(|x| x.name()).collect();
                format!("unknown x `{name}`; choose one of {}", names.join(", "))
            })
    }
}

/// Which law `--law` asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LawChoice {
    /// The saturation law for upstream error, the size law for everything else.
    #[default]
    Usual,
    One(LawForm),
    /// Every law that applies, each checked on held-out points; the best one answers.
    Auto,
}

impl std::str::FromStr for LawChoice {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "auto" => Ok(LawChoice::Auto),
            _ => name.parse().map(LawChoice::One),
        }
    }
}

/// Held-out points `--law auto` uses when neither `--holdout` nor a CSV's `training` column
/// says.
const AUTO_HOLDOUT: usize = 2;

/// What to fit, and what to ask of each fit.
#[derive(Clone, Debug)]
pub struct Query {
    pub x: XAxis,
    pub law: LawChoice,
    /// Downstream task (default: every task for the saturation law; upstream error for size laws).
    pub task: Option<String>,
    pub shots: Option<usize>,
    pub layer: String,
    pub family: Option<String>,
    /// `--where AXIS=VALUE`: only runs whose config has that value.
    pub filters: Vec<(String, String)>,
    pub point_set: PointSet,
    pub boot: BootstrapOptions,
    /// `--at X`: predictions.
    pub at: Vec<f64>,
    /// `--target Y`: where each curve reaches Y.
    pub targets: Vec<f64>,
    /// `--holdout K`: fit on all but the K points furthest along the curve.
    pub holdout: Option<usize>,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            x: XAxis::UpstreamError,
            law: LawChoice::Usual,
            task: None,
            shots: None,
            layer: "pre_logits".into(),
            family: None,
            filters: Vec::new(),
            point_set: PointSet::Frontier,
            boot: BootstrapOptions::default(),
            at: Vec::new(),
            targets: Vec::new(),
            holdout: None,
        }
    }
}

/// Points of one curve.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub task: Option<String>,
    pub shots: Option<usize>,
    pub family: Option<String>,
    /// The values of the condition axes this series holds (`label_noise=0.2`).
    pub condition: Vec<(String, String)>,
    pub points: Vec<(f64, f64)>,
    /// The run behind each point (empty for CSV input).
    pub run_ids: Vec<String>,
    /// A CSV's `training` column: which points are fitted (the others are held out).
    pub training: Option<Vec<bool>>,
    /// Read from a CSV of the user's own: any law may fit it.
    pub from_csv: bool,
}

impl Series {
    pub fn label(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.family.clone());
        parts.extend(self.condition.iter().map(|(k, v)| format!("{k}={v}")));
        match (&self.task, self.shots) {
            (Some(task), Some(shots)) => parts.push(format!("{task} {shots}-shot")),
            (Some(task), None) => parts.push(task.clone()),
            _ => {}
        }
        match parts.is_empty() {
            true => "all points".into(),
            false => parts.join(" "),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("{0}")]
    Query(String),
    /// The fit's error is part of the message, not a `source`: error chains would print it twice.
    #[error("{series}: {cause}")]
    Fit { series: String, cause: FitError },
}

/// Reads fit points from a sweep folder, its `results.jsonl`, or a CSV with columns
/// `upstream_error,downstream_error` (or `x,y`).
pub fn load_series(
    path: &Path,
    query: &Query,
    axes: &[AxisMeaning],
) -> Result<Vec<Series>, StudyError> {
    let input_error = |message: String| StudyError::Input {
        path: path.display().to_string(),
        message,
    };
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv && path.file_name().is_some_and(|n| n != "results.csv") {
        return read_csv(path).map(|s| vec![s]).map_err(input_error);
    }
    series_from_rows(&load_rows(path)?, query, axes)
}

/// The latest row of every run of a sweep folder (or of its `results.jsonl`).
pub fn load_rows(path: &Path) -> Result<Vec<ResultRow>, StudyError> {
    let input_error = |message: String| StudyError::Input {
        path: path.display().to_string(),
        message,
    };
    let dir = match path.is_dir() {
        true => path,
        false => path.parent().unwrap_or(Path::new(".")),
    };
    if !dir.join("results.jsonl").is_file() {
        return Err(input_error(
            "no results.jsonl here; give a sweep folder, its results.jsonl, or a CSV with \
             columns upstream_error,downstream_error (or x,y)"
                .into(),
        ));
    }
    Ok(ResultsStore::new(dir)
        .latest()
        .map_err(|e| input_error(e.to_string()))?
        .into_values()
        .collect())
}

fn read_csv(path: &Path) -> Result<Series, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| e.to_string())?;
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |names: [&str; 2]| headers.iter().position(|h| names.contains(&h));
    let (Some(xi), Some(yi)) = (
        column(["upstream_error", "x"]),
        column(["downstream_error", "y"]),
    ) else {
        return Err(format!(
            "needs columns `upstream_error,downstream_error` (or `x,y`); found `{}`",
            headers.iter().collect::<Vec<_>>().join(",")
        ));
    };
    let training = column(["training", "training"]);
    let mut series = Series {
        from_csv: true,
        training: training.map(|_| Vec::new()),
        ..Series::default()
    };
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| e.to_string())?;
        let value = |i: usize| -> Result<f64, String> {
            let text = record.get(i).unwrap_or("");
            text.parse::<f64>().map_err(|_| {
                format!(
                    "line {}: `{text}` in column `{}` is not a number",
                    line + 2,
                    &headers[i]
                )
            })
        };
        series.points.push((value(xi)?, value(yi)?));
        if let (Some(ti), Some(flags)) = (training, series.training.as_mut()) {
            match record.get(ti).unwrap_or("") {
                "1" => flags.push(true),
                "0" => flags.push(false),
                other => {
                    return Err(format!(
                        "line {}: `{other}` in column `training` must be 1 (fit) or 0 (held out)",
                        line + 2
                    ));
                }
            }
        }
    }
    Ok(series)
}

/// Groups a sweep's finished runs (each size at its learning rate chosen on validation) into
/// the series the query asks for.
pub fn series_from_rows(
    rows: &[ResultRow],
    query: &Query,
    axes: &[AxisMeaning],
) -> Result<Vec<Series>, StudyError> {
    for (axis, _) in &query.filters {
        if !rows.iter().any(|r| r.config.contains_key(axis)) {
            let mut known: Vec<&String> = rows.iter().flat_map(|r| r.config.keys()).collect();
            known.sort();
            known.dedup();
            let known: Vec<&str> = known.into_iter().map(String::as_str).collect();
            return Err(StudyError::Query(format!(
                "--where {axis}=…: no run has the axis `{axis}`; the runs' axes are {}",
                known.join(", ")
            )));
        }
    }
    let selected: Vec<&ResultRow> = select_by_validation(rows, axes)
        .rows
        .into_iter()
        .filter(|r| query.family.as_ref().is_none_or(|f| &r.family == f))
        .filter(|r| {
            query
                .filters
                .iter()
                .all(|(axis, value)| has_value(r, axis, value))
        })
        .collect();
    if selected.is_empty() {
        let mut asked: Vec<String> = query
            .family
            .iter()
            .map(|f| format!("family `{f}`"))
            .collect();
        asked.extend(query.filters.iter().map(|(a, v)| format!("{a}={v}")));
        return Err(StudyError::Query(match asked.is_empty() {
            false => format!("no finished run with {}", asked.join(" and ")),
            true => "no finished run to fit".into(),
        }));
    }
    // Downstream (task, shots) pairs present for the layer, filtered by the query.
    let mut pairs: Vec<(String, usize)> = selected
        .iter()
        .flat_map(|r| r.downstream.iter())
        .filter(|d| d.layer == query.layer)
        .filter(|d| query.task.as_ref().is_none_or(|t| &d.task == t))
        .filter(|d| query.shots.is_none_or(|s| d.shots == s))
        .map(|d| (d.task.clone(), d.shots))
        .collect();
    pairs.sort();
    pairs.dedup();
    let wants_downstream = query.x == XAxis::UpstreamError || query.task.is_some();
    if wants_downstream && pairs.is_empty() {
        let known: std::collections::BTreeSet<String> = selected
            .iter()
            .flat_map(|r| r.downstream.iter())
            .map(|d| format!("{} (shots {}, layer {})", d.task, d.shots, d.layer))
            .collect();
        return Err(StudyError::Query(format!(
            "no downstream result for task {:?}, shots {:?}, layer `{}`; the runs have: {}",
            query.task.as_deref().unwrap_or("any"),
            query.shots,
            query.layer,
            match known.is_empty() {
                true => "no downstream results".into(),
                false => known.into_iter().collect::<Vec<_>>().join(", "),
            }
        )));
    }
    let families: Vec<Option<String>> = match query.x {
        // The saturation law is about the best any model reaches: all families together.
        XAxis::UpstreamError => vec![query.family.clone()],
        _ => {
            let mut names: Vec<String> = selected.iter().map(|r| r.family.clone()).collect();
            names.sort();
            names.dedup();
            names.into_iter().map(Some).collect()
        }
    };
    let targets: Vec<Option<(String, usize)>> = match wants_downstream {
        true => pairs.into_iter().map(Some).collect(),
        false => vec![None],
    };
    let mut conditions: Vec<Vec<(String, String)>> =
        selected.iter().map(|r| condition_of(r, axes)).collect();
    conditions.sort();
    conditions.dedup();
    let mut all = Vec::new();
    for (family, condition) in families
        .iter()
        .flat_map(|f| conditions.iter().map(move |c| (f, c)))
    {
        for target in &targets {
            let mut series = Series {
                task: target.as_ref().map(|t| t.0.clone()),
                shots: target.as_ref().map(|t| t.1),
                family: family.clone(),
                condition: condition.clone(),
                ..Series::default()
            };
            for row in selected
                .iter()
                .filter(|r| family.as_ref().is_none_or(|f| &r.family == f))
                .filter(|r| &condition_of(r, axes) == condition)
            {
                let y = match target {
                    Some((task, shots)) => row
                        .downstream
                        .iter()
                        .find(|d| &d.task == task && d.shots == *shots && d.layer == query.layer)
                        .map(|d| 1.0 - d.accuracy_mean),
                    None => row.upstream.as_ref().map(|u| 1.0 - u.test_accuracy),
                };
                if let (Some(x), Some(y)) = (query.x.of(row), y) {
                    series.points.push((x, y));
                    series.run_ids.push(row.run_id.clone());
                }
            }
            if !series.points.is_empty() {
                all.push(series);
            }
        }
    }
    Ok(all)
}

/// A config value as `--where` writes it: numbers compare as numbers (`0.2` = `0.20`).
fn has_value(row: &ResultRow, axis: &str, wanted: &str) -> bool {
    match row.config.get(axis) {
        Some(serde_json::Value::String(text)) => text == wanted,
        Some(serde_json::Value::Number(n)) => {
            wanted.parse::<f64>().is_ok_and(|w| n.as_f64() == Some(w))
        }
        Some(other) => other.to_string() == wanted,
        None => false,
    }
}

/// The condition axes of a row and their values, in name order.
fn condition_of(row: &ResultRow, axes: &[AxisMeaning]) -> Vec<(String, String)> {
    row.config
        .iter()
        .filter(|(name, _)| role_of(axes, name) == AxisRole::Condition)
        .map(|(name, value)| {
            let shown = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (name.clone(), shown)
        })
        .collect()
}

/// One law's fit to a series, with its held-out check when there was one.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub fit: CurveFit,
    pub holdout: Option<Holdout>,
}

/// One fitted series, as printed: the law that answers, its answers, and (for `--law auto`)
/// every law that was tried.
#[derive(Clone, Debug)]
pub struct SeriesFit {
    pub series: Series,
    pub x: XAxis,
    pub fit: CurveFit,
    pub holdout: Option<Holdout>,
    pub floor: FloorVerdict,
    pub predictions: Vec<Prediction>,
    pub targets: Vec<Target>,
    /// Every law fitted, in the order tried (one, unless `--law auto`).
    pub candidates: Vec<(LawForm, Option<Holdout>)>,
    /// Laws `--law auto` could not fit to these points, and why.
    pub skipped: Vec<(LawForm, String)>,
}

/// The laws a query fits to a series: an impossible pair of `--law` and `--x` is an error that
/// names both.
fn laws_for(query: &Query, series: &Series) -> Result<Vec<LawForm>, StudyError> {
    let rising = query.x == XAxis::UpstreamError;
    let usual = match rising {
        true => LawForm::Saturation,
        false => LawForm::Size,
    };
    match query.law {
        LawChoice::Usual => Ok(vec![usual]),
        LawChoice::Auto if series.from_csv => Ok(LawForm::ALL.to_vec()),
        LawChoice::Auto if rising => Ok(vec![LawForm::Saturation]),
        LawChoice::Auto => Ok(vec![LawForm::Size, LawForm::Bent]),
        LawChoice::One(law) if series.from_csv || law.falls() != rising => Ok(vec![law]),
        LawChoice::One(law) => Err(StudyError::Query(format!(
            "--law {} does not fit --x {}: {}",
            law.name(),
            query.x.name(),
            match rising {
                true => "against upstream error, downstream error rises (use --law saturation)",
                false => "error falls as size, compute or data grow (use --law size or bent)",
            }
        ))),
    }
}

/// Which points of `series` are held out: its CSV's `training` column, or the `k` points
/// furthest along the curve (largest x where error falls with x, smallest upstream error for
/// the saturation law): what an extrapolation would be asked to foresee.
fn held_out(series: &Series, k: Option<usize>, rising: bool) -> Result<Vec<usize>, String> {
    if let Some(flags) = &series.training {
        let held: Vec<usize> = (0..flags.len()).filter(|&i| !flags[i]).collect();
        if let Some(k) = k
            && k != held.len()
        {
            return Err(format!(
                "--holdout {k} disagrees with the CSV's `training` column, which holds out {}                  points; give --holdout {} or leave it out",
                held.len(),
                held.len()
            ));
        }
        return Ok(held);
    }
    let Some(k) = k else {
        return Ok(Vec::new());
    };
    let mut order: Vec<usize> = (0..series.points.len()).collect();
    order.sort_by(|&a, &b| series.points[a].0.total_cmp(&series.points[b].0));
    if !rising {
        order.reverse();
    }
    let mut held: Vec<usize> = order.into_iter().take(k).collect();
    held.sort();
    Ok(held)
}

/// Fits every series and asks it the query's questions; a series that cannot be fitted is an
/// error naming it.
pub fn fit_series(series: Vec<Series>, query: &Query) -> Result<Vec<SeriesFit>, StudyError> {
    series
        .into_iter()
        .map(|series| fit_one(series, query))
        .collect()
}

fn fit_one(series: Series, query: &Query) -> Result<SeriesFit, StudyError> {
    let laws = laws_for(query, &series)?;
    let rising = match series.from_csv {
        true => laws.iter().all(|l| !l.falls()),
        false => query.x == XAxis::UpstreamError,
    };
    let holdout = match (query.law, query.holdout) {
        (LawChoice::Auto, None) if series.training.is_none() => Some(AUTO_HOLDOUT),
        (_, k) => k,
    };
    let fit_error = |cause| StudyError::Fit {
        series: series.label(),
        cause,
    };
    let held = held_out(&series, holdout, rising).map_err(StudyError::Query)?;
    // Indices of the points fitted, and the points themselves.
    let kept_index: Vec<usize> = (0..series.points.len())
        .filter(|i| !held.contains(i))
        .collect();
    let kept: Vec<(f64, f64)> = kept_index.iter().map(|&i| series.points[i]).collect();
    let held_points: Vec<(f64, f64)> = held.iter().map(|&i| series.points[i]).collect();
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    for law in &laws {
        match fit_curve(&kept, query.point_set, *law, &query.boot) {
            Ok(fit) => {
                let check = (!held.is_empty()).then(|| answers::holdout_check(&fit, &held_points));
                candidates.push(Candidate {
                    fit,
                    holdout: check,
                });
            }
            // With several laws to try, one the points cannot carry (the bent law needs five)
            // steps aside; the answer says so.
            Err(cause) if laws.len() > 1 => skipped.push((*law, cause.to_string())),
            Err(cause) => return Err(fit_error(cause)),
        }
    }
    if candidates.is_empty() {
        let (_, why) = skipped.first().cloned().expect("a law was tried");
        return Err(StudyError::Query(format!(
            "{}: no law could be fitted: {why}",
            series.label()
        )));
    }
    let tried = candidates
        .iter()
        .map(|c| (c.fit.form(), c.holdout.clone()))
        .collect();
    // The law that foresaw the held-out points best answers (the first, with one law).
    let best = candidates
        .into_iter()
        .min_by(|a, b| {
            let error = |c: &Candidate| c.holdout.as_ref().map_or(0.0, |h| h.rmse_log);
            error(a).total_cmp(&error(b))
        })
        .expect("at least one law");
    let used: Vec<(f64, f64)> = best.fit.used.iter().map(|&i| kept[i]).collect();
    let fit = best.fit;
    // `used` indexes the kept points; the caller sees indices into the series' points.
    let fit = CurveFit {
        used: fit.used.iter().map(|&i| kept_index[i]).collect(),
        ..fit
    };
    Ok(SeriesFit {
        floor: answers::floor_verdict(&fit, &used),
        predictions: query
            .at
            .iter()
            .map(|&x| answers::predict(&fit, x))
            .collect(),
        targets: query
            .targets
            .iter()
            .map(|&y| answers::target(&fit, y))
            .collect(),
        holdout: best.holdout,
        candidates: tried,
        skipped,
        x: query.x,
        series,
        fit,
    })
}

impl SeriesFit {
    pub fn form(&self) -> LawForm {
        self.fit.form()
    }

    /// The law as it reads with this series' x and y.
    pub fn law(&self) -> String {
        let x = match (self.series.from_csv, self.x, self.form()) {
            (true, _, LawForm::Saturation) | (false, XAxis::UpstreamError, _) => "e_US",
            (true, _, _) => "x",
            (false, x, _) => x.name(),
        };
        match self.form() {
            LawForm::Saturation => "e_DS = k * e_US^alpha + e_ir".into(),
            LawForm::Size => format!("err = a * {x}^(-b) + c"),
            LawForm::Bent => format!("(err - e_inf) / (e0 - err)^alpha = beta * {x}^(-c)"),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let interval = |i: &super::Interval| serde_json::json!([i.low, i.high]);
        let mut object = serde_json::json!({
            "law": self.law(),
            "law_form": self.form().name(),
            "x": self.x.name(),
            "task": self.series.task,
            "shots": self.series.shots,
            "family": self.series.family,
            "condition": self.series.condition.iter().cloned().collect::<BTreeMap<_, _>>(),
            "point_set": self.fit.point_set,
            "points": self.series.points.len(),
            "points_used": self.fit.used.len(),
            "rms_log_residual": self.fit.rms_log_residual,
            "confidence_level": self.fit.level,
            "resamples": self.fit.draws.len(),
            "floor_identified": self.floor.identified,
            "floor_note": self.floor.note,
            "predictions": self.predictions,
            "targets": self.targets,
        });
        let fields = object.as_object_mut().expect("an object");
        let names = self.form().parameter_names();
        for ((name, value), i) in names
            .iter()
            .zip(self.fit.law.parameters())
            .zip(0..names.len())
        {
            fields.insert((*name).into(), value.into());
            fields.insert(format!("{name}_ci"), interval(&self.fit.intervals[i]));
            if self.fit.widened[i] {
                fields.insert(format!("{name}_ci_widened"), true.into());
            }
        }
        if let Some(holdout) = &self.holdout {
            fields.insert("holdout".into(), serde_json::json!(holdout));
        }
        if self.candidates.len() > 1 {
            let tried: Vec<serde_json::Value> = self
                .candidates
                .iter()
                .map(|(law, check)| {
                    serde_json::json!({
                        "law_form": law.name(),
                        "holdout_rmse_log": check.as_ref().map(|h| h.rmse_log),
                    })
                })
                .collect();
            fields.insert("laws_tried".into(), tried.into());
        }
        if !self.skipped.is_empty() {
            let skipped: serde_json::Map<String, serde_json::Value> = self
                .skipped
                .iter()
                .map(|(law, why)| (law.name().to_string(), why.clone().into()))
                .collect();
            fields.insert("laws_skipped".into(), skipped.into());
        }
        if !self.series.run_ids.is_empty() {
            let used: Vec<&str> = self
                .fit
                .used
                .iter()
                .map(|&i| self.series.run_ids[i].as_str())
                .collect();
            fields.insert("runs_used".into(), serde_json::json!(used));
        }
        object
    }
}

/// JSON for `plateau fit --format json`: the first fit's fields at the top (so a single fit is
/// read as `.k`, `.alpha`, `.e_ir`, `.predictions`), and every fit under `fits`.
pub fn fits_json(fits: &[SeriesFit]) -> serde_json::Value {
    let all: Vec<serde_json::Value> = fits.iter().map(SeriesFit::to_json).collect();
    let mut top = all
        .first()
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    if let Some(fields) = top.as_object_mut() {
        fields.insert("fits".into(), serde_json::Value::Array(all));
    }
    top
}

/// A table a person reads in a terminal: per series, its law's parameters with intervals, then
/// what was asked of it.
pub fn fits_table(fits: &[SeriesFit]) -> String {
    let mut out = String::new();
    let Some(first) = fits.first() else {
        return out;
    };
    out.push_str(&format!(
        "{} fitted to {}; {:.0}% bootstrap intervals over runs ({} resamples)\n",
        first.law(),
        match first.fit.point_set {
            PointSet::All => "all points".to_string(),
            set => format!("the {} points", set.name()),
        },
        first.fit.level * 100.0,
        first.fit.asked
    ));
    let range = |i: &super::Interval| interval_text([i.low, i.high]);
    for fit in fits {
        out.push_str(&format!(
            "\n{} ({}): {}/{} points, rms log residual {:.4}\n",
            fit.series.label(),
            fit.law(),
            fit.fit.used.len(),
            fit.series.points.len(),
            fit.fit.rms_log_residual
        ));
        let names = fit.form().parameter_names();
        for (i, (name, value)) in names.iter().zip(fit.fit.law.parameters()).enumerate() {
            let mut line = format!(
                "  {name:<7} {:<11} {}",
                number(value),
                range(&fit.fit.intervals[i])
            );
            if fit.fit.widened[i] {
                line.push_str(" (widened to hold the estimate)");
            }
            if *name == fit.form().floor_name() && !fit.floor.identified {
                line.push_str(" floor not identified");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if !fit.floor.identified {
            out.push_str(&format!("  note: {}\n", fit.floor.note));
        }
        if fit.candidates.len() > 1 {
            let tried: Vec<String> = fit
                .candidates
                .iter()
                .map(|(law, check)| match check {
                    Some(h) => format!("{} {:.4}", law.name(), h.rmse_log),
                    None => law.name().to_string(),
                })
                .collect();
            out.push_str(&format!(
                "  laws by held-out rms log error: {}; {} answers\n",
                tried.join(", "),
                fit.form().name()
            ));
        }
        for (law, why) in &fit.skipped {
            out.push_str(&format!("  {} not fitted: {why}\n", law.name()));
        }
        if let Some(h) = &fit.holdout {
            out.push_str(&format!(
                "  held out {}: rms log error {:.4}, {} of {} inside the band\n",
                h.k, h.rmse_log, h.inside_interval, h.k
            ));
        }
        let x_name = match fit.series.from_csv {
            true => "x",
            false => fit.x.name(),
        };
        for p in &fit.predictions {
            out.push_str(&format!(
                "  at {x_name} = {}: y = {} {}\n",
                number(p.x),
                number(p.y),
                interval_text(p.y_ci)
            ));
        }
        // Without intervals (too few runs), the share of reaching resamples means nothing either.
        let share = |share: f64| match fit.fit.has_intervals() {
            true => format!("reachable in {:.0}% of resamples", 100.0 * share),
            false => "too few runs for intervals".to_string(),
        };
        for t in &fit.targets {
            let bound = |b: Option<f64>| b.map_or("unbounded".to_string(), number);
            out.push_str(&match (t.x, fit.fit.has_intervals()) {
                (Some(x), true) => format!(
                    "  target y = {}: {x_name} = {} [{}, {}], {}\n",
                    number(t.y),
                    number(x),
                    bound(t.x_ci[0]),
                    bound(t.x_ci[1]),
                    share(t.reachable_share)
                ),
                (Some(x), false) => format!(
                    "  target y = {}: {x_name} = {} [n/a], {}\n",
                    number(t.y),
                    number(x),
                    share(t.reachable_share)
                ),
                (None, _) => format!(
                    "  target y = {}: unreachable at any scale: at or below the floor {} {} ({})\n",
                    number(t.y),
                    number(t.floor),
                    interval_text(t.floor_ci),
                    share(t.reachable_share)
                ),
            });
        }
    }
    out
}

/// `[low, high]`, or `[n/a]` for an interval too few resamples could estimate.
fn interval_text([low, high]: [f64; 2]) -> String {
    match low.is_nan() || high.is_nan() {
        true => "[n/a]".to_string(),
        false => format!("[{}, {}]", number(low), number(high)),
    }
}

/// Four decimals, or scientific notation for values too large or small to read that way.
pub(crate) fn number(value: f64) -> String {
    match value.abs() {
        v if v != 0.0 && !(1e-3..1e4).contains(&v) => format!("{value:.3e}"),
        _ => format!("{value:.4}"),
    }
}
