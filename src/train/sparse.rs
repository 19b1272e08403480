//! Sparse (row-wise) updates of embedding tables: lazy Adam.
//!
//! A dense embedding gradient is a `[rows, width]` tensor that is zero except for the rows the
//! batch looked up, and Adam then rewrites every row of the table and both of its moments with
//! several unfused passes. With 50 000 users that made an NCF step cost grow with the number of
//! customers rather than with the batch (see docs/benchmarks.md). Instead, a task can look its
//! rows up through a leaf of the batch's distinct rows ([`SparseRows`]) and the loop updates only
//! those rows of the parameter and of its moments ("lazy Adam", as TensorFlow's `LazyAdam` and
//! PyTorch's `SparseAdam`): a row's moments change only in steps that use the row.
//!
//! The update of a row is Burn's Adam (same β₁, β₂, ε and bias correction, with the step count
//! of the table), the configured weight decay applied to the looked-up rows only (L2 added to
//! the gradient for `adam`, decoupled shrinking for `adamw`), and the configured gradient-norm
//! clip applied to the gradient of the batch's rows.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::{Device, Gradients, IndexingUpdateOp, Int, Tensor, TensorData};

use crate::config::{OptimizerKind, TrainConfig};
use crate::train::StateFile;

/// Rows of one embedding table used by a batch.
pub struct SparseRows {
    /// The table's parameter.
    pub param: ParamId,
    /// Distinct row indices `[u]` (plain device).
    pub rows: Tensor<1, Int>,
    /// `[u, width]`: the rows, as an autodiff leaf that requires its gradient. The forward pass
    /// reads the batch's rows from it (`leaf.select(0, inverse)`), never the table itself.
    pub leaf: Tensor<2>,
}

/// The row indices a batch looks up in one kind of table (e.g. its users), split into distinct
/// rows and, per lookup, the position among them; built once and shared by every table indexed
/// the same way.
#[derive(Clone)]
pub struct SparseIndex {
    /// Distinct row indices `[u]`.
    rows: Tensor<1, Int>,
    /// `[indices.len()]`: for each lookup, its row's position in `rows`.
    inverse: Tensor<1, Int>,
}

impl SparseIndex {
    /// The index of `indices` (row numbers) on `device` (the plain device).
    pub fn new(indices: &[i64], device: &Device) -> Self {
        let (distinct, inverse) = distinct_inverse(indices);
        Self {
            rows: int_tensor(distinct, device),
            inverse: int_tensor(inverse, device),
        }
    }

    /// Looks the indices up in `table` (an autodiff parameter `[rows, width]`) through a leaf of
    /// their distinct rows. Returns the `[indices.len(), width]` rows for the forward pass and
    /// the record the loop updates the table from.
    pub fn lookup(&self, table: &Param<Tensor<2>>) -> (Tensor<2>, SparseRows) {
        let leaf = table
            .val()
            .inner()
            .select(0, self.rows.clone())
            .autodiff()
            .require_grad();
        let batch = leaf.clone().select(0, self.inverse.clone());
        (
            batch,
            SparseRows {
                param: table.id,
                rows: self.rows.clone(),
                leaf,
            },
        )
    }
}

fn int_tensor(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// The distinct values of `v` in order of first appearance, and for each element of `v` its
/// position among them.
pub fn distinct_inverse(v: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let mut slot: HashMap<i64, i64> = HashMap::with_capacity(v.len());
    let mut distinct = Vec::new();
    let inverse = v
        .iter()
        .map(|&x| {
            *slot.entry(x).or_insert_with(|| {
                distinct.push(x);
                distinct.len() as i64 - 1
            })
        })
        .collect();
    (distinct, inverse)
}

/// Adam moments of one table (plain device), created at its first update.
struct Moments {
    m: Tensor<2>,
    v: Tensor<2>,
    time: i32,
}

/// Lazy Adam for the tables a task looks up through [`SparseRows`].
pub struct SparseAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    decoupled: bool,
    clip_norm: f32,
    state: HashMap<ParamId, Moments>,
}

