//! The streaming decision loop, independent of the transport: events of one partition in offset
//! order → per-customer windows → re-scored customers → decision events when a customer's
//! segment or best offer changes.
//!
//! **Batches.** Customers touched by events are re-scored together when a batch closes: after
//! the event whose offset `o` has `(o + 1) % batch_events == 0`, or when the input goes idle. The
//! boundaries at multiples of `batch_events` depend on the offsets only, so a partition replayed
//! from a snapshot closes the same batches and emits the same decisions with the same ids.
//!
//! **Decision ids.** `customer_id@partition:offset`, the offset being the last event of the
//! batch. A decision re-emitted after a crash (produced, but its snapshot not yet written) has
//! the same id and content, so consumers deduplicate by id (or compact the topic by key).
//!
//! **Snapshots.** Once the decisions emitted so far are delivered, the partition's state (its
//! windows, the open batch, each customer's last decision, the next offset) is written
//! atomically to `<state_dir>/<topic>-<partition>.json`; a restarted process, or the process a
//! partition moves to, resumes from it. Without a snapshot a partition is replayed from its
//! first offset.
//!
//! **Online contact policy.** With a contact policy in the bundle (`policy/`), `offer_response`
//! events update it online: a response is held until its batch closes, then the customer's
//! context (their features at the watermark, the offer's category) and the response update the
//! partition's copy of the policy (Bayesian ridge, one rank-one update per response, in offset
//! order), and the decisions the batch emits carry the best offer's contact under the updated
//! policy. Each partition learns from its own responses only, so its policy moves with it: the
//! snapshot keeps the updates (arm, context, reward) since the bundle, replayed onto the bundle's
//! policy when the partition is resumed. Once [`POLICY_COMPACT_AFTER`] updates have accumulated,
//! a snapshot folds them into a base file instead (the policy's state, `<topic>-<partition>.policy-
//! <updates folded>.safetensors`), so neither the snapshot nor the replay at resume grows with
//! the responses. A new bundle (hot swap) replaces the learned policy.
//!
//! **Drift.** Each customer's last decision keeps the bins of the features it was scored with
//! ([`crate::drift`]); the population stability index of the customers a process holds (their
//! latest features and segments) against the DEC training rows is written as one JSON line to
//! `--drift-output` every `--drift-every-batches` batches and at exit, and logged as a warning
//! when it alerts.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::events::{EventError, Record, Response, parse_record};
use super::features::{EVENT_COLUMNS, FeatureStore, Pushed};
use crate::data::reader::{CsvBatches, OnBadRow, ReadOptions};
use crate::data::writer::csv_field;
use crate::drift::{DriftCounts, DriftReport, FeaturePsi};
use crate::models::policy::linear::Policy;
use crate::scoring::{Decider, Decision};

/// The customer table the events complete: every column but the event-derived ones comes from
/// here (demographics, plan, contract, ...), read and checked once at start.
pub struct Profiles {
    header: Vec<String>,
    /// Position in `header` of each [`EVENT_COLUMNS`] entry the table has.
    event_cols: Vec<(usize, usize)>,
    rows: HashMap<String, Vec<String>>,
}

