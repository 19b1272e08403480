//! Disjoint linear bandit models: one Bayesian ridge regression of the reward on the context per
//! arm, updated one round at a time (Sherman–Morrison on the inverse precision), and the three
//! policies built on them: Thompson sampling, LinUCB and ε-greedy.
//!
//! Arm `a` keeps `A⁻¹ = (Λ + Σ x xᵀ)⁻¹`, `b = Σ r x` and `θ = A⁻¹ b` over the rounds where it
//! was played, and a noise variance `σ²` (the running mean of its squared one-step-ahead
//! residuals, floored at 0.01). Its posterior is `θ ~ N(θ̂, v² σ² A⁻¹)`. The prior precision
//! `Λ` is `λ` on every feature and `λ · 10⁻³` on the intercept (the context's first entry, a
//! constant 1), so an arm with few rounds shrinks towards its own mean, not towards 0.

use std::collections::HashMap;

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::config::Algorithm;
use super::factored::FactoredModel;
use crate::data::stats::{gauss_legendre, normal_cdf};

/// Floor of the per-arm noise variance (a Bernoulli reward near 0 or 1 would otherwise make the
/// posterior collapse after a few rounds).
const MIN_NOISE: f64 = 0.01;
/// The intercept's prior precision relative to the other features'.
const INTERCEPT_PRIOR: f64 = 1e-3;

/// The per-arm ridge regressions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmModels {
    pub arms: usize,
    pub dim: usize,
    pub ridge: f64,
    /// `[arms, dim, dim]`.
    pub a_inv: Vec<f64>,
    /// `[arms, dim]`.
    pub b: Vec<f64>,
    /// `[arms, dim]`.
    pub theta: Vec<f64>,
    /// Rounds seen per arm.
    pub count: Vec<f64>,
    /// Sum of squared one-step-ahead residuals per arm.
    pub residual_ss: Vec<f64>,
}

impl ArmModels {
    /// Prior-only models: `A⁻¹ = Λ⁻¹`, `θ = 0`.
    pub fn new(arms: usize, dim: usize, ridge: f64) -> ArmModels {
        let mut a_inv = vec![0.0; arms * dim * dim];
        for a in 0..arms {
            for j in 0..dim {
                let precision = if j == 0 {
                    ridge * INTERCEPT_PRIOR
                } else {
                    ridge
                };
                a_inv[a * dim * dim + j * dim + j] = 1.0 / precision;
            }
        }
        ArmModels {
            arms,
            dim,
            ridge,
            a_inv,
            b: vec![0.0; arms * dim],
            theta: vec![0.0; arms * dim],
            count: vec![0.0; arms],
            residual_ss: vec![0.0; arms],
        }
    }

    fn a_inv_of(&self, a: usize) -> &[f64] {
        &self.a_inv[a * self.dim * self.dim..(a + 1) * self.dim * self.dim]
    }

    /// Expected reward of arm `a` in context `x`.
    pub fn mean(&self, a: usize, x: &[f64]) -> f64 {
        dot(&self.theta[a * self.dim..(a + 1) * self.dim], x)
    }

    /// `xᵀ A_a⁻¹ x`: the squared width of arm `a`'s estimate at `x`, in units of the noise.
    pub fn spread(&self, a: usize, x: &[f64]) -> f64 {
        let m = self.a_inv_of(a);
        let d = self.dim;
        let mut s = 0.0;
        for i in 0..d {
            s += x[i] * dot(&m[i * d..(i + 1) * d], x);
        }
        s.max(0.0)
    }

    /// The noise variance of arm `a`.
    pub fn noise(&self, a: usize) -> f64 {
        if self.count[a] < 2.0 {
            0.25
        } else {
            (self.residual_ss[a] / self.count[a]).max(MIN_NOISE)
        }
    }

    /// Adds one round: arm `a` played in context `x` returned `reward`.
    pub fn update(&mut self, a: usize, x: &[f64], reward: f64) {
        let d = self.dim;
        let resid = reward - self.mean(a, x);
        self.residual_ss[a] += resid * resid;
        self.count[a] += 1.0;
        let m = &mut self.a_inv[a * d * d..(a + 1) * d * d];
        // u = A⁻¹ x (A⁻¹ is symmetric), then A⁻¹ -= u uᵀ / (1 + xᵀ u).
        let u: Vec<f64> = (0..d).map(|i| dot(&m[i * d..(i + 1) * d], x)).collect();
        let denom = 1.0 + dot(x, &u);
        for i in 0..d {
            for j in 0..d {
                m[i * d + j] -= u[i] * u[j] / denom;
            }
        }
        let b = &mut self.b[a * d..(a + 1) * d];
        for (bi, xi) in b.iter_mut().zip(x) {
            *bi += reward * xi;
        }
        let theta: Vec<f64> = (0..d).map(|i| dot(&m[i * d..(i + 1) * d], b)).collect();
        self.theta[a * d..(a + 1) * d].copy_from_slice(&theta);
    }
}

