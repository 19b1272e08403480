//! `teleseg score`: raw customer CSV in, one row per customer out: segment, confidence,
//! embedding (a `dec` checkpoint) and, when the checkpoint is a pipeline run with an `ncf/`
//! model, the top-K offers.
//!
//! The pipeline run is loaded as a [`Decider`] (the one scorer `teleseg serve` and `teleseg
//! stream` use too); how offers reach new customers is described there.
//!
//! The input is streamed: read in chunks of `chunk_rows` rows, each preprocessed, scored in
//! inference batches of `batch_size` and appended to a temporary output file that is renamed
//! into place only when every row is scored. Memory is bounded by the chunk size (plus 16 bytes
//! per row for the duplicate-id check), whatever the input size.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::checkpoint::RunDir;
use crate::data::parquet::{TableSink, score_column_kind};
use crate::data::reader::{OnBadRow, ReadOptions};
use crate::data::table::RawTable;
use crate::models::autoencoder::RawInput;
use crate::models::propensity::PropensityModel;
use crate::progress::Progress;
use crate::scoring::{Decider, DeciderOptions};

/// Rows read, preprocessed and scored at a time by default.
pub const DEFAULT_CHUNK_ROWS: usize = 65_536;

/// Options of `teleseg score`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScoreArgs {
    /// A pipeline run folder (segments from dec/, offers from ncf/), or a dec run folder or
    /// its model.safetensors (segments only).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Customer CSV or Parquet (`.parquet`/`.pq`) with the columns of the checkpoint's schema
    /// (target columns optional).
    #[arg(long)]
    pub input: PathBuf,
    /// Output CSV, or Parquet when the name ends in `.parquet`/`.pq` (written
    /// atomically).
    #[arg(long)]
    pub output: PathBuf,
    /// Also write the soft assignment q0..q{k-1}.
    #[arg(long)]
    pub with_q: bool,
    /// Rows per inference batch (at least 1).
    #[arg(long, default_value_t = 4096, value_parser = crate::commands::at_least_one)]
    pub batch_size: usize,
    /// Rows read and preprocessed at a time: the input is streamed, so memory stays bounded
    /// by this whatever the file size (at least 1).
    #[arg(long, default_value_t = DEFAULT_CHUNK_ROWS, value_parser = crate::commands::at_least_one)]
    pub chunk_rows: usize,
    /// Offers per customer, written when --checkpoint is a pipeline run with an ncf/ model
    /// (columns offers, offer_scores, offer_source; at least 1).
    #[arg(long, default_value_t = 10, value_parser = crate::commands::at_least_one)]
    pub top_k: usize,
    /// Accepted offers (interactions.csv or .parquet, teleseg format) that must not be
    /// recommended again.
    #[arg(long)]
    pub interactions: Option<PathBuf>,
    /// What to do with a row that breaks a cell rule: `error` (default: stop, naming
    /// file:line:column and the rule) or `skip` (count it and report the first reasons).
    #[arg(long, value_enum, default_value_t = OnBadRow::Error)]
    pub on_bad_row: OnBadRow,
    /// Reasons per customer of a propensity checkpoint: the features with the largest |SHAP
    /// value| (columns reason_1..reason_N; 0: none, and no SHAP computed).
    #[arg(long, default_value_t = 3)]
    pub reasons: usize,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// What `teleseg score` did.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreSummary {
    /// The file written.
    pub output: PathBuf,
    /// Rows scored and written.
    pub rows: usize,
    /// Bad rows skipped (`--on-bad-row skip`).
    pub skipped: usize,
    /// Rows per second, end to end (read, preprocess, score, write).
    pub rows_per_s: f64,
    /// Whether offers were written (the checkpoint had an NCF model).
    pub offers: bool,
}

