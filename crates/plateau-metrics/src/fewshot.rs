//! Few-shot linear probe: closed-form ridge regression on frozen features.
//!
//! This follows big_vision's `fewshot_lsr` evaluator (the protocol of Abnar et
//! al. 2021, "Exploring the limits of large scale pre-training"):
//!
//! 1. standardise the features with the few-shot set's own per-dimension mean
//!    and population standard deviation, `(x − mean) / (std + 1e-5)`, and apply
//!    the same transform to every row the probe later scores;
//! 2. append a constant bias feature (default 100.0: large, so the bias is
//!    almost unregularised);
//! 3. regress onto `2·onehot − 1` targets with an L2 penalty λ (default 1024),
//!    in closed form and in f64, through whichever of the primal or dual normal
//!    equations is the smaller system;
//! 4. predict the class with the largest score.
//!
//! Everything works on plain host slices so that the crate needs no tensor
//! library: the caller extracts pooled features and draws the shots.
#![warn(missing_docs)]

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// Added to each per-dimension standard deviation before dividing, as
/// big_vision does, so that a feature that is constant over the few-shot set
/// becomes 0 rather than NaN.
pub const STD_EPSILON: f64 = 1e-5;

/// Largest number of folds [`l2_cv_accuracies`] splits the few-shot set into.
pub const MAX_CV_FOLDS: usize = 5;

/// Labels are `u16`, so there can be at most 2¹⁶ classes.
const MAX_CLASSES: usize = u16::MAX as usize + 1;

/// What went wrong in a probe's inputs or its solve.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProbeError {
    /// A feature matrix was given dimension 0.
    #[error("{what}: feature dimension must be at least 1")]
    ZeroDimension {
        /// Which input (`"features"`, `"pool"`, `"test"`).
        what: &'static str,
    },
    /// The value count is not a multiple of the dimension.
    #[error("{what}: {len} values are not a whole number of rows of dimension {dim}")]
    RaggedFeatures {
        /// Which input.
        what: &'static str,
        /// Number of values given.
        len: usize,
        /// Dimension given.
        dim: usize,
    },
    /// Two inputs that must share a feature dimension do not.
    #[error("dimension mismatch: {what} has feature dimension {found}, expected {expected}")]
    DimensionMismatch {
        /// Which input has the wrong dimension.
        what: &'static str,
        /// The dimension it should have.
        expected: usize,
        /// The dimension it has.
        found: usize,
    },
    /// Labels and feature rows differ in number.
    #[error("length mismatch: {what} has {labels} labels for {rows} feature rows")]
    LabelCountMismatch {
        /// Which input.
        what: &'static str,
        /// Number of feature rows.
        rows: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A label is not below `num_classes`.
    #[error("{what}: label {label} at row {row} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// Which input.
        what: &'static str,
        /// Row of the offending label.
        row: usize,
        /// The label.
        label: u16,
        /// The number of classes given.
        num_classes: usize,
    },
    /// `num_classes` is 0 or more than `u16` labels can name.
    #[error("num_classes must be between 1 and {MAX_CLASSES}, got {0}")]
    InvalidNumClasses(usize),
    /// No few-shot examples were given.
    #[error("the few-shot set is empty: no rows to fit the probe on")]
    EmptyShotSet,
    /// The set to score has no rows, so accuracy is undefined.
    #[error("{what} is empty: accuracy of zero rows is undefined")]
    EmptyEvalSet {
        /// Which input.
        what: &'static str,
    },
    /// A few-shot index does not name a pool row.
    #[error(
        "shot index {index} (position {position} in shot_indices) is out of range for a pool of {pool_rows} rows"
    )]
    ShotIndexOutOfRange {
        /// Position in `shot_indices`.
        position: usize,
        /// The index found there.
        index: usize,
        /// Number of pool rows.
        pool_rows: usize,
    },
    /// A feature is NaN or infinite.
    #[error("{what}: feature value {value} at row {row}, column {col} is not finite")]
    NonFiniteFeature {
        /// Which input.
        what: &'static str,
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value.
        value: f32,
    },
    /// A configuration value is out of its domain.
    #[error("invalid probe config: {field} must be {requirement}, got {value}")]
    InvalidConfig {
        /// The field (`"l2_reg"`, `"bias_value"`, `"candidates"`).
        field: &'static str,
        /// What it must be.
        requirement: &'static str,
        /// The value given.
        value: f64,
    },
    /// `choose_l2` was given no candidate λ.
    #[error("no candidate l2 values to choose from")]
    NoCandidates,
    /// Cross-validation needs every present class in both the fit and the held-out part.
    #[error(
        "choosing l2 needs at least 2 shots of every class present, but class {class} has {count}"
    )]
    TooFewShotsForSelection {
        /// The class with too few shots.
        class: u16,
        /// Its number of shots.
        count: usize,
    },
    /// Neither Cholesky nor LU could solve the ridge system (possible only with λ = 0).
    #[error("the {size}×{size} ridge system is singular: both Cholesky and LU failed")]
    Singular {
        /// Order of the system.
        size: usize,
    },
}

/// Row-major features: `rows × dim`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureMatrix<'a> {
    /// The values, row after row.
    pub values: &'a [f32],
    /// Values per row.
    pub dim: usize,
}

impl<'a> FeatureMatrix<'a> {
    /// Wraps `values` as rows of `dim`, checking `dim > 0` and that the rows are whole.
    pub fn new(values: &'a [f32], dim: usize) -> Result<Self, ProbeError> {
        let matrix = Self { values, dim };
        matrix.check_shape("features")?;
        Ok(matrix)
    }

    /// Number of rows (0 when `dim` is 0).
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Row `i`.
    ///
    /// # Panics
    /// If `i >= self.rows()`.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// The fields are public, so every entry point re-checks what `new` checks.
    fn check_shape(&self, what: &'static str) -> Result<(), ProbeError> {
        if self.dim == 0 {
            return Err(ProbeError::ZeroDimension { what });
        }
        if !self.values.len().is_multiple_of(self.dim) {
            return Err(ProbeError::RaggedFeatures {
                what,
                len: self.values.len(),
                dim: self.dim,
            });
        }
        Ok(())
    }
}

