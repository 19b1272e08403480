//! The `train forecast` job: read the history, backtest on its last month against the naive
//! forecasts, fit on every month, forecast the month after the history, score that forecast on
//! the actuals when given, and write the run folder.

use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::history::{Month, Panel};
use super::model::{Errors, SeriesModel, baselines, errors, fit_series, mase_scale, median_at};
use super::{ForecastJob, KIND};
use crate::checkpoint::{self, Header, RunDir};
use crate::config;
use crate::error::UsageError;
use crate::job::Globals;

/// A forecast and the naive ones on one month, against what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The month forecast (`YYYY-MM`).
    pub month: String,
    /// Customers with a known actual value.
    pub customers: usize,
    pub model: Errors,
    /// The same month a year before (the last known value where it is unknown).
    pub seasonal_naive: Errors,
    /// The last known value.
    pub last_value: Errors,
    /// The customer's mean over every earlier month.
    pub customer_mean: Errors,
    /// The MASE's scale: the in-sample seasonal-naive MAE.
    pub scale: Option<f64>,
}

impl Comparison {
    fn compute(panel: &Panel, s: usize, t: usize, forecast: &[f64], actual: &[f64]) -> Self {
        let scale = mase_scale(panel, s, t);
        let fallback = median_at(panel, s, t.saturating_sub(1));
        let [seasonal, last, mean] = baselines(panel, s, t, fallback);
        Comparison {
            month: Month(panel.first.0 + t as i32).to_string(),
            customers: actual.iter().filter(|a| a.is_finite()).count(),
            model: errors(forecast, actual, scale),
            seasonal_naive: errors(&seasonal, actual, scale),
            last_value: errors(&last, actual, scale),
            customer_mean: errors(&mean, actual, scale),
            scale,
        }
    }

    /// The best naive MAE.
    pub fn best_baseline_mae(&self) -> f64 {
        self.seasonal_naive
            .mae
            .min(self.last_value.mae)
            .min(self.customer_mean.mae)
    }
}

/// One series' results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesEvaluation {
    pub series: String,
    /// Customer-months the final trees were fitted on.
    pub train_rows: usize,
    pub trees: usize,
    /// The last history month, forecast by trees fitted on the months before it.
    pub backtest: Comparison,
    /// The forecast month against `data.actuals`, when given.
    pub actuals: Option<Comparison>,
}

/// `evaluation.json` of a forecast run, and what `train forecast` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastReport {
    pub run: PathBuf,
    pub history: PathBuf,
    pub customers: usize,
    /// The history's first and last month.
    pub first_month: String,
    pub last_month: String,
    /// The month forecast (the one after `last_month`), written to `forecasts.csv`.
    pub forecast_month: String,
    pub series: Vec<SeriesEvaluation>,
    pub seconds: f64,
}

/// Everything besides the trees (`teleseg.model`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastArch {
    pub library: String,
    pub id_column: String,
    pub month_column: String,
    pub series: Vec<String>,
    /// Each series' input names, in the trees' feature order.
    pub inputs: Vec<Vec<String>>,
    pub budget: f64,
    /// Each series' shift of the trees' output ([`super::model::median_offset`]).
    pub offsets: Vec<f64>,
    /// Each series' smallest forecast: 0 when its training values were never negative, else
    /// null (no floor).
    pub floors: Vec<Option<f64>>,
    /// The last month of the training history.
    pub trained_through: String,
}

/// Metadata key of series `name`'s trees.
pub fn gbm_key(name: &str) -> String {
    format!("teleseg.gbm.{name}")
}

