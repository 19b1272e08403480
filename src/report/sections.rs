//! The sections of `report.html`, each appended to the page body when its artefacts exist.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::plots::{self, css_color};
use super::{STAGES, escape};
use crate::cluster::SurrogateTree;
use crate::cluster::profile::SegmentProfile;
use crate::eval::attribution::Attributions;
use crate::eval::synthetic::SyntheticReport;
use crate::models::dec::segments::SegmentsFile;
use crate::models::ncf::job::EvaluationReport;
use crate::models::vae::QualityFile;
use crate::pipeline::RunSummary;

/// Points of the embedding map at most (an even stride over the customers, so deterministic).
const MAP_POINTS: usize = 4000;
/// Features in the lift heatmap at most (the largest |SMD| over the segments).
const HEATMAP_FEATURES: usize = 14;

/// A chart, or a note saying why it could not be drawn.
fn chart(out: &mut String, svg: Result<String, Box<dyn std::error::Error>>, what: &str) {
    match svg {
        Ok(svg) => out.push_str(&svg),
        Err(e) => {
            tracing::warn!("report: cannot draw {what}: {e}");
            let _ = write!(
                out,
                "<p class=\"note\">({what} could not be drawn: {})</p>",
                escape(&e.to_string())
            );
        }
    }
}

fn fmt3(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.3}"))
}

/// Pipeline stages with their wall times (`summary.json`, written by `teleseg pipeline`).
pub fn summary(run: &Path, out: &mut String) -> anyhow::Result<()> {
    let Some(s) = read_artefact::<RunSummary>(&run.join("summary.json"), "a run summary")? else {
        return Ok(());
    };
    out.push_str("<h2>Run summary</h2>\n");
    let _ = writeln!(out, "<p>{} customers.</p>", s.customers);
    out.push_str("<table><tr><th class=\"l\">stage</th><th>wall time (s)</th></tr>");
    let mut total = 0.0;
    for st in &s.stages {
        total += st.seconds;
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{:.1}</td></tr>",
            escape(&st.name),
            st.seconds
        );
    }
    let _ = writeln!(
        out,
        "<tr><th class=\"l\">total</th><th>{total:.1}</th></tr></table>"
    );
    Ok(())
}

/// Train and validation loss per epoch of every stage that has a `metrics.jsonl`.
pub fn training(run: &Path, out: &mut String) -> anyhow::Result<()> {
    let mut charts = String::new();
    let stages = STAGES
        .iter()
        .map(|(dir, title)| (run.join(dir), *title))
        .chain(std::iter::once((run.to_path_buf(), "Training")));
    for (dir, title) in stages {
        let path = dir.join("metrics.jsonl");
        if !path.is_file() {
            continue;
        }
        let metrics = crate::train::read_metrics(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if metrics.is_empty() {
            continue;
        }
        let series = vec![
            (
                "train loss".to_string(),
                metrics
                    .iter()
                    .map(|m| (m.epoch as f64, m.train_loss))
                    .collect(),
            ),
            (
                "validation loss".to_string(),
                metrics
                    .iter()
                    .map(|m| (m.epoch as f64, m.valid_loss))
                    .collect(),
            ),
        ];
        chart(
            &mut charts,
            plots::line_chart(title, "epoch", "loss", &series),
            title,
        );
    }
    if !charts.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Training curves</h2>\n<div class=\"charts\">{charts}</div>"
        );
    }
    Ok(())
}

/// Segment sizes, the embedding map, method comparison, k sweep, lift heatmap, personas and
/// rules, from `segments.json` (and `embeddings.csv` for the map).
pub fn segments(run: &Path, seg: &SegmentsFile, out: &mut String) -> anyhow::Result<()> {
    let k = seg.k;
    let _ = writeln!(
        out,
        "<h2>Segments</h2>\n<p>{k} segments by {} (stop: {}).{}</p>",
        escape(&seg.mode),
        escape(seg.stop.name()),
        if seg.collapsed {
            " <strong>Warning: the clustering collapsed into few segments; see the log.</strong>"
        } else {
            ""
        }
    );
    let segs: &[SegmentProfile] = seg.profiles.as_ref().map_or(&[], |p| &p.segments);
    let names: Vec<String> = (0..k).map(|s| format!("segment {s}")).collect();
    let mut charts = String::new();
    if !segs.is_empty() {
        let labels: Vec<String> = (0..segs.len()).map(|s| s.to_string()).collect();
        let sizes: Vec<f64> = segs.iter().map(|s| s.size as f64).collect();
        chart(
            &mut charts,
            plots::bar_chart("Segment sizes", "customers", &labels, &sizes),
            "segment sizes",
        );
    }
    if let Some(points) = embedding_map(run, seg)? {
        chart(
            &mut charts,
            plots::scatter(
                "Customers in the embedding space (PCA)",
                "principal component 1",
                "principal component 2",
                &points,
                &names,
            ),
            "embedding map",
        );
    }
    if let Some(sweep) = &seg.sweep {
        let series: Vec<(String, Vec<(f64, f64)>)> = vec![
            (
                "silhouette".to_string(),
                sweep
                    .rows
                    .iter()
                    .map(|r| (r.k as f64, r.silhouette))
                    .collect(),
            ),
            (
                "davies–bouldin".to_string(),
                sweep
                    .rows
                    .iter()
                    .map(|r| (r.k as f64, r.davies_bouldin))
                    .collect(),
            ),
        ];
        chart(
            &mut charts,
            plots::line_chart(
                &format!("k sweep (recommended k = {})", sweep.recommended_k),
                "k",
                "score",
                &series,
            ),
            "k sweep",
        );
    }
    let _ = writeln!(out, "<div class=\"charts\">{charts}</div>");
    methods_table(seg, out);
    if !segs.is_empty() {
        personas(segs, out);
        heatmap(segs, out);
    }
    if let Some(a) = &seg.attributions {
        drivers(a, out);
    }
    if let Some(p) = &seg.profiles {
        rules(&p.surrogate, out);
    }
    Ok(())
}

