//! Choosing k: a sweep over a range of k with k-means, scored by silhouette (sampled),
//! Calinski–Harabasz and Davies–Bouldin on the k-means labels, and by the BIC of a Gaussian
//! mixture with the same k.
//!
//! Recommendation rule ([`RULE`]): the k with the highest silhouette; every k whose silhouette is
//! within `near_tie` (default 0.01) of that best counts as a near-tie, and among near-ties the one
//! with the lowest Davies–Bouldin wins (then the smaller k). Calinski–Harabasz, inertia and BIC
//! are reported for the reader; they do not vote.

use serde::{Deserialize, Serialize};

use super::baselines::{Baseline, BaselineConfig, run_baseline};
use super::kmeans::{DEFAULT_MAX_ITER, DEFAULT_N_INIT, DEFAULT_TOL, check_kmeans_params, kmeans};
use super::metrics::{DEFAULT_SILHOUETTE_SAMPLE, calinski_harabasz, davies_bouldin, silhouette};
use super::{ClusterError, Matrix, check_k, gather_rows, sample_rows};

/// The recommendation rule, as written into [`Sweep::rule`] (with `near_tie` filled in).
pub const RULE: &str = "highest silhouette; among k within {near_tie} of the best silhouette, \
                        lowest Davies-Bouldin; then smallest k";

/// Configuration of a k sweep. Unknown keys are rejected; every field but the range has a
/// default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Smallest k tried (≥ 2).
    pub k_min: usize,
    /// Largest k tried (≥ k_min, ≤ rows).
    pub k_max: usize,
    /// k-means restarts per k. Default 10.
    #[serde(default = "default_n_init")]
    pub n_init: usize,
    /// k-means maximum iterations per restart. Default 300.
    #[serde(default = "default_max_iter")]
    pub max_iter: u64,
    /// k-means relative tolerance. Default 1e-4.
    #[serde(default = "default_tol")]
    pub tol: f64,
    /// The k-means of every k, and Calinski–Harabasz and Davies–Bouldin, run on one seeded
    /// sample of at most this many rows (the same for every k), so that the sweep's cost stops
    /// growing with the data. Default 50 000.
    #[serde(default = "default_kmeans_max_rows")]
    pub kmeans_max_rows: usize,
    /// Rows used for the silhouette (exact below this). Default 4000.
    #[serde(default = "default_silhouette_sample")]
    pub silhouette_sample: usize,
    /// Fit a GMM per k and report its BIC. Default true.
    #[serde(default = "default_true")]
    pub gmm_bic: bool,
    /// The GMMs are fit on one seeded sample of at most this many rows, the same for every k,
    /// so BICs are comparable across k. Default 50 000.
    #[serde(default = "default_gmm_max_rows")]
    pub gmm_max_rows: usize,
    /// Silhouette margin within which two k count as tied. Default 0.01.
    #[serde(default = "default_near_tie")]
    pub near_tie: f64,
}

fn default_n_init() -> usize {
    DEFAULT_N_INIT
}
fn default_max_iter() -> u64 {
    DEFAULT_MAX_ITER
}
fn default_tol() -> f64 {
    DEFAULT_TOL
}
fn default_kmeans_max_rows() -> usize {
    50_000
}
fn default_silhouette_sample() -> usize {
    DEFAULT_SILHOUETTE_SAMPLE
}
fn default_true() -> bool {
    true
}
fn default_gmm_max_rows() -> usize {
    50_000
}
fn default_near_tie() -> f64 {
    0.01
}

impl SweepConfig {
    /// Defaults for the range `k_min..=k_max`.
    pub fn new(k_min: usize, k_max: usize) -> Self {
        Self {
            k_min,
            k_max,
            n_init: default_n_init(),
            max_iter: default_max_iter(),
            tol: default_tol(),
            kmeans_max_rows: default_kmeans_max_rows(),
            silhouette_sample: default_silhouette_sample(),
            gmm_bic: true,
            gmm_max_rows: default_gmm_max_rows(),
            near_tie: default_near_tie(),
        }
    }

    /// Checks the range against `rows` and every knob.
    pub fn check(&self, rows: usize) -> Result<(), ClusterError> {
        let invalid =
            |field, rule, value: String| Err(ClusterError::InvalidConfig { field, rule, value });
        check_k(self.k_min, rows)?;
        check_k(self.k_max, rows)?;
        if self.k_max < self.k_min {
            return invalid("k_max", "at least k_min", self.k_max.to_string());
        }
        check_kmeans_params(self.n_init, self.max_iter, self.tol)?;
        if self.kmeans_max_rows < self.k_max {
            return invalid(
                "kmeans_max_rows",
                "at least k_max",
                self.kmeans_max_rows.to_string(),
            );
        }
        if self.silhouette_sample < 2 {
            return invalid(
                "silhouette_sample",
                "at least 2",
                self.silhouette_sample.to_string(),
            );
        }
        if self.gmm_bic && self.gmm_max_rows < self.k_max {
            return invalid(
                "gmm_max_rows",
                "at least k_max",
                self.gmm_max_rows.to_string(),
            );
        }
        if !(self.near_tie >= 0.0 && self.near_tie.is_finite()) {
            return invalid(
                "near_tie",
                "non-negative and finite",
                self.near_tie.to_string(),
            );
        }
        Ok(())
    }
}

