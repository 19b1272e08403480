//! `teleseg train vae`, `teleseg sample` and `teleseg evaluate synthetic`: the tabular VAE job,
//! sampling synthetic profiles from its checkpoint, and the synthetic-data quality report.
//!
//! A VAE run folder holds `model.safetensors` (kind `vae`), `metrics.jsonl`, `config.toml`,
//! `holdout.csv` (the real test split, the reference of the report), `synthetic.csv` (as many
//! rows as the holdout, original schema), `segments/segment-<label>.csv` (conditional runs) and
//! `synthetic_quality.json` (quality, privacy and utility of the VAE and of the
//! independent-marginals baseline, and how often conditional samples land in their segment).

use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self};
use crate::data::reader::{ReadOptions, read_csv};
use crate::data::schema::Schema;
use crate::error::UsageError;
use crate::eval::synthetic::{self, SyntheticReport};
use crate::job::{Globals, TrainArgs};
use crate::models::vae::VaeJob;
use crate::models::vae::{VaeModel, VaeReport, run_vae_job};

/// Runs `teleseg train vae`: a fresh run folder, or `--resume RUN` continuing `RUN/last`.
pub fn train_vae(args: &TrainArgs, globals: &Globals) -> anyhow::Result<VaeReport> {
    crate::commands::train::run_or_resume::<VaeJob, _>("train vae", args, globals, &[], run_vae_job)
}

/// Options of `teleseg sample`.
#[derive(Debug, Clone, clap::Args)]
pub struct SampleArgs {
    /// Run folder or model.safetensors of a vae run.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Number of rows.
    #[arg(long)]
    pub rows: usize,
    /// Only profiles of this segment (its label in the VAE's segments file; conditional VAEs).
    #[arg(long)]
    pub segment: Option<String>,
    /// The global `--seed` (42 when not given).
    #[arg(skip = 42u64)]
    pub seed: u64,
    /// Output CSV (written atomically).
    #[arg(long)]
    pub output: PathBuf,
    /// Fill every cell instead of reproducing the real data's missing values.
    #[arg(long)]
    pub fill_missing: bool,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `teleseg sample`; returns the rows written.
pub fn run_sample(args: &SampleArgs, device: &Device) -> anyhow::Result<usize> {
    if args.output.exists() && !args.force {
        bail!(UsageError(format!(
            "{} already exists; pass --force to overwrite it",
            args.output.display()
        )));
    }
    if args.rows == 0 {
        bail!(UsageError("--rows must be at least 1".into()));
    }
    let m = VaeModel::load(&args.checkpoint, device)?;
    let segment = match &args.segment {
        Some(s) => Some(m.segment_index(s)?),
        None => None,
    };
    let (t, _) = m.sample(args.rows, segment, args.seed, !args.fill_missing);
    checkpoint::write_atomic(&args.output, &m.csv(&t))
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(t.n_rows())
}

/// Options of `teleseg evaluate synthetic`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalSyntheticArgs {
    /// Real holdout CSV (never seen by the generator).
    #[arg(long)]
    pub real: PathBuf,
    /// Synthetic CSV.
    #[arg(long)]
    pub synthetic: PathBuf,
    /// Schema TOML of both files.
    #[arg(long)]
    pub schema: PathBuf,
    /// Real rows the generator was trained on: enables privacy (DCR), TRTR and the
    /// independent-marginals baseline.
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// Write the full report (every column and pair score) as JSON here.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Rows of each table whose distance to the closest train record is computed.
    #[arg(long, default_value_t = 2000)]
    pub dcr_rows: usize,
    /// The global `--seed` (42 when not given).
    #[arg(skip = 42u64)]
    pub seed: u64,
}

/// The report of `evaluate synthetic`: the synthetic table and, with `--train`, the baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalSyntheticReport {
    pub synthetic: SyntheticReport,
    pub independent_marginals: Option<SyntheticReport>,
}

/// Runs `teleseg evaluate synthetic`; returns the report and its text summary.
pub fn run_evaluate_synthetic(
    args: &EvalSyntheticArgs,
) -> anyhow::Result<(EvalSyntheticReport, String)> {
    let schema = Schema::load(&args.schema)?;
    let opts = ReadOptions::default();
    let (real, _) = read_csv(&args.real, &schema, &opts)?;
    let (synth, _) = read_csv(&args.synthetic, &schema, &opts)?;
    let train = match &args.train {
        Some(p) => Some(read_csv(p, &schema, &opts)?.0),
        None => None,
    };
    let dcr = args.dcr_rows.max(1);
    let s = synthetic::evaluate(&schema, &real, &synth, train.as_ref(), dcr, args.seed)?;
    let baseline = match &train {
        Some(t) => {
            let b = synthetic::independent_marginals(t, synth.n_rows(), args.seed);
            Some(synthetic::evaluate(
                &schema,
                &real,
                &b,
                Some(t),
                dcr,
                args.seed,
            )?)
        }
        None => None,
    };
    let report = EvalSyntheticReport {
        synthetic: s,
        independent_marginals: baseline,
    };
    if let Some(out) = &args.output {
        checkpoint::write_atomic(out, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    let text = summary(&report.synthetic, report.independent_marginals.as_ref());
    Ok((report, text))
}

pub use crate::models::vae::summary;
