//! Autoencoder embeddings of customers: an MLP encoder to a small latent space and a mirrored
//! decoder, trained with a reconstruction loss that respects feature types (MSE on numeric and
//! binary features, cross-entropy per one-hot group), optionally denoising.
//!
//! Tensor names: `encoder.layers.{i}.weight|bias`, `decoder.layers.{i}.weight|bias` (see
//! [`crate::models::mlp`]).

use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::{AutoencoderConfig, Noise};
use crate::data::preprocess::{FeatureGroup, FeatureLayout, Features};
use crate::models::mlp::{Activation, Norm};
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

    /// The same autoencoder with its latent space in new coordinates `z' = M z`: `M` (row-major
    /// `[latent, latent]`) is folded into the encoder's last layer and `M⁻¹` (`m_inv`) into the
    /// decoder's first, so `forward` is unchanged (up to rounding) and `encode` returns `M z`.
    /// Parameters keep their ids and trainability. Used by DEC's whitened initialisation.
    pub fn reparametrize_latent(mut self, m: &[f64], m_inv: &[f64]) -> Self {
        let last = self.encoder.layers.last_mut().expect("an encoder layer");
        let latent = last.weight.val().dims()[1];
        assert_eq!(m.len(), latent * latent, "M must be [latent, latent]");
        assert_eq!(m_inv.len(), latent * latent, "M⁻¹ must be [latent, latent]");
        // Row vectors: z' = z Mᵀ, so W' = W Mᵀ and b' = b Mᵀ (b as a [1, latent] row); the
        // decoder sees z = z' M⁻ᵀ, so its first weight becomes M⁻ᵀ W_d.
        let mt = transpose(m, latent);
        last.weight = last
            .weight
            .clone()
            .map(|w| refold(w, |v, [rows, _]| host_matmul(v, rows, latent, &mt, latent)));
        if let Some(bias) = last.bias.take() {
            last.bias =
                Some(bias.map(|b| refold(b, |v, _| host_matmul(v, 1, latent, &mt, latent))));
        }
        let first = &mut self.decoder.layers[0];
        first.weight = first.weight.clone().map(|w| {
            refold(w, |v, [_, cols]| {
                // M⁻ᵀ W_d = (W_dᵀ M⁻¹)ᵀ: one right product between two transposes.
                let wt = transpose_rect(v, latent, cols);
                transpose_rect(&host_matmul(&wt, cols, latent, m_inv, latent), cols, latent)
            })
        });
        self
    }

    /// The same autoencoder with the encoder's last layer (the linear map into the latent
    /// space) no longer trained; every other layer still is. DEC uses it so the KL loss cannot
    /// sharpen its soft assignment by stretching the latent coordinates (see
    /// `dec.freeze_latent_layer`).
    pub fn freeze_latent_layer(mut self) -> Self {
        let last = self.encoder.layers.last_mut().expect("an encoder layer");
        last.weight = last.weight.clone().set_require_grad(false);
        last.bias = last.bias.take().map(|b| b.set_require_grad(false));
        self
    }
}

/// `m` (row-major `[d, d]`) transposed.
fn transpose(m: &[f64], d: usize) -> Vec<f64> {
    (0..d * d).map(|i| m[(i % d) * d + i / d]).collect()
}

/// `v` (row-major `[rows, cols]`) transposed to `[cols, rows]`.
fn transpose_rect(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| v[(i % rows) * cols + i / rows])
        .collect()
}

/// `v · m` for `v` row-major `[rows, d]` and `m` row-major `[d, n]`, in f64.
fn host_matmul(v: &[f32], rows: usize, d: usize, m: &[f64], n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; rows * n];
    for r in 0..rows {
        for c in 0..n {
            let s: f64 = (0..d).map(|k| v[r * d + k] as f64 * m[k * n + c]).sum();
            out[r * n + c] = s as f32;
        }
    }
    out
}

/// A parameter's new value from its host values (`f(values, [rows, cols])`, a 1-D tensor seen as
/// one row): a fresh leaf tensor of the same shape and device, tracked for gradients when the
/// old value was. Computed on the host because it runs once, at initialisation.
fn refold<const D: usize>(
    t: Tensor<D>,
    f: impl FnOnce(&[f32], [usize; 2]) -> Vec<f32>,
) -> Tensor<D> {
    let dims = t.dims();
    let shape = [dims[..D - 1].iter().product(), dims[D - 1]];
    let (device, grad) = (t.device(), t.is_require_grad());
    let host = t.into_data().try_into_vec::<f32>().expect("f32 weights");
    Tensor::<D>::from_data(TensorData::new(f(&host, shape), dims), &device).set_require_grad(grad)
}

/// The columns a loss compares with MSE: a contiguous range is narrowed (a view; all columns:
/// the tensors themselves), any other set gathered. Same values in the same order either way.
#[derive(Debug, Clone)]
enum Columns {
    Range { start: usize, len: usize },
    Gather(Box<Tensor<1, Int>>),
}

impl Columns {
    /// `indices` sorted ascending, not empty.
    fn new(indices: Vec<i64>, device: &Device) -> Self {
        let contiguous = indices.windows(2).all(|w| w[1] == w[0] + 1);
        match contiguous {
            true => Self::Range {
                start: indices[0] as usize,
                len: indices.len(),
            },
            false => {
                let n = indices.len();
                Self::Gather(Box::new(Tensor::from_data(
                    TensorData::new(indices, [n]),
                    device,
                )))
            }
        }
    }

