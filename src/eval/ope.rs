//! Off-policy evaluation: the value of a target policy estimated from rounds that another
//! (logging) policy chose, with the five standard estimators, percentile-bootstrap intervals and
//! the importance-weight diagnostics that say how far the estimate can be trusted.
//!
//! With `w = π_e(a_i|x_i) / π_b(a_i|x_i)` (the target's over the logger's probability of the logged
//! action, optionally clipped at `M`), `q̂(x, a)` a reward model and
//! `q̂_π(x) = Σ_a π_e(a|x) q̂(x, a)`:
//!
//! | estimator | value |
//! |---|---|
//! | `dm` (direct method) | `mean(q̂_π(x_i))` |
//! | `ips` | `mean(w_i r_i)` |
//! | `snips` | `Σ w_i r_i / Σ w_i` |
//! | `dr` (doubly robust) | `mean(q̂_π(x_i) + w_i (r_i − q̂(x_i, a_i)))` |
//! | `sndr` | `mean(q̂_π(x_i)) + Σ w_i (r_i − q̂(x_i, a_i)) / Σ w_i` |
//! | `switch_dr` | DR with `w_i` set to 0 above a threshold τ (Wang et al. 2017) |
//! | `dr_os` | DR with `w_i` shrunk to `λ w_i / (w_i² + λ)` (Su et al. 2020) |
//!
//! These are the definitions of Dudík et al. (2014) and of the `obp` package (Saito et al. 2021),
//! so the figures are comparable with obp's on the same inputs. τ and λ are not fixed: each is
//! chosen from a grid by the rule obp's `…Tuning` estimators use, the smallest estimated mean
//! squared error `var/n + bias_ub²`, where `bias_ub` is the high-probability upper bound of the
//! bias that the shrinkage causes (Thomas & Brunskill 2016), `δ = 0.05`. The chosen value is
//! reported with the estimate. Every estimator is a function of
//! five per-round sums, so one bootstrap resample costs one pass over the rounds. The reward model
//! must not have seen the round it predicts (cross-fit it) or DM and DR inherit its overfit.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::data::stats::quantile;

/// The rounds of a log, reduced to what the estimators need. `target` and `q_hat` are
/// `[rounds, actions]` row-major.
#[derive(Debug, Clone, Copy)]
pub struct OpeInput<'a> {
    pub actions: usize,
    pub reward: &'a [f64],
    /// Index of the logged action of each round.
    pub logged: &'a [usize],
    /// The logging policy's probability of the logged action, in (0, 1].
    pub pscore: &'a [f64],
    /// The target policy's probability of every action in each round's context.
    pub target: &'a [f64],
    /// The reward model's expected reward of every action in each round's context.
    pub q_hat: &'a [f64],
    /// A separate reward model for DM alone (`[rounds, actions]`); `None`: DM uses `q_hat`.
    /// DM averages its model's predictions, so its best model is less shrunk than the one
    /// that best explains the logged rewards' residuals for the doubly robust estimators.
    pub q_hat_dm: Option<&'a [f64]>,
    /// Variance of the DM estimate that comes from the reward model's own estimation error
    /// (e.g. from a Bayesian model's posterior, by the delta method); 0 when unknown or when
    /// the bootstrap refits the model. Added to DM's bootstrap variance: its interval becomes
    /// `value ± z · sqrt(se² + this)`.
    pub dm_model_variance: f64,
}

/// How to estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpeOptions {
    /// Clip importance weights at this value (IPS, SNIPS, DR, SNDR); `None` keeps them unbiased.
    pub clip: Option<f64>,
    /// Bootstrap resamples for the intervals.
    pub bootstrap: usize,
    /// Coverage of the intervals (0.95 → the 2.5 % and 97.5 % percentiles).
    pub confidence: f64,
    pub seed: u64,
}

