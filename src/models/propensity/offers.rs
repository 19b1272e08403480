//! Offer propensity: the probability that a customer accepts an offer when it is shown, from
//! the offer history (accepted offers and declined impressions), with gradient-boosted trees on
//! the customer's raw columns and the offer's own columns (`offers.csv`: category, price,
//! channel, ...). Per customer it ranks the offers (compared with NCF and popularity under the
//! same leave-last-out protocol) and gives the probability per offer category.
//!
//! Training pairs follow the NCF split ([`crate::data::interactions::leave_last_out`]): the
//! training positives are label 1; the declined impressions before each customer's cut-off
//! ([`crate::data::impressions::load_declined`]) are label 0, so no held-out acceptance leaks
//! into training and the probability is that of accepting *when shown*.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use perpetual::booster::config::BoosterIO;
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};
use serde::{Deserialize, Serialize};

use super::features::FeatureSpec;
use super::forest::Forest;
use crate::config::{Check, ConfigError, OutputConfig, Seed, at_least};
use crate::data::table::RawTable;
use crate::error::UsageError;
use crate::eval::ranking::Scorer;
use crate::models::ncf::NcfDataConfig;

/// `teleseg.kind` of offer-propensity checkpoints.
pub const KIND: &str = "offer_propensity";

/// The `[offers]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OfferPropensityConfig {
    /// perpetual's complexity knob. Default 0.5.
    pub budget: f64,
    /// Offers never shown to the customer added as negatives, per accepted offer (drawn with the
    /// seed). 0 (default): the trees learn P(accept | shown) from real "no"s alone.
    pub unshown_negatives: usize,
    /// At most this many (customer, offer) pairs train the trees, a seeded sample. Default
    /// 400 000.
    pub max_train_rows: usize,
    /// K of HR@K / NDCG@K and of the offers `teleseg score` writes. Default 10.
    pub k: usize,
    /// Negatives per held-out item of the sampled protocol (as `sampling.eval_negatives` of
    /// NCF, with the same seed, so the numbers compare). Default 100.
    pub eval_negatives: usize,
    /// The column of `offers.csv` whose values are the offer categories (probabilities per
    /// category). Default `category`; empty: none.
    pub category_column: String,
    /// An NCF run (folder or model file) trained on the same interactions: evaluated beside
    /// the trees on the same split.
    pub ncf: Option<PathBuf>,
}

impl Default for OfferPropensityConfig {
    fn default() -> Self {
        Self {
            budget: 0.5,
            unshown_negatives: 0,
            max_train_rows: 400_000,
            k: 10,
            eval_negatives: 100,
            category_column: "category".to_string(),
            ncf: None,
        }
    }
}

impl Check for OfferPropensityConfig {
    fn check(&self) -> Result<(), ConfigError> {
        if !(self.budget > 0.0 && self.budget <= 10.0) {
            return Err(ConfigError::Propensity("offers.budget must be in (0, 10]"));
        }
        at_least("offers.max_train_rows", 100, self.max_train_rows)?;
        at_least("offers.k", 1, self.k)?;
        at_least("offers.eval_negatives", 1, self.eval_negatives)
    }
}

/// `teleseg train offer-propensity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OfferPropensityJob {
    /// Seed of data generation, the training sample and the sampled negatives. Default 42.
    pub seed: Seed,
    /// The interactions (teleseg format: impressions and accepts), the offers and the customer
    /// table, as `train ncf` reads them; unset: generated.
    pub data: NcfDataConfig,
    pub offers: OfferPropensityConfig,
    pub output: OutputConfig,
}

impl Check for OfferPropensityJob {
    fn check(&self) -> Result<(), ConfigError> {
        self.output.check()?;
        self.data.check()?;
        self.offers.check()
    }
}

/// The embedded default config (configs/offer_propensity.toml).
pub const OFFER_PROPENSITY_DEFAULT: &str = include_str!("../../../configs/offer_propensity.toml");

crate::job_config!(OfferPropensityJob, KIND, OFFER_PROPENSITY_DEFAULT);

/// One column of `offers.csv` as a tree input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OfferColumn {
    /// Every value a number.
    Numeric { name: String },
    /// Repeated text values: the index of the value in `levels` (sorted).
    Categorical { name: String, levels: Vec<String> },
}

