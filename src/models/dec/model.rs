//! Deep embedded clustering: DEC (Xie, Girshick & Farhadi 2016) and IDEC (Guo et al. 2017).
//!
//! A pretrained autoencoder's encoder maps customers to `z`; `k` trainable centroids `μ_j` live
//! in the same latent space (initialised by k-means++ on the pretrained embeddings). The soft
//! assignment is a Student-t kernel
//!
//! `q_ij = (1 + ‖z_i − μ_j‖² / α)^(−(α+1)/2) / Σ_j' (1 + ‖z_i − μ_j'‖² / α)^(−(α+1)/2)`
//!
//! and the target sharpens it while dividing by the soft cluster frequency `f_j = Σ_i q_ij`:
//! `p_ij = (q_ij² / f_j) / Σ_j' (q_ij'² / f_j')`. The loss is `KL(P‖Q)` (mean over the batch);
//! IDEC adds `gamma ×` the autoencoder's reconstruction loss. P is recomputed on the full training
//! split every `update_interval` optimizer steps (with a `valid()` model, no autodiff graph) and
//! training stops once the share of changed labels `argmax_j q_ij` falls below `tol`.
//!
//! DEC assumes balanced clusters; real segments are not, and the P update can collapse clusters.
//! Every refresh runs [`detect_collapse`] and records the result in [`Refresh`].
//!
//! Tensor names: `autoencoder.encoder.layers.{i}.weight|bias`, `autoencoder.decoder...`,
//! `centroids` (`[k, latent]`).

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::{DecConfig, DecMode};
use crate::cluster::{self, ClusterError, KMeansResult, Matrix};
use crate::data::preprocess::Features;
use crate::models::autoencoder::{Autoencoder, ReconstructionLoss, features_tensor};
use crate::train::{BatchLoss, StateFile, StepControl, StopReason, Task};

/// The `teleseg.kind` of DEC checkpoints.
pub const KIND: &str = "dec";
/// Metadata key of the clustering head ([`DecHead`] as JSON).
pub const META_HEAD: &str = "teleseg.dec";

const EPS: f64 = 1e-12;

/// What scoring needs besides the autoencoder architecture (saved as `teleseg.dec`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecHead {
    /// Number of clusters.
    pub k: usize,
    /// Student-t degrees of freedom.
    pub alpha: f64,
}

/// An autoencoder plus trainable cluster centroids.
#[derive(Module, Debug)]
pub struct Dec {
    pub autoencoder: Autoencoder,
    /// Cluster centres in latent space, `[k, latent]`.
    pub centroids: Param<Tensor<2>>,
}

impl Dec {
    /// Wraps `autoencoder` with centroids `[k, latent]` given row-major.
    pub fn new(autoencoder: Autoencoder, centroids: &[f32], k: usize, device: &Device) -> Self {
        let latent = centroids.len() / k;
        let t = Tensor::<2>::from_data(TensorData::new(centroids.to_vec(), [k, latent]), device);
        Self {
            autoencoder,
            centroids: Param::from_tensor(t),
        }
    }

    /// `[batch, input]` → (`z` `[batch, latent]`, `q` `[batch, k]`).
    pub fn assign(&self, x: Tensor<2>, alpha: f64) -> (Tensor<2>, Tensor<2>) {
        let z = self.autoencoder.encode(x);
        let q = soft_assignment(z.clone(), self.centroids.val(), alpha);
        (z, q)
    }
}

/// Student-t soft assignment: `z` `[batch, latent]`, `mu` `[k, latent]` → `q` `[batch, k]`, rows
/// summing to 1 (formula in the module docs).
pub fn soft_assignment(z: Tensor<2>, mu: Tensor<2>, alpha: f64) -> Tensor<2> {
    let [b, _] = z.dims();
    let [k, _] = mu.dims();
    let d2 = (z.unsqueeze_dim::<3>(1) - mu.unsqueeze_dim::<3>(0))
        .square()
        .sum_dim(2)
        .reshape([b, k]);
    let kernel = (d2 / alpha + 1.0).powf_scalar(-(alpha + 1.0) / 2.0);
    kernel.clone() / kernel.sum_dim(1)
}

/// The DEC target `P` of `q` (`[rows, k]` row-major): `p_ij ∝ q_ij² / f_j`, `f_j = Σ_i q_ij`.
pub fn target_distribution(q: &[f32], k: usize) -> Vec<f32> {
    let mut f = vec![0.0f64; k];
    for row in q.chunks_exact(k) {
        for (fj, &v) in f.iter_mut().zip(row) {
            *fj += v as f64;
        }
    }
    let mut p = Vec::with_capacity(q.len());
    for row in q.chunks_exact(k) {
        let w: Vec<f64> = row
            .iter()
            .zip(&f)
            .map(|(&v, &fj)| (v as f64).powi(2) / fj.max(EPS))
            .collect();
        let s: f64 = w.iter().sum::<f64>().max(EPS);
        p.extend(w.iter().map(|v| (v / s) as f32));
    }
    p
}

