//! Clustering metrics with scikit-learn's definitions.
//!
//! External metrics compare a predicted labelling with true labels: [`cluster_accuracy`]
//! (Hungarian-matched), [`normalized_mutual_info`] (arithmetic-mean normalisation) and
//! [`adjusted_rand_index`]. Internal metrics judge a labelling of a [`Matrix`] alone, with
//! Euclidean distance: [`silhouette`], [`calinski_harabasz`], [`davies_bouldin`].
//!
//! Labels are arbitrary `usize` values (they need not be `0..k`); only their equality matters.
//! All sums are taken in `f64`.

use std::collections::BTreeMap;

use super::{ClusterError, Matrix, check_labels, sample_rows, sq_dist};

/// Default number of rows for the sampled silhouette (sklearn has no default; 4000 rows give a
/// standard error well under 0.01 at O(4000²) distance evaluations).
pub const DEFAULT_SILHOUETTE_SAMPLE: usize = 4000;

/// Maps labels to dense ids `0..n_distinct` in ascending label order.
fn densify(labels: &[usize]) -> (Vec<usize>, usize) {
    let mut ids = BTreeMap::new();
    for &l in labels {
        ids.entry(l).or_insert(0);
    }
    for (i, v) in ids.values_mut().enumerate() {
        *v = i;
    }
    (labels.iter().map(|l| ids[l]).collect(), ids.len())
}

/// Contingency table `[n_true, n_pred]` (row-major counts) of two labellings of equal length.
fn contingency(
    labels_true: &[usize],
    labels_pred: &[usize],
) -> Result<(Vec<u64>, usize, usize), ClusterError> {
    check_labels(labels_pred, labels_true.len())?;
    if labels_true.is_empty() {
        return Err(ClusterError::EmptyLabels);
    }
    let (t, nt) = densify(labels_true);
    let (p, np) = densify(labels_pred);
    let mut table = vec![0u64; nt * np];
    for (&a, &b) in t.iter().zip(&p) {
        table[a * np + b] += 1;
    }
    Ok((table, nt, np))
}

