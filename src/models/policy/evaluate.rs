//! `teleseg evaluate policy`: the value of a target policy estimated from another policy's log,
//! with every estimator of [`crate::eval::ope`].

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::logs::{self, LogError, ObdLog, PolicySource, SlotPolicy};
use crate::eval::ope::{self, OpeInput, OpeOptions, OpeReport};

/// Folds of the reward model's cross-fitting: each round's reward is predicted by a model fitted
/// on the other folds, so DM and DR do not see the reward they estimate.
pub const REWARD_FOLDS: usize = 3;

/// What `evaluate policy --format obd` prints (as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct ObdEvaluation {
    pub format: &'static str,
    pub log: String,
    pub target_log: String,
    pub rounds: usize,
    pub target_rounds: usize,
    /// Mean reward of LOG: the logging policy's own value.
    pub log_observed_value: f64,
    /// Mean reward of TARGET_LOG: the value the estimates should reach.
    pub target_observed_value: f64,
    pub target_policy: TargetPolicy,
    pub reward_model: String,
    #[serde(flatten)]
    pub report: OpeReport,
    /// `|estimate − target_observed_value| / target_observed_value` per estimator.
    pub relative_error: Vec<(String, f64)>,
}

/// How the target policy was read from its log.
#[derive(Debug, Clone, Serialize)]
pub struct TargetPolicy {
    pub source: PolicySource,
    pub items: usize,
    pub slots: Vec<u32>,
    pub assumption: &'static str,
}

/// Estimates the value of the policy that wrote `target_log` from `log` alone (its rewards and
/// propensities); `target_log` only says which policy that is.
pub fn evaluate_obd(
    log_path: &Path,
    target_path: &Path,
    opts: &OpeOptions,
) -> Result<ObdEvaluation, LogError> {
    let log = logs::read_obd(log_path)?;
    let target_log = logs::read_obd(target_path)?;
    Ok(estimate_obd(&log, &target_log, opts))
}

/// [`evaluate_obd`] on logs already read.
pub fn estimate_obd(log: &ObdLog, target_log: &ObdLog, opts: &OpeOptions) -> ObdEvaluation {
    let slots: Vec<u32> = log
        .position
        .iter()
        .chain(&target_log.position)
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let items = log
        .item
        .iter()
        .chain(&target_log.item)
        .max()
        .map_or(1, |m| m + 1);
    let policy = logs::slot_policy(target_log, &slots, items);
    let slot_index = |p: u32| slots.binary_search(&p).expect("slot from the union");
    let slot: Vec<usize> = log.position.iter().map(|&p| slot_index(p)).collect();

    // Cross-fitted reward model: each fold predicted by shrunk cell means of the others.
    let n = log.rounds();
    let fold = crate::data::split::random_folds(n, REWARD_FOLDS, opts.seed ^ 0x9e37_79b9);
    let folds = REWARD_FOLDS.min(n);
    // q̂ of every round from cell means fitted on the other folds, each round counted `times[i]`.
    let fit = |times: &[u32]| -> Vec<f64> {
        let models: Vec<Vec<f64>> = (0..folds)
            .map(|f| {
                let rows = (0..n)
                    .filter(|&i| (fold[i] != f || folds == 1) && times[i] > 0)
                    .map(|i| (slot[i], log.item[i], log.reward[i], f64::from(times[i])));
                logs::shrunk_cell_means(rows, slots.len(), items)
            })
            .collect();
        let mut q_hat = Vec::with_capacity(n * items);
        for i in 0..n {
            let m = &models[fold[i] % folds];
            q_hat.extend_from_slice(&m[slot[i] * items..(slot[i] + 1) * items]);
        }
        q_hat
    };
    let q_hat = fit(&vec![1; n]);
    let mut target = Vec::with_capacity(n * items);
    for &s in &slot {
        target.extend_from_slice(policy.row(s));
    }
    let input = OpeInput {
        actions: items,
        reward: &log.reward,
        logged: &log.item,
        pscore: &log.pscore,
        target: &target,
        q_hat: &q_hat,
        q_hat_dm: None,
        dm_model_variance: 0.0,
    };
    // Cell means refit in one pass: every interval carries the reward model's error too.
    let report = ope::evaluate_refitting(&input, opts, &fit)
        .expect("rounds were checked when the log was read");
    let truth = target_log.observed_value();
    let relative_error = report
        .estimators
        .iter()
        .map(|e| (e.name.clone(), relative_error(e.value, truth)))
        .collect();
    ObdEvaluation {
        format: "obd",
        log: log.path.display().to_string(),
        target_log: target_log.path.display().to_string(),
        rounds: n,
        target_rounds: target_log.rounds(),
        log_observed_value: log.observed_value(),
        target_observed_value: truth,
        target_policy: target_policy(&policy),
        reward_model: format!(
            "mean reward per (slot, item), shrunk to the slot's random-effects mean by an \
             empirical-Bayes beta-binomial prior, {REWARD_FOLDS}-fold cross-fitted, refitted on \
             every bootstrap resample"
        ),
        report,
        relative_error,
    }
}

