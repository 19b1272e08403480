//! Real-time decisions: `teleseg serve` against the batch scorer on one small pipeline run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::common::{run, small_pipeline, teleseg};

/// A small pipeline run (segments, offers, churn risk; no VAE), made once per test run.
fn pipeline_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("teleseg-it-realtime")
            .tempdir()
            .unwrap()
            .keep();
        let (code, _, err) = small_pipeline(&dir, "p", &["--set", "vae.enabled=false"]);
        assert_eq!(code, 0, "pipeline failed: {err}");
        dir.join("p")
    })
}

/// A running `teleseg serve`, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(checkpoint: &Path, extra: &[&str]) -> Server {
        let mut child = teleseg()
            .args([
                "--backend",
                "flex",
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--checkpoint",
            ])
            .arg(checkpoint)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// One HTTP/1.1 request; (status, body).
    fn call(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
        (status, body)
    }

    fn json(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let (status, text) = self.call(method, path, body.to_string().as_bytes());
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        (status, value)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first `n` customers of a CSV as JSON objects (empty cells as null, numbers as strings).
fn customers_json(path: &Path, n: usize) -> Vec<Value> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let header = rdr.headers().unwrap().clone();
    rdr.records()
        .take(n)
        .map(|r| {
            let r = r.unwrap();
            let map: serde_json::Map<String, Value> = header
                .iter()
                .zip(r.iter())
                .map(|(k, v)| {
                    let v = if v.is_empty() { Value::Null } else { json!(v) };
                    (k.to_string(), v)
                })
                .collect();
            Value::Object(map)
        })
        .collect()
}

/// `scores.csv` rows by customer id, as header name → cell.
fn batch_scores(run_dir: &Path) -> HashMap<String, HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(run_dir.join("scores.csv")).unwrap();
    let header = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            let row: HashMap<String, String> = header
                .iter()
                .zip(r.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (row["customer_id"].clone(), row)
        })
        .collect()
}

