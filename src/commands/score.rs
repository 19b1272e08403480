//! `teleseg score`: raw customer CSV in, one segment per customer out (a `dec` checkpoint).
//!
//! The input is streamed: read in chunks of `chunk_rows` rows, each preprocessed, scored in
//! inference batches of `batch_size` and appended to a temporary output file that is renamed
//! into place only when every row is scored. Memory is bounded by the chunk size (plus 16 bytes
//! per row for the duplicate-id check), whatever the input size.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::checkpoint::{PendingFile, RunDir};
use crate::commands::embed::csv_field;
use crate::data::reader::{OnBadRow, ReadOptions};
use crate::progress::Progress;
use crate::score::{RawInput, SegmentModel, Segments};

/// Rows read, preprocessed and scored at a time by default.
pub const DEFAULT_CHUNK_ROWS: usize = 65_536;

/// Options of `teleseg score`.
#[derive(Debug, Clone)]
pub struct ScoreArgs {
    pub checkpoint: PathBuf,
    pub input: PathBuf,
    pub output: PathBuf,
    /// Also write the soft assignment `q0..q{k-1}`.
    pub with_q: bool,
    /// Rows per inference batch.
    pub batch_size: usize,
    /// Rows read and preprocessed at a time (bounds memory).
    pub chunk_rows: usize,
    pub on_bad_row: OnBadRow,
    pub force: bool,
}

/// What `teleseg score` did.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreSummary {
    /// Rows scored and written.
    pub rows: usize,
    /// Bad rows skipped (`--on-bad-row skip`).
    pub skipped: usize,
    /// Rows per second, end to end (read, preprocess, score, write).
    pub rows_per_s: f64,
}

/// Runs `teleseg score`.
pub fn run(
    args: &ScoreArgs,
    device: &burn::tensor::Device,
    progress: &Progress,
) -> anyhow::Result<ScoreSummary> {
    if args.output.exists() && !args.force {
        anyhow::bail!(crate::error::UsageError(format!(
            "{} already exists; pass --force to overwrite it",
            args.output.display()
        )));
    }
    let start = Instant::now();
    let path = RunDir::resolve_model_file(&args.checkpoint)?;
    let model = SegmentModel::load(&path, device)?;
    let opts = ReadOptions {
        on_bad_row: args.on_bad_row,
    };
    let mut batches = model.batches(&args.input, &opts)?;
    let input_bytes = std::fs::metadata(&args.input).map_or(0, |m| m.len());
    let bar = progress.bytes_bar("score", input_bytes);
    let (k, latent) = (model.head.k, model.arch.latent);
    let mut out = PendingFile::create(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    out.write(&scores_header(k, latent, args.with_q))?;
    let mut rows = 0usize;
    let mut buf = Vec::new();
    while let Some(table) = batches.next_batch(args.chunk_rows.max(1))? {
        let features = model.features(&table)?;
        let scores = model.score(&features, args.batch_size);
        buf.clear();
        scores_rows(&mut buf, &table.ids, &scores, k, latent, args.with_q);
        out.write(&buf)?;
        rows += table.ids.len();
        bar.set_position(batches.bytes_read());
        bar.set_message(format!("{rows} rows"));
    }
    out.commit()?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let summary = ScoreSummary {
        rows,
        skipped: batches.report().skipped_total,
        rows_per_s: rows as f64 / secs.max(1e-9),
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

/// `customer_id,segment,confidence[,q0..q{k-1}],z0..z{latent-1}` and a newline.
pub fn scores_header(k: usize, latent: usize, with_q: bool) -> Vec<u8> {
    let mut out = b"customer_id,segment,confidence".to_vec();
    if with_q {
        (0..k).for_each(|j| write!(out, ",q{j}").expect("vec write"));
    }
    (0..latent).for_each(|j| write!(out, ",z{j}").expect("vec write"));
    out.push(b'\n');
    out
}

/// One CSV row per id (the columns of [`scores_header`]), appended to `out`.
pub fn scores_rows(
    out: &mut Vec<u8>,
    ids: &[String],
    s: &Segments,
    k: usize,
    latent: usize,
    with_q: bool,
) {
    out.reserve(ids.len() * ((latent + k) * 11 + 24));
    for (i, id) in ids.iter().enumerate() {
        out.extend_from_slice(csv_field(id).as_bytes());
        write!(out, ",{},{}", s.segment[i], s.confidence[i]).expect("vec write");
        if with_q {
            for v in &s.q[i * k..(i + 1) * k] {
                write!(out, ",{v}").expect("vec write");
            }
        }
        for v in &s.z[i * latent..(i + 1) * latent] {
            write!(out, ",{v}").expect("vec write");
        }
        out.push(b'\n');
    }
}
