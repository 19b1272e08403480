//! A (conditional) VAE for mixed-type tables in the spirit of TVAE (Xu et al. 2019).
//!
//! Rows are encoded by a [`Codec`] (numeric columns by mode-specific normalisation or
//! standardisation, categorical / binary / target columns and missingness as softmax heads).
//! The encoder maps `[x, c]` (`c` the one-hot segment and target class, see [`condition`];
//! absent when unconditional) to the mean and log-variance of `q(z|x, c)`; the decoder maps
//! `[z, c]` to the vector's values and logits.
//!
//! Loss (the negative ELBO per row, averaged over the batch):
//! `Σ_numeric mask · ((v - v̂)² / (2σ²) + ln σ)  +  Σ_heads CE(softmax(logits), one-hot)
//!  + β · KL(q(z|x,c) ‖ N(0, I))`, with σ = `clamp(exp(log_sigma), 0.01, 1)` a learned
//! per-column noise and β rising linearly from 0 to `kl_weight` over `kl_warmup_epochs` (the
//! validation loss always uses the full `kl_weight`, so "best" compares like with like).
//!
//! Tensor names: `encoder.layers.{i}.weight|bias` (output `2 × latent`: mean, then log-variance),
//! `decoder.layers.{i}.weight|bias`, `log_sigma` `[n_numeric]`.

pub mod codec;
pub mod condition;
pub mod config;
pub mod infer;
pub mod job;

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

pub use codec::{Codec, ColumnCodec, Encoded, Heads};
pub use condition::{
    Conditions, NoTargetCondition, RowConditions, SegmentInfo, TargetCondition, condition,
};
pub use config::*;
pub use infer::*;
pub use job::*;

use crate::data::table::RawTable;
use crate::models::mlp::{Activation, Norm};
use crate::models::mlp::{Mlp, MlpConfig};
use crate::train::{BatchLoss, Task};

/// The `teleseg.kind` of VAE checkpoints.
pub const KIND: &str = "vae";
/// Metadata key of the codec JSON.
pub const META_CODEC: &str = "teleseg.vae.codec";
/// Metadata key of the segment labels JSON ([`SegmentInfo`]).
pub const META_SEGMENTS: &str = "teleseg.vae.segments";
/// Metadata key of the target classes JSON ([`TargetCondition`]; absent in checkpoints written
/// before target conditioning, read as unconditional).
pub const META_TARGET_CONDITION: &str = "teleseg.vae.target_condition";

/// The architecture (saved as `teleseg.model`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeArch {
    /// Width of the codec vector.
    pub width: usize,
    /// Numeric columns (length of `log_sigma`).
    pub n_numeric: usize,
    /// Segments of the condition (0: unconditional on segments).
    pub n_segments: usize,
    /// Target classes of the condition (0: unconditional on the target).
    #[serde(default)]
    pub n_target_classes: usize,
    pub hidden: Vec<usize>,
    pub latent: usize,
    pub activation: Activation,
}

impl VaeArch {
    /// The architecture for a codec, `n_segments` and `n_target_classes` under `cfg`.
    pub fn new(codec: &Codec, n_segments: usize, n_target_classes: usize, cfg: &VaeConfig) -> Self {
        Self {
            width: codec.width(),
            n_numeric: codec.n_numeric(),
            n_segments,
            n_target_classes,
            hidden: cfg.hidden.clone(),
            latent: cfg.latent,
            activation: cfg.activation,
        }
    }

    /// Width of the condition vector `c`.
    pub fn condition_width(&self) -> usize {
        self.n_segments + self.n_target_classes
    }

