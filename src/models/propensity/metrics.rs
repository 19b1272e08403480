//! Test-split metrics of a propensity model: ranking (ROC AUC, PR AUC), probability quality
//! (log loss, Brier score, a calibration table), a lift / gain table, and regression errors.

use serde::{Deserialize, Serialize};

pub use crate::eval::logistic::roc_auc;

/// Metrics of binary probabilities `p` against outcomes `y` (0/1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    pub rows: usize,
    pub positives: usize,
    pub roc_auc: Option<f64>,
    /// Average precision (scikit-learn's `average_precision_score`).
    pub pr_auc: Option<f64>,
    /// Mean negative log-likelihood, probabilities clipped to [1e-15, 1 − 1e-15].
    pub log_loss: f64,
    /// Mean squared error of the probability.
    pub brier: f64,
    pub calibration: Vec<CalibrationBin>,
    pub gain: Vec<GainRow>,
}

/// Customers whose probability falls in `[lo, hi)` (the last bin includes 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lo: f64,
    pub hi: f64,
    pub customers: usize,
    pub mean_probability: f64,
    pub observed_rate: f64,
}

/// One tenth of the customers, by decreasing probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GainRow {
    /// 1 = the highest-probability tenth.
    pub decile: usize,
    pub customers: usize,
    pub positives: usize,
    /// Positive rate of the decile over the overall rate.
    pub lift: f64,
    /// Share of every positive found in deciles 1..=decile.
    pub cumulative_gain: f64,
}

impl BinaryMetrics {
    pub fn compute(p: &[f64], y: &[f64]) -> BinaryMetrics {
        let n = p.len();
        let truth: Vec<bool> = y.iter().map(|&v| v > 0.5).collect();
        let positives = truth.iter().filter(|&&t| t).count();
        let clip = |v: f64| v.clamp(1e-15, 1.0 - 1e-15);
        let log_loss = p
            .iter()
            .zip(&truth)
            .map(|(&p, &t)| {
                if t {
                    -clip(p).ln()
                } else {
                    -(1.0 - clip(p)).ln()
                }
            })
            .sum::<f64>()
            / n.max(1) as f64;
        let brier = p.iter().zip(y).map(|(&p, &y)| (p - y).powi(2)).sum::<f64>() / n.max(1) as f64;
        BinaryMetrics {
            rows: n,
            positives,
            roc_auc: roc_auc(&truth, p),
            pr_auc: average_precision(&truth, p),
            log_loss,
            brier,
            calibration: calibration_table(p, y, 10),
            gain: gain_table(p, y, 10),
        }
    }
}

/// Average precision: `Σ_k (R_k − R_{k−1}) P_k` over the distinct thresholds, highest first
/// (tied scores form one threshold). `None` without a positive.
pub fn average_precision(y: &[bool], score: &[f64]) -> Option<f64> {
    let total = y.iter().filter(|&&t| t).count();
    if total == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let (mut tp, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && score[idx[j]] == score[idx[i]] {
            tp += usize::from(y[idx[j]]);
            seen += 1;
            j += 1;
        }
        let recall = tp as f64 / total as f64;
        ap += (recall - last_recall) * tp as f64 / seen as f64;
        last_recall = recall;
        i = j;
    }
    Some(ap)
}

/// `bins` equal-width probability bins on [0, 1] (empty bins left out).
pub fn calibration_table(p: &[f64], y: &[f64], bins: usize) -> Vec<CalibrationBin> {
    let mut acc = vec![(0usize, 0.0f64, 0.0f64); bins];
    for (&p, &y) in p.iter().zip(y) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        acc[b].0 += 1;
        acc[b].1 += p;
        acc[b].2 += y;
    }
    acc.iter()
        .enumerate()
        .filter(|(_, a)| a.0 > 0)
        .map(|(b, &(c, sp, sy))| CalibrationBin {
            lo: b as f64 / bins as f64,
            hi: (b + 1) as f64 / bins as f64,
            customers: c,
            mean_probability: sp / c as f64,
            observed_rate: sy / c as f64,
        })
        .collect()
}

