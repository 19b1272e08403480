//! The one training loop every model family plugs into.
//!
//! A family implements [`Task`]: its loss on a batch of row indices and, optionally, an epoch
//! hook (DEC refreshes its target distribution there). The loop owns everything else: seeded
//! shuffling, the optimizer and learning-rate schedule, gradient clipping, validation, early
//! stopping, the NaN/inf guard, checkpoints (`best`, `last`, every N epochs), `metrics.jsonl`,
//! progress and tracing spans.
//!
//! Determinism: at the start of epoch `e` the device RNG (dropout, noise) is re-seeded from
//! `(seed, e)` and the batch order is a permutation drawn from `(seed, e)`, so resuming from the
//! checkpoint of epoch `e - 1` replays exactly what an uninterrupted run does.

pub mod schedule;
pub mod sparse;
pub mod state;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::checkpoint::{self, CheckpointError, Header, RunDir};
use crate::config::{OptimizerKind, TrainConfig};
use crate::progress::Progress;

pub use schedule::learning_rate;
pub use sparse::{SparseAdam, SparseIndex, SparseRows, TableAdam};
pub use state::StateFile;

/// A batch loss: the scalar to minimise and named parts for the metrics.
pub struct BatchLoss {
    /// Mean loss over the batch, shape `[1]`.
    pub total: Tensor<1>,
    /// Named components (e.g. `numeric`, `categorical`), each `[1]`, for logging.
    pub parts: Vec<(&'static str, Tensor<1>)>,
    /// Embedding rows the loss read through leaves ([`SparseIndex::lookup`]): the loop updates
    /// their tables itself ([`SparseAdam`], lazy or dense per [`TableAdam`]) instead of the
    /// module optimizer. Empty for models without embedding tables read this way.
    pub sparse: Vec<SparseRows>,
}

impl BatchLoss {
    /// A loss with no sparse rows.
    pub fn new(total: Tensor<1>, parts: Vec<(&'static str, Tensor<1>)>) -> Self {
        Self {
            total,
            parts,
            sparse: Vec::new(),
        }
    }
}

/// What a model family supplies to the loop.
pub trait Task {
    /// The model being trained.
    type Model: Module;
    /// Rows in the training split (batches are index sets into it).
    fn train_len(&self) -> usize;
    /// Rows in the validation split.
    fn valid_len(&self) -> usize;
    /// Loss of a training batch. `model` lives on the autodiff device; `rows` are indices into
    /// the training split, on the plain device.
    fn train_loss(&self, model: &Self::Model, rows: Tensor<1, Int>) -> BatchLoss;
    /// Loss of a validation batch with a `valid()` model (no autodiff graph is built).
    fn valid_loss(&self, model: &Self::Model, rows: Tensor<1, Int>) -> BatchLoss;
    /// Called before each epoch with a `valid()` copy of the model (DEC refreshes targets here).
    fn on_epoch_start(&mut self, _model: &Self::Model, _epoch: usize) -> anyhow::Result<()> {
        Ok(())
    }
    /// Called before every optimizer step with the training model (autodiff device: take
    /// `model.valid()` before computing anything that should not be differentiated) and the
    /// number of steps taken so far. DEC refreshes its targets and checks convergence here.
    fn on_step(&mut self, _model: &Self::Model, _step: u64) -> anyhow::Result<StepControl> {
        Ok(StepControl::Continue)
    }
    /// The task's own state that exact resume needs (DEC: its target distribution), taken at
    /// the end of every epoch and written to `last/task_state.safetensors`. None: stateless.
    fn save_state(&self) -> Option<StateFile> {
        None
    }
    /// Restores what [`Task::save_state`] saved, before a resumed run's first epoch. An error
    /// means the file does not fit this task (reported as a resume error, exit code 2).
    fn restore_state(&mut self, _state: StateFile) -> anyhow::Result<()> {
        Ok(())
    }
}

/// What a step hook tells the loop.
#[derive(Debug, Clone, PartialEq)]
pub enum StepControl {
    /// Take the step.
    Continue,
    /// Finish the current epoch's bookkeeping (validation, checkpoints) now and stop.
    Stop(StopReason),
}

/// Why training stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// All configured epochs ran.
    Completed,
    /// Validation loss did not improve for `patience` epochs.
    EarlyStopped { epoch: usize },
    /// A task declared convergence at `step` (DEC: the share of changed labels fell below tol).
    Converged { step: u64, changed: f64 },
}

impl StopReason {
    /// The reason's name, as `reason` spells it in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            StopReason::EarlyStopped { .. } => "early_stopped",
            StopReason::Converged { .. } => "converged",
        }
    }
}

