//! Regression tests of the fuzz targets (`fuzz/`, docs/fuzzing.md): every file under
//! `tests/fixtures/fuzz/<target>/` — the seed corpus and every input a fuzzer ever found — goes
//! through the target's body in `teleseg::fuzzing`, plus a few hundred deterministic mutations of
//! each seed, so CI keeps what fuzzing established without a nightly toolchain.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use teleseg::fuzzing;

fn fixtures(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Runs `body` on every input; fails naming every input that panicked.
fn run_all(body: fn(&[u8]), inputs: &[(String, Vec<u8>)]) {
    let failures: Vec<String> = inputs
        .iter()
        .filter_map(|(name, bytes)| {
            catch_unwind(AssertUnwindSafe(|| body(bytes)))
                .err()
                .map(|e| {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("{name}: {msg}")
                })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} input(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The corpus of `target` (at least `min_files` files, so the test cannot pass on an empty
/// folder) plus `per_seed` deterministic mutations of each file.
fn corpus(target: &str, min_files: usize, per_seed: usize) -> Vec<(String, Vec<u8>)> {
    let files = fixtures(target);
    assert!(
        files.len() >= min_files,
        "tests/fixtures/fuzz/{target} has {} files, expected at least {min_files}",
        files.len()
    );
    let mut inputs = Vec::new();
    for (path, bytes) in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for (i, m) in mutations(&bytes, per_seed, fnv(&name))
            .into_iter()
            .enumerate()
        {
            inputs.push((format!("{name} mutation {i}"), m));
        }
        inputs.push((name, bytes));
    }
    inputs
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// `n` mutations of `seed`: truncations, byte flips, interesting bytes, duplicated and deleted
/// ranges — the moves libFuzzer starts with, from a fixed xorshift stream.
fn mutations(seed: &[u8], n: usize, mut state: u64) -> Vec<Vec<u8>> {
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const INTERESTING: [u8; 12] = [
        0, 0xff, b',', b'"', b'\n', b'\r', b'{', b'}', b'9', b'-', b'e', 0x80,
    ];
    (0..n)
        .map(|_| {
            let mut m = seed.to_vec();
            if m.is_empty() {
                return vec![(next() % 256) as u8];
            }
            let len = m.len();
            let at = (next() as usize) % len;
            match next() % 5 {
                0 => m.truncate(at),
                1 => m[at] ^= 1 << (next() % 8),
                2 => m[at] = INTERESTING[(next() as usize) % INTERESTING.len()],
                3 => {
                    let end = (at + 1 + (next() as usize) % 16).min(len);
                    let chunk = m[at..end].to_vec();
                    m.splice(at..at, chunk);
                }
                _ => {
                    let end = (at + 1 + (next() as usize) % 16).min(len);
                    m.drain(at..end);
                }
            }
            m
        })
        .collect()
}

#[test]
fn fuzz_corpus_csv_reader() {
    run_all(fuzzing::csv_reader, &corpus("csv_reader", 10, 200));
}

#[test]
fn fuzz_corpus_schema_toml() {
    run_all(fuzzing::schema_toml, &corpus("schema_toml", 4, 200));
}

#[test]
fn fuzz_corpus_parquet_reader() {
    run_all(fuzzing::parquet_reader, &corpus("parquet_reader", 6, 300));
}

#[test]
fn fuzz_corpus_checkpoint() {
    run_all(fuzzing::checkpoint, &corpus("checkpoint", 4, 150));
}

/// The checks inside the targets are real: a panicking body is reported with the input's name.
#[test]
fn fuzz_harness_reports_failures() {
    fn body(data: &[u8]) {
        assert!(!data.starts_with(b"boom"), "found boom");
    }
    let inputs = vec![
        ("fine".to_string(), b"ok".to_vec()),
        ("bad".to_string(), b"boom!".to_vec()),
    ];
    let err = catch_unwind(|| run_all(body, &inputs)).expect_err("a failing input must fail");
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("bad: found boom") && !msg.contains("fine"),
        "{msg}"
    );
}

#[test]
fn fuzz_corpus_job_config() {
    run_all(fuzzing::job_config, &corpus("job_config", 8, 100));
}

/// A time-boxed mutation soak of one target where cargo-fuzz cannot run (no nightly toolchain
/// or no time for its instrumented build): `TELESEG_FUZZ_TARGET=parquet_reader
/// TELESEG_FUZZ_SECONDS=600 cargo test --release --test it -- --ignored fuzz_soak --nocapture`.
/// Each input is a corpus file with 1–8 stacked mutations (not coverage-guided, so weaker than
/// libFuzzer); a failing input is written to `target/fuzz-soak/<target>/` and fails the test.
#[test]
#[ignore]
fn fuzz_soak() {
    let target = std::env::var("TELESEG_FUZZ_TARGET").unwrap_or_else(|_| "parquet_reader".into());
    let seconds: u64 = std::env::var("TELESEG_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let body: fn(&[u8]) = match target.as_str() {
        "csv_reader" => fuzzing::csv_reader,
        "schema_toml" => fuzzing::schema_toml,
        "job_config" => fuzzing::job_config,
        "checkpoint" => fuzzing::checkpoint,
        "parquet_reader" => fuzzing::parquet_reader,
        other => panic!("unknown target {other}"),
    };
    let seeds = fixtures(&target);
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/fuzz-soak")
        .join(&target);
    let started = std::time::Instant::now();
    let (mut executions, mut failures, mut round) = (0u64, 0usize, 0u64);
    std::panic::set_hook(Box::new(|_| {}));
    while started.elapsed().as_secs() < seconds {
        round += 1;
        for (path, bytes) in &seeds {
            let mut input = bytes.clone();
            let stack = 1 + (fnv(&format!("{round}{}", path.display())) % 8) as usize;
            for k in 0..stack {
                let state = fnv(&format!("{round}/{k}/{}", path.display())) | 1;
                input = mutations(&input, 1, state).remove(0);
            }
            executions += 1;
            if catch_unwind(AssertUnwindSafe(|| body(&input))).is_err() {
                failures += 1;
                std::fs::create_dir_all(&out).unwrap();
                std::fs::write(out.join(format!("crash-{round}-{failures}")), &input).unwrap();
            }
        }
    }
    let _ = std::panic::take_hook();
    eprintln!(
        "fuzz soak {target}: {executions} executions in {:.0} s, {failures} failing input(s){}",
        started.elapsed().as_secs_f64(),
        if failures > 0 {
            format!(" in {}", out.display())
        } else {
            String::new()
        }
    );
    assert_eq!(failures, 0, "failing inputs in {}", out.display());
}
