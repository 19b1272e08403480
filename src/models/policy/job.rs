//! The `train policy` job: contexts from the customer table and the offer catalogue, per-arm
//! models fitted on the contacts of the training customers, and an off-policy evaluation of the
//! learned policy on the contacts of the held-out (test) customers, beside its true value when
//! the generator's truth file is there.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::KIND;
use super::config::{Algorithm, ModelKind, PolicyJob};
use super::contacts::{
    ContactData, ContactFiles, ContactLog, ContextLayout, beside, load_contacts,
};
use super::factored::{ArmFactors, FactoredModel, FactoredStats, Gram};
use super::linear::{ArmModels, Policy, RewardModel};
use crate::checkpoint::{self, Header, NamedTensor, RunDir};
use crate::config;
use crate::eval::ope::{self, OpeInput, OpeOptions, OpeReport};
use crate::job::{Globals, ensure_data, prepare_data};

/// Folds of the reward model's cross-fitting on the evaluation contacts.
const REWARD_FOLDS: usize = 2;
/// DM's reward model takes this many times less shrinkage than the ridge best for predicting
/// single contacts (see `evaluate`).
const UNDERSMOOTH: f64 = 10.0;

/// True values on the evaluation contacts (from the generator's `contacts_truth.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrueValues {
    /// The learned policy's exact expected acceptance rate on the evaluation contacts.
    pub policy: f64,
    /// Choosing uniformly at random.
    pub uniform: f64,
    /// The single arm best for these contacts on average, chosen in hindsight.
    pub best_fixed_arm: f64,
    pub best_fixed_arm_name: String,
    /// The best arm of every contact.
    pub oracle: f64,
    /// `policy / oracle`.
    pub share_of_oracle: f64,
    /// Whether each estimator's interval covers the policy's true value.
    pub covered: Vec<(String, bool)>,
}

/// `evaluation.json` of a policy run, and what `train policy` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub run: PathBuf,
    pub algorithm: Algorithm,
    /// Absent in runs written before the factored model: those are disjoint.
    #[serde(default = "disjoint")]
    pub model: ModelKind,
    pub arms: Vec<String>,
    pub context_dim: usize,
    /// The reward model's prior precision, and when it was chosen, every candidate's
    /// cross-validated value of the greedy policy (self-normalized IPS on held-out folds).
    pub ridge: f64,
    pub ridge_cv: Vec<(f64, f64)>,
    /// Contacts of the training customers the models were fitted on.
    pub fit_contacts: usize,
    /// Contacts of the test customers the evaluation uses.
    pub eval_contacts: usize,
    /// Mean response of the evaluation contacts: the logging policy's observed value.
    pub logged_value: f64,
    /// Off-policy estimates of the learned policy's value on the evaluation contacts.
    pub estimates: OpeReport,
    /// Present when the contact log has a truth file beside it.
    pub truth: Option<TrueValues>,
    /// How often the learned policy picks each arm on the evaluation contacts (mean probability).
    pub arm_shares: Vec<(String, f64)>,
    pub seconds: f64,
}

/// The model part of a policy checkpoint (`teleseg.model`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyArch {
    pub algorithm: Algorithm,
    /// Absent in checkpoints written before the factored model: those are disjoint.
    #[serde(default = "disjoint")]
    pub model: ModelKind,
    /// The factored model's arm factors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factors: Option<ArmFactors>,
    pub arms: Vec<String>,
    pub layout: ContextLayout,
    pub alpha: f64,
    pub epsilon: f64,
    pub posterior_scale: f64,
    pub samples: usize,
    pub ridge: f64,
    /// The category of every offer in the catalogue the policy was trained with: a customer is
    /// scored for an offer with that offer's category in the context. Empty in checkpoints
    /// written before it (offers then score without a category).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub offer_categories: std::collections::BTreeMap<String, String>,
}

fn disjoint() -> ModelKind {
    ModelKind::Disjoint
}

