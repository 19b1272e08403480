//! Autoencoder embeddings of customers: an MLP encoder to a small latent space and a mirrored
//! decoder, trained with a reconstruction loss that respects feature types (MSE on numeric and
//! binary features, cross-entropy per one-hot group), optionally denoising.
//!
//! Tensor names: `encoder.layers.{i}.weight|bias`, `decoder.layers.{i}.weight|bias` (see
//! [`crate::models::mlp`]).

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, NamedTensor};
use crate::config::{Activation, AutoencoderConfig, Noise, Norm};
use crate::data::preprocess::{FeatureGroup, FeatureLayout, Features};
use crate::models::mlp::{Mlp, MlpConfig};
use crate::train::{BatchLoss, Task};

/// The `teleseg.kind` of autoencoder checkpoints.
pub const KIND: &str = "autoencoder";

/// The architecture, saved in checkpoints (`teleseg.model`) so the model can be rebuilt before
/// its weights are loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderArch {
    /// Input (= reconstruction) width: the preprocessed feature count.
    pub input: usize,
    /// Encoder hidden widths; the decoder uses them reversed.
    pub hidden: Vec<usize>,
    /// Embedding width.
    pub latent: usize,
    pub activation: Activation,
    pub norm: Norm,
    pub dropout: f64,
}

impl AutoencoderArch {
    /// The architecture for `input` features under `cfg`.
    pub fn new(input: usize, cfg: &AutoencoderConfig) -> Self {
        Self {
            input,
            hidden: cfg.hidden.clone(),
            latent: cfg.latent,
            activation: cfg.activation,
            norm: cfg.norm,
            dropout: cfg.dropout,
        }
    }

    /// Builds the model on `device` (weights from the device's seeded RNG).
    pub fn init(&self, device: &Device) -> Autoencoder {
        let mut enc = vec![self.input];
        enc.extend(&self.hidden);
        enc.push(self.latent);
        let dec: Vec<usize> = enc.iter().rev().copied().collect();
        let block = |widths| MlpConfig {
            widths,
            activation: self.activation,
            norm: self.norm,
            dropout: self.dropout,
        };
        Autoencoder {
            encoder: block(enc).init(device),
            decoder: block(dec).init(device),
        }
    }
}

/// Encoder + decoder.
#[derive(Module, Debug)]
pub struct Autoencoder {
    pub encoder: Mlp,
    pub decoder: Mlp,
}

impl Autoencoder {
    /// `[batch, input]` → `[batch, latent]`.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        self.encoder.forward(x)
    }

    /// `[batch, input]` → `[batch, input]`: reconstructed numeric values and one-hot logits.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.decoder.forward(self.encoder.forward(x))
    }
}

/// The feature-type-aware reconstruction loss.
#[derive(Debug, Clone)]
pub struct ReconstructionLoss {
    /// Columns compared with MSE (numeric, binary, missing indicators), `[n_numeric]`.
    numeric: Option<Tensor<1, Int>>,
    /// One-hot groups `(start, len)`, compared with cross-entropy.
    groups: Vec<(usize, usize)>,
    categorical_weight: f64,
}

impl ReconstructionLoss {
    /// Builds the loss for a feature layout.
    pub fn new(layout: &FeatureLayout, categorical_weight: f64, device: &Device) -> Self {
        let mut numeric = Vec::new();
        let mut groups = Vec::new();
        for g in &layout.groups {
            match g {
                FeatureGroup::OneHot { start, levels, .. } => groups.push((*start, levels.len())),
                FeatureGroup::Numeric { index, .. }
                | FeatureGroup::Binary { index, .. }
                | FeatureGroup::MissingIndicator { index, .. } => numeric.push(*index as i64),
            }
        }
        numeric.sort_unstable();
        let numeric = (!numeric.is_empty()).then(|| {
            let n = numeric.len();
            Tensor::<1, Int>::from_data(TensorData::new(numeric, [n]), device)
        });
        Self {
            numeric,
            groups,
            categorical_weight,
        }
    }

