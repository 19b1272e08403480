//! Parquet files (cargo feature `parquet`): customers, interactions and scores.
//!
//! A path is Parquet when its extension is `.parquet` or `.pq` (any case); everything else is
//! CSV. There is no other switch.
//!
//! **Reading.** A Parquet file is read row group by row group with the `parquet` crate's record
//! API (snappy compression, dictionary encoding and nullable columns, as pandas/pyarrow write
//! them). Each row becomes the text record the CSV reader would have seen, so every rule of the
//! CSV reader applies unchanged (header matching, ranges, missing policies, duplicate ids,
//! `--on-bad-row`): a null is an empty cell, a boolean is `true`/`false`, numbers are written in
//! their shortest exact form (an `f64` round-trips exactly), strings (plain or dictionary) are
//! their text. Before any row is read, each column the schema uses is checked against its role
//! (numeric: integer or floating point; binary: boolean, integer or string; categorical and id:
//! string, integer or boolean) and a mismatch is a [`DataError::ParquetType`]. Columns the
//! reader does not need (`ignore` columns, extra columns allowed by the schema) are not decoded.
//! In messages the "line" of a Parquet row is its 1-based row number in the file.
//!
//! **Writing.** [`ParquetWriter`] writes one row group per chunk of CSV text it is given (the
//! CSV writers stay the single source of the values), with snappy compression and a typed,
//! nullable column per CSV column (see [`ColKind`]); an empty cell is a null. The file is
//! written under a temporary name and renamed into place by [`ParquetWriter::commit`]; dropped
//! uncommitted, nothing is left behind.
//!
//! Without the feature, every entry point fails with [`DataError::NoParquetSupport`].

use std::path::Path;

use super::error::DataError;

/// True when `path` names a Parquet file: extension `.parquet` or `.pq` (any case).
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

/// The error of a Parquet path in a build without the `parquet` feature.
pub fn unsupported(path: &Path) -> DataError {
    DataError::NoParquetSupport {
        file: path.display().to_string(),
    }
}

/// The type a [`ParquetWriter`] column is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColKind {
    /// UTF-8 string (`BYTE_ARRAY`, logical type `STRING`, dictionary encoded).
    Utf8,
    /// 64-bit integer.
    Int64,
    /// 32-bit float (values that are `f32` in teleseg: scores, embeddings).
    Float32,
    /// 64-bit float.
    Float64,
    /// Boolean (CSV `0/1`, `true/false`, `yes/no`, `y/n`).
    Bool,
    /// Timestamp, UTC, milliseconds (CSV: RFC 3339 UTC or Unix seconds).
    TimestampMillis,
}

/// What a column of a Parquet file holds, as far as the readers care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind {
    Bool,
    Int,
    Float,
    Str,
    /// A timestamp; the divisor turns the stored integer into seconds.
    Timestamp(i64),
    /// Anything else (nested, decimal, date, binary...): described for messages.
    Other(String),
}

impl ValueKind {
    /// How a message names the kind.
    pub fn describe(&self) -> String {
        match self {
            ValueKind::Bool => "boolean".into(),
            ValueKind::Int => "integer".into(),
            ValueKind::Float => "floating point".into(),
            ValueKind::Str => "string".into(),
            ValueKind::Timestamp(_) => "timestamp".into(),
            ValueKind::Other(s) => s.clone(),
        }
    }
}

#[cfg(feature = "parquet")]
pub use imp::{ParquetRows, ParquetSource, ParquetWriter};

#[cfg(not(feature = "parquet"))]
pub use stub::{ParquetRows, ParquetSource, ParquetWriter};

#[cfg(feature = "parquet")]
mod imp {
    use std::fs::File;
    use std::io::Write;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use anyhow::Context;
    use csv::ByteRecord;
    use parquet::basic::{ConvertedType, LogicalType, Repetition, TimeUnit, Type as PhysicalType};
    use parquet::data_type::{
        BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int64Type,
    };
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::writer::SerializedFileWriter;
    use parquet::record::{Field, reader::RowIter};
    use parquet::schema::types::{Type, TypePtr};

    use super::{ColKind, ValueKind};
    use crate::checkpoint::PendingFile;
    use crate::data::error::DataError;

