//! Fitted preprocessing: a [`RawTable`] → a row-major f32 feature matrix ([`Features`]).
//!
//! This is a file-format contract (it is saved in checkpoints and reproduced by the numpy
//! reference scorer), so every rule is spelled out here.
//!
//! **Feature order.** The *numeric block* (numeric columns in schema order, then derived features
//! in schema order), then binary columns (schema order), then categorical columns (schema order).
//! A numeric or binary feature is followed immediately by its missing indicator when it has one.
//! Feature names: the column name; `NAME.missing` for an indicator; `NAME=LEVEL` for a one-hot
//! column. [`FeatureLayout`] lists them.
//!
//! **Derived features** are `numerator / max(denominator, floor) * scale` on raw values; missing
//! when either input is missing (or, for overflow, when the result is not finite).
//!
//! **Numeric block**, each statistic fitted on the train rows only and rounded to f32:
//! - `median`: median of the non-missing train values (0 if all are missing);
//! - `clip_low`, `clip_high`: train quantiles `clip = [low, high]` of the non-missing values, with
//!   linear interpolation (numpy's default `np.quantile`); `-inf`/`+inf` when `clip` is not set or
//!   all train values are missing;
//! - `x → impute (missing → median) → clip to [clip_low, clip_high] → if log1p: ln(1 + max(x, 0))
//!   → (x - mean) / std`, computed in f64 from the f32 statistics and rounded to f32;
//! - `mean`, `std`: the shift and divisor of the column's `scale`, on the imputed, clipped,
//!   logged train values: mean and population std (`standard`), minimum and range (`minmax`),
//!   median and interquartile range (`robust`; the range when the IQR is 0), 0 and 1 (`none`);
//!   a divisor below 1e-12 is 1. `auto` (the default) is `minmax` when one value holds at least
//!   90 % of the train rows (sparse counts, rare events), else `standard`.
//!
//! **Missing indicator**: a numeric, derived or binary feature has one iff its train rows had a
//! missing value (decided at fit): 1.0 if the value is missing, else 0.0.
//!
//! **Binary**: 0/1 as read; missing → train mode (ties, and all-missing, → 0).
//!
//! **Categorical**: one-hot over `levels`: the train levels whose share of train rows (missing
//! rows counted in the denominator) is at least `min_frequency` (default 0.005), by train count
//! descending then name ascending; then `<missing>` if train had missing values; then `other`,
//! always last. Rare and unseen levels map to `other`, as does a missing value when there is no
//! `<missing>` level. The reserved texts `other` and `<missing>` in the data are never levels of
//! their own: they map to `other`.
//!
//! **Tensors** ([`Preprocessor::tensors`], all f32): `preprocess.numeric.{median, clip_low,
//! clip_high, log1p, mean, std, has_indicator}` of shape `[n_numeric_block]` and
//! `preprocess.binary.{mode, has_indicator}` of shape `[n_binary]` (flags are 0/1). Names,
//! sources and levels are in the JSON ([`Preprocessor::to_json`]).

mod features;
mod layout;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use features::{BinaryFeature, CategoricalFeature, NumericFeature, NumericSource};
pub use layout::{FeatureGroup, FeatureLayout, Features};

use super::schema::{Role, Schema};
use super::table::{MISSING, RawTable};
use features::{fit_binary, fit_categorical, fit_numeric};

/// Version of the preprocessing JSON; bump on any change of its meaning.
/// Format 2 added each numeric feature's `scale` (format 1 files are read as all `standard`).
pub const PREPROCESS_FORMAT_VERSION: u32 = 2;
/// The one-hot level of rare, unseen (and, without `<missing>`, missing) categories. Always last.
pub const OTHER_LEVEL: &str = "other";
/// The one-hot level of missing categories, present iff train had missing values.
pub const MISSING_LEVEL: &str = "<missing>";
/// Default `min_frequency` of categorical columns: share of train rows a level needs to be kept.
pub const DEFAULT_MIN_FREQUENCY: f64 = 0.005;

