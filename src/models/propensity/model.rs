//! The propensity model: perpetual's gradient-boosted trees on raw features, a probability
//! calibrator for binary targets, and exact TreeSHAP reasons.

use anyhow::Context;
use perpetual::booster::config::BoosterIO;
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};
use serde::{Deserialize, Serialize};

use super::calibrate::Calibrator;
use super::config::{Calibration, PropensityConfig};
use super::features::{FeatureSpec, TargetSpec};
use super::forest::Forest;
use super::shap::Explainer;
use super::value::LifetimeValue;
use crate::checkpoint::{CheckpointError, keys};
use crate::data::schema::Schema;

/// Metadata key of perpetual's own JSON model (`PerpetualBooster::json_dump`, keys sorted).
pub const META_GBM: &str = "teleseg.gbm";

/// The library that fits and evaluates the trees (written into `teleseg.model`).
pub const LIBRARY: &str = "perpetual 2.3.0";

/// Everything besides the trees (`teleseg.model`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropensityArch {
    pub library: String,
    pub target: TargetSpec,
    pub features: FeatureSpec,
    pub budget: f64,
    /// Binary targets: the map from the trees' log-odds to the probability.
    pub calibrator: Option<Calibrator>,
    pub trees: usize,
    /// Binary targets with `propensity.lifetime_value`: how the probability becomes a value
    /// (absent in checkpoints written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_value: Option<LifetimeValue>,
}

/// A fitted model (perpetual's booster has no `Debug`).
#[derive(Clone)]
pub struct Propensity {
    pub arch: PropensityArch,
    pub booster: PerpetualBooster,
    /// The booster's trees on flat arrays: predictions and TreeSHAP.
    pub explainer: Explainer,
}

/// Fits perpetual on the column-major matrix `x` (`rows` rows) and targets `y`.
pub fn fit_booster(
    x: &[f64],
    rows: usize,
    cols: usize,
    y: &[f64],
    target: &TargetSpec,
    budget: f64,
    seed: u64,
) -> anyhow::Result<PerpetualBooster> {
    let objective = match target {
        TargetSpec::Binary { .. } => Objective::LogLoss,
        TargetSpec::Regression { .. } => Objective::SquaredLoss,
    };
    let mut booster = PerpetualBooster::default()
        .set_objective(objective)
        .set_budget(budget as f32)
        .set_seed(seed);
    booster
        .fit(&Matrix::new(x, rows, cols), y, None, None)
        .map_err(|e| anyhow::anyhow!("fitting the gradient-boosted trees: {e}"))?;
    Ok(booster)
}

/// perpetual's JSON of `booster` with its object keys sorted (perpetual writes HashMaps, in a
/// different order every run; serde_json's Map is a BTreeMap, so parsing and writing again
/// sorts them): the same trees give the same bytes.
pub fn booster_json(booster: &PerpetualBooster) -> anyhow::Result<String> {
    let raw = booster
        .json_dump()
        .map_err(|e| anyhow::anyhow!("writing the trees as JSON: {e}"))?;
    let sorted: serde_json::Value = serde_json::from_str(&raw).context("perpetual's JSON")?;
    Ok(sorted.to_string())
}

/// Rows `rows` of the column-major `x` (`n` rows in all) as a new column-major matrix.
pub fn take_rows(x: &[f64], n: usize, rows: &[usize]) -> Vec<f64> {
    let cols = x.len().checked_div(n).unwrap_or(0);
    let mut out = Vec::with_capacity(rows.len() * cols);
    for j in 0..cols {
        out.extend(rows.iter().map(|&r| x[j * n + r]));
    }
    out
}

