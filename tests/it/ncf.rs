//! Offer recommendation (NCF): training on generated and MovieLens-format data, both ranking
//! protocols against popularity, customer features, cold start through segments and features,
//! determinism and the CLI.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use teleseg::backend::BackendChoice;
use teleseg::checkpoint::RunDir;
use teleseg::config::{self, Checked};
use teleseg::data::interactions::load_teleseg;
use teleseg::eval::ranking::{Scorer, rank_of};
use teleseg::models::ncf::infer::{ColdStart, NcfModel};
use teleseg::models::ncf::{NCF_DEFAULT, NcfJob};
use teleseg::models::ncf::{NcfReport, run_ncf_job};

use crate::common::{TRAINING, globals, run, serial, teleseg, tensor_bytes};

fn ranking_data() -> &'static Path {
    crate::common::dataset_3000()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The job on `interactions` (+ `offers`) with `extra` overrides.
fn job(interactions: &Path, offers: Option<&Path>, extra: &[&str]) -> Checked<NcfJob> {
    let mut o = vec![format!(
        "data.interactions={:?}",
        interactions.display().to_string()
    )];
    if let Some(p) = offers {
        o.push(format!("data.offers={:?}", p.display().to_string()));
    }
    o.extend(extra.iter().map(|s| s.to_string()));
    config::parse(NCF_DEFAULT, "test", &o).unwrap()
}

fn train(job: &Checked<NcfJob>) -> (tempfile::TempDir, RunDir, NcfReport) {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir {
        root: dir.path().join("run"),
    };
    std::fs::create_dir_all(&run.root).unwrap();
    let report = {
        let _guard = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
        run_ncf_job(job, &run, &globals(BackendChoice::Flex), false).unwrap()
    };
    (dir, run, report)
}

/// The overrides that give a job the customer table of `dir` (a generated data set), so the
/// model adds each customer's features to the user vectors.
fn customer_features(dir: &Path) -> [String; 2] {
    crate::common::customer_table(dir)
}

/// A generated data set with 200 offers (3000 customers, seed 11): with more than 100 unseen
/// offers per customer the sampled 1 + 99 protocol and full ranking differ.
fn dataset_200_offers() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    crate::common::generated_once(
        &DIR,
        "teleseg-it-offers200",
        &["--customers", "3000", "--offers", "200", "--seed", "11"],
    )
}

/// MF settings tuned on a different seed (see configs/ncf.toml).
const MF: &[&str] = &[
    "model.kind=\"mf\"",
    "model.init_std=0.1",
    "train.weight_decay=0.0001",
];

#[test]
fn neumf_and_mf_beat_popularity_under_both_protocols() {
    let data = ranking_data();
    let inter = data.join("interactions.csv");
    let offers = data.join("offers.csv");
    for (name, extra) in [("neumf", &[][..]), ("mf", MF)] {
        let (_d, run, r) = train(&job(&inter, Some(&offers), extra));
        let e = &r.evaluation;
        assert!(run.root.join("evaluation.json").is_file());
        eprintln!("{name} (3000 customers, seed 5):\n{e}");
        assert!(e.test_users > 2000, "{}", e.test_users);
        for (proto, m, p) in [
            ("sampled", &e.model_metrics.sampled, &e.popularity.sampled),
            ("full", &e.model_metrics.full, &e.popularity.full),
        ] {
            assert!(
                m.hr > p.hr + 0.015 && m.ndcg > p.ndcg + 0.015 && m.mrr > p.mrr + 0.01,
                "{name} {proto}: model {m:?} vs popularity {p:?}"
            );
        }
        assert!(
            e.model_metrics.coverage > e.popularity.coverage,
            "{name}: coverage {} vs popularity {}",
            e.model_metrics.coverage,
            e.popularity.coverage
        );
    }
}

