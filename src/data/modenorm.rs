//! Mode-specific normalisation (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN",
//! used by TVAE): a 1-D Gaussian mixture per numeric column, fitted on train values by EM.
//!
//! A value `t` is represented by its most likely mode `k = argmax_k w_k N(t; μ_k, σ_k)` and the
//! scalar `α = (t - μ_k) / (4 σ_k)` clipped to `[-0.99, 0.99]`; the inverse is `t = μ_k + 4 σ_k α`.
//! Multi-modal columns (spikes at 0, bimodal usage) become a categorical choice plus a bounded
//! scalar, which a decoder reproduces far better than one standardised value.

use serde::{Deserialize, Serialize};

/// A fitted 1-D Gaussian mixture (modes sorted by mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeNorm {
    /// Mixture weights (sum to 1).
    pub weights: Vec<f64>,
    /// Mode means, ascending.
    pub means: Vec<f64>,
    /// Mode standard deviations (> 0).
    pub stds: Vec<f64>,
}

/// Modes whose weight falls below this share are dropped after fitting.
pub const MIN_MODE_WEIGHT: f64 = 0.005;
/// EM iterations.
const ITERATIONS: usize = 100;
/// Values used for fitting at most (an even stride over the sorted values).
const MAX_FIT_VALUES: usize = 5_000;

fn log_normal(x: f64, mean: f64, std: f64) -> f64 {
    let z = (x - mean) / std;
    -0.5 * z * z - std.ln() - 0.918_938_533_204_672_8
}

impl ModeNorm {
    /// Fits at most `max_modes` modes to the finite `values` by EM, deterministically: the
    /// initial means are evenly spaced quantiles, the std floor is 1e-3 of the value range (at
    /// least 1e-6). `None` when there is no finite value.
    pub fn fit(values: &[f64], max_modes: usize) -> Option<ModeNorm> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        if v.len() > MAX_FIT_VALUES {
            let step = v.len() as f64 / MAX_FIT_VALUES as f64;
            v = (0..MAX_FIT_VALUES)
                .map(|i| v[(i as f64 * step) as usize])
                .collect();
        }
        let n = v.len();
        let (lo, hi) = (v[0], v[n - 1]);
        let floor = ((hi - lo) * 1e-3).max(1e-6);
        let mut distinct = v.clone();
        distinct.dedup();
        let k = max_modes.clamp(1, distinct.len());
        let mut means: Vec<f64> = (0..k)
            .map(|j| v[((j as f64 + 0.5) / k as f64 * n as f64) as usize])
            .collect();
        let global_std = {
            let m = v.iter().sum::<f64>() / n as f64;
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64)
                .sqrt()
                .max(floor)
        };
        let mut stds = vec![global_std / k as f64; k];
        let mut weights = vec![1.0 / k as f64; k];
        let mut resp = vec![0.0f64; n * k];
        for _ in 0..ITERATIONS {
            // E step.
            for (i, &x) in v.iter().enumerate() {
                let r = &mut resp[i * k..(i + 1) * k];
                let mut max = f64::NEG_INFINITY;
                for j in 0..k {
                    r[j] = weights[j].max(1e-300).ln() + log_normal(x, means[j], stds[j]);
                    max = max.max(r[j]);
                }
                let mut sum = 0.0;
                for rj in r.iter_mut() {
                    *rj = (*rj - max).exp();
                    sum += *rj;
                }
                r.iter_mut().for_each(|rj| *rj /= sum);
            }
            // M step.
            for j in 0..k {
                let nk: f64 = (0..n).map(|i| resp[i * k + j]).sum();
                if nk < 1e-9 {
                    weights[j] = 0.0;
                    continue;
                }
                let m = (0..n).map(|i| resp[i * k + j] * v[i]).sum::<f64>() / nk;
                let var = (0..n)
                    .map(|i| resp[i * k + j] * (v[i] - m).powi(2))
                    .sum::<f64>()
                    / nk;
                weights[j] = nk / n as f64;
                means[j] = m;
                stds[j] = var.sqrt().max(floor);
            }
        }
        let mut modes: Vec<(f64, f64, f64)> = (0..k)
            .filter(|&j| weights[j] >= MIN_MODE_WEIGHT)
            .map(|j| (weights[j], means[j], stds[j]))
            .collect();
        if modes.is_empty() {
            let best = (0..k)
                .max_by(|&a, &b| weights[a].total_cmp(&weights[b]))
                .unwrap_or(0);
            modes.push((1.0, means[best], stds[best]));
        }
        modes.sort_by(|a, b| a.1.total_cmp(&b.1));
        let total: f64 = modes.iter().map(|m| m.0).sum();
        Some(ModeNorm {
            weights: modes.iter().map(|m| m.0 / total).collect(),
            means: modes.iter().map(|m| m.1).collect(),
            stds: modes.iter().map(|m| m.2).collect(),
        })
    }

    /// Number of modes.
    pub fn n_modes(&self) -> usize {
        self.means.len()
    }

    /// `(mode, α)` of a finite value: the most likely mode and the clipped scaled offset.
    pub fn encode(&self, t: f64) -> (usize, f64) {
        let mut best = 0;
        let mut best_lp = f64::NEG_INFINITY;
        for j in 0..self.n_modes() {
            let lp = self.weights[j].ln() + log_normal(t, self.means[j], self.stds[j]);
            if lp > best_lp {
                best_lp = lp;
                best = j;
            }
        }
        let alpha = ((t - self.means[best]) / (4.0 * self.stds[best])).clamp(-0.99, 0.99);
        (best, alpha)
    }

    /// The value of mode `mode` and scaled offset `alpha` (clipped to `[-1, 1]`).
    pub fn decode(&self, mode: usize, alpha: f64) -> f64 {
        self.means[mode] + 4.0 * self.stds[mode] * alpha.clamp(-1.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_two_separated_modes() {
        // 300 values near 0 and 700 near 100: two modes with weights 0.3 / 0.7.
        let mut v: Vec<f64> = (0..300).map(|i| (i % 10) as f64 * 0.1).collect();
        v.extend((0..700).map(|i| 100.0 + (i % 20) as f64 * 0.1));
        let m = ModeNorm::fit(&v, 2).unwrap();
        assert_eq!(m.n_modes(), 2);
        assert!((m.weights[0] - 0.3).abs() < 1e-6, "{:?}", m.weights);
        assert!((m.means[0] - 0.45).abs() < 1e-6, "{:?}", m.means);
        assert!((m.means[1] - 100.95).abs() < 1e-6, "{:?}", m.means);
        let (k, a) = m.encode(101.0);
        assert_eq!(k, 1);
        assert!((m.decode(k, a) - 101.0).abs() < 1e-9);
    }

    #[test]
    fn constant_column_has_one_mode_and_round_trips() {
        let m = ModeNorm::fit(&[5.0; 50], 8).unwrap();
        assert_eq!(m.n_modes(), 1);
        let (k, a) = m.encode(5.0);
        assert!((m.decode(k, a) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn empty_or_all_missing_is_none() {
        assert!(ModeNorm::fit(&[f64::NAN, f64::NAN], 3).is_none());
    }

    #[test]
    fn fit_is_deterministic() {
        let v: Vec<f64> = (0..5000).map(|i| ((i * 7919) % 1000) as f64).collect();
        assert_eq!(ModeNorm::fit(&v, 5), ModeNorm::fit(&v, 5));
    }
}
