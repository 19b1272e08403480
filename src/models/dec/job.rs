//! The DEC / IDEC job: pretrain (or load) an autoencoder, initialise the centroids, train the
//! clustering with the one training loop, and assign every customer a segment.

use std::path::PathBuf;

use anyhow::Context;

use crate::checkpoint::{self, RunDir};
use crate::config::{self, Checked};
use crate::data::preprocess::Preprocessor;
use crate::job::{Globals, PreparedData, RunControl, ensure_data, prepare_data};
use crate::models::autoencoder::{
    self, EmbeddingModel, ReconstructionLoss, TrainReport, autoencoder_header, run_autoencoder_job,
};
use crate::train::{self, FitOptions, StopReason};

use super::{CollapseCheck, Dec, DecHead, DecJob, DecMode, DecTask, KIND, Refresh};

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
    /// Whether segments.json compared DEC with its baselines on true labels, and the
    /// baselines that beat it there (set by the caller from [`super::write_segments`]).
    pub labels_checked: Option<Vec<super::segments::Beaten>>,
}

/// Runs `teleseg train dec` into `run`: pretrains an autoencoder into `run/autoencoder` (or
/// loads `dec.autoencoder`), initialises centroids by k-means++, trains DEC / IDEC with the one
/// training loop and writes the final model to `run/model.safetensors` (kind `dec`). With
/// `resume`, an interrupted run continues exactly: the pretraining from `run/autoencoder/last`
/// (a finished one is kept as it is), the clustering phase from `run/last` with the target
/// distribution it was training against.
pub fn run_dec_job(
    job: &crate::config::Checked<DecJob>,
    run: &RunDir,
    globals: &Globals,
    resume: bool,
) -> anyhow::Result<DecReport> {
    let resolved = config::to_toml(job);
    tracing::info!(run = %run.root.display(), "resolved config:\n{resolved}");
    crate::job::save_config(run, &resolved, resume)?;
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
            // Resuming: the pretraining continues where it stopped (a finished one trains no
            // further); it starts afresh when it had not finished an epoch.
            let control = RunControl {
                resume,
                stop_after_epochs: None,
            };
            let ae_job = Checked::named(ae_job, "the dec job's pretraining")?;
            let r = run_autoencoder_job(&ae_job, &ae_run, &control, globals)?;
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
    if cfg.k > train_x.rows {
        anyhow::bail!(crate::error::UsageError(format!(
            "dec.k = {} is more than the {} training customers of {}: lower dec.k or give more rows",
            cfg.k,
            train_x.rows,
            data.customers_path.display()
        )));
    }
    let z0 = autoencoder::embed(&ae.model, &train_x, 4096, &device);
    let all = ae.preprocessor.transform(&data.table)?;
    let z_pretrained = autoencoder::embed(&ae.model, &all, 4096, &device);
    let (ae_model, init) =
        super::initialise(ae.model, &z0, train_x.rows, ae.arch.latent, cfg, seed)
            .context("k-means++ initialisation of the DEC centroids")?;
    ad.seed(seed);
    device.seed(seed);
    let model = Dec::new(super::trainable(ae_model, cfg), &init.centroids, cfg.k, &ad);
    let backend = globals.backend.kind.to_string();
    let header = autoencoder_header(KIND, job, &ae.arch, &ae.schema, &ae.preprocessor, &backend)
        .with_json(
            super::META_HEAD,
            &DecHead {
                k: cfg.k,
                alpha: cfg.alpha,
            },
        );
    let recon = (cfg.mode == DecMode::Idec).then(|| {
        ReconstructionLoss::new(
            ae.preprocessor.layout(),
            job.autoencoder.model.categorical_weight,
            &device,
        )
    });
    let mut task = DecTask::new(&train_x, &valid_x, cfg, recon, &device);
    let opts = FitOptions {
        train: &cfg.train,
        seed,
        device: device.clone(),
        run,
        progress: &globals.progress,
        label: KIND,
        stop_after_epochs: None,
        header: &header,
    };
    let resumed = train::resume_if(resume, run, model.clone(), &cfg.train)
        .context("resuming the clustering phase from its last checkpoint")?;
    let outcome = train::fit(&mut task, model, &opts, resumed)?;
    // The final model (not the lowest validation KL) is the clustering: save it as the model.
    checkpoint::write_atomic(&run.model(), &header.file_bytes(&outcome.last_model, &[]))?;
    let (z, q) = super::assign_rows(&outcome.last_model, &all, cfg.alpha, 4096, &device);
    let (labels, _) = super::argmax_rows(&q, cfg.k);
    let collapse = super::detect_collapse(
        &labels,
        cfg.k,
        cfg.collapse_min_clusters,
        cfg.collapse_max_share,
    );
    if collapse.collapsed {
        tracing::warn!(sizes = ?collapse.sizes, "the final DEC segments are collapsed");
    }
    // What the scoring services measure drift against: the training rows' features and
    // segment mix.
    let train_labels: Vec<usize> = data.train_rows.iter().map(|&r| labels[r]).collect();
    let reference = crate::drift::DriftReference::fit(
        &ae.preprocessor,
        &data.table,
        &data.train_rows,
        &train_labels,
        cfg.k,
    )?;
    checkpoint::write_atomic(
        &run.root.join(crate::drift::FILE),
        serde_json::to_string(&reference)?.as_bytes(),
    )?;
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
        labels_checked: None,
    })
}

impl std::fmt::Display for DecReport {
    /// The closing lines of `teleseg train dec`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trained dec: {} refreshes, {:?}, segment sizes {:?}{}, {:.0} samples/s\nrun: {}",
            self.refreshes.len(),
            self.stop,
            self.collapse.sizes,
            if self.collapse.collapsed {
                " (COLLAPSED)"
            } else {
                ""
            },
            self.samples_per_s,
            self.run.display()
        )?;
        match &self.labels_checked {
            Some(beaten) => {
                for b in beaten {
                    write!(f, "\nWARNING: {b}")?;
                }
                Ok(())
            }
            None => write!(
                f,
                "\nno true labels: DEC was not compared with its baselines (`teleseg evaluate \
                 clustering --run {} --labels FILE` does)",
                self.run.display()
            ),
        }
    }
}
