//! SVG scatter plots of result rows (plotters' SVG backend: text stays text, no fonts needed).

use plotters::prelude::*;

/// One series of points, drawn in one colour with a legend entry.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub kind: Kind,
    /// An interval of y for each point, drawn as a bar (none when empty).
    pub bars: Vec<(f64, f64)>,
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
    /// A fitted curve beyond the data (an extrapolation): a dashed black line.
    Dashed,
    /// A band between two curves: `points` runs along the upper edge and back along the lower.
    Band,
}

impl Series {
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            kind: Kind::Points,
            bars: Vec::new(),
        }
    }

    pub fn with_kind(self, kind: Kind) -> Self {
        Self { kind, ..self }
    }

    pub fn with_bars(self, bars: Vec<(f64, f64)>) -> Self {
        Self { bars, ..self }
    }
}

/// The colour of each series: points series take the palette in turn, the rest are black.
fn colours(series: &[Series]) -> Vec<RGBColor> {
    let mut next = 0;
    series
        .iter()
        .map(|s| match s.kind {
            Kind::Points => {
                next += 1;
                COLOURS[(next - 1) % COLOURS.len()]
            }
            _ => BLACK,
        })
        .collect()
}

const BAND: RGBColor = RGBColor(200, 200, 200);

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
    /// Logarithmic (sizes, FLOPs, shots; errors on log–log plots).
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

/// Width of the plotting area, and of the legend column to its right (a legend inside would
/// cover points): wide enough for the longest name, within bounds.
const PLOT_WIDTH: u32 = 510;
const LEGEND_MIN: u32 = 150;
const LEGEND_MAX: u32 = 320;
/// About the width of one legend character at 13 px, and the space before the text.
const CHAR_WIDTH: u32 = 7;
const LEGEND_TEXT_X: u32 = 26;

fn legend_width(series: &[Series]) -> u32 {
    let longest = series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0) as u32;
    (LEGEND_TEXT_X + CHAR_WIDTH * longest).clamp(LEGEND_MIN, LEGEND_MAX)
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
        let legend_width = legend_width(series);
        let root =
            SVGBackend::with_string(&mut svg, (PLOT_WIDTH + legend_width, 380)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let (plot, legend) = root.split_horizontally(PLOT_WIDTH);
        let points = || series.iter().flat_map(|s| s.points.iter().copied());
        let (x0, x1) = range(points().map(|p| p.0), x);
        let (y0, y1) = range(points().map(|p| p.1), y);
        let mut builder = ChartBuilder::on(&plot);
        builder
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(52);
        let join = x != Axis::Unit;
        // Each pair of axis scales is its own chart type; the drawing is the same.
        macro_rules! draw {
            ($x_range:expr, $y_range:expr) => {
                builder
                    .build_cartesian_2d($x_range, $y_range)
                    .map(|mut chart| {
                        let mut mesh = chart.configure_mesh();
                        mesh.light_line_style(WHITE).x_desc(x_label).y_desc(y_label);
                        if x == Axis::Log {
                            mesh.x_labels(6).x_label_formatter(&|v| short(*v));
                        }
                        if y == Axis::Log {
                            mesh.y_label_formatter(&|v| short(*v));
                        }
                        let _ = mesh.draw();
                        draw_series(&mut chart, series, join, (y0, y1));
                    })
            };
        }
        // A chart that cannot be laid out (no data) leaves the page blank, not the report broken.
        let _ = match (x, y) {
            (Axis::Log, Axis::Log) => draw!(
                (x0..x1).log_scale(),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1))
            ),
            (Axis::Log, _) => draw!((x0..x1).log_scale(), y0..y1),
            (_, Axis::Log) => draw!(
                x0..x1,
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1))
            ),
            _ => draw!(x0..x1, y0..y1),
        };
        draw_legend(&legend, series);
        let _ = root.present();
    }
    svg
}

