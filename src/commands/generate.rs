//! `teleseg generate`: the synthetic telecom data set.

use std::path::PathBuf;

use anyhow::Context;

use crate::data::generate::{
    GenerateError, GenerateOptions, GenerateSummary, customer_schema, generate,
};
use crate::data::parquet::{csv_to_parquet, customer_column_kind, interaction_column_kind};

/// File format of the customers and interactions of `teleseg generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DataFormat {
    /// `customers.csv`, `interactions.csv`.
    #[default]
    Csv,
    /// `customers.parquet`, `interactions.parquet` (offers, personas and the schema stay CSV /
    /// TOML). Needs the `parquet` cargo feature.
    Parquet,
}

/// Options of `teleseg generate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// Number of customers.
    #[arg(long, default_value_t = 20_000)]
    pub customers: usize,
    /// The global `--seed` (42 when not given).
    #[arg(skip = 42u64)]
    pub seed: u64,
    /// Number of offers in the catalogue (at least 30 recommended).
    #[arg(long, default_value_t = 40)]
    pub offers: usize,
    /// Output folder (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the data files if the folder already holds a data set.
    #[arg(long)]
    pub force: bool,
    /// Spread of customers around their persona, in (0, 4]: 1 is the realistic data set
    /// where personas overlap; 0.5 separates them more (an easier clustering benchmark).
    #[arg(long, default_value_t = 1.0)]
    pub persona_spread: f64,
    /// Format of customers and interactions: `csv`, or `parquet` (customers.parquet and
    /// interactions.parquet; needs the `parquet` cargo feature).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: DataFormat,
    /// Also write events.jsonl: the usage and care events behind the table's monthly columns
    /// and the contacts' offer responses, in time order (about 250 lines per customer; see
    /// docs/realtime.md §1).
    #[arg(long)]
    pub events: bool,
}

/// Rows per Parquet row group of the generated files.
const PARQUET_ROW_GROUP: usize = 65_536;

/// Runs `teleseg generate`.
/// How the columns of one generated CSV are typed in its Parquet copy.
type ColumnKinds<'a> = Box<dyn Fn(&str) -> crate::data::parquet::ColKind + 'a>;

pub fn run(args: &GenerateArgs) -> anyhow::Result<GenerateSummary> {
    let mut opts = GenerateOptions::new(args.customers, args.seed, args.out.clone());
    opts.offers = args.offers;
    opts.force = args.force;
    opts.persona_spread = args.persona_spread;
    opts.events = args.events;
    let _span =
        tracing::info_span!("generate", customers = args.customers, seed = args.seed).entered();
    if args.format == DataFormat::Parquet {
        let existing = args.out.join("customers.parquet");
        if existing.exists() && !args.force {
            return Err(GenerateError::AlreadyExists { path: existing }.into());
        }
        if !cfg!(feature = "parquet") {
            return Err(crate::data::parquet::unsupported(&existing).into());
        }
    }
    let mut summary = generate(&opts)?;
    if args.format == DataFormat::Parquet {
        // The CSV writers stay the single source of the values: convert, then drop the CSVs.
        let schema = customer_schema();
        let mut files = Vec::with_capacity(summary.files.len());
        for csv in &summary.files {
            let name = csv.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let kind: Option<ColumnKinds> = match name {
                "customers.csv" => Some(Box::new(|c: &str| customer_column_kind(&schema, c))),
                "interactions.csv" => Some(Box::new(interaction_column_kind)),
                _ => None,
            };
            match kind {
                Some(kind) => {
                    let dest = csv.with_extension("parquet");
                    files.push(csv_to_parquet(csv, &dest, kind, PARQUET_ROW_GROUP)?);
                    std::fs::remove_file(csv)
                        .with_context(|| format!("removing {}", csv.display()))?;
                }
                None => files.push(csv.clone()),
            }
        }
        summary.files = files;
    }
    Ok(summary)
}