/// Two answers for one customer: equal, offer scores and the contact's probability to float
/// rounding (a batch of one row and a batch of many sum the NCF dot products, and the contact
/// policy's `A⁻¹ φ` products, in a different order).
fn same_decision(a: &Value, b: &Value) {
    let strip = |v: &Value| {
        let mut v = v.clone();
        let p = v["contact"]
            .as_object_mut()
            .and_then(|c| c.remove("probability"))
            .and_then(|p| p.as_f64());
        let scores: Vec<f64> = v["offers"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .map(|o| {
                o.as_object_mut()
                    .unwrap()
                    .remove("score")
                    .unwrap()
                    .as_f64()
                    .unwrap()
            })
            .collect();
        (v, scores, p)
    };
    let ((a, sa, pa), (b, sb, pb)) = (strip(a), strip(b));
    assert_eq!(a, b);
    for (x, y) in sa.iter().zip(&sb) {
        assert!((x - y).abs() <= 1e-5 * x.abs().max(1.0), "{x} vs {y}");
    }
    match (pa, pb) {
        (Some(x), Some(y)) => assert!((x - y).abs() <= 1e-12, "contact probability {x} vs {y}"),
        (x, y) => assert_eq!(x, y, "a contact probability on one side only"),
    }
}

/// Every customer answered by `teleseg serve` gets the segment, confidence, offers and churn
/// probability (with its reasons) of the pipeline's batch `scores.csv`; health, readiness,
/// metadata and hot reload answer; bad requests get a clear 4xx and leave the service serving.
#[test]
fn serve_answers_like_the_batch_scorer_and_rejects_bad_requests() {
    let original = pipeline_run();
    // A copy, so the test can break the bundle on disk without touching the shared run.
    let copy = tempfile::tempdir().unwrap();
    let run_dir = copy.path().join("p");
    for sub in ["dec", "ncf", "propensity", "policy", "data"] {
        std::fs::create_dir_all(run_dir.join(sub)).unwrap();
        for f in std::fs::read_dir(original.join(sub)).unwrap() {
            let f = f.unwrap();
            if f.file_type().unwrap().is_file() {
                std::fs::copy(f.path(), run_dir.join(sub).join(f.file_name())).unwrap();
            }
        }
    }
    let interactions = run_dir.join("data/interactions.csv");
    let server = Server::start(
        &run_dir,
        &[
            "--interactions",
            interactions.to_str().unwrap(),
            "--max-customers",
            "200",
            "--max-body-bytes",
            "200000",
            "--drift-window",
            "200",
        ],
    );

    let (status, health) = server.json("GET", "/health", &Value::Null);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, ready) = server.json("GET", "/ready", &Value::Null);
    assert_eq!((status, ready["generation"].as_u64()), (200, Some(1)));
    let (status, meta) = server.json("GET", "/metadata", &Value::Null);
    assert_eq!(status, 200);
    assert_eq!(meta["segments"]["k"], 4);
    assert_eq!(meta["offers"]["top_k"], 10);
    assert_eq!(meta["propensity"]["output"], "churn_probability");
    assert_eq!(
        meta["policy"]["arms"].as_array().unwrap().len(),
        24,
        "{meta}"
    );
    assert!(meta["drift"]["features"].as_u64().unwrap() > 10, "{meta}");
    assert!(meta["schema"]["columns"].as_array().unwrap().len() > 10);

    // 150 customers in one request, then one alone: the batch scorer's answers, exactly.
    let batch = batch_scores(original);
    let customers = customers_json(&original.join("data/customers.csv"), 150);
    let (status, answer) = server.json("POST", "/score", &Value::Array(customers.clone()));
    assert_eq!(status, 200, "{answer}");
    let decisions = answer["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 150);
    let (status, one) = server.json("POST", "/score", &customers[7]);
    assert_eq!(status, 200);
    same_decision(&one["decisions"][0], &decisions[7]);
    for d in decisions {
        let id = d["customer_id"].as_str().unwrap();
        let row = &batch[id];
        assert_eq!(d["segment"].to_string(), row["segment"], "{id}");
        let conf: f32 = row["confidence"].parse().unwrap();
        assert_eq!(d["confidence"].as_f64().unwrap() as f32, conf, "{id}");
        let offers: Vec<&str> = d["offers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["offer_id"].as_str().unwrap())
            .collect();
        assert_eq!(offers.join(" "), row["offers"], "{id}");
        assert_eq!(d["offer_source"].as_str().unwrap(), row["offer_source"]);
        let p: f64 = row["churn_probability"].parse().unwrap();
        assert_eq!(d["risk"]["value"].as_f64().unwrap(), p, "{id}");
        assert_eq!(d["risk"]["reasons"][0].as_str().unwrap(), row["reason_1"]);
        // The best offer's contact: the batch scorer's arm and probability.
        assert_eq!(d["contact"]["offer_id"], d["offers"][0]["offer_id"], "{id}");
        assert_eq!(
            d["contact"]["arm"].as_str().unwrap(),
            row["contact_arm"],
            "{id}"
        );
        let p: f64 = row["contact_probability"].parse().unwrap();
        assert!(
            (d["contact"]["probability"].as_f64().unwrap() - p).abs() < 1e-6,
            "{id}"
        );
        let r = d["contact"]["expected_response"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&r), "{id}: {r}");
    }

    // Drift: the 151 customers scored are the training population; 150 customers whose voice
    // minutes are 20 times theirs push the window (200) over the alert on that feature.
    let (status, drift) = server.json("GET", "/drift", &Value::Null);
    assert_eq!(status, 200, "{drift}");
    assert_eq!(drift["drift"]["customers"], 151, "{drift}");
    let voice_psi = |d: &Value| {
        d["drift"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "voice_minutes")
            .unwrap_or_else(|| panic!("no voice_minutes in {d}"))["psi"]
            .as_f64()
            .unwrap()
    };
    let calm = voice_psi(&drift);
    assert!(calm < 0.25, "{drift}");
    let shifted: Vec<Value> = customers
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if let Some(v) = c["voice_minutes"]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
            {
                c["voice_minutes"] = json!(format!("{:.1}", v * 20.0 + 500.0));
            }
            c
        })
        .collect();
    let (status, _) = server.json("POST", "/score", &Value::Array(shifted));
    assert_eq!(status, 200);
    let (_, drift) = server.json("GET", "/drift", &Value::Null);
    assert_eq!(drift["drift"]["customers"], 200, "{drift}");
    assert!(
        voice_psi(&drift) > 0.25 && voice_psi(&drift) > calm,
        "{drift}"
    );
    let alerts = drift["drift"]["alerts"].as_array().unwrap();
    assert!(alerts.iter().any(|a| a == "voice_minutes"), "{drift}");
    let (status, metrics) = server.call("GET", "/metrics", b"");
    assert_eq!(status, 200);
    for line in [
        "teleseg_drift_alert 1",
        "teleseg_drift_window_customers 200",
        "teleseg_customers_scored_total 301",
        "teleseg_requests_total{outcome=\"ok\"} 3",
        "# TYPE teleseg_drift_feature_psi gauge",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    assert!(
        metrics.contains("teleseg_drift_feature_psi{feature=\"voice_minutes\"}"),
        "{metrics}"
    );

    // Bad requests: 400 / 413 / 422 with the reason, and the service keeps serving.
    let (status, text) = server.call("POST", "/score", b"{not json");
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("not valid JSON"), "{text}");
    let (status, e) = server.json("POST", "/score", &json!([1, 2]));
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("customers[0]"), "{e}");
    let mut bad = customers[3].clone();
    bad["voice_minutes"] = json!("lots");
    let (status, e) = server.json("POST", "/score", &json!([customers[0], bad]));
    assert_eq!(status, 422, "{e}");
    let msg = e["error"].as_str().unwrap();
    assert!(
        msg.contains("request:3:") && msg.contains("voice_minutes"),
        "{msg}"
    );
    let mut nested = customers[0].clone();
    nested["age"] = json!([40]);
    let (status, e) = server.json("POST", "/score", &nested);
    assert_eq!(status, 400);
    assert!(
        e["error"].as_str().unwrap().contains("customers[0].age"),
        "{e}"
    );
    let many = customers_json(&original.join("data/customers.csv"), 201);
    let (status, e) = server.json("POST", "/score", &Value::Array(many));
    assert_eq!(status, 413, "{e}");
    let huge = vec![b' '; 300_000];
    let (status, _) = server.call("POST", "/score", &huge);
    assert_eq!(status, 413);

    // Hot reload: a good bundle swaps in; a broken one is refused and the old one serves on.
    let (status, r) = server.json("POST", "/reload", &Value::Null);
    assert_eq!((status, r["generation"].as_u64()), (200, Some(2)), "{r}");
    let (_, drift) = server.json("GET", "/drift", &Value::Null);
    assert_eq!(
        drift["drift"]["customers"], 0,
        "a reload starts a new window: {drift}"
    );
    std::fs::write(run_dir.join("dec/model.safetensors"), b"truncated").unwrap();
    let (status, r) = server.json("POST", "/reload", &Value::Null);
    assert_eq!(status, 500, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("previous bundle"),
        "{r}"
    );
    let (status, again) = server.json("POST", "/score", &customers[7]);
    assert_eq!(status, 200);
    same_decision(&again["decisions"][0], &decisions[7]);
    let (_, ready) = server.json("GET", "/ready", &Value::Null);
    assert_eq!(ready["generation"].as_u64(), Some(2));
}

