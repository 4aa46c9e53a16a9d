//! What `plateau fit` fits: points taken from a sweep's results (or a CSV of them), grouped into
//! series, each fitted with intervals, printed as a table or JSON.
//!
//! - x = upstream error: the saturation law `e_DS = k·e_US^α + e_IR`, one series per downstream
//!   task and shot count, over every family (the paper's Figure 1 view).
//! - x = params, FLOPs, training FLOPs or examples: the size law `err = a·x^(−b) + c`, one series
//!   per family, of upstream error (or of downstream error with `--task`).

use std::path::Path;

use serde::Serialize;

use super::{BootstrapOptions, CurveFit, Exponent, FitError, FitOptions, PointSet, fit_curve};
use crate::axes::AxisMeaning;
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

/// What to fit.
#[derive(Clone, Debug)]
pub struct Query {
    pub x: XAxis,
    /// Downstream task (default: every task for the saturation law; upstream error for size laws).
    pub task: Option<String>,
    pub shots: Option<usize>,
    pub layer: String,
    pub family: Option<String>,
    pub point_set: PointSet,
    pub boot: BootstrapOptions,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            x: XAxis::UpstreamError,
            task: None,
            shots: None,
            layer: "pre_logits".into(),
            family: None,
            point_set: PointSet::Frontier,
            boot: BootstrapOptions::default(),
        }
    }
}

/// Points of one curve.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub task: Option<String>,
    pub shots: Option<usize>,
    pub family: Option<String>,
    pub points: Vec<(f64, f64)>,
    /// The run behind each point (empty for CSV input).
    pub run_ids: Vec<String>,
}

impl Series {
    pub fn label(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.family.clone());
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
    #[error("{series}: {source}")]
    Fit {
        series: String,
        #[source]
        source: FitError,
    },
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
    let rows: Vec<ResultRow> = ResultsStore::new(dir)
        .latest()
        .map_err(|e| input_error(e.to_string()))?
        .into_values()
        .collect();
    series_from_rows(&rows, query, axes)
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
    let mut series = Series::default();
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
    let selected: Vec<&ResultRow> = select_by_validation(rows, axes)
        .rows
        .into_iter()
        .filter(|r| query.family.as_ref().is_none_or(|f| &r.family == f))
        .collect();
    if selected.is_empty() {
        return Err(StudyError::Query(match &query.family {
            Some(family) => format!("no finished run of family `{family}`"),
            None => "no finished run to fit".into(),
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
    let mut all = Vec::new();
    for family in &families {
        for target in &targets {
            let mut series = Series {
                task: target.as_ref().map(|t| t.0.clone()),
                shots: target.as_ref().map(|t| t.1),
                family: family.clone(),
                ..Series::default()
            };
            for row in selected
                .iter()
                .filter(|r| family.as_ref().is_none_or(|f| &r.family == f))
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
            all.push(series);
        }
    }
    Ok(all)
}

/// One fitted series, as printed.
#[derive(Clone, Debug)]
pub struct SeriesFit {
    pub series: Series,
    pub x: XAxis,
    pub fit: CurveFit,
    pub level: f64,
}

/// Fits every series; a series that cannot be fitted is an error naming it.
pub fn fit_series(series: Vec<Series>, query: &Query) -> Result<Vec<SeriesFit>, StudyError> {
    let sign = match query.x {
        XAxis::UpstreamError => Exponent::Positive,
        _ => Exponent::Negative,
    };
    series
        .into_iter()
        .map(|series| {
            let fit = fit_curve(
                &series.points,
                query.point_set,
                FitOptions::new(sign),
                &query.boot,
            )
            .map_err(|source| StudyError::Fit {
                series: series.label(),
                source,
            })?;
            Ok(SeriesFit {
                series,
                x: query.x,
                fit,
                level: query.boot.level,
            })
        })
        .collect()
}

impl SeriesFit {
    /// Parameter names as the law writes them: (k, alpha, e_ir) or (a, b, c).
    fn names(&self) -> [&'static str; 3] {
        match self.x {
            XAxis::UpstreamError => ["k", "alpha", "e_ir"],
            _ => ["a", "b", "c"],
        }
    }

    pub fn law(&self) -> String {
        match self.x {
            XAxis::UpstreamError => "e_DS = k * e_US^alpha + e_ir".into(),
            x => format!("err = a * {}^(-b) + c", x.name()),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let law = &self.fit.fitted.law;
        let [k, exponent, c] = self.names();
        let interval = |i: &super::Interval| serde_json::json!([i.low, i.high]);
        let mut object = serde_json::json!({
            "law": self.law(),
            "x": self.x.name(),
            "task": self.series.task,
            "shots": self.series.shots,
            "family": self.series.family,
            "point_set": self.fit.point_set,
            "points": self.series.points.len(),
            "points_used": self.fit.used.len(),
            "rms_log_residual": self.fit.fitted.rms_log_residual,
            "confidence_level": self.level,
            "resamples": self.fit.resamples,
        });
        let fields = object.as_object_mut().expect("an object");
        fields.insert(k.into(), law.k.into());
        fields.insert(exponent.into(), law.exponent.into());
        fields.insert(c.into(), law.c.into());
        fields.insert(format!("{k}_ci"), interval(&self.fit.k));
        fields.insert(format!("{exponent}_ci"), interval(&self.fit.exponent));
        fields.insert(format!("{c}_ci"), interval(&self.fit.c));
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
/// read as `.k`, `.alpha`, `.e_ir`), and every fit under `fits`.
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

/// A table a person reads in a terminal.
pub fn fits_table(fits: &[SeriesFit]) -> String {
    let mut out = String::new();
    let Some(first) = fits.first() else {
        return out;
    };
    let [k, exponent, c] = first.names();
    out.push_str(&format!(
        "{} fitted to the {} points; {:.0}% bootstrap intervals over runs ({} resamples)\n",
        first.law(),
        first.fit.point_set.name(),
        first.level * 100.0,
        first.fit.resamples
    ));
    out.push_str(&format!(
        "{:<28} {:>7}  {:<26} {:<26} {:<26} {:>8}\n",
        "series", "points", k, exponent, c, "rms log"
    ));
    let cell = |value: f64, i: &super::Interval| match i.low.is_nan() {
        true => format!("{} [n/a]", number(value)),
        false => format!("{} [{}, {}]", number(value), number(i.low), number(i.high)),
    };
    for fit in fits {
        let law = &fit.fit.fitted.law;
        out.push_str(&format!(
            "{:<28} {:>7}  {:<26} {:<26} {:<26} {:>8.4}\n",
            fit.series.label(),
            format!("{}/{}", fit.fit.used.len(), fit.series.points.len()),
            cell(law.k, &fit.fit.k),
            cell(law.exponent, &fit.fit.exponent),
            cell(law.c, &fit.fit.c),
            fit.fit.fitted.rms_log_residual
        ));
    }
    out
}

/// Four decimals, or scientific notation for values too large or small to read that way.
fn number(value: f64) -> String {
    match value.abs() {
        v if v != 0.0 && !(1e-3..1e4).contains(&v) => format!("{value:.3e}"),
        _ => format!("{value:.4}"),
    }
}
