//! Errors of CSV ingestion ([`DataError`]): one variant per rule a file can break.
//!
//! Every message about a cell names `file:line:column` (the column by its 1-based position and its
//! header name), the offending value (at most 40 characters) and the rule, e.g.
//!
//! ```text
//! customers.csv:14:3 (column `tenure_months`): `abc` is not a number (numeric column; leave the cell empty for a missing value)
//! ```

use std::fmt;

use thiserror::Error;

/// Where a bad cell is: file, 1-based CSV line, 1-based column position and header name.
///
/// Displays as `file:line:index (column `name`)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellAt {
    /// The file (or source name) being read.
    pub file: String,
    /// 1-based line of the record in the file.
    pub line: u64,
    /// 1-based position of the column in the header.
    pub index: usize,
    /// Header name of the column.
    pub column: String,
}

impl fmt::Display for CellAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{} (column `{}`)",
            self.file, self.line, self.index, self.column
        )
    }
}

/// Every way reading a CSV against a schema can fail.
///
/// [`DataError::is_input_error`] separates bad input (exit code 2) from I/O failures (exit code 1).
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {file}: {source}")]
    Io {
        /// The file being read.
        file: String,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty: not even a header line.
    #[error("{file}: no header (the file is empty)")]
    NoHeader {
        /// The file being read.
        file: String,
    },
    /// The file has a header but no record.
    #[error("{file}: no data rows (the file has a header only)")]
    NoDataRows {
        /// The file being read.
        file: String,
    },
    /// With `--on-bad-row skip`, every record was bad.
    #[error("{file}: no valid data rows (all {skipped} rows were skipped as bad rows)")]
    AllRowsSkipped {
        /// The file being read.
        file: String,
        /// How many rows were skipped.
        skipped: usize,
    },
    /// Schema columns absent from the header and/or header columns the schema does not list.
    #[error(
        "{file}:1: header does not match the schema: {}",
        header_message(missing, unknown)
    )]
    HeaderMismatch {
        /// The file being read.
        file: String,
        /// Schema columns (other than targets) that the header lacks, in schema order.
        missing: Vec<String>,
        /// Header columns the schema does not list (only an error without `allow_extra_columns`).
        unknown: Vec<String>,
    },
    /// The same name appears twice in the header.
    #[error(
        "{file}:1: column name `{name}` appears twice in the header (columns {first} and {second})"
    )]
    DuplicateHeader {
        /// The file being read.
        file: String,
        /// The repeated name.
        name: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// A record does not have as many fields as the header.
    #[error(
        "{file}:{line}: wrong number of fields: expected {expected} (as in the header), found {found}"
    )]
    Ragged {
        /// The file being read.
        file: String,
        /// 1-based line of the record.
        line: u64,
        /// Number of header fields.
        expected: usize,
        /// Number of fields in this record.
        found: usize,
    },
    /// A header or record field is not valid UTF-8.
    #[error("{file}:{line}:{index}: invalid UTF-8 in the field (files must be UTF-8 encoded)")]
    InvalidUtf8 {
        /// The file being read.
        file: String,
        /// 1-based line.
        line: u64,
        /// 1-based column position.
        index: usize,
    },
    /// Text in a numeric column that does not parse as a number.
    #[error(
        "{at}: `{value}` is not a number (numeric column; leave the cell empty for a missing value)"
    )]
    NotANumber {
        /// The cell.
        at: CellAt,
        /// The value, truncated to 40 characters.
        value: String,
    },
    /// `nan`, `inf`, `-inf`, `infinity` (any case) in a numeric column.
    #[error(
        "{at}: `{value}` is not accepted: nan and inf are not valid numeric values; a missing value must be an empty cell"
    )]
    NonFiniteText {
        /// The cell.
        at: CellAt,
        /// The value, truncated to 40 characters.
        value: String,
    },
    /// A number that overflows to infinity when parsed (e.g. `1e999`).
    #[error("{at}: `{value}` is not a finite number (it overflows a 64-bit float)")]
    NonFinite {
        /// The cell.
        at: CellAt,
        /// The value, truncated to 40 characters.
        value: String,
    },
    /// A number outside the schema's `min`/`max`.
    #[error("{at}: `{value}` is outside the range allowed by the schema [{}, {}]", bound(*min, f64::NEG_INFINITY), bound(*max, f64::INFINITY))]
    OutOfRange {
        /// The cell.
        at: CellAt,
        /// The value, truncated to 40 characters.
        value: String,
        /// The schema's `min`, if any.
        min: Option<f64>,
        /// The schema's `max`, if any.
        max: Option<f64>,
    },
    /// A value in a binary column other than the accepted spellings.
    #[error(
        "{at}: `{value}` is not a binary value (accepted, any case: 0/1, true/false, yes/no, y/n; empty = missing)"
    )]
    InvalidBinary {
        /// The cell.
        at: CellAt,
        /// The value, truncated to 40 characters.
        value: String,
    },
    /// An empty cell in a column whose missing policy is `error`.
    #[error(
        "{at}: missing value (empty cell) but the schema says missing = \"error\" for this column"
    )]
    MissingValue {
        /// The cell.
        at: CellAt,
    },
    /// An empty customer id.
    #[error("{at}: empty customer id (every row needs an id)")]
    EmptyId {
        /// The cell.
        at: CellAt,
    },
    /// A `.parquet`/`.pq` file that cannot be decoded (not Parquet, truncated, corrupt).
    #[error("{file}: not a readable Parquet file: {message}")]
    Parquet {
        /// The file being read.
        file: String,
        /// What the Parquet decoder said.
        message: String,
    },
    /// A Parquet column whose type does not fit the schema's role for it.
    #[error(
        "{file}: column `{column}` is {found} in the Parquet file, but the schema needs {expected}"
    )]
    ParquetType {
        /// The file being read.
        file: String,
        /// The column name.
        column: String,
        /// The Parquet type found.
        found: String,
        /// What the schema's role accepts.
        expected: String,
    },
    /// A Parquet path given to a build without the `parquet` feature.
    #[error("{file}: this build has no Parquet support; rebuild with --features parquet")]
    NoParquetSupport {
        /// The file named.
        file: String,
    },
    /// A customer id already seen on an earlier line.
    #[error("{at}: duplicate customer id `{value}` (first seen on line {first_line}, again on line {})", at.line)]
    DuplicateId {
        /// The cell of the second occurrence.
        at: CellAt,
        /// The id, truncated to 40 characters.
        value: String,
        /// 1-based line of the first occurrence.
        first_line: u64,
    },
}

