//! Contextual bandits for the channel and timing of offers, and off-policy evaluation of them
//! from logs: [`logs`] reads and checks bandit logs, [`evaluate`] runs the estimators of
//! [`crate::eval::ope`] on them.

pub mod evaluate;
pub mod logs;
