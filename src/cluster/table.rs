//! The raw feature table the segment profiles and the surrogate tree read.

use super::{ClusterError, check_shape};

/// A raw feature table: `rows × cols` values in raw units, row-major, `NaN` = missing.
#[derive(Clone, Copy, Debug)]
pub struct FeatureTable<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
    pub(super) names: &'a [String],
    pub(super) units: &'a [String],
}

impl<'a> FeatureTable<'a> {
    /// Wraps a table; `names` and `units` have one entry per column (units are free text such as
    /// "GB/month", "share 0..1", "years").
    ///
    /// Errors: [`ClusterError::Empty`], [`ClusterError::ShapeMismatch`], [`ClusterError::FeatureMeta`],
    /// and [`ClusterError::NonFinite`] for an infinite value (NaN is allowed: it means missing).
    pub fn new(
        data: &'a [f64],
        rows: usize,
        cols: usize,
        names: &'a [String],
        units: &'a [String],
    ) -> Result<Self, ClusterError> {
        check_shape(data.len(), rows, cols)?;
        for (what, v) in [("names", names), ("units", units)] {
            if v.len() != cols {
                return Err(ClusterError::FeatureMeta {
                    what,
                    len: v.len(),
                    cols,
                });
            }
        }
        if let Some(i) = data.iter().position(|v| v.is_infinite()) {
            return Err(ClusterError::NonFinite {
                row: i / cols,
                col: i % cols,
                value: data[i],
            });
        }
        Ok(Self {
            data,
            rows,
            cols,
            names,
            units,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Feature names, one per column.
    pub fn names(&self) -> &'a [String] {
        self.names
    }

    /// Value at (`row`, `col`); NaN when missing.
    pub fn get(&self, row: usize, col: usize) -> f64 {
        self.data[row * self.cols + col]
    }
}