/// Runs `teleseg train forecast` into `run`.
pub fn run_forecast_job(
    job: &crate::config::Checked<ForecastJob>,
    run: &RunDir,
    globals: &Globals,
) -> anyhow::Result<ForecastReport> {
    let started = std::time::Instant::now();
    checkpoint::write_atomic(&run.config(), config::to_toml(job).as_bytes())?;
    let seed = job.seed.0;
    let cfg = &job.forecast;
    let (history, actuals) = match &job.data.history {
        Some(h) => (h.clone(), job.data.actuals.clone()),
        None => {
            let dir = run.root.join("data");
            let opts = crate::data::generate::GenerateOptions::new(
                job.data.generate_customers,
                seed,
                dir.clone(),
            );
            crate::data::generate::generate(&opts).context("generating the synthetic data set")?;
            (
                dir.join("usage_history.csv"),
                Some(
                    job.data
                        .actuals
                        .clone()
                        .unwrap_or_else(|| dir.join("usage_next_month.csv")),
                ),
            )
        }
    };
    let panel = Panel::read(&history, &cfg.id_column, &cfg.month_column, &cfg.series)?;
    let months = panel.months;
    if months < cfg.min_history_months + 2 {
        anyhow::bail!(UsageError(format!(
            "{}: {months} months ({} to {}); a backtest needs at least \
             forecast.min_history_months + 2 = {}",
            panel.source,
            panel.first,
            panel.last(),
            cfg.min_history_months + 2
        )));
    }
    let actual_panel = match &actuals {
        Some(path) => Some(read_actuals(path, &panel, cfg)?),
        None => None,
    };

    let mut series = Vec::new();
    let mut models = Vec::new();
    let mut forecasts = Vec::new();
    for s in 0..panel.series.len() {
        let name = &panel.series[s];
        let _span = tracing::info_span!("forecast", series = %name).entered();
        // Backtest: trees that never saw the last month forecast it.
        let t = months - 1;
        let (back_model, _) = fit_series(
            &panel,
            s,
            t,
            cfg.min_history_months,
            cfg.max_train_rows,
            cfg.budget,
            seed,
        )?;
        let fallback = median_at(&panel, s, t - 1);
        let back = back_model.forecast(&panel, s, t, fallback);
        let actual: Vec<f64> = (0..panel.customers())
            .map(|i| panel.get(i, t as isize, s))
            .collect();
        let backtest = Comparison::compute(&panel, s, t, &back, &actual);
        // The final trees, on every month, forecast the next one.
        let (model, train_rows) = fit_series(
            &panel,
            s,
            months,
            cfg.min_history_months,
            cfg.max_train_rows,
            cfg.budget,
            seed,
        )?;
        let next = model.forecast(&panel, s, months, median_at(&panel, s, months - 1));
        let actuals = actual_panel
            .as_ref()
            .map(|a| Comparison::compute(&panel, s, months, &next, &a[s]));
        tracing::info!(
            train_rows,
            backtest_mae = backtest.model.mae,
            best_naive_mae = backtest.best_baseline_mae(),
            "series fitted"
        );
        series.push(SeriesEvaluation {
            series: name.clone(),
            train_rows,
            trees: model.booster.get_prediction_trees().len(),
            backtest,
            actuals,
        });
        forecasts.push(next);
        models.push(model);
    }

    let forecast_month = panel.last().next();
    write_forecasts(
        &run.root.join("forecasts.csv"),
        &panel,
        forecast_month,
        &forecasts,
    )?;
    let arch = ForecastArch {
        library: super::model::LIBRARY.to_string(),
        id_column: cfg.id_column.clone(),
        month_column: cfg.month_column.clone(),
        series: panel.series.clone(),
        inputs: models.iter().map(|m| m.inputs.clone()).collect(),
        budget: cfg.budget,
        offsets: models.iter().map(|m| m.offset).collect(),
        floors: models
            .iter()
            .map(|m| m.floor.is_finite().then_some(m.floor))
            .collect(),
        trained_through: panel.last().to_string(),
    };
    let header = Header::new(KIND, job, &arch, &globals.backend.kind.to_string())
        .with_part((Vec::new(), meta(&models)?));
    checkpoint::write_atomic(&run.model(), &header.file_bytes_without_weights())?;
    let report = ForecastReport {
        run: run.root.clone(),
        history,
        customers: panel.customers(),
        first_month: panel.first.to_string(),
        last_month: panel.last().to_string(),
        forecast_month: forecast_month.to_string(),
        series,
        seconds: started.elapsed().as_secs_f64(),
    };
    checkpoint::write_json_atomic(&run.root.join("evaluation.json"), &report)?;
    Ok(report)
}

/// Each series' trees as perpetual's JSON (keys sorted), under [`gbm_key`].
fn meta(models: &[SeriesModel]) -> anyhow::Result<Vec<(String, String)>> {
    models
        .iter()
        .map(|m| {
            let json = crate::models::propensity::model::booster_json(&m.booster)?;
            Ok((gbm_key(&m.series), json))
        })
        .collect()
}

/// The actuals file's values per series, in the history's customer order (NaN for a customer
/// it lacks); its one month must be the month after the history.
fn read_actuals(
    path: &std::path::Path,
    panel: &Panel,
    cfg: &super::ForecastConfig,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let a = Panel::read(path, &cfg.id_column, &cfg.month_column, &panel.series)?;
    let expected = panel.last().next();
    if a.months != 1 || a.first != expected {
        anyhow::bail!(UsageError(format!(
            "{}: data.actuals must hold the month after the history ({expected}); it runs from \
             {} to {}",
            a.source,
            a.first,
            a.last()
        )));
    }
    let index: std::collections::HashMap<&str, usize> = a
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    Ok((0..panel.series.len())
        .map(|s| {
            panel
                .ids
                .iter()
                .map(|id| index.get(id.as_str()).map_or(f64::NAN, |&i| a.get(i, 0, s)))
                .collect()
        })
        .collect())
}

/// `customer_id,month,<series>_forecast...`, one row per customer (atomic).
pub fn write_forecasts(
    path: &std::path::Path,
    panel: &Panel,
    month: Month,
    forecasts: &[Vec<f64>],
) -> anyhow::Result<()> {
    let mut out = Vec::with_capacity(panel.customers() * 48);
    out.extend_from_slice(b"customer_id,month");
    for s in &panel.series {
        out.extend_from_slice(
            format!(",{}_forecast", crate::data::writer::csv_field(s)).as_bytes(),
        );
    }
    out.push(b'\n');
    let month = month.to_string();
    for (i, id) in panel.ids.iter().enumerate() {
        out.extend_from_slice(crate::data::writer::csv_field(id).as_bytes());
        out.push(b',');
        out.extend_from_slice(month.as_bytes());
        for f in forecasts {
            out.push(b',');
            crate::data::fixed::push_fixed(&mut out, f[i], 4);
        }
        out.push(b'\n');
    }
    checkpoint::write_atomic(path, &out)?;
    Ok(())
}

impl std::fmt::Display for ForecastReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trained forecasts of {} series for {} customers ({} to {}); forecast for {}",
            self.series.len(),
            self.customers,
            self.first_month,
            self.last_month,
            self.forecast_month
        )?;
        let line = |c: &Comparison| {
            format!(
                "{}: MAE {:.3} (seasonal naive {:.3}, last value {:.3}, customer mean {:.3}){}",
                c.month,
                c.model.mae,
                c.seasonal_naive.mae,
                c.last_value.mae,
                c.customer_mean.mae,
                c.model
                    .mase
                    .map_or(String::new(), |m| format!(", MASE {m:.3}"))
            )
        };
        for s in &self.series {
            write!(f, "\n{}: backtest {}", s.series, line(&s.backtest))?;
            if let Some(a) = &s.actuals {
                write!(f, "\n{}: actuals  {}", s.series, line(a))?;
            }
        }
        write!(f, "\nrun: {}", self.run.display())
    }
}
