//! `teleseg evaluate policy`: off-policy estimates from bandit logs, on a world with a known
//! answer, on the real Open Bandit Dataset sample (where present), and on bad logs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{run, teleseg};

/// A 3-item, 2-slot world: click rates per (slot, item), a uniform logger and a target that
/// favours item 2; returns the two logs' CSV text (OBD layout) and the target's true value.
fn world(rounds: usize) -> (String, String, f64) {
    let ctr = [[0.05, 0.1, 0.4], [0.02, 0.05, 0.2]];
    let target = [0.1, 0.2, 0.7];
    let truth: f64 = (0..2)
        .map(|s| 0.5 * (0..3).map(|a| target[a] * ctr[s][a]).sum::<f64>())
        .sum();
    // A fixed-seed LCG keeps the test free of an RNG dependency and reproducible.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut write = |probs: [f64; 3]| {
        let mut text = String::from("timestamp,item_id,position,click,propensity_score\n");
        for i in 0..rounds {
            let slot = usize::from(uniform() < 0.5);
            let u = uniform();
            let item = if u < probs[0] {
                0
            } else if u < probs[0] + probs[1] {
                1
            } else {
                2
            };
            let click = u8::from(uniform() < ctr[slot][item]);
            writeln!(text, "{i:08},{item},{},{click},{}", slot + 1, probs[item]).unwrap();
        }
        text
    };
    let logged = write([1.0 / 3.0; 3]);
    let targeted = write(target);
    (logged, targeted, truth)
}

fn evaluate(log: &Path, target: &Path) -> (i32, Value, String) {
    let (code, out, err) = run(teleseg()
        .args([
            "evaluate",
            "policy",
            "--format",
            "obd",
            "--bootstrap",
            "300",
            "--log",
        ])
        .arg(log)
        .arg("--target-log")
        .arg(target));
    let json = serde_json::from_str(&out).unwrap_or(Value::Null);
    (code, json, err)
}

fn estimate<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["estimators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no estimator {name} in {json}"))
}

#[test]
fn estimates_a_known_target_value_within_every_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (logged, targeted, truth) = world(30_000);
    let (log, target) = (
        dir.path().join("uniform.csv"),
        dir.path().join("target.csv"),
    );
    std::fs::write(&log, logged).unwrap();
    std::fs::write(&target, targeted).unwrap();
    let (code, json, err) = evaluate(&log, &target);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json["rounds"], 30_000);
    assert_eq!(json["target_policy"]["source"], "logged_propensities");
    let names = ["dm", "ips", "snips", "dr", "sndr", "switch_dr", "dr_os"];
    for name in names {
        let e = estimate(&json, name);
        let (v, lo, hi) = (
            e["value"].as_f64().unwrap(),
            e["ci_low"].as_f64().unwrap(),
            e["ci_high"].as_f64().unwrap(),
        );
        assert!(lo <= v && v <= hi, "{name}: {e}");
        assert!(
            lo <= truth && truth <= hi,
            "{name} {e} misses the truth {truth}"
        );
    }
    let observed = json["target_observed_value"].as_f64().unwrap();
    assert!((observed - truth).abs() < 0.01, "{observed} vs {truth}");
    // Uniform logger over 3 items, target's largest probability 0.7: weights up to 2.1.
    let w = &json["weights"];
    assert!((w["max"].as_f64().unwrap() - 2.1).abs() < 1e-9, "{w}");
    assert_eq!(w["zero_weight_rounds"], 0);
}

/// `../shared/data/obd/<policy>/all.csv`, or None with a SKIPPED line.
fn obd(policy: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/obd")
        .join(policy)
        .join("all.csv");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIPPED obd off-policy test: {} not found", path.display());
        None
    }
}