    fn corrupt(source: &str, e: impl std::fmt::Display) -> DataError {
        DataError::Parquet {
            file: source.to_string(),
            message: e.to_string(),
        }
    }

    /// A Parquet file opened: its top-level columns, before any row is read.
    pub struct ParquetSource {
        source: String,
        reader: SerializedFileReader<File>,
        fields: Vec<TypePtr>,
        kinds: Vec<ValueKind>,
        file_len: u64,
    }

    fn kind_of(t: &Type) -> ValueKind {
        if !t.is_primitive() {
            return ValueKind::Other("nested (group/list/map)".into());
        }
        let info = t.get_basic_info();
        if info.has_repetition() && info.repetition() == Repetition::REPEATED {
            return ValueKind::Other("repeated".into());
        }
        let logical = info.logical_type_ref();
        let converted = info.converted_type();
        let physical = t.get_physical_type();
        match physical {
            PhysicalType::BOOLEAN => ValueKind::Bool,
            PhysicalType::INT32 => match converted {
                ConvertedType::NONE
                | ConvertedType::INT_8
                | ConvertedType::INT_16
                | ConvertedType::INT_32
                | ConvertedType::UINT_8
                | ConvertedType::UINT_16
                | ConvertedType::UINT_32 => ValueKind::Int,
                other => ValueKind::Other(format!("INT32 ({other})")),
            },
            PhysicalType::INT64 => match (converted, logical) {
                (ConvertedType::TIMESTAMP_MILLIS, _) => ValueKind::Timestamp(1_000),
                (ConvertedType::TIMESTAMP_MICROS, _) => ValueKind::Timestamp(1_000_000),
                (ConvertedType::NONE, Some(LogicalType::Timestamp(ts))) => match ts.unit {
                    TimeUnit::NANOS => ValueKind::Timestamp(1_000_000_000),
                    TimeUnit::MICROS => ValueKind::Timestamp(1_000_000),
                    TimeUnit::MILLIS => ValueKind::Timestamp(1_000),
                },
                (ConvertedType::NONE | ConvertedType::INT_64 | ConvertedType::UINT_64, _) => {
                    ValueKind::Int
                }
                (other, _) => ValueKind::Other(format!("INT64 ({other})")),
            },
            PhysicalType::INT96 => ValueKind::Timestamp(1_000),
            PhysicalType::FLOAT | PhysicalType::DOUBLE => ValueKind::Float,
            PhysicalType::BYTE_ARRAY => match converted {
                ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON => ValueKind::Str,
                ConvertedType::NONE if logical.is_none() => ValueKind::Str,
                ConvertedType::NONE => ValueKind::Other(format!("BYTE_ARRAY ({logical:?})")),
                other => ValueKind::Other(format!("BYTE_ARRAY ({other})")),
            },
            PhysicalType::FIXED_LEN_BYTE_ARRAY => {
                ValueKind::Other("FIXED_LEN_BYTE_ARRAY (decimal, float16, uuid...)".into())
            }
        }
    }

    impl ParquetSource {
        /// Opens `path` and reads its footer (schema, row groups). A file that is not Parquet,
        /// or is truncated, fails here with [`DataError::Parquet`].
        pub fn open(path: &Path) -> Result<ParquetSource, DataError> {
            let source = path.display().to_string();
            let file = File::open(path).map_err(|e| DataError::Io {
                file: source.clone(),
                source: e,
            })?;
            let file_len = file.metadata().map_or(0, |m| m.len());
            let reader = catch_unwind(AssertUnwindSafe(|| SerializedFileReader::new(file)))
                .map_err(|_| corrupt(&source, "the file footer cannot be decoded"))?
                .map_err(|e| corrupt(&source, e))?;
            let fields = reader
                .metadata()
                .file_metadata()
                .schema_descr()
                .root_schema()
                .get_fields()
                .to_vec();
            let kinds = fields.iter().map(|f| kind_of(f)).collect();
            Ok(ParquetSource {
                source,
                reader,
                fields,
                kinds,
                file_len,
            })
        }

        /// The file path, as messages name it.
        pub fn source(&self) -> &str {
            &self.source
        }

