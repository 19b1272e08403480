//! Seeded k-means with k-means++ initialisation and restarts, through `linfa-clustering`.
//!
//! This is the entry point DEC/IDEC uses to initialise its cluster centres on embeddings, and the
//! `kmeans` baseline. linfa does the work; this wrapper validates inputs, converts sklearn-style
//! tolerance to linfa's, and recomputes labels and inertia for the run linfa keeps.
//!
//! Two linfa details worth knowing:
//! - linfa's update step is "m_k-means": each new centroid is the mean of its members *and* the
//!   previous centroid (`(Σ x + c_old) / (n_c + 1)`). It avoids empty clusters; for clusters of
//!   thousands of rows the difference from Lloyd's mean is negligible.
//! - linfa reports the labels of its *last* restart, not of the best one, so we predict the labels
//!   from the kept centroids (nearest centroid), and compute the inertia ourselves in `f64`.
//!
//! Cost: one Lloyd iteration is O(rows · k · cols); k-means++ seeding is O(rows · k² · cols)
//! in linfa (it recomputes distances to all chosen centres at each step) plus one O(rows) weighted
//! draw per centre. Both are parallel over rows (rayon). See `benches/cluster.rs`.

use linfa::DatasetBase;
use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use serde::Serialize;

use super::{ClusterError, Matrix, check_k, linfa_rng, nearest, sq_dist};

/// Default number of k-means++ restarts (sklearn's classic `n_init=10`).
pub const DEFAULT_N_INIT: usize = 10;
/// Default maximum Lloyd iterations per restart (sklearn's default).
pub const DEFAULT_MAX_ITER: u64 = 300;
/// Default relative tolerance (sklearn's default), see [`kmeans`].
pub const DEFAULT_TOL: f64 = 1e-4;

/// A fitted k-means clustering.
#[derive(Clone, Debug, Serialize)]
pub struct KMeansResult {
    /// Number of clusters.
    pub k: usize,
    /// Number of columns of the data (and of each centroid).
    pub cols: usize,
    /// Centroids, row-major `[k, cols]`, in the data's units.
    pub centroids: Vec<f32>,
    /// Cluster of each row, in `0..k`: the index of its nearest centroid (ties → lower index).
    /// A cluster can be empty in rare degenerate cases (duplicate points, k close to rows).
    pub labels: Vec<usize>,
    /// Sum over rows of the squared Euclidean distance to the assigned centroid (sklearn's
    /// `inertia_`), in squared data units.
    pub inertia: f64,
}

impl KMeansResult {
    /// Centroid `c`, length `cols`.
    pub fn centroid(&self, c: usize) -> &[f32] {
        &self.centroids[c * self.cols..(c + 1) * self.cols]
    }
}

/// Runs k-means on the rows of `m`: `n_init` restarts, each seeded with k-means++ and iterated
/// at most `max_iter` times; the restart with the lowest inertia is kept.
///
/// `tol` is relative, as in sklearn: a restart stops when the squared Frobenius norm of the
/// centroid shift between two iterations is below `tol × mean per-column variance of m`.
/// The whole run is determined by `seed`.
///
/// Errors: [`ClusterError::KTooSmall`] / [`ClusterError::KTooLarge`] unless `2 <= k <= rows`;
/// [`ClusterError::InvalidConfig`] for `n_init == 0`, `max_iter == 0` or `tol` not > 0 and
/// finite; [`ClusterError::Linfa`] when linfa fails.
pub fn kmeans(
    m: Matrix,
    k: usize,
    n_init: usize,
    max_iter: u64,
    tol: f64,
    seed: u64,
) -> Result<KMeansResult, ClusterError> {
    check_k(k, m.rows())?;
    check_kmeans_params(n_init, max_iter, tol)?;
    let linfa_tol = ((tol * mean_column_variance(m)).sqrt() as f32).max(f32::MIN_POSITIVE);
    let params = KMeans::params_with_rng(k, linfa_rng(seed))
        .n_runs(n_init)
        .max_n_iterations(max_iter)
        .tolerance(linfa_tol)
        .init_method(KMeansInit::KMeansPlusPlus)
        .check()
        .map_err(|e| linfa_err("k-means", e))?;
    let dataset = DatasetBase::from(m.view());
    let model = params.fit(&dataset).map_err(|e| linfa_err("k-means", e))?;
    let centroids: Vec<f32> = model.centroids().iter().copied().collect();
    Ok(assign(m, k, centroids))
}

/// Builds a [`KMeansResult`] from centroids: nearest-centroid labels and f64 inertia.
fn assign(m: Matrix, k: usize, centroids: Vec<f32>) -> KMeansResult {
    let cols = m.cols();
    let labels: Vec<usize> = (0..m.rows())
        .map(|i| nearest(m.row(i), &centroids, cols))
        .collect();
    let inertia = labels
        .iter()
        .enumerate()
        .map(|(i, &c)| sq_dist(m.row(i), &centroids[c * cols..(c + 1) * cols]))
        .sum();
    KMeansResult {
        k,
        cols,
        centroids,
        labels,
        inertia,
    }
}

