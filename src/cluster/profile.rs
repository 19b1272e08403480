//! Segment profiles for people: size and share of each segment, per-feature means, medians and
//! lifts in raw units, the most distinguishing features, a surrogate decision tree with readable
//! rules ([`super::surrogate`]) and a one-line persona per segment. All of it serializes into
//! `segments.json`.
//!
//! Definitions (population = all rows; statistics skip missing values):
//! - **lift** = segment mean / population mean. Defined only for features with no negative value
//!   whose population mean is above `lift_min_mean` (default 1e-9, in the feature's unit): a
//!   ratio of signed means (a sentiment in -1..1) or to a zero mean means nothing, so it is
//!   `null` there. Shares in 0..1 use the same ratio.
//! - **SMD** (standardized mean difference) = (segment mean − population mean) / population std
//!   (population std, ddof 0). `null` when the std is ≤ 1e-12 × max(|mean|, 1) (constant feature).
//!   The distinguishing features of a segment are its `top_features` largest |SMD| (ties → lower
//!   column index): unlike lift it is unit-free and works for zero-mean features.
//! - **persona**: "Segment 2 (18 %): data_gb 2.4× population, night_share 1.6×, age 0.7×,
//!   social_sentiment −1.2 sd" — the `persona_features` features whose lift is ≥ `persona_high`
//!   or ≤ `persona_low`, largest |lift − 1| first (ties → lower column index), lift printed with
//!   one decimal; then, if there is room, features without a lift (signed ones) whose |SMD| is at
//!   least `persona_smd`, largest |SMD| first, printed as "± x.x sd".
//! - **median** of an even count is the mean of the two middle values (numpy's convention).

use serde::{Deserialize, Serialize};

use super::ClusterError;
use super::surrogate::{SurrogateTree, TreeParams, fit_surrogate};
pub use super::table::FeatureTable;

/// Knobs of [`profile_segments`]. Unknown keys are rejected; every field has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileConfig {
    /// Distinguishing features listed per segment (by |SMD|). Default 5.
    pub top_features: usize,
    /// Features named in each persona line. Default 4.
    pub persona_features: usize,
    /// A lift at or above this goes into the persona. Default 1.2.
    pub persona_high: f64,
    /// A lift at or below this goes into the persona. Default 0.8.
    pub persona_low: f64,
    /// Lift is `null` unless the population mean exceeds this (feature units). Default 1e-9.
    pub lift_min_mean: f64,
    /// A feature without a lift goes into the persona when its |SMD| is at least this.
    /// Default 0.8.
    pub persona_smd: f64,
    /// Surrogate tree depth limit. Default 4.
    pub tree_max_depth: usize,
    /// The tree is fit on a seeded sample of at most this many rows (fidelity and leaf counts
    /// use all rows). Default 200 000.
    pub tree_max_rows: usize,
    /// Minimum share of the fit rows in a tree leaf (at least one row). Default 0.005.
    pub tree_min_leaf_share: f64,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        Self {
            top_features: 5,
            persona_features: 4,
            persona_high: 1.2,
            persona_low: 0.8,
            lift_min_mean: 1e-9,
            persona_smd: 0.8,
            tree_max_depth: 4,
            tree_max_rows: 200_000,
            tree_min_leaf_share: 0.005,
        }
    }
}

impl ProfileConfig {
    /// Checks every field.
    pub fn check(&self) -> Result<(), ClusterError> {
        let invalid =
            |field, rule, value: String| Err(ClusterError::InvalidConfig { field, rule, value });
        if !(self.persona_high >= 1.0 && self.persona_high.is_finite()) {
            return invalid(
                "persona_high",
                "at least 1 and finite",
                self.persona_high.to_string(),
            );
        }
        if !(self.persona_low > 0.0 && self.persona_low <= 1.0) {
            return invalid("persona_low", "in (0, 1]", self.persona_low.to_string());
        }
        if !(self.persona_smd > 0.0 && self.persona_smd.is_finite()) {
            return invalid(
                "persona_smd",
                "positive and finite",
                self.persona_smd.to_string(),
            );
        }
        if !(self.lift_min_mean >= 0.0 && self.lift_min_mean.is_finite()) {
            return invalid(
                "lift_min_mean",
                "non-negative and finite",
                self.lift_min_mean.to_string(),
            );
        }
        if self.tree_max_depth == 0 {
            return invalid("tree_max_depth", "at least 1", "0".into());
        }
        if self.tree_max_rows < 2 {
            return invalid(
                "tree_max_rows",
                "at least 2",
                self.tree_max_rows.to_string(),
            );
        }
        if !(0.0..0.5).contains(&self.tree_min_leaf_share) {
            return invalid(
                "tree_min_leaf_share",
                "in [0, 0.5)",
                self.tree_min_leaf_share.to_string(),
            );
        }
        Ok(())
    }
}

