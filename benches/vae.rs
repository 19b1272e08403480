//! Tabular VAE throughput: training samples/s (one optimizer step per iteration: forward,
//! backward, update and the host read of the loss) and sampling rows/s (decode + draws into a
//! raw table), on the flex CPU backend with the default architecture.
//!
//! `cargo bench --bench vae`. Data, codec, model and optimizer are built outside the timed
//! closures.

use std::hint::black_box;

use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use teleseg::data::generate::{GenerateOptions, generate};
use teleseg::data::reader::{ReadOptions, read_csv};
use teleseg::data::schema::Schema;
use teleseg::models::vae::{
    Codec, Conditions, RowConditions, SampleOptions, VaeArch, VaeTask, sample,
};
use teleseg::models::vae::{VaeConfig, vae_train_default};
use teleseg::train::{Task, optimizer};

fn bench_vae(c: &mut Criterion) {
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
    let rows: Vec<usize> = (0..table.n_rows()).collect();
    let cfg = VaeConfig::default();
    let codec = Codec::fit(&schema, &table, &rows, Some(cfg.modes));
    let arch = VaeArch::new(&codec, 0, 0, &cfg);
    let device = Device::flex();
    let enc = codec.encode(&table, &rows).unwrap();
    let task = VaeTask::new(
        &arch,
        &codec,
        (enc.clone(), RowConditions::default()),
        (enc, RowConditions::default()),
        &cfg,
        &device,
    );
    let mut group = c.benchmark_group("vae_train_step");
    for batch in [256usize, 1024] {
        let ad = device.clone().autodiff();
        ad.seed(1);
        let mut model = Some(arch.init(&ad));
        let mut optim = optimizer(&vae_train_default());
        let rows = Tensor::<1, Int>::arange(0..batch as i64, &device);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("flex", batch), |b| {
            b.iter(|| {
                let m = model.take().unwrap();
                let loss = task.train_loss(&m, rows.clone());
                black_box(loss.total.clone().into_scalar::<f32>());
                let grads = GradientsParams::from_grads(loss.total.backward(), &m);
                model = Some(optim.step(1e-3, m, grads));
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("vae_sample");
    device.seed(1);
    let model = arch.init(&device);
    let n = 8192;
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::new("flex", n), |b| {
        b.iter(|| {
            let opts = SampleOptions {
                rows: n,
                segment: None,
                seed: 1,
                keep_missing: true,
                batch_size: 4096,
                id_prefix: "S".into(),
            };
            black_box(sample(
                &model,
                &arch,
                &codec,
                &Conditions::default(),
                &opts,
                &device,
            ))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_vae
}
criterion_main!(benches);