/// With the customers' features in the user vectors, NeuMF and MF beat popularity by a wide
/// margin under both protocols, and beat the same models without features: with ~2 accepted
/// offers per customer the ids carry little beyond popularity, the features carry the taste.
#[test]
fn customer_features_clearly_beat_popularity_and_pure_cf() {
    let data = dataset_200_offers();
    let inter = data.join("interactions.csv");
    let offers = data.join("offers.csv");
    let feats = customer_features(data);
    for (name, extra) in [("neumf", &[][..]), ("mf", MF)] {
        let with: Vec<&str> = extra
            .iter()
            .copied()
            .chain(feats.iter().map(String::as_str))
            .collect();
        let (_d, run, r) = train(&job(&inter, Some(&offers), &with));
        let e = &r.evaluation;
        eprintln!("{name} + customer features (3000 customers, 200 offers, seed 11):\n{e}");
        let ck = teleseg::checkpoint::Checkpoint::read(&run.model(), Some("ncf")).unwrap();
        assert!(ck.has_tensor("user_features.weight") && ck.has_tensor("preprocess.numeric.mean"));
        assert_eq!(
            e.user_features,
            ck.meta_json::<serde_json::Value>("teleseg.model").unwrap()["user_features"]
                .as_u64()
                .unwrap() as usize
        );
        assert!(e.user_features > 0);
        // `evaluate ncf` reloads the model with its known customers' features: same figures.
        let again = serial(|| {
            teleseg::commands::ncf::evaluate_ncf(&run.root, None, &globals(BackendChoice::Flex))
                .unwrap()
        });
        assert_eq!(&again, e);
        let (_d2, _, pure) = train(&job(&inter, Some(&offers), extra));
        let p = &pure.evaluation;
        eprintln!("{name} without features:\n{p}");
        assert!(
            e.model_metrics.sampled != e.model_metrics.full,
            "200 offers: the protocols must differ"
        );
        for (proto, m, pop, cf) in [
            (
                "sampled",
                &e.model_metrics.sampled,
                &e.popularity.sampled,
                &p.model_metrics.sampled,
            ),
            (
                "full",
                &e.model_metrics.full,
                &e.popularity.full,
                &p.model_metrics.full,
            ),
        ] {
            assert!(
                m.hr > 1.25 * pop.hr && m.ndcg > 1.25 * pop.ndcg,
                "{name} {proto}: with features {m:?} vs popularity {pop:?}"
            );
            assert!(
                m.hr > cf.hr + 0.02 && m.ndcg > cf.ndcg + 0.01,
                "{name} {proto}: with features {m:?} vs without {cf:?}"
            );
        }
    }
}

#[test]
fn same_seed_same_model_and_evaluation() {
    let data = ranking_data();
    let inter = data.join("interactions.csv");
    let j = job(
        &inter,
        None,
        &[
            "train.epochs=2",
            "train.min_steps=0",
            "model.factors=4",
            "model.mlp_layers=[8, 4]",
        ],
    );
    train_twice(&j);
}

/// Trains `job` twice; both runs must give the same evaluation and a byte-identical
/// `model.safetensors`. Returns the first run's report.
fn train_twice(job: &Checked<NcfJob>) -> NcfReport {
    let (_a, run_a, ra) = train(job);
    let (_b, run_b, rb) = train(job);
    assert_eq!(ra.evaluation, rb.evaluation);
    assert!(
        std::fs::read(run_a.model()).unwrap() == std::fs::read(run_b.model()).unwrap(),
        "model.safetensors differ between two runs of one seed"
    );
    ra
}

#[test]
fn top_k_excludes_held_offers_and_ranks_by_score() {
    let data = ranking_data();
    let inter = data.join("interactions.csv");
    let (_d, run, _) = train(&job(&inter, None, &["train.epochs=2", "train.min_steps=0"]));
    let m =
        serial(|| NcfModel::load(&run.root, &globals(BackendChoice::Flex).backend.device).unwrap());
    let ix = load_teleseg(&inter, None).unwrap();
    assert_eq!(m.users, ix.users);
    let users = [0u32, 1, 2];
    let held: Vec<Vec<u32>> = users
        .iter()
        .map(|&u| {
            ix.events
                .iter()
                .filter(|e| e.user == u)
                .map(|e| e.item)
                .collect()
        })
        .collect();
    let top = m.top_k(&users, 5, &held);
    let all = m.score_users(&users);
    let n = m.n_items();
    for (r, list) in top.iter().enumerate() {
        assert_eq!(list.len(), 5);
        for w in list.windows(2) {
            assert!(w[0].1 >= w[1].1, "not sorted: {list:?}");
        }
        for &(item, score) in list {
            assert!(!held[r].contains(&item), "held offer {item} recommended");
            assert_eq!(score, all[r * n + item as usize]);
        }
        // Nothing outside the list (and not held) scores above the 5th.
        let fifth = list[4].1;
        for j in 0..n as u32 {
            if !held[r].contains(&j) && !list.iter().any(|x| x.0 == j) {
                assert!(all[r * n + j as usize] <= fifth);
            }
        }
    }
}

