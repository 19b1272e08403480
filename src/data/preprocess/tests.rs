//! Tests of the fitted preprocessing: hand-computed statistics and outputs, contract checks.

use super::*;
use crate::data::reader::{ReadOptions, read_csv_from_reader};
use crate::data::schema::Scale;

/// x: numeric with missing and clip; m: log1p numeric; r = x / max(m, 1) * 2 (derived);
/// b: binary with a tie; plan: categorical with a missing value and a tie; tier: categorical
/// with rare levels (min_frequency 0.3).
const SCHEMA: &str = r#"
[[columns]]
name = "id"
role = "id"
[[columns]]
name = "x"
role = "numeric"
clip = [0.25, 0.75]
[[columns]]
name = "m"
role = "numeric"
log1p = true
[[columns]]
name = "b"
role = "binary"
[[columns]]
name = "plan"
role = "categorical"
[[columns]]
name = "tier"
role = "categorical"
min_frequency = 0.3
[[derived]]
name = "r"
numerator = "x"
denominator = "m"
scale = 2.0
"#;

/// Rows 0-4 are train; rows 5-6 only ever appear as valid rows: x = 1000, unseen plan `zzz`,
/// rare tier `silver`, missing m and b.
const CSV: &str = "id,x,m,b,plan,tier
c0,1,0,1,c,gold
c1,2,1,,b,gold
c2,,3,0,c,silver
c3,4,7,1,b,bronze
c4,100,15,0,,gold
v5,1000,,,zzz,silver
v6,3,2,1,b,gold
";
const TRAIN: [usize; 5] = [0, 1, 2, 3, 4];

fn setup(csv: &str) -> (Schema, RawTable) {
    let schema = Schema::parse(SCHEMA, "t.toml").unwrap();
    let (table, _) =
        read_csv_from_reader(csv.as_bytes(), "t.csv", &schema, &ReadOptions::default()).unwrap();
    (schema, table)
}

fn fitted() -> (Preprocessor, RawTable) {
    let (schema, table) = setup(CSV);
    (Preprocessor::fit(&schema, &table, &TRAIN).unwrap(), table)
}

fn close(a: f32, b: f64) -> bool {
    (f64::from(a) - b).abs() < 1e-5 * b.abs().max(1.0)
}

fn assert_all_close(got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(close(g, w), "element {i}: got {g}, want {w} ({got:?})");
    }
}

