//! `report.html`: a self-contained page (inline SVG, no scripts) that a person opens from disk:
//! what ran, upstream accuracy against size, downstream against upstream per task, and a table.

mod compute;
mod conditions;
mod distill;
mod plots;
mod sections;
mod size_curves;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::axes::{AxisMeaning, AxisRole};
use crate::results::{ResultRow, ResultsStore, RunStatus};
use crate::selection::select_by_validation;
use plots::{Axis, Kind, Series, scatter};

/// Writes `report.html` for the sweep in `dir` (which holds `results.jsonl`), and each of its
/// plots as a standalone SVG in `dir/plots/` (for papers and slides); returns the page's path.
pub fn write_report(dir: &Path, axes: &[AxisMeaning]) -> std::io::Result<PathBuf> {
    let rows: Vec<ResultRow> = ResultsStore::new(dir)
        .latest()
        .map_err(std::io::Error::other)?
        .into_values()
        .collect();
    let name = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let path = dir.join("report.html");
    let html = render(&name, &rows, axes);
    write_plots(&dir.join("plots"), &html)?;
    replace_file(&path, html.as_bytes())?;
    Ok(path)
}

/// `NN-<title>.svg` for every plot of the page, replacing the plots of an earlier report.
fn write_plots(plots_dir: &Path, html: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(plots_dir)?;
    for entry in std::fs::read_dir(plots_dir)? {
        let path = entry?.path();
        let stale_temporary = plateau_store::is_temporary(&path.to_string_lossy());
        if stale_temporary || path.extension().is_some_and(|e| e == "svg") {
            std::fs::remove_file(path)?;
        }
    }
    for (i, svg) in svgs(html).enumerate() {
        let title = svg
            .split_once("<text")
            .and_then(|(_, rest)| rest.split_once('>'))
            .and_then(|(_, rest)| rest.split_once('<'))
            .map(|(title, _)| title)
            .unwrap_or("plot");
        let slug: String = title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .split('-')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let path = plots_dir.join(format!("{:02}-{slug}.svg", i + 1));
        replace_file(&path, svg.as_bytes())?;
    }
    Ok(())
}

/// The page and its plots are replaced whole (rebuilt from `results.jsonl` at any time, but a
/// reader must never open half a page).
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    Ok(plateau_store::write_atomic(path, bytes)?)
}

