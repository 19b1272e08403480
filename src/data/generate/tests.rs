//! Tests of the generator on small runs (≤ 5 000 customers, a few tens of ms each).

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::data::schema::Role;

/// Generates `customers` rows with `seed` into a fresh temporary folder.
fn run(customers: usize, seed: u64) -> (tempfile::TempDir, GenerateSummary) {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions::new(customers, seed, dir.path().join("out"));
    let summary = generate(&opts).unwrap();
    (dir, summary)
}

/// Header and rows of a CSV file, as strings.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn out(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join("out").join(name)
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

const FILES: [&str; 10] = [
    "customers.csv",
    "offers.csv",
    "interactions.csv",
    "personas.csv",
    "contacts.csv",
    "contacts_truth.csv",
    "usage_history.csv",
    "usage_next_month.csv",
    "value_truth.csv",
    "schema.toml",
];

#[test]
fn same_seed_gives_identical_bytes_whatever_the_threads() {
    // 5 000 customers span two blocks, so the parallel path really interleaves.
    let (a, _) = run(5_000, 7);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = GenerateOptions::new(5_000, 7, dir.path().join("out"));
    opts.threads = 1;
    generate(&opts).unwrap();
    for f in FILES {
        let x = std::fs::read(out(&a, f)).unwrap();
        let y = std::fs::read(dir.path().join("out").join(f)).unwrap();
        assert!(x == y, "{f} differs between runs with the same seed");
    }
}