/// Population statistics of one feature (missing values skipped).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSummary {
    /// Feature name.
    pub name: String,
    /// Unit, as given.
    pub unit: String,
    /// Mean, in `unit`; `null` if every value is missing.
    pub mean: Option<f64>,
    /// Median, in `unit`; `null` if every value is missing.
    pub median: Option<f64>,
    /// Standard deviation (ddof 0), in `unit`; `null` if every value is missing.
    pub std: Option<f64>,
    /// Share of rows where the value is missing, in [0, 1].
    pub missing_share: f64,
    /// Every observed value is ≥ 0, so ratios (lifts) of its means are meaningful.
    pub nonnegative: bool,
}

/// One feature within one segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentFeature {
    /// Feature name.
    pub name: String,
    /// Segment mean, in the feature's unit; `null` if the segment has no value.
    pub mean: Option<f64>,
    /// Segment median, in the feature's unit; `null` if the segment has no value.
    pub median: Option<f64>,
    /// Segment mean / population mean (see module docs); `null` when undefined.
    pub lift: Option<f64>,
    /// (segment mean − population mean) / population std; `null` when undefined.
    pub smd: Option<f64>,
    /// Share of the segment's rows where the value is missing.
    pub missing_share: f64,
}

/// A feature that sets a segment apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distinguishing {
    /// Feature name.
    pub name: String,
    /// Standardized mean difference (signed).
    pub smd: f64,
    /// Lift, when defined.
    pub lift: Option<f64>,
}

/// The profile of one segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentProfile {
    /// Segment id, `0..k`.
    pub segment: usize,
    /// Rows in the segment.
    pub size: usize,
    /// `size / rows`, in [0, 1].
    pub share: f64,
    /// One entry per feature, in column order.
    pub features: Vec<SegmentFeature>,
    /// Up to `top_features` features by |SMD|, largest first.
    pub distinguishing: Vec<Distinguishing>,
    /// One deterministic line describing the segment by its lifts.
    pub persona: String,
}

/// Everything [`profile_segments`] computes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentProfiles {
    /// Rows profiled.
    pub rows: usize,
    /// Number of segments.
    pub k: usize,
    /// Population statistics, one per feature.
    pub features: Vec<FeatureSummary>,
    /// One profile per segment, `0..k`.
    pub segments: Vec<SegmentProfile>,
    /// Decision tree predicting the segment from the raw features.
    pub surrogate: SurrogateTree,
}

/// Mean, median and std (ddof 0) of `v` (which it reorders), `None` when empty.
fn stats(v: &mut [f64]) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let (len, mid) = (v.len(), v.len() / 2);
    let (lower, &mut upper, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let median = if len % 2 == 1 {
        upper
    } else {
        (lower.iter().copied().fold(f64::NEG_INFINITY, f64::max) + upper) / 2.0
    };
    Some((mean, median, std))
}

/// Profiles the `k` segments given by `labels` (one per row, each `< k`) on the raw table `x`.
/// `seed` drives the surrogate tree's row sample.
///
/// Errors: [`ClusterError::LabelLength`], [`ClusterError::LabelOutOfRange`],
/// [`ClusterError::KTooSmall`] for `k == 0`, the config's [`ProfileConfig::check`] errors, and
/// [`ClusterError::Linfa`] if the tree fails.
pub fn profile_segments(
    x: FeatureTable,
    labels: &[usize],
    k: usize,
    cfg: &ProfileConfig,
    seed: u64,
) -> Result<SegmentProfiles, ClusterError> {
    cfg.check()?;
    if k == 0 {
        return Err(ClusterError::KTooSmall { k });
    }
    super::check_labels(labels, x.rows())?;
    if let Some(row) = labels.iter().position(|&l| l >= k) {
        return Err(ClusterError::LabelOutOfRange {
            row,
            label: labels[row],
            k,
        });
    }
    let mut size = vec![0usize; k];
    labels.iter().for_each(|&l| size[l] += 1);

    let mut features = Vec::with_capacity(x.cols());
    // per_seg[s][j] = (mean, median, missing_share) of feature j in segment s.
    let mut per_seg = vec![Vec::with_capacity(x.cols()); k];
    let mut by_seg: Vec<Vec<f64>> = vec![Vec::new(); k];
    let mut all = Vec::with_capacity(x.rows());
    for j in 0..x.cols() {
        all.clear();
        by_seg.iter_mut().for_each(Vec::clear);
        for (i, &l) in labels.iter().enumerate() {
            let v = x.get(i, j);
            if !v.is_nan() {
                all.push(v);
                by_seg[l].push(v);
            }
        }
        let missing = 1.0 - all.len() as f64 / x.rows() as f64;
        let nonnegative = all.iter().all(|&v| v >= 0.0);
        let pop = stats(&mut all);
        features.push(FeatureSummary {
            name: x.names[j].clone(),
            unit: x.units[j].clone(),
            mean: pop.map(|p| p.0),
            median: pop.map(|p| p.1),
            std: pop.map(|p| p.2),
            missing_share: missing,
            nonnegative,
        });
        for s in 0..k {
            let n = by_seg[s].len();
            let st = stats(&mut by_seg[s]);
            let miss = if size[s] == 0 {
                0.0
            } else {
                1.0 - n as f64 / size[s] as f64
            };
            per_seg[s].push((st.map(|t| t.0), st.map(|t| t.1), miss));
        }
    }

    let segments = (0..k)
        .map(|s| segment_profile(s, size[s], x.rows(), &features, &per_seg[s], cfg))
        .collect();
    let medians: Vec<f64> = features.iter().map(|f| f.median.unwrap_or(0.0)).collect();
    let params = TreeParams {
        max_depth: cfg.tree_max_depth,
        max_rows: cfg.tree_max_rows,
        min_leaf_share: cfg.tree_min_leaf_share,
    };
    let surrogate = fit_surrogate(x, labels, k, &medians, &params, seed)?;
    Ok(SegmentProfiles {
        rows: x.rows(),
        k,
        features,
        segments,
        surrogate,
    })
}