impl OpeOptions {
    /// The options' own rules: `confidence` in (0, 1), `clip` a positive number.
    pub fn check(&self) -> Result<(), OpeError> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(OpeError::Options(format!(
                "confidence {} must lie strictly between 0 and 1",
                self.confidence
            )));
        }
        if let Some(m) = self.clip
            && !(m > 0.0 && m.is_finite())
        {
            return Err(OpeError::Options(format!(
                "clip {m} must be a positive number"
            )));
        }
        Ok(())
    }
}

impl Default for OpeOptions {
    fn default() -> Self {
        OpeOptions {
            clip: None,
            bootstrap: 1000,
            confidence: 0.95,
            seed: 42,
        }
    }
}

/// One estimator's estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub name: String,
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Standard deviation of the bootstrap estimates.
    pub std_error: f64,
    /// The tuned threshold (`switch_dr`: τ) or shrinkage (`dr_os`: λ); JSON has no infinity, so
    /// ∞ (no switching or shrinkage: the estimate equals `dr`) is written `null` with a `note`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hyperparameter: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How heavy the importance weights are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightDiagnostics {
    /// Largest weight before clipping.
    pub max: f64,
    /// Mean weight before clipping (1 in expectation when the target's support is covered).
    pub mean: f64,
    /// Effective sample size `(Σw)² / Σw²` of the (clipped) weights, and its share of the rounds.
    pub effective_sample_size: f64,
    pub ess_fraction: f64,
    pub clip: Option<f64>,
    /// Rounds whose weight the clip lowered.
    pub clipped_rounds: usize,
    /// Rounds whose logged action the target never takes (weight 0).
    pub zero_weight_rounds: usize,
}

/// All estimates of one target policy from one log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpeReport {
    pub rounds: usize,
    pub confidence: f64,
    pub bootstrap: usize,
    pub estimators: Vec<Estimate>,
    pub weights: WeightDiagnostics,
}

impl OpeReport {
    /// The estimate named `name` (`dm`, `ips`, `snips`, `dr`, `sndr`).
    pub fn get(&self, name: &str) -> Option<&Estimate> {
        self.estimators.iter().find(|e| e.name == name)
    }
}

/// Inputs that cannot be estimated from.
#[derive(Debug, Error, PartialEq)]
pub enum OpeError {
    #[error("the log holds no rounds")]
    Empty,
    #[error("round {round}: {what}")]
    Round { round: usize, what: String },
    #[error("{0}")]
    Options(String),
}

/// The estimator names in report order.
pub const ESTIMATORS: [&str; 7] = ["dm", "ips", "snips", "dr", "sndr", "switch_dr", "dr_os"];

/// Confidence parameter of the bias upper bound used to tune τ and λ.
const TUNING_DELTA: f64 = 0.05;

/// Per-round terms every estimator is built from.
struct Terms {
    dm: Vec<f64>,
    /// DM's own per-round value (from `q_hat_dm`, else equal to `dm`).
    dm_direct: Vec<f64>,
    w: Vec<f64>,
    reward: Vec<f64>,
    q_logged: Vec<f64>,
    /// The tuned weights of Switch-DR and DR-os.
    w_switch: Vec<f64>,
    w_os: Vec<f64>,
}

/// The per-round sums every estimate is a function of, over a multiset of rounds.
#[derive(Default, Clone, Copy)]
struct Sums {
    n: f64,
    dm: f64,
    dm_direct: f64,
    w: f64,
    wr: f64,
    w_resid: f64,
    switch_resid: f64,
    os_resid: f64,
}

impl Sums {
    fn add(&mut self, t: &Terms, i: usize) {
        self.add_with(t, i, (t.dm[i], t.dm_direct[i]), t.q_logged[i], 1.0);
    }

