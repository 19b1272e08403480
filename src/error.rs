//! Mapping errors to exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.

use thiserror::Error;

use crate::backend::BackendError;
use crate::checkpoint::CheckpointError;
use crate::config::ConfigError;
use crate::data::error::DataError;
use crate::data::schema::SchemaError;

/// A usage mistake caught by a command (e.g. an output file that exists without `--force`).
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for a runtime failure (I/O, divergence, a bug).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for bad usage or bad input (config, schema, CSV, checkpoint, backend choice).
pub const EXIT_USAGE: i32 = 2;

/// The exit code for an error: 2 when any cause in its chain is bad input, else 1.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        let input = cause.is::<ConfigError>()
            || cause.is::<SchemaError>()
            || cause.is::<UsageError>()
            || cause.is::<BackendError>()
            || cause.is::<crate::stream::events::EventError>()
            || matches!(
                cause.downcast_ref::<crate::train::TrainError>(),
                Some(crate::train::TrainError::Resume { .. })
            )
            || cause
                .downcast_ref::<DataError>()
                .is_some_and(DataError::is_input_error)
            || cause
                .downcast_ref::<CheckpointError>()
                .is_some_and(CheckpointError::is_input_error)
            || cause
                .downcast_ref::<crate::data::interactions::InteractionsError>()
                .is_some_and(crate::data::interactions::InteractionsError::is_input_error)
            || cause
                .downcast_ref::<crate::models::policy::logs::LogError>()
                .is_some_and(crate::models::policy::logs::LogError::is_input_error)
            || cause
                .downcast_ref::<crate::data::preprocess::PreprocessError>()
                .is_some()
            || cause
                .downcast_ref::<crate::data::generate::GenerateError>()
                .is_some_and(|e| !matches!(e, crate::data::generate::GenerateError::Io { .. }));
        if input {
            return EXIT_USAGE;
        }
    }
    EXIT_FAILURE
}
