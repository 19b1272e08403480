//! The `teleseg` binary as a user runs it: exit codes, messages, files left behind.

use std::path::{Path, PathBuf};

use crate::common::{dataset, run, small_pipeline as pipeline, teleseg};

const SCHEMA: &str = r#"
name = "tiny"
[[columns]]
name = "id"
role = "id"
[[columns]]
name = "minutes"
role = "numeric"
min = 0.0
[[columns]]
name = "plan"
role = "categorical"
[[columns]]
name = "roams"
role = "binary"
[[columns]]
name = "churn"
role = "target"
"#;

const GOOD: &str =
    "id,minutes,plan,roams,churn\nA,10.5,basic,0,0\nB,,premium,1,1\nC,3,basic,yes,0\n";

/// Writes schema + csv into a temp dir and runs `data check`.
fn check(csv: &[u8]) -> (i32, String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.toml"), SCHEMA).unwrap();
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    let (code, out, err) = run(teleseg()
        .args(["data", "check", "--schema"])
        .arg(dir.path().join("schema.toml"))
        .arg("--input")
        .arg(dir.path().join("in.csv")));
    (code, out, err, dir)
}

#[test]
fn generate_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let generate = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let (code, _, err) = run(teleseg()
            .args(["generate", "--customers", "300", "--seed", seed, "--out"])
            .arg(&out));
        assert_eq!(code, 0, "{err}");
        out
    };
    let (a, b, c) = (generate("a", "5"), generate("b", "5"), generate("c", "6"));
    for file in [
        "customers.csv",
        "offers.csv",
        "interactions.csv",
        "personas.csv",
        "schema.toml",
    ] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file} differs for the same seed"
        );
    }
    assert_ne!(
        std::fs::read(a.join("customers.csv")).unwrap(),
        std::fs::read(c.join("customers.csv")).unwrap()
    );
}

#[test]
fn data_check_summarizes_a_good_file() {
    let (code, out, err, _d) = check(GOOD.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("minutes") && out.contains("plan"), "{out}");
}

#[test]
fn data_check_on_generated_data_with_its_own_schema() {
    let d = dataset();
    let (code, out, err) = run(teleseg()
        .args(["data", "check", "--schema"])
        .arg(d.join("schema.toml"))
        .arg("--input")
        .arg(d.join("customers.csv")));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("800"),
        "summary should give the row count: {out}"
    );
}

/// Each malformed input: exit code 2, the file named, and the words of the rule.
#[test]
fn malformed_csv_inputs_are_clear_errors() {
    let cases: &[(&str, &[u8], &[&str])] = &[
        ("empty file", b"", &["in.csv"]),
        (
            "header only",
            b"id,minutes,plan,roams,churn\n",
            &["in.csv", "no data rows"],
        ),
        (
            "missing column",
            b"id,minutes,plan,churn\nA,1,basic,0\n",
            &["in.csv", "roams"],
        ),
        (
            "unknown column",
            b"id,minutes,plan,roams,churn,extra\nA,1,basic,0,0,9\n",
            &["in.csv", "extra"],
        ),
        (
            "text in numeric",
            b"id,minutes,plan,roams,churn\nA,ten,basic,0,0\n",
            &["in.csv:2", "minutes", "ten"],
        ),
        (
            "nan string",
            b"id,minutes,plan,roams,churn\nA,NaN,basic,0,0\n",
            &["in.csv:2", "minutes"],
        ),
        (
            "inf string",
            b"id,minutes,plan,roams,churn\nA,inf,basic,0,0\n",
            &["in.csv:2", "minutes"],
        ),
        (
            "overflow",
            b"id,minutes,plan,roams,churn\nA,1e999,basic,0,0\n",
            &["in.csv:2", "minutes"],
        ),
        (
            "below min",
            b"id,minutes,plan,roams,churn\nA,-5,basic,0,0\n",
            &["in.csv:2", "minutes"],
        ),
        (
            "bad binary",
            b"id,minutes,plan,roams,churn\nA,1,basic,maybe,0\n",
            &["in.csv:2", "roams", "maybe"],
        ),
        (
            "duplicate id",
            b"id,minutes,plan,roams,churn\nA,1,basic,0,0\nA,2,basic,0,0\n",
            &["in.csv", "A", "duplicate"],
        ),
        (
            "ragged row",
            b"id,minutes,plan,roams,churn\nA,1,basic\n",
            &["in.csv:2"],
        ),
        (
            "empty id",
            b"id,minutes,plan,roams,churn\n,1,basic,0,0\n",
            &["in.csv:2", "id"],
        ),
        (
            "invalid utf-8",
            b"id,minutes,plan,roams,churn\nA,1,ba\xffsic,0,0\n",
            &["in.csv", "UTF-8"],
        ),
    ];
    for (name, csv, needles) in cases {
        let (code, out, err, _d) = check(csv);
        assert_eq!(code, 2, "{name}: exit code {code}, stderr: {err}");
        assert!(
            out.is_empty(),
            "{name}: printed a summary for a bad file: {out}"
        );
        assert!(!err.contains("panicked"), "{name}: panicked: {err}");
        for n in *needles {
            assert!(err.contains(n), "{name}: stderr lacks `{n}`:\n{err}");
        }
    }
}

#[test]
fn bom_crlf_and_quoted_fields_are_accepted() {
    let csv = "\u{feff}id,minutes,plan,roams,churn\r\n\"A\",\"1,5\",basic,0,0\r\nB,2,\"pre, mium\",1,1\r\n";
    // "1,5" is not a number: the quoted comma must reach the numeric parser as one field.
    let (code, _, err, _d) = check(csv.as_bytes());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("1,5"), "{err}");
    let csv =
        "\u{feff}id,minutes,plan,roams,churn\r\n\"A\",1.5,basic,0,0\r\nB,2,\"pre, mium\",1,1\r\n";
    let (code, out, err, _d) = check(csv.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pre, mium"), "{out}");
}

#[test]
fn skip_mode_counts_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.toml"), SCHEMA).unwrap();
    let csv = "id,minutes,plan,roams,churn\nA,1,basic,0,0\nB,oops,basic,0,0\nC,2,basic,1,0\n";
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    let (code, out, err) = run(teleseg()
        .args(["data", "check", "--on-bad-row", "skip", "--schema"])
        .arg(dir.path().join("schema.toml"))
        .arg("--input")
        .arg(dir.path().join("in.csv")));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("skipped") || out.contains("Skipped"), "{out}");
}

