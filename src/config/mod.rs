//! Run configurations: TOML files, strict loading, `--set` overrides and validation.
//!
//! Every knob, the seed included, is a field with its default written on the field. Loading is
//! strict (`deny_unknown_fields`, wrong types are errors), `--set section.key=value` overrides
//! one value of the file, and [`Check::check`] enforces the rules of [`ConfigError`] before any
//! data is read, so a typo fails in milliseconds rather than after an hour of training.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::data::OnBadRow;

/// Every way a configuration can be wrong. Messages name the field and the rule.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    /// A rule below broken by the config at `origin` (a file, or the embedded default with its
    /// `--set` overrides).
    #[error("config {origin}: {rule}")]
    Invalid {
        origin: String,
        rule: Box<ConfigError>,
    },
    #[error("cannot read config {path}: {message}")]
    Io { path: String, message: String },
    #[error("config {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("--set {0}: expected key=value (e.g. --set train.learning_rate=0.01)")]
    OverrideSyntax(String),
    #[error("--set {key}: `{segment}` is not a table in the config, so `{key}` cannot be set")]
    OverridePath { key: String, segment: String },
    #[error("{field} must be positive (got {value})")]
    NotPositive { field: &'static str, value: f64 },
    #[error("{field} must be at least {min} (got {value})")]
    TooSmall {
        field: &'static str,
        min: usize,
        value: usize,
    },
    #[error("{field} must be in [0, 1) (got {value})")]
    NotAFraction { field: &'static str, value: f64 },
    #[error("{field} must not be negative (got {value})")]
    Negative { field: &'static str, value: f64 },
    #[error("data.valid_fraction + data.test_fraction must be below 0.9 (got {0})")]
    SplitTooLarge(f64),
    #[error("{field}: every layer width must be at least 1")]
    ZeroWidth { field: &'static str },
    #[error("data.customers and data.schema must be given together (or neither, to generate data)")]
    DataPaths,
    #[error("train.warmup_epochs ({warmup}) must be below train.epochs ({epochs})")]
    WarmupTooLong { warmup: usize, epochs: usize },
    #[error("model.noise_level must be in (0, 1) for masking noise (got {0})")]
    MaskingLevel(f64),
    #[error("{field} must be in (0, 1] (got {value})")]
    NotAShare { field: &'static str, value: f64 },
    #[error("data.generate_persona_spread must be in (0, 4] (got {0})")]
    PersonaSpread(f64),
    #[error("vae.segment_model needs vae.segments (the labels its segments are named by)")]
    SegmentModelWithoutSegments,
    #[error("{0}")]
    NcfData(&'static str),
    #[error("{0}")]
    Propensity(&'static str),
    #[error("{0}")]
    Policy(&'static str),
    #[error("{0}")]
    Forecast(&'static str),
    #[error(
        "output.run_name = {0:?}: a run name must be one plain folder name (not empty, `.` or `..`, \
         no `/` or `\\`, not absolute)"
    )]
    RunName(String),
}

/// A configuration section that can validate itself.
pub trait Check {
    /// Returns the first broken rule, if any.
    fn check(&self) -> Result<(), ConfigError>;
}

/// A configuration that has passed its [`Check`]. The only way to make one is [`Checked::new`]
/// (which [`load`] and [`parse`] call), so a job that takes `&Checked<T>` never runs on an
/// unchecked value and no code below the loader needs to check the same rules again: linfa's
/// split of `ParamsBuilder` (unchecked) and `Params` (checked), for TOML sections. It gives read
/// access only (`Deref`); to change a value, take it out with [`Checked::into_inner`], change it
/// and check it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<T>(T);

impl<T: Check> Checked<T> {
    /// Checks `value`: the first broken rule, or the value as checked.
    pub fn new(value: T) -> Result<Self, ConfigError> {
        value.check()?;
        Ok(Self(value))
    }

    /// [`Checked::new`], with a broken rule wrapped in [`ConfigError::Invalid`] naming `origin`
    /// (a config built in code, such as a pipeline stage's job).
    pub fn named(value: T, origin: &str) -> Result<Self, ConfigError> {
        Self::new(value).map_err(|rule| ConfigError::Invalid {
            origin: origin.to_string(),
            rule: Box::new(rule),
        })
    }
}

impl<T> Checked<T> {
    /// The value, to change and check again.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Checked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Serialize> Serialize for Checked<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Loads a config file (or the given default text), applies `--set` overrides, deserializes
/// strictly and checks it.
pub fn load<T: DeserializeOwned + Check>(
    path: Option<&Path>,
    default_text: &str,
    overrides: &[String],
) -> Result<Checked<T>, ConfigError> {
    load_with(path, default_text, overrides, |_| {})
}

/// [`load`], with `adjust` applied to the value before it is checked (a command-line flag that
/// overrides a config value, such as `--seed`).
pub fn load_with<T: DeserializeOwned + Check>(
    path: Option<&Path>,
    default_text: &str,
    overrides: &[String],
    adjust: impl FnOnce(&mut T),
) -> Result<Checked<T>, ConfigError> {
    let (text, origin) = match path {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| ConfigError::Io {
                path: p.display().to_string(),
                message: e.to_string(),
            })?,
            p.display().to_string(),
        ),
        None => (default_text.to_string(), "<embedded default>".to_string()),
    };
    parse_with(&text, &origin, overrides, adjust)
}

/// Parses config text, applies overrides, deserializes strictly and checks.
pub fn parse<T: DeserializeOwned + Check>(
    text: &str,
    origin: &str,
    overrides: &[String],
) -> Result<Checked<T>, ConfigError> {
    parse_with(text, origin, overrides, |_| {})
}

/// [`parse`], with `adjust` applied to the value before it is checked.
pub fn parse_with<T: DeserializeOwned + Check>(
    text: &str,
    origin: &str,
    overrides: &[String],
    adjust: impl FnOnce(&mut T),
) -> Result<Checked<T>, ConfigError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
        origin: origin.to_string(),
        message: e.to_string(),
    })?;
    for o in overrides {
        apply_override(&mut table, o)?;
    }
    let origin = if overrides.is_empty() {
        origin.to_string()
    } else {
        format!("{origin} with --set {}", overrides.join(" "))
    };
    let mut value: T = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
    adjust(&mut value);
    Checked::new(value).map_err(|rule| ConfigError::Invalid {
        origin,
        rule: Box::new(rule),
    })
}

/// Applies one `section.key=value` override. The value is read as a TOML literal
/// (`0.01`, `true`, `[64, 32]`, `"text"`); anything that is not one is taken as a string.
fn apply_override(table: &mut toml::Table, spec: &str) -> Result<(), ConfigError> {
    let (key, raw) = spec
        .split_once('=')
        .ok_or_else(|| ConfigError::OverrideSyntax(spec.to_string()))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(ConfigError::OverrideSyntax(spec.to_string()));
    }
    let value = parse_literal(raw.trim());
    let parts: Vec<&str> = key.split('.').collect();
    let (last, sections) = parts.split_last().expect("non-empty key");
    let mut current = table;
    for segment in sections {
        let entry = current
            .entry(segment.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| ConfigError::OverridePath {
                key: key.to_string(),
                segment: segment.to_string(),
            })?;
    }
    current.insert(last.to_string(), value);
    Ok(())
}

fn parse_literal(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

pub(crate) fn positive(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::NotPositive { field, value })
    }
}

