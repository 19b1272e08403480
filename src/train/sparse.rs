//! Row-wise updates of embedding tables: lazy Adam, and dense Adam in one fused pass.
//!
//! A dense embedding gradient is a `[rows, width]` tensor that is zero except for the rows the
//! batch looked up, and Burn's Adam then rewrites every row of the table and both of its moments
//! with several unfused, allocating passes. With 50 000 users that made an NCF step cost grow
//! with the number of customers rather than with the batch (see docs/benchmarks.md). Instead, a
//! task looks its rows up through a leaf of the batch's distinct rows ([`SparseRows`]), so
//! backward never builds the dense gradient, and the loop updates the table itself, in one of
//! two ways ([`TableAdam`]):
//!
//! - **lazy** (TensorFlow's `LazyAdam`, PyTorch's `SparseAdam`): only the looked-up rows of the
//!   parameter and of its moments change; a row's moments change only in steps that use it;
//! - **dense**: exactly Adam on the dense gradient (every row's moments decay, every row moves
//!   with its momentum), computed in one fused pass over the table, its moments and the batch's
//!   row gradients, in place in host memory (the CPU backends).
//!
//! The update of a row is Burn's Adam (same β₁, β₂, ε and bias correction, with the step count
//! of the table), the configured weight decay (L2 added to the gradient for `adam`, decoupled
//! shrinking for `adamw`; lazy: on the looked-up rows only, dense: on every row), and the
//! configured gradient-norm clip applied to the table's gradient (the batch's rows: the other
//! rows of a dense gradient are zero).

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
    /// How the loop's Adam updates the table from the rows' gradient.
    pub adam: TableAdam,
}

/// How the loop's Adam updates a table looked up through [`SparseRows`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableAdam {
    /// Lazy Adam: only the looked-up rows of the table and of its moments change.
    Lazy,
    /// Adam on the dense gradient (the module optimizer's math): every row's moments decay and
    /// every row moves each step. One fused in-place pass over the table in host memory, so for
    /// the CPU backends; on a GPU, look the table up directly and let the module optimizer
    /// update it.
    Dense,
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
    adam: TableAdam,
}

