//! `teleseg stream` on Kafka: consume events from a topic in a consumer group, produce decisions
//! to another topic keyed by customer (librdkafka through `rdkafka`).
//!
//! Scaling out is Kafka's: more processes with the same `group` share the input partitions, one
//! owner per partition. Events must be keyed by customer id, so that a customer's events stay in
//! one partition, in order.
//!
//! Decisions are produced as batches close; every `snapshot_every` (and when the input goes idle,
//! and at exit) the queued decisions are awaited (`acks=all`; a failed delivery stops the process
//! before anything is committed), then every assigned partition's snapshot is written (with its
//! open batch), and only then are the offsets committed. On assignment (a start, a restart, a rebalance) each partition
//! resumes at its snapshot's next offset (the whole partition is replayed without one); on
//! revocation its state is dropped, since its new owner replays from the snapshot. A crash (or a
//! rebalance) between two snapshots re-emits the decisions produced since the last one, with the
//! same ids and contents ([`super::processor`]): nothing is lost and a duplicate is recognisable.
//!
//! The bundle is hot-swapped: every few seconds the run folder's model files are checked, and a
//! changed bundle is loaded beside the running one and swapped in between records (a bundle that
//! fails to load is logged and the old one keeps deciding).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Message, Offset, TopicPartitionList};

use super::processor::{Fed, PartitionState, Processor, Stats, StreamDecision};
use crate::scoring::Decider;

/// Quiet time after which the open batches are closed and made durable. A poll that comes back
/// empty between two fetches is not idleness: closing then would snapshot every partition many
/// times a second.
const IDLE_CLOSE: Duration = Duration::from_millis(250);

/// Where and how to run on Kafka.
#[derive(Debug, Clone)]
pub struct KafkaStream {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    pub group: String,
    pub input_topic: String,
    pub output_topic: String,
    /// Partition snapshots (`<input_topic>-<partition>.json`).
    pub state_dir: PathBuf,
    /// Lateness bound, seconds.
    pub lateness: i64,
    /// Stop after this long without a record (tests, replays); None: run until SIGINT/SIGTERM.
    pub idle_exit: Option<Duration>,
    /// How often the bundle's files are checked for a new version.
    pub reload_every: Duration,
    /// How often decisions are awaited, partitions snapshotted and offsets committed (checked
    /// when a batch closes; also when the input goes idle and at exit); zero: after every batch.
    pub snapshot_every: Duration,
    /// Extra librdkafka properties (`key=value`), for both clients.
    pub properties: Vec<(String, String)>,
    /// A snapshot folds a partition's contact-policy updates into a base file once this many
    /// have accumulated ([`super::processor::PartitionState::save`]).
    pub policy_compact_after: usize,
}

/// The consumer's context: it owns the states of the assigned partitions, so a rebalance can
/// load and drop them while `poll` runs.
struct GroupContext {
    topic: String,
    state_dir: PathBuf,
    lateness: i64,
    states: Mutex<HashMap<i32, PartitionState>>,
    /// A snapshot that could not be read: the loop stops with it.
    failure: Mutex<Option<String>>,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut states = self.states.lock().expect("lock");
                for p in partitions {
                    match PartitionState::load(&self.state_dir, &self.topic, p, self.lateness) {
                        Ok(st) => {
                            let at = match st.next_offset {
                                0 => Offset::Beginning,
                                n => Offset::Offset(n),
                            };
                            if let Err(e) = tpl.set_partition_offset(&self.topic, p, at) {
                                tracing::error!(partition = p, error = %e, "cannot seek");
                            }
                            tracing::info!(partition = p, next_offset = st.next_offset, "assigned");
                            states.insert(p, st);
                        }
                        Err(e) => {
                            *self.failure.lock().expect("lock") = Some(format!("{e:#}"));
                        }
                    }
                }
                if let Err(e) = consumer.assign(tpl) {
                    tracing::error!(error = %e, "assign failed");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let mut states = self.states.lock().expect("lock");
                for p in partitions {
                    // The open batch is not flushed: the next owner replays it from the snapshot.
                    states.remove(&p);
                    tracing::info!(partition = p, "revoked");
                }
                if let Err(e) = consumer.unassign() {
                    tracing::error!(error = %e, "unassign failed");
                }
            }
            other => tracing::error!(error = ?other, "rebalance error"),
        }
    }
}

