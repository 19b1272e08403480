//! `teleseg train ncf`: offer recommendation with GMF / MLP / NeuMF (He et al. 2017) or a
//! dot-product matrix factorisation baseline, trained with BCE on sampled negatives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{
    Check, ConfigError, OptimizerKind, OutputConfig, Schedule, Seed, TrainConfig, at_least,
    fraction, non_negative, positive,
};

/// The embedded default of `teleseg train ncf` (same text as `configs/ncf.toml`).
pub const NCF_DEFAULT: &str = include_str!("../../../configs/ncf.toml");

/// Input format of the interactions file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionFormat {
    /// `customer_id,offer_id,timestamp,event` (what `teleseg generate` writes); accepts are
    /// positives.
    Teleseg,
    /// `user item rating timestamp` separated by `::`, a tab or a comma; ratings at or above
    /// `rating_threshold` are positives.
    Movielens,
}

/// Where the interactions come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NcfDataConfig {
    /// `teleseg` (default) or `movielens`.
    pub format: InteractionFormat,
    /// Interactions file. Unset: generate synthetic data into the run folder.
    pub interactions: Option<PathBuf>,
    /// Offer catalogue (`offers.csv`, teleseg format only): fixes the item list and order.
    pub offers: Option<PathBuf>,
    /// MovieLens: ratings at or above this are positives. Default 4.0.
    pub rating_threshold: f64,
    /// Customers to generate when no file is given. Default 20 000.
    pub generate_customers: usize,
    /// Offers to generate when no file is given. Default 40.
    pub generate_offers: usize,
    /// Customer table (CSV or Parquet) whose rows give each user's features when
    /// `model.user_features` is on; ids are matched to the interactions' user ids. Set to the
    /// generated `customers.csv` when data is generated.
    pub customers: Option<PathBuf>,
    /// Schema of `customers` (required with it).
    pub schema: Option<PathBuf>,
    /// A customer row that breaks a cell rule: `error` (default) stops, `skip` leaves it out
    /// (its user then gets the all-zero feature vector).
    pub on_bad_row: crate::data::reader::OnBadRow,
}

impl Default for NcfDataConfig {
    fn default() -> Self {
        Self {
            format: InteractionFormat::Teleseg,
            interactions: None,
            offers: None,
            rating_threshold: 4.0,
            generate_customers: 20_000,
            generate_offers: 40,
            customers: None,
            schema: None,
            on_bad_row: crate::data::reader::OnBadRow::Error,
        }
    }
}

impl Check for NcfDataConfig {
    fn check(&self) -> Result<(), ConfigError> {
        if self.format == InteractionFormat::Movielens && self.interactions.is_none() {
            return Err(ConfigError::NcfData(
                "data.format = \"movielens\" needs data.interactions (a file to read)",
            ));
        }
        if self.format == InteractionFormat::Movielens && self.offers.is_some() {
            return Err(ConfigError::NcfData(
                "data.offers is only read with data.format = \"teleseg\"",
            ));
        }
        if self.interactions.is_none() && self.offers.is_some() {
            return Err(ConfigError::NcfData(
                "data.offers needs data.interactions (or neither, to generate data)",
            ));
        }
        if self.customers.is_some() != self.schema.is_some() {
            return Err(ConfigError::NcfData(
                "data.customers and data.schema go together (the customer table and its schema)",
            ));
        }
        if !self.rating_threshold.is_finite() {
            return Err(ConfigError::NotPositive {
                field: "data.rating_threshold",
                value: self.rating_threshold,
            });
        }
        at_least("data.generate_customers", 100, self.generate_customers)?;
        at_least("data.generate_offers", 2, self.generate_offers)
    }
}

/// Which model to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NcfKind {
    /// Generalized matrix factorisation: `h · (p_u ⊙ q_i)`.
    Gmf,
    /// An MLP on the concatenated user and item embeddings.
    Mlp,
    /// GMF and MLP side by side, one output layer on both (NeuMF).
    Neumf,
    /// Dot-product matrix factorisation with user and item biases (Rendle et al. 2020 baseline).
    Mf,
}

