//! The non-neural half of segmentation: clustering metrics, classical baselines (through linfa),
//! model selection over k, and human-readable segment profiles.
//!
//! Everything here works on plain row-major slices so that it has no dependency on Burn or on the
//! rest of teleseg: embeddings come in as a [`Matrix`] of `f32`, labels as `&[usize]`, and the
//! raw feature table for profiles as `&[f64]` with `NaN` for missing values.
//!
//! Randomness is always seeded by the caller (`seed: u64`); the same inputs and seed give the
//! same outputs. Our own sampling uses `rand` 0.10; linfa, which is built on `rand` 0.8, gets its
//! own `Xoshiro256Plus` seeded from the same seed.

pub mod baselines;
pub mod kmeans;
pub mod metrics;
pub mod profile;
pub mod selection;
pub mod surrogate;
pub mod table;
pub mod whiten;

pub use baselines::{Baseline, BaselineConfig, Clustering, run_baseline};
pub use kmeans::{KMeansResult, kmeans};
pub use metrics::{
    adjusted_rand_index, calinski_harabasz, cluster_accuracy, davies_bouldin,
    normalized_mutual_info, silhouette,
};
pub use profile::{FeatureTable, ProfileConfig, SegmentProfiles, profile_segments};
pub use selection::{Sweep, SweepConfig, SweepRow, sweep_k};
pub use surrogate::SurrogateTree;
pub use whiten::{Whitening, pooled_within_covariance, whitening};

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Errors of the clustering module. Each message names the offending field or position.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The matrix has no rows or no columns.
    #[error("input matrix is empty ({rows} rows x {cols} columns)")]
    Empty {
        /// Number of rows given.
        rows: usize,
        /// Number of columns given.
        cols: usize,
    },
    /// `data.len()` is not `rows * cols`.
    #[error("matrix data has {len} values but rows x cols = {rows} x {cols}")]
    ShapeMismatch {
        /// Length of the data slice.
        len: usize,
        /// Declared rows.
        rows: usize,
        /// Declared columns.
        cols: usize,
    },
    /// A NaN or infinite value in a matrix that must be finite.
    #[error("non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based).
        col: usize,
        /// The offending value.
        value: f64,
    },
    /// The number of clusters is below 2.
    #[error("k (number of clusters) must be at least 2, got {k}")]
    KTooSmall {
        /// The k asked for.
        k: usize,
    },
    /// The number of clusters exceeds the number of rows.
    #[error("k (number of clusters) = {k} exceeds the number of rows ({rows})")]
    KTooLarge {
        /// The k asked for.
        k: usize,
        /// Rows available.
        rows: usize,
    },
    /// No labels were given.
    #[error("labels are empty")]
    EmptyLabels,
    /// The label vector does not have one entry per row.
    #[error("labels have length {labels} but there are {rows} rows")]
    LabelLength {
        /// Length of the label slice.
        labels: usize,
        /// Number of rows expected.
        rows: usize,
    },
    /// A label is not below the declared number of segments.
    #[error("label {label} at row {row} is not below k = {k}")]
    LabelOutOfRange {
        /// Row index (0-based).
        row: usize,
        /// The label found.
        label: usize,
        /// Declared number of segments.
        k: usize,
    },
    /// An internal metric needs `2 <= distinct labels <= n - 1` (sklearn's rule).
    #[error("{metric} needs between 2 and n - 1 distinct labels, got {n_labels} for n = {n}")]
    DegenerateLabels {
        /// Metric name.
        metric: &'static str,
        /// Distinct labels present.
        n_labels: usize,
        /// Number of rows (or sampled rows) used.
        n: usize,
    },
    /// A configuration field breaks its rule.
    #[error("{field} must be {rule}, got {value}")]
    InvalidConfig {
        /// Field name as written in the config.
        field: &'static str,
        /// The rule, e.g. "at least 1".
        rule: &'static str,
        /// The value given, formatted.
        value: String,
    },
    /// Feature names or units do not match the number of columns.
    #[error("{what} has {len} entries but the table has {cols} columns")]
    FeatureMeta {
        /// "names" or "units".
        what: &'static str,
        /// Entries given.
        len: usize,
        /// Columns in the table.
        cols: usize,
    },
    /// A linfa (or kodama) algorithm failed; the message is linfa's.
    #[error("{algorithm} failed: {message}")]
    Linfa {
        /// Algorithm name.
        algorithm: &'static str,
        /// The underlying error message.
        message: String,
    },
}

/// A borrowed, row-major `f32` matrix: row `i` is `data[i * cols..(i + 1) * cols]`.
///
/// Built with [`Matrix::new`], which checks the shape and that every value is finite, so every
/// function taking a `Matrix` can rely on that.
#[derive(Clone, Copy, Debug)]
pub struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
}

/// A `[rows, cols]` view needs both non-zero and exactly `rows × cols` values.
pub(crate) fn check_shape(len: usize, rows: usize, cols: usize) -> Result<(), ClusterError> {
    if rows == 0 || cols == 0 {
        return Err(ClusterError::Empty { rows, cols });
    }
    if rows.checked_mul(cols) != Some(len) {
        return Err(ClusterError::ShapeMismatch { len, rows, cols });
    }
    Ok(())
}

