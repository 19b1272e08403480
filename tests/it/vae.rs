//! The tabular VAE: schema-valid samples, the quality report against the independent-marginals
//! baseline, conditional sampling, determinism, and the `sample` / `evaluate synthetic` CLI.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use teleseg::backend::BackendChoice;
use teleseg::checkpoint::RunDir;
use teleseg::config::{self, Checked};
use teleseg::data::reader::{ReadOptions, read_csv};
use teleseg::data::schema::{Role, Schema};
use teleseg::data::table::RawTable;
use teleseg::models::vae::{self, VaeJob};
use teleseg::models::vae::{VaeModel, VaeReport, run_vae_job};

use crate::common::{TRAINING, globals, pearson, run, teleseg, tensor_bytes};

fn data() -> &'static Path {
    crate::common::dataset_3000()
}

fn overrides(run_dir: &Path) -> Vec<String> {
    let d = data();
    let [customers, schema] = crate::common::customer_table(d);
    vec![
        customers,
        schema,
        format!(
            "vae.segments={:?}",
            d.join("personas.csv").display().to_string()
        ),
        "vae.hidden=[64, 64]".into(),
        "vae.latent=8".into(),
        "train.epochs=30".into(),
        "train.batch_size=128".into(),
        "train.patience=0".into(),
        "sample.rows_per_segment=300".into(),
        format!("output.dir={:?}", run_dir.display().to_string()),
    ]
}

/// One conditional VAE trained on the data set with the personas as segments (shared).
fn trained() -> &'static (PathBuf, VaeReport) {
    static RUN: OnceLock<(PathBuf, VaeReport)> = OnceLock::new();
    RUN.get_or_init(|| {
        let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap().keep();
        let o = overrides(&dir);
        let job: Checked<VaeJob> = config::parse(vae::VAE_DEFAULT, "test", &o).unwrap();
        let run_dir = RunDir {
            root: dir.join("vae"),
        };
        std::fs::create_dir_all(&run_dir.root).unwrap();
        let report = run_vae_job(&job, &run_dir, &globals(BackendChoice::Flex), false).unwrap();
        (run_dir.root, report)
    })
}

