//! The data schema: what each column of a customer CSV means and how it is preprocessed.
//!
//! A schema is a TOML file. The generator writes the schema of its own data
//! (`teleseg generate` → `schema.toml`) so users can copy it and edit it for theirs:
//!
//! ```toml
//! name = "telecom-customers"
//!
//! [[columns]]
//! name = "customer_id"
//! role = "id"
//!
//! [[columns]]
//! name = "data_gb"
//! role = "numeric"
//! unit = "GB per month"
//! log1p = true
//! clip = [0.001, 0.999]
//!
//! [[derived]]
//! name = "avg_monthly_spend"
//! numerator = "total_charges"
//! denominator = "tenure_months"
//! ```
//!
//! Loading is strict: unknown keys are errors, and [`Schema::check`] enforces the rules listed on
//! [`SchemaError`] so a bad schema fails before any data is read.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a column is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The customer identifier: unique per row, never a model input.
    Id,
    /// A real-valued feature (imputed, winsorized, optionally log1p, standardized).
    Numeric,
    /// A string-valued feature (one-hot with an `other` bucket).
    Categorical,
    /// A 0/1 feature (`0/1`, `true/false`, `yes/no`, `y/n`).
    Binary,
    /// A label kept for evaluation (e.g. churn); never a model input.
    Target,
    /// Read and discarded.
    Ignore,
}

/// How missing values of a feature are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MissingPolicy {
    /// Numeric: train median. Binary: train mode. Categorical: a dedicated `<missing>` level.
    #[default]
    Impute,
    /// A missing value is a bad row (error, or skipped with `--on-bad-row skip`).
    Error,
}

/// How a numeric feature is scaled after impute / clip / log1p: `(x − shift) / divisor`, both
/// fitted on the train rows and stored as `preprocess.numeric.mean` / `.std`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// `standard`, unless one value holds at least [`DOMINANT_SHARE`] of the train rows (a
    /// sparse count, a rare event): then `minmax`, so the rare values land within one unit of
    /// the common one instead of becoming outliers of many standard deviations. (Default.)
    #[default]
    Auto,
    /// Mean and population standard deviation.
    Standard,
    /// Minimum and range: values in [0, 1] (the clip range bounds it when `clip` is set).
    Minmax,
    /// Median and interquartile range (the range when the IQR is 0).
    Robust,
    /// Unscaled (shift 0, divisor 1).
    None,
}

/// `scale = "auto"` takes `minmax` when one value holds at least this share of the train rows.
pub const DOMINANT_SHARE: f64 = 0.9;

fn is_auto(s: &Scale) -> bool {
    *s == Scale::Auto
}

/// One column of the input CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Header name in the CSV (exact match, case-sensitive).
    pub name: String,
    /// What the column is for.
    pub role: Role,
    /// Free-text unit, shown in profiles and reports (e.g. "minutes per month").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Numeric only: apply `ln(1 + max(x, 0))` after clipping (for skewed, non-negative values).
    #[serde(default, skip_serializing_if = "is_false")]
    pub log1p: bool,
    /// Numeric only: winsorize to these train quantiles `[low, high]`, `0 ≤ low < high ≤ 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<[f64; 2]>,
    /// Numeric only: `auto` (default), `standard`, `minmax`, `robust` or `none` (see [`Scale`]).
    #[serde(default, skip_serializing_if = "is_auto")]
    pub scale: Scale,
    /// Numeric only: the value is a whole number (the synthetic sampler rounds it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub integer: bool,
    /// Numeric only: smallest valid raw value, if any (values below are bad rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Numeric only: largest valid raw value, if any (values above are bad rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Categorical only: levels rarer than this share of train rows go to `other`. Default 0.005.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_frequency: Option<f64>,
    /// What to do with empty cells.
    #[serde(default)]
    pub missing: MissingPolicy,
}

