//! Synthetic-data quality, privacy and utility, with the definitions of SDMetrics' QualityReport
//! (sdmetrics 0.x `single_table.QualityReport`) where one exists.
//!
//! **Columns**: every numeric, categorical, binary and target column of the schema held by both
//! tables. Binary and target columns are categorical here (missing is a category of its own).
//!
//! **Column shapes** (mean over columns):
//! - numeric: KSComplement = `1 − sup_x |F_real(x) − F_synth(x)|` on the non-missing values;
//! - categorical: TVComplement = `1 − ½ Σ_c |p_real(c) − p_synth(c)|`.
//!
//! **Column pair trends**, as SDMetrics 0.32's QualityReport computes them:
//! - two numeric columns: CorrelationSimilarity = `1 − |ρ_real − ρ_synth| / 2`, Pearson ρ on rows
//!   where both are present (pairs where either table has a constant column are skipped);
//! - otherwise: ContingencySimilarity = `1 − ½ Σ_{a,b} |p_real(a,b) − p_synth(a,b)|`, a numeric
//!   column first cut into 10 equal-width bins over its own table's range (numpy's
//!   `histogram_bin_edges` + `digitize`: the maximum and missing values share the last code);
//! - the score averages only the pairs whose **real** association is strong enough to be worth
//!   keeping: `|ρ_real| > 0.5` for numeric pairs, Cramér's V (no continuity correction, missing a
//!   category of its own) `> 0.3` otherwise. Unrelated pairs, which any generator "keeps",
//!   do not dilute the score. When no pair passes, the score is the mean over every pair.
//!   `column_pair_trends_all` is the mean over every pair (teleseg's figure before 0.32).
//!
//! **Quality score** = mean(column shapes, column pair trends), in [0, 1].
//!
//! **Privacy**: distance to the closest train record (DCR) of synthetic rows, and of real holdout
//! rows as the reference. Distance between two rows = mean over columns of `|a − b| / range` for
//! numeric columns (range of the train data; 1 when one side is missing, 0 when both are) and
//! `[a ≠ b]` for categorical ones. An exact copy is a synthetic row at distance 0.
//!
//! **Utility** (TSTR vs TRTR): a class-balanced logistic regression ([`super::logistic`]) on the
//! preprocessed features of the schema (the teleseg [`Preprocessor`] fitted on the training
//! table) predicts the target (positive class: the minority label of the real holdout), trained
//! on the synthetic rows (TSTR) or on the real train rows (TRTR), tested on the real holdout.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::logistic::{Logistic, f1, roc_auc};
use crate::data::preprocess::Preprocessor;
use crate::data::schema::{Role, Schema};
use crate::data::table::{CategoricalColumn, RawTable};

/// One column's values, as the metrics see them.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Raw numbers, `NaN` = missing.
    Numeric(Vec<f64>),
    /// Category texts, `None` = missing.
    Categorical(Vec<Option<String>>),
}

/// Column `name` of `table` under `role` (None when the table lacks it).
pub fn column_values(table: &RawTable, name: &str, role: Role) -> Option<ColumnValues> {
    match role {
        Role::Numeric => table
            .numeric(name)
            .map(|c| ColumnValues::Numeric(c.values.clone())),
        Role::Categorical => table
            .categorical(name)
            .map(|c| ColumnValues::Categorical((0..c.codes.len()).map(|r| cat(c, r)).collect())),
        Role::Binary => table.binary(name).map(|c| {
            ColumnValues::Categorical(
                c.values
                    .iter()
                    .map(|&x| (!x.is_nan()).then(|| if x >= 0.5 { "1" } else { "0" }.into()))
                    .collect(),
            )
        }),
        Role::Target => table
            .target(name)
            .map(|c| ColumnValues::Categorical(c.values.clone())),
        Role::Id | Role::Ignore => None,
    }
}

fn cat(c: &CategoricalColumn, r: usize) -> Option<String> {
    c.value(r).map(str::to_string)
}

/// KSComplement of two samples (missing values dropped); 1 when both are empty, 0 when one is.
pub fn ks_complement(real: &[f64], synth: &[f64]) -> f64 {
    let mut a: Vec<f64> = real.iter().copied().filter(|x| !x.is_nan()).collect();
    let mut b: Vec<f64> = synth.iter().copied().filter(|x| !x.is_nan()).collect();
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return 1.0,
        (true, false) | (false, true) => return 0.0,
        _ => {}
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    1.0 - d
}

