//! Neural collaborative filtering (He et al. 2017): GMF, MLP and NeuMF, plus the dot-product
//! matrix factorisation baseline (Rendle et al. 2020), as one module whose parts are present
//! according to [`NcfKind`]. Trained with BCE-with-logits on positives and sampled negatives.
//!
//! Forward pass for user row `u` and item row `i` (`σ` is never applied: scores are logits):
//! - GMF:   `predict(p_u ⊙ q_i)`
//! - MLP:   `predict(relu(mlp([m_u, n_i])))` (ReLU after every tower layer)
//! - NeuMF: `predict([p_u ⊙ q_i, relu(mlp([m_u, n_i]))])`
//! - GMF / MLP / NeuMF with `item_bias`: the above `+ e_i`, a learned per-item bias (not in He et
//!   al. 2017; it carries item popularity directly, as MF's `d_i` does — see `model.item_bias`)
//! - MF:    `a_u · b_i + c_u + d_i`
//! - With customer features (`user_features > 0`, `model.user_features`): every user vector
//!   above is its id row plus a linear map of the customer's preprocessed features `x_u`:
//!   `W x_u` (one bias-free layer, `user_features.weight` `[U, X]`: `X` features, `U` the
//!   total width of the user parts) split in the order
//!   `p` (GMF), `m` (MLP), `a` (MF), `c` (MF bias) over the parts the kind has. A customer
//!   unknown at training time has no id row: cold start uses a segment's mean id row (or the
//!   mean of all) plus `W x_u` (see [`infer::ColdStart`]).
//!
//! Tensor names (PyTorch layout): `gmf_user.weight` `[users, factors]` (p), `gmf_item.weight`
//! `[items, factors]` (q), `mlp_user.weight` / `mlp_item.weight` `[users|items, mlp_layers[0]/2]`
//! (m, n), `mlp.layers.{j}.weight` `[out, in]` / `.bias`, `predict.weight` `[1, d]`,
//! `predict.bias` `[1]`; MF: `mf_user.weight` (a), `mf_item.weight` (b), `mf_user_bias.weight`
//! `[users, 1]` (c), `mf_item_bias.weight` `[items, 1]` (d); `item_bias.weight` `[items, 1]` (e).

pub mod config;
pub mod features;
pub mod infer;
pub mod job;

pub use config::*;
pub use job::*;

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::{log_sigmoid, relu};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, NamedTensor};
use crate::data::interactions::{
    EpochSamples, LeaveLastOut, PositiveSet, epoch_len, sample_epoch, sample_epoch_mixed,
};
use crate::models::mlp::{Activation, Norm};
use crate::models::mlp::{Mlp, MlpConfig};
use crate::train::{BatchLoss, SparseIndex, TableAdam, Task};

/// The `teleseg.kind` of NCF checkpoints.
pub const KIND: &str = "ncf";
/// Metadata: JSON list of external user ids in row order.
pub const META_USERS: &str = "teleseg.ncf.users";
/// Metadata: JSON list of external item ids in row order.
pub const META_ITEMS: &str = "teleseg.ncf.items";
/// Tensor: training positives per item `[items]` (the popularity baseline and fallback).
pub const POPULARITY: &str = "item_popularity";

/// The architecture, saved as `teleseg.model` so the model can be rebuilt before loading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NcfArch {
    pub kind: NcfKind,
    pub n_users: usize,
    pub n_items: usize,
    pub factors: usize,
    pub mlp_layers: Vec<usize>,
    pub init_std: f64,
    /// GMF / MLP / NeuMF: a learned item bias added to the logit (absent in checkpoints written
    /// before it existed: false).
    #[serde(default)]
    pub item_bias: bool,
    /// Dropout after the hidden layers of the MLP tower during training (absent = 0).
    #[serde(default)]
    pub dropout: f64,
    /// Width of the customer feature vector added to every user vector through
    /// `user_features.weight`; 0 (absent in older checkpoints) = pure collaborative filtering.
    #[serde(default)]
    pub user_features: usize,
}

fn embedding(n: usize, d: usize, std: f64, device: &Device) -> Embedding {
    EmbeddingConfig::new(n, d)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device)
}

impl NcfArch {
    /// The widths of the user vector parts this kind has, in [`UserVectors`] order (GMF, MLP,
    /// MF, MF bias; absent parts are 0): how `W x_u` is split.
    pub fn user_part_widths(&self) -> [usize; 4] {
        let gmf = matches!(self.kind, NcfKind::Gmf | NcfKind::Neumf);
        let mlp = matches!(self.kind, NcfKind::Mlp | NcfKind::Neumf);
        let mf = self.kind == NcfKind::Mf;
        [
            if gmf { self.factors } else { 0 },
            if mlp { self.mlp_layers[0] / 2 } else { 0 },
            if mf { self.factors } else { 0 },
            usize::from(mf),
        ]
    }

    /// Width of the MLP tower's output.
    pub fn tower_out(&self) -> usize {
        *self.mlp_layers.last().expect("checked: at least one layer")
    }

