//! `teleseg stream`: parses the arguments and runs the decision loop on a file or on Kafka.

use std::path::PathBuf;
use std::time::Duration;

use crate::scoring::{Decider, DeciderOptions};
use crate::stream::kafka::KafkaStream;
use crate::stream::processor::{DriftOutput, Processor, Profiles, Stats};

/// What to do with an event line that is not a valid event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnBadEvent {
    /// Stop with an error naming the source, line (or offset) and rule (exit code 2).
    Error,
    /// Count it, log it and go on (a poison record must not stop a consumer group).
    Skip,
}

/// Options of `teleseg stream`.
#[derive(Debug, Clone, clap::Args)]
pub struct StreamArgs {
    /// A pipeline run folder (segments, offers, churn risk) or a dec run folder.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The customer table (CSV) the events complete: every non-event column comes from here.
    #[arg(long)]
    pub customers: PathBuf,
    /// Read events from this JSON-lines file instead of Kafka (one partition, offset = line - 1).
    #[arg(long, conflicts_with = "brokers")]
    pub events: Option<PathBuf>,
    /// With --events: write the decisions here (JSON lines, written atomically).
    #[arg(long, requires = "events")]
    pub output: Option<PathBuf>,
    /// Kafka bootstrap servers, `host:port[,host:port]`.
    #[arg(long)]
    pub brokers: Option<String>,
    /// Topic of the events (keyed by customer id).
    #[arg(long, default_value = "teleseg.events")]
    pub input_topic: String,
    /// Topic the decisions are produced to (keyed by customer id).
    #[arg(long, default_value = "teleseg.decisions")]
    pub output_topic: String,
    /// Consumer group: processes with the same group share the input partitions.
    #[arg(long, default_value = "teleseg-stream")]
    pub group: String,
    /// Folder of the partition snapshots (with Kafka).
    #[arg(long, default_value = "stream-state")]
    pub state_dir: PathBuf,
    /// Events after which a partition's touched customers are re-scored (batch boundaries at
    /// multiples of it, so a replay decides exactly as the first run did).
    #[arg(long, default_value_t = 1000, value_parser = crate::commands::at_least_one)]
    pub batch_events: usize,
    /// How far behind the newest event time an event may arrive, seconds (older: dropped).
    #[arg(long, default_value_t = 3600)]
    pub lateness_secs: u64,
    /// With Kafka: seconds between durable points (decisions awaited, snapshots written, offsets
    /// committed; also when the input goes idle and at exit). 0: after every batch. A crash
    /// re-emits at most this long's decisions, with their ids.
    #[arg(long, default_value_t = 5.0)]
    pub snapshot_every_secs: f64,
    /// With Kafka: a snapshot folds a partition's contact-policy updates (one per offer
    /// response) into a base file of the policy's state once this many have accumulated, so
    /// snapshots and resumes stay bounded.
    #[arg(long, default_value_t = crate::stream::processor::POLICY_COMPACT_AFTER,
          value_parser = crate::commands::at_least_one)]
    pub policy_compact_after: usize,
    /// With Kafka: stop after this many seconds without a record (default: run until stopped).
    #[arg(long)]
    pub idle_exit_secs: Option<f64>,
    /// A line that is not a valid event.
    #[arg(long, value_enum, default_value_t = OnBadEvent::Error)]
    pub on_bad_event: OnBadEvent,
    /// Offers per decision.
    #[arg(long, default_value_t = 10, value_parser = crate::commands::at_least_one)]
    pub top_k: usize,
    /// Reasons per churn risk (0: none).
    #[arg(long, default_value_t = 3)]
    pub reasons: usize,
    /// Accepted offers never recommended again (interactions.csv).
    #[arg(long)]
    pub interactions: Option<PathBuf>,
    /// Append a drift report (population stability of the customers held against the DEC
    /// training rows, one JSON line) here every `--drift-every-batches` batches and at exit.
    #[arg(long)]
    pub drift_output: Option<PathBuf>,
    /// Batches between drift reports.
    #[arg(long, default_value_t = 100, value_parser = crate::commands::at_least_one)]
    pub drift_every_batches: usize,
    /// Population stability index above which drift alerts (0.25: a significant shift).
    #[arg(long, default_value_t = crate::drift::DEFAULT_ALERT, value_parser = crate::commands::positive)]
    pub drift_alert: f64,
    /// Extra librdkafka property for both clients, `key=value` (repeatable).
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    pub kafka_properties: Vec<String>,
}

/// Runs the stream; returns its counters.
pub fn run(args: &StreamArgs, device: &burn::tensor::Device) -> anyhow::Result<Stats> {
    let usage = |m: String| anyhow::Error::new(crate::error::UsageError(m));
    if args.events.is_none() && args.brokers.is_none() {
        return Err(usage(
            "name the input: --events FILE (with --output FILE) or --brokers HOST:PORT".into(),
        ));
    }
    if args.events.is_some() && args.output.is_none() {
        return Err(usage("--events needs --output (the decisions file)".into()));
    }
    let properties = args
        .kafka_properties
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| usage(format!("--kafka-property {kv}: expected KEY=VALUE")))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let decider = Decider::load(
        &args.checkpoint,
        DeciderOptions {
            top_k: args.top_k,
            interactions: args.interactions.clone(),
            reasons: args.reasons,
            batch_size: 4096,
        },
        device,
    )?;
    let profiles = Profiles::read(&args.customers, &decider)?;
    tracing::info!(customers = profiles.len(), "profiles read");
    let mut processor = Processor {
        decider,
        generation: 1,
        profiles,
        batch_events: args.batch_events as i64,
        skip_bad: args.on_bad_event == OnBadEvent::Skip,
        stats: Stats::default(),
        drift: DriftOutput {
            path: args.drift_output.clone(),
            alert: args.drift_alert,
            every_batches: args.drift_every_batches as u64,
        },
        reported_at: 0,
    };
    let lateness = args.lateness_secs.min(i64::MAX as u64) as i64;
    match (&args.events, &args.output, &args.brokers) {
        (Some(events), Some(output), _) => {
            if output.exists() {
                return Err(usage(format!(
                    "{} already exists; remove it or name another --output",
                    output.display()
                )));
            }
            crate::stream::run_file(
                &mut processor,
                &crate::stream::FileStream {
                    events: events.clone(),
                    output: output.clone(),
                    lateness,
                },
            )
        }
        (_, _, Some(brokers)) => crate::stream::kafka::run(
            &mut processor,
            &KafkaStream {
                brokers: brokers.clone(),
                group: args.group.clone(),
                input_topic: args.input_topic.clone(),
                output_topic: args.output_topic.clone(),
                state_dir: args.state_dir.clone(),
                lateness,
                idle_exit: args.idle_exit_secs.map(Duration::from_secs_f64),
                reload_every: Duration::from_secs(5),
                snapshot_every: Duration::from_secs_f64(args.snapshot_every_secs.max(0.0)),
                properties,
                policy_compact_after: args.policy_compact_after,
            },
            device,
        ),
        _ => unreachable!("checked above"),
    }
}
