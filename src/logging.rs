//! Logging of the `teleseg` binary: `tracing` to stderr, compact, coloured on a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `-q` logs errors only, no `-v` logs teleseg's INFO and every
/// crate's warnings, `-v` / `-vv` / `-vvv` INFO / DEBUG / TRACE everywhere; `RUST_LOG`, when
/// set, overrides the level.
pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,teleseg=info",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .compact()
        .init();
}