/// The index and value of the largest entry (the first among ties; `(0, -inf)` when empty).
pub fn argmax(values: &[f64]) -> (usize, f64) {
    values
        .iter()
        .copied()
        .enumerate()
        .fold(
            (0, f64::NEG_INFINITY),
            |b, (i, v)| if v > b.1 { (i, v) } else { b },
        )
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The reward model under a policy: disjoint per-arm regressions or one factored regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RewardModel {
    Disjoint(ArmModels),
    Factored(FactoredModel),
}

impl RewardModel {
    /// What online updates change (everything but the structure), by name: what a stream
    /// snapshot stores to resume a policy without replaying its updates
    /// ([`RewardModel::set_state`] puts it back, bit for bit).
    pub fn state(&self) -> Vec<(&'static str, Vec<f64>)> {
        match self {
            RewardModel::Disjoint(m) => vec![
                ("a_inv", m.a_inv.clone()),
                ("b", m.b.clone()),
                ("theta", m.theta.clone()),
                ("count", m.count.clone()),
                ("residual_ss", m.residual_ss.clone()),
            ],
            RewardModel::Factored(m) => vec![
                ("a_inv", m.a_inv.clone()),
                ("theta", m.theta.clone()),
                ("count", vec![m.count]),
                ("residual_ss", vec![m.residual_ss]),
            ],
        }
    }

    /// Replaces what online updates change by `state` (as [`RewardModel::state`] gives it for a
    /// model of this structure). On a missing or wrongly sized array: the rule broken, and the
    /// model unchanged.
    pub fn set_state(&mut self, state: &HashMap<String, Vec<f64>>) -> Result<(), String> {
        for (name, now) in self.state() {
            match state.get(name) {
                Some(v) if v.len() == now.len() => {}
                Some(v) => {
                    return Err(format!(
                        "`{name}` has {} values where this policy has {}",
                        v.len(),
                        now.len()
                    ));
                }
                None => return Err(format!("`{name}` is missing")),
            }
        }
        let get = |name: &str| state[name].clone();
        match self {
            RewardModel::Disjoint(m) => {
                m.a_inv = get("a_inv");
                m.b = get("b");
                m.theta = get("theta");
                m.count = get("count");
                m.residual_ss = get("residual_ss");
            }
            RewardModel::Factored(m) => {
                m.a_inv = get("a_inv");
                m.theta = get("theta");
                m.count = state["count"][0];
                m.residual_ss = state["residual_ss"][0];
            }
        }
        Ok(())
    }

    pub fn arms(&self) -> usize {
        match self {
            RewardModel::Disjoint(m) => m.arms,
            RewardModel::Factored(m) => m.arms,
        }
    }

    /// Expected reward of arm `a` in context `x`.
    pub fn mean(&self, a: usize, x: &[f64]) -> f64 {
        match self {
            RewardModel::Disjoint(m) => m.mean(a, x),
            RewardModel::Factored(m) => m.mean(a, x),
        }
    }

    /// Every arm's expected reward at `x`.
    pub fn means(&self, x: &[f64]) -> Vec<f64> {
        (0..self.arms()).map(|a| self.mean(a, x)).collect()
    }

    /// Every arm's squared width at `x`, in units of its noise.
    pub fn spreads(&self, x: &[f64]) -> Vec<f64> {
        match self {
            RewardModel::Disjoint(m) => (0..m.arms).map(|a| m.spread(a, x)).collect(),
            RewardModel::Factored(m) => m.spreads(x),
        }
    }

    /// [`Self::spreads`] of each context of `xs` (the factored model shares its passes over
    /// `A⁻¹` between contexts).
    pub fn spreads_many(&self, xs: &[Vec<f64>]) -> Vec<Vec<f64>> {
        match self {
            RewardModel::Disjoint(_) => xs.iter().map(|x| self.spreads(x)).collect(),
            RewardModel::Factored(m) => m.spreads_many(xs),
        }
    }

    /// The noise variance of arm `a`.
    pub fn noise(&self, a: usize) -> f64 {
        match self {
            RewardModel::Disjoint(m) => m.noise(a),
            RewardModel::Factored(m) => m.noise(),
        }
    }

    /// Adds one round: arm `a` played in context `x` returned `reward`.
    pub fn update(&mut self, a: usize, x: &[f64], reward: f64) {
        match self {
            RewardModel::Disjoint(m) => m.update(a, x, reward),
            RewardModel::Factored(m) => m.update(a, x, reward),
        }
    }

    /// The posterior variance of `Σ_i Σ_a w_ia · mean(a, x_i)` (the delta method for a value
    /// estimate that averages the model's predictions with weights `w`, one row of `arms`
    /// weights per context).
    pub fn weighted_mean_variance<'a>(
        &self,
        rows: impl Iterator<Item = (&'a [f64], &'a [f64])>,
    ) -> f64 {
        match self {
            RewardModel::Disjoint(m) => {
                let mut acc = vec![vec![0.0; m.dim]; m.arms];
                for (x, w) in rows {
                    for (acc_a, wa) in acc.iter_mut().zip(w) {
                        acc_a.iter_mut().zip(x).for_each(|(s, xv)| *s += wa * xv);
                    }
                }
                acc.iter()
                    .enumerate()
                    .map(|(a, v)| m.noise(a) * m.spread(a, v))
                    .sum()
            }
            RewardModel::Factored(m) => {
                let mut acc = vec![0.0; m.size()];
                for (x, w) in rows {
                    for (a, wa) in w.iter().enumerate() {
                        if *wa != 0.0 {
                            m.add_phi(a, x, *wa, &mut acc);
                        }
                    }
                }
                m.noise() * m.quadratic(&acc)
            }
        }
    }
}