fn shares<K: std::hash::Hash + Eq + Clone>(v: &[K]) -> HashMap<K, f64> {
    let mut m: HashMap<K, f64> = HashMap::new();
    for k in v {
        *m.entry(k.clone()).or_default() += 1.0;
    }
    let n = v.len().max(1) as f64;
    m.values_mut().for_each(|x| *x /= n);
    m
}

fn tv_complement_keys<K: std::hash::Hash + Eq + Clone>(real: &[K], synth: &[K]) -> f64 {
    let (p, q) = (shares(real), shares(synth));
    let mut tv = 0.0;
    for (k, pk) in &p {
        tv += (pk - q.get(k).copied().unwrap_or(0.0)).abs();
    }
    for (k, qk) in &q {
        if !p.contains_key(k) {
            tv += qk;
        }
    }
    1.0 - 0.5 * tv
}

/// TVComplement of two categorical samples (missing is a category).
pub fn tv_complement(real: &[Option<String>], synth: &[Option<String>]) -> f64 {
    tv_complement_keys(real, synth)
}

fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| !x.is_nan() && !y.is_nan())
        .map(|(&x, &y)| (x, y))
        .collect();
    let n = pairs.len() as f64;
    if n < 2.0 {
        return None;
    }
    let (ma, mb) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return None;
    }
    Some(sab / (saa * sbb).sqrt())
}

/// CorrelationSimilarity `1 − |ρ_real − ρ_synth| / 2` (None when a correlation is undefined).
pub fn correlation_similarity(ra: &[f64], rb: &[f64], sa: &[f64], sb: &[f64]) -> Option<f64> {
    Some(1.0 - (pearson(ra, rb)? - pearson(sa, sb)?).abs() / 2.0)
}

/// ContingencySimilarity of two pairs of category keys.
pub fn contingency_similarity(ra: &[u32], rb: &[u32], sa: &[u32], sb: &[u32]) -> f64 {
    let r: Vec<(u32, u32)> = ra.iter().copied().zip(rb.iter().copied()).collect();
    let s: Vec<(u32, u32)> = sa.iter().copied().zip(sb.iter().copied()).collect();
    tv_complement_keys(&r, &s)
}

/// SDMetrics' real-correlation threshold of numeric pairs (`|ρ_real|` must exceed it).
pub const REAL_CORRELATION_THRESHOLD: f64 = 0.5;
/// SDMetrics' real-association threshold of contingency pairs (Cramér's V must exceed it).
pub const REAL_ASSOCIATION_THRESHOLD: f64 = 0.3;

/// Contingency keys of one column of one table: texts get codes in order of first appearance
/// (missing `u32::MAX`); numbers the code numpy's `digitize(x, histogram_bin_edges(x))` gives
/// over the table's own values (1..=10; the maximum and missing values 11).
fn keys(values: &ColumnValues, codes: &mut HashMap<String, u32>) -> Vec<u32> {
    match values {
        ColumnValues::Numeric(v) => {
            let (lo, hi) = v
                .iter()
                .filter(|x| !x.is_nan())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                    (l.min(x), h.max(x))
                });
            // numpy widens an empty range to [lo - 0.5, lo + 0.5].
            let (lo, hi) = if hi > lo {
                (lo, hi)
            } else {
                (lo - 0.5, lo + 0.5)
            };
            let width = (hi - lo) / 10.0;
            v.iter()
                .map(|&x| {
                    if x.is_nan() || x >= hi {
                        11
                    } else {
                        (((x - lo) / width).floor() as i64 + 1).clamp(1, 10) as u32
                    }
                })
                .collect()
        }
        ColumnValues::Categorical(v) => v
            .iter()
            .map(|c| match c {
                None => u32::MAX,
                Some(t) => {
                    let n = codes.len() as u32;
                    *codes.entry(t.clone()).or_insert(n)
                }
            })
            .collect(),
    }
}

/// Cramér's V of two key columns (no continuity correction), as `scipy.stats.contingency.
/// association(method="cramer")`; None when a column has a single level.
pub fn cramers_v(a: &[u32], b: &[u32]) -> Option<f64> {
    let mut cells: HashMap<(u32, u32), f64> = HashMap::new();
    let (mut ra, mut rb): (HashMap<u32, f64>, HashMap<u32, f64>) = Default::default();
    for (&x, &y) in a.iter().zip(b) {
        *cells.entry((x, y)).or_default() += 1.0;
        *ra.entry(x).or_default() += 1.0;
        *rb.entry(y).or_default() += 1.0;
    }
    let n = a.len() as f64;
    let k = ra.len().min(rb.len());
    if k < 2 || n == 0.0 {
        return None;
    }
    let mut chi2 = 0.0;
    for (x, nx) in &ra {
        for (y, ny) in &rb {
            let expected = nx * ny / n;
            let observed = cells.get(&(*x, *y)).copied().unwrap_or(0.0);
            chi2 += (observed - expected).powi(2) / expected;
        }
    }
    Some((chi2 / (n * (k - 1) as f64)).sqrt().min(1.0))
}

