//! Model families, one folder each (config, model and task, job, inference), built from the
//! shared [`mlp`] block (the neural ones) or a gradient-boosting library ([`propensity`]).

pub mod autoencoder;
pub mod dec;
pub mod forecast;
pub mod mlp;
pub mod ncf;
pub mod policy;
pub mod propensity;
pub mod vae;
