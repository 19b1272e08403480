//! The main job's configuration (`teleseg pipeline`): one section per stage, each the section
//! of its family's own job, so that a stage runs exactly as `teleseg train <family>` would.

use serde::{Deserialize, Serialize};

use crate::config::{Check, ConfigError, DataConfig, OutputConfig, Seed, TrainConfig};
use crate::models::autoencoder::{AutoencoderJob, AutoencoderStage};
use crate::models::dec::{DecConfig, DecJob};
use crate::models::forecast::ForecastConfig;
use crate::models::policy::{PolicyConfig, PolicyJob};
use crate::models::propensity::offers::OfferPropensityConfig;
use crate::models::propensity::{PropensityConfig, PropensityJob};
use crate::models::vae::{VaeJob, VaeStage};

/// The embedded default of `teleseg pipeline` (same text as `configs/pipeline.toml`).
pub const PIPELINE_DEFAULT: &str = include_str!("../configs/pipeline.toml");

/// `teleseg pipeline`: the main job, end to end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineJob {
    /// Seed of every stage. Default 42.
    pub seed: Seed,
    pub data: DataConfig,
    /// The autoencoder stage.
    pub autoencoder: AutoencoderStage,
    /// The DEC / IDEC stage (`dec.autoencoder` is ignored: the pipeline's own is used).
    pub dec: DecConfig,
    /// The VAE stage (synthetic profiles per DEC segment and their quality report).
    pub vae: VaeStage,
    /// The churn-risk stage (gradient-boosted trees on `propensity.model.target`).
    pub propensity: PropensityStage,
    /// The offer-propensity stage (after NCF, on the same offer history).
    pub offer_propensity: OfferPropensityStage,
    /// The usage-forecast stage (when the data folder has `usage_history.csv`).
    pub forecast: ForecastStage,
    /// The contact-policy stage (when the data has a contact log).
    pub policy: PolicyStage,
    pub output: OutputConfig,
}

/// The pipeline caps every neural stage's epoch at this many training rows
/// (`train.max_epoch_samples`), so that training costs the same beyond 50 000 training rows.
pub const PIPELINE_EPOCH_SAMPLES: usize = 50_000;

impl Default for PipelineJob {
    /// Each stage's family default (`teleseg train <family>`'s), except that the neural stages
    /// cap an epoch at [`PIPELINE_EPOCH_SAMPLES`] rows and the clustering phase runs 10 epochs
    /// rather than 20 (the same as configs/pipeline.toml, which a test checks).
    fn default() -> Self {
        let capped = |t: TrainConfig| TrainConfig {
            max_epoch_samples: PIPELINE_EPOCH_SAMPLES,
            ..t
        };
        let mut autoencoder = AutoencoderStage::default();
        autoencoder.train = capped(autoencoder.train);
        let mut dec = DecConfig::default();
        dec.train = TrainConfig {
            epochs: 10,
            ..capped(dec.train)
        };
        let mut vae = VaeStage::default();
        vae.train = capped(vae.train);
        Self {
            seed: Seed::default(),
            data: DataConfig::default(),
            autoencoder,
            dec,
            vae,
            propensity: PropensityStage::default(),
            offer_propensity: OfferPropensityStage::default(),
            forecast: ForecastStage::default(),
            policy: PolicyStage::default(),
            output: OutputConfig::default(),
        }
    }
}

/// The pipeline's propensity stage: `teleseg train propensity` on the pipeline's data with the
/// DEC segments (`model.segments` is set by the pipeline). It runs when enabled and the schema
/// has the target column; a table without one skips it (logged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PropensityStage {
    /// Run the stage. Default true.
    pub enabled: bool,
    pub model: PropensityConfig,
}

impl Default for PropensityStage {
    fn default() -> Self {
        Self {
            enabled: true,
            model: PropensityConfig::default(),
        }
    }
}

/// The pipeline's offer-propensity stage: `teleseg train offer-propensity` on the NCF stage's
/// data, with the NCF run compared on the same split (`offers.ncf` is set by the pipeline). It
/// runs after NCF when enabled and the offer history is a teleseg `interactions.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OfferPropensityStage {
    /// Run the stage. Default true.
    pub enabled: bool,
    pub model: OfferPropensityConfig,
}