    /// Builds the model on `device` (weights from the device's seeded RNG).
    pub fn init(&self, device: &Device) -> Vae {
        let mut enc = vec![self.width + self.condition_width()];
        enc.extend(&self.hidden);
        enc.push(2 * self.latent);
        let mut dec = vec![self.latent + self.condition_width()];
        dec.extend(self.hidden.iter().rev());
        dec.push(self.width);
        let block = |widths| MlpConfig {
            widths,
            activation: self.activation,
            norm: Norm::None,
            dropout: 0.0,
        };
        Vae {
            encoder: block(enc).init(device),
            decoder: block(dec).init(device),
            // σ = e^-1.6 ≈ 0.2 at the start (TVAE starts at 0.1).
            log_sigma: Param::from_tensor(Tensor::full([self.n_numeric.max(1)], -1.6, device)),
        }
    }
}

/// Encoder, decoder and the per-column value noise.
#[derive(Module, Debug)]
pub struct Vae {
    pub encoder: Mlp,
    pub decoder: Mlp,
    /// `ln σ` per numeric column, `[max(n_numeric, 1)]`.
    pub log_sigma: Param<Tensor<1>>,
}

fn with_condition(x: Tensor<2>, c: Option<Tensor<2>>) -> Tensor<2> {
    match c {
        Some(c) => Tensor::cat(vec![x, c], 1),
        None => x,
    }
}

impl Vae {
    /// `[batch, width]`, `[batch, condition width]` → (mean, log-variance), each `[batch, latent]`.
    pub fn encode(&self, x: Tensor<2>, c: Option<Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let h = self.encoder.forward(with_condition(x, c));
        let latent = h.dims()[1] / 2;
        (h.clone().narrow(1, 0, latent), h.narrow(1, latent, latent))
    }

    /// `[batch, latent]`, `[batch, condition width]` → `[batch, width]` values and logits.
    pub fn decode(&self, z: Tensor<2>, c: Option<Tensor<2>>) -> Tensor<2> {
        self.decoder.forward(with_condition(z, c))
    }

    /// σ per numeric column, `[n]`.
    pub fn sigma(&self) -> Tensor<1> {
        self.log_sigma.val().exp().clamp(0.01, 1.0)
    }
}

/// The negative ELBO of a codec layout.
#[derive(Debug, Clone)]
pub struct ElboLoss {
    /// Value columns `[n_numeric]` (None without numeric columns).
    values: Option<Tensor<1, Int>>,
    /// Softmax heads grouped by length: (length, heads, their columns flattened).
    groups: Vec<(usize, usize, Tensor<1, Int>)>,
}

impl ElboLoss {
    /// The loss of `heads` on `device`.
    pub fn new(heads: &Heads, device: &Device) -> Self {
        let ints = |v: Vec<i64>| {
            let n = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [n]), device)
        };
        let values = (!heads.values.is_empty())
            .then(|| ints(heads.values.iter().map(|&i| i as i64).collect()));
        let mut by_len: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
        for &(start, len) in &heads.softmax {
            by_len
                .entry(len)
                .or_default()
                .extend((start..start + len).map(|i| i as i64));
        }
        let groups = by_len
            .into_iter()
            .map(|(len, cols)| (len, cols.len() / len, ints(cols)))
            .collect();
        Self { values, groups }
    }

    /// Mean loss of decoder output `out` against `x` (both `[batch, width]`) with value mask
    /// `mask` `[batch, n_numeric]`, σ `[n_numeric]`, posterior `mu`, `logvar` and KL weight `beta`.
    #[allow(clippy::too_many_arguments)]
    pub fn loss(
        &self,
        out: Tensor<2>,
        x: Tensor<2>,
        mask: Tensor<2>,
        sigma: Tensor<1>,
        mu: Tensor<2>,
        logvar: Tensor<2>,
        beta: f64,
    ) -> BatchLoss {
        let [b, _] = out.dims();
        let device = out.device();
        let mut parts = Vec::new();
        let mut total = Tensor::<1>::zeros([1], &device);
        if let Some(idx) = &self.values {
            let n = idx.dims()[0];
            let v_hat = out.clone().select(1, idx.clone());
            let v = x.clone().select(1, idx.clone());
            let sigma = sigma.narrow(0, 0, n).reshape([1, n]);
            let nll = ((v - v_hat).square() / (sigma.clone().square() * 2.0) + sigma.log()) * mask;
            let nll = nll.sum().reshape([1]) / b as f64;
            total = total + nll.clone();
            parts.push(("numeric_nll", nll));
        }
        if !self.groups.is_empty() {
            let mut ce = Tensor::<1>::zeros([1], &device);
            for (len, heads, idx) in &self.groups {
                let logits = out
                    .clone()
                    .select(1, idx.clone())
                    .reshape([b, *heads, *len]);
                let target = x.clone().select(1, idx.clone()).reshape([b, *heads, *len]);
                ce = ce - (target * log_softmax(logits, 2)).sum().reshape([1]);
            }
            let ce = ce / b as f64;
            total = total + ce.clone();
            parts.push(("categorical_ce", ce));
        }
        let kl = ((logvar.clone().exp() + mu.square() - logvar - 1.0)
            .sum()
            .reshape([1])
            * 0.5)
            / b as f64;
        total = total + kl.clone() * beta;
        parts.push(("kl", kl));
        BatchLoss::new(total, parts)
    }
}