#[test]
fn statistics_are_hand_computed() {
    let (p, _) = fitted();
    let [x, m, r] = p.numeric_features() else {
        panic!("three numeric features")
    };

    // x train = [1, 2, NaN, 4, 100]; present sorted [1, 2, 4, 100] (n = 4, positions 0..3).
    // median: pos 1.5 → 2 + 0.5 * (4 - 2) = 3.
    // clip: q 0.25 → pos 0.75 → 1 + 0.75 * 1 = 1.75; q 0.75 → pos 2.25 → 4 + 0.25 * 96 = 28.
    // imputed [1, 2, 3, 4, 100] → clipped [1.75, 2, 3, 4, 28]: mean 38.75 / 5 = 7.75,
    // var = (6² + 5.75² + 4.75² + 3.75² + 20.25²) / 5 = 515.75 / 5 = 103.15, std = √103.15.
    assert_eq!(x.median, 3.0);
    assert_eq!(x.clip, Some([1.75, 28.0]));
    assert!(close(x.mean, 7.75));
    assert!(close(x.std, 103.15f64.sqrt()));
    assert!(x.has_indicator && !x.log1p);

    // m train = [0, 1, 3, 7, 15]: median 3, no clip; log1p → k·ln2 for k = 0..4:
    // mean 2·ln2, var = ln2² · (4 + 1 + 0 + 1 + 4) / 5 = 2·ln2², std = √2·ln2.
    let ln2 = std::f64::consts::LN_2;
    assert_eq!(m.median, 3.0);
    assert_eq!(m.clip, None);
    assert!(close(m.mean, 2.0 * ln2));
    assert!(close(m.std, 2f64.sqrt() * ln2));
    assert!(!m.has_indicator && m.log1p);

    // r = x / max(m, 1) * 2 on raw values: [2/1, 4/1, NaN, 8/7, 200/15].
    // present sorted [8/7, 2, 4, 40/3]: median (2 + 4) / 2 = 3. imputed [2, 4, 3, 8/7, 40/3].
    let imputed = [2.0, 4.0, 3.0, 8.0 / 7.0, 40.0 / 3.0];
    let mean = imputed.iter().sum::<f64>() / 5.0;
    let std = (imputed.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
    assert_eq!(r.median, 3.0);
    assert!(close(r.mean, mean) && close(r.std, std));
    assert!(r.has_indicator);

    // b train = [1, NaN, 0, 1, 0]: two ones, two zeros → tie → mode 0; it has a missing value.
    assert_eq!(
        p.binary_features()[0],
        BinaryFeature {
            name: "b".into(),
            mode: 0.0,
            has_indicator: true
        }
    );

    // plan train = [c, b, c, b, missing]: b and c both 2/5 ≥ 0.005, tie → name order b, c;
    // then <missing> (train had one), then other.
    // tier train = [gold ×3, silver, bronze] with min_frequency 0.3: gold 0.6 kept, silver and
    // bronze 0.2 → other; no missing.
    let cats = p.categorical_features();
    assert_eq!(cats[0].levels, ["b", "c", "<missing>", "other"]);
    assert_eq!(cats[1].levels, ["gold", "other"]);

    assert_eq!(
        p.layout().names,
        [
            "x",
            "x.missing",
            "m",
            "r",
            "r.missing",
            "b",
            "b.missing",
            "plan=b",
            "plan=c",
            "plan=<missing>",
            "plan=other",
            "tier=gold",
            "tier=other"
        ]
    );
    assert_eq!(p.n_features(), 13);
}

#[test]
fn transform_is_hand_computed() {
    let (p, table) = fitted();
    let f = p.transform(&table).unwrap();
    assert_eq!((f.rows, f.cols), (7, 13));
    let ln2 = std::f64::consts::LN_2;
    let (xm, xs) = (7.75, 103.15f64.sqrt());
    let (mm, ms) = (2.0 * ln2, 2f64.sqrt() * ln2);
    let rs = &p.numeric_features()[2];
    let r = |v: f64| (v - f64::from(rs.mean)) / f64::from(rs.std);
    // Row 2 (c2): x missing → median 3 (inside the clip range), indicator 1; m = 3 → ln 4;
    // r missing → 3; b = 0; plan c; tier silver (rare) → other.
    #[rustfmt::skip]
    assert_all_close(f.row(2), &[
        (3.0 - xm) / xs, 1.0, (4f64.ln() - mm) / ms, r(3.0), 1.0, 0.0, 0.0,
        0.0, 1.0, 0.0, 0.0, 0.0, 1.0,
    ]);
    // Row 4 (c4): x = 100 → clipped to 28; m = 15 → ln 16; r = 40/3; plan missing → <missing>.
    #[rustfmt::skip]
    assert_all_close(f.row(4), &[
        (28.0 - xm) / xs, 0.0, (16f64.ln() - mm) / ms, r(40.0 / 3.0), 0.0, 0.0, 0.0,
        0.0, 0.0, 1.0, 0.0, 1.0, 0.0,
    ]);
    // Row 5 (v5, never in train): x = 1000 → 28; m missing → median 3 → ln 4, and m has no
    // indicator; r missing (m missing) → 3, indicator 1; b missing → mode 0, indicator 1;
    // unseen plan `zzz` → other; tier silver → other.
    #[rustfmt::skip]
    assert_all_close(f.row(5), &[
        (28.0 - xm) / xs, 0.0, (4f64.ln() - mm) / ms, r(3.0), 1.0, 0.0, 1.0,
        0.0, 0.0, 0.0, 1.0, 0.0, 1.0,
    ]);
}

#[test]
fn fit_uses_train_rows_only() {
    let (schema, table) = setup(CSV);
    let with_valid = Preprocessor::fit(&schema, &table, &TRAIN).unwrap();
    let train_only_csv: String = CSV.lines().take(6).map(|l| format!("{l}\n")).collect();
    let (_, train_table) = setup(&train_only_csv);
    let alone = Preprocessor::fit(&schema, &train_table, &TRAIN).unwrap();
    assert_eq!(with_valid, alone);
    // Order of the train rows does not matter either.
    assert_eq!(
        Preprocessor::fit(&schema, &table, &[4, 2, 0, 1, 3]).unwrap(),
        alone
    );
}

#[test]
fn transform_rows_selects_and_orders() {
    let (p, table) = fitted();
    let all = p.transform(&table).unwrap();
    let some = p.transform_rows(&table, &[5, 0]).unwrap();
    assert_eq!(some.rows, 2);
    assert_eq!(some.row(0), all.row(5));
    assert_eq!(some.row(1), all.row(0));
    assert_eq!(
        p.transform_rows(&table, &[7]).unwrap_err(),
        PreprocessError::RowOutOfRange { row: 7, rows: 7 }
    );
}

#[test]
fn unseen_category_in_another_file_goes_to_other() {
    let (p, _) = fitted();
    // A scoring file with a new dictionary order, an unseen level and a literal `other`.
    let (_, score) =
        setup("id,x,m,b,plan,tier\ns1,1,1,1,new,gold\ns2,1,1,1,c,other\ns3,1,1,1,b,\n");
    let f = p.transform(&score).unwrap();
    let onehot = |row: usize| f.row(row)[7..].to_vec();
    assert_eq!(onehot(0), [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
    assert_eq!(onehot(1), [0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    // tier missing and tier has no <missing> level → other.
    assert_eq!(onehot(2), [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn json_round_trip_gives_identical_output() {
    let (p, table) = fitted();
    let json = p.to_json();
    let text = serde_json::to_string(&json).unwrap();
    let back = Preprocessor::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(back, p);
    assert_eq!(
        back.transform(&table).unwrap(),
        p.transform(&table).unwrap()
    );
    // The serde form is the same JSON.
    let via_serde: Preprocessor = serde_json::from_str(&text).unwrap();
    assert_eq!(via_serde, p);
}

#[test]
fn malformed_json_is_rejected() {
    let (p, _) = fitted();
    let mut v = p.to_json();
    v["format_version"] = 99.into();
    assert!(matches!(
        Preprocessor::from_json(&v),
        Err(PreprocessError::UnsupportedVersion { found: 99, .. })
    ));
    let mut v = p.to_json();
    v["categorical"][0]["levels"] = serde_json::json!(["b", "other", "c"]);
    assert!(matches!(
        Preprocessor::from_json(&v),
        Err(PreprocessError::Malformed(_))
    ));
    let mut v = p.to_json();
    v["numeric"][0]["std"] = 0.0.into();
    assert!(matches!(
        Preprocessor::from_json(&v),
        Err(PreprocessError::Malformed(_))
    ));
    let mut v = p.to_json();
    v["layout"]["names"][0] = "renamed".into();
    assert!(matches!(
        Preprocessor::from_json(&v),
        Err(PreprocessError::Malformed(_))
    ));
    assert!(matches!(
        Preprocessor::from_json(&serde_json::json!({"numeric": 1})),
        Err(PreprocessError::Json(_))
    ));
}

#[test]
fn tensors_have_the_contract_names_and_shapes() {
    let (p, _) = fitted();
    let t = p.tensors();
    let names: Vec<&str> = t.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "preprocess.numeric.median",
            "preprocess.numeric.clip_low",
            "preprocess.numeric.clip_high",
            "preprocess.numeric.log1p",
            "preprocess.numeric.mean",
            "preprocess.numeric.std",
            "preprocess.numeric.has_indicator",
            "preprocess.binary.mode",
            "preprocess.binary.has_indicator",
        ]
    );
    for (name, shape, data) in &t {
        let n = if name.starts_with("preprocess.numeric.") {
            3
        } else {
            1
        };
        assert_eq!(shape, &vec![n], "{name}");
        assert_eq!(data.len(), n, "{name}");
    }
    assert_eq!(t[1].2, [1.75, f32::NEG_INFINITY, f32::NEG_INFINITY]);
    assert_eq!(t[2].2, [28.0, f32::INFINITY, f32::INFINITY]);
    assert_eq!(t[3].2, [0.0, 1.0, 0.0]);
    assert_eq!(t[6].2, [1.0, 0.0, 1.0]);
}

#[test]
fn no_train_rows_is_an_error() {
    let (schema, table) = setup(CSV);
    assert_eq!(
        Preprocessor::fit(&schema, &table, &[]).unwrap_err(),
        PreprocessError::NoTrainRows
    );
}

#[test]
fn missing_columns_are_named() {
    let (p, _) = fitted();
    let other = Schema::parse("[[columns]]\nname = \"id\"\nrole = \"id\"\n[[columns]]\nname = \"x\"\nrole = \"numeric\"\n", "o").unwrap();
    let (table, _) = read_csv_from_reader(
        "id,x\na,1\n".as_bytes(),
        "o.csv",
        &other,
        &ReadOptions::default(),
    )
    .unwrap();
    let msg = p.transform(&table).unwrap_err().to_string();
    for part in [
        "o.csv",
        "numeric `m`",
        "binary `b`",
        "categorical `plan`",
        "categorical `tier`",
    ] {
        assert!(msg.contains(part), "{msg} lacks {part}");
    }
}

#[test]
fn constant_feature_gets_unit_std() {
    let (schema, table) = setup(CSV);
    // Row 0 twice: every numeric feature is constant (std → 1); b = [1, 1] → mode 1.
    let p = Preprocessor::fit(&schema, &table, &[0, 0]).unwrap();
    assert_eq!(p.numeric_features()[0].std, 1.0);
    assert_eq!(p.binary_features()[0].mode, 1.0);
}

#[test]
fn clip_counts_count_values_outside_the_range() {
    let (p, table) = fitted();
    // x = [1, 2, NaN, 4, 100, 1000, 3] against [1.75, 28]: 1 below, 2 above.
    let counts = p.clip_counts(&table).unwrap();
    assert_eq!(
        counts,
        [ClipCount {
            feature: "x".into(),
            below: 1,
            above: 2
        }]
    );
}

#[test]
fn a_value_beyond_f32_after_preprocessing_names_its_row() {
    // y has neither clip nor log1p: (1e308 − 2) / std is finite in f64 but not in f32.
    let schema = Schema::parse(
        "[[columns]]\nname = \"id\"\nrole = \"id\"\n[[columns]]\nname = \"y\"\nrole = \"numeric\"\n",
        "y.toml",
    )
    .unwrap();
    let read = |csv: &str| {
        read_csv_from_reader(csv.as_bytes(), "t.csv", &schema, &ReadOptions::default())
            .unwrap()
            .0
    };
    let train = read("id,y\na,1\nb,2\nc,3\n");
    let p = Preprocessor::fit(&schema, &train, &[0, 1, 2]).unwrap();
    let err = p.transform(&read("id,y\nok,1\nz9,1e308\n")).unwrap_err();
    assert!(
        matches!(&err, PreprocessError::NotRepresentable { line: 3, feature, .. } if feature == "y"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("t.csv:3") && msg.contains("`y`"), "{msg}");
}

/// One numeric column `v` with the given `scale` line, fitted on every row of `values`.
fn fit_scaled(scale: &str, values: &[f64]) -> NumericFeature {
    let schema = Schema::parse(
        &format!("[[columns]]\nname = \"id\"\nrole = \"id\"\n[[columns]]\nname = \"v\"\nrole = \"numeric\"\n{scale}\n"),
        "s.toml",
    )
    .unwrap();
    let csv: String = std::iter::once("id,v\n".to_string())
        .chain(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("r{i},{v}\n")),
        )
        .collect();
    let (table, _) =
        read_csv_from_reader(csv.as_bytes(), "s.csv", &schema, &ReadOptions::default()).unwrap();
    let rows: Vec<usize> = (0..values.len()).collect();
    Preprocessor::fit(&schema, &table, &rows)
        .unwrap()
        .numeric_features()[0]
        .clone()
}

#[test]
fn each_scale_fits_its_shift_and_divisor() {
    let v = [1.0, 2.0, 3.0, 4.0, 10.0];
    // standard: mean 4, population std √(9+4+1+0+36)/5 = √10.
    let f = fit_scaled("scale = \"standard\"", &v);
    assert_eq!((f.scale, f.mean), (Scale::Standard, 4.0));
    assert!((f.std - 10f32.sqrt()).abs() < 1e-6);
    // minmax: min 1, range 9.
    let f = fit_scaled("scale = \"minmax\"", &v);
    assert_eq!((f.scale, f.mean, f.std), (Scale::Minmax, 1.0, 9.0));
    assert_eq!(f.apply(10.0), 1.0);
    // robust: median 3, IQR 4 - 2 = 2 (numpy quantiles 0.25 → 2, 0.75 → 4).
    let f = fit_scaled("scale = \"robust\"", &v);
    assert_eq!((f.scale, f.mean, f.std), (Scale::Robust, 3.0, 2.0));
    // robust with IQR 0 falls back to the range.
    let f = fit_scaled("scale = \"robust\"", &[0.0, 0.0, 0.0, 0.0, 5.0]);
    assert_eq!((f.mean, f.std), (0.0, 5.0));
    let f = fit_scaled("scale = \"none\"", &v);
    assert_eq!((f.scale, f.mean, f.std), (Scale::None, 0.0, 1.0));
}

#[test]
fn auto_scale_keeps_rare_events_within_one_unit() {
    // 19 zeros and one 3 (95 % one value): minmax, so the rare value maps to 1, not to the
    // 4.4 standard deviations standardizing would give it.
    let mut sparse = vec![0.0; 19];
    sparse.push(3.0);
    let f = fit_scaled("", &sparse);
    assert_eq!(f.scale, Scale::Minmax);
    assert_eq!((f.apply(0.0), f.apply(3.0)), (0.0, 1.0));
    // A spread column stays standard.
    let f = fit_scaled("", &[1.0, 2.0, 3.0, 4.0, 10.0]);
    assert_eq!(f.scale, Scale::Standard);
}

#[test]
fn format_1_preprocessing_reads_as_standard() {
    let (p, _) = fitted();
    let mut json = p.to_json();
    json["format_version"] = 1.into();
    for f in json["numeric"].as_array_mut().unwrap() {
        f.as_object_mut().unwrap().remove("scale");
    }
    let back = Preprocessor::from_json(&json).unwrap();
    assert!(
        back.numeric_features()
            .iter()
            .all(|f| f.scale == Scale::Standard)
    );
    assert_eq!(
        back.numeric_features()[0].mean,
        p.numeric_features()[0].mean
    );
}
