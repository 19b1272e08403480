//! Benchmarks of `teleseg::cluster`.
//!
//! `kmeans_pp_init`: k-means++ seeding on 1 M × 16 uniform random f32 rows (the size of a
//! DEC embedding of a full customer base). linfa does not expose its seeding on its own, so each
//! sample runs `kmeans` with `n_init = 1, max_iter = 1`: k-means++ seeding, one Lloyd iteration
//! and our nearest-centroid labelling + inertia pass. Seeding is O(rows · k² · cols) in linfa
//! and dominates from k ≈ 8 on; a full `kmeans` costs about `n_init` × this plus
//! `n_init × iterations × O(rows · k · cols)`.
//!
//! Run: `cargo bench --bench cluster` (10 samples per k; about a minute per k on 2 cores).

use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use teleseg::cluster::{Matrix, kmeans};

fn kmeans_pp_init(c: &mut Criterion) {
    let (rows, cols) = (1_000_000, 16);
    let mut rng = StdRng::seed_from_u64(0);
    let data: Vec<f32> = (0..rows * cols).map(|_| rng.random::<f32>()).collect();
    let m = Matrix::new(&data, rows, cols).expect("finite data");
    let mut group = c.benchmark_group("kmeans_pp_init");
    group.sample_size(10);
    for k in [8, 16] {
        group.bench_function(format!("1Mx16_k{k}_seed_plus_1_iter"), |b| {
            b.iter(|| kmeans(m, k, 1, 1, 1e-4, 0).expect("kmeans"))
        });
    }
    group.finish();
}

criterion_group!(benches, kmeans_pp_init);
criterion_main!(benches);
