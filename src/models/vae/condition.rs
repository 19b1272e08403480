//! What a conditional VAE is conditioned on: the customer's segment (`vae.segments`) and the
//! class of the table's target columns (`vae.condition_on_target`).
//!
//! The condition vector of a row is `c = [one-hot segment (n_segments), one-hot target class
//! (n_target_classes)]` (either part absent when its width is 0); the encoder sees `[x, c]`, the
//! decoder `[z, c]`. Sampling draws the segment by its train share (or takes the one asked for),
//! then the target class by its train share within that segment, and writes the class as the
//! row's target cells.

use std::collections::HashMap;

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::table::RawTable;

use super::MAX_TARGET_CLASSES;

/// Segment labels of a conditional VAE and their train shares (sampling draws segments by them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SegmentInfo {
    /// Label of each condition index.
    pub labels: Vec<String>,
    /// Share of train rows per label.
    pub shares: Vec<f64>,
}

/// The target classes a VAE is conditioned on (saved as `teleseg.vae.target_condition`; empty
/// when it is not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TargetCondition {
    /// The target columns, in schema order.
    pub columns: Vec<String>,
    /// Each class: one cell per column (`None` = empty), by train count descending, then value.
    pub classes: Vec<Vec<Option<String>>>,
    /// `[max(n_segments, 1)][classes]`: the share of each class among the train rows of each
    /// segment (one row when unconditional on segments); every row sums to 1 (a segment
    /// without train rows gets the overall shares).
    pub shares: Vec<Vec<f64>>,
}

/// Everything a sample is conditioned on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conditions {
    pub segments: SegmentInfo,
    pub target: TargetCondition,
}

/// Per-row condition indices of a set of rows (each empty when that part is absent).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowConditions {
    pub segments: Vec<usize>,
    pub classes: Vec<usize>,
}

impl RowConditions {
    /// The indices of `rows` (row numbers of the table both vectors index).
    pub fn pick(&self, rows: &[usize]) -> RowConditions {
        let take = |v: &[usize]| -> Vec<usize> {
            if v.is_empty() {
                Vec::new()
            } else {
                rows.iter().map(|&r| v[r]).collect()
            }
        };
        RowConditions {
            segments: take(&self.segments),
            classes: take(&self.classes),
        }
    }
}

/// Why a table's target is not conditioned on.
#[derive(Debug, Clone, PartialEq)]
pub enum NoTargetCondition {
    /// The table has no target column.
    NoTarget,
    /// Train holds a single class: nothing to condition on.
    OneClass,
    /// More classes than [`MAX_TARGET_CLASSES`] (a continuous value stored as a target).
    TooManyClasses(usize),
}

impl TargetCondition {
    /// Number of classes (0: unconditional on the target).
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Fits the classes of `table`'s target columns on `train_rows` and returns them with the
    /// class of every row of the table (a class unseen in train maps to the most frequent one).
    /// `row_segments` (empty, or one segment index per table row) gives the per-segment shares.
    pub fn fit(
        table: &RawTable,
        train_rows: &[usize],
        row_segments: &[usize],
        n_segments: usize,
    ) -> Result<(TargetCondition, Vec<usize>), NoTargetCondition> {
        if table.targets.is_empty() {
            return Err(NoTargetCondition::NoTarget);
        }
        let key = |r: usize| -> Vec<Option<String>> {
            table.targets.iter().map(|t| t.values[r].clone()).collect()
        };
        let mut counts: HashMap<Vec<Option<String>>, usize> = HashMap::new();
        for &r in train_rows {
            *counts.entry(key(r)).or_default() += 1;
        }
        if counts.len() > MAX_TARGET_CLASSES {
            return Err(NoTargetCondition::TooManyClasses(counts.len()));
        }
        if counts.len() < 2 {
            return Err(NoTargetCondition::OneClass);
        }
        let mut classes: Vec<(Vec<Option<String>>, usize)> = counts.into_iter().collect();
        classes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let classes: Vec<Vec<Option<String>>> = classes.into_iter().map(|c| c.0).collect();
        let index: HashMap<&Vec<Option<String>>, usize> =
            classes.iter().enumerate().map(|(i, c)| (c, i)).collect();
        let row_classes: Vec<usize> = (0..table.n_rows())
            .map(|r| index.get(&key(r)).copied().unwrap_or(0))
            .collect();
        let n_rows = n_segments.max(1);
        let mut counts = vec![vec![0.0f64; classes.len()]; n_rows];
        let mut overall = vec![0.0f64; classes.len()];
        for &r in train_rows {
            let s = if row_segments.is_empty() {
                0
            } else {
                row_segments[r]
            };
            counts[s][row_classes[r]] += 1.0;
            overall[row_classes[r]] += 1.0;
        }
        let normalise = |v: &[f64]| -> Vec<f64> {
            let total: f64 = v.iter().sum();
            v.iter().map(|x| x / total).collect()
        };
        let overall = normalise(&overall);
        let shares = counts
            .iter()
            .map(|row| {
                if row.iter().sum::<f64>() > 0.0 {
                    normalise(row)
                } else {
                    overall.clone()
                }
            })
            .collect();
        let columns = table.targets.iter().map(|t| t.name.clone()).collect();
        Ok((
            TargetCondition {
                columns,
                classes,
                shares,
            },
            row_classes,
        ))
    }

