//! `teleseg score`: raw customer CSV in, one segment per customer out (a `dec` checkpoint).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::checkpoint::{self, RunDir};
use crate::commands::embed::csv_field;
use crate::data::reader::{OnBadRow, ReadOptions};
use crate::score::{RawInput, SegmentModel, Segments};

/// Options of `teleseg score`.
#[derive(Debug, Clone)]
pub struct ScoreArgs {
    pub checkpoint: PathBuf,
    pub input: PathBuf,
    pub output: PathBuf,
    /// Also write the soft assignment `q0..q{k-1}`.
    pub with_q: bool,
    pub batch_size: usize,
    pub on_bad_row: OnBadRow,
    pub force: bool,
}

/// Runs `teleseg score`; returns the number of rows written.
pub fn run(args: &ScoreArgs, device: &burn::tensor::Device) -> anyhow::Result<usize> {
    if args.output.exists() && !args.force {
        anyhow::bail!(crate::error::UsageError(format!(
            "{} already exists; pass --force to overwrite it",
            args.output.display()
        )));
    }
    let path = RunDir::resolve_model_file(&args.checkpoint)?;
    let model = SegmentModel::load(&path, device)?;
    let opts = ReadOptions {
        on_bad_row: args.on_bad_row,
    };
    let table = model.read(&args.input, &opts)?;
    let features = model.features(&table)?;
    let scores = model.score(&features, args.batch_size);
    let out = scores_csv(
        &table.ids,
        &scores,
        model.head.k,
        model.arch.latent,
        args.with_q,
    );
    checkpoint::write_atomic(&args.output, &out)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(table.ids.len())
}

/// `customer_id,segment,confidence[,q0..q{k-1}],z0..z{latent-1}`, one row per id.
pub fn scores_csv(ids: &[String], s: &Segments, k: usize, latent: usize, with_q: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * ((latent + k) * 11 + 24));
    out.extend_from_slice(b"customer_id,segment,confidence");
    if with_q {
        (0..k).for_each(|j| write!(out, ",q{j}").expect("vec write"));
    }
    (0..latent).for_each(|j| write!(out, ",z{j}").expect("vec write"));
    out.push(b'\n');
    for (i, id) in ids.iter().enumerate() {
        out.extend_from_slice(csv_field(id).as_bytes());
        write!(out, ",{},{}", s.segment[i], s.confidence[i]).expect("vec write");
        if with_q {
            for v in &s.q[i * k..(i + 1) * k] {
                write!(out, ",{v}").expect("vec write");
            }
        }
        for v in &s.z[i * latent..(i + 1) * latent] {
            write!(out, ",{v}").expect("vec write");
        }
        out.push(b'\n');
    }
    out
}
