//! NCF throughput on flex: training steps (interactions/s), the bulk negative sampler
//! (samples/s) and top-K scoring (customers/s for 200 offers).
//!
//! `cargo bench --bench ncf`. Inputs (synthetic positives, epoch samples, models, optimizers) are
//! built outside the timed closures. One training iteration is one optimizer step on a batch
//! of 1024 samples (forward, backward, update and the host read of the loss that the training
//! loop does for its NaN guard). Sizes: the default data (20k customers × 40 offers, factors 16,
//! MLP 32-16-8) and the perf issue's (50k × 500, factors 32, MLP 64-32-16-8), 4 negatives.

use std::hint::black_box;

use burn::module::Module;

use burn::tensor::{Int, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use teleseg::backend::{self, BackendChoice};
use teleseg::data::interactions::{EpochSamples, LeaveLastOut, Pair, PositiveSet, sample_epoch};
use teleseg::models::ncf::infer::NcfModel;
use teleseg::models::ncf::{NcfArch, NcfTask};
use teleseg::models::ncf::{NcfKind, ncf_train_default};
use teleseg::train::{Optimizers, Task, train_step};

/// The synthetic interactions of `teleseg bench ncf` (seed 9).
fn positives(users: usize, items: usize) -> Vec<Pair> {
    teleseg::commands::bench::positives(users, items, 9)
}

struct Size {
    label: &'static str,
    users: usize,
    items: usize,
    factors: usize,
    mlp: Vec<usize>,
}

fn sizes() -> Vec<Size> {
    vec![
        Size {
            label: "20k x 40",
            users: 20_000,
            items: 40,
            factors: 16,
            mlp: vec![32, 16, 8],
        },
        Size {
            label: "50k x 500",
            users: 50_000,
            items: 500,
            factors: 32,
            mlp: vec![64, 32, 16, 8],
        },
    ]
}

fn arch(kind: NcfKind, s: &Size) -> NcfArch {
    NcfArch {
        kind,
        n_users: s.users,
        n_items: s.items,
        factors: s.factors,
        mlp_layers: s.mlp.clone(),
        init_std: 0.01,
        item_bias: false,
        dropout: 0.0,
        user_features: 0,
    }
}

fn bench_ncf(c: &mut Criterion) {
    let device = backend::resolve(BackendChoice::Flex).unwrap().device;
    let batch = 1024usize;

    let mut group = c.benchmark_group("ncf_train_step");
    group.throughput(Throughput::Elements(batch as u64));
    for s in sizes() {
        let pos = positives(s.users, s.items);
        let split = LeaveLastOut {
            train: pos.clone(),
            valid: Vec::new(),
            test: Vec::new(),
        };
        let all = PositiveSet::new(s.users, s.items, &pos);
        let task = NcfTask::new(&split, &all, 4, 1, 0.0, &device);
        let n = task.train_len();
        for kind in [NcfKind::Neumf, NcfKind::Mf] {
            let ad = device.clone().autodiff();
            ad.seed(1);
            let mut model = Some(arch(kind, &s).init(&ad));
            let mut optim = Optimizers::new(&ncf_train_default());
            let mut start = 0usize;
            let id = BenchmarkId::new(format!("{kind:?}"), s.label);
            group.bench_function(id, |b| {
                b.iter(|| {
                    if start + batch > n {
                        start = 0;
                    }
                    let rows =
                        Tensor::<1, Int>::arange(start as i64..(start + batch) as i64, &device);
                    start += batch;
                    let m = model.take().unwrap();
                    let s = train_step(&task, m, &mut optim, rows, 2e-3).expect("finite loss");
                    black_box(s.loss);
                    model = Some(s.model);
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("ncf_negative_sampling");
    for s in sizes() {
        let pos = positives(s.users, s.items);
        let known = PositiveSet::new(s.users, s.items, &pos);
        let mut out = EpochSamples::default();
        sample_epoch(&pos, &known, 4, 0, &mut out);
        group.throughput(Throughput::Elements(out.len() as u64));
        let mut seed = 0;
        group.bench_function(BenchmarkId::new("epoch_4neg", s.label), |b| {
            b.iter(|| {
                seed += 1;
                sample_epoch(&pos, &known, 4, seed, &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();

    // Top-10 offers of 1024 customers among 200 offers, excluding the offers they hold.
    let mut group = c.benchmark_group("ncf_top_k_200_offers");
    let s = Size {
        label: "20k x 200",
        users: 20_000,
        items: 200,
        factors: 32,
        mlp: vec![64, 32, 16, 8],
    };
    let pos = positives(s.users, s.items);
    let users: Vec<u32> = (0..1024).collect();
    let held: Vec<Vec<u32>> = users
        .iter()
        .map(|&u| pos.iter().filter(|p| p.0 == u).map(|p| p.1).collect())
        .collect();
    group.throughput(Throughput::Elements(users.len() as u64));
    for kind in [NcfKind::Neumf, NcfKind::Mf] {
        device.seed(1);
        let a = arch(kind, &s);
        let model = a.init(&device).valid();
        let scorer = NcfModel::from_parts(
            a,
            model,
            (0..s.users).map(|u| u.to_string()).collect(),
            (0..s.items).map(|i| i.to_string()).collect(),
            vec![0.0; s.items],
            &device,
        );
        group.bench_function(BenchmarkId::new(format!("{kind:?}"), s.label), |b| {
            b.iter(|| black_box(scorer.top_k(&users, 10, &held)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_ncf
}
criterion_main!(benches);