/// Settings of the ridge probe. Missing fields deserialize to the defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeConfig {
    /// L2 penalty λ on the weights (including the bias weight, which the large
    /// bias feature makes nearly free). Default 1024 = 2¹⁰, big_vision's.
    pub l2_reg: f64,
    /// Value of the constant feature appended to every row. Default 100.
    pub bias_value: f64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            l2_reg: 1024.0,
            bias_value: 100.0,
        }
    }
}

impl ProbeConfig {
    /// Checks `l2_reg` is finite and ≥ 0 and `bias_value` is finite.
    pub fn validate(&self) -> Result<(), ProbeError> {
        check_l2("l2_reg", self.l2_reg)?;
        if !self.bias_value.is_finite() {
            return Err(ProbeError::InvalidConfig {
                field: "bias_value",
                requirement: "finite",
                value: self.bias_value,
            });
        }
        Ok(())
    }
}

/// Which normal equations a probe was solved through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Formulation {
    /// `W = (XᵀX + λI)⁻¹ XᵀY`: a `(D+1)×(D+1)` system, used when `N ≥ D+1`.
    Primal,
    /// `W = Xᵀ (XXᵀ + λI)⁻¹ Y`: an `N×N` system, used when `D+1 > N`.
    Dual,
}

impl Formulation {
    /// The smaller system for `rows` examples of `cols` features (bias included).
    /// Both give the same weights for λ > 0; this only picks the cheaper one.
    pub fn for_shape(rows: usize, cols: usize) -> Self {
        if rows >= cols {
            Self::Primal
        } else {
            Self::Dual
        }
    }
}

/// A fitted ridge probe: weights `(D+1) × C` in f64 (last row: the bias
/// feature's) plus the few-shot set's standardisation statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct RidgeProbe {
    weights: DMatrix<f64>,
    mean: Vec<f64>,
    std: Vec<f64>,
    bias_value: f64,
    num_classes: usize,
    formulation: Formulation,
}

impl RidgeProbe {
    /// Fits a probe on every row of `features` with their `labels` (each `< num_classes`).
    pub fn fit(
        features: FeatureMatrix,
        labels: &[u16],
        num_classes: usize,
        config: &ProbeConfig,
    ) -> Result<Self, ProbeError> {
        config.validate()?;
        check_num_classes(num_classes)?;
        check_labelled("features", features, labels, num_classes)?;
        if features.rows() == 0 {
            return Err(ProbeError::EmptyShotSet);
        }
        check_finite("features", features, 0..features.rows())?;
        let rows: Vec<&[f32]> = (0..features.rows()).map(|i| features.row(i)).collect();
        Self::fit_rows(&rows, labels, features.dim, num_classes, config)
    }

    /// Fit on already validated rows (shared by `fit` and `few_shot_accuracy`,
    /// which gathers pool rows without copying them).
    fn fit_rows(
        rows: &[&[f32]],
        labels: &[u16],
        dim: usize,
        num_classes: usize,
        config: &ProbeConfig,
    ) -> Result<Self, ProbeError> {
        let design = Design::new(rows, labels, dim, num_classes, config.bias_value);
        let weights = design.solve(config.l2_reg)?;
        Ok(Self {
            weights,
            mean: design.mean,
            std: design.std,
            bias_value: config.bias_value,
            num_classes,
            formulation: design.formulation,
        })
    }

    /// Predicted class of every row (the lowest class wins a tie).
    ///
    /// # Panics
    /// If [`RidgeProbe::try_predict`] would return an error.
    pub fn predict(&self, features: FeatureMatrix) -> Vec<u16> {
        self.try_predict(features)
            .unwrap_or_else(|e| panic!("RidgeProbe::predict: {e}"))
    }

    /// Predicted class of every row, or an error if `features` is ragged, has
    /// the wrong dimension or a non-finite value.
    pub fn try_predict(&self, features: FeatureMatrix) -> Result<Vec<u16>, ProbeError> {
        features.check_shape("features")?;
        if features.dim != self.dim() {
            return Err(ProbeError::DimensionMismatch {
                what: "features",
                expected: self.dim(),
                found: features.dim,
            });
        }
        check_finite("features", features, 0..features.rows())?;
        let mut buf = vec![0.0; self.dim() + 1];
        Ok((0..features.rows())
            .map(|i| self.predict_row(features.row(i), &mut buf))
            .collect())
    }

    /// Fraction of rows whose prediction equals the label.
    ///
    /// # Panics
    /// If [`RidgeProbe::try_accuracy`] would return an error.
    pub fn accuracy(&self, features: FeatureMatrix, labels: &[u16]) -> f64 {
        self.try_accuracy(features, labels)
            .unwrap_or_else(|e| panic!("RidgeProbe::accuracy: {e}"))
    }

    /// Fraction of rows whose prediction equals the label, or an error for
    /// what `try_predict` rejects, a label count mismatch, a label out of
    /// range or an empty set.
    pub fn try_accuracy(&self, features: FeatureMatrix, labels: &[u16]) -> Result<f64, ProbeError> {
        check_labelled("features", features, labels, self.num_classes)?;
        if labels.is_empty() {
            return Err(ProbeError::EmptyEvalSet { what: "features" });
        }
        let predictions = self.try_predict(features)?;
        let correct = predictions
            .iter()
            .zip(labels)
            .filter(|(p, l)| p == l)
            .count();
        Ok(correct as f64 / labels.len() as f64)
    }

    fn predict_row(&self, row: &[f32], buf: &mut [f64]) -> u16 {
        standardise_row(row, &self.mean, &self.std, self.bias_value, buf);
        argmax_scores(&self.weights, buf)
    }

