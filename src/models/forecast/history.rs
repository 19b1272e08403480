//! A monthly history in long format (`customer_id,month,<series>...`, one row per customer and
//! month) read into a panel: customers × calendar months × series, NaN where a month has no
//! record or an empty cell.
//!
//! Rules (each broken one is a usage error naming the file, the line and the column): the id and
//! month columns exist, every series column exists, a month reads `YYYY-MM` (or `YYYY-MM-DD`,
//! the day ignored), a value is a finite number or empty, a customer has at most one row per
//! month, and the months span at most [`MAX_MONTHS`].

use std::collections::HashMap;
use std::path::Path;

use crate::error::UsageError;

/// The longest calendar span a history may cover (50 years).
pub const MAX_MONTHS: usize = 600;

/// A calendar month: `year * 12 + (month − 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    /// Parses `YYYY-MM` or `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Month> {
        let t = text.trim();
        let (ym, day) = match t.len() {
            7 => (t, None),
            10 => (&t[..7], Some(&t[8..])),
            _ => return None,
        };
        if ym.as_bytes().get(4) != Some(&b'-') || (day.is_some() && t.as_bytes()[7] != b'-') {
            return None;
        }
        let year: i32 = ym[..4].parse().ok()?;
        let month: i32 = ym[5..7].parse().ok()?;
        if !(1..=12).contains(&month) {
            return None;
        }
        if let Some(d) = day {
            let d: u32 = d.parse().ok()?;
            if !(1..=31).contains(&d) {
                return None;
            }
        }
        Some(Month(year * 12 + month - 1))
    }

    /// 1..=12.
    pub fn calendar(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }

    pub fn next(self) -> Month {
        Month(self.0 + 1)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.0.div_euclid(12), self.calendar())
    }
}

/// Customers × months × series.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The file it was read from (for messages).
    pub source: String,
    /// Customer ids, in order of first appearance.
    pub ids: Vec<String>,
    /// The first month; month index `t` is `first + t`.
    pub first: Month,
    /// Months from the first to the last month of the file.
    pub months: usize,
    pub series: Vec<String>,
    /// `values[(customer * months + t) * series.len() + s]`, NaN where unknown.
    pub values: Vec<f64>,
}

impl Panel {
    pub fn customers(&self) -> usize {
        self.ids.len()
    }

    /// The last month of the file.
    pub fn last(&self) -> Month {
        Month(self.first.0 + self.months as i32 - 1)
    }

    /// Customer `i`'s value of series `s` at month index `t` (NaN when unknown or out of range).
    pub fn get(&self, i: usize, t: isize, s: usize) -> f64 {
        if t < 0 || t as usize >= self.months {
            return f64::NAN;
        }
        self.values[(i * self.months + t as usize) * self.series.len() + s]
    }