impl Profiles {
    /// Reads `path` (CSV) and checks every row against the decider's schema.
    pub fn read(path: &Path, decider: &Decider) -> anyhow::Result<Profiles> {
        // The schema's rules first (clear file:line:column errors), then the raw cells.
        let opts = ReadOptions {
            on_bad_row: OnBadRow::Error,
        };
        let mut check = CsvBatches::open(path, decider.schema(), &opts)?;
        while check.next_batch(65_536)?.is_some() {}
        let mut rdr = csv::Reader::from_path(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let header: Vec<String> = rdr.headers()?.iter().map(str::to_string).collect();
        let id_name = &decider.schema().id_column().name;
        let id_col = header
            .iter()
            .position(|h| h == id_name)
            .ok_or_else(|| anyhow::anyhow!("{}: no id column", path.display()))?;
        let event_cols = EVENT_COLUMNS
            .iter()
            .enumerate()
            .filter_map(|(j, name)| header.iter().position(|h| h == name).map(|p| (j, p)))
            .collect();
        let mut rows = HashMap::new();
        for r in rdr.records() {
            let r = r?;
            let cells: Vec<String> = r.iter().map(str::to_string).collect();
            rows.insert(cells[id_col].clone(), cells);
        }
        Ok(Profiles {
            header,
            event_cols,
            rows,
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A customer's last emitted decision, what a new one is compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Last {
    pub segment: usize,
    pub best_offer: Option<String>,
    /// The drift bins of the features the customer was last scored with (empty without a
    /// drift reference, and in snapshots from before drift).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bins: Vec<u16>,
}

impl Last {
    /// Whether a decision would report a change from `self` to `now`.
    fn same_decision(&self, now: &Last) -> bool {
        self.segment == now.segment && self.best_offer == now.best_offer
    }
}

/// The state of one partition: windows, last decisions, progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartitionState {
    /// The next offset to process: every event before it is in `store`.
    pub next_offset: i64,
    pub store: FeatureStore,
    pub last: HashMap<String, Last>,
    /// Customers touched since the last batch closed (sorted: deterministic order). Saved with
    /// the snapshot, so a batch open at a snapshot closes after a restart as it would have.
    pub dirty: BTreeSet<String>,
    /// Offset of the last event folded in (the id of the batch being built).
    pub last_offset: i64,
    /// Offer responses of the open batch, in offset order (applied when it closes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<Response>,
    /// Every update of this partition's contact policy since the bundle, in order: replayed onto
    /// the bundle's policy when the partition is resumed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_updates: Vec<PolicyUpdate>,
    /// The fingerprint of the trained policy `policy_updates` were made on: updates of another
    /// policy (the bundle was replaced) are dropped, the new policy being the new prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_of: Option<u64>,
    /// Updates folded into the base file `<topic>-<partition>.policy-<N>.safetensors` (the
    /// policy's state after them), which `policy_updates` continue: see [`PartitionState::save`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_folded: Option<u64>,
    /// The base file's state, read with the snapshot and consumed when the policy is built from
    /// it (a running partition's policy holds it already: no second copy is kept).
    #[serde(skip)]
    pub policy_base: Option<HashMap<String, Vec<f64>>>,
    /// A base file dropped with its policy (a new bundle): removed by the next snapshot, which
    /// no longer names it.
    #[serde(skip)]
    pub stale_base: Option<u64>,
    /// The partition's contact policy: the trained policy `policy_of` with the base state and
    /// `policy_updates` applied (rebuilt when absent).
    #[serde(skip)]
    pub policy: Option<Policy>,
}

/// A snapshot folds the partition's policy updates into a base file once this many have
/// accumulated. An update is one context (about 1 KB of JSON for the default policy) replayed at
/// resume in about 1 ms; a base file is the policy's state (8 MB for the default policy's 1,034
/// coefficients), written once per this many responses.
pub const POLICY_COMPACT_AFTER: usize = 1000;

/// One online update of a contact policy: arm `arm` was played in context `x` (stored at f32,
/// the precision it was applied at) and returned `reward`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyUpdate {
    pub arm: usize,
    pub x: Vec<f32>,
    pub reward: f32,
}

impl PolicyUpdate {
    fn apply(&self, policy: &mut Policy) {
        let x: Vec<f64> = self.x.iter().map(|&v| f64::from(v)).collect();
        policy.models.update(self.arm, &x, f64::from(self.reward));
    }
}

impl PartitionState {
    pub fn new(lateness: i64) -> PartitionState {
        PartitionState {
            next_offset: 0,
            store: FeatureStore::new(lateness),
            last: HashMap::new(),
            dirty: BTreeSet::new(),
            last_offset: -1,
            responses: Vec::new(),
            policy_updates: Vec::new(),
            policy_of: None,
            policy_folded: None,
            policy_base: None,
            stale_base: None,
            policy: None,
        }
    }

    /// The snapshot file of `topic`'s `partition` in `dir`.
    pub fn path(dir: &Path, topic: &str, partition: i32) -> PathBuf {
        dir.join(format!("{topic}-{partition}.json"))
    }

    /// The policy base file of `topic`'s `partition` in `dir` with `folded` updates.
    pub fn policy_path(dir: &Path, topic: &str, partition: i32, folded: u64) -> PathBuf {
        dir.join(format!("{topic}-{partition}.policy-{folded}.safetensors"))
    }

    /// The snapshot in `dir` (with its policy base file, when it has one), or a fresh state when
    /// there is none.
    pub fn load(dir: &Path, topic: &str, partition: i32, lateness: i64) -> anyhow::Result<Self> {
        let path = Self::path(dir, topic, partition);
        let mut st: Self = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("{}: not a stream state snapshot: {e}", path.display())
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::new(lateness)),
            Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        };
        if let Some(folded) = st.policy_folded {
            let base = Self::policy_path(dir, topic, partition, folded);
            st.policy_base = Some(read_policy_base(&base).map_err(|e| {
                anyhow::anyhow!(
                    "{} (named by the snapshot {}): {e}",
                    base.display(),
                    path.display()
                )
            })?);
        }
        Ok(st)
    }

