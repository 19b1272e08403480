//! Parquet end to end (feature `parquet`): `generate --format parquet`, `data check`, `score`
//! and `train`/`evaluate ncf` on Parquet files, and bad Parquet inputs (exit 2, the file named,
//! nothing left behind).
#![cfg(feature = "parquet")]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use teleseg::data::interactions::load_teleseg;
use teleseg::data::parquet::{ColKind, ParquetWriter, read_text_rows};
use teleseg::data::reader::{ReadOptions, read_csv};
use teleseg::data::schema::Schema;

use crate::common::{dataset, run, small_dec_job, teleseg};

/// `generate --format parquet` with the parameters of [`dataset`] (800 customers, seed 11).
fn parquet_dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("teleseg-it-parquet")
            .tempdir()
            .unwrap()
            .keep();
        let (code, _, err) = run(teleseg()
            .args(["generate", "--customers", "800", "--seed", "11"])
            .args(["--format", "parquet", "--out"])
            .arg(&dir));
        assert_eq!(code, 0, "generate --format parquet failed: {err}");
        dir
    })
}

fn no_partial_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".partial"),
            "temporary file {name} left behind"
        );
    }
}

#[test]
fn generate_parquet_holds_the_same_data_as_csv() {
    let (pq, csv) = (parquet_dataset(), dataset());
    for f in [
        "customers.parquet",
        "interactions.parquet",
        "offers.csv",
        "schema.toml",
    ] {
        assert!(pq.join(f).is_file(), "{f} missing");
    }
    assert!(!pq.join("customers.csv").exists() && !pq.join("interactions.csv").exists());
    let schema = Schema::load(&csv.join("schema.toml")).unwrap();
    let opts = ReadOptions::default();
    let (mut a, _) = read_csv(&csv.join("customers.csv"), &schema, &opts).unwrap();
    let (mut b, _) = read_csv(&pq.join("customers.parquet"), &schema, &opts).unwrap();
    assert_eq!(a.n_rows(), 800);
    assert_eq!(b.line_numbers[0], 1);
    for t in [&mut a, &mut b] {
        t.source.clear();
        t.line_numbers.clear();
        // How each file spells its binary values (CSV 0/1, Parquet booleans) is not a value.
        t.binary
            .iter_mut()
            .for_each(|c| c.spelling = Default::default());
    }
    // As text, so that missing values (NaN) compare equal.
    assert!(
        format!("{a:?}") == format!("{b:?}"),
        "customers.parquet differs from customers.csv"
    );
    let ia = load_teleseg(&csv.join("interactions.csv"), Some(&csv.join("offers.csv"))).unwrap();
    let ib = load_teleseg(
        &pq.join("interactions.parquet"),
        Some(&pq.join("offers.csv")),
    )
    .unwrap();
    assert!(!ia.events.is_empty());
    assert!(
        ia == ib,
        "interactions.parquet differs from interactions.csv"
    );
    // `data check` reads it, by the extension alone.
    let (code, out, err) = run(teleseg()
        .args(["data", "check", "--schema"])
        .arg(pq.join("schema.toml"))
        .arg("--input")
        .arg(pq.join("customers.parquet")));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("800"), "{out}");
    // A second run into the same folder needs --force.
    let (code, _, err) = run(teleseg()
        .args([
            "generate",
            "--customers",
            "10",
            "--format",
            "parquet",
            "--out",
        ])
        .arg(pq));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("customers.parquet"), "{err}");
}

#[test]
fn score_on_parquet_matches_csv_and_writes_parquet() {
    let (pq, csv) = (parquet_dataset(), dataset());
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = small_dec_job(
        &pq.join("customers.parquet"),
        &pq.join("schema.toml"),
        dir.path(),
    );
    cmd.args(["--backend", "flex"]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "training on customers.parquet: {out}\n{err}");
    let run_dir = dir.path().join("d");
    let score = |input: &Path, output: &Path, chunk: &str| {
        run(teleseg()
            .args([
                "--backend",
                "flex",
                "score",
                "--with-q",
                "--chunk-rows",
                chunk,
            ])
            .arg("--checkpoint")
            .arg(&run_dir)
            .arg("--input")
            .arg(input)
            .arg("--output")
            .arg(output))
    };
    let from_csv = dir.path().join("from_csv.csv");
    let from_pq = dir.path().join("from_parquet.csv");
    let (code, _, err) = score(&csv.join("customers.csv"), &from_csv, "1000");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = score(&pq.join("customers.parquet"), &from_pq, "7");
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&from_csv).unwrap();
    assert_eq!(text.lines().count(), 801);
    assert!(
        std::fs::read_to_string(&from_pq).unwrap() == text,
        "scores of customers.parquet differ from those of customers.csv"
    );
    // Parquet output: the same columns and values as the CSV, one row group per chunk.
    let out_pq = dir.path().join("scores.parquet");
    let (code, _, err) = score(&pq.join("customers.parquet"), &out_pq, "300");
    assert_eq!(code, 0, "{err}");
    let (names, rows) = read_text_rows(&out_pq).unwrap();
    let mut lines = text.lines();
    assert_eq!(names.join(","), lines.next().unwrap());
    assert_eq!(rows.len(), 800);
    for ((_, fields), line) in rows.iter().zip(lines) {
        assert_eq!(fields.join(","), line);
    }
    // A truncated Parquet input: exit 2 naming the file, no output left behind.
    let bytes = std::fs::read(pq.join("customers.parquet")).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let bad_out = dir.path().join("bad.parquet");
    let (code, _, err) = score(&cut, &bad_out, "100");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cut.parquet") && err.contains("Parquet"),
        "{err}"
    );
    assert!(!bad_out.exists());
    no_partial_files(dir.path());
}

