//! Classical clustering baselines, run through linfa (and kodama for Ward): k-means, Gaussian
//! mixture (with BIC), DBSCAN and agglomerative Ward. Each returns a [`Clustering`].
//!
//! Choices made here:
//! - **DBSCAN noise** gets its own label, one past the last real cluster: with `c` clusters found,
//!   cluster rows are labelled `0..c`, noise rows `c`, [`Clustering::k`] is `c` and
//!   [`Clustering::noise_label`] is `Some(c)` (`None` when there is no noise). External and
//!   internal metrics then treat noise as one more group, as sklearn does with label −1.
//! - **Ward** is O(rows²) in memory (the condensed distance matrix), so it runs on a seeded sample
//!   of at most `ward_max_rows` rows (default 5 000: 12.5 M f64 distances, 100 MB). Sampled rows
//!   keep their Ward label; every other row goes to the nearest Ward-cluster centroid
//!   (Euclidean), the centroids being the means of the sampled members. `linfa-hierarchical` is
//!   not used: it takes a similarity kernel and clusters on `-ln(similarity)` (clamped at
//!   similarity 1e-6), so it cannot be fed plain Euclidean distances, which Ward needs, and it
//!   numbers clusters in `HashMap` order (not reproducible). We call `kodama` (the library it
//!   wraps) directly.
//! - **GMM** uses linfa's full-covariance EM, initialised by k-means. linfa's `n_runs` continues
//!   EM from the previous run instead of re-initialising, so we use one run. linfa does not
//!   expose the log-likelihood, so BIC is computed here from the fitted weights, means and
//!   covariances (see [`gmm_bic`]).

use linfa::DatasetBase;
use linfa::prelude::*;
use linfa_clustering::{Dbscan, GaussianMixtureModel, GmmInitMethod};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::kmeans::{check_kmeans_params, kmeans, linfa_err};
use super::{ClusterError, Matrix, check_k, gather_rows, linfa_rng, nearest, sample_rows};

/// The classical baselines. Serialized in snake_case: `kmeans`, `gmm`, `dbscan`, `ward`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// k-means, k-means++ init, `n_init` restarts ([`kmeans`]).
    Kmeans,
    /// Gaussian mixture, full covariances, EM initialised by k-means.
    Gmm,
    /// Density-based clustering; the number of clusters comes out of `dbscan_eps` and
    /// `dbscan_min_points`.
    Dbscan,
    /// Agglomerative clustering with Ward linkage on a sample, see the module docs.
    Ward,
}

/// Configuration of one baseline run. Unknown keys are rejected; every field has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineConfig {
    /// Which algorithm to run.
    pub algorithm: Baseline,
    /// Number of clusters for k-means, GMM and Ward (ignored by DBSCAN). Default 8.
    #[serde(default = "default_k")]
    pub k: usize,
    /// k-means restarts. Default 10.
    #[serde(default = "default_n_init")]
    pub n_init: usize,
    /// Maximum k-means iterations per restart. Default 300.
    #[serde(default = "default_max_iter")]
    pub max_iter: u64,
    /// k-means relative tolerance (see [`kmeans`]). Default 1e-4.
    #[serde(default = "default_tol")]
    pub tol: f64,
    /// GMM: maximum EM iterations; not converging by then is an error. Default 200.
    #[serde(default = "default_gmm_max_iter")]
    pub gmm_max_iter: u64,
    /// GMM: stop when the mean per-row log-likelihood (nats) changes by less. Default 1e-3.
    #[serde(default = "default_gmm_tol")]
    pub gmm_tol: f64,
    /// GMM: added to covariance diagonals, in squared data units. Default 1e-6.
    #[serde(default = "default_gmm_reg_covar")]
    pub gmm_reg_covar: f64,
    /// DBSCAN: neighbourhood radius (Euclidean, data units; inclusive). Default 0.5.
    #[serde(default = "default_dbscan_eps")]
    pub dbscan_eps: f64,
    /// DBSCAN: rows within `dbscan_eps` (the row itself included) for a core row. Default 5.
    #[serde(default = "default_dbscan_min_points")]
    pub dbscan_min_points: usize,
    /// Ward: at most this many rows go into the O(n²) linkage. Default 5 000.
    #[serde(default = "default_ward_max_rows")]
    pub ward_max_rows: usize,
    /// k-means and GMM: fit on a seeded sample of at most this many rows, then label every
    /// row (nearest centroid; most likely component). The GMM's BIC is that of the sample.
    /// Default 100 000.
    #[serde(default = "default_fit_max_rows")]
    pub fit_max_rows: usize,
}

/// The smallest valid `dbscan_min_points`: with 1, every row is a core point and DBSCAN is
/// connected components of the `eps` graph. `dec.dbscan_min_points` is checked against it too.
pub const DBSCAN_MIN_POINTS: usize = 2;

