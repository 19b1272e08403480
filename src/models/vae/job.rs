//! The tabular VAE job (`teleseg train vae` and the pipeline's VAE stage): train on the real
//! train split, sample `synthetic.csv` from the best checkpoint, and write the quality report
//! `synthetic_quality.json` against the holdout.
//!
//! A VAE run folder holds `model.safetensors` (kind `vae`), `metrics.jsonl`, `config.toml`,
//! `holdout.csv` (the real test split, the reference of the report), `synthetic.csv` (as many
//! rows as the holdout, original schema), `segments/segment-<label>.csv` (conditional runs) and
//! `synthetic_quality.json` (quality, privacy and utility of the VAE and of the
//! independent-marginals baseline, and how often conditional samples land in their segment).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, Header, RunDir, keys};
use crate::config;
use crate::data::writer::table_csv;
use crate::error::UsageError;
use crate::eval::synthetic::{self, SyntheticReport};
use crate::job::{Globals, prepare_data};
use crate::models::autoencoder::RawInput;
use crate::models::dec::SegmentModel;
use crate::train::{self, FitOptions, StopReason};

use super::{
    Codec, KIND, MAX_TARGET_CLASSES, META_CODEC, META_SEGMENTS, META_TARGET_CONDITION,
    NoTargetCondition, NumericEncoding, RowConditions, SegmentInfo, TargetCondition, VaeArch,
    VaeJob, VaeModel, VaeTask,
};

/// How often conditional samples of a segment are assigned to it by the clustering model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentFidelity {
    pub segment: String,
    pub rows: usize,
    /// Share of the segment's samples the `dec` model assigns to the segment (None without one;
    /// segment labels must be the dec model's segment indices, as in `dec/segments.csv`).
    pub assigned_to_segment: Option<f64>,
    /// Share of real train rows of the segment the `dec` model assigns to it (the reference).
    pub real_assigned_to_segment: Option<f64>,
}

/// `synthetic_quality.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityFile {
    pub vae: SyntheticReport,
    pub independent_marginals: SyntheticReport,
    pub segments: Vec<SegmentFidelity>,
    /// Mean share of conditional samples landing in their segment.
    pub conditional_accuracy: Option<f64>,
    pub numeric_encoding: NumericEncoding,
}

/// What `train vae` produced.
#[derive(Debug)]
pub struct VaeReport {
    pub run: PathBuf,
    pub best_valid_loss: f64,
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub stop: StopReason,
    pub samples_per_s: f64,
    pub train_wall_s: f64,
    /// Rows per second of sampling `synthetic.csv` (decode + draw, without writing).
    pub sample_rows_per_s: f64,
    pub quality: QualityFile,
}

/// Reads `customer_id,segment` labels (the column `segment`, else the second).
pub fn read_segments(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    crate::data::labels::read_labels(path, "segment")
}

/// Segment labels sorted (numerically when all are integers) and each row's index.
fn segment_indices(
    path: &Path,
    ids: &[String],
    train_rows: &[usize],
) -> anyhow::Result<(SegmentInfo, Vec<usize>)> {
    let labels = read_segments(path)?;
    let mut names: Vec<String> = labels.values().cloned().collect();
    names.sort();
    names.dedup();
    if names.iter().all(|n| n.parse::<i64>().is_ok()) {
        names.sort_by_key(|n| n.parse::<i64>().unwrap_or(0));
    }
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(l) = labels.get(id) else {
            bail!(UsageError(format!(
                "{}: customer `{id}` has no segment (every customer of the data needs one)",
                path.display()
            )));
        };
        out.push(index[l.as_str()]);
    }
    let mut shares = vec![0.0; names.len()];
    for &r in train_rows {
        shares[out[r]] += 1.0 / train_rows.len() as f64;
    }
    Ok((
        SegmentInfo {
            labels: names,
            shares,
        },
        out,
    ))
}