    /// Weights, `(D+1) × C`, of the standardised features; the last row is the bias feature's.
    pub fn weights(&self) -> &DMatrix<f64> {
        &self.weights
    }

    /// Per-dimension mean of the few-shot set.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-dimension population standard deviation of the few-shot set
    /// (without [`STD_EPSILON`], which is added when standardising).
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// Feature dimension `D` (without the bias feature).
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The bias feature's value.
    pub fn bias_value(&self) -> f64 {
        self.bias_value
    }

    /// Which normal equations the weights came from.
    pub fn formulation(&self) -> Formulation {
        self.formulation
    }
}

/// Accuracy on `test` of a probe fitted on the pool rows at `shot_indices`.
///
/// The probe's standardisation statistics come from those shot rows only.
/// Indices may repeat (a repeated row simply weighs more).
pub fn few_shot_accuracy(
    pool: FeatureMatrix,
    pool_labels: &[u16],
    test: FeatureMatrix,
    test_labels: &[u16],
    num_classes: usize,
    shot_indices: &[usize],
    config: &ProbeConfig,
) -> Result<f64, ProbeError> {
    config.validate()?;
    check_num_classes(num_classes)?;
    let (rows, labels) = gather_shots(pool, pool_labels, num_classes, shot_indices)?;
    // Check the whole test set before the (costlier) fit.
    check_labelled("test", test, test_labels, num_classes)?;
    if test.dim != pool.dim {
        return Err(ProbeError::DimensionMismatch {
            what: "test",
            expected: pool.dim,
            found: test.dim,
        });
    }
    if test.rows() == 0 {
        return Err(ProbeError::EmptyEvalSet { what: "test" });
    }
    check_finite("test", test, 0..test.rows())?;
    let probe = RidgeProbe::fit_rows(&rows, &labels, pool.dim, num_classes, config)?;
    probe.try_accuracy(test, test_labels)
}

/// Mean and sample standard deviation (n−1; 0 for one value) of per-seed
/// accuracies. An empty slice gives `(NaN, NaN)`.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    // Two passes: subtracting the mean first avoids cancellation.
    let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    (mean, (ss / (n - 1) as f64).sqrt())
}

/// Chooses λ among `candidates` by cross-validation on the few-shot set (see
/// [`l2_cv_accuracies`]) and returns the one with the best held-out accuracy;
/// ties go to the larger λ (the simpler model). Deterministic: it depends only
/// on the inputs, including the order of `shot_indices`.
pub fn choose_l2(
    pool: FeatureMatrix,
    pool_labels: &[u16],
    num_classes: usize,
    shot_indices: &[usize],
    candidates: &[f64],
    bias_value: f64,
) -> Result<f64, ProbeError> {
    let accuracies = l2_cv_accuracies(
        pool,
        pool_labels,
        num_classes,
        shot_indices,
        candidates,
        bias_value,
    )?;
    let mut best = (candidates[0], accuracies[0]);
    for (&l2, &acc) in candidates.iter().zip(&accuracies).skip(1) {
        if acc > best.1 || (acc == best.1 && l2 > best.0) {
            best = (l2, acc);
        }
    }
    Ok(best.0)
}

/// Held-out accuracy of each of `candidates` (same order), by k-fold
/// cross-validation on the few-shot set.
///
/// The shots of each class, in their `shot_indices` order, are dealt round-robin
/// into `k = min(fewest shots of any present class, MAX_CV_FOLDS)` folds, so
/// every fold holds out at least one shot of every present class and keeps at
/// least one to fit on. Each fit standardises with its own training part, as
/// the real probe does. The accuracy is pooled over all held-out shots. Needs
/// at least 2 shots of every class that appears.
pub fn l2_cv_accuracies(
    pool: FeatureMatrix,
    pool_labels: &[u16],
    num_classes: usize,
    shot_indices: &[usize],
    candidates: &[f64],
    bias_value: f64,
) -> Result<Vec<f64>, ProbeError> {
    ProbeConfig {
        l2_reg: 1.0,
        bias_value,
    }
    .validate()?;
    if candidates.is_empty() {
        return Err(ProbeError::NoCandidates);
    }
    for &l2 in candidates {
        check_l2("candidates", l2)?;
    }
    check_num_classes(num_classes)?;
    let (rows, labels) = gather_shots(pool, pool_labels, num_classes, shot_indices)?;

    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (position, &label) in labels.iter().enumerate() {
        by_class[label as usize].push(position);
    }
    let (fewest_class, fewest) = by_class
        .iter()
        .enumerate()
        .filter(|(_, shots)| !shots.is_empty())
        .map(|(class, shots)| (class, shots.len()))
        .min_by_key(|&(_, count)| count)
        .expect("gather_shots rejects an empty shot set");
    if fewest < 2 {
        return Err(ProbeError::TooFewShotsForSelection {
            class: fewest_class as u16,
            count: fewest,
        });
    }
    let folds = fewest.min(MAX_CV_FOLDS);

    let mut correct = vec![0usize; candidates.len()];
    let mut buf = vec![0.0; pool.dim + 1];
    for fold in 0..folds {
        let (mut fit_rows, mut fit_labels) = (Vec::new(), Vec::new());
        let mut held_out = Vec::new();
        for shots in &by_class {
            for (j, &position) in shots.iter().enumerate() {
                if j % folds == fold {
                    held_out.push(position);
                } else {
                    fit_rows.push(rows[position]);
                    fit_labels.push(labels[position]);
                }
            }
        }
        // One design (and Gram matrix) per fold serves every candidate λ.
        let design = Design::new(&fit_rows, &fit_labels, pool.dim, num_classes, bias_value);
        for (count, &l2) in correct.iter_mut().zip(candidates) {
            let weights = design.solve(l2)?;
            for &position in &held_out {
                standardise_row(
                    rows[position],
                    &design.mean,
                    &design.std,
                    bias_value,
                    &mut buf,
                );
                if argmax_scores(&weights, &buf) == labels[position] {
                    *count += 1;
                }
            }
        }
    }
    let total = labels.len() as f64;
    Ok(correct.into_iter().map(|c| c as f64 / total).collect())
}

