//! Loading a policy checkpoint and scoring raw customer rows with it: for every offer category,
//! the arm (channel and time) the policy would choose and its probability.

use std::io::Write;
use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::KIND;
use super::config::ModelKind;
use super::factored::FactoredModel;
use super::job::PolicyArch;
use super::linear::{ArmModels, Policy, RewardModel};
use crate::checkpoint::{Checkpoint, CheckpointError, keys};
use crate::data::preprocess::Preprocessor;
use crate::data::schema::Schema;
use crate::data::table::RawTable;
use crate::data::writer::csv_field;

/// The contact a policy makes about one offer: through which arm (channel and time), with
/// what probability the policy plays it, and the arm's expected response.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    pub offer_id: String,
    /// `channel@daytype_daypart`, as the contact log names arms.
    pub arm: String,
    /// The policy's probability of the arm (1 for LinUCB's choice; the share of draws for
    /// Thompson sampling).
    pub probability: f64,
    /// The reward model's expected response (acceptance probability) of the arm: a linear
    /// model's prediction, clamped to [0, 1].
    pub expected_response: f64,
}

/// A policy ready to score.
#[derive(Debug, Clone)]
pub struct PolicyModel {
    pub schema: Schema,
    pub preprocessor: Preprocessor,
    pub arch: PolicyArch,
    pub policy: Policy,
    /// A hash of the architecture and the posterior mean: which trained policy this is (the
    /// stream keeps online updates only on the policy they were made on).
    pub fingerprint: u64,
}

impl PolicyModel {
    /// Loads `model.safetensors` (or a run folder holding one) of kind `policy`.
    pub fn load(path: &Path) -> Result<PolicyModel, CheckpointError> {
        let file = crate::checkpoint::RunDir::resolve_model_file(path)?;
        Self::from_checkpoint(&Checkpoint::read(&file, Some(KIND))?)
    }

    pub fn from_checkpoint(ck: &Checkpoint) -> Result<PolicyModel, CheckpointError> {
        let schema: Schema = ck.meta_json(keys::SCHEMA)?;
        let arch: PolicyArch = ck.meta_json(keys::MODEL)?;
        let bad = |key: &str, message: String| CheckpointError::Metadata {
            path: ck.path.clone(),
            key: key.to_string(),
            message,
        };
        let preprocessor = Preprocessor::from_json(&ck.meta_json(keys::PREPROCESS)?)
            .map_err(|e| bad(keys::PREPROCESS, e.to_string()))?;
        if preprocessor.layout().names != arch.layout.customer_features {
            return Err(bad(
                keys::MODEL,
                "layout.customer_features differ from the preprocessing's features".into(),
            ));
        }
        let (k, d) = (arch.arms.len(), arch.layout.dim());
        let widen = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<f64>>();
        let models = match arch.model {
            ModelKind::Disjoint => {
                let mut models = ArmModels::new(k, d, arch.ridge);
                models.theta = widen(ck.tensor("policy.theta", Some(&[k, d]))?.data);
                models.a_inv = widen(ck.tensor("policy.a_inv", Some(&[k, d, d]))?.data);
                // The stored noise is what `ArmModels::noise` returns once an arm has rounds:
                // keep it by giving each arm one pseudo-round with that squared residual.
                let noise = widen(ck.tensor("policy.noise", Some(&[k]))?.data);
                models.count = vec![2.0; k];
                models.residual_ss = noise.iter().map(|n| 2.0 * n).collect();
                RewardModel::Disjoint(models)
            }
            ModelKind::Factored => {
                let factors = arch
                    .factors
                    .clone()
                    .ok_or_else(|| bad(keys::MODEL, "a factored policy needs `factors`".into()))?;
                if factors.of_arm.len() != k
                    || factors
                        .of_arm
                        .iter()
                        .flatten()
                        .any(|&l| l >= factors.levels.len())
                {
                    return Err(bad(
                        keys::MODEL,
                        "factors.of_arm must list one set of known levels per arm".into(),
                    ));
                }
                let mut m = FactoredModel::new(d, factors, arch.ridge);
                let size = m.size();
                m.theta = widen(ck.tensor("policy.theta", Some(&[size]))?.data);
                m.a_inv = widen(ck.tensor("policy.a_inv", Some(&[size, size]))?.data);
                let noise = widen(ck.tensor("policy.noise", Some(&[1]))?.data);
                m.count = 2.0;
                m.residual_ss = 2.0 * noise[0];
                RewardModel::Factored(m)
            }
        };
        let policy = Policy {
            algorithm: arch.algorithm,
            alpha: arch.alpha,
            epsilon: arch.epsilon,
            posterior_scale: arch.posterior_scale,
            samples: arch.samples,
            models,
        };
        let mut bytes = serde_json::to_vec(&arch).map_err(|e| bad(keys::MODEL, e.to_string()))?;
        let theta = match &policy.models {
            RewardModel::Disjoint(m) => &m.theta,
            RewardModel::Factored(m) => &m.theta,
        };
        theta
            .iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_bits().to_le_bytes()));
        let fingerprint = crate::data::split::fnv1a_64(&bytes);
        Ok(PolicyModel {
            schema,
            preprocessor,
            arch,
            policy,
            fingerprint,
        })
    }

    /// `customer_id` then, per offer category, `<category>_arm,<category>_probability,
    /// <category>_expected_response`, and a newline.
    pub fn header(&self) -> Vec<u8> {
        let mut out = b"customer_id".to_vec();
        for c in &self.arch.layout.categories {
            for suffix in ["arm", "probability", "expected_response"] {
                write!(out, ",{}", csv_field(&format!("{c}_{suffix}"))).expect("vec write");
            }
        }
        out.push(b'\n');
        out
    }

    /// The rows of [`Self::header`] for `table`: per customer and offer category, the arm the
    /// policy plays most often there, its probability and the arm's expected response. Thompson
    /// sampling's probabilities are exact (or, for a checkpoint with `samples` > 0, counted from
    /// draws seeded by the customer id and the category), so a customer scores the same in any
    /// file.
    pub fn rows(&self, out: &mut Vec<u8>, table: &RawTable) -> anyhow::Result<()> {
        let features = self.preprocessor.transform(table)?;
        let categories = &self.arch.layout.categories;
        let per = categories.len();
        // Every (customer, category) context at once: the spreads share passes over the model.
        let features = &features;
        let xs: Vec<Vec<f64>> = (0..table.ids.len())
            .flat_map(|i| {
                categories
                    .iter()
                    .map(move |c| self.arch.layout.context(features.row(i), Some(c)))
            })
            .collect();
        let probs = self.policy.probabilities_many(&xs, |k| {
            StdRng::seed_from_u64(draw_seed(&table.ids[k / per], Some(&categories[k % per])))
        });
        for (i, id) in table.ids.iter().enumerate() {
            out.extend_from_slice(csv_field(id).as_bytes());
            for k in i * per..(i + 1) * per {
                let (arm, p, expected) = most_played(&self.policy, &probs[k], &xs[k]);
                write!(
                    out,
                    ",{},{p:.6},{expected:.6}",
                    csv_field(&self.arch.arms[arm])
                )
                .expect("vec write");
            }
            out.push(b'\n');
        }
        Ok(())
    }
}