impl Propensity {
    /// Fits the final trees on every row of `x` and, for binary targets, the calibrator on
    /// out-of-fold log-odds: `folds` models, each trained without one fold, predict it (folds
    /// by a seeded shuffle), so the calibration set is every training row, none of them seen
    /// by the model that scored it.
    pub fn fit(
        x: &[f64],
        rows: usize,
        y: &[f64],
        features: FeatureSpec,
        target: TargetSpec,
        cfg: &PropensityConfig,
        seed: u64,
    ) -> anyhow::Result<Propensity> {
        let cols = features.len();
        let calibrator = match (&target, cfg.calibration) {
            (TargetSpec::Regression { .. }, _) => None,
            (TargetSpec::Binary { .. }, Calibration::None) => Some(Calibrator::Identity),
            (TargetSpec::Binary { .. }, method) => {
                let oof = out_of_fold(x, rows, cols, y, &target, cfg, seed)?;
                Some(match method {
                    Calibration::Isotonic => Calibrator::fit_isotonic(&oof, y),
                    _ => Calibrator::fit_platt(&oof, y),
                })
            }
        };
        let mut booster = fit_booster(x, rows, cols, y, &target, cfg.budget, seed)?;
        set_covers(&mut booster, x, rows, cols);
        Ok(Propensity {
            explainer: Explainer::new(Forest::new(&booster)),
            arch: PropensityArch {
                library: LIBRARY.to_string(),
                trees: booster.get_prediction_trees().len(),
                target,
                features,
                budget: cfg.budget,
                calibrator,
                lifetime_value: None,
            },
            booster,
        })
    }

    /// The trees' raw output for every row of the column-major `x`: log-odds (binary) or the
    /// prediction (regression).
    pub fn margin(&self, x: &[f64], rows: usize) -> Vec<f64> {
        self.explainer
            .forest
            .margin(x, rows, self.arch.features.len())
    }

    /// The calibrated probability (binary) or the prediction (regression) of every row.
    pub fn predict(&self, x: &[f64], rows: usize) -> Vec<f64> {
        let m = self.margin(x, rows);
        match &self.arch.calibrator {
            Some(c) => m.into_iter().map(|v| c.apply(v)).collect(),
            None => m,
        }
    }

    /// Exact (path-dependent) TreeSHAP values, row-major `[rows][features + 1]`: one value per
    /// feature in the margin's units, then the bias; each row sums to [`Propensity::margin`]
    /// ([`super::shap`]).
    pub fn shap(&self, x: &[f64], rows: usize) -> Vec<f64> {
        self.explainer.shap(x, rows, self.arch.features.len())
    }

    /// The checkpoint's metadata entries besides the common header: `teleseg.model` (this
    /// arch), `teleseg.gbm` (perpetual's model JSON with its keys sorted, so the same fit
    /// writes the same bytes) and `teleseg.schema`.
    pub fn meta(&self, schema: &Schema) -> anyhow::Result<Vec<(String, String)>> {
        Ok(vec![
            (META_GBM.to_string(), booster_json(&self.booster)?),
            (keys::SCHEMA.to_string(), serde_json::to_string(schema)?),
        ])
    }

    /// Rebuilds the model from a checkpoint's `teleseg.model` and `teleseg.gbm`.
    pub fn from_meta(
        path: &std::path::Path,
        arch: PropensityArch,
        gbm: &str,
    ) -> Result<Propensity, CheckpointError> {
        let booster = PerpetualBooster::from_json(gbm).map_err(|e| CheckpointError::Metadata {
            path: path.to_path_buf(),
            key: META_GBM.to_string(),
            message: e.to_string(),
        })?;
        Ok(Propensity {
            explainer: Explainer::new(Forest::new(&booster)),
            arch,
            booster,
        })
    }
}