/// Runs `teleseg score`.
pub fn run(
    args: &ScoreArgs,
    device: &burn::tensor::Device,
    progress: &Progress,
) -> anyhow::Result<ScoreSummary> {
    if args.output.is_dir() {
        anyhow::bail!(crate::error::UsageError(format!(
            "--output {}: is a folder; name the file to write",
            args.output.display()
        )));
    }
    if args.output.exists() && !args.force {
        anyhow::bail!(crate::error::UsageError(format!(
            "{} already exists; pass --force to overwrite it",
            args.output.display()
        )));
    }
    let start = Instant::now();
    if let Some(ck) = single_model(&args.checkpoint)? {
        match ck.kind() {
            crate::models::propensity::KIND => {
                let model = PropensityModel::from_checkpoint(&ck)?;
                let header = model.header(args.reasons);
                return score_single(
                    args,
                    "a propensity model",
                    &model.schema,
                    &header,
                    start,
                    progress,
                    |table, buf| {
                        let scores = model.score(table, args.reasons)?;
                        model.rows(buf, table, &scores, args.reasons);
                        Ok(())
                    },
                );
            }
            crate::models::propensity::offers::KIND => {
                use crate::models::propensity::offers::OfferPropensityModel;
                let model = OfferPropensityModel::from_checkpoint(&ck)?;
                let mut header = b"customer_id".to_vec();
                header.extend_from_slice(&model.header_fields());
                header.push(b'\n');
                return score_single(
                    args,
                    "an offer-propensity model",
                    &model.schema,
                    &header,
                    start,
                    progress,
                    |table, buf| {
                        let scores = model.score(table)?;
                        for (i, id) in table.ids.iter().enumerate() {
                            buf.extend_from_slice(crate::data::writer::csv_field(id).as_bytes());
                            model.fields(buf, &scores, i);
                            buf.push(b'\n');
                        }
                        Ok(())
                    },
                );
            }
            crate::models::forecast::KIND => {
                let model = crate::models::forecast::ForecastModel::from_checkpoint(&ck)?;
                if crate::data::parquet::is_parquet(&args.output) {
                    anyhow::bail!(crate::error::UsageError(format!(
                        "--output {}: a forecast is written as CSV",
                        args.output.display()
                    )));
                }
                let panel = model.read(&args.input)?;
                let (month, forecasts) = model.forecast(&panel);
                crate::models::forecast::job::write_forecasts(
                    &args.output,
                    &panel,
                    month,
                    &forecasts,
                )?;
                let secs = start.elapsed().as_secs_f64();
                return Ok(ScoreSummary {
                    output: args.output.clone(),
                    rows: panel.customers(),
                    skipped: 0,
                    rows_per_s: panel.customers() as f64 / secs.max(1e-9),
                    offers: false,
                });
            }
            crate::models::policy::KIND => {
                let model = crate::models::policy::infer::PolicyModel::from_checkpoint(&ck)?;
                return score_single(
                    args,
                    "a contact policy",
                    &model.schema,
                    &model.header(),
                    start,
                    progress,
                    |table, buf| model.rows(buf, table),
                );
            }
            _ => {}
        }
    }
    // A pipeline run folder (segments, offers, churn risk) or a dec run (segments only).
    let decider = Decider::load(
        &args.checkpoint,
        DeciderOptions {
            top_k: args.top_k,
            interactions: args.interactions.clone(),
            reasons: args.reasons,
            batch_size: args.batch_size,
        },
        device,
    )?;
    let opts = ReadOptions {
        on_bad_row: args.on_bad_row,
    };
    let mut batches = decider.segments.batches(&args.input, &opts)?;
    let input_bytes = std::fs::metadata(&args.input).map_or(0, |m| m.len());
    let bar = progress.bytes_bar("score", input_bytes);
    let header = decider.csv_header(args.with_q);
    // CSV, or Parquet by the output's extension (one row group per chunk).
    let rows = stream(&mut batches, args, &header, &bar, |table, buf| {
        let decisions = decider.score(table)?;
        decider.csv_rows(buf, table, &decisions, args.with_q);
        Ok(())
    })?;
    let secs = start.elapsed().as_secs_f64();
    let summary = ScoreSummary {
        output: args.output.clone(),
        rows,
        skipped: batches.report().skipped_total,
        rows_per_s: rows as f64 / secs.max(1e-9),
        offers: decider.offers.is_some(),
    };
    tracing::info!(
        rows,
        skipped = summary.skipped,
        seconds = secs,
        rows_per_s = summary.rows_per_s,
        output = %args.output.display(),
        "scored"
    );
    Ok(summary)
}