impl PolicyModel {
    /// The context of a customer (preprocessed `features`) contacted about `offer_id` (its
    /// category from the checkpoint's catalogue; none for an unknown offer).
    pub fn context(&self, features: &[f32], offer_id: &str) -> Vec<f64> {
        let category = self.arch.offer_categories.get(offer_id).map(String::as_str);
        self.arch.layout.context(features, category)
    }

    /// The arm index of `name`, if the policy has it.
    pub fn arm_index(&self, name: &str) -> Option<usize> {
        self.arch.arms.iter().position(|a| a == name)
    }

    /// The contact `policy` (this checkpoint's, or one updated online from it) makes for each
    /// `(customer id, preprocessed features, offer id)`: the arm it plays most often there, its
    /// probability and expected response. Thompson sampling's probabilities are exact, or
    /// counted from draws seeded by the customer id and the offer's category as in
    /// [`Self::rows`], so a customer's contact does not depend on the others in the batch and
    /// equals that category's column of the policy's scores (the exact probability to float
    /// rounding: a few contexts take dot products, many a matrix product, which sum in another
    /// order).
    pub fn contacts(&self, policy: &Policy, items: &[(&str, &[f32], &str)]) -> Vec<Contact> {
        let xs: Vec<Vec<f64>> = items
            .iter()
            .map(|(_, features, offer)| self.context(features, offer))
            .collect();
        let probs = policy.probabilities_many(&xs, |k| {
            let (id, _, offer) = items[k];
            let category = self.arch.offer_categories.get(offer).map(String::as_str);
            StdRng::seed_from_u64(draw_seed(id, category))
        });
        items
            .iter()
            .zip(&xs)
            .zip(probs)
            .map(|(((_, _, offer), x), p)| {
                let (arm, probability, expected_response) = most_played(policy, &p, x);
                Contact {
                    offer_id: offer.to_string(),
                    arm: self.arch.arms[arm].clone(),
                    probability,
                    expected_response,
                }
            })
            .collect()
    }
}

/// The arm `policy` plays most often given its probabilities `probs` at `x`, that probability,
/// and the arm's expected response (the linear model's prediction clamped to [0, 1]).
fn most_played(policy: &Policy, probs: &[f64], x: &[f64]) -> (usize, f64, f64) {
    let (arm, p) = super::linear::argmax(probs);
    (arm, p, policy.models.mean(arm, x).clamp(0.0, 1.0))
}

/// The seed of Thompson sampling's draws for a customer and an offer category (FNV-1a of
/// each, mixed by SplitMix64): stable across runs, platforms and files, and the same for a
/// category's column of [`PolicyModel::rows`] and a contact about an offer of that category.
fn draw_seed(id: &str, category: Option<&str>) -> u64 {
    use crate::data::split::fnv1a_64;
    let s = crate::seed::splitmix64(fnv1a_64(id.as_bytes()));
    match category {
        Some(c) => crate::seed::splitmix64(s ^ fnv1a_64(c.as_bytes())),
        None => s,
    }
}