/// `KL(P‖Q)` summed over clusters, mean over rows; `p` is a constant target.
pub fn kl_loss(p: Tensor<2>, q: Tensor<2>) -> Tensor<1> {
    let rows = p.dims()[0] as f64;
    let kl = p.clone() * (p.clamp_min(EPS).log() - q.clamp_min(EPS).log());
    (kl.sum() / rows).reshape([1])
}

/// The index of the largest value of each row of `q` (`[rows, k]`) and that value.
pub fn argmax_rows(q: &[f32], k: usize) -> (Vec<usize>, Vec<f32>) {
    q.chunks_exact(k)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (j, &v)| if v > b.1 { (j, v) } else { b })
        })
        .unzip()
}

/// Cluster sizes and whether they count as collapsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollapseCheck {
    /// Rows per cluster, length `k`.
    pub sizes: Vec<usize>,
    pub non_empty: usize,
    /// Share of rows in the largest cluster, in `[0, 1]`.
    pub largest_share: f64,
    /// `k ≥ min_clusters` and fewer than `min_clusters` non-empty, or `largest_share > max_share`.
    pub collapsed: bool,
}

/// Checks hard assignments `labels` (in `0..k`) for collapse.
pub fn detect_collapse(
    labels: &[usize],
    k: usize,
    min_clusters: usize,
    max_share: f64,
) -> CollapseCheck {
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    let non_empty = sizes.iter().filter(|&&s| s > 0).count();
    let largest_share =
        sizes.iter().copied().max().unwrap_or(0) as f64 / labels.len().max(1) as f64;
    let collapsed = (k >= min_clusters && non_empty < min_clusters) || largest_share > max_share;
    CollapseCheck {
        sizes,
        non_empty,
        largest_share,
        collapsed,
    }
}

/// One refresh of the target distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refresh {
    /// Optimizer steps taken before the refresh.
    pub step: u64,
    /// Share of training rows whose label changed since the previous refresh (none at the first).
    pub changed: Option<f64>,
    pub collapse: CollapseCheck,
}

/// k-means++ (`n_init` restarts) on pretrained embeddings `z` `[rows, latent]`: the initial
/// centroids.
pub fn init_centroids(
    z: &[f32],
    rows: usize,
    latent: usize,
    cfg: &DecConfig,
    seed: u64,
) -> Result<KMeansResult, ClusterError> {
    cluster::kmeans(
        Matrix::new(z, rows, latent)?,
        cfg.k,
        cfg.n_init,
        cluster::kmeans::DEFAULT_MAX_ITER,
        cluster::kmeans::DEFAULT_TOL,
        seed,
    )
}

/// The starting point of DEC: k-means++ centroids on the pretrained embeddings `z` (`[rows,
/// latent]` of `autoencoder`), after the whitened re-expression of the latent space when
/// `cfg.whiten` (module docs of [`crate::cluster::whiten`]). Returns the autoencoder to train
/// (re-parametrised when whitened) and the k-means result in its latent coordinates.
pub fn initialise(
    autoencoder: Autoencoder,
    z: &[f32],
    rows: usize,
    latent: usize,
    cfg: &DecConfig,
    seed: u64,
) -> Result<(Autoencoder, KMeansResult), ClusterError> {
    let first = init_centroids(z, rows, latent, cfg, seed)?;
    if !cfg.whiten {
        return Ok((autoencoder, first));
    }
    let m = Matrix::new(z, rows, latent)?;
    let w = cluster::pooled_within_covariance(m, &first.labels, cfg.k)?;
    let white = cluster::whitening(&w, latent)?;
    tracing::info!(
        eigenvalues = ?white.eigenvalues,
        "whitened DEC initialisation: within-cluster covariance eigenvalues of the first k-means"
    );
    let zw = white.apply(m);
    let init = init_centroids(&zw, rows, latent, cfg, seed)?;
    Ok((
        autoencoder.reparametrize_latent(&white.l, &white.l_inv),
        init,
    ))
}

/// The autoencoder as DEC trains it: its latent layer fixed when `cfg.freeze_latent_layer`.
/// Call it on the autodiff device's copy (after any `Module::train`/`fork`).
pub fn trainable(autoencoder: Autoencoder, cfg: &DecConfig) -> Autoencoder {
    if cfg.freeze_latent_layer {
        autoencoder.freeze_latent_layer()
    } else {
        autoencoder
    }
}