/// Scores for one k.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// Number of clusters.
    pub k: usize,
    /// Mean silhouette of the k-means labels (sampled), in [−1, 1]; higher is better.
    pub silhouette: f64,
    /// Calinski–Harabasz of the k-means labels; higher is better.
    pub calinski_harabasz: f64,
    /// Davies–Bouldin of the k-means labels; lower is better.
    pub davies_bouldin: f64,
    /// k-means inertia (sum of squared distances to centroids, squared data units).
    pub inertia: f64,
    /// BIC of a k-component GMM on the GMM sample; lower is better. `None` when `gmm_bic` is
    /// off or the GMM failed (see `bic_error`).
    pub bic: Option<f64>,
    /// Why the GMM failed for this k (e.g. EM did not converge), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bic_error: Option<String>,
}

/// The result of [`sweep_k`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// One row per k, ascending.
    pub rows: Vec<SweepRow>,
    /// The k chosen by `rule`.
    pub recommended_k: usize,
    /// The recommendation rule, in words.
    pub rule: String,
}

/// Runs k-means (and a GMM when `cfg.gmm_bic`) for every k in `k_min..=k_max` on the rows of
/// `m` and recommends a k (see the module docs). Every k uses the same `seed`.
///
/// Cost per k: one [`kmeans`], CH and DB on `kmeans_max_rows` rows, a silhouette on
/// `silhouette_sample` of those, a GMM on `gmm_max_rows` rows. A GMM failure is recorded in the row
/// (`bic_error`), not raised; a k-means or metric failure is raised.
pub fn sweep_k(cfg: &SweepConfig, m: Matrix, seed: u64) -> Result<Sweep, ClusterError> {
    cfg.check(m.rows())?;
    let km_idx = sample_rows(m.rows(), cfg.kmeans_max_rows, seed ^ 0x5EED_CAFE);
    let km_data = if km_idx.len() < m.rows() {
        gather_rows(m, &km_idx)
    } else {
        Vec::new()
    };
    let m = if km_data.is_empty() {
        m
    } else {
        Matrix::new(&km_data, km_idx.len(), m.cols())?
    };
    let gmm_idx = sample_rows(m.rows(), cfg.gmm_max_rows, seed);
    let mut gmm_data = Vec::with_capacity(if cfg.gmm_bic {
        gmm_idx.len() * m.cols()
    } else {
        0
    });
    if cfg.gmm_bic {
        gmm_idx
            .iter()
            .for_each(|&i| gmm_data.extend_from_slice(m.row(i)));
    }
    let gmm_m = if cfg.gmm_bic {
        Some(Matrix::new(&gmm_data, gmm_idx.len(), m.cols())?)
    } else {
        None
    };
    let mut rows = Vec::with_capacity(cfg.k_max - cfg.k_min + 1);
    for k in cfg.k_min..=cfg.k_max {
        let km = kmeans(m, k, cfg.n_init, cfg.max_iter, cfg.tol, seed)?;
        let (bic, bic_error) = if let Some(gm) = gmm_m {
            let gcfg = BaselineConfig {
                k,
                ..BaselineConfig::new(Baseline::Gmm)
            };
            match run_baseline(&gcfg, gm, seed) {
                Ok(c) => (c.bic, None),
                Err(e) => {
                    tracing::warn!(k, error = %e, "GMM failed; no BIC for this k");
                    (None, Some(e.to_string()))
                }
            }
        } else {
            (None, None)
        };
        rows.push(SweepRow {
            k,
            silhouette: silhouette(m, &km.labels, cfg.silhouette_sample, seed)?,
            calinski_harabasz: calinski_harabasz(m, &km.labels)?,
            davies_bouldin: davies_bouldin(m, &km.labels)?,
            inertia: km.inertia,
            bic,
            bic_error,
        });
        tracing::debug!(k, "sweep row done");
    }
    let recommended_k = recommend(&rows, cfg.near_tie);
    Ok(Sweep {
        rows,
        recommended_k,
        rule: RULE.replace("{near_tie}", &cfg.near_tie.to_string()),
    })
}

