//! [`RawTable`]: a customer table held column-wise, in raw units, as read from CSV.
//!
//! Nothing here is preprocessed: numeric values are the file's numbers, categorical values are
//! dictionary codes of the file's strings. [`crate::data::preprocess`] turns a table into features.

/// Code of a missing categorical value (an empty cell).
pub const MISSING: u32 = u32::MAX;

/// A `role = "numeric"` column. Unit: whatever the schema's `unit` says.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericColumn {
    /// Header name (as in the schema).
    pub name: String,
    /// One value per row, raw units; `NaN` = missing (empty cell). Never ±inf.
    pub values: Vec<f64>,
}

/// A `role = "categorical"` column, dictionary-encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalColumn {
    /// Header name (as in the schema).
    pub name: String,
    /// One code per row: an index into `dictionary`, or [`MISSING`].
    pub codes: Vec<u32>,
    /// Distinct non-empty strings of the column, in order of first appearance in the file.
    pub dictionary: Vec<String>,
}

impl CategoricalColumn {
    /// The string of row `row`, `None` if missing.
    pub fn value(&self, row: usize) -> Option<&str> {
        match self.codes[row] {
            MISSING => None,
            code => Some(self.dictionary[code as usize].as_str()),
        }
    }
}

/// A `role = "binary"` column.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryColumn {
    /// Header name (as in the schema).
    pub name: String,
    /// One value per row: `0.0` or `1.0`; `NaN` = missing.
    pub values: Vec<f32>,
    /// How the input spelled 0 and 1 (the first text seen for each, e.g. `No` / `Yes`); `None`
    /// for the canonical `0` / `1` or a value never seen. Writers use it so that a synthetic or
    /// rewritten file keeps the input's own spelling.
    pub spelling: [Option<String>; 2],
}

impl BinaryColumn {
    /// The text of value `x` in the column's own spelling (`0`/`1` when unknown, empty when
    /// missing).
    pub fn text(&self, x: f32) -> String {
        if x.is_nan() {
            return String::new();
        }
        let v = usize::from(x >= 0.5);
        match (&self.spelling[v], &self.spelling[1 - v]) {
            (Some(t), _) => t.clone(),
            (None, Some(other)) => complement_spelling(other).unwrap_or_else(|| v.to_string()),
            (None, None) => v.to_string(),
        }
    }
}

/// The other half of a known binary spelling pair, in the same letter case (`Yes` → `No`,
/// `FALSE` → `TRUE`, `n` → `y`); None for an unknown word.
pub fn complement_spelling(text: &str) -> Option<String> {
    const PAIRS: [(&str, &str); 3] = [("no", "yes"), ("false", "true"), ("n", "y")];
    let lower = text.to_lowercase();
    let other = PAIRS.iter().find_map(|&(a, b)| match lower.as_str() {
        x if x == a => Some(b),
        x if x == b => Some(a),
        _ => None,
    })?;
    let upper = text.chars().all(|c| !c.is_lowercase());
    let title = text.chars().next().is_some_and(char::is_uppercase);
    Some(match (upper, title) {
        (true, _) => other.to_uppercase(),
        (false, true) => {
            let mut c = other.chars();
            c.next().map_or(String::new(), |f| {
                f.to_uppercase().collect::<String>() + c.as_str()
            })
        }
        _ => other.to_string(),
    })
}

/// A `role = "target"` column (a label for evaluation, never a model input).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetColumn {
    /// Header name (as in the schema).
    pub name: String,
    /// One value per row, the trimmed cell text; `None` = empty cell.
    pub values: Vec<Option<String>>,
}

/// A customer table held column-wise, as read from CSV (raw units, before preprocessing).
///
/// All vectors have one entry per row, in file order (skipped rows excluded). Column vectors are
/// in schema order within each role; `role = "ignore"` columns are not kept; `role = "target"`
/// columns are kept only when the file has them.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTable {
    /// The file path or source name (for messages).
    pub source: String,
    /// Customer id of each row (non-empty, unique).
    pub ids: Vec<String>,
    /// `role = "numeric"` columns, in schema order.
    pub numeric: Vec<NumericColumn>,
    /// `role = "categorical"` columns, in schema order.
    pub categorical: Vec<CategoricalColumn>,
    /// `role = "binary"` columns, in schema order.
    pub binary: Vec<BinaryColumn>,
    /// `role = "target"` columns present in the file, in schema order.
    pub targets: Vec<TargetColumn>,
    /// 1-based CSV line of each row (for messages).
    pub line_numbers: Vec<u64>,
}

impl RawTable {
    /// Rows `rows` of the table (in that order) as a new table.
    pub fn take_rows(&self, rows: &[usize]) -> RawTable {
        RawTable {
            source: self.source.clone(),
            ids: rows.iter().map(|&r| self.ids[r].clone()).collect(),
            numeric: self
                .numeric
                .iter()
                .map(|c| NumericColumn {
                    name: c.name.clone(),
                    values: rows.iter().map(|&r| c.values[r]).collect(),
                })
                .collect(),
            categorical: self
                .categorical
                .iter()
                .map(|c| CategoricalColumn {
                    name: c.name.clone(),
                    codes: rows.iter().map(|&r| c.codes[r]).collect(),
                    dictionary: c.dictionary.clone(),
                })
                .collect(),
            binary: self
                .binary
                .iter()
                .map(|c| BinaryColumn {
                    name: c.name.clone(),
                    values: rows.iter().map(|&r| c.values[r]).collect(),
                    spelling: c.spelling.clone(),
                })
                .collect(),
            targets: self
                .targets
                .iter()
                .map(|c| TargetColumn {
                    name: c.name.clone(),
                    values: rows.iter().map(|&r| c.values[r].clone()).collect(),
                })
                .collect(),
            line_numbers: rows.iter().map(|&r| self.line_numbers[r]).collect(),
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.ids.len()
    }

    /// The numeric column called `name`.
    pub fn numeric(&self, name: &str) -> Option<&NumericColumn> {
        self.numeric.iter().find(|c| c.name == name)
    }

    /// The categorical column called `name`.
    pub fn categorical(&self, name: &str) -> Option<&CategoricalColumn> {
        self.categorical.iter().find(|c| c.name == name)
    }

    /// The binary column called `name`.
    pub fn binary(&self, name: &str) -> Option<&BinaryColumn> {
        self.binary.iter().find(|c| c.name == name)
    }

    /// The target column called `name` (absent when the file did not have it).
    pub fn target(&self, name: &str) -> Option<&TargetColumn> {
        self.targets.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_text_keeps_the_input_spelling() {
        let col = BinaryColumn {
            name: "churn".into(),
            values: vec![],
            spelling: [Some("No".into()), Some("Yes".into())],
        };
        assert_eq!(col.text(0.0), "No");
        assert_eq!(col.text(1.0), "Yes");
        assert_eq!(col.text(f32::NAN), "");
        let half = BinaryColumn {
            spelling: [None, Some("TRUE".into())],
            ..col.clone()
        };
        assert_eq!(half.text(0.0), "FALSE", "the complement in the same case");
        let plain = BinaryColumn {
            spelling: [None, None],
            ..col
        };
        assert_eq!(plain.text(1.0), "1");
    }

    #[test]
    fn complements() {
        assert_eq!(complement_spelling("Yes").as_deref(), Some("No"));
        assert_eq!(complement_spelling("n").as_deref(), Some("y"));
        assert_eq!(complement_spelling("False").as_deref(), Some("True"));
        assert_eq!(complement_spelling("maybe"), None);
    }
}
