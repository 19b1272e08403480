//! Parsing records into the table, cell rule by cell rule, with rollback of bad rows.

use std::collections::HashMap;

use csv::ByteRecord;

use super::plan::{Field, Plan, Slot};
use crate::data::error::{CellAt, DataError, shown};
use crate::data::schema::MissingPolicy;
use crate::data::split::fnv1a_64;
use crate::data::table::{
    BinaryColumn, CategoricalColumn, MISSING, NumericColumn, RawTable, TargetColumn,
};

/// Finds earlier rows by id without storing a second copy of each id: a map from the id's
/// 64-bit hash to its row, plus a map by full string for the (rare) ids whose hash is taken.
#[derive(Debug, Default)]
struct IdIndex {
    by_hash: HashMap<u64, usize>,
    collisions: HashMap<String, usize>,
}

impl IdIndex {
    fn find(&self, id: &str, ids: &[String]) -> Option<usize> {
        let row = *self.by_hash.get(&fnv1a_64(id.as_bytes()))?;
        if ids[row] == id {
            Some(row)
        } else {
            self.collisions.get(id).copied()
        }
    }

    /// Records `ids[row]` (which [`IdIndex::find`] did not find).
    fn insert(&mut self, row: usize, ids: &[String]) {
        let id = &ids[row];
        let taken = self.by_hash.entry(fnv1a_64(id.as_bytes())).or_insert(row);
        if *taken != row {
            self.collisions.insert(id.clone(), row);
        }
    }
}

/// Accumulates rows into a table; a bad row is undone with [`RowReader::rollback`].
pub(super) struct RowReader<'a> {
    source: &'a str,
    /// Ids of earlier batches of the same file: FNV-1a hash → 1-based line.
    earlier: &'a HashMap<u64, u64>,
    pub(super) table: RawTable,
    /// Per categorical column: string → code.
    codes: Vec<HashMap<String, u32>>,
    /// Per categorical column: dictionary length before the current row.
    dict_len: Vec<usize>,
    ids: IdIndex,
    expected_fields: usize,
}

impl<'a> RowReader<'a> {
    pub(super) fn new(source: &'a str, plan: &Plan, earlier: &'a HashMap<u64, u64>) -> Self {
        let table = RawTable {
            source: source.to_string(),
            ids: Vec::new(),
            numeric: plan
                .numeric
                .iter()
                .map(|n| NumericColumn {
                    name: n.clone(),
                    values: Vec::new(),
                })
                .collect(),
            categorical: plan
                .categorical
                .iter()
                .map(|n| CategoricalColumn {
                    name: n.clone(),
                    codes: Vec::new(),
                    dictionary: Vec::new(),
                })
                .collect(),
            binary: plan
                .binary
                .iter()
                .map(|n| BinaryColumn {
                    name: n.clone(),
                    values: Vec::new(),
                    spelling: Default::default(),
                })
                .collect(),
            targets: plan
                .targets
                .iter()
                .map(|n| TargetColumn {
                    name: n.clone(),
                    values: Vec::new(),
                })
                .collect(),
            line_numbers: Vec::new(),
        };
        RowReader {
            source,
            earlier,
            codes: vec![HashMap::new(); plan.categorical.len()],
            dict_len: vec![0; plan.categorical.len()],
            table,
            ids: IdIndex::default(),
            expected_fields: plan.fields.len(),
        }
    }

