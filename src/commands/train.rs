//! `teleseg train <family>`: one training run into a run folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::checkpoint::{self, NamedTensor, RunDir, keys};
use crate::commands::{Globals, PreparedData, new_run_dir, prepare_data};
use crate::config::{self, AutoencoderJob, DecJob, DecMode};
use crate::data::preprocess::Preprocessor;
use crate::data::schema::Schema;
use crate::models::autoencoder::{self, AutoencoderArch, AutoencoderTask, ReconstructionLoss};
use crate::models::dec::{self, CollapseCheck, Dec, DecHead, DecTask, Refresh};
use crate::score::EmbeddingModel;
use crate::train::{self, FitOptions, StopReason, Task};

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

/// The preprocessing part of a checkpoint (docs/checkpoint-format.md §3): the statistics as
/// `preprocess.*` tensors, and the schema, preprocessing and feature names as metadata.
pub fn preprocessing_bundle(
    schema: &Schema,
    preprocessor: &Preprocessor,
) -> (Vec<NamedTensor>, [(String, String); 3]) {
    let tensors = preprocessor
        .tensors()
        .into_iter()
        .map(|(name, shape, values)| NamedTensor::new(name, shape, values))
        .collect();
    let meta = [
        (
            keys::SCHEMA.to_string(),
            serde_json::to_string(schema).expect("schema serializes"),
        ),
        (
            keys::PREPROCESS.to_string(),
            preprocessor.to_json().to_string(),
        ),
        (
            keys::FEATURES.to_string(),
            serde_json::to_string(&preprocessor.layout().names).expect("names serialize"),
        ),
    ];
    (tensors, meta)
}

/// Checkpoint tensors and metadata every model kind shares: preprocessing tensors, format,
/// kind, resolved config, architecture, schema, preprocessing and feature names, backend.
pub fn shared_bundle(
    kind: &str,
    config: &impl serde::Serialize,
    arch: &AutoencoderArch,
    schema: &Schema,
    preprocessor: &Preprocessor,
    backend: &str,
) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
    let (tensors, pre_meta) = preprocessing_bundle(schema, preprocessor);
    let mut meta = BTreeMap::from([
        (
            keys::FORMAT_VERSION.to_string(),
            checkpoint::FORMAT_VERSION.to_string(),
        ),
        (keys::KIND.to_string(), kind.to_string()),
        (
            keys::CONFIG.to_string(),
            serde_json::to_string(config).expect("config serializes"),
        ),
        (
            keys::MODEL.to_string(),
            serde_json::to_string(arch).expect("arch serializes"),
        ),
        (keys::BACKEND.to_string(), backend.to_string()),
    ]);
    meta.extend(pre_meta);
    (tensors, meta)
}

/// Checkpoint tensors and metadata shared by every checkpoint of an autoencoder run.
pub fn autoencoder_bundle(
    job: &AutoencoderJob,
    arch: &AutoencoderArch,
    data: &PreparedData,
    backend: &str,
) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
    shared_bundle(
        autoencoder::KIND,
        job,
        arch,
        &data.schema,
        &data.preprocessor,
        backend,
    )
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
    if let Some(root) = &args.resume {
        let run = RunDir { root: root.clone() };
        if run.last_complete().is_none() {
            bail!(checkpoint::CheckpointError::NotFound {
                path: run.last(),
                expected: "last/training_state.json from an earlier run (was it trained with this teleseg?)".into(),
            });
        }
        let control = RunControl {
            resume: true,
            stop_after_epochs: None,
        };
        return run_autoencoder_job(&job, &run, &control, globals);
    }
    let run = new_run_dir(&job.output, autoencoder::KIND, args.force)?;
    let report = run_autoencoder_job(&job, &run, &RunControl::default(), globals)?;
    run.commit()?;
    Ok(report)
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

