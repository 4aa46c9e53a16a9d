//! SVG scatter plots of result rows (plotters' SVG backend: text stays text, no fonts needed).

use plotters::prelude::*;

/// One series of points, drawn in one colour with a legend entry.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub kind: Kind,
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// Filled markers (joined in x order on log-x plots).
    #[default]
    Points,
    /// A fitted curve: a black line, no markers.
    Curve,
    /// Rings around points drawn by another series (frontier, cheapest model).
    Rings,
}

impl Series {
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            kind: Kind::Points,
        }
    }

    pub fn with_kind(self, kind: Kind) -> Self {
        Self { kind, ..self }
    }
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// How an axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// Logarithmic (sizes, FLOPs, shots); only for x.
    Log,
    /// Linear and clipped to [0, 1] (accuracies, errors).
    Unit,
    /// Linear over the data.
    Linear,
}

/// The padded range of `values` on `axis`.
fn range(values: impl Iterator<Item = f64>, axis: Axis) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (low, high) = match low.is_finite() {
        true => (low, high),
        false => (0.0, 1.0),
    };
    let pad = ((high - low) * 0.08).max(match axis {
        Axis::Unit => 0.01,
        _ => 1e-3 * high.abs().max(1e-9),
    });
    match axis {
        Axis::Log => (low / 1.5, high * 1.5),
        Axis::Unit => ((low - pad).max(0.0), (high + pad).min(1.0)),
        Axis::Linear if low >= 0.0 => ((low - pad).max(0.0), high + pad),
        Axis::Linear => (low - pad, high + pad),
    }
}

/// A scatter plot; on log and linear x axes each series' points are joined in x order.
pub fn scatter(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x: Axis,
    y: Axis,
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 380)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let points = || series.iter().flat_map(|s| s.points.iter().copied());
        let (x0, x1) = range(points().map(|p| p.0), x);
        let (y0, y1) = range(points().map(|p| p.1), y);
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(52);
        let join = x != Axis::Unit;
        // A chart that cannot be laid out (no data) leaves the page blank, not the report broken.
        let _ = if x == Axis::Log {
            builder
                .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                .map(|mut chart| {
                    let _ = chart
                        .configure_mesh()
                        .light_line_style(WHITE)
                        .x_labels(6)
                        .x_desc(x_label)
                        .y_desc(y_label)
                        .x_label_formatter(&|v| short(*v))
                        .draw();
                    draw_series(&mut chart, series, join);
                })
        } else {
            builder.build_cartesian_2d(x0..x1, y0..y1).map(|mut chart| {
                let _ = chart
                    .configure_mesh()
                    .light_line_style(WHITE)
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .draw();
                draw_series(&mut chart, series, join);
            })
        };
        let _ = root.present();
    }
    svg
}

/// Points per series; `join` links them in x order (a size curve), else points only.
fn draw_series<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series],
    join: bool,
) where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    let mut colour_index = 0;
    for s in series {
        let mut points = s.points.clone();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let drawn = match s.kind {
            Kind::Points => {
                let colour = COLOURS[colour_index % COLOURS.len()];
                colour_index += 1;
                if join {
                    let _ =
                        chart.draw_series(LineSeries::new(points.clone(), colour.stroke_width(1)));
                }
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                    .map(|drawn| {
                        drawn
                            .label(s.name.clone())
                            .legend(move |(x, y)| Circle::new((x, y), 4, colour.filled()));
                    })
            }
            Kind::Curve => chart
                .draw_series(LineSeries::new(points, BLACK.stroke_width(2)))
                .map(|drawn| {
                    drawn.label(s.name.clone()).legend(|(x, y)| {
                        PathElement::new(vec![(x - 8, y), (x + 8, y)], BLACK.stroke_width(2))
                    });
                }),
            Kind::Rings => chart
                .draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, 7, BLACK.stroke_width(1))),
                )
                .map(|drawn| {
                    drawn
                        .label(s.name.clone())
                        .legend(|(x, y)| Circle::new((x, y), 6, BLACK.stroke_width(1)));
                }),
        };
        let _ = drawn;
    }
    let _ = chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw();
}

/// `1.2M`, `35k`.
fn short(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.1}G", v / 1e9),
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e3 => format!("{:.0}k", v / 1e3),
        v if v >= 1.0 => format!("{v:.0}"),
        v => format!("{v:.2}"),
    }
}
