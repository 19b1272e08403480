//! `teleseg train forecast`: its data and model settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Check, ConfigError, OutputConfig, Seed, at_least};

/// The `[data]` section of `teleseg train forecast`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForecastData {
    /// The monthly history, long format: `customer_id,month,<series>...`, one row per customer
    /// and month (`YYYY-MM`); an empty cell is a month without a record. Unset: generate
    /// `generate_customers` customers into the run folder and use their `usage_history.csv`
    /// (and `usage_next_month.csv` as `actuals`).
    pub history: Option<PathBuf>,
    /// Optional: the true values of the forecast month (same columns as `history`), to score
    /// the forecast and the baselines on it.
    pub actuals: Option<PathBuf>,
    /// Customers to generate when no history is given. Default 20 000.
    pub generate_customers: usize,
}

impl Default for ForecastData {
    fn default() -> Self {
        Self {
            history: None,
            actuals: None,
            generate_customers: 20_000,
        }
    }
}

/// The `[forecast]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForecastConfig {
    /// The customer id column of the history. Default `customer_id`.
    pub id_column: String,
    /// The month column (`YYYY-MM`). Default `month`.
    pub month_column: String,
    /// The series to forecast. Default (empty): every other column.
    pub series: Vec<String>,
    /// perpetual's complexity knob (see `propensity.budget`). Default 0.5: on the generated
    /// history 1.0 was no better on the backtest and took twice as long.
    pub budget: f64,
    /// At most this many (customer, month) rows train each series' trees, drawn at random
    /// (seeded) from all that have a target and some history. Default 150 000.
    pub max_train_rows: usize,
    /// A target month needs at least this many earlier months of the customer's history to
    /// train on. Default 3.
    pub min_history_months: usize,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        Self {
            id_column: "customer_id".to_string(),
            month_column: "month".to_string(),
            series: Vec::new(),
            budget: 0.5,
            max_train_rows: 150_000,
            min_history_months: 3,
        }
    }
}

impl Check for ForecastConfig {
    fn check(&self) -> Result<(), ConfigError> {
        if self.id_column.trim().is_empty() || self.month_column.trim().is_empty() {
            return Err(ConfigError::Forecast(
                "forecast.id_column and forecast.month_column must name columns",
            ));
        }
        if !(self.budget > 0.0 && self.budget <= 10.0) {
            return Err(ConfigError::Forecast("forecast.budget must be in (0, 10]"));
        }
        at_least("forecast.max_train_rows", 100, self.max_train_rows)?;
        at_least("forecast.min_history_months", 1, self.min_history_months)
    }
}

/// `teleseg train forecast`: everything one run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ForecastJob {
    /// Seed of data generation and of the training-row sample. Default 42.
    pub seed: Seed,
    pub data: ForecastData,
    pub forecast: ForecastConfig,
    pub output: OutputConfig,
}

impl Check for ForecastJob {
    fn check(&self) -> Result<(), ConfigError> {
        self.output.check()?;
        at_least("data.generate_customers", 10, self.data.generate_customers)?;
        self.forecast.check()
    }
}

/// The embedded default config (configs/forecast.toml).
pub const FORECAST_DEFAULT: &str = include_str!("../../../configs/forecast.toml");

crate::job_config!(ForecastJob, super::KIND, FORECAST_DEFAULT);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(overrides: &[&str]) -> Result<ForecastJob, ConfigError> {
        crate::job::parse_default(overrides)
    }

    #[test]
    fn the_default_file_is_the_default() {
        assert_eq!(parse(&[]).unwrap(), ForecastJob::default());
    }

    #[test]
    fn broken_rules_name_the_field() {
        for (set, field) in [
            ("forecast.budget=0", "forecast.budget"),
            ("forecast.max_train_rows=5", "forecast.max_train_rows"),
            (
                "forecast.min_history_months=0",
                "forecast.min_history_months",
            ),
            ("data.generate_customers=1", "data.generate_customers"),
        ] {
            let err = parse(&[set]).unwrap_err().to_string();
            assert!(err.contains(field), "{set}: {err}");
        }
    }
}