/// A policy: the arm models and how they are turned into choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub algorithm: Algorithm,
    pub alpha: f64,
    pub epsilon: f64,
    pub posterior_scale: f64,
    pub samples: usize,
    pub models: RewardModel,
}

impl Policy {
    /// The greedy arm: the largest expected reward (the lowest index among ties).
    pub fn greedy(&self, x: &[f64]) -> usize {
        argmax(&self.models.means(x)).0
    }

    fn ucb(&self, x: &[f64]) -> usize {
        self.ucb_with(x, &self.models.spreads(x))
    }

    fn ucb_with(&self, x: &[f64], spreads: &[f64]) -> usize {
        let scores: Vec<f64> = (0..self.models.arms())
            .map(|a| self.models.mean(a, x) + self.alpha * spreads[a].sqrt())
            .collect();
        argmax(&scores).0
    }

    /// One Thompson draw: the arm whose sampled expected reward is largest. The arms' posterior
    /// scores at `x` are independent normals `N(θ̂ᵀx, v² σ² xᵀA⁻¹x)`.
    fn thompson_draw<R: Rng + ?Sized>(&self, means: &[f64], sd: &[f64], rng: &mut R) -> usize {
        // No allocation: this runs `samples` times per customer when scoring.
        let (mut best, mut best_score) = (0, f64::NEG_INFINITY);
        for (a, (m, s)) in means.iter().zip(sd).enumerate() {
            let z: f64 = StandardNormal.sample(rng);
            let score = m + s * z;
            if score > best_score {
                (best, best_score) = (a, score);
            }
        }
        best
    }

    /// The arms' posterior means and standard deviations at `x`.
    fn thompson_params(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        self.thompson_params_with(x, &self.models.spreads(x))
    }

    fn thompson_params_with(&self, x: &[f64], spreads: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let means = self.models.means(x);
        let sd = spreads
            .iter()
            .enumerate()
            .map(|(a, s)| self.posterior_scale * (self.models.noise(a) * s).sqrt())
            .collect();
        (means, sd)
    }

    /// The arm the policy plays at `x` (random for Thompson sampling and ε-greedy).
    pub fn choose<R: Rng + ?Sized>(&self, x: &[f64], rng: &mut R) -> usize {
        match self.algorithm {
            Algorithm::Linucb => self.ucb(x),
            Algorithm::EpsilonGreedy => {
                if rand::RngExt::random::<f64>(rng) < self.epsilon {
                    rand::RngExt::random_range(rng, 0..self.models.arms())
                } else {
                    self.greedy(x)
                }
            }
            Algorithm::Thompson => {
                let (means, sd) = self.thompson_params(x);
                self.thompson_draw(&means, &sd, rng)
            }
        }
    }