/// Sets every node's cover (`hessian_sum`, what perpetual's TreeSHAP weighs the branches by)
/// to the number of training rows reaching it plus 1e-3 per leaf below it.
///
/// perpetual's own covers need not add up (a parent's differs from the sum of its children's
/// after its generalization pruning): path-dependent TreeSHAP then no longer sums to the margin
/// (errors up to 0.016 log-odds on credit_data). Row counts add up by construction — each row
/// goes to exactly one child — and the 1e-3 per leaf, which adds up too, keeps a branch no
/// training row reached from dividing by zero. Predictions do not use covers.
pub fn set_covers(booster: &mut PerpetualBooster, x: &[f64], rows: usize, cols: usize) {
    let missing = booster.cfg.missing;
    let m = Matrix::new(x, rows, cols);
    for tree in booster.trees.iter_mut() {
        let mut count: std::collections::HashMap<usize, f64> = std::collections::HashMap::new();
        for r in 0..rows {
            let mut i = 0usize;
            loop {
                *count.entry(i).or_default() += 1.0;
                let node = &tree.nodes[&i];
                if node.is_leaf {
                    break;
                }
                i = node.get_child_idx(m.get(r, node.split_feature), &missing);
            }
        }
        let leaves = leaf_counts(tree);
        for (id, node) in tree.nodes.iter_mut() {
            let c = count.get(id).copied().unwrap_or(0.0);
            node.hessian_sum = (c + 1e-3 * leaves.get(id).copied().unwrap_or(1.0)) as f32;
        }
    }
}

/// The number of leaves under every node of `tree` (1 for a leaf).
fn leaf_counts(tree: &perpetual::tree::core::Tree) -> std::collections::HashMap<usize, f64> {
    fn visit(
        tree: &perpetual::tree::core::Tree,
        i: usize,
        out: &mut std::collections::HashMap<usize, f64>,
    ) -> f64 {
        let node = &tree.nodes[&i];
        let n = if node.is_leaf {
            1.0
        } else {
            let mut n = visit(tree, node.left_child, out) + visit(tree, node.right_child, out);
            if node.has_missing_branch() {
                n += visit(tree, node.missing_node, out);
            }
            n
        };
        out.insert(i, n);
        n
    }
    let mut out = std::collections::HashMap::new();
    visit(tree, 0, &mut out);
    out
}

/// Out-of-fold log-odds of every row (see [`Propensity::fit`]).
fn out_of_fold(
    x: &[f64],
    rows: usize,
    cols: usize,
    y: &[f64],
    target: &TargetSpec,
    cfg: &PropensityConfig,
    seed: u64,
) -> anyhow::Result<Vec<f64>> {
    let folds = cfg.calibration_folds.min(rows);
    // Stream 0xCA11 of the seed: the folds do not repeat the data split's hashing.
    let fold_of = crate::data::split::random_folds(rows, folds, crate::seed::derive(seed, 0xCA11));
    let mut oof = vec![0.0f64; rows];
    for f in 0..folds {
        let (held, kept): (Vec<usize>, Vec<usize>) = (0..rows).partition(|&r| fold_of[r] == f);
        let yk: Vec<f64> = kept.iter().map(|&r| y[r]).collect();
        let booster = fit_booster(
            &take_rows(x, rows, &kept),
            kept.len(),
            cols,
            &yk,
            target,
            cfg.budget,
            seed,
        )
        .with_context(|| format!("calibration fold {} of {folds}", f + 1))?;
        let xh = take_rows(x, rows, &held);
        let m = booster.predict(&Matrix::new(&xh, held.len(), cols), true);
        for (&r, v) in held.iter().zip(m) {
            oof[r] = v;
        }
    }
    Ok(oof)
}

