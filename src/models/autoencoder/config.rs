//! The autoencoder's configuration: architecture (`[model]`), the `train autoencoder` job, and
//! the autoencoder stage of `train dec` and the pipeline.

use serde::{Deserialize, Serialize};

use crate::config::{
    Check, ConfigError, DataConfig, OutputConfig, Seed, TrainConfig, at_least, fraction,
    non_negative,
};
use crate::models::mlp::{Activation, Norm};

/// Input corruption for a denoising autoencoder (training only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    None,
    /// Adds N(0, noise_level²) to every input feature.
    Gaussian,
    /// Zeroes each input feature with probability noise_level.
    Masking,
}

/// Autoencoder architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoencoderConfig {
    /// Encoder hidden widths, input side first; the decoder mirrors them. Default [256, 128].
    pub hidden: Vec<usize>,
    /// Embedding width. Default 8.
    pub latent: usize,
    /// Hidden activation. Default `relu`.
    pub activation: Activation,
    /// Dropout probability after each hidden activation. Default 0.
    pub dropout: f64,
    /// `none` (default), `layer` or `batch`.
    pub norm: Norm,
    /// Denoising corruption: `none`, `gaussian` (default) or `masking`.
    pub noise: Noise,
    /// Noise standard deviation (gaussian) or masking probability. Default 0.1.
    pub noise_level: f64,
    /// Weight of the categorical (cross-entropy) part of the reconstruction loss. Default 0.1.
    pub categorical_weight: f64,
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        Self {
            hidden: vec![256, 128],
            latent: 8,
            activation: Activation::Relu,
            dropout: 0.0,
            norm: Norm::None,
            noise: Noise::Gaussian,
            noise_level: 0.1,
            categorical_weight: 0.1,
        }
    }
}

impl Check for AutoencoderConfig {
    fn check(&self) -> Result<(), ConfigError> {
        if self.hidden.contains(&0) {
            return Err(ConfigError::ZeroWidth {
                field: "model.hidden",
            });
        }
        at_least("model.latent", 1, self.latent)?;
        fraction("model.dropout", self.dropout)?;
        non_negative("model.noise_level", self.noise_level)?;
        non_negative("model.categorical_weight", self.categorical_weight)?;
        if self.noise == Noise::Masking && !(self.noise_level > 0.0 && self.noise_level < 1.0) {
            return Err(ConfigError::MaskingLevel(self.noise_level));
        }
        Ok(())
    }
}

/// `teleseg train autoencoder`: everything one autoencoder run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AutoencoderJob {
    /// Seed of data generation, the split, initial weights, shuffling and noise. Default 42.
    pub seed: Seed,
    pub data: DataConfig,
    pub model: AutoencoderConfig,
    pub train: TrainConfig,
    pub output: OutputConfig,
}

impl Check for AutoencoderJob {
    fn check(&self) -> Result<(), ConfigError> {
        self.output.check()?;
        self.data.check()?;
        self.model.check()?;
        self.train.check()
    }
}

/// Model and training settings of the pipeline's autoencoder stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AutoencoderStage {
    pub model: AutoencoderConfig,
    pub train: TrainConfig,
}

/// The embedded default of `teleseg train autoencoder` (same text as `configs/autoencoder.toml`).
pub const AUTOENCODER_DEFAULT: &str = include_str!("../../../configs/autoencoder.toml");

crate::job_config!(
    AutoencoderJob,
    crate::models::autoencoder::KIND,
    AUTOENCODER_DEFAULT
);
