//! Baseline tests: each algorithm on the three-blob fixture, hand-computed BIC pieces, the
//! DBSCAN noise convention, Ward's sampling, and one test per config rule.

use super::*;
use crate::cluster::fixtures::blobs;
use crate::cluster::metrics::cluster_accuracy;

fn cfg(algorithm: Baseline, k: usize) -> BaselineConfig {
    BaselineConfig {
        k,
        ..BaselineConfig::new(algorithm)
    }
}

#[test]
fn every_baseline_recovers_three_blobs() {
    let (data, truth) = blobs();
    let m = Matrix::new(&data, 150, 2).unwrap();
    for algorithm in [Baseline::Kmeans, Baseline::Gmm, Baseline::Ward] {
        let c = run_baseline(&cfg(algorithm, 3), m, 1).unwrap();
        assert_eq!(c.labels.len(), 150);
        assert_eq!(c.k, 3);
        assert_eq!(c.centroids.as_ref().map(Vec::len), Some(6), "{algorithm:?}");
        assert_eq!(
            cluster_accuracy(&truth, &c.labels).unwrap(),
            1.0,
            "{algorithm:?}"
        );
        assert_eq!(c.bic.is_some(), algorithm == Baseline::Gmm);
    }
    let c = run_baseline(
        &BaselineConfig {
            dbscan_eps: 1.0,
            ..BaselineConfig::new(Baseline::Dbscan)
        },
        m,
        1,
    )
    .unwrap();
    assert_eq!((c.k, c.noise_label), (3, None));
    assert_eq!(cluster_accuracy(&truth, &c.labels).unwrap(), 1.0);
}

#[test]
fn gmm_bic_prefers_the_true_k() {
    let (data, _) = blobs();
    let m = Matrix::new(&data, 150, 2).unwrap();
    let bic = |k| {
        run_baseline(&cfg(Baseline::Gmm, k), m, 3)
            .unwrap()
            .bic
            .unwrap()
    };
    assert!(
        bic(3) < bic(2),
        "BIC(3) = {} should beat BIC(2) = {}",
        bic(3),
        bic(2)
    );
}

#[test]
fn log_likelihood_hand_computed() {
    // One 2-D component, mean 0, covariance diag(4, 1), at x = (2, 1):
    // Mahalanobis = 2²/4 + 1²/1 = 2; ln|Σ| = ln 4;
    // ln N = −½(2 ln 2π + ln 4 + 2) = −ln 2π − ln 2 − 1.
    let x = [2.0f32, 1.0];
    let m = Matrix::new(&x, 1, 2).unwrap();
    let ll = gmm_log_likelihood(m, &[1.0], &[0.0, 0.0], &[4.0, 0.0, 0.0, 1.0]).unwrap();
    let expected = -(2.0 * std::f64::consts::PI).ln() - 2f64.ln() - 1.0;
    assert!((ll - expected).abs() < 1e-12, "{ll} vs {expected}");
    // Two identical components with weights ½, ½ give the same density: ln(½p + ½p) = ln p.
    let ll2 = gmm_log_likelihood(
        m,
        &[0.5, 0.5],
        &[0.0; 4],
        &[4.0, 0.0, 0.0, 1.0, 4.0, 0.0, 0.0, 1.0],
    )
    .unwrap();
    assert!((ll2 - expected).abs() < 1e-12);
    // A correlated covariance [[2, 1], [1, 2]] at x = (1, 1): Σ⁻¹ = [[2, −1], [−1, 2]] / 3,
    // xᵀΣ⁻¹x = (2 − 1 − 1 + 2)/3 = 2/3, |Σ| = 3 → ln N = −ln 2π − ½ ln 3 − 1/3.
    let x = [1.0f32, 1.0];
    let m = Matrix::new(&x, 1, 2).unwrap();
    let ll = gmm_log_likelihood(m, &[1.0], &[0.0, 0.0], &[2.0, 1.0, 1.0, 2.0]).unwrap();
    let expected = -(2.0 * std::f64::consts::PI).ln() - 0.5 * 3f64.ln() - 1.0 / 3.0;
    assert!((ll - expected).abs() < 1e-12, "{ll} vs {expected}");
}

#[test]
fn log_likelihood_rejects_a_singular_covariance() {
    let x = [1.0f32, 1.0];
    let m = Matrix::new(&x, 1, 2).unwrap();
    assert!(matches!(
        gmm_log_likelihood(m, &[1.0], &[0.0, 0.0], &[1.0, 1.0, 1.0, 1.0]),
        Err(ClusterError::Linfa { .. })
    ));
}

#[test]
fn bic_parameter_count() {
    // k = 2, d = 2: means 4 + covariances 2·3 = 6 + weights 1 = 11 parameters.
    // With log-likelihood −100 on 50 rows: BIC = 200 + 11 ln 50.
    let expected = 200.0 + 11.0 * 50f64.ln();
    assert!((gmm_bic(-100.0, 2, 2, 50) - expected).abs() < 1e-12);
}