fn matrix(data: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data, [rows, cols.max(1)]), device)
}

/// One split on the device.
struct Split {
    x: Tensor<2>,
    mask: Tensor<2>,
    c: Option<Tensor<2>>,
    rows: usize,
}

impl Split {
    fn new(e: Encoded, cond: &RowConditions, arch: &VaeArch, d: &Device) -> Self {
        let (width, n_num) = (arch.width, arch.n_numeric);
        let mask = if n_num == 0 {
            vec![0.0; e.rows]
        } else {
            e.mask
        };
        Self {
            x: matrix(e.data, e.rows, width, d),
            mask: matrix(mask, e.rows, n_num, d),
            c: condition(e.rows, cond, arch.n_segments, arch.n_target_classes, d),
            rows: e.rows,
        }
    }

    fn batch(&self, rows: Tensor<1, Int>) -> (Tensor<2>, Tensor<2>, Option<Tensor<2>>) {
        (
            self.x.clone().select(0, rows.clone()),
            self.mask.clone().select(0, rows.clone()),
            self.c.clone().map(|c| c.select(0, rows)),
        )
    }
}

/// The VAE as a [`Task`] of the training loop.
pub struct VaeTask {
    train: Split,
    valid: Split,
    loss: ElboLoss,
    kl_weight: f64,
    kl_warmup_epochs: usize,
    beta: f64,
}

impl VaeTask {
    /// Training and validation rows already encoded, with their conditions.
    pub fn new(
        arch: &VaeArch,
        codec: &Codec,
        train: (Encoded, RowConditions),
        valid: (Encoded, RowConditions),
        cfg: &VaeConfig,
        device: &Device,
    ) -> Self {
        Self {
            train: Split::new(train.0, &train.1, arch, device),
            valid: Split::new(valid.0, &valid.1, arch, device),
            loss: ElboLoss::new(&codec.heads(), device),
            kl_weight: cfg.kl_weight,
            kl_warmup_epochs: cfg.kl_warmup_epochs,
            beta: cfg.kl_weight,
        }
    }

    /// β of epoch `epoch`: `kl_weight · min(1, epoch / kl_warmup_epochs)`.
    pub fn beta(&self, epoch: usize) -> f64 {
        if self.kl_warmup_epochs == 0 {
            self.kl_weight
        } else {
            self.kl_weight * (epoch as f64 / self.kl_warmup_epochs as f64).min(1.0)
        }
    }
}

impl Task for VaeTask {
    type Model = Vae;

    fn train_len(&self) -> usize {
        self.train.rows
    }

    fn valid_len(&self) -> usize {
        self.valid.rows
    }

    fn on_epoch_start(&mut self, _model: &Vae, epoch: usize) -> anyhow::Result<()> {
        self.beta = self.beta(epoch);
        Ok(())
    }

