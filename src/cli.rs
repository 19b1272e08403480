//! Command-line definitions (clap). Every flag is documented here; `teleseg --help` and
//! `teleseg <verb> --help` are generated from these comments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use teleseg::backend::BackendChoice;

/// teleseg — train customer embeddings, behavioural segments, synthetic profiles and offer
/// rankings for a telecom operator, on the CPU or a GPU.
///
/// Start with `teleseg pipeline`: with no arguments it generates a realistic synthetic telecom
/// data set, trains on it and writes a run folder under checkpoints/. Bring your own data with
/// a schema (copy the one `teleseg generate` writes) and `teleseg data check`.
#[derive(Debug, Parser)]
#[command(name = "teleseg", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every verb.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Compute backend: `auto` takes a real GPU through wgpu when present (never a software
    /// adapter), else `flex`. `flex` is the fast pure-Rust CPU backend; `ndarray` the older CPU one.
    #[arg(long, global = true, value_enum, default_value_t = BackendChoice::Flex)]
    pub backend: BackendChoice,
    /// Seed for everything random (overrides the config's `seed`). Same seed and backend → same result.
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Hide progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

/// What to do with a CSV row that breaks a cell rule.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BadRow {
    /// Stop with an error naming file:line:column and the rule (default).
    Error,
    /// Skip the row, count it and report the first reasons.
    Skip,
}

