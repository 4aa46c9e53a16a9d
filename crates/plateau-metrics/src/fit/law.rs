//! The laws a curve can follow, behind one type: the power law with a floor (the saturation law
//! when it rises with x, a size law when it falls) and the bent law, which also bends towards
//! an initial error. Each law predicts `y` at `x`, finds the `x` where it reaches a `y`, and
//! has a floor below which no `x` reaches.

use serde::{Deserialize, Serialize};

use super::bent::BentLaw;
use super::power_law::{Exponent, PowerLaw};

/// The form of law `--law` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LawForm {
    /// `e_DS = k·e_US^α + e_IR`: rises with x (downstream error against upstream error).
    Saturation,
    /// `y = a·x^(−b) + c`: falls with x (error against size, compute or data).
    Size,
    /// `(y − e∞)/(e₀ − y)^α = β·x^(−c)` (Alabdulmohsin et al., 2022, their M4): falls with x,
    /// bending from the initial error `e₀` to the floor `e∞`.
    Bent,
}

impl LawForm {
    pub const ALL: [LawForm; 3] = [LawForm::Saturation, LawForm::Size, LawForm::Bent];

    pub fn name(self) -> &'static str {
        match self {
            LawForm::Saturation => "saturation",
            LawForm::Size => "size",
            LawForm::Bent => "bent",
        }
    }

    /// Whether the law's y falls as x grows.
    pub fn falls(self) -> bool {
        !matches!(self, LawForm::Saturation)
    }

    /// Its parameters' names, in the order of [`Law::parameters`].
    pub fn parameter_names(self) -> &'static [&'static str] {
        match self {
            LawForm::Saturation => &["k", "alpha", "e_ir"],
            LawForm::Size => &["a", "b", "c"],
            LawForm::Bent => &["e0", "e_inf", "alpha", "beta", "c"],
        }
    }

    /// The name of its floor among [`parameter_names`](Self::parameter_names).
    pub fn floor_name(self) -> &'static str {
        match self {
            LawForm::Saturation => "e_ir",
            LawForm::Size => "c",
            LawForm::Bent => "e_inf",
        }
    }

    /// The formula, with `x` named.
    pub fn formula(self, x: &str) -> String {
        match self {
            LawForm::Saturation => format!("y = k * {x}^alpha + e_ir"),
            LawForm::Size => format!("y = a * {x}^(-b) + c"),
            LawForm::Bent => format!("(y - e_inf) / (e0 - y)^alpha = beta * {x}^(-c)"),
        }
    }
}

impl std::str::FromStr for LawForm {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        LawForm::ALL
            .into_iter()
            .find(|law| law.name() == name)
            .ok_or_else(|| {
                format!("unknown law `{name}`; choose one of saturation, size, bent, auto")
            })
    }
}

/// A fitted law of any form.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Law {
    Power(PowerLaw),
    Bent(BentLaw),
}

impl Law {
    pub fn form(&self) -> LawForm {
        match self {
            Law::Power(law) if law.sign == Exponent::Positive => LawForm::Saturation,
            Law::Power(_) => LawForm::Size,
            Law::Bent(_) => LawForm::Bent,
        }
    }

    pub fn predict(&self, x: f64) -> f64 {
        match self {
            Law::Power(law) => law.predict(x),
            Law::Bent(law) => law.predict(x),
        }
    }

    /// The `x` at which the law reaches `y`; `None` when `y` is at or below its floor.
    pub fn x_for(&self, y: f64) -> Option<f64> {
        match self {
            Law::Power(law) => {
                if y <= law.c {
                    return None;
                }
                Some(((y - law.c) / law.k).powf(1.0 / law.p()))
            }
            Law::Bent(law) => law.x_for(y),
        }
    }

    /// The error no x goes below.
    pub fn floor(&self) -> f64 {
        match self {
            Law::Power(law) => law.c,
            Law::Bent(law) => law.e_inf,
        }
    }

    /// The parameters in the order of [`LawForm::parameter_names`].
    pub fn parameters(&self) -> Vec<f64> {
        match self {
            Law::Power(law) => vec![law.k, law.exponent, law.c],
            Law::Bent(law) => vec![law.e0, law.e_inf, law.alpha, law.beta, law.c],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_the_inverse_of_a_prediction_and_the_floor_is_out_of_reach() {
        let size = Law::Power(PowerLaw {
            k: 5.0,
            exponent: 0.3,
            sign: Exponent::Negative,
            c: 0.05,
        });
        let saturation = Law::Power(PowerLaw {
            k: 0.8,
            exponent: 1.2,
            sign: Exponent::Positive,
            c: 0.25,
        });
        let bent = Law::Bent(BentLaw {
            e0: 0.9,
            e_inf: 0.1,
            alpha: 0.8,
            beta: 30.0,
            c: 0.4,
        });
        for (law, x) in [(size, 1e6), (saturation, 0.2), (bent, 1e5)] {
            let y = law.predict(x);
            let back = law.x_for(y).unwrap();
            assert!((back / x - 1.0).abs() < 1e-6, "{law:?}: {back} for {x}");
            assert_eq!(law.x_for(law.floor()), None, "{law:?}");
            assert_eq!(law.x_for(law.floor() * 0.5), None, "{law:?}");
            assert_eq!(law.parameters().len(), law.form().parameter_names().len());
        }
    }
}