/// NCF model settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NcfModelConfig {
    /// `gmf`, `mlp`, `neumf` (default) or `mf`.
    pub kind: NcfKind,
    /// Embedding width of GMF and MF. Default 16.
    pub factors: usize,
    /// MLP tower widths, input first: the user and item MLP embeddings are `mlp_layers[0] / 2`
    /// wide each (so the first width must be even). Default [16, 8]: one tower layer, MLP
    /// embeddings 8 wide (He et al. 2017 use [64, 32, 16, 8]; the default of teleseg ≤ 0.1 was
    /// [32, 16, 8], which overfits the ~2 training positives per user of the generated data:
    /// see configs/ncf.toml).
    pub mlp_layers: Vec<usize>,
    /// Standard deviation of the N(0, σ²) embedding initialisation. Default 0.1 (the paper's
    /// 0.01 leaves NeuMF longer on the popularity plateau).
    pub init_std: f64,
    /// Weight of the L2 penalty on the embedding rows of each batch (mean squared norm of the
    /// looked-up user and item rows, every table; with customer features, of the user vectors
    /// id row + `W x`) added to the BCE. Default 0 (none).
    pub l2: f64,
    /// NeuMF only: pretrain GMF and MLP with the same settings first and start NeuMF from their
    /// weights (output layer = [α·h_gmf, (1−α)·h_mlp], α = 0.5), as in He et al. 2017. Default false.
    pub pretrain: bool,
    /// GMF / MLP / NeuMF: add a learned per-item bias `e_i` to the logit. A deviation from He et
    /// al. 2017 (whose output layer has one scalar bias): item popularity is a strong signal that
    /// the paper's model must otherwise encode in the embeddings. Ignored by `mf` (which has
    /// its own item and user biases). Default true: on MovieLens (real data, 9 066 items) it lifts
    /// NeuMF's full-ranking HR@10 from 0.022 to 0.061 (seed 42; popularity 0.045), where the
    /// generator's 40 offers are indifferent (0.698 with or without).
    pub item_bias: bool,
    /// GMF / MLP / NeuMF: dropout rate in [0, 1) after the hidden layers of the MLP tower,
    /// training only. Default 0.
    pub dropout: f64,
    /// How training updates the embedding tables: `auto` (default), `sparse` or `dense`.
    pub embedding_updates: EmbeddingUpdates,
    /// Add each customer's preprocessed features (`data.customers`, fitted preprocessing saved
    /// in the checkpoint) to every user vector through one learned linear map (a hybrid of
    /// collaborative filtering and content: not in He et al. 2017). Applies only when a customer
    /// table is known (`data.customers`, or generated data); MovieLens-style data without one
    /// trains pure CF. Default true: with ~2 accepted offers per customer, the ids alone carry
    /// little beyond popularity, while the features say which offers suit whom (full-ranking
    /// HR@10 on the generated data in docs/ncf-tuning.md). New customers are then ranked from
    /// their own features rather than their segment's mean alone.
    pub user_features: bool,
}

/// How NCF training updates its embedding tables (`model.embedding_updates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingUpdates {
    /// `dense` while every table has at most [`EmbeddingUpdates::AUTO_SPARSE_ROWS`] rows,
    /// `sparse` above (where a dense step would cost many times the batch's own work).
    Auto,
    /// Only the rows a batch looks up, with lazy Adam: a row and its Adam moments change only in
    /// steps that use it, and weight decay shrinks only those rows. A step costs the same with
    /// 20 000 or 1 000 000 customers (TensorFlow's `LazyAdam`, PyTorch's `SparseAdam`).
    Sparse,
    /// Every row through the module optimizer, as dense parameters: each step rewrites whole
    /// tables and their moments, so its cost grows with the number of customers. Rows of users
    /// absent from a batch keep moving on their Adam momentum and weight decay, which on the
    /// generated data regularises ids-only models better than sparse updates (full-ranking HR@10
    /// 0.528 vs 0.493 at 20 000 customers, seed 42); with customer features the two are within
    /// 0.003 (0.698 vs 0.695; see docs/ncf-tuning.md).
    Dense,
}

impl EmbeddingUpdates {
    /// Above this many rows in a table, `auto` updates sparsely.
    pub const AUTO_SPARSE_ROWS: usize = 50_000;

    /// `Sparse` or `Dense` for tables of at most `rows` rows.
    pub fn resolve(self, rows: usize) -> EmbeddingUpdates {
        match self {
            EmbeddingUpdates::Auto if rows > Self::AUTO_SPARSE_ROWS => EmbeddingUpdates::Sparse,
            EmbeddingUpdates::Auto => EmbeddingUpdates::Dense,
            other => other,
        }
    }
}

impl Default for NcfModelConfig {
    fn default() -> Self {
        Self {
            kind: NcfKind::Neumf,
            factors: 16,
            mlp_layers: vec![16, 8],
            init_std: 0.1,
            l2: 0.0,
            pretrain: false,
            item_bias: true,
            dropout: 0.0,
            embedding_updates: EmbeddingUpdates::Auto,
            user_features: true,
        }
    }
}

