//! Evaluation of trained models: ranking metrics of recommenders.

pub mod ranking;
