//! Hyper-parameter selection on the validation split. A scaling study compares each size at its
//! own best learning rate (and weight decay): when a sweep varies those, every later step (the
//! report, fits, frontiers) should see, per size, only the runs of the setting with the best mean
//! validation accuracy over seeds — never one chosen on test or downstream accuracy.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::axes::{AxisMeaning, AxisRole, role_of};
use crate::results::{ResultRow, RunStatus};

/// What was chosen for one size.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub family: String,
    pub params: u64,
    /// The family, preset and the size axes (`width=64 depth=6`) that identify the size.
    pub size: String,
    /// The chosen values of the tuned axes (`lr=0.003`).
    pub chosen: String,
    /// Mean validation accuracy of the chosen setting over its seeds.
    pub val_accuracy: f64,
    /// How many settings were tried (diverged and failed ones included).
    pub candidates: usize,
}

/// The rows a study should use, and what was chosen where there was a choice.
#[derive(Clone, Debug, Default)]
pub struct Selection<'a> {
    pub rows: Vec<&'a ResultRow>,
    /// One entry per size that had more than one tuned setting.
    pub choices: Vec<Choice>,
}

/// Keeps, per size, the finished runs of the tuned setting with the best mean validation
/// accuracy. Sizes without a tuned axis keep all their finished runs. Diverged and failed runs
/// are never kept (a setting whose every seed diverged loses to any that finished). `axes` says
/// which axes are tuned ([`AxisRole::Tuned`]) and which repeat a setting ([`AxisRole::Repeat`]).
pub fn select_by_validation<'a>(rows: &'a [ResultRow], axes: &[AxisMeaning]) -> Selection<'a> {
    // size key → tuned key → rows of every status (a diverged setting still counts as tried)
    let mut groups: BTreeMap<String, BTreeMap<String, Vec<&ResultRow>>> = BTreeMap::new();
    for row in rows {
        let (size, tuned) = keys(row, axes);
        groups
            .entry(size)
            .or_default()
            .entry(tuned)
            .or_default()
            .push(row);
    }
    let mut selection = Selection::default();
    for (size, settings) in groups {
        let candidates = settings.len();
        let scored: Vec<(String, Vec<&ResultRow>, f64)> = settings
            .into_iter()
            .map(|(tuned, rows)| {
                let finished: Vec<&ResultRow> = rows
                    .into_iter()
                    .filter(|r| r.status == RunStatus::Ok && r.upstream.is_some())
                    .collect();
                let mean = match finished.is_empty() {
                    true => f64::NEG_INFINITY,
                    false => {
                        finished
                            .iter()
                            .filter_map(|r| r.upstream.as_ref().map(|u| u.val_accuracy))
                            .sum::<f64>()
                            / finished.len() as f64
                    }
                };
                (tuned, finished, mean)
            })
            .collect();
        // Ties go to the first setting in key order, so the choice is reproducible.
        let Some(best) = scored
            .into_iter()
            .reduce(|best, next| if next.2 > best.2 { next } else { best })
            .filter(|best| !best.1.is_empty())
        else {
            continue; // nothing of this size finished
        };
        if candidates > 1 {
            selection.choices.push(Choice {
                family: best.1[0].family.clone(),
                params: best.1[0].params,
                size,
                chosen: best.0,
                val_accuracy: best.2,
                candidates,
            });
        }
        selection.rows.extend(best.1);
    }
    selection
        .choices
        .sort_by(|a, b| (&a.family, a.params).cmp(&(&b.family, b.params)));
    // Keep the caller's order (one pass, not a search per row).
    let chosen: std::collections::HashSet<*const ResultRow> = selection
        .rows
        .iter()
        .map(|r| *r as *const ResultRow)
        .collect();
    selection.rows = rows
        .iter()
        .filter(|r| chosen.contains(&(*r as *const _)))
        .collect();
    selection
}