    /// Adds round `i` `times` times, with its DM values (the doubly robust estimators' and
    /// DM's own) and logged-action prediction given (from a reward model refitted on a
    /// resample).
    fn add_with(&mut self, t: &Terms, i: usize, dm: (f64, f64), q_logged: f64, times: f64) {
        let (dm, dm_direct) = dm;
        let resid = t.reward[i] - q_logged;
        self.n += times;
        self.dm += times * dm;
        self.dm_direct += times * dm_direct;
        self.w += times * t.w[i];
        self.wr += times * t.w[i] * t.reward[i];
        self.w_resid += times * t.w[i] * resid;
        self.switch_resid += times * t.w_switch[i] * resid;
        self.os_resid += times * t.w_os[i] * resid;
    }

    /// The estimates in [`ESTIMATORS`] order. Self-normalised ones fall back to 0 (SNIPS) or
    /// to DM (SNDR) when every weight is 0.
    fn estimates(&self) -> [f64; 7] {
        let dm = self.dm / self.n;
        let (snips, sn_corr) = if self.w > 0.0 {
            (self.wr / self.w, self.w_resid / self.w)
        } else {
            (0.0, 0.0)
        };
        [
            self.dm_direct / self.n,
            self.wr / self.n,
            snips,
            dm + self.w_resid / self.n,
            dm + sn_corr,
            dm + self.switch_resid / self.n,
            dm + self.os_resid / self.n,
        ]
    }
}

/// Chooses, among `candidates`, the weight transform `shrink(w, c)` whose DR estimate has the
/// smallest estimated MSE (sample variance / n + squared high-probability bias bound); returns
/// the candidate and its per-round weights.
fn tune(terms: &Terms, candidates: &[f64], shrink: impl Fn(f64, f64) -> f64) -> (f64, Vec<f64>) {
    let n = terms.w.len() as f64;
    let log_term = (2.0 / TUNING_DELTA).ln();
    let w_sq_mean = terms.w.iter().map(|w| w * w).sum::<f64>() / n;
    let w_max = terms.w.iter().copied().fold(0.0, f64::max);
    let bound_slack = (2.0 * w_sq_mean * log_term / n).sqrt() + 2.0 * w_max * log_term / (3.0 * n);
    let mut best: Option<(f64, f64, Vec<f64>)> = None;
    for &c in candidates {
        let w_hat: Vec<f64> = terms.w.iter().map(|&w| shrink(w, c)).collect();
        let rounds: Vec<f64> = (0..terms.w.len())
            .map(|i| terms.dm[i] + w_hat[i] * (terms.reward[i] - terms.q_logged[i]))
            .collect();
        let mean = rounds.iter().sum::<f64>() / n;
        let var = rounds.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
        let bias = (0..terms.w.len())
            .map(|i| (terms.w[i] - w_hat[i]) * (terms.reward[i] - terms.q_logged[i]))
            .sum::<f64>()
            .abs()
            / n;
        let mse = var / n + (bias + bound_slack).powi(2);
        if best.as_ref().is_none_or(|(m, _, _)| mse < *m) {
            best = Some((mse, c, w_hat));
        }
    }
    let (_, c, w_hat) = best.expect("at least one candidate");
    (c, w_hat)
}

/// Switch-DR thresholds to try: quantiles of the positive weights and no threshold at all.
fn switch_candidates(w: &[f64]) -> Vec<f64> {
    let mut positive: Vec<f64> = w.iter().copied().filter(|&w| w > 0.0).collect();
    positive.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = if positive.is_empty() {
        Vec::new()
    } else {
        [0.5, 0.75, 0.9, 0.95, 0.99, 0.999]
            .iter()
            .map(|&q| quantile(&positive, q))
            .collect()
    };
    out.push(f64::INFINITY);
    out.dedup();
    out
}

/// DR-os shrinkage values to try: a geometric grid over the squared weights' range, and ∞ (DR).
fn shrinkage_candidates() -> Vec<f64> {
    let mut out: Vec<f64> = (-4..=10).map(|e| 10f64.powf(f64::from(e) / 2.0)).collect();
    out.push(f64::INFINITY);
    out
}