impl OfferColumn {
    pub fn name(&self) -> &str {
        match self {
            OfferColumn::Numeric { name } | OfferColumn::Categorical { name, .. } => name,
        }
    }
}

/// The offers and their inputs: one row per item, in the interactions' item order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferTable {
    pub ids: Vec<String>,
    /// The columns used (a text column with a different value per offer, such as a name, is
    /// left out: it would only repeat the id).
    pub columns: Vec<OfferColumn>,
    /// `values[item * columns.len() + j]`.
    pub values: Vec<f64>,
    /// The category of each offer (`offers.category_column`), when there is one.
    pub categories: Option<Vec<String>>,
}

impl OfferTable {
    /// Reads `path` (`offer_id` first, then any columns) for the items `items`, in that order.
    pub fn read(path: &Path, items: &[String], category_column: &str) -> anyhow::Result<Self> {
        let source = path.display().to_string();
        let (mut rdr, header) = crate::data::csvfile::open_trimmed_csv(path)?;
        let mut rows: HashMap<String, Vec<String>> = HashMap::new();
        for (n, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| UsageError(format!("{source}:{}: {e}", n + 2)))?;
            let cells: Vec<String> = rec.iter().map(str::to_string).collect();
            let id = cells.first().cloned().unwrap_or_default();
            rows.insert(id, cells);
        }
        let missing: Vec<&String> = items.iter().filter(|i| !rows.contains_key(*i)).collect();
        if let Some(m) = missing.first() {
            anyhow::bail!(UsageError(format!(
                "{source}: offer `{m}` of the interactions is not in the catalogue ({} missing)",
                missing.len()
            )));
        }
        let cell = |i: usize, j: usize| rows[&items[i]].get(j).map_or("", String::as_str);
        let mut columns = Vec::new();
        let mut col_idx = Vec::new();
        for (j, name) in header.iter().enumerate().skip(1) {
            let texts: Vec<&str> = (0..items.len()).map(|i| cell(i, j)).collect();
            if texts
                .iter()
                .all(|t| t.is_empty() || t.parse::<f64>().is_ok())
            {
                columns.push(OfferColumn::Numeric { name: name.clone() });
            } else {
                let levels: BTreeSet<&str> =
                    texts.iter().copied().filter(|t| !t.is_empty()).collect();
                if levels.len() == texts.len() && name != category_column {
                    continue; // a name or description: unique per offer
                }
                columns.push(OfferColumn::Categorical {
                    name: name.clone(),
                    levels: levels.into_iter().map(str::to_string).collect(),
                });
            }
            col_idx.push(j);
        }
        let mut values = Vec::with_capacity(items.len() * columns.len());
        for i in 0..items.len() {
            for (c, &j) in columns.iter().zip(&col_idx) {
                values.push(c.value(cell(i, j)));
            }
        }
        let categories = header
            .iter()
            .position(|h| !category_column.is_empty() && h == category_column)
            .map(|j| (0..items.len()).map(|i| cell(i, j).to_string()).collect());
        Ok(OfferTable {
            ids: items.to_vec(),
            columns,
            values,
            categories,
        })
    }

    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// The distinct categories, sorted (empty without a category column).
    pub fn category_names(&self) -> Vec<String> {
        let Some(cats) = &self.categories else {
            return Vec::new();
        };
        let set: BTreeSet<&String> = cats.iter().collect();
        set.into_iter().cloned().collect()
    }
}

impl OfferColumn {
    fn value(&self, text: &str) -> f64 {
        match self {
            OfferColumn::Numeric { .. } => text.parse().unwrap_or(f64::NAN),
            OfferColumn::Categorical { levels, .. } => levels
                .binary_search_by(|l| l.as_str().cmp(text))
                .map_or(f64::NAN, |i| i as f64),
        }
    }
}

/// Everything besides the trees (`teleseg.model`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferPropensityArch {
    pub library: String,
    /// The customer inputs (raw columns, as in §4e), then the offer inputs.
    pub customer_features: FeatureSpec,
    pub offers: OfferTable,
    pub budget: f64,
    pub trees: usize,
}