/// Counts failed deliveries of decisions.
#[derive(Default)]
struct DeliveryContext {
    failed: AtomicU64,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            tracing::error!(error = %e, "decision not delivered");
            self.failed.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// `defaults`, then the user's `--kafka-property` values (which win).
fn client_config(k: &KafkaStream, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers);
    for (key, value) in defaults {
        c.set(*key, *value);
    }
    for (key, value) in &k.properties {
        c.set(key, value);
    }
    c
}

/// The newest modification time of the bundle's model files.
fn bundle_stamp(run: &Path) -> Option<SystemTime> {
    ["dec", "ncf", "propensity", ""]
        .iter()
        .filter_map(|sub| std::fs::metadata(run.join(sub).join("model.safetensors")).ok())
        .filter_map(|m| m.modified().ok())
        .max()
}

/// Runs the decision loop on Kafka until idle (`idle_exit`) or SIGINT/SIGTERM.
pub fn run(
    processor: &mut Processor,
    k: &KafkaStream,
    device: &burn::tensor::Device,
) -> anyhow::Result<Stats> {
    std::fs::create_dir_all(&k.state_dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", k.state_dir.display()))?;
    let ctx = GroupContext {
        topic: k.input_topic.clone(),
        state_dir: k.state_dir.clone(),
        lateness: k.lateness,
        states: Mutex::new(HashMap::new()),
        failure: Mutex::new(None),
    };
    let consumer: BaseConsumer<GroupContext> = client_config(
        k,
        &[
            ("group.id", &k.group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            ("session.timeout.ms", "10000"),
            ("partition.assignment.strategy", "range"),
            // librdkafka lets the broker hold a fetch up to 500 ms while it waits for data,
            // which was most of an event's latency to its decision at moderate rates (docs/
            // benchmarks.md, session 19: p50 441 ms, p99 641 ms at 4,000 events/s; with 10 ms
            // 55 ms and 154-187 ms, for 5-7 % less catch-up throughput). `--kafka-property
            // fetch.wait.max.ms=...` restores a longer wait where fewer fetches matter more.
            ("fetch.wait.max.ms", "10"),
        ],
    )
    .create_with_context(ctx)?;
    consumer.subscribe(&[&k.input_topic])?;
    let producer: BaseProducer<DeliveryContext> =
        client_config(k, &[("acks", "all"), ("linger.ms", "5")])
            .create_with_context(DeliveryContext::default())?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }

    let source = format!("topic {}", k.input_topic);
    let mut last_record = Instant::now();
    let mut last_check = Instant::now();
    let mut last_snapshot = Instant::now();
    let mut saved_since_record = true;
    let mut stamp = bundle_stamp(&processor.decider.path);
    while !stop.load(Ordering::SeqCst) {
        if let Some(failure) = consumer.context().failure.lock().expect("lock").take() {
            anyhow::bail!("{failure}");
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last_record = Instant::now();
                let p = m.partition();
                let mut states = consumer.context().states.lock().expect("lock");
                let Some(st) = states.get_mut(&p) else {
                    continue; // revoked meanwhile
                };
                let fed = processor.feed(st, m.offset(), m.payload().unwrap_or(&[]), &source)?;
                if fed == Fed::BatchFull {
                    let decisions = processor.close_batch(st, p)?;
                    send(&producer, k, &decisions, m.timestamp().to_millis())?;
                    processor.maybe_report_drift(states.iter().map(|(&p, s)| (p, s)), false)?;
                    drop(states);
                    if last_snapshot.elapsed() >= k.snapshot_every {
                        checkpoint(&consumer, &producer, k)?;
                        last_snapshot = Instant::now();
                    }
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "consumer error"),
            None if last_record.elapsed() < IDLE_CLOSE => {}
            None => {
                // Idle: close every open batch (decisions for the events so far), then make
                // everything durable.
                let mut states = consumer.context().states.lock().expect("lock");
                let mut partitions: Vec<i32> = states.keys().copied().collect();
                partitions.sort_unstable();
                let mut closed = false;
                for p in partitions {
                    let st = states.get_mut(&p).expect("listed");
                    if st.dirty.is_empty() {
                        continue;
                    }
                    let decisions = processor.close_batch(st, p)?;
                    send(&producer, k, &decisions, None)?;
                    closed = true;
                }
                drop(states);
                if closed || !saved_since_record {
                    checkpoint(&consumer, &producer, k)?;
                    last_snapshot = Instant::now();
                    saved_since_record = true;
                }
                if k.idle_exit.is_some_and(|d| last_record.elapsed() >= d) {
                    break;
                }
                continue;
            }
        }
        saved_since_record = false;
        if last_check.elapsed() >= k.reload_every {
            last_check = Instant::now();
            let now = bundle_stamp(&processor.decider.path);
            if now != stamp {
                stamp = now;
                match Decider::load(
                    &processor.decider.path,
                    processor.decider.opts.clone(),
                    device,
                ) {
                    Ok(d) => {
                        processor.decider = d;
                        processor.generation += 1;
                        tracing::info!(generation = processor.generation, "bundle reloaded");
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "reload failed; keeping the running bundle")
                    }
                }
            }
        }
    }
    checkpoint(&consumer, &producer, k)?;
    let states = consumer.context().states.lock().expect("lock");
    processor.maybe_report_drift(states.iter().map(|(&p, s)| (p, s)), true)?;
    drop(states);
    Ok(processor.stats.clone())
}

