//! The autoencoder family: customer embeddings from an MLP encoder and a mirrored decoder. One
//! folder holds the whole family:
//! - [`config`]: the `[model]` section and the `train autoencoder` job, checked before any data
//!   is read;
//! - [`model`]: the network, its feature-type-aware reconstruction loss and its training task;
//! - [`job`]: the training job (data, the one training loop, the checkpoint header);
//! - [`infer`]: a checkpoint loaded for scoring raw customer rows.

pub mod config;
pub mod infer;
pub mod job;
pub mod model;

pub use config::*;
pub use infer::*;
pub use job::*;
pub use model::*;