#[test]
fn different_seed_gives_different_data() {
    let (a, _) = run(500, 1);
    let (b, _) = run(500, 2);
    for f in [
        "customers.csv",
        "interactions.csv",
        "personas.csv",
        "offers.csv",
    ] {
        assert_ne!(
            std::fs::read(out(&a, f)).unwrap(),
            std::fs::read(out(&b, f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn summary_lists_the_files_and_counts() {
    let (dir, s) = run(300, 3);
    assert_eq!(s.customers, 300);
    assert_eq!(s.offers, DEFAULT_OFFERS);
    let names: Vec<_> = s
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, FILES);
    let (_, interactions) = read_csv(&out(&dir, "interactions.csv"));
    assert_eq!(s.interactions, interactions.len());
    assert_eq!(
        s.accepts,
        interactions.iter().filter(|r| r[3] == "accept").count()
    );
    assert_eq!(s.personas.len(), persona_names().len());
    // Only these files: no temporary file left behind.
    let mut listed: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    let mut expected: Vec<_> = FILES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[test]
fn header_matches_schema_and_schema_toml_round_trips() {
    let (dir, _) = run(200, 4);
    let schema = customer_schema();
    schema.check().unwrap();
    let (header, rows) = read_csv(&out(&dir, "customers.csv"));
    let names: Vec<_> = schema.columns.iter().map(|c| c.name.clone()).collect();
    assert!(header.len() >= 24, "{} columns", header.len());
    assert_eq!(header, names);
    assert_eq!(header[0], "customer_id");
    assert!(rows.iter().all(|r| r.len() == header.len()));
    assert_eq!(schema.column("churn").unwrap().role, Role::Target);
    assert!(schema.derived.len() >= 3);
    let text = std::fs::read_to_string(out(&dir, "schema.toml")).unwrap();
    assert_eq!(Schema::parse(&text, "schema.toml").unwrap(), schema);
}

#[test]
fn values_respect_the_schema() {
    let (dir, _) = run(5_000, 5);
    let schema = customer_schema();
    let (_, rows) = read_csv(&out(&dir, "customers.csv"));
    let mut ids = std::collections::HashSet::new();
    for row in &rows {
        assert!(ids.insert(row[0].clone()), "duplicate id {}", row[0]);
        for (c, cell) in schema.columns.iter().zip(row) {
            if cell.is_empty() {
                continue;
            }
            match c.role {
                Role::Numeric => {
                    let v: f64 = cell
                        .parse()
                        .unwrap_or_else(|_| panic!("{}: {cell}", c.name));
                    assert!(c.min.is_none_or(|m| v >= m), "{} = {v} below min", c.name);
                    assert!(c.max.is_none_or(|m| v <= m), "{} = {v} above max", c.name);
                    if c.integer {
                        assert_eq!(v.fract(), 0.0, "{} = {v} is not whole", c.name);
                    }
                }
                Role::Binary | Role::Target => {
                    assert!(cell == "0" || cell == "1", "{}: {cell}", c.name)
                }
                Role::Categorical => {
                    assert!(cell.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
                }
                Role::Id => assert!(cell.starts_with('C') && cell.len() == 8, "{cell}"),
                Role::Ignore => {}
            }
        }
    }
    // A rare region exists but stays rare.
    let region = column(
        &schema
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>(),
        "region",
    );
    let overseas = rows.iter().filter(|r| r[region] == "overseas").count();
    assert!((5..150).contains(&overseas), "overseas = {overseas}");
}

#[test]
fn personas_are_unequal_but_none_tiny_or_dominant() {
    let (dir, _) = run(5_000, 6);
    let (_, rows) = read_csv(&out(&dir, "personas.csv"));
    let names = persona_names();
    assert!(names.len() >= 6);
    let mut counts = vec![0usize; names.len()];
    for r in &rows {
        let p: usize = r[1].parse().unwrap();
        assert_eq!(r[2], names[p]);
        counts[p] += 1;
    }
    for (name, n) in names.iter().zip(&counts) {
        let share = *n as f64 / rows.len() as f64;
        assert!((0.03..=0.35).contains(&share), "{name}: {share}");
    }
    assert!(counts.iter().max().unwrap() > &(3 * counts.iter().min().unwrap()));
}

#[test]
fn missingness_is_moderate_and_partly_not_at_random() {
    let (dir, _) = run(5_000, 8);
    let (header, rows) = read_csv(&out(&dir, "customers.csv"));
    let n = rows.len() as f64;
    let mut with_missing = Vec::new();
    for (j, name) in header.iter().enumerate() {
        let share = rows.iter().filter(|r| r[j].is_empty()).count() as f64 / n;
        assert!(share <= 0.10, "{name}: {share:.3} missing");
        if share > 0.0 {
            with_missing.push(share);
        }
    }
    let mean = with_missing.iter().sum::<f64>() / with_missing.len() as f64;
    assert!(
        with_missing.len() >= 10,
        "{} columns with missing values",
        with_missing.len()
    );
    assert!(
        (0.01..=0.06).contains(&mean),
        "mean missing share {mean:.3}"
    );

    let tickets = column(&header, "care_tickets_6m");
    let mentions = column(&header, "social_mentions_90d");
    for r in &rows {
        if r[tickets] == "0" {
            assert!(r[column(&header, "complaint_sentiment")].is_empty());
            assert!(r[column(&header, "avg_resolution_hours")].is_empty());
        }
        if r[mentions] == "0" || r[mentions].is_empty() {
            assert!(r[column(&header, "social_sentiment")].is_empty());
        }
    }
    // Age goes missing more often for prepaid customers.
    let (age, plan) = (column(&header, "age"), column(&header, "plan"));
    let missing_age = |prepaid: bool| {
        let group: Vec<_> = rows
            .iter()
            .filter(|r| r[plan].starts_with("prepaid") == prepaid)
            .collect();
        group.iter().filter(|r| r[age].is_empty()).count() as f64 / group.len() as f64
    };
    assert!(missing_age(true) > 2.0 * missing_age(false));
}

#[test]
fn features_are_correlated_and_churn_is_driven_by_risk() {
    let (dir, _) = run(5_000, 9);
    let (header, rows) = read_csv(&out(&dir, "customers.csv"));
    let num = |r: &Vec<String>, name: &str| r[column(&header, name)].parse::<f64>().ok();
    // total_charges ≈ monthly_charge × tenure_months, up to noise and unit errors.
    let close = rows
        .iter()
        .filter_map(|r| {
            Some((
                num(r, "total_charges")?,
                num(r, "monthly_charge")? * num(r, "tenure_months")?,
            ))
        })
        .filter(|(_, m)| *m > 0.0)
        .filter(|(t, m)| (t / m - 1.0).abs() < 0.3)
        .count();
    assert!(close as f64 > 0.95 * rows.len() as f64, "{close}");
    // Rank correlation of data volume and app sessions is clearly positive.
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((num(r, "data_gb")?, num(r, "app_sessions_30d")?)))
        .collect();
    let rho = spearman(&pairs);
    assert!(rho > 0.4, "spearman(data_gb, app_sessions) = {rho:.2}");
    // Churn: 5–30 % overall, higher with late payments.
    let churn = column(&header, "churn");
    let rate = |pred: &dyn Fn(&Vec<String>) -> bool| {
        let g: Vec<_> = rows.iter().filter(|r| pred(r)).collect();
        g.iter().filter(|r| r[churn] == "1").count() as f64 / g.len() as f64
    };
    let overall = rate(&|_| true);
    assert!((0.05..=0.30).contains(&overall), "churn rate {overall:.3}");
    let late = |r: &Vec<String>| num(r, "late_payments_12m").is_some_and(|v| v >= 2.0);
    assert!(rate(&late) > 1.5 * rate(&|r| !late(r)));
}

fn spearman(pairs: &[(f64, f64)]) -> f64 {
    let rank = |key: &dyn Fn(&(f64, f64)) -> f64| {
        let mut idx: Vec<usize> = (0..pairs.len()).collect();
        idx.sort_by(|&a, &b| key(&pairs[a]).total_cmp(&key(&pairs[b])));
        let mut r = vec![0.0; pairs.len()];
        for (k, i) in idx.into_iter().enumerate() {
            r[i] = k as f64;
        }
        r
    };
    let (x, y) = (rank(&|p| p.0), rank(&|p| p.1));
    let n = x.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let cov: f64 = x.iter().zip(&y).map(|(a, b)| (a - mean) * (b - mean)).sum();
    let var: f64 = x.iter().map(|a| (a - mean).powi(2)).sum();
    cov / var
}

#[test]
fn interactions_are_consistent_and_acceptance_is_learnable() {
    let (dir, summary) = run(5_000, 10);
    let (_, customers) = read_csv(&out(&dir, "customers.csv"));
    let (_, offers) = read_csv(&out(&dir, "offers.csv"));
    let (_, personas) = read_csv(&out(&dir, "personas.csv"));
    let (header, events) = read_csv(&out(&dir, "interactions.csv"));
    assert_eq!(header, ["customer_id", "offer_id", "timestamp", "event"]);
    assert!(offers.len() >= 30);
    let persona: HashMap<&str, usize> = personas
        .iter()
        .map(|r| (r[0].as_str(), r[1].parse().unwrap()))
        .collect();
    // personas.csv lists the customers of customers.csv, in the same order, from C0000001.
    let ids: Vec<&str> = customers.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        ids,
        personas.iter().map(|r| r[0].as_str()).collect::<Vec<_>>()
    );
    assert_eq!(ids[0], "C0000001");
    assert_eq!(ids[ids.len() - 1], format!("C{:07}", ids.len()));
    assert_eq!(persona.len(), customers.len());
    let category: HashMap<&str, &str> = offers
        .iter()
        .map(|r| (r[0].as_str(), r[2].as_str()))
        .collect();

    let mut accepts_per_customer: HashMap<&str, usize> = HashMap::new();
    let mut last: Option<(&str, &str)> = None;
    let mut shown: std::collections::HashSet<(&str, &str)> = Default::default();
    // [persona][is roaming pack] → (impressions, accepts)
    let mut roaming = vec![[(0usize, 0usize); 2]; persona_names().len()];
    for e in &events {
        let (c, o, t, kind) = (e[0].as_str(), e[1].as_str(), e[2].as_str(), e[3].as_str());
        assert!(persona.contains_key(c), "unknown customer {c}");
        assert!(category.contains_key(o), "unknown offer {o}");
        assert!(
            t.len() == 20 && t.starts_with("2024-") && t.ends_with('Z'),
            "{t}"
        );
        if let Some((pc, pt)) = last
            && pc == c
        {
            assert!(pt <= t, "{c}: {pt} then {t}");
        }
        last = Some((c, t));
        let is_roaming = usize::from(category[o] == "roaming_pack");
        let slot = &mut roaming[persona[c]][is_roaming];
        match kind {
            "impression" => {
                shown.insert((c, o));
                slot.0 += 1;
            }
            "accept" => {
                assert!(shown.contains(&(c, o)), "{c} accepted {o} before seeing it");
                *accepts_per_customer.entry(c).or_default() += 1;
                slot.1 += 1;
            }
            other => panic!("event {other}"),
        }
    }
    let n = customers.len() as f64;
    let at_least = |k: usize| accepts_per_customer.values().filter(|&&a| a >= k).count() as f64 / n;
    assert!(at_least(1) > 0.85, "≥1 accept: {:.3}", at_least(1));
    assert!(at_least(2) > 0.6, "≥2 accepts: {:.3}", at_least(2));
    let rate = summary.accepts as f64 / (summary.interactions - summary.accepts) as f64;
    assert!((0.15..0.5).contains(&rate), "accept rate {rate:.3}");

    // Business roamers take roaming packs far more often than everybody else.
    let roamer = persona_names()
        .iter()
        .position(|p| *p == "business_roamer")
        .unwrap();
    let roamer_rate = roaming[roamer][1].1 as f64 / roaming[roamer][1].0 as f64;
    let (others_shown, others_taken) = roaming
        .iter()
        .enumerate()
        .filter(|(p, _)| *p != roamer)
        .fold((0, 0), |(s, t), (_, r)| (s + r[1].0, t + r[1].1));
    let others_rate = others_taken as f64 / others_shown as f64;
    assert!(
        roamer_rate > 3.0 * others_rate,
        "roamers {roamer_rate:.3} vs others {others_rate:.3}"
    );
}

#[test]
fn zero_customers_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = generate(&GenerateOptions::new(0, 1, dir.path().into())).unwrap_err();
    assert!(matches!(err, GenerateError::NoCustomers));
    assert_eq!(err.to_string(), "customers must be at least 1");
}

#[test]
fn zero_offers_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = GenerateOptions::new(10, 1, dir.path().into());
    opts.offers = 0;
    assert_eq!(
        generate(&opts).unwrap_err().to_string(),
        "offers must be at least 1"
    );
}

#[test]
fn too_many_offers_is_an_error() {
    let mut opts = GenerateOptions::new(10, 1, PathBuf::from("unused"));
    opts.offers = u32::MAX as usize + 1;
    assert!(matches!(opts.check(), Err(GenerateError::TooManyOffers(_))));
}

#[test]
fn options_deserialize_with_defaults() {
    let opts: GenerateOptions = toml::from_str("customers = 5\nseed = 3\nout_dir = \"d\"").unwrap();
    assert_eq!(opts, GenerateOptions::new(5, 3, PathBuf::from("d")));
    assert!(
        toml::from_str::<GenerateOptions>("customers = 5\nseed = 3\nout_dir = \"d\"\nofers = 2")
            .is_err()
    );
}

#[test]
fn existing_output_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = GenerateOptions::new(50, 1, dir.path().into());
    generate(&opts).unwrap();
    let before = std::fs::read(dir.path().join("customers.csv")).unwrap();
    opts.seed = 2;
    let err = generate(&opts).unwrap_err();
    assert!(matches!(err, GenerateError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("customers.csv"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("customers.csv")).unwrap(),
        before
    );
    opts.force = true;
    generate(&opts).unwrap();
    assert_ne!(
        std::fs::read(dir.path().join("customers.csv")).unwrap(),
        before
    );
}

#[test]
fn unwritable_out_dir_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let err = generate(&GenerateOptions::new(10, 1, blocker.join("out"))).unwrap_err();
    assert!(matches!(err, GenerateError::Io { .. }));
    assert!(err.to_string().contains("file"), "{err}");
}

/// Mean over personas of the variance of `log1p(data_gb)` within the persona.
fn within_persona_variance(spread: f64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = GenerateOptions::new(4_000, 11, dir.path().join("out"));
    opts.persona_spread = spread;
    generate(&opts).unwrap();
    let (header, rows) = read_csv(&out(&dir, "customers.csv"));
    let (_, personas) = read_csv(&out(&dir, "personas.csv"));
    let data = column(&header, "data_gb");
    let mut by_persona: HashMap<String, Vec<f64>> = HashMap::new();
    for (row, persona) in rows.iter().zip(&personas) {
        if let Ok(v) = row[data].parse::<f64>() {
            by_persona
                .entry(persona[1].clone())
                .or_default()
                .push(v.ln_1p());
        }
    }
    let variances: Vec<f64> = by_persona
        .values()
        .map(|v| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64
        })
        .collect();
    variances.iter().sum::<f64>() / variances.len() as f64
}