impl SparseIndex {
    /// The index of `indices` (row numbers) on `device` (the plain device), for tables the
    /// loop updates with `adam`.
    pub fn new(indices: &[i64], adam: TableAdam, device: &Device) -> Self {
        let (distinct, inverse) = distinct_inverse(indices);
        Self {
            rows: int_tensor(distinct, device),
            inverse: int_tensor(inverse, device),
            adam,
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
                adam: self.adam,
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

/// Adam for the tables a task looks up through [`SparseRows`], lazy or dense ([`TableAdam`]).
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
        let mut updates: HashMap<ParamId, TableGrad> = HashMap::new();
        for s in sparse {
            if let Some(grad) = s.leaf.grad_remove(grads) {
                let update = TableGrad {
                    rows: s.rows,
                    grad,
                    adam: s.adam,
                };
                // A table looked up twice in one batch (not done today) would need its rows
                // merged first; keep the invariant explicit.
                assert!(
                    updates.insert(s.param, update).is_none(),
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

    /// The table's moments, created (zero) at its first update, with the step count advanced.
    fn moments(&mut self, id: ParamId, table: &Tensor<2>) -> &mut Moments {
        let device = table.device();
        let moments = self.state.entry(id).or_insert_with(|| Moments {
            m: Tensor::zeros(table.dims(), &device),
            v: Tensor::zeros(table.dims(), &device),
            time: 0,
        });
        moments.time += 1;
        moments
    }

    /// The new table after one Adam step from the gradient of its rows `update.rows`.
    fn update(&mut self, id: ParamId, table: Tensor<2>, update: TableGrad, lr: f32) -> Tensor<2> {
        match update.adam {
            TableAdam::Lazy => self.lazy_update(id, table, update.rows, update.grad, lr),
            TableAdam::Dense => self.dense_update(id, table, update.rows, update.grad, lr),
        }
    }

    /// The new table after one lazy Adam step on `rows` with gradient `grad` `[u, width]`.
    fn lazy_update(
        &mut self,
        id: ParamId,
        table: Tensor<2>,
        rows: Tensor<1, Int>,
        mut grad: Tensor<2>,
        lr: f32,
    ) -> Tensor<2> {
        let [_, width] = table.dims();
        let device = table.device();
        let (beta_1, beta_2, epsilon) = (self.beta_1, self.beta_2, self.epsilon);
        let (weight_decay, decoupled, clip_norm) =
            (self.weight_decay, self.decoupled, self.clip_norm);
        let moments = self.moments(id, &table);
        let w = table.clone().select(0, rows.clone());
        if clip_norm > 0.0 {
            let norm = grad.clone().square().sum().sqrt().into_scalar::<f32>();
            if norm > clip_norm {
                grad = grad.mul_scalar(clip_norm / norm);
            }
        }
        if weight_decay > 0.0 && !decoupled {
            grad = grad + w.clone().mul_scalar(weight_decay);
        }
        // m ← β₁m + (1−β₁)g and v ← β₂v + (1−β₂)g², written as the increments
        // (1−β₁)(g − m) and (1−β₂)(g² − v) so that every backend can add them in place.
        let m_old = moments.m.clone().select(0, rows.clone());
        let v_old = moments.v.clone().select(0, rows.clone());
        let dm = (grad.clone() - m_old.clone()).mul_scalar(1.0 - beta_1);
        let dv = (grad.square() - v_old.clone()).mul_scalar(1.0 - beta_2);
        let m = m_old + dm.clone();
        let v = v_old + dv.clone();
        let bc2_sqrt = (1.0 - beta_2.powi(moments.time)).sqrt();
        let factor = bc2_sqrt / (1.0 - beta_1.powi(moments.time));
        let step = m
            .mul_scalar(factor * lr)
            .div(v.sqrt().add_scalar(epsilon * bc2_sqrt));
        let step = if weight_decay > 0.0 && decoupled {
            step + w.mul_scalar(lr * weight_decay)
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

    /// The new table after one dense Adam step: the gradient is `grad` `[u, width]` on `rows`
    /// and zero elsewhere. One fused pass over the table and its moments, in place (the CPU
    /// backends hand their storage over without a copy when nothing else holds it).
    fn dense_update(
        &mut self,
        id: ParamId,
        table: Tensor<2>,
        rows: Tensor<1, Int>,
        grad: Tensor<2>,
        lr: f32,
    ) -> Tensor<2> {
        let [n, width] = table.dims();
        let device = table.device();
        let rows: Vec<i64> = rows.into_data().iter::<i64>().collect();
        let mut grad = grad
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32 embedding gradients");
        if self.clip_norm > 0.0 {
            let norm = grad.iter().map(|&g| g * g).sum::<f32>().sqrt();
            if norm > self.clip_norm {
                let scale = self.clip_norm / norm;
                grad.iter_mut().for_each(|g| *g *= scale);
            }
        }
        // For each table row, its position among the batch's rows (NONE: no gradient).
        let mut slot = vec![NONE; n];
        for (j, &r) in rows.iter().enumerate() {
            slot[r as usize] = j as u32;
        }
        let moments = self.moments(id, &table);
        let time = moments.time;
        let bc2_sqrt = (1.0 - self.beta_2.powi(time)).sqrt();
        let k = AdamCoefficients {
            keep_1: 1.0 - self.beta_1,
            keep_2: 1.0 - self.beta_2,
            step: lr * bc2_sqrt / (1.0 - self.beta_1.powi(time)),
            epsilon: self.epsilon * bc2_sqrt,
            l2: if self.decoupled {
                0.0
            } else {
                self.weight_decay
            },
            shrink: if self.decoupled {
                lr * self.weight_decay
            } else {
                0.0
            },
        };
        let take = |t: &mut Tensor<2>| std::mem::replace(t, Tensor::empty([0, width], &device));
        let moments = self.state.get_mut(&id).expect("moments were just made");
        let mut p = table.into_data();
        let mut m = take(&mut moments.m).into_data();
        let mut v = take(&mut moments.v).into_data();
        {
            let f32s = "f32 embedding tables and moments";
            let (p, m, v) = (
                p.as_mut_slice::<f32>().expect(f32s),
                m.as_mut_slice::<f32>().expect(f32s),
                v.as_mut_slice::<f32>().expect(f32s),
            );
            let update = |first: usize, p: &mut [f32], m: &mut [f32], v: &mut [f32]| {
                let rows = Rows {
                    slot: &slot[first..],
                    grad: &grad,
                    width,
                };
                k.rows(&rows, p, m, v);
            };
            // Split the rows over every core (unless the user limited the threads): the pass is
            // bound by memory and by sqrt/div throughput, not by the hand-offs that make
            // training keep one core free.
            let parts = crate::backend::host_pass_threads()
                .min((n * width).div_ceil(MIN_PART_ELEMENTS))
                .max(1);
            let rows = n.div_ceil(parts);
            std::thread::scope(|scope| {
                let parts = p
                    .chunks_mut(rows * width)
                    .zip(m.chunks_mut(rows * width))
                    .zip(v.chunks_mut(rows * width))
                    .enumerate();
                let mut mine = None;
                for (i, ((p, m), v)) in parts {
                    if i == 0 {
                        mine = Some((p, m, v));
                    } else {
                        let update = &update;
                        scope.spawn(move || update(i * rows, p, m, v));
                    }
                }
                if let Some((p, m, v)) = mine {
                    update(0, p, m, v);
                }
            });
        }
        moments.m = Tensor::from_data(m, &device);
        moments.v = Tensor::from_data(v, &device);
        Tensor::from_data(p, &device)
    }
}

/// Moments of the dense pass below this become zero: what they add to a parameter's step is at
/// most `lr · 1e-30 / ((1 − β₁) ε)` ≈ `lr · 1e-24`, far below the resolution of an f32
/// parameter, while keeping them lets the pass run into subnormal arithmetic.
const MOMENT_FLOOR: f32 = 1e-30;

/// No gradient row (see [`SparseAdam::dense_update`]).
const NONE: u32 = u32::MAX;

/// The dense pass gives each thread at least this many elements of the table (about 0.3 ms of
/// work; starting a thread costs tens of µs).
const MIN_PART_ELEMENTS: usize = 1 << 19;

/// One dense Adam step's coefficients, for the update of a row `p` with moments `m`, `v`:
/// `g ← g + l2·p`, `m ← m + keep_1·(g − m)`, `v ← v + keep_2·(g² − v)`,
/// `p ← p − step·m / (√v + epsilon) − shrink·p`. That is Burn's Adam (`m̂ / (√v̂ + ε)` with
/// `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`) with the bias corrections folded into `step` and
/// `epsilon`, the L2 decay of `adam` and the decoupled decay of `adamw` (one of them zero).
struct AdamCoefficients {
    keep_1: f32,
    keep_2: f32,
    step: f32,
    epsilon: f32,
    l2: f32,
    shrink: f32,
}

/// The rows of a table part: for each, its position among the batch's rows (`slot`, [`NONE`]
/// when it has no gradient), and the batch's row gradients `[u, width]`.
struct Rows<'a> {
    slot: &'a [u32],
    grad: &'a [f32],
    width: usize,
}

impl AdamCoefficients {
    /// Updates the rows `p`, `m`, `v` (`[rows, width]` each) with the widest vectors the CPU
    /// has. Every element is computed by the same operations in the same order, each rounded
    /// exactly by IEEE 754 (no fused multiply-add), so the results are identical on every path.
    fn rows(&self, rows: &Rows, p: &mut [f32], m: &mut [f32], v: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                return unsafe { self.rows_avx512(rows, p, m, v) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { self.rows_avx2(rows, p, m, v) };
            }
        }
        self.rows_portable(rows, p, m, v)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn rows_avx512(&self, rows: &Rows, p: &mut [f32], m: &mut [f32], v: &mut [f32]) {
        self.rows_portable(rows, p, m, v)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn rows_avx2(&self, rows: &Rows, p: &mut [f32], m: &mut [f32], v: &mut [f32]) {
        self.rows_portable(rows, p, m, v)
    }

    #[inline(always)]
    fn rows_portable(&self, rows: &Rows, p: &mut [f32], m: &mut [f32], v: &mut [f32]) {
        let w = rows.width;
        let parts = p
            .chunks_exact_mut(w)
            .zip(m.chunks_exact_mut(w))
            .zip(v.chunks_exact_mut(w));
        for (((p, m), v), &slot) in parts.zip(rows.slot) {
            match slot {
                NONE => self.row_without_gradient(p, m, v),
                j => {
                    let j = j as usize * w;
                    self.row(p, m, v, &rows.grad[j..j + w]);
                }
            }
        }
    }

    #[inline(always)]
    fn row(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
            self.element(p, m, v, g);
        }
    }

    #[inline(always)]
    fn row_without_gradient(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32]) {
        for ((p, m), v) in p.iter_mut().zip(m).zip(v) {
            self.element(p, m, v, 0.0);
        }
    }

    /// Moments below [`MOMENT_FLOOR`] become zero. The moments of rows a batch rarely uses decay
    /// by β₁ and β₂ every step; once they, or the terms computed from them, reach f32's
    /// subnormal range (< 1.2e-38), every operation on them takes a slow microcode path on x86
    /// and the pass ran twice as long. Written as selects on registers so that it vectorizes.
    #[inline(always)]
    fn element(&self, p: &mut f32, m: &mut f32, v: &mut f32, g: f32) {
        let g = g + self.l2 * *p;
        let m_new = *m + self.keep_1 * (g - *m);
        let v_new = *v + self.keep_2 * (g * g - *v);
        let m_new = if m_new.abs() < MOMENT_FLOOR {
            0.0
        } else {
            m_new
        };
        let v_new = if v_new < MOMENT_FLOOR { 0.0 } else { v_new };
        *m = m_new;
        *v = v_new;
        *p -= self.step * m_new / (v_new.sqrt() + self.epsilon) + self.shrink * *p;
    }
}

/// The gradient of one table's rows in one step.
struct TableGrad {
    rows: Tensor<1, Int>,
    grad: Tensor<2>,
    adam: TableAdam,
}

struct RowUpdater<'a> {
    adam: &'a mut SparseAdam,
    updates: HashMap<ParamId, TableGrad>,
    lr: f32,
}

impl ModuleMapper for RowUpdater<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(update) = self.updates.remove(&param.id) else {
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        assert_eq!(D, 2, "sparse rows are for 2-D embedding tables");
        let require_grad = tensor.is_require_grad();
        let table: Tensor<2> = tensor.inner().reshape([dims[0], dims[1]]);
        let table = self.adam.update(id, table, update, self.lr);
        let mut tensor: Tensor<D> = table.reshape(dims).autodiff();
        if require_grad {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}

#[cfg(test)]
mod tests;