pub(crate) fn non_negative(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if value >= 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::Negative { field, value })
    }
}

pub(crate) fn at_least(field: &'static str, min: usize, value: usize) -> Result<(), ConfigError> {
    if value >= min {
        Ok(())
    } else {
        Err(ConfigError::TooSmall { field, min, value })
    }
}

pub(crate) fn fraction(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::NotAFraction { field, value })
    }
}

/// Where the customer data comes from and how it is split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Customer CSV. Empty (with `schema` empty too): generate synthetic data into the run folder.
    pub customers: Option<PathBuf>,
    /// Schema TOML describing `customers`.
    pub schema: Option<PathBuf>,
    /// Customers to generate when no file is given. Default 20 000.
    pub generate_customers: usize,
    /// Spread of the generated customers around their persona (see `teleseg generate
    /// --persona-spread`): 1 (default) is the realistic, overlapping data set.
    pub generate_persona_spread: f64,
    /// Share of customers (by id hash) held out for validation / early stopping. Default 0.1.
    pub valid_fraction: f64,
    /// Share of customers held out for final evaluation. Default 0.1.
    pub test_fraction: f64,
    /// What to do with a row that breaks a cell rule: `error` (default) or `skip`.
    pub on_bad_row: OnBadRow,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            customers: None,
            schema: None,
            generate_customers: 20_000,
            generate_persona_spread: 1.0,
            valid_fraction: 0.1,
            test_fraction: 0.1,
            on_bad_row: OnBadRow::Error,
        }
    }
}