        /// Top-level column names, in file order (the "header").
        pub fn names(&self) -> Vec<String> {
            self.fields.iter().map(|f| f.name().to_string()).collect()
        }

        /// What each top-level column holds, in file order.
        pub fn kinds(&self) -> &[ValueKind] {
            &self.kinds
        }

        /// Rows in the file.
        pub fn num_rows(&self) -> u64 {
            self.reader.metadata().file_metadata().num_rows().max(0) as u64
        }

        /// Starts reading rows, decoding only the columns whose `keep` is true (the others read
        /// as empty fields).
        pub fn rows(self, keep: &[bool]) -> Result<ParquetRows, DataError> {
            let kept: Vec<TypePtr> = self
                .fields
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(f, _)| f.clone())
                .collect();
            let slot: Vec<usize> = keep
                .iter()
                .enumerate()
                .filter(|(_, k)| **k)
                .map(|(i, _)| i)
                .collect();
            let kinds: Vec<ValueKind> = slot.iter().map(|&i| self.kinds[i].clone()).collect();
            let projection = Type::group_type_builder("schema")
                .with_fields(kept)
                .build()
                .map_err(|e| corrupt(&self.source, e))?;
            let total_rows = self.num_rows();
            let iter = RowIter::from_file_into(Box::new(self.reader))
                .project(Some(projection))
                .map_err(|e| corrupt(&self.source, e))?;
            Ok(ParquetRows {
                source: self.source,
                iter,
                n_fields: self.fields.len(),
                slot,
                kinds,
                rows: 0,
                total_rows,
                file_len: self.file_len,
                fields: vec![String::new(); self.fields.len()],
            })
        }
    }

    /// The rows of a Parquet file, one text record at a time.
    pub struct ParquetRows {
        source: String,
        iter: RowIter<'static>,
        n_fields: usize,
        /// Header position of each decoded column.
        slot: Vec<usize>,
        kinds: Vec<ValueKind>,
        rows: u64,
        total_rows: u64,
        file_len: u64,
        fields: Vec<String>,
    }

    impl ParquetRows {
        /// Fills `record` with the next row as text (one field per header column) and returns
        /// its 1-based row number; `None` after the last row.
        pub fn next_record(&mut self, record: &mut ByteRecord) -> Result<Option<u64>, DataError> {
            let source = &self.source;
            let next = catch_unwind(AssertUnwindSafe(|| self.iter.next())).map_err(|_| {
                corrupt(
                    source,
                    format!("row group data cannot be decoded after row {}", self.rows),
                )
            })?;
            let Some(row) = next else {
                return Ok(None);
            };
            let row = row.map_err(|e| corrupt(&self.source, e))?;
            self.rows += 1;
            let line = self.rows;
            self.fields.iter_mut().for_each(String::clear);
            for (k, (_, field)) in row.get_column_iter().enumerate() {
                let Some(&at) = self.slot.get(k) else { break };
                let out = &mut self.fields[at];
                write_field(field, &self.kinds[k], out).ok_or_else(|| DataError::InvalidUtf8 {
                    file: self.source.clone(),
                    line,
                    index: at + 1,
                })?;
            }
            record.clear();
            for f in &self.fields[..self.n_fields] {
                record.push_field(f.as_bytes());
            }
            Ok(Some(line))
        }

        /// Approximate bytes of the file consumed (for progress bars): the share of rows read.
        pub fn bytes_read(&self) -> u64 {
            if self.total_rows == 0 {
                return self.file_len;
            }
            (self.file_len as f64 * self.rows as f64 / self.total_rows as f64) as u64
        }
    }

    /// Writes `field` as CSV-cell text into `out`; `None` for bytes that are not UTF-8.
    fn write_field(field: &Field, kind: &ValueKind, out: &mut String) -> Option<()> {
        use std::fmt::Write as _;
        let _ = match field {
            Field::Null => Ok(()),
            Field::Bool(b) => out.write_str(if *b { "true" } else { "false" }),
            Field::Byte(v) => write!(out, "{v}"),
            Field::Short(v) => write!(out, "{v}"),
            Field::Int(v) => write!(out, "{v}"),
            Field::Long(v) => match kind {
                ValueKind::Timestamp(div) => write!(out, "{}", v.div_euclid(*div)),
                _ => write!(out, "{v}"),
            },
            Field::UByte(v) => write!(out, "{v}"),
            Field::UShort(v) => write!(out, "{v}"),
            Field::UInt(v) => write!(out, "{v}"),
            Field::ULong(v) => write!(out, "{v}"),
            Field::Float(v) => write!(out, "{v}"),
            Field::Double(v) => write!(out, "{v}"),
            Field::Str(s) => out.write_str(s),
            Field::Bytes(b) => out.write_str(std::str::from_utf8(b.data()).ok()?),
            Field::TimestampMillis(v) => write!(out, "{}", v.div_euclid(1_000)),
            Field::TimestampMicros(v) => write!(out, "{}", v.div_euclid(1_000_000)),
            other => write!(out, "{other}"),
        };
        Some(())
    }

    /// A Parquet file written one row group per chunk of CSV rows, then renamed into place.
    pub struct ParquetWriter {
        writer: SerializedFileWriter<PendingFile>,
        columns: Vec<(String, ColKind)>,
        dest: PathBuf,
    }

    fn column_type(name: &str, kind: ColKind) -> parquet::errors::Result<Type> {
        let (physical, logical) = match kind {
            ColKind::Utf8 => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
            ColKind::Int64 => (PhysicalType::INT64, None),
            ColKind::Float32 => (PhysicalType::FLOAT, None),
            ColKind::Float64 => (PhysicalType::DOUBLE, None),
            ColKind::Bool => (PhysicalType::BOOLEAN, None),
            ColKind::TimestampMillis => (
                PhysicalType::INT64,
                Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
            ),
        };
        Type::primitive_type_builder(name, physical)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(logical)
            .build()
    }

    impl ParquetWriter {
        /// Creates the temporary file beside `dest` with these columns (names and types).
        pub fn create(dest: &Path, columns: &[(String, ColKind)]) -> anyhow::Result<Self> {
            let ctx = || format!("writing {}", dest.display());
            let fields = columns
                .iter()
                .map(|(name, kind)| column_type(name, *kind).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()
                .with_context(ctx)?;
            let schema = Type::group_type_builder("schema")
                .with_fields(fields)
                .build()
                .with_context(ctx)?;
            let props = WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .set_created_by(format!("teleseg {}", env!("CARGO_PKG_VERSION")))
                .build();
            let file = PendingFile::create(dest).with_context(ctx)?;
            let writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))
                .with_context(ctx)?;
            Ok(ParquetWriter {
                writer,
                columns: columns.to_vec(),
                dest: dest.to_path_buf(),
            })
        }

        /// Writes the CSV rows in `csv` (no header, as many fields as columns) as one row
        /// group. An empty cell is a null.
        pub fn write_csv_chunk(&mut self, csv: &[u8]) -> anyhow::Result<()> {
            let ctx = || format!("writing {}", self.dest.display());
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(csv);
            let n = self.columns.len();
            let mut cells: Vec<Vec<Option<String>>> = vec![Vec::new(); n];
            let mut record = csv::StringRecord::new();
            let mut row = 0usize;
            while rdr.read_record(&mut record).with_context(ctx)? {
                row += 1;
                anyhow::ensure!(
                    record.len() == n,
                    "{}: row {row} of a chunk has {} fields, expected {n}",
                    self.dest.display(),
                    record.len()
                );
                for (c, cell) in record.iter().enumerate() {
                    let cell = cell.trim();
                    cells[c].push((!cell.is_empty()).then(|| cell.to_string()));
                }
            }
            if row == 0 {
                return Ok(());
            }
            let mut rg = self.writer.next_row_group().with_context(ctx)?;
            for ((name, kind), values) in self.columns.iter().zip(&cells) {
                let mut col = rg
                    .next_column()
                    .with_context(ctx)?
                    .context("parquet writer: fewer columns than the schema")?;
                let defs: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
                let present = values.iter().flatten();
                let bad = |v: &str| {
                    anyhow::anyhow!(
                        "{}: column `{name}`: `{v}` is not a valid {kind:?} value",
                        self.dest.display()
                    )
                };
                match kind {
                    ColKind::Utf8 => {
                        let vals: Vec<ByteArray> =
                            present.map(|v| ByteArray::from(v.as_str())).collect();
                        col.typed::<ByteArrayType>()
                            .write_batch(&vals, Some(&defs), None)
                    }
                    ColKind::Int64 => {
                        let vals = present
                            .map(|v| v.parse::<i64>().map_err(|_| bad(v)))
                            .collect::<anyhow::Result<Vec<_>>>()?;
                        col.typed::<Int64Type>()
                            .write_batch(&vals, Some(&defs), None)
                    }
                    ColKind::Float32 => {
                        let vals = present
                            .map(|v| v.parse::<f32>().map_err(|_| bad(v)))
                            .collect::<anyhow::Result<Vec<_>>>()?;
                        col.typed::<FloatType>()
                            .write_batch(&vals, Some(&defs), None)
                    }
                    ColKind::Float64 => {
                        let vals = present
                            .map(|v| v.parse::<f64>().map_err(|_| bad(v)))
                            .collect::<anyhow::Result<Vec<_>>>()?;
                        col.typed::<DoubleType>()
                            .write_batch(&vals, Some(&defs), None)
                    }
                    ColKind::Bool => {
                        let vals = present
                            .map(|v| parse_bool(v).ok_or_else(|| bad(v)))
                            .collect::<anyhow::Result<Vec<_>>>()?;
                        col.typed::<BoolType>()
                            .write_batch(&vals, Some(&defs), None)
                    }
                    ColKind::TimestampMillis => {
                        let vals = present
                            .map(|v| {
                                crate::date::parse_time(v)
                                    .map(|s| s * 1_000)
                                    .ok_or_else(|| bad(v))
                            })
                            .collect::<anyhow::Result<Vec<_>>>()?;
                        col.typed::<Int64Type>()
                            .write_batch(&vals, Some(&defs), None)
                    }
                }
                .with_context(ctx)?;
                col.close().with_context(ctx)?;
            }
            rg.close().with_context(ctx)?;
            Ok(())
        }

        /// Writes the footer, flushes and renames the file into place; returns the final path.
        pub fn commit(self) -> anyhow::Result<PathBuf> {
            let ctx = || format!("writing {}", self.dest.display());
            let mut file = self.writer.into_inner().with_context(ctx)?;
            file.flush().with_context(ctx)?;
            file.commit().with_context(ctx)
        }
    }

    fn parse_bool(v: &str) -> Option<bool> {
        const ZERO: [&str; 4] = ["0", "false", "no", "n"];
        const ONE: [&str; 4] = ["1", "true", "yes", "y"];
        if ZERO.iter().any(|z| z.eq_ignore_ascii_case(v)) {
            Some(false)
        } else if ONE.iter().any(|o| o.eq_ignore_ascii_case(v)) {
            Some(true)
        } else {
            None
        }
    }
}