#[test]
fn bad_schema_and_config_are_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("s.toml");
    std::fs::write(
        &schema,
        "[[columns]]\nname = \"id\"\nrole = \"id\"\nlog = true\n",
    )
    .unwrap();
    let (code, _, err) = run(teleseg()
        .args(["data", "check", "--schema"])
        .arg(&schema)
        .args(["--input", "x.csv"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("s.toml") && err.contains("log"), "{err}");

    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[train]\nepochz = 3\n").unwrap();
    let (code, _, err) = run(teleseg()
        .args(["train", "autoencoder", "--backend", "flex", "--config"])
        .arg(&cfg));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("c.toml") && err.contains("epochz"), "{err}");

    let (code, _, err) = run(teleseg().args([
        "train",
        "autoencoder",
        "--backend",
        "flex",
        "--set",
        "train.batch_size=0",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("train.batch_size must be at least 1"), "{err}");

    let (code, _, err) =
        run(teleseg().args(["train", "autoencoder", "--config", "/nonexistent/cfg.toml"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/cfg.toml"), "{err}");

    let (code, _, _) = run(teleseg().args(["pipeline", "--bogus-flag"]));
    assert_eq!(code, 2);
}

#[test]
fn pipeline_writes_a_bundle_that_inspect_embed_and_python_read() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = pipeline(dir.path(), "p", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("run folder"), "{out}");
    let run_dir = dir.path().join("p");
    for f in [
        "config.toml",
        "data/customers.csv",
        "autoencoder/model.safetensors",
        "autoencoder/metrics.jsonl",
        "autoencoder/last/training_state.json",
        "embeddings.csv",
        "dec/model.safetensors",
        "dec/segments.json",
        "dec/segments.csv",
        "vae/model.safetensors",
        "vae/synthetic.csv",
        "vae/holdout.csv",
        "vae/segments/segment-0.csv",
        "vae/synthetic_quality.json",
        "propensity/model.safetensors",
        "propensity/evaluation.json",
        "offer_propensity/model.safetensors",
        "offer_propensity/evaluation.json",
        "forecast/model.safetensors",
        "forecast/forecasts.csv",
        "forecast/evaluation.json",
        "policy/model.safetensors",
        "policy/evaluation.json",
        "policy/simulation.json",
        "dec/drift_reference.json",
        "summary.json",
        "report.html",
        "scores.csv",
    ] {
        assert!(run_dir.join(f).is_file(), "missing {f}");
    }
    report_renders(&run_dir);
    scores_match_recommendations(&run_dir);
    let quality: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("vae/synthetic_quality.json")).unwrap(),
    )
    .unwrap();
    assert!(
        quality["conditional_accuracy"].is_number(),
        "conditional samples scored by the dec model: {}",
        quality["conditional_accuracy"]
    );
    let segments: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("dec/segments.json")).unwrap())
            .unwrap();
    for m in ["dec", "kmeans_raw", "kmeans_embedding"] {
        let ari = &segments["methods"][m]["external"]["ari"];
        assert!(ari.is_number(), "{m}: {ari}");
    }
    assert!(segments["profiles"].is_object(), "no profiles");
    let drivers = segments["attributions"]["columns"]
        .as_array()
        .expect("attributions");
    assert_eq!(drivers.len(), 31, "one importance per raw column");
    assert!(
        drivers[0]["changed"].as_f64().unwrap() > 0.0,
        "{}",
        drivers[0]
    );
    assert!(
        drivers
            .iter()
            .all(|c| (0.0..=1.0).contains(&c["changed"].as_f64().unwrap()))
    );
    let sweep = &segments["sweep"];
    assert_eq!(
        sweep["rows"].as_array().map(Vec::len),
        Some(11),
        "k sweep 2..=12: {sweep}"
    );
    let k = sweep["recommended_k"].as_u64().expect("a recommended k");
    assert!((2..=12).contains(&k), "{k}");
    assert_eq!(
        std::fs::read_to_string(run_dir.join("embeddings.csv"))
            .unwrap()
            .lines()
            .count(),
        601
    );

    let (code, out, err) = run_inspect(&run_dir.join("autoencoder"));
    assert_eq!(code, 0, "{err}");
    for needle in [
        "kind         autoencoder",
        "encoder.layers.0.weight",
        "decoder.layers.2.bias",
        "preprocess.numeric.mean",
        "metrics (2 epochs)",
    ] {
        assert!(out.contains(needle), "inspect lacks `{needle}`:\n{out}");
    }

    // embed: raw CSV in, same number of rows out; refuses to overwrite without --force.
    let emb = dir.path().join("emb.csv");
    let embed = |extra: &[&str]| {
        run(teleseg()
            .args(["--backend", "flex", "embed", "--checkpoint"])
            .arg(run_dir.join("autoencoder"))
            .arg("--input")
            .arg(run_dir.join("data/customers.csv"))
            .arg("--output")
            .arg(&emb)
            .args(extra))
    };
    let (code, _, err) = embed(&[]);
    assert_eq!(code, 0, "{err}");
    let first = std::fs::read(&emb).unwrap();
    let (code, _, err) = embed(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&emb).unwrap(), first);
    assert_eq!(
        first,
        std::fs::read(run_dir.join("embeddings.csv")).unwrap(),
        "embed and the pipeline disagree"
    );

    // The same run name again without --force: exit 2, nothing lost.
    let (code, _, err) = pipeline(dir.path(), "p", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(run_dir.join("autoencoder/model.safetensors").is_file());

    python_opens(&run_dir.join("autoencoder/model.safetensors"));
    reference_scorer_matches(
        &run_dir.join("autoencoder/model.safetensors"),
        &run_dir.join("data/customers.csv"),
        &emb,
    );
    torch_loads_strictly(
        &run_dir.join("autoencoder/model.safetensors"),
        &run_dir.join("data/customers.csv"),
        &emb,
    );
}

