//! Command-line definitions (clap). Every flag is documented here; `teleseg --help` and
//! `teleseg <verb> --help` are generated from these comments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use teleseg::backend::BackendChoice;
use teleseg::commands;
use teleseg::job::TrainArgs;

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic telecom data set: customers.csv, offers.csv, interactions.csv,
    /// personas.csv (true persona per customer, for evaluation only), contacts.csv (offer
    /// contacts: channel, time, logging propensity, response), contacts_truth.csv (every arm's
    /// true acceptance probability per contact, for evaluation only) and schema.toml.
    Generate(commands::generate::GenerateArgs),
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
        #[command(flatten)]
        args: TrainArgs,
    },
    /// Embed customers with an autoencoder checkpoint: raw CSV in, `customer_id,z0..` out.
    Embed(commands::embed::EmbedArgs),
    /// Score customers with a run: raw CSV in (streamed), `customer_id,segment,confidence[,q0..],z0..`
    /// out, plus top-K offers when the run is a pipeline run with an ncf/ model.
    Score(commands::score::ScoreArgs),
    /// HTTP scoring service over a pipeline run: POST /score (JSON customers in, segment,
    /// offers, contact and churn risk out), GET /health, /ready, /metadata, /drift, /metrics,
    /// POST /reload (or SIGHUP).
    Serve(commands::serve::ServeArgs),
    /// Streaming decisions: customer events (Kafka topic in a consumer group, or a JSON-lines
    /// file) → windowed features → re-scored customers → a decision event whenever a customer's
    /// segment or best offer changes; offer responses update the contact policy online, and
    /// the drift of the customers held is reported (docs/realtime.md).
    Stream(Box<commands::stream::StreamArgs>),
    /// Draw synthetic customer profiles from a `vae` checkpoint, written in the original schema
    /// (raw units, category strings in the input's spelling, integers as integers, values within
    /// the train range).
    Sample(commands::vae::SampleArgs),
    /// Evaluate a run against known labels, or synthetic data against real data.
    Evaluate {
        #[command(subcommand)]
        command: EvaluateCommand,
    },
    /// Contextual bandits learning online against the generator's known response model:
    /// reward curves and regret of Thompson sampling, LinUCB and ε-greedy beside uniform, the
    /// best single arm and the oracle (JSON).
    Simulate(commands::policy::SimulateArgs),
    /// Print a checkpoint's metadata, tensors (names, dtypes, shapes) and training metrics.
    Inspect {
        /// Run folder or .safetensors file.
        run: PathBuf,
    },
    /// Time the training step of a model family on synthetic inputs (prints one JSON line);
    /// used by scripts/bench_vs_torch.py to compare with PyTorch on the same architecture.
    Bench(commands::bench::BenchArgs),
    /// (Re)build RUN/report.html from a run folder's artefacts: a self-contained page (no
    /// network) with training curves, segment map, sizes, lifts, personas and rules.
    Report {
        /// Run folder (written by `teleseg pipeline` or `teleseg train`).
        run: PathBuf,
    },
    /// The main job end to end, into one run folder: data → autoencoder → embeddings → DEC/IDEC
    /// segments with baselines and profiles → VAE synthetic profiles and their quality → NCF
    /// offers → scores of every customer → report.html.
    Pipeline(commands::pipeline::PipelineArgs),
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Validate a CSV against a schema and print a summary: rows, missing share per column,
    /// category counts, values clipped by the winsorizing quantiles.
    Check(commands::data_check::DataCheckArgs),
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
    Synthetic(commands::vae::EvalSyntheticArgs),
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
    /// Off-policy evaluation: the value of a target policy estimated from another policy's log
    /// (direct method, IPS, SNIPS, doubly robust, SNDR) with bootstrap intervals and
    /// importance-weight diagnostics, printed as JSON.
    Policy(commands::policy::EvalPolicyArgs),
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
    /// Churn risk, offer take-up or a value per customer: gradient-boosted trees with SHAP
    /// reasons (configs/propensity.toml).
    Propensity,
    /// Channel and time of contact: a contextual bandit (Thompson sampling, LinUCB or
    /// ε-greedy) trained from a contact log and evaluated off-policy (configs/policy.toml).
    Policy,
    /// Next month's usage per customer (voice, data, roaming, or any monthly series) from a
    /// monthly history: gradient-boosted trees against seasonal-naive, last-value and
    /// customer-mean forecasts (configs/forecast.toml).
    Forecast,
    /// The probability that a customer accepts each offer when shown, from accepted offers and
    /// declined impressions: gradient-boosted trees ranked beside popularity and NCF on NCF's
    /// split (configs/offer_propensity.toml).
    OfferPropensity,
}
