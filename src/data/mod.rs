//! Data: the schema, CSV ingestion, the synthetic generator, splits and preprocessing.

pub mod generate;
pub mod schema;
