//! `teleseg train policy`: the settings of a contextual bandit over contact arms.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Check, ConfigError, DataConfig, OutputConfig, Seed, at_least};

/// How the policy turns its per-arm linear models into a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Thompson sampling: draw every arm's weights from its Gaussian posterior and take the
    /// best; its probability of each arm is estimated from `samples` draws.
    Thompson,
    /// LinUCB: the arm with the largest mean plus `alpha` standard deviations (deterministic).
    Linucb,
    /// The arm with the largest mean, and a uniformly random one with probability `epsilon`.
    EpsilonGreedy,
}

/// The reward model under the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// One regression shared by the arms, with interactions per arm factor (channel, day type,
    /// day part; see [`super::factored`]). The default.
    #[default]
    Factored,
    /// One independent regression per arm.
    Disjoint,
}

impl ModelKind {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Factored => "factored",
            ModelKind::Disjoint => "disjoint",
        }
    }

    /// The ridge values `policy.ridge` is chosen from when not set. The factored model's ridge
    /// weighs its interaction blocks, which share each factor's contacts; it needs more
    /// shrinkage than a disjoint arm's.
    pub fn ridge_grid(self) -> &'static [f64] {
        match self {
            ModelKind::Factored => &[10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0],
            ModelKind::Disjoint => &[0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0],
        }
    }
}

/// The `[policy]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// `thompson` (default), `linucb` or `epsilon_greedy`.
    pub algorithm: Algorithm,
    /// `factored` (default: one regression shared by the arms, with interactions per channel,
    /// day type and day part, parsed from arm names `channel@daytype_daypart`) or `disjoint`
    /// (one regression per arm).
    pub model: ModelKind,
    /// The contact log (`customer_id, offer_id, arm, propensity, accepted`). Default:
    /// `contacts.csv` beside `data.customers` (what `teleseg generate` writes).
    pub contacts: Option<PathBuf>,
    /// The offer catalogue (`offer_id, category`): the offer's category is part of the context.
    /// Default: `offers.csv` beside `data.customers`.
    pub offers: Option<PathBuf>,
    /// Prior precision of the reward model's ridge regression (of the interaction blocks for
    /// the factored model). Default: chosen from [`ModelKind::ridge_grid`] by the
    /// cross-validated value of the greedy policy it gives (self-normalized IPS on each
    /// held-out fold of the training contacts, 3 folds). The value of the decisions, not the
    /// squared error of the predictions, is the criterion: squared error prefers less
    /// shrinkage, and the noise it lets into the arms' differences is what an argmax over arms
    /// picks up.
    pub ridge: Option<f64>,
    /// LinUCB's bonus width. Default 1.0.
    pub alpha: f64,
    /// ε-greedy's exploration share. Default 0.1.
    pub epsilon: f64,
    /// Thompson sampling's posterior scale. Default 1.0.
    pub posterior_scale: f64,
    /// Thompson sampling's action probabilities: 0 (the default) computes them exactly by
    /// quadrature; N ≥ 10 counts N posterior draws per context instead (the method before the
    /// quadrature, which checkpoints written then still use).
    pub samples: usize,
    /// Bootstrap resamples of the off-policy intervals. Default 1000.
    pub bootstrap: usize,
    /// Clip importance weights at this value (default: none, unbiased).
    pub clip: Option<f64>,
    /// With the generator's `contacts_truth.csv` beside the log: Thompson sampling and LinUCB
    /// (and the configured algorithm) learn online from scratch for this many rounds against
    /// the known response, beside uniform, the best fixed arm and the oracle
    /// (`simulation.json`, the report's regret curves). 0: no simulation. Default 2000, the
    /// early part of the curve; `teleseg simulate --rounds` runs longer ones.
    pub simulation_rounds: usize,
}

impl Algorithm {
    /// The config spelling (`thompson`, `linucb`, `epsilon_greedy`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Thompson => "thompson",
            Algorithm::Linucb => "linucb",
            Algorithm::EpsilonGreedy => "epsilon_greedy",
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Thompson,
            model: ModelKind::Factored,
            contacts: None,
            offers: None,
            ridge: None,
            alpha: 1.0,
            epsilon: 0.1,
            posterior_scale: 1.0,
            samples: 0,
            bootstrap: 1000,
            clip: None,
            simulation_rounds: 2000,
        }
    }
}

