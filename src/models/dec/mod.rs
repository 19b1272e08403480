//! The DEC / IDEC family: deep clustering of the autoencoder's embeddings into segments. One
//! folder holds the whole family:
//! - [`config`]: the `[dec]` section and the `train dec` job;
//! - [`model`]: the clustering layer, the target distribution, initialisation and the task;
//! - [`job`]: the training job (pretraining, initialisation, the loop, assignments);
//! - [`segments`]: the `segments.json` artefact (baselines, metrics, profiles) and its readers;
//! - [`infer`]: a checkpoint loaded for scoring raw customer rows into segments.

pub mod config;
pub mod infer;
pub mod job;
pub mod model;
pub mod segments;

pub use config::*;
pub use infer::*;
pub use job::*;
pub use model::*;
pub use segments::write_segments;