/// Points per series; `join` links them in x order (a size curve), else points only. Bars are
/// cut to the plot's y range `(low, high)`.
fn draw_series<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series],
    join: bool,
    (low, high): (f64, f64),
) where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    // Bands first, so that curves and points lie on top of them.
    for s in series.iter().filter(|s| s.kind == Kind::Band) {
        let _ = chart.draw_series(std::iter::once(Polygon::new(
            s.points.clone(),
            BAND.mix(0.6).filled(),
        )));
    }
    for (s, colour) in series.iter().zip(colours(series)) {
        let mut points = s.points.clone();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let _ = match s.kind {
            Kind::Points => {
                if join {
                    let _ =
                        chart.draw_series(LineSeries::new(points.clone(), colour.stroke_width(1)));
                }
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                    .map(|_| ())
            }
            Kind::Curve => chart
                .draw_series(LineSeries::new(points, BLACK.stroke_width(2)))
                .map(|_| ()),
            Kind::Dashed => chart
                .draw_series(DashedLineSeries::new(points, 6, 4, BLACK.stroke_width(2)))
                .map(|_| ()),
            Kind::Rings => chart
                .draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, 7, BLACK.stroke_width(1))),
                )
                .map(|_| ()),
            Kind::Band => Ok(()),
        };
        let bars = s
            .points
            .iter()
            .zip(&s.bars)
            .filter(|(_, (lo, hi))| lo.is_finite() && hi.is_finite())
            .map(|(&(x, _), &(lo, hi))| {
                PathElement::new(
                    vec![(x, lo.clamp(low, high)), (x, hi.clamp(low, high))],
                    colour.stroke_width(1),
                )
            });
        let _ = chart.draw_series(bars);
    }
}

/// The legend, in its own column beside the plot: one line per named series.
fn draw_legend(area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, series: &[Series]) {
    let mut y = 50;
    let fits = ((legend_width(series) - LEGEND_TEXT_X) / CHAR_WIDTH) as usize;
    for (s, colour) in series.iter().zip(colours(series)) {
        if s.name.is_empty() {
            continue;
        }
        let marker = (12, y);
        let _ = match s.kind {
            Kind::Points => area.draw(&Circle::new(marker, 4, colour.filled())),
            Kind::Rings => area.draw(&Circle::new(marker, 6, BLACK.stroke_width(1))),
            Kind::Curve => area.draw(&PathElement::new(
                vec![(4, y), (20, y)],
                BLACK.stroke_width(2),
            )),
            Kind::Dashed => area
                .draw(&PathElement::new(
                    vec![(4, y), (9, y)],
                    BLACK.stroke_width(2),
                ))
                .and_then(|_| {
                    area.draw(&PathElement::new(
                        vec![(14, y), (20, y)],
                        BLACK.stroke_width(2),
                    ))
                }),
            Kind::Band => area.draw(&Rectangle::new([(4, y - 5), (20, y + 5)], BAND.filled())),
        };
        let name: String = s.name.chars().take(fits).collect();
        let _ = area.draw(&Text::new(
            name,
            (LEGEND_TEXT_X as i32, y - 7),
            ("sans-serif", 13),
        ));
        y += 20;
    }
}

/// Ticks for a log axis over `(low, high)`: 1, 2 and 5 times powers of ten, or every digit
/// where the range is narrower than that (errors often span less than a decade).
fn log_ticks(low: f64, high: f64) -> Vec<f64> {
    let decades = (low.log10().floor() as i32)..=(high.log10().ceil() as i32);
    let within = |digits: &[f64]| -> Vec<f64> {
        decades
            .clone()
            .flat_map(|d| digits.iter().map(move |m| m * 10f64.powi(d)))
            .filter(|v| (low..=high).contains(v))
            .collect()
    };
    let coarse = within(&[1.0, 2.0, 5.0]);
    match coarse.len() >= 3 {
        true => coarse,
        false => within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]),
    }
}

/// `1.2M`, `35k`.
fn short(v: f64) -> String {
    match v {
        v if v >= 1e15 => format!("{v:.0e}"),
        v if v >= 1e12 => format!("{:.0}T", v / 1e12),
        v if v >= 1e10 => format!("{:.0}G", v / 1e9),
        v if v >= 1e9 => format!("{:.1}G", v / 1e9),
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e3 => format!("{:.0}k", v / 1e3),
        v if v >= 1.0 => format!("{v:.0}"),
        v => format!("{v:.2}"),
    }
}