/// Columns that drive the assignment (permutation importance), overall and per segment.
fn drivers(a: &Attributions, out: &mut String) {
    let k = a.columns.first().map_or(0, |c| c.per_segment.len());
    let _ = write!(
        out,
        "<h3>What drives the segment assignment</h3><p class=\"note\">Share of customers whose \
         segment changes when one column is shuffled across {} customers (permutation \
         importance), overall and per segment; correlated columns share the credit.</p>\
         <div style=\"overflow-x:auto\"><table><tr><th class=\"l\">column</th><th>overall</th>",
        a.rows
    );
    for s in 0..k {
        let _ = write!(
            out,
            "<th><span class=\"swatch\" style=\"background:{}\"></span>{s}</th>",
            css_color(s)
        );
    }
    out.push_str("</tr>");
    for c in a.columns.iter().take(10) {
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{:.1} %</td>",
            escape(&c.column),
            c.changed * 100.0
        );
        for v in &c.per_segment {
            let cell = v.map_or("–".to_string(), |x| format!("{:.0} %", x * 100.0));
            let _ = write!(
                out,
                "<td style=\"background:{}\">{cell}</td>",
                heat_color(v.unwrap_or(0.0))
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></div>\n");
}

/// Every method's agreement with the known labels (when there were some).
fn methods_table(seg: &SegmentsFile, out: &mut String) {
    if seg.methods.is_empty() {
        return;
    }
    out.push_str(
        "<h3>Methods compared</h3><table><tr><th class=\"l\">method</th>\
         <th>Calinski–Harabasz</th><th>ACC</th><th>NMI</th><th>ARI</th></tr>",
    );
    for (name, m) in &seg.methods {
        let ext = m.external.as_ref();
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            m.calinski_harabasz.unwrap_or(f64::NAN),
            fmt3(ext.map(|e| e.acc)),
            fmt3(ext.map(|e| e.nmi)),
            fmt3(ext.map(|e| e.ari)),
        );
    }
    out.push_str(
        "</table><p class=\"note\">ACC (Hungarian-matched), NMI and ARI compare with known \
         labels (the generator's personas, or a labels file) when there are some.</p>\n",
    );
}

fn personas(segs: &[SegmentProfile], out: &mut String) {
    out.push_str("<h3>Personas</h3><ul class=\"personas\">");
    for (s, p) in segs.iter().enumerate() {
        let _ = write!(
            out,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            css_color(s),
            escape(&p.persona)
        );
    }
    out.push_str("</ul>\n");
}

/// Segments × the most distinguishing features: lift (segment mean / population mean), or the
/// standardized mean difference for signed features, coloured red (above) to blue (below).
fn heatmap(segs: &[SegmentProfile], out: &mut String) {
    let first = &segs[0].features;
    let mut strength: Vec<(usize, f64)> = (0..first.len())
        .map(|j| {
            let best = segs
                .iter()
                .filter_map(|s| s.features.get(j).and_then(|f| f.smd))
                .fold(0.0f64, |a, d| a.max(d.abs()));
            (j, best)
        })
        .collect();
    strength.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let cols: Vec<usize> = strength
        .iter()
        .take(HEATMAP_FEATURES)
        .map(|c| c.0)
        .collect();
    out.push_str(
        "<h3>What sets each segment apart</h3><p class=\"note\">Lift = segment mean ÷ population \
         mean (× for values ≥ 0; ± sd for signed features), for the features that differ most \
         between segments.</p><div style=\"overflow-x:auto\"><table><tr><th>segment</th>",
    );
    for &j in &cols {
        let _ = write!(out, "<th class=\"l\">{}</th>", escape(&first[j].name));
    }
    out.push_str("</tr>");
    for (s, seg) in segs.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{s}</td>",
            css_color(s)
        );
        for &j in &cols {
            let f = seg.features.get(j);
            let (text, heat) = match (f.and_then(|f| f.lift), f.and_then(|f| f.smd)) {
                (Some(l), _) => (format!("{l:.2}×"), (l.max(1e-3)).log2() / 2.0),
                (None, Some(d)) => (format!("{d:+.1} sd"), d / 2.0),
                _ => ("–".to_string(), 0.0),
            };
            let _ = write!(
                out,
                "<td style=\"background:{}\">{text}</td>",
                heat_color(heat)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></div>\n");
}

/// White at 0, red towards +1, blue towards −1 (clamped).
fn heat_color(x: f64) -> String {
    let t = x.clamp(-1.0, 1.0);
    let fade = |c: f64| (255.0 - (255.0 - c) * t.abs()).round() as u8;
    let (r, g, b) = if t >= 0.0 {
        (fade(214.0), fade(96.0), fade(77.0))
    } else {
        (fade(67.0), fade(147.0), fade(195.0))
    };
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn rules(surrogate: &SurrogateTree, out: &mut String) {
    let _ = write!(
        out,
        "<h3>Rules</h3><p>A decision tree that predicts the segment from raw columns agrees with \
         it for {:.1} % of customers. Its leaves:</p><ul>",
        surrogate.fidelity * 100.0
    );
    for leaf in &surrogate.leaves {
        let _ = write!(out, "<li>{}</li>", escape(&leaf.text));
    }
    out.push_str("</ul>\n");
}

/// `(pc1, pc2, segment)` of an even sample of `embeddings.csv`, joined to the DEC labels of
/// `segments.json` by customer id. `None` when either is missing.
fn embedding_map(run: &Path, seg: &SegmentsFile) -> anyhow::Result<Option<Vec<(f64, f64, usize)>>> {
    let path = run.join("embeddings.csv");
    let Some(dec) = seg.methods.get("dec") else {
        return Ok(None);
    };
    if !path.is_file() {
        return Ok(None);
    }
    let label: HashMap<&str, usize> = seg
        .ids
        .iter()
        .map(String::as_str)
        .zip(dec.labels.iter().copied())
        .collect();
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let records: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", path.display()))?;
    let stride = records.len().div_ceil(MAP_POINTS).max(1);
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    for r in records.iter().step_by(stride) {
        let Some(&g) = r.get(0).and_then(|id| label.get(id)) else {
            continue;
        };
        let z: Option<Vec<f64>> = r.iter().skip(1).map(|v| v.parse().ok()).collect();
        if let Some(z) = z {
            rows.push(z);
            groups.push(g);
        }
    }
    let Some(pcs) = pca2(&rows) else {
        return Ok(None);
    };
    Ok(Some(
        pcs.into_iter()
            .zip(groups)
            .map(|((a, b), g)| (a, b, g))
            .collect(),
    ))
}

/// Projections of `rows` on their two leading principal components.
fn pca2(rows: &[Vec<f64>]) -> Option<Vec<(f64, f64)>> {
    use linfa_linalg::eigh::{EigSort, Eigh};
    let d = rows.first()?.len();
    if d < 2 || rows.len() < 3 {
        return None;
    }
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..d)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let mut cov = ndarray::Array2::<f64>::zeros((d, d));
    for r in rows {
        for a in 0..d {
            for b in 0..d {
                cov[[a, b]] += (r[a] - mean[a]) * (r[b] - mean[b]) / n;
            }
        }
    }
    let (_, vecs) = cov.eigh().ok()?.sort_eig(linfa_linalg::Order::Largest);
    Some(
        rows.iter()
            .map(|r| {
                let p = |c: usize| (0..d).map(|j| (r[j] - mean[j]) * vecs[[j, c]]).sum::<f64>();
                (p(0), p(1))
            })
            .collect(),
    )
}

/// Numeric columns whose real and synthetic distributions are drawn (the worst-matched ones).
const DISTRIBUTION_CHARTS: usize = 4;
/// Bins of each distribution chart.
const BINS: usize = 30;

/// Reads a JSON artefact of the run as `T`: `None` when the file is absent, or (with a
/// warning naming `what` it should be) when it does not read as `T`.
fn read_artefact<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> anyhow::Result<Option<T>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match serde_json::from_str(&text) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            tracing::warn!("report: {} is not {what}: {e}", path.display());
            Ok(None)
        }
    }
}