/// Reads `personas.csv` into `customer_id → persona`.
fn personas(dir: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(dir.join("personas.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap().to_string(), f.next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn cold_start_through_segments_beats_popularity_on_new_customers() {
    // Hold out every interaction of ~20 % of the customers (by id), train on the rest, then rank
    // all offers for the new customers from their persona alone.
    let data = ranking_data();
    let text = std::fs::read_to_string(data.join("interactions.csv")).unwrap();
    let is_new = |id: &str| id.bytes().map(u64::from).sum::<u64>() % 5 == 0;
    let dir = tempfile::tempdir().unwrap();
    let known_file = dir.path().join("interactions.csv");
    let mut kept = String::new();
    let mut new_accepts: HashMap<String, Vec<String>> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let id = line.split(',').next().unwrap();
        if i > 0 && is_new(id) {
            let f: Vec<&str> = line.split(',').collect();
            if f[3] == "accept" {
                new_accepts
                    .entry(id.to_string())
                    .or_default()
                    .push(f[1].to_string());
            }
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    std::fs::write(&known_file, kept).unwrap();
    assert!(new_accepts.len() > 300, "{}", new_accepts.len());
    let offers = data.join("offers.csv");
    let segments = personas(data);
    let mut seg_hr_of = HashMap::new();
    for (name, extra) in [("neumf", &[][..]), ("mf", MF)] {
        let (_d, run, _) = train(&job(&known_file, Some(&offers), extra));
        let m = serial(|| {
            NcfModel::load(&run.root, &globals(BackendChoice::Flex).backend.device).unwrap()
        });
        for id in new_accepts.keys() {
            assert!(m.user_row(id).is_none(), "{id} leaked into training");
        }
        let cold = ColdStart::fit(&m, &segments);
        assert_eq!(cold.segments.len(), 8);
        let item_row: HashMap<&str, u32> = m
            .items
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i as u32))
            .collect();
        // HR@5 of each new customer's accepted offers (every accept is a target; full ranking).
        let (mut seg_hits, mut pop_hits, mut n) = (0usize, 0usize, 0usize);
        for (id, accepts) in &new_accepts {
            let seg = cold.scores(&segments[id]);
            for offer in accepts {
                let t = item_row[offer.as_str()] as usize;
                let others = |s: &[f32]| {
                    let v: Vec<f32> = (0..s.len()).filter(|&j| j != t).map(|j| s[j]).collect();
                    rank_of(s[t], v)
                };
                seg_hits += usize::from(others(seg) <= 5);
                pop_hits += usize::from(others(&m.popularity) <= 5);
                n += 1;
            }
        }
        let (seg_hr, pop_hr) = (seg_hits as f64 / n as f64, pop_hits as f64 / n as f64);
        eprintln!(
            "cold start {name}: segment HR@5 {seg_hr:.4}, popularity {pop_hr:.4}, {n} accepts"
        );
        seg_hr_of.insert(name, seg_hr);
        assert!(
            seg_hr > pop_hr + 0.03,
            "{name}: segment HR@5 {seg_hr:.4} vs popularity {pop_hr:.4} over {n} accepts"
        );
        // An unknown segment falls back to popularity.
        assert_eq!(cold.scores("no such segment"), m.popularity.as_slice());
    }

    // With customer features, each new customer is ranked from their own features (plus their
    // segment's mean id row): better than the segment alone.
    let feats = customer_features(data);
    let extra: Vec<&str> = feats.iter().map(String::as_str).collect();
    let (_d, run, _) = train(&job(&known_file, Some(&offers), &extra));
    let m =
        serial(|| NcfModel::load(&run.root, &globals(BackendChoice::Flex).backend.device).unwrap());
    let cold = ColdStart::fit(&m, &segments);
    let ids: Vec<String> = new_accepts.keys().cloned().collect();
    let x = m
        .input
        .as_ref()
        .expect("a model with customer features")
        .rows_from_file(&data.join("customers.csv"), &Default::default(), &ids)
        .unwrap();
    assert_eq!(x.missing, 0);
    let segs: Vec<&str> = ids.iter().map(|id| segments[id].as_str()).collect();
    let lists = cold.top_k_with_features(&m, &segs, &x.data, 5, &[]);
    let (mut hits, mut n) = (0usize, 0usize);
    for (id, list) in ids.iter().zip(&lists) {
        assert_eq!(list.len(), 5);
        for offer in &new_accepts[id] {
            hits += usize::from(list.iter().any(|(j, _)| &m.items[*j as usize] == offer));
            n += 1;
        }
    }
    let hr = hits as f64 / n as f64;
    eprintln!("cold start neumf + customer features: HR@5 {hr:.4} over {n} accepts");
    assert!(
        hr > seg_hr_of["neumf"] + 0.03,
        "features HR@5 {hr:.4} vs segment only {:.4}",
        seg_hr_of["neumf"]
    );
}

#[test]
fn sparse_embedding_updates_learn_and_repeat_exactly() {
    // Lazy Adam on the batch's rows (what `auto` picks above 50 000 customers), forced on the
    // tiny MovieLens file with two planted taste groups that popularity cannot see.
    let j = job(
        &fixture("ml-tiny.dat"),
        None,
        &[
            "data.format=\"movielens\"",
            "model.embedding_updates=\"sparse\"",
            "model.init_std=0.1",
            "train.epochs=30",
            "train.patience=0",
            "train.batch_size=64",
        ],
    );
    let ra = train_twice(&j);
    let (m, p) = (
        &ra.evaluation.model_metrics.full,
        &ra.evaluation.popularity.full,
    );
    assert!(m.hr > p.hr + 0.1, "sparse: model {m:?} vs popularity {p:?}");
}

#[test]
fn movielens_file_trains_and_evaluates_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture("ml-tiny.dat");
    let (code, out, err) = run(teleseg()
        .args(["--backend", "flex", "train", "ncf"])
        .args(["--set", "data.format=movielens"])
        .arg("--set")
        .arg(format!(
            "data.interactions={:?}",
            data.display().to_string()
        ))
        .args(["--set", "train.epochs=30", "--set", "train.patience=0"])
        .args([
            "--set",
            "model.init_std=0.1",
            "--set",
            "train.batch_size=64",
        ])
        .arg("--set")
        .arg(format!("output.dir={:?}", dir.path().display().to_string()))
        .args(["--set", "output.run_name=\"ml\""]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("80 users, 40 items"), "{out}");
    let run_dir = dir.path().join("ml");
    for f in [
        "model.safetensors",
        "metrics.jsonl",
        "evaluation.json",
        "config.toml",
    ] {
        assert!(run_dir.join(f).is_file(), "{f} missing");
    }
    let (code, out, err) = run(teleseg()
        .args([
            "--backend",
            "flex",
            "evaluate",
            "ncf",
            "--k",
            "5",
            "--checkpoint",
        ])
        .arg(&run_dir));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("HR@5") && out.contains("full ranking"),
        "{out}"
    );
    // Two planted taste groups: the model must find them (popularity cannot).
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("evaluation.json")).unwrap())
            .unwrap();
    let hr = e["model_metrics"]["full"]["hr"].as_f64().unwrap();
    let pop = e["popularity"]["full"]["hr"].as_f64().unwrap();
    assert!(hr > pop + 0.1, "model HR@10 {hr} vs popularity {pop}");
}