/// The generator's events, replayed through the streaming feature store slightly out of order
/// (within the lateness bound), give every event-derived column of `customers.csv` exactly, cell
/// by cell as text; the only differences are the table's documented recording defects (empty
/// cells, voice in seconds, data in MB, charges in cents, resolution in minutes).
#[test]
fn streamed_features_equal_the_generated_table() {
    use teleseg::stream::events::read_events;
    use teleseg::stream::features::{EVENT_COLUMNS, FeatureStore, Pushed};

    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(teleseg()
        .args([
            "generate",
            "--customers",
            "400",
            "--seed",
            "9",
            "--events",
            "--out",
        ])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(
        !dir.path().join(".events.spill.partial").exists(),
        "scratch file left behind"
    );
    // The table does not depend on --events.
    let plain = tempfile::tempdir().unwrap();
    let (code, _, err) = run(teleseg()
        .args(["generate", "--customers", "400", "--seed", "9", "--out"])
        .arg(plain.path()));
    assert_eq!(code, 0, "{err}");
    for f in ["customers.csv", "interactions.csv", "contacts.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join(f)).unwrap(),
            std::fs::read(plain.path().join(f)).unwrap(),
            "{f} changed with --events"
        );
    }

    let mut events = read_events(&dir.path().join("events.jsonl")).unwrap();
    assert!(events.len() > 400 * 100, "{} events", events.len());
    assert!(
        events.windows(2).all(|w| w[0].ts <= w[1].ts),
        "not in time order"
    );
    // Disorder within 30 minutes: swap neighbours less than that apart.
    for i in (1..events.len()).step_by(3) {
        if events[i].ts - events[i - 1].ts < 1800 {
            events.swap(i - 1, i);
        }
    }
    let mut store = FeatureStore::new(3600);
    for e in &events {
        assert_eq!(store.push(e), Pushed::Applied, "{e:?}");
    }
    let snapshot = 1_735_689_600; // 2025-01-01T00:00:00Z
    assert!(store.watermark() < snapshot);

    let mut rdr = csv::Reader::from_path(dir.path().join("customers.csv")).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (mut equal, mut empty, mut defects) = (0usize, 0usize, Vec::new());
    for r in rdr.records() {
        let r = r.unwrap();
        let id = &r[col("customer_id")];
        let f = store.features(id, snapshot);
        for (name, text) in f.cells() {
            assert!(EVENT_COLUMNS.contains(&name));
            let cell = &r[col(name)];
            if cell.is_empty() {
                empty += 1;
                continue;
            }
            if cell == text {
                equal += 1;
                continue;
            }
            // A documented unit defect: the cell is the aggregate times the unit factor.
            // The defect scales the true value before it is rounded, so allow half a unit.
            let (factor, unit) = match name {
                "voice_minutes" => (60.0, 0.1),
                "data_gb" => (1024.0, 0.001),
                "monthly_charge" => (100.0, 0.01),
                "avg_resolution_hours" => (60.0, 0.1),
                _ => panic!("{id} {name}: table {cell} but events give {text}"),
            };
            let (a, b): (f64, f64) = (cell.parse().unwrap(), text.parse().unwrap());
            assert!(
                (a - b * factor).abs() <= factor * unit / 2.0 + 1e-6,
                "{id} {name}: table {cell} but events give {text}"
            );
            defects.push((id.to_string(), name));
        }
    }
    assert!(equal > 400 * 14, "{equal} equal cells");
    assert!(defects.len() <= 8, "{defects:?}");
    assert!(empty < 400 * 16 / 10, "{empty} empty cells");
}