/// Validates the k-means knobs shared by [`kmeans`] and the configs that call it.
pub(crate) fn check_kmeans_params(
    n_init: usize,
    max_iter: u64,
    tol: f64,
) -> Result<(), ClusterError> {
    if n_init == 0 {
        return Err(ClusterError::InvalidConfig {
            field: "n_init",
            rule: "at least 1",
            value: "0".into(),
        });
    }
    if max_iter == 0 {
        return Err(ClusterError::InvalidConfig {
            field: "max_iter",
            rule: "at least 1",
            value: "0".into(),
        });
    }
    if !(tol > 0.0 && tol.is_finite()) {
        return Err(ClusterError::InvalidConfig {
            field: "tol",
            rule: "positive and finite",
            value: tol.to_string(),
        });
    }
    Ok(())
}

/// Mean over columns of the population variance of each column (two-pass, f64).
fn mean_column_variance(m: Matrix) -> f64 {
    let (n, cols) = (m.rows() as f64, m.cols());
    let mut mean = vec![0.0f64; cols];
    for i in 0..m.rows() {
        mean.iter_mut()
            .zip(m.row(i))
            .for_each(|(s, &x)| *s += f64::from(x));
    }
    mean.iter_mut().for_each(|s| *s /= n);
    let mut var = 0.0;
    for i in 0..m.rows() {
        var += m
            .row(i)
            .iter()
            .zip(&mean)
            .map(|(&x, mu)| (f64::from(x) - mu).powi(2))
            .sum::<f64>();
    }
    var / n / cols as f64
}

pub(crate) fn linfa_err(algorithm: &'static str, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Linfa {
        algorithm,
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fixtures::blobs;

    #[test]
    fn recovers_three_blobs() {
        let (data, truth) = blobs();
        let m = Matrix::new(&data, 150, 2).unwrap();
        let r = kmeans(m, 3, 5, 100, 1e-4, 42).unwrap();
        assert_eq!(r.centroids.len(), 6);
        assert_eq!(
            crate::cluster::metrics::cluster_accuracy(&truth, &r.labels).unwrap(),
            1.0
        );
        // Each centroid within 0.2 of a true centre.
        for c in 0..3 {
            let p = r.centroid(c);
            let ok = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)]
                .iter()
                .any(|&(x, y)| ((p[0] - x).powi(2) + (p[1] - y).powi(2)).sqrt() < 0.2);
            assert!(ok, "centroid {p:?} far from every blob centre");
        }
        // Inertia is the sum of squared distances to the assigned centroids.
        let direct: f64 = (0..150)
            .map(|i| sq_dist(m.row(i), r.centroid(r.labels[i])))
            .sum();
        assert!((r.inertia - direct).abs() < 1e-9);
        assert!(r.inertia < 150.0 * 0.5);
    }

    #[test]
    fn same_seed_same_result() {
        let (data, _) = blobs();
        let m = Matrix::new(&data, 150, 2).unwrap();
        let a = kmeans(m, 4, 3, 50, 1e-4, 7).unwrap();
        let b = kmeans(m, 4, 3, 50, 1e-4, 7).unwrap();
        assert_eq!(a.centroids, b.centroids);
        assert_eq!(a.labels, b.labels);
    }

    #[test]
    fn rejects_bad_parameters() {
        let (data, _) = blobs();
        let m = Matrix::new(&data, 150, 2).unwrap();
        assert!(matches!(
            kmeans(m, 1, 1, 10, 1e-4, 0),
            Err(ClusterError::KTooSmall { .. })
        ));
        assert!(matches!(
            kmeans(m, 151, 1, 10, 1e-4, 0),
            Err(ClusterError::KTooLarge { .. })
        ));
        let field = |r: Result<KMeansResult, ClusterError>| match r {
            Err(ClusterError::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        };
        assert_eq!(field(kmeans(m, 3, 0, 10, 1e-4, 0)), "n_init");
        assert_eq!(field(kmeans(m, 3, 1, 0, 1e-4, 0)), "max_iter");
        assert_eq!(field(kmeans(m, 3, 1, 10, 0.0, 0)), "tol");
        assert_eq!(field(kmeans(m, 3, 1, 10, f64::NAN, 0)), "tol");
    }

    #[test]
    fn constant_data_does_not_fail() {
        // Zero variance: the linfa tolerance is clamped to the smallest positive f32.
        let data = [1.0f32; 20];
        let m = Matrix::new(&data, 10, 2).unwrap();
        let r = kmeans(m, 2, 2, 10, 1e-4, 0).unwrap();
        assert_eq!(r.inertia, 0.0);
    }
}