fn default_k() -> usize {
    8
}
fn default_n_init() -> usize {
    super::kmeans::DEFAULT_N_INIT
}
fn default_max_iter() -> u64 {
    super::kmeans::DEFAULT_MAX_ITER
}
fn default_tol() -> f64 {
    super::kmeans::DEFAULT_TOL
}
fn default_gmm_max_iter() -> u64 {
    200
}
fn default_gmm_tol() -> f64 {
    1e-3
}
fn default_gmm_reg_covar() -> f64 {
    1e-6
}
fn default_dbscan_eps() -> f64 {
    0.5
}
fn default_dbscan_min_points() -> usize {
    5
}
fn default_ward_max_rows() -> usize {
    5000
}
fn default_fit_max_rows() -> usize {
    100_000
}

impl BaselineConfig {
    /// The defaults for `algorithm`.
    pub fn new(algorithm: Baseline) -> Self {
        Self {
            algorithm,
            k: default_k(),
            n_init: default_n_init(),
            max_iter: default_max_iter(),
            tol: default_tol(),
            gmm_max_iter: default_gmm_max_iter(),
            gmm_tol: default_gmm_tol(),
            gmm_reg_covar: default_gmm_reg_covar(),
            dbscan_eps: default_dbscan_eps(),
            dbscan_min_points: default_dbscan_min_points(),
            ward_max_rows: default_ward_max_rows(),
            fit_max_rows: default_fit_max_rows(),
        }
    }

    /// Checks the fields the chosen algorithm uses, for a matrix of `rows` rows.
    pub fn check(&self, rows: usize) -> Result<(), ClusterError> {
        let invalid =
            |field, rule, value: String| Err(ClusterError::InvalidConfig { field, rule, value });
        match self.algorithm {
            Baseline::Kmeans => {
                check_k(self.k, rows.min(self.fit_max_rows))?;
                check_kmeans_params(self.n_init, self.max_iter, self.tol)?;
            }
            Baseline::Gmm => {
                check_k(self.k, rows.min(self.fit_max_rows))?;
                if self.gmm_max_iter == 0 {
                    return invalid("gmm_max_iter", "at least 1", "0".into());
                }
                if !(self.gmm_tol > 0.0 && self.gmm_tol.is_finite()) {
                    return invalid("gmm_tol", "positive and finite", self.gmm_tol.to_string());
                }
                if !(self.gmm_reg_covar >= 0.0 && self.gmm_reg_covar.is_finite()) {
                    return invalid(
                        "gmm_reg_covar",
                        "non-negative and finite",
                        self.gmm_reg_covar.to_string(),
                    );
                }
            }
            Baseline::Dbscan => {
                if !(self.dbscan_eps > 0.0 && self.dbscan_eps.is_finite()) {
                    return invalid(
                        "dbscan_eps",
                        "positive and finite",
                        self.dbscan_eps.to_string(),
                    );
                }
                if self.dbscan_min_points < DBSCAN_MIN_POINTS {
                    return invalid(
                        "dbscan_min_points",
                        "at least 2",
                        self.dbscan_min_points.to_string(),
                    );
                }
            }
            Baseline::Ward => {
                if self.ward_max_rows < 2 {
                    return invalid(
                        "ward_max_rows",
                        "at least 2",
                        self.ward_max_rows.to_string(),
                    );
                }
                check_k(self.k, rows.min(self.ward_max_rows))?;
            }
        }
        Ok(())
    }
}

/// The output of a baseline: one label per row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Clustering {
    /// Cluster of each row: `0..k`, plus `k` for DBSCAN noise (see `noise_label`).
    pub labels: Vec<usize>,
    /// Number of clusters, DBSCAN noise not counted.
    pub k: usize,
    /// Cluster centres, row-major `[k, cols]` in data units: k-means centroids, GMM means,
    /// member means for DBSCAN (noise excluded) and Ward (sampled members). `None` for a DBSCAN
    /// run that found no cluster.
    pub centroids: Option<Vec<f32>>,
    /// GMM only: Bayesian information criterion on the fitted rows (lower is better).
    pub bic: Option<f64>,
    /// DBSCAN only: the label given to noise rows (`Some(k)`), `None` when no row is noise.
    pub noise_label: Option<usize>,
}

