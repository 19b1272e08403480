//! Customer files in Parquet: the columns of a [`ParquetSource`] matched against the schema
//! like a CSV header, each used column's type checked against its role, and the rows handed to
//! the CSV rules as text records (see [`crate::data::parquet`]).

use std::path::Path;

use csv::ByteRecord;

use super::plan::{Plan, Slot};
use crate::data::error::DataError;
use crate::data::parquet::{ParquetRows, ParquetSource, ValueKind};
use crate::data::schema::Schema;

/// Opens the Parquet file at `path`, matches its columns against `schema` and checks their types.
pub(super) fn open(path: &Path, schema: &Schema) -> Result<(Plan, ParquetRows), DataError> {
    let src = ParquetSource::open(path)?;
    let names = src.names();
    let header = ByteRecord::from(names.clone());
    let plan = Plan::new(&header, src.source(), schema)?;
    let mut keep = Vec::with_capacity(names.len());
    for (field, kind) in plan.fields.iter().zip(src.kinds()) {
        use ValueKind as K;
        let (ok, expected) = match field.slot {
            Slot::Skip => {
                keep.push(false);
                continue;
            }
            Slot::Id => (
                matches!(kind, K::Str | K::Int),
                "a string or integer (customer id)",
            ),
            Slot::Numeric(_) => (
                matches!(kind, K::Int | K::Float),
                "an integer or floating point column (role numeric)",
            ),
            Slot::Categorical(_) => (
                matches!(kind, K::Str | K::Int | K::Bool),
                "a string, integer or boolean column (role categorical)",
            ),
            Slot::Binary(_) => (
                matches!(kind, K::Bool | K::Int | K::Str),
                "a boolean, integer (0/1) or string (yes/no...) column (role binary)",
            ),
            Slot::Target(_) => (
                matches!(kind, K::Str | K::Int | K::Bool | K::Float),
                "a string, number or boolean column (role target)",
            ),
        };
        if !ok {
            return Err(DataError::ParquetType {
                file: src.source().to_string(),
                column: field.name.clone(),
                found: kind.describe(),
                expected: expected.to_string(),
            });
        }
        keep.push(true);
    }
    let rows = src.rows(&keep)?;
    Ok((plan, rows))
}
