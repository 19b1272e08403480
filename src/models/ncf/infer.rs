//! Scoring with an NCF checkpoint: top-K offers per known customer, and cold start for new
//! customers through their segment (the mean user representation of the segment's known users)
//! and, for a model with customer features, their own features.

use std::collections::HashMap;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

use anyhow::Context;

use super::NcfJob;
use super::features::{UserFeatureInput, UserFeatureRows};
use super::{KIND, META_ITEMS, META_USERS, Ncf, NcfArch, POPULARITY, UserVectors};
use crate::checkpoint::{Checkpoint, CheckpointError, RunDir, keys};
use crate::eval::ranking::{Scorer, top_k_indices};

/// Pairs scored per forward pass when ranking every item (users per batch = this / items).
/// Small enough that the tower's `[pairs, width]` temporaries (≤ 4 MiB at width 32) stay in
/// cache and below the allocator's mmap threshold: with 2^18 pairs every layer mapped and
/// faulted in fresh pages, and scoring ran 1.5× slower (docs/benchmarks.md).
const PAIRS_PER_BATCH: usize = 1 << 15;

/// An NCF checkpoint ready to score (plain device, no autodiff).
pub struct NcfModel {
    pub arch: NcfArch,
    pub model: Ncf,
    /// External user ids in row order.
    pub users: Vec<String>,
    /// External item ids in row order.
    pub items: Vec<String>,
    /// Training positives per item.
    pub popularity: Vec<f32>,
    pub device: Device,
    /// Schema and preprocessing of the customer features (models with `user_features > 0`).
    pub input: Option<UserFeatureInput>,
    /// `[users, features]`: the known users' features, for scoring by user row alone.
    known_x: Option<Tensor<2>>,
    user_index: HashMap<String, u32>,
}

fn meta_err(ck: &Checkpoint, key: &str, message: String) -> CheckpointError {
    CheckpointError::Metadata {
        path: ck.path.clone(),
        key: key.to_string(),
        message,
    }
}

impl NcfModel {
    /// Loads `model.safetensors` (or a run folder) of kind `ncf` onto `device`. A model with
    /// customer features also reads its known users' features from the customer table named in
    /// its config (`data.customers`), so that it can score by user row.
    pub fn load(path: &Path, device: &Device) -> anyhow::Result<NcfModel> {
        let file = RunDir::resolve_model_file(path)?;
        let ck = Checkpoint::read(&file, Some(KIND))?;
        let model = NcfModel::from_checkpoint(&ck, device)?;
        let Some(input) = &model.input else {
            return Ok(model);
        };
        let job: NcfJob = ck.meta_json(keys::CONFIG)?;
        let Some(customers) = job.data.customers else {
            return Err(meta_err(
                &ck,
                keys::CONFIG,
                "a model with customer features whose config names no data.customers".into(),
            )
            .into());
        };
        let opts = crate::data::reader::ReadOptions {
            on_bad_row: job.data.on_bad_row,
        };
        let rows = input
            .rows_from_file(&customers, &opts, &model.users)
            .with_context(|| {
                format!(
                    "reading the known customers' features from {} (data.customers of {})",
                    customers.display(),
                    file.display()
                )
            })?;
        Ok(model.with_known_features(&rows))
    }

    /// Loads `model.safetensors` (or a run folder) of kind `ncf` without its known users'
    /// features: for callers that score with features of their own ([`NcfModel::score_rows`],
    /// [`rank_customers`]).
    pub fn load_without_features(
        path: &Path,
        device: &Device,
    ) -> Result<NcfModel, CheckpointError> {
        let file = RunDir::resolve_model_file(path)?;
        NcfModel::from_checkpoint(&Checkpoint::read(&file, Some(KIND))?, device)
    }