/// The fitted trees with what they read.
#[derive(Clone)]
pub struct OfferPropensity {
    pub arch: OfferPropensityArch,
    pub booster: PerpetualBooster,
    /// The trees on flat arrays (predictions).
    pub forest: Forest,
}

impl OfferPropensity {
    /// Fits the trees on `pairs` (customer row of `x_customers`, item, label).
    pub fn fit(
        customer_features: FeatureSpec,
        x_customers: &[f64],
        n_customers: usize,
        offers: OfferTable,
        pairs: &[(usize, u32, bool)],
        budget: f64,
        seed: u64,
    ) -> anyhow::Result<OfferPropensity> {
        let cols = customer_features.len() + offers.width();
        let ids: Vec<(usize, u32)> = pairs.iter().map(|p| (p.0, p.1)).collect();
        let x = pair_matrix(x_customers, n_customers, &offers, &ids);
        let y: Vec<f64> = pairs.iter().map(|p| f64::from(u8::from(p.2))).collect();
        let mut booster = PerpetualBooster::default()
            .set_objective(Objective::LogLoss)
            .set_budget(budget as f32)
            .set_seed(seed);
        booster
            .fit(&Matrix::new(&x, pairs.len(), cols), &y, None, None)
            .map_err(|e| anyhow::anyhow!("fitting the offer-propensity trees: {e}"))?;
        Ok(OfferPropensity {
            arch: OfferPropensityArch {
                library: super::model::LIBRARY.to_string(),
                trees: booster.get_prediction_trees().len(),
                customer_features,
                offers,
                budget,
            },
            forest: Forest::new(&booster),
            booster,
        })
    }

    /// The acceptance probability of every (customer, item) in `pairs`.
    pub fn predict(
        &self,
        x_customers: &[f64],
        n_customers: usize,
        pairs: &[(usize, u32)],
    ) -> Vec<f64> {
        let n = pairs.len();
        if n == 0 {
            return Vec::new();
        }
        let cols = self.arch.customer_features.len() + self.arch.offers.width();
        let x = pair_matrix(x_customers, n_customers, &self.arch.offers, pairs);
        self.forest
            .margin(&x, n, cols)
            .into_iter()
            .map(|m| 1.0 / (1.0 + (-m).exp()))
            .collect()
    }

    /// Every offer's probability for each customer row of `x_customers` (`[customer][item]`).
    pub fn all_offers(&self, x_customers: &[f64], n_customers: usize) -> Vec<f64> {
        let items = self.arch.offers.ids.len() as u32;
        let pairs: Vec<(usize, u32)> = (0..n_customers)
            .flat_map(|c| (0..items).map(move |i| (c, i)))
            .collect();
        self.predict(x_customers, n_customers, &pairs)
    }

    /// The categories in sorted order and, per customer, the mean probability of the offers of
    /// each (`[customer][category]`); none without a category column.
    pub fn by_category(
        &self,
        probs: &[f64],
        n_customers: usize,
    ) -> Option<(Vec<String>, Vec<f64>)> {
        let cats = self.arch.offers.categories.as_ref()?;
        let names = self.arch.offers.category_names();
        let of: Vec<usize> = cats
            .iter()
            .map(|c| names.binary_search(c).expect("a listed category"))
            .collect();
        let mut count = vec![0usize; names.len()];
        of.iter().for_each(|&k| count[k] += 1);
        let items = cats.len();
        let mut out = vec![0.0; n_customers * names.len()];
        for c in 0..n_customers {
            for (i, &k) in of.iter().enumerate() {
                out[c * names.len() + k] += probs[c * items + i] / count[k] as f64;
            }
        }
        Some((names, out))
    }
}

/// The column-major input matrix of `pairs`: customer columns from `x_customers` (column-major,
/// `n_customers` rows), then the offer's columns.
fn pair_matrix(
    x_customers: &[f64],
    n_customers: usize,
    offers: &OfferTable,
    pairs: &[(usize, u32)],
) -> Vec<f64> {
    let n = pairs.len();
    let cust_cols = x_customers.len().checked_div(n_customers).unwrap_or(0);
    let w = offers.width();
    let mut x = Vec::with_capacity(n * (cust_cols + w));
    for j in 0..cust_cols {
        let col = &x_customers[j * n_customers..(j + 1) * n_customers];
        x.extend(pairs.iter().map(|&(c, _)| col[c]));
    }
    for j in 0..w {
        x.extend(
            pairs
                .iter()
                .map(|&(_, i)| offers.values[i as usize * w + j]),
        );
    }
    x
}