/// The shape score of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnScore {
    pub column: String,
    /// `KSComplement` or `TVComplement`.
    pub metric: String,
    pub score: f64,
}

/// The trend score of one column pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairScore {
    pub a: String,
    pub b: String,
    /// `CorrelationSimilarity` or `ContingencySimilarity`.
    pub metric: String,
    pub score: f64,
    /// The real data's association: `|ρ|` (numeric pairs) or Cramér's V (None: undefined).
    #[serde(default)]
    pub real_association: Option<f64>,
    /// Whether the real association passes SDMetrics' threshold (the pair counts in
    /// `column_pair_trends`).
    #[serde(default)]
    pub meets_threshold: bool,
}

/// SDMetrics-style quality report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Mean of the two property scores.
    pub overall: f64,
    pub column_shapes: f64,
    /// Mean over the pairs that pass the real-association thresholds (SDMetrics 0.32).
    pub column_pair_trends: f64,
    /// Mean over every pair.
    #[serde(default)]
    pub column_pair_trends_all: f64,
    /// Pairs that pass the thresholds.
    #[serde(default)]
    pub strong_pairs: usize,
    pub columns: Vec<ColumnScore>,
    pub pairs: Vec<PairScore>,
}

/// The columns both tables hold, by schema order: `(name, real, synthetic)`.
fn shared_columns(
    schema: &Schema,
    real: &RawTable,
    synth: &RawTable,
) -> Vec<(String, ColumnValues, ColumnValues)> {
    schema
        .columns
        .iter()
        .filter_map(|c| {
            Some((
                c.name.clone(),
                column_values(real, &c.name, c.role)?,
                column_values(synth, &c.name, c.role)?,
            ))
        })
        .collect()
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// The quality report of `synth` against `real`.
pub fn quality(schema: &Schema, real: &RawTable, synth: &RawTable) -> Quality {
    let cols = shared_columns(schema, real, synth);
    let columns: Vec<ColumnScore> = cols
        .iter()
        .map(|(name, r, s)| match (r, s) {
            (ColumnValues::Numeric(r), ColumnValues::Numeric(s)) => ColumnScore {
                column: name.clone(),
                metric: "KSComplement".into(),
                score: ks_complement(r, s),
            },
            (ColumnValues::Categorical(r), ColumnValues::Categorical(s)) => ColumnScore {
                column: name.clone(),
                metric: "TVComplement".into(),
                score: tv_complement(r, s),
            },
            _ => unreachable!("both tables are read with one schema"),
        })
        .collect();
    // Text codes are shared by the real and synthetic sides of a column.
    let keyed: Vec<(Vec<u32>, Vec<u32>)> = cols
        .iter()
        .map(|(_, r, s)| {
            let mut codes = HashMap::new();
            (keys(r, &mut codes), keys(s, &mut codes))
        })
        .collect();
    let mut pairs = Vec::new();
    for i in 0..cols.len() {
        for j in i + 1..cols.len() {
            let (score, metric, real_association, threshold) =
                match (&cols[i].1, &cols[j].1, &cols[i].2, &cols[j].2) {
                    (
                        ColumnValues::Numeric(ra),
                        ColumnValues::Numeric(rb),
                        ColumnValues::Numeric(sa),
                        ColumnValues::Numeric(sb),
                    ) => match correlation_similarity(ra, rb, sa, sb) {
                        Some(s) => (
                            s,
                            "CorrelationSimilarity",
                            pearson(ra, rb).map(f64::abs),
                            REAL_CORRELATION_THRESHOLD,
                        ),
                        None => continue,
                    },
                    _ => (
                        contingency_similarity(&keyed[i].0, &keyed[j].0, &keyed[i].1, &keyed[j].1),
                        "ContingencySimilarity",
                        cramers_v(&keyed[i].0, &keyed[j].0),
                        REAL_ASSOCIATION_THRESHOLD,
                    ),
                };
            pairs.push(PairScore {
                a: cols[i].0.clone(),
                b: cols[j].0.clone(),
                metric: metric.into(),
                score,
                real_association,
                meets_threshold: real_association.is_some_and(|r| r > threshold),
            });
        }
    }
    let column_shapes = mean(columns.iter().map(|c| c.score));
    let column_pair_trends_all = mean(pairs.iter().map(|p| p.score));
    let strong_pairs = pairs.iter().filter(|p| p.meets_threshold).count();
    let column_pair_trends = match strong_pairs {
        0 => column_pair_trends_all,
        _ => mean(pairs.iter().filter(|p| p.meets_threshold).map(|p| p.score)),
    };
    Quality {
        overall: (column_shapes + column_pair_trends) / 2.0,
        column_shapes,
        column_pair_trends,
        column_pair_trends_all,
        strong_pairs,
        columns,
        pairs,
    }
}

/// Distance-to-closest-record figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Privacy {
    /// Synthetic rows compared (a seeded subsample of at most `dcr_rows`).
    pub synthetic_rows: usize,
    /// Holdout rows compared.
    pub holdout_rows: usize,
    /// Train rows searched for the closest record (a seeded sample of at most
    /// [`TRAIN_REFERENCE_ROWS`]; 0 in reports written before the cap existed).
    #[serde(default)]
    pub train_rows: usize,
    pub dcr_synthetic_median: f64,
    pub dcr_holdout_median: f64,
    /// Share of synthetic rows closer to train than the median holdout row is.
    pub synthetic_closer_than_holdout_median: f64,
    /// Synthetic rows identical to a train row (distance 0).
    pub exact_copies: usize,
    pub exact_copy_share: f64,
}