/// Everything that can go wrong fitting, applying or loading a [`Preprocessor`].
#[derive(Debug, Error, PartialEq)]
pub enum PreprocessError {
    /// Fitting needs at least one train row.
    #[error("cannot fit preprocessing: no train rows")]
    NoTrainRows,
    /// A row index beyond the table.
    #[error("row index {row} is out of range (the table has {rows} rows)")]
    RowOutOfRange {
        /// The index given.
        row: usize,
        /// Rows in the table.
        rows: usize,
    },
    /// The table lacks columns the schema or the fitted preprocessor needs.
    #[error("table {table} does not match the preprocessing: it lacks {}", missing.join(", "))]
    MissingColumns {
        /// The table's source file.
        table: String,
        /// Each missing column as ``role `name` `` (e.g. ``numeric `tenure_months` ``).
        missing: Vec<String>,
    },
    /// A value that becomes infinite after preprocessing (e.g. `1e308` in a column without
    /// clipping or log1p): the model works in 32-bit floats, so the row cannot be scored.
    #[error(
        "{table}:{line}: `{feature}` = {value} is too large for the model: after preprocessing it \
         is not a finite 32-bit float (fix the value, or give the column `clip` or `log1p` in the \
         schema)"
    )]
    NotRepresentable {
        /// The table's source file.
        table: String,
        /// 1-based line of the row.
        line: u64,
        /// The feature.
        feature: String,
        /// The raw value.
        value: f64,
    },
    /// A train statistic does not fit in an f32 (raw values beyond ±3.4e38).
    #[error("feature `{feature}`: train {statistic} ({value}) does not fit in a 32-bit float")]
    StatisticOverflow {
        /// The feature.
        feature: String,
        /// `median`, `clip_low`, `clip_high`, `mean` or `std`.
        statistic: &'static str,
        /// The f64 value.
        value: f64,
    },
    /// The JSON does not have the expected structure.
    #[error("preprocessing JSON: {0}")]
    Json(String),
    /// The JSON is of another format version.
    #[error("preprocessing JSON has format_version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The version in the JSON.
        found: u32,
        /// [`PREPROCESS_FORMAT_VERSION`].
        supported: u32,
    },
    /// The JSON parses but breaks a rule (non-finite statistic, bad levels, layout mismatch...).
    #[error("preprocessing JSON: {0}")]
    Malformed(String),
}

/// How many values of a numeric-block feature fall outside its clip range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipCount {
    /// Feature name.
    pub feature: String,
    /// Non-missing values below `clip_low`.
    pub below: usize,
    /// Non-missing values above `clip_high`.
    pub above: usize,
}

/// The serialized form; validated into a [`Preprocessor`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreprocessorSpec {
    format_version: u32,
    numeric: Vec<NumericFeature>,
    binary: Vec<BinaryFeature>,
    categorical: Vec<CategoricalFeature>,
    layout: FeatureLayout,
}

/// The fitted preprocessing of a schema: train statistics of every feature and the output layout.
///
/// Fitted with [`Preprocessor::fit`] on train rows, applied with [`Preprocessor::transform`],
/// saved with [`Preprocessor::to_json`] + [`Preprocessor::tensors`]. Its serde form is the JSON of
/// `to_json`, validated on deserialization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PreprocessorSpec", into = "PreprocessorSpec")]
pub struct Preprocessor {
    numeric: Vec<NumericFeature>,
    binary: Vec<BinaryFeature>,
    categorical: Vec<CategoricalFeature>,
    layout: FeatureLayout,
}