/// The target classes the VAE is conditioned on (empty when `vae.condition_on_target` is off or
/// the table's target cannot be, with the reason logged) and each table row's class.
fn target_condition(
    job: &VaeJob,
    table: &crate::data::table::RawTable,
    train_rows: &[usize],
    row_segments: &[usize],
    n_segments: usize,
) -> (TargetCondition, Vec<usize>) {
    if !job.vae.condition_on_target {
        return (TargetCondition::default(), Vec::new());
    }
    match TargetCondition::fit(table, train_rows, row_segments, n_segments) {
        Ok((t, rows)) => {
            tracing::info!(columns = ?t.columns, classes = t.n_classes(), "conditioned on the target");
            (t, rows)
        }
        Err(why) => {
            match why {
                NoTargetCondition::NoTarget => {}
                NoTargetCondition::OneClass => {
                    tracing::info!("not conditioned on the target: train holds a single class")
                }
                NoTargetCondition::TooManyClasses(n) => tracing::warn!(
                    "not conditioned on the target: {n} classes in train (at most \
                     {MAX_TARGET_CLASSES}); it is modelled like any other column"
                ),
            }
            (TargetCondition::default(), Vec::new())
        }
    }
}

/// Trains a VAE for `job` into `run` (fresh, or with `resume` continuing `run/last` exactly),
/// samples `synthetic.csv` (and per-segment files) from the best checkpoint and writes
/// `synthetic_quality.json`.
pub fn run_vae_job(
    job: &crate::config::Checked<VaeJob>,
    run: &RunDir,
    globals: &Globals,
    resume: bool,
) -> anyhow::Result<VaeReport> {
    let resolved = config::to_toml(job);
    tracing::info!(run = %run.root.display(), "resolved config:\n{resolved}");
    crate::job::save_config(run, &resolved, resume)?;
    let seed = job.seed.0;
    let data = prepare_data(&job.data, seed, run, &globals.progress)?;
    let (segments, row_segments) = match &job.vae.segments {
        Some(p) => segment_indices(p, &data.table.ids, &data.train_rows)?,
        None => (SegmentInfo::default(), Vec::new()),
    };
    // A resumed run keeps the conditioning its model was trained with (a run started before
    // target conditioning existed has none, whatever today's default says).
    let mut job = job.clone().into_inner();
    if resume && let Some(last) = run.last_complete() {
        let ck = checkpoint::Checkpoint::read(&last.join("model.safetensors"), Some(KIND))?;
        let arch: VaeArch = ck.meta_json(keys::MODEL)?;
        job.vae.condition_on_target = arch.n_target_classes > 0;
    }
    let job = &job;
    let (target, row_classes) = target_condition(
        job,
        &data.table,
        &data.train_rows,
        &row_segments,
        segments.labels.len(),
    );
    let modes = (job.vae.numeric == NumericEncoding::Modes).then_some(job.vae.modes);
    let codec = Codec::fit(&data.schema, &data.table, &data.train_rows, modes);
    let conditions = RowConditions {
        segments: row_segments.clone(),
        classes: row_classes,
    };
    let enc = |rows: &[usize]| {
        codec
            .encode(&data.table, rows)
            .map_err(|m| anyhow::anyhow!("{}: lacks {m}", data.table.source))
    };
    let train_enc = (enc(&data.train_rows)?, conditions.pick(&data.train_rows));
    let valid_enc = (enc(&data.valid_rows)?, conditions.pick(&data.valid_rows));
    let arch = VaeArch::new(&codec, segments.labels.len(), target.n_classes(), &job.vae);
    tracing::info!(
        width = arch.width,
        numeric = arch.n_numeric,
        segments = arch.n_segments,
        target_classes = arch.n_target_classes,
        "vae layout"
    );

    let device = globals.backend.device.clone();
    let ad = device.clone().autodiff();
    ad.seed(seed);
    device.seed(seed);
    let model = arch.init(&ad);
    let header = Header::new(KIND, job, &arch, &globals.backend.kind.to_string())
        .with_json(keys::SCHEMA, &data.schema)
        .with_json(META_CODEC, &codec)
        .with_json(META_SEGMENTS, &segments)
        .with_json(META_TARGET_CONDITION, &target);
    let mut task = VaeTask::new(&arch, &codec, train_enc, valid_enc, &job.vae, &device);
    let opts = FitOptions {
        train: &job.train,
        seed,
        device: device.clone(),
        run,
        progress: &globals.progress,
        label: KIND,
        stop_after_epochs: None,
        header: &header,
    };
    let resumed = train::resume_if(resume, run, model.clone(), &job.train)
        .context("resuming from last checkpoint")?;
    let started = std::time::Instant::now();
    let outcome = train::fit(&mut task, model, &opts, resumed)?;
    let train_wall_s = started.elapsed().as_secs_f64();
    let samples_per_s = outcome.mean_samples_per_s();

    // Sample from the best checkpoint, exactly as `teleseg sample` would.
    let vm = VaeModel::load(&run.model(), &device)?;
    let holdout = data.table.take_rows(&data.test_rows);
    // The train rows the report compares with (privacy, TRTR, the marginals baseline, segment
    // fidelity): all of them up to synthetic::TRAIN_REFERENCE_ROWS, a seeded sample above, so
    // that no copy of a large train split is made.
    let ref_rows = synthetic::reference_rows(&data.train_rows, job.sample.seed);
    let train_table = data.table.take_rows(&ref_rows);
    // The real rows are written with up to 6 decimals (trailing zeros dropped), not rounded to
    // the codec's decimals.
    let real_decimals = HashMap::new();
    checkpoint::write_atomic(
        &run.root.join("holdout.csv"),
        &table_csv(
            &data.schema,
            &holdout,
            &(0..holdout.n_rows()).collect::<Vec<_>>(),
            &real_decimals,
        ),
    )?;
    let n = if job.sample.rows > 0 {
        job.sample.rows
    } else {
        holdout.n_rows().max(1)
    };
    let t = std::time::Instant::now();
    let (synth, _) = vm.sample(n, None, job.sample.seed, job.sample.keep_missing);
    let sample_rows_per_s = n as f64 / t.elapsed().as_secs_f64().max(1e-9);
    checkpoint::write_atomic(&run.root.join("synthetic.csv"), &vm.csv(&synth))?;

    let dcr = job.sample.dcr_rows;
    let report = synthetic::evaluate(
        &data.schema,
        &holdout,
        &synth,
        Some(&train_table),
        dcr,
        job.sample.seed,
    )?;
    let baseline = synthetic::independent_marginals(&train_table, n, job.sample.seed);
    let baseline_report = synthetic::evaluate(
        &data.schema,
        &holdout,
        &baseline,
        Some(&train_table),
        dcr,
        job.sample.seed,
    )?;

    // Conditional samples per segment, and how the clustering model assigns them.
    let mut fidelity = Vec::new();
    if arch.n_segments > 0 {
        let dir = run.root.join("segments");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let seg_model = match &job.vae.segment_model {
            Some(p) => Some(
                SegmentModel::load(&RunDir::resolve_model_file(p)?, &device)
                    .with_context(|| format!("loading the segment model {}", p.display()))?,
            ),
            None => None,
        };
        let real_feats = match &seg_model {
            Some(m) => Some(m.score(&m.features(&train_table)?, 4096).segment),
            None => None,
        };
        for (k, label) in segments.labels.iter().enumerate() {
            let rows = job.sample.rows_per_segment.max(1);
            let (t, _) = vm.sample(
                rows,
                Some(k),
                job.sample.seed.wrapping_add(k as u64 + 1),
                job.sample.keep_missing,
            );
            checkpoint::write_atomic(&dir.join(format!("segment-{label}.csv")), &vm.csv(&t))?;
            let target: Option<usize> = label.parse().ok();
            let (assigned, real_assigned) = match (&seg_model, target) {
                (Some(m), Some(target)) => {
                    let s = m.score(&m.features(&t)?, 4096).segment;
                    let share = s.iter().filter(|&&x| x == target).count() as f64 / s.len() as f64;
                    let real = real_feats.as_ref().map(|rs| {
                        let mine: Vec<usize> = ref_rows
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| row_segments[**r] == k)
                            .map(|(i, _)| rs[i])
                            .collect();
                        mine.iter().filter(|&&x| x == target).count() as f64
                            / mine.len().max(1) as f64
                    });
                    (Some(share), real)
                }
                _ => (None, None),
            };
            fidelity.push(SegmentFidelity {
                segment: label.clone(),
                rows,
                assigned_to_segment: assigned,
                real_assigned_to_segment: real_assigned,
            });
        }
    }
    let shares: Vec<f64> = fidelity
        .iter()
        .filter_map(|f| f.assigned_to_segment)
        .collect();
    let quality = QualityFile {
        vae: report,
        independent_marginals: baseline_report,
        conditional_accuracy: (!shares.is_empty())
            .then(|| shares.iter().sum::<f64>() / shares.len() as f64),
        segments: fidelity,
        numeric_encoding: job.vae.numeric,
    };
    checkpoint::write_atomic(
        &run.root.join("synthetic_quality.json"),
        serde_json::to_string_pretty(&quality)?.as_bytes(),
    )?;
    Ok(VaeReport {
        run: run.root.clone(),
        best_valid_loss: outcome.best_valid_loss,
        best_epoch: outcome.best_epoch,
        epochs_run: outcome.history.len(),
        stop: outcome.stop,
        samples_per_s,
        train_wall_s,
        sample_rows_per_s,
        quality,
    })
}

