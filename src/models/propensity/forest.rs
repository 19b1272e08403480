//! A fitted booster's trees on flat node arrays: predictions without perpetual's per-node
//! hash lookups (its `Tree::predict_row` and the hashing were 22 % of `teleseg stream`'s CPU),
//! and the layout [`super::shap`] walks (its explainer owns the forest).

use perpetual::PerpetualBooster;
use rayon::prelude::*;

/// One tree as flat arrays; node 0 is the root.
#[derive(Debug, Clone)]
pub(super) struct FlatTree {
    /// Per node: the split feature (unused for leaves).
    pub(super) feature: Vec<usize>,
    pub(super) threshold: Vec<f64>,
    /// Children as node indices: `left`, `right`, `missing` (equal to one of them when the node
    /// has no missing branch).
    pub(super) left: Vec<usize>,
    pub(super) right: Vec<usize>,
    pub(super) missing: Vec<usize>,
    pub(super) leaf: Vec<bool>,
    pub(super) value: Vec<f64>,
    pub(super) cover: Vec<f64>,
    pub(super) depth: usize,
}

impl FlatTree {
    pub(super) fn from(tree: &perpetual::tree::core::Tree) -> FlatTree {
        // Number the reachable nodes depth-first from the root.
        let mut index = std::collections::HashMap::new();
        let mut order = vec![0usize];
        let mut i = 0;
        while i < order.len() {
            let n = &tree.nodes[&order[i]];
            index.insert(order[i], i);
            if !n.is_leaf {
                for c in [n.left_child, n.right_child, n.missing_node] {
                    if !order.contains(&c) {
                        order.push(c);
                    }
                }
            }
            i += 1;
        }
        let mut t = FlatTree {
            feature: Vec::with_capacity(order.len()),
            threshold: Vec::with_capacity(order.len()),
            left: Vec::with_capacity(order.len()),
            right: Vec::with_capacity(order.len()),
            missing: Vec::with_capacity(order.len()),
            leaf: Vec::with_capacity(order.len()),
            value: Vec::with_capacity(order.len()),
            cover: Vec::with_capacity(order.len()),
            depth: 0,
        };
        for num in &order {
            let n = &tree.nodes[num];
            // teleseg fits numeric splits only (categorical codes are numbers to perpetual).
            assert!(
                n.left_cats.is_none(),
                "categorical splits are not supported"
            );
            let child = |c: usize| if n.is_leaf { 0 } else { index[&c] };
            t.feature.push(n.split_feature);
            t.threshold.push(n.split_value);
            t.left.push(child(n.left_child));
            t.right.push(child(n.right_child));
            t.missing.push(child(n.missing_node));
            t.leaf.push(n.is_leaf);
            t.value.push(f64::from(n.weight_value));
            t.cover.push(f64::from(n.hessian_sum));
        }
        t.depth = t.depth_of(0);
        t
    }

    /// The most distinct features on one root-to-leaf path.
    pub(super) fn longest_merged_path(&self) -> usize {
        fn walk(t: &FlatTree, i: usize, on_path: &mut Vec<usize>) -> usize {
            if t.leaf[i] {
                return on_path.len();
            }
            let f = t.feature[i];
            let new = !on_path.contains(&f);
            if new {
                on_path.push(f);
            }
            let mut kids = vec![t.left[i], t.right[i]];
            if t.has_missing_branch(i) {
                kids.push(t.missing[i]);
            }
            let longest = kids
                .into_iter()
                .map(|c| walk(t, c, on_path))
                .max()
                .unwrap_or(0);
            if new {
                on_path.pop();
            }
            longest
        }
        walk(self, 0, &mut Vec::new())
    }

    fn depth_of(&self, i: usize) -> usize {
        if self.leaf[i] {
            0
        } else {
            let mut d = self
                .depth_of(self.left[i])
                .max(self.depth_of(self.right[i]));
            if self.has_missing_branch(i) {
                d = d.max(self.depth_of(self.missing[i]));
            }
            d + 1
        }
    }

    pub(super) fn has_missing_branch(&self, i: usize) -> bool {
        self.missing[i] != self.left[i] && self.missing[i] != self.right[i]
    }

    /// The child row `x` goes to from node `i` (perpetual's rule: NaN → missing, `<` → left).
    pub(super) fn child(&self, i: usize, x: &[f64]) -> usize {
        self.child_at(i, x[self.feature[i]])
    }

    /// The child a row whose split feature is `v` goes to from node `i`.
    #[inline]
    pub(super) fn child_at(&self, i: usize, v: f64) -> usize {
        if v.is_nan() {
            self.missing[i]
        } else if v < self.threshold[i] {
            self.left[i]
        } else {
            self.right[i]
        }
    }

    /// The cover-weighted mean leaf value (the tree's expected output).
    pub(super) fn expected(&self, i: usize) -> f64 {
        if self.leaf[i] {
            return self.value[i];
        }
        let mut kids = vec![self.left[i], self.right[i]];
        if self.has_missing_branch(i) {
            kids.push(self.missing[i]);
        }
        kids.iter()
            .map(|&c| self.cover[c] * self.expected(c))
            .sum::<f64>()
            / self.cover[i]
    }
}

/// Every prediction tree of a booster, in its order, with its base score.
#[derive(Debug, Clone)]
pub struct Forest {
    pub(super) trees: Vec<FlatTree>,
    /// perpetual's `base_score`, where predictions start.
    pub(super) base: f64,
}

impl Forest {
    pub fn new(booster: &PerpetualBooster) -> Forest {
        assert!(
            booster.cfg.missing.is_nan(),
            "teleseg's boosters treat NaN as missing"
        );
        Forest {
            trees: booster
                .get_prediction_trees()
                .iter()
                .map(FlatTree::from)
                .collect(),
            base: booster.base_score,
        }
    }

    /// The trees' output for every row of the column-major `x` (`rows` rows, `cols` features):
    /// perpetual's `predict`, the same sums in the same order.
    pub fn margin(&self, x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
        assert_eq!(
            x.len(),
            rows * cols,
            "a column-major matrix of {rows} × {cols}"
        );
        (0..rows)
            .into_par_iter()
            .map(|r| {
                let mut sum = self.base;
                for t in &self.trees {
                    let mut i = 0;
                    while !t.leaf[i] {
                        i = t.child_at(i, x[t.feature[i] * rows + r]);
                    }
                    sum += t.value[i];
                }
                sum
            })
            .collect()
    }

    /// `base_score` plus every tree's expected output (cover-weighted mean leaf value).
    pub fn expected(&self) -> f64 {
        self.base + self.trees.iter().map(|t| t.expected(0)).sum::<f64>()
    }
}
