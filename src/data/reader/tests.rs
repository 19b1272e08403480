//! One test per reading rule, on tiny inline CSV files.

use super::*;

/// id, a numeric in [0, 100], a numeric that must not be missing, a categorical, a binary,
/// a target and an ignored column.
const SCHEMA: &str = r#"
name = "t"
[[columns]]
name = "id"
role = "id"
[[columns]]
name = "x"
role = "numeric"
min = 0.0
max = 100.0
[[columns]]
name = "y"
role = "numeric"
missing = "error"
[[columns]]
name = "plan"
role = "categorical"
[[columns]]
name = "promo"
role = "binary"
[[columns]]
name = "churn"
role = "target"
[[columns]]
name = "note"
role = "ignore"
"#;
const HEADER: &str = "id,x,y,plan,promo,churn,note\n";

fn schema() -> Schema {
    Schema::parse(SCHEMA, "t.toml").unwrap()
}

fn read_with(
    text: &str,
    schema: &Schema,
    on_bad_row: OnBadRow,
) -> Result<(RawTable, ReadReport), DataError> {
    read_csv_from_reader(
        text.as_bytes(),
        "t.csv",
        schema,
        &ReadOptions { on_bad_row },
    )
}

fn read(text: &str) -> Result<(RawTable, ReadReport), DataError> {
    read_with(text, &schema(), OnBadRow::Error)
}

