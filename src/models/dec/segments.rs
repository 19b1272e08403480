//! `segments.json` of a DEC run and `teleseg evaluate clustering`: how the DEC segments compare
//! with baselines, internally and (when true labels exist) externally.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::{CollapseCheck, DecJob, DecMode, DecReport, Refresh};
use crate::checkpoint;
use crate::cluster::{self, Matrix};
use crate::train::StopReason;

/// External metrics of one clustering against true labels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct External {
    /// Hungarian-matched accuracy in [0, 1].
    pub acc: f64,
    pub nmi: f64,
    pub ari: f64,
}

/// One method's clustering of every customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// Segment of every row, in the data's row order.
    pub labels: Vec<usize>,
    /// Calinski–Harabasz index of the labels on the method's own space (higher is better).
    pub calinski_harabasz: Option<f64>,
    pub external: Option<External>,
}

/// The content of `segments.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentsFile {
    pub k: usize,
    pub mode: String,
    pub stop: StopReason,
    pub refreshes: Vec<Refresh>,
    /// Collapse check of the final DEC segments.
    pub collapse: CollapseCheck,
    /// Whether any refresh or the final segments were collapsed.
    pub collapsed: bool,
    /// Clustering-phase throughput, training rows per second.
    pub samples_per_s: f64,
    /// Customer ids, in row order (the `labels` of every method follow it).
    pub ids: Vec<String>,
    /// `dec` (the trained model) and the configured baselines (`dec.baselines`), named
    /// `<algorithm>_<input>`: e.g. `kmeans_raw` (k-means++ on the preprocessed features),
    /// `kmeans_embedding` (k-means++ on the pretrained autoencoder's embeddings),
    /// `gmm_embedding` (full-covariance GMM on the same), `ward_embedding` (Ward on a sample,
    /// the rest to the nearest Ward centroid); a baseline that failed is absent (logged).
    pub methods: BTreeMap<String, Method>,
    /// Model selection on the pretrained embeddings: k-means for k = 2..=12 with silhouette
    /// (sampled), Calinski–Harabasz, Davies–Bouldin and the GMM BIC, and the recommended k.
    /// `None` when the sweep failed (logged).
    pub sweep: Option<cluster::selection::Sweep>,
    /// The label file the external metrics came from.
    pub labels_file: Option<PathBuf>,
    /// [`cluster::profile_segments`] of the DEC segments on the raw numeric columns (raw
    /// units): per-segment statistics, lifts, surrogate-tree rules and persona texts. `None`
    /// when profiling failed (logged).
    pub profiles: Option<cluster::SegmentProfiles>,
    /// Which raw columns drive the DEC assignment: permutation importance on a sample of at
    /// most 4000 customers ([`crate::eval::attribution`]). `None` when it failed (logged).
    #[serde(default)]
    pub attributions: Option<crate::eval::attribution::Attributions>,
    /// Every baseline that beats DEC on the true labels (empty without labels): see
    /// [`beaten_by`]. Also printed by `teleseg train dec` and `teleseg evaluate clustering`.
    #[serde(default)]
    pub beaten_by: Vec<Beaten>,
}

/// A baseline that beats DEC on the true labels by more than [`BEAT_MARGIN`] in ACC or NMI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beaten {
    /// The baseline's name in `methods` (`kmeans_raw`, ...).
    pub method: String,
    pub dec: External,
    pub baseline: External,
}

impl std::fmt::Display for Beaten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "baseline {} beats DEC on the true labels: ACC {:.3} vs {:.3}, NMI {:.3} vs {:.3} \
             (its segments are in segments.json, methods.{})",
            self.method,
            self.baseline.acc,
            self.dec.acc,
            self.baseline.nmi,
            self.dec.nmi,
            self.method
        )
    }
}

/// How far a baseline must be ahead in ACC or NMI to count as beating DEC: differences below
/// it are within the run-to-run spread of one seed.
pub const BEAT_MARGIN: f64 = 0.005;

