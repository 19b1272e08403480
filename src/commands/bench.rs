//! `teleseg bench`: the training step of a model family on synthetic inputs, timed, for
//! `scripts/bench_vs_torch.py` (which runs the same architecture in PyTorch beside it).
//!
//! Inputs are built before the clock starts: a `rows × input` matrix of seeded N(0, 1) values
//! (all numeric features, so the reconstruction loss is the mean squared error PyTorch uses).
//! One step = the training loop's step: forward, loss, host read of the loss (the NaN guard),
//! backward, Adam update. Batches walk a seeded permutation of the rows. `warmup` steps run
//! first, untimed (allocation, autotune).

use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution as TensorDistribution, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use crate::config::{OptimizerKind, TrainConfig};
use crate::data::interactions::{LeaveLastOut, Pair, PositiveSet};
use crate::data::preprocess::{FeatureGroup, FeatureLayout, Features};
use crate::error::UsageError;
use crate::models::autoencoder::{AutoencoderArch, AutoencoderTask, ReconstructionLoss, embed};
use crate::models::autoencoder::{AutoencoderConfig, Noise};
use crate::models::dec::{Dec, DecTask, argmax_rows, assign_rows};
use crate::models::dec::{DecConfig, DecMode};
use crate::models::mlp::Activation;
use crate::models::ncf::infer::NcfModel;
use crate::models::ncf::{EmbeddingUpdates, NcfKind};
use crate::models::ncf::{NcfArch, NcfTask};
use crate::models::vae::{ElboLoss, Heads, VaeArch};
use crate::train::{Optimizers, Task, train_step};

/// What `teleseg bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchModel {
    /// Autoencoder training step (MSE reconstruction).
    Autoencoder,
    /// DEC clustering-phase step (KL to the target distribution, refreshed every
    /// `update_interval` steps on all rows, as in training).
    Dec,
    /// VAE training step (all-numeric Gaussian ELBO with learned σ; reparameterised draw).
    Vae,
    /// NeuMF training step (BCE on positives + `negatives` sampled negatives each, the epoch's
    /// samples drawn in bulk at every epoch start as training does).
    Ncf,
    /// Scoring: embed + DEC segment + NeuMF top-`top` of `items` offers, `batch_size` rows per
    /// step (rates are rows/s).
    Score,
}

/// Options of `teleseg bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Which training step.
    #[arg(value_enum)]
    pub model: BenchModel,
    /// Rows of the synthetic N(0, 1) input.
    #[arg(long, default_value_t = 16_384)]
    pub rows: usize,
    /// Input features.
    #[arg(long, default_value_t = 64)]
    pub input: usize,
    /// Hidden widths of the encoder (mirrored in the decoder), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "256,128")]
    pub hidden: Vec<usize>,
    /// Embedding width.
    #[arg(long, default_value_t = 16)]
    pub latent: usize,
    /// Clusters (dec).
    #[arg(long, default_value_t = 8)]
    pub k: usize,
    /// Rows per step.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// The global `--seed` (42 when not given).
    #[arg(skip = 42u64)]
    pub seed: u64,
    /// Users of the NCF interactions (ncf; score uses --rows customers).
    #[arg(long, default_value_t = 50_000)]
    pub users: usize,
    /// Offers: NCF items (ncf) or offers ranked per customer (score).
    #[arg(long, default_value_t = 500)]
    pub items: usize,
    /// NCF embedding width (ncf, score).
    #[arg(long, default_value_t = 32)]
    pub factors: usize,
    /// NeuMF MLP tower widths, comma-separated (ncf, score).
    #[arg(long, value_delimiter = ',', default_value = "64,32,16,8")]
    pub mlp: Vec<usize>,
    /// Negatives per positive (ncf).
    #[arg(long, default_value_t = 4)]
    pub negatives: usize,
    /// Offers returned per customer (score).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// NCF: update whole embedding tables with Adam (`model.embedding_updates = "dense"`)
    /// instead of lazy Adam on the batch's rows.
    #[arg(long)]
    pub dense_embeddings: bool,
    /// autoencoder: a bare Burn loop instead of teleseg's step (`burn::nn::Linear` layers,
    /// ReLU, MSE, Burn's Adam, the loss read to the host every step): the floor teleseg's own
    /// step is compared against (issue #19).
    #[arg(long)]
    pub bare: bool,
}

