//! Parquet reading and writing against the CSV path: same tables, same errors.

use std::path::{Path, PathBuf};

use super::*;
use crate::data::interactions::load_teleseg;
use crate::data::reader::{CsvBatches, OnBadRow, ReadOptions, read_csv};
use crate::data::schema::Schema;
use crate::data::table::RawTable;

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
name = "n"
role = "numeric"
integer = true
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

/// Missing values in every role, repeated and new categories, all binary spellings.
const CSV: &str = "id,x,n,plan,promo,churn,note\n\
A,10.5,3,basic,1,yes,hello\n\
B,,4,premium,0,,\n\
C,0.125,,basic,,no,x\n\
D,99.999999,7,,1,yes,\n\
E,42,8,family,0,no,y\n";

fn schema() -> Schema {
    Schema::parse(SCHEMA, "t.toml").unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Writes CSV into `dir/name.csv` and its Parquet conversion (row groups of `chunk` rows).
fn csv_and_parquet(dir: &Path, name: &str, csv: &str, chunk: usize) -> (PathBuf, PathBuf) {
    let schema = schema();
    let c = dir.join(format!("{name}.csv"));
    let p = dir.join(format!("{name}.parquet"));
    std::fs::write(&c, csv).unwrap();
    csv_to_parquet(&c, &p, |n| customer_column_kind(&schema, n), chunk).unwrap();
    (c, p)
}

/// The table without what differs between the sources (name, CSV line vs Parquet row), as
/// text: `NaN` (a missing value) equals `NaN` there, unlike with `==`.
fn comparable(mut t: RawTable) -> String {
    t.source.clear();
    t.line_numbers.clear();
    // How a file spelled its binary values (CSV `yes`, Parquet booleans) is not a value.
    for b in &mut t.binary {
        b.spelling = Default::default();
    }
    format!("{t:?}")
}

fn read(path: &Path) -> Result<RawTable, DataError> {
    Ok(read_csv(path, &schema(), &ReadOptions::default())?.0)
}

#[test]
fn parquet_paths_are_recognised_by_extension() {
    assert!(is_parquet(Path::new("a/b.parquet")));
    assert!(is_parquet(Path::new("b.PQ")));
    assert!(!is_parquet(Path::new("b.csv")));
    assert!(!is_parquet(Path::new("parquet")));
}

#[test]
fn parquet_reads_the_same_table_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    for chunk in [1, 2, 100] {
        let (c, p) = csv_and_parquet(dir.path(), &format!("t{chunk}"), CSV, chunk);
        let from_csv = read(&c).unwrap();
        let from_parquet = read(&p).unwrap();
        assert_eq!(from_parquet.source, p.display().to_string());
        assert_eq!(from_parquet.line_numbers, vec![1, 2, 3, 4, 5]);
        assert_eq!(comparable(from_parquet), comparable(from_csv.clone()));
        // Missing values and categories really are there (not two empty tables).
        assert!(from_csv.numeric("x").unwrap().values[1].is_nan());
        assert!(from_csv.numeric("n").unwrap().values[2].is_nan());
        assert_eq!(from_csv.categorical("plan").unwrap().value(3), None);
        assert_eq!(
            from_csv.categorical("plan").unwrap().dictionary,
            ["basic", "premium", "family"]
        );
        assert!(from_csv.binary("promo").unwrap().values[2].is_nan());
        assert_eq!(from_csv.target("churn").unwrap().values[1], None);
    }
}

#[test]
fn parquet_batches_span_row_groups_like_csv_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (c, p) = csv_and_parquet(dir.path(), "t", CSV, 2);
    let batches = |path: &Path| {
        let mut b = CsvBatches::open(path, &schema(), &ReadOptions::default()).unwrap();
        let mut out = Vec::new();
        while let Some(t) = b.next_batch(3).unwrap() {
            out.push(comparable(t));
        }
        (out, b.bytes_read())
    };
    let (from_csv, _) = batches(&c);
    let (from_parquet, bytes) = batches(&p);
    assert_eq!(from_parquet.len(), 2);
    assert_eq!(from_parquet, from_csv);
    assert_eq!(bytes, std::fs::metadata(&p).unwrap().len());
}