#[test]
fn persona_spread_tightens_the_personas() {
    let realistic = within_persona_variance(1.0);
    let tight = within_persona_variance(0.3);
    assert!(
        tight < 0.7 * realistic,
        "within-persona variance {tight} at spread 0.3 vs {realistic} at 1"
    );
}

#[test]
fn persona_spread_out_of_range_is_refused() {
    for bad in [0.0, -0.5, 4.5, f64::NAN] {
        let mut opts = GenerateOptions::new(10, 1, PathBuf::from("/nonexistent"));
        opts.persona_spread = bad;
        assert!(
            matches!(generate(&opts), Err(GenerateError::PersonaSpread(_))),
            "{bad}"
        );
    }
}

#[test]
fn contacts_follow_the_logging_policy_and_the_known_response() {
    use super::contacts::{ARMS, arm_name};
    let (dir, _) = run(5000, 11);
    let (header, contacts) = read_csv(&out(&dir, "contacts.csv"));
    assert_eq!(
        header.join(","),
        "contact_id,customer_id,offer_id,timestamp,channel,arm,propensity,accepted,response_hours"
    );
    let (truth_header, truth) = read_csv(&out(&dir, "contacts_truth.csv"));
    let arms: Vec<String> = (0..ARMS).map(arm_name).collect();
    assert_eq!(
        truth_header.join(","),
        format!("contact_id,{}", arms.join(","))
    );
    assert_eq!(contacts.len(), truth.len());
    assert!(
        contacts.len() > 6000 && contacts.len() < 9000,
        "{}",
        contacts.len()
    );
    let (mut accepted, mut expected) = (0.0, 0.0);
    for (c, t) in contacts.iter().zip(&truth) {
        assert_eq!(c[0], t[0], "truth rows follow the contacts");
        let arm = arms.iter().position(|a| *a == c[5]).expect("a known arm");
        assert!(
            c[5].starts_with(&c[4]),
            "the arm's channel is the contact's: {c:?}"
        );
        // The legacy rule's arm gets 0.6 + 0.4/24, every other 0.4/24.
        let p: f64 = c[6].parse().unwrap();
        assert!(
            (p - 0.4 / 24.0).abs() < 1e-6 || (p - (0.6 + 0.4 / 24.0)).abs() < 1e-6,
            "{p}"
        );
        accepted += c[7].parse::<f64>().unwrap();
        assert_eq!(
            c[8].is_empty(),
            c[7] == "0",
            "a response delay exactly when accepted"
        );
        expected += t[1 + arm].parse::<f64>().unwrap();
    }
    // The responses are draws from the written truth.
    let n = contacts.len() as f64;
    let sd = (expected / n * (1.0 - expected / n) / n).sqrt();
    assert!(
        ((accepted - expected) / n).abs() < 4.0 * sd,
        "{accepted} vs {expected}"
    );
}