impl BenchArgs {
    /// How NCF steps update the embedding tables.
    pub fn embedding_updates(&self) -> EmbeddingUpdates {
        match self.dense_embeddings {
            true => EmbeddingUpdates::Dense,
            false => EmbeddingUpdates::Sparse,
        }
    }
}

/// The measurement, printed as one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub model: BenchModel,
    pub backend: String,
    pub batch_size: usize,
    pub steps: usize,
    pub seconds: f64,
    pub samples_per_s: f64,
    pub final_loss: f64,
}

/// `rows × cols` seeded N(0, 1) features and their all-numeric layout.
fn synthetic(rows: usize, cols: usize, seed: u64) -> (Features, FeatureLayout) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let data = (0..rows * cols)
        .map(|_| {
            let v: f32 = StandardNormal.sample(&mut rng);
            v
        })
        .collect();
    let names: Vec<String> = (0..cols).map(|j| format!("x{j}")).collect();
    let groups = names
        .iter()
        .enumerate()
        .map(|(index, name)| FeatureGroup::Numeric {
            name: name.clone(),
            index,
        })
        .collect();
    (
        Features { data, rows, cols },
        FeatureLayout { names, groups },
    )
}

/// Runs the benchmark on `device` (a plain device; autodiff is taken from it).
pub fn run(args: &BenchArgs, device: &Device, backend: &str) -> anyhow::Result<BenchResult> {
    match args.model {
        // Training steps run where training runs them (`train::fit`): the training pool.
        BenchModel::Score => run_in_pool(args, device, backend),
        _ => crate::backend::training_pool().install(|| run_in_pool(args, device, backend)),
    }
}

fn run_in_pool(args: &BenchArgs, device: &Device, backend: &str) -> anyhow::Result<BenchResult> {
    let usage = |m: &str| -> anyhow::Result<BenchResult> { Err(UsageError(m.to_string()).into()) };
    if args.steps == 0 || args.batch_size == 0 {
        return usage("--steps and --batch-size must be positive");
    }
    if args.bare && args.model != BenchModel::Autoencoder {
        return usage("--bare is for `teleseg bench autoencoder` only");
    }
    if args.rows < args.batch_size {
        return usage("--rows must be at least --batch-size");
    }
    if args.rows < args.k || args.k == 0 {
        return usage("--k must be between 1 and --rows");
    }
    let (features, layout) = synthetic(args.rows, args.input, args.seed);
    let cfg = AutoencoderConfig {
        hidden: args.hidden.clone(),
        latent: args.latent,
        noise: Noise::None,
        ..AutoencoderConfig::default()
    };
    let arch = AutoencoderArch::new(args.input, &cfg);
    let train_cfg = TrainConfig {
        optimizer: OptimizerKind::Adam,
        weight_decay: 0.0,
        grad_clip_norm: 0.0,
        ..TrainConfig::default()
    };
    let ad = device.clone().autodiff();
    ad.seed(args.seed);
    let mut order: Vec<i64> = (0..args.rows as i64).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(args.seed ^ 1));
    let batches: Vec<Tensor<1, Int>> = order
        .chunks_exact(args.batch_size)
        .map(|c| Tensor::from_data(TensorData::new(c.to_vec(), [c.len()]), device))
        .collect();
    let mut optim = Optimizers::new(&train_cfg);
    let total = args.warmup + args.steps;
    let mut seconds = 0.0;
    let mut final_loss = f64::NAN;

    match args.model {
        BenchModel::Vae => {
            let (s, l) = vae_steps(args, &features, device, &ad, &batches, &mut optim);
            seconds = s;
            final_loss = l;
        }
        BenchModel::Ncf => {
            let (s, l) = ncf_steps(args, device, &ad, &mut optim)?;
            seconds = s;
            final_loss = l;
        }
        BenchModel::Score => {
            let (s, l) = score_steps(args, &features, &arch, device);
            seconds = s;
            final_loss = l;
        }
        BenchModel::Autoencoder if args.bare => {
            let (s, l) = bare_autoencoder_steps(args, &features, device, &ad, &batches)?;
            seconds = s;
            final_loss = l;
        }
        BenchModel::Autoencoder => {
            let task = AutoencoderTask::new(&features, &features, &layout, &cfg, device);
            let mut model = arch.init(&ad);
            let mut start = Instant::now();
            for step in 0..total {
                if step == args.warmup {
                    start = Instant::now();
                }
                let rows = batches[step % batches.len()].clone();
                let s = train_step(&task, model, &mut optim, rows, 1e-3).map_err(diverged)?;
                (model, final_loss) = (s.model, s.loss);
            }
            seconds += start.elapsed().as_secs_f64();
        }
        BenchModel::Dec => {
            let dec_cfg = DecConfig {
                k: args.k,
                mode: DecMode::Dec,
                ..DecConfig::default()
            };
            let mut task = DecTask::new(
                &features,
                &features,
                &dec_cfg,
                Some(ReconstructionLoss::new(&layout, 0.0, device)),
                device,
            );
            // Centroids = embeddings of the first k rows (as a k-means++ seed would pick rows).
            let ae = arch.init(&ad);
            let first = Features {
                data: features.data[..args.k * args.input].to_vec(),
                rows: args.k,
                cols: args.input,
            };
            let centroids = embed(&ae.valid(), &first, args.k, device);
            let mut model = Dec::new(ae, &centroids, args.k, &ad);
            let mut start = Instant::now();
            for step in 0..total {
                if step == args.warmup {
                    start = Instant::now();
                }
                task.on_step(&model, step as u64)?;
                let rows = batches[step % batches.len()].clone();
                let s = train_step(&task, model, &mut optim, rows, 1e-3).map_err(diverged)?;
                (model, final_loss) = (s.model, s.loss);
            }
            seconds += start.elapsed().as_secs_f64();
        }
    }
    Ok(BenchResult {
        model: args.model,
        backend: backend.to_string(),
        batch_size: args.batch_size,
        steps: args.steps,
        seconds,
        samples_per_s: (args.steps * args.batch_size) as f64 / seconds.max(1e-12),
        final_loss,
    })
}