/// (size key, tuned-setting key) of a row: its axes split into size axes and tuned axes.
fn keys(row: &ResultRow, axes: &[AxisMeaning]) -> (String, String) {
    let show = |(k, v): (&String, &Value)| format!("{k}={v}");
    let role = |k: &String| role_of(axes, k);
    let size_axes = row.config.iter().filter(|(k, _)| {
        // Runs under another condition are chosen for on their own.
        matches!(
            role(k),
            AxisRole::Size | AxisRole::Budget | AxisRole::Condition
        )
    });
    let tuned_axes = row
        .config
        .iter()
        .filter(|(k, _)| role(k) == AxisRole::Tuned);
    let mut size = vec![row.family.clone()];
    size.extend(row.preset.clone());
    size.extend(size_axes.map(show));
    (
        size.join(" "),
        tuned_axes.map(show).collect::<Vec<_>>().join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::axes::testing::AXES;
    use crate::results::UpstreamResult;

    fn row(id: &str, axes: &[(&str, Value)], val: f64, status: RunStatus) -> ResultRow {
        ResultRow {
            run_id: id.into(),
            family: "vit".into(),
            preset: Some("vit-tiny-p4".into()),
            config: axes
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            model: Value::Null,
            params: axes
                .iter()
                .find(|(k, _)| *k == "width")
                .and_then(|(_, v)| v.as_u64())
                .unwrap_or(1),
            flops_per_image: 1,
            train_flops: 1.0,
            backend: "flex".into(),
            status,
            error: None,
            upstream: (status == RunStatus::Ok).then_some(UpstreamResult {
                test_accuracy: 1.0 - val, // test disagrees on purpose: it must not decide
                val_accuracy: val,
                test_loss: 0.0,
            }),
            downstream: Vec::new(),
            train_seconds: 0.0,
            images_per_second: 0.0,
            epochs: 1,
            steps: 1,
            training_data: None,
            distillation: None,
        }
    }

    fn ids(selection: &Selection) -> Vec<String> {
        selection.rows.iter().map(|r| r.run_id.clone()).collect()
    }

    #[test]
    fn best_mean_validation_over_seeds_wins_per_size() {
        let w = |x: u64| ("width", Value::from(x));
        let lr = |x: f64| ("lr", Value::from(x));
        let seed = |x: u64| ("seed", Value::from(x));
        let rows = vec![
            // width 8: lr 0.001 has the best single seed, lr 0.003 the best mean.
            row("a", &[w(8), lr(0.001), seed(0)], 0.90, RunStatus::Ok),
            row("b", &[w(8), lr(0.001), seed(1)], 0.50, RunStatus::Ok),
            row("c", &[w(8), lr(0.003), seed(0)], 0.80, RunStatus::Ok),
            row("d", &[w(8), lr(0.003), seed(1)], 0.80, RunStatus::Ok),
            // width 16: the higher lr diverged, so the lower one is chosen.
            row("e", &[w(16), lr(0.001), seed(0)], 0.70, RunStatus::Ok),
            row("f", &[w(16), lr(0.003), seed(0)], 0.0, RunStatus::Diverged),
        ];
        let selection = select_by_validation(&rows, &AXES);
        assert_eq!(ids(&selection), ["c", "d", "e"]);
        assert_eq!(selection.choices.len(), 2);
        let choice = &selection.choices[0];
        assert_eq!(choice.size, "vit vit-tiny-p4 width=8");
        assert_eq!(choice.chosen, "lr=0.003");
        assert_eq!(choice.candidates, 2);
        assert!((choice.val_accuracy - 0.80).abs() < 1e-12);
    }

    #[test]
    fn sizes_without_a_tuned_axis_keep_every_finished_run() {
        let w = |x: u64| ("width", Value::from(x));
        let rows = vec![
            row("a", &[w(8)], 0.5, RunStatus::Ok),
            row("b", &[w(16)], 0.6, RunStatus::Ok),
            row("c", &[w(32)], 0.0, RunStatus::Failed),
        ];
        let selection = select_by_validation(&rows, &AXES);
        assert_eq!(ids(&selection), ["a", "b"]);
        assert!(selection.choices.is_empty());
    }
}
