//! Surrogate decision tree: a depth-limited CART (linfa-trees, Gini) that predicts the segment
//! from the raw features, turned into one readable rule per leaf.
//!
//! - Missing values are replaced by the population median of their feature (0 if the feature is
//!   entirely missing) before fitting and before routing rows, so a rule's thresholds apply to
//!   imputed values.
//! - The tree is fit on a seeded sample of at most `tree_max_rows` rows; its leaves are then
//!   re-scored on **all** rows: each leaf predicts the majority segment of the rows it receives
//!   (ties → lower segment id; linfa breaks ties in `HashMap` order, which is not reproducible),
//!   and sibling leaves that end up predicting the same segment are merged.
//! - **fidelity** = share of all rows whose segment the tree predicts.
//! - Routing follows linfa's `predict`: a row goes left when `value < threshold`, right otherwise,
//!   so rules read `name < t` and `name >= t`; bounds on the same feature along a path are merged
//!   into `a <= name < b`.

use linfa::DatasetBase;
use linfa::prelude::*;
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::table::FeatureTable;
use super::{ClusterError, sample_rows};

/// One condition of a rule: `lower <= feature < upper` (either bound may be absent), in the
/// feature's raw unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Feature name.
    pub feature: String,
    /// Inclusive lower bound, if any.
    pub lower: Option<f64>,
    /// Exclusive upper bound, if any.
    pub upper: Option<f64>,
}

/// The rule of one leaf.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeafRule {
    /// Conditions, all of which hold for the leaf's rows (empty for a one-leaf tree).
    pub conditions: Vec<Condition>,
    /// Segment the leaf predicts.
    pub segment: usize,
    /// Rows (of all rows) that reach the leaf.
    pub n: usize,
    /// Share of those rows that belong to `segment`, in [0, 1].
    pub purity: f64,
    /// The rule in words: "data_gb >= 12.3 and age < 29.5 → segment 2 (n=1234, purity 0.91)".
    pub text: String,
}

/// The fitted surrogate tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurrogateTree {
    /// Depth limit used.
    pub max_depth: usize,
    /// Rows the tree was fit on (a sample when the table is larger than `tree_max_rows`).
    pub fit_rows: usize,
    /// Share of all rows whose segment the tree predicts, in [0, 1].
    pub fidelity: f64,
    /// One rule per leaf, left to right.
    pub leaves: Vec<LeafRule>,
}

/// Our copy of the fitted tree, with per-leaf segment counts over all rows.
enum Node {
    Leaf {
        counts: Vec<u64>,
        fallback: usize,
    },
    Split {
        feature: usize,
        threshold: f64,
        left: Box<Node>,
        right: Box<Node>,
    },
}

impl Node {
    fn from_linfa(n: &TreeNode<f64, usize>, k: usize) -> Result<Node, ClusterError> {
        if let Some(prediction) = n.prediction() {
            return Ok(Node::Leaf {
                counts: vec![0; k],
                fallback: prediction,
            });
        }
        let (feature, threshold, _) = n.split();
        let children = n.children();
        let child = |i: usize| match children[i] {
            Some(c) => Node::from_linfa(c, k).map(Box::new),
            None => Err(ClusterError::Linfa {
                algorithm: "decision tree",
                message: "split node without child".into(),
            }),
        };
        Ok(Node::Split {
            feature,
            threshold,
            left: child(0)?,
            right: child(1)?,
        })
    }

