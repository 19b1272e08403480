//! The `train propensity` job: read and split the data, fit the trees and the calibrator on the
//! training rows, evaluate on the test split (overall and per segment), explain with SHAP, and
//! write the run folder.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::features::{FeatureSpec, TargetSpec};
use super::metrics::{BinaryMetrics, RegressionMetrics};
use super::model::{Propensity, take_rows};
use super::value::LifetimeValue;
use super::{KIND, PropensityJob};
use crate::checkpoint::{self, Header, RunDir};
use crate::config;
use crate::job::{Globals, ensure_data, prepare_data};

/// Test metrics of one group of customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evaluation {
    Binary(BinaryMetrics),
    Regression(RegressionMetrics),
}

impl Evaluation {
    fn compute(target: &TargetSpec, pred: &[f64], y: &[f64]) -> Evaluation {
        match target {
            TargetSpec::Binary { .. } => Evaluation::Binary(BinaryMetrics::compute(pred, y)),
            TargetSpec::Regression { .. } => {
                Evaluation::Regression(RegressionMetrics::compute(pred, y))
            }
        }
    }
}

/// A feature and its mean |SHAP value| (the margin's units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    pub feature: String,
    pub mean_abs_shap: f64,
}

/// `evaluation.json` of a propensity run, and what `train propensity` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropensityReport {
    pub run: PathBuf,
    pub target: TargetSpec,
    /// Rows the model was fitted on (the training and validation splits).
    pub fit_rows: usize,
    pub test_rows: usize,
    /// Mean target over the fitted rows (binary: the positive share).
    pub base_rate: f64,
    pub trees: usize,
    /// The test split's metrics (none when `data.test_fraction = 0`).
    pub test: Option<Evaluation>,
    /// Brier score (binary) or MAE (regression) of predicting `base_rate` for every test
    /// customer: the floor a model must beat.
    pub test_constant_baseline: Option<f64>,
    /// Test metrics per segment (`propensity.segments`), by segment label.
    pub by_segment: BTreeMap<String, Evaluation>,
    /// Every feature by mean |SHAP| over the test customers (the fitted ones without a test
    /// split), largest first.
    pub drivers: Vec<Driver>,
    /// The five largest drivers within each segment.
    pub segment_drivers: BTreeMap<String, Vec<Driver>>,
    /// The lifetime value (binary targets with `propensity.lifetime_value`) over the test
    /// customers (the fitted ones without a test split); none when it is off.
    #[serde(default)]
    pub lifetime_value: Option<ValueSummary>,
    /// Largest |Σ SHAP − margin| over the explained rows (exact TreeSHAP: rounding only).
    pub shap_additivity_error: f64,
    pub seconds: f64,
}

/// The lifetime values of a group of customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueSummary {
    /// The revenue column and the settings, as `propensity.lifetime_value` says.
    pub revenue_column: String,
    pub horizon_months: u32,
    pub customers: usize,
    pub mean: f64,
    /// The 10 %, 50 % and 90 % quantiles.
    pub p10: f64,
    pub median: f64,
    pub p90: f64,
    /// Mean value per segment (`propensity.segments`).
    pub by_segment: BTreeMap<String, f64>,
}

