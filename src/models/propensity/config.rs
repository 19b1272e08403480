//! `teleseg train propensity`: the settings of a gradient-boosted propensity model.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::value::LifetimeValueConfig;
use crate::config::{Check, ConfigError, DataConfig, OutputConfig, Seed, at_least};

/// What kind of target the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// `binary` when the target column holds exactly two distinct values, `regression` when
    /// every value is a number and there are more than two.
    Auto,
    /// Two classes: a calibrated probability of the positive one.
    Binary,
    /// A number (spend, lifetime value): the expected value.
    Regression,
}

/// How binary probabilities are calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibration {
    /// Platt scaling: a logistic map `σ(a·margin + b)` of the trees' log-odds. Strictly
    /// monotone, so it never changes the ranking (ROC AUC is unchanged).
    Platt,
    /// Isotonic regression (pool-adjacent-violators) of the outcome on the log-odds,
    /// interpolated linearly between its steps: any monotone shape, but it ties customers on
    /// its flat steps and needs a few thousand rows not to overfit.
    Isotonic,
    /// The trees' own `σ(margin)`.
    None,
}

/// The `[propensity]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PropensityConfig {
    /// The schema column to predict; it must have `role = "target"`. Default `churn` (the
    /// generated data's churn flag).
    pub target: String,
    /// Binary targets: the value that counts as the positive class. Default: the one spelled
    /// `1`, `yes`, `true`, `y` or `t` (any case), else the rarer value in the training rows.
    pub positive: Option<String>,
    /// `auto` (default), `binary` or `regression`.
    pub task: TaskKind,
    /// perpetual's single complexity knob (more trees, deeper interactions as it grows).
    /// Default 1.0: on the real tables of docs/realdata.md (3 seeds) it beat LightGBM's
    /// defaults in ROC AUC and Brier on all three; 0.5 lost on attrition (1 176 training rows:
    /// Brier 0.122 vs 0.109, its calibration unstable), at half the trees and SHAP time.
    pub budget: f64,
    /// `platt` (default), `isotonic` or `none`: see [`Calibration`]. Fitted on out-of-fold
    /// log-odds of the training rows (`calibration_folds` folds), so no training row is held
    /// back from the final model.
    pub calibration: Calibration,
    /// Folds of the cross-fitting that produces the calibration set. Default 5.
    pub calibration_folds: usize,
    /// Segment labels `customer_id,segment` (a DEC run's segments.csv): the report then also
    /// gives the test metrics and the SHAP drivers per segment.
    pub segments: Option<PathBuf>,
    /// Binary (churn) targets: the customer's lifetime value from the churn probability and
    /// the monthly margin ([`super::value`]), written as `lifetime_value` beside the
    /// probability. Computed when the table has the numeric `revenue_column`; set
    /// `revenue_column = ""` to turn it off.
    pub lifetime_value: LifetimeValueConfig,
}

impl Default for PropensityConfig {
    fn default() -> Self {
        Self {
            target: "churn".to_string(),
            positive: None,
            task: TaskKind::Auto,
            budget: 1.0,
            calibration: Calibration::Platt,
            calibration_folds: 5,
            segments: None,
            lifetime_value: LifetimeValueConfig::default(),
        }
    }
}

impl Check for PropensityConfig {
    fn check(&self) -> Result<(), ConfigError> {
        if self.target.trim().is_empty() {
            return Err(ConfigError::Propensity(
                "propensity.target must name a target-role column of the schema",
            ));
        }
        if !(self.budget > 0.0 && self.budget <= 10.0) {
            return Err(ConfigError::Propensity(
                "propensity.budget must be in (0, 10]",
            ));
        }
        if !self.lifetime_value.revenue_column.is_empty()
            && let Some(rule) = self.lifetime_value.rule_broken()
        {
            return Err(ConfigError::Propensity(rule));
        }
        at_least("propensity.calibration_folds", 2, self.calibration_folds)
    }
}

/// `teleseg train propensity`: everything one run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PropensityJob {
    /// Seed of data generation, the split and the cross-fitting folds. Default 42.
    pub seed: Seed,
    /// `valid_fraction` and the training rows together train the model (the trees need no
    /// validation set: perpetual stops by its own generalization test); `test_fraction` is the
    /// held-out part the report is computed on.
    pub data: DataConfig,
    pub propensity: PropensityConfig,
    pub output: OutputConfig,
}

impl Check for PropensityJob {
    fn check(&self) -> Result<(), ConfigError> {
        self.output.check()?;
        self.data.check()?;
        self.propensity.check()
    }
}

/// The embedded default config (configs/propensity.toml).
pub const PROPENSITY_DEFAULT: &str = include_str!("../../../configs/propensity.toml");

crate::job_config!(PropensityJob, super::KIND, PROPENSITY_DEFAULT);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(overrides: &[&str]) -> Result<PropensityJob, ConfigError> {
        crate::job::parse_default(overrides)
    }

    #[test]
    fn the_default_file_is_the_default() {
        assert_eq!(parse(&[]).unwrap(), PropensityJob::default());
    }

    #[test]
    fn broken_rules_name_the_field() {
        for (set, field) in [
            ("propensity.target=\"\"", "propensity.target"),
            ("propensity.budget=0", "propensity.budget"),
            (
                "propensity.calibration_folds=1",
                "propensity.calibration_folds",
            ),
            (
                "propensity.lifetime_value.margin_rate=2",
                "propensity.lifetime_value.margin_rate",
            ),
        ] {
            let err = parse(&[set]).unwrap_err().to_string();
            assert!(err.contains(field), "{set}: {err}");
        }
        assert!(parse(&["propensity.calibration=\"sigmoid\""]).is_err());
    }
}