#[cfg(not(feature = "parquet"))]
mod stub {
    //! The same API without the `parquet` feature: opening fails, so no value of these types
    //! ever exists (each holds an `Infallible`) and their methods cannot be called.
    use std::convert::Infallible;
    use std::path::{Path, PathBuf};

    use csv::ByteRecord;

    use super::{ColKind, ValueKind, unsupported};
    use crate::data::error::DataError;

    pub struct ParquetSource {
        _never: Infallible,
    }
    pub struct ParquetRows {
        _never: Infallible,
    }
    pub struct ParquetWriter {
        _never: Infallible,
    }

    impl ParquetSource {
        pub fn open(path: &Path) -> Result<ParquetSource, DataError> {
            Err(unsupported(path))
        }
        pub fn source(&self) -> &str {
            unreachable!("no Parquet value exists in this build")
        }
        pub fn names(&self) -> Vec<String> {
            unreachable!("no Parquet value exists in this build")
        }
        pub fn kinds(&self) -> &[ValueKind] {
            unreachable!("no Parquet value exists in this build")
        }
        pub fn num_rows(&self) -> u64 {
            unreachable!("no Parquet value exists in this build")
        }
        pub fn rows(self, _keep: &[bool]) -> Result<ParquetRows, DataError> {
            unreachable!("no Parquet value exists in this build")
        }
    }