type Optim = Optimizers;

fn diverged(loss: f64) -> anyhow::Error {
    anyhow::anyhow!("the benchmark's loss is {loss} (NaN/inf)")
}

/// The autoencoder of [`BenchModel::Autoencoder`] written as a plain Burn program: no task, no
/// loss parts, no optimizer wrapper.
#[derive(burn::module::Module, Debug)]
struct BareAutoencoder {
    layers: Vec<burn::nn::Linear>,
}

impl BareAutoencoder {
    fn new(args: &BenchArgs, device: &Device) -> Self {
        let mut widths = vec![args.input];
        widths.extend(&args.hidden);
        widths.push(args.latent);
        widths.extend(args.hidden.iter().rev());
        widths.push(args.input);
        let layers = widths
            .windows(2)
            .map(|w| burn::nn::LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Self { layers }
    }

    fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        // The layers are mirrored: the encoder's output (the code) is layer `n / 2 - 1`.
        let (code, last) = (self.layers.len() / 2 - 1, self.layers.len() - 1);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i != code && i != last {
                x = burn::tensor::activation::relu(x);
            }
        }
        x
    }
}

/// [`BareAutoencoder`] steps: gather the batch, forward, MSE, loss to the host, backward, Adam.
fn bare_autoencoder_steps(
    args: &BenchArgs,
    features: &Features,
    device: &Device,
    ad: &Device,
    batches: &[Tensor<1, Int>],
) -> anyhow::Result<(f64, f64)> {
    use burn::optim::AdamConfig;
    let x_all: Tensor<2> = Tensor::from_data(
        TensorData::new(features.data.clone(), [features.rows, features.cols]),
        device,
    );
    let mut model = BareAutoencoder::new(args, ad);
    let mut optim = AdamConfig::new().init();
    let mut final_loss = f64::NAN;
    let mut start = Instant::now();
    for step in 0..args.warmup + args.steps {
        if step == args.warmup {
            start = Instant::now();
        }
        let x = x_all
            .clone()
            .select(0, batches[step % batches.len()].clone());
        let loss = (model.forward(x.clone()) - x).square().mean();
        final_loss = loss.clone().into_scalar::<f64>();
        if !final_loss.is_finite() {
            return Err(diverged(final_loss));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
    }
    Ok((start.elapsed().as_secs_f64(), final_loss))
}

/// VAE steps: widths `input-hidden-latent` mirrored, every column numeric (Gaussian NLL with a
/// learned σ per column), KL weight 1.
fn vae_steps(
    args: &BenchArgs,
    features: &Features,
    device: &Device,
    ad: &Device,
    batches: &[Tensor<1, Int>],
    optim: &mut Optim,
) -> (f64, f64) {
    let arch = VaeArch {
        width: args.input,
        n_numeric: args.input,
        n_segments: 0,
        n_target_classes: 0,
        hidden: args.hidden.clone(),
        latent: args.latent,
        activation: Activation::Relu,
    };
    let heads = Heads {
        values: (0..args.input).collect(),
        softmax: vec![],
    };
    let loss_fn = ElboLoss::new(&heads, device);
    let x_all = Tensor::<2>::from_data(
        TensorData::new(features.data.clone(), [features.rows, features.cols]),
        device,
    );
    let mask = Tensor::<2>::ones([args.batch_size, args.input], device);
    let mut model = arch.init(ad);
    let total = args.warmup + args.steps;
    let mut final_loss = f64::NAN;
    let mut start = Instant::now();
    for step in 0..total {
        if step == args.warmup {
            start = Instant::now();
        }
        let x = x_all
            .clone()
            .select(0, batches[step % batches.len()].clone());
        let (mu, logvar) = model.encode(x.clone(), None);
        let eps = Tensor::random(
            mu.shape(),
            TensorDistribution::Normal(0.0, 1.0),
            &mu.device(),
        );
        let z = mu.clone() + eps * (logvar.clone() * 0.5).exp();
        let out = model.decode(z, None);
        let loss = loss_fn.loss(out, x, mask.clone(), model.sigma(), mu, logvar, 1.0);
        final_loss = loss.total.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.total.backward(), &model);
        model = optim.dense.step(1e-3, model, grads);
    }
    (start.elapsed().as_secs_f64(), final_loss)
}