    /// Builds the model on `device` (weights from the device's seeded RNG).
    pub fn init(&self, device: &Device) -> Ncf {
        let (u, i, f, s) = (self.n_users, self.n_items, self.factors, self.init_std);
        let gmf = matches!(self.kind, NcfKind::Gmf | NcfKind::Neumf);
        let mlp = matches!(self.kind, NcfKind::Mlp | NcfKind::Neumf);
        let mf = self.kind == NcfKind::Mf;
        let half = self.mlp_layers[0] / 2;
        let predict_in = match self.kind {
            NcfKind::Gmf => f,
            NcfKind::Mlp => self.tower_out(),
            NcfKind::Neumf => f + self.tower_out(),
            NcfKind::Mf => 0,
        };
        Ncf {
            gmf_user: gmf.then(|| embedding(u, f, s, device)),
            gmf_item: gmf.then(|| embedding(i, f, s, device)),
            mlp_user: mlp.then(|| embedding(u, half, s, device)),
            mlp_item: mlp.then(|| embedding(i, half, s, device)),
            mlp: (mlp && self.mlp_layers.len() >= 2).then(|| {
                MlpConfig {
                    widths: self.mlp_layers.clone(),
                    activation: Activation::Relu,
                    norm: Norm::None,
                    dropout: self.dropout,
                }
                .init(device)
            }),
            predict: (!mf).then(|| LinearConfig::new(predict_in, 1).init(device)),
            mf_user: mf.then(|| embedding(u, f, s, device)),
            mf_item: mf.then(|| embedding(i, f, s, device)),
            mf_user_bias: mf.then(|| embedding(u, 1, s, device)),
            mf_item_bias: mf.then(|| embedding(i, 1, s, device)),
            // Zero-initialised (draws nothing from the RNG: without it, the same weights as before).
            item_bias: (self.item_bias && !mf).then(|| {
                EmbeddingConfig::new(i, 1)
                    .with_initializer(Initializer::Zeros)
                    .init(device)
            }),
            // Last, so that models without features draw exactly the weights they did before.
            user_features: (self.user_features > 0).then(|| {
                let out: usize = self.user_part_widths().iter().sum();
                LinearConfig::new(self.user_features, out)
                    .with_bias(false)
                    .with_initializer(Initializer::Normal {
                        mean: 0.0,
                        std: s / (self.user_features as f64).sqrt(),
                    })
                    .init(device)
            }),
        }
    }
}

/// GMF / MLP / NeuMF / MF; absent parts are `None`.
#[derive(Module, Debug)]
pub struct Ncf {
    pub gmf_user: Option<Embedding>,
    pub gmf_item: Option<Embedding>,
    pub mlp_user: Option<Embedding>,
    pub mlp_item: Option<Embedding>,
    pub mlp: Option<Mlp>,
    pub predict: Option<Linear>,
    pub mf_user: Option<Embedding>,
    pub mf_item: Option<Embedding>,
    pub mf_user_bias: Option<Embedding>,
    pub mf_item_bias: Option<Embedding>,
    /// `[items, 1]`: GMF / MLP / NeuMF item bias (`model.item_bias`).
    pub item_bias: Option<Embedding>,
    /// Customer features → user vector parts (`user_features.weight`, no bias).
    pub user_features: Option<Linear>,
}

/// A batch of user representations (rows of the user tables, or any vectors of the same widths,
/// e.g. segment means for cold start).
#[derive(Debug, Clone)]
pub struct UserVectors {
    /// `[batch, factors]`
    pub gmf: Option<Tensor<2>>,
    /// `[batch, mlp_layers[0] / 2]`
    pub mlp: Option<Tensor<2>>,
    /// `[batch, factors]`
    pub mf: Option<Tensor<2>>,
    /// `[batch, 1]`
    pub mf_bias: Option<Tensor<2>>,
}

fn pick(t: &Option<Tensor<2>>, rows: &Tensor<1, Int>) -> Option<Tensor<2>> {
    t.as_ref().map(|t| t.clone().select(0, rows.clone()))
}

impl UserVectors {
    /// Rows `rows` of every part.
    pub fn select(&self, rows: &Tensor<1, Int>) -> UserVectors {
        UserVectors {
            gmf: pick(&self.gmf, rows),
            mlp: pick(&self.mlp, rows),
            mf: pick(&self.mf, rows),
            mf_bias: pick(&self.mf_bias, rows),
        }
    }

