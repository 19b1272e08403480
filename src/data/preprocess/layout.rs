//! The output of preprocessing: the feature matrix and the layout naming its columns.

use serde::{Deserialize, Serialize};

use super::{BinaryFeature, CategoricalFeature, NumericFeature};

/// One entry of the feature layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureGroup {
    /// A standardized numeric or derived feature at column `index`.
    Numeric {
        /// Feature name.
        name: String,
        /// Column of the feature matrix.
        index: usize,
    },
    /// A binary feature (0/1) at column `index`.
    Binary {
        /// Feature name.
        name: String,
        /// Column of the feature matrix.
        index: usize,
    },
    /// The missing indicator (0/1) of feature `of` at column `index`.
    MissingIndicator {
        /// The feature it belongs to.
        of: String,
        /// Column of the feature matrix.
        index: usize,
    },
    /// One-hot columns `start .. start + levels.len()` of a categorical feature.
    OneHot {
        /// Feature name.
        name: String,
        /// First column of the block.
        start: usize,
        /// Level of each column, in order.
        levels: Vec<String>,
    },
}

/// The output columns of a [`Preprocessor`](super::Preprocessor): a name per column and how columns group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureLayout {
    /// One name per feature-matrix column (see the module docs for the naming).
    pub names: Vec<String>,
    /// The groups, in column order.
    pub groups: Vec<FeatureGroup>,
}

impl FeatureLayout {
    pub(super) fn build(
        numeric: &[NumericFeature],
        binary: &[BinaryFeature],
        categorical: &[CategoricalFeature],
    ) -> Self {
        let mut layout = FeatureLayout::default();
        let push_value =
            |layout: &mut FeatureLayout, name: &str, numeric: bool, indicator: bool| {
                let index = layout.names.len();
                layout.names.push(name.to_string());
                let name = name.to_string();
                layout.groups.push(if numeric {
                    FeatureGroup::Numeric { name, index }
                } else {
                    FeatureGroup::Binary { name, index }
                });
                if indicator {
                    layout
                        .names
                        .push(format!("{}.missing", layout.names[index]));
                    layout.groups.push(FeatureGroup::MissingIndicator {
                        of: layout.names[index].clone(),
                        index: index + 1,
                    });
                }
            };
        for f in numeric {
            push_value(&mut layout, &f.name, true, f.has_indicator);
        }
        for f in binary {
            push_value(&mut layout, &f.name, false, f.has_indicator);
        }
        for f in categorical {
            let start = layout.names.len();
            layout
                .names
                .extend(f.levels.iter().map(|l| format!("{}={l}", f.name)));
            layout.groups.push(FeatureGroup::OneHot {
                name: f.name.clone(),
                start,
                levels: f.levels.clone(),
            });
        }
        layout
    }
}

/// A row-major f32 matrix `[rows, cols]` (`cols` = [`Preprocessor::n_features`](super::Preprocessor::n_features)), ready to become a
/// Burn tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// `rows * cols` values; row `i` is `data[i * cols .. (i + 1) * cols]`.
    pub data: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
    /// Number of features per row.
    pub cols: usize,
}

impl Features {
    /// The features of row `i`: `[cols]`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}