/// Applies the recommendation rule to non-empty `rows`.
fn recommend(rows: &[SweepRow], near_tie: f64) -> usize {
    let best = rows
        .iter()
        .map(|r| r.silhouette)
        .fold(f64::NEG_INFINITY, f64::max);
    rows.iter()
        .filter(|r| r.silhouette >= best - near_tie)
        .min_by(|a, b| {
            a.davies_bouldin
                .total_cmp(&b.davies_bouldin)
                .then(a.k.cmp(&b.k))
        })
        .map_or(rows[0].k, |r| r.k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fixtures::blobs;

    fn row(k: usize, silhouette: f64, davies_bouldin: f64) -> SweepRow {
        SweepRow {
            k,
            silhouette,
            calinski_harabasz: 0.0,
            davies_bouldin,
            inertia: 0.0,
            bic: None,
            bic_error: None,
        }
    }

    #[test]
    fn rule_highest_silhouette() {
        let rows = [row(2, 0.50, 0.9), row(3, 0.70, 0.8), row(4, 0.60, 0.1)];
        assert_eq!(recommend(&rows, 0.01), 3);
    }

    #[test]
    fn rule_near_tie_broken_by_davies_bouldin() {
        // k = 3 has the best silhouette but k = 4 is within 0.01 and has the lower DB.
        let rows = [
            row(2, 0.50, 0.9),
            row(3, 0.700, 0.8),
            row(4, 0.695, 0.5),
            row(5, 0.68, 0.1),
        ];
        assert_eq!(recommend(&rows, 0.01), 4);
        // An exact DB tie goes to the smaller k.
        let rows = [row(3, 0.70, 0.5), row(4, 0.70, 0.5)];
        assert_eq!(recommend(&rows, 0.01), 3);
    }

    #[test]
    fn sweep_finds_three_blobs() {
        let (data, _) = blobs();
        let m = Matrix::new(&data, 150, 2).unwrap();
        let s = sweep_k(
            &SweepConfig {
                n_init: 3,
                ..SweepConfig::new(2, 5)
            },
            m,
            11,
        )
        .unwrap();
        assert_eq!(
            s.rows.iter().map(|r| r.k).collect::<Vec<_>>(),
            vec![2, 3, 4, 5]
        );
        assert_eq!(s.recommended_k, 3, "{s:#?}");
        assert!(s.rows.iter().all(|r| r.bic.is_some()));
        let bic3 = s.rows[1].bic.unwrap();
        assert!(bic3 < s.rows[0].bic.unwrap());
        assert!(s.rule.contains("0.01"));
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["rows"][0].get("bic_error").is_none());
    }

    #[test]
    fn sweep_on_a_sample_still_finds_three_blobs() {
        let (data, _) = blobs();
        let m = Matrix::new(&data, 150, 2).unwrap();
        let cfg = SweepConfig {
            n_init: 3,
            kmeans_max_rows: 60,
            ..SweepConfig::new(2, 5)
        };
        let s = sweep_k(&cfg, m, 11).unwrap();
        assert_eq!(s.recommended_k, 3, "{s:#?}");
        let full = sweep_k(
            &SweepConfig {
                kmeans_max_rows: 150,
                ..cfg.clone()
            },
            m,
            11,
        )
        .unwrap();
        // The k-means (and so inertia) ran on 60 rows, not 150.
        assert!(s.rows[1].inertia < full.rows[1].inertia * 0.6, "{s:#?}");
        assert_eq!(
            field_of(SweepConfig {
                kmeans_max_rows: 4,
                ..cfg
            }),
            "kmeans_max_rows"
        );
    }

    fn field_of(c: SweepConfig) -> &'static str {
        match c.check(100) {
            Err(ClusterError::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn sweep_config_rules() {
        let field = |c: SweepConfig| match c.check(100) {
            Err(ClusterError::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        };
        assert!(matches!(
            SweepConfig::new(1, 5).check(100),
            Err(ClusterError::KTooSmall { .. })
        ));
        assert!(matches!(
            SweepConfig::new(2, 101).check(100),
            Err(ClusterError::KTooLarge { .. })
        ));
        assert_eq!(field(SweepConfig::new(5, 3)), "k_max");
        assert_eq!(
            field(SweepConfig {
                silhouette_sample: 1,
                ..SweepConfig::new(2, 5)
            }),
            "silhouette_sample"
        );
        assert_eq!(
            field(SweepConfig {
                gmm_max_rows: 4,
                ..SweepConfig::new(2, 5)
            }),
            "gmm_max_rows"
        );
        assert_eq!(
            field(SweepConfig {
                near_tie: -0.1,
                ..SweepConfig::new(2, 5)
            }),
            "near_tie"
        );
        assert_eq!(
            field(SweepConfig {
                n_init: 0,
                ..SweepConfig::new(2, 5)
            }),
            "n_init"
        );
    }
}
