//! plateau-metrics: few-shot linear probes, accuracy, the results store, saturation fits, Pareto frontiers, plots and the report (the metrics issue fills it).

pub mod fewshot;
pub mod fit;
pub mod report;
pub mod results;
pub mod selection;

pub use fewshot::{
    FeatureMatrix, Formulation, ProbeConfig, ProbeError, RidgeProbe, choose_l2, few_shot_accuracy,
    l2_cv_accuracies, mean_std,
};