impl Preprocessor {
    /// Fits every statistic on `train_rows` of `table` (row indices, any order, no repeats
    /// expected), following `schema`.
    pub fn fit(
        schema: &Schema,
        table: &RawTable,
        train_rows: &[usize],
    ) -> Result<Preprocessor, PreprocessError> {
        if train_rows.is_empty() {
            return Err(PreprocessError::NoTrainRows);
        }
        check_rows(table, train_rows)?;
        let mut missing = Vec::new();
        let mut numeric = Vec::new();
        let sources = schema
            .columns
            .iter()
            .filter(|c| c.role == Role::Numeric)
            .map(|c| {
                (
                    c.name.clone(),
                    NumericSource::Column {
                        column: c.name.clone(),
                    },
                    c.clip,
                    c.log1p,
                    c.scale,
                )
            })
            .chain(schema.derived.iter().map(|d| {
                let source = NumericSource::Derived {
                    numerator: d.numerator.clone(),
                    denominator: d.denominator.clone(),
                    floor: d.floor,
                    scale: d.scale,
                };
                (d.name.clone(), source, d.clip, d.log1p, d.scaling)
            }));
        for (name, source, clip, log1p, scale) in sources {
            match source.values(table) {
                Ok(values) => numeric.push(fit_numeric(
                    name,
                    source.clone(),
                    &values,
                    train_rows,
                    clip,
                    log1p,
                    scale,
                )?),
                Err(m) => missing.push(m),
            }
        }
        let mut binary = Vec::new();
        let mut categorical = Vec::new();
        for c in &schema.columns {
            match c.role {
                Role::Binary => match table.binary(&c.name) {
                    Some(col) => binary.push(fit_binary(col, train_rows)),
                    None => missing.push(format!("binary `{}`", c.name)),
                },
                Role::Categorical => match table.categorical(&c.name) {
                    Some(col) => {
                        let min_frequency = c.min_frequency.unwrap_or(DEFAULT_MIN_FREQUENCY);
                        categorical.push(fit_categorical(col, train_rows, min_frequency));
                    }
                    None => missing.push(format!("categorical `{}`", c.name)),
                },
                _ => {}
            }
        }
        unique_in_order(&mut missing);
        if !missing.is_empty() {
            return Err(PreprocessError::MissingColumns {
                table: table.source.clone(),
                missing,
            });
        }
        let layout = FeatureLayout::build(&numeric, &binary, &categorical);
        tracing::debug!(
            features = layout.names.len(),
            train_rows = train_rows.len(),
            "fitted preprocessing"
        );
        Ok(Preprocessor {
            numeric,
            binary,
            categorical,
            layout,
        })
    }

    /// The features of every row of `table`: `[table.n_rows(), n_features]`.
    pub fn transform(&self, table: &RawTable) -> Result<Features, PreprocessError> {
        let rows: Vec<usize> = (0..table.n_rows()).collect();
        self.transform_rows(table, &rows)
    }

    /// The features of `rows` of `table`, in that order: `[rows.len(), n_features]`.
    pub fn transform_rows(
        &self,
        table: &RawTable,
        rows: &[usize],
    ) -> Result<Features, PreprocessError> {
        check_rows(table, rows)?;
        let mut missing = Vec::new();
        let numeric: Vec<_> = self
            .numeric
            .iter()
            .filter_map(|f| f.source.values(table).map_err(|m| missing.push(m)).ok())
            .collect();
        let binary: Vec<_> = self
            .binary
            .iter()
            .filter_map(|f| {
                table
                    .binary(&f.name)
                    .or_else(|| bad(&mut missing, "binary", &f.name))
            })
            .collect();
        let categorical: Vec<_> = self
            .categorical
            .iter()
            .filter_map(|f| {
                table
                    .categorical(&f.name)
                    .or_else(|| bad(&mut missing, "categorical", &f.name))
            })
            .collect();
        unique_in_order(&mut missing);
        if !missing.is_empty() {
            return Err(PreprocessError::MissingColumns {
                table: table.source.clone(),
                missing,
            });
        }

        let cols = self.n_features();
        let mut data = vec![0.0f32; rows.len() * cols];
        let mut index = 0;
        for (f, values) in self.numeric.iter().zip(&numeric) {
            for (out, &r) in data.chunks_exact_mut(cols).zip(rows) {
                let x = values[r];
                out[index] = f.apply(x);
                if !out[index].is_finite() {
                    return Err(PreprocessError::NotRepresentable {
                        table: table.source.clone(),
                        line: table.line_numbers.get(r).copied().unwrap_or(0),
                        feature: f.name.clone(),
                        value: x,
                    });
                }
                if f.has_indicator {
                    out[index + 1] = if x.is_nan() { 1.0 } else { 0.0 };
                }
            }
            index += 1 + usize::from(f.has_indicator);
        }
        for (f, col) in self.binary.iter().zip(&binary) {
            for (out, &r) in data.chunks_exact_mut(cols).zip(rows) {
                let x = col.values[r];
                out[index] = if x.is_nan() { f.mode } else { x };
                if f.has_indicator {
                    out[index + 1] = if x.is_nan() { 1.0 } else { 0.0 };
                }
            }
            index += 1 + usize::from(f.has_indicator);
        }
        for (f, col) in self.categorical.iter().zip(&categorical) {
            let (by_code, missing_offset) = f.offsets(col);
            for (out, &r) in data.chunks_exact_mut(cols).zip(rows) {
                let offset = match col.codes[r] {
                    MISSING => missing_offset,
                    code => by_code[code as usize],
                };
                out[index + offset] = 1.0;
            }
            index += f.levels.len();
        }
        Ok(Features {
            data,
            rows: rows.len(),
            cols,
        })
    }

