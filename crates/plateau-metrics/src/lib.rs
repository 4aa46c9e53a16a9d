//! plateau-metrics: few-shot linear probes, the results store, validation-based selection,
//! saturation and size-law fits with bootstrap intervals, Pareto frontiers, plots and the report.
//! It knows nothing of burn's training: it reads host arrays and result rows.
//!
//! - A new sweep axis is declared in plateau-train's table of axes with an [`axes::AxisMeaning`];
//!   selection, the report and the fits read the meanings they are given, never a list here.
//! - A new downstream measurement writes [`results::DownstreamResult`] rows (its own `layer`
//!   name, as fine-tuning's [`results::FINETUNE_LAYER`]); the report's sections and `plateau fit`
//!   select them by task, shots and layer.
//! - A new report section is one function in `report/sections.rs` and one call in `render`.

pub mod axes;
pub mod fewshot;
pub mod fit;
pub mod report;
pub mod results;
pub mod selection;

pub use fewshot::{
    FeatureMatrix, Formulation, ProbeConfig, ProbeError, RidgeProbe, choose_l2, few_shot_accuracy,
    l2_cv_accuracies, mean_std,
};