#[test]
fn usage_history_ends_at_the_table_and_has_trend_and_season() {
    let (dir, _) = run(3000, 5);
    let (header, customers) = read_csv(&out(&dir, "customers.csv"));
    let (h_header, history) = read_csv(&out(&dir, "usage_history.csv"));
    let (n_header, next) = read_csv(&out(&dir, "usage_next_month.csv"));
    assert_eq!(
        h_header.join(","),
        "customer_id,month,voice_minutes,data_gb,roaming_days"
    );
    assert_eq!(n_header, h_header);
    assert_eq!(history.len(), 3000 * 36);
    assert_eq!(next.len(), 3000);
    assert!(next.iter().all(|r| r[1] == "2025-01"));
    // December 2024 is the table's month: the same text wherever the row has no defect there.
    let (voice, data, roaming) = (
        column(&header, "voice_minutes"),
        column(&header, "data_gb"),
        column(&header, "roaming_days"),
    );
    let mut same = 0;
    for (i, c) in customers.iter().enumerate() {
        let dec = &history[i * 36 + 35];
        assert_eq!(
            (dec[0].as_str(), dec[1].as_str()),
            (c[0].as_str(), "2024-12")
        );
        assert_eq!(history[i * 36][1], "2022-01");
        same += usize::from(dec[2] == c[voice] && dec[3] == c[data] && dec[4] == c[roaming]);
    }
    // Usage gaps (1.5 %) and unit errors (< 0.2 %) are the only differences.
    assert!(same as f64 > 0.97 * 3000.0, "{same} of 3000 equal");
    // Data grows, voice declines, roaming peaks in August.
    let mean = |month: &str, col: usize| {
        let v: Vec<f64> = history
            .iter()
            .filter(|r| r[1] == month)
            .map(|r| r[col].parse::<f64>().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean("2024-03", 3) > 1.1 * mean("2023-03", 3), "data grows");
    assert!(mean("2024-03", 2) < mean("2023-03", 2), "voice declines");
    assert!(
        mean("2024-08", 4) > 2.0 * mean("2024-02", 4),
        "summer roaming"
    );
    assert!(
        mean("2023-08", 4) > 2.0 * mean("2023-11", 4),
        "summer roaming"
    );
}

#[test]
fn value_truth_is_the_lifetime_value_of_the_true_churn_risk() {
    use crate::models::propensity::value;
    let (dir, _) = run(2000, 9);
    let (header, rows) = read_csv(&out(&dir, "value_truth.csv"));
    assert_eq!(
        header.join(","),
        "customer_id,churn_probability,monthly_hazard,monthly_margin,lifetime_value"
    );
    assert_eq!(rows.len(), 2000);
    let (_, customers) = read_csv(&out(&dir, "customers.csv"));
    let mut churners = (0.0, 0.0);
    for (r, c) in rows.iter().zip(&customers) {
        assert_eq!(r[0], c[0]);
        let f = |k: usize| r[k].parse::<f64>().unwrap();
        let (p, h, m, ltv) = (f(1), f(2), f(3), f(4));
        assert!((0.0..1.0).contains(&p) && m > 0.0, "{r:?}");
        assert!((h - value::monthly_hazard(p, 3.0)).abs() < 1e-5, "{r:?}");
        let expect = value::lifetime_value(m, h, 24, value::monthly_discount(0.1));
        // Margin (2 decimals: up to 0.005 × ~22 months) and hazard are rounded in the file.
        assert!(
            (ltv - expect).abs() < 0.13 + 1e-4 * expect,
            "{r:?}: {expect}"
        );
        assert!(ltv < 24.0 * m + 0.01);
        let churned = c.last().unwrap() == "1";
        churners.0 += if churned { p } else { 0.0 };
        churners.1 += if churned { 1.0 } else { 0.0 };
    }
    // The label is drawn from the written probability: churners had higher probabilities.
    let mean_p: f64 = rows
        .iter()
        .map(|r| r[1].parse::<f64>().unwrap())
        .sum::<f64>()
        / 2000.0;
    assert!(churners.0 / churners.1 > 1.3 * mean_p);
}