/// A feature computed from two numeric columns: `numerator / max(denominator, floor) * scale`.
///
/// It is computed on raw values (before imputation); it is missing when either input is.
/// After that it is preprocessed like a numeric column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    /// Name of the derived feature (must not clash with a column).
    pub name: String,
    /// Numeric column on top.
    pub numerator: String,
    /// Numeric column below.
    pub denominator: String,
    /// The denominator is raised to at least this value (avoids division by zero). Default 1.
    #[serde(default = "one")]
    pub floor: f64,
    /// Multiplier applied to the ratio (e.g. 12 to turn "per month" into "per year"). Default 1.
    #[serde(default = "one")]
    pub scale: f64,
    /// Apply `ln(1 + max(x, 0))` like a numeric column.
    #[serde(default, skip_serializing_if = "is_false")]
    pub log1p: bool,
    /// Winsorize to these train quantiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<[f64; 2]>,
    /// How the feature is scaled, as a column's `scale` (`scale` here is the ratio's multiplier).
    #[serde(default, skip_serializing_if = "is_auto")]
    pub scaling: Scale,
    /// Free-text unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A whole schema: the columns of one CSV, in any order, plus derived features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// A name for the data set (shown in reports).
    #[serde(default = "default_name")]
    pub name: String,
    /// Every column the CSV must contain. Columns present in the file but not listed here are an
    /// error unless `allow_extra_columns` is true (then they are ignored).
    pub columns: Vec<Column>,
    /// Derived features, appended after the column features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<Derived>,
    /// Ignore CSV columns the schema does not list instead of failing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_extra_columns: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn one() -> f64 {
    1.0
}
fn default_name() -> String {
    "customers".to_string()
}

/// Every rule a schema can break. Messages name the column and the rule.
#[derive(Debug, Error, PartialEq)]
pub enum SchemaError {
    #[error("cannot read schema {path}: {message}")]
    Io { path: String, message: String },
    #[error("schema {path}: {message}")]
    Parse { path: String, message: String },
    /// A rule of [`Schema::check`] broken by the schema file at `path`.
    #[error("schema {path}: {rule}")]
    Invalid {
        path: String,
        rule: Box<SchemaError>,
    },
    #[error("schema has no columns")]
    NoColumns,
    #[error("schema must have exactly one column with role = \"id\" (found {0})")]
    IdCount(usize),
    #[error("schema has no feature column (numeric, categorical or binary)")]
    NoFeatures,
    #[error("column name `{0}` appears more than once")]
    DuplicateName(String),
    #[error("column `{0}`: name must not be empty")]
    EmptyName(String),
    #[error("column `{column}`: `{option}` only applies to {applies_to} columns")]
    OptionNotApplicable {
        column: String,
        option: &'static str,
        applies_to: &'static str,
    },
    #[error(
        "column `{column}`: clip quantiles must satisfy 0 <= low < high <= 1 (got [{low}, {high}])"
    )]
    BadClip { column: String, low: f64, high: f64 },
    #[error("column `{column}`: min ({min}) must be below max ({max})")]
    BadRange { column: String, min: f64, max: f64 },
    #[error("column `{column}`: min_frequency must be in [0, 1) (got {value})")]
    BadMinFrequency { column: String, value: f64 },
    #[error("derived `{derived}`: `{input}` is not a numeric column of the schema")]
    DerivedInput { derived: String, input: String },
    #[error("derived `{0}`: floor must be positive and scale finite and non-zero")]
    DerivedParams(String),
}