/// Embeddings `z` `[rows, latent]` and soft assignments `q` `[rows, k]` (row-major) of every
/// row of `features`, in batches, with a `valid()` copy of `model`.
pub fn assign_rows(
    model: &Dec,
    features: &Features,
    alpha: f64,
    batch_size: usize,
    device: &Device,
) -> (Vec<f32>, Vec<f32>) {
    let model = model.valid();
    let (mut zs, mut qs) = (Vec::new(), Vec::new());
    let mut start = 0;
    while start < features.rows {
        let end = (start + batch_size).min(features.rows);
        let chunk = &features.data[start * features.cols..end * features.cols];
        let x = Tensor::<2>::from_data(
            TensorData::new(chunk.to_vec(), [end - start, features.cols]),
            device,
        );
        let (z, q) = model.assign(x, alpha);
        zs.extend(z.into_data().try_into_vec::<f32>().expect("f32 embeddings"));
        qs.extend(
            q.into_data()
                .try_into_vec::<f32>()
                .expect("f32 assignments"),
        );
        start = end;
    }
    (zs, qs)
}

/// DEC / IDEC as a [`Task`] of the training loop.
pub struct DecTask {
    train_features: Features,
    train: Tensor<2>,
    valid: Tensor<2>,
    cfg: DecConfig,
    /// The reconstruction loss (IDEC only).
    recon: Option<ReconstructionLoss>,
    device: Device,
    /// `P` on the training split, `[train rows, k]`, refreshed every `update_interval` steps.
    targets: Option<Tensor<2>>,
    labels: Option<Vec<usize>>,
    /// Every refresh so far, in order.
    pub refreshes: Vec<Refresh>,
}

impl DecTask {
    /// `recon` is required in `idec` mode and ignored in `dec` mode.
    pub fn new(
        train: &Features,
        valid: &Features,
        cfg: &DecConfig,
        recon: Option<ReconstructionLoss>,
        device: &Device,
    ) -> Self {
        Self {
            train_features: train.clone(),
            train: features_tensor(train, device),
            valid: features_tensor(valid, device),
            cfg: cfg.clone(),
            recon: recon.filter(|_| cfg.mode == DecMode::Idec),
            device: device.clone(),
            targets: None,
            labels: None,
            refreshes: Vec::new(),
        }
    }

    /// Hard labels of the training rows at the last refresh.
    pub fn labels(&self) -> Option<&[usize]> {
        self.labels.as_deref()
    }

    fn loss(&self, model: &Dec, x: Tensor<2>, p: Option<Tensor<2>>) -> BatchLoss {
        let (z, q) = model.assign(x.clone(), self.cfg.alpha);
        let p = p.unwrap_or_else(|| {
            // No stored target (validation): the batch's own target, as a constant.
            let k = self.cfg.k;
            let qv = q.clone().into_data().try_into_vec::<f32>().expect("f32 q");
            let rows = qv.len() / k;
            Tensor::from_data(
                TensorData::new(target_distribution(&qv, k), [rows, k]),
                &self.device,
            )
        });
        let kl = kl_loss(p, q);
        let mut parts = vec![("kl", kl.clone())];
        let mut total = kl;
        if let Some(recon) = &self.recon {
            let r = recon.loss(model.autoencoder.decoder.forward(z), x);
            total = total + r.total.clone() * self.cfg.gamma;
            parts.push(("reconstruction", r.total));
        }
        BatchLoss::new(total, parts)
    }
}

impl Task for DecTask {
    type Model = Dec;

    fn train_len(&self) -> usize {
        self.train.dims()[0]
    }

    fn valid_len(&self) -> usize {
        self.valid.dims()[0]
    }

    fn train_loss(&self, model: &Dec, rows: Tensor<1, Int>) -> BatchLoss {
        let x = self.train.clone().select(0, rows.clone());
        let p = self
            .targets
            .as_ref()
            .map(|t| t.clone().select(0, rows))
            .expect("on_step sets the targets before the first step");
        self.loss(model, x, Some(p))
    }

    fn valid_loss(&self, model: &Dec, rows: Tensor<1, Int>) -> BatchLoss {
        let x = self.valid.clone().select(0, rows);
        self.loss(model, x, None)
    }

