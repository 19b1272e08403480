//! One feature at a time: the fitted statistics of numeric, binary and categorical features, how
//! each is fitted on train rows and how it is applied (rules in the parent module's docs).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{MISSING_LEVEL, OTHER_LEVEL, PreprocessError};
use crate::data::schema::{DOMINANT_SHARE, Scale};
use crate::data::stats::quantile;
use crate::data::table::{BinaryColumn, CategoricalColumn, MISSING, RawTable};

/// Where a numeric-block feature comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NumericSource {
    /// A `role = "numeric"` column.
    Column {
        /// Header name.
        column: String,
    },
    /// `numerator / max(denominator, floor) * scale` of two numeric columns' raw values.
    Derived {
        /// Numeric column on top.
        numerator: String,
        /// Numeric column below.
        denominator: String,
        /// Lower bound applied to the denominator (> 0).
        floor: f64,
        /// Multiplier of the ratio.
        scale: f64,
    },
}

impl NumericSource {
    /// Raw values of every row of `table` (`NaN` = missing); `Err` names the absent column.
    pub(crate) fn values<'t>(&self, table: &'t RawTable) -> Result<Cow<'t, [f64]>, String> {
        let column = |name: &str| {
            table
                .numeric(name)
                .map(|c| c.values.as_slice())
                .ok_or_else(|| format!("numeric `{name}`"))
        };
        match self {
            NumericSource::Column { column: name } => Ok(Cow::Borrowed(column(name)?)),
            NumericSource::Derived {
                numerator,
                denominator,
                floor,
                scale,
            } => {
                let (num, den) = (column(numerator)?, column(denominator)?);
                let ratio = num.iter().zip(den).map(|(&n, &d)| {
                    let r = n / d.max(*floor) * scale;
                    // NaN inputs give NaN (missing); `max` would hide a NaN denominator.
                    if d.is_nan() || !r.is_finite() {
                        f64::NAN
                    } else {
                        r
                    }
                });
                Ok(Cow::Owned(ratio.collect()))
            }
        }
    }
}

/// The fitted statistics of one numeric-block feature (values in the feature's raw unit, except
/// `mean`/`std`, which are in log1p unit when `log1p`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericFeature {
    /// Feature name (column or derived name).
    pub name: String,
    /// Where the raw value comes from.
    pub source: NumericSource,
    /// Train median, replaces missing values.
    pub median: f32,
    /// `[clip_low, clip_high]` train quantiles; `None` = no clipping (±inf in the tensors).
    pub clip: Option<[f32; 2]>,
    /// Apply `ln(1 + max(x, 0))` after clipping.
    pub log1p: bool,
    /// How `mean` and `std` were fitted (`standard`, `minmax`, `robust` or `none`; never `auto`,
    /// which is resolved at fit). Files of preprocessing format 1 are all `standard`.
    #[serde(default = "standard")]
    pub scale: Scale,
    /// The shift after impute/clip/log1p: the train mean (`standard`), minimum (`minmax`),
    /// median (`robust`) or 0 (`none`).
    pub mean: f32,
    /// The divisor: the train population std (`standard`), range (`minmax`), interquartile range
    /// (`robust`; the range when it is 0) or 1 (`none`); 1 whenever it was below 1e-12.
    pub std: f32,
    /// A missing indicator follows the value.
    pub has_indicator: bool,
}

impl NumericFeature {
    /// Impute, clip and log1p one raw value (f64 arithmetic on the f32 statistics).
    fn prepare(&self, x: f64) -> f64 {
        let mut x = if x.is_nan() {
            f64::from(self.median)
        } else {
            x
        };
        if let Some([low, high]) = self.clip {
            x = x.clamp(f64::from(low), f64::from(high));
        }
        if self.log1p { x.max(0.0).ln_1p() } else { x }
    }

    /// The scaled feature value of one raw value (`NaN` = missing).
    pub fn apply(&self, x: f64) -> f32 {
        ((self.prepare(x) - f64::from(self.mean)) / f64::from(self.std)) as f32
    }
}

/// The fitted statistics of one binary feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryFeature {
    /// Column name.
    pub name: String,
    /// Train mode (0 or 1), replaces missing values.
    pub mode: f32,
    /// A missing indicator follows the value.
    pub has_indicator: bool,
}

/// The fitted levels of one categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoricalFeature {
    /// Column name.
    pub name: String,
    /// One-hot levels in output order: kept levels, then `<missing>` if any, then `other`.
    pub levels: Vec<String>,
}

impl CategoricalFeature {
    /// Offset within the one-hot block of each dictionary code of `col`, and of a missing value.
    pub(super) fn offsets(&self, col: &CategoricalColumn) -> (Vec<usize>, usize) {
        let other = self.levels.len() - 1;
        let index: HashMap<&str, usize> = self
            .levels
            .iter()
            .enumerate()
            .filter(|(_, l)| !is_reserved(l))
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let by_code = col
            .dictionary
            .iter()
            .map(|s| index.get(s.as_str()).copied().unwrap_or(other))
            .collect();
        let missing = self
            .levels
            .iter()
            .position(|l| l == MISSING_LEVEL)
            .unwrap_or(other);
        (by_code, missing)
    }
}

