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

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::events::{EventError, parse_event};
use super::features::{EVENT_COLUMNS, FeatureStore, Pushed};
use crate::data::reader::{CsvBatches, OnBadRow, ReadOptions};
use crate::data::writer::csv_field;
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
}

impl PartitionState {
    pub fn new(lateness: i64) -> PartitionState {
        PartitionState {
            next_offset: 0,
            store: FeatureStore::new(lateness),
            last: HashMap::new(),
            dirty: BTreeSet::new(),
            last_offset: -1,
        }
    }

    /// The snapshot file of `topic`'s `partition` in `dir`.
    pub fn path(dir: &Path, topic: &str, partition: i32) -> PathBuf {
        dir.join(format!("{topic}-{partition}.json"))
    }

    /// The snapshot in `dir`, or a fresh state when there is none.
    pub fn load(dir: &Path, topic: &str, partition: i32, lateness: i64) -> anyhow::Result<Self> {
        let path = Self::path(dir, topic, partition);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("{}: not a stream state snapshot: {e}", path.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::new(lateness)),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the snapshot atomically (a reader never sees half a file).
    pub fn save(&self, dir: &Path, topic: &str, partition: i32) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(self)?;
        crate::checkpoint::write_atomic(&Self::path(dir, topic, partition), &bytes)?;
        Ok(())
    }
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
}

/// The decision loop's logic: a loaded bundle, the profiles, the batch size.
pub struct Processor {
    pub decider: Decider,
    pub generation: u64,
    pub profiles: Profiles,
    pub batch_events: i64,
    pub skip_bad: bool,
    pub stats: Stats,
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
        let event = match parse_event(payload, source, offset as u64) {
            Ok(e) => e,
            Err(e) if self.skip_bad => {
                self.stats.bad += 1;
                tracing::warn!(error = %e, "bad event skipped");
                return Ok(full(true));
            }
            Err(e) => return Err(e),
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
            };
            let previous = st.last.get(&decision.customer_id);
            let change = match previous {
                None => "first",
                Some(p) if p == &now => continue,
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
        for (d, e) in out.iter_mut().zip(emitted) {
            d.decision = e;
        }
        self.stats.decisions += out.len() as u64;
        Ok(out)
    }
}