#[test]
fn open_bandit_dataset_both_directions() {
    let (Some(random), Some(bts)) = (obd("random"), obd("bts")) else {
        return;
    };
    // BTS from the uniform-random log: BTS's propensities change over time, so they are
    // interpolated; its observed CTR (0.0042 from 42 clicks) must lie in DR's interval.
    let (code, json, err) = evaluate(&random, &bts);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json["rounds"], 10_000);
    assert_eq!(json["target_policy"]["source"], "interpolated_propensities");
    assert_eq!(json["target_policy"]["items"], 80);
    let truth = json["target_observed_value"].as_f64().unwrap();
    for name in ["ips", "dr", "sndr"] {
        let e = estimate(&json, name);
        assert!(
            e["ci_low"].as_f64().unwrap() <= truth && truth <= e["ci_high"].as_f64().unwrap(),
            "{name} {e} misses BTS's observed CTR {truth}"
        );
    }
    // The reverse: the uniform policy is stationary and read exactly from its propensities.
    let (code, json, err) = evaluate(&bts, &random);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json["target_policy"]["source"], "logged_propensities");
    let w = &json["weights"];
    assert!(
        w["max"].as_f64().unwrap() > 100.0,
        "BTS logged some items rarely: {w}"
    );
    assert!(w["ess_fraction"].as_f64().unwrap() < 0.2, "{w}");
}

#[test]
fn bad_logs_exit_2_naming_file_line_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "item_id,position,click,propensity_score\n0,1,0,0.5\n1,1,1,0.5\n",
    )
    .unwrap();
    let cases = [
        (
            "no_pscore.csv",
            "item_id,position,click\n0,1,0\n",
            "no column `propensity_score`",
        ),
        (
            "empty.csv",
            "item_id,position,click,propensity_score\n",
            "holds no rounds",
        ),
        (
            "zero.csv",
            "item_id,position,click,propensity_score\n0,1,0,0.5\n1,1,0,0\n",
            "line 3, column `propensity_score`: \"0\" is not a probability in (0, 1]",
        ),
        (
            "unknown_action.csv",
            "item_id,position,click,propensity_score\nshoe,1,0,0.5\n",
            "line 2, column `item_id`: \"shoe\" is not an item index",
        ),
    ];
    for (name, text, expect) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        for (log, target) in [(&path, &good), (&good, &path)] {
            let (code, _, err) = evaluate(log, target);
            assert_eq!(code, 2, "{name}: {err}");
            assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
        }
    }
    let (code, _, err) = evaluate(&dir.path().join("missing.csv"), &good);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(teleseg()
        .args(["evaluate", "policy", "--confidence", "1.5", "--log"])
        .arg(&good)
        .arg("--target-log")
        .arg(&good));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--confidence"), "{err}");
}

