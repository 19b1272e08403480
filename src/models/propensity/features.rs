//! The trees' inputs and target, read from a [`RawTable`] in raw units.
//!
//! Trees need no scaling, imputation or one-hot encoding: numeric columns go in as their raw
//! values, binary columns as 0/1, categorical columns as the index of their level in the sorted
//! list of levels seen in the training rows; a missing cell, and a level the training rows never
//! had, is NaN (the trees learn where missing values go). Reasons can therefore name raw values
//! (`contract=Month-to-month`, `tenure=2`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::config::{PropensityConfig, TaskKind};
use crate::data::schema::{Role, Schema};
use crate::data::table::{MISSING, RawTable};
use crate::error::UsageError;

/// One input column of the trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Feature {
    /// The raw value (NaN when missing).
    Numeric { name: String },
    /// 0 or 1 (NaN when missing).
    Binary { name: String },
    /// The index of the cell's level in `levels` (NaN when missing or unseen in training).
    Categorical { name: String, levels: Vec<String> },
}

impl Feature {
    pub fn name(&self) -> &str {
        match self {
            Feature::Numeric { name } | Feature::Binary { name } => name,
            Feature::Categorical { name, .. } => name,
        }
    }
}

/// The ordered inputs of the trees (stored in the checkpoint as `teleseg.features`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub features: Vec<Feature>,
}

impl FeatureSpec {
    /// Every numeric, binary and categorical column of `table` (schema order within each role);
    /// categorical levels are those of the rows `rows`, sorted.
    pub fn fit(table: &RawTable, rows: &[usize]) -> FeatureSpec {
        let mut features: Vec<Feature> = table
            .numeric
            .iter()
            .map(|c| Feature::Numeric {
                name: c.name.clone(),
            })
            .collect();
        features.extend(table.binary.iter().map(|c| Feature::Binary {
            name: c.name.clone(),
        }));
        features.extend(table.categorical.iter().map(|c| {
            let seen: BTreeSet<&str> = rows
                .iter()
                .filter(|&&r| c.codes[r] != MISSING)
                .map(|&r| c.dictionary[c.codes[r] as usize].as_str())
                .collect();
            Feature::Categorical {
                name: c.name.clone(),
                levels: seen.into_iter().map(str::to_string).collect(),
            }
        }));
        FeatureSpec { features }
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    pub fn names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name().to_string()).collect()
    }

    /// The input matrix of every row of `table`, column-major (`[n_features][rows]`, as
    /// perpetual's `Matrix` wants it).
    pub fn matrix(&self, table: &RawTable) -> anyhow::Result<Vec<f64>> {
        let rows = table.n_rows();
        let mut out = Vec::with_capacity(rows * self.features.len());
        for f in &self.features {
            let missing = || {
                anyhow::anyhow!(
                    "{}: has no column `{}` (the model was trained with it)",
                    table.source,
                    f.name()
                )
            };
            match f {
                Feature::Numeric { name } => {
                    out.extend_from_slice(&table.numeric(name).ok_or_else(missing)?.values)
                }
                Feature::Binary { name } => out.extend(
                    table
                        .binary(name)
                        .ok_or_else(missing)?
                        .values
                        .iter()
                        .map(|&v| f64::from(v)),
                ),
                Feature::Categorical { name, levels } => {
                    let c = table.categorical(name).ok_or_else(missing)?;
                    // The table's dictionary → the model's level index (NaN for unseen levels).
                    let map: Vec<f64> = c
                        .dictionary
                        .iter()
                        .map(|l| {
                            levels
                                .binary_search_by(|x| x.as_str().cmp(l))
                                .map_or(f64::NAN, |i| i as f64)
                        })
                        .collect();
                    out.extend(c.codes.iter().map(|&code| match code {
                        MISSING => f64::NAN,
                        code => map[code as usize],
                    }));
                }
            }
        }
        Ok(out)
    }

    /// Row `row` of feature `j` as the customer's own text (`Month-to-month`, `2`, `Yes`).
    pub fn value_text(&self, table: &RawTable, j: usize, row: usize) -> String {
        match &self.features[j] {
            Feature::Numeric { name } => table.numeric(name).map_or(String::new(), |c| {
                let v = c.values[row];
                if v.is_nan() {
                    "missing".to_string()
                } else {
                    format!("{}", (v * 1e4).round() / 1e4)
                }
            }),
            Feature::Binary { name } => table.binary(name).map_or(String::new(), |c| {
                let v = c.values[row];
                if v.is_nan() {
                    "missing".to_string()
                } else {
                    c.text(v)
                }
            }),
            Feature::Categorical { name, .. } => table
                .categorical(name)
                .and_then(|c| c.value(row))
                .unwrap_or("missing")
                .to_string(),
        }
    }
}