/// Runs `teleseg train policy` into `run`.
pub fn run_policy_job(
    job: &crate::config::Checked<PolicyJob>,
    run: &RunDir,
    globals: &Globals,
) -> anyhow::Result<PolicyReport> {
    let started = std::time::Instant::now();
    checkpoint::write_atomic(&run.config(), config::to_toml(job).as_bytes())?;
    let seed = job.seed.0;
    let cfg = &job.policy;
    let data_cfg = ensure_data(&job.data, seed, run)?;
    let data = prepare_data(&data_cfg, seed, run, &globals.progress)?;
    let customers_path = data.customers_path.clone();
    let contacts_path = cfg
        .contacts
        .clone()
        .unwrap_or_else(|| beside(&customers_path, "contacts.csv"));
    let offers_path = cfg
        .offers
        .clone()
        .unwrap_or_else(|| beside(&customers_path, "offers.csv"));
    let features = data.preprocessor.transform(&data.table)?;
    let contact_data = load_contacts(
        &ContactFiles {
            customers: &customers_path,
            contacts: &contacts_path,
            offers: &offers_path,
        },
        &data.table.ids,
        &features,
        data.preprocessor.layout().names.clone(),
    )?;
    let ContactData {
        log,
        contexts,
        rows,
        layout,
        truth,
        categories,
    } = &contact_data;
    let mut held_out = vec![false; data.table.n_rows()];
    for &r in &data.test_rows {
        held_out[r] = true;
    }
    let (eval, fit): (Vec<usize>, Vec<usize>) = (0..log.rounds()).partition(|&i| held_out[rows[i]]);
    if fit.is_empty() || eval.is_empty() {
        anyhow::bail!(crate::error::UsageError(format!(
            "{}: {} contacts of training customers and {} of test customers; both are needed \
             (data.test_fraction = {})",
            contacts_path.display(),
            fit.len(),
            eval.len(),
            job.data.test_fraction
        )));
    }

    let arms = log.arms.len();
    let samples = Samples {
        log,
        contexts,
        dim: layout.dim(),
    };
    let (ridge, ridge_cv) = match cfg.ridge {
        Some(r) => (r, Vec::new()),
        None => samples.choose_ridge(cfg.model, Criterion::GreedyValue, &fit, seed),
    };
    let models = samples.fit(cfg.model, ridge, &fit);
    let simulation = match (truth, cfg.simulation_rounds) {
        (Some(_), rounds) if rounds > 0 => Some(simulate_learning(
            job,
            &contact_data,
            &contacts_path,
            ridge,
        )?),
        _ => None,
    };
    let policy = Policy {
        algorithm: cfg.algorithm,
        alpha: cfg.alpha,
        epsilon: cfg.epsilon,
        posterior_scale: cfg.posterior_scale,
        samples: cfg.samples,
        models,
    };
    tracing::info!(
        arms,
        dim = layout.dim(),
        contacts = fit.len(),
        "arm models fitted"
    );

    let (estimates, true_values, shares) =
        evaluate(&policy, &samples, &eval, truth.as_deref(), cfg, seed);
    let arch = PolicyArch {
        algorithm: cfg.algorithm,
        model: cfg.model,
        factors: match &policy.models {
            RewardModel::Factored(m) => Some(m.factors.clone()),
            RewardModel::Disjoint(_) => None,
        },
        arms: log.arms.clone(),
        layout: layout.clone(),
        alpha: cfg.alpha,
        epsilon: cfg.epsilon,
        posterior_scale: cfg.posterior_scale,
        samples: cfg.samples,
        ridge,
        offer_categories: categories.clone().into_iter().collect(),
    };
    let header = Header::new(KIND, job, &arch, &globals.backend.kind.to_string())
        .with_part(data.preprocessor.bundle(&data.schema))
        .with_part((
            policy_tensors(&policy.models),
            Vec::<(String, String)>::new(),
        ));
    checkpoint::write_atomic(&run.model(), &header.file_bytes_without_weights())?;
    let logged_value = eval.iter().map(|&i| log.reward[i]).sum::<f64>() / eval.len() as f64;
    let report = PolicyReport {
        run: run.root.clone(),
        algorithm: cfg.algorithm,
        model: cfg.model,
        arms: log.arms.clone(),
        context_dim: layout.dim(),
        ridge,
        ridge_cv,
        fit_contacts: fit.len(),
        eval_contacts: eval.len(),
        logged_value,
        estimates,
        truth: true_values,
        arm_shares: log.arms.iter().cloned().zip(shares).collect(),
        seconds: started.elapsed().as_secs_f64(),
    };
    checkpoint::write_atomic(
        &run.root.join("evaluation.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )
    .context("writing evaluation.json")?;
    if let Some(sim) = simulation {
        checkpoint::write_atomic(
            &run.root.join(SIMULATION_FILE),
            serde_json::to_string_pretty(&sim)?.as_bytes(),
        )
        .context("writing simulation.json")?;
    }
    Ok(report)
}

/// The online-learning curves a `train policy` run writes beside its evaluation.
pub const SIMULATION_FILE: &str = "simulation.json";

/// Thompson sampling, LinUCB and the configured algorithm learning online from scratch
/// against the generator's known response ([`super::simulate`]), with the job's reward model,
/// its ridge (given or chosen) and exploration settings.
fn simulate_learning(
    job: &PolicyJob,
    data: &ContactData,
    contacts: &Path,
    ridge: f64,
) -> anyhow::Result<super::simulate::SimulationReport> {
    let cfg = &job.policy;
    let mut algorithms = vec![Algorithm::Thompson, Algorithm::Linucb];
    if !algorithms.contains(&cfg.algorithm) {
        algorithms.push(cfg.algorithm);
    }
    let opts = super::simulate::SimulateOptions {
        data: contacts.parent().map(Path::to_path_buf).unwrap_or_default(),
        rounds: cfg.simulation_rounds,
        algorithms,
        model: cfg.model,
        ridge,
        alpha: cfg.alpha,
        epsilon: cfg.epsilon,
        posterior_scale: cfg.posterior_scale,
        checkpoints: 50,
        ab_variants: Vec::new(),
        ab_threshold: 0.95,
        ab_replications: 0,
        seed: job.seed.0,
    };
    super::simulate::simulate_on(data, contacts, &opts)
}

/// Folds of the ridge's cross-validation.
const RIDGE_FOLDS: usize = 3;

/// What a ridge is chosen for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Criterion<'a> {
    /// The value of the greedy policy on the held-out fold (self-normalized IPS): for a policy.
    GreedyValue,
    /// The squared error of the logged arm's predicted reward, each contact weighted by the
    /// target policy's importance weight `π(a | x) / p(a | x)` (indexed like the contacts):
    /// for the reward model of an off-policy estimate, which must be accurate where the
    /// target policy acts, not where the logging policy did.
    WeightedSquaredError(&'a [f64]),
}

impl Criterion<'_> {
    /// The criterion's name, for logs (the weights are one per contact).
    fn name(&self) -> &'static str {
        match self {
            Criterion::GreedyValue => "greedy policy value",
            Criterion::WeightedSquaredError(_) => "importance-weighted squared error",
        }
    }
}

