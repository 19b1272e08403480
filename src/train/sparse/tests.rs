use burn::nn::{Embedding, EmbeddingConfig};
use burn::optim::GradientsParams;
use burn::tensor::Device;

use super::*;
use crate::config::TrainConfig;
use crate::train::optimizer;

/// A 6 × 3 table with fixed values (not from the device RNG, which tests running in parallel
/// share).
fn table(ad: &Device) -> Embedding {
    table_of(6, 3, ad)
}

/// A `rows × width` table with fixed values.
fn table_of(rows: usize, width: usize, ad: &Device) -> Embedding {
    let mut e = EmbeddingConfig::new(rows, width).init(ad);
    let v: Vec<f32> = (0..rows * width)
        .map(|k| ((k * 5) % 7) as f32 * 0.3 - 0.9)
        .collect();
    e.weight = Param::from_data(TensorData::new(v, [rows, width]), ad);
    e
}

fn values(e: &Embedding) -> Vec<f32> {
    e.weight.val().into_data().try_to_vec::<f32>().unwrap()
}

/// A loss with a different gradient per step: Σ (rows ⊙ c − t)² with `c`, `t` from `step`.
fn loss_of(rows: Tensor<2>, step: usize) -> Tensor<1> {
    let [n, w] = rows.dims();
    let device = rows.device();
    let c: Vec<f32> = (0..n * w)
        .map(|k| 0.5 + ((k + step) % 5) as f32 * 0.3)
        .collect();
    let t: Vec<f32> = (0..n * w)
        .map(|k| ((k * 7 + step * 3) % 11) as f32 * 0.2 - 1.0)
        .collect();
    let c = Tensor::<2>::from_data(TensorData::new(c, [n, w]), &device);
    let t = Tensor::<2>::from_data(TensorData::new(t, [n, w]), &device);
    (rows * c - t).square().sum().reshape([1])
}

/// How [`train`] updates the table.
#[derive(Clone, Copy, Debug)]
enum Update {
    /// The module optimizer on a dense embedding gradient.
    Module,
    /// [`SparseAdam`] on the batch's rows.
    Table(TableAdam),
}
use Update::{Module, Table};

/// `steps` updates of the table, batch `batches[s % len]` at step `s`.
fn train(cfg: &TrainConfig, batches: &[Vec<i64>], steps: usize, update: Update) -> Vec<f32> {
    train_table(
        cfg,
        table(&Device::flex().autodiff()),
        batches,
        steps,
        update,
    )
}

/// [`train`] from the table `e`.
fn train_table(
    cfg: &TrainConfig,
    mut e: Embedding,
    batches: &[Vec<i64>],
    steps: usize,
    update: Update,
) -> Vec<f32> {
    let plain = Device::flex();
    let mut dense = optimizer(cfg);
    let mut lazy = SparseAdam::new(cfg);
    for s in 0..steps {
        let idx = &batches[s % batches.len()];
        if let Table(adam) = update {
            let (rows, record) = SparseIndex::new(idx, adam, &plain).lookup(&e.weight);
            let mut grads = loss_of(rows, s).backward();
            e = lazy.step(e, vec![record], &mut grads, 0.05);
            // The table itself got no gradient: the module optimizer has nothing to do.
            let rest = GradientsParams::from_grads(grads, &e);
            assert!(rest.is_empty());
        } else {
            let t = Tensor::<1, Int>::from_data(TensorData::new(idx.clone(), [idx.len()]), &plain);
            let rows = e.weight.val().select(0, t);
            let grads = GradientsParams::from_grads(loss_of(rows, s).backward(), &e);
            e = dense.step(0.05, e, grads);
        }
    }
    values(&e)
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
}

fn cfg(optimizer: crate::config::OptimizerKind, weight_decay: f64, clip: f64) -> TrainConfig {
    TrainConfig {
        optimizer,
        weight_decay,
        grad_clip_norm: clip,
        ..TrainConfig::default()
    }
}

#[test]
fn distinct_inverse_keeps_first_appearance_order() {
    let (d, inv) = distinct_inverse(&[7, 3, 7, 9, 3]);
    assert_eq!(d, vec![7, 3, 9]);
    assert_eq!(inv, vec![0, 1, 0, 2, 1]);
    let (d, inv) = distinct_inverse(&[]);
    assert!(d.is_empty() && inv.is_empty());
}