/// `groups` near-equal groups by decreasing probability (ties broken by row order).
pub fn gain_table(p: &[f64], y: &[f64], groups: usize) -> Vec<GainRow> {
    let n = p.len();
    let total: f64 = y.iter().sum();
    if n == 0 {
        return Vec::new();
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    let rate = total / n as f64;
    let mut cum = 0.0;
    (0..groups.min(n))
        .map(|g| {
            let (lo, hi) = (g * n / groups.min(n), (g + 1) * n / groups.min(n));
            let pos: f64 = idx[lo..hi].iter().map(|&i| y[i]).sum();
            cum += pos;
            GainRow {
                decile: g + 1,
                customers: hi - lo,
                positives: pos as usize,
                lift: if rate > 0.0 {
                    pos / (hi - lo) as f64 / rate
                } else {
                    0.0
                },
                cumulative_gain: if total > 0.0 { cum / total } else { 0.0 },
            }
        })
        .collect()
}

/// Errors of numeric predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    pub rows: usize,
    pub mae: f64,
    pub rmse: f64,
    /// 1 − SSE / SST (0 for a constant truth).
    pub r2: f64,
}

impl RegressionMetrics {
    pub fn compute(pred: &[f64], y: &[f64]) -> RegressionMetrics {
        let n = y.len().max(1) as f64;
        let mean = y.iter().sum::<f64>() / n;
        let sse: f64 = pred.iter().zip(y).map(|(p, t)| (p - t).powi(2)).sum();
        let sst: f64 = y.iter().map(|t| (t - mean).powi(2)).sum();
        RegressionMetrics {
            rows: y.len(),
            mae: pred.iter().zip(y).map(|(p, t)| (p - t).abs()).sum::<f64>() / n,
            rmse: (sse / n).sqrt(),
            r2: if sst > 0.0 { 1.0 - sse / sst } else { 0.0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_matches_scikit_learn() {
        // sklearn.metrics.average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.8333…
        let ap = average_precision(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!((ap - 0.833_333_333_333_333_4).abs() < 1e-12, "{ap}");
        assert_eq!(average_precision(&[false, false], &[0.1, 0.2]), None);
    }

    #[test]
    fn log_loss_brier_and_tables_by_hand() {
        let p = [0.9, 0.8, 0.3, 0.2];
        let y = [1.0, 0.0, 1.0, 0.0];
        let m = BinaryMetrics::compute(&p, &y);
        let ll = -(0.9f64.ln() + 0.2f64.ln() + 0.3f64.ln() + 0.8f64.ln()) / 4.0;
        assert!((m.log_loss - ll).abs() < 1e-12);
        assert!((m.brier - (0.01 + 0.64 + 0.49 + 0.04) / 4.0).abs() < 1e-12);
        // Pairs (positive, negative): 0.9 > 0.8, 0.9 > 0.2, 0.3 < 0.8, 0.3 > 0.2.
        assert_eq!(m.roc_auc, Some(0.75));
        // Four rows in 10 bins: the four non-empty ones.
        assert_eq!(m.calibration.len(), 4);
        assert_eq!(m.calibration[3].observed_rate, 1.0);
        // Two groups of two: the top pair holds one of the two positives.
        let g = gain_table(&p, &y, 2);
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].positives, g[0].cumulative_gain), (1, 0.5));
        assert_eq!(g[1].cumulative_gain, 1.0);
        assert_eq!(g[0].lift, 1.0);
    }

    #[test]
    fn regression_metrics_by_hand() {
        let m = RegressionMetrics::compute(&[1.0, 2.0, 4.0], &[1.0, 3.0, 5.0]);
        assert!((m.mae - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.rmse - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // SST = (1-3)² + 0 + (5-3)² = 8, SSE = 2.
        assert!((m.r2 - 0.75).abs() < 1e-12);
    }
}
