//! `teleseg pipeline`: the main job, end to end, into one run folder.
//!
//! Stages: data (generated unless configured) → autoencoder → embeddings of every customer →
//! DEC / IDEC segments with k-means baselines (`dec/segments.json`, `dec/segments.csv`) →
//! a conditional VAE on those segments with synthetic profiles per segment and a quality report
//! (`vae/`). Each stage writes its own
//! sub-folder (`data/`, `autoencoder/`, `dec/`), so each can also be run alone with
//! `teleseg train ...` and its config.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::checkpoint::{self, RunDir};
use crate::commands::embed::embeddings_csv;
use crate::commands::train::{TrainReport, run_autoencoder_job, run_dec_job, write_segments};
use crate::commands::{Globals, new_run_dir};
use crate::config::{self, PipelineJob};
use crate::data::reader::ReadOptions;
use crate::score::{EmbeddingModel, RawInput};

/// Options of `teleseg pipeline`.
#[derive(Debug, Clone, Default)]
pub struct PipelineArgs {
    pub config: Option<PathBuf>,
    pub overrides: Vec<String>,
    pub force: bool,
}

/// What the pipeline produced, for the closing summary.
#[derive(Debug)]
pub struct PipelineReport {
    pub run: PathBuf,
    /// `report.html` in the run folder.
    pub report: PathBuf,
    pub autoencoder: TrainReport,
    pub embeddings: PathBuf,
    /// `dec/segments.json`: DEC segments, baselines and (generated data) external metrics.
    pub segments: PathBuf,
    /// Final DEC segment sizes and whether they collapsed.
    pub segment_sizes: Vec<usize>,
    pub collapsed: bool,
    pub customers: usize,
    /// The VAE stage (`vae/`), when enabled.
    pub vae: Option<crate::commands::vae::VaeReport>,
    /// The NCF offer stage (`ncf/`), run when the data has an `interactions.csv`.
    pub ncf: Option<crate::commands::ncf::NcfReport>,
    /// `ncf/recommendations.csv`: top offers of every customer.
    pub recommendations: Option<PathBuf>,
    /// `scores.csv`: every customer scored with the bundle (`teleseg score` on the run).
    pub scores: PathBuf,
    /// Rows per second of that scoring, end to end.
    pub score_rows_per_s: f64,
    /// `(stage, seconds)` in order.
    pub stages: Vec<(String, f64)>,
}

