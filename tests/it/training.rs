//! The training loop, checkpoints and backends, driven through the library.

use std::path::{Path, PathBuf};

use burn::tensor::{Int, Tensor};
use teleseg::backend::{self, BackendChoice};
use teleseg::checkpoint::{Checkpoint, RunDir};
use teleseg::config::{self, Checked};
use teleseg::data::reader::ReadOptions;
use teleseg::job::RunControl;
use teleseg::models::autoencoder::run_autoencoder_job;
use teleseg::models::autoencoder::{self, AutoencoderJob};
use teleseg::models::autoencoder::{AutoencoderTask, features_tensor};
use teleseg::models::autoencoder::{EmbeddingModel, RawInput};
use teleseg::train::{StopReason, Task, TrainError};

use crate::common::{SMALL, TRAINING, dataset, globals, serial};

/// A job on the shared data set with the small overrides plus `extra`.
fn job(extra: &[&str]) -> Checked<AutoencoderJob> {
    let data = dataset();
    let mut o: Vec<String> = SMALL.iter().map(|s| s.to_string()).collect();
    o.push(format!(
        "data.customers={:?}",
        data.join("customers.csv").display().to_string()
    ));
    o.push(format!(
        "data.schema={:?}",
        data.join("schema.toml").display().to_string()
    ));
    o.extend(extra.iter().map(|s| s.to_string()));
    config::parse(autoencoder::AUTOENCODER_DEFAULT, "test", &o).unwrap()
}

fn fresh_run() -> (tempfile::TempDir, RunDir) {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir {
        root: dir.path().join("run"),
    };
    std::fs::create_dir_all(&run.root).unwrap();
    (dir, run)
}

fn train(
    job: &Checked<AutoencoderJob>,
    run: &RunDir,
    control: RunControl,
) -> anyhow::Result<teleseg::models::autoencoder::TrainReport> {
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    run_autoencoder_job(job, run, &control, &globals(BackendChoice::Flex))
}

fn bytes(p: PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Asserts two files are byte-identical, reporting the first differing offset (not the bytes).
fn assert_same_file(a: PathBuf, b: PathBuf, what: &str) {
    let (x, y) = (bytes(a), bytes(b));
    if x != y {
        let at = x
            .iter()
            .zip(&y)
            .position(|(p, q)| p != q)
            .unwrap_or(x.len().min(y.len()));
        panic!(
            "{what}: files differ at byte {at} (lengths {} and {})",
            x.len(),
            y.len()
        );
    }
}

#[test]
fn same_seed_gives_byte_identical_checkpoints() {
    let j = job(&["train.epochs=2", "train.min_steps=0"]);
    let (_a, run_a) = fresh_run();
    let (_b, run_b) = fresh_run();
    train(&j, &run_a, RunControl::default()).unwrap();
    train(&j, &run_b, RunControl::default()).unwrap();
    assert_same_file(run_a.model(), run_b.model(), "same seed");
    let other = job(&["train.epochs=2", "train.min_steps=0", "seed=43"]);
    let (_c, run_c) = fresh_run();
    train(&other, &run_c, RunControl::default()).unwrap();
    assert_ne!(bytes(run_a.model()), bytes(run_c.model()));
}

#[test]
fn resume_from_last_is_bit_exact() {
    // Cosine schedule, dropout and denoising noise: everything that could drift on resume.
    let j = job(&[
        "train.epochs=4",
        "train.schedule=\"cosine\"",
        "model.dropout=0.1",
        "train.patience=0",
    ]);
    let (_a, straight) = fresh_run();
    train(&j, &straight, RunControl::default()).unwrap();

    let (_b, interrupted) = fresh_run();
    train(
        &j,
        &interrupted,
        RunControl {
            resume: false,
            stop_after_epochs: Some(2),
        },
    )
    .unwrap();
    let report = train(
        &j,
        &interrupted,
        RunControl {
            resume: true,
            stop_after_epochs: None,
        },
    )
    .unwrap();
    assert_eq!(report.epochs_run, 4);
    assert_same_file(
        straight.last().join("model.safetensors"),
        interrupted.last().join("model.safetensors"),
        "resumed weights vs an uninterrupted run",
    );
    assert_same_file(
        straight.model(),
        interrupted.model(),
        "best model after resume",
    );
    let metrics = std::fs::read_to_string(interrupted.metrics()).unwrap();
    assert_eq!(
        metrics.lines().count(),
        4,
        "one metrics line per epoch after resume"
    );
}

#[test]
fn early_stopping_stops_when_validation_stalls() {
    // A learning rate this small cannot improve the validation loss by min_delta.
    let j = job(&[
        "train.epochs=10",
        "train.learning_rate=1e-12",
        "train.patience=2",
        "train.min_delta=0.01",
    ]);
    let (_d, run) = fresh_run();
    let r = train(&j, &run, RunControl::default()).unwrap();
    // Epoch 0 improves on +inf; epochs 1 and 2 do not → stop after epoch 2.
    assert_eq!(r.stop, StopReason::EarlyStopped { epoch: 2 });
    assert_eq!(r.epochs_run, 3);
    assert_eq!(r.best_epoch, 0);
}

#[test]
fn divergence_stops_training_and_keeps_the_last_good_checkpoint() {
    let (_d, run) = fresh_run();
    train(
        &job(&["train.epochs=1", "train.min_steps=0"]),
        &run,
        RunControl::default(),
    )
    .unwrap();
    let good = bytes(run.model());
    // Resume with an absurd learning rate and no clipping: the loss becomes inf/NaN.
    let bad = job(&[
        "train.epochs=3",
        "train.min_steps=0",
        "train.learning_rate=1e12",
        "train.grad_clip_norm=0",
        "train.optimizer=\"adam\"",
    ]);
    let err = train(
        &bad,
        &run,
        RunControl {
            resume: true,
            stop_after_epochs: None,
        },
    )
    .unwrap_err();
    let diverged = err.downcast_ref::<TrainError>().expect("a TrainError");
    assert!(
        matches!(diverged, TrainError::Diverged { epoch, .. } if *epoch >= 1),
        "{err}"
    );
    assert!(err.to_string().contains("NaN/inf"), "{err}");
    assert!(
        bytes(run.model()) == good,
        "the best checkpoint was overwritten by a diverged model"
    );
    Checkpoint::read(&run.last().join("model.safetensors"), Some("autoencoder")).unwrap();
}

fn trained_run() -> &'static Path {
    use std::sync::OnceLock;
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let run = RunDir {
            root: dir.join("run"),
        };
        std::fs::create_dir_all(&run.root).unwrap();
        train(
            &job(&["train.epochs=2", "train.min_steps=0"]),
            &run,
            RunControl::default(),
        )
        .unwrap();
        run.root
    })
}