/// A generated data set with contacts, shared by the policy tests.
fn generated(customers: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(teleseg()
        .args([
            "generate",
            "--customers",
            &customers.to_string(),
            "--seed",
            "7",
            "--out",
        ])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    dir
}

fn data_sets(dir: &Path) -> Vec<String> {
    let q = |p: PathBuf| format!("{:?}", p.display().to_string());
    vec![
        "--set".into(),
        format!("data.customers={}", q(dir.join("customers.csv"))),
        "--set".into(),
        format!("data.schema={}", q(dir.join("schema.toml"))),
    ]
}

#[test]
fn train_policy_learns_from_contacts_and_estimates_its_value_off_policy() {
    let data = generated(8000);
    let out = tempfile::tempdir().unwrap();
    for algorithm in ["thompson", "linucb"] {
        let (code, stdout, err) = run(teleseg()
            .args(["train", "policy"])
            .args(data_sets(data.path()))
            .args(["--set", &format!("policy.algorithm=\"{algorithm}\"")])
            .args([
                "--set",
                "policy.bootstrap=200",
                "--set",
                "policy.samples=200",
            ])
            .args([
                "--set",
                &format!("output.dir={:?}", out.path().display().to_string()),
            ])
            .args(["--set", &format!("output.run_name=\"{algorithm}\"")]));
        assert_eq!(code, 0, "{err}");
        assert!(stdout.contains("true value"), "{stdout}");
        let run_dir = out.path().join(algorithm);
        let ev: Value = serde_json::from_str(
            &std::fs::read_to_string(run_dir.join("evaluation.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(ev["arms"].as_array().unwrap().len(), 24);
        let truth = &ev["truth"];
        let value = truth["policy"].as_f64().unwrap();
        // Learned from the legacy log, the policy beats choosing at random and the single best
        // arm chosen in hindsight.
        assert!(value > truth["uniform"].as_f64().unwrap() + 0.02, "{truth}");
        assert!(value > truth["best_fixed_arm"].as_f64().unwrap(), "{truth}");
        // Every estimate is a finite value inside its own interval; DR lands near the truth.
        for e in ev["estimates"]["estimators"].as_array().unwrap() {
            let (v, lo, hi) = (
                e["value"].as_f64().unwrap(),
                e["ci_low"].as_f64().unwrap(),
                e["ci_high"].as_f64().unwrap(),
            );
            assert!(lo <= v + 1e-9 && v <= hi + 1e-9, "{e}");
        }
        let dr = estimate(&ev["estimates"], "dr")["value"].as_f64().unwrap();
        assert!((dr - value).abs() < 0.08, "DR {dr} vs true {value}");
        // The checkpoint holds the arm models and the preprocessing.
        let (code, inspect, err) = run(teleseg().arg("inspect").arg(&run_dir));
        assert_eq!(code, 0, "{err}");
        assert!(
            inspect.contains("policy.theta") && inspect.contains("preprocess."),
            "{inspect}"
        );
        // The report shows the estimates beside the truth.
        let (code, _, err) = run(teleseg().arg("report").arg(&run_dir));
        assert_eq!(code, 0, "{err}");
        let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
        assert!(html.contains("Contact policy") && html.contains("covers the truth"));
        assert!(html.contains("<svg"), "the arm-share chart");
        // With the generator's truth, the run also learns online from scratch: regret curves
        // for Thompson sampling, LinUCB and the baselines, in simulation.json and the report.
        let sim: Value = serde_json::from_str(
            &std::fs::read_to_string(run_dir.join("simulation.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(sim["rounds"], 2000);
        let names: Vec<&str> = sim["policies"]
            .as_array()
            .unwrap()
            .iter()
            .chain(sim["baselines"].as_array().unwrap())
            .map(|r| r["policy"].as_str().unwrap())
            .collect();
        assert_eq!(names[..3], ["thompson", "linucb", "uniform"], "{names:?}");
        assert!(names[3].starts_with("best fixed arm ("), "{names:?}");
        for r in sim["policies"]
            .as_array()
            .unwrap()
            .iter()
            .chain(sim["baselines"].as_array().unwrap())
        {
            // Regret against the oracle (the best arm of every contact) never decreases and
            // ends at the run's regret.
            let curve: Vec<f64> = r["regret_curve"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p[1].as_f64().unwrap())
                .collect();
            assert_eq!(curve.len(), 50, "{r}");
            assert!(curve.windows(2).all(|w| w[1] >= w[0] - 1e-9), "{r}");
            assert!(
                (curve[49] - r["regret"].as_f64().unwrap()).abs() < 1e-6,
                "{r}"
            );
        }
        assert!(html.contains("Cumulative regret against the oracle"));
        // `teleseg score` gives every customer the policy's arm per offer category.
        let scores = out.path().join(format!("{algorithm}.csv"));
        let (code, _, err) = run(teleseg()
            .args(["score", "--checkpoint"])
            .arg(&run_dir)
            .arg("--input")
            .arg(data.path().join("customers.csv"))
            .arg("--output")
            .arg(&scores));
        assert_eq!(code, 0, "{err}");
        let text = std::fs::read_to_string(&scores).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header.len(), 1 + 3 * 8, "{header:?}");
        assert_eq!(
            header[1..4],
            [
                "data_addon_arm",
                "data_addon_probability",
                "data_addon_expected_response"
            ]
        );
        let arms: Vec<&str> = ev["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 8000);
        for row in rows.iter().take(200) {
            let cells: Vec<&str> = row.split(',').collect();
            assert!(arms.contains(&cells[1]), "{row}");
            let p: f64 = cells[2].parse().unwrap();
            assert!(p > 0.0 && p <= 1.0, "{row}");
            if algorithm == "linucb" {
                assert_eq!(p, 1.0, "LinUCB is deterministic: {row}");
            }
        }
    }
}

#[test]
fn simulated_bandits_beat_uniform_and_the_best_fixed_arm() {
    let data = generated(4000);
    let (code, out, err) = run(teleseg()
        .args([
            "simulate",
            "--rounds",
            "10000",
            "--policies",
            "thompson,linucb",
        ])
        .args(["--ab-variants", "sms@weekday_morning,sms@weekday_evening"])
        .args(["--ab-replications", "40", "--data"])
        .arg(data.path()));
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    // The A/B test: Thompson sampling finds the better variant, with fewer customers than the
    // classical fixed-horizon split and fewer acceptances lost than an equal split.
    let ab = &report["ab_test"];
    let design = |name: &str| {
        ab["designs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["design"] == name)
            .unwrap()
            .clone()
    };
    let (ts, seq, classical) = (
        design("thompson"),
        design("fixed_split_sequential"),
        design("fixed_split_classical"),
    );
    assert!(ts["correct"].as_f64().unwrap() >= 0.9, "{ab}");
    let customers = |d: &Value| d["median_customers"].as_f64().unwrap();
    let lost = |d: &Value| d["mean_lost_acceptances"].as_f64().unwrap();
    assert!(customers(&ts) < customers(&classical), "{ab}");
    assert!(lost(&ts) < lost(&seq), "{ab}");
    let fixed = report["best_fixed_arm_rate"].as_f64().unwrap();
    let uniform = report["uniform_rate"].as_f64().unwrap();
    let oracle = report["oracle_rate"].as_f64().unwrap();
    assert!(uniform < fixed && fixed < oracle, "{report}");
    for p in report["policies"].as_array().unwrap() {
        let rate = p["final_rate"].as_f64().unwrap();
        assert!(
            rate > fixed,
            "{} ends at {rate}, best fixed arm {fixed}",
            p["policy"]
        );
        assert!(p["regret"].as_f64().unwrap() > 0.0);
        // Learning pays within the run: less regret than choosing at random.
        let uniform_regret = report["baselines"][0]["regret"].as_f64().unwrap();
        assert!(
            p["regret"].as_f64().unwrap() < uniform_regret,
            "{} vs uniform {uniform_regret}",
            p["regret"]
        );
    }
    let (code, _, err) = run(teleseg()
        .args([
            "simulate",
            "--rounds",
            "10",
            "--ab-variants",
            "sms@weekday_morning,fax",
        ])
        .arg("--data")
        .arg(data.path()));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"fax\" is not an arm"), "{err}");
    // A folder without contacts is a usage error naming what is missing.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(teleseg().args(["simulate", "--data"]).arg(empty.path()));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("customers.csv"), "{err}");
}

#[test]
fn a_bad_contact_log_exits_2_naming_file_line_and_rule() {
    let data = generated(300);
    let contacts = data.path().join("contacts.csv");
    let text = std::fs::read_to_string(&contacts).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let broken = lines[3].rsplitn(4, ',').collect::<Vec<_>>();
    // contact_id,customer_id,offer_id,timestamp,channel,arm,propensity,accepted,response_hours
    let fixed_part = broken[3];
    let line = format!("{fixed_part},1.5,{},{}", broken[1], broken[0]);
    lines[3] = &line;
    std::fs::write(&contacts, lines.join("\n") + "\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let (code, _, err) = run(teleseg()
        .args(["train", "policy"])
        .args(data_sets(data.path()))
        .args([
            "--set",
            &format!("output.dir={:?}", out.path().display().to_string()),
        ]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("contacts.csv") && err.contains("line 4, column `propensity`"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(out.path()).unwrap().next().is_none(),
        "no run left behind"
    );
}
