//! `teleseg evaluate policy`: off-policy estimates of a bandit policy's value from a log.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::error::UsageError;
use crate::eval::ope::OpeOptions;
use crate::models::policy::evaluate;

/// Layouts of bandit logs.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// The Open Bandit Dataset's CSV: `item_id, position, click, propensity_score` (other
    /// columns ignored); the action is the item, chosen per slot (`position`).
    Obd,
}

#[derive(Debug, Args)]
pub struct EvalPolicyArgs {
    /// The log the estimate is computed from: its rewards and its logging propensities.
    #[arg(long)]
    pub log: PathBuf,
    /// A log written by the policy to evaluate. Only its choices are used (which item it shows
    /// in which slot); its own mean reward is printed beside the estimates, as the truth they
    /// should reach.
    #[arg(long)]
    pub target_log: PathBuf,
    /// Layout of both logs.
    #[arg(long, value_enum, default_value_t = LogFormat::Obd)]
    pub format: LogFormat,
    /// Clip importance weights at this value (lower variance, some bias); default: no clipping.
    #[arg(long)]
    pub clip: Option<f64>,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 1000, value_parser = super::at_least_one)]
    pub bootstrap: usize,
    /// Coverage of the confidence intervals, in (0, 1).
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Set from the global `--seed`.
    #[arg(skip)]
    pub seed: u64,
}

/// Runs the estimators and returns the evaluation as pretty JSON.
pub fn evaluate_policy(args: &EvalPolicyArgs) -> anyhow::Result<String> {
    let opts = OpeOptions {
        clip: args.clip,
        bootstrap: args.bootstrap,
        confidence: args.confidence,
        seed: args.seed,
    };
    opts.check()
        .map_err(|e| UsageError(format!("--clip / --confidence: {e}")))?;
    let LogFormat::Obd = args.format;
    let ev = evaluate::evaluate_obd(&args.log, &args.target_log, &opts)
        .context("off-policy evaluation")?;
    Ok(serde_json::to_string_pretty(&ev)? + "\n")
}

/// Options of `teleseg simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A folder written by `teleseg generate` (customers.csv, schema.toml, offers.csv,
    /// contacts.csv and contacts_truth.csv).
    #[arg(long)]
    pub data: PathBuf,
    /// Rounds (contacts) each policy plays.
    #[arg(long, default_value_t = 50_000, value_parser = super::at_least_one)]
    pub rounds: usize,
    /// Policies to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values = ["thompson", "linucb", "epsilon-greedy"])]
    pub policies: Vec<PolicyChoice>,
    /// The reward model: `factored` (one regression shared by the arms, with interactions per
    /// channel, day type and day part) or `disjoint` (one regression per arm).
    #[arg(long, value_enum, default_value_t = ModelChoice::Factored)]
    pub model: ModelChoice,
    /// Prior precision of the reward model's ridge regression (the factored model's
    /// interactions). Default: 1000 for the factored model (the value `train policy`'s
    /// cross-validation picks most often on the generator; docs/bandits.md has the runs),
    /// 1 for the disjoint one.
    #[arg(long)]
    pub ridge: Option<f64>,
    /// LinUCB's bonus width.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// ε-greedy's exploration share.
    #[arg(long, default_value_t = 0.1)]
    pub epsilon: f64,
    /// Thompson sampling's posterior scale.
    #[arg(long, default_value_t = 1.0)]
    pub posterior_scale: f64,
    /// Also A/B test these arms (comma-separated names, at least 2): Thompson sampling against
    /// an equal split under the same stopping rule and against the classical fixed-horizon
    /// design, on the number of customers and the acceptances lost.
    #[arg(long, value_delimiter = ',')]
    pub ab_variants: Vec<String>,
    /// The A/B test stops when a variant is the best with this posterior probability.
    #[arg(long, default_value_t = 0.95)]
    pub ab_threshold: f64,
    /// Independent A/B tests per design.
    #[arg(long, default_value_t = 100, value_parser = super::at_least_one)]
    pub ab_replications: usize,
    /// Set from the global `--seed`.
    #[arg(skip)]
    pub seed: u64,
}

/// A reward model of `simulate --model`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ModelChoice {
    Factored,
    Disjoint,
}

/// A policy of `simulate --policies`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PolicyChoice {
    Thompson,
    Linucb,
    EpsilonGreedy,
}

/// Runs `teleseg simulate` and returns its report as pretty JSON.
pub fn simulate(args: &SimulateArgs) -> anyhow::Result<String> {
    use crate::models::policy::{Algorithm, ModelKind};
    let model = match args.model {
        ModelChoice::Factored => ModelKind::Factored,
        ModelChoice::Disjoint => ModelKind::Disjoint,
    };
    let ridge = args.ridge.unwrap_or(match model {
        ModelKind::Factored => 1000.0,
        ModelKind::Disjoint => 1.0,
    });
    use crate::models::policy::simulate::{SimulateOptions, simulate};
    // The same rules as the `[policy]` section of `train policy`.
    crate::config::Check::check(&crate::models::policy::PolicyConfig {
        ridge: Some(ridge),
        alpha: args.alpha,
        epsilon: args.epsilon,
        posterior_scale: args.posterior_scale,
        ..Default::default()
    })
    .map_err(|e| {
        UsageError(format!(
            "{e} (--ridge, --alpha, --epsilon, --posterior-scale)"
        ))
    })?;
    if args.ab_variants.len() == 1 {
        return Err(UsageError("--ab-variants needs at least two arms".into()).into());
    }
    if !(args.ab_threshold > 0.5 && args.ab_threshold < 1.0) {
        return Err(UsageError(format!(
            "--ab-threshold {} must lie in (0.5, 1)",
            args.ab_threshold
        ))
        .into());
    }
    let algorithms = args
        .policies
        .iter()
        .map(|p| match p {
            PolicyChoice::Thompson => Algorithm::Thompson,
            PolicyChoice::Linucb => Algorithm::Linucb,
            PolicyChoice::EpsilonGreedy => Algorithm::EpsilonGreedy,
        })
        .collect();
    let report = simulate(&SimulateOptions {
        data: args.data.clone(),
        rounds: args.rounds,
        algorithms,
        model,
        ridge,
        alpha: args.alpha,
        epsilon: args.epsilon,
        posterior_scale: args.posterior_scale,
        checkpoints: 20,
        ab_variants: args.ab_variants.clone(),
        ab_threshold: args.ab_threshold,
        ab_replications: args.ab_replications,
        seed: args.seed,
    })?;
    Ok(serde_json::to_string_pretty(&report)? + "\n")
}