impl Check for NcfModelConfig {
    fn check(&self) -> Result<(), ConfigError> {
        at_least("model.factors", 1, self.factors)?;
        at_least("model.mlp_layers (count)", 1, self.mlp_layers.len())?;
        if self.mlp_layers.contains(&0) {
            return Err(ConfigError::ZeroWidth {
                field: "model.mlp_layers",
            });
        }
        if !self.mlp_layers[0].is_multiple_of(2) {
            return Err(ConfigError::NcfData(
                "model.mlp_layers[0] must be even: it is the user and item MLP embeddings concatenated",
            ));
        }
        positive("model.init_std", self.init_std)?;
        fraction("model.dropout", self.dropout)?;
        non_negative("model.l2", self.l2)?;
        if self.pretrain && self.kind != NcfKind::Neumf {
            return Err(ConfigError::NcfData(
                "model.pretrain applies to model.kind = \"neumf\" only",
            ));
        }
        Ok(())
    }
}

/// Negative sampling and evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NcfSamplingConfig {
    /// Negatives per positive, resampled each epoch. Default 8 (MovieLens, 3 seeds: sampled
    /// HR@10 0.655 → 0.664 over 4; the generator's HR unchanged; see configs/ncf.toml).
    pub negatives: usize,
    /// Cut-off K of HR@K / NDCG@K and the top-K lists. Default 10.
    pub k: usize,
    /// Sampled protocol: negatives ranked with each held-out item. Default 99 (the paper's).
    pub eval_negatives: usize,
    /// Teleseg format: share in [0, 1) of each training negative drawn from the user's declined
    /// impressions (offers shown before the user's held-out items and not accepted: observed
    /// "no"s, see `teleseg::data::impressions`) instead of uniformly; users without one draw
    /// uniformly. Default 0 (uniform negatives only, as in He et al. 2017).
    pub impression_negatives: f64,
    /// What picks the best epoch and stops early: `bce` (the validation items with
    /// `negatives` sampled negatives each, the loss), `hr` (HR@`k` of the validation items
    /// ranked among every item that is not a training positive; the run's `valid_loss` is then
    /// `1 − HR@k`) or `rank` (the mean share of those candidates ranked above the validation
    /// item). Default bce.
    pub valid_metric: ValidMetric,
}

/// The validation criterion of NCF training (`sampling.valid_metric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidMetric {
    /// Binary cross-entropy on the validation items and sampled negatives.
    Bce,
    /// `1 − HR@k` in full ranking.
    Hr,
    /// The mean share of candidates ranked above the validation item, in full ranking (one
    /// minus its AUC): a ranking criterion that, unlike HR@k, moves with every item's rank.
    Rank,
}

impl Default for NcfSamplingConfig {
    fn default() -> Self {
        Self {
            negatives: 8,
            k: 10,
            eval_negatives: 99,
            impression_negatives: 0.0,
            valid_metric: ValidMetric::Bce,
        }
    }
}

impl Check for NcfSamplingConfig {
    fn check(&self) -> Result<(), ConfigError> {
        at_least("sampling.negatives", 1, self.negatives)?;
        at_least("sampling.k", 1, self.k)?;
        at_least("sampling.eval_negatives", 1, self.eval_negatives)?;
        fraction("sampling.impression_negatives", self.impression_negatives)
    }
}

/// The NCF training loop defaults: 30 epochs, batch 1024, Adam lr 2e-3 with L2 3e-5, constant
/// rate, no clipping, early stopping after 6 epochs (NeuMF sits on the popularity plateau for
/// ~5 epochs on the generated data before it improves).
pub fn ncf_train_default() -> TrainConfig {
    TrainConfig {
        epochs: 30,
        batch_size: 1024,
        optimizer: OptimizerKind::Adam,
        learning_rate: 2e-3,
        weight_decay: 3e-5,
        schedule: Schedule::Constant,
        warmup_epochs: 0,
        grad_clip_norm: 0.0,
        patience: 6,
        // ~67 000 generated customers' worth of samples (positives + 8 negatives each) per epoch.
        max_epoch_samples: 2_000_000,
        ..TrainConfig::default()
    }
}

/// `teleseg train ncf`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NcfJob {
    /// Seed of data generation, initial weights, negative sampling and shuffling. Default 42.
    pub seed: Seed,
    pub data: NcfDataConfig,
    pub model: NcfModelConfig,
    pub sampling: NcfSamplingConfig,
    pub train: TrainConfig,
    pub output: OutputConfig,
}