/// A contact log with its contexts: what the reward models are fitted on.
struct Samples<'a> {
    log: &'a ContactLog,
    contexts: &'a [Vec<f64>],
    dim: usize,
}

impl Samples<'_> {
    /// The reward model of `kind` fitted on the contacts `rows`.
    fn fit(&self, kind: ModelKind, ridge: f64, rows: &[usize]) -> RewardModel {
        let (log, k) = (self.log, self.log.arms.len());
        match kind {
            ModelKind::Disjoint => {
                let mut m = ArmModels::new(k, self.dim, ridge);
                for &i in rows {
                    m.update(log.arm[i], &self.contexts[i], log.reward[i]);
                }
                RewardModel::Disjoint(m)
            }
            ModelKind::Factored => RewardModel::Factored(self.stats(rows.iter().copied()).fit(
                self.dim,
                ArmFactors::from_names(&log.arms),
                ridge,
            )),
        }
    }

    fn stats(&self, rows: impl Iterator<Item = usize>) -> FactoredStats {
        let mut stats = FactoredStats::new(self.log.arms.len(), self.dim);
        for i in rows {
            stats.add(self.log.arm[i], &self.contexts[i], self.log.reward[i]);
        }
        stats
    }

    /// The ridge of `kind`'s grid that is best by `criterion`, cross-validated over the `rows`
    /// contacts; returns it and every candidate's score.
    fn choose_ridge(
        &self,
        kind: ModelKind,
        criterion: Criterion,
        rows: &[usize],
        seed: u64,
    ) -> (f64, Vec<(f64, f64)>) {
        let log = self.log;
        let fold =
            crate::data::split::random_folds(rows.len(), RIDGE_FOLDS, seed ^ 0x0072_6964_6765);
        let held_out = |f: usize| {
            rows.iter()
                .zip(&fold)
                .filter(move |(_, g)| **g == f)
                .map(|(&i, _)| i)
        };
        let trained_on = |f: usize| -> Vec<usize> {
            rows.iter()
                .zip(&fold)
                .filter(|(_, g)| **g != f)
                .map(|(&i, _)| i)
                .collect()
        };
        // The factored model's folds come from sufficient statistics (all minus the fold): one
        // Gram per fold, then one linear solve per candidate and fold, not a pass over the log.
        // The model whose θ each solve fills is allocated once.
        let mut factored = match kind {
            ModelKind::Factored => {
                let template = FactoredModel::new(self.dim, ArmFactors::from_names(&log.arms), 1.0);
                let all = self.stats(rows.iter().copied());
                let grams: Vec<Gram> = (0..RIDGE_FOLDS)
                    .map(|f| all.minus(&self.stats(held_out(f))).gram(&template))
                    .collect();
                Some((RewardModel::Factored(template), grams))
            }
            ModelKind::Disjoint => None,
        };
        let scores: Vec<(f64, f64)> = kind
            .ridge_grid()
            .iter()
            .map(|&ridge| {
                let (mut sse, mut sw, mut num, mut den) = (0.0, 0.0, 0.0, 0.0);
                // `f` names the fold in `held_out` and `trained_on` too.
                #[allow(clippy::needless_range_loop)]
                for f in 0..RIDGE_FOLDS {
                    let refit;
                    let model = match &mut factored {
                        Some((template, grams)) => {
                            if let RewardModel::Factored(m) = template {
                                m.theta = grams[f].solve(ridge);
                            }
                            &*template
                        }
                        None => {
                            refit = self.fit(kind, ridge, &trained_on(f));
                            &refit
                        }
                    };
                    for i in held_out(f) {
                        let x = &self.contexts[i];
                        match criterion {
                            Criterion::WeightedSquaredError(w) => {
                                sse += w[i] * (log.reward[i] - model.mean(log.arm[i], x)).powi(2);
                                sw += w[i];
                            }
                            Criterion::GreedyValue => {
                                if super::linear::argmax(&model.means(x)).0 == log.arm[i] {
                                    num += log.reward[i] / log.propensity[i];
                                    den += 1.0 / log.propensity[i];
                                }
                            }
                        }
                    }
                }
                let score = match criterion {
                    Criterion::WeightedSquaredError(_) => sse / sw,
                    Criterion::GreedyValue => num / den,
                };
                (ridge, score)
            })
            .collect();
        let better = |a: f64, b: f64| match criterion {
            Criterion::WeightedSquaredError(_) => a < b,
            Criterion::GreedyValue => a > b,
        };
        let best = scores
            .iter()
            .copied()
            .filter(|(_, v)| v.is_finite())
            .reduce(|b, e| if better(e.1, b.1) { e } else { b })
            // No candidate's greedy policy ever matched the log: the grid's middle.
            .unwrap_or_else(|| (kind.ridge_grid()[kind.ridge_grid().len() / 2], f64::NAN));
        tracing::info!(
            ridge = best.0,
            score = best.1,
            criterion = criterion.name(),
            model = kind.name(),
            "ridge chosen by cross-validation"
        );
        (best.0, scores)
    }
}