    fn route(&mut self, row: &[f64], segment: usize) {
        match self {
            Node::Leaf { counts, .. } => counts[segment] += 1,
            Node::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                if row[*feature] < *threshold {
                    left.route(row, segment)
                } else {
                    right.route(row, segment)
                }
            }
        }
    }

    /// Majority segment of a leaf (ties → lower id; linfa's prediction if the leaf is empty).
    fn majority(counts: &[u64], fallback: usize) -> usize {
        if counts.iter().all(|&c| c == 0) {
            return fallback;
        }
        let max = counts.iter().copied().max().unwrap_or(0);
        counts.iter().position(|&c| c == max).unwrap_or(fallback)
    }

    /// Merges sibling leaves that predict the same segment, bottom-up.
    fn merge(self) -> Node {
        match self {
            Node::Leaf { .. } => self,
            Node::Split {
                feature,
                threshold,
                left,
                right,
            } => match (left.merge(), right.merge()) {
                (
                    Node::Leaf {
                        counts: a,
                        fallback: fa,
                    },
                    Node::Leaf {
                        counts: b,
                        fallback: fb,
                    },
                ) if Node::majority(&a, fa) == Node::majority(&b, fb) => {
                    let counts = a.iter().zip(&b).map(|(x, y)| x + y).collect();
                    Node::Leaf {
                        counts,
                        fallback: Node::majority(&a, fa),
                    }
                }
                (l, r) => Node::Split {
                    feature,
                    threshold,
                    left: Box::new(l),
                    right: Box::new(r),
                },
            },
        }
    }

    /// Rows whose segment the (merged) tree predicts.
    fn hits(&self) -> u64 {
        match self {
            Node::Leaf { counts, fallback } => counts[Node::majority(counts, *fallback)],
            Node::Split { left, right, .. } => left.hits() + right.hits(),
        }
    }

    /// Appends one rule per leaf; `path` holds (feature, threshold, went_left).
    fn rules(&self, names: &[String], path: &mut Vec<(usize, f64, bool)>, out: &mut Vec<LeafRule>) {
        match self {
            Node::Leaf { counts, fallback } => {
                let segment = Node::majority(counts, *fallback);
                let n: u64 = counts.iter().sum();
                let purity = if n == 0 {
                    0.0
                } else {
                    counts[segment] as f64 / n as f64
                };
                let conditions = conditions(path, names);
                let text = rule_text(&conditions, segment, n, purity);
                out.push(LeafRule {
                    conditions,
                    segment,
                    n: n as usize,
                    purity,
                    text,
                });
            }
            Node::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                path.push((*feature, *threshold, true));
                left.rules(names, path, out);
                if let Some(step) = path.last_mut() {
                    step.2 = false;
                }
                right.rules(names, path, out);
                path.pop();
            }
        }
    }
}

/// Collapses a path into one condition per feature, in order of first appearance.
fn conditions(path: &[(usize, f64, bool)], names: &[String]) -> Vec<Condition> {
    let mut out: Vec<(usize, Condition)> = Vec::new();
    for &(f, t, left) in path {
        let pos = out.iter().position(|(g, _)| *g == f).unwrap_or_else(|| {
            out.push((
                f,
                Condition {
                    feature: names[f].clone(),
                    lower: None,
                    upper: None,
                },
            ));
            out.len() - 1
        });
        let c = &mut out[pos].1;
        if left {
            c.upper = Some(c.upper.map_or(t, |u| u.min(t)));
        } else {
            c.lower = Some(c.lower.map_or(t, |l| l.max(t)));
        }
    }
    out.into_iter().map(|(_, c)| c).collect()
}

/// A number with three significant digits (no exponent, trailing zeros trimmed).
fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (2 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn rule_text(conditions: &[Condition], segment: usize, n: u64, purity: f64) -> String {
    let lhs = if conditions.is_empty() {
        "all rows".to_string()
    } else {
        conditions
            .iter()
            .map(|c| match (c.lower, c.upper) {
                (Some(l), Some(u)) => format!("{} <= {} < {}", fmt_num(l), c.feature, fmt_num(u)),
                (Some(l), None) => format!("{} >= {}", c.feature, fmt_num(l)),
                (None, Some(u)) => format!("{} < {}", c.feature, fmt_num(u)),
                (None, None) => c.feature.clone(),
            })
            .collect::<Vec<_>>()
            .join(" and ")
    };
    format!("{lhs} → segment {segment} (n={n}, purity {purity:.2})")
}

/// Size limits of the surrogate tree (from `ProfileConfig`'s `tree_*` fields).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TreeParams {
    /// Depth limit.
    pub max_depth: usize,
    /// The tree is fit on a seeded sample of at most this many rows.
    pub max_rows: usize,
    /// Minimum share of the fit rows in a leaf (at least one row).
    pub min_leaf_share: f64,
}