fn embeddings_on(choice: BackendChoice) -> Vec<f32> {
    let b = backend::resolve(choice).unwrap();
    let model = trained_run().join("model.safetensors");
    let m = serial(|| EmbeddingModel::load(&model, &b.device).unwrap());
    let table = m
        .read(&dataset().join("customers.csv"), &ReadOptions::default())
        .unwrap();
    let f = m.features(&table).unwrap();
    m.embed(&f, 256)
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len());
    let max = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(max <= tol, "{what}: max abs difference {max} > {tol}");
}

#[test]
fn checkpoint_round_trip_gives_identical_embeddings() {
    let a = embeddings_on(BackendChoice::Flex);
    let b = embeddings_on(BackendChoice::Flex);
    assert_eq!(a, b);
    assert!(a.iter().all(|v| v.is_finite()));
}

#[test]
fn flex_and_ndarray_agree_on_the_same_checkpoint() {
    assert_close(
        &embeddings_on(BackendChoice::Flex),
        &embeddings_on(BackendChoice::Ndarray),
        1e-5,
        "flex vs ndarray embeddings",
    );
}

#[test]
fn wgpu_agrees_with_flex_where_an_adapter_exists() {
    match backend::wgpu_adapter() {
        Err(e) => eprintln!("SKIPPED wgpu parity: {e}"),
        Ok(a) => {
            // Serialized with the in-process trainings and the memory test (RSS is per process).
            // The shared run is trained first: its training takes the same lock.
            trained_run();
            let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!("wgpu parity on {} ({})", a.name, a.device_type);
            assert_close(
                &embeddings_on(BackendChoice::Flex),
                &embeddings_on(BackendChoice::Wgpu),
                1e-5,
                "flex vs wgpu embeddings",
            );
        }
    }
}

/// The loss of one fixed validation batch with the trained weights, on a backend.
fn batch_loss_on(choice: BackendChoice) -> f64 {
    let b = backend::resolve(choice).unwrap();
    let model = trained_run().join("model.safetensors");
    let m = serial(|| EmbeddingModel::load(&model, &b.device).unwrap());
    let table = m
        .read(&dataset().join("customers.csv"), &ReadOptions::default())
        .unwrap();
    let f = m.features(&table).unwrap();
    let cfg = job(&[]).model.clone();
    let task = AutoencoderTask::new(&f, &f, m.preprocessor.layout(), &cfg, &b.device);
    let rows = Tensor::<1, Int>::arange(0..256, &b.device);
    let loss = task.valid_loss(&m.model, rows);
    assert_eq!(features_tensor(&f, &b.device).dims(), [f.rows, f.cols]);
    loss.total.into_scalar::<f64>()
}

#[test]
fn one_step_loss_agrees_across_backends() {
    let flex = batch_loss_on(BackendChoice::Flex);
    let nd = batch_loss_on(BackendChoice::Ndarray);
    assert!(
        (flex - nd).abs() <= 1e-5 * flex.abs().max(1.0),
        "flex {flex} vs ndarray {nd}"
    );
    match backend::wgpu_adapter() {
        Err(e) => eprintln!("SKIPPED wgpu loss parity: {e}"),
        Ok(_) => {
            trained_run();
            let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
            let w = batch_loss_on(BackendChoice::Wgpu);
            assert!(
                (flex - w).abs() <= 1e-4 * flex.abs().max(1.0),
                "flex {flex} vs wgpu {w}"
            );
        }
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn inference_builds_no_autodiff_graph_and_memory_stays_flat() {
    let b = backend::resolve(BackendChoice::Flex).unwrap();
    let model = trained_run().join("model.safetensors");
    let m = serial(|| EmbeddingModel::load(&model, &b.device).unwrap());
    assert!(
        !m.model.encoder.layers[0].weight.val().is_autodiff(),
        "scoring model must not be on an autodiff device"
    );
    let table = m
        .read(&dataset().join("customers.csv"), &ReadOptions::default())
        .unwrap();
    let f = m.features(&table).unwrap();
    // RSS is per process: hold the lock that in-process trainings and wgpu tests take, so no
    // other test of this binary allocates during the measurement.
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    // Warm up allocator pools, then embed the data set 50 times in small batches.
    m.embed(&f, 64);
    let before = rss_kib();
    for _ in 0..50 {
        m.embed(&f, 64);
    }
    if let (Some(a), Some(b)) = (before, rss_kib()) {
        // 50 × 800 rows × 4 floats would be < 1 MB even if leaked as data; graphs leak far more.
        assert!(
            b.saturating_sub(a) < 64 * 1024,
            "RSS grew from {a} KiB to {b} KiB over 50 embedding passes"
        );
    }
}