/// The baselines of `methods` whose external metrics beat `dec`'s by more than
/// [`BEAT_MARGIN`] in ACC or NMI, best ACC first. Empty when there are no external metrics:
/// without true labels no internal criterion says which clustering is right (on the real
/// sets of docs/realdata.md, k-means on the raw features has the better raw-space silhouette
/// even where DEC's ACC is 8 points higher), so nothing is claimed.
pub fn beaten_by(methods: &BTreeMap<String, Method>) -> Vec<Beaten> {
    let Some(dec) = methods.get("dec").and_then(|m| m.external) else {
        return Vec::new();
    };
    let mut out: Vec<Beaten> = methods
        .iter()
        .filter(|(name, _)| name.as_str() != "dec")
        .filter_map(|(name, m)| {
            let b = m.external?;
            (b.acc > dec.acc + BEAT_MARGIN || b.nmi > dec.nmi + BEAT_MARGIN).then(|| Beaten {
                method: name.clone(),
                dec,
                baseline: b,
            })
        })
        .collect();
    out.sort_by(|a, b| b.baseline.acc.total_cmp(&a.baseline.acc));
    out
}

/// Profiles of `labels` on the columns of `data`, in raw units: numeric columns (with the
/// schema's units), binary columns and each category level as shares of customers
/// (`plan=prepaid_basic`, unit "share"), so a persona can say "plan=prepaid_basic 3.1×".
fn profiles(
    data: &crate::job::PreparedData,
    labels: &[usize],
    k: usize,
    seed: u64,
) -> anyhow::Result<cluster::SegmentProfiles> {
    let table = &data.table;
    let rows = table.n_rows();
    let unit_of = |name: &str| {
        data.schema
            .column(name)
            .and_then(|c| c.unit.clone())
            .unwrap_or_default()
    };
    let mut names = Vec::new();
    let mut units = Vec::new();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for c in &table.numeric {
        names.push(c.name.clone());
        units.push(unit_of(&c.name));
        columns.push(c.values.clone());
    }
    for c in &table.binary {
        names.push(c.name.clone());
        units.push("share".to_string());
        columns.push(c.values.iter().map(|&v| f64::from(v)).collect());
    }
    for c in &table.categorical {
        for (code, level) in c.dictionary.iter().enumerate() {
            names.push(format!("{}={level}", c.name));
            units.push("share".to_string());
            columns.push(
                c.codes
                    .iter()
                    .map(|&v| match v {
                        crate::data::table::MISSING => f64::NAN,
                        v => f64::from(u8::from(v as usize == code)),
                    })
                    .collect(),
            );
        }
    }
    let cols = columns.len();
    let mut x = vec![0.0f64; rows * cols];
    for (j, c) in columns.iter().enumerate() {
        for (i, v) in c.iter().enumerate() {
            x[i * cols + j] = *v;
        }
    }
    let x = cluster::FeatureTable::new(&x, rows, cols, &names, &units)?;
    Ok(cluster::profile_segments(
        x,
        labels,
        k,
        &cluster::ProfileConfig::default(),
        seed,
    )?)
}

/// Permutation importance of every raw column for the run's final DEC model (scored on the CPU).
fn attributions(
    report: &DecReport,
    k: usize,
    seed: u64,
) -> anyhow::Result<crate::eval::attribution::Attributions> {
    use crate::models::autoencoder::RawInput;
    let model = super::SegmentModel::load(
        &report.run.join("model.safetensors"),
        &burn::tensor::Device::flex(),
    )?;
    crate::eval::attribution::permutation_importance(&report.data.table, k, 4000, seed, |t| {
        Ok(model.score(&model.features(t)?, 4096).segment)
    })
}

/// Reads true labels `customer_id,persona` (the column `persona`, else the second).
pub fn read_labels(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    crate::data::labels::read_labels(path, "persona")
}

/// True labels of `ids` as indices (ids missing from the file: `None` overall).
pub fn label_indices(ids: &[String], labels: &HashMap<String, String>) -> Option<Vec<usize>> {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let l = labels.get(id)?;
        let n = index.len();
        out.push(*index.entry(l.as_str()).or_insert(n));
    }
    Some(out)
}

/// ACC / NMI / ARI of `pred` against `truth`.
pub fn external(truth: &[usize], pred: &[usize]) -> anyhow::Result<External> {
    Ok(External {
        acc: cluster::cluster_accuracy(truth, pred)?,
        nmi: cluster::normalized_mutual_info(truth, pred)?,
        ari: cluster::adjusted_rand_index(truth, pred)?,
    })
}