#[test]
fn dbscan_noise_gets_the_label_after_the_clusters() {
    let (mut data, _) = blobs();
    data.extend_from_slice(&[50.0, 50.0, -50.0, 50.0]); // two isolated rows
    let m = Matrix::new(&data, 152, 2).unwrap();
    let c = run_baseline(
        &BaselineConfig {
            dbscan_eps: 1.0,
            ..BaselineConfig::new(Baseline::Dbscan)
        },
        m,
        0,
    )
    .unwrap();
    assert_eq!(c.k, 3);
    assert_eq!(c.noise_label, Some(3));
    assert_eq!(&c.labels[150..], &[3, 3]);
    assert!(c.labels[..150].iter().all(|&l| l < 3));
    // Centroids are the cluster means; noise is excluded from them.
    let cent = c.centroids.unwrap();
    assert_eq!(cent.len(), 6);
    assert!(cent.iter().all(|v| v.abs() < 11.0));
}

#[test]
fn dbscan_all_noise_has_no_cluster() {
    let data = [0.0f32, 10.0, 20.0, 30.0];
    let m = Matrix::new(&data, 4, 1).unwrap();
    let c = run_baseline(&BaselineConfig::new(Baseline::Dbscan), m, 0).unwrap();
    assert_eq!((c.k, c.noise_label, c.centroids), (0, Some(0), None));
    assert_eq!(c.labels, vec![0; 4]);
}

#[test]
fn ward_hand_computed() {
    // 1-D: {0, 1} and {10, 11} merge first (distance 1 each). Ward distance between clusters
    // A, B is sqrt(2·|A||B|/(|A|+|B|))·|c_A − c_B|: {0,1}–{10,11}: sqrt(2)·10 ≈ 14.1;
    // {10,11}–{30}: sqrt(4/3)·19.5 ≈ 22.5. So at k = 2: {0, 1, 10, 11} and {30}, numbered in
    // order of first row.
    let data = [0.0f32, 1.0, 10.0, 11.0, 30.0];
    let m = Matrix::new(&data, 5, 1).unwrap();
    let c = run_baseline(&cfg(Baseline::Ward, 2), m, 0).unwrap();
    assert_eq!(c.labels, vec![0, 0, 0, 0, 1]);
    assert_eq!(c.centroids, Some(vec![5.5, 30.0]));
}

#[test]
fn ward_on_a_sample_labels_every_row() {
    let (data, truth) = blobs();
    let m = Matrix::new(&data, 150, 2).unwrap();
    let c = run_baseline(
        &BaselineConfig {
            ward_max_rows: 30,
            ..cfg(Baseline::Ward, 3)
        },
        m,
        5,
    )
    .unwrap();
    assert_eq!(c.labels.len(), 150);
    assert_eq!(cluster_accuracy(&truth, &c.labels).unwrap(), 1.0);
    assert_eq!(
        c,
        run_baseline(
            &BaselineConfig {
                ward_max_rows: 30,
                ..cfg(Baseline::Ward, 3)
            },
            m,
            5
        )
        .unwrap()
    );
}

#[test]
fn kmeans_and_gmm_fit_on_a_sample_label_every_row() {
    let (data, truth) = blobs();
    let m = Matrix::new(&data, 150, 2).unwrap();
    for algorithm in [Baseline::Kmeans, Baseline::Gmm] {
        let b = BaselineConfig {
            fit_max_rows: 40,
            ..cfg(algorithm, 3)
        };
        let c = run_baseline(&b, m, 5).unwrap();
        assert_eq!(c.labels.len(), 150, "{algorithm:?}");
        assert_eq!(
            cluster_accuracy(&truth, &c.labels).unwrap(),
            1.0,
            "{algorithm:?}"
        );
        assert_eq!(c, run_baseline(&b, m, 5).unwrap(), "{algorithm:?} seeded");
        let full = run_baseline(&cfg(algorithm, 3), m, 5).unwrap();
        if algorithm == Baseline::Gmm {
            // The BIC is that of the 40-row sample, not of all 150 rows.
            let (bs, bf) = (c.bic.unwrap(), full.bic.unwrap());
            assert_ne!(bs, bf);
        }
        assert!(matches!(
            run_baseline(
                &BaselineConfig {
                    fit_max_rows: 2,
                    ..cfg(algorithm, 3)
                },
                m,
                5
            ),
            Err(ClusterError::KTooLarge { k: 3, rows: 2 })
        ));
    }
}

