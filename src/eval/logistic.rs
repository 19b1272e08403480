//! L2-regularised, class-balanced logistic regression by full-batch gradient descent, and the
//! F1 / ROC AUC it is scored with (the TSTR / TRTR classifier of [`super::synthetic`]).
//!
//! Why hand-written: linfa-trees (already a dependency) gives no scores for ROC AUC, and
//! linfa-logistic would pull in argmin; on standardised features 400 steps of gradient descent
//! converge to well under 1e-3 of the optimum loss for these sizes, deterministically.

/// A fitted model: `p(y=1|x) = sigmoid(w·x + b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    pub weights: Vec<f64>,
    pub bias: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Logistic {
    /// Fits on `x` (`[rows, cols]` row-major) and labels `y`, each class weighted by
    /// `rows / (2 · class_rows)`, L2 penalty `l2 · ‖w‖² / 2`.
    pub fn fit(x: &[f32], cols: usize, y: &[bool], l2: f64, steps: usize) -> Logistic {
        let n = y.len();
        let pos = y.iter().filter(|&&b| b).count().max(1) as f64;
        let neg = (n as f64 - pos).max(1.0);
        let (wp, wn) = (n as f64 / (2.0 * pos), n as f64 / (2.0 * neg));
        let mut w = vec![0.0f64; cols];
        let mut b = 0.0f64;
        let lr = 0.5;
        let mut grad = vec![0.0f64; cols];
        for _ in 0..steps {
            grad.iter_mut().for_each(|g| *g = 0.0);
            let mut gb = 0.0;
            for (row, &yi) in x.chunks_exact(cols).zip(y) {
                let z: f64 = row
                    .iter()
                    .zip(&w)
                    .map(|(&a, &wi)| f64::from(a) * wi)
                    .sum::<f64>()
                    + b;
                let weight = if yi { wp } else { wn };
                let err = weight * (sigmoid(z) - if yi { 1.0 } else { 0.0 });
                for (g, &a) in grad.iter_mut().zip(row) {
                    *g += err * f64::from(a);
                }
                gb += err;
            }
            for (wi, g) in w.iter_mut().zip(&grad) {
                *wi -= lr * (g / n as f64 + l2 * *wi);
            }
            b -= lr * gb / n as f64;
        }
        Logistic {
            weights: w,
            bias: b,
        }
    }

    /// `p(y=1|x)` of every row.
    pub fn predict(&self, x: &[f32], cols: usize) -> Vec<f64> {
        x.chunks_exact(cols)
            .map(|row| {
                sigmoid(
                    row.iter()
                        .zip(&self.weights)
                        .map(|(&a, &w)| f64::from(a) * w)
                        .sum::<f64>()
                        + self.bias,
                )
            })
            .collect()
    }
}

/// F1 of the positive class for predictions `score >= 0.5`.
pub fn f1(y: &[bool], score: &[f64]) -> f64 {
    let (mut tp, mut fp, mut fne) = (0.0, 0.0, 0.0);
    for (&t, &s) in y.iter().zip(score) {
        match (t, s >= 0.5) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (true, false) => fne += 1.0,
            _ => {}
        }
    }
    if tp == 0.0 {
        0.0
    } else {
        2.0 * tp / (2.0 * tp + fp + fne)
    }
}

/// ROC AUC: the probability a random positive scores above a random negative (ties count ½),
/// by the rank-sum (Mann–Whitney) formula with average ranks. `None` without both classes.
pub fn roc_auc(y: &[bool], score: &[f64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut ranks = vec![0.0f64; y.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = avg;
        }
        i = j + 1;
    }
    let pos = y.iter().filter(|&&b| b).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let rank_sum: f64 = y
        .iter()
        .zip(&ranks)
        .filter(|(b, _)| **b)
        .map(|(_, r)| r)
        .sum();
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_hand_computed() {
        // Positives score 0.9, 0.4; negatives 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.4<0.5,
        // 0.4>0.1) → 3 of 4.
        let y = [true, false, true, false];
        let s = [0.9, 0.5, 0.4, 0.1];
        assert!((roc_auc(&y, &s).unwrap() - 0.75).abs() < 1e-12);
        // A tie between a positive and a negative counts one half.
        assert!((roc_auc(&[true, false], &[0.3, 0.3]).unwrap() - 0.5).abs() < 1e-12);
        assert!(roc_auc(&[true, true], &[0.1, 0.2]).is_none());
    }

    #[test]
    fn f1_hand_computed() {
        // tp = 1 (0.9), fp = 1 (0.6), fn = 1 (0.2): F1 = 2 / (2 + 1 + 1) = 0.5.
        let y = [true, false, true, false];
        let s = [0.9, 0.6, 0.2, 0.1];
        assert!((f1(&y, &s) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn separable_data_is_learned() {
        let x: Vec<f32> = (0..200).map(|i| (i as f32 - 100.0) / 50.0).collect();
        let y: Vec<bool> = (0..200).map(|i| i >= 100).collect();
        let m = Logistic::fit(&x, 1, &y, 1e-4, 400);
        let p = m.predict(&x, 1);
        assert!(f1(&y, &p) > 0.95);
        assert!(roc_auc(&y, &p).unwrap() > 0.99);
    }
}