    impl ParquetRows {
        pub fn next_record(&mut self, _record: &mut ByteRecord) -> Result<Option<u64>, DataError> {
            unreachable!("no Parquet value exists in this build")
        }
        pub fn bytes_read(&self) -> u64 {
            unreachable!("no Parquet value exists in this build")
        }
    }

    impl ParquetWriter {
        pub fn create(dest: &Path, _columns: &[(String, ColKind)]) -> anyhow::Result<Self> {
            Err(unsupported(dest).into())
        }
        pub fn write_csv_chunk(&mut self, _csv: &[u8]) -> anyhow::Result<()> {
            unreachable!("no Parquet value exists in this build")
        }
        pub fn commit(self) -> anyhow::Result<PathBuf> {
            unreachable!("no Parquet value exists in this build")
        }
    }
}

/// Rows of a Parquet file as text: `(1-based row number, one field per column)`.
pub type TextRows = Vec<(u64, Vec<String>)>;

/// Reads a whole Parquet file as text records: the header names and [`TextRows`], every column
/// decoded (used for interactions, which are held in memory anyway).
pub fn read_text_rows(path: &Path) -> Result<(Vec<String>, TextRows), DataError> {
    let src = ParquetSource::open(path)?;
    let names = src.names();
    let source = src.source().to_string();
    for (name, kind) in names.iter().zip(src.kinds()) {
        if let ValueKind::Other(found) = kind {
            return Err(DataError::ParquetType {
                file: source,
                column: name.clone(),
                found: found.clone(),
                expected: "a string, number, boolean or timestamp".into(),
            });
        }
    }
    let keep = vec![true; names.len()];
    let mut rows = src.rows(&keep)?;
    let mut record = csv::ByteRecord::new();
    let mut out = Vec::new();
    while let Some(line) = rows.next_record(&mut record)? {
        let fields = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        out.push((line, fields));
    }
    Ok((names, out))
}

