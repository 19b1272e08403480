//! `teleseg simulate`: bandit policies learning online against the generator's known response.
//!
//! Each round draws one of the generated contacts (a customer and an offer) uniformly; every
//! policy picks an arm for it and sees a response drawn from that contact's true acceptance
//! probability under the arm (`contacts_truth.csv`), then updates its models. All policies see
//! the same contacts and the same uniform draws (common random numbers), so their differences
//! are the policies', not the luck's. Baselines: uniform, the best single arm in hindsight (the
//! strongest policy that ignores the customer), and the oracle (the best arm of every contact).

use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::config::{Algorithm, ModelKind};
use super::contacts::{ContactData, ContactFiles, beside, load_contacts};
use super::factored::{ArmFactors, FactoredModel};
use super::linear::{ArmModels, Policy, RewardModel};
use crate::data::preprocess::Preprocessor;
use crate::data::reader::{ReadOptions, read_csv};
use crate::data::schema::Schema;
use crate::error::UsageError;

/// Options of a simulation.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// A folder `teleseg generate` wrote (customers, schema, offers, contacts and their truth).
    pub data: PathBuf,
    pub rounds: usize,
    pub algorithms: Vec<Algorithm>,
    pub model: ModelKind,
    pub ridge: f64,
    pub alpha: f64,
    pub epsilon: f64,
    pub posterior_scale: f64,
    /// Points of the reward curves.
    pub checkpoints: usize,
    /// Arms to A/B test against each other (none: no A/B test).
    pub ab_variants: Vec<String>,
    pub ab_threshold: f64,
    pub ab_replications: usize,
    pub seed: u64,
}

/// One policy's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRun {
    pub policy: String,
    /// Expected reward (the true acceptance probability of the chosen arm) summed over rounds.
    pub cumulative_reward: f64,
    /// Cumulative oracle reward minus cumulative reward.
    pub regret: f64,
    /// Mean expected reward over the last 10 % of the rounds, and as a share of the oracle's.
    pub final_rate: f64,
    pub final_share_of_oracle: f64,
    /// `(round, mean expected reward so far)` at evenly spaced rounds.
    pub curve: Vec<(usize, f64)>,
    /// `(round, cumulative regret against the oracle)` at the same rounds.
    pub regret_curve: Vec<(usize, f64)>,
}

/// What `teleseg simulate` prints (as JSON), and `simulation.json` of a `train policy` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    pub data: String,
    pub rounds: usize,
    pub arms: Vec<String>,
    pub context_dim: usize,
    pub model: ModelKind,
    pub ridge: f64,
    /// Mean true acceptance probability per round of: uniform, best fixed arm, oracle.
    pub uniform_rate: f64,
    pub best_fixed_arm_rate: f64,
    pub best_fixed_arm: String,
    pub oracle_rate: f64,
    pub policies: Vec<PolicyRun>,
    /// Uniform and the best fixed arm on the same rounds, as runs (their curves and regret).
    #[serde(default)]
    pub baselines: Vec<PolicyRun>,
    /// With `--ab-variants`: Thompson sampling against a fixed split.
    pub ab_test: Option<super::abtest::AbReport>,
}

/// Runs the simulation.
pub fn simulate(opts: &SimulateOptions) -> anyhow::Result<SimulationReport> {
    let dir = &opts.data;
    let customers = dir.join("customers.csv");
    let schema_path = dir.join("schema.toml");
    let contacts = dir.join("contacts.csv");
    let offers = beside(&contacts, "offers.csv");
    for p in [
        &customers,
        &schema_path,
        &contacts,
        &dir.join("contacts_truth.csv"),
        &offers,
    ] {
        if !p.is_file() {
            anyhow::bail!(UsageError(format!(
                "{}: not found; `teleseg simulate --data DIR` needs a folder written by \
                 `teleseg generate` (customers.csv, schema.toml, offers.csv, contacts.csv, \
                 contacts_truth.csv)",
                p.display()
            )));
        }
    }
    let schema = Schema::load(&schema_path)?;
    let (table, _) = read_csv(&customers, &schema, &ReadOptions::default())?;
    let all: Vec<usize> = (0..table.n_rows()).collect();
    let pre = Preprocessor::fit(&schema, &table, &all)?;
    let features = pre.transform(&table)?;
    let data = load_contacts(
        &ContactFiles {
            customers: &customers,
            contacts: &contacts,
            offers: &offers,
        },
        &table.ids,
        &features,
        pre.layout().names.clone(),
    )?;
    if data.truth.is_none() {
        anyhow::bail!(UsageError(format!(
            "{}: no contact_id column",
            contacts.display()
        )));
    }
    simulate_on(&data, &contacts, opts)
}

