//! Profile tests on a six-row fixture whose every statistic is computed by hand below.
//!
//! | row | data_gb | age | roaming_gb | segment |
//! |-----|---------|-----|------------|---------|
//! | 0   | 10      | 20  | 0          | 0       |
//! | 1   | 14      | 24  | 0          | 0       |
//! | 2   | 2       | 40  | 0          | 1       |
//! | 3   | 4       | 50  | 0          | 1       |
//! | 4   | 0       | NaN | 0          | 1       |
//! | 5   | NaN     | 26  | 0          | 2       |
//!
//! Population, missing values skipped:
//! - data_gb {10, 14, 2, 4, 0}: mean 30/5 = 6, median 4, variance (16+64+16+4+36)/5 = 27.2.
//! - age {20, 24, 40, 50, 26}: mean 160/5 = 32, median 26, variance (144+64+64+324+36)/5 = 126.4.
//! - roaming_gb: all 0 → mean 0, so lift is undefined (guard) and std 0, so SMD is undefined.
//!
//! Segments:
//! - 0 (2 rows, 33 %): data_gb mean 12 → lift 12/6 = 2.0, SMD 6/√27.2; age mean 22 → lift
//!   22/32 = 0.6875, SMD −10/√126.4.
//! - 1 (3 rows, 50 %): data_gb mean 2 (median 2) → lift 1/3, SMD −4/√27.2; age {40, 50} mean 45
//!   (median 45) → lift 45/32 = 1.40625, missing share 1/3.
//! - 2 (1 row, 17 %): data_gb missing → mean, lift, SMD null; age 26 → lift 0.8125 (inside
//!   0.8..1.2, so not in the persona).

use super::*;

const NAN: f64 = f64::NAN;
const DATA: [f64; 18] = [
    10.0, 20.0, 0.0, //
    14.0, 24.0, 0.0, //
    2.0, 40.0, 0.0, //
    4.0, 50.0, 0.0, //
    0.0, NAN, 0.0, //
    NAN, 26.0, 0.0,
];
const LABELS: [usize; 6] = [0, 0, 1, 1, 1, 2];

fn meta() -> (Vec<String>, Vec<String>) {
    (
        ["data_gb", "age", "roaming_gb"].map(String::from).to_vec(),
        ["GB/month", "years", "GB/month"].map(String::from).to_vec(),
    )
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("value should be defined");
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

fn profiles() -> SegmentProfiles {
    let (names, units) = meta();
    let x = FeatureTable::new(&DATA, 6, 3, &names, &units).unwrap();
    profile_segments(x, &LABELS, 3, &ProfileConfig::default(), 0).unwrap()
}

#[test]
fn population_statistics() {
    let p = profiles();
    let f = &p.features;
    close(f[0].mean, 6.0);
    close(f[0].median, 4.0);
    close(f[0].std, 27.2f64.sqrt());
    assert!((f[0].missing_share - 1.0 / 6.0).abs() < 1e-12);
    close(f[1].mean, 32.0);
    close(f[1].median, 26.0);
    close(f[1].std, 126.4f64.sqrt());
    assert_eq!(f[1].unit, "years");
}

#[test]
fn sizes_shares_and_lifts() {
    let p = profiles();
    let s = &p.segments;
    assert_eq!(s.iter().map(|s| s.size).collect::<Vec<_>>(), vec![2, 3, 1]);
    assert!((s[1].share - 0.5).abs() < 1e-12);
    close(s[0].features[0].lift, 2.0);
    close(s[0].features[1].lift, 0.6875);
    close(s[1].features[0].lift, 1.0 / 3.0);
    close(s[1].features[0].median, 2.0);
    close(s[1].features[1].lift, 1.40625);
    close(s[1].features[1].median, 45.0);
    assert!((s[1].features[1].missing_share - 1.0 / 3.0).abs() < 1e-12);
    close(s[2].features[1].lift, 0.8125);
    // Segment 2 has no data_gb value at all.
    assert_eq!(
        (
            s[2].features[0].mean,
            s[2].features[0].lift,
            s[2].features[0].smd
        ),
        (None, None, None)
    );
}

#[test]
fn zero_mean_feature_has_no_lift_and_no_smd() {
    let p = profiles();
    for s in &p.segments[..2] {
        assert_eq!(s.features[2].mean, Some(0.0));
        assert_eq!((s.features[2].lift, s.features[2].smd), (None, None));
    }
}

#[test]
fn smd_and_distinguishing_order() {
    let p = profiles();
    let s0 = &p.segments[0];
    close(s0.features[0].smd, 6.0 / 27.2f64.sqrt()); // 1.150
    close(s0.features[1].smd, -10.0 / 126.4f64.sqrt()); // −0.889
    // |1.150| > |−0.889|; roaming_gb (no SMD) is not listed.
    let names: Vec<&str> = s0.distinguishing.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, vec!["data_gb", "age"]);
    // Segment 1: age SMD 13/√126.4 = 1.156 beats data_gb −4/√27.2 = −0.767.
    assert_eq!(p.segments[1].distinguishing[0].name, "age");
}