impl Default for OfferPropensityStage {
    fn default() -> Self {
        Self {
            enabled: true,
            model: OfferPropensityConfig::default(),
        }
    }
}

/// The pipeline's forecast stage: `teleseg train forecast` on `usage_history.csv` next to the
/// customers (with `usage_next_month.csv` as actuals when it is there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForecastStage {
    /// Run the stage. Default true.
    pub enabled: bool,
    /// `max_train_rows` defaults to 60 000 here (150 000 in `train forecast`): on 20 000
    /// generated customers the stage takes 44 s instead of 80 s, at an MAE 1–7 % higher (still
    /// below every naive forecast).
    pub model: ForecastConfig,
}

impl Default for ForecastStage {
    fn default() -> Self {
        Self {
            enabled: true,
            model: ForecastConfig {
                max_train_rows: 60_000,
                ..ForecastConfig::default()
            },
        }
    }
}

/// The pipeline's contact-policy stage: `teleseg train policy` on the pipeline's data (channel
/// and time of each offer contact, learned from `contacts.csv` beside the customers, or
/// `model.contacts`). It runs when enabled and the contact log exists; the scorers then give
/// each customer's best offer its contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyStage {
    /// Run the stage. Default true.
    pub enabled: bool,
    pub model: PolicyConfig,
}

impl Default for PolicyStage {
    fn default() -> Self {
        Self {
            enabled: true,
            model: PolicyConfig::default(),
        }
    }
}

impl Check for PipelineJob {
    /// The pipeline is valid when the job of each stage is: the rules are the families' own,
    /// checked on the jobs the pipeline runs (a disabled VAE stage only checks its section: the
    /// test split `train vae` needs is not required then).
    fn check(&self) -> Result<(), ConfigError> {
        self.dec_job().check()?;
        self.propensity_job().check()?;
        self.offer_propensity.model.check()?;
        self.forecast.model.check()?;
        self.policy_job().check()?;
        match self.vae.enabled {
            true => self.vae_job().check(),
            false => self.vae.check(),
        }
    }
}

impl PipelineJob {
    /// The DEC job this pipeline runs after its autoencoder stage.
    pub fn dec_job(&self) -> DecJob {
        DecJob {
            seed: self.seed,
            data: self.data.clone(),
            autoencoder: self.autoencoder.clone(),
            dec: self.dec.clone(),
            output: self.output.clone(),
        }
    }

    /// The autoencoder job this pipeline runs (the DEC job's pretraining).
    pub fn autoencoder_job(&self) -> AutoencoderJob {
        self.dec_job().autoencoder_job()
    }

    /// The VAE job this pipeline runs after its DEC stage (segments are set by the pipeline).
    pub fn vae_job(&self) -> VaeJob {
        VaeJob {
            seed: self.seed,
            data: self.data.clone(),
            vae: self.vae.model.clone(),
            train: self.vae.train.clone(),
            sample: self.vae.sample.clone(),
            output: self.output.clone(),
        }
    }
}

impl PipelineJob {
    /// The contact-policy job this pipeline runs.
    pub fn policy_job(&self) -> PolicyJob {
        PolicyJob {
            seed: self.seed,
            data: self.data.clone(),
            policy: self.policy.model.clone(),
            output: self.output.clone(),
        }
    }

    /// The propensity job this pipeline runs after its DEC stage.
    pub fn propensity_job(&self) -> PropensityJob {
        PropensityJob {
            seed: self.seed,
            data: self.data.clone(),
            propensity: self.propensity.model.clone(),
            output: self.output.clone(),
        }
    }
}

crate::job_config!(PipelineJob, "pipeline", PIPELINE_DEFAULT);

/// `summary.json` of a pipeline run: the customers and each stage's wall time, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub customers: usize,
    pub stages: Vec<StageTime>,
}

/// One stage of [`RunSummary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTime {
    pub name: String,
    pub seconds: f64,
}