/// Queues `decisions` for production, keyed by customer ([`checkpoint`] waits for them).
fn send(
    producer: &BaseProducer<DeliveryContext>,
    k: &KafkaStream,
    decisions: &[StreamDecision],
    source_ms: Option<i64>,
) -> anyhow::Result<()> {
    for d in decisions {
        let mut value = serde_json::to_value(d)?;
        if let Some(ms) = source_ms {
            value["source_timestamp_ms"] = ms.into();
        }
        let payload = serde_json::to_vec(&value)?;
        let key = d.decision.customer_id.as_bytes();
        loop {
            let record = BaseRecord::to(&k.output_topic).key(key).payload(&payload);
            match producer.send(record) {
                Ok(()) => break,
                Err((
                    KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    _,
                )) => {
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => anyhow::bail!("cannot produce to {}: {e}", k.output_topic),
            }
        }
    }
    producer.poll(Duration::ZERO); // serve delivery callbacks; checkpoint() awaits them
    Ok(())
}

/// Makes the progress durable, in this order: every queued decision acknowledged (any failed
/// delivery stops the process before anything is committed), each assigned partition's snapshot
/// written, its offset committed.
fn checkpoint(
    consumer: &BaseConsumer<GroupContext>,
    producer: &BaseProducer<DeliveryContext>,
    k: &KafkaStream,
) -> anyhow::Result<()> {
    producer.flush(Duration::from_secs(30))?;
    let failed = producer.context().failed.swap(0, Ordering::SeqCst);
    if failed > 0 {
        anyhow::bail!(
            "{failed} decisions were not delivered to {}",
            k.output_topic
        );
    }
    let mut states = consumer.context().states.lock().expect("lock");
    let mut tpl = TopicPartitionList::new();
    for (&partition, st) in states.iter_mut() {
        st.save(
            &k.state_dir,
            &k.input_topic,
            partition,
            k.policy_compact_after,
        )?;
        tpl.add_partition_offset(&k.input_topic, partition, Offset::Offset(st.next_offset))?;
    }
    drop(states);
    if tpl.count() > 0
        && let Err(e) = consumer.commit(&tpl, CommitMode::Sync)
    {
        // The snapshots are what resumes; a failed commit only delays the lag metric.
        tracing::warn!(error = %e, "offset commit failed");
    }
    Ok(())
}