/// scripts/torch_autoencoder.py builds the documented nn.Module, loads every tensor of the
/// checkpoint with `load_state_dict(strict=True)` and reproduces `teleseg embed` within 1e-5.
/// Skipped (and said so) where torch is not installed, as in CI.
fn torch_loads_strictly(model: &Path, input: &Path, ours: &Path) {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import torch, numpy, safetensors"])
        .output();
    if !matches!(probe, Ok(ref o) if o.status.success()) {
        eprintln!(
            "SKIPPED PyTorch strict load: python3 with torch + numpy + safetensors not available"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/torch_autoencoder.py"
        ))
        .arg("--checkpoint")
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(dir.path().join("torch.csv"))
        .arg("--compare")
        .arg(ours)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "torch_autoencoder.py: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The pipeline's `scores.csv` (`teleseg score` on the whole bundle) gives every customer a
/// segment, the same top offers as `ncf/recommendations.csv` (never an accepted one), a churn
/// probability, its lifetime value, three SHAP reasons and the take-up probability of each offer
/// category.
fn scores_match_recommendations(run_dir: &Path) {
    let mut recs: std::collections::HashMap<String, Vec<String>> = Default::default();
    let text = std::fs::read_to_string(run_dir.join("ncf/recommendations.csv")).unwrap();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        recs.entry(f[0].to_string())
            .or_default()
            .push(f[2].to_string());
    }
    let mut rdr = csv::Reader::from_path(run_dir.join("scores.csv")).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..3], ["customer_id", "segment", "confidence"]);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let (offers, risk, reason) = (col("offers"), col("churn_probability"), col("reason_3"));
    let ltv = col("lifetime_value");
    assert_eq!(ltv, risk + 1);
    let (arm, arm_p, arm_r) = (
        col("contact_arm"),
        col("contact_probability"),
        col("contact_expected_response"),
    );
    assert_eq!((arm_p, arm_r, header.len()), (arm + 1, arm + 2, arm + 3));
    let take_up: Vec<usize> = (reason + 1..arm).collect();
    assert_eq!(
        take_up.len(),
        8,
        "one column per offer category: {header:?}"
    );
    assert!(take_up.iter().all(|&j| header[j].ends_with("_propensity")));
    let mut n = 0;
    for r in rdr.records() {
        let r = r.unwrap();
        let list: Vec<String> = r[offers].split(' ').map(String::from).collect();
        assert_eq!(Some(&list), recs.get(&r[0]), "customer {}", &r[0]);
        let p: f64 = r[risk].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{r:?}");
        assert!(r[reason].contains('='), "{r:?}");
        assert!(r[ltv].parse::<f64>().unwrap() > 0.0, "{r:?}");
        for &j in &take_up {
            let p: f64 = r[j].parse().unwrap();
            assert!(p > 0.0 && p < 1.0, "{r:?}");
        }
        // The best offer's contact: a generator arm, a probability, an expected response.
        assert!(r[arm].contains('@'), "{r:?}");
        let p: f64 = r[arm_p].parse().unwrap();
        assert!(p > 0.0 && p <= 1.0, "{r:?}");
        assert!(r[arm_r].parse::<f64>().unwrap().is_finite(), "{r:?}");
        n += 1;
    }
    assert_eq!(n, 600, "every customer scored");
}

