//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz), kept in the library so that the
//! regression tests (`tests/it/fuzz.rs`) run the very same code on the seed corpus and on every
//! input a fuzzer ever found (`tests/fixtures/fuzz/<target>/`).
//!
//! Each function takes arbitrary bytes and must return normally: bad input is an `Err` that names
//! its source, never a panic. Beyond "no panic" each checks invariants of the code under test, and
//! panics (a finding) when one breaks:
//!
//! - [`csv_reader`]: the whole-file reader and the streaming reader (3 rows per batch) agree on
//!   success and on the rows; every error names the file; features of a table that preprocesses
//!   are finite; the preprocessing survives its JSON round trip unchanged.
//! - [`schema_toml`]: every error names the file; a schema that parses writes TOML that parses back
//!   to an equal schema.
//! - [`checkpoint`]: every error names the file; a checkpoint that loads as an autoencoder or DEC
//!   model embeds a row into `latent` values.
//! - [`job_config`]: read as each job's config (autoencoder, dec, vae, ncf, pipeline), every error
//!   names the file; a config that parses writes TOML that parses back to an equal config.
//! - [`parquet_reader`]: the bytes as a `.parquet` customer file against [`CSV_SCHEMA`]: the
//!   whole-file and the streaming reader agree, every error names the file, and what reads
//!   preprocesses as in [`csv_reader`].
//!
//! How to run them: `docs/fuzzing.md`.

use std::path::Path;
use std::sync::OnceLock;

use burn::tensor::Device;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::checkpoint::Checkpoint;
use crate::config::{self, Check};
use crate::data::preprocess::{Features, Preprocessor};
use crate::data::reader::{CsvBatches, OnBadRow, ReadOptions, read_csv_from_reader};
use crate::data::schema::Schema;
use crate::data::table::RawTable;
use crate::models::autoencoder::AutoencoderJob;
use crate::models::autoencoder::EmbeddingModel;
use crate::models::dec::DecJob;
use crate::models::dec::SegmentModel;
use crate::models::ncf::NcfJob;
use crate::models::ncf::infer::NcfModel;
use crate::models::vae::VaeJob;
use crate::models::vae::VaeModel;
use crate::models::{autoencoder, dec, ncf, vae};
use crate::pipeline::PipelineJob;

/// The name the CSV input goes by in messages.
pub const CSV_SOURCE: &str = "fuzz.csv";
/// The name the schema input goes by in messages.
pub const SCHEMA_SOURCE: &str = "fuzz-schema.toml";
/// The name the job config input goes by in messages.
pub const CONFIG_SOURCE: &str = "fuzz-config.toml";
/// The name the checkpoint input goes by in messages.
pub const CHECKPOINT_SOURCE: &str = "fuzz.safetensors";

/// The schema [`csv_reader`] reads against: every role, both missing policies, bounds, clipping,
/// log1p, a rare-level threshold and a derived ratio.
pub const CSV_SCHEMA: &str =
    include_str!("../tests/fixtures/fuzz/schema_toml/csv_reader_schema.toml");

fn csv_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::parse(CSV_SCHEMA, "fuzzing::CSV_SCHEMA").expect("valid schema"))
}

/// Reads `data` as a customer CSV against [`CSV_SCHEMA`], whole and in batches, then fits and
/// applies preprocessing on what was read.
pub fn csv_reader(data: &[u8]) {
    let schema = csv_schema();
    for on_bad_row in [OnBadRow::Error, OnBadRow::Skip] {
        let opts = ReadOptions { on_bad_row };
        let whole = read_csv_from_reader(data, CSV_SOURCE, schema, &opts);
        let batched = read_in_batches(data, schema, &opts, 3);
        agree(whole.map(|(t, _)| t), batched, CSV_SOURCE, schema);
    }
}

/// The checks of a whole read against a batched read of the same input named `source`: both
/// succeed with the same rows (and the table preprocesses cleanly), or both fail naming `source`.
fn agree(
    whole: Result<RawTable, crate::data::error::DataError>,
    batched: Result<Vec<RawTable>, crate::data::error::DataError>,
    source: &str,
    schema: &Schema,
) {
    match (whole, batched) {
        (Ok(table), Ok(tables)) => {
            let ids: Vec<&String> = tables.iter().flat_map(|t| t.ids.iter()).collect();
            assert_eq!(
                table.ids.iter().collect::<Vec<_>>(),
                ids,
                "whole and batched reads disagree on the rows"
            );
            preprocess(schema, &table);
        }
        (Err(e), Err(b)) => {
            for err in [e.to_string(), b.to_string()] {
                assert!(err.contains(source), "error without the file name: {err}");
            }
        }
        (whole, batched) => panic!(
            "whole read {} but batched read {}",
            outcome(&whole),
            outcome(&batched)
        ),
    }
}

/// Reads `data` written to a scratch `.parquet` file as a customer table against
/// [`CSV_SCHEMA`], whole and in batches of 3 rows, with the checks of [`csv_reader`].
pub fn parquet_reader(data: &[u8]) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "teleseg-fuzz-{}-{}.parquet",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, data).expect("writing the scratch Parquet file");
    let name = path.display().to_string();
    let schema = csv_schema();
    for on_bad_row in [OnBadRow::Error, OnBadRow::Skip] {
        let opts = ReadOptions { on_bad_row };
        let whole = crate::data::reader::read_csv(&path, schema, &opts);
        let batched = CsvBatches::open(&path, schema, &opts).and_then(|mut b| {
            let mut tables = Vec::new();
            while let Some(t) = b.next_batch(3)? {
                tables.push(t);
            }
            Ok(tables)
        });
        agree(whole.map(|(t, _)| t), batched, &name, schema);
    }
    let _ = std::fs::remove_file(&path);
}