#[test]
fn parquet_cell_errors_match_csv_rules() {
    let dir = tempfile::tempdir().unwrap();
    // Out of range, in the 2nd row group: the row number is the file's, not the group's.
    let (_, p) = csv_and_parquet(
        dir.path(),
        "range",
        "id,x,n,plan,promo,churn,note\nA,1,1,a,1,,\nB,2,1,a,1,,\nC,200,1,a,1,,\n",
        2,
    );
    let msg = read(&p).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}:3:2 (column `x`)", p.display())) && msg.contains("200"),
        "{msg}"
    );
    // A duplicate id across row groups names both rows.
    let (_, p) = csv_and_parquet(
        dir.path(),
        "dup",
        "id,x,n,plan,promo,churn,note\nA,1,1,a,1,,\nB,2,1,a,1,,\nA,3,1,a,1,,\n",
        1,
    );
    let mut b = CsvBatches::open(&p, &schema(), &ReadOptions::default()).unwrap();
    b.next_batch(1).unwrap();
    b.next_batch(1).unwrap();
    let msg = b.next_batch(1).unwrap_err().to_string();
    assert!(
        msg.contains("duplicate customer id `A`") && msg.contains("first seen on line 1"),
        "{msg}"
    );
    // --on-bad-row skip works the same.
    let opts = ReadOptions {
        on_bad_row: OnBadRow::Skip,
    };
    let (t, report) = read_csv(&p, &schema(), &opts).unwrap();
    assert_eq!((t.n_rows(), report.skipped_total), (2, 1));
    assert_eq!(report.skipped[0].0, 3);
}

/// Writes a Parquet file with these typed columns and CSV rows.
fn typed(dir: &Path, name: &str, columns: &[(&str, ColKind)], rows: &str) -> PathBuf {
    let p = dir.join(name);
    let cols: Vec<(String, ColKind)> = columns.iter().map(|(n, k)| (n.to_string(), *k)).collect();
    let mut w = ParquetWriter::create(&p, &cols).unwrap();
    w.write_csv_chunk(rows.as_bytes()).unwrap();
    w.commit().unwrap();
    p
}

const COLS: [(&str, ColKind); 7] = [
    ("id", ColKind::Utf8),
    ("x", ColKind::Float64),
    ("n", ColKind::Int64),
    ("plan", ColKind::Utf8),
    ("promo", ColKind::Bool),
    ("churn", ColKind::Utf8),
    ("note", ColKind::Utf8),
];

