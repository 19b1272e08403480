//! `teleseg inspect RUN`: what a checkpoint holds (metadata, tensors, metrics).

use std::fmt::Write;
use std::path::Path;

use crate::checkpoint::{Checkpoint, RunDir, keys};
use crate::train::read_metrics;

/// The description printed by `teleseg inspect`.
pub fn run(path: &Path) -> anyhow::Result<String> {
    let file = RunDir::resolve_model_file(path)?;
    let ck = Checkpoint::read(&file, None)?;
    let mut out = String::new();
    writeln!(out, "checkpoint   {}", file.display())?;
    writeln!(out, "kind         {}", ck.kind())?;
    writeln!(out, "format       {}", ck.meta(keys::FORMAT_VERSION)?)?;
    for key in [keys::EPOCH, keys::VALID_LOSS, keys::BACKEND] {
        if let Some(v) = ck.metadata.get(key) {
            writeln!(out, "{:<12} {v}", key.trim_start_matches("teleseg."))?;
        }
    }
    if let Ok(model) = ck.meta_json::<serde_json::Value>(keys::MODEL) {
        writeln!(out, "model        {model}")?;
    }
    if let Ok(features) = ck.meta_json::<Vec<String>>(keys::FEATURES) {
        writeln!(
            out,
            "features     {} ({} …)",
            features.len(),
            features
                .iter()
                .take(6)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    writeln!(out, "\ntensors:")?;
    let infos = ck.tensor_infos();
    let width = infos.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    let mut params = 0usize;
    for (name, shape, dtype) in &infos {
        writeln!(out, "  {name:<width$}  {dtype}  {shape:?}")?;
        if !name.starts_with("preprocess.") {
            params += shape.iter().product::<usize>();
        }
    }
    writeln!(
        out,
        "  ({} tensors, {params} model parameters)",
        infos.len()
    )?;
    let other: Vec<_> = ck
        .metadata
        .keys()
        .filter(|k| !k.starts_with("teleseg."))
        .cloned()
        .collect();
    if !other.is_empty() {
        writeln!(out, "\nother metadata: {}", other.join(", "))?;
    }
    if let Some(root) = file.parent() {
        let metrics = read_metrics(
            &RunDir {
                root: root.to_path_buf(),
            }
            .metrics(),
        )?;
        if !metrics.is_empty() {
            writeln!(out, "\nmetrics ({} epochs):", metrics.len())?;
            writeln!(
                out,
                "  {:>5}  {:>10}  {:>10}  {:>10}  {:>12}",
                "epoch", "lr", "train", "valid", "samples/s"
            )?;
            for m in &metrics {
                writeln!(
                    out,
                    "  {:>5}  {:>10.2e}  {:>10.5}  {:>10.5}  {:>12.0}{}",
                    m.epoch,
                    m.lr,
                    m.train_loss,
                    m.valid_loss,
                    m.samples_per_s,
                    if m.best { "  *best" } else { "" }
                )?;
            }
        }
    }
    Ok(out)
}