impl Schema {
    /// Reads and checks a schema file.
    pub fn load(path: &Path) -> Result<Schema, SchemaError> {
        let text = std::fs::read_to_string(path).map_err(|e| SchemaError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Schema::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a schema from TOML text; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Schema, SchemaError> {
        let schema: Schema = toml::from_str(text).map_err(|e| SchemaError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        schema.check().map_err(|rule| SchemaError::Invalid {
            path: origin.to_string(),
            rule: Box::new(rule),
        })?;
        Ok(schema)
    }

    /// The schema as TOML text (what `teleseg generate` writes).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a schema always serializes")
    }

    /// Enforces every rule of [`SchemaError`].
    pub fn check(&self) -> Result<(), SchemaError> {
        if self.columns.is_empty() {
            return Err(SchemaError::NoColumns);
        }
        let mut seen = HashSet::new();
        for c in &self.columns {
            if c.name.trim().is_empty() {
                return Err(SchemaError::EmptyName(c.name.clone()));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(SchemaError::DuplicateName(c.name.clone()));
            }
            check_column(c)?;
        }
        let ids = self.columns.iter().filter(|c| c.role == Role::Id).count();
        if ids != 1 {
            return Err(SchemaError::IdCount(ids));
        }
        if !self.columns.iter().any(|c| c.role.is_feature()) {
            return Err(SchemaError::NoFeatures);
        }
        for d in &self.derived {
            if !seen.insert(d.name.as_str()) {
                return Err(SchemaError::DuplicateName(d.name.clone()));
            }
            for input in [&d.numerator, &d.denominator] {
                let ok = self
                    .columns
                    .iter()
                    .any(|c| &c.name == input && c.role == Role::Numeric);
                if !ok {
                    return Err(SchemaError::DerivedInput {
                        derived: d.name.clone(),
                        input: input.clone(),
                    });
                }
            }
            if !(d.floor > 0.0 && d.floor.is_finite() && d.scale.is_finite() && d.scale != 0.0) {
                return Err(SchemaError::DerivedParams(d.name.clone()));
            }
            if let Some([low, high]) = d.clip {
                check_clip(&d.name, low, high)?;
            }
        }
        Ok(())
    }

    /// The id column.
    pub fn id_column(&self) -> &Column {
        self.columns
            .iter()
            .find(|c| c.role == Role::Id)
            .expect("checked schema has an id column")
    }

    /// Looks a column up by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl Role {
    /// Numeric, categorical and binary columns feed the models.
    pub fn is_feature(self) -> bool {
        matches!(self, Role::Numeric | Role::Categorical | Role::Binary)
    }
}

fn check_clip(column: &str, low: f64, high: f64) -> Result<(), SchemaError> {
    if !((0.0..1.0).contains(&low) && high > low && high <= 1.0) {
        return Err(SchemaError::BadClip {
            column: column.to_string(),
            low,
            high,
        });
    }
    Ok(())
}

fn check_column(c: &Column) -> Result<(), SchemaError> {
    let not_applicable = |option, applies_to| SchemaError::OptionNotApplicable {
        column: c.name.clone(),
        option,
        applies_to,
    };
    let numeric = c.role == Role::Numeric;
    if !numeric {
        if c.log1p {
            return Err(not_applicable("log1p", "numeric"));
        }
        if c.clip.is_some() {
            return Err(not_applicable("clip", "numeric"));
        }
        if c.integer {
            return Err(not_applicable("integer", "numeric"));
        }
        if c.min.is_some() {
            return Err(not_applicable("min", "numeric"));
        }
        if c.max.is_some() {
            return Err(not_applicable("max", "numeric"));
        }
    }
    if c.role != Role::Categorical && c.min_frequency.is_some() {
        return Err(not_applicable("min_frequency", "categorical"));
    }
    if let Some([low, high]) = c.clip {
        check_clip(&c.name, low, high)?;
    }
    if let (Some(min), Some(max)) = (c.min, c.max)
        && min >= max
    {
        return Err(SchemaError::BadRange {
            column: c.name.clone(),
            min,
            max,
        });
    }
    if let Some(f) = c.min_frequency
        && !(0.0..1.0).contains(&f)
    {
        return Err(SchemaError::BadMinFrequency {
            column: c.name.clone(),
            value: f,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[columns]]
name = "id"
role = "id"
[[columns]]
name = "x"
role = "numeric"
"#;

    /// Parses `BASE + extra`; a broken rule comes back unwrapped from its `Invalid` (which must
    /// name the file).
    fn parse(extra: &str) -> Result<Schema, SchemaError> {
        Schema::parse(&format!("{BASE}{extra}"), "test.toml").map_err(|e| match e {
            SchemaError::Invalid { path, rule } => {
                assert_eq!(path, "test.toml");
                *rule
            }
            other => other,
        })
    }

    #[test]
    fn minimal_schema_is_valid() {
        let s = parse("").unwrap();
        assert_eq!(s.id_column().name, "id");
        assert_eq!(s.name, "customers");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let err = parse("[[columns]]\nname = \"y\"\nrole = \"numeric\"\nlog = true\n").unwrap_err();
        assert!(matches!(err, SchemaError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("unknown field `log`"), "{err}");
    }

    #[test]
    fn unknown_role_is_rejected() {
        let err = parse("[[columns]]\nname = \"y\"\nrole = \"numerc\"\n").unwrap_err();
        assert!(err.to_string().contains("numerc"), "{err}");
    }

    #[test]
    fn duplicate_column_is_rejected() {
        let err = parse("[[columns]]\nname = \"x\"\nrole = \"binary\"\n").unwrap_err();
        assert_eq!(err, SchemaError::DuplicateName("x".into()));
    }

    #[test]
    fn two_ids_are_rejected() {
        let err = parse("[[columns]]\nname = \"id2\"\nrole = \"id\"\n").unwrap_err();
        assert_eq!(err, SchemaError::IdCount(2));
    }

    #[test]
    fn no_feature_is_rejected() {
        let text = "[[columns]]\nname = \"id\"\nrole = \"id\"\n[[columns]]\nname = \"t\"\nrole = \"target\"\n";
        assert_eq!(
            Schema::parse(text, "t.toml").unwrap_err(),
            SchemaError::Invalid {
                path: "t.toml".into(),
                rule: Box::new(SchemaError::NoFeatures)
            }
        );
        assert_eq!(
            Schema::parse(text, "t.toml").unwrap_err().to_string(),
            "schema t.toml: schema has no feature column (numeric, categorical or binary)"
        );
    }

    #[test]
    fn empty_columns_are_rejected() {
        assert_eq!(
            Schema::parse("columns = []", "t").unwrap_err(),
            SchemaError::Invalid {
                path: "t".into(),
                rule: Box::new(SchemaError::NoColumns)
            }
        );
    }

    #[test]
    fn log1p_on_categorical_is_rejected() {
        let err =
            parse("[[columns]]\nname = \"c\"\nrole = \"categorical\"\nlog1p = true\n").unwrap_err();
        assert!(matches!(
            err,
            SchemaError::OptionNotApplicable {
                option: "log1p",
                ..
            }
        ));
    }

    #[test]
    fn min_frequency_on_numeric_is_rejected() {
        let err = parse("[[columns]]\nname = \"c\"\nrole = \"numeric\"\nmin_frequency = 0.1\n")
            .unwrap_err();
        assert!(matches!(
            err,
            SchemaError::OptionNotApplicable {
                option: "min_frequency",
                ..
            }
        ));
    }

    #[test]
    fn bad_clip_is_rejected() {
        let err = parse("[[columns]]\nname = \"c\"\nrole = \"numeric\"\nclip = [0.9, 0.1]\n")
            .unwrap_err();
        assert!(matches!(err, SchemaError::BadClip { .. }));
    }

    #[test]
    fn bad_range_is_rejected() {
        let err = parse("[[columns]]\nname = \"c\"\nrole = \"numeric\"\nmin = 5.0\nmax = 1.0\n")
            .unwrap_err();
        assert!(matches!(err, SchemaError::BadRange { .. }));
    }

    #[test]
    fn bad_min_frequency_is_rejected() {
        let err = parse("[[columns]]\nname = \"c\"\nrole = \"categorical\"\nmin_frequency = 1.5\n")
            .unwrap_err();
        assert!(matches!(err, SchemaError::BadMinFrequency { .. }));
    }

    #[test]
    fn derived_needs_numeric_inputs() {
        let err = parse("[[derived]]\nname = \"r\"\nnumerator = \"x\"\ndenominator = \"nope\"\n")
            .unwrap_err();
        assert!(matches!(err, SchemaError::DerivedInput { .. }));
    }

    #[test]
    fn derived_floor_must_be_positive() {
        let err = parse(
            "[[derived]]\nname = \"r\"\nnumerator = \"x\"\ndenominator = \"x\"\nfloor = 0.0\n",
        )
        .unwrap_err();
        assert_eq!(err, SchemaError::DerivedParams("r".into()));
    }

    #[test]
    fn schema_round_trips_through_toml() {
        let s = parse(
            "[[derived]]\nname = \"r\"\nnumerator = \"x\"\ndenominator = \"x\"\nscale = 12.0\n",
        )
        .unwrap();
        let again = Schema::parse(&s.to_toml(), "again").unwrap();
        assert_eq!(s, again);
    }
}