#[test]
fn parquet_type_header_and_value_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // A string column where the schema says numeric: refused before any row, naming the column.
    let mut cols = COLS;
    cols[1].1 = ColKind::Utf8;
    let f = typed(p, "wrongtype.parquet", &cols, "A,1,1,a,1,,\n");
    let e = read(&f).unwrap_err();
    assert!(matches!(e, DataError::ParquetType { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("wrongtype.parquet") && msg.contains("`x`") && msg.contains("string"),
        "{msg}"
    );
    assert!(e.is_input_error());
    // A missing column and an unknown one: the CSV header rule.
    let mut cols = COLS.to_vec();
    cols[2] = ("extra", ColKind::Int64);
    let f = typed(p, "header.parquet", &cols, "A,1,1,a,1,,\n");
    let msg = read(&f).unwrap_err().to_string();
    assert!(
        msg.contains("header.parquet:1: header does not match the schema")
            && msg.contains("missing columns `n`")
            && msg.contains("unknown columns `extra`"),
        "{msg}"
    );
    // NaN and inf in a double column: refused like `nan` text, with row and column.
    for (v, row) in [("NaN", 2), ("inf", 2), ("-inf", 2)] {
        let f = typed(
            p,
            "nan.parquet",
            &COLS,
            &format!("A,1,1,a,1,,\nB,{v},1,a,1,,\n"),
        );
        let e = read(&f).unwrap_err();
        assert!(matches!(e, DataError::NonFiniteText { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("{}:{row}:2 (column `x`)", f.display())),
            "{e}"
        );
    }
    // Nulls where the schema says missing = "error" are missing values (here: the id).
    let f = typed(p, "noid.parquet", &COLS, "A,1,1,a,1,,\n,2,1,a,1,,\n");
    let msg = read(&f).unwrap_err().to_string();
    assert!(
        msg.contains("noid.parquet:2:1") && msg.contains("empty customer id"),
        "{msg}"
    );
    // An integer binary column with a value other than 0/1.
    let mut cols = COLS;
    cols[4].1 = ColKind::Int64;
    let f = typed(p, "bin.parquet", &cols, "A,1,1,a,2,,\n");
    let msg = read(&f).unwrap_err().to_string();
    assert!(
        msg.contains("bin.parquet:1:5") && msg.contains("not a binary value"),
        "{msg}"
    );
}

#[test]
fn not_parquet_and_truncated_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.parquet");
    std::fs::write(&text, CSV).unwrap();
    let e = read(&text).unwrap_err();
    assert!(matches!(e, DataError::Parquet { .. }), "{e}");
    assert!(e.is_input_error());
    assert!(
        e.to_string()
            .starts_with(&format!("{}: not a readable Parquet file", text.display())),
        "{e}"
    );
    let (_, good) = csv_and_parquet(dir.path(), "good", CSV, 2);
    let bytes = std::fs::read(&good).unwrap();
    for cut in [0, 4, bytes.len() / 2, bytes.len() - 1] {
        let t = dir.path().join(format!("cut{cut}.pq"));
        std::fs::write(&t, &bytes[..cut]).unwrap();
        let e = read(&t).unwrap_err();
        assert!(matches!(e, DataError::Parquet { .. }), "cut at {cut}: {e}");
    }
    // Corrupt bytes in the middle (the footer intact): an error, never a panic.
    let mut bad = bytes.clone();
    for b in &mut bad[8..bytes.len() / 2] {
        *b = 0xAB;
    }
    let t = dir.path().join("corrupt.parquet");
    std::fs::write(&t, &bad).unwrap();
    let e = read(&t).unwrap_err();
    assert!(e.is_input_error(), "{e}");
    let missing = dir.path().join("nowhere.parquet");
    assert!(matches!(read(&missing), Err(DataError::Io { .. })));
}

#[test]
fn writer_leaves_nothing_behind_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.parquet");
    let mut w = ParquetWriter::create(&p, &[("a".into(), ColKind::Float32)]).unwrap();
    w.write_csv_chunk(b"1.5\n2\n").unwrap();
    assert!(w.write_csv_chunk(b"abc\n").is_err());
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn table_sink_writes_score_columns_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scores.parquet");
    let header = b"customer_id,segment,confidence,z0,offers,offer_scores,offer_source\n";
    let mut sink = TableSink::create(&p, header, score_column_kind).unwrap();
    sink.write_rows(b"A,1,0.5,-0.25,O1 O2,0.9 0.8,model\n")
        .unwrap();
    sink.write_rows(b"B,0,0.75,1e-7,,,popularity\n").unwrap();
    sink.commit().unwrap();
    let src = ParquetSource::open(&p).unwrap();
    assert_eq!(
        src.kinds(),
        [
            ValueKind::Str,
            ValueKind::Int,
            ValueKind::Float,
            ValueKind::Float,
            ValueKind::Str,
            ValueKind::Str,
            ValueKind::Str
        ]
    );
    let (names, rows) = read_text_rows(&p).unwrap();
    assert_eq!(names[2], "confidence");
    assert_eq!(
        rows[0].1,
        ["A", "1", "0.5", "-0.25", "O1 O2", "0.9 0.8", "model"]
    );
    assert_eq!(
        rows[1].1,
        ["B", "0", "0.75", "0.0000001", "", "", "popularity"]
    );
    assert_eq!(rows[1].0, 2);
}