    /// Builds the model from a checkpoint already read.
    pub fn from_checkpoint(ck: &Checkpoint, device: &Device) -> Result<NcfModel, CheckpointError> {
        let arch: NcfArch = ck.meta_json(keys::MODEL)?;
        let users: Vec<String> = ck.meta_json(META_USERS)?;
        let items: Vec<String> = ck.meta_json(META_ITEMS)?;
        if users.len() != arch.n_users {
            let m = format!("{} user ids for {} user rows", users.len(), arch.n_users);
            return Err(meta_err(ck, META_USERS, m));
        }
        if items.len() != arch.n_items {
            let m = format!("{} item ids for {} item rows", items.len(), arch.n_items);
            return Err(meta_err(ck, META_ITEMS, m));
        }
        let popularity = ck.tensor(POPULARITY, Some(&[arch.n_items]))?.data;
        let input = UserFeatureInput::from_checkpoint(ck, arch.user_features)?;
        let model = ck.load_module(arch.init(device))?.valid();
        let user_index = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.clone(), i as u32))
            .collect();
        Ok(NcfModel {
            arch,
            model,
            users,
            items,
            popularity,
            device: device.clone(),
            input,
            known_x: None,
            user_index,
        })
    }

    /// The known users' features (`rows` in user-row order), for scoring by user row.
    pub fn with_known_features(self, rows: &UserFeatureRows) -> NcfModel {
        assert_eq!(
            rows.data.len(),
            self.users.len() * rows.width,
            "one row per user"
        );
        let x = self.features_tensor(&rows.data, rows.width);
        self.with_known_features_tensor(x)
    }

    /// [`NcfModel::with_known_features`] from a `[users, features]` tensor on this device.
    pub fn with_known_features_tensor(mut self, x: Tensor<2>) -> NcfModel {
        assert_eq!(x.dims(), [self.users.len(), self.arch.user_features]);
        self.known_x = Some(x);
        self
    }

    /// Whether the model takes customer features.
    pub fn has_user_features(&self) -> bool {
        self.model.has_user_features()
    }

    fn features_tensor(&self, data: &[f32], width: usize) -> Tensor<2> {
        let n = data.len() / width.max(1);
        Tensor::from_data(TensorData::new(data.to_vec(), [n, width]), &self.device)
    }

    /// A scorer from parts (e.g. a model just trained, or benchmarks): `model` should be a
    /// `valid()` copy on `device`.
    pub fn from_parts(
        arch: NcfArch,
        model: Ncf,
        users: Vec<String>,
        items: Vec<String>,
        popularity: Vec<f32>,
        device: &Device,
    ) -> NcfModel {
        let user_index = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.clone(), i as u32))
            .collect();
        NcfModel {
            arch,
            model,
            users,
            items,
            popularity,
            device: device.clone(),
            input: None,
            known_x: None,
            user_index,
        }
    }

    /// The row of an external user id (None for a customer unknown at training time).
    pub fn user_row(&self, id: &str) -> Option<u32> {
        self.user_index.get(id).copied()
    }

    fn rows_tensor(&self, rows: &[u32]) -> Tensor<1, Int> {
        let v: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        Tensor::from_data(TensorData::new(v, [rows.len()]), &self.device)
    }

    /// Logits of every item for each user vector row, in bounded batches: `[rows, items]`.
    fn score_vectors(&self, u: &UserVectors) -> Vec<f32> {
        let n = u.len();
        let per = (PAIRS_PER_BATCH / self.arch.n_items.max(1)).max(1);
        let mut out = Vec::with_capacity(n * self.arch.n_items);
        let mut start = 0;
        while start < n {
            let end = (start + per).min(n);
            let rows: Vec<i64> = (start as i64..end as i64).collect();
            let rows = Tensor::from_data(TensorData::new(rows, [end - start]), &self.device);
            let s = self.model.score_all(&u.select(&rows));
            out.extend(s.into_data().try_into_vec::<f32>().expect("f32 scores"));
            start = end;
        }
        out
    }

    /// Logits `[rows, items]` of known user rows; `x`: their features (`[rows, features]`,
    /// e.g. from the rows being scored), or `None` for the features known at load time.
    ///
    /// Panics when the model takes features, `x` is `None` and none were attached
    /// ([`NcfModel::load`] attaches them; [`NcfModel::from_checkpoint`] does not).
    pub fn score_rows(&self, users: &[u32], x: Option<&[f32]>) -> Vec<f32> {
        let per = (PAIRS_PER_BATCH / self.arch.n_items.max(1)).max(1);
        let width = self.arch.user_features;
        let mut out = Vec::with_capacity(users.len() * self.arch.n_items);
        for (c, chunk) in users.chunks(per).enumerate() {
            let rows = self.rows_tensor(chunk);
            let mut u = self.model.user_vectors(&rows);
            if self.has_user_features() {
                let xs = match x {
                    Some(x) => self.features_tensor(
                        &x[c * per * width..(c * per + chunk.len()) * width],
                        width,
                    ),
                    None => self
                        .known_x
                        .as_ref()
                        .expect("a model with customer features needs them: NcfModel::load")
                        .clone()
                        .select(0, rows),
                };
                u = self.model.add_user_features(u, xs);
            }
            let s = self.model.score_all(&u);
            out.extend(s.into_data().try_into_vec::<f32>().expect("f32 scores"));
        }
        out
    }

    /// Top `k` items per user row, best first, with their logits, skipping `exclude[r]` (the
    /// offers user `r` already holds; `exclude` may be empty or shorter than `user_rows`).
    pub fn top_k(&self, user_rows: &[u32], k: usize, exclude: &[Vec<u32>]) -> Vec<Vec<(u32, f32)>> {
        self.top_k_with(user_rows, None, k, exclude)
    }

    /// [`NcfModel::top_k`] with the users' features given (see [`NcfModel::score_rows`]).
    pub fn top_k_with(
        &self,
        user_rows: &[u32],
        x: Option<&[f32]>,
        k: usize,
        exclude: &[Vec<u32>],
    ) -> Vec<Vec<(u32, f32)>> {
        let n = self.arch.n_items;
        let scores = self.score_rows(user_rows, x);
        (0..user_rows.len())
            .map(|r| {
                let ex = exclude.get(r).map(Vec::as_slice).unwrap_or(&[]);
                top_list(&scores[r * n..(r + 1) * n], k, ex)
            })
            .collect()
    }
}

