//! The offer-ranking job (`teleseg train ncf` and the pipeline's offers stage): interactions
//! read and split leave-last-out, GMF / MLP / NeuMF / MF trained with the one training loop,
//! evaluated against popularity under both ranking protocols, and recommendations written.
//!
//! A run folder holds `config.toml` (with the data paths resolved), `model.safetensors` (kind
//! `ncf`, best validation loss), `metrics.jsonl`, `last/` and `evaluation.json` (the model and
//! the popularity baseline under both ranking protocols). With `model.pretrain`, the GMF and MLP
//! pretraining runs are in `pretrain-gmf/` and `pretrain-mlp/`. `--resume` continues each phase
//! exactly (the lazy-Adam moments of the embedding tables are part of `last/`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, Checkpoint, Header, NamedTensor, RunDir};
use crate::config::{self, Checked};
use crate::data::generate::{GenerateOptions, generate};
use crate::data::impressions::load_declined;
use crate::data::interactions::{
    Interactions, LeaveLastOut, PositiveSet, leave_last_out, load_movielens, load_teleseg,
};
use crate::data::reader::ReadOptions;
use crate::eval::ranking::{EvalOptions, Evaluation, Popularity, evaluate};
use crate::job::Globals;
use crate::train::{self, FitOptions, StopReason};

use super::features::{UserFeatureInput, UserFeatureRows};
use super::infer::{NcfModel, rank_customers};
use super::{
    InteractionFormat, KIND, META_ITEMS, META_USERS, NcfArch, NcfDataConfig, NcfJob, NcfKind,
    NcfTask, POPULARITY, ValidMetric, neumf_from_pretrained,
};

/// What the two ranking protocols are, written into `evaluation.json`.
const PROTOCOL_SAMPLED: &str = "leave-last-out by timestamp; the held-out item ranked among itself \
     and `sampled_negatives` items the user never interacted with, sampled uniformly with a fixed \
     seed (all unseen items when fewer exist) — He et al. 2017 (NCF)";
const PROTOCOL_FULL: &str = "leave-last-out by timestamp; the held-out item ranked among every item \
     not in the user's training/validation history — RecBole full ranking";

/// `evaluation.json`: the model and the popularity baseline on the held-out items.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvaluationReport {
    /// The model kind (`neumf`, `mf`, ...).
    pub model: String,
    /// Customer features per user vector (0: ids only; absent in files written before it
    /// existed).
    #[serde(default)]
    pub user_features: usize,
    pub k: usize,
    pub users: usize,
    pub items: usize,
    /// Users with a held-out item (evaluated).
    pub test_users: usize,
    pub protocol_sampled: String,
    pub protocol_full: String,
    /// Metrics of the model.
    pub model_metrics: Evaluation,
    /// Metrics of the popularity baseline (training positives per item).
    pub popularity: Evaluation,
}

impl std::fmt::Display for EvaluationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = self.k;
        writeln!(
            f,
            "{} users, {} items, {} held-out users (leave-last-out), K = {k}; {}",
            self.users,
            self.items,
            self.test_users,
            match self.user_features {
                0 => "ids only".to_string(),
                n => format!("ids + {n} customer features"),
            }
        )?;
        writeln!(
            f,
            "{:<12} {:<28} {:>8} {:>8} {:>8} {:>9}",
            "model",
            "protocol",
            format!("HR@{k}"),
            format!("NDCG@{k}"),
            "MRR",
            "coverage"
        )?;
        for (name, e) in [
            (self.model.as_str(), &self.model_metrics),
            ("popularity", &self.popularity),
        ] {
            // With fewer unseen items than negatives, the sampled protocol ranks among all.
            let sampled = format!(
                "sampled 1+{} ({:.1} cand.)",
                e.sampled_negatives, e.sampled_candidates_mean
            );
            for (proto, m, cov) in [
                (sampled.as_str(), &e.sampled, String::new()),
                ("full ranking", &e.full, format!("{:.3}", e.coverage)),
            ] {
                writeln!(
                    f,
                    "{name:<12} {proto:<28} {:>8.4} {:>8.4} {:>8.4} {cov:>9}",
                    m.hr, m.ndcg, m.mrr
                )?;
            }
        }
        Ok(())
    }
}

/// What `train ncf` produced.
#[derive(Debug, Clone)]
pub struct NcfReport {
    pub run: PathBuf,
    pub kind: NcfKind,
    pub users: usize,
    pub items: usize,
    pub train_positives: usize,
    pub best_valid_loss: f64,
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub stop: StopReason,
    /// Mean training throughput (positive + negative samples per second).
    pub samples_per_s: f64,
    /// Wall time of training (pretraining included), seconds.
    pub train_wall_s: f64,
    pub evaluation: EvaluationReport,
}

