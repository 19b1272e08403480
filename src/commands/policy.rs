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
    if !(args.confidence > 0.0 && args.confidence < 1.0) {
        return Err(UsageError(format!(
            "--confidence {} must lie strictly between 0 and 1",
            args.confidence
        ))
        .into());
    }
    if let Some(m) = args.clip
        && !(m > 0.0 && m.is_finite())
    {
        return Err(UsageError(format!("--clip {m} must be a positive number")).into());
    }
    let opts = OpeOptions {
        clip: args.clip,
        bootstrap: args.bootstrap,
        confidence: args.confidence,
        seed: args.seed,
    };
    let LogFormat::Obd = args.format;
    let ev = evaluate::evaluate_obd(&args.log, &args.target_log, &opts)
        .context("off-policy evaluation")?;
    Ok(serde_json::to_string_pretty(&ev)? + "\n")
}