/// Converts the CSV file `csv_path` into the Parquet file `dest` (columns typed by `kind_of`
/// their header name), one row group per `chunk_rows` rows.
pub fn csv_to_parquet(
    csv_path: &Path,
    dest: &Path,
    kind_of: impl Fn(&str) -> ColKind,
    chunk_rows: usize,
) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    let mut rdr = csv::ReaderBuilder::new()
        .from_path(csv_path)
        .with_context(|| format!("reading {}", csv_path.display()))?;
    let header = rdr
        .headers()
        .with_context(|| format!("reading {}", csv_path.display()))?
        .clone();
    let columns: Vec<(String, ColKind)> =
        header.iter().map(|h| (h.to_string(), kind_of(h))).collect();
    let mut writer = ParquetWriter::create(dest, &columns)?;
    let mut chunk = csv::Writer::from_writer(Vec::new());
    let mut n = 0usize;
    let mut record = csv::ByteRecord::new();
    loop {
        let more = rdr
            .read_byte_record(&mut record)
            .with_context(|| format!("reading {}", csv_path.display()))?;
        if more {
            chunk.write_byte_record(&record)?;
            n += 1;
        }
        if n > 0 && (!more || n >= chunk_rows.max(1)) {
            let bytes = std::mem::replace(&mut chunk, csv::Writer::from_writer(Vec::new()))
                .into_inner()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            writer.write_csv_chunk(&bytes)?;
            n = 0;
        }
        if !more {
            break;
        }
    }
    writer.commit()
}

/// An output table written as CSV or, by the path's extension, as Parquet (one row group per
/// [`TableSink::write_rows`] call), under a temporary name until [`TableSink::commit`].
pub enum TableSink {
    Csv(crate::checkpoint::PendingFile),
    Parquet(Box<ParquetWriter>),
}