/// 300 generated customers with their events (seed 9), made once per test run.
fn event_data() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    crate::common::generated_once(
        &DIR,
        "teleseg-it-events",
        &["--customers", "300", "--seed", "9", "--events"],
    )
}

/// Per customer: whether the streamed features of all events equal the table's cells (no
/// recording defect, no missing cell), so that scoring the table scores the streamed features.
fn clean_customers(dir: &Path) -> std::collections::HashSet<String> {
    use teleseg::stream::events::read_events;
    use teleseg::stream::features::FeatureStore;
    let mut store = FeatureStore::new(0);
    for e in read_events(&dir.join("events.jsonl")).unwrap() {
        store.push(&e);
    }
    let mut rdr = csv::Reader::from_path(dir.join("customers.csv")).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    rdr.records()
        .map(|r| r.unwrap())
        .filter(|r| {
            let f = store.features(&r[0], 1_735_689_600);
            f.cells().iter().all(|(name, text)| &r[col(name)] == text)
        })
        .map(|r| r[0].to_string())
        .collect()
}

/// Decisions of a JSON-lines file or topic dump: the last (segment, best offer) per customer, and
/// every id with its payload.
fn final_decisions(lines: &[Value]) -> HashMap<String, (u64, String)> {
    let mut last: HashMap<String, (i64, u64, String)> = HashMap::new();
    for d in lines {
        let id = d["customer_id"].as_str().unwrap().to_string();
        let offset = d["offset"].as_i64().unwrap();
        let seg = d["segment"].as_u64().unwrap();
        let best = d["offers"][0]["offer_id"].as_str().unwrap().to_string();
        let e = last.entry(id).or_insert((-1, 0, String::new()));
        if offset > e.0 {
            *e = (offset, seg, best);
        }
    }
    last.into_iter().map(|(k, (_, s, b))| (k, (s, b))).collect()
}

/// The batch scorer's (segment, best offer) per customer of `customers`.
fn batch_decisions(run_dir: &Path, customers: &Path) -> HashMap<String, (u64, String)> {
    let out = tempfile::tempdir().unwrap();
    let scores = out.path().join("scores.csv");
    let (code, _, err) = run(teleseg()
        .args(["--backend", "flex", "score", "--checkpoint"])
        .arg(run_dir)
        .arg("--input")
        .arg(customers)
        .arg("--output")
        .arg(&scores));
    assert_eq!(code, 0, "{err}");
    let mut rdr = csv::Reader::from_path(&scores).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            let best = r[col("offers")].split(' ').next().unwrap().to_string();
            (r[0].to_string(), (r[col("segment")].parse().unwrap(), best))
        })
        .collect()
}