/// The trees as a [`Scorer`] over the interactions' users (rows of `x_customers`).
pub struct PairScorer<'a> {
    pub model: &'a OfferPropensity,
    pub x_customers: &'a [f64],
    pub n_customers: usize,
}

impl Scorer for PairScorer<'_> {
    fn n_items(&self) -> usize {
        self.model.arch.offers.ids.len()
    }

    fn score_users(&self, users: &[u32]) -> Vec<f32> {
        let items = self.n_items() as u32;
        let pairs: Vec<(usize, u32)> = users
            .iter()
            .flat_map(|&u| (0..items).map(move |i| (u as usize, i)))
            .collect();
        self.model
            .predict(self.x_customers, self.n_customers, &pairs)
            .into_iter()
            .map(|p| p as f32)
            .collect()
    }
}

/// The customer inputs of `users` (column-major, one row per user, NaN for a user the table
/// lacks).
pub fn customer_rows(
    spec: &FeatureSpec,
    table: &RawTable,
    users: &[String],
) -> anyhow::Result<Vec<f64>> {
    let x = spec.matrix(table)?;
    let n = table.n_rows();
    let index: HashMap<&str, usize> = table
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let rows: Vec<Option<usize>> = users
        .iter()
        .map(|u| index.get(u.as_str()).copied())
        .collect();
    let mut out = Vec::with_capacity(users.len() * spec.len());
    for j in 0..spec.len() {
        out.extend(rows.iter().map(|r| r.map_or(f64::NAN, |r| x[j * n + r])));
    }
    Ok(out)
}

/// An offer-propensity checkpoint loaded for `teleseg score`.
#[derive(Clone)]
pub struct OfferPropensityModel {
    pub schema: crate::data::schema::Schema,
    pub model: OfferPropensity,
    /// Offers written per customer (`offers.k` of the run).
    pub k: usize,
    /// The offer categories, sorted (empty without a category column).
    pub categories: Vec<String>,
}

impl OfferPropensityModel {
    /// Loads `model.safetensors` (or a run folder holding one) of kind `offer_propensity`.
    pub fn load(path: &Path) -> Result<Self, crate::checkpoint::CheckpointError> {
        let file = crate::checkpoint::RunDir::resolve_model_file(path)?;
        Self::from_checkpoint(&crate::checkpoint::Checkpoint::read(&file, Some(KIND))?)
    }

    pub fn from_checkpoint(
        ck: &crate::checkpoint::Checkpoint,
    ) -> Result<Self, crate::checkpoint::CheckpointError> {
        use crate::checkpoint::{CheckpointError, keys};
        let arch: OfferPropensityArch = ck.meta_json(keys::MODEL)?;
        let schema = ck.meta_json(keys::SCHEMA)?;
        let job: OfferPropensityJob = ck.meta_json(keys::CONFIG)?;
        let gbm = ck.meta(super::model::META_GBM)?;
        let booster = PerpetualBooster::from_json(gbm).map_err(|e| CheckpointError::Metadata {
            path: ck.path.clone(),
            key: super::model::META_GBM.to_string(),
            message: e.to_string(),
        })?;
        Ok(OfferPropensityModel {
            schema,
            categories: arch.offers.category_names(),
            model: OfferPropensity {
                arch,
                forest: Forest::new(&booster),
                booster,
            },
            k: job.offers.k,
        })
    }

    /// `,propensity_offers,propensity_scores` then `,<category>_propensity` per category.
    pub fn header_fields(&self) -> Vec<u8> {
        let mut out = b",propensity_offers,propensity_scores".to_vec();
        out.extend_from_slice(&self.category_header_fields());
        out
    }

