//! DEC / IDEC: recovery of planted clusters, the collapse guard, and the `train dec` / `score`
//! commands.

use burn::tensor::Device;
use teleseg::checkpoint::{Checkpoint, RunDir};
use teleseg::cluster::adjusted_rand_index;
use teleseg::config::{self, TrainConfig};
use teleseg::data::preprocess::{FeatureGroup, FeatureLayout, Features};
use teleseg::models::autoencoder::{AutoencoderArch, AutoencoderTask, embed};
use teleseg::models::autoencoder::{AutoencoderConfig, Noise};
use teleseg::models::dec::{self, Dec, DecTask};
use teleseg::models::dec::{DecConfig, DecMode};
use teleseg::progress::Progress;
use teleseg::train::{self, FitOptions, StopReason};

use crate::common::{TRAINING, dataset, run, small_dec_job, teleseg, tensor_bytes};

/// Four well-separated blobs in an 8-column "preprocessed" space: blob `c` sits at +4 on
/// columns `2c` and `2c+1` (0 elsewhere), plus uniform noise in ±0.5 from a fixed xorshift
/// stream. 100 rows each, interleaved.
fn blobs() -> (Features, Vec<usize>) {
    let (rows, cols) = (400, 8);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut data = Vec::with_capacity(rows * cols);
    let mut truth = Vec::with_capacity(rows);
    for i in 0..rows {
        let c = i % 4;
        truth.push(c);
        for j in 0..cols {
            let centre = if j / 2 == c { 4.0 } else { 0.0 };
            data.push(centre + noise());
        }
    }
    (Features { data, rows, cols }, truth)
}

fn numeric_layout(cols: usize) -> FeatureLayout {
    FeatureLayout {
        names: (0..cols).map(|j| format!("x{j}")).collect(),
        groups: (0..cols)
            .map(|index| FeatureGroup::Numeric {
                name: format!("x{index}"),
                index,
            })
            .collect(),
    }
}

fn loop_config(epochs: usize, batch_size: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        warmup_epochs: 0,
        min_steps: 0,
        patience: 0,
        schedule: config::Schedule::Constant,
        learning_rate: 3e-3,
        ..TrainConfig::default()
    }
}

/// Pretrains a small autoencoder on the blobs, then runs DEC with `cfg`. Returns the labels of
/// every row, the refreshes and the stop reason.
fn blob_dec(cfg: &DecConfig) -> (Vec<usize>, Vec<usize>, Vec<dec::Refresh>, StopReason) {
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let (x, truth) = blobs();
    let layout = numeric_layout(x.cols);
    let device = Device::flex();
    let ad = device.clone().autodiff();
    ad.seed(7);
    device.seed(7);
    let ae_cfg = AutoencoderConfig {
        hidden: vec![16],
        latent: 3,
        noise: Noise::None,
        ..AutoencoderConfig::default()
    };
    let arch = AutoencoderArch::new(x.cols, &ae_cfg);
    let dir = tempfile::tempdir().unwrap();
    let ae_run = RunDir {
        root: dir.path().join("ae"),
    };
    std::fs::create_dir_all(&ae_run.root).unwrap();
    let empty = Features {
        data: Vec::new(),
        rows: 0,
        cols: x.cols,
    };
    let mut ae_task = AutoencoderTask::new(&x, &empty, &layout, &ae_cfg, &device);
    let progress = Progress::hidden();
    let ae_train = loop_config(40, 32);
    let header = teleseg::checkpoint::Header::default();
    let fit_opts = |train, run, label| FitOptions {
        train,
        seed: 7,
        device: device.clone(),
        run,
        progress: &progress,
        label,
        stop_after_epochs: None,
        header: &header,
    };
    let ae = train::fit(
        &mut ae_task,
        arch.init(&ad),
        &fit_opts(&ae_train, &ae_run, "autoencoder"),
        None,
    )
    .unwrap()
    .last_model;

    let z = embed(&ae, &x, 1024, &device);
    let (ae, init) = dec::initialise(ae, &z, x.rows, arch.latent, cfg, 7).unwrap();
    // Back onto the autodiff device for the clustering phase.
    let ae_ad = burn::module::Module::fork(burn::module::Module::train(ae), &ad);
    let model = Dec::new(dec::trainable(ae_ad, cfg), &init.centroids, cfg.k, &ad);
    let dec_run = RunDir {
        root: dir.path().join("dec"),
    };
    std::fs::create_dir_all(&dec_run.root).unwrap();
    let mut task = DecTask::new(&x, &empty, cfg, None, &device);
    let outcome = train::fit(
        &mut task,
        model,
        &fit_opts(&cfg.train, &dec_run, "dec"),
        None,
    )
    .unwrap();
    let (_, q) = dec::assign_rows(&outcome.last_model, &x, cfg.alpha, 1024, &device);
    let (labels, _) = dec::argmax_rows(&q, cfg.k);
    (truth, labels, task.refreshes.clone(), outcome.stop)
}

