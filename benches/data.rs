//! Data-pipeline benchmarks. `cargo bench --bench data`.
//!
//! `generate`: synthetic data, customers per second including their interaction logs.
//!
//! `preprocess`: CSV ingestion, fitting and applying the preprocessing on ~20 000 synthetic
//! customers held in memory (throughput in rows/s).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use teleseg::data::generate::{GenerateOptions, generate};
use teleseg::data::{
    OnBadRow, Preprocessor, ReadOptions, Schema, read_csv_from_reader, split_indices,
};

const ROWS: usize = 20_000;

/// Customers per generated data set (~40 MB of CSV).
const CUSTOMERS: usize = 20_000;

const SCHEMA: &str = r#"
name = "bench"
[[columns]]
name = "customer_id"
role = "id"
[[columns]]
name = "tenure_months"
role = "numeric"
min = 0.0
clip = [0.01, 0.99]
[[columns]]
name = "monthly_charges"
role = "numeric"
min = 0.0
[[columns]]
name = "data_gb"
role = "numeric"
log1p = true
clip = [0.001, 0.999]
[[columns]]
name = "call_minutes"
role = "numeric"
log1p = true
[[columns]]
name = "plan"
role = "categorical"
[[columns]]
name = "region"
role = "categorical"
min_frequency = 0.01
[[columns]]
name = "contract"
role = "categorical"
[[columns]]
name = "promo"
role = "binary"
[[columns]]
name = "roaming"
role = "binary"
[[columns]]
name = "churn"
role = "target"
[[derived]]
name = "gb_per_month"
numerator = "data_gb"
denominator = "tenure_months"
"#;

/// xorshift64*: a tiny deterministic generator, enough for benchmark fixtures.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// `v`, or an empty (missing) cell with probability 2 %.
    fn blank_sometimes(&mut self, v: String) -> String {
        if self.unit() < 0.02 { String::new() } else { v }
    }
}

/// `ROWS` customers as CSV text, ~2 % missing cells in the numeric and binary columns.
fn synthetic_csv() -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::from(
        "customer_id,tenure_months,monthly_charges,data_gb,call_minutes,plan,region,contract,promo,roaming,churn\n",
    );
    let plans = ["prepaid", "postpaid", "family", "business", "student"];
    let contracts = ["month-to-month", "one-year", "two-year"];
    for i in 0..ROWS {
        let tenure = format!("{}", (rng.unit() * 72.0) as u32);
        let charges = format!("{:.2}", 10.0 + rng.unit() * 90.0);
        let gb = format!("{:.3}", (rng.unit() * 4.0).exp() - 1.0);
        let minutes = format!("{:.1}", rng.unit() * 900.0);
        let [tenure, charges, gb, minutes] =
            [tenure, charges, gb, minutes].map(|v| rng.blank_sometimes(v));
        let plan = plans[(rng.next() % 5) as usize];
        let region = format!("R{:02}", (rng.unit() * rng.unit() * 60.0) as u32);
        let contract = contracts[(rng.next() % 3) as usize];
        let promo = if rng.unit() < 0.3 { "yes" } else { "no" }.to_string();
        let roaming = if rng.unit() < 0.1 { "1" } else { "0" }.to_string();
        let [promo, roaming] = [promo, roaming].map(|v| rng.blank_sometimes(v));
        let churn = u8::from(rng.unit() < 0.2);
        out.push_str(&format!(
            "C{i:07},{tenure},{charges},{gb},{minutes},{plan},{region},\"{contract}\",{promo},{roaming},{churn}\n"
        ));
    }
    out
}

/// `read_csv` + `fit` + `transform`, separately and together.
fn bench_preprocess(c: &mut Criterion) {
    let schema = Schema::parse(SCHEMA, "bench.toml").expect("bench schema is valid");
    let csv = synthetic_csv();
    let opts = ReadOptions {
        on_bad_row: OnBadRow::Error,
    };
    let read = || {
        read_csv_from_reader(csv.as_bytes(), "bench.csv", &schema, &opts)
            .expect("bench csv is valid")
    };
    let (table, _) = read();
    let split = split_indices(&table.ids, 42, 0.1, 0.1);
    let pre = Preprocessor::fit(&schema, &table, &split.train).expect("fit");

    let mut group = c.benchmark_group("preprocess");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("read_csv", |b| b.iter(|| black_box(read())));
    group.bench_function("split_fit", |b| {
        b.iter(|| {
            let split = split_indices(&table.ids, 42, 0.1, 0.1);
            black_box(Preprocessor::fit(&schema, &table, &split.train).expect("fit"))
        })
    });
    group.bench_function("transform", |b| {
        b.iter(|| black_box(pre.transform(&table).expect("transform")))
    });
    group.bench_function("read_fit_transform", |b| {
        b.iter(|| {
            let (table, _) = read();
            let split = split_indices(&table.ids, 42, 0.1, 0.1);
            let pre = Preprocessor::fit(&schema, &table, &split.train).expect("fit");
            black_box(pre.transform(&table).expect("transform"))
        })
    });
    group.finish();
}

criterion_group!(preprocess, bench_preprocess);
fn bench_generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(CUSTOMERS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    let dir = tempfile::tempdir().expect("temporary folder");
    group.bench_function("customers_20k", |b| {
        b.iter(|| {
            let mut opts = GenerateOptions::new(CUSTOMERS, 42, dir.path().join("out"));
            opts.force = true;
            black_box(generate(&opts).expect("generate"))
        })
    });
    group.finish();
}

criterion_group!(generate_group, bench_generate);
criterion_main!(generate_group, preprocess);