fn target_policy(policy: &SlotPolicy) -> TargetPolicy {
    TargetPolicy {
        source: policy.source,
        items: policy.items,
        slots: policy.slots.clone(),
        assumption: "context-free: the target chooses an item per slot without looking at the \
                     user (true of OBD's uniform-random and Bernoulli-TS policies)",
    }
}

/// `|estimate − truth| / |truth|` (the absolute error when the truth is 0).
pub fn relative_error(estimate: f64, truth: f64) -> f64 {
    if truth == 0.0 {
        estimate.abs()
    } else {
        (estimate - truth).abs() / truth.abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::path::PathBuf;

    /// Two logs of the same 4-item, 2-slot world: a uniform logger and a target that favours
    /// the best item; the target's value is known in closed form.
    fn logs(n: usize, seed: u64) -> (ObdLog, ObdLog, f64) {
        let ctr = [[0.1, 0.2, 0.3, 0.6], [0.05, 0.1, 0.15, 0.3]];
        let target = [0.1, 0.1, 0.2, 0.6];
        let truth: f64 = (0..2)
            .map(|s| 0.5 * (0..4).map(|a| target[a] * ctr[s][a]).sum::<f64>())
            .sum();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut draw = |probs: [f64; 4], n: usize| {
            let mut l = ObdLog {
                path: PathBuf::from("l.csv"),
                item: vec![],
                position: vec![],
                reward: vec![],
                pscore: vec![],
            };
            for _ in 0..n {
                let s = rng.random_range(0..2usize);
                let u: f64 = rng.random();
                let mut acc = 0.0;
                let a = (0..4)
                    .find(|&a| {
                        acc += probs[a];
                        u < acc
                    })
                    .unwrap_or(3);
                l.item.push(a);
                l.position.push(s as u32 + 1);
                l.reward
                    .push(f64::from(u8::from(rng.random::<f64>() < ctr[s][a])));
                l.pscore.push(probs[a]);
            }
            l
        };
        let uniform = draw([0.25; 4], n);
        let favoured = draw(target, n);
        (uniform, favoured, truth)
    }

    #[test]
    fn estimates_the_target_from_the_uniform_log_within_its_intervals() {
        let (uniform, favoured, truth) = logs(20_000, 7);
        let opts = OpeOptions {
            bootstrap: 200,
            ..OpeOptions::default()
        };
        let ev = estimate_obd(&uniform, &favoured, &opts);
        // The target's propensities are constant: it is read exactly.
        assert_eq!(ev.target_policy.source, PolicySource::LoggedPropensities);
        for e in &ev.report.estimators {
            assert!(
                e.ci_low <= truth && truth <= e.ci_high,
                "{} = {} [{}, {}] misses {truth}",
                e.name,
                e.value,
                e.ci_low,
                e.ci_high
            );
        }
        assert!((ev.target_observed_value - truth).abs() < 0.02);
        // Reverse direction: the uniform policy from the favoured log.
        let back = estimate_obd(&favoured, &uniform, &opts);
        let uniform_truth = 0.5 * (1.2 + 0.6) / 4.0;
        let dr = back.report.get("dr").unwrap();
        assert!(
            (dr.value - uniform_truth).abs() < 0.02,
            "{dr:?} vs {uniform_truth}"
        );
    }
}