fn check(input: &OpeInput, opts: &OpeOptions) -> Result<(), OpeError> {
    let n = input.reward.len();
    if n == 0 {
        return Err(OpeError::Empty);
    }
    let k = input.actions;
    if input.logged.len() != n
        || input.pscore.len() != n
        || input.target.len() != n * k
        || input.q_hat.len() != n * k
        || input.q_hat_dm.is_some_and(|q| q.len() != n * k)
    {
        return Err(OpeError::Options(format!(
            "inconsistent lengths: {n} rewards, {} actions, {} propensities, {} target and {} \
             reward-model entries for {k} actions",
            input.logged.len(),
            input.pscore.len(),
            input.target.len(),
            input.q_hat.len()
        )));
    }
    opts.check()?;
    for i in 0..n {
        let bad = |what: String| Err(OpeError::Round { round: i, what });
        if input.logged[i] >= k {
            return bad(format!("action {} of {k}", input.logged[i]));
        }
        let p = input.pscore[i];
        if !(p > 0.0 && p <= 1.0) {
            return bad(format!("logging propensity {p} outside (0, 1]"));
        }
        if !input.reward[i].is_finite() {
            return bad(format!("reward {}", input.reward[i]));
        }
        let row = &input.target[i * k..(i + 1) * k];
        let sum: f64 = row.iter().sum();
        if row.iter().any(|&t| !(0.0..=1.0).contains(&t)) || (sum - 1.0).abs() > 1e-6 {
            return bad(format!(
                "target probabilities sum to {sum} (must be a distribution)"
            ));
        }
        if input.q_hat[i * k..(i + 1) * k]
            .iter()
            .any(|q| !q.is_finite())
        {
            return bad("a reward-model value is not finite".into());
        }
    }
    Ok(())
}

/// Refits the reward model on a bootstrap resample: given how many times each round was drawn,
/// returns `q̂` (`[rounds, actions]`) for every round, fitted the way the original was (on the
/// drawn rounds, cross-fitted if the original was).
pub type Refit<'a> = &'a dyn Fn(&[u32]) -> Vec<f64>;

/// Every estimator with its bootstrap interval, and the weight diagnostics. The reward model is
/// held fixed across resamples, so DM's interval omits the model's own estimation error; use
/// [`evaluate_refitting`] when the model is cheap to refit.
pub fn evaluate(input: &OpeInput, opts: &OpeOptions) -> Result<OpeReport, OpeError> {
    evaluate_with(input, opts, None)
}

/// [`evaluate`] with the reward model refitted on every bootstrap resample, so that every
/// interval, DM's included, carries the reward model's estimation error too. One model serves
/// every estimator here: `input.q_hat_dm` must be `None`.
pub fn evaluate_refitting(
    input: &OpeInput,
    opts: &OpeOptions,
    refit: Refit,
) -> Result<OpeReport, OpeError> {
    if input.q_hat_dm.is_some() {
        return Err(OpeError::Options(
            "a refitted reward model serves DM too: q_hat_dm must be None".into(),
        ));
    }
    evaluate_with(input, opts, Some(refit))
}