#[test]
fn personas() {
    let p = profiles();
    // Segment 0: |2.0 − 1| = 1.0 before |0.6875 − 1| = 0.31; 0.6875 prints as 0.7.
    assert_eq!(
        p.segments[0].persona,
        "Segment 0 (33 %): data_gb 2.0× population, age 0.7×"
    );
    // Segment 1: |1/3 − 1| = 0.67 before |1.406 − 1| = 0.41.
    assert_eq!(
        p.segments[1].persona,
        "Segment 1 (50 %): data_gb 0.3× population, age 1.4×"
    );
    // Segment 2: its only lift, 0.8125, is inside (0.8, 1.2).
    assert_eq!(
        p.segments[2].persona,
        "Segment 2 (17 %): no feature differs from the population by 1.2× or more, or 0.8× or less"
    );
}

#[test]
fn surrogate_separates_the_fixture() {
    // After imputation (row 4 age → 26, row 5 data_gb → 4) the segments are separable within
    // depth 4, e.g. data_gb ≥ 7 → 0; else age ≥ 33 → 1; else data_gb < 2 → 1, else 2.
    let p = profiles();
    assert_eq!(p.surrogate.fidelity, 1.0);
    assert_eq!(p.surrogate.fit_rows, 6);
    assert!(
        p.surrogate
            .leaves
            .iter()
            .all(|l| l.purity == 1.0 && l.n > 0)
    );
    assert_eq!(p.surrogate.leaves.iter().map(|l| l.n).sum::<usize>(), 6);
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"lift\":null"));
}

#[test]
fn surrogate_rule_text_one_feature() {
    // x = 1, 2, 3 (segment 0) and 10, 11, 12 (segment 1): one split at the midpoint 6.5.
    let data = [1.0, 2.0, 3.0, 10.0, 11.0, 12.0];
    let names = vec!["calls_per_day".to_string()];
    let units = vec!["calls/day".to_string()];
    let x = FeatureTable::new(&data, 6, 1, &names, &units).unwrap();
    let p = profile_segments(x, &[0, 0, 0, 1, 1, 1], 2, &ProfileConfig::default(), 0).unwrap();
    let texts: Vec<&str> = p.surrogate.leaves.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "calls_per_day < 6.5 → segment 0 (n=3, purity 1.00)",
            "calls_per_day >= 6.5 → segment 1 (n=3, purity 1.00)",
        ]
    );
}

#[test]
fn surrogate_impure_leaf_at_depth_one() {
    // Depth 1 on x = 1..4 with segments 0,0,1,2: the best Gini split isolates {1, 2} from {3, 4};
    // the right leaf has segments {1, 2}: a tie, broken towards segment 1, purity 0.5.
    let data = [1.0, 2.0, 3.0, 4.0];
    let names = vec!["x".to_string()];
    let units = vec!["u".to_string()];
    let x = FeatureTable::new(&data, 4, 1, &names, &units).unwrap();
    let cfg = ProfileConfig {
        tree_max_depth: 1,
        ..ProfileConfig::default()
    };
    let p = profile_segments(x, &[0, 0, 1, 2], 3, &cfg, 0).unwrap();
    let texts: Vec<&str> = p.surrogate.leaves.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "x < 2.5 → segment 0 (n=2, purity 1.00)",
            "x >= 2.5 → segment 1 (n=2, purity 0.50)"
        ]
    );
    assert_eq!(p.surrogate.fidelity, 0.75);
}

