//! Learning-rate schedules: linear warm-up (per batch) then constant, cosine or step decay (per epoch).

use crate::config::{Schedule, TrainConfig};

/// The learning rate for batch `batch` of `steps_per_epoch` in epoch `epoch` (both 0-based).
///
/// Warm-up rises linearly over the first `warmup_epochs` epochs, reaching the base rate at the
/// end of the warm-up. After it, `cosine` decays from the base rate to `min_lr_ratio × base` at
/// the last epoch; `step` multiplies by `step_gamma` every `step_epochs` epochs.
pub fn learning_rate(cfg: &TrainConfig, epoch: usize, batch: usize, steps_per_epoch: usize) -> f64 {
    let base = cfg.learning_rate;
    if epoch < cfg.warmup_epochs {
        let done = (epoch * steps_per_epoch + batch + 1) as f64;
        let total = (cfg.warmup_epochs * steps_per_epoch) as f64;
        return base * done / total;
    }
    match cfg.schedule {
        Schedule::Constant => base,
        Schedule::Cosine => {
            let span = (cfg.epochs - cfg.warmup_epochs).max(1) as f64;
            let progress = ((epoch - cfg.warmup_epochs) as f64 / (span - 1.0).max(1.0)).min(1.0);
            let min = base * cfg.min_lr_ratio;
            min + 0.5 * (base - min) * (1.0 + (std::f64::consts::PI * progress).cos())
        }
        Schedule::Step => {
            base * cfg
                .step_gamma
                .powi(((epoch - cfg.warmup_epochs) / cfg.step_epochs) as i32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(schedule: Schedule, warmup: usize) -> TrainConfig {
        TrainConfig {
            epochs: 11,
            learning_rate: 1.0,
            schedule,
            warmup_epochs: warmup,
            min_lr_ratio: 0.1,
            step_epochs: 3,
            step_gamma: 0.5,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn warmup_is_linear_per_batch_and_reaches_base() {
        let c = cfg(Schedule::Constant, 1);
        assert!((learning_rate(&c, 0, 0, 4) - 0.25).abs() < 1e-12);
        assert!((learning_rate(&c, 0, 3, 4) - 1.0).abs() < 1e-12);
        assert_eq!(learning_rate(&c, 5, 0, 4), 1.0);
    }

    #[test]
    fn cosine_goes_from_base_to_min() {
        let c = cfg(Schedule::Cosine, 0);
        assert!((learning_rate(&c, 0, 0, 10) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&c, 10, 0, 10) - 0.1).abs() < 1e-12);
        // Halfway the rate is halfway between base and min.
        assert!((learning_rate(&c, 5, 0, 10) - 0.55).abs() < 1e-12);
    }

    #[test]
    fn step_decays_every_step_epochs() {
        let c = cfg(Schedule::Step, 0);
        assert_eq!(learning_rate(&c, 2, 0, 10), 1.0);
        assert_eq!(learning_rate(&c, 3, 0, 10), 0.5);
        assert_eq!(learning_rate(&c, 6, 0, 10), 0.25);
    }
}