/// One column of a CSV as text cells, by header name.
fn csv_columns(path: &Path, names: &[String]) -> anyhow::Result<Vec<Vec<String>>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = reader.headers()?.clone();
    let idx: Vec<Option<usize>> = names
        .iter()
        .map(|n| header.iter().position(|h| h == n))
        .collect();
    let mut cols = vec![Vec::new(); names.len()];
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", path.display()))?;
        for (c, i) in cols.iter_mut().zip(&idx) {
            c.push(i.and_then(|i| record.get(i)).unwrap_or("").to_string());
        }
    }
    Ok(cols)
}

/// `(bin centre, share of values)` over `BINS` equal bins of `[lo, hi]` (values outside are
/// clamped into the end bins; empty cells are skipped).
fn histogram(values: &[f64], lo: f64, hi: f64) -> Vec<(f64, f64)> {
    let width = (hi - lo).max(1e-12) / BINS as f64;
    let mut counts = vec![0usize; BINS];
    for &v in values {
        let b = (((v - lo) / width).floor().max(0.0) as usize).min(BINS - 1);
        counts[b] += 1;
    }
    let n = values.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(b, &c)| (lo + (b as f64 + 0.5) * width, c as f64 / n))
        .collect()
}

/// The VAE's synthetic data: quality, privacy and utility against the independent-marginals
/// floor, per-segment conditional accuracy, and real vs synthetic distributions.
pub fn synthetic(run: &Path, out: &mut String) -> anyhow::Result<()> {
    let dir = run.join("vae");
    let Some(q) = read_artefact::<QualityFile>(
        &dir.join("synthetic_quality.json"),
        "a synthetic-quality file",
    )?
    else {
        return Ok(());
    };
    out.push_str(
        "<h2>Synthetic customers</h2><p>A conditional tabular VAE generates customers per segment \
         (<code>vae/synthetic.csv</code>, <code>vae/segments/</code>). They are compared with real \
         customers the model never saw, next to an independent-marginals baseline (each column \
         sampled on its own) that sets the floor.</p><table><tr><th class=\"l\">measure</th>\
         <th>VAE</th><th>independent marginals</th></tr>",
    );
    let labels = [
        "overall quality (0–1, SDMetrics)",
        "column shapes",
        "column pair trends",
        "churn model trained on synthetic: F1",
        "… ROC AUC",
        "… ROC AUC ÷ trained on real",
        "median distance to closest real record",
        "… of real holdout rows (reference)",
        "exact copies of real records",
    ];
    let cells = |r: &SyntheticReport| -> [String; 9] {
        let (u, p) = (r.utility.as_ref(), r.privacy.as_ref());
        [
            fmt3(Some(r.quality.overall)),
            fmt3(Some(r.quality.column_shapes)),
            fmt3(Some(r.quality.column_pair_trends)),
            fmt3(u.map(|u| u.tstr.f1)),
            fmt3(u.map(|u| u.tstr.roc_auc)),
            fmt3(u.and_then(|u| u.roc_auc_ratio)),
            fmt3(p.map(|p| p.dcr_synthetic_median)),
            fmt3(p.map(|p| p.dcr_holdout_median)),
            p.map_or_else(|| fmt3(None), |p| p.exact_copies.to_string()),
        ]
    };
    let (v, b) = (cells(&q.vae), cells(&q.independent_marginals));
    for ((label, v), b) in labels.iter().zip(&v).zip(&b) {
        let _ = write!(
            out,
            "<tr><td class=\"l\">{label}</td><td>{v}</td><td>{b}</td></tr>"
        );
    }
    out.push_str("</table>\n");
    let _ = write!(
        out,
        "<p>Synthetic customers of a segment that the clustering model assigns back to it: \
         <strong>{}</strong> on average.</p><table><tr><th>segment</th><th>rows</th>\
         <th>assigned to their segment</th></tr>",
        fmt3(q.conditional_accuracy)
    );
    for s in &q.segments {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.segment),
            s.rows,
            fmt3(s.assigned_to_segment)
        );
    }
    out.push_str("</table>\n");
    // Real vs synthetic: the numeric columns the VAE matches worst (lowest KS complement).
    let mut ks: Vec<(String, f64)> = q
        .vae
        .quality
        .columns
        .iter()
        .filter(|c| c.metric == "KSComplement")
        .map(|c| (c.column.clone(), c.score))
        .collect();
    ks.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    ks.truncate(DISTRIBUTION_CHARTS);
    let (real_path, synth_path) = (dir.join("holdout.csv"), dir.join("synthetic.csv"));
    if ks.is_empty() || !real_path.is_file() || !synth_path.is_file() {
        return Ok(());
    }
    let names: Vec<String> = ks.iter().map(|c| c.0.clone()).collect();
    let parse =
        |cells: &[String]| -> Vec<f64> { cells.iter().filter_map(|c| c.parse().ok()).collect() };
    let real = csv_columns(&real_path, &names)?;
    let synth = csv_columns(&synth_path, &names)?;
    let mut charts = String::new();
    for ((name, score), (r, s)) in ks.iter().zip(real.iter().zip(&synth)) {
        let (r, s) = (parse(r), parse(s));
        let mut sorted = r.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            continue;
        }
        let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
        let (lo, hi) = (q(0.01), q(0.99));
        let series = vec![
            ("real".to_string(), histogram(&r, lo, hi)),
            ("synthetic".to_string(), histogram(&s, lo, hi)),
        ];
        let caption = format!("{name} (KS complement {score:.3})");
        chart(
            &mut charts,
            plots::line_chart(&caption, name, "share of customers", &series),
            name,
        );
    }
    let _ = writeln!(
        out,
        "<h3>Real vs synthetic distributions</h3><p class=\"note\">The {} numeric columns the VAE \
         matches least well (1st–99th percentile of the real values).</p><div class=\"charts\">{charts}</div>",
        ks.len()
    );
    Ok(())
}