/// report.html names every section, has a chart per stage and passes scripts/check_report.py in
/// headless Chromium (skipped, and said so, without Chromium); `teleseg report` rebuilds it
/// byte for byte.
fn report_renders(run_dir: &Path) {
    let report = run_dir.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    for needle in [
        "<h2>Run summary</h2>",
        "<h2>Training curves</h2>",
        "<h2>Segments</h2>",
        "<h3>Personas</h3>",
        "<h3>Rules</h3>",
        "<h3>What drives the segment assignment</h3>",
        "<h2>Synthetic customers</h2>",
        "<h3>Real vs synthetic distributions</h3>",
        "<h2>Offer recommendation</h2>",
        "<h3>Example offers per segment</h3>",
        "<h2>Propensity: churn</h2>",
        "<h2>Contact policy</h2>",
        "<h3>Contact channel and time per segment</h3>",
        "Cumulative regret against the oracle",
        "<caption>Segment 0 (",
        "Content-Security-Policy",
    ] {
        assert!(html.contains(needle), "report lacks `{needle}`");
    }
    // Four training curves (autoencoder, dec, vae, ncf), sizes, map, k sweep, four real vs
    // synthetic distributions, churn calibration, gain, SHAP drivers and lifetime value per
    // segment, and the contact policy's arm shares and regret curves.
    assert_eq!(html.matches("<svg").count(), 17, "charts in the report");
    assert!(!html.contains("could not be drawn"), "a chart failed");
    std::fs::remove_file(&report).unwrap();
    let (code, out, err) = run(teleseg().arg("report").arg(run_dir));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("report.html"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        html,
        "report rebuilt differently"
    );
    let (code, _, err) = run(teleseg().arg("report").arg(run_dir.join("nope")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a run folder"), "{err}");

    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .any(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !chromium {
        eprintln!("SKIPPED: report check in headless Chromium (no chromium on PATH)");
        return;
    }
    let check = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/check_report.py"
        ))
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check_report.py failed:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

pub(crate) fn python_has_numpy() -> bool {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import numpy, safetensors"])
        .output();
    matches!(probe, Ok(ref o) if o.status.success())
}

/// scripts/reference_scorer.py (numpy + safetensors, written from docs/checkpoint-format.md
/// alone) reproduces `teleseg embed`: same ids in the same order, and every embedding within
/// float32 rounding (1e-5 relative to max(1, |z|): both sides accumulate 256-wide dot products
/// in f32, in different orders).
pub(crate) fn reference_scorer_matches(model: &Path, input: &Path, ours: &Path) {
    if !python_has_numpy() {
        eprintln!(
            "SKIPPED reference scorer parity: python3 with numpy + safetensors not available"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("ref.csv");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/reference_scorer.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg("--checkpoint")
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference scorer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parse = |p: &Path| -> Vec<(String, Vec<f64>)> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let mut it = l.split(',');
                let id = it.next().unwrap().to_string();
                (id, it.map(|v| v.parse().unwrap()).collect())
            })
            .collect()
    };
    let (a, b) = (parse(ours), parse(&theirs));
    assert_eq!(a.len(), b.len());
    let mut worst = 0.0f64;
    for ((ia, za), (ib, zb)) in a.iter().zip(&b) {
        assert_eq!(ia, ib);
        assert_eq!(za.len(), zb.len());
        for (x, y) in za.iter().zip(zb) {
            worst = worst.max((x - y).abs() / y.abs().max(1.0));
        }
    }
    assert!(
        worst <= 1e-5,
        "reference scorer differs by {worst} (relative)"
    );
}

fn run_inspect(p: &Path) -> (i32, String, String) {
    run(teleseg().arg("inspect").arg(p))
}

/// Python's `safetensors` (numpy) opens the file and sees the names and PyTorch-layout shapes.
fn python_opens(model: &Path) {
    if !python_has_numpy() {
        eprintln!(
            "SKIPPED python safetensors check: python3 with numpy + safetensors not available"
        );
        return;
    }
    let script = r#"
import sys, json
from safetensors.numpy import load_file
from safetensors import safe_open
t = load_file(sys.argv[1])
with safe_open(sys.argv[1], "numpy") as f:
    meta = f.metadata()
assert meta["teleseg.kind"] == "autoencoder", meta.keys()
arch = json.loads(meta["teleseg.model"])
w = t["encoder.layers.0.weight"]
assert w.shape == (arch["hidden"][0], arch["input"]), w.shape   # PyTorch layout [out, in]
assert t["decoder.layers.2.weight"].shape == (arch["input"], arch["hidden"][0])
assert t["preprocess.numeric.mean"].dtype.name == "float32"
print("ok", len(t))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_checkpoints_are_exit_code_2_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let input = dataset().join("customers.csv");
    let embed_with = |ck: &Path| {
        run(teleseg()
            .args(["--backend", "flex", "embed", "--checkpoint"])
            .arg(ck)
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(dir.path().join("out.csv")))
    };
    let text = dir.path().join("notes.safetensors");
    std::fs::write(&text, "this is not a checkpoint").unwrap();
    let (code, _, err) = embed_with(&text);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("notes.safetensors") && err.contains("not a valid safetensors"),
        "{err}"
    );
    assert!(
        !dir.path().join("out.csv").exists(),
        "partial output left behind"
    );

    let (code, _, err) = embed_with(&dir.path().join("missing-run"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing-run"), "{err}");
}

/// A telecom CSV with other column names trains by writing a schema only: rename every column
/// of the generated data (header and schema alike) and train on it.
#[test]
fn other_column_names_need_only_a_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (crm, schema) = renamed_dataset(dir.path());
    let (code, out, err) = run(teleseg()
        .args(["--backend", "flex", "train", "autoencoder"])
        .args([
            "--set",
            &format!("data.customers={:?}", crm.display().to_string()),
        ])
        .args([
            "--set",
            &format!("data.schema={:?}", schema.display().to_string()),
        ])
        .args([
            "--set",
            "train.epochs=1",
            "--set",
            "train.min_steps=0",
            "--set",
            "train.warmup_epochs=0",
            "--set",
            "model.hidden=[16]",
            "--set",
            "model.latent=3",
        ])
        .args([
            "--set",
            &format!("output.dir={:?}", dir.path().display().to_string()),
        ])
        .args(["--set", "output.run_name=\"crm\""]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("trained autoencoder"), "{out}");
    let (code, out, err) = run(teleseg().arg("inspect").arg(dir.path().join("crm")));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("features") && out.contains("(src_"),
        "features should carry the user's column names:\n{out}"
    );
}

/// The generated customers with every column renamed (`age` → `src_AGE`) and the schema edited
/// to match: a stand-in for a user's own CRM extract. Returns `(crm.csv, crm_schema.toml)`.
fn renamed_dataset(dir: &Path) -> (PathBuf, PathBuf) {
    let d = dataset();
    let csv = std::fs::read_to_string(d.join("customers.csv")).unwrap();
    let (header, body) = csv.split_once('\n').unwrap();
    let renamed: Vec<String> = header
        .split(',')
        .map(|c| format!("src_{}", c.to_uppercase()))
        .collect();
    let crm = dir.join("crm.csv");
    std::fs::write(&crm, format!("{}\n{body}", renamed.join(","))).unwrap();
    let mut schema = std::fs::read_to_string(d.join("schema.toml")).unwrap();
    for c in header.split(',') {
        for key in ["name", "numerator", "denominator"] {
            schema = schema.replace(
                &format!("{key} = \"{c}\""),
                &format!("{key} = \"src_{}\"", c.to_uppercase()),
            );
        }
    }
    let path = dir.join("crm_schema.toml");
    std::fs::write(&path, &schema).unwrap();
    (crm, path)
}

/// README "Bring your own data", as written, on a CSV with other column names: data check,
/// the pipeline on the user's files, teleseg score on new rows, and the numpy reference scorer
/// on the same bundle.
#[test]
fn bring_your_own_data_walkthrough() {
    let dir = tempfile::tempdir().unwrap();
    let (crm, schema) = renamed_dataset(dir.path());
    // 2. teleseg data check --schema my_schema.toml --input my_customers.csv
    let (code, out, err) = run(teleseg()
        .args(["data", "check", "--schema"])
        .arg(&schema)
        .arg("--input")
        .arg(&crm));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("src_DATA_GB"), "{out}");
    // 3. teleseg pipeline --set data.customers=... --set data.schema=...
    let (code, out, err) = pipeline(
        dir.path(),
        "mine",
        &[
            "--set",
            &format!("data.customers={:?}", crm.display().to_string()),
            "--set",
            &format!("data.schema={:?}", schema.display().to_string()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("report:"), "{out}");
    let run_dir = dir.path().join("mine");
    for f in [
        "dec/segments.json",
        "vae/synthetic.csv",
        "report.html",
        "scores.csv",
    ] {
        assert!(run_dir.join(f).is_file(), "missing {f}");
    }
    let synth = std::fs::read_to_string(run_dir.join("vae/synthetic.csv")).unwrap();
    assert!(
        synth.starts_with("src_CUSTOMER_ID,"),
        "synthetic data keeps the user's columns"
    );
    // 4. teleseg score --checkpoint checkpoints/<run> --input new_customers.csv --output scores.csv
    let new_rows: String = std::fs::read_to_string(&crm)
        .unwrap()
        .lines()
        .take(51)
        .map(|l| format!("{l}\n"))
        .collect();
    let new_csv = dir.path().join("new_customers.csv");
    std::fs::write(&new_csv, new_rows).unwrap();
    let scores = dir.path().join("scores.csv");
    let (code, _, err) = run(teleseg()
        .args(["--backend", "flex", "score", "--with-q", "--checkpoint"])
        .arg(&run_dir)
        .arg("--input")
        .arg(&new_csv)
        .arg("--output")
        .arg(&scores));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&scores).unwrap().lines().count(),
        51
    );
    // 5. python3 scripts/reference_scorer.py --checkpoint <run>/dec/model.safetensors ...
    reference_scorer_matches(&run_dir.join("dec/model.safetensors"), &new_csv, &scores);
}