fn blob_config() -> DecConfig {
    DecConfig {
        k: 4,
        mode: DecMode::Dec,
        update_interval: 13,
        n_init: 5,
        train: loop_config(8, 32),
        ..DecConfig::default()
    }
}

#[test]
fn dec_recovers_well_separated_blobs() {
    // The defaults (whitened start, fixed latent layer) and the paper's plain DEC.
    for (whiten, freeze) in [(true, true), (false, false)] {
        let cfg = DecConfig {
            whiten,
            freeze_latent_layer: freeze,
            ..blob_config()
        };
        let (truth, labels, refreshes, stop) = blob_dec(&cfg);
        let ari = adjusted_rand_index(&truth, &labels).unwrap();
        assert!(ari >= 0.95, "whiten {whiten}: ARI {ari} (stop {stop:?})");
        assert!(!refreshes.is_empty());
        assert!(refreshes.iter().all(|r| !r.collapse.collapsed));
    }
}

#[test]
fn step_hook_stops_training_on_convergence() {
    // With tol = 0.9 the second refresh (step 13) always counts as converged.
    let cfg = DecConfig {
        tol: 0.9,
        ..blob_config()
    };
    let (_, _, refreshes, stop) = blob_dec(&cfg);
    assert!(
        matches!(stop, StopReason::Converged { step: 13, .. }),
        "{stop:?}"
    );
    assert_eq!(refreshes.len(), 2);
}

#[test]
fn collapse_guard_flags_a_forced_collapse() {
    // Four balanced blobs hold 25 % each: a 20 % ceiling forces the guard to fire.
    let cfg = DecConfig {
        collapse_max_share: 0.2,
        ..blob_config()
    };
    let (_, _, refreshes, _) = blob_dec(&cfg);
    assert!(
        refreshes.iter().all(|r| r.collapse.collapsed),
        "{refreshes:?}"
    );
    assert!(refreshes[0].collapse.largest_share > 0.2);
}

/// `teleseg train dec` on the shared data set, then `teleseg score` on the run.
#[test]
fn train_dec_then_score_writes_segments() {
    let data = dataset();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = small_dec_job(
        &data.join("customers.csv"),
        &data.join("schema.toml"),
        dir.path(),
    );
    cmd.args(["--set", "dec.update_interval=3"]);
    let (code, train_out, err) = run(&mut cmd);
    assert_eq!(code, 0, "stdout {train_out}\nstderr {err}");
    let run_dir = dir.path().join("d");
    let ck = Checkpoint::read(&run_dir.join("model.safetensors"), Some(dec::KIND)).unwrap();
    let names: Vec<String> = ck.tensor_infos().into_iter().map(|t| t.0).collect();
    assert!(names.iter().any(|n| n == "centroids"), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n == "autoencoder.encoder.layers.0.weight")
    );
    assert!(run_dir.join("segments.json").is_file());
    let (code, out, err) = run(teleseg()
        .args(["evaluate", "clustering", "--run"])
        .arg(&run_dir)
        .arg("--labels")
        .arg(data.join("personas.csv")));
    assert_eq!(code, 0, "{err}");
    for m in ["dec", "kmeans_raw", "kmeans_embedding", "ACC", "NMI", "ARI"] {
        assert!(out.contains(m), "{out}");
    }
    // personas.csv lies beside the customers: segments.json holds every method's ACC / NMI, and
    // exactly the baselines ahead of DEC there are listed, warned about by `train dec` and by
    // `evaluate clustering`.
    let seg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("segments.json")).unwrap())
            .unwrap();
    let listed: Vec<&str> = seg["beaten_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["method"].as_str().unwrap())
        .collect();
    let dec_ext = &seg["methods"]["dec"]["external"];
    let score = |e: &serde_json::Value, k: &str| e[k].as_f64().unwrap();
    for (name, m) in seg["methods"].as_object().unwrap() {
        if name == "dec" {
            continue;
        }
        let e = &m["external"];
        let ahead = score(e, "acc") > score(dec_ext, "acc") + 0.005
            || score(e, "nmi") > score(dec_ext, "nmi") + 0.005;
        let warning = format!("WARNING: baseline {name} beats DEC");
        assert_eq!(listed.contains(&name.as_str()), ahead, "{name}: {seg:?}");
        assert_eq!(train_out.contains(&warning), ahead, "{name}: {train_out}");
        assert_eq!(out.contains(&warning), ahead, "{name}: {out}");
    }
    assert!(!train_out.contains("no true labels"), "{train_out}");

    let out_csv = dir.path().join("scores.csv");
    let (code, _, err) = run(teleseg()
        .args(["score", "--with-q", "--checkpoint"])
        .arg(&run_dir)
        .arg("--input")
        .arg(data.join("customers.csv"))
        .arg("--output")
        .arg(&out_csv));
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&out_csv).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        "customer_id,segment,confidence,q0,q1,q2,q3,z0,z1,z2,z3"
    );
    assert_eq!(text.lines().count(), 801);
    // The numpy reference scorer (docs/checkpoint-format.md §4b) agrees: same segments, q and z
    // within 1e-5.
    crate::cli::reference_scorer_matches(
        &run_dir.join("model.safetensors"),
        &data.join("customers.csv"),
        &out_csv,
    );
    // Streaming in chunks of 7 rows (not a divisor of 800) writes the same bytes.
    let chunked = dir.path().join("chunked.csv");
    let (code, _, err) = run(teleseg()
        .args(["score", "--with-q", "--chunk-rows", "7", "--checkpoint"])
        .arg(&run_dir)
        .arg("--input")
        .arg(data.join("customers.csv"))
        .arg("--output")
        .arg(&chunked));
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::read_to_string(&chunked).unwrap() == text,
        "chunked scoring differs from one-chunk scoring"
    );
    // A duplicate id in a later chunk: exit 2 naming both lines, and no output file.
    let mut dup = std::fs::read_to_string(data.join("customers.csv")).unwrap();
    let second = dup.lines().nth(1).unwrap().to_string();
    dup.push_str(&second);
    dup.push('\n');
    let dup_csv = dir.path().join("dup.csv");
    std::fs::write(&dup_csv, dup).unwrap();
    let dup_out = dir.path().join("dup_scores.csv");
    let (code, _, err) = run(teleseg()
        .args(["score", "--chunk-rows", "100", "--checkpoint"])
        .arg(&run_dir)
        .arg("--input")
        .arg(&dup_csv)
        .arg("--output")
        .arg(&dup_out));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(":802:") && err.contains("line 2"), "{err}");
    assert!(!dup_out.exists(), "partial output left behind");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")),
        "temporary file left behind"
    );
    // Refuses to overwrite without --force.
    let (code, _, _) = run(teleseg()
        .args(["score", "--checkpoint"])
        .arg(&run_dir)
        .arg("--input")
        .arg(data.join("customers.csv"))
        .arg("--output")
        .arg(&out_csv));
    assert_ne!(code, 0);
}