pub(super) fn is_reserved(level: &str) -> bool {
    level == OTHER_LEVEL || level == MISSING_LEVEL
}

/// Rounds a statistic to f32, refusing overflow.
fn to_f32(feature: &str, statistic: &'static str, value: f64) -> Result<f32, PreprocessError> {
    let v = value as f32;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(PreprocessError::StatisticOverflow {
            feature: feature.to_string(),
            statistic,
            value,
        })
    }
}

fn standard() -> Scale {
    Scale::Standard
}

/// `scale = "auto"` resolved on sorted prepared train values: `minmax` when one value holds at
/// least [`DOMINANT_SHARE`] of them, else `standard`.
fn resolve_auto(sorted: &[f64]) -> Scale {
    let (mut best, mut run) = (0usize, 0usize);
    for (i, x) in sorted.iter().enumerate() {
        run = if i > 0 && *x == sorted[i - 1] {
            run + 1
        } else {
            1
        };
        best = best.max(run);
    }
    if !sorted.is_empty() && best as f64 >= DOMINANT_SHARE * sorted.len() as f64 {
        Scale::Minmax
    } else {
        Scale::Standard
    }
}

pub(super) fn fit_numeric(
    name: String,
    source: NumericSource,
    values: &[f64],
    rows: &[usize],
    clip: Option<[f64; 2]>,
    log1p: bool,
    scale: Scale,
) -> Result<NumericFeature, PreprocessError> {
    let mut present: Vec<f64> = rows
        .iter()
        .map(|&r| values[r])
        .filter(|x| !x.is_nan())
        .collect();
    present.sort_unstable_by(f64::total_cmp);
    let median = if present.is_empty() {
        0.0
    } else {
        quantile(&present, 0.5)
    };
    let clip = match clip {
        Some([low, high]) if !present.is_empty() => Some([
            to_f32(&name, "clip_low", quantile(&present, low))?,
            to_f32(&name, "clip_high", quantile(&present, high))?,
        ]),
        _ => None,
    };
    let mut f = NumericFeature {
        median: to_f32(&name, "median", median)?,
        has_indicator: present.len() < rows.len(),
        name,
        source,
        clip,
        log1p,
        scale: Scale::Standard,
        mean: 0.0,
        std: 1.0,
    };
    let mut prepared: Vec<f64> = rows.iter().map(|&r| f.prepare(values[r])).collect();
    f.scale = match scale {
        Scale::Auto => {
            let mut sorted = prepared.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            resolve_auto(&sorted)
        }
        other => other,
    };
    let (shift, divisor) = match f.scale {
        Scale::Standard | Scale::Auto => {
            let n = prepared.len() as f64;
            let mean = prepared.iter().sum::<f64>() / n;
            let var = prepared.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            (mean, var.sqrt())
        }
        Scale::Minmax | Scale::Robust => {
            prepared.sort_unstable_by(f64::total_cmp);
            let (lo, hi) = (prepared[0], prepared[prepared.len() - 1]);
            match f.scale {
                Scale::Minmax => (lo, hi - lo),
                _ => {
                    let iqr = quantile(&prepared, 0.75) - quantile(&prepared, 0.25);
                    let divisor = if iqr < 1e-12 { hi - lo } else { iqr };
                    (quantile(&prepared, 0.5), divisor)
                }
            }
        }
        Scale::None => (0.0, 1.0),
    };
    f.mean = to_f32(&f.name, "mean", shift)?;
    f.std = if divisor < 1e-12 {
        1.0
    } else {
        to_f32(&f.name, "std", divisor)?
    };
    Ok(f)
}

pub(super) fn fit_binary(col: &BinaryColumn, rows: &[usize]) -> BinaryFeature {
    let (mut ones, mut zeros, mut missing) = (0usize, 0usize, false);
    for &r in rows {
        match col.values[r] {
            x if x.is_nan() => missing = true,
            1.0 => ones += 1,
            _ => zeros += 1,
        }
    }
    BinaryFeature {
        name: col.name.clone(),
        mode: if ones > zeros { 1.0 } else { 0.0 },
        has_indicator: missing,
    }
}

pub(super) fn fit_categorical(
    col: &CategoricalColumn,
    rows: &[usize],
    min_frequency: f64,
) -> CategoricalFeature {
    let mut counts = vec![0usize; col.dictionary.len()];
    let mut missing = 0usize;
    for &r in rows {
        match col.codes[r] {
            MISSING => missing += 1,
            code => counts[code as usize] += 1,
        }
    }
    let n = rows.len() as f64;
    let mut kept: Vec<(&str, usize)> = col
        .dictionary
        .iter()
        .zip(counts)
        .filter(|&(level, count)| {
            count > 0 && !is_reserved(level) && count as f64 / n >= min_frequency
        })
        .map(|(level, count)| (level.as_str(), count))
        .collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut levels: Vec<String> = kept.into_iter().map(|(l, _)| l.to_string()).collect();
    if missing > 0 {
        levels.push(MISSING_LEVEL.to_string());
    }
    levels.push(OTHER_LEVEL.to_string());
    CategoricalFeature {
        name: col.name.clone(),
        levels,
    }
}