#[test]
fn baseline_names_are_snake_case() {
    for (b, name) in [
        (Baseline::Kmeans, "kmeans"),
        (Baseline::Gmm, "gmm"),
        (Baseline::Dbscan, "dbscan"),
        (Baseline::Ward, "ward"),
    ] {
        assert_eq!(serde_json::to_string(&b).unwrap(), format!("\"{name}\""));
    }
}

#[test]
fn config_defaults_and_unknown_keys() {
    let c: BaselineConfig = serde_json::from_str(r#"{"algorithm": "gmm", "k": 4}"#).unwrap();
    assert_eq!(c, cfg(Baseline::Gmm, 4));
    assert!(serde_json::from_str::<BaselineConfig>(r#"{"algorithm": "gmm", "kk": 4}"#).is_err());
    assert!(serde_json::from_str::<BaselineConfig>(r#"{"algorithm": "spectral"}"#).is_err());
}

fn rule_field(c: BaselineConfig, rows: usize) -> &'static str {
    match c.check(rows) {
        Err(ClusterError::InvalidConfig { field, .. }) => field,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn config_rule_k() {
    assert!(matches!(
        cfg(Baseline::Kmeans, 1).check(10),
        Err(ClusterError::KTooSmall { .. })
    ));
    assert!(matches!(
        cfg(Baseline::Gmm, 11).check(10),
        Err(ClusterError::KTooLarge { .. })
    ));
    // Ward's k is checked against the sample it will cluster.
    let c = BaselineConfig {
        ward_max_rows: 4,
        ..cfg(Baseline::Ward, 5)
    };
    assert!(matches!(
        c.check(100),
        Err(ClusterError::KTooLarge { k: 5, rows: 4 })
    ));
    // DBSCAN ignores k.
    assert!(cfg(Baseline::Dbscan, 0).check(10).is_ok());
}

#[test]
fn config_rule_gmm_fields() {
    let g = BaselineConfig::new(Baseline::Gmm);
    assert_eq!(
        rule_field(
            BaselineConfig {
                gmm_max_iter: 0,
                ..g.clone()
            },
            100
        ),
        "gmm_max_iter"
    );
    assert_eq!(
        rule_field(
            BaselineConfig {
                gmm_tol: 0.0,
                ..g.clone()
            },
            100
        ),
        "gmm_tol"
    );
    assert_eq!(
        rule_field(
            BaselineConfig {
                gmm_reg_covar: -1.0,
                ..g
            },
            100
        ),
        "gmm_reg_covar"
    );
}

#[test]
fn config_rule_dbscan_fields() {
    let d = BaselineConfig::new(Baseline::Dbscan);
    assert_eq!(
        rule_field(
            BaselineConfig {
                dbscan_eps: 0.0,
                ..d.clone()
            },
            100
        ),
        "dbscan_eps"
    );
    assert_eq!(
        rule_field(
            BaselineConfig {
                dbscan_min_points: 1,
                ..d
            },
            100
        ),
        "dbscan_min_points"
    );
}

#[test]
fn config_rule_ward_max_rows() {
    let w = BaselineConfig {
        ward_max_rows: 1,
        ..cfg(Baseline::Ward, 2)
    };
    assert_eq!(rule_field(w, 100), "ward_max_rows");
}

#[test]
fn config_rule_kmeans_fields() {
    let k = BaselineConfig::new(Baseline::Kmeans);
    assert_eq!(
        rule_field(
            BaselineConfig {
                n_init: 0,
                ..k.clone()
            },
            100
        ),
        "n_init"
    );
    assert_eq!(
        rule_field(
            BaselineConfig {
                max_iter: 0,
                ..k.clone()
            },
            100
        ),
        "max_iter"
    );
    assert_eq!(rule_field(BaselineConfig { tol: -1.0, ..k }, 100), "tol");
}

/// Ward through kodama agrees with SciPy's `linkage(X, "ward")` cut into 5 clusters (up to label
/// names) on the formula data set of `metrics_tests.rs`:
///
/// ```python
/// from scipy.cluster.hierarchy import linkage, fcluster
/// "".join(str(v - 1) for v in fcluster(linkage(X, "ward"), 5, "maxclust"))
/// ```
#[test]
fn ward_matches_scipy() {
    let (n, d) = (60usize, 3usize);
    let x: Vec<f32> = (0..n)
        .flat_map(|i| {
            (0..d).map(move |j| ((i * 31 + j * 17) % 23) as f32 / 5.0 + 4.0 * (i % 3) as f32)
        })
        .collect();
    let scipy: Vec<usize> = "142142142142132132132132132132132132032032032042042042042042"
        .bytes()
        .map(|b| usize::from(b - b'0'))
        .collect();
    let m = Matrix::new(&x, n, d).unwrap();
    let c = run_baseline(&cfg(Baseline::Ward, 5), m, 0).unwrap();
    assert_eq!(
        crate::cluster::metrics::adjusted_rand_index(&scipy, &c.labels).unwrap(),
        1.0
    );
}