#[test]
fn bad_interaction_files_and_configs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.dat");
    std::fs::write(&bad, "1::10::5::100\n1::11::five::101\n").unwrap();
    let (code, _, err) = run(teleseg()
        .args(["train", "ncf", "--set", "data.format=movielens"])
        .arg("--set")
        .arg(format!("data.interactions={:?}", bad.display().to_string()))
        .arg("--set")
        .arg(format!("output.dir={:?}", dir.path().display().to_string())));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.dat:2") && err.contains("rating"), "{err}");
    let (code, _, err) = run(teleseg().args(["train", "ncf", "--set", "model.factorz=8"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("factorz"), "{err}");
    let (code, _, err) = run(teleseg()
        .args(["evaluate", "ncf", "--checkpoint"])
        .arg(dir.path().join("nowhere")));
    assert_eq!(code, 2, "{err}");
    // A customer table without its schema, and one whose ids match no user of the interactions.
    let data = ranking_data();
    let customers = format!(
        "data.customers={:?}",
        data.join("customers.csv").display().to_string()
    );
    let (code, _, err) = run(teleseg().args(["train", "ncf", "--set", &customers]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("data.customers and data.schema"), "{err}");
    let (code, _, err) = run(teleseg()
        .args([
            "train",
            "ncf",
            "--set",
            "data.format=movielens",
            "--set",
            &customers,
        ])
        .arg("--set")
        .arg(format!(
            "data.schema={:?}",
            data.join("schema.toml").display().to_string()
        ))
        .arg("--set")
        .arg(format!(
            "data.interactions={:?}",
            fixture("ml-tiny.dat").display().to_string()
        ))
        .arg("--set")
        .arg(format!(
            "output.dir={:?}",
            dir.path().join("o2").display().to_string()
        )));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("customers.csv") && err.contains("none of the") && err.contains("ml-tiny.dat"),
        "{err}"
    );
}

#[test]
fn pipeline_adds_ncf_offers_for_every_customer() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = teleseg();
    cmd.args(["--backend", "flex", "pipeline"]);
    for s in crate::common::SMALL_PIPELINE
        .iter()
        .chain(&["output.run_name=\"p\""])
    {
        cmd.args(["--set", s]);
    }
    cmd.arg("--set")
        .arg(format!("output.dir={:?}", dir.path().display().to_string()));
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("offers:"), "{out}");
    let run_dir = dir.path().join("p");
    for f in [
        "ncf/model.safetensors",
        "ncf/evaluation.json",
        "ncf/metrics.jsonl",
    ] {
        assert!(run_dir.join(f).is_file(), "missing {f}");
    }
    // Every customer gets 10 offers, none already accepted; customers without an accept are
    // served through their DEC segment.
    let ix = load_teleseg(&run_dir.join("data/interactions.csv"), None).unwrap();
    let held: std::collections::HashSet<(String, String)> = ix
        .events
        .iter()
        .map(|e| {
            (
                ix.users[e.user as usize].clone(),
                ix.items[e.item as usize].clone(),
            )
        })
        .collect();
    let text = std::fs::read_to_string(run_dir.join("ncf/recommendations.csv")).unwrap();
    let mut per_customer: HashMap<String, usize> = HashMap::new();
    let mut sources: HashMap<String, usize> = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert!(
            !held.contains(&(f[0].to_string(), f[2].to_string())),
            "held offer recommended: {line}"
        );
        *per_customer.entry(f[0].to_string()).or_default() += 1;
        *sources.entry(f[4].to_string()).or_default() += 1;
    }
    assert_eq!(per_customer.len(), 600);
    assert!(per_customer.values().all(|&n| n == 10));
    assert!(
        sources.get("model").copied().unwrap_or(0) > 3000,
        "{sources:?}"
    );
    // The pipeline's NCF takes customer features: new customers are ranked from their own
    // features plus their segment's mean.
    assert!(
        sources.get("segment+features").copied().unwrap_or(0) > 0,
        "{sources:?}"
    );
    let ck =
        teleseg::checkpoint::Checkpoint::read(&run_dir.join("ncf/model.safetensors"), Some("ncf"))
            .unwrap();
    assert!(ck.has_tensor("user_features.weight"));
}