    /// Writes the snapshot atomically (a reader never sees half a file). With at least
    /// `compact_after` policy updates (and the policy built), the updates are folded first: the
    /// policy's state goes to a new base file, the snapshot names it and keeps no updates, and
    /// the previous base file is removed once the snapshot naming the new one is written (a crash
    /// in between leaves the old snapshot with the files it names).
    pub fn save(
        &mut self,
        dir: &Path,
        topic: &str,
        partition: i32,
        compact_after: usize,
    ) -> anyhow::Result<()> {
        let previous = self.policy_folded;
        if self.policy_updates.len() >= compact_after.max(1)
            && let Some(policy) = &self.policy
        {
            let folded = previous.unwrap_or(0) + self.policy_updates.len() as u64;
            write_policy_base(
                &Self::policy_path(dir, topic, partition, folded),
                &policy.models.state(),
            )?;
            tracing::info!(
                partition,
                updates = self.policy_updates.len(),
                folded,
                "contact-policy updates folded into a base file"
            );
            self.policy_folded = Some(folded);
            self.policy_updates.clear();
        }
        let bytes = serde_json::to_vec(self)?;
        crate::checkpoint::write_atomic(&Self::path(dir, topic, partition), &bytes)?;
        for old in [previous, self.stale_base.take()].into_iter().flatten() {
            if self.policy_folded != Some(old) {
                let _ = std::fs::remove_file(Self::policy_path(dir, topic, partition, old));
            }
        }
        Ok(())
    }

    /// The partition's contact policy: `trained` (whose fingerprint is `fingerprint`) with the
    /// base state and the updates replayed, built when absent. A base and updates made on
    /// another trained policy (the bundle was replaced, by a hot swap or while the process was
    /// down) are dropped: the new policy replaces what was learned online.
    pub fn policy_on(&mut self, trained: &Policy, fingerprint: u64) -> anyhow::Result<&mut Policy> {
        if self.policy_of != Some(fingerprint) {
            if !self.policy_updates.is_empty() || self.policy_folded.is_some() {
                tracing::info!(
                    updates = self.policy_folded.unwrap_or(0) + self.policy_updates.len() as u64,
                    "a new contact policy: the online updates of the previous one are dropped"
                );
            }
            self.policy_updates.clear();
            if let Some(folded) = self.policy_folded.take() {
                self.stale_base = Some(folded);
            }
            self.policy_base = None;
            self.policy_of = Some(fingerprint);
            self.policy = None;
        }
        if self.policy.is_none() {
            let mut policy = trained.clone();
            if let Some(base) = self.policy_base.take() {
                policy.models.set_state(&base).map_err(|rule| {
                    anyhow::anyhow!(
                        "the snapshot's policy base file does not fit the policy: {rule}"
                    )
                })?;
            }
            self.policy_updates
                .iter()
                .for_each(|u| u.apply(&mut policy));
            self.policy = Some(policy);
        }
        Ok(self.policy.as_mut().expect("built above"))
    }
}