#[test]
fn ncf_trains_and_evaluates_on_parquet_interactions() {
    let pq = parquet_dataset();
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(teleseg()
        .args(["--backend", "flex", "train", "ncf"])
        .arg("--set")
        .arg(format!(
            "data.interactions={:?}",
            pq.join("interactions.parquet").display().to_string()
        ))
        .arg("--set")
        .arg(format!(
            "data.offers={:?}",
            pq.join("offers.csv").display().to_string()
        ))
        .args(["--set", "train.epochs=2", "--set", "train.min_steps=0"])
        .arg("--set")
        .arg(format!("output.dir={:?}", dir.path().display().to_string()))
        .args(["--set", "output.run_name=\"n\""]));
    assert_eq!(code, 0, "{out}\n{err}");
    let run_dir = dir.path().join("n");
    assert!(run_dir.join("model.safetensors").is_file());
    let (code, out, err) = run(teleseg()
        .args([
            "--backend",
            "flex",
            "evaluate",
            "ncf",
            "--k",
            "5",
            "--checkpoint",
        ])
        .arg(&run_dir));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("HR@5"), "{out}");
}

const SCHEMA: &str = r#"
name = "tiny"
[[columns]]
name = "id"
role = "id"
[[columns]]
name = "minutes"
role = "numeric"
min = 0.0
[[columns]]
name = "plan"
role = "categorical"
"#;

/// Writes a Parquet file with these columns and CSV rows.
fn write(path: &Path, columns: &[(&str, ColKind)], rows: &str) {
    let cols: Vec<(String, ColKind)> = columns.iter().map(|(n, k)| (n.to_string(), *k)).collect();
    let mut w = ParquetWriter::create(path, &cols).unwrap();
    w.write_csv_chunk(rows.as_bytes()).unwrap();
    w.commit().unwrap();
}

#[test]
fn bad_parquet_inputs_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("schema.toml"), SCHEMA).unwrap();
    let good = [
        ("id", ColKind::Utf8),
        ("minutes", ColKind::Float64),
        ("plan", ColKind::Utf8),
    ];
    write(&d.join("good.parquet"), &good, "A,1.5,basic\nB,,premium\n");
    let bytes = std::fs::read(d.join("good.parquet")).unwrap();
    std::fs::write(d.join("truncated.parquet"), &bytes[..bytes.len() - 10]).unwrap();
    std::fs::write(d.join("text.parquet"), "id,minutes,plan\nA,1,basic\n").unwrap();
    let mut wrong = good;
    wrong[1].1 = ColKind::Utf8;
    write(&d.join("wrongtype.parquet"), &wrong, "A,1.5,basic\n");
    write(&d.join("missing.parquet"), &good[..2], "A,1.5\n");
    write(&d.join("nan.parquet"), &good, "A,1.5,basic\nB,NaN,basic\n");
    let check = |name: &str| {
        run(teleseg()
            .args(["data", "check", "--schema"])
            .arg(d.join("schema.toml"))
            .arg("--input")
            .arg(d.join(name)))
    };
    let (code, out, err) = check("good.parquet");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains('2'), "{out}");
    for (name, rule) in [
        ("truncated.parquet", "not a readable Parquet file"),
        ("text.parquet", "not a readable Parquet file"),
        ("wrongtype.parquet", "column `minutes` is string"),
        ("missing.parquet", "missing columns `plan`"),
        ("nan.parquet", ":2:2 (column `minutes`)"),
    ] {
        let (code, _, err) = check(name);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(name) && err.contains(rule), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}