/// Runs the simulation on contacts already loaded (`data.truth` must be set); `contacts` names
/// the log in the report and in errors.
pub fn simulate_on(
    data: &ContactData,
    contacts: &std::path::Path,
    opts: &SimulateOptions,
) -> anyhow::Result<SimulationReport> {
    let truth = data.truth.as_ref().ok_or_else(|| {
        anyhow::anyhow!("{}: no true acceptance probabilities", contacts.display())
    })?;
    let k = data.log.arms.len();
    let n = data.log.rounds();
    let p = |i: usize, a: usize| truth[i * k + a];
    let uniform_rate = (0..n)
        .map(|i| (0..k).map(|a| p(i, a)).sum::<f64>() / k as f64)
        .sum::<f64>()
        / n as f64;
    let per_arm: Vec<f64> = (0..k)
        .map(|a| (0..n).map(|i| p(i, a)).sum::<f64>() / n as f64)
        .collect();
    let (best_arm, best_fixed_arm_rate) = super::linear::argmax(&per_arm);
    let oracle_rate = (0..n)
        .map(|i| (0..k).map(|a| p(i, a)).fold(0.0, f64::max))
        .sum::<f64>()
        / n as f64;

    // The shared sequence of contacts and uniforms.
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let sequence: Vec<(usize, f64)> = (0..opts.rounds)
        .map(|_| (rng.random_range(0..n), rng.random::<f64>()))
        .collect();
    let every = (opts.rounds / opts.checkpoints.max(1)).max(1);
    let tail_start = opts.rounds - opts.rounds / 10;
    let tail_rounds = (opts.rounds - tail_start).max(1) as f64;
    let tail_oracle: f64 = sequence[tail_start..]
        .iter()
        .map(|&(i, _)| (0..k).map(|a| p(i, a)).fold(0.0, f64::max))
        .sum::<f64>()
        / tail_rounds;
    let oracle_total: f64 = sequence
        .iter()
        .map(|&(i, _)| (0..k).map(|a| p(i, a)).fold(0.0, f64::max))
        .sum();
    let checkpoint = |t: usize| (t + 1).is_multiple_of(every) || t + 1 == opts.rounds;
    // The oracle's cumulative reward at every checkpoint, for the regret curves.
    let mut oracle_cum = Vec::new();
    let mut sum = 0.0;
    for (t, &(i, _)) in sequence.iter().enumerate() {
        sum += (0..k).map(|a| p(i, a)).fold(0.0, f64::max);
        if checkpoint(t) {
            oracle_cum.push(sum);
        }
    }
    // A run from the expected reward of each round.
    let run = |name: String, expected: &mut dyn FnMut(usize, usize) -> f64| {
        let (mut total, mut tail) = (0.0, 0.0);
        let (mut curve, mut regret_curve) = (Vec::new(), Vec::new());
        for (t, &(i, _)) in sequence.iter().enumerate() {
            let e = expected(t, i);
            total += e;
            if t >= tail_start {
                tail += e;
            }
            if checkpoint(t) {
                curve.push((t + 1, total / (t + 1) as f64));
                regret_curve.push((t + 1, oracle_cum[curve.len() - 1] - total));
            }
        }
        PolicyRun {
            policy: name,
            cumulative_reward: total,
            regret: oracle_total - total,
            final_rate: tail / tail_rounds,
            final_share_of_oracle: tail / tail_rounds / tail_oracle,
            curve,
            regret_curve,
        }
    };
    let baselines = vec![
        run("uniform".to_string(), &mut |_, i| {
            (0..k).map(|a| p(i, a)).sum::<f64>() / k as f64
        }),
        run(
            format!("best fixed arm ({})", data.log.arms[best_arm]),
            &mut |_, i| p(i, best_arm),
        ),
    ];
    let dim = data.layout.dim();
    let policies = opts
        .algorithms
        .iter()
        .map(|&algorithm| {
            let mut policy = Policy {
                algorithm,
                alpha: opts.alpha,
                epsilon: opts.epsilon,
                posterior_scale: opts.posterior_scale,
                samples: 1,
                models: match opts.model {
                    ModelKind::Disjoint => {
                        RewardModel::Disjoint(ArmModels::new(k, dim, opts.ridge))
                    }
                    ModelKind::Factored => RewardModel::Factored(FactoredModel::new(
                        dim,
                        ArmFactors::from_names(&data.log.arms),
                        opts.ridge,
                    )),
                },
            };
            let mut choice_rng = StdRng::seed_from_u64(opts.seed ^ 0x5349_4d55);
            run(algorithm.name().to_string(), &mut |t, i| {
                let x = &data.contexts[i];
                let a = policy.choose(x, &mut choice_rng);
                let expected = p(i, a);
                let reward = f64::from(u8::from(sequence[t].1 < expected));
                policy.models.update(a, x, reward);
                expected
            })
        })
        .collect();
    let ab_test = if opts.ab_variants.is_empty() {
        None
    } else {
        let variants = opts
            .ab_variants
            .iter()
            .map(|name| {
                data.log.arms.iter().position(|a| a == name).ok_or_else(|| {
                    UsageError(format!(
                        "--ab-variants: {name:?} is not an arm of {} (arms: {})",
                        contacts.display(),
                        data.log.arms.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<usize>, UsageError>>()?;
        Some(super::abtest::ab_test(
            truth,
            k,
            &data.log.arms,
            &super::abtest::AbOptions {
                variants,
                threshold: opts.ab_threshold,
                max_customers: 1_000_000,
                check_every: 100,
                replications: opts.ab_replications,
                draws: 1000,
                seed: opts.seed,
            },
        ))
    };
    Ok(SimulationReport {
        data: contacts.display().to_string(),
        rounds: opts.rounds,
        arms: data.log.arms.clone(),
        context_dim: dim,
        model: opts.model,
        ridge: opts.ridge,
        uniform_rate,
        best_fixed_arm_rate,
        best_fixed_arm: data.log.arms[best_arm].clone(),
        oracle_rate,
        policies,
        baselines,
        ab_test,
    })
}