/// Streams the input through `score_chunk` (which appends the CSV rows of one chunk of raw
/// customers to its buffer) into `--output`, committed only when every row is written; returns
/// the rows written.
fn stream(
    batches: &mut crate::data::reader::CsvBatches<std::fs::File>,
    args: &ScoreArgs,
    header: &[u8],
    bar: &indicatif::ProgressBar,
    mut score_chunk: impl FnMut(&RawTable, &mut Vec<u8>) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let mut out = TableSink::create(&args.output, header, score_column_kind)?;
    let (mut rows, mut buf) = (0usize, Vec::new());
    while let Some(table) = batches.next_batch(args.chunk_rows.max(1))? {
        buf.clear();
        score_chunk(&table, &mut buf)?;
        out.write_rows(&buf)?;
        rows += table.ids.len();
        bar.set_position(batches.bytes_read());
        bar.set_message(format!("{rows} rows"));
    }
    out.commit()?;
    bar.finish_and_clear();
    Ok(rows)
}

/// The checkpoint of a single-model run folder or model file, read once; None for a pipeline
/// run (its families are in subfolders) or a path the segment scorer reports as missing.
fn single_model(checkpoint: &Path) -> anyhow::Result<Option<crate::checkpoint::Checkpoint>> {
    if checkpoint.join("dec").join("model.safetensors").is_file() {
        return Ok(None);
    }
    let Ok(file) = RunDir::resolve_model_file(checkpoint) else {
        return Ok(None); // the segment path reports the missing file
    };
    Ok(Some(crate::checkpoint::Checkpoint::read(&file, None)?))
}

/// `teleseg score` with a model that reads raw rows by its own `schema` (a propensity model:
/// the prediction and its SHAP reasons; a contact policy: the best arm per offer category):
/// `score_chunk` appends the rows of [`stream`]'s chunks under `header`.
fn score_single(
    args: &ScoreArgs,
    what: &str,
    schema: &crate::data::schema::Schema,
    header: &[u8],
    start: Instant,
    progress: &Progress,
    score_chunk: impl FnMut(&RawTable, &mut Vec<u8>) -> anyhow::Result<()>,
) -> anyhow::Result<ScoreSummary> {
    if args.interactions.is_some() {
        anyhow::bail!(crate::error::UsageError(format!(
            "--interactions needs a checkpoint with offers (a pipeline run with ncf/); {} is {what}",
            args.checkpoint.display()
        )));
    }
    let opts = ReadOptions {
        on_bad_row: args.on_bad_row,
    };
    let mut batches = crate::data::reader::CsvBatches::open(&args.input, schema, &opts)?;
    let input_bytes = std::fs::metadata(&args.input).map_or(0, |m| m.len());
    let bar = progress.bytes_bar("score", input_bytes);
    let rows = stream(&mut batches, args, header, &bar, score_chunk)?;
    let secs = start.elapsed().as_secs_f64();
    Ok(ScoreSummary {
        output: args.output.clone(),
        rows,
        skipped: batches.report().skipped_total,
        rows_per_s: rows as f64 / secs.max(1e-9),
        offers: false,
    })
}

impl std::fmt::Display for ScoreSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "scored {} customers into {} ({:.0} rows/s",
            self.rows,
            self.output.display(),
            self.rows_per_s
        )?;
        if self.skipped > 0 {
            write!(f, ", {} bad rows skipped", self.skipped)?;
        }
        write!(f, ")")
    }
}
