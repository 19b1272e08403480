//! The data-check summary printed by `teleseg data check` and `teleseg pipeline`: per column,
//! missing share, numeric min/median/max, value counts, and (given a fitted preprocessor) how many
//! values its clip ranges cut.

use std::collections::HashMap;
use std::fmt;

use super::preprocess::{NumericSource, Preprocessor};
use super::reader::ReadReport;
use super::schema::{Role, Schema};
use super::table::{MISSING, RawTable};

/// How many most frequent values [`summarize`] lists per categorical or target column.
pub const TOP_VALUES: usize = 10;

/// What a summarized column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// A column of the file with this schema role.
    Column(Role),
    /// A derived feature of the schema (computed, not read).
    Derived,
    /// A schema target column that the file does not have.
    AbsentTarget,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnKind::Column(Role::Id) => "id",
            ColumnKind::Column(Role::Numeric) => "numeric",
            ColumnKind::Column(Role::Categorical) => "categorical",
            ColumnKind::Column(Role::Binary) => "binary",
            ColumnKind::Column(Role::Target) => "target",
            ColumnKind::Column(Role::Ignore) => "ignore",
            ColumnKind::Derived => "derived",
            ColumnKind::AbsentTarget => "target (absent)",
        })
    }
}

/// Statistics of one column over all rows of the table.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnStats {
    /// Nothing to report (id, ignored or absent columns).
    None,
    /// Numeric or derived, raw units. `min`/`median`/`max` are `NaN` when every value is missing.
    Numeric {
        /// Smallest non-missing value.
        min: f64,
        /// Median of the non-missing values.
        median: f64,
        /// Largest non-missing value.
        max: f64,
        /// Values below / above the fitted clip range, when a preprocessor with a clip range for
        /// this feature was given.
        clipped: Option<(usize, usize)>,
    },
    /// Binary: count of ones and zeros among non-missing values.
    Binary {
        /// Number of 1 values.
        ones: usize,
        /// Number of 0 values.
        zeros: usize,
    },
    /// Categorical or target: the most frequent values.
    Values {
        /// Number of distinct non-missing values.
        distinct: usize,
        /// Up to [`TOP_VALUES`] `(value, count)`, by count descending then value ascending.
        top: Vec<(String, usize)>,
        /// Rows holding a non-missing value not in `top`.
        others: usize,
    },
}

/// One line of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSummary {
    /// Column or derived-feature name.
    pub name: String,
    /// What it is.
    pub kind: ColumnKind,
    /// Share of rows with a missing value, in `[0, 1]` (0 for ignored and absent columns).
    pub missing_share: f64,
    /// Role-specific statistics.
    pub stats: ColumnStats,
}

/// What `teleseg data check` prints (see its [`fmt::Display`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DataSummary {
    /// The file read.
    pub source: String,
    /// The schema's name.
    pub schema: String,
    /// Rows read into the table.
    pub rows: usize,
    /// Rows skipped as bad (with `--on-bad-row skip`).
    pub skipped_total: usize,
    /// The first skip reasons: (1-based line, reason).
    pub skipped: Vec<(u64, String)>,
    /// Header columns ignored because the schema allows extra columns.
    pub extra_columns: Vec<String>,
    /// Features per row after preprocessing, when a preprocessor was given.
    pub n_features: Option<usize>,
    /// Schema columns in schema order, then derived features.
    pub columns: Vec<ColumnSummary>,
    /// Problems met while summarizing (e.g. a preprocessor that does not match the table).
    pub notes: Vec<String>,
}