/// Rows as per-column normalised numbers for distances: numeric `x / range`, categorical codes.
struct DistanceSpace {
    numeric: Vec<bool>,
}

fn encode_rows(
    schema: &Schema,
    train: &RawTable,
    tables: &[&RawTable],
) -> (DistanceSpace, Vec<Vec<f64>>) {
    let mut numeric = Vec::new();
    let mut out: Vec<Vec<f64>> = tables.iter().map(|_| Vec::new()).collect();
    let cols: Vec<(String, Role)> = schema
        .columns
        .iter()
        .filter(|c| {
            column_values(train, &c.name, c.role).is_some()
                && tables
                    .iter()
                    .all(|t| column_values(t, &c.name, c.role).is_some())
        })
        .map(|c| (c.name.clone(), c.role))
        .collect();
    let ncol = cols.len();
    for (t, o) in tables.iter().zip(out.iter_mut()) {
        *o = vec![0.0; t.n_rows() * ncol];
    }
    for (ci, (name, role)) in cols.iter().enumerate() {
        match column_values(train, name, *role) {
            Some(ColumnValues::Numeric(tr)) => {
                numeric.push(true);
                let (lo, hi) = tr
                    .iter()
                    .filter(|x| !x.is_nan())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                        (l.min(x), h.max(x))
                    });
                let range = if hi > lo { hi - lo } else { 1.0 };
                for (t, o) in tables.iter().zip(out.iter_mut()) {
                    if let Some(ColumnValues::Numeric(v)) = column_values(t, name, *role) {
                        for (r, x) in v.iter().enumerate() {
                            o[r * ncol + ci] = x / range;
                        }
                    }
                }
            }
            _ => {
                numeric.push(false);
                let mut codes: HashMap<Option<String>, f64> = HashMap::new();
                for (t, o) in tables.iter().zip(out.iter_mut()) {
                    if let Some(ColumnValues::Categorical(v)) = column_values(t, name, *role) {
                        for (r, x) in v.into_iter().enumerate() {
                            let n = codes.len() as f64;
                            o[r * ncol + ci] = *codes.entry(x).or_insert(n);
                        }
                    }
                }
            }
        }
    }
    (DistanceSpace { numeric }, out)
}