/// Offer recommendation: the model against popularity under both protocols, and the offers
/// recommended most often to each segment.
pub fn offers(run: &Path, out: &mut String) -> anyhow::Result<()> {
    let Some(e) = read_artefact::<EvaluationReport>(
        &run.join("ncf").join("evaluation.json"),
        "an NCF evaluation",
    )?
    else {
        return Ok(());
    };
    let k = e.k;
    let _ = write!(
        out,
        "<h2>Offer recommendation</h2><p>{}{} ({} customers, {} offers), evaluated on each \
         customer's last accepted offer, held out. <em>Sampled</em>: the held-out offer ranked \
         among itself and up to 99 sampled offers the customer never took ({:.0} candidates on \
         average here; He et al. 2017); <em>full</em>: among every offer the customer has not \
         accepted (RecBole). The two are not comparable with each other.</p>\
         <table><tr><th class=\"l\">model</th><th class=\"l\">protocol</th><th>HR@{k}</th>\
         <th>NDCG@{k}</th><th>MRR</th><th>catalogue coverage</th></tr>",
        escape(&e.model),
        match e.user_features {
            0 => String::new(),
            n => format!(
                " on each customer's id and {n} features of their profile (new customers: \
                 their features and their segment)"
            ),
        },
        e.users,
        e.items,
        e.model_metrics.sampled_candidates_mean,
    );
    for (name, m) in [
        (e.model.as_str(), &e.model_metrics),
        ("popularity", &e.popularity),
    ] {
        for (protocol, p) in [("sampled", &m.sampled), ("full", &m.full)] {
            let _ = write!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{protocol}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td></tr>",
                escape(name),
                fmt3(Some(p.hr)),
                fmt3(Some(p.ndcg)),
                fmt3(Some(p.mrr)),
                fmt3(Some(m.coverage)),
            );
        }
    }
    out.push_str("</table>\n");
    example_offers(run, out)
}

