//! What a sweep axis means to a study. plateau-train's table of axes declares every axis once,
//! with its [`AxisMeaning`]; selection, the report and the fits read the meanings they are
//! given, so they never keep their own list of axis names.

/// How a study treats the runs that differ in one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisRole {
    /// Defines the model's size (`width`, `depth`): each value is another size.
    Size,
    /// The data or compute budget (`train_examples`, `epochs`): each value is another size
    /// too, and the report plots accuracy against it.
    Budget,
    /// A training setting chosen per size on validation accuracy (`lr`, `weight_decay`).
    Tuned,
    /// Repeats a setting (`seed`): averaged over.
    Repeat,
    /// Sets a condition of the study (distilled or not, a label-noise rate): each value is a
    /// curve of its own, which fits and plots never mix with another.
    Condition,
}

/// One axis: its name in configs and results, its role, and how plots label it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisMeaning {
    pub name: &'static str,
    pub role: AxisRole,
    pub label: &'static str,
    /// For a condition: the value other curves are measured against (`prune`'s `"none"`);
    /// without one, the first value is.
    pub reference: Option<&'static str>,
}

/// The meaning of `name` among `axes`; an axis nobody declared (results of a newer plateau)
/// counts as a size, so runs that differ in it are never mixed.
pub fn role_of(axes: &[AxisMeaning], name: &str) -> AxisRole {
    axes.iter()
        .find(|axis| axis.name == name)
        .map_or(AxisRole::Size, |axis| axis.role)
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// The meanings plateau-train declares, for this crate's tests (which cannot see its table).
    pub(crate) const AXES: [AxisMeaning; 9] = [
        meaning("label_noise", AxisRole::Condition),
        meaning("width", AxisRole::Size),
        meaning("depth", AxisRole::Size),
        meaning("train_examples", AxisRole::Budget),
        meaning("epochs", AxisRole::Budget),
        meaning("lr", AxisRole::Tuned),
        meaning("weight_decay", AxisRole::Tuned),
        meaning("head_weight_decay", AxisRole::Tuned),
        meaning("seed", AxisRole::Repeat),
    ];

    const fn meaning(name: &'static str, role: AxisRole) -> AxisMeaning {
        AxisMeaning {
            name,
            role,
            label: name,
            reference: None,
        }
    }
}