/// Runs the baseline `b` on the rows of `m`, seeded by `seed`.
///
/// Errors: the config's [`BaselineConfig::check`] errors; [`ClusterError::Linfa`] when linfa
/// fails (for GMM, also when EM does not converge within `gmm_max_iter`).
pub fn run_baseline(b: &BaselineConfig, m: Matrix, seed: u64) -> Result<Clustering, ClusterError> {
    b.check(m.rows())?;
    // k-means and GMM fit on at most `fit_max_rows` rows.
    let idx = sample_rows(m.rows(), b.fit_max_rows, seed ^ 0xF17_5A3F);
    let sample = (idx.len() < m.rows()).then(|| gather_rows(m, &idx));
    let fit_on = match &sample {
        Some(data) => Matrix::new(data, idx.len(), m.cols())?,
        None => m,
    };
    match b.algorithm {
        Baseline::Kmeans => {
            let r = kmeans(fit_on, b.k, b.n_init, b.max_iter, b.tol, seed)?;
            let labels = match sample {
                Some(_) => (0..m.rows())
                    .map(|i| nearest(m.row(i), &r.centroids, m.cols()))
                    .collect(),
                None => r.labels,
            };
            Ok(Clustering {
                labels,
                k: b.k,
                centroids: Some(r.centroids),
                bic: None,
                noise_label: None,
            })
        }
        Baseline::Gmm => gmm(b, fit_on, m, seed),
        Baseline::Dbscan => dbscan(b, m),
        Baseline::Ward => ward(b, m, seed),
    }
}

fn to_f64(m: Matrix) -> Array2<f64> {
    m.view().mapv(f64::from)
}

/// A GMM fit on `fit_on` (a sample of `m`, or `m` itself) labelling every row of `m`.
fn gmm(
    b: &BaselineConfig,
    fit_on: Matrix,
    m: Matrix,
    seed: u64,
) -> Result<Clustering, ClusterError> {
    let x = to_f64(fit_on);
    let model = GaussianMixtureModel::params_with_rng(b.k, linfa_rng(seed))
        .n_runs(1)
        .max_n_iterations(b.gmm_max_iter)
        .tolerance(b.gmm_tol)
        .reg_covariance(b.gmm_reg_covar)
        .init_method(GmmInitMethod::KMeans)
        .fit(&DatasetBase::from(x.view()))
        .map_err(|e| linfa_err("gaussian mixture", e))?;
    let labels = if fit_on.rows() == m.rows() {
        model.predict(&x).to_vec()
    } else {
        model.predict(&to_f64(m)).to_vec()
    };
    let (weights, means, covs) = (model.weights(), model.means(), model.covariances());
    let ll = gmm_log_likelihood(
        fit_on,
        &weights.iter().copied().collect::<Vec<_>>(),
        &means.iter().copied().collect::<Vec<_>>(),
        &covs.iter().copied().collect::<Vec<_>>(),
    )?;
    Ok(Clustering {
        labels,
        k: b.k,
        centroids: Some(means.iter().map(|&v| v as f32).collect()),
        bic: Some(gmm_bic(ll, b.k, fit_on.cols(), fit_on.rows())),
        noise_label: None,
    })
}

/// BIC of a full-covariance Gaussian mixture (sklearn `GaussianMixture.bic`):
/// `−2 · log_likelihood + p · ln(rows)` with `p = k·d + k·d(d+1)/2 + (k − 1)` free parameters
/// (means, covariances, weights) for `d = cols`. `log_likelihood` is the total over rows, in nats.
pub fn gmm_bic(log_likelihood: f64, k: usize, cols: usize, rows: usize) -> f64 {
    let (k, d) = (k as f64, cols as f64);
    let p = k * d + k * d * (d + 1.0) / 2.0 + k - 1.0;
    -2.0 * log_likelihood + p * (rows as f64).ln()
}

/// Total log-likelihood (nats) of the rows of `m` under a Gaussian mixture with `weights` `[k]`,
/// `means` `[k, d]` and full `covariances` `[k, d, d]` (row-major):
/// `Σ_i ln Σ_c w_c N(x_i | μ_c, Σ_c)`, evaluated with Cholesky factors and log-sum-exp.
///
/// Errors: [`ClusterError::Linfa`] when a covariance is not positive definite.
pub fn gmm_log_likelihood(
    m: Matrix,
    weights: &[f64],
    means: &[f64],
    covariances: &[f64],
) -> Result<f64, ClusterError> {
    let d = m.cols();
    let k = weights.len();
    let chol: Vec<Vec<f64>> = (0..k)
        .map(|c| cholesky(&covariances[c * d * d..(c + 1) * d * d], d))
        .collect::<Option<_>>()
        .ok_or_else(|| linfa_err("gaussian mixture", "a covariance is not positive definite"))?;
    let log_norm: Vec<f64> = (0..k)
        .map(|c| {
            let log_det: f64 = (0..d).map(|i| chol[c][i * d + i].ln()).sum::<f64>() * 2.0;
            weights[c].ln() - 0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + log_det)
        })
        .collect();
    let mut z = vec![0.0; d];
    let mut logp = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..m.rows() {
        let x = m.row(i);
        for c in 0..k {
            // Solve L z = x − μ by forward substitution; the Mahalanobis distance is ‖z‖².
            let (l, mu) = (&chol[c], &means[c * d..(c + 1) * d]);
            for r in 0..d {
                let s: f64 = (0..r).map(|j| l[r * d + j] * z[j]).sum();
                z[r] = (f64::from(x[r]) - mu[r] - s) / l[r * d + r];
            }
            logp[c] = log_norm[c] - 0.5 * z.iter().map(|v| v * v).sum::<f64>();
        }
        let max = logp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        total += max + logp.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
    }
    Ok(total)
}