/// scripts/ncf_reference_scorer.py (numpy, written from docs/checkpoint-format.md section 4d)
/// reproduces teleseg's scores of every item for a few customers, for each model kind.
#[test]
fn numpy_reference_scorer_reproduces_scores() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import numpy, safetensors"])
        .output();
    if !matches!(probe, Ok(ref o) if o.status.success()) {
        eprintln!("SKIPPED ncf reference scorer: python3 with numpy + safetensors not available");
        return;
    }
    let data = ranking_data();
    let inter = data.join("interactions.csv");
    let cases = [
        ("neumf", false, false),
        ("mf", false, false),
        ("gmf", false, false),
        ("mlp", false, false),
        ("neumf", true, false),
        ("mlp", true, false),
        ("neumf", false, true),
        ("mf", false, true),
    ];
    let feats = customer_features(data);
    for (kind, item_bias, features) in cases {
        let k = format!("model.kind={kind:?}");
        let b = format!("model.item_bias={item_bias}");
        let mut extra = vec![
            k.as_str(),
            b.as_str(),
            "train.epochs=2",
            "train.min_steps=0",
        ];
        if features {
            extra.extend(feats.iter().map(String::as_str));
        }
        let (dir, run, _) = train(&job(&inter, None, &extra));
        let m = serial(|| {
            NcfModel::load(&run.root, &globals(BackendChoice::Flex).backend.device).unwrap()
        });
        let rows = [0u32, 7, 100];
        let ids: Vec<&str> = rows.iter().map(|&r| m.users[r as usize].as_str()).collect();
        let out = dir.path().join("ref.csv");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/ncf_reference_scorer.py"
        );
        let o = std::process::Command::new("python3")
            .arg(script)
            .arg("--checkpoint")
            .arg(run.model())
            .args(["--users", &ids.join(",")])
            .arg("--output")
            .arg(&out)
            .args(if features {
                vec![
                    "--customers".to_string(),
                    data.join("customers.csv").display().to_string(),
                ]
            } else {
                Vec::new()
            })
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let ours = m.score_users(&rows);
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').skip(1).collect();
        assert_eq!(
            header,
            m.items.iter().map(String::as_str).collect::<Vec<_>>()
        );
        let n = m.n_items();
        let mut worst = 0f64;
        for (r, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f[0], ids[r]);
            for (j, v) in f[1..].iter().enumerate() {
                let theirs: f64 = v.parse().unwrap();
                worst = worst.max((theirs - ours[r * n + j] as f64).abs());
            }
        }
        assert!(
            worst <= 1e-4,
            "{kind} item_bias {item_bias} features {features}: max |difference| {worst}"
        );
        assert_eq!(m.has_user_features(), features);
        if item_bias {
            let ck = teleseg::checkpoint::Checkpoint::read(&run.model(), Some("ncf")).unwrap();
            let e = ck.tensor("item_bias.weight", Some(&[n, 1])).unwrap();
            assert!(e.data.iter().any(|v| v.abs() > 1e-4), "item bias trained");
        }
    }
}