impl DataConfig {
    /// Options that generate this config's synthetic data set into `dir` (overwriting it).
    pub fn generate_options(
        &self,
        seed: u64,
        dir: PathBuf,
    ) -> crate::data::generate::GenerateOptions {
        let mut opts =
            crate::data::generate::GenerateOptions::new(self.generate_customers, seed, dir);
        opts.persona_spread = self.generate_persona_spread;
        opts.force = true;
        opts
    }
}

impl ConfigError {
    /// The broken rule itself, without the [`ConfigError::Invalid`] wrapper naming the config.
    pub fn into_rule(self) -> ConfigError {
        match self {
            ConfigError::Invalid { rule, .. } => *rule,
            other => other,
        }
    }
}

impl Check for DataConfig {
    fn check(&self) -> Result<(), ConfigError> {
        if self.customers.is_some() != self.schema.is_some() {
            return Err(ConfigError::DataPaths);
        }
        at_least("data.generate_customers", 100, self.generate_customers)?;
        if !(self.generate_persona_spread > 0.0 && self.generate_persona_spread <= 4.0) {
            return Err(ConfigError::PersonaSpread(self.generate_persona_spread));
        }
        fraction("data.valid_fraction", self.valid_fraction)?;
        fraction("data.test_fraction", self.test_fraction)?;
        let held_out = self.valid_fraction + self.test_fraction;
        if held_out >= 0.9 {
            return Err(ConfigError::SplitTooLarge(held_out));
        }
        Ok(())
    }
}

/// Optimizer choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with L2 weight decay added to the gradient.
    Adam,
    /// AdamW: decoupled weight decay (Loshchilov & Hutter 2019).
    Adamw,
}

/// Learning-rate schedule over epochs (after the optional linear warm-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// The base learning rate throughout.
    Constant,
    /// Cosine decay from the base rate to `min_lr_ratio × base` at the last epoch.
    Cosine,
    /// Multiply by `step_gamma` every `step_epochs` epochs.
    Step,
}

/// Settings of the one training loop, shared by every model family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Passes over the training split. Default 30.
    pub epochs: usize,
    /// Rows per mini-batch. Default 256.
    pub batch_size: usize,
    /// `adam` or `adamw` (default).
    pub optimizer: OptimizerKind,
    /// Base learning rate. Default 1e-3.
    pub learning_rate: f64,
    /// Weight decay (decoupled for AdamW, L2 for Adam). Default 1e-5.
    pub weight_decay: f64,
    /// `constant`, `cosine` (default) or `step`.
    pub schedule: Schedule,
    /// Epochs of linear warm-up from 0 to the base rate (stepped per batch). Default 1.
    pub warmup_epochs: usize,
    /// Cosine: final rate as a share of the base rate. Default 0.05.
    pub min_lr_ratio: f64,
    /// Step schedule: epochs between decays. Default 10.
    pub step_epochs: usize,
    /// Step schedule: decay factor. Default 0.5.
    pub step_gamma: f64,
    /// Clip the global gradient L2 norm to this value; 0 disables clipping. Default 1.0.
    pub grad_clip_norm: f64,
    /// Stop after this many epochs without validation improvement; 0 disables. Default 5.
    pub patience: usize,
    /// Smallest validation-loss decrease that counts as an improvement. Default 1e-4.
    pub min_delta: f64,
    /// Write `epoch-N` checkpoints every this many epochs; 0: only `best` and `last`. Default 0.
    pub checkpoint_every: usize,
    /// At least this many optimizer steps in all: when `epochs` passes over a small training
    /// split give fewer, the run is stretched to `ceil(min_steps / steps_per_epoch)` epochs and
    /// every length counted in epochs (`warmup_epochs`, `patience`, `step_epochs`) is stretched
    /// by the same factor, so a table of a few hundred rows trains as long, in steps, as one of
    /// tens of thousands. Early stopping still applies. 0 disables. Default 1500 (the default
    /// 30 epochs of batch 256 already take ~1900 steps at 16 000 training rows).
    #[serde(default = "default_min_steps")]
    pub min_steps: usize,
    /// At most this many training samples per epoch: each epoch trains on a fresh random subset
    /// of the training split (the start of its shuffled order), so that the cost of an epoch
    /// stops growing with the data; 0: the whole split every epoch. Validation always sees the
    /// whole validation split. Default 0.
    pub max_epoch_samples: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch_size: 256,
            optimizer: OptimizerKind::Adamw,
            learning_rate: 1e-3,
            weight_decay: 1e-5,
            schedule: Schedule::Cosine,
            warmup_epochs: 1,
            min_lr_ratio: 0.05,
            step_epochs: 10,
            step_gamma: 0.5,
            grad_clip_norm: 1.0,
            patience: 5,
            min_delta: 1e-4,
            checkpoint_every: 0,
            min_steps: DEFAULT_MIN_STEPS,
            max_epoch_samples: 0,
        }
    }
}