/// Runs `teleseg train propensity` into `run`.
pub fn run_propensity_job(
    job: &crate::config::Checked<PropensityJob>,
    run: &RunDir,
    globals: &Globals,
) -> anyhow::Result<PropensityReport> {
    let started = std::time::Instant::now();
    let resolved = config::to_toml(job);
    checkpoint::write_atomic(&run.config(), resolved.as_bytes())?;
    let seed = job.seed.0;
    let data_cfg = ensure_data(&job.data, seed, run)?;
    let data = prepare_data(&data_cfg, seed, run, &globals.progress)?;
    let table = &data.table;
    let mut fit_rows = data.train_rows.clone();
    fit_rows.extend_from_slice(&data.valid_rows);
    let cfg = &job.propensity;
    let schema_path = data.schema_path.display().to_string();
    let target = TargetSpec::fit(&data.schema, &schema_path, table, &fit_rows, cfg)?;
    let features = FeatureSpec::fit(table, &fit_rows);
    if features.is_empty() {
        anyhow::bail!(crate::error::UsageError(format!(
            "{schema_path}: no numeric, binary or categorical column to predict from"
        )));
    }
    let n = table.n_rows();
    let cols = features.len();
    let x_all = features.matrix(table)?;
    let x_fit = take_rows(&x_all, n, &fit_rows);
    let y_fit = target.values(table, &fit_rows)?;
    let mut model = Propensity::fit(
        &x_fit,
        fit_rows.len(),
        &y_fit,
        features,
        target.clone(),
        cfg,
        seed,
    )?;
    let ltv_cfg = &cfg.lifetime_value;
    model.arch.lifetime_value = match &target {
        TargetSpec::Binary { .. }
            if !ltv_cfg.revenue_column.is_empty()
                && table.numeric(&ltv_cfg.revenue_column).is_some() =>
        {
            Some(LifetimeValue::fit(ltv_cfg, table, &fit_rows)?)
        }
        TargetSpec::Binary { .. } if !ltv_cfg.revenue_column.is_empty() => {
            tracing::warn!(
                column = %ltv_cfg.revenue_column,
                "no lifetime value: the table has no numeric column named by \
                 propensity.lifetime_value.revenue_column"
            );
            None
        }
        _ => None,
    };
    tracing::info!(
        trees = model.arch.trees,
        rows = fit_rows.len(),
        "gradient-boosted trees fitted"
    );

    // Evaluate on the test split.
    let test_rows = &data.test_rows;
    let x_test = take_rows(&x_all, n, test_rows);
    let y_test = target.values(table, test_rows)?;
    let pred = model.predict(&x_test, test_rows.len());
    let base_rate = y_fit.iter().sum::<f64>() / y_fit.len().max(1) as f64;
    let (test, test_constant_baseline) = if test_rows.is_empty() {
        (None, None)
    } else {
        let constant = match &target {
            TargetSpec::Binary { .. } => {
                y_test.iter().map(|y| (y - base_rate).powi(2)).sum::<f64>()
            }
            TargetSpec::Regression { .. } => y_test.iter().map(|y| (y - base_rate).abs()).sum(),
        } / y_test.len() as f64;
        (
            Some(Evaluation::compute(&target, &pred, &y_test)),
            Some(constant),
        )
    };

    // SHAP on the test customers (the fitted ones, at most 5000, without a test split).
    let (x_exp, exp_rows): (Vec<f64>, Vec<usize>) = if test_rows.is_empty() {
        let take: Vec<usize> = fit_rows.iter().copied().take(5000).collect();
        (take_rows(&x_all, n, &take), take)
    } else {
        (x_test.clone(), test_rows.clone())
    };
    let shap = model.shap(&x_exp, exp_rows.len());
    let margin = model.margin(&x_exp, exp_rows.len());
    let shap_additivity_error = shap
        .chunks_exact(cols + 1)
        .zip(&margin)
        .map(|(r, m)| (r.iter().sum::<f64>() - m).abs())
        .fold(0.0, f64::max);
    let names = model.arch.features.names();
    let all: Vec<usize> = (0..exp_rows.len()).collect();
    let drivers = drivers_of(&shap, cols, &all, &names, cols);

    // Per segment.
    let mut by_segment = BTreeMap::new();
    let mut segment_drivers = BTreeMap::new();
    let mut segment_rows: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    if let Some(path) = &cfg.segments {
        let labels: HashMap<String, String> = crate::data::labels::read_labels(path, "segment")?;
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, &r) in exp_rows.iter().enumerate() {
            if let Some(l) = labels.get(&table.ids[r]) {
                groups.entry(l.clone()).or_default().push(i);
            }
        }
        for (label, idx) in groups {
            if !test_rows.is_empty() {
                let p: Vec<f64> = idx.iter().map(|&i| pred[i]).collect();
                let y: Vec<f64> = idx.iter().map(|&i| y_test[i]).collect();
                by_segment.insert(label.clone(), Evaluation::compute(&target, &p, &y));
            }
            segment_drivers.insert(label.clone(), drivers_of(&shap, cols, &idx, &names, 5));
            segment_rows.insert(label, idx);
        }
    }

    let lifetime_value = match &model.arch.lifetime_value {
        Some(ltv) => {
            let p_exp = if test_rows.is_empty() {
                model.predict(&x_exp, exp_rows.len())
            } else {
                pred.clone()
            };
            let sub = table.take_rows(&exp_rows);
            let values = ltv.values(&sub, &p_exp)?;
            let mut by_segment = BTreeMap::new();
            for (label, idx) in &segment_rows {
                let sum: f64 = idx.iter().map(|&i| values[i]).sum();
                by_segment.insert(label.clone(), sum / idx.len().max(1) as f64);
            }
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let q = |p: f64| match sorted.is_empty() {
                true => f64::NAN,
                false => crate::data::stats::quantile(&sorted, p),
            };
            Some(ValueSummary {
                revenue_column: ltv.config.revenue_column.clone(),
                horizon_months: ltv.config.horizon_months,
                customers: values.len(),
                mean: values.iter().sum::<f64>() / values.len().max(1) as f64,
                p10: q(0.1),
                median: q(0.5),
                p90: q(0.9),
                by_segment,
            })
        }
        None => None,
    };

    let header = Header::new(KIND, job, &model.arch, &globals.backend.kind.to_string())
        .with_part((Vec::new(), model.meta(&data.schema)?));
    checkpoint::write_atomic(&run.model(), &header.file_bytes_without_weights())?;
    let report = PropensityReport {
        run: run.root.clone(),
        target,
        fit_rows: fit_rows.len(),
        test_rows: test_rows.len(),
        base_rate,
        trees: model.arch.trees,
        test,
        test_constant_baseline,
        by_segment,
        drivers,
        segment_drivers,
        lifetime_value,
        shap_additivity_error,
        seconds: started.elapsed().as_secs_f64(),
    };
    checkpoint::write_json_atomic(&run.root.join("evaluation.json"), &report)?;
    Ok(report)
}

