//! `teleseg train forecast` on the generator's usage history: the trees beat the seasonal-naive,
//! last-value and customer-mean forecasts on the held-out month, `teleseg score` with the
//! checkpoint reproduces the run's forecasts, and a broken history is a usage error.

use std::path::Path;

use crate::common::{dataset_3000, run, score, teleseg};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn forecasts_beat_the_naive_baselines_and_score_the_same() {
    let data = dataset_3000();
    let dir = tempfile::tempdir().unwrap();
    let history = data.join("usage_history.csv");
    let (code, out, err) = run(teleseg()
        .args(["train", "forecast", "--set"])
        .arg(format!("data.history={:?}", history.display().to_string()))
        .arg("--set")
        .arg(format!(
            "data.actuals={:?}",
            data.join("usage_next_month.csv").display().to_string()
        ))
        .arg("--set")
        .arg(format!("output.dir={:?}", dir.path().display().to_string()))
        .args(["--set", "output.run_name=\"f\""]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("forecast for 2025-01"), "{out}");
    let run_dir = dir.path().join("f");
    let ev = json(&run_dir.join("evaluation.json"));
    let series = ev["series"].as_array().unwrap();
    let names: Vec<&str> = series
        .iter()
        .map(|s| s["series"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["voice_minutes", "data_gb", "roaming_days"]);
    for s in series {
        for part in ["backtest", "actuals"] {
            let c = &s[part];
            let mae = |k: &str| c[k]["mae"].as_f64().unwrap();
            let mase = |k: &str| c[k]["mase"].as_f64().unwrap();
            for baseline in ["seasonal_naive", "last_value", "customer_mean"] {
                assert!(
                    mae("model") < mae(baseline) && mase("model") < mase(baseline),
                    "{} {part}: model {} vs {baseline} {}",
                    s["series"],
                    mae("model"),
                    mae(baseline)
                );
            }
            assert_eq!(c["customers"], 3000);
        }
        assert_eq!(s["actuals"]["month"], "2025-01");
        assert_eq!(s["backtest"]["month"], "2024-12");
    }

    // The checkpoint forecasts the same from the same history.
    let scored = dir.path().join("scored.csv");
    let (code, _, err) = score(&run_dir, &history, &scored);
    assert_eq!(code, 0, "{err}");
    let ours = std::fs::read_to_string(run_dir.join("forecasts.csv")).unwrap();
    assert_eq!(std::fs::read_to_string(&scored).unwrap(), ours);
    let first: Vec<&str> = ours.lines().take(2).collect();
    assert_eq!(
        first[0],
        "customer_id,month,voice_minutes_forecast,data_gb_forecast,roaming_days_forecast"
    );
    assert!(first[1].starts_with("C0000001,2025-01,"), "{}", first[1]);
    assert_eq!(ours.lines().count(), 3001);
}

#[test]
fn a_broken_history_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("h.csv");
    let mut text = String::from("customer_id,month,usage\n");
    for m in 1..=12 {
        text.push_str(&format!("a,2024-{m:02},{m}\n"));
    }
    text.push_str("b,2024-13,4\n");
    std::fs::write(&history, text).unwrap();
    let (code, out, err) = run(teleseg()
        .args(["train", "forecast", "--set"])
        .arg(format!("data.history={:?}", history.display().to_string()))
        .arg("--set")
        .arg(format!("output.dir={:?}", dir.path().display().to_string()))
        .args(["--set", "output.run_name=\"bad\""]));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("h.csv:14: column `month` = \"2024-13\" is not a month"),
        "{err}"
    );
    assert!(
        !dir.path().join("bad").exists(),
        "a failed run left its folder"
    );
}