/// Builds `segments.json` for a DEC run: DEC plus the baselines of `dec.baselines` (k-means
/// with `n_init` restarts), external metrics when `labels_file` is given.
pub fn summarize(
    report: &DecReport,
    mode: &str,
    dec: &super::DecConfig,
    n_init: usize,
    seed: u64,
    labels_file: Option<&Path>,
) -> anyhow::Result<SegmentsFile> {
    let k = dec.k;
    let raw = report.preprocessor.transform(&report.data.table)?;
    let rows = raw.rows;
    let mut methods = BTreeMap::new();
    let ch = |data: &[f32], cols: usize, labels: &[usize]| {
        Matrix::new(data, rows, cols)
            .ok()
            .and_then(|m| cluster::calinski_harabasz(m, labels).ok())
    };
    methods.insert(
        "dec".to_string(),
        Method {
            calinski_harabasz: ch(&report.z, report.latent, &report.labels),
            labels: report.labels.clone(),
            external: None,
        },
    );
    for &b in &dec.baselines {
        let name = b.name();
        let (data, cols) = if b.on_embedding() {
            (report.z_pretrained.as_slice(), report.latent)
        } else {
            (raw.data.as_slice(), raw.cols)
        };
        let cfg = cluster::BaselineConfig {
            k: dec.k,
            n_init,
            dbscan_eps: dec.dbscan_eps,
            dbscan_min_points: dec.dbscan_min_points,
            ..cluster::BaselineConfig::new(b.algorithm())
        };
        // A baseline can fail (GMM EM not converging on degenerate data, DBSCAN finding one
        // cluster): it is reported in the log and left out rather than failing the run.
        let started = std::time::Instant::now();
        match cluster::run_baseline(&cfg, Matrix::new(data, rows, cols)?, seed) {
            Ok(c) => {
                tracing::info!(
                    baseline = %name,
                    clusters = c.k,
                    seconds = started.elapsed().as_secs_f64(),
                    "baseline done"
                );
                methods.insert(
                    name,
                    Method {
                        calinski_harabasz: ch(data, cols, &c.labels),
                        labels: c.labels,
                        external: None,
                    },
                );
            }
            Err(e) => tracing::warn!("baseline {name} failed: {e}"),
        }
    }
    if let Some(path) = labels_file {
        let labels = read_labels(path)?;
        if let Some(truth) = label_indices(&report.ids, &labels) {
            for m in methods.values_mut() {
                m.external = Some(external(&truth, &m.labels)?);
            }
        } else {
            tracing::warn!(path = %path.display(), "labels do not cover every customer: no external metrics");
        }
    }
    let sweep_cfg = cluster::selection::SweepConfig {
        n_init: 3,
        silhouette_sample: 2000,
        ..cluster::selection::SweepConfig::new(2, 12.min(rows.saturating_sub(1)).max(2))
    };
    let sweep = match cluster::selection::sweep_k(
        &sweep_cfg,
        Matrix::new(&report.z_pretrained, rows, report.latent)?,
        seed,
    ) {
        Ok(s) => {
            tracing::info!(
                recommended_k = s.recommended_k,
                configured_k = k,
                "k sweep on the embeddings"
            );
            Some(s)
        }
        Err(e) => {
            tracing::warn!("k sweep failed: {e}");
            None
        }
    };
    let collapsed =
        report.collapse.collapsed || report.refreshes.iter().any(|r| r.collapse.collapsed);
    let beaten = beaten_by(&methods);
    for b in &beaten {
        tracing::warn!("{b}");
    }
    Ok(SegmentsFile {
        beaten_by: beaten,
        k,
        mode: mode.to_string(),
        stop: report.stop.clone(),
        refreshes: report.refreshes.clone(),
        collapse: report.collapse.clone(),
        collapsed,
        samples_per_s: report.samples_per_s,
        ids: report.ids.clone(),
        methods,
        sweep,
        labels_file: labels_file.map(Path::to_path_buf),
        profiles: match profiles(&report.data, &report.labels, k, seed) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!("segment profiles failed: {e:#}");
                None
            }
        },
        attributions: match attributions(report, k, seed) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!("segment attributions failed: {e:#}");
                None
            }
        },
    })
}