/// Errors of the training loop.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error(
        "training diverged at epoch {epoch}, step {step}: loss is {loss} (NaN/inf). The last good \
         checkpoint is kept; lower train.learning_rate or set train.grad_clip_norm"
    )]
    Diverged { epoch: usize, step: u64, loss: f64 },
    #[error("the training split is empty: nothing to train on")]
    EmptyTrain,
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The run folder given to `--resume` cannot be continued (a missing, truncated or foreign
    /// file in `last/`): bad input, exit code 2.
    #[error("{path}: cannot resume: {message}")]
    Resume { path: String, message: String },
    #[error("training hook failed: {0}")]
    Hook(anyhow::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub step: u64,
    pub lr: f64,
    pub train_loss: f64,
    /// NaN without a validation split (written as `null`, read back as NaN).
    #[serde(deserialize_with = "null_as_nan")]
    pub valid_loss: f64,
    /// Named loss components on the training split (means over the epoch).
    pub train_parts: BTreeMap<String, f64>,
    /// Named loss components on the validation split.
    pub valid_parts: BTreeMap<String, f64>,
    pub samples_per_s: f64,
    pub wall_s: f64,
    pub best: bool,
}

/// A number that JSON wrote as `null` (serde_json writes NaN so) comes back as NaN.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Everything exact resume needs besides the weights and optimizer moments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// Epochs completed (the next epoch to run has this index).
    pub epochs_done: usize,
    /// Optimizer steps taken.
    pub step: u64,
    pub best_valid_loss: f64,
    pub best_epoch: usize,
    pub epochs_without_improvement: usize,
    /// Parameter ids in module visiting order (optimizer moments are keyed by them).
    pub param_ids: Vec<u64>,
    pub seed: u64,
    /// Why the run stopped before its configured epochs (early stopping, convergence): such a
    /// run is finished, and `--resume` trains no further. None: it ran out of epochs or was
    /// interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<StopReason>,
}

/// The result of [`fit`].
pub struct FitOutcome<M> {
    /// The model at the end of training (plain device, `valid()`).
    pub last_model: M,
    pub best_valid_loss: f64,
    pub best_epoch: usize,
    pub stop: StopReason,
    pub history: Vec<EpochMetrics>,
}

impl<M> FitOutcome<M> {
    /// Mean training throughput over the epochs run (0 when none ran).
    pub fn mean_samples_per_s(&self) -> f64 {
        if self.history.is_empty() {
            return 0.0;
        }
        self.history.iter().map(|m| m.samples_per_s).sum::<f64>() / self.history.len() as f64
    }
}

/// How to run [`fit`].
pub struct FitOptions<'a> {
    pub train: &'a TrainConfig,
    pub seed: u64,
    /// The plain device; the loop trains on `device.clone().autodiff()`.
    pub device: Device,
    pub run: &'a RunDir,
    pub progress: &'a Progress,
    /// Label for progress and logs (e.g. `autoencoder`).
    pub label: &'a str,
    /// Stop after this many epochs of this call (as an interruption would; resumable).
    pub stop_after_epochs: Option<usize>,
    /// What every checkpoint of the run holds besides the weights (config, schema,
    /// preprocessing, scoring tables): written around the model by [`fit`] and nowhere else.
    pub header: &'a Header,
}

/// A model and optimizer restored from `RUN/last` for exact resume.
pub struct Resumed<M> {
    pub model: M,
    pub optimizer: ModuleOptimizer,
    pub state: TrainState,
    pub history: Vec<EpochMetrics>,
    /// `last/task_state.safetensors`, when the task saved one.
    pub task_state: Option<StateFile>,
    /// `last/sparse_optimizer.safetensors`: the moments of the tables the loop updates itself
    /// ([`SparseAdam`]), when a table had any.
    pub sparse_optimizer: Option<StateFile>,
}

/// `last/task_state.safetensors`.
pub const TASK_STATE_FILE: &str = "task_state.safetensors";
/// `last/sparse_optimizer.safetensors`.
pub const SPARSE_OPTIMIZER_FILE: &str = "sparse_optimizer.safetensors";