/// `train dec --resume` continues a run exactly, in either phase. The run is cut twice: in the
/// pretraining (after its first of two epochs: the state a kill leaves, the clustering phase's
/// files removed) and after the clustering phase's second of four epochs (with a target refresh
/// every 4 steps, so the resumed phase must train against the saved target distribution, not a
/// fresh one). Weights and segments end up those of the uninterrupted run, to the bit.
#[test]
fn resume_continues_a_dec_run_exactly() {
    let data = dataset();
    let dir = tempfile::tempdir().unwrap();
    let epochs = |ae: usize, dec: usize| {
        [
            format!("autoencoder.train.epochs={ae}"),
            format!("dec.train.epochs={dec}"),
        ]
        .into_iter()
        .flat_map(|s| ["--set".to_string(), s])
        .collect::<Vec<_>>()
    };
    let job = |name: &str, ae: usize, dec: usize| {
        let mut cmd = small_dec_job(
            &data.join("customers.csv"),
            &data.join("schema.toml"),
            dir.path(),
        );
        cmd.args(["--set", &format!("output.run_name={name:?}")])
            .args(["--set", "autoencoder.train.schedule=\"constant\""])
            .args(["--set", "dec.train.schedule=\"constant\""])
            .args(["--set", "dec.train.warmup_epochs=0"])
            .args(["--set", "dec.update_interval=4", "--set", "dec.tol=0"])
            .args(epochs(ae, dec));
        let (code, _, err) = run(&mut cmd);
        assert_eq!(code, 0, "{name}: {err}");
    };
    job("full", 2, 4);
    job("part", 1, 2);
    let part = dir.path().join("part");
    // Killed in the pretraining's second epoch: nothing of the clustering phase exists yet.
    for f in [
        "last",
        "model.safetensors",
        "metrics.jsonl",
        "segments.json",
    ] {
        let p = part.join(f);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    let resume = |ae: usize, dec: usize| {
        let (code, _, err) = run(teleseg()
            .args(["train", "dec", "--resume"])
            .arg(&part)
            .args(epochs(ae, dec)));
        assert_eq!(code, 0, "resume to {ae} + {dec} epochs: {err}");
    };
    resume(2, 2);
    let state = std::fs::read_to_string(part.join("last/training_state.json")).unwrap();
    assert!(state.contains("\"epochs_done\": 2"), "{state}");
    assert!(part.join("last/task_state.safetensors").is_file());
    resume(2, 4);
    let full = dir.path().join("full");
    for file in [
        "autoencoder/model.safetensors",
        "last/model.safetensors",
        "model.safetensors",
    ] {
        let (a, b) = (
            tensor_bytes(&full.join(file)),
            tensor_bytes(&part.join(file)),
        );
        assert!(!a.is_empty());
        assert!(a == b, "{file}: the resumed run's weights differ");
    }
    let labels = |d: &std::path::Path| {
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("segments.json")).unwrap()).unwrap();
        s["methods"]["dec"]["labels"].clone()
    };
    assert_eq!(labels(&full), labels(&part));
    assert_eq!(
        std::fs::read_to_string(part.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        4
    );
}