/// The `n` features with the largest |SHAP value| of row `row` (`shap` as returned by
/// [`Propensity::shap`], `cols` features), largest first: `(feature, value)`.
pub fn top_reasons(shap: &[f64], cols: usize, row: usize, n: usize) -> Vec<(usize, f64)> {
    let r = &shap[row * (cols + 1)..row * (cols + 1) + cols];
    let mut idx: Vec<usize> = (0..cols).filter(|&j| r[j] != 0.0).collect();
    idx.sort_by(|&a, &b| r[b].abs().total_cmp(&r[a].abs()).then(a.cmp(&b)));
    idx.into_iter().take(n).map(|j| (j, r[j])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_reasons_rank_by_magnitude_and_skip_zeros() {
        // Two rows, three features + bias.
        let shap = [0.1, -0.5, 0.0, 9.0, 0.0, 0.2, 0.3, 9.0];
        assert_eq!(top_reasons(&shap, 3, 0, 3), vec![(1, -0.5), (0, 0.1)]);
        assert_eq!(top_reasons(&shap, 3, 1, 1), vec![(2, 0.3)]);
    }

    /// Our TreeSHAP agrees with perpetual's (f32) on a fitted model with missing values, and
    /// sums to the margin to rounding.
    #[test]
    fn tree_shap_matches_perpetual_and_sums_to_the_margin() {
        use perpetual::ContributionsMethod;
        let (rows, cols) = (600usize, 4usize);
        let mut x = vec![0.0f64; rows * cols];
        let mut y = vec![0.0f64; rows];
        for r in 0..rows {
            let a = ((r * 37) % 101) as f64 / 101.0;
            let b = ((r * 53) % 97) as f64 / 97.0;
            let c = (r % 3) as f64;
            let d = if r % 7 == 0 {
                f64::NAN
            } else {
                ((r * 11) % 13) as f64
            };
            for (j, v) in [a, b, c, d].into_iter().enumerate() {
                x[j * rows + r] = v;
            }
            let t = 2.0 * a - b + 0.5 * c + if d.is_nan() { 1.0 } else { -0.1 * d };
            y[r] = f64::from(u8::from(
                t + 0.3 * (((r * 29) % 17) as f64 / 17.0 - 0.5) > 0.4,
            ));
        }
        let target = TargetSpec::Binary {
            name: "y".into(),
            positive: "1".into(),
            negative: "0".into(),
        };
        let mut booster = fit_booster(&x, rows, cols, &y, &target, 1.0, 0).unwrap();
        set_covers(&mut booster, &x, rows, cols);
        let explainer = Explainer::new(Forest::new(&booster));
        let ours = explainer.shap(&x, rows, cols);
        // Algorithm 2 gives the same values.
        let alg2 = super::super::shap::algorithm2::shap(&booster, &x, rows, cols);
        let gap = ours
            .iter()
            .zip(&alg2)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f64, f64::max);
        assert!(gap < 1e-12, "vs Algorithm 2: {gap}");
        let theirs = booster.predict_contributions(
            &Matrix::new(&x, rows, cols),
            ContributionsMethod::Shapley,
            false,
        );
        let margin = booster.predict(&Matrix::new(&x, rows, cols), false);
        // The flat-array prediction is perpetual's, bit for bit.
        assert_eq!(explainer.forest.margin(&x, rows, cols), margin);
        let (mut diff, mut sum_err) = (0.0f64, 0.0f64);
        for r in 0..rows {
            let o = &ours[r * (cols + 1)..(r + 1) * (cols + 1)];
            let t = &theirs[r * (cols + 1)..(r + 1) * (cols + 1)];
            for j in 0..=cols {
                diff = diff.max((o[j] - t[j]).abs());
            }
            sum_err = sum_err.max((o.iter().sum::<f64>() - margin[r]).abs());
        }
        assert!(booster.get_prediction_trees().len() > 1);
        assert!(diff < 1e-4, "ours vs perpetual: {diff}");
        assert!(sum_err < 1e-9, "Σ SHAP − margin: {sum_err}");
    }

    #[test]
    fn take_rows_keeps_column_major_order() {
        // 3 rows × 2 columns, column-major.
        let x = [1.0, 2.0, 3.0, 10.0, 20.0, 30.0];
        assert_eq!(take_rows(&x, 3, &[2, 0]), vec![3.0, 1.0, 30.0, 10.0]);
    }
}