/// The three offers most often ranked first for the customers of each segment.
fn example_offers(run: &Path, out: &mut String) -> anyhow::Result<()> {
    let (recs, labels) = (
        run.join("ncf/recommendations.csv"),
        run.join("dec/segments.csv"),
    );
    if !recs.is_file() || !labels.is_file() {
        return Ok(());
    }
    let seg_cols = csv_columns(&labels, &["customer_id".into(), "segment".into()])?;
    let segment: HashMap<&str, &str> = seg_cols[0]
        .iter()
        .zip(&seg_cols[1])
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let names: HashMap<String, String> = match csv_columns(
        &run.join("data/offers.csv"),
        &["offer_id".into(), "name".into()],
    ) {
        Ok(c) => c[0].iter().cloned().zip(c[1].iter().cloned()).collect(),
        Err(_) => HashMap::new(),
    };
    let rec = csv_columns(
        &recs,
        &["customer_id".into(), "rank".into(), "offer_id".into()],
    )?;
    // segment → offer → customers who got it first.
    let mut firsts: std::collections::BTreeMap<String, HashMap<&str, usize>> = Default::default();
    let mut sizes: HashMap<String, usize> = HashMap::new();
    for ((id, rank), offer) in rec[0].iter().zip(&rec[1]).zip(&rec[2]) {
        if rank != "1" {
            continue;
        }
        let seg = segment
            .get(id.as_str())
            .copied()
            .unwrap_or("none")
            .to_string();
        *sizes.entry(seg.clone()).or_default() += 1;
        *firsts
            .entry(seg)
            .or_default()
            .entry(offer.as_str())
            .or_default() += 1;
    }
    if firsts.is_empty() {
        return Ok(());
    }
    out.push_str(
        "<h3>Example offers per segment</h3><p class=\"note\">The offers most often ranked first \
         for the segment's customers (share of the segment).</p><table><tr><th>segment</th>\
         <th class=\"l\">top offers</th></tr>",
    );
    let mut segs: Vec<&String> = firsts.keys().collect();
    segs.sort_by_key(|s| (s.parse::<usize>().unwrap_or(usize::MAX), (*s).clone()));
    for seg in segs {
        let mut top: Vec<(&str, usize)> = firsts[seg].iter().map(|(o, c)| (*o, *c)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let n = sizes[seg].max(1) as f64;
        let text: Vec<String> = top
            .iter()
            .take(3)
            .map(|(o, c)| {
                let name = names.get(*o).map_or(String::new(), |n| format!(" {n}"));
                format!(
                    "{}{} ({:.0} %)",
                    escape(o),
                    escape(&name),
                    *c as f64 / n * 100.0
                )
            })
            .collect();
        let swatch = seg.parse::<usize>().map_or(String::new(), |s| {
            format!(
                "<span class=\"swatch\" style=\"background:{}\"></span>",
                css_color(s)
            )
        });
        let _ = write!(
            out,
            "<tr><td>{swatch}{}</td><td class=\"l\">{}</td></tr>",
            escape(seg),
            text.join("; ")
        );
    }
    out.push_str("</table>\n");
    Ok(())
}

/// The `evaluation.json` of family `sub` in a pipeline run (`RUN/<sub>/evaluation.json`), or of
/// a single-family run (`RUN/evaluation.json`), read as `T`; none when there is no such file or
/// it is another family's (another shape).
fn family_evaluation<T: serde::de::DeserializeOwned>(
    run: &Path,
    sub: &str,
) -> anyhow::Result<Option<T>> {
    let Some(path) = [
        run.join(sub).join("evaluation.json"),
        run.join("evaluation.json"),
    ]
    .into_iter()
    .find(|p| p.is_file()) else {
        return Ok(None);
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str::<T>(&text).ok())
}

/// The propensity section: `propensity/evaluation.json` of a pipeline run (or `evaluation.json`
/// of a `train propensity` run), read into its own type: test metrics beside the base rate,
/// the calibration and gain charts, the SHAP drivers overall and per segment.
pub fn propensity(run: &Path, out: &mut String) -> anyhow::Result<()> {
    use crate::models::propensity::{Evaluation, PropensityReport, TargetSpec};
    // Another family's evaluation.json has another shape: no section.
    let Some(r) = family_evaluation::<PropensityReport>(run, "propensity")? else {
        return Ok(());
    };
    let what = match &r.target {
        TargetSpec::Binary { name, positive, .. } => {
            format!(
                "the probability that <code>{}</code> = {}",
                escape(name),
                escape(positive)
            )
        }
        TargetSpec::Regression { name } => format!("<code>{}</code>", escape(name)),
    };
    let _ = write!(
        out,
        "<h2>Propensity: {}</h2><p>Gradient-boosted trees ({} trees, perpetual) predict {what} \
         from the raw customer columns, fitted on {} customers (base rate {:.3}) and evaluated \
         on {} held-out ones. <code>teleseg score</code> writes it per customer with the three \
         features that moved it most (exact TreeSHAP).</p>",
        escape(r.target.name()),
        r.trees,
        r.fit_rows,
        r.base_rate,
        r.test_rows
    );
    match &r.test {
        Some(Evaluation::Binary(m)) => {
            let _ = writeln!(
                out,
                "<table><tr><th>ROC AUC</th><th>PR AUC</th><th>log loss</th><th>Brier</th>\
                 <th>Brier of the base rate alone</th></tr><tr><td>{}</td><td>{}</td><td>{:.4}</td>\
                 <td>{:.4}</td><td>{}</td></tr></table>",
                fmt3(m.roc_auc),
                fmt3(m.pr_auc),
                m.log_loss,
                m.brier,
                fmt3(r.test_constant_baseline)
            );
            let calibration: Vec<(f64, f64)> = m
                .calibration
                .iter()
                .map(|b| (b.mean_probability, b.observed_rate))
                .collect();
            chart(
                out,
                plots::line_chart(
                    "Calibration (test customers, 10 bins)",
                    "predicted probability",
                    "observed rate",
                    &[
                        ("model".to_string(), calibration),
                        ("perfect".to_string(), vec![(0.0, 0.0), (1.0, 1.0)]),
                    ],
                ),
                "the calibration chart",
            );
            let mut gain = vec![(0.0, 0.0)];
            let total: usize = m.gain.iter().map(|g| g.customers).sum();
            let mut seen = 0;
            for g in &m.gain {
                seen += g.customers;
                gain.push((seen as f64 / total.max(1) as f64, g.cumulative_gain));
            }
            chart(
                out,
                plots::line_chart(
                    "Cumulative gain (test customers by decreasing probability)",
                    "share of customers contacted",
                    "share of positives found",
                    &[
                        ("model".to_string(), gain),
                        ("random".to_string(), vec![(0.0, 0.0), (1.0, 1.0)]),
                    ],
                ),
                "the gain chart",
            );
        }
        Some(Evaluation::Regression(m)) => {
            let _ = writeln!(
                out,
                "<table><tr><th>MAE</th><th>MAE of the mean alone</th><th>RMSE</th><th>R²</th></tr>\
                 <tr><td>{:.4}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td></tr></table>",
                m.mae,
                fmt3(r.test_constant_baseline),
                m.rmse,
                m.r2
            );
        }
        None => out.push_str("<p class=\"note\">No test split (data.test_fraction = 0).</p>\n"),
    }
    let top: Vec<_> = r.drivers.iter().take(10).collect();
    chart(
        out,
        plots::bar_chart(
            "Drivers: mean |SHAP value| over the test customers",
            "mean |SHAP| (margin units)",
            &top.iter().map(|d| d.feature.clone()).collect::<Vec<_>>(),
            &top.iter().map(|d| d.mean_abs_shap).collect::<Vec<_>>(),
        ),
        "the SHAP summary",
    );
    if !r.segment_drivers.is_empty() {
        out.push_str(
            "<table><tr><th class=\"l\">segment</th><th>customers</th><th>ROC AUC</th>\
             <th>Brier / MAE</th><th class=\"l\">top drivers (mean |SHAP|)</th></tr>",
        );
        for (label, drivers) in &r.segment_drivers {
            let (rows, auc, err) = match r.by_segment.get(label) {
                Some(Evaluation::Binary(m)) => {
                    (m.rows.to_string(), fmt3(m.roc_auc), fmt3(Some(m.brier)))
                }
                Some(Evaluation::Regression(m)) => {
                    (m.rows.to_string(), "–".into(), fmt3(Some(m.mae)))
                }
                None => ("–".into(), "–".into(), "–".into()),
            };
            let names: Vec<String> = drivers
                .iter()
                .take(3)
                .map(|d| format!("{} {:.3}", escape(&d.feature), d.mean_abs_shap))
                .collect();
            let _ = write!(
                out,
                "<tr><td class=\"l\">{}</td><td>{rows}</td><td>{auc}</td><td>{err}</td>\
                 <td class=\"l\">{}</td></tr>",
                escape(label),
                names.join(", ")
            );
        }
        out.push_str("</table>\n");
    }
    if let Some(v) = &r.lifetime_value {
        let _ = writeln!(
            out,
            "<h3>Lifetime value</h3><p>The expected margin of the next {} months, discounted, from              each customer's churn probability (as a monthly hazard) and              <code>{}</code> (<code>[propensity.lifetime_value]</code>): over {} customers, mean              {:.1}, median {:.1}, 10 % below {:.1}, 10 % above {:.1}. <code>teleseg score</code>              writes it per customer as <code>lifetime_value</code>.</p>",
            v.horizon_months,
            escape(&v.revenue_column),
            v.customers,
            v.mean,
            v.median,
            v.p10,
            v.p90
        );
        if !v.by_segment.is_empty() {
            let labels: Vec<String> = v
                .by_segment
                .keys()
                .map(|l| format!("segment {l}"))
                .collect();
            let values: Vec<f64> = v.by_segment.values().copied().collect();
            chart(
                out,
                plots::bar_chart(
                    "Mean lifetime value per segment",
                    "currency units",
                    &labels,
                    &values,
                ),
                "the lifetime value per segment",
            );
        }
    }
    Ok(())
}

/// The contact-policy section: `evaluation.json` of a `train policy` run, read into its own
/// type: every off-policy estimate with its interval beside the exact truth (when the generator
/// wrote one), and how often the policy uses each arm.
pub fn policy(run: &Path, out: &mut String) -> anyhow::Result<()> {
    use crate::models::policy::job::PolicyReport;
    // A pipeline run's policy stage, or a `train policy` run itself.
    let Some(path) = [run.join("policy"), run.to_path_buf()]
        .iter()
        .map(|d| d.join("evaluation.json"))
        .find(|p| p.is_file())
    else {
        return Ok(());
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    // Another family's evaluation.json: not a policy run, no section.
    let Ok(r) = serde_json::from_str::<PolicyReport>(&text) else {
        return Ok(());
    };
    let _ = writeln!(
        out,
        "<h2>Contact policy</h2><p>A {:?} policy over {} arms (channel and time), {} on {} \
         context features (ridge {}), trained on {} contacts and \
         evaluated off-policy on the {} contacts of held-out customers, whose logged policy \
         reached {:.4}. Largest importance weight {:.1}, effective sample size {:.0} \
         ({:.1} %).</p>",
        r.algorithm,
        r.arms.len(),
        match r.model {
            crate::models::policy::ModelKind::Factored => {
                "one ridge regression shared by the arms with interactions per channel, day type \
                 and day part"
            }
            crate::models::policy::ModelKind::Disjoint => "one ridge regression per arm",
        },
        r.context_dim,
        r.ridge,
        r.fit_contacts,
        r.eval_contacts,
        r.logged_value,
        r.estimates.weights.max,
        r.estimates.weights.effective_sample_size,
        100.0 * r.estimates.weights.ess_fraction
    );
    let covered: std::collections::HashMap<&str, bool> = r
        .truth
        .iter()
        .flat_map(|t| t.covered.iter().map(|(n, c)| (n.as_str(), *c)))
        .collect();
    out.push_str("<table><tr><th>estimator</th><th>estimate</th><th>95 % interval</th>");
    if r.truth.is_some() {
        out.push_str("<th>covers the truth</th>");
    }
    out.push_str("</tr>\n");
    for e in &r.estimates.estimators {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:.4}</td><td>[{:.4}, {:.4}]</td>",
            escape(&e.name),
            e.value,
            e.ci_low,
            e.ci_high
        );
        if let Some(c) = covered.get(e.name.as_str()) {
            let _ = write!(out, "<td>{}</td>", if *c { "yes" } else { "no" });
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    if let Some(t) = &r.truth {
        let _ = writeln!(
            out,
            "<p>True value (from the generator's known response): {:.4}, {:.1} % of the oracle's \
             {:.4}; choosing at random {:.4}; the best single arm ({}) {:.4}.</p>",
            t.policy,
            100.0 * t.share_of_oracle,
            t.oracle,
            t.uniform,
            escape(&t.best_fixed_arm_name),
            t.best_fixed_arm
        );
    }
    let mut shares = r.arm_shares.clone();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    shares.truncate(8);
    // Arm names are long: the bars are numbered and the list below names them.
    let labels: Vec<String> = (1..=shares.len()).map(|i| i.to_string()).collect();
    let values: Vec<f64> = shares.iter().map(|(_, s)| *s).collect();
    chart(
        out,
        plots::bar_chart(
            "The policy's most used arms (mean probability, held-out contacts)",
            "share of contacts",
            &labels,
            &values,
        ),
        "the arm shares",
    );
    out.push_str("<ol>");
    for (arm, share) in &shares {
        let _ = write!(out, "<li>{} ({:.1} %)</li>", escape(arm), 100.0 * share);
    }
    out.push_str("</ol>\n");
    if let Some(dir) = path.parent() {
        regret_curves(&dir.join(crate::models::policy::job::SIMULATION_FILE), out)?;
    }
    contact_heat_maps(run, out)
}

/// The online-learning section of a policy run: cumulative regret against the oracle of each
/// policy and baseline over the rounds of `simulation.json` (nothing without the file).
fn regret_curves(path: &Path, out: &mut String) -> anyhow::Result<()> {
    use crate::models::policy::simulate::SimulationReport;
    let Some(sim) = read_artefact::<SimulationReport>(path, "a simulation report")? else {
        return Ok(());
    };
    let _ = writeln!(
        out,
        "<h3>Learning online</h3><p>Each policy starts from scratch and learns from the responses          of {} contacts drawn from the log, answered by the generator's known response model          (the same contacts and draws for every policy). Regret is the acceptances lost against          the oracle, which knows every contact's best arm ({:.4} per contact); uniform reaches          {:.4}, the best fixed arm {:.4}. <code>teleseg simulate --rounds</code> runs longer          simulations.</p>",
        sim.rounds, sim.oracle_rate, sim.uniform_rate, sim.best_fixed_arm_rate
    );
    let series: Vec<(String, Vec<(f64, f64)>)> = sim
        .policies
        .iter()
        .chain(&sim.baselines)
        .map(|r| {
            (
                r.policy.clone(),
                r.regret_curve.iter().map(|&(t, g)| (t as f64, g)).collect(),
            )
        })
        .collect();
    chart(
        out,
        plots::line_chart(
            "Cumulative regret against the oracle",
            "rounds (contacts)",
            "acceptances lost",
            &series,
        ),
        "the regret curves",
    );
    out.push_str(
        "<table><tr><th>policy</th><th>acceptances</th><th>regret</th>\
         <th>rate, last 10 % of rounds</th><th>share of the oracle</th></tr>\n",
    );
    for r in sim.policies.iter().chain(&sim.baselines) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.4}</td><td>{:.1} %</td></tr>",
            escape(&r.policy),
            r.cumulative_reward,
            r.regret,
            r.final_rate,
            100.0 * r.final_share_of_oracle
        );
    }
    out.push_str("</table>\n");
    Ok(())
}