/// Distance of each query row to its closest reference row (rows of `ncol` encoded values).
fn closest(space: &DistanceSpace, queries: &[f64], reference: &[f64]) -> Vec<f64> {
    let ncol = space.numeric.len();
    if ncol == 0 {
        return Vec::new();
    }
    queries
        .chunks_exact(ncol)
        .map(|q| {
            let mut best = f64::INFINITY;
            for r in reference.chunks_exact(ncol) {
                let mut d = 0.0;
                for c in 0..ncol {
                    let (a, b) = (q[c], r[c]);
                    d += if space.numeric[c] {
                        match (a.is_nan(), b.is_nan()) {
                            (true, true) => 0.0,
                            (false, false) => (a - b).abs(),
                            _ => 1.0,
                        }
                    } else if a == b {
                        0.0
                    } else {
                        1.0
                    };
                    if d >= best {
                        break;
                    }
                }
                if d < best {
                    best = d;
                    if best == 0.0 {
                        break;
                    }
                }
            }
            best / ncol as f64
        })
        .collect()
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// A seeded subsample of at most `k` of `n` row indices (sorted).
fn subsample(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    if n > k {
        let mut rng = StdRng::seed_from_u64(seed);
        for i in 0..k {
            let j = i + (rng.random::<u64>() as usize) % (n - i);
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx.sort_unstable();
    }
    idx
}

/// DCR of (a subsample of) `synth` and `holdout` rows to `train`.
pub fn privacy(
    schema: &Schema,
    train: &RawTable,
    holdout: &RawTable,
    synth: &RawTable,
    max_rows: usize,
    seed: u64,
) -> Privacy {
    let s_rows = subsample(synth.n_rows(), max_rows, seed);
    let h_rows = subsample(holdout.n_rows(), max_rows, seed ^ 1);
    let s = synth.take_rows(&s_rows);
    let h = holdout.take_rows(&h_rows);
    let (space, enc) = encode_rows(schema, train, &[train, &s, &h]);
    let ds = closest(&space, &enc[1], &enc[0]);
    let dh = closest(&space, &enc[2], &enc[0]);
    let hm = median(&dh);
    let copies = ds.iter().filter(|&&d| d == 0.0).count();
    Privacy {
        synthetic_rows: ds.len(),
        holdout_rows: dh.len(),
        train_rows: train.n_rows(),
        dcr_synthetic_median: median(&ds),
        dcr_holdout_median: hm,
        synthetic_closer_than_holdout_median: ds.iter().filter(|&&d| d < hm).count() as f64
            / ds.len().max(1) as f64,
        exact_copies: copies,
        exact_copy_share: copies as f64 / ds.len().max(1) as f64,
    }
}

/// F1 and ROC AUC of one classifier on the real holdout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassifierScores {
    pub f1: f64,
    pub roc_auc: f64,
}

/// TSTR vs TRTR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utility {
    pub target: String,
    pub positive_label: String,
    pub classifier: String,
    /// Trained on synthetic, tested on the real holdout.
    pub tstr: ClassifierScores,
    /// Trained on the real train rows, tested on the real holdout (absent without train rows).
    pub trtr: Option<ClassifierScores>,
    /// TSTR / TRTR.
    pub f1_ratio: Option<f64>,
    pub roc_auc_ratio: Option<f64>,
}

/// Labels of the rows of `t` with a target value (`name`), as (rows, is positive).
fn labels(t: &RawTable, name: &str, positive: &str) -> (Vec<usize>, Vec<bool>) {
    let mut rows = Vec::new();
    let mut y = Vec::new();
    if let Some(c) = t.target(name) {
        for (r, v) in c.values.iter().enumerate() {
            if let Some(v) = v {
                rows.push(r);
                y.push(v == positive);
            }
        }
    }
    (rows, y)
}

fn train_and_score(
    schema: &Schema,
    train: &RawTable,
    test: &RawTable,
    target: &str,
    positive: &str,
) -> anyhow::Result<ClassifierScores> {
    let (tr_rows, tr_y) = labels(train, target, positive);
    let (te_rows, te_y) = labels(test, target, positive);
    anyhow::ensure!(
        !tr_rows.is_empty() && !te_rows.is_empty(),
        "target `{target}` has no values to train or test on"
    );
    let pre = Preprocessor::fit(schema, train, &tr_rows)?;
    let xtr = pre.transform_rows(train, &tr_rows)?;
    let xte = pre.transform_rows(test, &te_rows)?;
    let model = Logistic::fit(&xtr.data, xtr.cols, &tr_y, 1e-3, 400);
    let p = model.predict(&xte.data, xte.cols);
    Ok(ClassifierScores {
        f1: f1(&te_y, &p),
        roc_auc: roc_auc(&te_y, &p).unwrap_or(f64::NAN),
    })
}