impl Default for NcfJob {
    fn default() -> Self {
        Self {
            seed: Seed::default(),
            data: NcfDataConfig::default(),
            model: NcfModelConfig::default(),
            sampling: NcfSamplingConfig::default(),
            train: ncf_train_default(),
            output: OutputConfig::default(),
        }
    }
}

impl Check for NcfJob {
    fn check(&self) -> Result<(), ConfigError> {
        self.output.check()?;
        self.data.check()?;
        self.model.check()?;
        self.sampling.check()?;
        if self.sampling.impression_negatives > 0.0
            && self.data.format != InteractionFormat::Teleseg
        {
            return Err(ConfigError::NcfData(
                "sampling.impression_negatives needs data.format = \"teleseg\" (impression events)",
            ));
        }
        self.train.check()
    }
}

crate::job_config!(NcfJob, crate::models::ncf::KIND, NCF_DEFAULT);

#[cfg(test)]
mod tests {
    use super::*;

    fn job(o: &[&str]) -> Result<NcfJob, ConfigError> {
        crate::job::parse_default(o)
    }

    #[test]
    fn perf_issue_settings_are_reachable() {
        let j = job(&[
            "data.generate_customers=50000",
            "data.generate_offers=500",
            "model.factors=32",
            "model.mlp_layers=[64, 32, 16, 8]",
            "sampling.negatives=4",
            "train.batch_size=1024",
        ])
        .unwrap();
        assert_eq!(j.model.mlp_layers, vec![64, 32, 16, 8]);
    }

    #[test]
    fn auto_embedding_updates_go_sparse_above_the_threshold() {
        use EmbeddingUpdates::{Auto, Dense, Sparse};
        let t = EmbeddingUpdates::AUTO_SPARSE_ROWS;
        assert_eq!(Auto.resolve(t), Dense);
        assert_eq!(Auto.resolve(t + 1), Sparse);
        assert_eq!(Sparse.resolve(10), Sparse);
        assert_eq!(Dense.resolve(10 * t), Dense);
        let j = job(&["model.embedding_updates=\"sparse\""]).unwrap();
        assert_eq!(j.model.embedding_updates, Sparse);
        assert!(job(&["model.embedding_updates=\"lazy\""]).is_err());
    }

    #[test]
    fn rules() {
        assert!(matches!(
            job(&["data.format=\"movielens\""]),
            Err(ConfigError::NcfData(_))
        ));
        assert!(matches!(
            job(&["data.offers=\"o.csv\""]),
            Err(ConfigError::NcfData(_))
        ));
        assert!(matches!(
            job(&["model.mlp_layers=[33, 8]"]),
            Err(ConfigError::NcfData(_))
        ));
        assert!(matches!(
            job(&["model.mlp_layers=[]"]),
            Err(ConfigError::TooSmall { .. })
        ));
        assert!(matches!(
            job(&["model.mlp_layers=[32, 0]"]),
            Err(ConfigError::ZeroWidth { .. })
        ));
        assert!(matches!(
            job(&["model.factors=0"]),
            Err(ConfigError::TooSmall {
                field: "model.factors",
                ..
            })
        ));
        assert!(matches!(
            job(&["model.init_std=0"]),
            Err(ConfigError::NotPositive {
                field: "model.init_std",
                ..
            })
        ));
        assert!(matches!(
            job(&["model.kind=\"mf\"", "model.pretrain=true"]),
            Err(ConfigError::NcfData(_))
        ));
        assert!(matches!(
            job(&["sampling.negatives=0"]),
            Err(ConfigError::TooSmall {
                field: "sampling.negatives",
                ..
            })
        ));
        assert!(matches!(
            job(&["sampling.k=0"]),
            Err(ConfigError::TooSmall {
                field: "sampling.k",
                ..
            })
        ));
        assert!(matches!(
            job(&["sampling.eval_negatives=0"]),
            Err(ConfigError::TooSmall { .. })
        ));
        assert!(matches!(
            job(&["data.generate_offers=1"]),
            Err(ConfigError::TooSmall { .. })
        ));
        assert!(job(&["model.kind=\"gmf\"", "sampling.colour=1"]).is_err());
        for bad in ["1.0", "-0.1"] {
            assert!(matches!(
                job(&[&format!("sampling.impression_negatives={bad}")]),
                Err(ConfigError::NotAFraction {
                    field: "sampling.impression_negatives",
                    ..
                })
            ));
        }
        assert!(matches!(
            job(&[
                "data.format=\"movielens\"",
                "data.interactions=\"r.dat\"",
                "sampling.impression_negatives=0.5"
            ]),
            Err(ConfigError::NcfData(_))
        ));
    }
}
