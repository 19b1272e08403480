//! Within-cluster whitening: a linear change of coordinates that turns the pooled within-cluster
//! covariance `W` of a partition into the identity.
//!
//! k-means and DEC's Student-t kernel measure plain Euclidean distance, so they assume round
//! clusters of equal spread. Embeddings of customers are not like that: customers of one segment
//! vary a lot along some directions (overall spend, say) and little along others, and the
//! directions that separate two segments need not be the ones with the most spread. Expressing
//! the embedding in the coordinates `z' = L z` with `L = W^(-1/2)` (symmetric) makes the average
//! cluster round: Euclidean distance in `z'` is the Mahalanobis distance of `z` under `W`, which
//! is what linear discriminant analysis and a Gaussian mixture with one shared covariance use.
//!
//! DEC uses it at initialisation (`dec.whiten`): k-means on the pretrained embedding gives a
//! first partition, its `W` gives `L`, `L` is folded into the encoder's last layer (and `L^(-1)`
//! into the decoder's first, so the autoencoder computes the same function) and k-means++ runs
//! again in the new coordinates.

use linfa_linalg::eigh::Eigh;
use ndarray::Array2;

use super::{ClusterError, Matrix};

/// Eigenvalues of `W` below this share of the largest are raised to it, so a direction the
/// embedding barely uses (a dead latent unit) is not blown up by `W^(-1/2)`.
pub const EIGEN_FLOOR: f64 = 1e-6;

/// `L = W^(-1/2)` and its inverse `W^(1/2)`, both symmetric, row-major `[dim, dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Whitening {
    /// Embedding width.
    pub dim: usize,
    /// `W^(-1/2)`: new coordinates `z' = L z`.
    pub l: Vec<f64>,
    /// `W^(1/2)`: back to the old coordinates, `z = L^(-1) z'`.
    pub l_inv: Vec<f64>,
    /// Eigenvalues of `W`, ascending, after the floor.
    pub eigenvalues: Vec<f64>,
}

impl Whitening {
    /// `L z` for every row of `m` (`[rows, dim]`), row-major `f32`.
    pub fn apply(&self, m: Matrix<'_>) -> Vec<f32> {
        let d = self.dim;
        assert_eq!(
            m.cols(),
            d,
            "whitening of width {d} applied to {} columns",
            m.cols()
        );
        let mut out = Vec::with_capacity(m.rows() * d);
        for i in 0..m.rows() {
            let row = m.row(i);
            for a in 0..d {
                let s: f64 = (0..d).map(|b| self.l[a * d + b] * row[b] as f64).sum();
                out.push(s as f32);
            }
        }
        out
    }
}

/// The pooled within-cluster covariance `W = (1/n) Σ_i (z_i − μ_{c(i)})(z_i − μ_{c(i)})ᵀ` of the
/// rows of `m` under `labels` (each in `0..k`), row-major `[cols, cols]`.
pub fn pooled_within_covariance(
    m: Matrix<'_>,
    labels: &[usize],
    k: usize,
) -> Result<Vec<f64>, ClusterError> {
    super::check_labels(labels, m.rows())?;
    if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= k) {
        return Err(ClusterError::LabelOutOfRange { row, label, k });
    }
    let d = m.cols();
    let mut sums = vec![0.0f64; k * d];
    let mut counts = vec![0usize; k];
    for (i, &c) in labels.iter().enumerate() {
        counts[c] += 1;
        for (s, &v) in sums[c * d..(c + 1) * d].iter_mut().zip(m.row(i)) {
            *s += v as f64;
        }
    }
    let means: Vec<f64> = sums
        .chunks_exact(d)
        .zip(&counts)
        .flat_map(|(s, &n)| s.iter().map(move |v| v / n.max(1) as f64))
        .collect();
    let mut w = vec![0.0f64; d * d];
    let mut dev = vec![0.0f64; d];
    for (i, &c) in labels.iter().enumerate() {
        for ((x, &v), mu) in dev.iter_mut().zip(m.row(i)).zip(&means[c * d..]) {
            *x = v as f64 - mu;
        }
        for a in 0..d {
            for b in a..d {
                w[a * d + b] += dev[a] * dev[b];
            }
        }
    }
    let n = m.rows() as f64;
    for a in 0..d {
        for b in a..d {
            w[a * d + b] /= n;
            w[b * d + a] = w[a * d + b];
        }
    }
    Ok(w)
}