/// Default [`TrainConfig::min_steps`].
pub const DEFAULT_MIN_STEPS: usize = 1500;

fn default_min_steps() -> usize {
    DEFAULT_MIN_STEPS
}

impl TrainConfig {
    /// The schedule actually run for `steps_per_epoch` steps an epoch: `epochs` raised to reach
    /// `min_steps`, with `warmup_epochs`, `patience` and `step_epochs` stretched by the same
    /// factor (rounded up). Unchanged when `epochs` already gives `min_steps`.
    pub fn for_steps(&self, steps_per_epoch: u64) -> TrainConfig {
        let needed = (self.min_steps as u64).div_ceil(steps_per_epoch.max(1)) as usize;
        if needed <= self.epochs {
            return self.clone();
        }
        let stretch = |e: usize| (e * needed).div_ceil(self.epochs);
        TrainConfig {
            epochs: needed,
            warmup_epochs: stretch(self.warmup_epochs),
            patience: stretch(self.patience),
            step_epochs: stretch(self.step_epochs),
            ..self.clone()
        }
    }
}

impl Check for TrainConfig {
    fn check(&self) -> Result<(), ConfigError> {
        at_least("train.epochs", 1, self.epochs)?;
        at_least("train.batch_size", 1, self.batch_size)?;
        positive("train.learning_rate", self.learning_rate)?;
        non_negative("train.weight_decay", self.weight_decay)?;
        fraction("train.min_lr_ratio", self.min_lr_ratio)?;
        at_least("train.step_epochs", 1, self.step_epochs)?;
        positive("train.step_gamma", self.step_gamma)?;
        non_negative("train.grad_clip_norm", self.grad_clip_norm)?;
        non_negative("train.min_delta", self.min_delta)?;
        if self.warmup_epochs >= self.epochs && self.warmup_epochs > 0 {
            return Err(ConfigError::WarmupTooLong {
                warmup: self.warmup_epochs,
                epochs: self.epochs,
            });
        }
        Ok(())
    }
}

/// Where runs are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Parent folder of run folders. Default `checkpoints`.
    pub dir: PathBuf,
    /// Run folder name; empty: `<kind>-<UTC timestamp>`.
    pub run_name: Option<String>,
}

impl Check for OutputConfig {
    /// `run_name`, when given, is one plain folder name inside `dir`: an empty name, `.`, `..`,
    /// a separator or an absolute path would put the run over `dir` itself or outside it (and
    /// `--force` would then replace the wrong folder).
    fn check(&self) -> Result<(), ConfigError> {
        if let Some(name) = &self.run_name {
            let plain = !name.trim().is_empty()
                && name != "."
                && name != ".."
                && !name.contains(['/', '\\'])
                && !std::path::Path::new(name).is_absolute();
            if !plain {
                return Err(ConfigError::RunName(name.clone()));
            }
        }
        Ok(())
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("checkpoints"),
            run_name: None,
        }
    }
}

/// A seed with default 42 (a newtype so `#[serde(default)]` gives 42, not 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seed(pub u64);

impl Default for Seed {
    fn default() -> Self {
        Seed(42)
    }
}

