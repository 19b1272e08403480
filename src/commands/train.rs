//! `teleseg train <family>`: one training run into a run folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::checkpoint::{self, NamedTensor, RunDir, keys};
use crate::commands::{Globals, PreparedData, create_run_dir, default_run_name, prepare_data};
use crate::config::{self, AutoencoderJob};
use crate::models::autoencoder::{self, AutoencoderArch, AutoencoderTask};
use crate::train::{self, FitOptions, StopReason};

/// What `train autoencoder` produced.
#[derive(Debug)]
pub struct TrainReport {
    pub run: PathBuf,
    pub best_valid_loss: f64,
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub stop: StopReason,
    /// Mean training throughput over the epochs of this invocation.
    pub samples_per_s: f64,
    /// The data summary printed at the start.
    pub data_summary: String,
}

/// Options of `teleseg train autoencoder`.
#[derive(Debug, Clone, Default)]
pub struct TrainArgs {
    pub config: Option<PathBuf>,
    pub overrides: Vec<String>,
    /// Continue `RUN/last` (the architecture and data come from the run, not the new config).
    pub resume: Option<PathBuf>,
    pub force: bool,
}

/// Checkpoint tensors and metadata shared by every checkpoint of an autoencoder run.
pub fn autoencoder_bundle(
    job: &AutoencoderJob,
    arch: &AutoencoderArch,
    data: &PreparedData,
    backend: &str,
) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
    let tensors = data
        .preprocessor
        .tensors()
        .into_iter()
        .map(|(name, shape, values)| NamedTensor::new(name, shape, values))
        .collect();
    let meta = BTreeMap::from([
        (
            keys::FORMAT_VERSION.to_string(),
            checkpoint::FORMAT_VERSION.to_string(),
        ),
        (keys::KIND.to_string(), autoencoder::KIND.to_string()),
        (
            keys::CONFIG.to_string(),
            serde_json::to_string(job).expect("config serializes"),
        ),
        (
            keys::MODEL.to_string(),
            serde_json::to_string(arch).expect("arch serializes"),
        ),
        (
            keys::SCHEMA.to_string(),
            serde_json::to_string(&data.schema).expect("schema serializes"),
        ),
        (
            keys::PREPROCESS.to_string(),
            data.preprocessor.to_json().to_string(),
        ),
        (
            keys::FEATURES.to_string(),
            serde_json::to_string(&data.preprocessor.layout().names).expect("names serialize"),
        ),
        (keys::BACKEND.to_string(), backend.to_string()),
    ]);
    (tensors, meta)
}

/// Loads the job config for a fresh run or for `--resume` (then from `RUN/config.toml`).
fn load_job(args: &TrainArgs, globals: &Globals) -> anyhow::Result<AutoencoderJob> {
    let mut job: AutoencoderJob = match &args.resume {
        Some(run) => {
            if args.config.is_some() {
                tracing::warn!(
                    "--resume: the run's own config.toml is used; --config is ignored (use --set to change e.g. train.epochs)"
                );
            }
            let path = RunDir { root: run.clone() }.config();
            config::load(Some(&path), "", &args.overrides)?
        }
        None => config::load(
            args.config.as_deref(),
            config::AUTOENCODER_DEFAULT,
            &args.overrides,
        )?,
    };
    if let Some(seed) = globals.seed {
        job.seed = config::Seed(seed);
    }
    Ok(job)
}

/// Runs `teleseg train autoencoder`.
pub fn train_autoencoder(args: &TrainArgs, globals: &Globals) -> anyhow::Result<TrainReport> {
    let job = load_job(args, globals)?;
    let run = match &args.resume {
        Some(root) => {
            let run = RunDir { root: root.clone() };
            if run.last_complete().is_none() {
                bail!(checkpoint::CheckpointError::NotFound {
                    path: run.last(),
                    expected: "last/training_state.json from an earlier run (was it trained with this teleseg?)".into(),
                });
            }
            run
        }
        None => {
            let name = job
                .output
                .run_name
                .clone()
                .unwrap_or_else(|| default_run_name(autoencoder::KIND));
            create_run_dir(&job.output.dir.join(name), args.force)?
        }
    };
    let control = RunControl {
        resume: args.resume.is_some(),
        stop_after_epochs: None,
    };
    run_autoencoder_job(&job, &run, &control, globals)
}

/// How a job runs besides its config.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunControl {
    /// Continue from `run/last` instead of starting fresh.
    pub resume: bool,
    /// Stop after this many epochs of this invocation, as an interruption would (the run can be
    /// resumed). Used to test exact resume and for time-boxed runs.
    pub stop_after_epochs: Option<usize>,
}

/// Trains an autoencoder for `job` into `run` (fresh, or resumed from `run/last`).
pub fn run_autoencoder_job(
    job: &AutoencoderJob,
    run: &RunDir,
    control: &RunControl,
    globals: &Globals,
) -> anyhow::Result<TrainReport> {
    let resume = control.resume;
    let resolved = config::to_toml(job);
    tracing::info!(run = %run.root.display(), backend = %globals.backend.description, "resolved config:\n{resolved}");
    if !resume {
        checkpoint::write_atomic(&run.config(), resolved.as_bytes())?;
    }
    let seed = job.seed.0;
    let data = prepare_data(&job.data, seed, run, &globals.progress)?;
    let arch = AutoencoderArch::new(data.preprocessor.n_features(), &job.model);
    let device = globals.backend.device.clone();
    let ad = device.clone().autodiff();
    ad.seed(seed);
    device.seed(seed);
    let model = arch.init(&ad);
    let (tensors, meta) = autoencoder_bundle(job, &arch, &data, &globals.backend.kind.to_string());
    let mut task = AutoencoderTask::new(
        &data.train,
        &data.valid,
        data.preprocessor.layout(),
        &job.model,
        &device,
        tensors,
        meta,
    );
    let resumed = if resume {
        Some(
            train::resume(run, model.clone(), &job.train)
                .context("resuming from last checkpoint")?,
        )
    } else {
        None
    };
    let start_epoch = resumed.as_ref().map_or(0, |r| r.state.epochs_done);
    let opts = FitOptions {
        train: &job.train,
        seed,
        device,
        run,
        progress: &globals.progress,
        label: autoencoder::KIND,
        stop_after_epochs: control.stop_after_epochs,
    };
    let outcome = train::fit(&mut task, model, &opts, resumed)?;
    let this_run: Vec<_> = outcome
        .history
        .iter()
        .filter(|m| m.epoch >= start_epoch)
        .collect();
    let samples_per_s = if this_run.is_empty() {
        0.0
    } else {
        this_run.iter().map(|m| m.samples_per_s).sum::<f64>() / this_run.len() as f64
    };
    Ok(TrainReport {
        run: run.root.clone(),
        best_valid_loss: outcome.best_valid_loss,
        best_epoch: outcome.best_epoch,
        epochs_run: outcome.history.len(),
        stop: outcome.stop,
        samples_per_s,
        data_summary: data.summary,
    })
}