    /// Reads `path`. `series` empty: every column besides the id and month columns.
    pub fn read(
        path: &Path,
        id_column: &str,
        month_column: &str,
        series: &[String],
    ) -> anyhow::Result<Panel> {
        let source = path.display().to_string();
        let (mut reader, header) = crate::data::csvfile::open_trimmed_csv(path)?;
        let find = |name: &str, what: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                UsageError(format!(
                    "{source}:1: no column `{name}` ({what}); the header has {header:?}"
                ))
            })
        };
        let id_col = find(id_column, "forecast.id_column")?;
        let month_col = find(month_column, "forecast.month_column")?;
        let names: Vec<String> = if series.is_empty() {
            header
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != id_col && j != month_col)
                .map(|(_, h)| h.clone())
                .collect()
        } else {
            series.to_vec()
        };
        if names.is_empty() {
            anyhow::bail!(UsageError(format!(
                "{source}:1: no series column besides `{id_column}` and `{month_column}`"
            )));
        }
        let cols: Vec<usize> = names
            .iter()
            .map(|n| find(n, "forecast.series"))
            .collect::<Result<_, _>>()?;

        // (customer index, month, values, line) of every row, then the panel.
        struct Row {
            customer: usize,
            month: Month,
            values: Vec<f64>,
            line: u64,
        }
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut ids = Vec::new();
        let mut rows = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => anyhow::bail!(UsageError(format!("{source}: {e}"))),
            }
            let line = record.position().map_or(0, |p| p.line());
            let cell = |j: usize| record.get(j).unwrap_or("");
            let id = cell(id_col);
            if id.is_empty() {
                anyhow::bail!(UsageError(format!(
                    "{source}:{line}: column `{id_column}` is empty"
                )));
            }
            let month = Month::parse(cell(month_col)).ok_or_else(|| {
                UsageError(format!(
                    "{source}:{line}: column `{month_column}` = {:?} is not a month (YYYY-MM)",
                    cell(month_col)
                ))
            })?;
            let mut values = Vec::with_capacity(cols.len());
            for (&j, name) in cols.iter().zip(&names) {
                let text = cell(j);
                values.push(if text.is_empty() {
                    f64::NAN
                } else {
                    text.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| {
                            UsageError(format!(
                                "{source}:{line}: column `{name}` = {text:?} is not a number"
                            ))
                        })?
                });
            }
            let next = ids.len();
            let customer = *index.entry(id.to_string()).or_insert(next);
            if customer == next {
                ids.push(id.to_string());
            }
            rows.push(Row {
                customer,
                month,
                values,
                line,
            });
        }
        let (Some(first), Some(last)) = (
            rows.iter().map(|r| r.month).min(),
            rows.iter().map(|r| r.month).max(),
        ) else {
            anyhow::bail!(UsageError(format!("{source}: no rows")));
        };
        let months = (last.0 - first.0 + 1) as usize;
        if months > MAX_MONTHS {
            anyhow::bail!(UsageError(format!(
                "{source}: the months run from {first} to {last}, more than {MAX_MONTHS} months"
            )));
        }
        let k = names.len();
        let mut values = vec![f64::NAN; ids.len() * months * k];
        let mut seen: Vec<u64> = vec![0; ids.len() * months];
        for r in rows {
            let t = (r.month.0 - first.0) as usize;
            let slot = r.customer * months + t;
            if seen[slot] != 0 {
                anyhow::bail!(UsageError(format!(
                    "{source}:{}: customer `{}` has a second row for {} (the first is on line {})",
                    r.line, ids[r.customer], r.month, seen[slot]
                )));
            }
            seen[slot] = r.line;
            values[slot * k..(slot + 1) * k].copy_from_slice(&r.values);
        }
        Ok(Panel {
            source,
            ids,
            first,
            months,
            series: names,
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_print() {
        let m = Month::parse("2024-12").unwrap();
        assert_eq!(m.to_string(), "2024-12");
        assert_eq!(m.calendar(), 12);
        assert_eq!(m.next().to_string(), "2025-01");
        assert_eq!(Month::parse("2024-02-29").unwrap().to_string(), "2024-02");
        for bad in ["2024-13", "2024/01", "24-01", "2024-1", "2024-01-40", ""] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_a_long_history_with_gaps() {
        let (_d, path) =
            write("customer_id,month,voice,data\na,2024-01,10,1.5\nb,2024-03,5,\na,2024-03,12,2\n");
        let p = Panel::read(&path, "customer_id", "month", &[]).unwrap();
        assert_eq!(p.ids, ["a", "b"]);
        assert_eq!((p.first.to_string(), p.months), ("2024-01".to_string(), 3));
        assert_eq!(p.series, ["voice", "data"]);
        assert_eq!(p.get(0, 0, 1), 1.5);
        assert!(p.get(0, 1, 0).is_nan(), "February has no row");
        assert_eq!(p.get(0, 2, 0), 12.0);
        assert!(p.get(1, 2, 1).is_nan(), "an empty cell");
        assert!(p.get(1, 3, 0).is_nan() && p.get(1, -1, 0).is_nan());
    }

    #[test]
    fn broken_rows_name_line_and_column() {
        for (text, expect) in [
            ("id,month,v\na,2024-01,1\n", "no column `customer_id`"),
            (
                "customer_id,month,v\na,2024-1,1\n",
                "h.csv:2: column `month`",
            ),
            (
                "customer_id,month,v\na,2024-01,x\n",
                "h.csv:2: column `v` = \"x\"",
            ),
            (
                "customer_id,month,v\na,2024-01,1\na,2024-01,2\n",
                "h.csv:3: customer `a` has a second row for 2024-01 (the first is on line 2)",
            ),
            ("customer_id,month\na,2024-01\n", "no series column"),
            (
                "customer_id,month,v\n,2024-01,1\n",
                "h.csv:2: column `customer_id` is empty",
            ),
        ] {
            let (_d, path) = write(text);
            let err = Panel::read(&path, "customer_id", "month", &[]).unwrap_err();
            assert!(err.downcast_ref::<UsageError>().is_some(), "{text}");
            assert!(err.to_string().contains(expect), "{text}: {err}");
        }
    }
}