/// Writes a policy state (`RewardModel::state`) as f64 tensors of a safetensors file, atomically.
fn write_policy_base(path: &Path, state: &[(&str, Vec<f64>)]) -> anyhow::Result<()> {
    use safetensors::tensor::TensorView;
    let bytes: Vec<(&str, Vec<u8>, usize)> = state
        .iter()
        .map(|(name, v)| {
            (
                *name,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                v.len(),
            )
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, b, n)| {
            Ok((
                *name,
                TensorView::new(safetensors::Dtype::F64, vec![*n], b)?,
            ))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let out = safetensors::serialize(views, None)?;
    crate::checkpoint::write_atomic(path, &out)?;
    Ok(())
}

/// Reads a file of [`write_policy_base`].
fn read_policy_base(path: &Path) -> anyhow::Result<HashMap<String, Vec<f64>>> {
    let bytes = std::fs::read(path)?;
    let st = safetensors::SafeTensors::deserialize(&bytes)?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::Dtype::F64 {
            anyhow::bail!("tensor `{name}` is {:?}, not F64", view.dtype());
        }
        let values = view
            .data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        out.insert(name, values);
    }
    Ok(out)
}

/// One decision event (JSON on the output topic or file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamDecision {
    /// `customer_id@partition:offset`: the same for a decision re-emitted after a restart.
    pub decision_id: String,
    pub partition: i32,
    /// The last input offset folded into this decision.
    pub offset: i64,
    /// The event time the features were evaluated at (the partition's watermark).
    pub event_time: i64,
    /// `first`, `segment`, `offer` or `segment+offer`: what changed.
    pub change: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_segment: Option<usize>,
    /// Which load of the bundle decided (1, then +1 per hot reload).
    pub bundle_generation: u64,
    #[serde(flatten)]
    pub decision: Decision,
}

/// What happened to an input record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// Folded in; the batch is still open.
    Open,
    /// Folded in and the batch closed: call [`Processor::close_batch`].
    BatchFull,
    /// Before the state's next offset (already folded in before a restart): ignored.
    Replayed,
    /// Dropped: late, bad or of a customer without a profile (counted in [`Stats`]).
    Dropped,
}

/// Counters of a stream run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub events: u64,
    pub late: u64,
    pub bad: u64,
    pub unknown_customers: u64,
    pub rescored: u64,
    pub decisions: u64,
    pub batches: u64,
    /// Offer responses read, and the contact-policy updates made from them (responses of a
    /// bundle without a contact policy update nothing).
    pub responses: u64,
    pub policy_updates: u64,
    /// Drift of the customers held at the end, when the bundle has a drift reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_segment_psi: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_max_feature: Option<FeaturePsi>,
    /// What was above the threshold at the end (`segments`, feature names).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift_alerts: Vec<String>,
    /// Drift reports written, and how many of them alerted.
    pub drift_reports: u64,
    pub drift_reports_alerting: u64,
}

/// Where and how often the stream reports drift.
#[derive(Debug, Clone)]
pub struct DriftOutput {
    /// JSON lines appended here (none: the warning and the final counters only).
    pub path: Option<PathBuf>,
    /// PSI above which drift alerts.
    pub alert: f64,
    /// A report after every this many batches (and one at exit).
    pub every_batches: u64,
}

impl Default for DriftOutput {
    fn default() -> Self {
        DriftOutput {
            path: None,
            alert: crate::drift::DEFAULT_ALERT,
            every_batches: 100,
        }
    }
}

/// One line of `--drift-output`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriftLine {
    /// The newest event time among the partitions reported.
    pub event_time: i64,
    /// Batches closed so far by this process.
    pub batches: u64,
    pub partitions: Vec<i32>,
    pub bundle_generation: u64,
    pub drift: DriftReport,
}

/// The decision loop's logic: a loaded bundle, the profiles, the batch size.
pub struct Processor {
    pub decider: Decider,
    pub generation: u64,
    pub profiles: Profiles,
    pub batch_events: i64,
    pub skip_bad: bool,
    pub stats: Stats,
    pub drift: DriftOutput,
    /// `stats.batches` at the last drift report.
    pub reported_at: u64,
}

