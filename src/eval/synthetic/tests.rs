//! Each metric on a small case computed by hand (the arithmetic is in the comments; the numpy /
//! scipy equivalents give the same numbers: `1 - ks_2samp(a, b).statistic`, ...).

use super::*;
use crate::data::schema::Schema;
use crate::data::table::{NumericColumn, TargetColumn};

#[test]
fn ks_complement_hand_computed() {
    // F_real - F_synth at x = 2: 0.5 - 0; x = 3: 0.75 - 0.25; x = 4: 1 - 0.5 → sup = 0.5.
    let s = ks_complement(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]);
    assert!((s - 0.5).abs() < 1e-12, "{s}");
    // Missing values are dropped; identical samples score 1.
    assert_eq!(ks_complement(&[1.0, f64::NAN, 2.0], &[2.0, 1.0]), 1.0);
    assert_eq!(ks_complement(&[1.0], &[f64::NAN]), 0.0);
}

#[test]
fn tv_complement_hand_computed() {
    // real: a .5, b .25, <missing> .25; synth: a .25, b .75 → TV = ½ (.25 + .5 + .25) = .5.
    let a = || Some("a".to_string());
    let b = || Some("b".to_string());
    let s = tv_complement(&[a(), a(), b(), None], &[a(), b(), b(), b()]);
    assert!((s - 0.5).abs() < 1e-12, "{s}");
}

#[test]
fn correlation_similarity_hand_computed() {
    let x = [1.0, 2.0, 3.0];
    // ρ_real = 1, ρ_synth = -1 → 1 - 2/2 = 0.
    let s = correlation_similarity(&x, &x, &x, &[3.0, 2.0, 1.0]).unwrap();
    assert!(s.abs() < 1e-12, "{s}");
    // ρ_synth = 0 (cov of [1,2,3] and [1,3,1] is 0) → 0.5.
    let s = correlation_similarity(&x, &x, &x, &[1.0, 3.0, 1.0]).unwrap();
    assert!((s - 0.5).abs() < 1e-12, "{s}");
    // A constant column has no correlation: the pair is skipped.
    assert!(correlation_similarity(&x, &[1.0; 3], &x, &x).is_none());
}

#[test]
fn contingency_similarity_hand_computed() {
    // real: the 4 cells at .25 each; synth: (0,0) .5, (0,1) .5 → TV = ½(.25+.25+.25+.25) = .5.
    let s = contingency_similarity(&[0, 0, 1, 1], &[0, 1, 0, 1], &[0, 0, 0, 0], &[0, 0, 1, 1]);
    assert!((s - 0.5).abs() < 1e-12, "{s}");
}

fn schema() -> Schema {
    Schema::parse(
        r#"
[[columns]]
name = "id"
role = "id"
[[columns]]
name = "x"
role = "numeric"
[[columns]]
name = "y"
role = "target"
"#,
        "test",
    )
    .unwrap()
}

fn table(x: &[f64], y: &[&str]) -> RawTable {
    RawTable {
        source: "t".into(),
        ids: (0..x.len()).map(|i| format!("r{i}")).collect(),
        numeric: vec![NumericColumn {
            name: "x".into(),
            values: x.to_vec(),
        }],
        categorical: vec![],
        binary: vec![],
        targets: vec![TargetColumn {
            name: "y".into(),
            values: y.iter().map(|s| Some(s.to_string())).collect(),
        }],
        line_numbers: (0..x.len() as u64).map(|i| i + 2).collect(),
    }
}

#[test]
fn quality_is_mean_of_shapes_and_trends() {
    // x: KS of [0, 10] vs [0, 10] = 1; y: TV of {a, b} vs {a, a} = 1 - ½(.5 + .5) = .5.
    // Pair (x, y): bins of x over [0, 10]: 0 → bin 0, 10 → bin 9; real cells (0,a), (9,b);
    // synth (0,a), (9,a) → TV = ½(0 + .5 + .5) = .5.
    let q = quality(
        &schema(),
        &table(&[0.0, 10.0], &["a", "b"]),
        &table(&[0.0, 10.0], &["a", "a"]),
    );
    assert!((q.column_shapes - 0.75).abs() < 1e-12, "{q:?}");
    assert!((q.column_pair_trends - 0.5).abs() < 1e-12, "{q:?}");
    assert!((q.overall - 0.625).abs() < 1e-12, "{q:?}");
}