fn outcome<T, E: std::fmt::Display>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "succeeded".to_string(),
        Err(e) => format!("failed ({e})"),
    }
}

fn read_in_batches(
    data: &[u8],
    schema: &Schema,
    opts: &ReadOptions,
    rows: usize,
) -> Result<Vec<RawTable>, crate::data::error::DataError> {
    let mut batches = CsvBatches::from_reader(data, CSV_SOURCE, schema, opts)?;
    let mut tables = Vec::new();
    while let Some(t) = batches.next_batch(rows)? {
        tables.push(t);
    }
    Ok(tables)
}

fn preprocess(schema: &Schema, table: &RawTable) {
    let rows: Vec<usize> = (0..table.n_rows()).collect();
    let Ok(pre) = Preprocessor::fit(schema, table, &rows) else {
        return;
    };
    let Ok(features) = pre.transform(table) else {
        return;
    };
    if let Some(x) = features.data.iter().find(|x| !x.is_finite()) {
        panic!("preprocessing produced a non-finite feature {x}");
    }
    let again = Preprocessor::from_json(&pre.to_json())
        .expect("a fitted preprocessing reads back from its own JSON");
    let features_again = again
        .transform(table)
        .expect("the JSON round trip of a preprocessing accepts the table it was fitted on");
    assert_eq!(
        bits(&features),
        bits(&features_again),
        "the JSON round trip of the preprocessing changed the features"
    );
}

fn bits(f: &Features) -> Vec<u32> {
    f.data.iter().map(|x| x.to_bits()).collect()
}

/// Parses `data` as a schema TOML file; a schema that parses must survive its TOML round trip.
pub fn schema_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Schema::parse(text, SCHEMA_SOURCE) {
        Err(e) => {
            let err = e.to_string();
            assert!(
                err.contains(SCHEMA_SOURCE),
                "error without the file name: {err}"
            );
        }
        Ok(schema) => {
            let written = schema.to_toml();
            let back = Schema::parse(&written, "round trip").unwrap_or_else(|e| {
                panic!("a parsed schema wrote TOML that does not parse back: {e}\n{written}")
            });
            assert_eq!(schema, back, "the TOML round trip changed the schema");
        }
    }
}

/// Parses `data` as the config of every job; a config that parses must survive its TOML round
/// trip (the run folder's `config.toml` is written that way).
pub fn job_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    job_round_trip::<AutoencoderJob>(text);
    job_round_trip::<DecJob>(text);
    job_round_trip::<VaeJob>(text);
    job_round_trip::<NcfJob>(text);
    job_round_trip::<PipelineJob>(text);
}

fn job_round_trip<T>(text: &str)
where
    T: DeserializeOwned + Serialize + Check + PartialEq + std::fmt::Debug,
{
    match config::parse::<T>(text, CONFIG_SOURCE, &[]) {
        Err(e) => {
            let err = e.to_string();
            assert!(
                err.contains(CONFIG_SOURCE),
                "error without the file name: {err}"
            );
        }
        Ok(job) => {
            let written = toml::to_string_pretty(&job).expect("a config always serializes");
            let back = config::parse::<T>(&written, "round trip", &[]).unwrap_or_else(|e| {
                panic!("a parsed config wrote TOML that does not parse back: {e}\n{written}")
            });
            assert_eq!(job, back, "the TOML round trip changed the config");
        }
    }
}

/// Reads `data` as a checkpoint and loads the model its kind names; a loaded autoencoder or DEC
/// model must embed a row of zeros into `latent` values.
pub fn checkpoint(data: &[u8]) {
    let path = Path::new(CHECKPOINT_SOURCE);
    let ck = match Checkpoint::from_bytes(path, data.to_vec(), None) {
        Ok(ck) => ck,
        Err(e) => return assert_names_file(&e),
    };
    let device = Device::flex();
    let result = match ck.kind() {
        autoencoder::KIND => EmbeddingModel::from_checkpoint(&ck, &device).map(|m| {
            let z = m.embed(&zeros(m.preprocessor.n_features()), 1);
            assert_eq!(z.len(), m.arch.latent, "embedding width");
        }),
        dec::KIND => SegmentModel::from_checkpoint(&ck, &device).map(|m| {
            let s = m.score(&zeros(m.preprocessor.n_features()), 1);
            assert_eq!(s.z.len(), m.arch.latent, "embedding width");
            assert_eq!(s.q.len(), m.head.k, "soft assignment width");
        }),
        vae::KIND => VaeModel::from_checkpoint(&ck, &device).map(drop),
        ncf::KIND => NcfModel::from_checkpoint(&ck, &device).map(drop),
        _ => Ok(()),
    };
    if let Err(e) = result {
        assert_names_file(&e);
    }
}

fn assert_names_file(e: &crate::checkpoint::CheckpointError) {
    let err = e.to_string();
    assert!(
        err.contains(CHECKPOINT_SOURCE),
        "error without the file name: {err}"
    );
}

fn zeros(cols: usize) -> Features {
    Features {
        data: vec![0.0; cols],
        rows: 1,
        cols,
    }
}
