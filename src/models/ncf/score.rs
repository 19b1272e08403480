//! Scoring with an NCF checkpoint: top-K offers per known customer, and cold start for new
//! customers through their segment (the mean user representation of the segment's known users).

use std::collections::HashMap;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

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
    /// Loads `model.safetensors` (or a run folder) of kind `ncf` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<NcfModel, CheckpointError> {
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
            user_index,
        })
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

    /// Top `k` items per user row, best first, with their logits, skipping `exclude[r]` (the
    /// offers user `r` already holds; `exclude` may be empty or shorter than `user_rows`).
    pub fn top_k(&self, user_rows: &[u32], k: usize, exclude: &[Vec<u32>]) -> Vec<Vec<(u32, f32)>> {
        let n = self.arch.n_items;
        let scores = self.score_users(user_rows);
        (0..user_rows.len())
            .map(|r| {
                let s = &scores[r * n..(r + 1) * n];
                let ex = exclude.get(r).map(Vec::as_slice).unwrap_or(&[]);
                top_k_indices(s, k, |j| ex.contains(&j))
                    .into_iter()
                    .map(|j| (j, s[j as usize]))
                    .collect()
            })
            .collect()
    }
}

impl Scorer for NcfModel {
    fn n_items(&self) -> usize {
        self.arch.n_items
    }

    fn score_users(&self, users: &[u32]) -> Vec<f32> {
        let per = (PAIRS_PER_BATCH / self.arch.n_items.max(1)).max(1);
        let mut out = Vec::with_capacity(users.len() * self.arch.n_items);
        for chunk in users.chunks(per) {
            let u = self.model.user_vectors(&self.rows_tensor(chunk));
            let s = self.model.score_all(&u);
            out.extend(s.into_data().try_into_vec::<f32>().expect("f32 scores"));
        }
        out
    }
}

/// Cold start: offers for customers the model has never seen, through their segment. Each
/// segment's representation is the mean of its known users' vectors (every user table of the
/// model); a segment with no known user falls back to popularity.
pub struct ColdStart {
    /// Segment names with at least one known user, in sorted order.
    pub segments: Vec<String>,
    /// Scores `[segments, items]`.
    scores: Vec<f32>,
    n_items: usize,
    popularity: Vec<f32>,
}

fn mean_rows(t: &Option<Tensor<2>>) -> Option<Tensor<2>> {
    t.as_ref().map(|t| t.clone().mean_dim(0)) // [1, d]
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
            let u = model.model.user_vectors(&model.rows_tensor(&rows));
            parts.push(UserVectors {
                gmf: mean_rows(&u.gmf),
                mlp: mean_rows(&u.mlp),
                mf: mean_rows(&u.mf),
                mf_bias: mean_rows(&u.mf_bias),
            });
            segments.push(seg.to_string());
        }
        let cat = |f: fn(&UserVectors) -> &Option<Tensor<2>>| {
            let v: Vec<Tensor<2>> = parts.iter().filter_map(|p| f(p).clone()).collect();
            (!v.is_empty()).then(|| Tensor::cat(v, 0))
        };
        let stacked = UserVectors {
            gmf: cat(|p| &p.gmf),
            mlp: cat(|p| &p.mlp),
            mf: cat(|p| &p.mf),
            mf_bias: cat(|p| &p.mf_bias),
        };
        let scores = if segments.is_empty() {
            Vec::new()
        } else {
            model.score_vectors(&stacked)
        };
        ColdStart {
            segments,
            scores,
            n_items: model.arch.n_items,
            popularity: model.popularity.clone(),
        }
    }

    /// Scores of every item for a customer of `segment` (popularity for an unknown segment).
    pub fn scores(&self, segment: &str) -> &[f32] {
        match self.segments.binary_search_by(|s| s.as_str().cmp(segment)) {
            Ok(i) => &self.scores[i * self.n_items..(i + 1) * self.n_items],
            Err(_) => &self.popularity,
        }
    }

    /// Top `k` items for a new customer of `segment`, skipping `exclude`.
    pub fn top_k(&self, segment: &str, k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        let s = self.scores(segment);
        top_k_indices(s, k, |j| exclude.contains(&j))
            .into_iter()
            .map(|j| (j, s[j as usize]))
            .collect()
    }
}
