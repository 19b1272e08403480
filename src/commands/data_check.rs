//! `teleseg data check`: validates a CSV against a schema and summarises it.

use std::path::PathBuf;

use crate::data::check::summarize;
use crate::data::preprocess::Preprocessor;
use crate::data::reader::{OnBadRow, ReadOptions, read_csv};
use crate::data::schema::Schema;
use crate::data::split::split_indices;

/// Options of `teleseg data check`.
#[derive(Debug, Clone, clap::Args)]
pub struct DataCheckArgs {
    /// Schema TOML.
    #[arg(long)]
    pub schema: PathBuf,
    /// Customer CSV or Parquet (`.parquet`/`.pq`).
    #[arg(long)]
    pub input: PathBuf,
    /// What to do with a row that breaks a cell rule: `error` (default: stop, naming
    /// file:line:column and the rule) or `skip` (count it and report the first reasons).
    #[arg(long, value_enum, default_value_t = OnBadRow::Error)]
    pub on_bad_row: OnBadRow,
    /// The global `--seed` (42 when not given): the split whose train rows fit the clipping.
    #[arg(skip = 42u64)]
    pub seed: u64,
}

/// Reads and validates the file, fits preprocessing on the training split (to report clipping)
/// and returns the summary text.
pub fn run(args: &DataCheckArgs) -> anyhow::Result<String> {
    let schema = Schema::load(&args.schema)?;
    let opts = ReadOptions {
        on_bad_row: args.on_bad_row,
    };
    let (table, report) = read_csv(&args.input, &schema, &opts)?;
    let split = split_indices(&table.ids, args.seed, 0.1, 0.1);
    let pre = Preprocessor::fit(&schema, &table, &split.train)?;
    Ok(summarize(&schema, &table, &report, Some(&pre)).to_string())
}