/// Lower Cholesky factor `L` (row-major `[d, d]`) of a symmetric positive-definite `a`, or
/// `None` if `a` is not positive definite.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..j).map(|p| l[i * d + p] * l[j * d + p]).sum();
            if i == j {
                let v = a[i * d + i] - s;
                if v <= 0.0 || !v.is_finite() {
                    return None;
                }
                l[i * d + i] = v.sqrt();
            } else {
                l[i * d + j] = (a[i * d + j] - s) / l[j * d + j];
            }
        }
    }
    Some(l)
}

fn dbscan(b: &BaselineConfig, m: Matrix) -> Result<Clustering, ClusterError> {
    let memberships = Dbscan::params(b.dbscan_min_points)
        .tolerance(b.dbscan_eps as f32)
        .transform(&m.view())
        .map_err(|e| linfa_err("dbscan", e))?;
    let k = memberships
        .iter()
        .flatten()
        .map(|&c| c + 1)
        .max()
        .unwrap_or(0);
    let has_noise = memberships.iter().any(Option::is_none);
    let labels: Vec<usize> = memberships.iter().map(|c| c.unwrap_or(k)).collect();
    let centroids = (k > 0).then(|| member_means(m, &labels, k));
    Ok(Clustering {
        labels,
        k,
        centroids,
        bic: None,
        noise_label: has_noise.then_some(k),
    })
}

/// Means of the rows labelled `0..k` (rows with label ≥ k are skipped), `[k, cols]`.
fn member_means(m: Matrix, labels: &[usize], k: usize) -> Vec<f32> {
    let cols = m.cols();
    let (mut sum, mut n) = (vec![0.0f64; k * cols], vec![0usize; k]);
    for (i, &c) in labels.iter().enumerate().filter(|(_, c)| **c < k) {
        n[c] += 1;
        sum[c * cols..(c + 1) * cols]
            .iter_mut()
            .zip(m.row(i))
            .for_each(|(s, &x)| *s += f64::from(x));
    }
    sum.iter()
        .enumerate()
        .map(|(j, s)| (s / n[j / cols].max(1) as f64) as f32)
        .collect()
}

fn ward(b: &BaselineConfig, m: Matrix, seed: u64) -> Result<Clustering, ClusterError> {
    let idx = sample_rows(m.rows(), b.ward_max_rows, seed);
    let n = idx.len();
    let mut condensed = Vec::with_capacity(n * (n - 1) / 2);
    for a in 0..n {
        for &ib in &idx[a + 1..] {
            condensed.push(super::sq_dist(m.row(idx[a]), m.row(ib)).sqrt());
        }
    }
    let dendrogram = kodama::linkage(&mut condensed, n, kodama::Method::Ward);
    // Replay the first n − k merges; node n + s is the cluster formed at step s.
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    for (s, step) in dendrogram.steps()[..n - b.k].iter().enumerate() {
        parent[step.cluster1] = n + s;
        parent[step.cluster2] = n + s;
    }
    let root = |mut x: usize| {
        while parent[x] != x {
            x = parent[x];
        }
        x
    };
    // Number clusters in order of their first sampled row, for reproducible labels.
    let mut ids = std::collections::HashMap::new();
    let sample_labels: Vec<usize> = (0..n)
        .map(|a| {
            let next = ids.len();
            *ids.entry(root(a)).or_insert(next)
        })
        .collect();
    let mut sample_data = Vec::with_capacity(n * m.cols());
    idx.iter()
        .for_each(|&i| sample_data.extend_from_slice(m.row(i)));
    let sample_m = Matrix {
        data: &sample_data,
        rows: n,
        cols: m.cols(),
    };
    let centroids = member_means(sample_m, &sample_labels, b.k);
    let mut labels: Vec<usize> = (0..m.rows())
        .map(|i| nearest(m.row(i), &centroids, m.cols()))
        .collect();
    idx.iter()
        .zip(&sample_labels)
        .for_each(|(&i, &l)| labels[i] = l);
    Ok(Clustering {
        labels,
        k: b.k,
        centroids: Some(centroids),
        bic: None,
        noise_label: None,
    })
}

#[cfg(test)]
#[path = "baselines_tests.rs"]
mod tests;