    fn train_loss(&self, model: &Vae, rows: Tensor<1, Int>) -> BatchLoss {
        let (x, mask, c) = self.train.batch(rows);
        let (mu, logvar) = model.encode(x.clone(), c.clone());
        let eps = Tensor::random(mu.shape(), Distribution::Normal(0.0, 1.0), &mu.device());
        let z = mu.clone() + eps * (logvar.clone() * 0.5).exp();
        let out = model.decode(z, c);
        self.loss
            .loss(out, x, mask, model.sigma(), mu, logvar, self.beta)
    }

    fn valid_loss(&self, model: &Vae, rows: Tensor<1, Int>) -> BatchLoss {
        let (x, mask, c) = self.valid.batch(rows);
        let (mu, logvar) = model.encode(x.clone(), c.clone());
        let out = model.decode(mu.clone(), c);
        self.loss
            .loss(out, x, mask, model.sigma(), mu, logvar, self.kl_weight)
    }
}

/// How to sample.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub rows: usize,
    /// Condition every row on this segment index; `None`: draw segments by their train shares.
    /// The target class (target-conditioned VAEs) is drawn by its train share in the segment.
    pub segment: Option<usize>,
    pub seed: u64,
    /// Sample missing cells as the real data has them (else every cell is filled).
    pub keep_missing: bool,
    /// Rows decoded per batch.
    pub batch_size: usize,
    /// Prefix of the synthetic ids.
    pub id_prefix: String,
}

/// Draws `opts.rows` synthetic rows in raw units with a plain-device model, deterministically for
/// a seed: `z ~ N(0, I)`, segments and target classes are drawn on the host from `StdRng(seed)`,
/// decoded in batches, then values, modes and levels are drawn by [`Codec::decode`] and the
/// target cells set to the drawn class. Returns the table and the segment index of each row
/// (empty when unconditional on segments).
pub fn sample(
    model: &Vae,
    arch: &VaeArch,
    codec: &Codec,
    conditions: &Conditions,
    opts: &SampleOptions,
    device: &Device,
) -> (RawTable, Vec<usize>) {
    let model = model.valid();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let sigma: Vec<f32> = model
        .sigma()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    let mut parts = Vec::new();
    let mut segs_out = Vec::new();
    let mut start = 0;
    let batch = opts.batch_size.max(1);
    while start < opts.rows {
        let n = batch.min(opts.rows - start);
        let z: Vec<f32> = (0..n * arch.latent)
            .map(|_| rng.sample::<f64, _>(StandardNormal) as f32)
            .collect();
        let segs: Vec<usize> = if arch.n_segments == 0 {
            Vec::new()
        } else {
            (0..n)
                .map(|_| {
                    opts.segment
                        .unwrap_or_else(|| pick(&conditions.segments.shares, rng.random::<f64>()))
                })
                .collect()
        };
        let classes: Vec<usize> = if arch.n_target_classes == 0 {
            Vec::new()
        } else {
            (0..n)
                .map(|i| {
                    let shares = conditions.target.shares_of(segs.get(i).copied());
                    pick(shares, rng.random::<f64>())
                })
                .collect()
        };
        let rc = RowConditions {
            segments: segs,
            classes,
        };
        let c = condition(n, &rc, arch.n_segments, arch.n_target_classes, device);
        let out = model.decode(matrix(z, n, arch.latent, device), c);
        let out: Vec<f32> = out.into_data().try_into_vec::<f32>().unwrap_or_default();
        let mut part = codec.decode(
            &out,
            n,
            &sigma,
            opts.keep_missing,
            &mut rng,
            &opts.id_prefix,
            start,
        );
        if arch.n_target_classes > 0 {
            conditions.target.write_classes(&mut part, &rc.classes);
        }
        parts.push(part);
        segs_out.extend(rc.segments);
        start += n;
    }
    (concat(parts), segs_out)
}

fn pick(shares: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    let total: f64 = shares.iter().sum();
    for (i, s) in shares.iter().enumerate() {
        acc += s / total;
        if u < acc {
            return i;
        }
    }
    shares.len().saturating_sub(1)
}

