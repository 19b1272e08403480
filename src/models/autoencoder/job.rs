//! The autoencoder training job: data, model, the one training loop, the checkpoint header.

use std::path::PathBuf;

use anyhow::Context;

use crate::checkpoint::{Header, RunDir};
use crate::config;
use crate::data::preprocess::Preprocessor;
use crate::data::schema::Schema;
use crate::job::{Globals, RunControl, prepare_data};
use crate::train::{self, FitOptions, StopReason};

use super::{AutoencoderArch, AutoencoderJob, AutoencoderTask, KIND};

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

/// The header of an autoencoder-based checkpoint (kinds `autoencoder` and `dec`): format, kind,
/// resolved config, architecture, backend, and the fitted preprocessing with its schema.
pub fn autoencoder_header(
    kind: &str,
    config: &impl serde::Serialize,
    arch: &AutoencoderArch,
    schema: &Schema,
    preprocessor: &Preprocessor,
    backend: &str,
) -> Header {
    Header::new(kind, config, arch, backend).with_part(preprocessor.bundle(schema))
}

/// Trains an autoencoder for `job` into `run` (fresh, or with `control.resume` continued from
/// `run/last` when it holds a resume state).
pub fn run_autoencoder_job(
    job: &crate::config::Checked<AutoencoderJob>,
    run: &RunDir,
    control: &RunControl,
    globals: &Globals,
) -> anyhow::Result<TrainReport> {
    let resume = control.resume;
    let resolved = config::to_toml(job);
    tracing::info!(run = %run.root.display(), backend = %globals.backend.description, "resolved config:\n{resolved}");
    crate::job::save_config(run, &resolved, resume)?;
    let seed = job.seed.0;
    let data = prepare_data(&job.data, seed, run, &globals.progress)?;
    let arch = AutoencoderArch::new(data.preprocessor.n_features(), &job.model);
    let device = globals.backend.device.clone();
    let ad = device.clone().autodiff();
    ad.seed(seed);
    device.seed(seed);
    let model = arch.init(&ad);
    let header = autoencoder_header(
        KIND,
        job,
        &arch,
        &data.schema,
        &data.preprocessor,
        &globals.backend.kind.to_string(),
    );
    let mut task = AutoencoderTask::new(
        &data.train,
        &data.valid,
        data.preprocessor.layout(),
        &job.model,
        &device,
    );
    let resumed = train::resume_if(resume, run, model.clone(), &job.train)
        .context("resuming from last checkpoint")?;
    let start_epoch = resumed.as_ref().map_or(0, |r| r.state.epochs_done);
    let opts = FitOptions {
        train: &job.train,
        seed,
        device,
        run,
        progress: &globals.progress,
        label: KIND,
        stop_after_epochs: control.stop_after_epochs,
        header: &header,
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

impl std::fmt::Display for TrainReport {
    /// The closing lines of `teleseg train autoencoder`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trained autoencoder: best validation loss {:.5} at epoch {} ({} epochs, {:?}, {:.0} samples/s)\nrun: {}",
            self.best_valid_loss,
            self.best_epoch,
            self.epochs_run,
            self.stop,
            self.samples_per_s,
            self.run.display()
        )
    }
}