    /// Mean loss of `recon` against `target`, both `[batch, features]`.
    pub fn loss(&self, recon: Tensor<2>, target: Tensor<2>) -> BatchLoss {
        let device = recon.device();
        let mut parts = Vec::new();
        let mut total = Tensor::<1>::zeros([1], &device);
        if let Some(idx) = &self.numeric {
            let r = recon.clone().select(1, idx.clone());
            let t = target.clone().select(1, idx.clone());
            let mse = (r - t).square().mean().reshape([1]);
            total = total + mse.clone();
            parts.push(("numeric_mse", mse));
        }
        if !self.groups.is_empty() {
            let mut ce = Tensor::<1>::zeros([1], &device);
            for &(start, len) in &self.groups {
                let logits = recon.clone().narrow(1, start, len);
                let onehot = target.clone().narrow(1, start, len);
                let nll = (onehot * log_softmax(logits, 1))
                    .sum_dim(1)
                    .mean()
                    .neg()
                    .reshape([1]);
                ce = ce + nll;
            }
            let ce = ce / self.groups.len() as f64;
            total = total + ce.clone() * self.categorical_weight;
            parts.push(("categorical_ce", ce));
        }
        BatchLoss::new(total, parts)
    }
}

/// A [`Features`] matrix as a tensor `[rows, cols]` on `device`.
pub fn features_tensor(f: &Features, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(f.data.clone(), [f.rows, f.cols]), device)
}

/// Embeds rows in batches with a `valid()` model: `[rows, latent]` row-major.
pub fn embed(
    model: &Autoencoder,
    features: &Features,
    batch_size: usize,
    device: &Device,
) -> Vec<f32> {
    let model = model.valid();
    let mut out = Vec::new();
    let mut start = 0;
    while start < features.rows {
        let end = (start + batch_size).min(features.rows);
        let chunk = &features.data[start * features.cols..end * features.cols];
        let x = Tensor::<2>::from_data(
            TensorData::new(chunk.to_vec(), [end - start, features.cols]),
            device,
        );
        let z = model.encode(x);
        out.extend(z.into_data().try_into_vec::<f32>().expect("f32 embeddings"));
        start = end;
    }
    out
}

/// The autoencoder as a [`Task`] of the training loop.
pub struct AutoencoderTask {
    train: Tensor<2>,
    valid: Tensor<2>,
    loss: ReconstructionLoss,
    noise: Noise,
    noise_level: f64,
    /// Preprocessing tensors and metadata written into every checkpoint.
    bundle_tensors: Vec<NamedTensor>,
    bundle_meta: BTreeMap<String, String>,
}

impl AutoencoderTask {
    /// `train`/`valid` are preprocessed matrices; `bundle_tensors`/`bundle_meta` are what every
    /// checkpoint carries besides the weights (preprocessing, schema, config).
    pub fn new(
        train: &Features,
        valid: &Features,
        layout: &FeatureLayout,
        cfg: &AutoencoderConfig,
        device: &Device,
        bundle_tensors: Vec<NamedTensor>,
        bundle_meta: BTreeMap<String, String>,
    ) -> Self {
        Self {
            train: features_tensor(train, device),
            valid: features_tensor(valid, device),
            loss: ReconstructionLoss::new(layout, cfg.categorical_weight, device),
            noise: cfg.noise,
            noise_level: cfg.noise_level,
            bundle_tensors,
            bundle_meta,
        }
    }

    fn corrupt(&self, x: Tensor<2>) -> Tensor<2> {
        let device = x.device();
        let shape = x.shape();
        match self.noise {
            Noise::None => x,
            Noise::Gaussian if self.noise_level > 0.0 => {
                x + Tensor::random(shape, Distribution::Normal(0.0, self.noise_level), &device)
            }
            Noise::Gaussian => x,
            Noise::Masking => {
                x * Tensor::random(
                    shape,
                    Distribution::Bernoulli(1.0 - self.noise_level),
                    &device,
                )
            }
        }
    }
}

impl Task for AutoencoderTask {
    type Model = Autoencoder;

    fn train_len(&self) -> usize {
        self.train.dims()[0]
    }

    fn valid_len(&self) -> usize {
        self.valid.dims()[0]
    }

    fn train_loss(&self, model: &Autoencoder, rows: Tensor<1, Int>) -> BatchLoss {
        let x = self.train.clone().select(0, rows);
        let recon = model.forward(self.corrupt(x.clone()));
        self.loss.loss(recon, x)
    }

    fn valid_loss(&self, model: &Autoencoder, rows: Tensor<1, Int>) -> BatchLoss {
        let x = self.valid.clone().select(0, rows);
        self.loss.loss(model.forward(x.clone()), x)
    }

    fn bundle(&self, model: &Autoencoder) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
        let mut tensors = checkpoint::module_tensors(model);
        tensors.extend(self.bundle_tensors.iter().cloned());
        (tensors, self.bundle_meta.clone())
    }
}