/// What `train dec` produced.
pub struct DecReport {
    pub run: PathBuf,
    /// The pretraining report (none when started from `dec.autoencoder`).
    pub autoencoder: Option<TrainReport>,
    pub stop: StopReason,
    /// Every target refresh (changed share, cluster sizes, collapse).
    pub refreshes: Vec<Refresh>,
    /// Customer ids of every row of the data, in file order.
    pub ids: Vec<String>,
    /// Segment (argmax q) of every row.
    pub labels: Vec<usize>,
    /// Embedding of every row after clustering, `[rows, latent]` row-major.
    pub z: Vec<f32>,
    /// Embedding of every row by the pretrained autoencoder (before clustering).
    pub z_pretrained: Vec<f32>,
    pub latent: usize,
    /// Collapse check of the final segments.
    pub collapse: CollapseCheck,
    /// Mean throughput of the clustering phase (training rows per second).
    pub samples_per_s: f64,
    /// Wall time of the clustering phase (init + training), seconds.
    pub wall_s: f64,
    /// The data the job read (raw table kept for profiles and baselines).
    pub data: PreparedData,
    /// The preprocessing of the autoencoder the job clustered with.
    pub preprocessor: Preprocessor,
}

/// Generates the synthetic data once into `run/data` when `data` names no files.
pub fn ensure_data(
    data: &config::DataConfig,
    seed: u64,
    run: &RunDir,
) -> anyhow::Result<config::DataConfig> {
    let mut data = data.clone();
    if data.customers.is_none() {
        let dir = run.root.join("data");
        let opts = data.generate_options(seed, dir.clone());
        crate::data::generate::generate(&opts).context("generating the synthetic data set")?;
        data.customers = Some(dir.join("customers.csv"));
        data.schema = Some(dir.join("schema.toml"));
    }
    Ok(data)
}