    /// Counts, per numeric-block feature with a clip range, the non-missing values of `table`
    /// outside it (what `teleseg data check` reports).
    pub fn clip_counts(&self, table: &RawTable) -> Result<Vec<ClipCount>, PreprocessError> {
        let mut out = Vec::new();
        for f in &self.numeric {
            let Some([low, high]) = f.clip else { continue };
            let values = f
                .source
                .values(table)
                .map_err(|m| PreprocessError::MissingColumns {
                    table: table.source.clone(),
                    missing: vec![m],
                })?;
            out.push(ClipCount {
                feature: f.name.clone(),
                below: values.iter().filter(|&&x| x < f64::from(low)).count(),
                above: values.iter().filter(|&&x| x > f64::from(high)).count(),
            });
        }
        Ok(out)
    }

    /// The output columns.
    pub fn layout(&self) -> &FeatureLayout {
        &self.layout
    }

    /// Number of output columns (features per row).
    pub fn n_features(&self) -> usize {
        self.layout.names.len()
    }

    /// The numeric block (numeric columns then derived features), in output order.
    pub fn numeric_features(&self) -> &[NumericFeature] {
        &self.numeric
    }

    /// The binary features, in output order.
    pub fn binary_features(&self) -> &[BinaryFeature] {
        &self.binary
    }

    /// The categorical features, in output order.
    pub fn categorical_features(&self) -> &[CategoricalFeature] {
        &self.categorical
    }

    /// The preprocessing part of a checkpoint (docs/checkpoint-format.md §3): the fitted
    /// statistics as `preprocess.*` tensors, and the schema, this preprocessing and the feature
    /// names as `teleseg.schema`, `teleseg.preprocess` and `teleseg.features` metadata.
    pub fn bundle(
        &self,
        schema: &Schema,
    ) -> (Vec<crate::checkpoint::NamedTensor>, [(String, String); 3]) {
        use crate::checkpoint::{NamedTensor, keys};
        let tensors = self
            .tensors()
            .into_iter()
            .map(|(name, shape, values)| NamedTensor::new(name, shape, values))
            .collect();
        let meta = [
            (
                keys::SCHEMA.to_string(),
                serde_json::to_string(schema).expect("schema serializes"),
            ),
            (keys::PREPROCESS.to_string(), self.to_json().to_string()),
            (
                keys::FEATURES.to_string(),
                serde_json::to_string(&self.layout().names).expect("names serialize"),
            ),
        ];
        (tensors, meta)
    }

    /// The statistics as named f32 tensors `(name, shape, data)` for the checkpoint: see the
    /// module docs. Shapes are `[n_numeric_block]` and `[n_binary]` (possibly `[0]`).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        let n = self.numeric.len();
        let numeric = |name: &str, f: &dyn Fn(&NumericFeature) -> f32| {
            (
                format!("preprocess.numeric.{name}"),
                vec![n],
                self.numeric.iter().map(f).collect(),
            )
        };
        let nb = self.binary.len();
        let binary = |name: &str, f: &dyn Fn(&BinaryFeature) -> f32| {
            (
                format!("preprocess.binary.{name}"),
                vec![nb],
                self.binary.iter().map(f).collect(),
            )
        };
        vec![
            numeric("median", &|f| f.median),
            numeric("clip_low", &|f| f.clip.map_or(f32::NEG_INFINITY, |c| c[0])),
            numeric("clip_high", &|f| f.clip.map_or(f32::INFINITY, |c| c[1])),
            numeric("log1p", &|f| flag(f.log1p)),
            numeric("mean", &|f| f.mean),
            numeric("std", &|f| f.std),
            numeric("has_indicator", &|f| flag(f.has_indicator)),
            binary("mode", &|f| f.mode),
            binary("has_indicator", &|f| flag(f.has_indicator)),
        ]
    }

    /// The whole preprocessor as JSON (`format_version`, `numeric`, `binary`, `categorical`,
    /// `layout`); every float is finite.
    pub fn to_json(&self) -> serde_json::Value {
        // Serialization cannot fail: plain structs with string keys and finite floats.
        serde_json::to_value(PreprocessorSpec::from(self.clone())).unwrap_or_default()
    }

    /// Reads and validates what [`Preprocessor::to_json`] wrote.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, PreprocessError> {
        let spec =
            PreprocessorSpec::deserialize(v).map_err(|e| PreprocessError::Json(e.to_string()))?;
        Preprocessor::try_from(spec)
    }
}