/// The `k` best items of one row of scores `s`, best first, with their scores, skipping
/// `exclude`.
fn top_list(s: &[f32], k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
    top_k_indices(s, k, |j| exclude.contains(&j))
        .into_iter()
        .map(|j| (j, s[j as usize]))
        .collect()
}

impl Scorer for NcfModel {
    fn n_items(&self) -> usize {
        self.arch.n_items
    }

    fn score_users(&self, users: &[u32]) -> Vec<f32> {
        self.score_rows(users, None)
    }
}

/// Cold start: offers for customers the model has never seen, through their segment. Each
/// segment's representation is the mean of its known users' id rows (every user table of the
/// model); a segment with no known user falls back to popularity. A model with customer features
/// adds each new customer's own features to the segment's mean (to the mean of all known users
/// when the segment is unknown), so every new customer gets a ranking of their own.
pub struct ColdStart {
    /// Segment names with at least one known user, in sorted order.
    pub segments: Vec<String>,
    /// Scores `[segments, items]` (models without customer features).
    scores: Vec<f32>,
    /// Mean id rows `[segments + 1, ·]`, the mean of all known users last (models with
    /// customer features).
    means: Option<UserVectors>,
    n_items: usize,
    popularity: Vec<f32>,
}

fn mean_rows(t: &Option<Tensor<2>>) -> Option<Tensor<2>> {
    t.as_ref().map(|t| t.clone().mean_dim(0)) // [1, d]
}

fn mean_vectors(u: &UserVectors) -> UserVectors {
    UserVectors {
        gmf: mean_rows(&u.gmf),
        mlp: mean_rows(&u.mlp),
        mf: mean_rows(&u.mf),
        mf_bias: mean_rows(&u.mf_bias),
    }
}

fn stack(parts: &[UserVectors]) -> UserVectors {
    let cat = |f: fn(&UserVectors) -> &Option<Tensor<2>>| {
        let v: Vec<Tensor<2>> = parts.iter().filter_map(|p| f(p).clone()).collect();
        (!v.is_empty()).then(|| Tensor::cat(v, 0))
    };
    UserVectors {
        gmf: cat(|p| &p.gmf),
        mlp: cat(|p| &p.mlp),
        mf: cat(|p| &p.mf),
        mf_bias: cat(|p| &p.mf_bias),
    }
}

impl ColdStart {
    /// Segment representations from a `user id → segment` map (ids unknown to the model are
    /// ignored: they cannot contribute a vector).
    pub fn fit(model: &NcfModel, user_segments: &HashMap<String, String>) -> ColdStart {
        let mut by_segment: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
        for (id, seg) in user_segments {
            if let Some(r) = model.user_row(id) {
                by_segment.entry(seg.as_str()).or_default().push(r);
            }
        }
        let mut segments = Vec::new();
        let mut parts: Vec<UserVectors> = Vec::new();
        for (seg, mut rows) in by_segment {
            rows.sort_unstable();
            parts.push(mean_vectors(
                &model.model.user_vectors(&model.rows_tensor(&rows)),
            ));
            segments.push(seg.to_string());
        }
        let (scores, means) = if model.has_user_features() {
            let all: Vec<u32> = (0..model.users.len() as u32).collect();
            parts.push(mean_vectors(
                &model.model.user_vectors(&model.rows_tensor(&all)),
            ));
            (Vec::new(), Some(stack(&parts)))
        } else if segments.is_empty() {
            (Vec::new(), None)
        } else {
            (model.score_vectors(&stack(&parts)), None)
        };
        ColdStart {
            segments,
            scores,
            means,
            n_items: model.arch.n_items,
            popularity: model.popularity.clone(),
        }
    }

    /// The position of `segment` among the segments with a known user.
    pub fn segment_index(&self, segment: &str) -> Option<usize> {
        self.segments
            .binary_search_by(|s| s.as_str().cmp(segment))
            .ok()
    }

    /// Scores of every item for a customer of `segment` (popularity for an unknown segment),
    /// for a model without customer features.
    ///
    /// Panics for a model with customer features: its new customers need their own features
    /// ([`ColdStart::top_k_with_features`]).
    pub fn scores(&self, segment: &str) -> &[f32] {
        assert!(
            self.means.is_none(),
            "a model with customer features ranks new customers by top_k_with_features"
        );
        match self.segment_index(segment) {
            Some(i) => &self.scores[i * self.n_items..(i + 1) * self.n_items],
            None => &self.popularity,
        }
    }

