//! Model families, one per file, built from the shared [`mlp`] block.

pub mod autoencoder;
pub mod dec;
pub mod mlp;
pub mod ncf;
pub mod vae;
