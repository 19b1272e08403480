//! Shared fixtures: a small generated data set and helpers to run the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use teleseg::backend::{self, BackendChoice};
use teleseg::commands::Globals;
use teleseg::progress::Progress;

/// A generated data set shared by the tests of this binary (read-only).
pub fn dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("teleseg-it-data")
            .tempdir()
            .unwrap()
            .keep();
        let status = teleseg()
            .args(["generate", "--customers", "800", "--seed", "11", "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "generate failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        dir
    })
}

/// A larger generated data set (3000 customers, 40 offers, seed 5), generated once per test
/// run: the VAE needs rows per persona, the ranking tests interactions per offer.
pub fn dataset_3000() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    generated_once(
        &DIR,
        "teleseg-it-data3000",
        &["--customers", "3000", "--seed", "5"],
    )
}

/// `teleseg generate ARGS` into a kept temporary folder named `prefix…`, once per test run.
pub fn generated_once(
    cell: &'static OnceLock<PathBuf>,
    prefix: &str,
    args: &[&str],
) -> &'static Path {
    cell.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .unwrap()
            .keep();
        let (code, _, err) = run(teleseg().arg("generate").args(args).arg("--out").arg(&dir));
        assert_eq!(code, 0, "generate failed: {err}");
        dir
    })
}

/// `--set` overrides naming the customer table and schema of a generated data set `dir`.
pub fn customer_table(dir: &Path) -> [String; 2] {
    [
        format!(
            "data.customers={:?}",
            dir.join("customers.csv").display().to_string()
        ),
        format!(
            "data.schema={:?}",
            dir.join("schema.toml").display().to_string()
        ),
    ]
}

/// Burn's RNG is process-global per backend, so two trainings in parallel threads of this test
/// binary would draw from one stream: tests that train in-process hold this lock.
pub static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` under [`TRAINING`]. For in-process work that draws from Burn's RNG without training:
/// loading a checkpoint builds the model first, and its (lazy) random initialisation runs when
/// the weights are replaced. Unlocked, such a load in one test thread shifts the random stream a
/// training in another thread is drawing from, and a same-seed test then sees two different
/// models (seen once: `ncf::sparse_embedding_updates_learn_and_repeat_exactly`).
pub fn serial<T>(f: impl FnOnce() -> T) -> T {
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    f()
}

/// `teleseg score --checkpoint RUN --input INPUT --output OUTPUT`.
pub fn score(checkpoint: &Path, input: &Path, output: &Path) -> (i32, String, String) {
    run(teleseg()
        .args(["score", "--checkpoint"])
        .arg(checkpoint)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output))
}

/// Every tensor of a safetensors file as (name, raw bytes), sorted by name: two files compare
/// equal exactly when their weights are the same to the bit.
pub fn tensor_bytes(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.data().to_vec()))
        .collect();
    out.sort();
    out
}

/// Pearson correlation of two equally long samples.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// The binary under test, quiet and without progress bars.
pub fn teleseg() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teleseg"));
    c.arg("--no-progress");
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

/// Runs and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Globals on a CPU backend with progress hidden.
pub fn globals(choice: BackendChoice) -> Globals {
    Globals {
        backend: backend::resolve(choice).unwrap(),
        progress: Progress::hidden(),
        seed: None,
    }
}

/// Small, fast training overrides used across tests.
pub const SMALL: &[&str] = &[
    "model.hidden=[32, 16]",
    "model.latent=4",
    "train.batch_size=128",
    "train.epochs=3",
    "train.min_steps=0",
    "train.warmup_epochs=0",
];

/// `teleseg train dec` on `customers` + `schema` into `out/d`: the [`SMALL`] autoencoder, k = 4,
/// 2 k-means restarts, 2 DEC epochs. Callers add their own `--set`s before running it.
pub fn small_dec_job(customers: &Path, schema: &Path, out: &Path) -> Command {
    let mut cmd = teleseg();
    cmd.args(["train", "dec"]);
    for (key, path) in [
        ("data.customers", customers),
        ("data.schema", schema),
        ("output.dir", out),
    ] {
        cmd.arg("--set")
            .arg(format!("{key}={:?}", path.display().to_string()));
    }
    cmd.args(["--set", "output.run_name=\"d\""]);
    for s in SMALL {
        cmd.args([
            "--set",
            &s.replace("model.", "autoencoder.model.")
                .replace("train.", "autoencoder.train."),
        ]);
    }
    cmd.args(["--set", "dec.k=4", "--set", "dec.n_init=2"])
        .args([
            "--set",
            "dec.train.epochs=2",
            "--set",
            "dec.train.min_steps=0",
        ]);
    cmd
}

/// The settings of [`small_pipeline`].
pub const SMALL_PIPELINE: &[&str] = &[
    "data.generate_customers=600",
    "autoencoder.train.epochs=2",
    "autoencoder.train.min_steps=0",
    "autoencoder.model.hidden=[32, 16]",
    "autoencoder.model.latent=4",
    "dec.k=4",
    "dec.n_init=2",
    "dec.train.epochs=2",
    "dec.train.min_steps=0",
    "vae.train.epochs=2",
    "vae.train.min_steps=0",
    "vae.model.hidden=[32]",
    "vae.sample.rows_per_segment=50",
];

/// `teleseg pipeline` on 600 generated customers with a tiny autoencoder (k = 4, 2 epochs per
/// stage) into `out/name`, plus `extra` arguments.
pub fn small_pipeline(out: &Path, name: &str, extra: &[&str]) -> (i32, String, String) {
    let mut cmd = teleseg();
    cmd.args(["--backend", "flex", "pipeline"]);
    for s in SMALL_PIPELINE {
        cmd.args(["--set", s]);
    }
    cmd.args([
        "--set",
        &format!("output.dir={:?}", out.display().to_string()),
    ]);
    cmd.args(["--set", &format!("output.run_name={name:?}")]);
    cmd.args(extra);
    run(&mut cmd)
}
