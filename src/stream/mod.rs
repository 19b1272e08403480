//! Real-time features and decisions: customer events in, windowed features and decisions out.
//!
//! - [`events`]: the event format (`events.jsonl`, one JSON object per line; the generator
//!   writes it with `teleseg generate --events`) and its parser.
//! - [`features`]: per-customer event-time windows, updated incrementally, that give the same
//!   monthly columns as the batch table for the same events.
//! - [`processor`]: the decision loop over one partition (batches, decisions, snapshots),
//!   independent of the transport; [`run_file`] drives it from a JSON-lines file,
//!   [`kafka::run`] from a Kafka topic in a consumer group.

pub mod events;
pub mod features;
pub mod kafka;
pub mod processor;

use std::io::BufRead;
use std::path::PathBuf;

use processor::{Fed, PartitionState, Processor, Stats};

/// Where `teleseg stream` reads and writes.
#[derive(Debug, Clone)]
pub struct FileStream {
    /// Events, one JSON object per line, in event-time order (within the lateness bound).
    pub events: PathBuf,
    /// Decisions, one JSON object per line (written atomically when the input is consumed).
    pub output: PathBuf,
    /// Lateness bound, seconds.
    pub lateness: i64,
}

/// Runs the decision loop over a file as one partition (0): every decision in order.
pub fn run_file(p: &mut Processor, io: &FileStream) -> anyhow::Result<Stats> {
    let name = io.events.display().to_string();
    let file =
        std::fs::File::open(&io.events).map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;
    let mut out = crate::checkpoint::PendingFile::create(&io.output)?;
    let mut st = PartitionState::new(io.lateness);
    let mut emit = |decisions: Vec<processor::StreamDecision>| -> anyhow::Result<()> {
        let mut buf = Vec::new();
        for d in decisions {
            serde_json::to_writer(&mut buf, &d)?;
            buf.push(b'\n');
        }
        out.write(&buf)?;
        Ok(())
    };
    for (offset, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let offset = offset as i64;
        let line = line.map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;
        // Line numbers are offsets + 1; blank lines keep their offset (numbering = lines).
        if !line.iter().all(u8::is_ascii_whitespace)
            && p.feed(&mut st, offset, &line, &name).map_err(|mut e| {
                e.line += 1; // offsets count from 0, lines from 1
                e
            })? == Fed::BatchFull
        {
            emit(p.close_batch(&mut st, 0)?)?;
            p.maybe_report_drift([(0, &st)], false)?;
        }
    }
    emit(p.close_batch(&mut st, 0)?)?;
    out.commit()?;
    p.maybe_report_drift([(0, &st)], true)?;
    Ok(p.stats.clone())
}
