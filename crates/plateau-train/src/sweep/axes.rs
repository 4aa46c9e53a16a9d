//! The table of sweep axes. Every key a `[[grid]]` entry may sweep is declared here once: its
//! name, the kind of values it takes, how a value changes a run's spec, and what it means to a
//! study (a size, a budget, a tuned setting, a repeat). The config parser, the planner, the
//! validation-based selection, the report and the fits all read this table.
//!
//! A new axis is one entry below; its order here is the order of the grid's nested loops.

use plateau_metrics::axes::{AxisMeaning, AxisRole};
use serde_json::Value;

use crate::run::spec::RunSpec;
use crate::sweep::sections::PruneMetric;

/// The values an axis takes in a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Values {
    /// Non-negative integers (`width = [8, 16]`).
    Integers,
    /// Numbers (`lr = [1e-3, 3e-3]`).
    Numbers,
    /// Names from a fixed list (`prune = ["none", "el2n"]`).
    Names(&'static [&'static str]),
    /// `true` or `false` (`distill = [false, true]`).
    Booleans,
}

pub(crate) struct Axis {
    pub meaning: AxisMeaning,
    pub values: Values,
    /// Sets the value in a run's spec (values are checked against `values` when parsed).
    pub apply: fn(&mut RunSpec, &Value),
}

/// Every axis, outermost loop first.
pub(crate) const AXES: [Axis; 14] = [
    Axis {
        meaning: meaning("width", AxisRole::Size, "width"),
        values: Values::Integers,
        apply: |spec, v| spec.model = spec.model.with_width(integer(v) as usize),
    },
    Axis {
        meaning: meaning("depth", AxisRole::Size, "depth"),
        values: Values::Integers,
        apply: |spec, v| spec.model = spec.model.with_depth(integer(v) as usize),
    },
    Axis {
        meaning: meaning("train_examples", AxisRole::Budget, "training examples"),
        values: Values::Integers,
        apply: |spec, v| spec.upstream.train_examples = Some(integer(v) as usize),
    },
    Axis {
        meaning: meaning("epochs", AxisRole::Budget, "epochs"),
        values: Values::Integers,
        apply: |spec, v| {
            spec.train.epochs = Some(integer(v) as usize);
            spec.train.steps = None;
        },
    },
    Axis {
        meaning: meaning("label_noise", AxisRole::Condition, "label noise"),
        values: Values::Numbers,
        apply: |spec, v| spec.upstream.label_noise = Some(number(v)),
    },
    Axis {
        meaning: AxisMeaning {
            reference: Some("none"),
            ..meaning("prune", AxisRole::Condition, "pruning")
        },
        values: Values::Names(&PruneMetric::NAMES),
        apply: |spec, v| {
            let name = v.as_str().expect("parsed as a name axis");
            spec.upstream.prune = PruneMetric::from_name(name);
        },
    },
    Axis {
        meaning: meaning("keep", AxisRole::Condition, "kept fraction"),
        values: Values::Numbers,
        apply: |spec, v| spec.upstream.keep = Some(number(v)),
    },
    // `distill` comes before `temperature` and `ce_weight`: a run it turns off ignores them.
    Axis {
        meaning: meaning("distill", AxisRole::Condition, "distillation"),
        values: Values::Booleans,
        apply: |spec, v| {
            if !v.as_bool().expect("parsed as a boolean axis") {
                spec.distill = None;
            }
        },
    },
    Axis {
        meaning: meaning(
            "temperature",
            AxisRole::Condition,
            "distillation temperature",
        ),
        values: Values::Numbers,
        apply: |spec, v| {
            if let Some(distill) = &mut spec.distill {
                distill.temperature = number(v);
            }
        },
    },
    Axis {
        meaning: meaning("ce_weight", AxisRole::Condition, "cross-entropy weight"),
        values: Values::Numbers,
        apply: |spec, v| {
            if let Some(distill) = &mut spec.distill {
                distill.ce_weight = number(v);
            }
        },
    },
    Axis {
        meaning: meaning("lr", AxisRole::Tuned, "learning rate"),
        values: Values::Numbers,
        apply: |spec, v| spec.train.lr = number(v),
    },
    Axis {
        meaning: meaning("weight_decay", AxisRole::Tuned, "weight decay"),
        values: Values::Numbers,
        apply: |spec, v| spec.train.weight_decay = number(v),
    },
    Axis {
        meaning: meaning("head_weight_decay", AxisRole::Tuned, "head weight decay"),
        values: Values::Numbers,
        apply: |spec, v| spec.train.head_weight_decay = Some(number(v)),
    },
    Axis {
        meaning: meaning("seed", AxisRole::Repeat, "seed"),
        values: Values::Integers,
        apply: |spec, v| spec.seed = integer(v),
    },
];

/// The axis called `name`.
pub(crate) fn axis(name: &str) -> Option<&'static Axis> {
    AXES.iter().find(|axis| axis.meaning.name == name)
}

/// What each axis means to a study, for plateau-metrics (selection, report, fits).
pub fn meanings() -> Vec<AxisMeaning> {
    AXES.iter().map(|axis| axis.meaning).collect()
}

/// Every key of a `[[grid]]` entry: the model, then the axes (for "unknown field" errors).
pub(crate) const GRID_KEYS: [&str; 2 + AXES.len()] = {
    let mut keys = [""; 2 + AXES.len()];
    keys[0] = "preset";
    keys[1] = "model";
    let mut i = 0;
    while i < AXES.len() {
        keys[2 + i] = AXES[i].meaning.name;
        i += 1;
    }
    keys
};

const fn meaning(name: &'static str, role: AxisRole, label: &'static str) -> AxisMeaning {
    AxisMeaning {
        name,
        role,
        label,
        reference: None,
    }
}

fn integer(value: &Value) -> u64 {
    value.as_u64().expect("parsed as an integer axis")
}

fn number(value: &Value) -> f64 {
    value.as_f64().expect("parsed as a number axis")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_one_is_a_grid_key() {
        let mut names: Vec<&str> = AXES.iter().map(|a| a.meaning.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), AXES.len());
        assert_eq!(&GRID_KEYS[2..], AXES.map(|a| a.meaning.name));
        assert!(GRID_KEYS.iter().all(|k| !k.is_empty()));
    }
}
