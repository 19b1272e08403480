//! Population drift: how far the customers being scored have moved from the customers a model
//! was trained on, by the population stability index (PSI) of the segment mix and of every input
//! feature.
//!
//! **Reference.** [`DriftReference::fit`] bins each feature on the training rows: a numeric
//! feature (raw values, derived ratios included) by its training deciles (ties merged, so a
//! column that is mostly 0 gets few bins), a binary one by value, a categorical one by the levels
//! the preprocessing kept (the rest share `other`); every feature has a last bin for missing
//! values. The segment mix is the training rows' share per segment. `teleseg train dec` (and the
//! pipeline's DEC stage) writes it beside the model as `drift_reference.json`.
//!
//! **Index.** `PSI = Σ_b (a_b − e_b) · ln(a_b / e_b)` over the bins, `e` the training shares and
//! `a` the current ones, each floored at [`SHARE_FLOOR`] so that an empty bin counts as a large
//! but finite shift. The usual reading: below 0.1 stable, 0.1–0.25 a moderate shift, above 0.25
//! a significant one ([`DEFAULT_ALERT`], the alert threshold unless set). Nothing alerts below
//! [`MIN_CUSTOMERS`] customers.
//!
//! **Counts.** [`DriftCounts`] holds the current population's bin counts and changes by one
//! customer at a time ([`DriftCounts::add`] / [`DriftCounts::remove`]): the stream keeps each
//! customer's latest bins, the HTTP service a sliding window of the rows it scored.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::preprocess::{MISSING_LEVEL, NumericSource, OTHER_LEVEL, Preprocessor};
use crate::data::table::{MISSING, RawTable};

/// File name of the reference beside a DEC model.
pub const FILE: &str = "drift_reference.json";
/// The alert threshold unless one is set: a significant shift by the usual reading.
pub const DEFAULT_ALERT: f64 = 0.25;
/// No alert below this many customers: the index of a handful of rows is noise (one customer
/// alone is "drifted" on every feature).
pub const MIN_CUSTOMERS: u64 = 100;
/// Shares are floored here before the logarithm.
pub const SHARE_FLOOR: f64 = 1e-4;
/// Numeric features are cut at these training quantiles (deciles).
const QUANTILES: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const FORMAT: u32 = 1;

/// How one feature is binned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Bins {
    /// Bin `i` holds values in `(edges[i-1], edges[i]]`; the last non-missing bin the values
    /// above the last edge. `source`: a column or a derived ratio, as the preprocessing reads it.
    Numeric {
        source: NumericSource,
        edges: Vec<f64>,
    },
    /// Bins 0 and 1.
    Binary,
    /// One bin per level, then `other` (a level the training rows did not keep).
    Categorical { levels: Vec<String> },
}

/// One feature's bins and its training shares (the last share: missing values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureReference {
    pub name: String,
    pub bins: Bins,
    pub shares: Vec<f64>,
}

impl FeatureReference {
    /// Bins including the missing bin.
    pub fn len(&self) -> usize {
        self.shares.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shares.is_empty()
    }
}

/// The training population a drift index is measured against (`drift_reference.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReference {
    pub format: u32,
    /// Training rows the shares were counted on.
    pub rows: usize,
    /// Training share of each segment.
    pub segments: Vec<f64>,
    pub features: Vec<FeatureReference>,
}

/// Why a reference could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("{path}: not a drift reference: {message}")]
    Read { path: String, message: String },
    #[error("the table {table} lacks the feature `{feature}` of the drift reference")]
    MissingFeature { table: String, feature: String },
}