impl SparseAdam {
    /// Burn's `AdamConfig` / `AdamWConfig` defaults (β₁ 0.9, β₂ 0.999, ε 1e-5) with the decay
    /// and clipping of `cfg`.
    pub fn new(cfg: &TrainConfig) -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
            weight_decay: cfg.weight_decay as f32,
            decoupled: cfg.optimizer == OptimizerKind::Adamw,
            clip_norm: cfg.grad_clip_norm as f32,
            state: HashMap::new(),
        }
    }

    /// Tables with moments so far.
    pub fn tables(&self) -> usize {
        self.state.len()
    }

    /// The moments and step counts of every table, for exact resume: tensors `{id}.m` and
    /// `{id}.v` (`id` the table's parameter id) and `{"time": {id: steps}}`.
    pub fn save_state(&self) -> StateFile {
        let mut ids: Vec<&ParamId> = self.state.keys().collect();
        ids.sort_by_key(|id| id.val());
        let time: serde_json::Map<String, serde_json::Value> = ids
            .iter()
            .map(|id| (id.val().to_string(), self.state[*id].time.into()))
            .collect();
        let mut out = StateFile::new(serde_json::json!({ "time": time }));
        for id in ids {
            let m = &self.state[id];
            out = out
                .with_tensor(&format!("{}.m", id.val()), m.m.clone())
                .with_tensor(&format!("{}.v", id.val()), m.v.clone());
        }
        out
    }

    /// Restores what [`SparseAdam::save_state`] saved (the model's parameter ids must be the
    /// saved run's, as `train::resume` makes them).
    pub fn restore_state(&mut self, state: &StateFile, device: &Device) -> Result<(), String> {
        let time = state
            .meta
            .get("time")
            .and_then(|t| t.as_object())
            .ok_or("no `time` table")?;
        self.state.clear();
        for (id, t) in time {
            let steps = t
                .as_i64()
                .and_then(|t| i32::try_from(t).ok())
                .ok_or_else(|| format!("time of {id} is not a step count"))?;
            let key: u64 = id
                .parse()
                .map_err(|_| format!("`{id}` is not a parameter id"))?;
            let m: Tensor<2> = state.tensor(&format!("{id}.m"), device)?;
            let v: Tensor<2> = state.tensor(&format!("{id}.v"), device)?;
            if m.dims() != v.dims() {
                return Err(format!("moments of {id} differ in shape"));
            }
            self.state
                .insert(ParamId::from(key), Moments { m, v, time: steps });
        }
        Ok(())
    }

    /// Updates the rows of every table in `sparse` from their gradients in `grads` (which are
    /// removed from it) with learning rate `lr`. Tables whose leaf got no gradient are left
    /// alone.
    pub fn step<M: Module>(
        &mut self,
        model: M,
        sparse: Vec<SparseRows>,
        grads: &mut Gradients,
        lr: f64,
    ) -> M {
        let mut updates: HashMap<ParamId, (Tensor<1, Int>, Tensor<2>)> = HashMap::new();
        for s in sparse {
            if let Some(g) = s.leaf.grad_remove(grads) {
                // A table looked up twice in one batch (not done today) would need its rows
                // merged first; keep the invariant explicit.
                assert!(
                    updates.insert(s.param, (s.rows, g)).is_none(),
                    "one SparseRows per table and batch"
                );
            }
        }
        if updates.is_empty() {
            return model;
        }
        model.map(&mut RowUpdater {
            adam: self,
            updates,
            lr: lr as f32,
        })
    }

    /// The new table after one lazy Adam step on `rows` with gradient `grad` `[u, width]`.
    fn update(
        &mut self,
        id: ParamId,
        table: Tensor<2>,
        rows: Tensor<1, Int>,
        mut grad: Tensor<2>,
        lr: f32,
    ) -> Tensor<2> {
        let [n, width] = table.dims();
        let device = table.device();
        let moments = self.state.entry(id).or_insert_with(|| Moments {
            m: Tensor::zeros([n, width], &device),
            v: Tensor::zeros([n, width], &device),
            time: 0,
        });
        moments.time += 1;
        let w = table.clone().select(0, rows.clone());
        if self.clip_norm > 0.0 {
            let norm = grad.clone().square().sum().sqrt().into_scalar::<f32>();
            if norm > self.clip_norm {
                grad = grad.mul_scalar(self.clip_norm / norm);
            }
        }
        if self.weight_decay > 0.0 && !self.decoupled {
            grad = grad + w.clone().mul_scalar(self.weight_decay);
        }
        // m ← β₁m + (1−β₁)g and v ← β₂v + (1−β₂)g², written as the increments
        // (1−β₁)(g − m) and (1−β₂)(g² − v) so that every backend can add them in place.
        let m_old = moments.m.clone().select(0, rows.clone());
        let v_old = moments.v.clone().select(0, rows.clone());
        let dm = (grad.clone() - m_old.clone()).mul_scalar(1.0 - self.beta_1);
        let dv = (grad.square() - v_old.clone()).mul_scalar(1.0 - self.beta_2);
        let m = m_old + dm.clone();
        let v = v_old + dv.clone();
        let bc2_sqrt = (1.0 - self.beta_2.powi(moments.time)).sqrt();
        let factor = bc2_sqrt / (1.0 - self.beta_1.powi(moments.time));
        let step = m
            .mul_scalar(factor * lr)
            .div(v.sqrt().add_scalar(self.epsilon * bc2_sqrt));
        let step = if self.weight_decay > 0.0 && self.decoupled {
            step + w.mul_scalar(lr * self.weight_decay)
        } else {
            step
        };
        // In place where the storage is not shared (flex: `select_assign` on a unique tensor).
        let add = |t: &mut Tensor<2>, delta: Tensor<2>| {
            let whole = std::mem::replace(t, Tensor::empty([0, width], &device));
            *t = whole.select_assign(0, rows.clone(), delta, IndexingUpdateOp::Add);
        };
        add(&mut moments.m, dm);
        add(&mut moments.v, dv);
        table.select_assign(0, rows, step.neg(), IndexingUpdateOp::Add)
    }
}

struct RowUpdater<'a> {
    adam: &'a mut SparseAdam,
    updates: HashMap<ParamId, (Tensor<1, Int>, Tensor<2>)>,
    lr: f32,
}

impl ModuleMapper for RowUpdater<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some((rows, grad)) = self.updates.remove(&param.id) else {
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        assert_eq!(D, 2, "sparse rows are for 2-D embedding tables");
        let require_grad = tensor.is_require_grad();
        let table: Tensor<2> = tensor.inner().reshape([dims[0], dims[1]]);
        let table = self.adam.update(id, table, rows, grad, self.lr);
        let mut tensor: Tensor<D> = table.reshape(dims).autodiff();
        if require_grad {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}

#[cfg(test)]
mod tests;