/// Runs the pipeline. `on_stage` is called when each stage starts (the CLI prints a line).
pub fn run(
    args: &PipelineArgs,
    globals: &Globals,
    on_stage: &dyn Fn(&str),
) -> anyhow::Result<PipelineReport> {
    let mut job: PipelineJob = config::load(
        args.config.as_deref(),
        config::PIPELINE_DEFAULT,
        &args.overrides,
    )?;
    if let Some(seed) = globals.seed {
        job.seed = config::Seed(seed);
    }
    let run = new_run_dir(&job.output, "pipeline", args.force)?;
    checkpoint::write_atomic(&run.config(), config::to_toml(&job).as_bytes())?;
    let mut stages = Vec::new();

    // The autoencoder stage generates (or reads) the data into the pipeline's data/ folder.
    on_stage("autoencoder: data + training");
    let t = Instant::now();
    let mut ae_job = job.autoencoder_job();
    if ae_job.data.customers.is_none() {
        // Generate once at the pipeline level so every later stage sees the same files.
        let data_dir = run.root.join("data");
        crate::data::generate::generate(&job.data.generate_options(job.seed.0, data_dir.clone()))
            .context("generating the synthetic data set")?;
        ae_job.data.customers = Some(data_dir.join("customers.csv"));
        ae_job.data.schema = Some(data_dir.join("schema.toml"));
    }
    let ae_run = RunDir {
        root: run.root.join("autoencoder"),
    };
    std::fs::create_dir_all(&ae_run.root)
        .with_context(|| format!("creating {}", ae_run.root.display()))?;
    let autoencoder = run_autoencoder_job(&ae_job, &ae_run, &Default::default(), globals)?;
    stages.push(("autoencoder".to_string(), t.elapsed().as_secs_f64()));

    on_stage("embed: every customer");
    let t = Instant::now();
    let model = EmbeddingModel::load(&ae_run.model(), &globals.backend.device)?;
    let customers = ae_job.data.customers.clone().expect("set above");
    let table = model.read(
        &customers,
        &ReadOptions {
            on_bad_row: ae_job.data.on_bad_row,
        },
    )?;
    let features = model.features(&table)?;
    let z = model.embed(&features, 4096);
    let text = embeddings_csv(&table.ids, &z, model.arch.latent);
    let embeddings = run.root.join("embeddings.csv");
    checkpoint::write_atomic(&embeddings, &text)?;
    stages.push(("embed".to_string(), t.elapsed().as_secs_f64()));

    on_stage("dec: clustering + baselines");
    let t = Instant::now();
    let mut dec_job = job.dec_job();
    dec_job.data = ae_job.data.clone();
    dec_job.dec.autoencoder = Some(ae_run.root.clone());
    let dec_run = RunDir {
        root: run.root.join("dec"),
    };
    std::fs::create_dir_all(&dec_run.root)
        .with_context(|| format!("creating {}", dec_run.root.display()))?;
    let dec = run_dec_job(&dec_job, &dec_run, globals)?;
    write_segments(&dec_job, &dec)?;
    stages.push(("dec".to_string(), t.elapsed().as_secs_f64()));

    let vae = if job.vae.enabled {
        on_stage("vae: synthetic profiles per segment + quality report");
        let t = Instant::now();
        let labels = dec_run.root.join("segments.csv");
        let mut text = String::from("customer_id,segment\n");
        for (id, s) in dec.ids.iter().zip(&dec.labels) {
            text.push_str(&format!("{id},{s}\n"));
        }
        checkpoint::write_atomic(&labels, text.as_bytes())?;
        let mut vae_job = job.vae_job();
        vae_job.data = ae_job.data.clone();
        vae_job.vae.segments = Some(labels);
        vae_job.vae.segment_model = Some(dec_run.root.clone());
        let vae_run = RunDir {
            root: run.root.join("vae"),
        };
        std::fs::create_dir_all(&vae_run.root)
            .with_context(|| format!("creating {}", vae_run.root.display()))?;
        let r = crate::commands::vae::run_vae_job(&vae_job, &vae_run, globals)?;
        stages.push(("vae".to_string(), t.elapsed().as_secs_f64()));
        Some(r)
    } else {
        None
    };

    // NCF offers (generated data, or customer data with an interactions.csv next to it): the
    // embedded configs/ncf.toml with the pipeline's seed; new customers through their DEC segment.
    let data_dir = customers.parent().map(PathBuf::from).unwrap_or_default();
    let (mut ncf, mut recommendations) = (None, None);
    // interactions.csv, or interactions.parquet next to customers in Parquet.
    let interactions_file = ["interactions.csv", "interactions.parquet"]
        .iter()
        .map(|n| data_dir.join(n))
        .find(|p| p.is_file());
    if let Some(interactions_file) = &interactions_file {
        on_stage("ncf: offer recommendation");
        let t = Instant::now();
        let mut ncf_job: config::NcfJob = config::parse(config::NCF_DEFAULT, "ncf", &[])?;
        ncf_job.seed = job.seed;
        ncf_job.data.interactions = Some(interactions_file.clone());
        ncf_job.data.offers = Some(data_dir.join("offers.csv")).filter(|p| p.is_file());
        // The customer table gives each user's features (model.user_features).
        ncf_job.data.customers = Some(customers.clone());
        ncf_job.data.schema = ae_job.data.schema.clone();
        ncf_job.data.on_bad_row = ae_job.data.on_bad_row;
        let ncf_run = RunDir {
            root: run.root.join("ncf"),
        };
        std::fs::create_dir_all(&ncf_run.root)
            .with_context(|| format!("creating {}", ncf_run.root.display()))?;
        let ncf_report = crate::commands::ncf::run_ncf_job(&ncf_job, &ncf_run, globals)?;
        // The customers' features come from `table` below (known and new alike), so the model
        // is loaded without re-reading its training customers.
        let model = crate::models::ncf::score::NcfModel::load_without_features(
            &ncf_run.model(),
            &globals.backend.device,
        )?;
        let ix = crate::commands::ncf::load_interactions(&ncf_job.data)?;
        let segments: std::collections::HashMap<String, String> = dec
            .ids
            .iter()
            .zip(&dec.labels)
            .map(|(id, l)| (id.clone(), l.to_string()))
            .collect();
        let customer_x = match &model.input {
            Some(input) => Some(input.rows_for(&table, &table.ids)?),
            None => None,
        };
        recommendations = Some(crate::commands::ncf::write_recommendations(
            &ncf_run,
            &model,
            &ix,
            &table.ids,
            customer_x.as_ref(),
            Some(&segments),
            ncf_job.sampling.k,
        )?);
        ncf = Some(ncf_report);
        stages.push(("ncf".to_string(), t.elapsed().as_secs_f64()));
    }

    // Score every customer with the bundle, as a production scorer would: raw CSV in,
    // segment + confidence + embedding (+ offers, excluding accepted ones) out.
    on_stage("score: every customer with the bundle");
    let t = Instant::now();
    let scores = run.root.join("scores.csv");
    let interactions = interactions_file;
    let score_args = crate::commands::score::ScoreArgs {
        checkpoint: run.root.clone(),
        input: customers.clone(),
        output: scores.clone(),
        with_q: false,
        batch_size: 4096,
        chunk_rows: crate::commands::score::DEFAULT_CHUNK_ROWS,
        top_k: 10,
        interactions: interactions
            .filter(|p| p.is_file() && run.root.join("ncf/model.safetensors").is_file()),
        on_bad_row: ae_job.data.on_bad_row,
        force: true,
    };
    let scored =
        crate::commands::score::run(&score_args, &globals.backend.device, &globals.progress)?;
    stages.push(("score".to_string(), t.elapsed().as_secs_f64()));

    // The report shows summary.json, so it cannot time itself: its stage is only printed.
    on_stage("report");
    let t = Instant::now();
    write_summary(&run, table.ids.len(), &stages)?;
    let report = crate::report::write_report(&run.root)?;
    stages.push(("report".to_string(), t.elapsed().as_secs_f64()));
    let root = run.root.clone();
    run.commit()?;

    Ok(PipelineReport {
        run: root,
        report,
        autoencoder,
        embeddings,
        segments: dec_run.root.join("segments.json"),
        segment_sizes: dec.collapse.sizes.clone(),
        collapsed: dec.collapse.collapsed,
        customers: table.ids.len(),
        vae,
        ncf,
        recommendations,
        scores,
        score_rows_per_s: scored.rows_per_s,
        stages,
    })
}

/// `summary.json`: customers and `(stage, seconds)` in order, for the report.
fn write_summary(run: &RunDir, customers: usize, stages: &[(String, f64)]) -> anyhow::Result<()> {
    let summary = serde_json::json!({
        "customers": customers,
        "stages": stages
            .iter()
            .map(|(name, seconds)| serde_json::json!({"name": name, "seconds": seconds}))
            .collect::<Vec<_>>(),
    });
    checkpoint::write_atomic(
        &run.root.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(())
}