/// The standardised design of one fit, kept so several λ can reuse its Gram matrix.
struct Design {
    /// `N × (D+1)`: standardised features and the bias column.
    x: DMatrix<f64>,
    /// `N × C` targets in {−1, +1}.
    y: DMatrix<f64>,
    mean: Vec<f64>,
    std: Vec<f64>,
    formulation: Formulation,
    /// `XᵀX` (primal) or `XXᵀ` (dual), without λ.
    gram: DMatrix<f64>,
    /// `XᵀY` for the primal right-hand side (empty for the dual, which uses `y`).
    xty: DMatrix<f64>,
}

impl Design {
    /// `rows` must be non-empty, each of length `dim`, finite, and `labels < num_classes`.
    fn new(rows: &[&[f32]], labels: &[u16], dim: usize, num_classes: usize, bias: f64) -> Self {
        let n = rows.len();
        let mut mean = vec![0.0; dim];
        for row in rows {
            for (m, &v) in mean.iter_mut().zip(*row) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0; dim];
        for row in rows {
            for ((s, &v), m) in var.iter_mut().zip(*row).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        // Population std (ddof = 0), as `jnp.std` in big_vision.
        let std: Vec<f64> = var.into_iter().map(|s| (s / n as f64).sqrt()).collect();

        let mut x = DMatrix::zeros(n, dim + 1);
        let mut buf = vec![0.0; dim + 1];
        for (i, row) in rows.iter().enumerate() {
            standardise_row(row, &mean, &std, bias, &mut buf);
            for (j, &v) in buf.iter().enumerate() {
                x[(i, j)] = v;
            }
        }
        let y = DMatrix::from_fn(n, num_classes, |i, c| {
            if labels[i] as usize == c { 1.0 } else { -1.0 }
        });
        let formulation = Formulation::for_shape(n, dim + 1);
        let (gram, xty) = match formulation {
            Formulation::Primal => (x.tr_mul(&x), x.tr_mul(&y)),
            Formulation::Dual => (&x * x.transpose(), DMatrix::zeros(0, 0)),
        };
        Self {
            x,
            y,
            mean,
            std,
            formulation,
            gram,
            xty,
        }
    }

    /// Weights `(D+1) × C` for penalty `l2`.
    fn solve(&self, l2: f64) -> Result<DMatrix<f64>, ProbeError> {
        Ok(match self.formulation {
            Formulation::Primal => solve_regularised(&self.gram, l2, &self.xty)?.0,
            Formulation::Dual => self
                .x
                .tr_mul(&solve_regularised(&self.gram, l2, &self.y)?.0),
        })
    }
}

/// Solves `(gram + l2·I) Z = rhs`; the flag says whether LU was needed.
///
/// The system is symmetric positive definite for λ > 0, so Cholesky is the
/// fast, stable path. It can still fail when λ = 0 and the design is rank
/// deficient, or when rounding makes a nearly singular matrix lose
/// definiteness; LU with partial pivoting then solves any non-singular system.
fn solve_regularised(
    gram: &DMatrix<f64>,
    l2: f64,
    rhs: &DMatrix<f64>,
) -> Result<(DMatrix<f64>, bool), ProbeError> {
    let size = gram.nrows();
    let regularised = || {
        let mut a = gram.clone();
        for i in 0..size {
            a[(i, i)] += l2;
        }
        a
    };
    let all_finite = |z: &DMatrix<f64>| z.iter().all(|v| v.is_finite());
    if let Some(cholesky) = regularised().cholesky() {
        let z = cholesky.solve(rhs);
        if all_finite(&z) {
            return Ok((z, false));
        }
    }
    match regularised().lu().solve(rhs) {
        Some(z) if all_finite(&z) => Ok((z, true)),
        _ => Err(ProbeError::Singular { size }),
    }
}

/// Writes `(row − mean) / (std + ε)` and then the bias feature into `out` (length D+1).
fn standardise_row(row: &[f32], mean: &[f64], std: &[f64], bias: f64, out: &mut [f64]) {
    let (features, bias_slot) = out.split_at_mut(row.len());
    for (((o, &v), m), s) in features.iter_mut().zip(row).zip(mean).zip(std) {
        *o = (f64::from(v) - m) / (s + STD_EPSILON);
    }
    bias_slot[0] = bias;
}

/// Class with the largest `x · W[:, c]`; the first one on a tie, like `argmax`.
fn argmax_scores(weights: &DMatrix<f64>, x: &[f64]) -> u16 {
    let mut best = (0usize, f64::NEG_INFINITY);
    for (c, column) in weights.column_iter().enumerate() {
        let score: f64 = column.iter().zip(x).map(|(w, v)| w * v).sum();
        if score > best.1 {
            best = (c, score);
        }
    }
    best.0 as u16
}

/// Collects the shot rows and labels from the pool after checking everything
/// about the pool and the indices.
fn gather_shots<'a>(
    pool: FeatureMatrix<'a>,
    pool_labels: &[u16],
    num_classes: usize,
    shot_indices: &[usize],
) -> Result<(Vec<&'a [f32]>, Vec<u16>), ProbeError> {
    check_labelled("pool", pool, pool_labels, num_classes)?;
    if shot_indices.is_empty() {
        return Err(ProbeError::EmptyShotSet);
    }
    let pool_rows = pool.rows();
    for (position, &index) in shot_indices.iter().enumerate() {
        if index >= pool_rows {
            return Err(ProbeError::ShotIndexOutOfRange {
                position,
                index,
                pool_rows,
            });
        }
    }
    // Only the shot rows are used, so only they need to be finite.
    check_finite("pool", pool, shot_indices.iter().copied())?;
    Ok((
        shot_indices.iter().map(|&i| pool.row(i)).collect(),
        shot_indices.iter().map(|&i| pool_labels[i]).collect(),
    ))
}

