//! `teleseg serve`: parses the arguments and runs [`crate::serve::serve`].

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::scoring::DeciderOptions;
use crate::serve::ServeOptions;

/// Options of `teleseg serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// A pipeline run folder (segments, offers, churn risk) or a dec run folder (segments only).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = 8 << 20, value_parser = crate::commands::at_least_one)]
    pub max_body_bytes: usize,
    /// Most customers in one request (more: 413).
    #[arg(long, default_value_t = 10_000, value_parser = crate::commands::at_least_one)]
    pub max_customers: usize,
    /// Offers per customer (at least 1).
    #[arg(long, default_value_t = 10, value_parser = crate::commands::at_least_one)]
    pub top_k: usize,
    /// Accepted offers (interactions.csv or .parquet) never recommended again.
    #[arg(long)]
    pub interactions: Option<PathBuf>,
    /// Reasons per customer of the propensity model (0: none).
    #[arg(long, default_value_t = 3)]
    pub reasons: usize,
    /// Drift is measured over the last this many customers scored (`GET /drift`, `/metrics`).
    #[arg(long, default_value_t = 10_000, value_parser = crate::commands::at_least_one)]
    pub drift_window: usize,
    /// Population stability index above which drift alerts (0.25: a significant shift).
    #[arg(long, default_value_t = crate::drift::DEFAULT_ALERT, value_parser = crate::commands::positive)]
    pub drift_alert: f64,
}

/// Runs the service until SIGINT/SIGTERM.
pub fn run(args: &ServeArgs, device: &burn::tensor::Device) -> anyhow::Result<()> {
    crate::serve::serve(
        ServeOptions {
            checkpoint: args.checkpoint.clone(),
            addr: args.addr,
            max_body_bytes: args.max_body_bytes,
            max_customers: args.max_customers,
            drift_window: args.drift_window,
            drift_alert: args.drift_alert,
            decider: DeciderOptions {
                top_k: args.top_k,
                interactions: args.interactions.clone(),
                reasons: args.reasons,
                batch_size: 4096,
            },
        },
        device.clone(),
    )
}
