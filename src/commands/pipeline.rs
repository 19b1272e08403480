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
use crate::config::{self, Checked};
use crate::data::labels::write_labels;
use crate::data::reader::ReadOptions;
use crate::job::{self, Globals, ensure_data, new_run_dir};
use crate::models::autoencoder::{EmbeddingModel, RawInput, TrainReport, run_autoencoder_job};
use crate::models::dec::{run_dec_job, write_segments};
use crate::models::ncf::{self, NcfJob, NcfReport};
use crate::models::vae::{VaeReport, run_vae_job};
use crate::pipeline::PipelineJob;

/// Options of `teleseg pipeline`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PipelineArgs {
    /// Pipeline config TOML (default: the embedded configs/pipeline.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one config value, e.g. `--set autoencoder.train.epochs=5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Replace an existing run folder of the same name.
    #[arg(long)]
    pub force: bool,
    /// Continue the pipeline run RUN after an interruption (a kill, a power loss): its own
    /// config.toml is used (plus --set); each training stage resumes from its `last/` (a finished
    /// one trains no further, one without a finished epoch starts afresh) and the stages after
    /// training run again on the same weights, so the outputs are those of an uninterrupted run.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["config", "force"])]
    pub resume: Option<PathBuf>,
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
    pub vae: Option<VaeReport>,
    /// The propensity stage (`propensity/`), when enabled and the schema has its target.
    pub propensity: Option<crate::models::propensity::PropensityReport>,
    /// The NCF offer stage (`ncf/`), run when the data has an `interactions.csv`.
    pub ncf: Option<NcfReport>,
    /// `ncf/recommendations.csv`: top offers of every customer.
    pub recommendations: Option<PathBuf>,
    /// The offer-propensity stage (`offer_propensity/`).
    pub offer_propensity: Option<crate::models::propensity::offers_job::OfferPropensityReport>,
    /// The usage-forecast stage (`forecast/`).
    pub forecast: Option<crate::models::forecast::ForecastReport>,
    /// The contact-policy stage (`policy/`).
    pub policy: Option<crate::models::policy::job::PolicyReport>,
    /// `scores.csv`: every customer scored with the bundle (`teleseg score` on the run).
    pub scores: PathBuf,
    /// Rows per second of that scoring, end to end.
    pub score_rows_per_s: f64,
    /// `(stage, seconds)` in order.
    pub stages: Vec<(String, f64)>,
    /// The backend that ran it, in words.
    pub backend: String,
}