/// Summarizes `table` (read with `schema`, producing `report`); with `pre`, also counts the values
/// its clip ranges cut.
pub fn summarize(
    schema: &Schema,
    table: &RawTable,
    report: &ReadReport,
    pre: Option<&Preprocessor>,
) -> DataSummary {
    let rows = table.n_rows();
    let share = |missing: usize| {
        if rows == 0 {
            0.0
        } else {
            missing as f64 / rows as f64
        }
    };
    let mut notes = Vec::new();
    let clipped: HashMap<String, (usize, usize)> = match pre.map(|p| p.clip_counts(table)) {
        Some(Ok(counts)) => counts
            .into_iter()
            .map(|c| (c.feature, (c.below, c.above)))
            .collect(),
        Some(Err(e)) => {
            notes.push(format!("clipped values not counted: {e}"));
            HashMap::new()
        }
        None => HashMap::new(),
    };
    let numeric = |name: &str, values: &[f64]| {
        let mut present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        present.sort_unstable_by(f64::total_cmp);
        let (min, median, max) = match present.len() {
            0 => (f64::NAN, f64::NAN, f64::NAN),
            n if n % 2 == 1 => (present[0], present[n / 2], present[n - 1]),
            n => (
                present[0],
                (present[n / 2 - 1] + present[n / 2]) / 2.0,
                present[n - 1],
            ),
        };
        let stats = ColumnStats::Numeric {
            min,
            median,
            max,
            clipped: clipped.get(name).copied(),
        };
        (share(values.len() - present.len()), stats)
    };

    let mut columns = Vec::new();
    for c in &schema.columns {
        let mut kind = ColumnKind::Column(c.role);
        let (missing_share, stats) = match c.role {
            Role::Id | Role::Ignore => (0.0, ColumnStats::None),
            Role::Numeric => table
                .numeric(&c.name)
                .map_or((0.0, ColumnStats::None), |col| {
                    numeric(&c.name, &col.values)
                }),
            Role::Binary => table
                .binary(&c.name)
                .map_or((0.0, ColumnStats::None), |col| {
                    let ones = col.values.iter().filter(|&&v| v == 1.0).count();
                    let zeros = col.values.iter().filter(|&&v| v == 0.0).count();
                    (
                        share(rows - ones - zeros),
                        ColumnStats::Binary { ones, zeros },
                    )
                }),
            Role::Categorical => {
                table
                    .categorical(&c.name)
                    .map_or((0.0, ColumnStats::None), |col| {
                        let mut counts = vec![0usize; col.dictionary.len()];
                        let mut missing = 0;
                        for &code in &col.codes {
                            match code {
                                MISSING => missing += 1,
                                code => counts[code as usize] += 1,
                            }
                        }
                        let pairs = col.dictionary.iter().map(String::as_str).zip(counts);
                        (share(missing), top_values(pairs))
                    })
            }
            Role::Target => match table.target(&c.name) {
                None => {
                    kind = ColumnKind::AbsentTarget;
                    (0.0, ColumnStats::None)
                }
                Some(col) => {
                    let mut counts: HashMap<&str, usize> = HashMap::new();
                    for v in col.values.iter().flatten() {
                        *counts.entry(v.as_str()).or_default() += 1;
                    }
                    let missing = col.values.iter().filter(|v| v.is_none()).count();
                    (share(missing), top_values(counts.into_iter()))
                }
            },
        };
        columns.push(ColumnSummary {
            name: c.name.clone(),
            kind,
            missing_share,
            stats,
        });
    }
    for d in &schema.derived {
        let source = NumericSource::Derived {
            numerator: d.numerator.clone(),
            denominator: d.denominator.clone(),
            floor: d.floor,
            scale: d.scale,
        };
        let (missing_share, stats) = match source.values(table) {
            Ok(values) => numeric(&d.name, &values),
            Err(_) => (0.0, ColumnStats::None),
        };
        columns.push(ColumnSummary {
            name: d.name.clone(),
            kind: ColumnKind::Derived,
            missing_share,
            stats,
        });
    }
    DataSummary {
        source: report.source.clone(),
        schema: schema.name.clone(),
        rows,
        skipped_total: report.skipped_total,
        skipped: report.skipped.clone(),
        extra_columns: report.extra_columns.clone(),
        n_features: pre.map(Preprocessor::n_features),
        columns,
        notes,
    }
}

fn top_values<'a>(pairs: impl Iterator<Item = (&'a str, usize)>) -> ColumnStats {
    let mut all: Vec<(&str, usize)> = pairs.filter(|&(_, n)| n > 0).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let others = all.iter().skip(TOP_VALUES).map(|&(_, n)| n).sum();
    ColumnStats::Values {
        distinct: all.len(),
        top: all
            .iter()
            .take(TOP_VALUES)
            .map(|&(v, n)| (v.to_string(), n))
            .collect(),
        others,
    }
}