/// The error message for a file whose header is HEADER and whose rows are `rows`.
fn error(rows: &str) -> String {
    read(&format!("{HEADER}{rows}")).unwrap_err().to_string()
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

#[test]
fn reads_a_valid_file() {
    let (t, r) = read(&format!(
        "{HEADER}a,1.5,2,pre,yes,1,z\nb,,3,post,N,,z\nc,7,4,pre,,0,\n"
    ))
    .unwrap();
    assert_eq!(r.rows, 3);
    assert_eq!(t.ids, ["a", "b", "c"]);
    assert_eq!(t.numeric[0].name, "x");
    assert_eq!(t.numeric[0].values[0], 1.5);
    assert!(t.numeric[0].values[1].is_nan());
    assert_eq!(t.numeric[1].values, [2.0, 3.0, 4.0]);
    assert_eq!(t.categorical[0].dictionary, ["pre", "post"]);
    assert_eq!(t.categorical[0].codes, [0, 1, 0]);
    assert_eq!(t.binary[0].values[..2], [1.0, 0.0]);
    assert!(t.binary[0].values[2].is_nan());
    // The first spelling of each value is kept for writing back.
    assert_eq!(t.binary[0].spelling, [Some("N".into()), Some("yes".into())]);
    assert_eq!(
        t.targets[0].values,
        [Some("1".into()), None, Some("0".into())]
    );
    assert_eq!(t.line_numbers, [2, 3, 4]);
    assert!(r.absent_targets.is_empty() && r.skipped.is_empty());
}

#[test]
fn bom_crlf_quotes_and_whitespace() {
    let text = "\u{feff}id , x,y,plan,promo,churn,note\r\n a , 1 ,2,\"pre, paid\",TRUE,1,\"say \"\"hi\"\"\"\r\nb,3,4,  post ,false,0,\r\n";
    let (t, _) = read(text).unwrap();
    assert_eq!(t.ids, ["a", "b"]);
    assert_eq!(t.numeric[0].values, [1.0, 3.0]);
    assert_eq!(t.categorical[0].dictionary, ["pre, paid", "post"]);
    assert_eq!(t.binary[0].values, [1.0, 0.0]);
    assert_eq!(t.line_numbers, [2, 3]);
}

#[test]
fn line_numbers_survive_blank_lines_and_multiline_fields() {
    // Line 2: a; line 3: blank; line 4: b, whose quoted `plan` spans lines 4-5; line 6: blank
    // (CRLF); line 7: c, which is bad.
    let text = format!("{HEADER}a,1,1,p,1,1,\n\nb,2,2,\"two\nlines\",1,1,\n\r\nc,x,3,p,1,1,\n");
    let (t, r) = read_with(&text, &schema(), OnBadRow::Skip).unwrap();
    assert_eq!(t.line_numbers, [2, 4]);
    assert_eq!(t.categorical[0].dictionary, ["p", "two\nlines"]);
    assert_eq!(r.skipped[0].0, 7);
    assert!(r.skipped[0].1.contains("t.csv:7:2"), "{}", r.skipped[0].1);
}

#[test]
fn target_columns_are_optional() {
    let (t, r) = read("id,x,y,plan,promo,note\na,1,2,p,1,\n").unwrap();
    assert!(t.targets.is_empty());
    assert_eq!(r.absent_targets, ["churn"]);
}

#[test]
fn header_reports_all_missing_and_unknown_columns() {
    let msg = read("id,y,plan,extra1,note,extra2\na,1,p,1,,\n")
        .unwrap_err()
        .to_string();
    assert_mentions(
        &msg,
        &[
            "t.csv:1:",
            "missing columns `x`, `promo`",
            "unknown columns `extra1`, `extra2`",
            "allow_extra_columns",
        ],
    );
}

#[test]
fn extra_columns_allowed_when_the_schema_says_so() {
    let mut s = schema();
    s.allow_extra_columns = true;
    let (t, r) = read_with(
        "id,x,extra,y,plan,promo,note\na,1,zzz,2,p,1,\n",
        &s,
        OnBadRow::Error,
    )
    .unwrap();
    assert_eq!(r.extra_columns, ["extra"]);
    assert_eq!(t.numeric[1].values, [2.0]);
}

#[test]
fn duplicate_header_is_rejected() {
    let msg = read("id,x,y,plan,x,promo,note\na,1,2,p,1,1,\n")
        .unwrap_err()
        .to_string();
    assert_mentions(&msg, &["t.csv:1:", "`x` appears twice", "columns 2 and 5"]);
}

#[test]
fn empty_file_has_no_header() {
    let err = read("").unwrap_err();
    assert!(matches!(err, DataError::NoHeader { .. }));
    assert_mentions(&err.to_string(), &["t.csv", "no header"]);
}

#[test]
fn header_only_has_no_data_rows() {
    let err = read(HEADER).unwrap_err();
    assert!(matches!(err, DataError::NoDataRows { .. }));
    assert_mentions(&err.to_string(), &["t.csv", "no data rows"]);
}

#[test]
fn text_in_numeric_column() {
    assert_mentions(
        &error("a,1,2,p,1,1,\nb,abc,2,p,1,1,\n"),
        &["t.csv:3:2", "`x`", "`abc` is not a number"],
    );
}

#[test]
fn nan_and_inf_text_are_refused() {
    for bad in ["nan", "NaN", "inf", "-INF", "Infinity"] {
        let msg = error(&format!("a,1,{bad},p,1,1,\n"));
        assert_mentions(
            &msg,
            &["t.csv:2:3", "`y`", bad, "nan and inf", "empty cell"],
        );
    }
}

#[test]
fn overflow_is_not_finite() {
    assert_mentions(
        &error("a,1,1e999,p,1,1,\n"),
        &["t.csv:2:3", "`y`", "`1e999`", "not a finite number"],
    );
}

#[test]
fn out_of_range_names_the_bounds() {
    assert_mentions(
        &error("a,100.5,1,p,1,1,\n"),
        &[
            "t.csv:2:2",
            "`x`",
            "`100.5`",
            "outside the range",
            "[0, 100]",
        ],
    );
    assert_mentions(
        &error("a,-1,1,p,1,1,\n"),
        &["t.csv:2:2", "`-1`", "outside the range"],
    );
}

#[test]
fn invalid_binary_value() {
    assert_mentions(
        &error("a,1,1,p,maybe,1,\n"),
        &[
            "t.csv:2:5",
            "`promo`",
            "`maybe`",
            "not a binary value",
            "yes/no",
        ],
    );
}

#[test]
fn missing_where_policy_is_error() {
    assert_mentions(
        &error("a,1,,p,1,1,\n"),
        &["t.csv:2:3", "`y`", "missing value", "missing = \"error\""],
    );
}

#[test]
fn empty_id() {
    assert_mentions(
        &error("a,1,1,p,1,1,\n  ,1,1,p,1,1,\n"),
        &["t.csv:3:1", "`id`", "empty customer id"],
    );
}

#[test]
fn duplicate_id_names_both_lines() {
    let msg = error("a,1,1,p,1,1,\nb,1,1,p,1,1,\na,2,2,p,1,1,\n");
    assert_mentions(
        &msg,
        &[
            "t.csv:4:1",
            "`id`",
            "duplicate customer id `a`",
            "line 2",
            "line 4",
        ],
    );
}

#[test]
fn ragged_row_says_expected_and_found() {
    assert_mentions(
        &error("a,1,1,p,1,1,\nb,1,1,p\n"),
        &["t.csv:3:", "expected 7", "found 4"],
    );
}

#[test]
fn invalid_utf8_names_the_line() {
    let mut bytes = format!("{HEADER}a,1,1,p,1,1,\nb,1,1,").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe,1,1,\n");
    let msg = read_csv_from_reader(&bytes[..], "t.csv", &schema(), &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert_mentions(&msg, &["t.csv:3:4", "invalid UTF-8"]);
}

#[test]
fn long_values_are_truncated_in_messages() {
    let long = "z".repeat(100);
    let msg = error(&format!("a,{long},1,p,1,1,\n"));
    assert!(msg.contains(&format!("`{}…`", "z".repeat(40))), "{msg}");
}

#[test]
fn skip_mode_counts_and_reports_bad_rows() {
    // Lines 3 (text), 5 (duplicate of a), 6 (ragged) are bad; 2 and 4 are kept. Line 3's
    // level `bad-level` must not reach the dictionary.
    let text =
        format!("{HEADER}a,1,1,p,1,1,\nb,x,1,bad-level,1,1,\nc,2,2,q,0,0,\na,3,3,p,1,1,\nd,1\n");
    let (t, r) = read_with(&text, &schema(), OnBadRow::Skip).unwrap();
    assert_eq!(t.ids, ["a", "c"]);
    assert_eq!(t.numeric[0].values, [1.0, 2.0]);
    assert_eq!(t.categorical[0].dictionary, ["p", "q"]);
    assert_eq!(t.categorical[0].codes, [0, 1]);
    assert_eq!(t.line_numbers, [2, 4]);
    assert_eq!(r.rows, 2);
    assert_eq!(r.skipped_total, 3);
    let lines: Vec<u64> = r.skipped.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [3, 5, 6]);
    assert!(r.skipped[1].1.contains("duplicate customer id"));
}

#[test]
fn skip_mode_keeps_only_the_first_reasons() {
    let mut text = format!("{HEADER}ok,1,1,p,1,1,\n");
    for i in 0..30 {
        text.push_str(&format!("r{i},bad,1,p,1,1,\n"));
    }
    let (_, r) = read_with(&text, &schema(), OnBadRow::Skip).unwrap();
    assert_eq!(r.skipped_total, 30);
    assert_eq!(r.skipped.len(), MAX_SKIP_REASONS);
}

#[test]
fn all_rows_skipped_is_an_error() {
    let err = read_with(
        &format!("{HEADER}a,bad,1,p,1,1,\n"),
        &schema(),
        OnBadRow::Skip,
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::AllRowsSkipped { skipped: 1, .. }),
        "{err}"
    );
}