/// Crash safety: SIGKILL a training at several moments; after each kill the newest checkpoint
/// loads and `--resume` goes on; the last resume runs to the end.
#[test]
fn training_survives_sigkill_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dataset();
    let train = |extra: &[&str]| {
        let mut c = teleseg();
        c.args(["--backend", "flex", "train", "autoencoder"]);
        for s in [
            "model.hidden=[32]",
            "model.latent=4",
            "train.warmup_epochs=0",
            "train.patience=0",
            "train.batch_size=64",
        ] {
            c.args(["--set", s]);
        }
        c.args(extra);
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let run_dir = dir.path().join("crash");
    let (code, _, err) = run(train(&[
        "--set",
        &format!(
            "data.customers={:?}",
            d.join("customers.csv").display().to_string()
        ),
        "--set",
        &format!(
            "data.schema={:?}",
            d.join("schema.toml").display().to_string()
        ),
        "--set",
        &format!("output.dir={:?}", dir.path().display().to_string()),
        "--set",
        "output.run_name=\"crash\"",
        "--set",
        "train.epochs=2",
        "--set",
        "train.min_steps=0",
    ])
    .stderr(std::process::Stdio::piped()));
    assert_eq!(code, 0, "{err}");
    // Each resumed run is killed at a fixed, spread-out moment (ms) after it has finished at
    // least one more epoch, so every kill lands after real progress however loaded the machine is.
    let epochs_done =
        || std::fs::read_to_string(run_dir.join("metrics.jsonl")).map_or(0, |m| m.lines().count());
    for delay in [0u64, 40, 130, 370, 610] {
        let before = epochs_done();
        let mut child = train(&[
            "--resume",
            run_dir.to_str().unwrap(),
            "--set",
            "train.epochs=100000",
        ])
        .spawn()
        .unwrap();
        let waited = std::time::Instant::now();
        while epochs_done() <= before {
            assert!(
                waited.elapsed().as_secs() < 300,
                "the resumed run finished no epoch in 5 minutes"
            );
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the resumed run exited on its own ({status})");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        let (code, out, err) = run(teleseg().arg("inspect").arg(&run_dir));
        assert_eq!(
            code, 0,
            "after a kill at {delay} ms the best checkpoint does not load: {err}"
        );
        assert!(out.contains("kind         autoencoder"));
        let last = ["last", "last.old"]
            .iter()
            .map(|n| run_dir.join(n).join("model.safetensors"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("no complete last/ after a kill at {delay} ms"));
        let (code, _, err) = run(teleseg().arg("inspect").arg(&last));
        assert_eq!(
            code,
            0,
            "after a kill at {delay} ms, {} does not load: {err}",
            last.display()
        );
    }
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    let epochs_before = metrics.lines().count();
    assert!(
        epochs_before > 2,
        "the killed runs never completed an epoch: the kills tested nothing"
    );
    let (code, _, err) = run(train(&[
        "--resume",
        run_dir.to_str().unwrap(),
        "--set",
        &format!("train.epochs={}", epochs_before + 2),
    ])
    .stderr(std::process::Stdio::piped()));
    assert_eq!(code, 0, "final resume failed: {err}");
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    assert!(
        metrics.lines().count() > epochs_before,
        "resume did not add epochs"
    );
}

/// The resume state of a run folder: a kill after it is written leaves something to resume.
const STATE: &str = "last/training_state.json";

/// Spawns `cmd` (output discarded) and SIGKILLs it as soon as `file` has at least `lines` lines;
/// returns false when the process ended on its own first.
fn kill_when(cmd: &mut std::process::Command, file: &Path, lines: usize) -> bool {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let waited = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if std::fs::read_to_string(file).map_or(0, |t| t.lines().count()) >= lines {
            break;
        }
        assert!(
            waited.elapsed().as_secs() < 300,
            "{} did not reach {lines} lines in 5 minutes",
            file.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

/// `teleseg pipeline --resume`: a pipeline SIGKILLed in its autoencoder, dec, vae and ncf
/// training stages (each kill right after the stage's first resume state is on disk), then
/// resumed to the end, writes the uninterrupted pipeline's models, segments, synthetic rows and scores,
/// to the bit. Nothing half-written is left in between: after every kill the finished stages'
/// models load.
#[test]
fn pipeline_survives_sigkill_in_every_training_stage() {
    let dir = tempfile::tempdir().unwrap();
    let epochs = [
        "--set",
        "autoencoder.train.epochs=6",
        "--set",
        "dec.train.epochs=6",
        "--set",
        "vae.train.epochs=6",
    ];
    let (code, _, err) = pipeline(dir.path(), "full", &epochs);
    assert_eq!(code, 0, "{err}");
    // The same command, started again and again: killed in each training stage in turn.
    let out = dir.path().to_path_buf();
    let cut = out.join("cut");
    let command = |resume: bool| {
        let mut cmd = teleseg();
        cmd.args(["--backend", "flex", "pipeline"]);
        if resume {
            cmd.arg("--resume").arg(&cut);
        } else {
            cmd.args(
                crate::common::SMALL_PIPELINE
                    .iter()
                    .flat_map(|s| ["--set", s]),
            )
            .args(epochs)
            .args([
                "--set",
                &format!("output.dir={:?}", out.display().to_string()),
            ])
            .args(["--set", "output.run_name=\"cut\""]);
        }
        cmd
    };
    let mut killed = 0;
    for (i, stage) in ["autoencoder", "dec", "vae", "ncf"].iter().enumerate() {
        if kill_when(&mut command(i > 0), &cut.join(stage).join(STATE), 1) {
            killed += 1;
        }
        for done in ["autoencoder", "dec", "vae"].iter().take(i) {
            let (code, _, err) = run(teleseg().arg("inspect").arg(cut.join(done)));
            assert_eq!(
                code, 0,
                "after the kill in {stage}, {done} does not load: {err}"
            );
        }
    }
    assert!(
        killed >= 2,
        "only {killed} kills found the pipeline running"
    );
    let (code, _, err) = run(&mut command(true));
    assert_eq!(code, 0, "final resume: {err}");
    let full = dir.path().join("full");
    for f in [
        "autoencoder/model.safetensors",
        "dec/model.safetensors",
        "vae/model.safetensors",
        "ncf/model.safetensors",
    ] {
        assert!(
            crate::common::tensor_bytes(&full.join(f)) == crate::common::tensor_bytes(&cut.join(f)),
            "{f}: the resumed pipeline's weights differ"
        );
    }
    for f in [
        "dec/segments.csv",
        "vae/synthetic.csv",
        "ncf/recommendations.csv",
        "scores.csv",
    ] {
        assert!(
            std::fs::read(full.join(f)).unwrap() == std::fs::read(cut.join(f)).unwrap(),
            "{f} differs from the uninterrupted pipeline's"
        );
    }
    assert!(cut.join("report.html").is_file());
}

/// `train dec --resume` after SIGKILLs in its pretraining and in its clustering phase gives the
/// uninterrupted run's weights and segments.
#[test]
fn dec_survives_sigkill_in_both_phases() {
    let dir = tempfile::tempdir().unwrap();
    let d = dataset();
    let job = |name: &str| {
        let mut cmd = crate::common::small_dec_job(
            &d.join("customers.csv"),
            &d.join("schema.toml"),
            dir.path(),
        );
        cmd.args(["--set", &format!("output.run_name={name:?}")])
            .args(["--set", "autoencoder.train.epochs=8"])
            .args([
                "--set",
                "dec.train.epochs=8",
                "--set",
                "dec.update_interval=4",
            ]);
        cmd
    };
    let (code, _, err) = run(&mut job("full"));
    assert_eq!(code, 0, "{err}");
    let cut = dir.path().join("cut");
    let resume = || {
        let mut cmd = teleseg();
        cmd.args(["train", "dec", "--resume"]).arg(&cut);
        cmd
    };
    let a = kill_when(&mut job("cut"), &cut.join("autoencoder").join(STATE), 1);
    let b = kill_when(&mut resume(), &cut.join(STATE), 1);
    assert!(a || b, "neither kill found the run running");
    let (code, _, err) = run(&mut resume());
    assert_eq!(code, 0, "{err}");
    for f in ["autoencoder/model.safetensors", "model.safetensors"] {
        assert!(
            crate::common::tensor_bytes(&dir.path().join("full").join(f))
                == crate::common::tensor_bytes(&cut.join(f)),
            "{f}: the resumed run's weights differ"
        );
    }
    let labels = |p: &Path| std::fs::read(p.join("segments.csv")).ok();
    assert_eq!(labels(&dir.path().join("full")), labels(&cut));
}

/// Rewrites a safetensors file: `edit` changes the parsed JSON header (tensor entries and
/// `__metadata__`); the header is re-serialized and padded, the data bytes are kept.
fn rewrite_header(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    edit(&mut header);
    let mut text = serde_json::to_vec(&header).unwrap();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// `train autoencoder` on `customers` + `schema` into `out/name`, 1 tiny epoch.
fn train_tiny_autoencoder(
    customers: &Path,
    schema: &Path,
    out: &Path,
    name: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut cmd = tiny_autoencoder(customers, schema, out);
    run(cmd
        .args(["--set", &format!("output.run_name={name:?}")])
        .args(extra))
}

/// `train autoencoder` on `customers` + `schema` into `out`, 1 tiny epoch, no run name.
fn tiny_autoencoder(customers: &Path, schema: &Path, out: &Path) -> std::process::Command {
    let set = |key: &str, value: String| ["--set".to_string(), format!("{key}={value:?}")];
    let mut cmd = teleseg();
    cmd.args(["--backend", "flex", "train", "autoencoder"])
        .args(set("data.customers", customers.display().to_string()))
        .args(set("data.schema", schema.display().to_string()))
        .args([
            "--set",
            "train.epochs=1",
            "--set",
            "train.min_steps=0",
            "--set",
            "train.warmup_epochs=0",
        ])
        .args(["--set", "model.hidden=[16]", "--set", "model.latent=3"])
        .args(set("output.dir", out.display().to_string()));
    cmd
}

#[test]
fn resuming_a_run_with_a_truncated_training_state_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let data = dataset();
    let (customers, schema) = (data.join("customers.csv"), data.join("schema.toml"));
    let (code, _, err) = train_tiny_autoencoder(&customers, &schema, &out, "ae", &[]);
    assert_eq!(code, 0, "{err}");
    let state = out.join("ae/last/training_state.json");
    let text = std::fs::read(&state).unwrap();
    std::fs::write(&state, &text[..text.len() / 2]).unwrap();
    let model = std::fs::read(out.join("ae/model.safetensors")).unwrap();
    let (code, _, err) = run(teleseg()
        .args(["--backend", "flex", "train", "autoencoder", "--resume"])
        .arg(out.join("ae")));
    assert_eq!(code, 2, "a damaged run folder is bad input: {err}");
    assert!(
        err.contains("training_state.json") && err.contains("line"),
        "names the file and the position: {err}"
    );
    assert_eq!(
        std::fs::read(out.join("ae/model.safetensors")).unwrap(),
        model,
        "the run is left as it was"
    );
}

#[test]
fn parallel_jobs_with_one_output_folder_never_share_a_run() {
    // Three processes started together, the same output folder, no run name: the default
    // `autoencoder-<UTC second>` names collide, and each job must still get its own folder.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let data = dataset();
    let (customers, schema) = (data.join("customers.csv"), data.join("schema.toml"));
    let children: Vec<_> = (0..3)
        .map(|_| {
            tiny_autoencoder(&customers, &schema, &out)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut runs: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 3, "{runs:?}");
    for r in &runs {
        assert!(r.starts_with("autoencoder-"), "{runs:?}");
        assert!(
            out.join(r).join("model.safetensors").is_file(),
            "{r}: complete"
        );
    }
}

#[test]
fn failed_jobs_leave_no_partial_run_and_keep_the_run_they_would_replace() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let data = dataset();
    let (customers, schema) = (data.join("customers.csv"), data.join("schema.toml"));
    let (code, _, err) = train_tiny_autoencoder(&customers, &schema, &out, "ae", &[]);
    assert_eq!(code, 0, "{err}");
    let model = std::fs::read(out.join("ae/model.safetensors")).unwrap();

    // The same customers with a text in a numeric column on line 3.
    let bad = dir.path().join("bad.csv");
    let text = std::fs::read_to_string(&customers).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let age = header.iter().position(|h| *h == "age").unwrap();
    let mut row: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    row[age] = "forty".into();
    lines[2] = row.join(",");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();

    // --force over the good run: the job fails on the data, and the old run is still there.
    let (code, _, err) = train_tiny_autoencoder(&bad, &schema, &out, "ae", &["--force"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.csv:3:") && err.contains("`age`"), "{err}");
    assert!(err.contains("previous run is back"), "{err}");
    assert_eq!(
        std::fs::read(out.join("ae/model.safetensors")).unwrap(),
        model,
        "the run --force would have replaced is back, unchanged"
    );
    // A fresh run that fails leaves no folder behind.
    let (code, _, err) = train_tiny_autoencoder(&bad, &schema, &out, "fresh", &[]);
    assert_eq!(code, 2, "{err}");
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["ae"], "no partial run, no hidden copy");

    // --force that succeeds replaces the run.
    let (code, _, err) = train_tiny_autoencoder(
        &customers,
        &schema,
        &out,
        "ae",
        &["--force", "--set", "model.latent=2"],
    );
    assert_eq!(code, 0, "{err}");
    assert_ne!(
        std::fs::read(out.join("ae/model.safetensors")).unwrap(),
        model
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}

/// The checkpoint and config rows of the bad-input matrix: each is exit code 2 with its own
/// message naming the file (and tensor or key), no panic, and no output file.
#[test]
fn bad_input_matrix_checkpoints_and_configs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset();
    let (code, _, err) = train_tiny_autoencoder(
        &data.join("customers.csv"),
        &data.join("schema.toml"),
        dir.path(),
        "ae",
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let good = std::fs::read(dir.path().join("ae/model.safetensors")).unwrap();
    let meta = |h: &mut serde_json::Value, key: &str, value: Option<&str>| {
        let m = h["__metadata__"].as_object_mut().unwrap();
        match value {
            Some(v) => m.insert(key.to_string(), v.into()),
            None => m.remove(key),
        };
    };
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            &["not a valid safetensors"],
        ),
        (
            "header length larger than the file",
            {
                let mut b = good.clone();
                b[..8].copy_from_slice(&(good.len() as u64 * 2).to_le_bytes());
                b
            },
            &["not a valid safetensors"],
        ),
        (
            "not a safetensors file",
            b"col_a,col_b\n1,2\n".to_vec(),
            &["not a valid safetensors"],
        ),
        (
            "wrong dtype",
            rewrite_header(&good, |h| {
                h["encoder.layers.0.weight"]["dtype"] = "I32".into()
            }),
            &["encoder.layers.0.weight", "dtype I32"],
        ),
        (
            "missing tensor",
            rewrite_header(&good, |h| {
                let t = h
                    .as_object_mut()
                    .unwrap()
                    .remove("encoder.layers.0.bias")
                    .unwrap();
                h["encoder.layers.0.bias_old"] = t;
            }),
            &["encoder.layers.0.bias", "missing"],
        ),
        (
            "another kind",
            rewrite_header(&good, |h| meta(h, "teleseg.kind", Some("ncf"))),
            &["`ncf` checkpoint", "`autoencoder` checkpoint is needed"],
        ),
        (
            "newer format version",
            rewrite_header(&good, |h| meta(h, "teleseg.format_version", Some("99"))),
            &["format version 99 is newer", "upgrade teleseg"],
        ),
        (
            "foreign safetensors (no teleseg metadata)",
            rewrite_header(&good, |h| meta(h, "teleseg.format_version", None)),
            &["not a teleseg checkpoint"],
        ),
    ];
    let out = dir.path().join("out.csv");
    for (name, bytes, needles) in cases {
        let ck = dir
            .path()
            .join(format!("{}.safetensors", name.replace(' ', "_")));
        std::fs::write(&ck, bytes).unwrap();
        let (code, _, err) = run(teleseg()
            .args(["--backend", "flex", "embed", "--checkpoint"])
            .arg(&ck)
            .arg("--input")
            .arg(data.join("customers.csv"))
            .arg("--output")
            .arg(&out));
        assert_eq!(code, 2, "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: panicked: {err}");
        assert!(
            err.contains(&*ck.file_name().unwrap().to_string_lossy()),
            "{name}: file not named: {err}"
        );
        for n in needles {
            assert!(err.contains(n), "{name}: message lacks {n:?}: {err}");
        }
        assert!(!out.exists(), "{name}: output written");
    }

    // Config rows: wrong type, negative learning rate, zero clusters, persona spread.
    let configs: [(&str, &[&str], &[&str]); 4] = [
        (
            "wrong type",
            &["train", "autoencoder", "--set", "train.epochs=\"ten\""],
            &["train.epochs", "ten"],
        ),
        (
            "negative learning rate",
            &["train", "autoencoder", "--set", "train.learning_rate=-0.1"],
            &["train.learning_rate must be positive"],
        ),
        (
            "zero clusters",
            &["train", "dec", "--set", "dec.k=0"],
            &["dec.k must be at least 2"],
        ),
        (
            "persona spread out of range",
            &["pipeline", "--set", "data.generate_persona_spread=9.0"],
            &["data.generate_persona_spread must be in (0, 4]"],
        ),
    ];
    for (name, args, needles) in configs {
        let (code, _, err) = run(teleseg().args(["--backend", "flex"]).args(args).args([
            "--set",
            &format!(
                "output.dir={:?}",
                dir.path().join("cfg").display().to_string()
            ),
        ]));
        assert_eq!(code, 2, "{name}: {err}");
        for n in needles {
            assert!(err.contains(n), "{name}: message lacks {n:?}: {err}");
        }
        assert!(
            !dir.path().join("cfg").exists(),
            "{name}: a run folder was created"
        );
    }

    // A numeric value beyond what the model can represent, at score time.
    let csv = std::fs::read_to_string(data.join("customers.csv")).unwrap();
    let mut lines: Vec<String> = csv.lines().take(4).map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header.iter().position(|h| *h == "household_size").unwrap();
    let mut cells: Vec<String> = lines[2].split(',').map(String::from).collect();
    cells[col] = "1e308".into();
    lines[2] = cells.join(",");
    let big = dir.path().join("big.csv");
    std::fs::write(&big, lines.join("\n") + "\n").unwrap();
    let (code, _, err) = run(teleseg()
        .args(["--backend", "flex", "embed", "--checkpoint"])
        .arg(dir.path().join("ae"))
        .arg("--input")
        .arg(&big)
        .arg("--output")
        .arg(&out));
    assert_eq!(code, 2, "1e308: {err}");
    assert!(
        err.contains("big.csv:3") && err.contains("household_size"),
        "1e308: {err}"
    );
    assert!(!out.exists(), "1e308: output written");
}

/// `teleseg bench` for the rows scripts/bench_vs_torch.py reads: one JSON line each, with a
/// positive finite rate and loss; a batch larger than the rows is a usage error.
#[test]
fn bench_prints_one_json_line_per_model() {
    for model in ["autoencoder", "vae", "dec", "ncf", "score"] {
        let (code, out, err) = run(teleseg().args([
            "--backend",
            "flex",
            "bench",
            model,
            "--rows",
            "512",
            "--input",
            "8",
            "--hidden",
            "16",
            "--latent",
            "4",
            "--k",
            "3",
            "--batch-size",
            "64",
            "--steps",
            "4",
            "--warmup",
            "1",
            "--users",
            "400",
            "--items",
            "30",
            "--factors",
            "4",
            "--mlp",
            "8,4",
            "--top",
            "5",
        ]));
        assert_eq!(code, 0, "{model}: {err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{model}: {out}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["model"], model);
        assert_eq!(v["steps"], 4);
        let rate = v["samples_per_s"].as_f64().unwrap();
        assert!(rate.is_finite() && rate > 0.0, "{model}: {out}");
        assert!(
            v["final_loss"].as_f64().unwrap().is_finite(),
            "{model}: {out}"
        );
    }
    let (code, _, _) =
        run(teleseg().args(["bench", "score", "--rows", "100", "--batch-size", "200"]));
    assert_ne!(code, 0);
}

/// A run name must be one plain folder name: each bad one is a usage error (exit 2) naming
/// `output.run_name`, raised before anything is touched (the runs beside it survive `--force`).
#[test]
fn run_name_must_be_one_plain_folder_name() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("keep");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::write(keep.join("model.safetensors"), b"x").unwrap();
    let abs = dir.path().join("abs").display().to_string();
    for name in ["", " ", ".", "..", "a/b", "..\\x", abs.as_str()] {
        let (code, out, err) = run(teleseg()
            .args(["train", "autoencoder", "--force", "--set"])
            .arg(format!("output.dir={:?}", dir.path().display().to_string()))
            .arg("--set")
            .arg(format!("output.run_name={name:?}")));
        assert_eq!(code, 2, "{name:?}: {out}\n{err}");
        assert!(err.contains("output.run_name"), "{name:?}: {err}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("keep")], "{name:?}");
        assert!(keep.join("model.safetensors").is_file());
    }
}

/// User mistakes that used to exit 1 now exit 2 with the path or key named, and leave no run
/// folder behind: a k above the rows, a missing labels file, a folder where a file is expected
/// (and the other way round), a run folder without segments.json, generating over data, a
/// table of one customer.
#[test]
fn path_and_size_mistakes_exit_2() {
    let data = dataset();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let afile = dir.path().join("afile");
    std::fs::write(&afile, b"x").unwrap();
    let empty_run = dir.path().join("empty-run");
    std::fs::create_dir_all(&empty_run).unwrap();
    let existing = dir.path().join("gen");
    let (code, _, err) = run(teleseg()
        .args(["generate", "--customers", "20", "--out"])
        .arg(&existing));
    assert_eq!(code, 0, "{err}");
    let set = |k: &str, p: &Path| format!("{k}={:?}", p.display().to_string());
    let customers = data.join("customers.csv");
    let schema = data.join("schema.toml");
    let mut dec = crate::common::small_dec_job(&customers, &schema, &out);
    dec.args(["--set", "dec.k=5000"]);
    let mut vae = teleseg();
    vae.args(["train", "vae", "--set", &set("data.customers", &customers)])
        .args(["--set", &set("data.schema", &schema)])
        .args(["--set", &set("vae.segments", &dir.path().join("nope.csv"))])
        .args(["--set", &set("output.dir", &out)]);
    // `train autoencoder` on `input` into `dir`.
    let train_ae = |input: &Path, dir: &Path| {
        let mut c = teleseg();
        c.args(["train", "autoencoder"])
            .args(["--set", &set("data.customers", input)])
            .args(["--set", &set("data.schema", &schema)])
            .args(["--set", &set("output.dir", dir)]);
        c
    };
    let mut folder_input = train_ae(data, &out);
    let mut file_output = train_ae(&customers, &afile);
    let mut evaluate = teleseg();
    evaluate
        .args(["evaluate", "clustering", "--run"])
        .arg(&empty_run)
        .arg("--labels")
        .arg(data.join("personas.csv"));
    let mut generate = teleseg();
    generate
        .args(["generate", "--customers", "20", "--out"])
        .arg(&existing);
    let one_row = dir.path().join("one.csv");
    let text = std::fs::read_to_string(&customers).unwrap();
    let mut lines = text.lines();
    std::fs::write(
        &one_row,
        format!("{}\n{}\n", lines.next().unwrap(), lines.next().unwrap()),
    )
    .unwrap();
    let mut one = train_ae(&one_row, &out);
    let mut score = teleseg();
    score
        .args(["score", "--checkpoint"])
        .arg(&empty_run)
        .arg("--input")
        .arg(&customers)
        .arg("--output")
        .arg(dir.path());
    let cases: Vec<(&str, &mut std::process::Command, &str)> = vec![
        ("dec.k above the rows", &mut dec, "dec.k = 5000"),
        (
            "missing labels file",
            &mut vae,
            "nope.csv: no such labels file",
        ),
        ("folder as the input", &mut folder_input, "Is a directory"),
        (
            "file as output.dir",
            &mut file_output,
            "is a file, not a folder",
        ),
        (
            "run without segments.json",
            &mut evaluate,
            "no segments.json",
        ),
        ("generate over data", &mut generate, "already exists"),
        ("folder as --output", &mut score, "is a folder"),
        ("one customer", &mut one, "a model needs at least 2"),
    ];
    for (what, cmd, expect) in cases {
        let (code, stdout, err) = run(cmd);
        assert_eq!(code, 2, "{what}: {stdout}\n{err}");
        assert!(err.contains(expect), "{what}: expected {expect:?} in {err}");
        let left = std::fs::read_dir(&out).map_or(0, |d| d.count());
        assert_eq!(
            left,
            0,
            "{what}: a run folder was left in {}",
            out.display()
        );
    }
}