/// The `top` features by mean |SHAP| over `rows` of `shap` (`[rows][cols + 1]`).
fn drivers_of(
    shap: &[f64],
    cols: usize,
    rows: &[usize],
    names: &[String],
    top: usize,
) -> Vec<Driver> {
    let mut sum = vec![0.0f64; cols];
    for &i in rows {
        for (j, s) in sum.iter_mut().enumerate() {
            *s += shap[i * (cols + 1) + j].abs();
        }
    }
    let n = rows.len().max(1) as f64;
    let mut out: Vec<Driver> = sum
        .into_iter()
        .enumerate()
        .map(|(j, s)| Driver {
            feature: names[j].clone(),
            mean_abs_shap: s / n,
        })
        .collect();
    out.sort_by(|a, b| {
        b.mean_abs_shap
            .total_cmp(&a.mean_abs_shap)
            .then(a.feature.cmp(&b.feature))
    });
    out.truncate(top);
    out
}

impl std::fmt::Display for PropensityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            TargetSpec::Binary { name, positive, .. } => write!(
                f,
                "trained propensity for {name} = {positive:?} (binary, base rate {:.3}): {} trees on {} customers",
                self.base_rate, self.trees, self.fit_rows
            )?,
            TargetSpec::Regression { name } => write!(
                f,
                "trained propensity for {name} (regression, mean {:.4}): {} trees on {} customers",
                self.base_rate, self.trees, self.fit_rows
            )?,
        }
        match (&self.test, self.test_constant_baseline) {
            (Some(Evaluation::Binary(m)), Some(b)) => write!(
                f,
                "\ntest ({} customers): ROC AUC {}, PR AUC {}, log loss {:.4}, Brier {:.4} (base rate alone {:.4})",
                m.rows,
                m.roc_auc.map_or("-".into(), |v| format!("{v:.4}")),
                m.pr_auc.map_or("-".into(), |v| format!("{v:.4}")),
                m.log_loss,
                m.brier,
                b
            )?,
            (Some(Evaluation::Regression(m)), Some(b)) => write!(
                f,
                "\ntest ({} customers): MAE {:.4} (the mean alone {b:.4}), RMSE {:.4}, R² {:.4}",
                m.rows, m.mae, m.rmse, m.r2
            )?,
            _ => write!(
                f,
                "\nno test split (data.test_fraction = 0): no test metrics"
            )?,
        }
        let top: Vec<String> = self
            .drivers
            .iter()
            .take(5)
            .map(|d| format!("{} {:.3}", d.feature, d.mean_abs_shap))
            .collect();
        if let Some(v) = &self.lifetime_value {
            write!(
                f,
                "\nlifetime value ({} months, from {}): mean {:.1}, median {:.1}, 10–90 % {:.1}–{:.1}",
                v.horizon_months, v.revenue_column, v.mean, v.median, v.p10, v.p90
            )?;
        }
        write!(
            f,
            "\ndrivers (mean |SHAP|): {}\nrun: {}",
            top.join(", "),
            self.run.display()
        )
    }
}