fn check_num_classes(num_classes: usize) -> Result<(), ProbeError> {
    if num_classes == 0 || num_classes > MAX_CLASSES {
        return Err(ProbeError::InvalidNumClasses(num_classes));
    }
    Ok(())
}

fn check_l2(field: &'static str, l2: f64) -> Result<(), ProbeError> {
    if !(l2.is_finite() && l2 >= 0.0) {
        return Err(ProbeError::InvalidConfig {
            field,
            requirement: "finite and >= 0",
            value: l2,
        });
    }
    Ok(())
}

/// Shape, label count and label range of a labelled feature matrix.
fn check_labelled(
    what: &'static str,
    features: FeatureMatrix,
    labels: &[u16],
    num_classes: usize,
) -> Result<(), ProbeError> {
    features.check_shape(what)?;
    if labels.len() != features.rows() {
        return Err(ProbeError::LabelCountMismatch {
            what,
            rows: features.rows(),
            labels: labels.len(),
        });
    }
    if let Some((row, &label)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= num_classes)
    {
        return Err(ProbeError::LabelOutOfRange {
            what,
            row,
            label,
            num_classes,
        });
    }
    Ok(())
}

/// A NaN feature would silently turn the whole solve into NaN.
fn check_finite(
    what: &'static str,
    features: FeatureMatrix,
    rows: impl IntoIterator<Item = usize>,
) -> Result<(), ProbeError> {
    for row in rows {
        if let Some((col, &value)) = features
            .row(row)
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite())
        {
            return Err(ProbeError::NonFiniteFeature {
                what,
                row,
                col,
                value,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: a tiny seeded generator, so the tests need no `rand`.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in (0, 1].
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
        }

        /// Standard normal (Box–Muller).
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }

        fn normals(&mut self, n: usize, scale: f64) -> Vec<f32> {
            (0..n).map(|_| (self.normal() * scale) as f32).collect()
        }
    }

    /// Standardised design with bias, written independently of `Design`.
    fn reference_design(values: &[f32], dim: usize, bias: f64) -> DMatrix<f64> {
        let n = values.len() / dim;
        let at = |i: usize, j: usize| f64::from(values[i * dim + j]);
        let mut x = DMatrix::zeros(n, dim + 1);
        for j in 0..dim {
            let mean = (0..n).map(|i| at(i, j)).sum::<f64>() / n as f64;
            let var = (0..n).map(|i| (at(i, j) - mean).powi(2)).sum::<f64>() / n as f64;
            for i in 0..n {
                x[(i, j)] = (at(i, j) - mean) / (var.sqrt() + 1e-5);
            }
        }
        for i in 0..n {
            x[(i, dim)] = bias;
        }
        x
    }

    fn targets(labels: &[u16], num_classes: usize) -> DMatrix<f64> {
        DMatrix::from_fn(labels.len(), num_classes, |i, c| {
            if labels[i] as usize == c { 1.0 } else { -1.0 }
        })
    }

    /// max |a − b| / max |b|.
    fn max_rel_err(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
        assert_eq!(a.shape(), b.shape());
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs())) / scale
    }

    /// Fits through `RidgeProbe` and checks the weights against both dense
    /// formulations solved with LU, written out here.
    fn check_against_dense(
        n: usize,
        dim: usize,
        classes: usize,
        l2: f64,
        seed: u64,
    ) -> Formulation {
        let mut rng = Rng(seed);
        // Uneven scales and offsets per dimension, so standardisation matters.
        let values: Vec<f32> = (0..n * dim)
            .map(|k| {
                let j = k % dim;
                (rng.normal() * (1.0 + j as f64) + 3.0 * j as f64) as f32
            })
            .collect();
        let labels: Vec<u16> = (0..n).map(|i| (i % classes) as u16).collect();
        let config = ProbeConfig {
            l2_reg: l2,
            ..ProbeConfig::default()
        };
        let probe = RidgeProbe::fit(
            FeatureMatrix::new(&values, dim).unwrap(),
            &labels,
            classes,
            &config,
        )
        .unwrap();

        let x = reference_design(&values, dim, config.bias_value);
        let y = targets(&labels, classes);
        let primal = (x.transpose() * &x + DMatrix::identity(dim + 1, dim + 1) * l2)
            .lu()
            .solve(&(x.transpose() * &y))
            .unwrap();
        let dual = x.transpose()
            * (&x * x.transpose() + DMatrix::identity(n, n) * l2)
                .lu()
                .solve(&y)
                .unwrap();
        assert_eq!(probe.weights().shape(), (dim + 1, classes));
        let (ep, ed) = (
            max_rel_err(probe.weights(), &primal),
            max_rel_err(probe.weights(), &dual),
        );
        assert!(ep < 1e-8, "n={n} d={dim} l2={l2}: vs primal LU {ep:e}");
        assert!(ed < 1e-8, "n={n} d={dim} l2={l2}: vs dual LU {ed:e}");
        probe.formulation()
    }

    #[test]
    fn primal_path_matches_dense_solves_when_n_exceeds_d() {
        for (seed, l2) in [(1, 1024.0), (2, 0.5), (3, 1e-3)] {
            assert_eq!(
                check_against_dense(80, 12, 4, l2, seed),
                Formulation::Primal
            );
        }
    }

    #[test]
    fn dual_path_matches_dense_solves_when_d_exceeds_n() {
        for (seed, l2) in [(4, 1024.0), (5, 0.5), (6, 1e-3)] {
            assert_eq!(check_against_dense(15, 40, 3, l2, seed), Formulation::Dual);
        }
    }

    #[test]
    fn formulation_switches_at_n_equals_d_plus_one() {
        // D = 9 gives 10 columns with the bias.
        assert_eq!(
            check_against_dense(10, 9, 2, 1024.0, 7),
            Formulation::Primal
        );
        assert_eq!(check_against_dense(9, 9, 2, 1024.0, 8), Formulation::Dual);
    }

    /// `classes` Gaussian clusters, `per_class` rows each, labels in class order.
    fn clusters(
        rng: &mut Rng,
        centres: &[Vec<f32>],
        per_class: usize,
        noise: f64,
    ) -> (Vec<f32>, Vec<u16>) {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for (c, centre) in centres.iter().enumerate() {
            for _ in 0..per_class {
                values.extend(centre.iter().map(|&m| m + (rng.normal() * noise) as f32));
                labels.push(c as u16);
            }
        }
        (values, labels)
    }

    #[test]
    fn separable_clusters_reach_full_accuracy() {
        // D = 32 (55 shots ≥ 33: primal) and D = 128 (dual).
        for (seed, dim) in [(10u64, 32usize), (11, 128)] {
            let mut rng = Rng(seed);
            let centres: Vec<Vec<f32>> = (0..10).map(|_| rng.normals(dim, 10.0)).collect();
            let (pool, pool_labels) = clusters(&mut rng, &centres, 20, 1.0);
            let (test, test_labels) = clusters(&mut rng, &centres, 50, 1.0);
            // 5 shots per class: the first 5 pool rows of each class.
            let shots: Vec<usize> = (0..10)
                .flat_map(|c| (0..5).map(move |k| c * 20 + k))
                .collect();
            let acc = few_shot_accuracy(
                FeatureMatrix::new(&pool, dim).unwrap(),
                &pool_labels,
                FeatureMatrix::new(&test, dim).unwrap(),
                &test_labels,
                10,
                &shots,
                &ProbeConfig::default(),
            )
            .unwrap();
            assert_eq!(acc, 1.0, "dim {dim}");
        }
    }

    /// Random 4-class problem with overlapping clusters (so predictions are not trivially constant).
    fn overlapping_problem(seed: u64, dim: usize) -> (Vec<f32>, Vec<u16>, Vec<f32>, Vec<u16>) {
        let mut rng = Rng(seed);
        let centres: Vec<Vec<f32>> = (0..4).map(|_| rng.normals(dim, 1.0)).collect();
        let (train, train_labels) = clusters(&mut rng, &centres, 6, 1.0);
        let (test, test_labels) = clusters(&mut rng, &centres, 100, 1.0);
        (train, train_labels, test, test_labels)
    }

    #[test]
    fn per_dimension_affine_maps_do_not_change_the_probe() {
        let dim = 16;
        let (train, labels, test, test_labels) = overlapping_problem(20, dim);
        let mut rng = Rng(21);
        // Scales from 1 to 1000 (log-uniform) and shifts up to ±500.
        let scale: Vec<f32> = (0..dim)
            .map(|_| 1000f64.powf(rng.uniform()) as f32)
            .collect();
        let shift: Vec<f32> = (0..dim).map(|_| (rng.normal() * 300.0) as f32).collect();
        let map = |v: &[f32]| -> Vec<f32> {
            v.iter()
                .enumerate()
                .map(|(k, &x)| x * scale[k % dim] + shift[k % dim])
                .collect()
        };
        let (train2, test2) = (map(&train), map(&test));
        let config = ProbeConfig::default();
        let fit = |t: &[f32]| {
            RidgeProbe::fit(FeatureMatrix::new(t, dim).unwrap(), &labels, 4, &config).unwrap()
        };
        let (a, b) = (fit(&train), fit(&train2));
        let pa = a.predict(FeatureMatrix::new(&test, dim).unwrap());
        let pb = b.predict(FeatureMatrix::new(&test2, dim).unwrap());
        assert_eq!(pa, pb);
        // Not a degenerate constant predictor: the check above means something.
        assert!(pa.iter().any(|&p| p != pa[0]));
        let acc = a.accuracy(FeatureMatrix::new(&test, dim).unwrap(), &test_labels);
        assert!(acc > 0.25, "accuracy {acc}");
        // Weights of the standardised features agree up to the effect of ε.
        let err = max_rel_err(b.weights(), a.weights());
        assert!(err < 1e-3, "weights differ by {err:e}");
        for k in 0..dim {
            let rel = (b.std()[k] - a.std()[k] * f64::from(scale[k])).abs() / b.std()[k];
            assert!(rel < 1e-5, "std of dim {k} off by {rel:e}");
        }
    }

    #[test]
    fn statistics_come_from_the_shot_rows_only() {
        let dim = 8;
        let (shots, shot_labels, test, test_labels) = overlapping_problem(30, dim);
        let n_shots = shot_labels.len();
        // A pool whose other rows are far away: if their statistics leaked into
        // the standardisation, the result would change.
        let mut pool: Vec<f32> = vec![5000.0; 7 * dim];
        let mut pool_labels = vec![0u16; 7];
        pool.extend_from_slice(&shots);
        pool_labels.extend_from_slice(&shot_labels);
        let indices: Vec<usize> = (7..7 + n_shots).collect();
        let config = ProbeConfig::default();
        let via_pool = few_shot_accuracy(
            FeatureMatrix::new(&pool, dim).unwrap(),
            &pool_labels,
            FeatureMatrix::new(&test, dim).unwrap(),
            &test_labels,
            4,
            &indices,
            &config,
        )
        .unwrap();
        let probe = RidgeProbe::fit(
            FeatureMatrix::new(&shots, dim).unwrap(),
            &shot_labels,
            4,
            &config,
        )
        .unwrap();
        let direct = probe.accuracy(FeatureMatrix::new(&test, dim).unwrap(), &test_labels);
        assert_eq!(via_pool, direct);
        for j in 0..dim {
            let mean = (0..n_shots)
                .map(|i| f64::from(shots[i * dim + j]))
                .sum::<f64>()
                / n_shots as f64;
            assert!((probe.mean()[j] - mean).abs() < 1e-12);
        }
        // The test set's own statistics are not used: one row alone is
        // predicted as it is within the whole batch.
        let batch = probe.predict(FeatureMatrix::new(&test, dim).unwrap());
        for (i, &p) in batch.iter().enumerate().step_by(37) {
            let alone =
                probe.predict(FeatureMatrix::new(&test[i * dim..(i + 1) * dim], dim).unwrap());
            assert_eq!(alone, vec![p], "row {i}");
        }
    }

    #[test]
    fn single_shot_predicts_its_class_everywhere() {
        // One row: std is 0, features standardise to 0 (finite thanks to ε)
        // and only the bias decides.
        let probe = RidgeProbe::fit(
            FeatureMatrix::new(&[1.0, 2.0], 2).unwrap(),
            &[3],
            5,
            &ProbeConfig::default(),
        )
        .unwrap();
        assert!(probe.weights().iter().all(|w| w.is_finite()));
        let test = [0.0, 0.0, 1e6, -1e6, 1.0, 2.0];
        assert_eq!(
            probe.predict(FeatureMatrix::new(&test, 2).unwrap()),
            vec![3, 3, 3]
        );
    }

    #[test]
    fn mean_std_of_known_values() {
        let (m, s) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!((m - 5.0).abs() < 1e-15);
        assert!((s - (32.0f64 / 7.0).sqrt()).abs() < 1e-15, "{s}");
        assert_eq!(mean_std(&[0.75]), (0.75, 0.0));
        // Two values: sample std = |a − b| / √2.
        let (m, s) = mean_std(&[0.5, 0.7]);
        assert!((m - 0.6).abs() < 1e-15);
        assert!((s - 0.2 / 2f64.sqrt()).abs() < 1e-15, "{s}");
        let (m, s) = mean_std(&[]);
        assert!(m.is_nan() && s.is_nan());
    }

    #[test]
    fn bad_inputs_give_named_errors() {
        let values = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
        let m = FeatureMatrix::new(&values, 2).unwrap();
        assert_eq!(m.rows(), 3);
        let cfg = ProbeConfig::default();

        let err = FeatureMatrix::new(&values, 4).unwrap_err();
        assert!(matches!(
            err,
            ProbeError::RaggedFeatures { len: 6, dim: 4, .. }
        ));
        assert!(matches!(
            FeatureMatrix::new(&values, 0),
            Err(ProbeError::ZeroDimension { .. })
        ));

        let err = RidgeProbe::fit(m, &[0, 1, 2], 2, &cfg).unwrap_err();
        assert_eq!(
            err,
            ProbeError::LabelOutOfRange {
                what: "features",
                row: 2,
                label: 2,
                num_classes: 2
            }
        );
        assert!(
            err.to_string()
                .contains("label 2 at row 2 is out of range for 2 classes"),
            "{err}"
        );

        let err = RidgeProbe::fit(m, &[0, 1], 2, &cfg).unwrap_err();
        assert!(matches!(
            err,
            ProbeError::LabelCountMismatch {
                rows: 3,
                labels: 2,
                ..
            }
        ));
        assert!(
            err.to_string().contains("2 labels for 3 feature rows"),
            "{err}"
        );

        assert!(matches!(
            RidgeProbe::fit(m, &[0, 1, 0], 0, &cfg),
            Err(ProbeError::InvalidNumClasses(0))
        ));
        assert_eq!(
            RidgeProbe::fit(FeatureMatrix::new(&[], 2).unwrap(), &[], 2, &cfg),
            Err(ProbeError::EmptyShotSet)
        );
        let bad = ProbeConfig {
            l2_reg: -1.0,
            ..cfg.clone()
        };
        assert!(matches!(
            RidgeProbe::fit(m, &[0, 1, 0], 2, &bad),
            Err(ProbeError::InvalidConfig {
                field: "l2_reg",
                ..
            })
        ));
        let nan = [0.0, f32::NAN, 1.0, 1.0];
        assert!(matches!(
            RidgeProbe::fit(FeatureMatrix::new(&nan, 2).unwrap(), &[0, 1], 2, &cfg),
            Err(ProbeError::NonFiniteFeature { row: 0, col: 1, .. })
        ));

        let labels = [0u16, 1, 0];
        let test = FeatureMatrix::new(&values[..3], 3).unwrap();
        let fs = |test: FeatureMatrix, test_labels: &[u16], shots: &[usize]| {
            few_shot_accuracy(m, &labels, test, test_labels, 2, shots, &cfg)
        };
        assert_eq!(
            fs(test, &[0], &[0, 1]),
            Err(ProbeError::DimensionMismatch {
                what: "test",
                expected: 2,
                found: 3
            })
        );
        assert_eq!(fs(m, &labels, &[]), Err(ProbeError::EmptyShotSet));
        let err = fs(m, &labels, &[0, 3]).unwrap_err();
        assert_eq!(
            err,
            ProbeError::ShotIndexOutOfRange {
                position: 1,
                index: 3,
                pool_rows: 3
            }
        );
        assert!(err.to_string().contains("shot index 3"), "{err}");
        assert!(matches!(
            fs(m, &[0, 1], &[0, 1]),
            Err(ProbeError::LabelCountMismatch { what: "test", .. })
        ));
        assert!(matches!(
            fs(m, &[0, 1, 5], &[0, 1]),
            Err(ProbeError::LabelOutOfRange {
                what: "test",
                label: 5,
                ..
            })
        ));
        assert_eq!(
            fs(FeatureMatrix::new(&[], 2).unwrap(), &[], &[0, 1]),
            Err(ProbeError::EmptyEvalSet { what: "test" })
        );

        // A probe refuses features of another dimension instead of misreading them.
        let probe = RidgeProbe::fit(m, &labels, 2, &cfg).unwrap();
        assert!(matches!(
            probe.try_predict(test),
            Err(ProbeError::DimensionMismatch { .. })
        ));
        assert!(std::panic::catch_unwind(|| probe.predict(test)).is_err());
    }

    #[test]
    fn solver_falls_back_to_lu_and_reports_singular_systems() {
        // Symmetric and invertible but indefinite: Cholesky fails, LU solves.
        let a = DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0]);
        let b = DMatrix::from_row_slice(2, 1, &[2.0, 3.0]);
        let (z, used_lu) = solve_regularised(&a, 0.0, &b).unwrap();
        assert!(used_lu);
        assert_eq!(z, DMatrix::from_row_slice(2, 1, &[3.0, 2.0]));
        // SPD: Cholesky, and λ is added to the diagonal.
        let (z, used_lu) = solve_regularised(&DMatrix::identity(2, 2), 1.0, &b).unwrap();
        assert!(!used_lu);
        assert!((z[0] - 1.0).abs() < 1e-15 && (z[1] - 1.5).abs() < 1e-15);
        let singular = DMatrix::from_row_slice(2, 2, &[0.0, 0.0, 0.0, 0.0]);
        assert_eq!(
            solve_regularised(&singular, 0.0, &b),
            Err(ProbeError::Singular { size: 2 })
        );
    }

    #[test]
    fn probe_config_defaults_and_serde() {
        let cfg = ProbeConfig::default();
        assert_eq!((cfg.l2_reg, cfg.bias_value), (1024.0, 100.0));
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<ProbeConfig>(&json).unwrap(), cfg);
        let partial: ProbeConfig = serde_json::from_str(r#"{"l2_reg": 2.0}"#).unwrap();
        assert_eq!(
            partial,
            ProbeConfig {
                l2_reg: 2.0,
                bias_value: 100.0
            }
        );
        assert!(serde_json::from_str::<ProbeConfig>(r#"{"l2": 2.0}"#).is_err());
    }

    /// 3 classes, 50 dimensions, each class mean 2.5 along its own axis and
    /// pure noise elsewhere: with 18 shots per class (54 rows, 51 columns)
    /// an almost unregularised fit sits at the interpolation peak and overfits.
    fn overfitting_problem(seed: u64, per_class: usize) -> (Vec<f32>, Vec<u16>) {
        let mut rng = Rng(seed);
        let dim = 50;
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for c in 0..3 {
            for _ in 0..per_class {
                values.extend(
                    (0..dim).map(|j| (rng.normal() + if j == c { 2.5 } else { 0.0 }) as f32),
                );
                labels.push(c as u16);
            }
        }
        (values, labels)
    }

    #[test]
    fn choose_l2_avoids_a_tiny_l2_that_overfits() {
        let dim = 50;
        let candidates = [1e-6, 1e-2, 1.0, 32.0, 1024.0, 1e5];
        for seed in 0..5 {
            let (pool, pool_labels) = overfitting_problem(100 + seed, 18);
            let (test, test_labels) = overfitting_problem(200 + seed, 300);
            let pool = FeatureMatrix::new(&pool, dim).unwrap();
            let test = FeatureMatrix::new(&test, dim).unwrap();
            let shots: Vec<usize> = (0..pool.rows()).collect();
            let chosen = choose_l2(pool, &pool_labels, 3, &shots, &candidates, 100.0).unwrap();
            assert!(candidates.contains(&chosen));
            assert!(chosen >= 1.0, "seed {seed}: chose {chosen}");
            // Deterministic.
            assert_eq!(
                choose_l2(pool, &pool_labels, 3, &shots, &candidates, 100.0).unwrap(),
                chosen
            );
            // The cross-validation scores are pooled over the 54 shots, each held out once.
            let cv = l2_cv_accuracies(pool, &pool_labels, 3, &shots, &candidates, 100.0).unwrap();
            for a in &cv {
                assert!((a * 54.0 - (a * 54.0).round()).abs() < 1e-9, "{a}");
            }
            // ... and the choice pays off on the test set.
            let test_acc = |l2: f64| {
                let config = ProbeConfig {
                    l2_reg: l2,
                    bias_value: 100.0,
                };
                few_shot_accuracy(pool, &pool_labels, test, &test_labels, 3, &shots, &config)
                    .unwrap()
            };
            let (good, tiny) = (test_acc(chosen), test_acc(1e-6));
            assert!(
                good > tiny + 0.03,
                "seed {seed}: λ={chosen} {good} vs λ=1e-6 {tiny}"
            );
        }
    }

    #[test]
    fn choose_l2_breaks_ties_toward_larger_l2_and_checks_inputs() {
        let dim = 16;
        let mut rng = Rng(40);
        let centres: Vec<Vec<f32>> = (0..4).map(|_| rng.normals(dim, 20.0)).collect();
        let (pool, labels) = clusters(&mut rng, &centres, 6, 1.0);
        let pool = FeatureMatrix::new(&pool, dim).unwrap();
        let shots: Vec<usize> = (0..pool.rows()).collect();
        // Far-apart clusters: every candidate scores 100 %, so the largest wins
        // whatever the order.
        let candidates = [1024.0, 1e-3, 1e4, 1.0];
        let cv = l2_cv_accuracies(pool, &labels, 4, &shots, &candidates, 100.0).unwrap();
        assert_eq!(cv, vec![1.0; 4]);
        assert_eq!(
            choose_l2(pool, &labels, 4, &shots, &candidates, 100.0).unwrap(),
            1e4
        );

        assert_eq!(
            choose_l2(pool, &labels, 4, &shots, &[], 100.0),
            Err(ProbeError::NoCandidates)
        );
        assert!(matches!(
            choose_l2(pool, &labels, 4, &shots, &[1.0, f64::NAN], 100.0),
            Err(ProbeError::InvalidConfig {
                field: "candidates",
                ..
            })
        ));
        // Class 2 has a single shot: it cannot be both fitted and held out.
        let few: Vec<usize> = shots
            .iter()
            .copied()
            .filter(|&i| labels[i] != 2 || i == 12)
            .collect();
        assert_eq!(
            choose_l2(pool, &labels, 4, &few, &candidates, 100.0),
            Err(ProbeError::TooFewShotsForSelection { class: 2, count: 1 })
        );
    }
}