    fn on_step(&mut self, model: &Dec, step: u64) -> anyhow::Result<StepControl> {
        if !step.is_multiple_of(self.cfg.update_interval) && self.targets.is_some() {
            return Ok(StepControl::Continue);
        }
        let k = self.cfg.k;
        let (_, q) = assign_rows(
            &model.valid(),
            &self.train_features,
            self.cfg.alpha,
            4096,
            &self.device,
        );
        let (labels, _) = argmax_rows(&q, k);
        let changed = self.labels.as_ref().map(|old| {
            old.iter().zip(&labels).filter(|(a, b)| a != b).count() as f64
                / labels.len().max(1) as f64
        });
        let collapse = detect_collapse(
            &labels,
            k,
            self.cfg.collapse_min_clusters,
            self.cfg.collapse_max_share,
        );
        if collapse.collapsed {
            tracing::warn!(
                step,
                non_empty = collapse.non_empty,
                largest_share = collapse.largest_share,
                "DEC clusters collapsed (sizes {:?}): segments are unbalanced; try idec mode, a \
                 larger gamma or a smaller k",
                collapse.sizes
            );
        }
        tracing::info!(step, ?changed, sizes = ?collapse.sizes, "DEC target refresh");
        let rows = labels.len();
        self.targets = Some(Tensor::from_data(
            TensorData::new(target_distribution(&q, k), [rows, k]),
            &self.device,
        ));
        self.labels = Some(labels);
        self.refreshes.push(Refresh {
            step,
            changed,
            collapse,
        });
        match changed {
            Some(c) if c < self.cfg.tol => Ok(StepControl::Stop(StopReason::Converged {
                step,
                changed: c,
            })),
            _ => Ok(StepControl::Continue),
        }
    }

    /// The target distribution `P`, the labels of its refresh and every refresh so far: a
    /// resumed run keeps training against the same `P` until the next scheduled refresh.
    fn save_state(&self) -> Option<StateFile> {
        let meta = serde_json::json!({
            "k": self.cfg.k,
            "labels": self.labels,
            "refreshes": self.refreshes,
        });
        let state = StateFile::new(meta);
        Some(match &self.targets {
            Some(p) => state.with_tensor("targets", p.clone()),
            None => state,
        })
    }

    fn restore_state(&mut self, state: StateFile) -> anyhow::Result<()> {
        let k = state.meta.get("k").and_then(|k| k.as_u64());
        anyhow::ensure!(
            k == Some(self.cfg.k as u64),
            "saved for k = {k:?}, the run has dec.k = {}",
            self.cfg.k
        );
        let labels: Option<Vec<usize>> =
            serde_json::from_value(state.meta.get("labels").cloned().unwrap_or_default())?;
        let refreshes: Vec<Refresh> =
            serde_json::from_value(state.meta.get("refreshes").cloned().unwrap_or_default())?;
        let rows = self.train_len();
        let targets = match state.tensors.contains_key("targets") {
            true => {
                let p: Tensor<2> = state
                    .tensor("targets", &self.device)
                    .map_err(anyhow::Error::msg)?;
                anyhow::ensure!(
                    p.dims() == [rows, self.cfg.k],
                    "targets are {:?}, the run has {rows} training rows and k = {}",
                    p.dims(),
                    self.cfg.k
                );
                Some(p)
            }
            false => None,
        };
        if let Some(l) = &labels {
            anyhow::ensure!(l.len() == rows, "{} labels for {rows} rows", l.len());
        }
        self.targets = targets;
        self.labels = labels;
        self.refreshes = refreshes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_assignment_matches_formula() {
        // z = (0,0); centroids (0,0) and (1,0), alpha 1: kernels 1 and 1/2 → q = (2/3, 1/3).
        let d = Device::flex();
        let z = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.0], [1, 2]), &d);
        let mu = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.0, 1.0, 0.0], [2, 2]), &d);
        let q = soft_assignment(z, mu, 1.0)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert!((q[0] - 2.0 / 3.0).abs() < 1e-6 && (q[1] - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn target_sharpens_and_normalises() {
        // f = (1.0, 1.0); row (0.75, 0.25) → (0.5625, 0.0625)/0.625 = (0.9, 0.1).
        let p = target_distribution(&[0.75, 0.25, 0.25, 0.75], 2);
        assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] - 0.1).abs() < 1e-6);
        assert!((p[2] - 0.1).abs() < 1e-6);
    }

    #[test]
    fn collapse_detector_rules() {
        let balanced = detect_collapse(&[0, 1, 2, 0, 1, 2], 3, 3, 0.8);
        assert!(!balanced.collapsed);
        let two_left = detect_collapse(&[0, 1, 0, 1], 4, 3, 0.8);
        assert!(two_left.collapsed && two_left.non_empty == 2);
        let dominant = detect_collapse(
            &[0; 9].iter().chain(&[1]).copied().collect::<Vec<_>>(),
            2,
            3,
            0.8,
        );
        assert!(dominant.collapsed && (dominant.largest_share - 0.9).abs() < 1e-12);
        // k below min_clusters: only the share rule applies.
        assert!(!detect_collapse(&[0, 1], 2, 3, 0.8).collapsed);
    }
}
