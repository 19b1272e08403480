//! The `train offer-propensity` job: the offer history split leave-last-out as NCF splits it,
//! trees fitted on accepted offers and declined impressions, the ranking evaluated beside
//! popularity (and an NCF run, when given) on the same held-out offers with the same sampled
//! negatives, and the run folder written.

use std::path::PathBuf;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::features::FeatureSpec;
use super::offers::{
    KIND, OfferPropensity, OfferPropensityJob, OfferTable, PairScorer, customer_rows,
};
use crate::checkpoint::{self, Header, RunDir, keys};
use crate::config;
use crate::data::impressions::load_declined;
use crate::data::interactions::{PositiveSet, leave_last_out};
use crate::data::reader::{ReadOptions, read_csv};
use crate::data::schema::Schema;
use crate::error::UsageError;
use crate::eval::ranking::{EvalOptions, Evaluation, Popularity, evaluate};
use crate::job::Globals;
use crate::models::ncf::{InteractionFormat, ensure_ncf_data, load_interactions};

/// Metadata key of the trees (perpetual's JSON), as in §4e.
pub use super::model::META_GBM;

/// The protocol, written into `evaluation.json`.
const PROTOCOL: &str = "leave-last-out by timestamp (NCF's split): the last accepted offer of \
     each customer with two or more is held out; full ranking among every offer not in the \
     customer's training/validation history, sampled ranking among it and `eval_negatives` \
     unseen offers drawn with NCF's seed";

/// `evaluation.json` of an offer-propensity run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferPropensityReport {
    pub run: PathBuf,
    pub users: usize,
    pub items: usize,
    /// Customers with a held-out offer.
    pub test_users: usize,
    /// (customer, offer) pairs the trees were fitted on, and how many were acceptances.
    pub train_pairs: usize,
    pub train_accepts: usize,
    pub trees: usize,
    pub protocol: String,
    pub k: usize,
    /// The trees' ranking by acceptance probability.
    pub model: Evaluation,
    pub popularity: Evaluation,
    /// The NCF run of `offers.ncf` on the same split.
    pub ncf: Option<Evaluation>,
    /// Mean acceptance probability per offer category over all customers.
    pub categories: Vec<(String, f64)>,
    pub seconds: f64,
}