    fn of(&self, t: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Range { start: 0, len } if *len == t.dims()[1] => t,
            Self::Range { start, len } => t.narrow(1, *start, *len),
            Self::Gather(idx) => t.select(1, (**idx).clone()),
        }
    }
}

/// The feature-type-aware reconstruction loss.
#[derive(Debug, Clone)]
pub struct ReconstructionLoss {
    /// Columns compared with MSE (numeric, binary, missing indicators).
    numeric: Option<Columns>,
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
        let numeric = (!numeric.is_empty()).then(|| Columns::new(numeric, device));
        Self {
            numeric,
            groups,
            categorical_weight,
        }
    }

    /// Mean loss of `recon` against `target`, both `[batch, features]`.
    pub fn loss(&self, recon: Tensor<2>, target: Tensor<2>) -> BatchLoss {
        // Sums start from the first term, not from a zeros tensor: one op and one allocation
        // fewer per term, the same values (0 + x = x exactly).
        let add = |acc: Option<Tensor<1>>, x: Tensor<1>| match acc {
            Some(a) => Some(a + x),
            None => Some(x),
        };
        let mut parts = Vec::new();
        let mut total = None;
        if let Some(cols) = &self.numeric {
            let (r, t) = (cols.of(recon.clone()), cols.of(target.clone()));
            let mse = (r - t).square().mean().reshape([1]);
            total = add(total, mse.clone());
            parts.push(("numeric_mse", mse));
        }
        if !self.groups.is_empty() {
            let mut ce = None;
            for &(start, len) in &self.groups {
                let logits = recon.clone().narrow(1, start, len);
                let onehot = target.clone().narrow(1, start, len);
                let nll = (onehot * log_softmax(logits, 1))
                    .sum_dim(1)
                    .mean()
                    .neg()
                    .reshape([1]);
                ce = add(ce, nll);
            }
            let ce = ce.expect("groups is not empty") / self.groups.len() as f64;
            total = add(total, ce.clone() * self.categorical_weight);
            parts.push(("categorical_ce", ce));
        }
        let total = total.unwrap_or_else(|| Tensor::zeros([1], &recon.device()));
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
}

impl AutoencoderTask {
    /// `train`/`valid` are preprocessed matrices.
    pub fn new(
        train: &Features,
        valid: &Features,
        layout: &FeatureLayout,
        cfg: &AutoencoderConfig,
        device: &Device,
    ) -> Self {
        Self {
            train: features_tensor(train, device),
            valid: features_tensor(valid, device),
            loss: ReconstructionLoss::new(layout, cfg.categorical_weight, device),
            noise: cfg.noise,
            noise_level: cfg.noise_level,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::GradientsParams;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn reparametrized_latent_keeps_the_function_and_stays_trainable() {
        let arch = AutoencoderArch {
            input: 5,
            hidden: vec![7],
            latent: 3,
            activation: Activation::Relu,
            norm: Norm::None,
            dropout: 0.0,
        };
        // No seeding: the checks hold for any weights, and lib tests share Burn's global RNG.
        let ad = Device::flex().autodiff();
        let model = arch.init(&ad);
        let x = Tensor::<2>::random([6, 5], Distribution::Normal(0.0, 1.0), &ad);
        let (z, out) = (
            values(model.encode(x.clone())),
            values(model.forward(x.clone())),
        );
        // A non-symmetric M, so a transpose in the wrong place shows: M M⁻¹ = I by hand.
        let m = [2.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 4.0];
        let m_inv = [0.5, -0.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.25];
        let model = model.reparametrize_latent(&m, &m_inv);
        let z2 = values(model.encode(x.clone()));
        for (row, new) in z.chunks(3).zip(z2.chunks(3)) {
            for a in 0..3 {
                let want: f32 = (0..3).map(|b| m[a * 3 + b] as f32 * row[b]).sum();
                assert!((new[a] - want).abs() < 1e-5, "z' = M z: {new:?} vs {row:?}");
            }
        }
        let out2 = values(model.forward(x.clone()));
        for (a, b) in out.iter().zip(&out2) {
            assert!((a - b).abs() < 1e-5, "reconstruction changed: {a} vs {b}");
        }
        // Gradients still reach the folded parameters (they are leaves, not graph outputs).
        let grads = GradientsParams::from_grads(model.forward(x).sum().backward(), &model);
        let enc = &model.encoder.layers[1];
        let dec = &model.decoder.layers[0];
        assert!(grads.get::<2>(enc.weight.id).is_some());
        assert!(grads.get::<1>(enc.bias.as_ref().unwrap().id).is_some());
        assert!(grads.get::<2>(dec.weight.id).is_some());

        // Frozen: the latent layer gets no gradient, the layers before and after still do.
        let model = model.freeze_latent_layer();
        let x = Tensor::<2>::random([6, 5], Distribution::Normal(0.0, 1.0), &ad);
        let grads = GradientsParams::from_grads(model.forward(x).sum().backward(), &model);
        let enc = &model.encoder.layers[1];
        assert!(grads.get::<2>(enc.weight.id).is_none());
        assert!(grads.get::<1>(enc.bias.as_ref().unwrap().id).is_none());
        assert!(grads.get::<2>(model.encoder.layers[0].weight.id).is_some());
        assert!(grads.get::<2>(model.decoder.layers[0].weight.id).is_some());
    }
}
