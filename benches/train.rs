//! Training and embedding throughput of the autoencoder per CPU backend and batch size.
//!
//! `cargo bench --bench train`. Inputs (generated data, preprocessing, model, optimizer) are built
//! outside the timed closures; one iteration is one optimizer step (forward, backward, update,
//! and the host read of the loss the training loop does for its NaN guard) or one embedding batch.

use std::hint::black_box;

use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use teleseg::backend::{self, BackendChoice};
use teleseg::config::TrainConfig;
use teleseg::data::generate::{GenerateOptions, generate};
use teleseg::data::preprocess::{Features, Preprocessor};
use teleseg::data::reader::{ReadOptions, read_csv};
use teleseg::data::schema::Schema;
use teleseg::models::autoencoder::AutoencoderConfig;
use teleseg::models::autoencoder::{AutoencoderArch, AutoencoderTask, embed};
use teleseg::train::{Task, optimizer};

fn data() -> (Features, Preprocessor) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = GenerateOptions::new(8192, 3, dir.path().to_path_buf());
    opts.force = true;
    generate(&opts).unwrap();
    let schema = Schema::load(&dir.path().join("schema.toml")).unwrap();
    let (table, _) = read_csv(
        &dir.path().join("customers.csv"),
        &schema,
        &ReadOptions::default(),
    )
    .unwrap();
    let rows: Vec<usize> = (0..table.ids.len()).collect();
    let pre = Preprocessor::fit(&schema, &table, &rows).unwrap();
    (pre.transform(&table).unwrap(), pre)
}

/// CPU backends always; wgpu when a hardware adapter exists (set TELESEG_BENCH_SOFTWARE_WGPU=1
/// to include a software adapter such as lavapipe).
fn backends() -> Vec<BackendChoice> {
    let mut v = vec![BackendChoice::Flex, BackendChoice::Ndarray];
    match backend::wgpu_adapter() {
        Ok(a) if !a.software || std::env::var_os("TELESEG_BENCH_SOFTWARE_WGPU").is_some() => {
            eprintln!("benchmarking wgpu on {} ({})", a.name, a.device_type);
            v.push(BackendChoice::Wgpu);
        }
        Ok(a) => eprintln!("SKIPPED wgpu: only a software adapter ({})", a.name),
        Err(e) => eprintln!("SKIPPED wgpu: {e}"),
    }
    v
}

fn bench_autoencoder(c: &mut Criterion) {
    let backends = backends();
    let (features, pre) = data();
    // The benchmark architecture: 64-256-128-16 mirrored (input = our feature count).
    let cfg = AutoencoderConfig::default();
    let arch = AutoencoderArch::new(features.cols, &cfg);
    let mut group = c.benchmark_group("autoencoder_train_step");
    for &choice in &backends {
        let device = backend::resolve(choice).unwrap().device;
        let task = AutoencoderTask::new(&features, &features, pre.layout(), &cfg, &device);
        for batch in [64usize, 256, 1024] {
            let ad = device.clone().autodiff();
            ad.seed(1);
            let mut model = Some(arch.init(&ad));
            let mut optim = optimizer(&TrainConfig::default());
            let rows = Tensor::<1, Int>::arange(0..batch as i64, &device);
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_function(BenchmarkId::new(choice.to_string(), batch), |b| {
                b.iter(|| {
                    let m = model.take().unwrap();
                    let loss = task.train_loss(&m, rows.clone());
                    black_box(loss.total.clone().into_scalar::<f32>());
                    let grads = GradientsParams::from_grads(loss.total.backward(), &m);
                    model = Some(optim.step(1e-3, m, grads));
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("autoencoder_embed");
    group.throughput(Throughput::Elements(features.rows as u64));
    for &choice in &backends {
        let device = backend::resolve(choice).unwrap().device;
        device.seed(1);
        let model = arch.init(&device);
        for batch in [64usize, 256, 1024] {
            group.bench_function(BenchmarkId::new(choice.to_string(), batch), |b| {
                b.iter(|| black_box(embed(&model, &features, batch, &device)))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_autoencoder
}
criterion_main!(benches);