/// Serializes any config to TOML (the resolved config saved with each run).
pub fn to_toml<T: Serialize>(config: &T) -> String {
    toml::to_string_pretty(config).expect("configs always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::autoencoder::{AutoencoderJob, Noise};

    fn job(overrides: &[&str]) -> Result<AutoencoderJob, ConfigError> {
        crate::job::parse_default(overrides)
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let err =
            parse::<AutoencoderJob>("[train]\nlearnin_rate = 0.1\n", "x.toml", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("x.toml") && msg.contains("learnin_rate"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_override_key_is_rejected() {
        let msg = job(&["train.lr=0.1"]).unwrap_err().to_string();
        assert!(
            msg.contains("unknown field `lr`") && msg.contains("--set"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_type_is_rejected() {
        let msg = job(&["train.epochs=\"ten\""]).unwrap_err().to_string();
        assert!(msg.contains("epochs"), "{msg}");
    }

    #[test]
    fn override_sets_values_of_every_type() {
        let j = job(&[
            "train.learning_rate=0.01",
            "model.hidden=[64, 32]",
            "seed=7",
            "model.noise=masking",
        ])
        .unwrap();
        assert_eq!(j.train.learning_rate, 0.01);
        assert_eq!(j.model.hidden, vec![64, 32]);
        assert_eq!(j.seed, Seed(7));
        assert_eq!(j.model.noise, Noise::Masking);
    }

    #[test]
    fn override_without_equals_is_rejected() {
        assert!(matches!(
            job(&["train.epochs"]),
            Err(ConfigError::OverrideSyntax(_))
        ));
        assert!(matches!(
            job(&["train..epochs=1"]),
            Err(ConfigError::OverrideSyntax(_))
        ));
    }

    #[test]
    fn override_through_a_value_is_rejected() {
        assert!(matches!(
            job(&["seed.x=1"]),
            Err(ConfigError::OverridePath { .. })
        ));
    }

    #[test]
    fn negative_learning_rate_is_rejected() {
        let err = job(&["train.learning_rate=-0.1"]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::NotPositive {
                field: "train.learning_rate",
                value: -0.1
            }
        );
    }

    #[test]
    fn zero_batch_size_is_rejected() {
        let err = job(&["train.batch_size=0"]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::TooSmall {
                field: "train.batch_size",
                min: 1,
                value: 0
            }
        );
    }

    #[test]
    fn zero_epochs_is_rejected() {
        assert!(matches!(
            job(&["train.epochs=0"]),
            Err(ConfigError::TooSmall {
                field: "train.epochs",
                ..
            })
        ));
    }

    #[test]
    fn zero_width_layer_is_rejected() {
        assert!(matches!(
            job(&["model.hidden=[64, 0]"]),
            Err(ConfigError::ZeroWidth { .. })
        ));
    }

    #[test]
    fn zero_latent_is_rejected() {
        assert!(matches!(
            job(&["model.latent=0"]),
            Err(ConfigError::TooSmall {
                field: "model.latent",
                ..
            })
        ));
    }

    #[test]
    fn dropout_out_of_range_is_rejected() {
        assert!(matches!(
            job(&["model.dropout=1.0"]),
            Err(ConfigError::NotAFraction { .. })
        ));
    }

    #[test]
    fn masking_level_must_be_a_probability() {
        let err = job(&["model.noise=masking", "model.noise_level=0"]).unwrap_err();
        assert_eq!(err, ConfigError::MaskingLevel(0.0));
    }

    #[test]
    fn negative_weight_decay_is_rejected() {
        assert!(matches!(
            job(&["train.weight_decay=-1"]),
            Err(ConfigError::Negative { .. })
        ));
    }

    #[test]
    fn oversized_split_is_rejected() {
        let err = job(&["data.valid_fraction=0.5", "data.test_fraction=0.45"]).unwrap_err();
        assert!(matches!(err, ConfigError::SplitTooLarge(_)));
    }

    #[test]
    fn data_paths_come_together() {
        assert_eq!(
            job(&["data.customers=\"a.csv\""]).unwrap_err(),
            ConfigError::DataPaths
        );
    }

    #[test]
    fn warmup_must_be_shorter_than_training() {
        assert!(matches!(
            job(&["train.epochs=2", "train.warmup_epochs=2"]),
            Err(ConfigError::WarmupTooLong { .. })
        ));
    }

    #[test]
    fn tiny_generated_dataset_is_rejected() {
        assert!(matches!(
            job(&["data.generate_customers=10"]),
            Err(ConfigError::TooSmall { .. })
        ));
    }

    #[test]
    fn persona_spread_must_be_in_range() {
        for bad in ["0.0", "-1.0", "4.5", "nan"] {
            assert_eq!(
                job(&[&format!("data.generate_persona_spread={bad}")])
                    .unwrap_err()
                    .to_string()
                    .split(" (got")
                    .next(),
                Some("data.generate_persona_spread must be in (0, 4]"),
                "{bad}"
            );
        }
        assert!(job(&["data.generate_persona_spread=0.5"]).is_ok());
    }

    #[test]
    fn resolved_config_round_trips() {
        let j = job(&["train.epochs=3"]).unwrap();
        let again = parse::<AutoencoderJob>(&to_toml(&j), "resolved", &[])
            .unwrap()
            .into_inner();
        assert_eq!(j, again);
    }
}