/// Maximum-weight assignment of rows to columns of a `[rows, cols]` weight matrix with
/// `rows <= cols` (Kuhn–Munkres with potentials, O(rows² · cols)). Returns the column of each row.
fn max_weight_assignment(weights: &[f64], rows: usize, cols: usize) -> Vec<usize> {
    debug_assert!(rows <= cols);
    let max = weights.iter().copied().fold(0.0, f64::max);
    // Minimise cost = max - weight; 1-based arrays with a virtual column 0.
    let cost = |i: usize, j: usize| max - weights[(i - 1) * cols + (j - 1)];
    let (mut u, mut v) = (vec![0.0; rows + 1], vec![0.0; cols + 1]);
    let (mut owner, mut way) = (vec![0usize; cols + 1], vec![0usize; cols + 1]);
    for i in 1..=rows {
        owner[0] = i;
        let mut j0 = 0;
        let mut min_v = vec![f64::INFINITY; cols + 1];
        let mut used = vec![false; cols + 1];
        loop {
            used[j0] = true;
            let (i0, mut delta, mut j1) = (owner[j0], f64::INFINITY, 0);
            for j in 1..=cols {
                if !used[j] {
                    let cur = cost(i0, j) - u[i0] - v[j];
                    if cur < min_v[j] {
                        min_v[j] = cur;
                        way[j] = j0;
                    }
                    if min_v[j] < delta {
                        delta = min_v[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=cols {
                if used[j] {
                    u[owner[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_v[j] -= delta;
                }
            }
            j0 = j1;
            if owner[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            owner[j0] = owner[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut assignment = vec![0; rows];
    for j in 1..=cols {
        if owner[j] != 0 {
            assignment[owner[j] - 1] = j - 1;
        }
    }
    assignment
}

/// One-to-one matching of predicted clusters to true classes that maximises the number of rows
/// whose matched class is their true class (Hungarian algorithm on the contingency table).
///
/// Returns `(predicted_label, true_label)` pairs, sorted by predicted label. When there are more
/// predicted clusters than classes (or the reverse) the surplus ones stay unmatched.
pub fn match_clusters(
    labels_true: &[usize],
    labels_pred: &[usize],
) -> Result<Vec<(usize, usize)>, ClusterError> {
    let (table, nt, np) = contingency(labels_true, labels_pred)?;
    let mut true_ids: Vec<usize> = labels_true.to_vec();
    true_ids.sort_unstable();
    true_ids.dedup();
    let mut pred_ids: Vec<usize> = labels_pred.to_vec();
    pred_ids.sort_unstable();
    pred_ids.dedup();
    let mut pairs: Vec<(usize, usize)> = if np <= nt {
        // Rows = predicted clusters.
        let w: Vec<f64> = (0..np * nt)
            .map(|x| table[(x % nt) * np + x / nt] as f64)
            .collect();
        let a = max_weight_assignment(&w, np, nt);
        a.iter()
            .enumerate()
            .map(|(p, &t)| (pred_ids[p], true_ids[t]))
            .collect()
    } else {
        let w: Vec<f64> = table.iter().map(|&c| c as f64).collect();
        let a = max_weight_assignment(&w, nt, np);
        a.iter()
            .enumerate()
            .map(|(t, &p)| (pred_ids[p], true_ids[t]))
            .collect()
    };
    pairs.sort_unstable();
    Ok(pairs)
}

/// Clustering accuracy: the share of rows whose predicted cluster, mapped to a class by the best
/// one-to-one matching ([`match_clusters`]), equals the true class. In `[0, 1]`.
pub fn cluster_accuracy(labels_true: &[usize], labels_pred: &[usize]) -> Result<f64, ClusterError> {
    let pairs = match_clusters(labels_true, labels_pred)?;
    let map: BTreeMap<usize, usize> = pairs.into_iter().collect();
    let hits = labels_true
        .iter()
        .zip(labels_pred)
        .filter(|(t, p)| map.get(p) == Some(t))
        .count();
    Ok(hits as f64 / labels_true.len() as f64)
}

/// Shannon entropy (nats) of a distribution given by counts summing to `n`.
fn entropy(counts: impl Iterator<Item = u64>, n: f64) -> f64 {
    counts
        .filter(|&c| c > 0)
        .map(|c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Normalised mutual information, `MI(U, V) / mean(H(U), H(V))` with the arithmetic mean —
/// sklearn's default `normalized_mutual_info_score`. In `[0, 1]`.
///
/// As in sklearn: 1.0 when both labellings have a single cluster; 0.0 when MI is 0.
pub fn normalized_mutual_info(
    labels_true: &[usize],
    labels_pred: &[usize],
) -> Result<f64, ClusterError> {
    let (table, nt, np) = contingency(labels_true, labels_pred)?;
    if nt == 1 && np == 1 {
        return Ok(1.0);
    }
    let n = labels_true.len() as f64;
    let row: Vec<u64> = (0..nt)
        .map(|i| table[i * np..(i + 1) * np].iter().sum())
        .collect();
    let col: Vec<u64> = (0..np)
        .map(|j| (0..nt).map(|i| table[i * np + j]).sum())
        .collect();
    let mut mi = 0.0;
    for i in 0..nt {
        for j in 0..np {
            let c = table[i * np + j];
            if c > 0 {
                let c = c as f64;
                mi += c / n * (c * n / (row[i] as f64 * col[j] as f64)).ln();
            }
        }
    }
    let mi = mi.max(0.0);
    if mi <= 0.0 {
        return Ok(0.0);
    }
    let h = (entropy(row.into_iter(), n) + entropy(col.into_iter(), n)) / 2.0;
    Ok((mi / h).min(1.0))
}

/// Adjusted Rand index (sklearn `adjusted_rand_score`), from the pair confusion matrix:
/// `2 (tp·tn − fn·fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn))`, 1.0 when `fn = fp = 0`.
/// In `[-0.5, 1]`; 0 is the expected value for random labellings.
pub fn adjusted_rand_index(
    labels_true: &[usize],
    labels_pred: &[usize],
) -> Result<f64, ClusterError> {
    let (table, nt, np) = contingency(labels_true, labels_pred)?;
    let n = labels_true.len() as u128;
    let row: Vec<u128> = (0..nt)
        .map(|i| table[i * np..(i + 1) * np].iter().map(|&c| c as u128).sum())
        .collect();
    let col: Vec<u128> = (0..np)
        .map(|j| (0..nt).map(|i| table[i * np + j] as u128).sum())
        .collect();
    let sum_sq: u128 = table.iter().map(|&c| (c as u128) * (c as u128)).sum();
    let tp = sum_sq - n;
    // Ordered pairs: fp = same cluster but different class, fn = same class but different cluster.
    let fp = col.iter().map(|c| c * c).sum::<u128>() - sum_sq;
    let fn_ = row.iter().map(|r| r * r).sum::<u128>() - sum_sq;
    let tn = n * n - tp - fp - fn_ - n;
    if fn_ == 0 && fp == 0 {
        return Ok(1.0);
    }
    let (tp, tn, fp, fn_) = (tp as f64, tn as f64, fp as f64, fn_ as f64);
    Ok(2.0 * (tp * tn - fn_ * fp) / ((tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn)))
}

/// Dense labels and their count, checking sklearn's `2 <= n_labels <= n - 1` rule.
fn internal_labels(
    metric: &'static str,
    labels: &[usize],
) -> Result<(Vec<usize>, usize), ClusterError> {
    let (dense, k) = densify(labels);
    let n = labels.len();
    if k < 2 || k >= n {
        return Err(ClusterError::DegenerateLabels {
            metric,
            n_labels: k,
            n,
        });
    }
    Ok((dense, k))
}

/// Per-cluster sizes and centroids (`[k, cols]`, f64) of a dense labelling.
fn centroids(m: Matrix, dense: &[usize], k: usize) -> (Vec<usize>, Vec<f64>) {
    let cols = m.cols();
    let (mut size, mut sum) = (vec![0usize; k], vec![0.0f64; k * cols]);
    for (i, &c) in dense.iter().enumerate() {
        size[c] += 1;
        for (s, &x) in sum[c * cols..(c + 1) * cols].iter_mut().zip(m.row(i)) {
            *s += f64::from(x);
        }
    }
    for c in 0..k {
        sum[c * cols..(c + 1) * cols]
            .iter_mut()
            .for_each(|s| *s /= size[c] as f64);
    }
    (size, sum)
}

fn sq_dist_f64(x: &[f32], c: &[f64]) -> f64 {
    x.iter()
        .zip(c)
        .map(|(&a, &b)| (f64::from(a) - b).powi(2))
        .sum()
}

/// Mean silhouette coefficient (sklearn `silhouette_score`, Euclidean), in `[-1, 1]`.
///
/// For row `i` in cluster `A`: `a` = mean distance to the other rows of `A`, `b` = the smallest
/// mean distance to the rows of another cluster, `s = (b − a) / max(a, b)`, and `s = 0` when `A`
/// has one row. Exact when `rows <= sample_size`; otherwise computed, as sklearn does with its
/// `sample_size` argument, on `sample_size` rows drawn without replacement with `seed` (labels
/// restricted to the sample). Cost O(min(rows, sample_size)² · cols).
///
/// Errors: [`ClusterError::DegenerateLabels`] unless `2 <= distinct labels <= n − 1` in the rows
/// used; [`ClusterError::InvalidConfig`] when `sample_size < 2`.
pub fn silhouette(
    m: Matrix,
    labels: &[usize],
    sample_size: usize,
    seed: u64,
) -> Result<f64, ClusterError> {
    check_labels(labels, m.rows())?;
    if sample_size < 2 {
        return Err(ClusterError::InvalidConfig {
            field: "sample_size",
            rule: "at least 2",
            value: sample_size.to_string(),
        });
    }
    let idx = sample_rows(m.rows(), sample_size, seed);
    let sampled: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
    let (dense, k) = internal_labels("silhouette", &sampled)?;
    let mut size = vec![0usize; k];
    dense.iter().for_each(|&c| size[c] += 1);
    let mut total = 0.0;
    let mut dist_sum = vec![0.0f64; k];
    for (a, &ia) in idx.iter().enumerate() {
        dist_sum.iter_mut().for_each(|d| *d = 0.0);
        let xa = m.row(ia);
        for (b, &ib) in idx.iter().enumerate() {
            dist_sum[dense[b]] += sq_dist(xa, m.row(ib)).sqrt();
        }
        let own = dense[a];
        if size[own] == 1 {
            continue;
        }
        let a_mean = dist_sum[own] / (size[own] - 1) as f64;
        let b_mean = (0..k)
            .filter(|&c| c != own)
            .map(|c| dist_sum[c] / size[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let denom = a_mean.max(b_mean);
        if denom > 0.0 {
            total += (b_mean - a_mean) / denom;
        }
    }
    Ok(total / idx.len() as f64)
}

/// Calinski–Harabasz score (sklearn): `[B / (k − 1)] / [W / (n − k)]` with `B` the
/// between-cluster dispersion `Σ_c n_c ‖μ_c − μ‖²` and `W` the within-cluster dispersion
/// `Σ_i ‖x_i − μ_{c(i)}‖²`; 1.0 when `W = 0`. Higher is better. Uses all rows, O(rows · cols).
///
/// Errors: [`ClusterError::DegenerateLabels`] unless `2 <= distinct labels <= n − 1`.
pub fn calinski_harabasz(m: Matrix, labels: &[usize]) -> Result<f64, ClusterError> {
    check_labels(labels, m.rows())?;
    let (dense, k) = internal_labels("calinski_harabasz", labels)?;
    let (size, cent) = centroids(m, &dense, k);
    let cols = m.cols();
    let n = m.rows();
    let mut mean = vec![0.0; cols];
    for c in 0..k {
        for (mu, &x) in mean.iter_mut().zip(&cent[c * cols..(c + 1) * cols]) {
            *mu += x * size[c] as f64 / n as f64;
        }
    }
    let between: f64 = (0..k)
        .map(|c| {
            let d: f64 = cent[c * cols..(c + 1) * cols]
                .iter()
                .zip(&mean)
                .map(|(a, b)| (a - b).powi(2))
                .sum();
            size[c] as f64 * d
        })
        .sum();
    let within: f64 = (0..n)
        .map(|i| sq_dist_f64(m.row(i), &cent[dense[i] * cols..(dense[i] + 1) * cols]))
        .sum();
    if within == 0.0 {
        return Ok(1.0);
    }
    Ok(between * (n - k) as f64 / (within * (k - 1) as f64))
}

/// Davies–Bouldin index (sklearn): the mean over clusters `i` of `max_{j≠i} (s_i + s_j) / d_ij`,
/// with `s_i` the mean Euclidean distance of cluster `i`'s rows to its centroid and `d_ij` the
/// distance between centroids (pairs with `d_ij = 0` are skipped). 0.0 when all `s_i` or all
/// `d_ij` are ~0 (≤ 1e-8). Lower is better. Uses all rows, O(rows · cols).
///
/// Errors: [`ClusterError::DegenerateLabels`] unless `2 <= distinct labels <= n − 1`.
pub fn davies_bouldin(m: Matrix, labels: &[usize]) -> Result<f64, ClusterError> {
    check_labels(labels, m.rows())?;
    let (dense, k) = internal_labels("davies_bouldin", labels)?;
    let (size, cent) = centroids(m, &dense, k);
    let cols = m.cols();
    let mut spread = vec![0.0; k];
    for (i, &c) in dense.iter().enumerate() {
        spread[c] += sq_dist_f64(m.row(i), &cent[c * cols..(c + 1) * cols]).sqrt();
    }
    spread
        .iter_mut()
        .zip(&size)
        .for_each(|(s, &n)| *s /= n as f64);
    let cdist = |i: usize, j: usize| -> f64 {
        cent[i * cols..(i + 1) * cols]
            .iter()
            .zip(&cent[j * cols..(j + 1) * cols])
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let all_centroids_equal = (0..k).all(|i| (0..k).all(|j| cdist(i, j) <= 1e-8));
    if spread.iter().all(|&s| s <= 1e-8) || all_centroids_equal {
        return Ok(0.0);
    }
    let score: f64 = (0..k)
        .map(|i| {
            (0..k)
                .filter(|&j| j != i)
                .map(|j| {
                    let d = cdist(i, j);
                    if d == 0.0 {
                        0.0
                    } else {
                        (spread[i] + spread[j]) / d
                    }
                })
                .fold(0.0, f64::max)
        })
        .sum();
    Ok(score / k as f64)
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
