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
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use crate::config::{AutoencoderConfig, DecConfig, DecMode, Noise, OptimizerKind, TrainConfig};
use crate::data::preprocess::{FeatureGroup, FeatureLayout, Features};
use crate::models::autoencoder::{AutoencoderArch, AutoencoderTask, ReconstructionLoss, embed};
use crate::models::dec::{Dec, DecTask};
use crate::train::{Task, optimizer};

/// What `teleseg bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchModel {
    /// Autoencoder training step (MSE reconstruction).
    Autoencoder,
    /// DEC clustering-phase step (KL to the target distribution, refreshed every
    /// `update_interval` steps on all rows, as in training).
    Dec,
}

/// Options of `teleseg bench`.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    pub model: BenchModel,
    pub rows: usize,
    pub input: usize,
    pub hidden: Vec<usize>,
    pub latent: usize,
    pub k: usize,
    pub batch_size: usize,
    pub steps: usize,
    pub warmup: usize,
    pub seed: u64,
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
    anyhow::ensure!(
        args.rows >= args.batch_size,
        "--rows must be at least --batch-size"
    );
    anyhow::ensure!(
        args.steps > 0 && args.batch_size > 0,
        "--steps and --batch-size must be positive"
    );
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
    let mut optim = optimizer(&train_cfg);
    let total = args.warmup + args.steps;
    let mut seconds = 0.0;
    let mut final_loss = f64::NAN;

    match args.model {
        BenchModel::Autoencoder => {
            let task = AutoencoderTask::new(
                &features,
                &features,
                &layout,
                &cfg,
                device,
                vec![],
                Default::default(),
            );
            let mut model = arch.init(&ad);
            let mut start = Instant::now();
            for step in 0..total {
                if step == args.warmup {
                    start = Instant::now();
                }
                let loss = task.train_loss(&model, batches[step % batches.len()].clone());
                final_loss = loss.total.clone().into_scalar::<f64>();
                let grads = GradientsParams::from_grads(loss.total.backward(), &model);
                model = optim.step(1e-3, model, grads);
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
                vec![],
                Default::default(),
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
                let loss = task.train_loss(&model, batches[step % batches.len()].clone());
                final_loss = loss.total.clone().into_scalar::<f64>();
                let grads = GradientsParams::from_grads(loss.total.backward(), &model);
                model = optim.step(1e-3, model, grads);
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
        }
    }

    #[test]
    fn both_models_train_and_report_a_finite_rate() {
        for m in [BenchModel::Autoencoder, BenchModel::Dec] {
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
    fn batch_larger_than_rows_is_refused() {
        let mut a = args(BenchModel::Autoencoder);
        a.batch_size = 1000;
        assert!(run(&a, &Device::flex(), "flex").is_err());
    }
}