/// Concatenates tables with the same columns (row order kept).
pub fn concat(mut parts: Vec<RawTable>) -> RawTable {
    if parts.is_empty() {
        return RawTable {
            source: "synthetic".into(),
            ids: vec![],
            numeric: vec![],
            categorical: vec![],
            binary: vec![],
            targets: vec![],
            line_numbers: vec![],
        };
    }
    let mut first = parts.remove(0);
    for p in parts {
        first.ids.extend(p.ids);
        first.line_numbers.extend(p.line_numbers);
        for (a, b) in first.numeric.iter_mut().zip(p.numeric) {
            a.values.extend(b.values);
        }
        for (a, b) in first.categorical.iter_mut().zip(p.categorical) {
            a.codes.extend(b.codes);
        }
        for (a, b) in first.binary.iter_mut().zip(p.binary) {
            a.values.extend(b.values);
        }
        for (a, b) in first.targets.iter_mut().zip(p.targets) {
            a.values.extend(b.values);
        }
    }
    let n = first.ids.len();
    first.line_numbers = (0..n as u64).map(|i| i + 2).collect();
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t2(v: &[f32], cols: usize, d: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len() / cols, cols]), d)
    }

    #[test]
    fn elbo_hand_computed() {
        let d = Device::flex();
        // One value column (0) and one 2-way head (1..3).
        let heads = Heads {
            values: vec![0],
            softmax: vec![(1, 2)],
        };
        let loss = ElboLoss::new(&heads, &d);
        let out = t2(&[0.5, 0.0, 0.0], 3, &d);
        let x = t2(&[1.0, 1.0, 0.0], 3, &d);
        let mask = t2(&[1.0], 1, &d);
        let sigma = Tensor::<1>::from_data(TensorData::new(vec![1.0f32], [1]), &d);
        // numeric: (1 - 0.5)² / 2 + ln 1 = 0.125; CE: -ln softmax([0, 0])[0] = ln 2;
        // KL of N(1, e^0) to N(0, 1): ½ (e^0 + 1² - 0 - 1) = 0.5, weighted by β = 0.5.
        let l = loss.loss(
            out,
            x,
            mask,
            sigma,
            t2(&[1.0], 1, &d),
            t2(&[0.0], 1, &d),
            0.5,
        );
        let total = l.total.into_scalar::<f64>();
        let expected = 0.125 + std::f64::consts::LN_2 + 0.25;
        assert!((total - expected).abs() < 1e-5, "{total} vs {expected}");
        // A missing value (mask 0) contributes nothing to the numeric part.
        let l = loss.loss(
            t2(&[0.5, 0.0, 0.0], 3, &d),
            t2(&[1.0, 1.0, 0.0], 3, &d),
            t2(&[0.0], 1, &d),
            Tensor::<1>::from_data(TensorData::new(vec![1.0f32], [1]), &d),
            t2(&[0.0], 1, &d),
            t2(&[0.0], 1, &d),
            0.5,
        );
        let total = l.total.into_scalar::<f64>();
        assert!((total - std::f64::consts::LN_2).abs() < 1e-5, "{total}");
    }

    #[test]
    fn kl_warm_up_is_linear() {
        let d = Device::flex();
        let codec = Codec { columns: vec![] };
        let cfg = VaeConfig {
            kl_weight: 0.5,
            kl_warmup_epochs: 4,
            ..VaeConfig::default()
        };
        let arch = VaeArch::new(&codec, 0, 0, &cfg);
        let empty = Encoded {
            data: vec![],
            mask: vec![],
            rows: 0,
        };
        let task = VaeTask::new(
            &arch,
            &codec,
            (empty.clone(), RowConditions::default()),
            (empty, RowConditions::default()),
            &cfg,
            &d,
        );
        let betas: Vec<f64> = (0..6).map(|e| task.beta(e)).collect();
        assert_eq!(betas, vec![0.0, 0.125, 0.25, 0.375, 0.5, 0.5]);
    }
}