impl From<BadRow> for teleseg::data::reader::OnBadRow {
    fn from(b: BadRow) -> Self {
        match b {
            BadRow::Error => teleseg::data::reader::OnBadRow::Error,
            BadRow::Skip => teleseg::data::reader::OnBadRow::Skip,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic telecom data set: customers.csv, offers.csv, interactions.csv,
    /// personas.csv (true persona per customer, for evaluation only) and schema.toml.
    Generate {
        /// Number of customers.
        #[arg(long, default_value_t = 20_000)]
        customers: usize,
        /// Number of offers in the catalogue (at least 30 recommended).
        #[arg(long, default_value_t = 40)]
        offers: usize,
        /// Output folder (created).
        #[arg(long)]
        out: PathBuf,
        /// Replace the data files if the folder already holds a data set.
        #[arg(long)]
        force: bool,
        /// Spread of customers around their persona, in (0, 4]: 1 is the realistic data set
        /// where personas overlap; 0.5 separates them more (an easier clustering benchmark).
        #[arg(long, default_value_t = 1.0)]
        persona_spread: f64,
        /// Format of customers and interactions: `csv`, or `parquet` (customers.parquet and
        /// interactions.parquet; needs the `parquet` cargo feature).
        #[arg(long, value_enum, default_value = "csv")]
        format: teleseg::commands::generate::DataFormat,
    },
    /// Work with data files.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Train one model family into a new run folder (or continue one with --resume).
    Train {
        /// Which family.
        #[arg(value_enum)]
        family: Family,
        /// Config TOML (default: the embedded configs/<family>.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override one config value, e.g. `--set train.learning_rate=0.01` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Continue the run folder RUN from its last completed epoch (bit-exact on CPU backends).
        #[arg(long, value_name = "RUN")]
        resume: Option<PathBuf>,
        /// Replace an existing run folder of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Embed customers with an autoencoder checkpoint: raw CSV in, `customer_id,z0..` out.
    Embed {
        /// Run folder or model.safetensors of an autoencoder run.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Customer CSV or Parquet (`.parquet`/`.pq`) with the columns of the checkpoint's schema
        /// (target columns optional).
        #[arg(long)]
        input: PathBuf,
        /// Output CSV (written atomically).
        #[arg(long)]
        output: PathBuf,
        /// Rows per inference batch.
        #[arg(long, default_value_t = 4096)]
        batch_size: usize,
        #[arg(long, value_enum, default_value_t = BadRow::Error)]
        on_bad_row: BadRow,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Score customers with a run: raw CSV in (streamed), `customer_id,segment,confidence[,q0..],z0..`
    /// out, plus top-K offers when the run is a pipeline run with an ncf/ model.
    Score {
        /// A pipeline run folder (segments from dec/, offers from ncf/), or a dec run folder or
        /// its model.safetensors (segments only).
        #[arg(long)]
        checkpoint: PathBuf,
        /// Customer CSV or Parquet (`.parquet`/`.pq`) with the columns of the checkpoint's schema
        /// (target columns optional).
        #[arg(long)]
        input: PathBuf,
        /// Output CSV, or Parquet when the name ends in `.parquet`/`.pq` (written
        /// atomically).
        #[arg(long)]
        output: PathBuf,
        /// Also write the soft assignment q0..q{k-1}.
        #[arg(long)]
        with_q: bool,
        /// Rows per inference batch.
        #[arg(long, default_value_t = 4096)]
        batch_size: usize,
        /// Rows read and preprocessed at a time: the input is streamed, so memory stays bounded
        /// by this whatever the file size.
        #[arg(long, default_value_t = 65_536)]
        chunk_rows: usize,
        /// Offers per customer, written when --checkpoint is a pipeline run with an ncf/ model
        /// (columns offers, offer_scores, offer_source).
        #[arg(long, default_value_t = 10)]
        top_k: usize,
        /// Accepted offers (interactions.csv or .parquet, teleseg format) that must not be recommended again.
        #[arg(long)]
        interactions: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = BadRow::Error)]
        on_bad_row: BadRow,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Draw synthetic customer profiles from a `vae` checkpoint, written in the original schema
    /// (raw units, category strings, integers as integers, values within the train range).
    Sample {
        /// Run folder or model.safetensors of a vae run.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Number of rows.
        #[arg(long)]
        rows: usize,
        /// Only profiles of this segment (its label in the VAE's segments file; conditional VAEs).
        #[arg(long)]
        segment: Option<String>,
        /// Fill every cell instead of reproducing the real data's missing values.
        #[arg(long)]
        fill_missing: bool,
        /// Output CSV (written atomically).
        #[arg(long)]
        output: PathBuf,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Evaluate a run against known labels, or synthetic data against real data.
    Evaluate {
        #[command(subcommand)]
        command: EvaluateCommand,
    },
    /// Print a checkpoint's metadata, tensors (names, dtypes, shapes) and training metrics.
    Inspect {
        /// Run folder or .safetensors file.
        run: PathBuf,
    },
    /// Time the training step of a model family on synthetic inputs (prints one JSON line);
    /// used by scripts/bench_vs_torch.py to compare with PyTorch on the same architecture.
    Bench {
        /// Which training step.
        #[arg(value_enum)]
        model: crate::commands::bench::BenchModel,
        /// Rows of the synthetic N(0, 1) input.
        #[arg(long, default_value_t = 16_384)]
        rows: usize,
        /// Input features.
        #[arg(long, default_value_t = 64)]
        input: usize,
        /// Hidden widths of the encoder (mirrored in the decoder), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "256,128")]
        hidden: Vec<usize>,
        /// Embedding width.
        #[arg(long, default_value_t = 16)]
        latent: usize,
        /// Clusters (dec).
        #[arg(long, default_value_t = 8)]
        k: usize,
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// Timed steps.
        #[arg(long, default_value_t = 300)]
        steps: usize,
        /// Untimed steps first.
        #[arg(long, default_value_t = 20)]
        warmup: usize,
        /// Users of the NCF interactions (ncf; score uses --rows customers).
        #[arg(long, default_value_t = 50_000)]
        users: usize,
        /// Offers: NCF items (ncf) or offers ranked per customer (score).
        #[arg(long, default_value_t = 500)]
        items: usize,
        /// NCF embedding width (ncf, score).
        #[arg(long, default_value_t = 32)]
        factors: usize,
        /// NeuMF MLP tower widths, comma-separated (ncf, score).
        #[arg(long, value_delimiter = ',', default_value = "64,32,16,8")]
        mlp: Vec<usize>,
        /// Negatives per positive (ncf).
        #[arg(long, default_value_t = 4)]
        negatives: usize,
        /// Offers returned per customer (score).
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// NCF: update whole embedding tables with Adam (`model.embedding_updates = "dense"`)
        /// instead of lazy Adam on the batch's rows.
        #[arg(long)]
        dense_embeddings: bool,
    },
    /// (Re)build RUN/report.html from a run folder's artefacts: a self-contained page (no
    /// network) with training curves, segment map, sizes, lifts, personas and rules.
    Report {
        /// Run folder (written by `teleseg pipeline` or `teleseg train`).
        run: PathBuf,
    },
    /// The main job end to end, into one run folder: data → autoencoder → embeddings → DEC/IDEC
    /// segments with baselines and profiles → VAE synthetic profiles and their quality → NCF
    /// offers → scores of every customer → report.html.
    Pipeline {
        /// Pipeline config TOML (default: the embedded configs/pipeline.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override one config value, e.g. `--set autoencoder.train.epochs=5` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Replace an existing run folder of the same name.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Validate a CSV against a schema and print a summary: rows, missing share per column,
    /// category counts, values clipped by the winsorizing quantiles.
    Check {
        /// Schema TOML.
        #[arg(long)]
        schema: PathBuf,
        /// Customer CSV or Parquet (`.parquet`/`.pq`).
        #[arg(long)]
        input: PathBuf,
        #[arg(long, value_enum, default_value_t = BadRow::Error)]
        on_bad_row: BadRow,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvaluateCommand {
    /// Hungarian ACC, NMI and ARI of every method in RUN/segments.json against true labels.
    Clustering {
        /// A dec run folder (or a pipeline's `dec/` folder).
        #[arg(long)]
        run: PathBuf,
        /// Label CSV `customer_id,<label>` (the column `persona`, else the second column).
        #[arg(long)]
        labels: PathBuf,
    },
    /// Quality (SDMetrics column shapes and pair trends), privacy (distance to closest record)
    /// and utility (TSTR vs TRTR churn classifier) of a synthetic CSV against a real holdout.
    Synthetic {
        /// Real holdout CSV (never seen by the generator).
        #[arg(long)]
        real: PathBuf,
        /// Synthetic CSV.
        #[arg(long)]
        synthetic: PathBuf,
        /// Schema TOML of both files.
        #[arg(long)]
        schema: PathBuf,
        /// Real rows the generator was trained on: enables privacy (DCR), TRTR and the
        /// independent-marginals baseline.
        #[arg(long)]
        train: Option<PathBuf>,
        /// Write the full report (every column and pair score) as JSON here.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Rows of each table whose distance to the closest train record is computed.
        #[arg(long, default_value_t = 2000)]
        dcr_rows: usize,
    },
    /// HR@K, NDCG@K, MRR and coverage of an ncf run and the popularity baseline on the
    /// leave-last-out items, under the sampled (1 + 99) and the full-ranking protocols.
    Ncf {
        /// An ncf run folder or its model.safetensors.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Cut-off K (default: the run's sampling.k).
        #[arg(long)]
        k: Option<usize>,
    },
}

/// Trainable model families.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Family {
    /// Customer embeddings (configs/autoencoder.toml).
    Autoencoder,
    /// DEC / IDEC segments on top of an autoencoder (configs/dec.toml).
    Dec,
    /// Tabular (conditional) VAE for synthetic profiles (configs/vae.toml).
    Vae,
    /// Offer recommendation: GMF / MLP / NeuMF or dot-product MF (configs/ncf.toml).
    Ncf,
}
