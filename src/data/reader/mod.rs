//! Reading a customer CSV against a [`Schema`] into a [`RawTable`].
//!
//! Format accepted: comma-separated, first line a header, UTF-8 (an initial byte-order mark is
//! ignored), `\n` or `\r\n` line ends, RFC 4180 quoting (`"a, b"`, `""` inside quotes), blank lines
//! ignored. Surrounding ASCII whitespace of every header name and field is trimmed after unquoting
//! (a quote opens a quoted field only as the field's first character, as in RFC 4180). An empty
//! cell is a missing value.
//!
//! Header rules: every schema column must be in the header except `role = "target"` columns
//! (scoring files have no label); a header name may appear once; header names the schema does not
//! list are an error unless `allow_extra_columns = true`. All missing and unknown names are
//! reported together.
//!
//! Cell rules, each a [`DataError`] variant naming `file:line:column`, the value and the rule:
//! numbers must parse and be finite (`nan`/`inf` text is refused: a missing value is an empty cell)
//! and lie within the schema's `min`/`max`; binary cells are `0/1`, `true/false`, `yes/no` or
//! `y/n` (any case); empty cells are refused where the column's policy is `missing = "error"`;
//! ids are non-empty and unique; every record has as many fields as the header.
//!
//! A path ending in `.parquet` or `.pq` is read as Parquet instead (see [`crate::data::parquet`]):
//! the same rules, with nulls as empty cells and the 1-based row number as the "line".
//!
//! With [`OnBadRow::Skip`] a record breaking a cell rule (a later duplicate id included; the first
//! occurrence is kept) is left out and counted in [`ReadReport`]; header problems are always errors.

mod lines;
mod parquet;
mod plan;
mod rows;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::Path;
use std::str::FromStr;

use csv::ByteRecord;
use serde::{Deserialize, Serialize};

use super::error::DataError;
use super::schema::Schema;
use super::table::RawTable;
use lines::LineTracker;
use plan::Plan;
use rows::RowReader;

use crate::data::split::fnv1a_64;

/// What to do with a record that breaks a cell rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OnBadRow {
    /// Stop at the first bad record with its error (the default).
    #[default]
    Error,
    /// Leave bad records out, count them and report the first reasons (in `ReadReport`).
    Skip,
}

impl FromStr for OnBadRow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "error" => Ok(OnBadRow::Error),
            "skip" => Ok(OnBadRow::Skip),
            other => Err(format!(
                "on-bad-row must be `error` or `skip` (got `{other}`)"
            )),
        }
    }
}

impl fmt::Display for OnBadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnBadRow::Error => "error",
            OnBadRow::Skip => "skip",
        })
    }
}

/// Options of [`read_csv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadOptions {
    /// What to do with a record that breaks a cell rule. Default: `error`.
    #[serde(default)]
    pub on_bad_row: OnBadRow,
}

/// How many skip reasons a [`ReadReport`] keeps (the total is always counted).
pub const MAX_SKIP_REASONS: usize = 20;

/// What reading a file found, besides the table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadReport {
    /// The file path or source name.
    pub source: String,
    /// Rows kept in the table.
    pub rows: usize,
    /// The first [`MAX_SKIP_REASONS`] skipped records: (1-based line, reason).
    pub skipped: Vec<(u64, String)>,
    /// How many records were skipped in total.
    pub skipped_total: usize,
    /// Header columns the schema does not list, ignored because of `allow_extra_columns`.
    pub extra_columns: Vec<String>,
    /// `role = "target"` columns of the schema that the file does not have.
    pub absent_targets: Vec<String>,
}

/// Reads the CSV (or, by its extension, Parquet) file at `path` against `schema`.
///
/// Errors: [`DataError::Io`] when the file cannot be opened or read, and every input rule of
/// [`DataError`] (see the module docs).
pub fn read_csv(
    path: &Path,
    schema: &Schema,
    opts: &ReadOptions,
) -> Result<(RawTable, ReadReport), DataError> {
    let mut batches = CsvBatches::open(path, schema, opts)?;
    let table = batches
        .next_batch(usize::MAX)?
        .expect("the first batch is either rows or an error");
    Ok((table, batches.report))
}

/// Reads CSV text from `rdr` against `schema`; `source` names it in messages and in the table.
pub fn read_csv_from_reader<R: std::io::Read>(
    rdr: R,
    source: &str,
    schema: &Schema,
    opts: &ReadOptions,
) -> Result<(RawTable, ReadReport), DataError> {
    let mut batches = CsvBatches::from_reader(rdr, source, schema, opts)?;
    let table = batches
        .next_batch(usize::MAX)?
        .expect("the first batch is either rows or an error");
    Ok((table, batches.report))
}

/// A CSV file read in batches of at most `max_rows` rows, for inputs of any size in bounded
/// memory (`teleseg score`). Every rule of [`read_csv`] applies; a duplicate id in a later batch
/// is found through a map from each earlier id's 64-bit FNV-1a hash to its line (16 bytes per
/// row, never the ids themselves).
pub struct CsvBatches<R: std::io::Read> {
    src: Source<R>,
    plan: Plan,
    source: String,
    opts: ReadOptions,
    report: ReadReport,
    /// Hash of every id of the batches already returned → its 1-based line.
    earlier_ids: HashMap<u64, u64>,
    records: usize,
    done: bool,
}