/// The reward model as tensors. Disjoint: `policy.theta [arms, dim]`, `policy.a_inv [arms,
/// dim, dim]`, `policy.noise [arms]`; factored: `policy.theta [D]`, `policy.a_inv [D, D]`,
/// `policy.noise [1]` (f32; the run's own evaluation used the f64 originals).
fn policy_tensors(m: &RewardModel) -> Vec<NamedTensor> {
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    match m {
        RewardModel::Disjoint(m) => {
            let noise: Vec<f64> = (0..m.arms).map(|a| m.noise(a)).collect();
            vec![
                NamedTensor::new("policy.theta", vec![m.arms, m.dim], f(&m.theta)),
                NamedTensor::new("policy.a_inv", vec![m.arms, m.dim, m.dim], f(&m.a_inv)),
                NamedTensor::new("policy.noise", vec![m.arms], f(&noise)),
            ]
        }
        RewardModel::Factored(m) => {
            let d = m.size();
            vec![
                NamedTensor::new("policy.theta", vec![d], f(&m.theta)),
                NamedTensor::new("policy.a_inv", vec![d, d], f(&m.a_inv)),
                NamedTensor::new("policy.noise", vec![1], f(&[m.noise()])),
            ]
        }
    }
}

/// Off-policy estimates of `policy` on the `eval` contacts, the true values when known, and the
/// policy's mean probability of each arm.
fn evaluate(
    policy: &Policy,
    samples: &Samples,
    eval: &[usize],
    truth: Option<&[f64]>,
    cfg: &super::PolicyConfig,
    seed: u64,
) -> (OpeReport, Option<TrueValues>, Vec<f64>) {
    let (log, contexts) = (samples.log, samples.contexts);
    let k = log.arms.len();
    let n = eval.len();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7065_6c69_6379);
    let mut target = Vec::with_capacity(n * k);
    for &i in eval {
        target.extend(policy.probabilities(&contexts[i], &mut rng));
    }
    // The reward models of DM and of the doubly robust estimators, fitted on the evaluation
    // contacts themselves and cross-fitted over two folds. The policy's own models would be
    // the wrong choice: it picks the arms they overrate, so DM would inherit their optimism.
    let folds = crate::data::split::random_folds(n, REWARD_FOLDS, seed ^ 0x7265_7761_7264);
    let in_fold = |f: usize| -> Vec<usize> {
        eval.iter()
            .zip(&folds)
            .filter(|(_, g)| **g == f)
            .map(|(&i, _)| i)
            .collect()
    };
    let cross_fit = |kind: ModelKind, ridge: f64| -> Vec<RewardModel> {
        (0..REWARD_FOLDS)
            .map(|f| {
                let rows: Vec<usize> = (0..REWARD_FOLDS)
                    .filter(|&g| g != f)
                    .flat_map(in_fold)
                    .collect();
                samples.fit(kind, ridge, &rows)
            })
            .collect()
    };
    let predictions = |models: &[RewardModel]| -> Vec<f64> {
        let mut q = Vec::with_capacity(n * k);
        for (j, &i) in eval.iter().enumerate() {
            q.extend(
                models[folds[j]]
                    .means(&contexts[i])
                    .iter()
                    .map(|v| v.clamp(0.0, 1.0)),
            );
        }
        q
    };
    // Ridges by cross-validated squared error on these contacts, each weighted by the target
    // policy's importance weight (the models must be accurate where the target acts).
    let mut weights = vec![0.0; log.rounds()];
    for (j, &i) in eval.iter().enumerate() {
        weights[i] = target[j * k + log.arm[i]] / log.propensity[i];
    }
    let criterion = Criterion::WeightedSquaredError(&weights);
    // The doubly robust estimators need the logged arm's residual explained: per-arm models
    // at their predictive ridge (with the factored model there, DR's error on the generator
    // was above IPS's for LinUCB).
    let (dr_ridge, _) =
        samples.choose_ridge(ModelKind::Disjoint, criterion, eval, seed ^ 0x00de_fa17);
    let q_hat = predictions(&cross_fit(ModelKind::Disjoint, dr_ridge));
    // DM averages its model's predictions over thousands of contacts: their variance averages
    // out (and the delta-method term below puts what remains into DM's interval), their
    // shrinkage bias does not. So DM's model is the policy's kind with UNDERSMOOTH times less
    // shrinkage than predicts single contacts best; at that ridge, shrinkage pulled the arms the
    // target prefers towards the arm means and DM's interval missed the truth in most seeds.
    let dm_ridge = match cfg.model {
        ModelKind::Disjoint => dr_ridge,
        kind => {
            samples
                .choose_ridge(kind, criterion, eval, seed ^ 0x00de_fa17)
                .0
        }
    };
    let dm_models = cross_fit(cfg.model, dm_ridge / UNDERSMOOTH);
    let q_hat_dm = predictions(&dm_models);
    // DM's model variance by the delta method: the folds' models are fitted on disjoint
    // contacts, so it is the sum over folds of the variance of each model's share of
    // Σ_i Σ_a π_ia q̂_a(x_i) / n.
    let mut dm_model_variance = 0.0;
    for (f, model) in dm_models.iter().enumerate() {
        let rows: Vec<(usize, Vec<f64>)> = eval
            .iter()
            .enumerate()
            .filter(|(j, _)| folds[*j] == f)
            .map(|(j, &i)| {
                (
                    i,
                    target[j * k..(j + 1) * k]
                        .iter()
                        .map(|p| p / n as f64)
                        .collect(),
                )
            })
            .collect();
        dm_model_variance += model.weighted_mean_variance(
            rows.iter()
                .map(|(i, w)| (contexts[*i].as_slice(), w.as_slice())),
        );
    }
    let reward: Vec<f64> = eval.iter().map(|&i| log.reward[i]).collect();
    let logged: Vec<usize> = eval.iter().map(|&i| log.arm[i]).collect();
    let pscore: Vec<f64> = eval.iter().map(|&i| log.propensity[i]).collect();
    let input = OpeInput {
        actions: k,
        reward: &reward,
        logged: &logged,
        pscore: &pscore,
        target: &target,
        q_hat: &q_hat,
        q_hat_dm: Some(&q_hat_dm),
        dm_model_variance,
    };
    let opts = OpeOptions {
        clip: cfg.clip,
        bootstrap: cfg.bootstrap,
        confidence: 0.95,
        seed,
    };
    let estimates = ope::evaluate(&input, &opts).expect("contacts were checked when read");
    let mut shares = vec![0.0; k];
    for row in target.chunks_exact(k) {
        for (s, p) in shares.iter_mut().zip(row) {
            *s += p / n as f64;
        }
    }
    let truth = truth.map(|t| {
        let row = |i: usize| &t[i * k..(i + 1) * k];
        let mean = |f: &dyn Fn(usize, usize) -> f64| {
            eval.iter().enumerate().map(|(j, &i)| f(j, i)).sum::<f64>() / n as f64
        };
        let value = mean(&|j, i| {
            row(i)
                .iter()
                .zip(&target[j * k..(j + 1) * k])
                .map(|(p, q)| p * q)
                .sum()
        });
        let per_arm: Vec<f64> = (0..k).map(|a| mean(&|_, i| row(i)[a])).collect();
        let (best_arm, best) = super::linear::argmax(&per_arm);
        let oracle = mean(&|_, i| row(i).iter().copied().fold(0.0, f64::max));
        TrueValues {
            policy: value,
            uniform: per_arm.iter().sum::<f64>() / k as f64,
            best_fixed_arm: best,
            best_fixed_arm_name: log.arms[best_arm].clone(),
            oracle,
            share_of_oracle: value / oracle,
            covered: estimates
                .estimators
                .iter()
                .map(|e| (e.name.clone(), e.ci_low <= value && value <= e.ci_high))
                .collect(),
        }
    });
    (estimates, truth, shares)
}

impl std::fmt::Display for PolicyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "trained a {:?} policy over {} arms ({} context features, ridge {}) on {} contacts",
            self.algorithm,
            self.arms.len(),
            self.context_dim,
            self.ridge,
            self.fit_contacts
        )?;
        writeln!(
            f,
            "off-policy value on {} held-out contacts (logged policy observed {:.4}; largest weight {:.1}, ESS {:.0}):",
            self.eval_contacts,
            self.logged_value,
            self.estimates.weights.max,
            self.estimates.weights.effective_sample_size
        )?;
        for e in &self.estimates.estimators {
            writeln!(
                f,
                "  {:<10} {:.4}  [{:.4}, {:.4}]",
                e.name, e.value, e.ci_low, e.ci_high
            )?;
        }
        if let Some(t) = &self.truth {
            writeln!(
                f,
                "true value {:.4} ({:.1} % of the oracle {:.4}); uniform {:.4}, best fixed arm {:.4} ({})",
                t.policy,
                100.0 * t.share_of_oracle,
                t.oracle,
                t.uniform,
                t.best_fixed_arm,
                t.best_fixed_arm_name
            )?;
        }
        write!(f, "run: {}", self.run.display())
    }
}