/// Reads the configured interactions.
pub fn load_interactions(data: &NcfDataConfig) -> anyhow::Result<Interactions> {
    let path = data
        .interactions
        .as_deref()
        .context("no interactions file configured (data.interactions)")?;
    Ok(match data.format {
        InteractionFormat::Teleseg => load_teleseg(path, data.offers.as_deref())?,
        InteractionFormat::Movielens => load_movielens(path, data.rating_threshold)?,
    })
}

/// Generates the synthetic data set into `run/data` when no interactions file is configured;
/// returns the data config with absolute paths.
pub fn ensure_ncf_data(
    data: &NcfDataConfig,
    seed: u64,
    run: &RunDir,
) -> anyhow::Result<NcfDataConfig> {
    let mut data = data.clone();
    if data.interactions.is_none() {
        let dir = run.root.join("data");
        let mut opts = GenerateOptions::new(data.generate_customers, seed, dir.clone());
        opts.offers = data.generate_offers;
        opts.force = true;
        generate(&opts).context("generating the synthetic data set")?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("resolving {}", dir.display()))?;
        data.interactions = Some(dir.join("interactions.csv"));
        data.offers = Some(dir.join("offers.csv"));
        data.customers = Some(dir.join("customers.csv"));
        data.schema = Some(dir.join("schema.toml"));
    }
    Ok(data)
}

/// Every positive (training, validation and test) and the history (all but test).
fn sets(ix: &Interactions, split: &LeaveLastOut) -> (PositiveSet, PositiveSet) {
    let (u, i) = (ix.users.len(), ix.items.len());
    let all = PositiveSet::new(
        u,
        i,
        ix.events
            .iter()
            .map(|e| (e.user, e.item))
            .collect::<Vec<_>>()
            .iter(),
    );
    let history = PositiveSet::new(u, i, split.train.iter().chain(&split.valid));
    (all, history)
}

