//! The `train policy` job: contexts from the customer table and the offer catalogue, per-arm
//! models fitted on the contacts of the training customers, and an off-policy evaluation of the
//! learned policy on the contacts of the held-out (test) customers, beside its true value when
//! the generator's truth file is there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::KIND;
use super::config::{Algorithm, PolicyJob};
use super::contacts::{self, ContactLog, ContextLayout};
use super::linear::{ArmModels, Policy};
use crate::checkpoint::{self, Header, NamedTensor, RunDir};
use crate::config;
use crate::eval::ope::{self, OpeInput, OpeOptions, OpeReport};
use crate::job::{Globals, ensure_data, prepare_data};

/// Folds of the reward model's cross-fitting on the evaluation contacts.
const REWARD_FOLDS: usize = 2;

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
    pub arms: Vec<String>,
    pub context_dim: usize,
    /// The arms' prior precision, and when it was chosen, the cross-validated mean squared
    /// error of every candidate.
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
    pub arms: Vec<String>,
    pub layout: ContextLayout,
    pub alpha: f64,
    pub epsilon: f64,
    pub posterior_scale: f64,
    pub samples: usize,
    pub ridge: f64,
}

/// Where a file "beside the customers" is.
pub fn beside(customers: &Path, name: &str) -> PathBuf {
    customers
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(name)
}

/// The files a contact log is read with.
pub struct ContactFiles<'a> {
    pub customers: &'a Path,
    pub contacts: &'a Path,
    pub offers: &'a Path,
}

/// A contact log with the context of every contact.
pub struct ContactData {
    pub log: ContactLog,
    pub contexts: Vec<Vec<f64>>,
    /// The customer table row of every contact.
    pub rows: Vec<usize>,
    pub layout: ContextLayout,
    /// `contacts_truth.csv` beside the log, aligned to it, when there is one.
    pub truth: Option<Vec<f64>>,
}

/// Reads the contact log, the offer catalogue and (when beside the log) the truth file, and
/// builds every contact's context from the customer features (`ids` and `features` in table
/// order, `names` the features' names).
pub fn load_contacts(
    files: &ContactFiles,
    ids: &[String],
    features: &crate::data::preprocess::Features,
    names: Vec<String>,
) -> anyhow::Result<ContactData> {
    let log = contacts::read_contacts(files.contacts, None)?;
    let categories = contacts::read_offer_categories(files.offers)?;
    let truth_path = beside(files.contacts, "contacts_truth.csv");
    let truth = if truth_path.is_file() {
        contacts::read_truth(&truth_path, &log)?
    } else {
        None
    };
    let row_of: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut sorted_categories: Vec<String> = categories.values().cloned().collect();
    sorted_categories.sort();
    sorted_categories.dedup();
    let layout = ContextLayout {
        customer_features: names,
        categories: sorted_categories,
    };
    let mut contexts = Vec::with_capacity(log.rounds());
    let mut rows = Vec::with_capacity(log.rounds());
    for i in 0..log.rounds() {
        let Some(&row) = row_of.get(log.customer[i].as_str()) else {
            anyhow::bail!(crate::error::UsageError(format!(
                "{}: contact {} names customer {:?}, who is not in {}",
                files.contacts.display(),
                i + 1,
                log.customer[i],
                files.customers.display()
            )));
        };
        let Some(category) = categories.get(&log.offer[i]) else {
            anyhow::bail!(crate::error::UsageError(format!(
                "{}: contact {} names offer {:?}, which is not in {}",
                files.contacts.display(),
                i + 1,
                log.offer[i],
                files.offers.display()
            )));
        };
        contexts.push(layout.context(features.row(row), Some(category)));
        rows.push(row);
    }
    Ok(ContactData {
        log,
        contexts,
        rows,
        layout,
        truth,
    })
}

/// Runs `teleseg train policy` into `run`.
pub fn run_policy_job(
    job: &PolicyJob,
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
    } = contact_data;
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
    let (ridge, ridge_cv) = match cfg.ridge {
        Some(r) => (r, Vec::new()),
        None => choose_ridge(&log, &contexts, &fit, layout.dim(), seed),
    };
    let mut models = ArmModels::new(arms, layout.dim(), ridge);
    for &i in &fit {
        models.update(log.arm[i], &contexts[i], log.reward[i]);
    }
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
        evaluate(&policy, &log, &contexts, &eval, truth.as_deref(), cfg, seed);
    let arch = PolicyArch {
        algorithm: cfg.algorithm,
        arms: log.arms.clone(),
        layout: layout.clone(),
        alpha: cfg.alpha,
        epsilon: cfg.epsilon,
        posterior_scale: cfg.posterior_scale,
        samples: cfg.samples,
        ridge,
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
    Ok(report)
}

/// Folds of the ridge's cross-validation.
const RIDGE_FOLDS: usize = 3;

