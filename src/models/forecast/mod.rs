//! The forecast family: next month's usage per customer (voice minutes, data GB, roaming days,
//! or any monthly series of the user's) from a monthly history, with one gradient-boosted
//! regression per series (the `perpetual` crate, as the propensity family) trained across all
//! customers on features of each customer's own past: its recent level, lags (last month, a
//! quarter, the same month last year), the year's mean, spread and trend, the calendar month
//! of the target, and the other series' recent moves. One folder holds the whole family:
//! - [`config`]: the `[data]` and `[forecast]` sections of `teleseg train forecast`;
//! - [`history`]: the long-format history file (`customer_id,month,<series>...`) as a panel;
//! - [`features`]: the trees' inputs and target for one customer and target month;
//! - [`model`]: fitting, forecasting, the baselines and the error measures (MAE, MASE);
//! - [`job`]: the training job: a backtest on the last history month against seasonal-naive,
//!   last-value and per-customer-mean forecasts, the final fit, the forecast, `evaluation.json`;
//! - [`infer`]: a checkpoint loaded for `teleseg score`.
//!
//! The checkpoint (kind `forecast`, docs/checkpoint-format.md §4g) holds no tensors: each
//! series' trees are perpetual's JSON in `teleseg.gbm.<series>`, the rest is `teleseg.model`.

pub mod config;
pub mod features;
pub mod history;
pub mod infer;
pub mod job;
pub mod model;

pub use config::*;
pub use history::{Month, Panel};
pub use infer::ForecastModel;
pub use job::{ForecastReport, run_forecast_job};

/// `teleseg.kind` of forecast checkpoints.
pub const KIND: &str = "forecast";