/// TSTR (and TRTR with `train`) for the first target column of the schema the holdout has.
/// `None` when there is no such target.
pub fn utility(
    schema: &Schema,
    holdout: &RawTable,
    synth: &RawTable,
    train: Option<&RawTable>,
) -> anyhow::Result<Option<Utility>> {
    let Some(target) = schema
        .columns
        .iter()
        .find(|c| c.role == Role::Target && holdout.target(&c.name).is_some())
    else {
        return Ok(None);
    };
    let values = &holdout.target(&target.name).expect("checked").values;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in values.iter().flatten() {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    let Some(positive) = counts
        .iter()
        .min_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, _)| k.to_string())
    else {
        return Ok(None);
    };
    let tstr = train_and_score(schema, synth, holdout, &target.name, &positive)?;
    let trtr = match train {
        Some(t) => Some(train_and_score(
            schema,
            t,
            holdout,
            &target.name,
            &positive,
        )?),
        None => None,
    };
    Ok(Some(Utility {
        target: target.name.clone(),
        positive_label: positive,
        classifier: "logistic regression (class-balanced, L2 1e-3, 400 GD steps)".into(),
        tstr,
        trtr,
        f1_ratio: trtr.map(|t| tstr.f1 / t.f1),
        roc_auc_ratio: trtr.map(|t| tstr.roc_auc / t.roc_auc),
    }))
}

/// Everything measured for one synthetic table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticReport {
    pub real_rows: usize,
    pub synthetic_rows: usize,
    pub quality: Quality,
    pub privacy: Option<Privacy>,
    pub utility: Option<Utility>,
}

/// Privacy (DCR, exact copies) and TRTR use a seeded sample of at most this many train rows, so
/// that their cost (`O(compared rows × train rows)` for DCR) stops growing with the data. Both
/// the synthetic and the holdout rows are compared with the same sample, so the
/// "closer than holdout" share stays a fair comparison; exact copies are searched among the
/// sampled rows only.
pub const TRAIN_REFERENCE_ROWS: usize = 20_000;

/// A seeded sample of at most [`TRAIN_REFERENCE_ROWS`] of `train_rows` (all of them when there
/// are fewer), in their order: the train rows the quality report compares with.
pub fn reference_rows(train_rows: &[usize], seed: u64) -> Vec<usize> {
    subsample(train_rows.len(), TRAIN_REFERENCE_ROWS, seed ^ 2)
        .into_iter()
        .map(|i| train_rows[i])
        .collect()
}

/// Quality, privacy (with `train`) and utility of `synth` against the real `holdout`.
pub fn evaluate(
    schema: &Schema,
    holdout: &RawTable,
    synth: &RawTable,
    train: Option<&RawTable>,
    dcr_rows: usize,
    seed: u64,
) -> anyhow::Result<SyntheticReport> {
    let sampled;
    let train = match train {
        Some(t) if t.n_rows() > TRAIN_REFERENCE_ROWS => {
            sampled = t.take_rows(&subsample(t.n_rows(), TRAIN_REFERENCE_ROWS, seed ^ 2));
            Some(&sampled)
        }
        other => other,
    };
    Ok(SyntheticReport {
        real_rows: holdout.n_rows(),
        synthetic_rows: synth.n_rows(),
        quality: quality(schema, holdout, synth),
        privacy: train.map(|t| privacy(schema, t, holdout, synth, dcr_rows, seed)),
        utility: utility(schema, holdout, synth, train)?,
    })
}

/// The independent-marginals baseline: `rows` rows whose every cell is drawn independently from
/// the same column of a uniformly drawn row of `table` (correlations destroyed, marginals kept).
pub fn independent_marginals(table: &RawTable, rows: usize, seed: u64) -> RawTable {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = table.n_rows().max(1);
    let mut draw = || -> Vec<usize> {
        (0..rows)
            .map(|_| (rng.random::<u64>() % n as u64) as usize)
            .collect()
    };
    let mut out = table.take_rows(&draw());
    for c in &mut out.numeric {
        let src = table.numeric(&c.name).expect("same table");
        c.values = draw().into_iter().map(|r| src.values[r]).collect();
    }
    for c in &mut out.categorical {
        let src = table.categorical(&c.name).expect("same table");
        c.codes = draw().into_iter().map(|r| src.codes[r]).collect();
    }
    for c in &mut out.binary {
        let src = table.binary(&c.name).expect("same table");
        c.values = draw().into_iter().map(|r| src.values[r]).collect();
    }
    for c in &mut out.targets {
        let src = table.target(&c.name).expect("same table");
        c.values = draw().into_iter().map(|r| src.values[r].clone()).collect();
    }
    out.ids = (0..rows).map(|i| format!("M{:07}", i + 1)).collect();
    out.line_numbers = (0..rows as u64).map(|i| i + 2).collect();
    out
}

#[cfg(test)]
mod tests;