impl DriftReference {
    /// Bins the features `pre` was fitted with on `rows` of `table`, and counts the segment mix
    /// of `segments` (one label per entry of `rows`, below `k`).
    pub fn fit(
        pre: &Preprocessor,
        table: &RawTable,
        rows: &[usize],
        segments: &[usize],
        k: usize,
    ) -> Result<DriftReference, DriftError> {
        assert_eq!(rows.len(), segments.len(), "one segment per training row");
        let mut features = Vec::new();
        for f in pre.numeric_features() {
            let values = f
                .source
                .values(table)
                .map_err(|_| missing(table, &f.name))?;
            let mut train: Vec<f64> = rows
                .iter()
                .map(|&r| values[r])
                .filter(|v| !v.is_nan())
                .collect();
            train.sort_by(f64::total_cmp);
            let mut edges: Vec<f64> = Vec::new();
            if !train.is_empty() {
                for q in QUANTILES {
                    let e = crate::data::stats::quantile(&train, q);
                    if edges.last().is_none_or(|&last| e > last) {
                        edges.push(e);
                    }
                }
            }
            features.push(FeatureReference {
                name: f.name.clone(),
                bins: Bins::Numeric {
                    source: f.source.clone(),
                    edges,
                },
                shares: Vec::new(),
            });
        }
        for f in pre.binary_features() {
            features.push(FeatureReference {
                name: f.name.clone(),
                bins: Bins::Binary,
                shares: Vec::new(),
            });
        }
        for f in pre.categorical_features() {
            let levels = f
                .levels
                .iter()
                .filter(|l| *l != OTHER_LEVEL && *l != MISSING_LEVEL)
                .cloned()
                .collect();
            features.push(FeatureReference {
                name: f.name.clone(),
                bins: Bins::Categorical { levels },
                shares: Vec::new(),
            });
        }
        let mut reference = DriftReference {
            format: FORMAT,
            rows: rows.len(),
            segments: vec![0.0; k],
            features,
        };
        for f in &mut reference.features {
            f.shares = vec![0.0; bin_count(&f.bins)];
        }
        let binned = reference.bin_rows(table, rows)?;
        let n = rows.len().max(1) as f64;
        for (row_bins, &s) in binned.iter().zip(segments) {
            reference.segments[s] += 1.0 / n;
            for (f, &b) in reference.features.iter_mut().zip(row_bins) {
                f.shares[usize::from(b)] += 1.0 / n;
            }
        }
        Ok(reference)
    }