/// Runs `teleseg train offer-propensity` into `run`.
pub fn run_offer_propensity_job(
    job: &crate::config::Checked<OfferPropensityJob>,
    run: &RunDir,
    globals: &Globals,
) -> anyhow::Result<OfferPropensityReport> {
    let started = std::time::Instant::now();
    let seed = job.seed.0;
    let mut job = job.clone().into_inner();
    job.data = ensure_ncf_data(&job.data, seed, run)?;
    checkpoint::write_atomic(&run.config(), config::to_toml(&job).as_bytes())?;
    let data = &job.data;
    let cfg = &job.offers;
    if data.format != InteractionFormat::Teleseg {
        anyhow::bail!(UsageError(
            "offer propensity needs the offers shown and declined: data.format = \"teleseg\" \
             (interactions with impression and accept events)"
                .into()
        ));
    }
    let (Some(customers), Some(schema_path), Some(offers_path), Some(interactions)) = (
        &data.customers,
        &data.schema,
        &data.offers,
        &data.interactions,
    ) else {
        anyhow::bail!(UsageError(
            "offer propensity needs data.interactions, data.offers, data.customers and \
             data.schema (or none of them, to generate)"
                .into()
        ));
    };
    let ix = load_interactions(data)?;
    let split = leave_last_out(&ix);
    let (n_users, n_items) = (ix.users.len(), ix.items.len());
    let train_set = PositiveSet::new(n_users, n_items, split.train.iter());
    let declined = load_declined(interactions, &ix, &train_set)?;

    let schema = Schema::load(schema_path)?;
    let opts = ReadOptions {
        on_bad_row: data.on_bad_row,
    };
    let (table, _) = read_csv(customers, &schema, &opts)?;
    let all_rows: Vec<usize> = (0..table.n_rows()).collect();
    let spec = FeatureSpec::fit(&table, &all_rows);
    let x_users = customer_rows(&spec, &table, &ix.users)?;
    let offers = OfferTable::read(offers_path, &ix.items, &cfg.category_column)?;

    let mut pairs: Vec<(usize, u32, bool)> = split
        .train
        .iter()
        .map(|&(u, i)| (u as usize, i, true))
        .collect();
    for (u, items) in declined.items.iter().enumerate() {
        pairs.extend(items.iter().map(|&i| (u, i, false)));
    }
    if cfg.unshown_negatives > 0 {
        use rand::RngExt;
        let mut rng = StdRng::seed_from_u64(crate::seed::derive(seed, 0x0FF4));
        let shown: std::collections::HashSet<(usize, u32)> =
            pairs.iter().map(|p| (p.0, p.1)).collect();
        for &(u, _) in &split.train {
            for _ in 0..cfg.unshown_negatives {
                // A few draws: a customer may have seen almost every offer.
                for _ in 0..8 {
                    let i = rng.random_range(0..n_items as u32);
                    if !shown.contains(&(u as usize, i)) && !train_set.contains(u, i) {
                        pairs.push((u as usize, i, false));
                        break;
                    }
                }
            }
        }
    }
    if pairs.len() > cfg.max_train_rows {
        pairs.shuffle(&mut StdRng::seed_from_u64(crate::seed::derive(
            seed, 0x0FF3,
        )));
        pairs.truncate(cfg.max_train_rows);
        pairs.sort_unstable();
    }
    let accepts = pairs.iter().filter(|p| p.2).count();
    if accepts == 0 || accepts == pairs.len() {
        anyhow::bail!(UsageError(format!(
            "{}: the training pairs hold {accepts} acceptances of {}: both accepted offers and \
             declined impressions are needed",
            interactions.display(),
            pairs.len()
        )));
    }
    let model = OfferPropensity::fit(spec, &x_users, n_users, offers, &pairs, cfg.budget, seed)?;
    tracing::info!(
        trees = model.arch.trees,
        pairs = pairs.len(),
        accepts,
        "offer-propensity trees fitted"
    );

    // The same protocol, seed and history as NCF's evaluation (`ncf::job::evaluate_split`).
    let history = PositiveSet::new(n_users, n_items, split.train.iter().chain(&split.valid));
    let eval_opts = EvalOptions {
        k: cfg.k,
        sampled_negatives: cfg.eval_negatives,
        seed: seed ^ 0xE7A1,
        batch_users: 512,
    };
    let scorer = PairScorer {
        model: &model,
        x_customers: &x_users,
        n_customers: n_users,
    };
    let model_eval = evaluate(&scorer, &split.test, &history, &eval_opts);
    let popularity = evaluate(
        &Popularity::fit(&split.train, n_items),
        &split.test,
        &history,
        &eval_opts,
    );
    let ncf = match &cfg.ncf {
        Some(path) => {
            let ncf = crate::models::ncf::infer::NcfModel::load(path, &globals.backend.device)?;
            if ncf.users != ix.users || ncf.items != ix.items {
                anyhow::bail!(UsageError(format!(
                    "offers.ncf = {}: trained on other customers or offers than {}",
                    path.display(),
                    interactions.display()
                )));
            }
            Some(evaluate(&ncf, &split.test, &history, &eval_opts))
        }
        None => None,
    };
    let probs = model.all_offers(&x_users, n_users);
    let categories = match model.by_category(&probs, n_users) {
        Some((names, p)) => names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let sum: f64 = (0..n_users).map(|c| p[c * names.len() + k]).sum();
                (n.clone(), sum / n_users.max(1) as f64)
            })
            .collect(),
        None => Vec::new(),
    };

    let header = Header::new(KIND, &job, &model.arch, &globals.backend.kind.to_string())
        .with_part((Vec::new(), meta(&model, &schema)?));
    checkpoint::write_atomic(&run.model(), &header.file_bytes_without_weights())?;
    let report = OfferPropensityReport {
        run: run.root.clone(),
        users: n_users,
        items: n_items,
        test_users: split.test.len(),
        train_pairs: pairs.len(),
        train_accepts: accepts,
        trees: model.arch.trees,
        protocol: PROTOCOL.to_string(),
        k: cfg.k,
        model: model_eval,
        popularity,
        ncf,
        categories,
        seconds: started.elapsed().as_secs_f64(),
    };
    checkpoint::write_json_atomic(&run.root.join("evaluation.json"), &report)?;
    Ok(report)
}

/// The trees' JSON (keys sorted) and the customer schema.
fn meta(model: &OfferPropensity, schema: &Schema) -> anyhow::Result<Vec<(String, String)>> {
    Ok(vec![
        (
            META_GBM.to_string(),
            super::model::booster_json(&model.booster)?,
        ),
        (keys::SCHEMA.to_string(), serde_json::to_string(schema)?),
    ])
}

impl std::fmt::Display for OfferPropensityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "trained offer propensity: {} trees on {} (customer, offer) pairs ({} accepted); {} \
             customers, {} offers, {} held out (leave-last-out)",
            self.trees,
            self.train_pairs,
            self.train_accepts,
            self.users,
            self.items,
            self.test_users
        )?;
        let k = self.k;
        writeln!(
            f,
            "{:<18} {:>10} {:>10} {:>12} {:>12}",
            "ranking",
            format!("HR@{k}"),
            format!("NDCG@{k}"),
            format!("sampled HR"),
            "coverage"
        )?;
        let mut rows = vec![
            ("offer propensity", &self.model),
            ("popularity", &self.popularity),
        ];
        if let Some(n) = &self.ncf {
            rows.push(("ncf", n));
        }
        for (name, e) in rows {
            writeln!(
                f,
                "{name:<18} {:>10.4} {:>10.4} {:>12.4} {:>12.3}",
                e.full.hr, e.full.ndcg, e.sampled.hr, e.coverage
            )?;
        }
        if !self.categories.is_empty() {
            let cats: Vec<String> = self
                .categories
                .iter()
                .map(|(c, p)| format!("{c} {p:.3}"))
                .collect();
            writeln!(
                f,
                "mean acceptance probability per category: {}",
                cats.join(", ")
            )?;
        }
        write!(f, "run: {}", self.run.display())
    }
}