/// Synthetic interactions: about 3 positives per user (1 to 5), items skewed towards low
/// indices (popular offers), sorted and deduplicated. Also used by `benches/ncf.rs`.
pub fn positives(users: usize, items: usize, seed: u64) -> Vec<Pair> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for u in 0..users as u32 {
        let n = 1 + rng.random_range(0..5);
        for _ in 0..n {
            let x: f64 = rng.random();
            out.push((u, ((x * x) * items as f64) as u32));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn ncf_arch(args: &BenchArgs, users: usize) -> NcfArch {
    NcfArch {
        kind: NcfKind::Neumf,
        n_users: users,
        n_items: args.items,
        factors: args.factors,
        mlp_layers: args.mlp.clone(),
        init_std: 0.01,
        item_bias: false,
        dropout: 0.0,
        user_features: 0,
    }
}

/// NeuMF steps on `users × items` synthetic positives with `negatives` fresh negatives each per
/// epoch (the training task's bulk sampler, run at every epoch start inside the clock).
fn ncf_steps(
    args: &BenchArgs,
    device: &Device,
    ad: &Device,
    optim: &mut Optim,
) -> anyhow::Result<(f64, f64)> {
    let pos = positives(args.users, args.items, args.seed);
    let split = LeaveLastOut {
        train: pos.clone(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    let all = PositiveSet::new(args.users, args.items, &pos);
    let mut task = NcfTask::new(&split, &all, args.negatives, args.seed, 0.0, device)
        .with_embedding_updates(args.embedding_updates());
    let n = task.train_len();
    if n < args.batch_size {
        return Err(UsageError(format!(
            "--batch-size {} exceeds the NCF epoch ({n} samples)",
            args.batch_size
        ))
        .into());
    }
    let per_epoch = n / args.batch_size;
    let mut model = ncf_arch(args, args.users).init(ad);
    let total = args.warmup + args.steps;
    let mut final_loss = f64::NAN;
    let mut start = Instant::now();
    for step in 0..total {
        if step == args.warmup {
            start = Instant::now();
        }
        let (epoch, i) = (step / per_epoch, step % per_epoch);
        if i == 0 {
            task.on_epoch_start(&model, epoch)?;
        }
        let lo = (i * args.batch_size) as i64;
        let rows = Tensor::<1, Int>::arange(lo..lo + args.batch_size as i64, device);
        let s = train_step(&task, model, optim, rows, 1e-3).map_err(diverged)?;
        (model, final_loss) = (s.model, s.loss);
    }
    Ok((start.elapsed().as_secs_f64(), final_loss))
}

/// Scoring steps: each step takes the next `batch_size` customers, embeds them, assigns DEC
/// segments (Student-t, α = 1) and ranks `items` offers with NeuMF, top `top` per customer
/// excluding the offers each holds. Returns the mean segment confidence as the "loss".
fn score_steps(
    args: &BenchArgs,
    features: &Features,
    arch: &AutoencoderArch,
    device: &Device,
) -> (f64, f64) {
    device.seed(args.seed);
    let ae = arch.init(device);
    let first = Features {
        data: features.data[..args.k * args.input].to_vec(),
        rows: args.k,
        cols: args.input,
    };
    let centroids = embed(&ae, &first, args.k, device);
    let dec = Dec::new(ae, &centroids, args.k, device);
    let pos = positives(args.rows, args.items, args.seed);
    let mut held = vec![Vec::new(); args.rows];
    for &(u, i) in &pos {
        held[u as usize].push(i);
    }
    let a = ncf_arch(args, args.rows);
    let ncf = NcfModel::from_parts(
        a.clone(),
        a.init(device).valid(),
        (0..args.rows).map(|u| u.to_string()).collect(),
        (0..args.items).map(|i| i.to_string()).collect(),
        vec![0.0; args.items],
        device,
    );
    let b = args.batch_size;
    let chunks: Vec<(Features, Vec<u32>)> = (0..args.rows / b)
        .map(|c| {
            let f = Features {
                data: features.data[c * b * args.input..(c + 1) * b * args.input].to_vec(),
                rows: b,
                cols: args.input,
            };
            (f, (c * b..(c + 1) * b).map(|u| u as u32).collect())
        })
        .collect();
    let total = args.warmup + args.steps;
    let mut conf_sum = 0.0f64;
    let mut start = Instant::now();
    for step in 0..total {
        if step == args.warmup {
            start = Instant::now();
            conf_sum = 0.0;
        }
        let (f, users) = &chunks[step % chunks.len()];
        let (_z, q) = assign_rows(&dec, f, 1.0, b, device);
        let (_segment, confidence) = argmax_rows(&q, args.k);
        let lo = users[0] as usize;
        let top = ncf.top_k(users, args.top, &held[lo..lo + b]);
        conf_sum += confidence.iter().map(|&c| c as f64).sum::<f64>();
        std::hint::black_box(top);
    }
    let seconds = start.elapsed().as_secs_f64();
    (seconds, conf_sum / (args.steps * b) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(model: BenchModel) -> BenchArgs {
        BenchArgs {
            model,
            rows: 256,
            input: 12,
            hidden: vec![16],
            latent: 4,
            k: 3,
            batch_size: 32,
            steps: 12,
            warmup: 2,
            seed: 5,
            users: 300,
            items: 20,
            factors: 4,
            mlp: vec![8, 4],
            negatives: 2,
            top: 3,
            dense_embeddings: false,
            bare: false,
        }
    }

    #[test]
    fn the_bare_autoencoder_mirrors_the_widths_and_trains() {
        let a = BenchArgs {
            bare: true,
            ..args(BenchModel::Autoencoder)
        };
        let m = BareAutoencoder::new(&a, &Device::flex());
        // 12 → 16 → 4 → 16 → 12: four layers, the code after the second.
        let shapes: Vec<[usize; 2]> = m.layers.iter().map(|l| l.weight.dims()).collect();
        assert_eq!(shapes, vec![[12, 16], [16, 4], [4, 16], [16, 12]]);
        let r = run(&a, &Device::flex(), "flex").unwrap();
        assert!(r.final_loss.is_finite() && r.samples_per_s > 0.0, "{r:?}");
    }

    #[test]
    fn both_models_train_and_report_a_finite_rate() {
        for m in [
            BenchModel::Autoencoder,
            BenchModel::Dec,
            BenchModel::Vae,
            BenchModel::Ncf,
            BenchModel::Score,
        ] {
            let r = run(&args(m), &Device::flex(), "flex").unwrap();
            assert!(
                r.samples_per_s.is_finite() && r.samples_per_s > 0.0,
                "{r:?}"
            );
            assert!(r.final_loss.is_finite(), "{r:?}");
            assert_eq!(r.steps, 12);
        }
    }

    #[test]
    fn ncf_crosses_epochs_and_resamples() {
        // 300 users × ~3 positives × (1 + 2 negatives) ≈ 2.7k samples: 84 steps of 32 is
        // more than one epoch, so on_epoch_start resamples inside the timed loop.
        let mut a = args(BenchModel::Ncf);
        a.steps = 84;
        let r = run(&a, &Device::flex(), "flex").unwrap();
        assert!(r.final_loss.is_finite() && r.final_loss > 0.0, "{r:?}");
    }

    #[test]
    fn batch_larger_than_rows_is_refused() {
        let mut a = args(BenchModel::Autoencoder);
        a.batch_size = 1000;
        assert!(run(&a, &Device::flex(), "flex").is_err());
    }
}
