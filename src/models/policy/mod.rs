//! Contextual bandits for the channel and timing of offers, and off-policy evaluation of them
//! from logs. One folder holds the whole family:
//! - [`config`]: the `[policy]` section and the `train policy` job;
//! - [`contacts`]: contact logs, offer categories, the generator's truth, and contexts;
//! - [`linear`]: per-arm Bayesian ridge models and the Thompson, LinUCB and ε-greedy policies;
//! - [`factored`]: one Bayesian ridge model shared by the arms through their factors (channel,
//!   day type, day part), the default reward model;
//! - [`job`]: the training job, its off-policy evaluation and `evaluation.json`;
//! - [`infer`]: a checkpoint loaded for `teleseg score` (best arm per offer category);
//! - [`simulate`]: `teleseg simulate`, policies learning online against the known response;
//! - [`abtest`]: A/B tests by Thompson sampling against a fixed split, on the known response;
//! - [`logs`]: bandit logs in the Open Bandit Dataset layout and shared log reading;
//! - [`evaluate`]: `teleseg evaluate policy` on OBD logs.
//!
//! The estimators themselves live in [`crate::eval::ope`].

pub mod abtest;
pub mod config;
pub mod contacts;
pub mod evaluate;
pub mod factored;
pub mod infer;
pub mod job;
pub mod linear;
pub mod logs;
pub mod simulate;

pub use config::*;

/// `teleseg.kind` of policy checkpoints.
pub const KIND: &str = "policy";