fn evaluate_with(
    input: &OpeInput,
    opts: &OpeOptions,
    refit: Option<Refit>,
) -> Result<OpeReport, OpeError> {
    check(input, opts)?;
    let n = input.reward.len();
    let k = input.actions;
    let clip = opts.clip.unwrap_or(f64::INFINITY);
    let mut terms = Terms {
        dm: Vec::with_capacity(n),
        dm_direct: Vec::with_capacity(n),
        w: Vec::with_capacity(n),
        reward: input.reward.to_vec(),
        q_logged: Vec::with_capacity(n),
        w_switch: Vec::new(),
        w_os: Vec::new(),
    };
    let (mut max, mut raw_sum, mut clipped, mut zero) = (0.0f64, 0.0, 0, 0);
    for i in 0..n {
        let a = input.logged[i];
        let target = &input.target[i * k..(i + 1) * k];
        let q = &input.q_hat[i * k..(i + 1) * k];
        let dm: f64 = target.iter().zip(q).map(|(p, q)| p * q).sum();
        terms.dm.push(dm);
        terms.dm_direct.push(match input.q_hat_dm {
            Some(q_dm) => target
                .iter()
                .zip(&q_dm[i * k..(i + 1) * k])
                .map(|(p, q)| p * q)
                .sum(),
            None => dm,
        });
        terms.q_logged.push(q[a]);
        let w = target[a] / input.pscore[i];
        max = max.max(w);
        raw_sum += w;
        if w > clip {
            clipped += 1;
        }
        if w == 0.0 {
            zero += 1;
        }
        terms.w.push(w.min(clip));
    }
    let w_sum: f64 = terms.w.iter().sum();
    let w_sq: f64 = terms.w.iter().map(|w| w * w).sum();
    let ess = if w_sq > 0.0 {
        w_sum * w_sum / w_sq
    } else {
        0.0
    };
    let (tau, w_switch) = tune(&terms, &switch_candidates(&terms.w), |w, tau| {
        if w <= tau { w } else { 0.0 }
    });
    let (lambda, w_os) = tune(&terms, &shrinkage_candidates(), |w, lambda| {
        if lambda.is_infinite() {
            w
        } else {
            lambda * w / (w * w + lambda)
        }
    });
    terms.w_switch = w_switch;
    terms.w_os = w_os;
    let hyper = |name: &str| match name {
        "switch_dr" => Some(tau),
        "dr_os" => Some(lambda),
        _ => None,
    };

    let mut full = Sums::default();
    (0..n).for_each(|i| full.add(&terms, i));
    let point = full.estimates();

    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut draws: Vec<[f64; 7]> = Vec::with_capacity(opts.bootstrap);
    let mut counts = vec![0u32; n];
    for _ in 0..opts.bootstrap {
        counts.iter_mut().for_each(|c| *c = 0);
        for _ in 0..n {
            counts[rng.random_range(0..n)] += 1;
        }
        let mut s = Sums::default();
        match refit {
            None => {
                for (i, &c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                    let dm = (terms.dm[i], terms.dm_direct[i]);
                    s.add_with(&terms, i, dm, terms.q_logged[i], f64::from(c));
                }
            }
            Some(refit) => {
                let q_hat = refit(&counts);
                for (i, &c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                    let q = &q_hat[i * k..(i + 1) * k];
                    let target = &input.target[i * k..(i + 1) * k];
                    // One refitted model serves DM and the doubly robust estimators.
                    let dm = target.iter().zip(q).map(|(p, q)| p * q).sum();
                    s.add_with(&terms, i, (dm, dm), q[input.logged[i]], f64::from(c));
                }
            }
        }
        draws.push(s.estimates());
    }
    let alpha = (1.0 - opts.confidence) / 2.0;
    let estimators = ESTIMATORS
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let mut values: Vec<f64> = draws.iter().map(|d| d[j]).collect();
            values.sort_by(f64::total_cmp);
            let (ci_low, ci_high, std_error) = if values.is_empty() {
                (point[j], point[j], 0.0)
            } else {
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                    / (values.len() as f64 - 1.0).max(1.0);
                (
                    quantile(&values, alpha),
                    quantile(&values, 1.0 - alpha),
                    var.sqrt(),
                )
            };
            let (ci_low, ci_high, std_error) = if *name == "dm" && input.dm_model_variance > 0.0 {
                let se = (std_error * std_error + input.dm_model_variance).sqrt();
                let z = normal_quantile(1.0 - alpha);
                (point[j] - z * se, point[j] + z * se, se)
            } else {
                (ci_low, ci_high, std_error)
            };
            Estimate {
                name: (*name).to_string(),
                value: point[j],
                ci_low,
                ci_high,
                std_error,
                hyperparameter: hyper(name),
                note: hyper(name)
                    .filter(|h| h.is_infinite())
                    .map(|_| "tuned to infinity: no switching or shrinkage, equals dr".into()),
            }
        })
        .collect();
    Ok(OpeReport {
        rounds: n,
        confidence: opts.confidence,
        bootstrap: opts.bootstrap,
        estimators,
        weights: WeightDiagnostics {
            max,
            mean: raw_sum / n as f64,
            effective_sample_size: ess,
            ess_fraction: ess / n as f64,
            clip: opts.clip,
            clipped_rounds: clipped,
            zero_weight_rounds: zero,
        },
    })
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-action world with known rewards: action 0 pays 0.2, action 1 pays 0.8; the logger
    /// takes action 1 with probability 0.25, the target with 0.9 → true value 0.74.
    fn world(n: usize, seed: u64) -> (Vec<f64>, Vec<usize>, Vec<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut reward = Vec::new();
        let mut logged = Vec::new();
        let mut pscore = Vec::new();
        for _ in 0..n {
            let a = usize::from(rng.random::<f64>() < 0.25);
            let p = if a == 1 { 0.25 } else { 0.75 };
            let mean = if a == 1 { 0.8 } else { 0.2 };
            reward.push(f64::from(u8::from(rng.random::<f64>() < mean)));
            logged.push(a);
            pscore.push(p);
        }
        (reward, logged, pscore)
    }

    fn run(q: [f64; 2], n: usize, seed: u64, clip: Option<f64>) -> OpeReport {
        let (reward, logged, pscore) = world(n, seed);
        let target: Vec<f64> = (0..n).flat_map(|_| [0.1, 0.9]).collect();
        let q_hat: Vec<f64> = (0..n).flat_map(|_| q).collect();
        let input = OpeInput {
            actions: 2,
            reward: &reward,
            logged: &logged,
            pscore: &pscore,
            target: &target,
            q_hat: &q_hat,
            q_hat_dm: None,
            dm_model_variance: 0.0,
        };
        let opts = OpeOptions {
            clip,
            bootstrap: 300,
            seed,
            ..OpeOptions::default()
        };
        evaluate(&input, &opts).unwrap()
    }

    #[test]
    fn every_estimator_recovers_the_true_value_with_a_correct_reward_model() {
        let r = run([0.2, 0.8], 20_000, 3, None);
        for e in &r.estimators {
            assert!((e.value - 0.74).abs() < 0.02, "{e:?}");
            assert!(
                e.ci_low <= e.value + 1e-9 && e.value <= e.ci_high + 1e-9,
                "{e:?}"
            );
        }
        // DM with the true reward model has no sampling noise from rewards.
        assert!((r.get("dm").unwrap().value - 0.74).abs() < 1e-12);
        // Weights: 0.9/0.25 = 3.6 on action 1, 0.1/0.75 on action 0; mean 1.
        assert!((r.weights.max - 3.6).abs() < 1e-12);
        assert!((r.weights.mean - 1.0).abs() < 0.03);
    }

    #[test]
    fn a_wrong_reward_model_biases_dm_but_not_dr_and_dr_has_less_variance_than_ips() {
        let r = run([0.5, 0.5], 20_000, 5, None);
        let dm = r.get("dm").unwrap();
        assert!((dm.value - 0.5).abs() < 1e-12, "DM is the model's value");
        assert!(dm.ci_high < 0.74, "DM's interval misses the truth: {dm:?}");
        let dr = r.get("dr").unwrap();
        assert!((dr.value - 0.74).abs() < 0.02, "{dr:?}");
        assert!(dr.ci_low <= 0.74 && 0.74 <= dr.ci_high, "{dr:?}");
        let ips = r.get("ips").unwrap();
        assert!(dr.std_error < ips.std_error, "{dr:?} vs {ips:?}");
    }

    #[test]
    fn dm_takes_its_own_reward_model_in_the_point_and_the_bootstrap() {
        let n = 4_000;
        let (reward, logged, pscore) = world(n, 11);
        let target: Vec<f64> = (0..n).flat_map(|_| [0.1, 0.9]).collect();
        let q_hat: Vec<f64> = (0..n).flat_map(|_| [0.5, 0.5]).collect();
        // DM's own model varies by round (per-round values 0.74 and 0.56), the other does not.
        let q_dm: Vec<f64> = (0..n)
            .flat_map(|i| if i % 2 == 0 { [0.2, 0.8] } else { [0.2, 0.6] })
            .collect();
        let opts = OpeOptions {
            bootstrap: 300,
            seed: 11,
            ..OpeOptions::default()
        };
        let input = OpeInput {
            actions: 2,
            reward: &reward,
            logged: &logged,
            pscore: &pscore,
            target: &target,
            q_hat: &q_hat,
            q_hat_dm: Some(&q_dm),
            dm_model_variance: 0.0,
        };
        let with = evaluate(&input, &opts).unwrap();
        let without = evaluate(
            &OpeInput {
                q_hat_dm: None,
                ..input
            },
            &opts,
        )
        .unwrap();
        let dm = with.get("dm").unwrap();
        assert!((dm.value - 0.65).abs() < 1e-12, "{dm:?}");
        // Its bootstrap spread is its own model's (the other DM's is 0).
        assert!(dm.std_error > 0.001, "{dm:?}");
        assert!(without.get("dm").unwrap().std_error < 1e-12);
        // The doubly robust estimators keep `q_hat`.
        for name in ["dr", "sndr", "switch_dr", "dr_os"] {
            assert_eq!(with.get(name), without.get(name), "{name}");
        }
        // A refitted model serves every estimator: a separate DM model is refused.
        let refit = |_: &[u32]| vec![0.5; 2 * n];
        assert!(evaluate_refitting(&input, &opts, &refit).is_err());
    }

    #[test]
    fn intervals_cover_the_truth_in_most_seeds() {
        let covered = (0..20)
            .filter(|&s| {
                let r = run([0.3, 0.6], 2_000, s, None);
                let e = r.get("ips").unwrap();
                e.ci_low <= 0.74 && 0.74 <= e.ci_high
            })
            .count();
        assert!(
            covered >= 17,
            "IPS 95 % interval covered the truth in {covered}/20"
        );
    }

    #[test]
    fn clipping_caps_the_weights_and_counts_the_clipped_rounds() {
        let r = run([0.2, 0.8], 4_000, 1, Some(2.0));
        assert_eq!(r.weights.clip, Some(2.0));
        assert!(r.weights.clipped_rounds > 700 && r.weights.clipped_rounds < 1300);
        assert!(
            (r.weights.max - 3.6).abs() < 1e-12,
            "max is reported before clipping"
        );
        // Clipping at 2 < 3.6 biases IPS down, towards 0.1·0.2 + 0.25·2·0.8 = 0.42.
        assert!(r.get("ips").unwrap().value < 0.5);
    }

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-8);
    }

    #[test]
    fn bad_rounds_are_named() {
        let input = |pscore: &'static [f64], target: &'static [f64]| OpeInput {
            actions: 2,
            reward: &[1.0],
            logged: &[0],
            pscore,
            target,
            q_hat: &[0.0, 0.0],
            q_hat_dm: None,
            dm_model_variance: 0.0,
        };
        let opts = OpeOptions::default();
        assert!(matches!(
            evaluate(&input(&[0.0], &[0.5, 0.5]), &opts),
            Err(OpeError::Round { round: 0, .. })
        ));
        assert!(matches!(
            evaluate(&input(&[1.5], &[0.5, 0.5]), &opts),
            Err(OpeError::Round { round: 0, .. })
        ));
        assert!(matches!(
            evaluate(&input(&[0.5], &[0.5, 0.7]), &opts),
            Err(OpeError::Round { round: 0, .. })
        ));
        let empty = OpeInput {
            actions: 2,
            reward: &[],
            logged: &[],
            pscore: &[],
            target: &[],
            q_hat: &[],
            q_hat_dm: None,
            dm_model_variance: 0.0,
        };
        assert_eq!(evaluate(&empty, &opts), Err(OpeError::Empty));
    }
}
