//! `teleseg generate`: the synthetic telecom data set.

use std::path::PathBuf;

use crate::data::generate::{GenerateOptions, GenerateSummary, generate};

/// Options of `teleseg generate`.
#[derive(Debug, Clone)]
pub struct GenerateArgs {
    pub customers: usize,
    pub seed: u64,
    pub offers: usize,
    pub out: PathBuf,
    pub force: bool,
    pub persona_spread: f64,
}

/// Runs `teleseg generate`.
pub fn run(args: &GenerateArgs) -> anyhow::Result<GenerateSummary> {
    let mut opts = GenerateOptions::new(args.customers, args.seed, args.out.clone());
    opts.offers = args.offers;
    opts.force = args.force;
    opts.persona_spread = args.persona_spread;
    let _span =
        tracing::info_span!("generate", customers = args.customers, seed = args.seed).entered();
    Ok(generate(&opts)?)
}