/// A text summary of a report (and its baseline).
pub fn summary(s: &SyntheticReport, baseline: Option<&SyntheticReport>) -> String {
    let mut out = String::new();
    let line = |name: &str, r: &SyntheticReport| {
        let mut l = format!(
            "{name:<22} quality {:.3} (shapes {:.3}, pair trends {:.3})",
            r.quality.overall, r.quality.column_shapes, r.quality.column_pair_trends
        );
        if let Some(p) = &r.privacy {
            l.push_str(&format!(
                "; DCR median {:.4} (holdout {:.4}), exact copies {}",
                p.dcr_synthetic_median, p.dcr_holdout_median, p.exact_copies
            ));
        }
        if let Some(u) = &r.utility {
            l.push_str(&format!(
                "; TSTR F1 {:.3} AUC {:.3}",
                u.tstr.f1, u.tstr.roc_auc
            ));
            if let Some(t) = u.trtr {
                l.push_str(&format!(" (TRTR F1 {:.3} AUC {:.3})", t.f1, t.roc_auc));
            }
        }
        l.push('\n');
        l
    };
    out.push_str(&line("synthetic", s));
    if let Some(b) = baseline {
        out.push_str(&line("independent marginals", b));
    }
    out
}

impl std::fmt::Display for QualityFile {
    /// The quality lines of a VAE run: the VAE beside the independent-marginals floor, and how
    /// often conditional samples land in their segment.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}",
            summary(&self.vae, Some(&self.independent_marginals))
        )?;
        if let Some(a) = self.conditional_accuracy {
            writeln!(f, "conditional samples assigned to their segment: {a:.3}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for VaeReport {
    /// The closing lines of `teleseg train vae`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = &self.quality;
        write!(
            f,
            "trained vae: best validation loss {:.4} at epoch {} ({} epochs, {:?}, {:.0} samples/s, {:.1}s)\n{}run: {}",
            self.best_valid_loss,
            self.best_epoch,
            self.epochs_run,
            self.stop,
            self.samples_per_s,
            self.train_wall_s,
            summary(&q.vae, Some(&q.independent_marginals)),
            self.run.display(),
        )?;
        if let Some(a) = q.conditional_accuracy {
            write!(f, "\nconditional samples assigned to their segment: {a:.3}")?;
        }
        Ok(())
    }
}