/// `teleseg stream --events`: every customer gets decisions, the last one equals the batch
/// scorer's segment and best offer (for every customer whose table cells are the events'
/// aggregates), ids are unique, a replay writes the same bytes, a bad line is exit 2 naming it.
#[test]
fn file_stream_decides_like_the_batch_scorer() {
    let run_dir = pipeline_run();
    let data = event_data();
    let out = tempfile::tempdir().unwrap();
    let stream = |output: &Path, events: &Path, extra: &[&str]| {
        run(teleseg()
            .args([
                "--backend",
                "flex",
                "stream",
                "--batch-events",
                "2000",
                "--checkpoint",
            ])
            .arg(run_dir)
            .arg("--customers")
            .arg(data.join("customers.csv"))
            .arg("--events")
            .arg(events)
            .arg("--output")
            .arg(output)
            .args(extra))
    };
    let first = out.path().join("d1.jsonl");
    let drift_file = out.path().join("drift.jsonl");
    let (code, stdout, err) = stream(
        &first,
        &data.join("events.jsonl"),
        &[
            "--drift-output",
            drift_file.to_str().unwrap(),
            "--drift-every-batches",
            "5",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let stats: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(stats["events"].as_u64().unwrap() > 30_000, "{stats}");
    assert_eq!(stats["late"], 0);
    // The generator's offer responses all update the contact policy.
    assert!(stats["responses"].as_u64().unwrap() > 200, "{stats}");
    assert_eq!(stats["policy_updates"], stats["responses"], "{stats}");
    let text = std::fs::read_to_string(&first).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: std::collections::HashSet<&str> = lines
        .iter()
        .map(|d| d["decision_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), lines.len(), "duplicate decision ids");
    assert!(
        lines.iter().any(|d| d["change"] != "first"),
        "no decision ever changed"
    );

    let streamed = final_decisions(&lines);
    assert_eq!(streamed.len(), 300);
    assert!(
        lines
            .iter()
            .all(|d| d["contact"]["offer_id"] == d["offers"][0]["offer_id"]),
        "every decision carries its best offer's contact"
    );

    // Drift reports: one every 5 batches and one at exit (unless the last batch made one), the
    // last over all 300 customers.
    let reports: Vec<Value> = std::fs::read_to_string(&drift_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let batches = stats["batches"].as_u64().unwrap();
    assert_eq!(reports.len() as u64, batches.div_ceil(5), "{stats}");
    assert_eq!(stats["drift_reports"].as_u64(), Some(reports.len() as u64));
    let last = reports.last().unwrap();
    assert_eq!(last["batches"].as_u64(), Some(batches));
    assert_eq!(last["drift"]["customers"], 300, "{last}");
    assert!(
        reports
            .windows(2)
            .all(|w| w[0]["event_time"].as_i64() <= w[1]["event_time"].as_i64())
    );
    assert_eq!(stats["drift_segment_psi"], last["drift"]["segment_psi"]);
    let psi: Vec<f64> = last["drift"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["psi"].as_f64().unwrap())
        .collect();
    assert!(
        psi.len() > 10 && psi.iter().all(|p| p.is_finite() && *p >= 0.0),
        "{last}"
    );
    let batch = batch_decisions(run_dir, &data.join("customers.csv"));
    let clean = clean_customers(data);
    assert!(clean.len() > 250, "{} clean customers", clean.len());
    for id in &clean {
        assert_eq!(streamed[id], batch[id], "{id}");
    }

    // Deterministic: the same input gives the same bytes.
    let second = out.path().join("d2.jsonl");
    let (code, _, err) = stream(&second, &data.join("events.jsonl"), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&second).unwrap(), text.as_bytes());

    // A bad line: exit 2 naming the file and line; no output file.
    let bad = out.path().join("bad.jsonl");
    let mut events = std::fs::read_to_string(data.join("events.jsonl")).unwrap();
    events.insert_str(
        events.find('\n').unwrap() + 1,
        "{\"ts\":1,\"customer_id\":\"C0000001\",\"type\":\"fax\"}\n",
    );
    std::fs::write(&bad, events).unwrap();
    let third = out.path().join("d3.jsonl");
    let (code, _, err) = stream(&third, &bad, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.jsonl:2:"), "{err}");
    assert!(!third.exists());
}

/// Offer responses update the partition's contact policy online: acceptances raise the
/// expected response of their arm in the customer's context against the refused arm; the
/// snapshot replays the same policy; an arm the policy does not know is an error naming the
/// source and offset (or, with skip, a counted bad event).
#[test]
fn offer_responses_update_the_contact_policy_and_replay_from_the_snapshot() {
    use teleseg::scoring::{Decider, DeciderOptions};
    use teleseg::stream::processor::{DriftOutput, PartitionState, Processor, Profiles, Stats};
    let run_dir = pipeline_run();
    let data = event_data();
    let decider = Decider::load(
        run_dir,
        DeciderOptions {
            reasons: 0,
            ..Default::default()
        },
        &burn::tensor::Device::flex(),
    )
    .unwrap();
    let profiles = Profiles::read(&data.join("customers.csv"), &decider).unwrap();
    let model = decider
        .policy
        .clone()
        .expect("the pipeline trains a contact policy");
    let mut p = Processor {
        decider,
        generation: 1,
        profiles,
        batch_events: 1000,
        skip_bad: false,
        stats: Stats::default(),
        drift: DriftOutput::default(),
        reported_at: 0,
    };
    let (good, bad_arm) = (&model.arch.arms[0], &model.arch.arms[1]);
    let offer = model.arch.offer_categories.keys().next().unwrap().clone();
    let response = |arm: &str, accepted: bool| {
        json!({"ts": 1_735_000_000, "customer_id": "C0000001", "type": "offer_response",
               "offer_id": offer, "arm": arm, "accepted": accepted})
        .to_string()
    };
    let mut st = PartitionState::new(3600);
    for offset in 0..60 {
        let line = match offset % 2 {
            0 => response(good, true),
            _ => response(bad_arm, false),
        };
        p.feed(&mut st, offset, line.as_bytes(), "test").unwrap();
    }
    assert_eq!(st.responses.len(), 60);
    p.close_batch(&mut st, 0).unwrap();
    assert!(st.responses.is_empty());
    assert_eq!((p.stats.responses, p.stats.policy_updates), (60, 60));
    assert_eq!(st.policy_updates.len(), 60);
    let x: Vec<f64> = st.policy_updates[0]
        .x
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let learned = p.partition_policy(&mut st).unwrap().unwrap().clone();
    let (a, b) = (
        model.arm_index(good).unwrap(),
        model.arm_index(bad_arm).unwrap(),
    );
    let before = (
        model.policy.models.mean(a, &x),
        model.policy.models.mean(b, &x),
    );
    let after = (learned.models.mean(a, &x), learned.models.mean(b, &x));
    // The model is shared by the arms (factored), so both move with the shared part; the
    // accepted arm gains on the refused one.
    assert!(after.0 > before.0 + 0.05, "{before:?} -> {after:?}");
    assert!(
        after.0 - after.1 > before.0 - before.1 + 0.1,
        "{before:?} -> {after:?}"
    );
    // A snapshot round trip rebuilds exactly the same policy.
    let mut back: PartitionState =
        serde_json::from_slice(&serde_json::to_vec(&st).unwrap()).unwrap();
    assert!(back.policy.is_none());
    assert_eq!(p.partition_policy(&mut back).unwrap().unwrap(), &learned);
    // So does a snapshot that folded the updates into a base file.
    let dir = tempfile::tempdir().unwrap();
    let mut folded = st.clone();
    folded.save(dir.path(), "t", 0, 10).unwrap();
    assert_eq!(
        (folded.policy_folded, folded.policy_updates.len()),
        (Some(60), 0)
    );
    let mut back = PartitionState::load(dir.path(), "t", 0, 3600).unwrap();
    assert_eq!(p.partition_policy(&mut back).unwrap().unwrap(), &learned);
    // Updates made on another trained policy (the bundle was replaced) are dropped.
    let mut other: PartitionState =
        serde_json::from_slice(&serde_json::to_vec(&st).unwrap()).unwrap();
    other.policy_of = Some(model.fingerprint ^ 1);
    assert_eq!(
        p.partition_policy(&mut other).unwrap().unwrap(),
        &model.policy
    );
    assert!(other.policy_updates.is_empty());
    // An unknown arm: an error naming the source and offset; with skip, a counted bad event.
    let e = p
        .feed(
            &mut st,
            60,
            response("fax@never", true).as_bytes(),
            "topic t",
        )
        .unwrap_err();
    assert!(
        e.to_string().starts_with("topic t:60: ") && e.to_string().contains("fax@never"),
        "{e}"
    );
    p.skip_bad = true;
    p.feed(
        &mut st,
        61,
        response("fax@never", true).as_bytes(),
        "topic t",
    )
    .unwrap();
    assert_eq!(p.stats.bad, 1);
    assert!(st.responses.is_empty());
}

/// The Kafka-compatible broker of the Kafka tests: `TELESEG_KAFKA_BROKERS` (default
/// `127.0.0.1:9092`) when something listens there. `.ci/run` starts one and sets
/// `TELESEG_KAFKA_REQUIRED=1`, which turns a missing broker into a failure instead of a skip.
fn kafka_broker(test: &str) -> Option<String> {
    use std::net::ToSocketAddrs;
    let brokers =
        std::env::var("TELESEG_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let first = brokers.split(',').next().unwrap_or_default().to_string();
    let up = first
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| {
            TcpStream::connect_timeout(&a, std::time::Duration::from_millis(500)).is_ok()
        });
    if up {
        return Some(brokers);
    }
    let required = std::env::var("TELESEG_KAFKA_REQUIRED").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test}: no Kafka broker at {brokers} but TELESEG_KAFKA_REQUIRED=1"
    );
    eprintln!(
        "SKIPPED {test}: no Kafka broker at {brokers} (set TELESEG_KAFKA_BROKERS; .ci/run starts tansu)"
    );
    None
}

/// Creates `topic` with `partitions` partitions.
fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .unwrap();
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

/// Produces every line of `events` keyed by its customer id.
fn produce_events(brokers: &str, topic: &str, events: &Path) -> usize {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("acks", "all")
        .create()
        .unwrap();
    let text = std::fs::read_to_string(events).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let key = v["customer_id"].as_str().unwrap();
        loop {
            match producer.send(BaseRecord::to(topic).key(key).payload(line)) {
                Ok(()) => break,
                Err(_) => {
                    producer.poll(std::time::Duration::from_millis(20));
                }
            }
        }
        n += 1;
    }
    producer.flush(std::time::Duration::from_secs(60)).unwrap();
    n
}

/// Every record of `topic` (read until it has been quiet for 2 s) as JSON.
fn consume_all(brokers: &str, topic: &str) -> Vec<Value> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let group = format!("reader-{topic}-{}", std::process::id());
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let mut quiet = std::time::Instant::now();
    while quiet.elapsed() < std::time::Duration::from_secs(2) || out.is_empty() {
        assert!(
            quiet.elapsed() < std::time::Duration::from_secs(60),
            "{topic}: nothing to read"
        );
        if let Some(Ok(m)) = consumer.poll(std::time::Duration::from_millis(200)) {
            out.push(serde_json::from_slice(m.payload().unwrap()).unwrap());
            quiet = std::time::Instant::now();
        }
    }
    out
}

/// `teleseg stream` on a real broker: a clean run; a run killed with SIGKILL mid-stream and
/// restarted (it resumes from its snapshots, re-emits at most the unsnapshotted batch with the
/// same ids and contents, and ends where the clean run ends); two processes in one consumer
/// group (they split the partitions and emit every decision once). Every run's final decision per
/// customer equals the batch scorer's.
#[test]
fn kafka_stream_survives_a_kill_and_scales_out_in_a_group() {
    let Some(brokers) = kafka_broker("kafka_stream_survives_a_kill_and_scales_out_in_a_group")
    else {
        return;
    };
    let run_dir = pipeline_run();
    let data = event_data();
    let tag = format!(
        "it{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let input = format!("{tag}-events");
    create_topic(&brokers, &input, 4);
    let total = produce_events(&brokers, &input, &data.join("events.jsonl"));
    let batch = batch_decisions(run_dir, &data.join("customers.csv"));
    let clean = clean_customers(data);
    let state = tempfile::tempdir().unwrap();
    let stream_from = |input: &str, name: &str, idle: &str| {
        let mut cmd = teleseg();
        cmd.args(["--backend", "flex", "stream", "--brokers", &brokers])
            .args(["--input-topic", input])
            .args(["--output-topic", &format!("{tag}-{name}")])
            .args(["--group", &format!("{tag}-{name}")])
            .arg("--state-dir")
            .arg(state.path().join(name))
            .args(["--batch-events", "500", "--idle-exit-secs", idle])
            .arg("--checkpoint")
            .arg(run_dir)
            .arg("--customers")
            .arg(data.join("customers.csv"));
        cmd
    };
    let stream = |name: &str, idle: &str| stream_from(&input, name, idle);
    let check_final = |decisions: &[Value], what: &str| {
        let last = final_decisions(decisions);
        assert_eq!(last.len(), 300, "{what}");
        for id in &clean {
            assert_eq!(last[id], batch[id], "{what}: {id}");
        }
    };
    let stats = |stdout: &str| -> Value { serde_json::from_str(stdout.trim()).unwrap() };

    // 1. A clean run.
    create_topic(&brokers, &format!("{tag}-clean"), 1);
    let (code, out, err) = run(&mut stream("clean", "4"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        stats(&out)["events"].as_u64().unwrap() as usize,
        total,
        "{out}"
    );
    let clean_run = consume_all(&brokers, &format!("{tag}-clean"));
    check_final(&clean_run, "clean run");
    let clean_ids: std::collections::HashSet<String> = clean_run
        .iter()
        .map(|d| d["decision_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        clean_ids.len(),
        clean_run.len(),
        "duplicates without a crash"
    );

    // 2. Killed mid-stream (SIGKILL once some decisions are out), then restarted.
    create_topic(&brokers, &format!("{tag}-killed"), 1);
    // Policy updates are folded into base files every 3 (not 1,000), so the resume goes
    // through a base file and the updates after it.
    let mut child = stream("killed", "4")
        .args(["--kafka-property", "session.timeout.ms=6000"])
        .args(["--snapshot-every-secs", "0", "--policy-compact-after", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let snapshots = state.path().join("killed");
    let started = std::time::Instant::now();
    // Progress in the snapshots: the events they already hold (a partition's first snapshot may
    // hold none when another partition closed the first batch).
    let saved = || -> i64 {
        std::fs::read_dir(&snapshots)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
                    .filter_map(|f| std::fs::read(f.path()).ok())
                    .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
                    .filter_map(|v| v["next_offset"].as_i64())
                    .sum()
            })
            .unwrap_or(0)
    };
    while saved() < 1000 {
        assert!(started.elapsed().as_secs() < 120, "no snapshot written");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The killed member holds its partitions until its session times out (6 s here): wait
    // longer than that before calling the restarted process idle.
    let (code, out, err) = run(stream("killed", "15")
        .args(["--kafka-property", "session.timeout.ms=6000"])
        .args(["--policy-compact-after", "3"]));
    assert_eq!(code, 0, "{err}");
    // Every snapshot that folded its policy updates names a base file that is there, and keeps
    // fewer updates than the threshold.
    let mut folded = 0;
    for f in std::fs::read_dir(&snapshots)
        .unwrap()
        .filter_map(Result::ok)
    {
        let name = f.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let snap: Value = serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap();
        if let Some(n) = snap["policy_folded"].as_u64() {
            folded += 1;
            let base = name.replace(".json", &format!(".policy-{n}.safetensors"));
            assert!(snapshots.join(&base).is_file(), "{name} names {base}");
            let kept = snap["policy_updates"].as_array().map_or(0, Vec::len);
            assert!(kept < 3, "{name}: {kept} updates kept");
        }
    }
    assert!(folded > 0, "no partition folded its policy updates");
    let resumed = stats(&out)["events"].as_u64().unwrap() as usize;
    assert!(
        resumed < total,
        "the restart replayed everything ({resumed} of {total})"
    );
    let killed = consume_all(&brokers, &format!("{tag}-killed"));
    check_final(&killed, "killed and restarted");
    let mut seen: HashMap<String, Value> = HashMap::new();
    for d in &killed {
        let mut d = d.clone();
        d.as_object_mut().unwrap().remove("source_timestamp_ms");
        let id = d["decision_id"].as_str().unwrap().to_string();
        if let Some(before) = seen.insert(id.clone(), d.clone()) {
            assert_eq!(before, d, "{id} emitted twice with different contents");
        }
    }

    // 3. Two processes in one group share the partitions and emit each decision once. They
    // join first and the events arrive after (on a fresh topic): with the events already there,
    // the first to join can finish before the second is assigned anything.
    let input2 = format!("{tag}-events2");
    create_topic(&brokers, &input2, 4);
    create_topic(&brokers, &format!("{tag}-group"), 1);
    let spawn = || {
        stream_from(&input2, "group", "10")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert_eq!(
        produce_events(&brokers, &input2, &data.join("events.jsonl")),
        total
    );
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let (ea, eb) = (
        stats(&String::from_utf8_lossy(&a.stdout))["events"]
            .as_u64()
            .unwrap() as usize,
        stats(&String::from_utf8_lossy(&b.stdout))["events"]
            .as_u64()
            .unwrap() as usize,
    );
    assert!(
        ea > 0 && eb > 0,
        "one process did all the work ({ea} + {eb})"
    );
    assert!(ea + eb >= total, "{ea} + {eb} < {total}");
    let group = consume_all(&brokers, &format!("{tag}-group"));
    check_final(&group, "two processes");
    let ids: std::collections::HashSet<&str> = group
        .iter()
        .map(|d| d["decision_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        group.len(),
        "a decision emitted twice by the group"
    );
}