    /// The class shares of `segment` (the only row when unconditional on segments).
    pub fn shares_of(&self, segment: Option<usize>) -> &[f64] {
        let s = segment
            .unwrap_or(0)
            .min(self.shares.len().saturating_sub(1));
        &self.shares[s]
    }

    /// Writes the class of each row (`classes[i]` for row `i`) into `table`'s target columns.
    pub fn write_classes(&self, table: &mut RawTable, classes: &[usize]) {
        for (j, name) in self.columns.iter().enumerate() {
            if let Some(col) = table.targets.iter_mut().find(|t| &t.name == name) {
                col.values = classes
                    .iter()
                    .map(|&c| self.classes[c][j].clone())
                    .collect();
            }
        }
    }
}

/// The condition vectors `[rows, n_segments + n_classes]` of `rows` rows (None when both widths
/// are 0): one-hot segment, then one-hot target class.
pub fn condition(
    rows: usize,
    conditions: &RowConditions,
    n_segments: usize,
    n_classes: usize,
    device: &Device,
) -> Option<Tensor<2>> {
    let width = n_segments + n_classes;
    (width > 0).then(|| {
        let mut d = vec![0.0f32; rows * width];
        for (i, &s) in conditions.segments.iter().enumerate().take(rows) {
            d[i * width + s] = 1.0;
        }
        for (i, &c) in conditions.classes.iter().enumerate().take(rows) {
            d[i * width + n_segments + c] = 1.0;
        }
        Tensor::from_data(TensorData::new(d, [rows, width]), device)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::table::TargetColumn;

    fn table(targets: &[(&str, &[Option<&str>])]) -> RawTable {
        let n = targets[0].1.len();
        RawTable {
            source: "t.csv".into(),
            ids: (0..n).map(|i| i.to_string()).collect(),
            numeric: vec![],
            categorical: vec![],
            binary: vec![],
            targets: targets
                .iter()
                .map(|(name, v)| TargetColumn {
                    name: name.to_string(),
                    values: v.iter().map(|c| c.map(str::to_string)).collect(),
                })
                .collect(),
            line_numbers: (0..n as u64).map(|i| i + 2).collect(),
        }
    }

    #[test]
    fn classes_by_count_with_shares_per_segment() {
        let y = [
            Some("no"),
            Some("yes"),
            Some("no"),
            None,
            Some("no"),
            Some("yes"),
        ];
        let t = table(&[("churn", &y)]);
        // Train = rows 0..5; row 5 (yes) is valid. Segments: rows 0, 1 → 0; 2, 3, 4 → 1.
        let segs = vec![0, 0, 1, 1, 1, 0];
        let (tc, rows) = TargetCondition::fit(&t, &[0, 1, 2, 3, 4], &segs, 2).unwrap();
        let no = Some("no".to_string());
        let yes = Some("yes".to_string());
        // no ×3 first; then None and yes (×1 each) by value: None sorts before Some.
        assert_eq!(
            tc.classes,
            vec![vec![no.clone()], vec![None], vec![yes.clone()]]
        );
        assert_eq!(rows, vec![0, 2, 0, 1, 0, 2]);
        assert_eq!(tc.shares[0], vec![0.5, 0.0, 0.5]);
        assert_eq!(tc.shares[1], vec![2.0 / 3.0, 1.0 / 3.0, 0.0]);
        // Written back: the class's cells, missing included.
        let mut out = table(&[("churn", &[None, None, None])]);
        tc.write_classes(&mut out, &[2, 1, 0]);
        assert_eq!(out.targets[0].values, vec![yes, None, no]);
    }

    #[test]
    fn joint_classes_of_two_targets_and_the_limits() {
        let a = [Some("0"), Some("1"), Some("0"), Some("1")];
        let b = [Some("x"), Some("x"), Some("y"), Some("x")];
        let t = table(&[("a", &a), ("b", &b)]);
        let (tc, rows) = TargetCondition::fit(&t, &[0, 1, 2, 3], &[], 0).unwrap();
        assert_eq!(tc.n_classes(), 3);
        assert_eq!(tc.columns, vec!["a", "b"]);
        assert_eq!(rows[1], rows[3]);
        assert_eq!(tc.shares, vec![vec![0.5, 0.25, 0.25]]);
        let one = table(&[("a", &[Some("1"), Some("1")])]);
        assert_eq!(
            TargetCondition::fit(&one, &[0, 1], &[], 0).unwrap_err(),
            NoTargetCondition::OneClass
        );
        let many: Vec<String> = (0..=MAX_TARGET_CLASSES).map(|i| i.to_string()).collect();
        let cells: Vec<Option<&str>> = many.iter().map(|s| Some(s.as_str())).collect();
        let wide = table(&[("ltv", &cells)]);
        let all: Vec<usize> = (0..cells.len()).collect();
        assert_eq!(
            TargetCondition::fit(&wide, &all, &[], 0).unwrap_err(),
            NoTargetCondition::TooManyClasses(MAX_TARGET_CLASSES + 1)
        );
    }

    #[test]
    fn condition_vector_is_segment_then_class() {
        let d = Device::flex();
        let rc = RowConditions {
            segments: vec![1, 0],
            classes: vec![0, 2],
        };
        let c = condition(2, &rc, 2, 3, &d).unwrap();
        let v: Vec<f32> = c.into_data().try_into_vec().unwrap();
        assert_eq!(v, vec![0., 1., 1., 0., 0., 1., 0., 0., 0., 1.]);
        assert!(condition(2, &RowConditions::default(), 0, 0, &d).is_none());
    }
}