    /// Per row of `table`: the `k` offers most likely accepted with their probabilities, and
    /// the mean probability per category.
    pub fn score(&self, table: &RawTable) -> anyhow::Result<OfferScores> {
        let n = table.n_rows();
        let x = self.model.arch.customer_features.matrix(table)?;
        let probs = self.model.all_offers(&x, n);
        let items = self.model.arch.offers.ids.len();
        let top = (0..n)
            .map(|c| {
                let p: Vec<f32> = probs[c * items..(c + 1) * items]
                    .iter()
                    .map(|&v| v as f32)
                    .collect();
                crate::eval::ranking::top_k_indices(&p, self.k, |_| false)
                    .into_iter()
                    .map(|i| (i, probs[c * items + i as usize]))
                    .collect()
            })
            .collect();
        let by_category = self
            .model
            .by_category(&probs, n)
            .map_or_else(Vec::new, |(_, v)| v);
        Ok(OfferScores { top, by_category })
    }

    /// `,<category>_propensity` per category (the pipeline's scores.csv).
    pub fn category_header_fields(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for c in &self.categories {
            out.extend_from_slice(
                format!(
                    ",{}",
                    crate::data::writer::csv_field(&format!("{c}_propensity"))
                )
                .as_bytes(),
            );
        }
        out
    }

    /// Row `i`'s fields of [`Self::category_header_fields`].
    pub fn category_fields(&self, out: &mut Vec<u8>, scores: &OfferScores, i: usize) {
        let cats = self.categories.len();
        for v in scores.by_category.iter().skip(i * cats).take(cats) {
            out.extend_from_slice(format!(",{v:.6}").as_bytes());
        }
    }

    /// Row `i`'s probability per category, by category.
    pub fn category_map(
        &self,
        scores: &OfferScores,
        i: usize,
    ) -> std::collections::BTreeMap<String, f64> {
        let n = self.categories.len();
        self.categories
            .iter()
            .cloned()
            .zip(scores.by_category.iter().skip(i * n).take(n).copied())
            .collect()
    }

    /// Row `i`'s fields of [`Self::header_fields`].
    pub fn fields(&self, out: &mut Vec<u8>, scores: &OfferScores, i: usize) {
        let ids: Vec<&str> = scores.top[i]
            .iter()
            .map(|&(j, _)| self.model.arch.offers.ids[j as usize].as_str())
            .collect();
        let vals: Vec<String> = scores.top[i]
            .iter()
            .map(|(_, p)| format!("{p:.6}"))
            .collect();
        out.push(b',');
        out.extend_from_slice(ids.join(" ").as_bytes());
        out.push(b',');
        out.extend_from_slice(vals.join(" ").as_bytes());
        self.category_fields(out, scores, i);
    }
}

/// What [`OfferPropensityModel::score`] gives per customer.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferScores {
    /// The best offers (item row, probability), best first.
    pub top: Vec<Vec<(u32, f64)>>,
    /// `[customer][category]` mean probabilities (empty without categories).
    pub by_category: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_file_is_the_default() {
        let job: OfferPropensityJob = crate::job::parse_default(&[]).unwrap();
        assert_eq!(job, OfferPropensityJob::default());
    }

    #[test]
    fn offer_columns_are_typed_and_names_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offers.csv");
        std::fs::write(
            &path,
            "offer_id,name,category,price\nO1,Data 5,data,4.99\nO2,Roam,roaming,9\nO3,Data 10,data,\n",
        )
        .unwrap();
        let items: Vec<String> = ["O3", "O1"].iter().map(|s| s.to_string()).collect();
        let t = OfferTable::read(&path, &items, "category").unwrap();
        let names: Vec<&str> = t.columns.iter().map(OfferColumn::name).collect();
        assert_eq!(
            names,
            ["category", "price"],
            "the unique name column is left out"
        );
        // O3 then O1: category index (data = 0 of [data, roaming]), price (O3's empty → NaN).
        assert_eq!(t.values[0], 0.0);
        assert!(t.values[1].is_nan());
        assert_eq!(&t.values[2..], &[0.0, 4.99]);
        assert_eq!(t.categories.unwrap(), ["data", "data"]);
        let err = OfferTable::read(&path, &["O9".to_string()], "category").unwrap_err();
        assert!(err.to_string().contains("offer `O9`"), "{err}");
    }
}