/// Writes `segments.json` atomically.
pub fn write(path: &Path, s: &SegmentsFile) -> anyhow::Result<()> {
    checkpoint::write_atomic(path, serde_json::to_string(s)?.as_bytes())?;
    Ok(())
}

/// `teleseg evaluate clustering`: ACC / NMI / ARI of every method of `run/segments.json`
/// against `labels`, as printable lines.
pub fn evaluate(run: &Path, labels: &Path) -> anyhow::Result<String> {
    let path = run.join("segments.json");
    if !path.is_file() {
        anyhow::bail!(crate::error::UsageError(format!(
            "{}: no segments.json (expected the folder of a `teleseg train dec` run, or the dec/ \
             folder of a pipeline run)",
            run.display()
        )));
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let s: SegmentsFile = serde_json::from_str(&text).map_err(|e| {
        crate::error::UsageError(format!("{}: not a segments file: {e}", path.display()))
    })?;
    let truth = label_indices(&s.ids, &read_labels(labels)?).ok_or_else(|| {
        crate::error::UsageError(format!(
            "{} does not label every customer of {}",
            labels.display(),
            path.display()
        ))
    })?;
    let mut out = format!("{:<18} {:>6} {:>6} {:>6}\n", "method", "ACC", "NMI", "ARI");
    let mut methods = s.methods;
    for (name, m) in methods.iter_mut() {
        let e = external(&truth, &m.labels)?;
        m.external = Some(e);
        out.push_str(&format!(
            "{name:<18} {:>6.3} {:>6.3} {:>6.3}\n",
            e.acc, e.nmi, e.ari
        ));
    }
    for b in beaten_by(&methods) {
        out.push_str(&format!("WARNING: {b}\n"));
    }
    Ok(out)
}

/// Writes `RUN/segments.json` (labels from `personas.csv` next to the customers when present)
/// and returns it.
pub fn write_segments(job: &DecJob, report: &DecReport) -> anyhow::Result<SegmentsFile> {
    let personas = report
        .data
        .customers_path
        .parent()
        .map(|d| d.join("personas.csv"))
        .filter(|p| p.is_file());
    let mode = match job.dec.mode {
        DecMode::Dec => "dec",
        DecMode::Idec => "idec",
    };
    let s = summarize(
        report,
        mode,
        &job.dec,
        job.dec.n_init.min(3),
        job.seed.0,
        personas.as_deref(),
    )?;
    write(&report.run.join("segments.json"), &s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(external: Option<(f64, f64)>) -> Method {
        Method {
            labels: vec![0, 1],
            calinski_harabasz: None,
            external: external.map(|(acc, nmi)| External { acc, nmi, ari: 0.0 }),
        }
    }

    #[test]
    fn beaten_by_lists_baselines_ahead_beyond_the_margin_best_first() {
        let methods: BTreeMap<String, Method> = [
            ("dec", Some((0.50, 0.50))),
            ("kmeans_raw", Some((0.60, 0.40))),       // ACC ahead
            ("gmm_embedding", Some((0.503, 0.504))),  // within the margin
            ("ward_embedding", Some((0.45, 0.52))),   // NMI ahead
            ("kmeans_embedding", Some((0.70, 0.70))), // both ahead
        ]
        .into_iter()
        .map(|(n, e)| (n.to_string(), method(e)))
        .collect();
        let b = beaten_by(&methods);
        let names: Vec<&str> = b.iter().map(|b| b.method.as_str()).collect();
        assert_eq!(names, ["kmeans_embedding", "kmeans_raw", "ward_embedding"]);
        assert_eq!(b[1].dec.acc, 0.50);
        assert_eq!(b[1].baseline.acc, 0.60);
        let text = b[1].to_string();
        assert!(
            text.contains("kmeans_raw") && text.contains("0.600 vs 0.500"),
            "{text}"
        );
    }

    #[test]
    fn beaten_by_claims_nothing_without_true_labels() {
        let methods: BTreeMap<String, Method> = [("dec", None), ("kmeans_raw", None)]
            .into_iter()
            .map(|(n, e)| (n.to_string(), method(e)))
            .collect();
        assert!(beaten_by(&methods).is_empty());
    }
}