/// With `sampling.valid_metric = "hr"` the run's validation loss is `1 − HR@k` of the validation
/// items in full ranking (training positives excluded), and with `"rank"` the mean share of those
/// candidates that score at least as high as the item; both recomputed here from the best model.
#[test]
fn ranking_valid_metrics_report_what_they_name() {
    use teleseg::data::interactions::{PositiveSet, leave_last_out};
    let data = ranking_data();
    let inter = data.join("interactions.csv");
    let offers = data.join("offers.csv");
    for metric in ["hr", "rank"] {
        let set = format!("sampling.valid_metric={metric:?}");
        let extra = [
            set.as_str(),
            "sampling.k=5",
            "train.epochs=3",
            "train.min_steps=0",
        ];
        let (_d, run, r) = train(&job(&inter, Some(&offers), &extra));
        let m = serial(|| {
            NcfModel::load(&run.root, &globals(BackendChoice::Flex).backend.device).unwrap()
        });
        let ix = load_teleseg(&inter, Some(&offers)).unwrap();
        let split = leave_last_out(&ix);
        let known = PositiveSet::new(ix.users.len(), ix.items.len(), &split.train);
        let users: Vec<u32> = split.valid.iter().map(|p| p.0).collect();
        let scores = m.score_users(&users);
        let n = m.n_items();
        let (mut hits, mut share) = (0usize, 0.0f64);
        for (b, &(u, t)) in split.valid.iter().enumerate() {
            let s = &scores[b * n..(b + 1) * n];
            let candidates: Vec<u32> = (0..n as u32)
                .filter(|&j| j != t && !known.contains(u, j))
                .collect();
            let above = candidates
                .iter()
                .filter(|&&j| s[j as usize] >= s[t as usize])
                .count();
            hits += usize::from(above < 5);
            share += above as f64 / candidates.len() as f64;
        }
        let rows = split.valid.len() as f64;
        let expected = match metric {
            "hr" => 1.0 - hits as f64 / rows,
            _ => share / rows,
        };
        assert!(expected > 0.0 && expected < 0.95, "{metric}: {expected}");
        assert!(
            (r.best_valid_loss - expected).abs() < 1e-4,
            "{metric}: valid loss {} vs {expected}",
            r.best_valid_loss
        );
    }
}