impl DataError {
    /// True when the error is caused by the input (its content, or a path that does not exist):
    /// the CLI exits with code 2. False for I/O failures such as permission denied or a read error
    /// (exit code 1).
    pub fn is_input_error(&self) -> bool {
        match self {
            DataError::Io { source, .. } => is_path_mistake(source),
            _ => true,
        }
    }

    /// The 1-based line the error is about, if it is about one line (used in skip reports).
    pub fn line(&self) -> Option<u64> {
        match self {
            DataError::Ragged { line, .. } | DataError::InvalidUtf8 { line, .. } => Some(*line),
            DataError::NotANumber { at, .. }
            | DataError::NonFiniteText { at, .. }
            | DataError::NonFinite { at, .. }
            | DataError::OutOfRange { at, .. }
            | DataError::InvalidBinary { at, .. }
            | DataError::MissingValue { at }
            | DataError::EmptyId { at }
            | DataError::DuplicateId { at, .. } => Some(at.line),
            _ => None,
        }
    }
}

/// Truncates a cell value to 40 characters for messages (an ellipsis marks the cut).
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 40;
    match value.char_indices().nth(MAX) {
        None => value.to_string(),
        Some((cut, _)) => format!("{}…", &value[..cut]),
    }
}

fn header_message(missing: &[String], unknown: &[String]) -> String {
    let quote = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing columns {}", quote(missing)));
    }
    if !unknown.is_empty() {
        parts.push(format!(
            "unknown columns {} (allowed only with allow_extra_columns = true in the schema)",
            quote(unknown)
        ));
    }
    parts.join("; ")
}

fn bound(b: Option<f64>, none: f64) -> String {
    format!("{}", b.unwrap_or(none))
}

/// Whether an I/O error means the user named the wrong path (missing, a folder where a file
/// is expected or the other way round), rather than a failing system.
pub fn is_path_mistake(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{IsADirectory, NotADirectory, NotFound};
    matches!(e.kind(), NotFound | IsADirectory | NotADirectory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_truncates_to_40_chars() {
        let long = "é".repeat(50);
        let s = shown(&long);
        assert_eq!(s.chars().count(), 41);
        assert!(s.ends_with('…'));
        assert_eq!(shown("short"), "short");
    }

    #[test]
    fn io_errors_are_not_input_errors_except_not_found() {
        let denied = DataError::Io {
            file: "f".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert!(!denied.is_input_error());
        let missing = DataError::Io {
            file: "f".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(missing.is_input_error());
        assert!(DataError::NoHeader { file: "f".into() }.is_input_error());
    }
}