impl TableSink {
    /// Creates `dest` with the CSV header line `header`; Parquet columns get the type
    /// `kind_of(name)`.
    pub fn create(
        dest: &Path,
        header: &[u8],
        kind_of: impl Fn(&str) -> ColKind,
    ) -> anyhow::Result<TableSink> {
        use anyhow::Context;
        if is_parquet(dest) {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(header);
            let mut names = csv::StringRecord::new();
            rdr.read_record(&mut names)
                .with_context(|| format!("writing {}", dest.display()))?;
            let columns: Vec<(String, ColKind)> =
                names.iter().map(|n| (n.to_string(), kind_of(n))).collect();
            Ok(TableSink::Parquet(Box::new(ParquetWriter::create(
                dest, &columns,
            )?)))
        } else {
            let mut out = crate::checkpoint::PendingFile::create(dest)
                .with_context(|| format!("writing {}", dest.display()))?;
            out.write(header)?;
            Ok(TableSink::Csv(out))
        }
    }

    /// Appends CSV rows (no header).
    pub fn write_rows(&mut self, csv: &[u8]) -> anyhow::Result<()> {
        match self {
            TableSink::Csv(out) => Ok(out.write(csv)?),
            TableSink::Parquet(w) => w.write_csv_chunk(csv),
        }
    }

    /// Renames the finished file into place; returns its path.
    pub fn commit(self) -> anyhow::Result<std::path::PathBuf> {
        match self {
            TableSink::Csv(out) => Ok(out.commit()?),
            TableSink::Parquet(w) => w.commit(),
        }
    }
}

/// Parquet types of the `teleseg score` columns: ids and the offer lists as strings, `segment`
/// as an integer, everything else (confidence, `q*`, `z*`) as 32-bit floats.
pub fn score_column_kind(name: &str) -> ColKind {
    match name {
        "customer_id" | "offers" | "offer_scores" | "offer_source" => ColKind::Utf8,
        n if n.starts_with("reason_") => ColKind::Utf8,
        "segment" => ColKind::Int64,
        _ => ColKind::Float32,
    }
}

/// Parquet types of a customer file's columns by schema role: numeric as 64-bit floats (64-bit
/// integers for `integer = true` columns), binary as booleans, everything else as strings.
pub fn customer_column_kind(schema: &crate::data::schema::Schema, name: &str) -> ColKind {
    use crate::data::schema::Role;
    match schema.column(name) {
        Some(c) if c.role == Role::Numeric && c.integer => ColKind::Int64,
        Some(c) if c.role == Role::Numeric => ColKind::Float64,
        Some(c) if c.role == Role::Binary => ColKind::Bool,
        _ => ColKind::Utf8,
    }
}

/// Parquet types of a teleseg interactions file: `timestamp` as a UTC timestamp (ms), the rest
/// as strings.
pub fn interaction_column_kind(name: &str) -> ColKind {
    match name {
        "timestamp" => ColKind::TimestampMillis,
        _ => ColKind::Utf8,
    }
}

#[cfg(all(test, feature = "parquet"))]
mod tests;

#[cfg(all(test, not(feature = "parquet")))]
mod no_feature_tests {
    use std::path::Path;

    use crate::data::error::DataError;
    use crate::data::interactions::load_teleseg;
    use crate::data::reader::{ReadOptions, read_csv};
    use crate::data::schema::Schema;

    /// Without the feature a Parquet path is a clear input error (exit code 2), never CSV.
    #[test]
    fn parquet_paths_need_the_feature() {
        let toml = "name = \"t\"\n[[columns]]\nname = \"id\"\nrole = \"id\"\n\
                    [[columns]]\nname = \"x\"\nrole = \"numeric\"\n";
        let schema = Schema::parse(toml, "t").unwrap();
        let e = read_csv(Path::new("x.parquet"), &schema, &ReadOptions::default()).unwrap_err();
        assert!(matches!(e, DataError::NoParquetSupport { .. }), "{e}");
        assert!(e.is_input_error());
        assert!(
            e.to_string().contains("rebuild with --features parquet"),
            "{e}"
        );
        let e = load_teleseg(Path::new("i.pq"), None).unwrap_err();
        assert!(
            e.is_input_error() && e.to_string().contains("--features parquet"),
            "{e}"
        );
        let e = super::ParquetWriter::create(Path::new("o.parquet"), &[])
            .err()
            .unwrap();
        assert!(e.to_string().contains("--features parquet"), "{e}");
    }
}