fn segment_profile(
    segment: usize,
    size: usize,
    rows: usize,
    pop: &[FeatureSummary],
    seg: &[(Option<f64>, Option<f64>, f64)],
    cfg: &ProfileConfig,
) -> SegmentProfile {
    let features: Vec<SegmentFeature> = pop
        .iter()
        .zip(seg)
        .map(|(p, &(mean, median, missing_share))| {
            let lift = match (mean, p.mean) {
                (Some(m), Some(pm)) if p.nonnegative && pm > cfg.lift_min_mean => Some(m / pm),
                _ => None,
            };
            let smd = match (mean, p.mean, p.std) {
                (Some(m), Some(pm), Some(sd)) if sd > 1e-12 * pm.abs().max(1.0) => {
                    Some((m - pm) / sd)
                }
                _ => None,
            };
            SegmentFeature {
                name: p.name.clone(),
                mean,
                median,
                lift,
                smd,
                missing_share,
            }
        })
        .collect();
    let mut ranked: Vec<(usize, f64)> = features
        .iter()
        .enumerate()
        .filter_map(|(j, f)| f.smd.map(|d| (j, d)))
        .collect();
    ranked.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    let distinguishing = ranked
        .iter()
        .take(cfg.top_features)
        .map(|&(j, smd)| Distinguishing {
            name: features[j].name.clone(),
            smd,
            lift: features[j].lift,
        })
        .collect();
    let share = size as f64 / rows as f64;
    let persona = persona(segment, share, size, &features, cfg);
    SegmentProfile {
        segment,
        size,
        share,
        features,
        distinguishing,
        persona,
    }
}

/// The persona line, see the module docs.
fn persona(
    segment: usize,
    share: f64,
    size: usize,
    features: &[SegmentFeature],
    cfg: &ProfileConfig,
) -> String {
    let pct = share * 100.0;
    let head = if pct >= 1.0 || pct == 0.0 {
        format!("Segment {segment} ({pct:.0} %)")
    } else {
        format!("Segment {segment} ({pct:.1} %)")
    };
    if size == 0 {
        return format!("{head}: empty");
    }
    let mut picked: Vec<(usize, f64)> = features
        .iter()
        .enumerate()
        .filter_map(|(j, f)| f.lift.map(|l| (j, l)))
        .filter(|&(_, l)| l >= cfg.persona_high || l <= cfg.persona_low)
        .collect();
    picked.sort_by(|a, b| {
        (b.1 - 1.0)
            .abs()
            .total_cmp(&(a.1 - 1.0).abs())
            .then(a.0.cmp(&b.0))
    });
    picked.truncate(cfg.persona_features);
    // Signed features (no lift) speak in standard deviations, if there is room left.
    let mut signed: Vec<(usize, f64)> = features
        .iter()
        .enumerate()
        .filter(|(_, f)| f.lift.is_none())
        .filter_map(|(j, f)| f.smd.map(|d| (j, d)))
        .filter(|&(_, d)| d.abs() >= cfg.persona_smd)
        .collect();
    signed.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    signed.truncate(cfg.persona_features - picked.len());
    if picked.is_empty() && signed.is_empty() {
        return format!(
            "{head}: no feature differs from the population by {}× or more, or {}× or less",
            cfg.persona_high, cfg.persona_low
        );
    }
    let mut parts: Vec<String> = picked
        .iter()
        .enumerate()
        .map(|(i, &(j, l))| {
            let tail = if i == 0 { " population" } else { "" };
            format!("{} {l:.1}×{tail}", features[j].name)
        })
        .collect();
    parts.extend(signed.iter().map(|&(j, d)| {
        let sign = if d < 0.0 { '−' } else { '+' };
        format!("{} {sign}{:.1} sd", features[j].name, d.abs())
    }));
    format!("{head}: {}", parts.join(", "))
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
