//! The learning rate at each step: linear warm-up, then cosine decay or constant. A pure
//! function of the step, so a resumed run needs no scheduler state.

use crate::sweep::sections::Schedule;

pub fn learning_rate(
    base: f64,
    step: usize,
    total_steps: usize,
    warmup_steps: usize,
    schedule: Schedule,
) -> f64 {
    if step < warmup_steps {
        return base * (step + 1) as f64 / warmup_steps as f64;
    }
    match schedule {
        Schedule::Constant => base,
        Schedule::Cosine => {
            let span = total_steps.saturating_sub(warmup_steps).max(1);
            let progress = ((step - warmup_steps) as f64 / span as f64).min(1.0);
            base * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let lr = |step| learning_rate(1.0, step, 110, 10, Schedule::Cosine);
        assert!((lr(0) - 0.1).abs() < 1e-12);
        assert!((lr(9) - 1.0).abs() < 1e-12);
        assert!((lr(10) - 1.0).abs() < 1e-12);
        assert!((lr(60) - 0.5).abs() < 1e-12);
        assert!(lr(109) < 0.001);
        assert_eq!(learning_rate(0.3, 50, 100, 0, Schedule::Constant), 0.3);
    }
}
