//! Data: the schema, CSV ingestion, the synthetic generator, splits, preprocessing and the
//! data-check summary.
//!
//! The path of a customer file through this module:
//! [`read_csv`] (schema-checked, raw units) → [`split_indices`] (seeded, by customer id) →
//! [`Preprocessor::fit`] on the train rows → [`Preprocessor::transform`] → [`Features`]
//! (`[rows, n_features]` f32). [`summarize`] describes a table for `teleseg data check`.

pub mod check;
pub mod csvfile;
pub mod error;
pub mod fixed;
pub mod generate;
pub mod impressions;
pub mod interactions;
pub mod labels;
pub mod modenorm;
pub mod parquet;
pub mod preprocess;
pub mod reader;
pub mod schema;
pub mod split;
pub mod stats;
pub mod table;
pub mod writer;

pub use check::{DataSummary, summarize};
pub use error::DataError;
pub use preprocess::{FeatureGroup, FeatureLayout, Features, PreprocessError, Preprocessor};
pub use reader::{CsvBatches, OnBadRow, ReadOptions, ReadReport, read_csv, read_csv_from_reader};
pub use schema::{Schema, SchemaError};
pub use split::{Split, SplitIndices, assign_split, split_indices};
pub use table::RawTable;