/// Evaluates `model` and the popularity baseline on `split.test`.
pub fn evaluate_split(
    model: &NcfModel,
    ix: &Interactions,
    split: &LeaveLastOut,
    job: &NcfJob,
    k: usize,
) -> EvaluationReport {
    let (_, history) = sets(ix, split);
    let opts = EvalOptions {
        k,
        sampled_negatives: job.sampling.eval_negatives,
        seed: job.seed.0 ^ 0xE7A1,
        batch_users: 1024,
    };
    let pop = Popularity::fit(&split.train, ix.items.len());
    EvaluationReport {
        model: serde_json::to_value(job.model.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        user_features: model.arch.user_features,
        k,
        users: ix.users.len(),
        items: ix.items.len(),
        test_users: split.test.len(),
        protocol_sampled: PROTOCOL_SAMPLED.to_string(),
        protocol_full: PROTOCOL_FULL.to_string(),
        model_metrics: evaluate(model, &split.test, &history, &opts),
        popularity: evaluate(&pop, &split.test, &history, &opts),
    }
}

/// Trains the configured NCF model into `run` and evaluates it (see the module docs).
pub fn run_ncf_job(
    job: &crate::config::Checked<NcfJob>,
    run: &RunDir,
    globals: &Globals,
    resume: bool,
) -> anyhow::Result<NcfReport> {
    let started = Instant::now();
    let seed = job.seed.0;
    let mut job = job.clone().into_inner();
    job.data = ensure_ncf_data(&job.data, seed, run)?;
    let resolved = config::to_toml(&job);
    tracing::info!(run = %run.root.display(), "resolved config:\n{resolved}");
    crate::job::save_config(run, &resolved, resume)?;

    let ix = load_interactions(&job.data)?;
    let split = leave_last_out(&ix);
    let (all, _) = sets(&ix, &split);
    tracing::info!(
        users = ix.users.len(),
        items = ix.items.len(),
        positives = ix.events.len(),
        train = split.train.len(),
        valid = split.valid.len(),
        test = split.test.len(),
        "interactions ready"
    );
    if split.valid.is_empty() {
        tracing::warn!(
            "no user has 3 positives: no validation items; the training loss selects the best epoch"
        );
    }

    // Customer features: fitted on the whole customer table, one row per user (by id).
    let mut features = match (&job.data.customers, &job.data.schema) {
        (Some(customers), Some(schema)) if job.model.user_features => {
            let opts = ReadOptions {
                on_bad_row: job.data.on_bad_row,
            };
            let (input, table) = UserFeatureInput::fit(customers, schema, &opts)?;
            let rows = input.rows_for(&table, &ix.users)?;
            if rows.missing == ix.users.len() {
                bail!(crate::error::UsageError(format!(
                    "{}: none of the {} users of {} has a row (by customer id); check \
                     data.customers, or set model.user_features = false",
                    customers.display(),
                    ix.users.len(),
                    job.data
                        .interactions
                        .as_deref()
                        .unwrap_or(Path::new("?"))
                        .display()
                )));
            }
            if rows.missing > 0 {
                tracing::warn!(
                    missing = rows.missing,
                    users = ix.users.len(),
                    customers = %customers.display(),
                    "users without a customer row get all-zero features (numeric at the mean, \
                     binary false, no categorical level)"
                );
            }
            tracing::info!(features = rows.width, "customer features on");
            Some((input, rows))
        }
        _ => {
            if job.model.user_features {
                tracing::info!("no customer table (data.customers): pure collaborative filtering");
            }
            None
        }
    };

    // Optional GMF + MLP pretraining (He et al. 2017).
    let pretrained = if job.model.kind == NcfKind::Neumf && job.model.pretrain {
        let mut parts = Vec::new();
        for (kind, name) in [
            (NcfKind::Gmf, "pretrain-gmf"),
            (NcfKind::Mlp, "pretrain-mlp"),
        ] {
            let mut sub = job.clone();
            sub.model.kind = kind;
            sub.model.pretrain = false;
            let sub_run = RunDir {
                root: run.root.join(name),
            };
            std::fs::create_dir_all(&sub_run.root)
                .with_context(|| format!("creating {}", sub_run.root.display()))?;
            // Resuming: a pretraining with a resume state continues (a finished one trains no
            // further), one without starts afresh.
            run_ncf_job(&Checked::named(sub, name)?, &sub_run, globals, resume)
                .with_context(|| format!("pretraining {name}"))?;
            parts.push(Checkpoint::read(&sub_run.model(), Some(KIND))?);
        }
        Some(neumf_from_pretrained(&parts[0], &parts[1], 0.5)?)
    } else {
        None
    };

    let arch = NcfArch {
        kind: job.model.kind,
        n_users: ix.users.len(),
        n_items: ix.items.len(),
        factors: job.model.factors,
        mlp_layers: job.model.mlp_layers.clone(),
        init_std: job.model.init_std,
        item_bias: job.model.item_bias && job.model.kind != NcfKind::Mf,
        dropout: job.model.dropout,
        user_features: features.as_ref().map_or(0, |f| f.1.width),
    };
    let device = globals.backend.device.clone();
    let ad = device.clone().autodiff();
    ad.seed(seed);
    device.seed(seed);
    let mut model = arch.init(&ad);
    let pop = Popularity::fit(&split.train, ix.items.len());
    let mut header = Header::new(KIND, &job, &arch, &globals.backend.kind.to_string())
        .with_json(META_USERS, &ix.users)
        .with_json(META_ITEMS, &ix.items)
        .with_part((
            vec![NamedTensor::new(
                POPULARITY,
                vec![ix.items.len()],
                pop.counts.clone(),
            )],
            [],
        ));
    if let Some((input, _)) = &features {
        header = header.with_part(input.bundle());
    }
    if let Some(t) = pretrained {
        let bytes = checkpoint::to_safetensors_bytes(&t, &header.meta);
        let ck = Checkpoint::from_bytes(&run.root.join("pretrained"), bytes, Some(KIND))?;
        model = ck
            .load_module(model)
            .context("starting NeuMF from GMF + MLP")?;
    }
    let mut task = NcfTask::new(
        &split,
        &all,
        job.sampling.negatives,
        seed,
        job.model.l2,
        &device,
    )
    .with_embedding_updates(job.model.embedding_updates);
    if let Some((_, rows)) = &mut features {
        // Moved to the device: one copy of the (users × features) matrix from here on.
        task = task.with_user_features(std::mem::take(&mut rows.data), rows.width);
    }
    tracing::info!(
        configured = ?job.model.embedding_updates,
        used = ?task.embedding_updates(),
        "embedding updates"
    );
    if job.sampling.impression_negatives > 0.0 {
        let path = job
            .data
            .interactions
            .as_deref()
            .expect("data resolved above");
        let declined = load_declined(path, &ix, task.known())?;
        tracing::info!(
            pairs = declined.pairs(),
            users = declined.items.iter().filter(|v| !v.is_empty()).count(),
            share = job.sampling.impression_negatives,
            "declined impressions as negatives"
        );
        task = task.with_declined(declined.items, job.sampling.impression_negatives);
    }
    if job.sampling.valid_metric != ValidMetric::Bce && !split.valid.is_empty() {
        task = task.with_valid_rank(&split.valid, job.sampling.k, job.sampling.valid_metric);
    }
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
        .context("resuming from the last checkpoint")?;
    let outcome = train::fit(&mut task, model, &opts, resumed)?;
    let train_wall_s = started.elapsed().as_secs_f64();
    let samples_per_s = outcome.mean_samples_per_s();

    let mut best = NcfModel::load_without_features(&run.model(), &device)?;
    if let Some(x) = task.user_features() {
        best = best.with_known_features_tensor(x);
    }
    let evaluation = evaluate_split(&best, &ix, &split, &job, job.sampling.k);
    checkpoint::write_atomic(
        &run.root.join("evaluation.json"),
        serde_json::to_string_pretty(&evaluation)
            .expect("evaluation serializes")
            .as_bytes(),
    )?;
    Ok(NcfReport {
        run: run.root.clone(),
        kind: job.model.kind,
        users: ix.users.len(),
        items: ix.items.len(),
        train_positives: split.train.len(),
        best_valid_loss: outcome.best_valid_loss,
        best_epoch: outcome.best_epoch,
        epochs_run: outcome.history.len(),
        stop: outcome.stop,
        samples_per_s,
        train_wall_s,
        evaluation,
    })
}

/// Writes `run/recommendations.csv` (`customer_id,rank,offer_id,score,source`): the top `k`
/// offers of every customer in `customers`, excluding the offers the customer already accepted.
/// Customers the model knows are scored by it (`source = model`); the others through their
/// segment in `segments` (`segment`, see [`super::infer::ColdStart`]) or by
/// popularity when they have none. Scores are logits (popularity: training accepts).
/// `customer_x`: the customers' features in `customers` order, for a model with customer
/// features (new customers are then ranked from their own features plus their segment's mean).
pub fn write_recommendations(
    run: &RunDir,
    model: &NcfModel,
    ix: &Interactions,
    customers: &[String],
    customer_x: Option<&UserFeatureRows>,
    segments: Option<&std::collections::HashMap<String, String>>,
    k: usize,
) -> anyhow::Result<PathBuf> {
    use std::fmt::Write as _;
    let empty = std::collections::HashMap::new();
    let segments = segments.unwrap_or(&empty);
    let cold = super::infer::ColdStart::fit(model, segments);
    let mut held: Vec<Vec<u32>> = vec![Vec::new(); ix.users.len()];
    for e in &ix.events {
        held[e.user as usize].push(e.item);
    }
    let x = match (model.has_user_features(), customer_x) {
        (false, _) => None,
        (true, Some(x)) if x.data.len() == customers.len() * x.width => Some(x),
        (true, _) => bail!("a model with customer features needs one feature row per customer"),
    };
    const CHUNK: usize = 4096;
    let mut out = String::from("customer_id,rank,offer_id,score,source\n");
    for (n, chunk) in customers.chunks(CHUNK).enumerate() {
        let segs: Vec<&str> = chunk
            .iter()
            .map(|c| segments.get(c).map_or("", String::as_str))
            .collect();
        let chunk_x = x.map(|x| &x.data[n * CHUNK * x.width..(n * CHUNK + chunk.len()) * x.width]);
        // Known customers never get an offer they already accepted; new ones have none.
        let chunk_held: Vec<Vec<u32>> = chunk
            .iter()
            .map(|c| {
                model
                    .user_row(c)
                    .map_or_else(Vec::new, |r| held[r as usize].clone())
            })
            .collect();
        let ranked = rank_customers(model, &cold, chunk, &segs, chunk_x, &chunk_held, k);
        for (c, (list, source)) in chunk.iter().zip(ranked) {
            for (rank, (item, score)) in list.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{c},{},{},{score:.6},{source}",
                    rank + 1,
                    model.items[*item as usize]
                );
            }
        }
    }
    let path = run.root.join("recommendations.csv");
    checkpoint::write_atomic(&path, out.as_bytes())?;
    Ok(path)
}

impl std::fmt::Display for NcfReport {
    /// The closing lines of `teleseg train ncf`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trained ncf ({:?}): {} users, {} items, {} training positives; best validation loss {:.5} at epoch {} ({} epochs, {:?}, {:.0} samples/s, {:.1}s)\n{}run: {}",
            self.kind,
            self.users,
            self.items,
            self.train_positives,
            self.best_valid_loss,
            self.best_epoch,
            self.epochs_run,
            self.stop,
            self.samples_per_s,
            self.train_wall_s,
            self.evaluation,
            self.run.display()
        )
    }
}