/// Per DEC segment, the share of customers whose best offer the policy would make through each
/// channel (rows) at each time (columns), from `scores.csv` of a pipeline run (nothing without
/// its `contact_arm` column). Arm names `channel@time` split into the two axes; other names are
/// rows of one column.
fn contact_heat_maps(run: &Path, out: &mut String) -> anyhow::Result<()> {
    let path = run.join("scores.csv");
    if !path.is_file() {
        return Ok(());
    }
    let mut rdr =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let header = rdr.headers()?.clone();
    let (Some(seg), Some(arm)) = (
        header.iter().position(|h| h == "segment"),
        header.iter().position(|h| h == "contact_arm"),
    ) else {
        return Ok(());
    };
    // counts[segment][(channel, time)]
    let mut counts: std::collections::BTreeMap<usize, HashMap<(String, String), usize>> =
        std::collections::BTreeMap::new();
    let (mut channels, mut times) = (Vec::<String>::new(), Vec::<String>::new());
    for r in rdr.records() {
        let r = r?;
        let (Ok(s), a) = (r[seg].parse::<usize>(), &r[arm]) else {
            continue;
        };
        if a.is_empty() {
            continue;
        }
        let (c, t) = a.split_once('@').unwrap_or((a, ""));
        for (list, v) in [(&mut channels, c), (&mut times, t)] {
            if !list.iter().any(|x| x == v) {
                list.push(v.to_string());
            }
        }
        *counts
            .entry(s)
            .or_default()
            .entry((c.to_string(), t.to_string()))
            .or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(());
    }
    channels.sort();
    times.sort();
    let _ = writeln!(
        out,
        "<h3>Contact channel and time per segment</h3><p>The share of each segment's customers \
         whose best offer the policy would make through each channel (rows) and at each time \
         (columns), from <code>scores.csv</code>; darker is more.</p><div class=\"heat\">"
    );
    for (s, cells) in &counts {
        let n: usize = cells.values().sum();
        let _ = write!(
            out,
            "<table><caption>Segment {s} ({n} customers)</caption><tr><th></th>"
        );
        for t in &times {
            let _ = write!(out, "<th>{}</th>", escape(&t.replace('_', " ")));
        }
        out.push_str("</tr>");
        for c in &channels {
            let _ = write!(out, "<tr><th>{}</th>", escape(&c.replace('_', " ")));
            for t in &times {
                let k = cells.get(&(c.clone(), t.clone())).copied().unwrap_or(0);
                let share = k as f64 / n as f64;
                let _ = write!(
                    out,
                    "<td style=\"background:rgba(31,119,180,{:.2})\">{:.0} %</td>",
                    share.sqrt(),
                    100.0 * share
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</div>\n");
    Ok(())
}

/// The offer take-up section: `offer_propensity/evaluation.json` of a pipeline run (or
/// `evaluation.json` of a `train offer-propensity` run): the trees' ranking beside NCF's and
/// popularity's on the same held-out offers, and the mean take-up probability per category.
pub fn take_up(run: &Path, out: &mut String) -> anyhow::Result<()> {
    use crate::models::propensity::offers_job::OfferPropensityReport;
    // Another family's evaluation.json has another shape: no section.
    let Some(r) = family_evaluation::<OfferPropensityReport>(run, "offer_propensity")? else {
        return Ok(());
    };
    let k = r.k;
    let _ = write!(
        out,
        "<h2>Offer take-up</h2><p>Gradient-boosted trees ({} trees) predict the probability that \
         a customer accepts an offer when it is shown, from {} accepted offers and declined \
         impressions ({} pairs) with the customer's and the offer's columns. Ranked by that \
         probability, the {} held-out offers (each customer's last acceptance, as NCF holds \
         them out) compare as follows; the probability answers \"will they take it if we offer \
         it\", NCF's score \"which offer will they take next\".</p>\
         <table><tr><th class=\"l\">ranking</th><th>HR@{k}</th><th>NDCG@{k}</th>\
         <th>coverage</th></tr>",
        r.trees, r.train_accepts, r.train_pairs, r.test_users
    );
    let mut rows = vec![("offer take-up (trees)", &r.model)];
    if let Some(n) = &r.ncf {
        rows.push(("NCF", n));
    }
    rows.push(("popularity", &r.popularity));
    for (name, e) in rows {
        let _ = write!(
            out,
            "<tr><td class=\"l\">{name}</td><td>{:.4}</td><td>{:.4}</td><td>{:.3}</td></tr>",
            e.full.hr, e.full.ndcg, e.coverage
        );
    }
    out.push_str("</table>\n");
    if !r.categories.is_empty() {
        out.push_str(
            "<table><tr><th class=\"l\">category</th><th>mean take-up probability</th></tr>",
        );
        for (c, p) in &r.categories {
            let _ = write!(
                out,
                "<tr><td class=\"l\">{}</td><td>{p:.3}</td></tr>",
                escape(c)
            );
        }
        out.push_str("</table>\n");
    }
    Ok(())
}

/// The usage-forecast section: `forecast/evaluation.json` of a pipeline run (or
/// `evaluation.json` of a `train forecast` run): MAE and MASE per series beside the naive
/// forecasts, on the backtest month and on the actuals.
pub fn forecast(run: &Path, out: &mut String) -> anyhow::Result<()> {
    use crate::models::forecast::ForecastReport;
    // Another family's evaluation.json has another shape: no section.
    let Some(r) = family_evaluation::<ForecastReport>(run, "forecast")? else {
        return Ok(());
    };
    let _ = write!(
        out,
        "<h2>Usage forecast</h2><p>One gradient-boosted regression per series forecasts {} for \
         {} customers from their history ({} to {}). The backtest forecasts the last history \
         month with trees that never saw it; the actuals row scores the forecast itself. Mean \
         absolute error (MASE: divided by the in-sample seasonal-naive error); lower is \
         better.</p><table><tr><th class=\"l\">series</th><th class=\"l\">month</th>\
         <th>trees</th><th>seasonal naive</th><th>last value</th><th>customer mean</th>\
         <th>MASE (trees)</th></tr>",
        r.forecast_month, r.customers, r.first_month, r.last_month
    );
    for s in &r.series {
        for c in std::iter::once(&s.backtest).chain(&s.actuals) {
            let _ = write!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{:.3}</td><td>{:.3}</td>\
                 <td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
                escape(&s.series),
                escape(&c.month),
                c.model.mae,
                c.seasonal_naive.mae,
                c.last_value.mae,
                c.customer_mean.mae,
                fmt3(c.model.mase)
            );
        }
    }
    out.push_str("</table>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_finds_the_direction_of_largest_spread() {
        // Pairs (t ± 0.1, t ∓ 0.1): the noise is uncorrelated with t, so pc1 is exactly (1, 1)/√2.
        let rows: Vec<Vec<f64>> = (0..20)
            .map(|i| {
                let t = (i / 2) as f64 - 4.5;
                let e = if i % 2 == 0 { 0.1 } else { -0.1 };
                vec![t + e, t - e]
            })
            .collect();
        let p = pca2(&rows).unwrap();
        let spread = |f: fn(&(f64, f64)) -> f64| p.iter().map(|q| f(q).powi(2)).sum::<f64>();
        assert!(spread(|q| q.0) > 100.0 * spread(|q| q.1));
        // |pc1| of the first point is |2t| / √2 = 4.5 √2.
        assert!(
            (p[0].0.abs() - 4.5 * 2f64.sqrt()).abs() < 1e-9,
            "{:?}",
            p[0]
        );
    }

    #[test]
    fn histogram_shares_sum_to_one_and_clamp_the_tails() {
        let h = histogram(&[-5.0, 0.0, 0.5, 1.0, 9.0], 0.0, 1.0);
        assert_eq!(h.len(), BINS);
        assert!((h.iter().map(|b| b.1).sum::<f64>() - 1.0).abs() < 1e-12);
        // −5 and 0 land in the first bin, 1 and 9 in the last.
        assert!((h[0].1 - 0.4).abs() < 1e-12 && (h[BINS - 1].1 - 0.4).abs() < 1e-12);
        assert!((h[0].0 - 0.5 / BINS as f64).abs() < 1e-12);
    }

    #[test]
    fn heat_colors_run_blue_white_red() {
        assert_eq!(heat_color(0.0), "#ffffff");
        assert_eq!(heat_color(1.0), "#d6604d");
        assert_eq!(heat_color(-5.0), "#4393c3");
    }
}