impl std::fmt::Display for PipelineReport {
    /// The closing summary of `teleseg pipeline`: timings, then where everything is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self;
        writeln!(f, "{}", r.autoencoder.data_summary)?;
        writeln!(
            f,
            "pipeline done in {:.1}s ({} customers, backend {})",
            r.stages.iter().map(|s| s.1).sum::<f64>(),
            r.customers,
            r.backend
        )?;
        for (stage, secs) in &r.stages {
            writeln!(f, "  {stage:<12} {secs:>7.1}s")?;
        }
        writeln!(
            f,
            "  autoencoder: best validation loss {:.5} at epoch {} ({:.0} samples/s)",
            r.autoencoder.best_valid_loss, r.autoencoder.best_epoch, r.autoencoder.samples_per_s
        )?;
        writeln!(f, "run folder:  {}", r.run.display())?;
        let checkpoint = r.run.join("autoencoder/model.safetensors");
        writeln!(f, "checkpoint:  {}", checkpoint.display())?;
        writeln!(f, "embeddings:  {}", r.embeddings.display())?;
        if let (Some(n), Some(rec)) = (&r.ncf, &r.recommendations) {
            let (m, p) = (
                &n.evaluation.model_metrics.full,
                &n.evaluation.popularity.full,
            );
            let features = match n.evaluation.user_features {
                0 => String::new(),
                f => format!(" + {f} customer features"),
            };
            writeln!(
                f,
                "offers:      {} (ncf {:?}{features}: full-ranking HR@{} {:.4} vs popularity {:.4})",
                rec.display(),
                n.kind,
                n.evaluation.k,
                m.hr,
                p.hr
            )?;
        }
        writeln!(
            f,
            "segments:    {} (sizes {:?}{})",
            r.segments.display(),
            r.segment_sizes,
            if r.collapsed { ", COLLAPSED" } else { "" }
        )?;
        if let Some(p) = &r.propensity {
            use crate::models::propensity::Evaluation;
            let test = match &p.test {
                Some(Evaluation::Binary(m)) => format!(
                    "test ROC AUC {}, Brier {:.4} (base rate alone {:.4})",
                    m.roc_auc.map_or("-".into(), |v| format!("{v:.4}")),
                    m.brier,
                    p.test_constant_baseline.unwrap_or(f64::NAN)
                ),
                Some(Evaluation::Regression(m)) => format!("test MAE {:.4}, R² {:.4}", m.mae, m.r2),
                None => "no test split".to_string(),
            };
            let top: Vec<&str> = p
                .drivers
                .iter()
                .take(3)
                .map(|d| d.feature.as_str())
                .collect();
            writeln!(
                f,
                "propensity:  {} ({}: {test}; drivers {})",
                p.run.join("evaluation.json").display(),
                p.target.name(),
                top.join(", ")
            )?;
        }
        if let Some(o) = &r.offer_propensity {
            let ncf = o
                .ncf
                .as_ref()
                .map_or(String::new(), |n| format!(", ncf {:.4}", n.full.hr));
            writeln!(
                f,
                "take-up:     {} (full-ranking HR@{} {:.4} vs popularity {:.4}{ncf})",
                o.run.join("evaluation.json").display(),
                o.k,
                o.model.full.hr,
                o.popularity.full.hr
            )?;
        }
        if let Some(fc) = &r.forecast {
            let maes: Vec<String> = fc
                .series
                .iter()
                .map(|s| {
                    let c = s.actuals.as_ref().unwrap_or(&s.backtest);
                    format!(
                        "{} MAE {:.3} vs best naive {:.3}",
                        s.series,
                        c.model.mae,
                        c.best_baseline_mae()
                    )
                })
                .collect();
            writeln!(
                f,
                "forecast:    {} ({}: {})",
                fc.run.join("forecasts.csv").display(),
                fc.forecast_month,
                maes.join("; ")
            )?;
        }
        if let Some(p) = &r.policy {
            let snips = p.estimates.get("snips").map_or(f64::NAN, |e| e.value);
            let truth = p
                .truth
                .as_ref()
                .map_or(String::new(), |t| format!(", true {:.4}", t.policy));
            writeln!(
                f,
                "contacts:    {} ({} {}: SNIPS {snips:.4}{truth} vs logged {:.4})",
                p.run.join("evaluation.json").display(),
                p.algorithm.name(),
                p.model.name(),
                p.logged_value
            )?;
        }
        if let Some(v) = &r.vae {
            let synthetic = v.run.join("synthetic.csv");
            write!(f, "synthetic:   {}\n{}", synthetic.display(), v.quality)?;
        }
        writeln!(
            f,
            "scores:      {} ({:.0} customers/s)",
            r.scores.display(),
            r.score_rows_per_s
        )?;
        write!(f, "report:      {}", r.report.display())
    }
}

/// The stages run so far, in order, each timed; family stages run in their own sub-folder.
struct Stages<'a> {
    run: &'a RunDir,
    on_stage: &'a dyn Fn(&str),
    done: Vec<(String, f64)>,
}

impl Stages<'_> {
    /// Runs stage `name` (announced as `name: what`) and records its wall time.
    fn run<T>(
        &mut self,
        name: &str,
        what: &str,
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        match what {
            "" => (self.on_stage)(name),
            _ => (self.on_stage)(&format!("{name}: {what}")),
        }
        let t = Instant::now();
        let out = f()?;
        self.done
            .push((name.to_string(), t.elapsed().as_secs_f64()));
        Ok(out)
    }

    /// `RUN/<name>/`, created: the run folder of a family stage.
    fn folder(&self, name: &str) -> anyhow::Result<RunDir> {
        let root = self.run.root.join(name);
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        Ok(RunDir { root })
    }
}