fn unique_in_order(names: &mut Vec<String>) {
    let mut seen = HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
}

fn bad<T>(missing: &mut Vec<String>, role: &str, name: &str) -> Option<T> {
    missing.push(format!("{role} `{name}`"));
    None
}

fn check_rows(table: &RawTable, rows: &[usize]) -> Result<(), PreprocessError> {
    let n = table.n_rows();
    match rows.iter().find(|&&r| r >= n) {
        Some(&row) => Err(PreprocessError::RowOutOfRange { row, rows: n }),
        None => Ok(()),
    }
}

impl From<Preprocessor> for PreprocessorSpec {
    fn from(p: Preprocessor) -> Self {
        PreprocessorSpec {
            format_version: PREPROCESS_FORMAT_VERSION,
            numeric: p.numeric,
            binary: p.binary,
            categorical: p.categorical,
            layout: p.layout,
        }
    }
}

impl TryFrom<PreprocessorSpec> for Preprocessor {
    type Error = PreprocessError;

    fn try_from(s: PreprocessorSpec) -> Result<Self, Self::Error> {
        if !(1..=PREPROCESS_FORMAT_VERSION).contains(&s.format_version) {
            return Err(PreprocessError::UnsupportedVersion {
                found: s.format_version,
                supported: PREPROCESS_FORMAT_VERSION,
            });
        }
        let malformed = |m: String| Err(PreprocessError::Malformed(m));
        let mut names = HashSet::new();
        let all_names = s
            .numeric
            .iter()
            .map(|f| &f.name)
            .chain(s.binary.iter().map(|f| &f.name));
        for name in all_names.chain(s.categorical.iter().map(|f| &f.name)) {
            if !names.insert(name) {
                return malformed(format!("feature `{name}` appears twice"));
            }
        }
        for f in &s.numeric {
            let clip_ok = f
                .clip
                .is_none_or(|[l, h]| l.is_finite() && h.is_finite() && l <= h);
            if !(f.median.is_finite()
                && f.mean.is_finite()
                && f.std.is_finite()
                && f.std > 0.0
                && clip_ok)
            {
                return malformed(format!(
                    "feature `{}`: statistics must be finite, std > 0, clip low <= high",
                    f.name
                ));
            }
            if let NumericSource::Derived { floor, scale, .. } = f.source
                && !(floor > 0.0 && floor.is_finite() && scale.is_finite())
            {
                return malformed(format!(
                    "feature `{}`: derived floor must be > 0 and scale finite",
                    f.name
                ));
            }
        }
        for f in &s.binary {
            if f.mode != 0.0 && f.mode != 1.0 {
                return malformed(format!("binary feature `{}`: mode must be 0 or 1", f.name));
            }
        }
        for f in &s.categorical {
            let n = f.levels.len();
            let unique = f.levels.iter().collect::<HashSet<_>>().len() == n;
            let last_other = f.levels.last().is_some_and(|l| l == OTHER_LEVEL);
            let missing_ok = f
                .levels
                .iter()
                .position(|l| l == MISSING_LEVEL)
                .is_none_or(|i| i + 2 == n);
            if !(unique && last_other && missing_ok) {
                return malformed(format!(
                    "categorical feature `{}`: levels must be unique, end with `{OTHER_LEVEL}`, with `{MISSING_LEVEL}` (if any) just before it",
                    f.name
                ));
            }
        }
        let layout = FeatureLayout::build(&s.numeric, &s.binary, &s.categorical);
        if layout != s.layout {
            return malformed("layout does not match the features".to_string());
        }
        Ok(Preprocessor {
            numeric: s.numeric,
            binary: s.binary,
            categorical: s.categorical,
            layout,
        })
    }
}

#[cfg(test)]
mod tests;