/// Declined impressions as negatives train and evaluate end to end, and change the model.
#[test]
fn impression_negatives_train_and_differ_from_uniform() {
    let data = ranking_data();
    let inter = data.join("interactions.csv");
    let offers = data.join("offers.csv");
    let (_a, run_u, _) = train(&job(
        &inter,
        Some(&offers),
        &["train.epochs=2", "train.min_steps=0"],
    ));
    let extra = [
        "train.epochs=2",
        "train.min_steps=0",
        "sampling.impression_negatives=0.5",
    ];
    let (_b, run_i, ri) = train(&job(&inter, Some(&offers), &extra));
    assert!(ri.evaluation.model_metrics.full.hr > 0.0);
    let u = std::fs::read(run_u.model()).unwrap();
    let i = std::fs::read(run_i.model()).unwrap();
    assert!(u != i, "impression negatives changed nothing");
}

/// `train ncf --resume` continues exactly. Lazy Adam (sparse embedding updates) with a constant
/// learning rate: 2 epochs, then `--resume` to 4, gives the weights of 4 epochs in one go (the
/// embedding tables' moments are part of `last/`; restarted moments would differ). With GMF + MLP
/// pretraining, a run cut in the MLP pretraining (its folder and everything after it removed:
/// the state a kill in its first epoch leaves) resumes to the uninterrupted run's model.
#[test]
fn resume_continues_an_ncf_run_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture("ml-tiny.dat");
    let train = |name: &str, extra: &[&str]| {
        let (code, _, err) = run(teleseg()
            .args(["--backend", "flex", "-q", "train", "ncf"])
            .args(["--set", "data.format=movielens"])
            .arg("--set")
            .arg(format!(
                "data.interactions={:?}",
                data.display().to_string()
            ))
            .args(["--set", "model.embedding_updates=\"sparse\""])
            .args([
                "--set",
                "model.init_std=0.1",
                "--set",
                "train.batch_size=64",
            ])
            .args(["--set", "train.patience=0", "--set", "train.min_steps=0"])
            .args(["--set", "train.schedule=\"constant\""])
            .args(["--set", "train.warmup_epochs=0"])
            .args(extra)
            .arg("--set")
            .arg(format!("output.dir={:?}", dir.path().display().to_string()))
            .args(["--set", &format!("output.run_name={name:?}")]));
        assert_eq!(code, 0, "{name}: {err}");
    };
    let resume = |name: &str, extra: &[&str]| {
        let (code, _, err) = run(teleseg()
            .args(["--backend", "flex", "-q", "train", "ncf", "--resume"])
            .arg(dir.path().join(name))
            .args(extra));
        assert_eq!(code, 0, "resuming {name}: {err}");
    };
    let same = |a: &str, b: &str, files: &[&str]| {
        for f in files {
            let (x, y) = (
                tensor_bytes(&dir.path().join(a).join(f)),
                tensor_bytes(&dir.path().join(b).join(f)),
            );
            assert!(!x.is_empty());
            assert!(
                x == y,
                "{b}/{f}: the resumed run's weights differ from {a}'s"
            );
        }
    };

    train("full", &["--set", "train.epochs=4"]);
    train("part", &["--set", "train.epochs=2"]);
    assert!(
        dir.path()
            .join("part/last/sparse_optimizer.safetensors")
            .is_file()
    );
    resume("part", &["--set", "train.epochs=4"]);
    same(
        "full",
        "part",
        &["last/model.safetensors", "model.safetensors"],
    );

    let pretrain = ["--set", "model.pretrain=true", "--set", "train.epochs=2"];
    train("pre-full", &pretrain);
    train("pre-part", &pretrain);
    let part = dir.path().join("pre-part");
    std::fs::remove_dir_all(part.join("pretrain-mlp")).unwrap();
    std::fs::remove_dir_all(part.join("last")).unwrap();
    for f in ["model.safetensors", "metrics.jsonl", "evaluation.json"] {
        std::fs::remove_file(part.join(f)).unwrap();
    }
    resume("pre-part", &[]);
    same(
        "pre-full",
        "pre-part",
        &[
            "pretrain-gmf/model.safetensors",
            "pretrain-mlp/model.safetensors",
            "model.safetensors",
        ],
    );
}