    /// The policy's probability of every arm at `x`: exact for LinUCB and ε-greedy; for Thompson
    /// sampling exact by quadrature ([`argmax_probabilities`]) when `samples` is 0, else the
    /// share of `samples` draws (seeded by `rng`; how checkpoints written before the quadrature
    /// score).
    pub fn probabilities<R: Rng + ?Sized>(&self, x: &[f64], rng: &mut R) -> Vec<f64> {
        let spreads = match self.algorithm {
            Algorithm::EpsilonGreedy => Vec::new(),
            _ => self.models.spreads(x),
        };
        self.probabilities_with(x, &spreads, rng)
    }

    /// [`Self::probabilities`] for each context of `xs`, context `k`'s draws seeded by
    /// `rng_of(k)`: the spreads of all contexts come from [`RewardModel::spreads_many`], then
    /// the contexts run in parallel. Equal to calling [`Self::probabilities`] per context.
    pub fn probabilities_many<R: Rng>(
        &self,
        xs: &[Vec<f64>],
        rng_of: impl Fn(usize) -> R + Sync,
    ) -> Vec<Vec<f64>> {
        use rayon::prelude::*;
        let spreads = match self.algorithm {
            Algorithm::EpsilonGreedy => vec![Vec::new(); xs.len()],
            _ => self.models.spreads_many(xs),
        };
        xs.par_iter()
            .zip(&spreads)
            .enumerate()
            .map(|(k, (x, s))| self.probabilities_with(x, s, &mut rng_of(k)))
            .collect()
    }

    /// [`Self::probabilities`] given the arms' spreads at `x` (unused by ε-greedy).
    fn probabilities_with<R: Rng + ?Sized>(
        &self,
        x: &[f64],
        spreads: &[f64],
        rng: &mut R,
    ) -> Vec<f64> {
        let k = self.models.arms();
        let mut p = vec![0.0; k];
        match self.algorithm {
            Algorithm::Linucb => p[self.ucb_with(x, spreads)] = 1.0,
            Algorithm::EpsilonGreedy => {
                p.iter_mut().for_each(|v| *v = self.epsilon / k as f64);
                p[self.greedy(x)] += 1.0 - self.epsilon;
            }
            Algorithm::Thompson => {
                let (means, sd) = self.thompson_params_with(x, spreads);
                if self.samples == 0 {
                    return argmax_probabilities(&means, &sd);
                }
                for _ in 0..self.samples {
                    p[self.thompson_draw(&means, &sd, rng)] += 1.0;
                }
                p.iter_mut().for_each(|v| *v /= self.samples as f64);
            }
        }
        p
    }
}

/// Beyond this many standard deviations a normal's density and tail are below 10⁻¹⁶.
const TAIL_Z: f64 = 8.5;
/// A quadrature panel spans at most this many standard deviations of the narrowest arm inside
/// it: 6-point Gauss–Legendre then errs by under 10⁻⁸ (1 sd: 10⁻¹², at twice the cost).
const PANEL_SD: f64 = 2.0;
/// Gauss–Legendre nodes and weights of 6 points on [0, 1] (exact for degree 11).
static GL6: std::sync::LazyLock<(Vec<f64>, Vec<f64>)> =
    std::sync::LazyLock::new(|| gauss_legendre(6));