/// The `<svg>…</svg>` elements of a page, in order.
fn svgs(html: &str) -> impl Iterator<Item = &str> {
    html.match_indices("<svg").filter_map(move |(start, _)| {
        let end = html[start..].find("</svg>")? + start + "</svg>".len();
        Some(&html[start..end])
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The largest shot count measured, and the smallest.
/// Each task with its largest shot count of pre-logit probes.
fn largest_shots_of(rows: &[&ResultRow]) -> Vec<(String, usize)> {
    let mut largest: BTreeMap<String, usize> = BTreeMap::new();
    for d in rows.iter().flat_map(|r| r.downstream.iter()) {
        if d.layer == "pre_logits" {
            let shots = largest.entry(d.task.clone()).or_default();
            *shots = (*shots).max(d.shots);
        }
    }
    largest.into_iter().collect()
}

fn shot_range(rows: &[&ResultRow]) -> Vec<usize> {
    let shots: std::collections::BTreeSet<usize> = rows
        .iter()
        .flat_map(|r| r.downstream.iter())
        .filter(|d| d.layer == "pre_logits")
        .map(|d| d.shots)
        .collect();
    match (shots.first(), shots.last()) {
        (Some(&a), Some(&b)) if a != b => vec![a, b],
        (Some(&a), _) => vec![a],
        _ => Vec::new(),
    }
}

pub fn render(name: &str, rows: &[ResultRow], axes: &[AxisMeaning]) -> String {
    // Plots and fits see each size at its best tuned setting (chosen on validation).
    let selection = select_by_validation(rows, axes);
    let ok: Vec<&ResultRow> = selection.rows.clone();
    let count = |s: RunStatus| rows.iter().filter(|r| r.status == s).count();
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>plateau: {name}</title><style>\
         body{{font-family:sans-serif;margin:2em;max-width:1200px}} table{{border-collapse:collapse;font-size:13px}} \
         td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}} th{{background:#eee}} .plots svg{{margin:4px}}</style></head><body>\
         <h1>Sweep {name}</h1><p>{} runs: {} ok, {} diverged, {} failed; {:.0} s of training in all.</p>",
        rows.len(),
        count(RunStatus::Ok),
        count(RunStatus::Diverged),
        count(RunStatus::Failed),
        rows.iter().map(|r| r.train_seconds).sum::<f64>(),
        name = escape(name)
    );

    if !selection.choices.is_empty() {
        html.push_str("<h2>Hyper-parameters chosen on validation</h2><p>Each size is shown at the setting with the best mean validation accuracy over seeds; the other settings appear only in the table of runs.</p><table><tr><th>size</th><th>chosen</th><th>mean val accuracy</th><th>settings compared</th></tr>");
        for choice in &selection.choices {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td></tr>",
                escape(&choice.size),
                escape(&choice.chosen),
                choice.val_accuracy,
                choice.candidates
            ));
        }
        html.push_str("</table>");
    }

    let mut families: BTreeMap<&str, Vec<&ResultRow>> = BTreeMap::new();
    for row in &ok {
        families.entry(row.family.as_str()).or_default().push(row);
    }
    let by_family = |f: &dyn Fn(&ResultRow) -> Option<(f64, f64)>| -> Vec<Series> {
        families
            .iter()
            .map(|(family, rows)| {
                Series::points(*family, rows.iter().filter_map(|r| f(r)).collect())
            })
            .collect()
    };
    let up = |r: &ResultRow| r.upstream.as_ref().map(|u| u.test_accuracy);

    html.push_str("<h2>Upstream accuracy against size and cost</h2>");
    let cheapest = sections::cheapest_near_best(&ok, 0.01);
    if let Some((cheap, best)) = &cheapest {
        html.push_str(&format!(
            "<p>Best upstream test accuracy {:.4} ({} {}, {} params). ",
            up(best).unwrap_or(0.0),
            best.family,
            best.run_id,
            best.params,
        ));
        html.push_str(&match cheap.run_id == best.run_id {
            true => "No cheaper run comes within 1 point of it (ringed): at this scale, \
                     bigger still pays.</p>"
                .to_string(),
            false => format!(
                "The cheapest run within 1 point of it (ringed): {} {} at {:.4}, {} params, \
                 {:.3} of the best run's training FLOPs.</p>",
                cheap.family,
                cheap.run_id,
                up(cheap).unwrap_or(0.0),
                cheap.params,
                cheap.train_flops / best.train_flops.max(1.0)
            ),
        });
    }
    let ring = |point: Option<(f64, f64)>| {
        Series::points("cheapest within 1 pt", point.into_iter().collect()).with_kind(Kind::Rings)
    };
    html.push_str("<div class=\"plots\">");
    let mut by_params = by_family(&|r| up(r).map(|a| (r.params as f64, a)));
    by_params.push(ring(
        cheapest
            .as_ref()
            .and_then(|(c, _)| Some((c.params as f64, up(c)?))),
    ));
    html.push_str(&scatter(
        "Upstream test accuracy",
        "parameters",
        "accuracy",
        &by_params,
        Axis::Log,
        Axis::Unit,
    ));
    let mut by_flops = by_family(&|r| up(r).map(|a| (r.train_flops.max(1.0), a)));
    by_flops.push(ring(
        cheapest
            .as_ref()
            .and_then(|(c, _)| Some((c.train_flops.max(1.0), up(c)?))),
    ));
    html.push_str(&scatter(
        "Upstream test accuracy",
        "training FLOPs",
        "accuracy",
        &by_flops,
        Axis::Log,
        Axis::Unit,
    ));
    html.push_str("</div>");

    let tasks: std::collections::BTreeSet<&str> = ok
        .iter()
        .flat_map(|r| r.downstream.iter().map(|d| d.task.as_str()))
        .collect();
    let fits = sections::saturation_fits(rows, axes);
    if !tasks.is_empty() {
        html.push_str("<h2>Downstream few-shot accuracy against upstream accuracy</h2><p>Linear probes on pre-logit features; does downstream keep rising with upstream, or saturate? The black curve is <code>e_DS = k·e_US^α + e_IR</code> fitted to the ringed frontier runs (errors = 1 − accuracy); <code>plateau fit</code> prints it with intervals.</p><div class=\"plots\">");
        for task in &tasks {
            for shots in shot_range(&ok) {
                let mut series = by_family(&|r| {
                    let d = r
                        .downstream
                        .iter()
                        .find(|d| d.task == *task && d.shots == shots && d.layer == "pre_logits")?;
                    Some((up(r)?, d.accuracy_mean))
                });
                if series.iter().all(|s| s.points.is_empty()) {
                    continue;
                }
                let mut title = format!("{task}, {shots}-shot");
                if let Some(fit) = fits.iter().find(|f| {
                    f.series.task.as_deref() == Some(*task) && f.series.shots == Some(shots)
                }) {
                    series.extend(sections::curve_and_frontier(fit));
                    title.push_str(&format!(": e_IR = {:.3}", fit.fit.parameter("e_ir")));
                    if !fit.floor.identified {
                        title.push_str(" (not identified)");
                    }
                }
                html.push_str(&scatter(
                    &title,
                    "upstream accuracy",
                    "downstream accuracy",
                    &series,
                    Axis::Unit,
                    Axis::Unit,
                ));
            }
        }
        html.push_str("</div>");
        html.push_str(&sections::irreducible_error(&fits));
        html.push_str(&compute::what_would_it_take(
            rows,
            axes,
            &largest_shots_of(&ok),
            &fits,
            sections::REPORT_RESAMPLES,
        ));
        html.push_str(&sections::downstream_against_size(&families, &tasks));
        html.push_str(&sections::layer_wise(&families, &tasks));
    }
    html.push_str(&distill::distilled_against_scratch(
        rows,
        axes,
        &largest_shots_of(&ok),
    ));
    html.push_str(&conditions::per_condition(
        rows,
        axes,
        &largest_shots_of(&ok),
    ));
    for axis in axes.iter().filter(|axis| axis.role == AxisRole::Budget) {
        html.push_str(&sections::against_axis(&ok, axis, axes));
    }
    html.push_str(&sections::head_weight_decay(rows));

    html.push_str("<h2>Runs</h2><table><tr><th>run</th><th>family</th><th>axes</th><th>params</th><th>GFLOPs/img</th><th>status</th><th>upstream test</th><th>val</th>");
    let columns: Vec<(String, usize)> = tasks
        .iter()
        .flat_map(|t| shot_range(&ok).into_iter().map(move |s| (t.to_string(), s)))
        .collect();
    for (task, shots) in &columns {
        html.push_str(&format!("<th>{} {shots}-shot</th>", escape(task)));
    }
    let finetuned: std::collections::BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.downstream.iter())
        .filter(|d| d.layer == crate::results::FINETUNE_LAYER)
        .map(|d| d.task.as_str())
        .collect();
    for task in &finetuned {
        html.push_str(&format!("<th>{} fine-tuned</th>", escape(task)));
    }
    html.push_str("<th>seconds</th><th>img/s</th></tr>");
    let mut sorted: Vec<&ResultRow> = rows.iter().collect();
    sorted.sort_by(|a, b| (a.family.as_str(), a.params).cmp(&(b.family.as_str(), b.params)));
    for row in sorted {
        let axes: Vec<String> = row.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let chosen = ok.iter().any(|r| std::ptr::eq(*r, row));
        let status = match row.status {
            RunStatus::Ok if chosen => "ok".to_string(),
            RunStatus::Ok => "ok (not chosen on validation)".to_string(),
            other => format!("{other:?}: {}", escape(row.error.as_deref().unwrap_or(""))),
        };
        let up = row.upstream.as_ref();
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{status}</td><td>{}</td><td>{}</td>",
            row.run_id,
            row.family,
            escape(&axes.join(" ")),
            row.params,
            row.flops_per_image as f64 / 1e9,
            up.map(|u| format!("{:.4}", u.test_accuracy)).unwrap_or_default(),
            up.map(|u| format!("{:.4}", u.val_accuracy)).unwrap_or_default(),
        ));
        for (task, shots) in &columns {
            let cell = row
                .downstream
                .iter()
                .find(|d| &d.task == task && d.shots == *shots && d.layer == "pre_logits")
                .map(|d| format!("{:.3} ± {:.3}", d.accuracy_mean, d.accuracy_std))
                .unwrap_or_default();
            html.push_str(&format!("<td>{cell}</td>"));
        }
        for task in &finetuned {
            let cell = row
                .downstream
                .iter()
                .find(|d| d.task == *task && d.layer == crate::results::FINETUNE_LAYER)
                .map(|d| format!("{:.3} ({} per class)", d.accuracy_mean, d.shots))
                .unwrap_or_default();
            html.push_str(&format!("<td>{cell}</td>"));
        }
        html.push_str(&format!(
            "<td>{:.0}</td><td>{:.0}</td></tr>",
            row.train_seconds, row.images_per_second
        ));
    }
    html.push_str("</table><p>Generated by plateau. Data: results.jsonl and results.csv beside this file.</p></body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::axes::testing::AXES;
    use crate::results::{DownstreamResult, UpstreamResult};

    fn row(id: &str, family: &str, params: u64, up: f64, down: f64) -> ResultRow {
        ResultRow {
            run_id: id.into(),
            family: family.into(),
            preset: None,
            config: [("width".to_string(), serde_json::json!(params))].into(),
            model: serde_json::json!({}),
            params,
            flops_per_image: params * 10,
            train_flops: params as f64 * 1e6,
            backend: "flex".into(),
            status: RunStatus::Ok,
            error: None,
            upstream: Some(UpstreamResult {
                test_accuracy: up,
                val_accuracy: up,
                test_loss: 1.0,
            }),
            downstream: [1, 25]
                .map(|shots| DownstreamResult {
                    task: "digits".into(),
                    shots,
                    layer: "pre_logits".into(),
                    relative_depth: 1.0,
                    accuracy_mean: down,
                    accuracy_std: 0.01,
                    seeds: 3,
                })
                .to_vec(),
            train_seconds: 2.0,
            images_per_second: 100.0,
            epochs: 1,
            steps: 1,
            training_data: None,
            distillation: None,
        }
    }

    #[test]
    fn report_has_plots_and_a_row_per_run() {
        let mut failed = row("c", "vit", 300, 0.0, 0.0);
        failed.status = RunStatus::Failed;
        failed.upstream = None;
        failed.error = Some("panicked: <boom>".into());
        let rows = vec![
            row("a", "resnet", 1000, 0.6, 0.5),
            row("b", "resnet", 4000, 0.7, 0.55),
            failed,
        ];
        let html = render("quick", &rows, &AXES);
        assert_eq!(
            html.matches("<svg").count(),
            5,
            "2 upstream plots + digits at 1 and 25 shots + digits against size"
        );
        assert!(html.contains("digits 25-shot") && html.contains("0.550 ± 0.010"));
        assert!(html.contains("3 runs: 2 ok, 0 diverged, 1 failed"));
        assert!(html.contains("&lt;boom&gt;"), "errors are escaped");
        assert_eq!(html.matches("<tr><td>").count(), 3);
    }

    #[test]
    fn report_shows_each_size_at_its_learning_rate_chosen_on_validation() {
        let with_lr = |id: &str, lr: f64, val: f64| {
            let mut r = row(id, "mixer", 500, 0.9 - val, 0.5);
            r.config.insert("lr".into(), serde_json::json!(lr));
            r.upstream.as_mut().unwrap().val_accuracy = val;
            r
        };
        let rows = vec![with_lr("a", 0.001, 0.6), with_lr("b", 0.01, 0.7)];
        let html = render("tuned", &rows, &AXES);
        assert!(html.contains("Hyper-parameters chosen on validation"));
        assert!(html.contains("<td>lr=0.01</td><td>0.7000</td><td>2</td>"));
        assert_eq!(html.matches("not chosen on validation").count(), 1);
    }

    #[test]
    fn report_fits_the_saturation_law_and_shows_layers_and_the_cheapest_run() {
        // Downstream follows e_DS = 0.8·e_US + 0.3 exactly; a block probe sits below pre-logits.
        let rows: Vec<ResultRow> = (0..6)
            .map(|i| {
                let up = 0.5 + 0.08 * i as f64;
                let down = 1.0 - (0.8 * (1.0 - up) + 0.3);
                let mut r = row(&format!("r{i}"), "vit", 1000 * (i + 1) as u64, up, down);
                let block = DownstreamResult {
                    layer: "block00".into(),
                    relative_depth: 0.5,
                    accuracy_mean: down - 0.1,
                    ..r.downstream[1].clone()
                };
                r.downstream.push(block);
                r
            })
            .collect();
        let html = render("fits", &rows, &AXES);
        assert!(html.contains("Saturation parameters against shots"));
        assert!(html.contains("Fitted e_IR") && html.contains("Fitted α"));
        assert!(
            html.contains("digits, 25-shot: e_IR = 0.300"),
            "the fitted asymptote"
        );
        assert!(html.contains("Layer-wise probes") && html.contains("digits: probe by layer"));
        // Best upstream 0.90 (r5); r4 at 0.82 is not within 1 point, so the best is the cheapest.
        assert!(html.contains("(vit r5, 6000 params). No cheaper run comes within 1 point"));
    }

    #[test]
    fn report_says_what_a_target_would_take_and_whether_the_floor_is_identified() {
        // Seven sizes: upstream error 2·(C/1e9)^−0.3 + floor in training FLOPs C, downstream
        // 0.8·e_US^1.2 + 0.2, ±1 % noise.
        let family = |name: &str, floor: f64| -> Vec<ResultRow> {
            (0..7)
                .map(|i| {
                    let params = 1000u64 * 4u64.pow(i);
                    let noise = if i % 2 == 0 { 1.01 } else { 0.99 };
                    let up = (2.0 * (params as f64 * 1e6 / 1e9).powf(-0.3) + floor) * noise;
                    let down = 0.8 * up.powf(1.2) + 0.2;
                    row(&format!("{name}{i}"), name, params, 1.0 - up, 1.0 - down)
                })
                .collect()
        };
        let mut rows = family("vit", 0.05);
        rows.extend(family("mixer", 0.0));
        let html = render("compute", &rows, &AXES);
        assert!(html.contains("What would it take?"), "the section");
        assert!(
            html.contains("vit digits 25-shot: error against compute"),
            "its plot"
        );
        assert!(html.contains("95% band") && html.contains("extrapolation"));
        assert!(html.contains("Do the size laws foresee the largest runs?"));
        // A target row per default target and family, with compute and hours.
        assert!(
            html.matches("<td>digits 25-shot</td>").count() >= 4,
            "{html}"
        );
        // mixer's size law is a pure power law: its floor is not identified, and the page says so.
        assert!(
            html.contains("not identified</b> for mixer digits 25-shot"),
            "the unidentified floor is named"
        );
    }

    #[test]
    fn a_condition_axis_gets_one_curve_per_value_and_its_cost_in_size() {
        let rows: Vec<ResultRow> = [0.0, 0.4]
            .iter()
            .flat_map(|&noise| {
                (0..5).map(move |i| {
                    let params = 1000u64 * 3u64.pow(i);
                    let error = 3.0 * (params as f64).powf(-0.3) + 0.1 + noise / 2.0;
                    let mut r = row(&format!("n{noise}-{i}"), "vit", params, 1.0 - error, 0.5);
                    r.config
                        .insert("label_noise".into(), serde_json::json!(noise));
                    r
                })
            })
            .collect();
        let html = render("noise", &rows, &AXES);
        assert!(
            html.contains("Accuracy against size, per label_noise"),
            "the section"
        );
        assert!(html.contains("upstream accuracy against parameters"));
        // The noisy curve's floor (0.3) lies above the clean best (about 0.15): no size reaches it.
        assert!(html.contains("unreachable at any size"), "{html}");
    }

    #[test]
    fn cheapest_run_within_a_point_of_the_best() {
        let rows = [
            row("big", "vit", 4000, 0.900, 0.5),
            row("mid", "vit", 2000, 0.895, 0.5),
            row("small", "vit", 1000, 0.800, 0.5),
        ];
        let refs: Vec<&ResultRow> = rows.iter().collect();
        let (cheap, best) = sections::cheapest_near_best(&refs, 0.01).unwrap();
        assert_eq!(
            (cheap.run_id.as_str(), best.run_id.as_str()),
            ("mid", "big")
        );
    }

    #[test]
    fn a_head_weight_decay_sweep_shows_its_trade_off() {
        let with_decay = |id: &str, decay: f64, up: f64, down: f64| {
            let mut r = row(id, "resnet", 1000, up, down);
            r.config
                .insert("head_weight_decay".into(), serde_json::json!(decay));
            r
        };
        let rows = vec![
            with_decay("a", 0.0, 0.80, 0.50),
            with_decay("b", 1.0, 0.78, 0.56),
            with_decay("c", 3.0, 0.74, 0.60),
        ];
        let html = render("head", &rows, &AXES);
        assert!(html.contains("Head weight decay: the upstream–downstream trade-off"));
        assert!(html.contains("Accuracy against head weight decay"));
        // Without the axis there is no such section.
        let plain = render("plain", &[row("a", "resnet", 1000, 0.8, 0.5)], &AXES);
        assert!(!plain.contains("Head weight decay"));
    }

    #[test]
    fn every_plot_is_also_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultsStore::new(dir.path());
        for (id, params, up) in [("a", 1000, 0.6), ("b", 4000, 0.7)] {
            store.append(&row(id, "resnet", params, up, 0.5)).unwrap();
        }
        let stale = dir.path().join("plots").join("99-old.svg");
        std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
        std::fs::write(&stale, "<svg></svg>").unwrap();
        let page = write_report(dir.path(), &AXES).unwrap();
        let html = std::fs::read_to_string(page).unwrap();
        let mut files: Vec<String> = std::fs::read_dir(dir.path().join("plots"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files.len(), html.matches("<svg").count(), "{files:?}");
        assert_eq!(files[0], "01-upstream-test-accuracy.svg");
        assert!(!stale.exists(), "plots of an earlier report are replaced");
    }
}