impl Processor {
    /// Folds the record at `offset` of a partition into its state.
    pub fn feed(
        &mut self,
        st: &mut PartitionState,
        offset: i64,
        payload: &[u8],
        source: &str,
    ) -> Result<Fed, EventError> {
        if offset < st.next_offset {
            return Ok(Fed::Replayed);
        }
        st.next_offset = offset + 1;
        st.last_offset = offset;
        self.stats.events += 1;
        let boundary = (offset + 1) % self.batch_events == 0;
        let full = |d: bool| match (boundary, d) {
            (true, _) => Fed::BatchFull,
            (false, true) => Fed::Dropped,
            (false, false) => Fed::Open,
        };
        let bad = |e: EventError, stats: &mut Stats| {
            if self.skip_bad {
                stats.bad += 1;
                tracing::warn!(error = %e, "bad event skipped");
                Ok(full(true))
            } else {
                Err(e)
            }
        };
        let event = match parse_record(payload, source, offset as u64) {
            Ok(Record::Usage(e)) => e,
            Ok(Record::Response(r)) => {
                self.stats.responses += 1;
                if !self.profiles.rows.contains_key(&r.customer_id) {
                    self.stats.unknown_customers += 1;
                    return Ok(full(true));
                }
                let Some(policy) = &self.decider.policy else {
                    return Ok(full(true)); // nothing learns from it
                };
                if policy.arm_index(&r.arm).is_none() {
                    let e = EventError {
                        source_name: source.to_string(),
                        line: offset as u64,
                        message: format!(
                            "offer_response arm {:?} is not one of the contact policy's {} arms",
                            r.arm,
                            policy.arch.arms.len()
                        ),
                    };
                    return bad(e, &mut self.stats);
                }
                st.dirty.insert(r.customer_id.clone());
                st.responses.push(r);
                return Ok(full(false));
            }
            Err(e) => return bad(e, &mut self.stats),
        };
        if !self.profiles.rows.contains_key(&event.customer_id) {
            self.stats.unknown_customers += 1;
            return Ok(full(true));
        }
        match st.store.push(&event) {
            Pushed::Late => {
                self.stats.late += 1;
                Ok(full(true))
            }
            Pushed::Applied | Pushed::Expired => {
                st.dirty.insert(event.customer_id);
                Ok(full(false))
            }
        }
    }