    /// Number of users in the batch.
    pub fn len(&self) -> usize {
        [&self.gmf, &self.mlp, &self.mf]
            .into_iter()
            .flatten()
            .next()
            .map_or(0, |t| t.dims()[0])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A batch of item representations (rows of the item tables).
#[derive(Debug, Clone)]
pub struct ItemVectors {
    /// `[batch, factors]`
    pub gmf: Option<Tensor<2>>,
    /// `[batch, mlp_layers[0] / 2]`
    pub mlp: Option<Tensor<2>>,
    /// `[batch, factors]`
    pub mf: Option<Tensor<2>>,
    /// `[batch, 1]`: MF's item bias.
    pub mf_bias: Option<Tensor<2>>,
    /// `[batch, 1]`: the GMF / MLP / NeuMF item bias (`model.item_bias`).
    pub bias: Option<Tensor<2>>,
}

impl Ncf {
    /// Number of items the model scores.
    pub fn n_items(&self) -> usize {
        [&self.gmf_item, &self.mlp_item, &self.mf_item]
            .into_iter()
            .flatten()
            .next()
            .map_or(0, |e| e.weight.dims()[0])
    }

    /// The representation of user rows `[batch]`.
    pub fn user_vectors(&self, users: &Tensor<1, Int>) -> UserVectors {
        self.user_vectors_by(|e| e.weight.val().select(0, users.clone()))
    }

    /// The user tables' rows of a batch, each read by `read` (a plain lookup, or a sparse one
    /// for training: [`crate::train::SparseIndex::lookup`]).
    pub fn user_vectors_by(&self, mut read: impl FnMut(&Embedding) -> Tensor<2>) -> UserVectors {
        UserVectors {
            gmf: self.gmf_user.as_ref().map(&mut read),
            mlp: self.mlp_user.as_ref().map(&mut read),
            mf: self.mf_user.as_ref().map(&mut read),
            mf_bias: self.mf_user_bias.as_ref().map(&mut read),
        }
    }

    /// Whether user vectors take customer features ([`Ncf::add_user_features`]).
    pub fn has_user_features(&self) -> bool {
        self.user_features.is_some()
    }

    /// Adds `W x` to every part of `u` (`x`: `[batch, features]`, the customers' preprocessed
    /// features in `u`'s row order); `u` unchanged for a model without features.
    pub fn add_user_features(&self, u: UserVectors, x: Tensor<2>) -> UserVectors {
        let Some(layer) = &self.user_features else {
            return u;
        };
        let y = layer.forward(x); // [batch, W]
        let mut offset = 0;
        let mut add = |part: Option<Tensor<2>>| {
            part.map(|t| {
                let w = t.dims()[1];
                let r = t + y.clone().slice_dim(1, offset..offset + w);
                offset += w;
                r
            })
        };
        let gmf = add(u.gmf);
        let mlp = add(u.mlp);
        let mf = add(u.mf);
        let mf_bias = add(u.mf_bias);
        UserVectors {
            gmf,
            mlp,
            mf,
            mf_bias,
        }
    }

    /// The representation of item rows `[batch]`.
    pub fn item_vectors(&self, items: &Tensor<1, Int>) -> ItemVectors {
        self.item_vectors_by(|e| e.weight.val().select(0, items.clone()))
    }

    /// The item tables' rows of a batch, each read by `read` (see [`Ncf::user_vectors_by`]).
    pub fn item_vectors_by(&self, mut read: impl FnMut(&Embedding) -> Tensor<2>) -> ItemVectors {
        ItemVectors {
            gmf: self.gmf_item.as_ref().map(&mut read),
            mlp: self.mlp_item.as_ref().map(&mut read),
            mf: self.mf_item.as_ref().map(&mut read),
            mf_bias: self.mf_item_bias.as_ref().map(&mut read),
            bias: self.item_bias.as_ref().map(&mut read),
        }
    }

    /// Logits `[batch]` of (user `k`, item `items[k]`) pairs.
    pub fn logits(&self, u: &UserVectors, items: &Tensor<1, Int>) -> Tensor<1> {
        self.pair_logits(u, &self.item_vectors(items))
    }

    /// Logits `[batch]` of (user `k`, item `k`) pairs given both sides' rows.
    pub fn pair_logits(&self, u: &UserVectors, iv: &ItemVectors) -> Tensor<1> {
        if let (Some(a), Some(b)) = (&u.mf, &iv.mf) {
            let dot = (a.clone() * b.clone()).sum_dim(1); // [batch, 1]
            let c = u.mf_bias.clone().expect("mf user bias");
            let d = iv.mf_bias.clone().expect("mf item bias");
            let n = dot.dims()[0];
            return (dot + c + d).reshape([n]);
        }
        let mut parts = Vec::with_capacity(2);
        if let (Some(p), Some(q)) = (&u.gmf, &iv.gmf) {
            parts.push(p.clone() * q.clone()); // [batch, factors]
        }
        if let (Some(m), Some(n)) = (&u.mlp, iv.mlp.clone()) {
            let x = Tensor::cat(vec![m.clone(), n], 1); // [batch, mlp_layers[0]]
            parts.push(match &self.mlp {
                Some(mlp) => relu(mlp.forward(x)), // [batch, tower_out]
                None => x,
            });
        }
        let x = if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Tensor::cat(parts, 1)
        };
        let mut y = self.predict.as_ref().expect("predict layer").forward(x); // [batch, 1]
        if let Some(e) = &iv.bias {
            y = y + e.clone();
        }
        let n = y.dims()[0];
        y.reshape([n])
    }

    /// Mean over the batch of the squared L2 norms of every embedding row the pairs look up
    /// (user and item, all tables), `[1]`: the batch-wise L2 penalty of MF/BPR practice, which
    /// (unlike weight decay under Adam) leaves the rows of absent users alone.
    pub fn embedding_penalty(&self, u: &UserVectors, iv: &ItemVectors) -> Tensor<1> {
        let item_rows = [&iv.gmf, &iv.mlp, &iv.mf, &iv.mf_bias, &iv.bias].map(Option::clone);
        let user_rows = [&u.gmf, &u.mlp, &u.mf, &u.mf_bias].map(Option::clone);
        let sq: Vec<Tensor<1>> = user_rows
            .into_iter()
            .chain(item_rows)
            .flatten()
            .map(|t| t.square().sum_dim(1).mean().reshape([1]))
            .collect();
        sq.into_iter()
            .reduce(|a, b| a + b)
            .expect("every kind has embeddings")
    }

    /// Logits of every item for each user: `[batch, items]`.
    ///
    /// Factorised rather than run pair by pair: the GMF part is `(p_u ⊙ h_gmf) Qᵀ` (one matmul)
    /// and the tower's first layer is split as `W [m; n] = W_u m + W_i n`, so the user and item
    /// halves are computed once and broadcast-added; only the deeper tower layers run on
    /// `batch × items` rows. Same values as [`Ncf::logits`] on every pair (up to rounding).
    pub fn score_all(&self, u: &UserVectors) -> Tensor<2> {
        let n_items = self.n_items();
        let b = u.len();
        if let (Some(a), Some(item)) = (&u.mf, &self.mf_item) {
            let dot = a.clone().matmul(item.weight.val().transpose()); // [batch, items]
            let d = self
                .mf_item_bias
                .as_ref()
                .expect("mf item bias")
                .weight
                .val()
                .transpose(); // [1, items]
            return dot + u.mf_bias.clone().expect("mf user bias") + d;
        }
        let predict = self.predict.as_ref().expect("predict layer");
        let plain_tower = self.mlp.as_ref().is_none_or(|m| m.norms.is_empty());
        if !plain_tower {
            return self.score_all_pairs(u);
        }
        let h = predict.weight.val(); // [d, 1]
        let mut out: Option<Tensor<2>> = None;
        let mut offset = 0;
        if let (Some(p), Some(q)) = (&u.gmf, &self.gmf_item) {
            let f = p.dims()[1];
            let hg = h.clone().slice(0..f).transpose(); // [1, F]
            out = Some((p.clone() * hg).matmul(q.weight.val().transpose())); // [batch, items]
            offset = f;
        }
        if let (Some(m), Some(n)) = (&u.mlp, &self.mlp_item) {
            let e = m.dims()[1];
            let n = n.weight.val(); // [items, E]
            let t = match &self.mlp {
                Some(mlp) => {
                    let first = &mlp.layers[0];
                    let w = first.weight.val(); // [2E, h1]
                    let h1 = w.dims()[1];
                    let hu = m.clone().matmul(w.clone().slice(0..e)); // [batch, h1]
                    let hi = n.matmul(w.slice(e..2 * e)); // [items, h1]
                    let mut x = hu.unsqueeze_dim::<3>(1) + hi.unsqueeze_dim::<3>(0); // [b, items, h1]
                    if let Some(bias) = &first.bias {
                        x = x + bias.val().reshape([1, 1, h1]);
                    }
                    let mut x = x.reshape([b * n_items, h1]);
                    let last = mlp.layers.len() - 1;
                    for (j, layer) in mlp.layers.iter().enumerate() {
                        if j > 0 {
                            x = layer.forward(x);
                        }
                        if j < last {
                            x = crate::models::mlp::activate(x, mlp.activation);
                        }
                    }
                    relu(x) // [batch * items, T]
                }
                None => {
                    // No hidden layer: the tower output is [m_u, n_i] itself.
                    let mu = m.clone().unsqueeze_dim::<3>(1).repeat_dim(1, n_items);
                    let ni = n.unsqueeze_dim::<3>(0).repeat_dim(0, b);
                    Tensor::cat(vec![mu, ni], 2).reshape([b * n_items, 2 * e])
                }
            };
            let width = t.dims()[1];
            let ht = h.slice(offset..offset + width); // [T, 1]
            let s = t.matmul(ht).reshape([b, n_items]);
            out = Some(match out {
                Some(g) => g + s,
                None => s,
            });
        }
        let mut out = out.expect("gmf or mlp part");
        if let Some(e) = &self.item_bias {
            out = out + e.weight.val().transpose(); // [1, items]
        }
        match &predict.bias {
            Some(bias) => out + bias.val().reshape([1, 1]),
            None => out,
        }
    }

    /// [`Ncf::score_all`] pair by pair (the reference path; used for towers with normalisation).
    pub fn score_all_pairs(&self, u: &UserVectors) -> Tensor<2> {
        let n_items = self.n_items();
        let b = u.len();
        let device = self.predict.as_ref().expect("predict").weight.device();
        let reps: Vec<i64> = (0..b * n_items).map(|k| (k / n_items) as i64).collect();
        let items: Vec<i64> = (0..b * n_items).map(|k| (k % n_items) as i64).collect();
        let reps = Tensor::<1, Int>::from_data(TensorData::new(reps, [b * n_items]), &device);
        let items = Tensor::<1, Int>::from_data(TensorData::new(items, [b * n_items]), &device);
        self.logits(&u.select(&reps), &items).reshape([b, n_items])
    }
}

/// Mean binary cross-entropy of `logits` against 0/1 `labels`, both `[batch]`, computed stably
/// as `-(y·log σ(x) + (1−y)·log σ(−x))`.
pub fn bce_with_logits(logits: Tensor<1>, labels: Tensor<1>) -> Tensor<1> {
    let pos = log_sigmoid(logits.clone()) * labels.clone();
    let neg = log_sigmoid(logits.neg()) * (labels.neg() + 1.0);
    (pos + neg).mean().neg().reshape([1])
}

fn mix(seed: u64, epoch: usize) -> u64 {
    // Offset from the loop's own per-epoch seed (`train::mix`), so the two streams differ.
    crate::seed::derive(seed ^ 0x005E_ED0F_0FFE_u64, (epoch as u64).wrapping_add(1))
}

fn int_tensor(v: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

fn float_tensor(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

/// One epoch's samples on the device.
struct DeviceSamples {
    users: Tensor<1, Int>,
    items: Tensor<1, Int>,
    labels: Tensor<1>,
}

impl DeviceSamples {
    fn upload(s: &EpochSamples, device: &Device) -> Self {
        Self {
            users: int_tensor(&s.users, device),
            items: int_tensor(&s.items, device),
            labels: float_tensor(&s.labels, device),
        }
    }

    /// BCE (+ `l2` × the batch embedding penalty when `l2 > 0`), every table read densely;
    /// `x`: every user row's features, for a model with customer features.
    fn loss(&self, model: &Ncf, rows: Tensor<1, Int>, l2: f64, x: Option<&Tensor<2>>) -> BatchLoss {
        let users = self.users.clone().select(0, rows.clone());
        let items = self.items.clone().select(0, rows.clone());
        let labels = self.labels.clone().select(0, rows);
        let uv = with_features(model, model.user_vectors(&users), x, &users);
        let iv = model.item_vectors(&items);
        pair_loss(model, &uv, &iv, labels, l2)
    }

    /// [`DeviceSamples::loss`] with every embedding table read through a leaf of the batch's
    /// distinct rows ([`SparseIndex::lookup`]), so that the loop updates the tables itself with
    /// `adam` (lazy: those rows only; dense: every row, in one fused pass). `host` holds the same
    /// samples as `self`.
    fn sparse_loss(
        &self,
        host: &EpochSamples,
        model: &Ncf,
        rows: Tensor<1, Int>,
        l2: f64,
        x: Option<&Tensor<2>>,
        adam: TableAdam,
    ) -> BatchLoss {
        // One small read of the batch's row indices (the loop reads the loss back anyway).
        let picked: Vec<usize> = rows.to_data().iter::<i64>().map(|r| r as usize).collect();
        let users: Vec<i64> = picked.iter().map(|&r| host.users[r]).collect();
        let items: Vec<i64> = picked.iter().map(|&r| host.items[r]).collect();
        let labels = self.labels.clone().select(0, rows);
        let device = labels.device();
        let (by_user, by_item) = (
            SparseIndex::new(&users, adam, &device),
            SparseIndex::new(&items, adam, &device),
        );
        let mut sparse = Vec::new();
        let mut read = |e: &Embedding, index: &SparseIndex| {
            let (batch, record) = index.lookup(&e.weight);
            sparse.push(record);
            batch
        };
        let uv = model.user_vectors_by(|e| read(e, &by_user));
        let iv = model.item_vectors_by(|e| read(e, &by_item));
        let uv = match x {
            Some(_) => with_features(model, uv, x, &int_tensor(&users, &device)),
            None => uv,
        };
        let mut loss = pair_loss(model, &uv, &iv, labels, l2);
        loss.sparse = sparse;
        loss
    }
}

/// `u` plus `W x[users]` when the model has customer features and `x` (every user row's
/// features) is given.
fn with_features(
    model: &Ncf,
    u: UserVectors,
    x: Option<&Tensor<2>>,
    users: &Tensor<1, Int>,
) -> UserVectors {
    match x {
        Some(x) if model.has_user_features() => {
            model.add_user_features(u, x.clone().select(0, users.clone()))
        }
        _ => u,
    }
}

/// BCE of the pairs' logits (+ `l2` × the batch embedding penalty when `l2 > 0`).
fn pair_loss(
    model: &Ncf,
    uv: &UserVectors,
    iv: &ItemVectors,
    labels: Tensor<1>,
    l2: f64,
) -> BatchLoss {
    let bce = bce_with_logits(model.pair_logits(uv, iv), labels);
    if l2 > 0.0 {
        let penalty = model.embedding_penalty(uv, iv);
        BatchLoss::new(
            bce.clone() + penalty.clone() * l2,
            vec![("bce", bce), ("l2", penalty)],
        )
    } else {
        BatchLoss::new(bce.clone(), vec![("bce", bce)])
    }
}

/// The validation items for [`NcfTask::with_valid_rank`].
struct ValidRank {
    users: Vec<i64>,
    items: Vec<u32>,
    k: usize,
    /// [`ValidMetric::Hr`] or [`ValidMetric::Rank`].
    metric: ValidMetric,
}

impl ValidRank {
    /// The validation items of rows `rows` ranked among their candidates (items that are not
    /// training positives of the user, the item itself excluded), pessimistic on ties, as
    /// `eval::ranking` ranks the test items (an optimistic count once picked an epoch whose
    /// scores were all tied: valid HR 0.25, test HR 0). The loss (`[1]`) is, by `metric`,
    /// `1 − HR@k` (part `miss`) or the mean share of candidates ranked above the item (part
    /// `rank`: 0 first, 1 last; one minus the item's AUC).
    fn loss(
        &self,
        model: &Ncf,
        rows: Tensor<1, Int>,
        known: &PositiveSet,
        device: &Device,
        x: Option<&Tensor<2>>,
    ) -> BatchLoss {
        let rows: Vec<i64> = rows.into_data().iter::<i64>().collect();
        let users: Vec<i64> = rows.iter().map(|&r| self.users[r as usize]).collect();
        let users = int_tensor(&users, device);
        let scores = model
            .score_all(&with_features(model, model.user_vectors(&users), x, &users))
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32 scores");
        let n = model.n_items();
        let (mut hits, mut rank_share) = (0usize, 0.0f64);
        for (b, &r) in rows.iter().enumerate() {
            let (u, target) = (self.users[r as usize] as u32, self.items[r as usize]);
            let s = &scores[b * n..(b + 1) * n];
            let t = s[target as usize];
            let (mut above, mut candidates) = (0usize, 0usize);
            for j in (0..n as u32).filter(|&j| j != target && !known.contains(u, j)) {
                candidates += 1;
                // `!(s < t)`: ties and NaN count as ranked above.
                above +=
                    usize::from(s[j as usize].partial_cmp(&t) != Some(std::cmp::Ordering::Less));
            }
            hits += usize::from(above < self.k);
            rank_share += above as f64 / candidates.max(1) as f64;
        }
        let rows_n = rows.len().max(1);
        let (value, part) = match self.metric {
            ValidMetric::Rank => ((rank_share / rows_n as f64) as f32, "rank"),
            _ => (1.0 - hits as f32 / rows_n as f32, "miss"),
        };
        let t = float_tensor(&[value], device);
        BatchLoss::new(t.clone(), vec![(part, t)])
    }
}

/// NCF as a [`Task`] of the training loop: every epoch is all training positives plus `ratio`
/// fresh negatives each (seeded by `(seed, epoch)`), shuffled by the loop. Validation is the
/// validation positives with `ratio` fixed negatives each.
pub struct NcfTask {
    train: Vec<(u32, u32)>,
    known: PositiveSet,
    ratio: usize,
    /// How training updates the embedding tables (`Sparse` or `Dense`, resolved).
    updates: EmbeddingUpdates,
    /// The device keeps tensors in host memory: dense updates of the tables run as the loop's
    /// fused dense Adam ([`TableAdam::Dense`]) instead of the module optimizer on a dense
    /// embedding gradient (the same math, see [`crate::train::sparse`]).
    fused_dense: bool,
    /// Declined impressions per user row and the share of negatives drawn from them.
    declined: Option<(Vec<Vec<u32>>, f64)>,
    seed: u64,
    l2: f64,
    len: usize,
    host: EpochSamples,
    epoch: DeviceSamples,
    valid: DeviceSamples,
    valid_len: usize,
    /// `Some`: validation ranks the validation items in full ranking instead of reporting the
    /// BCE (see [`NcfTask::with_valid_rank`]).
    valid_rank: Option<ValidRank>,
    /// `[users, features]`: every user row's preprocessed customer features, for a model with
    /// customer features ([`NcfTask::with_user_features`]).
    user_x: Option<Tensor<2>>,
    device: Device,
}

impl NcfTask {
    /// `all` holds every positive of the data (validation negatives avoid all of them); `l2`
    /// weighs the batch embedding penalty in the training loss (validation reports plain BCE).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        split: &LeaveLastOut,
        all: &PositiveSet,
        ratio: usize,
        seed: u64,
        l2: f64,
        device: &Device,
    ) -> Self {
        let known = PositiveSet::new(all.n_users(), all.n_items(), &split.train);
        let len = epoch_len(&split.train, &known, ratio);
        let mut host = EpochSamples::default();
        sample_epoch(&split.train, &known, ratio, mix(seed, 0), &mut host);
        let epoch = DeviceSamples::upload(&host, device);
        let mut v = EpochSamples::default();
        sample_epoch(&split.valid, all, ratio, mix(seed, usize::MAX), &mut v);
        Self {
            train: split.train.clone(),
            known,
            ratio,
            updates: EmbeddingUpdates::Auto.resolve(all.n_users().max(all.n_items())),
            fused_dense: crate::backend::host_memory(device),
            declined: None,
            seed,
            l2,
            len,
            host,
            epoch,
            valid: DeviceSamples::upload(&v, device),
            valid_len: v.len(),
            valid_rank: None,
            user_x: None,
            device: device.clone(),
        }
    }

    /// How training updates the embedding tables (`model.embedding_updates`; without this
    /// call, `auto`).
    pub fn with_embedding_updates(mut self, updates: EmbeddingUpdates) -> Self {
        let rows = self.known.n_users().max(self.known.n_items());
        self.updates = updates.resolve(rows);
        self
    }

    /// `Sparse` or `Dense`: how this task's training updates the embedding tables.
    pub fn embedding_updates(&self) -> EmbeddingUpdates {
        self.updates
    }

    /// The training positives' membership set.
    pub fn known(&self) -> &PositiveSet {
        &self.known
    }

    /// Draws `share` of each user's training negatives from `declined[u]` (declined impressions,
    /// none of them a training positive) when the user has any; redraws epoch 0.
    pub fn with_declined(mut self, declined: Vec<Vec<u32>>, share: f64) -> Self {
        self.declined = Some((declined, share));
        self.resample(0);
        self
    }

    /// Makes validation rank each validation item among every item that is not a training
    /// positive of its user (full ranking) and report `metric` (`Hr`: `1 − HR@k`; `Rank`: the
    /// mean share of candidates ranked above the item) as the validation loss, so the loop
    /// keeps the epoch that ranks best and stops early on it. Validation then needs no sampled
    /// negatives.
    pub fn with_valid_rank(mut self, valid: &[(u32, u32)], k: usize, metric: ValidMetric) -> Self {
        assert!(metric != ValidMetric::Bce, "a ranking criterion");
        self.valid_len = valid.len();
        self.valid_rank = Some(ValidRank {
            users: valid.iter().map(|p| p.0 as i64).collect(),
            items: valid.iter().map(|p| p.1).collect(),
            k,
            metric,
        });
        self
    }

    /// Every user row's customer features, `[users, features]` row-major (the model must
    /// have been built with `user_features = features`).
    pub fn with_user_features(mut self, x: Vec<f32>, features: usize) -> Self {
        let users = self.known.n_users();
        assert_eq!(x.len(), users * features, "one feature row per user");
        self.user_x = Some(Tensor::from_data(
            TensorData::new(x, [users, features]),
            &self.device,
        ));
        self
    }

    /// The users' features given by [`NcfTask::with_user_features`] (`[users, features]`).
    pub fn user_features(&self) -> Option<Tensor<2>> {
        self.user_x.clone()
    }

    fn resample(&mut self, epoch: usize) {
        let declined = self.declined.as_ref().map(|(d, s)| (d.as_slice(), *s));
        sample_epoch_mixed(
            &self.train,
            &self.known,
            self.ratio,
            declined,
            mix(self.seed, epoch),
            &mut self.host,
        );
        self.epoch = DeviceSamples::upload(&self.host, &self.device);
    }
}

impl Task for NcfTask {
    type Model = Ncf;

    fn train_len(&self) -> usize {
        self.len
    }

    fn valid_len(&self) -> usize {
        self.valid_len
    }

    fn on_epoch_start(&mut self, _model: &Ncf, epoch: usize) -> anyhow::Result<()> {
        if epoch > 0 {
            self.resample(epoch);
        }
        Ok(())
    }

    fn train_loss(&self, model: &Ncf, rows: Tensor<1, Int>) -> BatchLoss {
        let x = self.user_x.as_ref();
        let table = |adam| {
            self.epoch
                .sparse_loss(&self.host, model, rows.clone(), self.l2, x, adam)
        };
        match self.updates {
            EmbeddingUpdates::Sparse => table(TableAdam::Lazy),
            EmbeddingUpdates::Dense | EmbeddingUpdates::Auto if self.fused_dense => {
                table(TableAdam::Dense)
            }
            EmbeddingUpdates::Dense | EmbeddingUpdates::Auto => {
                self.epoch.loss(model, rows, self.l2, x)
            }
        }
    }

    fn valid_loss(&self, model: &Ncf, rows: Tensor<1, Int>) -> BatchLoss {
        match &self.valid_rank {
            Some(r) => r.loss(model, rows, &self.known, &self.device, self.user_x.as_ref()),
            None => self.valid.loss(model, rows, 0.0, self.user_x.as_ref()),
        }
    }
}

/// The tensors of a NeuMF model started from pretrained GMF and MLP checkpoints (He et al.
/// 2017, §3.4.1): embeddings and tower copied, `predict.weight = [α·h_gmf, (1−α)·h_mlp]`,
/// `predict.bias = α·b_gmf + (1−α)·b_mlp`, and with item biases
/// `item_bias = α·item_bias_gmf + (1−α)·item_bias_mlp`. With customer features, NeuMF's
/// `user_features.weight` is GMF's rows then MLP's (the order NeuMF splits `W x` in).
pub fn neumf_from_pretrained(
    gmf: &checkpoint::Checkpoint,
    mlp: &checkpoint::Checkpoint,
    alpha: f32,
) -> Result<Vec<NamedTensor>, checkpoint::CheckpointError> {
    let mut out = Vec::new();
    for (name, _, _) in gmf.tensor_infos() {
        if name.starts_with("gmf_") {
            out.push(gmf.tensor(&name, None)?);
        }
    }
    for (name, _, _) in mlp.tensor_infos() {
        if name.starts_with("mlp_") || name.starts_with("mlp.") {
            out.push(mlp.tensor(&name, None)?);
        }
    }
    let wx = "user_features.weight";
    if gmf.has_tensor(wx) || mlp.has_tensor(wx) {
        let (g, m) = (gmf.tensor(wx, None)?, mlp.tensor(wx, None)?);
        if g.shape[1] != m.shape[1] {
            return Err(checkpoint::CheckpointError::Metadata {
                path: mlp.path.clone(),
                key: wx.to_string(),
                message: format!(
                    "GMF takes {} customer features, MLP {}",
                    g.shape[1], m.shape[1]
                ),
            });
        }
        let rows = g.shape[0] + m.shape[0];
        let data = g.data.iter().chain(&m.data).copied().collect();
        out.push(NamedTensor::new(wx, vec![rows, g.shape[1]], data));
    }
    let (wg, bg) = (
        gmf.tensor("predict.weight", None)?,
        gmf.tensor("predict.bias", None)?,
    );
    let (wm, bm) = (
        mlp.tensor("predict.weight", None)?,
        mlp.tensor("predict.bias", None)?,
    );
    let w: Vec<f32> = wg
        .data
        .iter()
        .map(|v| alpha * v)
        .chain(wm.data.iter().map(|v| (1.0 - alpha) * v))
        .collect();
    out.push(NamedTensor::new("predict.weight", vec![1, w.len()], w));
    out.push(NamedTensor::new(
        "predict.bias",
        vec![1],
        vec![alpha * bg.data[0] + (1.0 - alpha) * bm.data[0]],
    ));
    // Per-item biases add to the logit as `predict.bias` does: mixed the same way.
    let ib = "item_bias.weight";
    if gmf.has_tensor(ib) && mlp.has_tensor(ib) {
        let (g, m) = (gmf.tensor(ib, None)?, mlp.tensor(ib, None)?);
        let data = g
            .data
            .iter()
            .zip(&m.data)
            .map(|(a, b)| alpha * a + (1.0 - alpha) * b)
            .collect();
        out.push(NamedTensor::new(ib, g.shape.clone(), data));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bce_matches_hand_computed_values() {
        // logits [0, 2, -1], labels [1, 0, 0]:
        // -log σ(0) = ln 2 = 0.693147; -log σ(-2) = ln(1 + e^2) = 2.126928;
        // -log σ(1) = ln(1 + e^-1) = 0.313262 → mean 1.044446.
        let d = Device::flex();
        let l = bce_with_logits(
            float_tensor(&[0.0, 2.0, -1.0], &d),
            float_tensor(&[1.0, 0.0, 0.0], &d),
        )
        .into_scalar::<f64>();
        assert!(
            (l - (std::f64::consts::LN_2 + 2.126_928 + 0.313_261_7) / 3.0).abs() < 1e-5,
            "{l}"
        );
    }

    #[test]
    fn arch_json_without_new_fields_still_reads() {
        // `teleseg.model` as written before item_bias / dropout existed.
        let old = r#"{"kind":"neumf","n_users":3,"n_items":4,"factors":2,"mlp_layers":[4,2],"init_std":0.1}"#;
        let a: NcfArch = serde_json::from_str(old).unwrap();
        assert!(!a.item_bias);
        assert_eq!(a.dropout, 0.0);
        let m = a.init(&Device::flex());
        assert!(m.item_bias.is_none());
        let a = NcfArch {
            item_bias: true,
            ..a
        };
        let m = a.init(&Device::flex());
        assert_eq!(m.item_bias.expect("item bias").weight.dims(), [4, 1]);
    }

    #[test]
    fn score_all_matches_pairwise_logits_for_every_kind() {
        let d = Device::flex();
        let cases = [
            (NcfKind::Gmf, vec![8, 4]),
            (NcfKind::Mlp, vec![8, 6, 4]),
            (NcfKind::Neumf, vec![8, 6, 4]),
            (NcfKind::Neumf, vec![8]),
            (NcfKind::Mf, vec![8, 4]),
        ];
        let cases = cases.into_iter().flat_map(|(k, l)| {
            [(false, 0), (true, 0), (false, 3), (true, 3)]
                .map(|(bias, features)| (k, l.clone(), bias, features))
        });
        // Fixed customer features of users 1 and 4.
        let x1 = [0.5f32, -1.0, 2.0];
        let x4 = [-0.3f32, 0.8, 1.5];
        let feats = |rows: &[&[f32; 3]]| {
            let v: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
            Tensor::<2>::from_data(TensorData::new(v, [rows.len(), 3]), &d)
        };
        for (kind, mlp_layers, item_bias, user_features) in cases {
            d.seed(3);
            let arch = NcfArch {
                kind,
                n_users: 5,
                n_items: 7,
                factors: 4,
                mlp_layers,
                init_std: 0.5,
                item_bias,
                dropout: 0.0,
                user_features,
            };
            let mut m = arch.init(&d);
            assert_eq!(m.has_user_features(), user_features > 0);
            // Non-zero biases (they start at zero), so the comparison sees them.
            m.item_bias = m.item_bias.map(|_| embedding(7, 1, 1.0, &d));
            let users = int_tensor(&[1, 4], &d);
            let u = m.add_user_features(m.user_vectors(&users), feats(&[&x1, &x4]));
            let all = m.score_all(&u).into_data().try_into_vec::<f32>().unwrap();
            assert_eq!(all.len(), 14);
            let pu = int_tensor(&[4; 7], &d);
            let items = int_tensor(&(0..7).collect::<Vec<_>>(), &d);
            let u = m.add_user_features(m.user_vectors(&pu), feats(&[&x4; 7]));
            let pair = m
                .logits(&u, &items)
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            for j in 0..7 {
                assert!(
                    (all[7 + j] - pair[j]).abs() < 1e-5,
                    "{kind:?} item_bias {item_bias} features {user_features} item {j}"
                );
            }
        }
    }

    #[test]
    fn user_features_add_a_linear_map_split_over_the_parts() {
        // NeuMF, factors 2, MLP embeddings 1 wide (mlp_layers [2]), 2 features: W is [3, 2]
        // (PyTorch layout; Burn stores its transpose), rows: p (2), m (1).
        let d = Device::flex();
        let arch = NcfArch {
            kind: NcfKind::Neumf,
            n_users: 2,
            n_items: 3,
            factors: 2,
            mlp_layers: vec![2],
            init_std: 0.1,
            item_bias: false,
            dropout: 0.0,
            user_features: 2,
        };
        assert_eq!(arch.user_part_widths(), [2, 1, 0, 0]);
        let mut m = arch.init(&d);
        let w = [[1.0f32, 2.0], [0.0, -1.0], [3.0, 0.5]]; // [out, in]
        let burn_w: Vec<f32> = (0..2).flat_map(|i| (0..3).map(move |o| w[o][i])).collect();
        let mut layer = m.user_features.take().expect("feature layer");
        layer.weight = burn::module::Param::from_tensor(Tensor::from_data(
            TensorData::new(burn_w, [2, 3]),
            &d,
        ));
        m.user_features = Some(layer);
        let u = UserVectors {
            gmf: Some(Tensor::from_data(
                TensorData::new(vec![10.0f32, 20.0], [1, 2]),
                &d,
            )),
            mlp: Some(Tensor::from_data(
                TensorData::new(vec![30.0f32], [1, 1]),
                &d,
            )),
            mf: None,
            mf_bias: None,
        };
        let x = Tensor::from_data(TensorData::new(vec![1.0f32, 2.0], [1, 2]), &d);
        let u = m.add_user_features(u, x);
        // W x = [1 + 4, 0 - 2, 3 + 1] = [5, -2, 4].
        let gmf = u.gmf.unwrap().into_data().try_into_vec::<f32>().unwrap();
        let mlp = u.mlp.unwrap().into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(gmf, vec![15.0, 18.0]);
        assert_eq!(mlp, vec![34.0]);
        assert!(u.mf.is_none() && u.mf_bias.is_none());
    }
}