/// The probability that each of the independent normals `N(means[a], sd[a]²)` is the largest:
/// Thompson sampling's probability of playing each arm, computed instead of counted from draws.
///
/// `P_a = ∫ f_a(y) Π_{b≠a} F_b(y) dy` over the range where the largest lies with probability
/// 1 − 10⁻¹⁶: from `max_b (m_b − 8.5 s_b)` to `max_b (m_b + 8.5 s_b)`. Arms whose upper tail ends
/// below that range never win and are left out. The integral is one pass of composite 6-point
/// Gauss–Legendre over panels no wider than twice the smallest standard deviation among the
/// arms still inside their ±8.5 s range, so every factor of the integrand changes by at most two
/// of its own standard deviations across a panel (the absolute error is below 10⁻⁸ in the tests).
/// An arm with `sd = 0` is a point mass: only the largest of them can win (the lowest index
/// among ties, as a draw's strict comparison picks), when every random arm falls below it. The
/// result is normalised to sum to 1.
pub fn argmax_probabilities(means: &[f64], sd: &[f64]) -> Vec<f64> {
    let k = means.len();
    let mut p = vec![0.0; k];
    if k == 0 {
        return p;
    }
    // The largest point mass (sd 0), if any: the lowest index among equal means.
    let mut point: Option<usize> = None;
    for a in 0..k {
        if sd[a] <= 0.0 && point.is_none_or(|b| means[a] > means[b]) {
            point = Some(a);
        }
    }
    let lo = (0..k)
        .map(|a| means[a] - TAIL_Z * sd[a].max(0.0))
        .fold(f64::NEG_INFINITY, f64::max);
    let random: Vec<usize> = (0..k)
        .filter(|&a| sd[a] > 0.0 && means[a] + TAIL_Z * sd[a] > lo)
        .collect();
    if let Some(c) = point {
        // The point mass wins when every random arm falls below it.
        p[c] = random
            .iter()
            .map(|&b| normal_cdf((means[c] - means[b]) / sd[b]))
            .product();
    }
    if !random.is_empty() {
        let start = point.map_or(lo, |c| lo.max(means[c]));
        let end = random
            .iter()
            .map(|&a| means[a] + TAIL_Z * sd[a])
            .fold(f64::NEG_INFINITY, f64::max);
        let r = random.len();
        let inv_sqrt_2pi = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        let (mut big_f, mut small_f) = (vec![0.0; r], vec![0.0; r]);
        let mut prefix = vec![0.0; r + 1];
        let mut y = start;
        while y < end {
            // The narrowest arm still inside its ±8.5 s range sets the panel width.
            let h = random
                .iter()
                .filter(|&&a| y <= means[a] + TAIL_Z * sd[a])
                .map(|&a| PANEL_SD * sd[a])
                .fold(f64::INFINITY, f64::min)
                .min(end - y)
                // A panel always advances `y`, whatever the ratio of the deviations.
                .max((y.abs() + end.abs()) * 1e-13);
            let (nodes, weights) = &*GL6;
            for (&node, &weight) in nodes.iter().zip(weights) {
                let at = y + h * node;
                for (j, &a) in random.iter().enumerate() {
                    let z = (at - means[a]) / sd[a];
                    (big_f[j], small_f[j]) = if z > TAIL_Z {
                        (1.0, 0.0)
                    } else {
                        (normal_cdf(z), (-0.5 * z * z).exp() * inv_sqrt_2pi / sd[a])
                    };
                }
                // Π_{b≠a} F_b from prefix and suffix products (no division by a tiny F_a).
                prefix[0] = 1.0;
                for j in 0..r {
                    prefix[j + 1] = prefix[j] * big_f[j];
                }
                let mut suffix = 1.0;
                for j in (0..r).rev() {
                    p[random[j]] += h * weight * small_f[j] * prefix[j] * suffix;
                    suffix *= big_f[j];
                }
            }
            y += h;
        }
    }
    let total: f64 = p.iter().sum();
    if total > 0.0 {
        p.iter_mut().for_each(|v| *v /= total);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Two arms, context (1, s): arm 0 pays 0.2 + 0.3 s, arm 1 pays 0.6 − 0.3 s.
    fn world(rng: &mut StdRng) -> ([f64; 2], [f64; 2]) {
        let s: f64 = rand::RngExt::random::<f64>(rng) * 2.0 - 1.0;
        ([1.0, s], [0.2 + 0.3 * s, 0.6 - 0.3 * s])
    }

    /// Two arms have a closed form: `P(X₀ > X₁) = Φ((m₀ − m₁) / √(s₀² + s₁²))`, here with
    /// deviations from equal to 1000 times apart.
    #[test]
    fn argmax_probabilities_of_two_arms_equal_the_closed_form() {
        for (m, s) in [
            ([0.3, 0.2], [0.1, 0.1]),
            ([0.3, 0.2], [0.001, 1.0]),
            ([0.0, 0.05], [1.0, 0.001]),
            ([0.25, 0.25], [0.02, 0.3]),
            ([1.0, -2.0], [0.5, 0.4]),
        ] {
            let p = argmax_probabilities(&m, &s);
            let want = normal_cdf((m[0] - m[1]) / (s[0] * s[0] + s[1] * s[1]).sqrt());
            assert!(
                (p[0] - want).abs() < 1e-8,
                "{m:?} {s:?}: {} vs {want}",
                p[0]
            );
            assert!((p[0] + p[1] - 1.0).abs() < 1e-12);
        }
    }

    /// Many arms: the counted share of a million draws agrees within 5 standard errors, equal
    /// arms split evenly, and point masses (sd 0) follow a draw's rule.
    #[test]
    fn argmax_probabilities_agree_with_counted_draws() {
        let mut rng = StdRng::seed_from_u64(7);
        let k = 24;
        let means: Vec<f64> = (0..k)
            .map(|_| 0.2 + 0.05 * rand::RngExt::random::<f64>(&mut rng))
            .collect();
        let sd: Vec<f64> = (0..k)
            .map(|a| 0.005 + 0.03 * rand::RngExt::random::<f64>(&mut rng) * (a % 3) as f64)
            .collect();
        let exact = argmax_probabilities(&means, &sd);
        let draws = 1_000_000;
        let mut count = vec![0.0; k];
        for _ in 0..draws {
            let best = (0..k)
                .map(|a| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    means[a] + sd[a] * z
                })
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |b, (a, v)| if v > b.1 { (a, v) } else { b },
                );
            count[best.0] += 1.0;
        }
        for a in 0..k {
            let share = count[a] / draws as f64;
            let se = (exact[a] * (1.0 - exact[a]) / draws as f64)
                .sqrt()
                .max(1e-6);
            assert!(
                (share - exact[a]).abs() < 5.0 * se,
                "arm {a}: counted {share}, exact {}",
                exact[a]
            );
        }
        assert!((exact.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let even = argmax_probabilities(&[0.4; 5], &[0.1; 5]);
        assert!(even.iter().all(|p| (p - 0.2).abs() < 1e-8), "{even:?}");
        // Point masses: the largest wins (the lowest index among ties) ...
        assert_eq!(
            argmax_probabilities(&[0.1, 0.3, 0.3], &[0.0; 3]),
            vec![0.0, 1.0, 0.0]
        );
        // ... against a random arm as often as the random arm falls below it.
        let p = argmax_probabilities(&[0.3, 0.2, 0.1], &[0.0, 0.1, 0.0]);
        assert!((p[0] - normal_cdf(1.0)).abs() < 1e-8, "{p:?}");
        assert!((p[1] - (1.0 - normal_cdf(1.0))).abs() < 1e-8, "{p:?}");
        assert_eq!(p[2], 0.0);
    }

    #[test]
    fn sherman_morrison_updates_equal_the_batch_ridge_solution() {
        let mut m = ArmModels::new(1, 2, 0.5);
        let rows = [([1.0, 2.0], 1.0), ([1.0, -1.0], 0.0), ([1.0, 0.5], 1.0)];
        for (x, r) in rows {
            m.update(0, &x, r);
        }
        // A = diag(0.5e-3, 0.5) + Σ x xᵀ = [[3.0005, 1.5], [1.5, 5.75]], b = (2, 2.5).
        let (a, b, c) = (3.0005, 1.5, 5.75);
        let det = a * c - b * b;
        let theta = [(c * 2.0 - b * 2.5) / det, (a * 2.5 - b * 2.0) / det];
        assert!((m.theta[0] - theta[0]).abs() < 1e-12 && (m.theta[1] - theta[1]).abs() < 1e-12);
        assert!((m.a_inv[0] - c / det).abs() < 1e-12);
    }

    #[test]
    fn every_policy_learns_the_better_arm_per_context() {
        for algorithm in [
            Algorithm::Thompson,
            Algorithm::Linucb,
            Algorithm::EpsilonGreedy,
        ] {
            let mut rng = StdRng::seed_from_u64(1);
            let mut policy = Policy {
                algorithm,
                alpha: 1.0,
                epsilon: 0.1,
                posterior_scale: 1.0,
                samples: 200,
                models: RewardModel::Disjoint(ArmModels::new(2, 2, 1.0)),
            };
            let mut reward = 0.0;
            let mut oracle = 0.0;
            let rounds = 4000;
            for t in 0..rounds {
                let (x, p) = world(&mut rng);
                let a = policy.choose(&x, &mut rng);
                let r = f64::from(u8::from(rand::RngExt::random::<f64>(&mut rng) < p[a]));
                policy.models.update(a, &x, r);
                if t >= rounds / 2 {
                    reward += p[a];
                    oracle += p[0].max(p[1]);
                }
            }
            assert!(
                reward / oracle > 0.9,
                "{algorithm:?}: {:.3} of the oracle",
                reward / oracle
            );
            let probs = policy.probabilities(&[1.0, 0.9], &mut rng);
            assert!(probs[0] > 0.85, "{algorithm:?} at s = 0.9: {probs:?}");
            assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }
}