    /// Closes the open batch of `partition`: re-scores its touched customers at the watermark
    /// and returns the decisions that changed (segment or best offer), updating `st.last`.
    pub fn close_batch(
        &mut self,
        st: &mut PartitionState,
        partition: i32,
    ) -> anyhow::Result<Vec<StreamDecision>> {
        if st.dirty.is_empty() {
            return Ok(Vec::new());
        }
        self.stats.batches += 1;
        let at = st.store.watermark();
        let ids: Vec<String> = std::mem::take(&mut st.dirty).into_iter().collect();
        let mut csv = Vec::with_capacity(ids.len() * 256);
        let header: Vec<String> = self.profiles.header.iter().map(|h| csv_field(h)).collect();
        csv.extend_from_slice(header.join(",").as_bytes());
        csv.push(b'\n');
        for id in &ids {
            let mut cells = self.profiles.rows[id].clone();
            let features = st.store.features(id, at).cells();
            for &(j, p) in &self.profiles.event_cols {
                cells[p] = features[j].1.clone();
            }
            let cells: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
            csv.extend_from_slice(cells.join(",").as_bytes());
            csv.push(b'\n');
        }
        let opts = ReadOptions {
            on_bad_row: OnBadRow::Error,
        };
        let mut rows = CsvBatches::from_reader(
            csv.as_slice(),
            "stream features",
            self.decider.schema(),
            &opts,
        )?;
        let table = rows.next_batch(usize::MAX)?.expect("at least one customer");
        // Every touched customer is re-scored without SHAP reasons and take-up (the costly
        // parts); only the decisions emitted are completed, below.
        let scored = self.decider.score_core(&table)?;
        self.stats.rescored += ids.len() as u64;
        self.learn(st, &table, &ids)?;
        let mut bins = match &self.decider.drift {
            Some(r) => Some(r.bin_rows(&table, &(0..table.n_rows()).collect::<Vec<_>>())?),
            None => None,
        };
        let mut out = Vec::new();
        let mut rows = Vec::new();
        for (row, decision) in self
            .decider
            .decisions(&table, &scored)
            .into_iter()
            .enumerate()
        {
            let best = decision
                .offers
                .as_ref()
                .and_then(|o| o.first())
                .map(|o| o.offer_id.clone());
            let now = Last {
                segment: decision.segment,
                best_offer: best,
                bins: bins
                    .as_mut()
                    .map(|b| std::mem::take(&mut b[row]))
                    .unwrap_or_default(),
            };
            let previous = st.last.get_mut(&decision.customer_id);
            if let Some(p) = previous
                && p.same_decision(&now)
            {
                // No decision, but the drift counts see the customer's new features.
                p.bins = now.bins;
                continue;
            }
            let previous = st.last.get(&decision.customer_id);
            let change = match previous {
                None => "first",
                Some(p) if p.segment != now.segment && p.best_offer != now.best_offer => {
                    "segment+offer"
                }
                Some(p) if p.segment != now.segment => "segment",
                Some(_) => "offer",
            };
            out.push(StreamDecision {
                decision_id: format!("{}@{partition}:{}", decision.customer_id, st.last_offset),
                partition,
                offset: st.last_offset,
                event_time: at,
                change: change.to_string(),
                previous_segment: previous.map(|p| p.segment),
                bundle_generation: self.generation,
                decision: decision.clone(),
            });
            rows.push(row);
            st.last.insert(decision.customer_id, now);
        }
        let mut emitted: Vec<Decision> = out.iter().map(|d| d.decision.clone()).collect();
        self.decider.explain(&table, &rows, &mut emitted)?;
        if self.decider.policy.is_some() && self.decider.offers.is_some() {
            let best: Vec<Option<String>> = emitted
                .iter()
                .map(|d| {
                    d.offers
                        .as_ref()
                        .and_then(|o| o.first())
                        .map(|o| o.offer_id.clone())
                })
                .collect();
            let policy = self.partition_policy(st)?.expect("the bundle has a policy");
            let contacts = self.decider.contacts(&table, &rows, &best, policy)?;
            for (d, c) in emitted.iter_mut().zip(contacts) {
                d.contact = c;
            }
        }
        for (d, e) in out.iter_mut().zip(emitted) {
            d.decision = e;
        }
        self.stats.decisions += out.len() as u64;
        Ok(out)
    }

