//! Data pipeline benchmarks: `cargo bench --bench data`.
//!
//! Groups: `generate` (synthetic data, customers per second including their interaction logs).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use teleseg::data::generate::{GenerateOptions, generate};

/// Customers per generated data set (~40 MB of CSV).
const CUSTOMERS: usize = 20_000;

fn bench_generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(CUSTOMERS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    let dir = tempfile::tempdir().expect("temporary folder");
    group.bench_function("customers_20k", |b| {
        b.iter(|| {
            let mut opts = GenerateOptions::new(CUSTOMERS, 42, dir.path().join("out"));
            opts.force = true;
            black_box(generate(&opts).expect("generate"))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
