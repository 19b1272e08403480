//! `teleseg embed`: raw customer CSV in, one embedding per customer out.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::checkpoint::{self, RunDir};
use crate::data::reader::{OnBadRow, ReadOptions};
use crate::data::writer::csv_field;
use crate::models::autoencoder::{EmbeddingModel, RawInput};

/// Options of `teleseg embed`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmbedArgs {
    /// Run folder or model.safetensors of an autoencoder run.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Customer CSV or Parquet (`.parquet`/`.pq`) with the columns of the checkpoint's schema
    /// (target columns optional).
    #[arg(long)]
    pub input: PathBuf,
    /// Output CSV (written atomically).
    #[arg(long)]
    pub output: PathBuf,
    /// Rows per inference batch (at least 1).
    #[arg(long, default_value_t = 4096, value_parser = crate::commands::at_least_one)]
    pub batch_size: usize,
    /// What to do with a row that breaks a cell rule: `error` (default: stop, naming
    /// file:line:column and the rule) or `skip` (count it and report the first reasons).
    #[arg(long, value_enum, default_value_t = OnBadRow::Error)]
    pub on_bad_row: OnBadRow,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `teleseg embed`; returns the number of rows written.
pub fn run(args: &EmbedArgs, device: &burn::tensor::Device) -> anyhow::Result<usize> {
    if args.output.exists() && !args.force {
        anyhow::bail!(crate::error::UsageError(format!(
            "{} already exists; pass --force to overwrite it",
            args.output.display()
        )));
    }
    let path = RunDir::resolve_model_file(&args.checkpoint)?;
    let model = EmbeddingModel::load(&path, device)?;
    let opts = ReadOptions {
        on_bad_row: args.on_bad_row,
    };
    let table = model.read(&args.input, &opts)?;
    let features = model.features(&table)?;
    let started = std::time::Instant::now();
    let z = model.embed(&features, args.batch_size);
    let latent = model.arch.latent;
    tracing::info!(
        rows = table.ids.len(),
        rows_per_s = table.ids.len() as f64 / started.elapsed().as_secs_f64(),
        "embedded"
    );
    let out = embeddings_csv(&table.ids, &z, latent);
    checkpoint::write_atomic(&args.output, &out)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(table.ids.len())
}

/// The embeddings CSV: a `customer_id,z0,..,z{latent-1}` header, then one row per id.
/// `z` is `[ids.len(), latent]` row-major.
pub fn embeddings_csv(ids: &[String], z: &[f32], latent: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * (latent * 11 + 12));
    out.extend_from_slice(b"customer_id");
    for j in 0..latent {
        write!(out, ",z{j}").expect("vec write");
    }
    out.push(b'\n');
    for (id, row) in ids.iter().zip(z.chunks_exact(latent.max(1))) {
        out.extend_from_slice(csv_field(id).as_bytes());
        for v in row {
            write!(out, ",{v}").expect("vec write");
        }
        out.push(b'\n');
    }
    out
}
