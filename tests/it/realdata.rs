//! Smoke version of the real-data suite (`scripts/realdata/run.py`, docs/realdata.md): one small
//! public real table per family, teleseg with its defaults (only the id, k and the target said),
//! against the simplest baseline computed in Rust on the same run. The tables are read from
//! `../shared/data/` beside the checkout; where it is absent the tests say SKIPPED and pass.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use teleseg::models::dec::segments::{SegmentsFile, external};
use teleseg::models::ncf::EvaluationReport;
use teleseg::models::vae::QualityFile;

use crate::common::{run, teleseg};

/// `../shared/data/<name>`, or None (and a SKIPPED line) when the shared data is not there.
fn shared(name: &str, test: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(name);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIPPED {test}: {} not found", path.display());
        None
    }
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/realdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn set(key: &str, path: &Path) -> [String; 2] {
    [
        "--set".into(),
        format!("{key}={:?}", path.display().to_string()),
    ]
}

/// Satellite (UCI Statlog Landsat, 6 435 pixels, 36 band values, 6 land-cover classes): IDEC with
/// only `dec.k` set beats k-means++ on the same preprocessed features (`kmeans_raw`, computed by
/// teleseg in the same run) in Hungarian accuracy against the true classes.
/// Measured (seed 42): IDEC ACC 0.734, kmeans_raw 0.678.
#[test]
fn clustering_beats_kmeans_on_satellite() {
    let Some(data) = shared("satellite.csv", "clustering_beats_kmeans_on_satellite") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(teleseg()
        .args(["--seed", "42", "-q", "train", "dec"])
        .args(set("data.customers", &data))
        .args([
            "--set",
            &format!("data.schema={:?}", fixture("satellite.toml")),
        ])
        .args(["--set", "dec.k=6"])
        .args(set("output.dir", dir.path()))
        .args(["--set", "output.run_name=\"sat\""]));
    assert_eq!(code, 0, "{err}");
    let seg: SegmentsFile =
        serde_json::from_slice(&std::fs::read(dir.path().join("sat/segments.json")).unwrap())
            .unwrap();
    let mut rdr = csv::Reader::from_path(&data).unwrap();
    let label_col = rdr
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "label")
        .unwrap();
    let truth: HashMap<String, String> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[label_col].to_string())
        })
        .collect();
    let mut classes: Vec<&String> = truth.values().collect();
    classes.sort();
    classes.dedup();
    let index: HashMap<&String, usize> = classes.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let truth: Vec<usize> = seg.ids.iter().map(|id| index[&truth[id]]).collect();
    let acc = |method: &str| external(&truth, &seg.methods[method].labels).unwrap().acc;
    let (idec, kmeans) = (acc("dec"), acc("kmeans_raw"));
    eprintln!("satellite ACC: IDEC {idec:.3}, kmeans_raw {kmeans:.3}");
    assert!(idec > kmeans, "IDEC {idec:.3} vs k-means {kmeans:.3}");
}

