//! Which points a fit sees. Points are (x, y) with y an error (lower is better). The frontier
//! keeps the runs no "cheaper" run beats on y:
//! - for the saturation law (x = upstream error, the curve rises with x), a run is on the
//!   frontier when no run with a worse-or-equal upstream error reaches a lower downstream error:
//!   the best downstream accuracy obtained at each upstream accuracy;
//! - for size laws (x = params or FLOPs, the curve falls with x), when no run at most as large
//!   reaches a lower error: the usual compute-optimal frontier.

use serde::{Deserialize, Serialize};

use super::Exponent;

/// Which points of a sweep a curve is fitted to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointSet {
    /// Every point.
    All,
    /// The Pareto frontier: the best y reached at each x (the paper's default).
    #[default]
    Frontier,
    /// The convex part of the frontier: in accuracy terms, the upper convex hull.
    Hull,
}

impl PointSet {
    pub const ALL: [PointSet; 3] = [PointSet::All, PointSet::Frontier, PointSet::Hull];

    pub fn name(self) -> &'static str {
        match self {
            PointSet::All => "all",
            PointSet::Frontier => "frontier",
            PointSet::Hull => "hull",
        }
    }

    /// Indices of the chosen points of `points`, ordered by x; `sign` is the curve's direction.
    pub fn select(self, points: &[(f64, f64)], sign: Exponent) -> Vec<usize> {
        match self {
            PointSet::All => by_x(points),
            PointSet::Frontier => pareto_frontier(points, sign),
            PointSet::Hull => lower_hull(points, sign),
        }
    }
}

impl std::str::FromStr for PointSet {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        PointSet::ALL
            .into_iter()
            .find(|set| set.name() == name)
            .ok_or_else(|| format!("unknown point set `{name}`; choose all, frontier or hull"))
    }
}

/// Indices sorted by x, then y (NaNs never reach here: callers drop them).
fn by_x(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[a].1.total_cmp(&points[b].1))
    });
    order
}

/// Indices of the frontier points, ordered by x: scanning from the "cheap" end of x (high
/// upstream error for a rising curve, small size for a falling one), each run that lowers the
/// best y so far. Of runs with equal y, the cheapest stays.
pub fn pareto_frontier(points: &[(f64, f64)], sign: Exponent) -> Vec<usize> {
    let mut order = by_x(points);
    if sign == Exponent::Positive {
        order.reverse();
    }
    let mut best_y = f64::INFINITY;
    let mut frontier = Vec::new();
    for i in order {
        if points[i].1 < best_y {
            best_y = points[i].1;
            frontier.push(i);
        }
    }
    frontier.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0));
    frontier
}

/// Indices of the frontier points on the lower convex hull (the upper convex hull of
/// accuracies): frontier points that lie on or below every chord between two others.
pub fn lower_hull(points: &[(f64, f64)], sign: Exponent) -> Vec<usize> {
    let mut hull: Vec<usize> = Vec::new();
    for i in pareto_frontier(points, sign) {
        while hull.len() >= 2 {
            let (a, b) = (points[hull[hull.len() - 2]], points[hull[hull.len() - 1]]);
            let c = points[i];
            // b is above (or on) the chord a→c: not on the lower hull.
            let cross = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
            if cross <= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(i);
    }
    hull
}

#[cfg(test)]
mod tests {
    use super::*;

    // x = upstream error, y = downstream error.
    const POINTS: [(f64, f64); 7] = [
        (0.50, 0.60), // 0: frontier, hull
        (0.40, 0.50), // 1: frontier, not hull (above the chord 0→3)
        (0.30, 0.35), // 2: frontier, hull
        (0.45, 0.70), // 3: dominated by 1
        (0.20, 0.30), // 4: frontier, hull
        (0.10, 0.29), // 5: frontier, hull (saturating)
        (0.25, 0.40), // 6: dominated by 4
    ];

    const UP: Exponent = Exponent::Positive;

    #[test]
    fn frontier_keeps_the_best_downstream_error_at_each_upstream_error() {
        assert_eq!(pareto_frontier(&POINTS, UP), vec![5, 4, 2, 1, 0]);
    }

    #[test]
    fn hull_drops_frontier_points_above_a_chord() {
        // Chord from (0.30, 0.35) to (0.50, 0.60) passes y = 0.475 at x = 0.40: point 1 (0.50)
        // lies above it.
        assert_eq!(lower_hull(&POINTS, UP), vec![5, 4, 2, 0]);
    }

    #[test]
    fn size_frontier_keeps_runs_no_smaller_run_beats() {
        // x = params, y = error.
        let points = [
            (1e4, 0.50),   // 0: frontier
            (2e4, 0.55),   // 1: worse than a smaller run
            (4e4, 0.40),   // 2: frontier
            (8e4, 0.33),   // 3: frontier, not hull (above the chord 2→4)
            (1.6e5, 0.10), // 4: frontier
            (3.2e5, 0.12), // 5: bigger and worse
        ];
        assert_eq!(
            pareto_frontier(&points, Exponent::Negative),
            vec![0, 2, 3, 4]
        );
        assert_eq!(lower_hull(&points, Exponent::Negative), vec![0, 2, 4]);
    }

    #[test]
    fn all_points_come_sorted_by_x() {
        assert_eq!(PointSet::All.select(&POINTS, UP), vec![5, 4, 6, 2, 1, 3, 0]);
        assert_eq!("hull".parse::<PointSet>(), Ok(PointSet::Hull));
        assert!("best".parse::<PointSet>().is_err());
    }

    #[test]
    fn ties_keep_the_cheapest_point() {
        let points = [(0.2, 0.3), (0.2, 0.3), (0.1, 0.3)];
        assert_eq!(pareto_frontier(&points, UP), vec![1]);
        assert_eq!(pareto_frontier(&points, Exponent::Negative), vec![2]);
    }
}