#[test]
fn read_csv_opens_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.csv");
    std::fs::write(&path, format!("{HEADER}a,1,1,p,1,1,\n")).unwrap();
    let (t, _) = read_csv(&path, &schema(), &ReadOptions::default()).unwrap();
    assert_eq!(t.source, path.display().to_string());
    let err = read_csv(
        &dir.path().join("nope.csv"),
        &schema(),
        &ReadOptions::default(),
    )
    .unwrap_err();
    assert!(err.is_input_error());
    assert!(err.to_string().contains("nope.csv"));
}

#[test]
fn on_bad_row_parses() {
    assert_eq!("skip".parse::<OnBadRow>().unwrap(), OnBadRow::Skip);
    assert!("drop".parse::<OnBadRow>().is_err());
}

fn batches(text: &str, on_bad_row: OnBadRow) -> CsvBatches<&[u8]> {
    CsvBatches::from_reader(
        text.as_bytes(),
        "t.csv",
        &schema(),
        &ReadOptions { on_bad_row },
    )
    .unwrap()
}

#[test]
fn batches_concatenate_to_the_whole_file() {
    let text = format!(
        "{HEADER}a,1,1,pre,1,1,\nb,2,2,post,0,0,\nc,,3,pre,,1,\nd,4,4,mid,1,,\ne,5,5,pre,0,0,\n"
    );
    let (whole, _) = read(&text).unwrap();
    let mut b = batches(&text, OnBadRow::Error);
    let mut ids = Vec::new();
    let mut y = Vec::new();
    let mut lines = Vec::new();
    let mut sizes = Vec::new();
    while let Some(t) = b.next_batch(2).unwrap() {
        sizes.push(t.n_rows());
        ids.extend(t.ids);
        y.extend(t.numeric[1].values.iter().copied());
        lines.extend(t.line_numbers);
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(ids, whole.ids);
    assert_eq!(y, whole.numeric[1].values);
    assert_eq!(lines, whole.line_numbers);
    assert_eq!(b.report().rows, 5);
    assert!(b.next_batch(2).unwrap().is_none());
}

#[test]
fn duplicate_id_in_a_later_batch_names_both_lines() {
    let text = format!("{HEADER}a,1,1,p,1,1,\nb,1,1,p,1,1,\nc,1,1,p,1,1,\na,2,2,p,1,1,\n");
    let mut b = batches(&text, OnBadRow::Error);
    assert_eq!(b.next_batch(2).unwrap().unwrap().ids, ["a", "b"]);
    let msg = b.next_batch(2).unwrap_err().to_string();
    assert_mentions(&msg, &["t.csv:5:1", "duplicate customer id `a`", "line 2"]);
}

#[test]
fn skipped_rows_are_counted_across_batches() {
    let text =
        format!("{HEADER}a,1,1,p,1,1,\nb,999,1,p,1,1,\nc,1,1,p,1,1,\nd,1,,p,1,1,\ne,1,1,p,1,1,\n");
    let mut b = batches(&text, OnBadRow::Skip);
    let mut ids = Vec::new();
    while let Some(t) = b.next_batch(2).unwrap() {
        ids.extend(t.ids);
    }
    assert_eq!(ids, ["a", "c", "e"]);
    assert_eq!(b.report().skipped_total, 2);
    assert_eq!(b.report().rows, 3);
}

#[test]
fn batches_of_a_header_only_file_fail_like_read_csv() {
    let mut b = batches(HEADER, OnBadRow::Error);
    assert!(matches!(
        b.next_batch(10),
        Err(DataError::NoDataRows { .. })
    ));
}