/// IBM HR attrition (1 470 employees, 31 mixed columns): the VAE keeps the table's strong column
/// pairs (SDMetrics 0.32 pair trends, the pairs whose real association passes its thresholds)
/// clearly above the independent-marginals floor, copies no row, and writes the binary columns
/// in the input's own spelling (`Yes`/`No`), and a classifier trained on its rows predicts
/// attrition on the real test rows. Measured (seed 42) on teleseg's own 147-row test split:
/// pair trends 0.784 vs 0.694; TSTR AUC (teleseg's logistic regression) 0.695 vs 0.472 for the
/// marginals and 0.782 for the real train rows (0.617 with `vae.condition_on_target = false`);
/// the suite's 294-row holdout scored by the `sdmetrics` package gives 0.871 vs 0.654 pair trends.
#[test]
fn synthesis_keeps_strong_pairs_on_attrition() {
    let Some(data) = shared("attrition.csv", "synthesis_keeps_strong_pairs_on_attrition") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(teleseg()
        .args(["--seed", "42", "-q", "train", "vae"])
        .args(set("data.customers", &data))
        .args([
            "--set",
            &format!("data.schema={:?}", fixture("attrition.toml")),
        ])
        .args(set("output.dir", dir.path()))
        .args(["--set", "output.run_name=\"attr\""]));
    assert_eq!(code, 0, "{err}");
    let run_dir = dir.path().join("attr");
    let q: QualityFile =
        serde_json::from_slice(&std::fs::read(run_dir.join("synthetic_quality.json")).unwrap())
            .unwrap();
    let (vae, floor) = (&q.vae.quality, &q.independent_marginals.quality);
    eprintln!(
        "attrition pair trends: VAE {:.3}, independent marginals {:.3} ({} strong pairs)",
        vae.column_pair_trends, floor.column_pair_trends, vae.strong_pairs
    );
    assert!(vae.strong_pairs > 0);
    assert!(
        vae.column_pair_trends >= floor.column_pair_trends + 0.05,
        "VAE {:.3} vs marginals {:.3}",
        vae.column_pair_trends,
        floor.column_pair_trends
    );
    assert_eq!(q.vae.privacy.as_ref().unwrap().exact_copies, 0);
    // Utility: a classifier trained on the synthetic rows ranks the real test rows' attrition
    // (the VAE is conditioned on the target; without it this was 0.61 in the suite).
    let auc = |r: &teleseg::eval::synthetic::SyntheticReport| {
        r.utility.as_ref().map(|u| u.tstr.roc_auc).unwrap()
    };
    let (tstr, trtr, floor_tstr) = (
        auc(&q.vae),
        q.vae.utility.as_ref().unwrap().trtr.unwrap().roc_auc,
        auc(&q.independent_marginals),
    );
    eprintln!(
        "attrition TSTR AUC: VAE {tstr:.3}, independent marginals {floor_tstr:.3}, real train {trtr:.3}"
    );
    assert!(
        tstr >= 0.65 && tstr >= floor_tstr + 0.15,
        "TSTR AUC {tstr:.3} (marginals {floor_tstr:.3})"
    );
    let synthetic = std::fs::read_to_string(run_dir.join("synthetic.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(synthetic.as_bytes());
    let col = rdr
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "OverTime")
        .unwrap();
    let spelled: Vec<String> = rdr.records().map(|r| r.unwrap()[col].to_string()).collect();
    assert!(
        spelled
            .iter()
            .all(|v| v == "Yes" || v == "No" || v.is_empty()),
        "OverTime written as {:?}",
        &spelled[..5]
    );
}

/// MovieLens small (671 users, 9 066 movies, every rating an interaction): NeuMF with its defaults
/// ranks the held-out item above popularity in the sampled protocol (He et al. 2017).
/// Measured (seed 42): HR@10 0.629 vs 0.532.
#[test]
fn recommendation_beats_popularity_on_movielens() {
    let Some(data) = shared(
        "movielens_small.csv",
        "recommendation_beats_popularity_on_movielens",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(teleseg()
        .args(["--seed", "42", "-q", "train", "ncf"])
        .args(["--set", "data.format=\"movielens\""])
        .args(set("data.interactions", &data))
        .args(["--set", "data.rating_threshold=0.0"])
        .args(set("output.dir", dir.path()))
        .args(["--set", "output.run_name=\"ml\""]));
    assert_eq!(code, 0, "{err}");
    let e: EvaluationReport =
        serde_json::from_slice(&std::fs::read(dir.path().join("ml/evaluation.json")).unwrap())
            .unwrap();
    let (m, p) = (e.model_metrics.sampled.hr, e.popularity.sampled.hr);
    eprintln!("movielens sampled HR@10: NeuMF {m:.3}, popularity {p:.3}");
    assert!(m > p, "NeuMF {m:.3} vs popularity {p:.3}");
}
