//! Writing a [`RawTable`] back to CSV in the layout of its schema: one column per schema column
//! in schema order (derived features are not file columns), raw units, empty cells for missing
//! values and for `ignore` columns and target columns the table does not hold.

use std::collections::HashMap;

use super::schema::{Role, Schema};
use super::table::RawTable;

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Formats `x` with at most `decimals` decimals, without trailing zeros (`-0` is written `0`).
pub fn format_number(x: f64, decimals: u32) -> String {
    if x.is_nan() {
        return String::new();
    }
    let mut s = format!("{x:.*}", decimals as usize);
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" { "0".to_string() } else { s }
}

/// The rows `rows` of `table` as CSV bytes (header first). Numeric columns use `decimals[name]`
/// (default 6; `integer` columns 0).
pub fn table_csv(
    schema: &Schema,
    table: &RawTable,
    rows: &[usize],
    decimals: &HashMap<String, u32>,
) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = w.write_record(schema.columns.iter().map(|c| c.name.as_str()));
    let mut record: Vec<String> = Vec::with_capacity(schema.columns.len());
    for &r in rows {
        record.clear();
        for c in &schema.columns {
            let cell = match c.role {
                Role::Id => table.ids[r].clone(),
                Role::Numeric => table.numeric(&c.name).map_or(String::new(), |col| {
                    let d = if c.integer {
                        0
                    } else {
                        decimals.get(&c.name).copied().unwrap_or(6)
                    };
                    format_number(col.values[r], d)
                }),
                Role::Categorical => table
                    .categorical(&c.name)
                    .and_then(|col| col.value(r).map(str::to_string))
                    .unwrap_or_default(),
                Role::Binary => table
                    .binary(&c.name)
                    .map_or(String::new(), |col| col.text(col.values[r])),
                Role::Target => table
                    .target(&c.name)
                    .and_then(|col| col.values[r].clone())
                    .unwrap_or_default(),
                Role::Ignore => String::new(),
            };
            record.push(cell);
        }
        let _ = w.write_record(&record);
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lose_trailing_zeros_only() {
        assert_eq!(format_number(3.0, 2), "3");
        assert_eq!(format_number(3.10, 2), "3.1");
        assert_eq!(format_number(1234.5678, 2), "1234.57");
        assert_eq!(format_number(-0.0001, 2), "0");
        assert_eq!(format_number(f64::NAN, 2), "");
        assert_eq!(format_number(40.0, 0), "40");
    }
}