    /// Parses one record and appends it; on error the table may hold part of the row.
    pub(super) fn read_row(
        &mut self,
        record: &ByteRecord,
        line: u64,
        plan: &Plan,
    ) -> Result<(), DataError> {
        let row = self.table.n_rows();
        for (k, c) in self.table.categorical.iter().enumerate() {
            self.dict_len[k] = c.dictionary.len();
        }
        if record.len() != self.expected_fields {
            return Err(DataError::Ragged {
                file: self.source.to_string(),
                line,
                expected: self.expected_fields,
                found: record.len(),
            });
        }
        for (i, (raw, field)) in record.iter().zip(&plan.fields).enumerate() {
            if matches!(field.slot, Slot::Skip) {
                continue;
            }
            let text =
                std::str::from_utf8(raw.trim_ascii()).map_err(|_| DataError::InvalidUtf8 {
                    file: self.source.to_string(),
                    line,
                    index: i + 1,
                })?;
            let at = || CellAt {
                file: self.source.to_string(),
                line,
                index: i + 1,
                column: field.name.clone(),
            };
            if text.is_empty() && field.missing == MissingPolicy::Error {
                return Err(DataError::MissingValue { at: at() });
            }
            match field.slot {
                Slot::Id => {
                    if text.is_empty() {
                        return Err(DataError::EmptyId { at: at() });
                    }
                    if let Some(first) = self.ids.find(text, &self.table.ids) {
                        return Err(DataError::DuplicateId {
                            at: at(),
                            value: shown(text),
                            first_line: self.table.line_numbers[first],
                        });
                    }
                    if let Some(&first_line) = self.earlier.get(&fnv1a_64(text.as_bytes())) {
                        return Err(DataError::DuplicateId {
                            at: at(),
                            value: shown(text),
                            first_line,
                        });
                    }
                    self.table.ids.push(text.to_string());
                }
                Slot::Numeric(k) => {
                    let v = parse_numeric(text, field, at)?;
                    self.table.numeric[k].values.push(v);
                }
                Slot::Binary(k) => {
                    let v = parse_binary(text).ok_or_else(|| DataError::InvalidBinary {
                        at: at(),
                        value: shown(text),
                    })?;
                    let col = &mut self.table.binary[k];
                    if !v.is_nan() {
                        let slot = &mut col.spelling[usize::from(v >= 0.5)];
                        if slot.is_none() && text != "0" && text != "1" {
                            *slot = Some(text.to_string());
                        }
                    }
                    col.values.push(v);
                }
                Slot::Categorical(k) => {
                    let col = &mut self.table.categorical[k];
                    let code = if text.is_empty() {
                        MISSING
                    } else if let Some(&code) = self.codes[k].get(text) {
                        code
                    } else {
                        let code = col.dictionary.len() as u32;
                        col.dictionary.push(text.to_string());
                        self.codes[k].insert(text.to_string(), code);
                        code
                    };
                    col.codes.push(code);
                }
                Slot::Target(k) => {
                    let v = (!text.is_empty()).then(|| text.to_string());
                    self.table.targets[k].values.push(v);
                }
                Slot::Skip => {}
            }
        }
        self.table.line_numbers.push(line);
        self.ids.insert(row, &self.table.ids);
        Ok(())
    }

    /// Removes whatever the last (failed) row appended, dictionary entries included.
    pub(super) fn rollback(&mut self) {
        let n = self.table.line_numbers.len();
        let t = &mut self.table;
        t.ids.truncate(n);
        t.numeric.iter_mut().for_each(|c| c.values.truncate(n));
        t.binary.iter_mut().for_each(|c| c.values.truncate(n));
        t.targets.iter_mut().for_each(|c| c.values.truncate(n));
        for (k, c) in t.categorical.iter_mut().enumerate() {
            c.codes.truncate(n);
            for level in &c.dictionary[self.dict_len[k]..] {
                self.codes[k].remove(level);
            }
            c.dictionary.truncate(self.dict_len[k]);
        }
    }
}

fn parse_numeric(text: &str, field: &Field, at: impl Fn() -> CellAt) -> Result<f64, DataError> {
    if text.is_empty() {
        return Ok(f64::NAN);
    }
    let v: f64 = text.parse().map_err(|_| DataError::NotANumber {
        at: at(),
        value: shown(text),
    })?;
    if !v.is_finite() {
        // Rust parses `nan`, `inf`, `infinity` (any case); anything else non-finite overflowed.
        let literal = text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E');
        let value = shown(text);
        return Err(if literal {
            DataError::NonFiniteText { at: at(), value }
        } else {
            DataError::NonFinite { at: at(), value }
        });
    }
    if field.min.is_some_and(|m| v < m) || field.max.is_some_and(|m| v > m) {
        return Err(DataError::OutOfRange {
            at: at(),
            value: shown(text),
            min: field.min,
            max: field.max,
        });
    }
    Ok(v)
}

/// `0/1`, `true/false`, `yes/no`, `y/n` (any case) → 0.0/1.0; empty → NaN; else `None`.
fn parse_binary(text: &str) -> Option<f32> {
    const ZERO: [&str; 4] = ["0", "false", "no", "n"];
    const ONE: [&str; 4] = ["1", "true", "yes", "y"];
    if text.is_empty() {
        Some(f32::NAN)
    } else if ZERO.iter().any(|z| z.eq_ignore_ascii_case(text)) {
        Some(0.0)
    } else if ONE.iter().any(|o| o.eq_ignore_ascii_case(text)) {
        Some(1.0)
    } else {
        None
    }
}