#[test]
fn lazy_adam_equals_adam_on_rows_every_batch_uses() {
    // Rows 1 and 4 are in every batch (with repeats); the others never: dense Adam leaves them
    // alone too (zero gradient, zero moments), so both must agree on the whole table, for Adam
    // and AdamW, without and with gradient clipping.
    use crate::config::OptimizerKind::{Adam, Adamw};
    let batches = vec![vec![1, 4, 4], vec![4, 1], vec![1, 1, 4, 1]];
    for c in [
        cfg(Adam, 0.0, 0.0),
        cfg(Adamw, 0.0, 0.0),
        cfg(Adam, 0.0, 0.7),
    ] {
        let dense = train(&c, &batches, 7, Module);
        let sparse = train(&c, &batches, 7, Table(TableAdam::Lazy));
        assert!(close(&dense, &sparse), "{c:?}\n{dense:?}\n{sparse:?}");
        let init = values(&table(&Device::flex().autodiff()));
        assert_ne!(&sparse[3..6], &init[3..6], "row 1 was trained");
        assert_eq!(&sparse[0..3], &init[0..3], "row 0 was never looked up");
    }
}

#[test]
fn weight_decay_shrinks_only_looked_up_rows() {
    use crate::config::OptimizerKind::{Adam, Adamw};
    let batches = vec![vec![2, 5]];
    let init = values(&table(&Device::flex().autodiff()));
    for c in [cfg(Adam, 0.01, 0.0), cfg(Adamw, 0.01, 0.0)] {
        let dense = train(&c, &batches, 4, Module);
        let sparse = train(&c, &batches, 4, Table(TableAdam::Lazy));
        let rows = |v: &[f32], r: usize| v[r * 3..r * 3 + 3].to_vec();
        for r in [2, 5] {
            assert!(close(&rows(&dense, r), &rows(&sparse, r)), "{c:?} row {r}");
        }
        // Dense decay moves every row; lazy decay leaves rows no batch used untouched.
        assert_ne!(rows(&dense, 0), rows(&init, 0), "{c:?}: dense decays row 0");
        for r in [0, 1, 3, 4] {
            assert_eq!(rows(&sparse, r), rows(&init, r), "{c:?} row {r}");
        }
    }
}

#[test]
fn rows_absent_from_a_step_keep_their_values_and_moments() {
    // Row 0 is used in step 0 only. Dense Adam keeps moving it on its momentum; lazy Adam does
    // not, and the moments it holds for row 0 stay those of step 0.
    let c = cfg(crate::config::OptimizerKind::Adam, 0.0, 0.0);
    let one = train(&c, &[vec![0, 1]], 1, Table(TableAdam::Lazy));
    let lazy = train(
        &c,
        &[vec![0, 1], vec![1], vec![1]],
        3,
        Table(TableAdam::Lazy),
    );
    let dense = train(&c, &[vec![0, 1], vec![1], vec![1]], 3, Module);
    assert_eq!(&lazy[0..3], &one[0..3]);
    assert_ne!(&dense[0..3], &one[0..3]);
}

#[test]
fn fused_dense_adam_equals_the_module_optimizer_on_every_row() {
    // Row 0 is in the first batch only, row 3 in none, rows 1 and 4 repeat within batches:
    // dense Adam moves every row every step (momentum, decay), and the fused pass must follow
    // the module optimizer on the dense gradient everywhere, for Adam and AdamW, with and
    // without decay and clipping.
    use crate::config::OptimizerKind::{Adam, Adamw};
    let batches = vec![vec![0, 1, 4, 4], vec![4, 1, 2], vec![1, 1, 5, 1]];
    let init = values(&table(&Device::flex().autodiff()));
    for c in [
        cfg(Adam, 0.0, 0.0),
        cfg(Adamw, 0.0, 0.0),
        cfg(Adam, 0.01, 0.0),
        cfg(Adamw, 0.01, 0.0),
        cfg(Adam, 0.01, 0.7),
    ] {
        for steps in [1, 2, 8] {
            let module = train(&c, &batches, steps, Module);
            let fused = train(&c, &batches, steps, Table(TableAdam::Dense));
            assert!(
                close(&module, &fused),
                "{c:?} {steps}\n{module:?}\n{fused:?}"
            );
            if steps == 8 {
                assert_ne!(
                    &fused[0..3],
                    &init[0..3],
                    "{c:?}: row 0 moves on its momentum"
                );
            }
        }
    }
}