impl<'a> Matrix<'a> {
    /// Wraps `data` as a `[rows, cols]` matrix.
    ///
    /// Errors: [`ClusterError::Empty`] when `rows` or `cols` is 0, [`ClusterError::ShapeMismatch`]
    /// when `data.len() != rows * cols`, [`ClusterError::NonFinite`] naming the first NaN/inf.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, ClusterError> {
        check_shape(data.len(), rows, cols)?;
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(ClusterError::NonFinite {
                row: i / cols,
                col: i % cols,
                value: f64::from(data[i]),
            });
        }
        Ok(Self { data, rows, cols })
    }

    /// The underlying row-major values, length `rows * cols`.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Number of rows (observations).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features / embedding dimensions).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i`, length `cols`. Panics if `i >= rows`.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Zero-copy ndarray view `[rows, cols]`, for linfa.
    pub(crate) fn view(&self) -> ArrayView2<'a, f32> {
        ArrayView2::from_shape((self.rows, self.cols), self.data)
            .unwrap_or_else(|_| unreachable!("shape checked in Matrix::new"))
    }
}

/// Checks `2 <= k <= rows`.
pub(crate) fn check_k(k: usize, rows: usize) -> Result<(), ClusterError> {
    if k < 2 {
        return Err(ClusterError::KTooSmall { k });
    }
    if k > rows {
        return Err(ClusterError::KTooLarge { k, rows });
    }
    Ok(())
}

/// Checks that there is one label per row.
pub(crate) fn check_labels(labels: &[usize], rows: usize) -> Result<(), ClusterError> {
    if labels.len() != rows {
        return Err(ClusterError::LabelLength {
            labels: labels.len(),
            rows,
        });
    }
    Ok(())
}

/// Seeded RNG for our own sampling (`rand` 0.10).
pub(crate) fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Seeded RNG handed to linfa (`rand` 0.8 ecosystem).
pub(crate) fn linfa_rng(seed: u64) -> rand_xoshiro::Xoshiro256Plus {
    use rand_xoshiro::rand_core::SeedableRng as _;
    rand_xoshiro::Xoshiro256Plus::seed_from_u64(seed)
}

/// `min(n, max_rows)` row indices drawn without replacement with `seed`, sorted ascending;
/// all rows `0..n` when `n <= max_rows`.
pub(crate) fn sample_rows(n: usize, max_rows: usize, seed: u64) -> Vec<usize> {
    if n <= max_rows {
        return (0..n).collect();
    }
    let mut idx = rand::seq::index::sample(&mut rng(seed), n, max_rows).into_vec();
    idx.sort_unstable();
    idx
}

/// The rows `idx` of `m`, copied row-major into a new buffer.
pub(crate) fn gather_rows(m: Matrix, idx: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(idx.len() * m.cols());
    idx.iter().for_each(|&i| out.extend_from_slice(m.row(i)));
    out
}

/// Squared Euclidean distance, accumulated in f64.
pub(crate) fn sq_dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

/// Index of the nearest centroid (rows of `centroids`, `[k, cols]`) to `x`; ties go to the lower
/// index.
pub(crate) fn nearest(x: &[f32], centroids: &[f32], cols: usize) -> usize {
    let mut best = (0, f64::INFINITY);
    for (c, centroid) in centroids.chunks_exact(cols).enumerate() {
        let d = sq_dist(x, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    best.0
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Deterministic test data shared by the module's tests.

    /// Three tight 2-D blobs of 50 points around (0,0), (10,0), (0,10), jittered
    /// deterministically by ±0.5.
    pub fn blobs() -> (Vec<f32>, Vec<usize>) {
        let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for (c, &(x, y)) in centres.iter().enumerate() {
            for i in 0..50 {
                let j = i as f32 / 49.0 - 0.5;
                data.extend_from_slice(&[x + j, y - j * ((i % 7) as f32 / 7.0)]);
                truth.push(c);
            }
        }
        (data, truth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_rejects_empty_and_bad_shape() {
        assert!(matches!(
            Matrix::new(&[], 0, 3),
            Err(ClusterError::Empty { .. })
        ));
        assert!(matches!(
            Matrix::new(&[1.0; 5], 2, 3),
            Err(ClusterError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn matrix_names_the_nan_position() {
        let data = [0.0, 1.0, 2.0, 3.0, f32::NAN, 5.0];
        match Matrix::new(&data, 2, 3) {
            Err(ClusterError::NonFinite { row: 1, col: 1, .. }) => {}
            other => panic!("expected NonFinite at (1, 1), got {other:?}"),
        }
    }

    #[test]
    fn k_rules() {
        assert!(matches!(
            check_k(1, 10),
            Err(ClusterError::KTooSmall { k: 1 })
        ));
        assert!(matches!(
            check_k(11, 10),
            Err(ClusterError::KTooLarge { k: 11, rows: 10 })
        ));
        assert!(check_k(10, 10).is_ok());
    }

    #[test]
    fn sample_rows_is_seeded_sorted_and_capped() {
        let a = sample_rows(1000, 10, 7);
        assert_eq!(a, sample_rows(1000, 10, 7));
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_rows(5, 10, 7), vec![0, 1, 2, 3, 4]);
    }
}