impl Check for PolicyConfig {
    fn check(&self) -> Result<(), ConfigError> {
        if let Some(r) = self.ridge
            && !(r > 0.0 && r.is_finite())
        {
            return Err(ConfigError::Policy(
                "policy.ridge must be a positive number",
            ));
        }
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return Err(ConfigError::Policy("policy.alpha must be a number ≥ 0"));
        }
        if !(0.0..=1.0).contains(&self.epsilon) {
            return Err(ConfigError::Policy("policy.epsilon must be in [0, 1]"));
        }
        if !(self.posterior_scale > 0.0 && self.posterior_scale.is_finite()) {
            return Err(ConfigError::Policy(
                "policy.posterior_scale must be a positive number",
            ));
        }
        if let Some(c) = self.clip
            && !(c > 0.0 && c.is_finite())
        {
            return Err(ConfigError::Policy("policy.clip must be a positive number"));
        }
        if self.simulation_rounds != 0 {
            at_least(
                "policy.simulation_rounds (or 0)",
                100,
                self.simulation_rounds,
            )?;
        }
        if self.samples != 0 {
            at_least("policy.samples (or 0: exact)", 10, self.samples)?;
        }
        at_least("policy.bootstrap", 1, self.bootstrap)
    }
}

/// `teleseg train policy`: everything one run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyJob {
    /// Seed of data generation, the split, Thompson draws and the bootstrap. Default 42.
    pub seed: Seed,
    /// The customer table: its preprocessed features are the context. Contacts of the
    /// `test_fraction` customers are held out for the off-policy evaluation.
    pub data: DataConfig,
    pub policy: PolicyConfig,
    pub output: OutputConfig,
}

impl Default for PolicyJob {
    /// As every job's, but a fifth of the customers (not a tenth) are held out: their contacts
    /// are the off-policy evaluation's log. (A config whose `[data]` section omits
    /// `test_fraction` gets `DataConfig`'s 0.1.)
    fn default() -> Self {
        Self {
            seed: Seed::default(),
            data: DataConfig {
                test_fraction: 0.2,
                ..DataConfig::default()
            },
            policy: PolicyConfig::default(),
            output: OutputConfig::default(),
        }
    }
}

impl Check for PolicyJob {
    fn check(&self) -> Result<(), ConfigError> {
        self.output.check()?;
        self.data.check()?;
        self.policy.check()
    }
}

/// The embedded default config (configs/policy.toml).
pub const POLICY_DEFAULT: &str = include_str!("../../../configs/policy.toml");

crate::job_config!(PolicyJob, super::KIND, POLICY_DEFAULT);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(overrides: &[&str]) -> Result<PolicyJob, ConfigError> {
        crate::job::parse_default(overrides)
    }

    #[test]
    fn the_default_file_is_the_default() {
        assert!(parse(&["policy.ridge=0"]).is_err());
        assert_eq!(parse(&[]).unwrap(), PolicyJob::default());
    }

    #[test]
    fn broken_rules_name_the_field() {
        for (set, field) in [
            ("policy.ridge=0", "policy.ridge"),
            ("policy.alpha=-1", "policy.alpha"),
            ("policy.epsilon=1.5", "policy.epsilon"),
            ("policy.posterior_scale=0", "policy.posterior_scale"),
            ("policy.samples=1", "policy.samples"),
            ("policy.clip=0", "policy.clip"),
        ] {
            let err = parse(&[set]).unwrap_err().to_string();
            assert!(err.contains(field), "{set}: {err}");
        }
        assert!(parse(&["policy.algorithm=\"ucb\""]).is_err());
        assert!(parse(&["policy.model=\"tree\""]).is_err());
        assert_eq!(
            parse(&["policy.model=\"disjoint\""]).unwrap().policy.model,
            ModelKind::Disjoint
        );
    }
}