fn mix(seed: u64, epoch: usize) -> u64 {
    crate::seed::derive(seed, epoch as u64)
}

/// Builds the configured optimizer.
pub fn optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    let clip = (cfg.grad_clip_norm > 0.0)
        .then_some(GradientClippingConfig::Norm(cfg.grad_clip_norm as f32));
    match cfg.optimizer {
        OptimizerKind::Adam => AdamConfig::new()
            .with_weight_decay(
                (cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32)),
            )
            .with_grad_clipping(clip)
            .init(),
        OptimizerKind::Adamw => AdamWConfig::new()
            .with_weight_decay(cfg.weight_decay as f32)
            .with_grad_clipping(clip)
            .init(),
    }
}

struct IdCollector(Vec<u64>);
impl ModuleVisitor for IdCollector {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.id.val());
    }
}

struct IdAssigner<'a>(&'a [u64], usize);
impl ModuleMapper for IdAssigner<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (_, value, mapper) = param.consume();
        let id = ParamId::from(self.0[self.1]);
        self.1 += 1;
        Param::from_mapped_value(id, value, mapper)
    }
}

/// Parameter ids of a module in visiting order.
pub fn param_ids<M: Module>(model: &M) -> Vec<u64> {
    let mut c = IdCollector(Vec::new());
    model.visit(&mut c);
    c.0
}