/// Runs the pipeline. `on_stage` is called when each stage starts (the CLI prints a line).
pub fn run(
    args: &PipelineArgs,
    globals: &Globals,
    on_stage: &dyn Fn(&str),
) -> anyhow::Result<PipelineReport> {
    let (job, run, resume) = match &args.resume {
        Some(root) => {
            let path = RunDir { root: root.clone() }.config();
            if !path.is_file() {
                anyhow::bail!(crate::checkpoint::CheckpointError::NotFound {
                    path,
                    expected: "the config.toml of an earlier `teleseg pipeline` run".into(),
                });
            }
            let job: Checked<PipelineJob> =
                job::load_config(Some(&path), &args.overrides, globals)?;
            (job, job::NewRun::existing(root), true)
        }
        None => {
            let job: Checked<PipelineJob> =
                job::load_config(args.config.as_deref(), &args.overrides, globals)?;
            let run = new_run_dir(&job.output, "pipeline", args.force)?;
            checkpoint::write_atomic(&run.config(), config::to_toml(&job).as_bytes())?;
            (job, run, false)
        }
    };
    let mut stages = Stages {
        run: &run,
        on_stage,
        done: Vec::new(),
    };
    let ae_run = stages.folder("autoencoder")?;
    let (data, autoencoder) = stages.run("autoencoder", "data + training", || {
        // Generated once at the pipeline level (into data/) so every stage sees the same files.
        let data = ensure_data(&job.data, job.seed.0, &run)?;
        let mut ae_job = job.autoencoder_job();
        ae_job.data = data.clone();
        let control = job::RunControl {
            resume,
            stop_after_epochs: None,
        };
        let ae_job = Checked::named(ae_job, "the pipeline's autoencoder stage")?;
        let report = run_autoencoder_job(&ae_job, &ae_run, &control, globals)?;
        Ok((data, report))
    })?;
    let customers = data
        .customers
        .clone()
        .expect("ensure_data names the customers");
    let read_opts = ReadOptions {
        on_bad_row: data.on_bad_row,
    };

    let embeddings = run.root.join("embeddings.csv");
    let table = stages.run("embed", "every customer", || {
        let model = EmbeddingModel::load(&ae_run.model(), &globals.backend.device)?;
        let table = model.read(&customers, &read_opts)?;
        let z = model.embed(&model.features(&table)?, 4096);
        let text = embeddings_csv(&table.ids, &z, model.arch.latent);
        checkpoint::write_atomic(&embeddings, &text)?;
        Ok(table)
    })?;

    let dec_run = stages.folder("dec")?;
    let dec = stages.run("dec", "clustering + baselines", || {
        let mut dec_job = job.dec_job();
        dec_job.data = data.clone();
        dec_job.dec.autoencoder = Some(ae_run.root.clone());
        let dec_job = Checked::named(dec_job, "the pipeline's dec stage")?;
        let dec = run_dec_job(&dec_job, &dec_run, globals, resume)?;
        write_segments(&dec_job, &dec)?;
        write_labels(
            &dec_run.root.join("segments.csv"),
            "segment",
            &dec.ids,
            &dec.labels,
        )?;
        Ok(dec)
    })?;

    let vae = match job.vae.enabled {
        true => {
            let vae_run = stages.folder("vae")?;
            Some(stages.run(
                "vae",
                "synthetic profiles per segment + quality report",
                || {
                    let mut vae_job = job.vae_job();
                    vae_job.data = data.clone();
                    vae_job.vae.segments = Some(dec_run.root.join("segments.csv"));
                    vae_job.vae.segment_model = Some(dec_run.root.clone());
                    let vae_job = Checked::named(vae_job, "the pipeline's vae stage")?;
                    run_vae_job(&vae_job, &vae_run, globals, resume)
                },
            )?)
        }
        false => None,
    };

    // Churn risk (or the configured target) with the DEC segments, when the schema has it.
    let propensity = match job.propensity.enabled {
        true if schema_has_target(&data, &job.propensity.model.target)? => {
            let prop_run = stages.folder("propensity")?;
            Some(stages.run("propensity", "churn risk + SHAP reasons", || {
                let mut p_job = job.propensity_job();
                p_job.data = data.clone();
                p_job.propensity.segments = Some(dec_run.root.join("segments.csv"));
                let p_job = Checked::named(p_job, "the pipeline's propensity stage")?;
                crate::models::propensity::run_propensity_job(&p_job, &prop_run, globals)
            })?)
        }
        true => {
            tracing::info!(
                target = %job.propensity.model.target,
                "propensity stage skipped: the schema has no such column"
            );
            None
        }
        false => None,
    };

    // NCF offers (generated data, or customer data with an interactions.csv next to it): the
    // embedded configs/ncf.toml with the pipeline's seed; new customers through their DEC segment.
    let data_dir = customers.parent().map(PathBuf::from).unwrap_or_default();
    // interactions.csv, or interactions.parquet next to customers in Parquet.
    let interactions_file = ["interactions.csv", "interactions.parquet"]
        .iter()
        .map(|n| data_dir.join(n))
        .find(|p| p.is_file());
    let (mut ncf, mut recommendations) = (None, None);
    let mut offer_propensity = None;
    if let Some(interactions_file) = &interactions_file {
        let ncf_run = stages.folder("ncf")?;
        let ncf_root = ncf_run.root.clone();
        let (report, recs) = stages.run("ncf", "offer recommendation", || {
            // `NcfJob::default()` is configs/ncf.toml (`job::default_tests`).
            let mut ncf_job = NcfJob {
                seed: job.seed,
                ..NcfJob::default()
            };
            ncf_job.data.interactions = Some(interactions_file.clone());
            ncf_job.data.offers = Some(data_dir.join("offers.csv")).filter(|p| p.is_file());
            // The customer table gives each user's features (model.user_features).
            ncf_job.data.customers = Some(customers.clone());
            ncf_job.data.schema = data.schema.clone();
            ncf_job.data.on_bad_row = data.on_bad_row;
            let ncf_job = Checked::named(ncf_job, "the pipeline's ncf stage")?;
            let report = ncf::run_ncf_job(&ncf_job, &ncf_run, globals, resume)?;
            // The customers' features come from `table` (known and new alike), so the model
            // is loaded without re-reading its training customers.
            let model = ncf::infer::NcfModel::load_without_features(
                &ncf_run.model(),
                &globals.backend.device,
            )?;
            let ix = ncf::load_interactions(&ncf_job.data)?;
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
            let recs = ncf::write_recommendations(
                &ncf_run,
                &model,
                &ix,
                &table.ids,
                customer_x.as_ref(),
                Some(&segments),
                ncf_job.sampling.k,
            )?;
            Ok((report, recs))
        })?;
        ncf = Some(report);
        recommendations = Some(recs);

        // Offer take-up probabilities on the same history, ranked beside the NCF run.
        let offers_file = data_dir.join("offers.csv");
        let csv_log = interactions_file.extension().is_some_and(|e| e == "csv");
        if job.offer_propensity.enabled && csv_log && offers_file.is_file() {
            let o_run = stages.folder("offer_propensity")?;
            offer_propensity = Some(stages.run(
                "offer_propensity",
                "offer take-up probabilities vs NCF",
                || {
                    use crate::models::propensity::offers::OfferPropensityJob;
                    let mut o_job = OfferPropensityJob {
                        seed: job.seed,
                        offers: job.offer_propensity.model.clone(),
                        output: job.output.clone(),
                        ..Default::default()
                    };
                    o_job.offers.ncf = Some(ncf_root.clone());
                    o_job.data.interactions = Some(interactions_file.clone());
                    o_job.data.offers = Some(offers_file.clone());
                    o_job.data.customers = Some(customers.clone());
                    o_job.data.schema = data.schema.clone();
                    o_job.data.on_bad_row = data.on_bad_row;
                    let o_job = Checked::named(o_job, "the pipeline's offer_propensity stage")?;
                    crate::models::propensity::offers_job::run_offer_propensity_job(
                        &o_job, &o_run, globals,
                    )
                },
            )?);
        }
    }

    // Next month's usage, when the data has a monthly history.
    let history_file = data_dir.join("usage_history.csv");
    let forecast = match job.forecast.enabled && history_file.is_file() {
        true => {
            let f_run = stages.folder("forecast")?;
            Some(
                stages.run("forecast", "next month's usage per customer", || {
                    use crate::models::forecast::{ForecastData, ForecastJob, run_forecast_job};
                    let next = data_dir.join("usage_next_month.csv");
                    let f_job = ForecastJob {
                        seed: job.seed,
                        data: ForecastData {
                            history: Some(history_file.clone()),
                            actuals: next.is_file().then_some(next),
                            ..Default::default()
                        },
                        forecast: job.forecast.model.clone(),
                        output: job.output.clone(),
                    };
                    let f_job = Checked::named(f_job, "the pipeline's forecast stage")?;
                    run_forecast_job(&f_job, &f_run, globals)
                })?,
            )
        }
        false => None,
    };

    // The channel and time of offer contacts, when the data has a contact log.
    let contacts_file = job
        .policy
        .model
        .contacts
        .clone()
        .unwrap_or_else(|| data_dir.join("contacts.csv"));
    let policy = match job.policy.enabled && contacts_file.is_file() {
        true => {
            let p_run = stages.folder("policy")?;
            Some(stages.run(
                "policy",
                "contact channel and time + off-policy evaluation",
                || {
                    let mut p_job = job.policy_job();
                    p_job.data = data.clone();
                    p_job.policy.contacts = Some(contacts_file.clone());
                    let p_job = Checked::named(p_job, "the pipeline's policy stage")?;
                    crate::models::policy::job::run_policy_job(&p_job, &p_run, globals)
                },
            )?)
        }
        false => {
            if job.policy.enabled {
                tracing::info!(
                    contacts = %contacts_file.display(),
                    "policy stage skipped: no contact log"
                );
            }
            None
        }
    };

    // Score every customer with the bundle, as a production scorer would: raw CSV in,
    // segment + confidence + embedding (+ offers, excluding accepted ones) out.
    let scores = run.root.join("scores.csv");
    let scored = stages.run("score", "every customer with the bundle", || {
        let score_args = crate::commands::score::ScoreArgs {
            checkpoint: run.root.clone(),
            input: customers.clone(),
            output: scores.clone(),
            with_q: false,
            batch_size: 4096,
            chunk_rows: crate::commands::score::DEFAULT_CHUNK_ROWS,
            top_k: 10,
            interactions: interactions_file
                .clone()
                .filter(|p| p.is_file() && run.root.join("ncf/model.safetensors").is_file()),
            on_bad_row: data.on_bad_row,
            reasons: 3,
            force: true,
        };
        crate::commands::score::run(&score_args, &globals.backend.device, &globals.progress)
    })?;

    // The report shows summary.json, so it cannot time itself: its stage is only printed.
    let mut done = std::mem::take(&mut stages.done);
    let report = stages.run("report", "", || {
        write_summary(&run, table.ids.len(), &done)?;
        crate::report::write_report(&run.root)
    })?;
    done.extend(stages.done);
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
        propensity,
        ncf,
        recommendations,
        offer_propensity,
        forecast,
        policy,
        scores,
        score_rows_per_s: scored.rows_per_s,
        stages: done,
        backend: globals.backend.description.clone(),
    })
}

/// Whether the schema of `data` has a column named `target` (the propensity stage's target).
fn schema_has_target(data: &crate::config::DataConfig, target: &str) -> anyhow::Result<bool> {
    let Some(path) = &data.schema else {
        return Ok(false);
    };
    Ok(crate::data::schema::Schema::load(path)?
        .column(target)
        .is_some())
}

/// `summary.json`: customers and `(stage, seconds)` in order, for the report.
fn write_summary(run: &RunDir, customers: usize, stages: &[(String, f64)]) -> anyhow::Result<()> {
    let summary = crate::pipeline::RunSummary {
        customers,
        stages: stages
            .iter()
            .map(|(name, seconds)| crate::pipeline::StageTime {
                name: name.clone(),
                seconds: *seconds,
            })
            .collect(),
    };
    checkpoint::write_atomic(
        &run.root.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(())
}