/// The generator's `personas.csv`: customer id → persona.
fn personas() -> HashMap<String, String> {
    std::fs::read_to_string(data().join("personas.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect()
}

fn schema() -> Schema {
    Schema::load(&data().join("schema.toml")).unwrap()
}

fn read(path: &Path) -> RawTable {
    read_csv(path, &schema(), &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .0
}

#[test]
fn samples_obey_the_schema() {
    let (run_dir, _) = trained();
    // The reader enforces the schema: column set, numbers, binary 0/1, min/max of each column.
    let synth = read(&run_dir.join("synthetic.csv"));
    let real = read(&data().join("customers.csv"));
    assert!(synth.n_rows() > 100);
    let schema = schema();
    for c in &schema.columns {
        match c.role {
            Role::Numeric => {
                let r = &real.numeric(&c.name).unwrap().values;
                let s = &synth.numeric(&c.name).unwrap().values;
                let (lo, hi) = r
                    .iter()
                    .filter(|x| !x.is_nan())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                        (l.min(x), h.max(x))
                    });
                for &x in s.iter().filter(|x| !x.is_nan()) {
                    assert!(x >= lo && x <= hi, "{}: {x} outside [{lo}, {hi}]", c.name);
                    if c.integer {
                        assert_eq!(x, x.round(), "{} is an integer column", c.name);
                    }
                }
            }
            Role::Categorical => {
                let r = real.categorical(&c.name).unwrap();
                let levels: HashSet<&String> = r.dictionary.iter().collect();
                let s = synth.categorical(&c.name).unwrap();
                for d in &s.dictionary {
                    assert!(levels.contains(d), "{}: unknown level {d}", c.name);
                }
            }
            Role::Target => {
                let s = synth.target(&c.name).unwrap();
                assert!(s.values.iter().flatten().all(|v| v == "0" || v == "1"));
            }
            _ => {}
        }
    }
    // Missingness is reproduced: the real data has missing cells, so does the sample.
    let missing = |t: &RawTable| {
        t.numeric
            .iter()
            .map(|c| c.values.iter().filter(|x| x.is_nan()).count())
            .sum::<usize>()
    };
    assert!(missing(&real) > 0);
    assert!(missing(&synth) > 0, "no missing values sampled");
    // Columns the real data leaves empty together (the usage block) stay together.
    let empty = |t: &RawTable, c: &str| -> Vec<bool> {
        t.numeric(c)
            .unwrap()
            .values
            .iter()
            .map(|x| x.is_nan())
            .collect()
    };
    assert_eq!(empty(&real, "voice_minutes"), empty(&real, "data_gb"));
    assert_eq!(empty(&synth, "voice_minutes"), empty(&synth, "data_gb"));
    assert!(empty(&synth, "voice_minutes").contains(&true));
    // Per-segment files exist, one per persona.
    let personas: HashSet<String> = std::fs::read_to_string(data().join("personas.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    for p in &personas {
        assert!(
            run_dir.join(format!("segments/segment-{p}.csv")).is_file(),
            "segment {p}"
        );
    }
}

#[test]
fn beats_independent_marginals_on_pair_trends_without_copies() {
    let (_, report) = trained();
    let q = &report.quality;
    let (vae, base) = (&q.vae.quality, &q.independent_marginals.quality);
    eprintln!(
        "pair trends: vae {:.3}, independent marginals {:.3}; quality {:.3} vs {:.3}",
        vae.column_pair_trends, base.column_pair_trends, vae.overall, base.overall
    );
    assert!(
        vae.column_pair_trends > base.column_pair_trends,
        "pair trends: vae {} vs marginals {}",
        vae.column_pair_trends,
        base.column_pair_trends
    );
    assert!(vae.overall > 0.8, "quality {}", vae.overall);
    let p = q.vae.privacy.as_ref().unwrap();
    assert_eq!(p.exact_copies, 0, "{p:?}");
    let u = q.vae.utility.as_ref().unwrap();
    assert_eq!(u.target, "churn");
    // Trained on synthetic rows, the classifier still ranks real churners: clearly above chance
    // and above the marginals baseline (which has no feature–churn relation at all).
    let b = q.independent_marginals.utility.as_ref().unwrap();
    assert!(u.tstr.roc_auc > 0.6, "{u:?}");
    assert!(u.tstr.roc_auc > b.tstr.roc_auc + 0.05, "{u:?} vs {b:?}");
}

/// Per persona, mean of every numeric column in standard units of the real data.
fn segment_means(
    t: &RawTable,
    schema: &Schema,
    seg: &[usize],
    k: usize,
    real: &RawTable,
) -> Vec<f64> {
    let mut out = Vec::new();
    for c in schema.columns.iter().filter(|c| c.role == Role::Numeric) {
        let r: Vec<f64> = real
            .numeric(&c.name)
            .unwrap()
            .values
            .iter()
            .copied()
            .filter(|x| !x.is_nan())
            .collect();
        let m = r.iter().sum::<f64>() / r.len() as f64;
        let sd = (r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / r.len() as f64)
            .sqrt()
            .max(1e-12);
        let v = &t.numeric(&c.name).unwrap().values;
        for s in 0..k {
            let xs: Vec<f64> = v
                .iter()
                .zip(seg)
                .filter(|(x, g)| **g == s && !x.is_nan())
                .map(|(x, _)| (x - m) / sd)
                .collect();
            out.push(xs.iter().sum::<f64>() / xs.len().max(1) as f64);
        }
    }
    out
}

#[test]
fn conditional_samples_shift_towards_their_segment() {
    let (run_dir, _) = trained();
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let m = VaeModel::load(run_dir, &burn::tensor::Device::flex()).unwrap();
    let schema = schema();
    let real = read(&data().join("customers.csv"));
    let personas = personas();
    let k = m.conditions.segments.labels.len();
    let real_seg: Vec<usize> = real
        .ids
        .iter()
        .map(|id| m.segment_index(&personas[id]).unwrap())
        .collect();
    // 300 samples per segment, each conditioned on its segment.
    let mut tables = Vec::new();
    let mut seg = Vec::new();
    for s in 0..k {
        let (t, segs) = m.sample(300, Some(s), 11 + s as u64, true);
        assert!(segs.iter().all(|&x| x == s));
        tables.push(t);
        seg.extend(segs);
    }
    let synth = teleseg::models::vae::concat(tables);
    let r = segment_means(&real, &schema, &real_seg, k, &real);
    let s = segment_means(&synth, &schema, &seg, k, &real);
    // Unconditional samples would put every segment mean near the overall mean (r ≈ 0); the
    // per-segment means of the conditional samples must follow the real ones.
    let rho = pearson(&r, &s);
    eprintln!("correlation of per-segment means, real vs conditional samples: {rho:.3}");
    assert!(
        rho > 0.8,
        "correlation of per-segment means, real vs synthetic: {rho}"
    );
}

/// The generated table's target (`churn`) is a condition of the VAE: samples of each persona carry
/// churn at that persona's real train rate (it differs a lot between personas), every target
/// cell is a real class, and the drawn class is what the file says.
#[test]
fn target_class_is_drawn_by_its_share_within_each_segment() {
    let (run_dir, _) = trained();
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let m = VaeModel::load(run_dir, &burn::tensor::Device::flex()).unwrap();
    let target = &m.conditions.target;
    assert_eq!(target.columns, vec!["churn".to_string()]);
    assert_eq!(m.arch.n_target_classes, target.classes.len());
    let yes = target
        .classes
        .iter()
        .position(|c| c[0].as_deref() == Some("1"))
        .expect("a churn = 1 class");
    // Real churn rate per persona over the whole file (train is 80 % of it).
    let real = read(&data().join("customers.csv"));
    let personas = personas();
    let churn = &real.targets[0].values;
    let k = m.conditions.segments.labels.len();
    let mut rates = Vec::new();
    for s in 0..k {
        let label = &m.conditions.segments.labels[s];
        let rows: Vec<usize> = (0..real.n_rows())
            .filter(|&r| &personas[&real.ids[r]] == label)
            .collect();
        let real_rate = rows
            .iter()
            .filter(|&&r| churn[r].as_deref() == Some("1"))
            .count() as f64
            / rows.len() as f64;
        let (t, _) = m.sample(2000, Some(s), 5 + s as u64, true);
        let cells = &t.targets[0].values;
        assert!(
            cells
                .iter()
                .all(|c| target.classes.iter().any(|k| k[0] == *c))
        );
        let rate = cells.iter().filter(|c| c.as_deref() == Some("1")).count() as f64 / 2000.0;
        eprintln!(
            "persona {label}: churn {rate:.3} in samples, {real_rate:.3} real, {:.3} train share",
            target.shares[s][yes]
        );
        // Binomial noise of 2 000 draws (sd ≤ 0.011) plus the train/all-rows difference.
        assert!(
            (rate - real_rate).abs() < 0.06,
            "persona {label}: {rate:.3} vs {real_rate:.3}"
        );
        rates.push(real_rate);
    }
    let spread = rates.iter().cloned().fold(f64::MIN, f64::max)
        - rates.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        spread > 0.15,
        "personas churn alike ({rates:?}): the test shows nothing"
    );
}

#[test]
fn sampling_is_deterministic_per_seed() {
    let (run_dir, _) = trained();
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let m = VaeModel::load(run_dir, &burn::tensor::Device::flex()).unwrap();
    let a = m.csv(&m.sample(200, None, 3, true).0);
    let b = m.csv(&m.sample(200, None, 3, true).0);
    let c = m.csv(&m.sample(200, None, 4, true).0);
    assert!(a == b, "same seed, different samples");
    assert!(a != c, "different seeds, same samples");
    // Filling missing cells: no empty numeric cell.
    let filled = m.sample(200, None, 3, false).0;
    assert!(
        filled
            .numeric
            .iter()
            .all(|c| c.values.iter().all(|x| !x.is_nan()))
    );
}

#[test]
fn sample_and_evaluate_synthetic_from_the_command_line() {
    let (run_dir, _) = trained();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.csv");
    let sample = |extra: &[&str]| {
        run(teleseg()
            .args(["--backend", "flex", "--seed", "9", "sample", "--checkpoint"])
            .arg(run_dir)
            .args(["--rows", "150", "--output"])
            .arg(&out)
            .args(extra))
    };
    let (code, _, err) = sample(&["--segment", "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 151);
    // Existing output without --force, an unknown segment: exit 2 with the rule named.
    let (code, _, err) = sample(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    let (code, _, err) = sample(&["--segment", "99", "--force"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a segment"), "{err}");

    let json = dir.path().join("q.json");
    let (code, stdout, err) = run(teleseg()
        .args(["evaluate", "synthetic", "--real"])
        .arg(run_dir.join("holdout.csv"))
        .arg("--synthetic")
        .arg(&out)
        .arg("--schema")
        .arg(data().join("schema.toml"))
        .arg("--train")
        .arg(data().join("customers.csv"))
        .arg("--output")
        .arg(&json));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("independent marginals"), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let q = v["synthetic"]["quality"]["overall"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&q), "{q}");

    // A malformed synthetic file is bad input: exit 2 naming the file.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "customer_id,age\nX1,abc\n").unwrap();
    let (code, _, err) = run(teleseg()
        .args(["evaluate", "synthetic", "--real"])
        .arg(run_dir.join("holdout.csv"))
        .arg("--synthetic")
        .arg(&bad)
        .arg("--schema")
        .arg(data().join("schema.toml")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.csv"), "{err}");
}

#[test]
fn unknown_vae_config_key_is_rejected() {
    let (code, _, err) = run(teleseg().args(["train", "vae", "--set", "vae.lattent=3"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lattent"), "{err}");
}

#[test]
fn same_seed_same_checkpoint() {
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut o = overrides(dir.path());
    o.extend([
        "train.epochs=2".to_string(),
        "train.min_steps=0".to_string(),
        "sample.rows=50".to_string(),
    ]);
    let job: Checked<VaeJob> = config::parse(vae::VAE_DEFAULT, "test", &o).unwrap();
    let train = |name: &str| {
        let run_dir = RunDir {
            root: dir.path().join(name),
        };
        std::fs::create_dir_all(&run_dir.root).unwrap();
        run_vae_job(&job, &run_dir, &globals(BackendChoice::Flex), false).unwrap();
        (
            std::fs::read(run_dir.model()).unwrap(),
            std::fs::read(run_dir.root.join("synthetic.csv")).unwrap(),
        )
    };
    let (a, b) = (train("a"), train("b"));
    assert!(a.0 == b.0, "same seed, different model.safetensors");
    assert!(a.1 == b.1, "same seed, different synthetic.csv");
}

/// scripts/reference_sampler.py (numpy, written from docs/checkpoint-format.md section 4c)
/// samples data of the same quality as `teleseg sample`: the document is enough to sample.
#[test]
fn numpy_reference_sampler_matches_in_distribution() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import numpy, safetensors"])
        .output();
    if !matches!(probe, Ok(ref o) if o.status.success()) {
        eprintln!("SKIPPED: python3 with numpy and safetensors is not available");
        return;
    }
    let (run_dir, _) = trained();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("py.csv");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference_sampler.py");
    let status = std::process::Command::new("python3")
        .arg(script)
        .arg(run_dir.join("model.safetensors"))
        .args(["1500"])
        .arg(&out)
        .arg("3")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let schema = schema();
    let holdout = read(&run_dir.join("holdout.csv"));
    let py = read(&out);
    let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let m = VaeModel::load(run_dir, &burn::tensor::Device::flex()).unwrap();
    let rs = m.sample(1500, None, 3, true).0;
    let q_py = teleseg::eval::synthetic::quality(&schema, &holdout, &py);
    let q_rs = teleseg::eval::synthetic::quality(&schema, &holdout, &rs);
    eprintln!(
        "quality: numpy sampler {:.3}, teleseg {:.3}",
        q_py.overall, q_rs.overall
    );
    assert!(
        (q_py.overall - q_rs.overall).abs() < 0.02,
        "{} vs {}",
        q_py.overall,
        q_rs.overall
    );
    assert!(
        (q_py.column_shapes - q_rs.column_shapes).abs() < 0.02,
        "{} vs {}",
        q_py.column_shapes,
        q_rs.column_shapes
    );
}

/// A VAE run trained without target conditioning (as every run before it existed; its
/// config.toml does not mention it) resumes with the conditioning its model has, not today's
/// default.
#[test]
fn resuming_keeps_the_models_own_conditioning() {
    let dir = tempfile::tempdir().unwrap();
    let d = crate::common::dataset();
    let [customers, schema] = crate::common::customer_table(d);
    let (code, _, err) = run(teleseg()
        .args(["--backend", "flex", "-q", "train", "vae"])
        .args(["--set", &customers, "--set", &schema])
        .args([
            "--set",
            "vae.condition_on_target=false",
            "--set",
            "vae.hidden=[16]",
        ])
        .args(["--set", "train.epochs=1", "--set", "train.min_steps=0"])
        .args(["--set", "train.warmup_epochs=0"])
        .args([
            "--set",
            &format!("output.dir={:?}", dir.path().display().to_string()),
        ])
        .args(["--set", "output.run_name=\"old\""]));
    assert_eq!(code, 0, "{err}");
    let run_dir = dir.path().join("old");
    let config = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    let old: String = config
        .lines()
        .filter(|l| !l.contains("condition_on_target"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(old, config);
    std::fs::write(run_dir.join("config.toml"), old).unwrap();
    let (code, _, err) = run(teleseg()
        .args(["--backend", "flex", "-q", "train", "vae", "--resume"])
        .arg(&run_dir)
        .args(["--set", "train.epochs=2"]));
    assert_eq!(code, 0, "{err}");
    let m = VaeModel::load(&run_dir.join("last"), &burn::tensor::Device::flex()).unwrap();
    assert_eq!(m.arch.n_target_classes, 0);
}

#[test]
fn resume_continues_a_vae_run_exactly() {
    // Four epochs in one go, and two epochs then `--resume` to four: the same weights to the
    // bit (constant learning rate: a cosine schedule depends on the configured epochs).
    let dir = tempfile::tempdir().unwrap();
    let d = crate::common::dataset();
    let set = |key: &str, value: String| ["--set".to_string(), format!("{key}={value:?}")];
    let train = |name: &str, epochs: usize| {
        run(teleseg()
            .args(["--backend", "flex", "-q", "train", "vae"])
            .args(set(
                "data.customers",
                d.join("customers.csv").display().to_string(),
            ))
            .args(set(
                "data.schema",
                d.join("schema.toml").display().to_string(),
            ))
            .args(set("output.dir", dir.path().display().to_string()))
            .args(set("output.run_name", name.to_string()))
            .args([
                "--set",
                "train.min_steps=0",
                "--set",
                "train.warmup_epochs=0",
            ])
            .args([
                "--set",
                "train.schedule=\"constant\"",
                "--set",
                "vae.hidden=[16]",
            ])
            .args(["--set", &format!("train.epochs={epochs}")]))
    };
    let (code, _, err) = train("full", 4);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = train("part", 2);
    assert_eq!(code, 0, "{err}");
    let part = dir.path().join("part");
    let before = std::fs::read_to_string(part.join("metrics.jsonl")).unwrap();
    let (code, _, err) = run(teleseg()
        .args(["--backend", "flex", "-q", "train", "vae", "--resume"])
        .arg(&part)
        .args(["--set", "train.epochs=4"]));
    assert_eq!(code, 0, "{err}");
    for file in ["last/model.safetensors", "model.safetensors"] {
        let (a, b) = (
            tensor_bytes(&dir.path().join("full").join(file)),
            tensor_bytes(&part.join(file)),
        );
        assert!(!a.is_empty());
        assert!(
            a == b,
            "{file}: resumed weights differ from the uninterrupted run's"
        );
    }
    let after = std::fs::read_to_string(part.join("metrics.jsonl")).unwrap();
    assert!(
        after.starts_with(&before),
        "the first two epochs were not trained again (their lines, wall times included, are kept)"
    );
    assert_eq!(
        after.lines().count(),
        4,
        "one metrics line per epoch, none repeated"
    );
}