/// `W^(-1/2)` and `W^(1/2)` of a symmetric positive semi-definite `w` (`[dim, dim]`), through its
/// eigendecomposition; eigenvalues are floored at [`EIGEN_FLOOR`] × the largest.
///
/// Errors: [`ClusterError::InvalidConfig`] when `w` is not square, not finite, or zero.
pub fn whitening(w: &[f64], dim: usize) -> Result<Whitening, ClusterError> {
    let bad = |value: String| ClusterError::InvalidConfig {
        field: "within-cluster covariance",
        rule: "a finite, non-zero, square matrix",
        value,
    };
    if dim == 0 || w.len() != dim * dim {
        return Err(bad(format!("{} values for width {dim}", w.len())));
    }
    if let Some(v) = w.iter().find(|v| !v.is_finite()) {
        return Err(bad(v.to_string()));
    }
    let a = Array2::from_shape_vec((dim, dim), w.to_vec()).expect("dim x dim values");
    let (vals, vecs) = a.eigh().map_err(|e| ClusterError::Linfa {
        algorithm: "symmetric eigendecomposition",
        message: e.to_string(),
    })?;
    let top = vals.iter().cloned().fold(0.0f64, f64::max);
    if top <= 0.0 {
        return Err(bad("all eigenvalues <= 0".into()));
    }
    let mut eigenvalues: Vec<f64> = vals.iter().map(|&v| v.max(top * EIGEN_FLOOR)).collect();
    // U diag(f(λ)) Uᵀ for f = λ^(-1/2) and λ^(1/2).
    let compose = |f: &dyn Fn(f64) -> f64| {
        let mut out = vec![0.0f64; dim * dim];
        for (j, &lam) in eigenvalues.iter().enumerate() {
            let s = f(lam);
            for a in 0..dim {
                for b in 0..dim {
                    out[a * dim + b] += vecs[[a, j]] * s * vecs[[b, j]];
                }
            }
        }
        out
    };
    let l = compose(&|lam: f64| lam.powf(-0.5));
    let l_inv = compose(&|lam: f64| lam.sqrt());
    eigenvalues.sort_by(f64::total_cmp);
    Ok(Whitening {
        dim,
        l,
        l_inv,
        eigenvalues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
        let mut out = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                out[i * d + j] = (0..d).map(|k| a[i * d + k] * b[k * d + j]).sum();
            }
        }
        out
    }

    #[test]
    fn pooled_covariance_by_hand() {
        // Cluster 0: (0,0), (2,0) → mean (1,0), deviations (±1, 0).
        // Cluster 1: (5,5), (5,9) → mean (5,7), deviations (0, ±2).
        // W = [[1+1+0+0, 0], [0, 0+0+4+4]] / 4 = [[0.5, 0], [0, 2]].
        let z = [0.0, 0.0, 2.0, 0.0, 5.0, 5.0, 5.0, 9.0];
        let w = pooled_within_covariance(Matrix::new(&z, 4, 2).unwrap(), &[0, 0, 1, 1], 2).unwrap();
        assert_eq!(w, vec![0.5, 0.0, 0.0, 2.0]);
        // Correlated deviations: one cluster (1,1), (-1,-1) → W = [[1,1],[1,1]].
        let z = [1.0, 1.0, -1.0, -1.0];
        let w = pooled_within_covariance(Matrix::new(&z, 2, 2).unwrap(), &[0, 0], 1).unwrap();
        assert_eq!(w, vec![1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn whitening_inverts_the_square_root() {
        let w = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 1.0];
        let wh = whitening(&w, 3).unwrap();
        // L W L = I and L^-1 L^-1 = W.
        let lwl = matmul(&matmul(&wh.l, &w, 3), &wh.l, 3);
        let back = matmul(&wh.l_inv, &wh.l_inv, 3);
        for i in 0..3 {
            for j in 0..3 {
                let eye = if i == j { 1.0 } else { 0.0 };
                assert!((lwl[i * 3 + j] - eye).abs() < 1e-9, "{lwl:?}");
                assert!((back[i * 3 + j] - w[i * 3 + j]).abs() < 1e-9, "{back:?}");
            }
        }
        // Diagonal case by hand: W = diag(4, 0.25) → L = diag(0.5, 2).
        let wh = whitening(&[4.0, 0.0, 0.0, 0.25], 2).unwrap();
        for (got, want) in wh.l.iter().zip([0.5, 0.0, 0.0, 2.0]) {
            assert!((got - want).abs() < 1e-12, "{:?}", wh.l);
        }
        assert_eq!(wh.eigenvalues, vec![0.25, 4.0]);
        let z = [1.0f32, 1.0, -2.0, 0.5];
        assert_eq!(
            wh.apply(Matrix::new(&z, 2, 2).unwrap()),
            vec![0.5, 2.0, -1.0, 1.0]
        );
    }

    #[test]
    fn dead_directions_are_floored_and_bad_input_is_an_error() {
        // A latent unit that never varies: its eigenvalue 0 is raised to 1e-6 × 4.
        let wh = whitening(&[4.0, 0.0, 0.0, 0.0], 2).unwrap();
        assert_eq!(wh.eigenvalues, vec![4.0 * EIGEN_FLOOR, 4.0]);
        assert!(wh.l.iter().all(|v| v.is_finite()));
        for (w, dim) in [
            (vec![0.0; 4], 2),
            (vec![1.0, f64::NAN, f64::NAN, 1.0], 2),
            (vec![1.0; 3], 2),
        ] {
            let err = whitening(&w, dim).unwrap_err().to_string();
            assert!(err.contains("within-cluster covariance"), "{err}");
        }
    }

    #[test]
    fn whitening_makes_elongated_clusters_separable_by_kmeans() {
        // Two clusters elongated along x (sd 3) and separated along y by 2 (sd 0.3): k-means in
        // raw coordinates cuts along x; after whitening with the true partition it finds them.
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let n = 400;
        let (mut z, mut truth) = (Vec::new(), Vec::new());
        for i in 0..n {
            let c = i % 2;
            let g = |rng: &mut rand::rngs::StdRng| -> f32 {
                // Sum of uniforms: roughly normal, mean 0, sd 1.
                (0..12).map(|_| rng.random::<f32>()).sum::<f32>() - 6.0
            };
            z.push(3.0 * g(&mut rng));
            z.push(2.0 * c as f32 + 0.3 * g(&mut rng));
            truth.push(c);
        }
        let m = Matrix::new(&z, n, 2).unwrap();
        let raw = crate::cluster::kmeans(m, 2, 5, 100, 1e-4, 1).unwrap();
        let ari_raw = crate::cluster::adjusted_rand_index(&truth, &raw.labels).unwrap();
        let w = pooled_within_covariance(m, &truth, 2).unwrap();
        let zw = whitening(&w, 2).unwrap().apply(m);
        let white =
            crate::cluster::kmeans(Matrix::new(&zw, n, 2).unwrap(), 2, 5, 100, 1e-4, 1).unwrap();
        let ari_white = crate::cluster::adjusted_rand_index(&truth, &white.labels).unwrap();
        assert!(
            ari_raw < 0.2,
            "raw k-means should cut along x: ARI {ari_raw}"
        );
        assert!(ari_white > 0.95, "whitened k-means: ARI {ari_white}");
    }
}