#[test]
fn fused_dense_adam_splits_large_tables_over_threads_exactly() {
    // 3 × MIN_PART_ELEMENTS elements: the pass splits the rows over the machine's cores (one
    // part on a single core); rows at the ends of the parts and in between must follow the
    // module optimizer.
    let (width, rows) = (2, 3 * MIN_PART_ELEMENTS / 2);
    let part = rows.div_ceil(crate::backend::host_pass_threads().min(3));
    let at = |r: usize| r.min(rows - 1) as i64;
    let ad = Device::flex().autodiff();
    let batches = vec![
        vec![0, 1, at(rows - 1), at(part)],
        vec![at(part - 1), 17, 0, at(2 * part)],
    ];
    let c = cfg(crate::config::OptimizerKind::Adamw, 0.01, 0.0);
    let module = train_table(&c, table_of(rows, width, &ad), &batches, 3, Module);
    let fused = train_table(
        &c,
        table_of(rows, width, &ad),
        &batches,
        3,
        Table(TableAdam::Dense),
    );
    assert!(close(&module, &fused));
}

#[test]
fn fused_dense_adam_restores_exactly() {
    // Saving the moments after 3 steps and restoring them into a fresh optimizer continues
    // exactly as if nothing had stopped.
    let plain = Device::flex();
    let ad = plain.clone().autodiff();
    let c = cfg(crate::config::OptimizerKind::Adam, 0.0, 0.0);
    let run = |stop: Option<usize>| {
        let mut e = table(&ad);
        let mut adam = SparseAdam::new(&c);
        for s in 0..6 {
            if stop == Some(s) {
                let saved = adam.save_state();
                adam = SparseAdam::new(&c);
                adam.restore_state(&saved, &plain).unwrap();
            }
            let (rows, record) =
                SparseIndex::new(&[s as i64 % 6, 2], TableAdam::Dense, &plain).lookup(&e.weight);
            let mut grads = loss_of(rows, s).backward();
            e = adam.step(e, vec![record], &mut grads, 0.05);
        }
        values(&e)
    };
    assert_eq!(run(None), run(Some(3)));
}

#[test]
fn a_leaf_without_gradient_leaves_the_model_alone() {
    let plain = Device::flex();
    let ad = plain.clone().autodiff();
    let e = table(&ad);
    let before = values(&e);
    let (_unused, record) = SparseIndex::new(&[1, 2], TableAdam::Lazy, &plain).lookup(&e.weight);
    // A loss that does not depend on the looked-up rows.
    let other = Tensor::<1>::from_data(TensorData::new(vec![1.0f32], [1]), &ad).require_grad();
    let mut grads = (other.clone() * 2.0).backward();
    let mut lazy = SparseAdam::new(&TrainConfig::default());
    let e = lazy.step(e, vec![record], &mut grads, 0.1);
    assert_eq!(values(&e), before);
    assert_eq!(lazy.tables(), 0);
}

#[test]
fn every_vector_path_of_the_dense_pass_gives_the_same_bits() {
    // 37 rows of width 13 (no multiple of a vector width), every third row with a gradient,
    // moments around MOMENT_FLOOR among them: the AVX-512, AVX2 and portable builds of the pass
    // must agree bit for bit (same IEEE operations per element, no fused multiply-add).
    let k = AdamCoefficients {
        keep_1: 0.1,
        keep_2: 0.001,
        step: 0.003,
        epsilon: 1e-7,
        l2: 0.0,
        shrink: 2e-5,
    };
    let (n, w): (usize, usize) = (37, 13);
    let slot: Vec<u32> = (0..n)
        .map(|r| if r % 3 == 0 { (r / 3) as u32 } else { NONE })
        .collect();
    let grad: Vec<f32> = (0..n.div_ceil(3) * w)
        .map(|i| ((i * 7919) % 201) as f32 / 100.0 - 1.0)
        .collect();
    let start = |scale: f32| -> Vec<f32> {
        (0..n * w)
            .map(|i| scale * (1.0 + ((i * 104_729) % 97) as f32))
            .collect()
    };
    let rows = Rows {
        slot: &slot,
        grad: &grad,
        width: w,
    };
    type Pass<'a> = &'a dyn Fn(&mut [f32], &mut [f32], &mut [f32]);
    let run = |pass: Pass| {
        let (mut p, mut m, mut v) = (start(0.01), start(1e-32), start(1e-31));
        for _ in 0..5 {
            pass(&mut p, &mut m, &mut v);
        }
        [p, m, v].map(|t| t.iter().map(|x| x.to_bits()).collect::<Vec<u32>>())
    };
    let portable = run(&|p, m, v| k.rows_portable(&rows, p, m, v));
    assert_eq!(run(&|p, m, v| k.rows(&rows, p, m, v)), portable);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            let avx2 = run(&|p, m, v| unsafe { k.rows_avx2(&rows, p, m, v) });
            assert_eq!(avx2, portable);
        } else {
            eprintln!("skipped the AVX2 pass: this CPU has no AVX2");
        }
    }
    assert!(
        portable[1].contains(&0),
        "some moments fell below the floor"
    );
}