/// Restores `RUN/last` onto `model` (built from the saved config on the autodiff device).
pub fn resume<M: Module>(
    run: &RunDir,
    model: M,
    cfg: &TrainConfig,
) -> Result<Resumed<M>, TrainError> {
    let dir = run.last_complete().unwrap_or_else(|| run.last());
    let resume_err = |message: String| TrainError::Resume {
        path: dir.display().to_string(),
        message,
    };
    let state_path = dir.join("training_state.json");
    let text = std::fs::read_to_string(&state_path)
        .map_err(|e| resume_err(format!("{}: {e}", state_path.display())))?;
    let state: TrainState = serde_json::from_str(&text)
        .map_err(|e| resume_err(format!("{}: {e}", state_path.display())))?;
    let ck = checkpoint::Checkpoint::read(&dir.join("model.safetensors"), None)?;
    let model = ck.load_module(model)?;
    let current = param_ids(&model);
    if current.len() != state.param_ids.len() {
        return Err(resume_err(format!(
            "the checkpoint has {} parameters, the model {}",
            state.param_ids.len(),
            current.len()
        )));
    }
    let model = model.map(&mut IdAssigner(&state.param_ids, 0));
    let optimizer = optimizer(cfg)
        .load(dir.join("optimizer.bpk"))
        .map_err(|e| resume_err(format!("optimizer.bpk: {e}")))?;
    let history = read_metrics(&run.metrics())
        .map_err(|e| resume_err(e.to_string()))?
        .into_iter()
        .filter(|m| m.epoch < state.epochs_done)
        .collect();
    let optional = |name: &str| -> Result<Option<StateFile>, TrainError> {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => StateFile::from_bytes(&bytes)
                .map(Some)
                .map_err(|m| resume_err(format!("{}: {m}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(resume_err(format!("{}: {e}", path.display()))),
        }
    };
    Ok(Resumed {
        model,
        optimizer,
        state,
        history,
        task_state: optional(TASK_STATE_FILE)?,
        sparse_optimizer: optional(SPARSE_OPTIMIZER_FILE)?,
    })
}

/// [`resume`] when `wanted` and `run` holds a complete `last/`; None otherwise (a phase of a
/// resumed job that had not finished an epoch starts afresh).
pub fn resume_if<M: Module>(
    wanted: bool,
    run: &RunDir,
    model: M,
    cfg: &TrainConfig,
) -> Result<Option<Resumed<M>>, TrainError> {
    match wanted && run.last_complete().is_some() {
        true => resume(run, model, cfg).map(Some),
        false => Ok(None),
    }
}

/// Reads `metrics.jsonl` (missing file: empty).
pub fn read_metrics(path: &Path) -> std::io::Result<Vec<EpochMetrics>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn write_metrics(path: &Path, history: &[EpochMetrics]) -> Result<(), CheckpointError> {
    let mut text = String::new();
    for m in history {
        text.push_str(&serde_json::to_string(m).expect("metrics serialize"));
        text.push('\n');
    }
    checkpoint::write_atomic(path, text.as_bytes())
}

/// Writes a model file: the run's header around `model`, plus epoch and loss metadata.
fn write_model<M: Module>(
    header: &Header,
    model: &M,
    path: &Path,
    epoch: usize,
    valid_loss: f64,
) -> Result<(), CheckpointError> {
    let extra = [
        (checkpoint::keys::EPOCH, epoch.to_string()),
        (checkpoint::keys::VALID_LOSS, format!("{valid_loss:.6e}")),
    ];
    checkpoint::write_atomic(path, &header.file_bytes(model, &extra))
}

/// Writes `RUN/last` as a unit: into `last.tmp`, then swapped in by rename.
fn write_last<M: Module>(
    header: &Header,
    model: &M,
    optim: &Optimizers,
    task_state: Option<StateFile>,
    state: &TrainState,
    run: &RunDir,
) -> Result<(), TrainError> {
    let last = run.last();
    let tmp = run.root.join("last.tmp");
    let old = run.root.join("last.old");
    let io = |path: &Path, source| TrainError::Io {
        path: path.display().to_string(),
        source,
    };
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    write_model(
        header,
        &model.valid(),
        &tmp.join("model.safetensors"),
        state.epochs_done,
        state.best_valid_loss,
    )?;
    let opt_path = tmp.join("optimizer.bpk");
    optim.dense.save(&opt_path).map_err(|e| TrainError::Io {
        path: opt_path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    if optim.sparse.tables() > 0 {
        checkpoint::write_atomic(
            &tmp.join(SPARSE_OPTIMIZER_FILE),
            &optim.sparse.save_state().to_bytes(),
        )?;
    }
    if let Some(t) = task_state {
        checkpoint::write_atomic(&tmp.join(TASK_STATE_FILE), &t.to_bytes())?;
    }
    checkpoint::write_atomic(
        &tmp.join("training_state.json"),
        serde_json::to_string_pretty(state)
            .expect("state serializes")
            .as_bytes(),
    )?;
    if last.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
        }
        std::fs::rename(&last, &old).map_err(|e| io(&last, e))?;
    }
    std::fs::rename(&tmp, &last).map_err(|e| io(&tmp, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    Ok(())
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f64>()
}

/// The optimizers of a run: the module optimizer for every parameter with a gradient, and
/// [`SparseAdam`] (lazy or dense) for the embedding tables a task reads through row leaves.
pub struct Optimizers {
    pub dense: ModuleOptimizer,
    pub sparse: SparseAdam,
}

impl Optimizers {
    /// Both optimizers as `cfg` configures them.
    pub fn new(cfg: &TrainConfig) -> Self {
        Self::with_dense(optimizer(cfg), cfg)
    }

    /// `dense` (e.g. restored for resume) with a fresh [`SparseAdam`].
    pub fn with_dense(dense: ModuleOptimizer, cfg: &TrainConfig) -> Self {
        Self {
            dense,
            sparse: SparseAdam::new(cfg),
        }
    }
}

/// What one training step measured.
pub struct StepResult<M> {
    /// The updated model.
    pub model: M,
    /// The batch loss before the update.
    pub loss: f64,
    /// Its named parts.
    pub parts: Vec<(&'static str, f64)>,
}

/// One optimizer step on training rows `rows`: the task's loss, backward, [`SparseAdam`] on the
/// tables it read through row leaves, then the module optimizer. `Err(loss)` when the loss is NaN
/// or infinite (then nothing is updated and the model is dropped).
pub fn train_step<T: Task>(
    task: &T,
    model: T::Model,
    optim: &mut Optimizers,
    rows: Tensor<1, Int>,
    lr: f64,
) -> Result<StepResult<T::Model>, f64> {
    let loss = task.train_loss(&model, rows);
    let value = scalar(loss.total.clone());
    if !value.is_finite() {
        return Err(value);
    }
    let parts = loss
        .parts
        .into_iter()
        .map(|(name, t)| (name, scalar(t.detach())))
        .collect();
    let mut grads = loss.total.backward();
    let model = optim.sparse.step(model, loss.sparse, &mut grads, lr);
    let grads = GradientsParams::from_grads(grads, &model);
    let model = optim.dense.step(lr, model, grads);
    Ok(StepResult {
        model,
        loss: value,
        parts,
    })
}

/// Mean validation loss (and parts) over the validation split, in batches, without autodiff.
fn validate<T: Task>(
    task: &T,
    model: &T::Model,
    batch_size: usize,
    device: &Device,
) -> (f64, BTreeMap<String, f64>) {
    let n = task.valid_len();
    if n == 0 {
        return (f64::NAN, BTreeMap::new());
    }
    let mut total = 0.0;
    let mut parts: BTreeMap<String, f64> = BTreeMap::new();
    let mut start = 0;
    while start < n {
        let end = (start + batch_size).min(n);
        let rows = Tensor::<1, Int>::arange(start as i64..end as i64, device);
        let loss = task.valid_loss(model, rows);
        let w = (end - start) as f64;
        total += scalar(loss.total) * w;
        for (name, t) in loss.parts {
            *parts.entry(name.to_string()).or_default() += scalar(t) * w;
        }
        start = end;
    }
    parts.values_mut().for_each(|v| *v /= n as f64);
    (total / n as f64, parts)
}

/// Trains `model` (built on `opts.device.autodiff()`) on `task`, writing checkpoints to
/// `opts.run`. With `resumed`, continues exactly where `RUN/last` stopped. The loop runs in
/// [`crate::backend::training_pool`].
pub fn fit<T: Task + Send>(
    task: &mut T,
    model: T::Model,
    opts: &FitOptions<'_>,
    resumed: Option<Resumed<T::Model>>,
) -> Result<FitOutcome<T::Model>, TrainError>
where
    T::Model: Send,
{
    crate::backend::training_pool().install(|| fit_in_pool(task, model, opts, resumed))
}

fn fit_in_pool<T: Task>(
    task: &mut T,
    model: T::Model,
    opts: &FitOptions<'_>,
    resumed: Option<Resumed<T::Model>>,
) -> Result<FitOutcome<T::Model>, TrainError> {
    let n = task.train_len();
    if n == 0 {
        return Err(TrainError::EmptyTrain);
    }
    let plain = opts.device.clone();
    let ad = plain.clone().autodiff();
    // Samples per epoch: the whole split, or the first `max_epoch_samples` of its permutation.
    let per_epoch = match opts.train.max_epoch_samples {
        0 => n,
        cap => cap.min(n),
    };
    let steps_per_epoch = per_epoch.div_ceil(opts.train.batch_size) as u64;
    // Small tables: enough epochs for `min_steps` optimizer steps (TrainConfig::for_steps).
    let resolved = opts.train.for_steps(steps_per_epoch);
    if resolved.epochs != opts.train.epochs {
        tracing::info!(
            label = opts.label,
            configured = opts.train.epochs,
            epochs = resolved.epochs,
            steps_per_epoch,
            min_steps = opts.train.min_steps,
            "small training split: more epochs to reach train.min_steps"
        );
    }
    let cfg = &resolved;

    let (mut model, mut optim, mut state, mut history) = match resumed {
        Some(r) => {
            let resume_err = |message: String| TrainError::Resume {
                path: opts.run.last().display().to_string(),
                message,
            };
            let mut optim = Optimizers::with_dense(r.optimizer, cfg);
            if let Some(s) = r.sparse_optimizer {
                optim
                    .sparse
                    .restore_state(&s, &plain)
                    .map_err(|m| resume_err(format!("{SPARSE_OPTIMIZER_FILE}: {m}")))?;
            }
            match r.task_state {
                Some(s) => task
                    .restore_state(s)
                    .map_err(|e| resume_err(format!("{TASK_STATE_FILE}: {e:#}")))?,
                None if r.state.epochs_done > 0 && task.save_state().is_some() => {
                    return Err(resume_err(format!("{TASK_STATE_FILE} is missing")));
                }
                None => {}
            }
            (r.model, optim, r.state, r.history)
        }
        None => {
            let ids = param_ids(&model);
            (
                model,
                Optimizers::new(cfg),
                TrainState {
                    epochs_done: 0,
                    step: 0,
                    best_valid_loss: f64::INFINITY,
                    best_epoch: 0,
                    epochs_without_improvement: 0,
                    param_ids: ids,
                    seed: opts.seed,
                    stopped: None,
                },
                Vec::new(),
            )
        }
    };

    let bar = opts
        .progress
        .bar(opts.label, (cfg.epochs as u64) * steps_per_epoch);
    bar.set_position(state.step);
    let mut stop = StopReason::Completed;
    let mut order: Vec<i64> = (0..n as i64).collect();

    let first_epoch = state.epochs_done;
    let last_epoch = match opts.stop_after_epochs {
        Some(k) => cfg.epochs.min(first_epoch + k),
        None => cfg.epochs,
    };
    // A resumed run that had stopped early is finished.
    let last_epoch = match &state.stopped {
        Some(reason) => {
            tracing::info!(
                label = opts.label,
                ?reason,
                "the run had stopped: nothing to resume"
            );
            stop = reason.clone();
            first_epoch
        }
        None => last_epoch,
    };
    for epoch in first_epoch..last_epoch {
        let _span = tracing::info_span!("epoch", label = opts.label, epoch).entered();
        let started = Instant::now();
        let epoch_seed = mix(opts.seed, epoch);
        ad.seed(epoch_seed);
        plain.seed(epoch_seed);
        task.on_epoch_start(&model.valid(), epoch)
            .map_err(TrainError::Hook)?;

        // Seeded permutation of the training rows, uploaded once per epoch.
        order.sort_unstable();
        order.shuffle(&mut StdRng::seed_from_u64(epoch_seed));
        let perm = Tensor::<1, Int>::from_data(TensorData::new(order.clone(), [n]), &plain);

        let mut loss_sum = 0.0;
        let mut part_sums: BTreeMap<String, f64> = BTreeMap::new();
        let mut lr = 0.0;
        let mut seen = 0usize;
        let mut hook_stop = None;
        for b in 0..steps_per_epoch as usize {
            if let StepControl::Stop(reason) =
                task.on_step(&model, state.step).map_err(TrainError::Hook)?
            {
                hook_stop = Some(reason);
                break;
            }
            let start = b * cfg.batch_size;
            let end = (start + cfg.batch_size).min(per_epoch);
            seen += end - start;
            let rows = perm.clone().slice(start..end);
            lr = learning_rate(cfg, epoch, b, steps_per_epoch as usize);
            let step = match train_step(task, model, &mut optim, rows, lr) {
                Ok(step) => step,
                Err(loss) => {
                    bar.abandon();
                    return Err(TrainError::Diverged {
                        epoch,
                        step: state.step,
                        loss,
                    });
                }
            };
            model = step.model;
            let value = step.loss;
            let w = (end - start) as f64;
            loss_sum += value * w;
            for (name, v) in step.parts {
                *part_sums.entry(name.to_string()).or_default() += v * w;
            }
            state.step += 1;
            bar.inc(1);
            bar.set_message(format!(
                "epoch {}/{} loss {value:.4}",
                epoch + 1,
                cfg.epochs
            ));
        }

        let eval_model = model.valid();
        let (valid_loss, valid_parts) = {
            let _s = tracing::info_span!("validate").entered();
            validate(task, &eval_model, cfg.batch_size.max(1024), &plain)
        };
        let wall = started.elapsed().as_secs_f64();
        // With no validation split the training loss decides "best".
        let seen = seen.max(1);
        let train_loss = loss_sum / seen as f64;
        let monitored = if valid_loss.is_finite() {
            valid_loss
        } else {
            train_loss
        };
        let improved = monitored < state.best_valid_loss - cfg.min_delta;
        state.epochs_done = epoch + 1;
        if improved {
            state.best_valid_loss = monitored;
            state.best_epoch = epoch;
            state.epochs_without_improvement = 0;
            write_model(
                opts.header,
                &eval_model,
                &opts.run.model(),
                epoch,
                monitored,
            )?;
        } else {
            state.epochs_without_improvement += 1;
        }
        let metrics = EpochMetrics {
            epoch,
            step: state.step,
            lr,
            train_loss,
            valid_loss,
            train_parts: part_sums
                .into_iter()
                .map(|(k, v)| (k, v / seen as f64))
                .collect(),
            valid_parts,
            samples_per_s: seen as f64 / wall,
            wall_s: wall,
            best: improved,
        };
        tracing::info!(
            label = opts.label,
            epoch,
            train_loss,
            valid_loss,
            samples_per_s = metrics.samples_per_s,
            "epoch done"
        );
        history.push(metrics);
        write_metrics(&opts.run.metrics(), &history)?;
        if cfg.checkpoint_every > 0 && (epoch + 1) % cfg.checkpoint_every == 0 {
            write_model(
                opts.header,
                &eval_model,
                &opts.run.epoch(epoch + 1).join("model.safetensors"),
                epoch,
                valid_loss,
            )?;
        }
        let stopping = match hook_stop {
            Some(reason) => {
                tracing::info!(label = opts.label, epoch, ?reason, "stopped by the task");
                Some(reason)
            }
            None if cfg.patience > 0 && state.epochs_without_improvement >= cfg.patience => {
                tracing::info!(
                    label = opts.label,
                    epoch,
                    "early stopping: no improvement for {} epochs",
                    cfg.patience
                );
                Some(StopReason::EarlyStopped { epoch })
            }
            None => None,
        };
        state.stopped = stopping.clone();
        write_last(
            opts.header,
            &model,
            &optim,
            task.save_state(),
            &state,
            opts.run,
        )?;
        if let Some(reason) = stopping {
            stop = reason;
            break;
        }
    }
    bar.finish_and_clear();
    Ok(FitOutcome {
        last_model: model.valid(),
        best_valid_loss: state.best_valid_loss,
        best_epoch: state.best_epoch,
        stop,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::cell::RefCell;

    use burn::nn::{Linear, LinearConfig};

    #[test]
    fn stop_reason_names_are_their_json_tags() {
        for r in [
            StopReason::Completed,
            StopReason::EarlyStopped { epoch: 3 },
            StopReason::Converged {
                step: 7,
                changed: 0.001,
            },
        ] {
            let json = serde_json::to_value(&r).unwrap();
            assert_eq!(json["reason"], r.name());
        }
    }

    /// Fits `y = Σ x` with a linear model and records the training rows of every batch.
    struct Recorder {
        x: Tensor<2>,
        seen: RefCell<Vec<Vec<i64>>>,
    }

    impl Task for Recorder {
        type Model = Linear;
        fn train_len(&self) -> usize {
            self.x.dims()[0]
        }
        fn valid_len(&self) -> usize {
            0
        }
        fn train_loss(&self, model: &Linear, rows: Tensor<1, Int>) -> BatchLoss {
            self.seen
                .borrow_mut()
                .push(rows.to_data().iter::<i64>().collect());
            let x = self.x.clone().select(0, rows);
            let y = x.clone().sum_dim(1);
            let loss = (model.forward(x) - y).square().mean().reshape([1]);
            BatchLoss::new(loss, vec![])
        }
        fn valid_loss(&self, model: &Linear, rows: Tensor<1, Int>) -> BatchLoss {
            self.train_loss(model, rows)
        }
    }

    /// A `rows × 2` [`Recorder`] trained with `cfg` (seed 3, flex): the outcome and the task.
    fn fit_recorder(rows: usize, cfg: &TrainConfig) -> (FitOutcome<Linear>, Recorder) {
        let plain = Device::flex();
        let x: Vec<f32> = (0..2 * rows)
            .map(|k| ((k * 37) % 23) as f32 / 23.0)
            .collect();
        let mut task = Recorder {
            x: Tensor::from_data(TensorData::new(x, [rows, 2]), &plain),
            seen: RefCell::new(Vec::new()),
        };
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir {
            root: dir.path().to_path_buf(),
        };
        let (progress, header) = (Progress::hidden(), Header::default());
        let opts = test_options(cfg, &run, &progress, &header);
        let model = LinearConfig::new(2, 1).init(&plain.clone().autodiff());
        (fit(&mut task, model, &opts, None).unwrap(), task)
    }

    /// Seed 3 on flex into `run`.
    fn test_options<'a>(
        cfg: &'a TrainConfig,
        run: &'a RunDir,
        progress: &'a Progress,
        header: &'a Header,
    ) -> FitOptions<'a> {
        FitOptions {
            train: cfg,
            seed: 3,
            device: Device::flex(),
            run,
            progress,
            label: "test",
            stop_after_epochs: None,
            header,
        }
    }

    #[test]
    fn small_splits_train_for_min_steps() {
        // 20 rows in batches of 8: 3 steps an epoch; 2 epochs would be 6 steps, min_steps 30
        // asks for 10 epochs.
        let cfg = TrainConfig {
            epochs: 2,
            batch_size: 8,
            warmup_epochs: 0,
            patience: 0,
            min_steps: 30,
            ..TrainConfig::default()
        };
        let (out, _) = fit_recorder(20, &cfg);
        assert_eq!(out.history.len(), 10);
        assert_eq!(out.history.last().unwrap().step, 30);
    }

    #[test]
    fn for_steps_stretches_every_length_in_epochs() {
        let cfg = TrainConfig {
            epochs: 30,
            warmup_epochs: 1,
            patience: 5,
            step_epochs: 10,
            min_steps: 1500,
            ..TrainConfig::default()
        };
        // 63 steps an epoch (16 000 rows, batch 256): 30 epochs already give 1890 steps.
        assert_eq!(cfg.for_steps(63), cfg);
        // 3 steps an epoch (677 rows): 500 epochs, every epoch count × 500 / 30, rounded up.
        let s = cfg.for_steps(3);
        assert_eq!(
            (s.epochs, s.warmup_epochs, s.patience, s.step_epochs),
            (500, 17, 84, 167)
        );
        let off = TrainConfig {
            min_steps: 0,
            ..cfg
        };
        assert_eq!(off.for_steps(1), off);
    }

    #[test]
    fn max_epoch_samples_trains_on_a_fresh_subset_each_epoch() {
        let cfg = TrainConfig {
            epochs: 3,
            batch_size: 8,
            max_epoch_samples: 30,
            warmup_epochs: 0,
            min_steps: 0,
            ..TrainConfig::default()
        };
        let (out, task) = fit_recorder(100, &cfg);
        // 30 samples per epoch: batches of 8, 8, 8, 6.
        assert_eq!(out.history.len(), 3);
        assert_eq!(
            out.history.iter().map(|m| m.step).collect::<Vec<_>>(),
            [4, 8, 12]
        );
        let seen = task.seen.into_inner();
        let sizes: Vec<usize> = seen.iter().map(Vec::len).collect();
        assert_eq!(sizes, [8, 8, 8, 6].repeat(3));
        let epoch = |e: usize| -> Vec<i64> {
            let mut rows: Vec<i64> = seen[4 * e..4 * e + 4].concat();
            rows.sort_unstable();
            rows
        };
        for e in 0..3 {
            let rows = epoch(e);
            assert!(
                rows.windows(2).all(|w| w[0] < w[1]),
                "no row twice in epoch {e}"
            );
        }
        assert_ne!(epoch(0), epoch(1), "each epoch draws its own subset");
    }

    #[test]
    fn an_early_stopped_run_is_finished_when_resumed() {
        // Learning rate 0: the loss never improves after epoch 0, patience 2 stops at epoch 2.
        let cfg = TrainConfig {
            epochs: 10,
            batch_size: 8,
            learning_rate: 0.0,
            warmup_epochs: 0,
            patience: 2,
            min_steps: 0,
            ..TrainConfig::default()
        };
        let plain = Device::flex();
        let x: Vec<f32> = (0..40).map(|k| (k % 7) as f32).collect();
        let mut task = Recorder {
            x: Tensor::from_data(TensorData::new(x, [20, 2]), &plain),
            seen: RefCell::new(Vec::new()),
        };
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir {
            root: dir.path().to_path_buf(),
        };
        let header = Header::new("test", &cfg, &"linear", "flex");
        let progress = Progress::hidden();
        let opts = test_options(&cfg, &run, &progress, &header);
        let model = || LinearConfig::new(2, 1).init(&plain.clone().autodiff());
        let first = fit(&mut task, model(), &opts, None).unwrap();
        assert_eq!(first.stop, StopReason::EarlyStopped { epoch: 2 });
        let steps = task.seen.borrow().len();
        let resumed = resume(&run, model(), &cfg).unwrap();
        assert_eq!(
            resumed.state.stopped,
            Some(StopReason::EarlyStopped { epoch: 2 })
        );
        let again = fit(&mut task, model(), &opts, Some(resumed)).unwrap();
        assert_eq!(again.stop, StopReason::EarlyStopped { epoch: 2 });
        assert_eq!(again.history.len(), 3);
        assert_eq!(task.seen.borrow().len(), steps, "no step after resuming");
    }

    #[test]
    fn epoch_seeds_differ_and_are_stable() {
        assert_ne!(mix(42, 0), mix(42, 1));
        assert_ne!(mix(42, 0), mix(43, 0));
        assert_eq!(mix(42, 3), mix(42, 3));
    }
}