#[test]
fn dcr_hand_computed() {
    // Train x range 0..10. Synthetic row (5, a) equals a train row: distance 0 (exact copy).
    // Synthetic row (7, b): closest train row (5, a)? |7-5|/10 = .2 + 1 = 1.2 over 2 columns
    // = .6; to (10, b): (.3 + 0) / 2 = .15. Holdout row (1, a): to (0, a): .1 / 2 = .05.
    let train = table(&[0.0, 5.0, 10.0], &["a", "a", "b"]);
    let synth = table(&[5.0, 7.0], &["a", "b"]);
    let holdout = table(&[1.0], &["a"]);
    let p = privacy(&schema(), &train, &holdout, &synth, 100, 1);
    assert_eq!(p.exact_copies, 1);
    assert!((p.exact_copy_share - 0.5).abs() < 1e-12);
    assert!((p.dcr_synthetic_median - 0.075).abs() < 1e-12, "{p:?}");
    assert!((p.dcr_holdout_median - 0.05).abs() < 1e-12, "{p:?}");
}

#[test]
fn privacy_and_trtr_use_a_capped_train_sample() {
    let n = TRAIN_REFERENCE_ROWS + 500;
    let x: Vec<f64> = (0..n).map(|i| (i % 97) as f64).collect();
    let y: Vec<&str> = (0..n)
        .map(|i| if i % 97 < 40 { "a" } else { "b" })
        .collect();
    let train = table(&x, &y);
    let small = table(&[3.0, 50.0, 90.0, 10.0], &["a", "b", "b", "a"]);
    let r = evaluate(&schema(), &small, &small, Some(&train), 100, 1).unwrap();
    let p = r.privacy.expect("privacy with train rows");
    assert_eq!(p.train_rows, TRAIN_REFERENCE_ROWS);
    // Every value 0..97 is still in the sample many times: the rows are exact copies.
    assert_eq!(p.exact_copies, 4);
    let small_train = table(&x[..1000], &y[..1000]);
    let r = evaluate(&schema(), &small, &small, Some(&small_train), 100, 1).unwrap();
    assert_eq!(r.privacy.unwrap().train_rows, 1000);
}

#[test]
fn independent_marginals_keep_values_of_each_column() {
    let t = table(&[1.0, 2.0, 3.0], &["a", "b", "c"]);
    let m = independent_marginals(&t, 50, 3);
    assert_eq!(m.n_rows(), 50);
    assert!(
        m.numeric[0]
            .values
            .iter()
            .all(|v| [1.0, 2.0, 3.0].contains(v))
    );
    assert_eq!(m, independent_marginals(&t, 50, 3));
}

#[test]
fn cramers_v_hand_computed() {
    // Counts (a, b): (0,0) 2, (0,1) 1, (1,1) 3; rows 3/3, columns 2/4, n 6; expected 1, 2, 1, 2;
    // χ² = 1/1 + 1/2 + 1/1 + 1/2 = 3; V = √(3 / (6 · 1)) = 0.7071 (scipy.stats.contingency.
    // association(..., method="cramer") gives the same).
    let v = cramers_v(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 1, 1]).unwrap();
    assert!((v - 0.5f64.sqrt()).abs() < 1e-12, "{v}");
    assert_eq!(cramers_v(&[0, 0, 1, 1], &[0, 1, 0, 1]), Some(0.0));
    assert_eq!(cramers_v(&[0, 0, 0], &[0, 1, 2]), None, "one level");
}

#[test]
fn pair_trends_count_only_pairs_with_a_real_association() {
    // x and y are unrelated in the real data (V = 0): the pair is scored but does not count, so
    // the thresholded figure falls back to the all-pairs mean and no pair is strong.
    let q = quality(
        &schema(),
        &table(&[0.0, 0.0, 10.0, 10.0], &["a", "b", "a", "b"]),
        &table(&[0.0, 0.0, 10.0, 10.0], &["a", "a", "a", "b"]),
    );
    assert_eq!(q.strong_pairs, 0, "{q:?}");
    assert!(!q.pairs[0].meets_threshold);
    assert_eq!(q.column_pair_trends, q.column_pair_trends_all);
    // A strong real relation counts.
    let q = quality(
        &schema(),
        &table(&[0.0, 0.0, 10.0, 10.0], &["a", "a", "b", "b"]),
        &table(&[0.0, 0.0, 10.0, 10.0], &["a", "a", "b", "b"]),
    );
    assert_eq!(q.strong_pairs, 1, "{q:?}");
    assert!((q.column_pair_trends - 1.0).abs() < 1e-12);
}