/// Runs `teleseg train dec` into `run`: pretrains an autoencoder into `run/autoencoder` (or
/// loads `dec.autoencoder`), initialises centroids by k-means++, trains DEC / IDEC with the one
/// training loop and writes the final model to `run/model.safetensors` (kind `dec`).
pub fn run_dec_job(job: &DecJob, run: &RunDir, globals: &Globals) -> anyhow::Result<DecReport> {
    let resolved = config::to_toml(job);
    tracing::info!(run = %run.root.display(), "resolved config:\n{resolved}");
    checkpoint::write_atomic(&run.config(), resolved.as_bytes())?;
    let seed = job.seed.0;
    let data_cfg = ensure_data(&job.data, seed, run)?;
    let (ae_path, ae_report) = match &job.dec.autoencoder {
        Some(p) => (p.clone(), None),
        None => {
            let mut ae_job = job.autoencoder_job();
            ae_job.data = data_cfg.clone();
            let ae_run = RunDir {
                root: run.root.join("autoencoder"),
            };
            std::fs::create_dir_all(&ae_run.root)
                .with_context(|| format!("creating {}", ae_run.root.display()))?;
            let r = run_autoencoder_job(&ae_job, &ae_run, &Default::default(), globals)?;
            (ae_run.root, Some(r))
        }
    };
    let started = std::time::Instant::now();
    let device = globals.backend.device.clone();
    let ad = device.clone().autodiff();
    let ae_file = RunDir::resolve_model_file(&ae_path)?;
    let ae = EmbeddingModel::load(&ae_file, &ad)
        .with_context(|| format!("loading the autoencoder {}", ae_file.display()))?;
    let data = prepare_data(&data_cfg, seed, run, &globals.progress)?;
    let train_x = ae
        .preprocessor
        .transform_rows(&data.table, &data.train_rows)?;
    let valid_x = ae
        .preprocessor
        .transform_rows(&data.table, &data.valid_rows)?;

    let cfg = &job.dec;
    let z0 = autoencoder::embed(&ae.model, &train_x, 4096, &device);
    let all = ae.preprocessor.transform(&data.table)?;
    let z_pretrained = autoencoder::embed(&ae.model, &all, 4096, &device);
    let (ae_model, init) = dec::initialise(ae.model, &z0, train_x.rows, ae.arch.latent, cfg, seed)
        .context("k-means++ initialisation of the DEC centroids")?;
    ad.seed(seed);
    device.seed(seed);
    let model = Dec::new(dec::trainable(ae_model, cfg), &init.centroids, cfg.k, &ad);
    let backend = globals.backend.kind.to_string();
    let (tensors, mut meta) = shared_bundle(
        dec::KIND,
        job,
        &ae.arch,
        &ae.schema,
        &ae.preprocessor,
        &backend,
    );
    meta.insert(
        dec::META_HEAD.to_string(),
        serde_json::to_string(&DecHead {
            k: cfg.k,
            alpha: cfg.alpha,
        })
        .expect("head serializes"),
    );
    let recon = (cfg.mode == DecMode::Idec).then(|| {
        ReconstructionLoss::new(
            ae.preprocessor.layout(),
            job.autoencoder.model.categorical_weight,
            &device,
        )
    });
    let mut task = DecTask::new(&train_x, &valid_x, cfg, recon, &device, tensors, meta);
    let opts = FitOptions {
        train: &cfg.train,
        seed,
        device: device.clone(),
        run,
        progress: &globals.progress,
        label: dec::KIND,
        stop_after_epochs: None,
    };
    let outcome = train::fit(&mut task, model, &opts, None)?;
    // The final model (not the lowest validation KL) is the clustering: save it as the model.
    let (tensors, meta) = task.bundle(&outcome.last_model);
    checkpoint::write_atomic(
        &run.model(),
        &checkpoint::to_safetensors_bytes(&tensors, &meta),
    )?;
    let (z, q) = dec::assign_rows(&outcome.last_model, &all, cfg.alpha, 4096, &device);
    let (labels, _) = dec::argmax_rows(&q, cfg.k);
    let collapse = dec::detect_collapse(
        &labels,
        cfg.k,
        cfg.collapse_min_clusters,
        cfg.collapse_max_share,
    );
    if collapse.collapsed {
        tracing::warn!(sizes = ?collapse.sizes, "the final DEC segments are collapsed");
    }
    let samples_per_s = outcome.mean_samples_per_s();
    Ok(DecReport {
        run: run.root.clone(),
        autoencoder: ae_report,
        stop: outcome.stop,
        refreshes: task.refreshes.clone(),
        ids: data.table.ids.clone(),
        labels,
        z,
        z_pretrained,
        latent: ae.arch.latent,
        collapse,
        samples_per_s,
        wall_s: started.elapsed().as_secs_f64(),
        data,
        preprocessor: ae.preprocessor,
    })
}

/// Runs `teleseg train dec` with a fresh run folder.
pub fn train_dec(args: &TrainArgs, globals: &Globals) -> anyhow::Result<DecReport> {
    if args.resume.is_some() {
        bail!("--resume is not supported for `train dec` yet: start a fresh run");
    }
    let mut job: DecJob =
        config::load(args.config.as_deref(), config::DEC_DEFAULT, &args.overrides)?;
    if let Some(seed) = globals.seed {
        job.seed = config::Seed(seed);
    }
    let run = new_run_dir(&job.output, dec::KIND, args.force)?;
    let report = run_dec_job(&job, &run, globals)?;
    write_segments(&job, &report)?;
    run.commit()?;
    Ok(report)
}

/// Writes `RUN/segments.json` (labels from `personas.csv` next to the customers when present).
pub fn write_segments(job: &DecJob, report: &DecReport) -> anyhow::Result<()> {
    let personas = report
        .data
        .customers_path
        .parent()
        .map(|d| d.join("personas.csv"))
        .filter(|p| p.is_file());
    let mode = match job.dec.mode {
        DecMode::Dec => "dec",
        DecMode::Idec => "idec",
    };
    let s = crate::commands::segments::summarize(
        report,
        mode,
        &job.dec,
        job.dec.n_init.min(3),
        job.seed.0,
        personas.as_deref(),
    )?;
    crate::commands::segments::write(&report.run.join("segments.json"), &s)
}