/// The ridge of [`super::config::RIDGE_GRID`] with the smallest cross-validated squared error of
/// the logged arm's reward prediction over the `fit` contacts; returns it and every candidate's
/// error.
fn choose_ridge(
    log: &ContactLog,
    contexts: &[Vec<f64>],
    fit: &[usize],
    dim: usize,
    seed: u64,
) -> (f64, Vec<(f64, f64)>) {
    let fold = crate::data::split::random_folds(fit.len(), RIDGE_FOLDS, seed ^ 0x0072_6964_6765);
    let errors: Vec<(f64, f64)> = super::config::RIDGE_GRID
        .iter()
        .map(|&ridge| {
            let mut sse = 0.0;
            for f in 0..RIDGE_FOLDS {
                let mut m = ArmModels::new(log.arms.len(), dim, ridge);
                for (j, &i) in fit.iter().enumerate() {
                    if fold[j] != f {
                        m.update(log.arm[i], &contexts[i], log.reward[i]);
                    }
                }
                for (j, &i) in fit.iter().enumerate() {
                    if fold[j] == f {
                        sse += (log.reward[i] - m.mean(log.arm[i], &contexts[i])).powi(2);
                    }
                }
            }
            (ridge, sse / fit.len() as f64)
        })
        .collect();
    let best =
        errors.iter().copied().fold(
            (f64::NAN, f64::INFINITY),
            |b, e| if e.1 < b.1 { e } else { b },
        );
    tracing::info!(
        ridge = best.0,
        mse = best.1,
        "policy.ridge chosen by cross-validation"
    );
    (best.0, errors)
}

/// The arm models as tensors: `policy.theta [arms, dim]`, `policy.a_inv [arms, dim, dim]`,
/// `policy.noise [arms]` (f32; the run's own evaluation used the f64 originals).
fn policy_tensors(m: &ArmModels) -> Vec<NamedTensor> {
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let noise: Vec<f64> = (0..m.arms).map(|a| m.noise(a)).collect();
    vec![
        NamedTensor::new("policy.theta", vec![m.arms, m.dim], f(&m.theta)),
        NamedTensor::new("policy.a_inv", vec![m.arms, m.dim, m.dim], f(&m.a_inv)),
        NamedTensor::new("policy.noise", vec![m.arms], f(&noise)),
    ]
}

/// Off-policy estimates of `policy` on the `eval` contacts, the true values when known, and the
/// policy's mean probability of each arm.
fn evaluate(
    policy: &Policy,
    log: &ContactLog,
    contexts: &[Vec<f64>],
    eval: &[usize],
    truth: Option<&[f64]>,
    cfg: &super::PolicyConfig,
    seed: u64,
) -> (OpeReport, Option<TrueValues>, Vec<f64>) {
    let k = log.arms.len();
    let n = eval.len();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7065_6c69_6379);
    let mut target = Vec::with_capacity(n * k);
    for &i in eval {
        target.extend(policy.probabilities(&contexts[i], &mut rng));
    }
    // The reward model of DM and DR: per-arm ridge models fitted on the evaluation contacts
    // themselves, cross-fitted over two folds. The policy's own models would be the wrong
    // choice: it picks the arms they overrate, so DM would inherit their optimism.
    let d = policy.models.dim;
    let folds = crate::data::split::random_folds(n, REWARD_FOLDS, seed ^ 0x7265_7761_7264);
    // Its shrinkage is chosen for prediction on these contacts (the policy's own ridge suits
    // the training contacts' numbers, and too much shrinkage drags DM towards the arm means).
    let (reward_ridge, _) = choose_ridge(log, contexts, eval, d, seed ^ 0x00de_fa17);
    let reward_models: Vec<ArmModels> = (0..REWARD_FOLDS)
        .map(|f| {
            let mut m = ArmModels::new(k, d, reward_ridge);
            for (j, &i) in eval.iter().enumerate() {
                if folds[j] != f {
                    m.update(log.arm[i], &contexts[i], log.reward[i]);
                }
            }
            m
        })
        .collect();
    let mut q_hat = Vec::with_capacity(n * k);
    for (j, &i) in eval.iter().enumerate() {
        let m = &reward_models[folds[j]];
        q_hat.extend((0..k).map(|a| m.mean(a, &contexts[i]).clamp(0.0, 1.0)));
    }
    // DM's model variance by the delta method: the folds' models are fitted on disjoint
    // contacts, so Σ_f Σ_a σ_fa² m_faᵀ A_fa⁻¹ m_fa with m_fa = Σ_{i in f} π_ia x_i / n.
    let mut dm_model_variance = 0.0;
    for (f, model) in reward_models.iter().enumerate() {
        for a in 0..k {
            let mut m = vec![0.0; d];
            for (j, &i) in eval.iter().enumerate().filter(|(j, _)| folds[*j] == f) {
                let p = target[j * k + a];
                for (mv, xv) in m.iter_mut().zip(&contexts[i]) {
                    *mv += p * xv / n as f64;
                }
            }
            dm_model_variance += model.noise(a) * model.spread(a, &m);
        }
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