    /// Reads `drift_reference.json` from `dir`; `None` when there is none (a run from before
    /// drift references).
    pub fn read_beside(dir: &Path) -> Result<Option<DriftReference>, DriftError> {
        let path = dir.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(DriftError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        let bad = |message: String| DriftError::Read {
            path: path.display().to_string(),
            message,
        };
        let r: DriftReference = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if r.format != FORMAT {
            return Err(bad(format!(
                "format {} (this build reads {FORMAT})",
                r.format
            )));
        }
        if let Some(f) = r.features.iter().find(|f| f.len() != bin_count(&f.bins)) {
            return Err(bad(format!(
                "feature `{}`: shares do not match its bins",
                f.name
            )));
        }
        Ok(Some(r))
    }

    /// The bin of every feature for each of `rows` of `table` (row-major, one `u16` per
    /// feature).
    pub fn bin_rows(&self, table: &RawTable, rows: &[usize]) -> Result<Vec<Vec<u16>>, DriftError> {
        let mut out = vec![Vec::with_capacity(self.features.len()); rows.len()];
        for f in &self.features {
            let missing_bin = (f.len() - 1) as u16;
            match &f.bins {
                Bins::Numeric { source, edges } => {
                    let source = source.values(table).map_err(|_| missing(table, &f.name))?;
                    for (o, &r) in out.iter_mut().zip(rows) {
                        let v = source[r];
                        o.push(if v.is_nan() {
                            missing_bin
                        } else {
                            edges.partition_point(|&e| e < v) as u16
                        });
                    }
                }
                Bins::Binary => {
                    let col = table
                        .binary(&f.name)
                        .ok_or_else(|| missing(table, &f.name))?;
                    for (o, &r) in out.iter_mut().zip(rows) {
                        let v = col.values[r];
                        o.push(if v.is_nan() {
                            missing_bin
                        } else {
                            u16::from(v >= 0.5)
                        });
                    }
                }
                Bins::Categorical { levels } => {
                    let col = table
                        .categorical(&f.name)
                        .ok_or_else(|| missing(table, &f.name))?;
                    let other = levels.len() as u16;
                    let of_code: Vec<u16> = col
                        .dictionary
                        .iter()
                        .map(|d| {
                            levels
                                .iter()
                                .position(|l| l == d)
                                .map_or(other, |p| p as u16)
                        })
                        .collect();
                    for (o, &r) in out.iter_mut().zip(rows) {
                        o.push(match col.codes[r] {
                            MISSING => missing_bin,
                            c => of_code[c as usize],
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Empty counts shaped like this reference.
    pub fn counts(&self) -> DriftCounts {
        DriftCounts {
            customers: 0,
            segments: vec![0; self.segments.len()],
            features: self.features.iter().map(|f| vec![0; f.len()]).collect(),
        }
    }

    /// The drift of the population `counts` describes, alerting above `alert`.
    pub fn report(&self, counts: &DriftCounts, alert: f64) -> DriftReport {
        let segment_psi = psi(&self.segments, &counts.segments);
        let features: Vec<FeaturePsi> = self
            .features
            .iter()
            .zip(&counts.features)
            .map(|(f, c)| FeaturePsi {
                name: f.name.clone(),
                psi: psi(&f.shares, c),
            })
            .collect();
        let segment_mix: Vec<f64> = counts
            .segments
            .iter()
            .map(|&c| c as f64 / counts.customers.max(1) as f64)
            .collect();
        let mut alerts: Vec<String> = Vec::new();
        if counts.customers >= MIN_CUSTOMERS {
            if segment_psi > alert {
                alerts.push("segments".into());
            }
            alerts.extend(
                features
                    .iter()
                    .filter(|f| f.psi > alert)
                    .map(|f| f.name.clone()),
            );
        }
        let max_feature = features
            .iter()
            .max_by(|a, b| a.psi.total_cmp(&b.psi))
            .cloned();
        DriftReport {
            customers: counts.customers,
            threshold: alert,
            segment_psi,
            segment_mix,
            max_feature,
            features,
            alerts,
        }
    }
}

fn bin_count(bins: &Bins) -> usize {
    1 + match bins {
        Bins::Numeric { edges, .. } => edges.len() + 1,
        Bins::Binary => 2,
        Bins::Categorical { levels } => levels.len() + 1,
    }
}

fn missing(table: &RawTable, feature: &str) -> DriftError {
    DriftError::MissingFeature {
        table: table.source.clone(),
        feature: feature.to_string(),
    }
}

/// The population stability index of `counts` against the reference `shares`.
pub fn psi(shares: &[f64], counts: &[u64]) -> f64 {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    shares
        .iter()
        .zip(counts)
        .map(|(&e, &c)| {
            let (e, a) = (e.max(SHARE_FLOOR), (c as f64 / n as f64).max(SHARE_FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Bin counts of a population, changed one customer at a time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriftCounts {
    pub customers: u64,
    pub segments: Vec<u64>,
    pub features: Vec<Vec<u64>>,
}

impl DriftCounts {
    /// Counts a customer in `segment` with feature bins `bins`.
    pub fn add(&mut self, segment: usize, bins: &[u16]) {
        self.customers += 1;
        self.segments[segment] += 1;
        for (c, &b) in self.features.iter_mut().zip(bins) {
            c[usize::from(b)] += 1;
        }
    }

    /// Takes back an [`Self::add`] of the same values.
    pub fn remove(&mut self, segment: usize, bins: &[u16]) {
        self.customers -= 1;
        self.segments[segment] -= 1;
        for (c, &b) in self.features.iter_mut().zip(bins) {
            c[usize::from(b)] -= 1;
        }
    }

    /// Adds another population's counts (several partitions into one report).
    pub fn merge(&mut self, other: &DriftCounts) {
        self.customers += other.customers;
        self.segments
            .iter_mut()
            .zip(&other.segments)
            .for_each(|(a, b)| *a += b);
        for (a, b) in self.features.iter_mut().zip(&other.features) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
    }
}

/// One feature's drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePsi {
    pub name: String,
    pub psi: f64,
}

/// The drift of a population against its reference (what the stream writes, `GET /drift`
/// answers and `GET /metrics` exports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Customers in the population measured.
    pub customers: u64,
    /// PSI above which a feature or the segment mix alerts.
    pub threshold: f64,
    pub segment_psi: f64,
    /// The population's share of each segment.
    pub segment_mix: Vec<f64>,
    /// The feature that moved most.
    pub max_feature: Option<FeaturePsi>,
    /// Every feature, in the preprocessing's order.
    pub features: Vec<FeaturePsi>,
    /// What is above the threshold: `segments` and feature names (empty: no alert).
    pub alerts: Vec<String>,
}

impl DriftReport {
    /// Logs a warning naming what drifted, when anything did.
    pub fn warn_if_alerting(&self, source: &str) {
        if !self.alerts.is_empty() {
            tracing::warn!(
                source,
                customers = self.customers,
                segment_psi = format!("{:.3}", self.segment_psi),
                threshold = self.threshold,
                drifted = self.alerts.join(","),
                "population drift above the alert threshold"
            );
        }
    }
}

/// A sliding window over the last `capacity` customers scored (the HTTP service's population).
#[derive(Debug, Clone)]
pub struct DriftWindow {
    capacity: usize,
    rows: std::collections::VecDeque<(usize, Vec<u16>)>,
    pub counts: DriftCounts,
}

impl DriftWindow {
    pub fn new(reference: &DriftReference, capacity: usize) -> DriftWindow {
        DriftWindow {
            capacity: capacity.max(1),
            rows: std::collections::VecDeque::new(),
            counts: reference.counts(),
        }
    }

    /// Counts one scored customer, forgetting the oldest when the window is full.
    pub fn push(&mut self, segment: usize, bins: Vec<u16>) {
        if self.rows.len() == self.capacity
            && let Some((s, b)) = self.rows.pop_front()
        {
            self.counts.remove(s, &b);
        }
        self.counts.add(segment, &bins);
        self.rows.push_back((segment, bins));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_is_zero_for_the_reference_mix_and_grows_with_the_shift() {
        let shares = [0.5, 0.3, 0.2, 0.0];
        assert!(psi(&shares, &[50, 30, 20, 0]).abs() < 1e-12);
        let small = psi(&shares, &[45, 33, 22, 0]);
        let large = psi(&shares, &[10, 30, 60, 0]);
        assert!(small > 0.0 && small < 0.1, "{small}");
        assert!(large > DEFAULT_ALERT, "{large}");
        // By hand: (0.1-0.5)ln(0.2) + 0 + (0.6-0.2)ln(3).
        let by_hand = -0.4 * 0.2f64.ln() + 0.4 * 3f64.ln();
        assert!((large - by_hand).abs() < 1e-9, "{large} vs {by_hand}");
        assert_eq!(psi(&shares, &[0, 0, 0, 0]), 0.0);
    }

    #[test]
    fn counts_add_remove_and_window() {
        let reference = DriftReference {
            format: FORMAT,
            rows: 4,
            segments: vec![0.5, 0.5],
            features: vec![FeatureReference {
                name: "x".into(),
                bins: Bins::Binary,
                shares: vec![0.5, 0.5, 0.0],
            }],
        };
        let n = MIN_CUSTOMERS as usize;
        let mut w = DriftWindow::new(&reference, 2 * n);
        for i in 0..2 * n {
            w.push(i % 2, vec![(i % 2) as u16]);
        }
        let r = reference.report(&w.counts, 0.25);
        assert!(r.alerts.is_empty(), "{r:?}");
        assert!(r.segment_psi.abs() < 1e-12);
        // Rows of segment 1 with x missing push the first ones out: both drift.
        for _ in 0..2 * n {
            w.push(1, vec![2]);
        }
        assert_eq!(w.counts.customers, 2 * n as u64);
        assert_eq!(w.counts.segments, vec![0, 2 * n as u64]);
        assert_eq!(w.counts.features[0], vec![0, 0, 2 * n as u64]);
        let r = reference.report(&w.counts, 0.25);
        assert_eq!(r.alerts, vec!["segments".to_string(), "x".to_string()]);
        assert_eq!(r.segment_mix, vec![0.0, 1.0]);
        // The same shift in too few customers does not alert.
        let mut few = DriftWindow::new(&reference, n - 1);
        (0..n).for_each(|_| few.push(1, vec![2]));
        assert!(reference.report(&few.counts, 0.25).alerts.is_empty());
        let mut merged = reference.counts();
        merged.merge(&w.counts);
        merged.merge(&w.counts);
        assert_eq!(merged.customers, 4 * n as u64);
        merged.remove(1, &[2]);
        assert_eq!(merged.features[0], vec![0, 0, 4 * n as u64 - 1]);
    }
}
