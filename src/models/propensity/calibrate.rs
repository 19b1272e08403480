//! Probability calibration of the trees' log-odds: Platt scaling and isotonic regression.

use serde::{Deserialize, Serialize};

/// A fitted map from the trees' log-odds to a probability (stored in the checkpoint as part of
/// `teleseg.model`; docs/checkpoint-format.md §4e).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    /// `p = 1 / (1 + exp(-(a · margin + b)))`.
    Platt { a: f64, b: f64 },
    /// `p = interp(margin, x, y)`: linear between the knots `x` (increasing log-odds) and their
    /// fitted probabilities `y` (non-decreasing), constant beyond the ends (numpy's `interp`).
    Isotonic { x: Vec<f64>, y: Vec<f64> },
    /// `p = 1 / (1 + exp(-margin))`.
    Identity,
}

pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

impl Calibrator {
    /// The probability for log-odds `margin`.
    pub fn apply(&self, margin: f64) -> f64 {
        match self {
            Calibrator::Platt { a, b } => sigmoid(a * margin + b),
            Calibrator::Identity => sigmoid(margin),
            Calibrator::Isotonic { x, y } => interp(margin, x, y),
        }
    }

    /// Platt scaling: the logistic regression of `y` (0/1) on `margin` by Newton's method
    /// with a backtracking line search on the mean log loss (a 1e-9 ridge keeps the Hessian
    /// invertible). Platt's (1999) smoothed targets `(n₊ + 1) / (n₊ + 2)` and `1 / (n₋ + 2)`
    /// keep the map finite on separable data.
    pub fn fit_platt(margin: &[f64], y: &[f64]) -> Calibrator {
        let pos = y.iter().filter(|&&v| v > 0.5).count() as f64;
        let neg = y.len() as f64 - pos;
        let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
        let t: Vec<f64> = y.iter().map(|&v| if v > 0.5 { hi } else { lo }).collect();
        let loss = |a: f64, b: f64| {
            margin
                .iter()
                .zip(&t)
                .map(|(&m, &t)| {
                    // −[t ln σ(z) + (1 − t) ln σ(−z)] = softplus(z) − t z, computed stably.
                    let z = a * m + b;
                    z.max(0.0) + (-z.abs()).exp().ln_1p() - t * z
                })
                .sum::<f64>()
        };
        let (mut a, mut b) = (1.0f64, 0.0f64);
        let mut current = loss(a, b);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for (&m, &t) in margin.iter().zip(&t) {
                let p = sigmoid(a * m + b);
                let (d, w) = (p - t, p * (1.0 - p));
                ga += d * m;
                gb += d;
                haa += w * m * m;
                hab += w * m;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.is_nan() || det <= 0.0 {
                break;
            }
            let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
            let mut step = 1.0;
            let mut improved = false;
            while step > 1e-10 {
                let (na, nb) = (a - step * da, b - step * db);
                let l = loss(na, nb);
                if l <= current {
                    (a, b, current, improved) = (na, nb, l, true);
                    break;
                }
                step *= 0.5;
            }
            if !improved || (step * da).abs() + (step * db).abs() < 1e-12 {
                break;
            }
        }
        Calibrator::Platt { a, b }
    }

    /// Isotonic regression of `y` on `margin` by pool-adjacent-violators (ties in `margin`
    /// pooled first), kept as the first and last knot of every constant block.
    pub fn fit_isotonic(margin: &[f64], y: &[f64]) -> Calibrator {
        let mut idx: Vec<usize> = (0..margin.len()).collect();
        idx.sort_by(|&a, &b| margin[a].total_cmp(&margin[b]));
        // Blocks: (x_first, x_last, sum of y, weight).
        let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::new();
        for &i in &idx {
            match blocks.last_mut() {
                Some(last) if last.1 == margin[i] => {
                    last.2 += y[i];
                    last.3 += 1.0;
                }
                _ => blocks.push((margin[i], margin[i], y[i], 1.0)),
            }
            while blocks.len() > 1 {
                let n = blocks.len();
                let (p, q) = (blocks[n - 2], blocks[n - 1]);
                if p.2 / p.3 <= q.2 / q.3 {
                    break;
                }
                blocks[n - 2] = (p.0, q.1, p.2 + q.2, p.3 + q.3);
                blocks.pop();
            }
        }
        let (mut x, mut yy) = (Vec::new(), Vec::new());
        for (x0, x1, s, w) in blocks {
            let v = s / w;
            x.push(x0);
            yy.push(v);
            if x1 > x0 {
                x.push(x1);
                yy.push(v);
            }
        }
        Calibrator::Isotonic { x, y: yy }
    }
}

/// numpy's `interp(t, x, y)` for increasing `x`.
fn interp(t: f64, x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() {
        return 0.5;
    }
    if t <= x[0] {
        return y[0];
    }
    if t >= x[x.len() - 1] {
        return y[y.len() - 1];
    }
    let j = x.partition_point(|&v| v <= t); // x[j-1] <= t < x[j]
    let (x0, x1, y0, y1) = (x[j - 1], x[j], y[j - 1], y[j]);
    y0 + (y1 - y0) * (t - x0) / (x1 - x0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_violators_and_interpolates() {
        // y over increasing x: 0, 1, 0, 1, 1 → blocks [0], [0.5, 0.5], [1, 1].
        let c = Calibrator::fit_isotonic(&[1.0, 2.0, 3.0, 4.0, 5.0], &[0.0, 1.0, 0.0, 1.0, 1.0]);
        let Calibrator::Isotonic { x, y } = &c else {
            panic!("{c:?}")
        };
        assert_eq!(x, &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(y, &[0.0, 0.5, 0.5, 1.0, 1.0]);
        assert_eq!(c.apply(0.0), 0.0);
        assert_eq!(c.apply(1.5), 0.25);
        assert_eq!(c.apply(2.5), 0.5);
        assert_eq!(c.apply(9.0), 1.0);
    }

    #[test]
    fn isotonic_pools_ties_in_the_margin() {
        let c = Calibrator::fit_isotonic(&[1.0, 1.0, 2.0], &[0.0, 1.0, 1.0]);
        assert_eq!(
            c,
            Calibrator::Isotonic {
                x: vec![1.0, 2.0],
                y: vec![0.5, 1.0]
            }
        );
    }

    #[test]
    fn platt_recovers_a_logistic_map() {
        // Outcomes "drawn" from p = σ(2m − 1) on a grid: of 1000 copies of each point, the
        // nearest whole number to 1000·p are positive.
        let mut m = Vec::new();
        let mut y = Vec::new();
        for i in 0..400 {
            let t = -3.0 + 6.0 * (i as f64) / 400.0;
            let positives = (1000.0 * sigmoid(2.0 * t - 1.0)).round() as usize;
            for k in 0..1000 {
                m.push(t);
                y.push(f64::from(u8::from(k < positives)));
            }
        }
        let Calibrator::Platt { a, b } = Calibrator::fit_platt(&m, &y) else {
            panic!()
        };
        assert!(
            (a - 2.0).abs() < 0.05 && (b + 1.0).abs() < 0.05,
            "a {a} b {b}"
        );
    }
}