/// Where the records come from.
enum Source<R: std::io::Read> {
    Csv(csv::Reader<LineTracker<R>>),
    Parquet(Box<crate::data::parquet::ParquetRows>),
}

impl CsvBatches<File> {
    /// Opens `path` and checks its header against `schema`. A `.parquet`/`.pq` path is read as
    /// Parquet, row group by row group.
    pub fn open(path: &Path, schema: &Schema, opts: &ReadOptions) -> Result<Self, DataError> {
        let source = path.display().to_string();
        if crate::data::parquet::is_parquet(path) {
            let (plan, rows) = parquet::open(path, schema)?;
            return Ok(CsvBatches::with_source(
                Source::Parquet(Box::new(rows)),
                plan,
                &source,
                opts,
            ));
        }
        let file = File::open(path).map_err(|source_err| DataError::Io {
            file: source.clone(),
            source: source_err,
        })?;
        CsvBatches::from_reader(file, &source, schema, opts)
    }
}

impl<R: std::io::Read> CsvBatches<R> {
    /// Reads the header of `rdr` and checks it against `schema`.
    pub fn from_reader(
        rdr: R,
        source: &str,
        schema: &Schema,
        opts: &ReadOptions,
    ) -> Result<Self, DataError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(LineTracker::new(rdr));
        let header = csv
            .byte_headers()
            .map_err(|e| csv_error(source, e))?
            .clone();
        let plan = Plan::new(&header, source, schema)?;
        Ok(CsvBatches::with_source(
            Source::Csv(csv),
            plan,
            source,
            opts,
        ))
    }

    fn with_source(src: Source<R>, plan: Plan, source: &str, opts: &ReadOptions) -> Self {
        let report = ReadReport {
            source: source.to_string(),
            extra_columns: plan.extra_columns.clone(),
            absent_targets: plan.absent_targets.clone(),
            ..ReadReport::default()
        };
        CsvBatches {
            src,
            plan,
            source: source.to_string(),
            opts: *opts,
            report,
            earlier_ids: HashMap::new(),
            records: 0,
            done: false,
        }
    }

    /// Bytes of input consumed so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        match &self.src {
            Source::Csv(csv) => csv.position().byte(),
            Source::Parquet(rows) => rows.bytes_read(),
        }
    }

    /// What was read so far: rows kept, rows skipped and why, extra and absent columns.
    pub fn report(&self) -> &ReadReport {
        &self.report
    }

    /// The next at most `max_rows` (≥ 1) good rows; `None` after the last row. The first call
    /// fails with [`DataError::NoDataRows`] / [`DataError::AllRowsSkipped`] when the file has
    /// no (good) row.
    pub fn next_batch(&mut self, max_rows: usize) -> Result<Option<RawTable>, DataError> {
        if self.done {
            return Ok(None);
        }
        let source = self.source.as_str();
        let mut reader = RowReader::new(source, &self.plan, &self.earlier_ids);
        let mut record = ByteRecord::new();
        while reader.table.n_rows() < max_rows.max(1) {
            let line = match &mut self.src {
                Source::Csv(csv) => {
                    if !csv
                        .read_byte_record(&mut record)
                        .map_err(|e| csv_error(source, e))?
                    {
                        self.done = true;
                        break;
                    }
                    csv.get_mut()
                        .record_start_line(record.position().map_or(0, |p| p.byte()))
                }
                Source::Parquet(rows) => match rows.next_record(&mut record)? {
                    Some(line) => line,
                    None => {
                        self.done = true;
                        break;
                    }
                },
            };
            self.records += 1;
            if let Err(err) = reader.read_row(&record, line, &self.plan) {
                reader.rollback();
                match self.opts.on_bad_row {
                    OnBadRow::Error => return Err(err),
                    OnBadRow::Skip => {
                        if self.report.skipped.len() < MAX_SKIP_REASONS {
                            self.report.skipped.push((line, err.to_string()));
                        }
                        self.report.skipped_total += 1;
                    }
                }
            }
        }
        if self.records == 0 {
            return Err(DataError::NoDataRows {
                file: source.to_string(),
            });
        }
        let table = reader.table;
        if table.n_rows() == 0 {
            if self.report.rows == 0 {
                return Err(DataError::AllRowsSkipped {
                    file: source.to_string(),
                    skipped: self.report.skipped_total,
                });
            }
            return Ok(None);
        }
        self.report.rows += table.n_rows();
        if !self.done {
            // More batches follow: remember these ids to catch duplicates across batches.
            for (id, &line) in table.ids.iter().zip(&table.line_numbers) {
                self.earlier_ids.insert(fnv1a_64(id.as_bytes()), line);
            }
        }
        if self.done && self.report.skipped_total > 0 {
            tracing::warn!(
                source,
                skipped = self.report.skipped_total,
                "skipped bad rows"
            );
        }
        tracing::debug!(source, rows = table.n_rows(), "read csv batch");
        Ok(Some(table))
    }
}

fn csv_error(source: &str, e: csv::Error) -> DataError {
    let io = match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    };
    DataError::Io {
        file: source.to_string(),
        source: io,
    }
}

#[cfg(test)]
mod tests;