#[test]
fn empty_segment_and_label_checks() {
    let (names, units) = meta();
    let x = FeatureTable::new(&DATA, 6, 3, &names, &units).unwrap();
    let p = profile_segments(x, &LABELS, 4, &ProfileConfig::default(), 0).unwrap();
    assert_eq!(p.segments[3].size, 0);
    assert_eq!(p.segments[3].persona, "Segment 3 (0 %): empty");
    assert!(matches!(
        profile_segments(x, &[0, 0, 1, 1, 1, 3], 3, &ProfileConfig::default(), 0),
        Err(ClusterError::LabelOutOfRange {
            row: 5,
            label: 3,
            k: 3
        })
    ));
    assert!(matches!(
        profile_segments(x, &LABELS[..5], 3, &ProfileConfig::default(), 0),
        Err(ClusterError::LabelLength { .. })
    ));
}

#[test]
fn table_checks() {
    let (names, units) = meta();
    assert!(matches!(
        FeatureTable::new(&DATA, 6, 2, &names[..2], &units[..2]),
        Err(ClusterError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        FeatureTable::new(&DATA, 6, 3, &names[..2], &units),
        Err(ClusterError::FeatureMeta { what: "names", .. })
    ));
    let mut bad = DATA;
    bad[7] = f64::INFINITY;
    assert!(matches!(
        FeatureTable::new(&bad, 6, 3, &names, &units),
        Err(ClusterError::NonFinite { row: 2, col: 1, .. })
    ));
}

#[test]
fn profile_config_rules() {
    let field = |c: ProfileConfig| match c.check() {
        Err(ClusterError::InvalidConfig { field, .. }) => field,
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    let d = ProfileConfig::default;
    assert_eq!(
        field(ProfileConfig {
            persona_high: 0.9,
            ..d()
        }),
        "persona_high"
    );
    assert_eq!(
        field(ProfileConfig {
            persona_low: 0.0,
            ..d()
        }),
        "persona_low"
    );
    assert_eq!(
        field(ProfileConfig {
            lift_min_mean: -1.0,
            ..d()
        }),
        "lift_min_mean"
    );
    assert_eq!(
        field(ProfileConfig {
            tree_max_depth: 0,
            ..d()
        }),
        "tree_max_depth"
    );
    assert_eq!(
        field(ProfileConfig {
            tree_max_rows: 1,
            ..d()
        }),
        "tree_max_rows"
    );
    assert_eq!(
        field(ProfileConfig {
            tree_min_leaf_share: 0.5,
            ..d()
        }),
        "tree_min_leaf_share"
    );
    let parsed: ProfileConfig = serde_json::from_str(r#"{"top_features": 3}"#).unwrap();
    assert_eq!(
        parsed,
        ProfileConfig {
            top_features: 3,
            ..d()
        }
    );
    assert!(serde_json::from_str::<ProfileConfig>(r#"{"top_feature": 3}"#).is_err());
}

#[test]
fn signed_features_have_no_lift_and_speak_in_sd() {
    // sentiment {−0.9, −0.7, 0.5, 0.7, 0.9, 0.5}: mean 1/6 > 0 but signed, so no lift.
    // Segment 0 = rows 0, 1: mean −0.8; population variance
    // ((−0.9−m)²+(−0.7−m)²+(0.5−m)²·2+(0.7−m)²+(0.9−m)²)/6 with m = 1/6.
    let data = [-0.9, -0.7, 0.5, 0.7, 0.9, 0.5];
    let m = 1.0 / 6.0;
    let var = data.iter().map(|v: &f64| (v - m).powi(2)).sum::<f64>() / 6.0;
    let smd = (-0.8 - m) / var.sqrt();
    let names = vec!["sentiment".to_string()];
    let units = vec!["score".to_string()];
    let x = FeatureTable::new(&data, 6, 1, &names, &units).unwrap();
    let p = profile_segments(x, &[0, 0, 1, 1, 1, 1], 2, &ProfileConfig::default(), 0).unwrap();
    assert!(!p.features[0].nonnegative);
    assert_eq!(p.segments[0].features[0].lift, None);
    close(p.segments[0].features[0].smd, smd);
    assert_eq!(
        p.segments[0].persona,
        format!("Segment 0 (33 %): sentiment −{:.1} sd", smd.abs())
    );
}
