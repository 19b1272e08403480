//! The CLI verbs, one file each. They are library functions (so tests and Rust callers can run a
//! whole job) that return `anyhow` errors with context; `main` maps them to exit codes.

pub mod bench;
pub mod data_check;
pub mod embed;
pub mod generate;
pub mod inspect;
pub mod ncf;
pub mod pipeline;
pub mod policy;
pub mod score;
pub mod serve;
pub mod stream;
pub mod train;
pub mod vae;

pub use crate::job::Globals;

/// clap value parser of counts that must be at least 1 (batch sizes, chunk sizes, top-K).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A clap value parser for a positive, finite number (a threshold).
pub fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err("must be a positive number".into()),
        Err(e) => Err(e.to_string()),
    }
}