/// A number in at most ~10 characters: plain with up to 4 decimals, or scientific when very
/// large or small.
fn num(x: f64) -> String {
    if x.is_nan() {
        return "-".to_string();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        return format!("{x:.3e}");
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

impl fmt::Display for DataSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "data check: {} (schema `{}`)", self.source, self.schema)?;
        write!(f, "rows: {}", self.rows)?;
        if self.skipped_total > 0 {
            write!(f, " read, {} skipped as bad", self.skipped_total)?;
        }
        writeln!(f)?;
        for (line, reason) in &self.skipped {
            writeln!(f, "  skipped line {line}: {reason}")?;
        }
        if self.skipped.len() < self.skipped_total {
            writeln!(
                f,
                "  ... and {} more",
                self.skipped_total - self.skipped.len()
            )?;
        }
        if !self.extra_columns.is_empty() {
            writeln!(
                f,
                "extra columns ignored: {}",
                self.extra_columns.join(", ")
            )?;
        }
        if let Some(n) = self.n_features {
            writeln!(f, "features after preprocessing: {n}")?;
        }
        writeln!(f)?;

        let header = [
            "column",
            "role",
            "missing",
            "min",
            "median",
            "max",
            "clipped low/high",
            "values",
        ];
        let mut table: Vec<[String; 8]> = vec![header.map(str::to_string)];
        for c in &self.columns {
            let missing = match c.kind {
                ColumnKind::Column(Role::Ignore) | ColumnKind::AbsentTarget => String::new(),
                _ => percent(c.missing_share),
            };
            let mut row = [
                c.name.clone(),
                c.kind.to_string(),
                missing,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ];
            match &c.stats {
                ColumnStats::Numeric {
                    min,
                    median,
                    max,
                    clipped,
                } => {
                    row[3] = num(*min);
                    row[4] = num(*median);
                    row[5] = num(*max);
                    row[6] = clipped.map_or(String::new(), |(lo, hi)| format!("{lo} / {hi}"));
                }
                ColumnStats::Binary { ones, zeros } => {
                    row[7] = format!("1: {ones}, 0: {zeros}");
                }
                ColumnStats::Values { distinct, .. } => {
                    row[7] = format!("{distinct} distinct (most frequent below)");
                }
                ColumnStats::None => {}
            }
            table.push(row);
        }
        let mut width = [0usize; 8];
        for row in &table {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in &table {
            let mut line = String::new();
            for (j, cell) in row.iter().enumerate() {
                let pad = width[j].saturating_sub(cell.chars().count());
                // Statistics (missing .. clipped) right-aligned, text left-aligned.
                let numeric_cell = (2..7).contains(&j);
                if numeric_cell {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
                line.push_str("  ");
            }
            writeln!(f, "{}", line.trim_end())?;
        }

        let valued: Vec<&ColumnSummary> = self
            .columns
            .iter()
            .filter(|c| matches!(c.stats, ColumnStats::Values { .. }))
            .collect();
        if !valued.is_empty() {
            writeln!(f, "\nmost frequent values (count, share of rows):")?;
        }
        for c in valued {
            let ColumnStats::Values { top, others, .. } = &c.stats else {
                continue;
            };
            let share = |n: usize| {
                if self.rows == 0 {
                    0.0
                } else {
                    n as f64 / self.rows as f64
                }
            };
            let mut parts: Vec<String> = top
                .iter()
                .map(|(v, n)| format!("{v} {n} ({})", percent(share(*n))))
                .collect();
            if *others > 0 {
                parts.push(format!("others {others} ({})", percent(share(*others))));
            }
            writeln!(f, "  {}: {}", c.name, parts.join(", "))?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::reader::{OnBadRow, ReadOptions, read_csv_from_reader};
    use crate::data::split::split_indices;

    const SCHEMA: &str = r#"
name = "demo"
[[columns]]
name = "id"
role = "id"
[[columns]]
name = "spend"
role = "numeric"
clip = [0.0, 0.5]
[[columns]]
name = "months"
role = "numeric"
[[columns]]
name = "plan"
role = "categorical"
[[columns]]
name = "promo"
role = "binary"
[[columns]]
name = "churn"
role = "target"
[[columns]]
name = "note"
role = "ignore"
[[derived]]
name = "per_month"
numerator = "spend"
denominator = "months"
"#;

    fn summary(with_pre: bool) -> DataSummary {
        let schema = Schema::parse(SCHEMA, "s.toml").unwrap();
        let csv = "id,spend,months,plan,promo,note\na,10,2,pre,1,x\nb,20,,post,0,\nc,,4,pre,,\nd,40,8,pre,1,\ne,oops,1,pre,1,\n";
        let opts = ReadOptions {
            on_bad_row: OnBadRow::Skip,
        };
        let (table, report) =
            read_csv_from_reader(csv.as_bytes(), "d.csv", &schema, &opts).unwrap();
        let split = split_indices(&table.ids, 1, 0.0, 0.0);
        let pre = Preprocessor::fit(&schema, &table, &split.train).unwrap();
        summarize(&schema, &table, &report, with_pre.then_some(&pre))
    }

    #[test]
    fn statistics_per_column() {
        let s = summary(true);
        assert_eq!((s.rows, s.skipped_total), (4, 1));
        assert_eq!(s.n_features, Some(p_features()));
        let spend = &s.columns[1];
        assert_eq!(spend.missing_share, 0.25);
        // spend = [10, 20, 40] (c missing): median 20; clip [q0, q0.5] = [10, 20] → 0 below, 1 above.
        assert_eq!(
            spend.stats,
            ColumnStats::Numeric {
                min: 10.0,
                median: 20.0,
                max: 40.0,
                clipped: Some((0, 1))
            }
        );
        assert_eq!(
            s.columns[3].stats,
            ColumnStats::Values {
                distinct: 2,
                top: vec![("pre".into(), 3), ("post".into(), 1)],
                others: 0
            }
        );
        assert_eq!(
            s.columns[4].stats,
            ColumnStats::Binary { ones: 2, zeros: 1 }
        );
        assert_eq!(s.columns[5].kind, ColumnKind::AbsentTarget);
        // per_month = spend / max(months, 1) = [5, NaN, NaN, 5] → half missing.
        let derived = s.columns.last().unwrap();
        assert_eq!(
            (derived.kind, derived.missing_share),
            (ColumnKind::Derived, 0.5)
        );
    }

    /// spend + indicator, months + indicator, per_month + indicator, promo + indicator,
    /// plan (pre, post, other).
    fn p_features() -> usize {
        2 + 2 + 2 + 2 + 3
    }

    #[test]
    fn display_is_an_aligned_table() {
        let text = summary(true).to_string();
        assert!(text.contains("data check: d.csv (schema `demo`)"), "{text}");
        assert!(text.contains("rows: 4 read, 1 skipped as bad"), "{text}");
        assert!(text.contains("skipped line 6"), "{text}");
        assert!(
            text.contains("plan: pre 3 (75.0%), post 1 (25.0%)"),
            "{text}"
        );
        let lines: Vec<&str> = text.lines().collect();
        let header = lines.iter().position(|l| l.starts_with("column")).unwrap();
        // The `role` column starts at the same offset on every line of the table.
        let offset = lines[header].find("role").unwrap();
        for l in &lines[header + 1..header + 9] {
            assert_eq!(l.chars().nth(offset - 1), Some(' '), "{l}");
            assert_ne!(l.chars().nth(offset), Some(' '), "{l}");
        }
        assert!(text.contains("0 / 1"), "{text}");
    }

    #[test]
    fn without_preprocessor_nothing_is_clipped() {
        let s = summary(false);
        assert_eq!(s.n_features, None);
        assert!(matches!(
            s.columns[1].stats,
            ColumnStats::Numeric { clipped: None, .. }
        ));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(20.0), "20");
        assert_eq!(num(0.125), "0.125");
        assert_eq!(num(1.0 / 3.0), "0.3333");
        assert_eq!(num(1e9), "1.000e9");
        assert_eq!(num(f64::NAN), "-");
    }
}