#[test]
fn interactions_read_the_same_from_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("interactions.csv");
    std::fs::write(
        &c,
        "customer_id,offer_id,timestamp,event\n\
         C1,O2,2024-01-24T09:19:21Z,accept\n\
         C1,O1,2024-01-25T09:19:21Z,impression\n\
         C2,O1,1706000000,accept\n\
         C1,O1,2024-01-26T00:00:00Z,accept\n",
    )
    .unwrap();
    let p = dir.path().join("interactions.parquet");
    csv_to_parquet(&c, &p, interaction_column_kind, 2).unwrap();
    assert_eq!(
        ParquetSource::open(&p).unwrap().kinds()[2],
        ValueKind::Timestamp(1_000)
    );
    let from_csv = load_teleseg(&c, None).unwrap();
    assert_eq!(from_csv.events.len(), 3);
    assert_eq!(load_teleseg(&p, None).unwrap(), from_csv);
    // A bad event names the file and the row.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "customer_id,offer_id,timestamp,event\nC1,O1,1,click\n",
    )
    .unwrap();
    let badp = dir.path().join("bad.parquet");
    csv_to_parquet(&bad, &badp, interaction_column_kind, 10).unwrap();
    let msg = load_teleseg(&badp, None).unwrap_err().to_string();
    assert!(
        msg.contains("bad.parquet:1") && msg.contains("click"),
        "{msg}"
    );
    // Not Parquet: an input error.
    std::fs::write(&badp, "not parquet").unwrap();
    let e = load_teleseg(&badp, None).unwrap_err();
    assert!(
        e.is_input_error() && e.to_string().contains("not a readable Parquet file"),
        "{e}"
    );
}

/// tests/fixtures/pandas_*.parquet were written by pandas + pyarrow (snappy, dictionary
/// encoding, nullable columns, a category column, timestamps): see make_pandas_parquet.py.
#[test]
fn files_written_by_pandas_are_read() {
    let schema = Schema::load(&fixture("pandas_customers.schema.toml")).unwrap();
    let (t, report) = read_csv(
        &fixture("pandas_customers.parquet"),
        &schema,
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(t.n_rows(), 20);
    assert!(report.extra_columns.is_empty());
    assert_eq!(t.ids[0], "C01");
    assert_eq!(t.ids[19], "C20");
    let minutes = &t.numeric("minutes").unwrap().values;
    let tenure = &t.numeric("tenure").unwrap().values;
    let plan = t.categorical("plan").unwrap();
    let roams = &t.binary("roams").unwrap().values;
    let churn = &t.target("churn").unwrap().values;
    for r in 0..20 {
        let i = r + 1;
        if i == 3 || i == 11 {
            assert!(minutes[r].is_nan(), "row {i}");
        } else {
            assert_eq!(minutes[r], i as f64 * 1.5, "row {i}");
        }
        if i == 5 {
            assert!(tenure[r].is_nan());
        } else {
            assert_eq!(tenure[r], (i * 2) as f64);
        }
        let want_plan = (i != 7).then(|| ["basic", "premium", "family"][i % 3]);
        assert_eq!(plan.value(r), want_plan, "row {i}");
        if i == 9 {
            assert!(roams[r].is_nan());
        } else {
            assert_eq!(roams[r], if i % 2 == 1 { 1.0 } else { 0.0 }, "row {i}");
        }
        let want_churn = if i % 4 == 0 { "yes" } else { "no" };
        assert_eq!(churn[r].as_deref(), Some(want_churn));
    }
    let ix = load_teleseg(&fixture("pandas_interactions.parquet"), None).unwrap();
    assert_eq!(ix.users, ["C01", "C02", "C03"]);
    assert_eq!(ix.items, ["O1", "O2", "O3"]);
    assert_eq!(ix.events.len(), 4);
    // 2024-01-24T09:19:21Z, as the CSV reader parses it.
    let first = crate::data::interactions::parse_time("2024-01-24T09:19:21Z").unwrap();
    assert_eq!(ix.events[0].time, first);
}