    /// Top `k` items for a new customer of `segment`, skipping `exclude` (a model without
    /// customer features; see [`ColdStart::top_k_with_features`]).
    pub fn top_k(&self, segment: &str, k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        top_list(self.scores(segment), k, exclude)
    }

    /// Top `k` items for new customers of `segments[c]` with features `x` (`[customers,
    /// features]` row-major), skipping `exclude[c]`: a model with customer features.
    pub fn top_k_with_features(
        &self,
        model: &NcfModel,
        segments: &[&str],
        x: &[f32],
        k: usize,
        exclude: &[&[u32]],
    ) -> Vec<Vec<(u32, f32)>> {
        let means = self
            .means
            .as_ref()
            .expect("ColdStart of a model with customer features");
        let global = self.segments.len();
        let picks: Vec<u32> = segments
            .iter()
            .map(|s| self.segment_index(s).unwrap_or(global) as u32)
            .collect();
        let n = self.n_items;
        let width = model.arch.user_features;
        let per = (PAIRS_PER_BATCH / n.max(1)).max(1);
        let mut out = Vec::with_capacity(segments.len());
        for (c, chunk) in picks.chunks(per).enumerate() {
            let u = means.select(&model.rows_tensor(chunk));
            let xs =
                model.features_tensor(&x[c * per * width..(c * per + chunk.len()) * width], width);
            let scores = model
                .model
                .score_all(&model.model.add_user_features(u, xs))
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 scores");
            for r in 0..chunk.len() {
                let ex = exclude.get(c * per + r).copied().unwrap_or(&[]);
                out.push(top_list(&scores[r * n..(r + 1) * n], k, ex));
            }
        }
        out
    }
}

/// One customer's top offers `(item row, score)`, best first, and their source.
pub type RankedOffers = (Vec<(u32, f32)>, &'static str);

/// Top `k` offers for each customer `ids[c]`, skipping `held[c]` (may be shorter than `ids`),
/// with the source of each list: `model` for a customer the model knows; for a new customer
/// `segment` / `popularity` (a model without customer features: the segment's mean user, or
/// popularity when `segments[c]` has no known user) or `segment+features` / `features` (a model
/// with customer features: the customer's features plus the segment's mean id row, or the mean
/// of all known users). `x`: the customers' features in `ids` order (`[ids, features]`), required
/// for a model with customer features and ignored otherwise.
pub fn rank_customers(
    model: &NcfModel,
    cold: &ColdStart,
    ids: &[String],
    segments: &[&str],
    x: Option<&[f32]>,
    held: &[Vec<u32>],
    k: usize,
) -> Vec<RankedOffers> {
    let width = model.arch.user_features;
    let x = model
        .has_user_features()
        .then(|| x.expect("the customers' features, for a model with customer features"));
    if let Some(x) = x {
        assert_eq!(x.len(), ids.len() * width, "one feature row per customer");
    }
    let row_x = |i: usize| x.map_or(&[][..], |x| &x[i * width..(i + 1) * width]);
    let none: Vec<u32> = Vec::new();
    let held_of = |i: usize| held.get(i).unwrap_or(&none);
    let (mut rows, mut rows_x, mut rows_held) = (Vec::new(), Vec::new(), Vec::new());
    let (mut new_segs, mut new_x, mut new_held) = (Vec::new(), Vec::new(), Vec::new());
    for (i, id) in ids.iter().enumerate() {
        match model.user_row(id) {
            Some(r) => {
                rows.push(r);
                rows_x.extend_from_slice(row_x(i));
                rows_held.push(held_of(i).clone());
            }
            None => {
                new_segs.push(segments[i]);
                new_x.extend_from_slice(row_x(i));
                new_held.push(held_of(i).as_slice());
            }
        }
    }
    let mut known = model
        .top_k_with(&rows, x.map(|_| rows_x.as_slice()), k, &rows_held)
        .into_iter();
    let mut fresh = match x {
        Some(_) => cold.top_k_with_features(model, &new_segs, &new_x, k, &new_held),
        None => Vec::new(),
    }
    .into_iter();
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            if model.user_row(id).is_some() {
                return (known.next().expect("one list per known customer"), "model");
            }
            let has = cold.segment_index(segments[i]).is_some();
            match x {
                Some(_) => (
                    fresh.next().expect("one list per new customer"),
                    if has { "segment+features" } else { "features" },
                ),
                None => (
                    cold.top_k(segments[i], k, held_of(i)),
                    if has { "segment" } else { "popularity" },
                ),
            }
        })
        .collect()
}
