//! The propensity family: churn risk, offer take-up or a numeric value (spend, lifetime value)
//! predicted per customer by gradient-boosted trees (the `perpetual` crate), with calibrated
//! probabilities and exact TreeSHAP reasons. One folder holds the whole family:
//! - [`config`]: the `[propensity]` section and the `train propensity` job;
//! - [`features`]: the trees' raw inputs and the target, read from the customer table;
//! - [`model`]: fitting (with cross-fitted calibration), prediction and SHAP;
//! - [`calibrate`]: Platt scaling and isotonic regression;
//! - [`forest`]: the trees on flat arrays, for predictions;
//! - [`shap`]: exact TreeSHAP over the trees, in one pass per tree;
//! - [`metrics`]: ROC / PR AUC, log loss, Brier, calibration and gain tables, regression errors;
//! - [`job`]: the training job and its `evaluation.json`;
//! - [`value`]: lifetime value from the churn probability and the monthly margin;
//! - [`offers`], [`offers_job`]: offer propensity (`train offer-propensity`, kind
//!   `offer_propensity`): the probability of accepting each offer when shown, ranked beside NCF;
//! - [`infer`]: a checkpoint loaded for `teleseg score`.
//!
//! The checkpoint (kind `propensity`, docs/checkpoint-format.md §4e) holds no tensors: the
//! trees are perpetual's own JSON in the metadata (`teleseg.gbm`), the features, target and
//! calibrator are `teleseg.model`.

pub mod calibrate;
pub mod config;
pub mod features;
pub mod forest;
pub mod infer;
pub mod job;
pub mod metrics;
pub mod model;
pub mod offers;
pub mod offers_job;
pub mod shap;
pub mod value;

pub use config::*;
pub use features::{Feature, FeatureSpec, TargetSpec};
pub use infer::*;
pub use job::*;
pub use model::*;
pub use value::{LifetimeValue, LifetimeValueConfig};

/// `teleseg.kind` of propensity checkpoints.
pub const KIND: &str = "propensity";