/// Fits the surrogate tree (see the module docs). `medians` (one per column) fill missing values.
pub(crate) fn fit_surrogate(
    x: FeatureTable,
    labels: &[usize],
    k: usize,
    medians: &[f64],
    cfg: &TreeParams,
    seed: u64,
) -> Result<SurrogateTree, ClusterError> {
    let cols = x.cols();
    let imputed_row = |i: usize, out: &mut [f64]| {
        for (j, o) in out.iter_mut().enumerate() {
            let v = x.get(i, j);
            *o = if v.is_nan() { medians[j] } else { v };
        }
    };
    let idx = sample_rows(x.rows(), cfg.max_rows, seed);
    let mut fit_x = Array2::<f64>::zeros((idx.len(), cols));
    for (r, &i) in idx.iter().enumerate() {
        imputed_row(
            i,
            fit_x
                .row_mut(r)
                .as_slice_mut()
                .unwrap_or_else(|| unreachable!("standard layout")),
        );
    }
    let fit_y: Array1<usize> = idx.iter().map(|&i| labels[i]).collect();
    let min_leaf = (cfg.min_leaf_share * idx.len() as f64).max(1.0) as f32;
    let tree = DecisionTree::params()
        .max_depth(Some(cfg.max_depth))
        .min_weight_leaf(min_leaf)
        .min_weight_split(2.0 * min_leaf)
        .fit(&DatasetBase::new(fit_x, fit_y))
        .map_err(|e| ClusterError::Linfa {
            algorithm: "decision tree",
            message: e.to_string(),
        })?;
    let mut root = Node::from_linfa(tree.root_node(), k)?;
    let mut row = vec![0.0; cols];
    for (i, &l) in labels.iter().enumerate() {
        imputed_row(i, &mut row);
        root.route(&row, l);
    }
    let root = root.merge();
    let mut leaves = Vec::new();
    root.rules(x.names(), &mut Vec::new(), &mut leaves);
    Ok(SurrogateTree {
        max_depth: cfg.max_depth,
        fit_rows: idx.len(),
        fidelity: root.hits() as f64 / x.rows() as f64,
        leaves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_merge_bounds_on_the_same_feature() {
        // a < 10, b >= 3, a >= 2, a < 8  →  2 <= a < 8 and b >= 3.
        let names = vec!["a".to_string(), "b".to_string()];
        let path = [
            (0, 10.0, true),
            (1, 3.0, false),
            (0, 2.0, false),
            (0, 8.0, true),
        ];
        let c = conditions(&path, &names);
        let a = Condition {
            feature: "a".into(),
            lower: Some(2.0),
            upper: Some(8.0),
        };
        let b = Condition {
            feature: "b".into(),
            lower: Some(3.0),
            upper: None,
        };
        assert_eq!(c, vec![a.clone(), b.clone()]);
        assert_eq!(
            rule_text(&c, 1, 10, 0.9),
            "2 <= a < 8 and b >= 3 → segment 1 (n=10, purity 0.90)"
        );
        assert_eq!(
            rule_text(&[], 0, 5, 1.0),
            "all rows → segment 0 (n=5, purity 1.00)"
        );
    }

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(0.012345), "0.0123");
        assert_eq!(fmt_num(1234.56), "1235");
        assert_eq!(fmt_num(6.5), "6.5");
        assert_eq!(fmt_num(-0.5), "-0.5");
        assert_eq!(fmt_num(0.0), "0");
    }
}