    /// The partition's contact policy ([`PartitionState::policy_on`] the bundle's); `None`
    /// without a contact policy.
    pub fn partition_policy<'s>(
        &self,
        st: &'s mut PartitionState,
    ) -> anyhow::Result<Option<&'s mut Policy>> {
        match self.decider.policy.as_ref() {
            Some(model) => Ok(Some(st.policy_on(&model.policy, model.fingerprint)?)),
            None => Ok(None),
        }
    }

    /// Applies the open batch's offer responses to the partition's contact policy, in offset
    /// order, each with the customer's context in `table` (rows in `ids` order).
    fn learn(
        &mut self,
        st: &mut PartitionState,
        table: &crate::data::table::RawTable,
        ids: &[String],
    ) -> anyhow::Result<()> {
        let responses = std::mem::take(&mut st.responses);
        let Some(model) = &self.decider.policy else {
            return Ok(());
        };
        if responses.is_empty() {
            return Ok(());
        }
        let row_of: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let rows: Vec<usize> = responses
            .iter()
            .map(|r| row_of[r.customer_id.as_str()])
            .collect();
        let features = model.preprocessor.transform_rows(table, &rows)?;
        let updates: Vec<PolicyUpdate> = responses
            .iter()
            .enumerate()
            .map(|(k, r)| PolicyUpdate {
                arm: model.arm_index(&r.arm).expect("checked when read"),
                x: model
                    .context(features.row(k), &r.offer_id)
                    .iter()
                    .map(|&v| v as f32)
                    .collect(),
                reward: f32::from(u8::from(r.accepted)),
            })
            .collect();
        let policy = self.partition_policy(st)?.expect("the bundle has a policy");
        updates.iter().for_each(|u| u.apply(policy));
        self.stats.policy_updates += updates.len() as u64;
        st.policy_updates.extend(updates);
        Ok(())
    }

    /// The drift of the customers in `states` (their latest bins and segments); `None` without
    /// a drift reference.
    pub fn drift_report<'a>(
        &self,
        states: impl IntoIterator<Item = &'a PartitionState>,
    ) -> Option<DriftReport> {
        let reference = self.decider.drift.as_ref()?;
        let mut counts: DriftCounts = reference.counts();
        let k = reference.segments.len();
        for st in states {
            for last in st.last.values() {
                // Customers decided by a bundle with other features or segments (before a
                // reload) count once they are re-scored.
                if last.bins.len() == reference.features.len() && last.segment < k {
                    counts.add(last.segment, &last.bins);
                }
            }
        }
        Some(reference.report(&counts, self.drift.alert))
    }

    /// Reports drift when `--drift-every-batches` more batches have closed since the last
    /// report, or with `force` (at exit) unless the last report was at this batch: appends a
    /// [`DriftLine`], warns if it alerts and keeps the latest figures in [`Stats`].
    pub fn maybe_report_drift<'a>(
        &mut self,
        states: impl IntoIterator<Item = (i32, &'a PartitionState)>,
        force: bool,
    ) -> anyhow::Result<()> {
        let due = self.stats.batches > 0
            && self
                .stats
                .batches
                .is_multiple_of(self.drift.every_batches.max(1))
            && self.stats.batches != self.reported_at;
        // At exit, a report already written for these batches is not repeated.
        let fresh = self.reported_at == self.stats.batches && self.stats.drift_reports > 0;
        if self.decider.drift.is_none() || !(due || (force && !fresh)) {
            return Ok(());
        }
        self.reported_at = self.stats.batches;
        let mut states: Vec<(i32, &PartitionState)> = states.into_iter().collect();
        states.sort_by_key(|(p, _)| *p);
        let Some(report) = self.drift_report(states.iter().map(|(_, s)| *s)) else {
            return Ok(());
        };
        report.warn_if_alerting("stream");
        self.stats.drift_reports += 1;
        self.stats.drift_reports_alerting += u64::from(!report.alerts.is_empty());
        self.stats.drift_segment_psi = Some(report.segment_psi);
        self.stats.drift_max_feature = report.max_feature.clone();
        self.stats.drift_alerts = report.alerts.clone();
        if let Some(path) = &self.drift.path {
            let line = DriftLine {
                event_time: states
                    .iter()
                    .map(|(_, s)| s.store.watermark())
                    .max()
                    .unwrap_or(0),
                batches: self.stats.batches,
                partitions: states.iter().map(|(p, _)| *p).collect(),
                bundle_generation: self.generation,
                drift: report,
            };
            let mut text = serde_json::to_vec(&line)?;
            text.push(b'\n');
            use std::io::Write;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(&text))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::policy::config::Algorithm;
    use crate::models::policy::factored::{ArmFactors, FactoredModel};
    use crate::models::policy::linear::{ArmModels, RewardModel};

    fn policy(models: RewardModel) -> Policy {
        Policy {
            algorithm: Algorithm::Thompson,
            alpha: 1.0,
            epsilon: 0.1,
            posterior_scale: 1.0,
            samples: 100,
            models,
        }
    }

    /// `n` updates of the partition's policy (as `Processor::learn` makes them), from the `k`-th.
    fn learn(st: &mut PartitionState, trained: &Policy, k: usize, n: usize) {
        let arms = trained.models.arms();
        for i in k..k + n {
            let u = PolicyUpdate {
                arm: i % arms,
                x: vec![1.0, (i % 7) as f32 * 0.25, ((i * 3) % 5) as f32 - 2.0],
                reward: (i % 3 == 0) as u8 as f32,
            };
            u.apply(st.policy_on(trained, 7).unwrap());
            st.policy_updates.push(u);
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A resumed partition's policy is the one the crashed process had, bit for bit, whether its
    /// updates were folded into a base file or replayed; folding bounds the snapshot, and each
    /// new base file replaces the previous one.
    #[test]
    fn policy_updates_fold_into_a_base_file_and_resume_exactly() {
        let arms: Vec<String> = [
            "sms@weekday_morning",
            "app@weekday_evening",
            "sms@weekend_evening",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for trained in [
            policy(RewardModel::Disjoint(ArmModels::new(3, 3, 1.0))),
            policy(RewardModel::Factored(FactoredModel::new(
                3,
                ArmFactors::from_names(&arms),
                1.0,
            ))),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let resume = |st: &PartitionState| {
                let mut back = PartitionState::load(dir.path(), "t", 0, 3600).unwrap();
                assert_eq!(
                    back.policy_on(&trained, 7).unwrap(),
                    st.policy.as_ref().unwrap()
                );
            };
            let mut st = PartitionState::new(3600);
            learn(&mut st, &trained, 0, 5);
            st.save(dir.path(), "t", 0, 10).unwrap();
            assert_eq!(
                st.policy_updates.len(),
                5,
                "below the threshold: kept as updates"
            );
            resume(&st);

            learn(&mut st, &trained, 5, 20);
            st.save(dir.path(), "t", 0, 10).unwrap();
            assert_eq!((st.policy_folded, st.policy_updates.len()), (Some(25), 0));
            assert_eq!(files(dir.path()), ["t-0.json", "t-0.policy-25.safetensors"]);
            resume(&st);

            learn(&mut st, &trained, 25, 4);
            st.save(dir.path(), "t", 0, 10).unwrap();
            assert_eq!((st.policy_folded, st.policy_updates.len()), (Some(25), 4));
            resume(&st);

            learn(&mut st, &trained, 29, 8);
            st.save(dir.path(), "t", 0, 10).unwrap();
            assert_eq!(files(dir.path()), ["t-0.json", "t-0.policy-37.safetensors"]);
            resume(&st);

            // Updates folded from the start equal updates replayed from the start.
            let mut replayed = PartitionState::new(3600);
            learn(&mut replayed, &trained, 0, 37);
            assert_eq!(replayed.policy, st.policy);

            // Another trained policy: base and updates dropped, and the next snapshot removes
            // the base file it no longer names.
            let mut back = PartitionState::load(dir.path(), "t", 0, 3600).unwrap();
            assert_eq!(back.policy_on(&trained, 8).unwrap(), &trained);
            assert_eq!((back.policy_folded, back.policy_updates.len()), (None, 0));
            back.save(dir.path(), "t", 0, 10).unwrap();
            assert_eq!(files(dir.path()), ["t-0.json"]);
        }
    }

    #[test]
    fn a_missing_or_misfit_base_file_is_an_error_naming_it() {
        let trained = policy(RewardModel::Disjoint(ArmModels::new(2, 3, 1.0)));
        let dir = tempfile::tempdir().unwrap();
        let mut st = PartitionState::new(3600);
        learn(&mut st, &trained, 0, 3);
        st.save(dir.path(), "t", 1, 1).unwrap();
        let base = PartitionState::policy_path(dir.path(), "t", 1, 3);

        let other = policy(RewardModel::Disjoint(ArmModels::new(2, 4, 1.0)));
        let mut back = PartitionState::load(dir.path(), "t", 1, 3600).unwrap();
        let err = back.policy_on(&other, 7).unwrap_err().to_string();
        assert!(err.contains("a_inv") && err.contains("values"), "{err}");

        std::fs::remove_file(&base).unwrap();
        let err = PartitionState::load(dir.path(), "t", 1, 3600)
            .unwrap_err()
            .to_string();
        assert!(err.contains("t-1.policy-3.safetensors"), "{err}");
    }
}