/// The target of a run (stored in the checkpoint as part of `teleseg.model`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetSpec {
    /// `positive` → 1, `negative` → 0.
    Binary {
        name: String,
        positive: String,
        negative: String,
    },
    /// The cell as a number.
    Regression { name: String },
}

impl TargetSpec {
    pub fn name(&self) -> &str {
        match self {
            TargetSpec::Binary { name, .. } | TargetSpec::Regression { name } => name,
        }
    }

    /// The output column of `teleseg score`: `<target>_probability` or `<target>_prediction`.
    pub fn output_column(&self) -> String {
        match self {
            TargetSpec::Binary { name, .. } => format!("{name}_probability"),
            TargetSpec::Regression { name } => format!("{name}_prediction"),
        }
    }

    /// Decides the target from the schema, the config and the training rows. Errors (usage
    /// errors: exit 2) name the file and the column: a name that is not a target-role column
    /// of the schema, a column absent from the file, a value missing, a constant target, a
    /// binary target with one class in the training rows, a numeric target with a cell that is
    /// not a number, a `positive` that is not one of the two values.
    pub fn fit(
        schema: &Schema,
        schema_path: &str,
        table: &RawTable,
        train_rows: &[usize],
        cfg: &PropensityConfig,
    ) -> Result<TargetSpec, UsageError> {
        let name = cfg.target.as_str();
        let targets: Vec<&str> = schema
            .columns
            .iter()
            .filter(|c| c.role == Role::Target)
            .map(|c| c.name.as_str())
            .collect();
        match schema.column(name) {
            Some(c) if c.role == Role::Target => {}
            Some(c) => {
                return Err(UsageError(format!(
                    "{schema_path}: column `{name}` has role = \"{:?}\"; propensity.target needs \
                     a role = \"target\" column (this schema's: {targets:?})",
                    c.role
                )));
            }
            None => {
                return Err(UsageError(format!(
                    "{schema_path}: no column `{name}` (propensity.target); the schema's target \
                     columns: {targets:?}"
                )));
            }
        }
        let col = table.target(name).ok_or_else(|| {
            UsageError(format!(
                "{}: has no column `{name}` (propensity.target)",
                table.source
            ))
        })?;
        if let Some(i) = col.values.iter().position(Option::is_none) {
            return Err(UsageError(format!(
                "{}:{}: column `{name}` is empty; the target must be known for every customer \
                 (remove the row or use --on-bad-row skip for broken rows)",
                table.source, table.line_numbers[i]
            )));
        }
        let distinct: BTreeSet<&str> = col.values.iter().flatten().map(String::as_str).collect();
        if distinct.len() < 2 {
            return Err(UsageError(format!(
                "{}: column `{name}` (propensity.target) is constant ({:?}): nothing to predict",
                table.source,
                distinct.iter().next().copied().unwrap_or("")
            )));
        }
        let numeric = distinct
            .iter()
            .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite));
        let task = match cfg.task {
            TaskKind::Auto if distinct.len() == 2 => TaskKind::Binary,
            TaskKind::Auto if numeric => TaskKind::Regression,
            TaskKind::Auto => {
                return Err(UsageError(format!(
                    "{}: column `{name}` (propensity.target) has {} distinct values that are not \
                     all numbers: neither binary nor numeric (set propensity.task)",
                    table.source,
                    distinct.len()
                )));
            }
            t => t,
        };
        if task == TaskKind::Regression {
            if let Some(i) = col.values.iter().position(|v| {
                !v.as_deref()
                    .is_some_and(|v| v.parse::<f64>().is_ok_and(f64::is_finite))
            }) {
                return Err(UsageError(format!(
                    "{}:{}: column `{name}` = {:?} is not a number (propensity.task = regression)",
                    table.source,
                    table.line_numbers[i],
                    col.values[i].as_deref().unwrap_or("")
                )));
            }
            return Ok(TargetSpec::Regression {
                name: name.to_string(),
            });
        }
        if distinct.len() != 2 {
            return Err(UsageError(format!(
                "{}: column `{name}` has {} distinct values; a binary target needs exactly two",
                table.source,
                distinct.len()
            )));
        }
        let values: Vec<&str> = distinct.into_iter().collect();
        let count = |v: &str| {
            train_rows
                .iter()
                .filter(|&&r| col.values[r].as_deref() == Some(v))
                .count()
        };
        if let Some(v) = values.iter().find(|v| count(v) == 0) {
            return Err(UsageError(format!(
                "{}: column `{name}`: no training row has the value {v:?} (one class in train)",
                table.source
            )));
        }
        let positive = match &cfg.positive {
            Some(p) if values.contains(&p.as_str()) => p.clone(),
            Some(p) => {
                return Err(UsageError(format!(
                    "{}: propensity.positive = {p:?} is not a value of column `{name}` \
                     ({values:?})",
                    table.source
                )));
            }
            None => {
                const YES: [&str; 5] = ["1", "yes", "true", "y", "t"];
                match values
                    .iter()
                    .find(|v| YES.contains(&v.to_lowercase().as_str()))
                {
                    Some(v) => v.to_string(),
                    // The rarer class (the later one in sorted order on a tie).
                    None if count(values[0]) < count(values[1]) => values[0].to_string(),
                    None => values[1].to_string(),
                }
            }
        };
        let negative = values
            .iter()
            .find(|v| **v != positive)
            .expect("two values")
            .to_string();
        Ok(TargetSpec::Binary {
            name: name.to_string(),
            positive,
            negative,
        })
    }

    /// The target of rows `rows` as numbers (binary: 1 for the positive class, 0 else).
    pub fn values(&self, table: &RawTable, rows: &[usize]) -> anyhow::Result<Vec<f64>> {
        let col = table
            .target(self.name())
            .ok_or_else(|| anyhow::anyhow!("{}: has no column `{}`", table.source, self.name()))?;
        rows.iter()
            .map(|&r| {
                let cell = col.values[r].as_deref().unwrap_or("");
                match self {
                    TargetSpec::Binary { positive, .. } => {
                        Ok(f64::from(u8::from(cell == positive)))
                    }
                    TargetSpec::Regression { name } => cell.parse::<f64>().map_err(|_| {
                        anyhow::anyhow!(
                            "{}:{}: column `{name}` = {cell:?} is not a number",
                            table.source,
                            table.line_numbers[r]
                        )
                    }),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::reader::{ReadOptions, read_csv_from_reader};

    fn table(rows: &str) -> (Schema, RawTable) {
        let schema = Schema::parse(
            "[[columns]]\nname = \"id\"\nrole = \"id\"\n[[columns]]\nname = \"x\"\nrole = \
             \"numeric\"\n[[columns]]\nname = \"y\"\nrole = \"target\"\n",
            "s.toml",
        )
        .unwrap();
        let text = format!("id,x,y\n{rows}");
        let (t, _) =
            read_csv_from_reader(text.as_bytes(), "t.csv", &schema, &ReadOptions::default())
                .unwrap();
        (schema, t)
    }

    #[test]
    fn one_class_in_the_training_rows_is_a_usage_error() {
        let (schema, t) = table("a,1,no\nb,2,no\nc,3,yes\nd,4,no\n");
        let cfg = PropensityConfig {
            target: "y".into(),
            ..Default::default()
        };
        // Row 2 (the only "yes") is held out: the training rows hold one class.
        let err = TargetSpec::fit(&schema, "s.toml", &t, &[0, 1, 3], &cfg).unwrap_err();
        assert!(
            err.0.contains("t.csv")
                && err.0.contains("`y`")
                && err.0.contains("one class in train"),
            "{}",
            err.0
        );
        // With it, `yes` (spelled like a positive) is the positive class.
        let ok = TargetSpec::fit(&schema, "s.toml", &t, &[0, 1, 2], &cfg).unwrap();
        assert!(matches!(ok, TargetSpec::Binary { ref positive, .. } if positive == "yes"));
    }
}
