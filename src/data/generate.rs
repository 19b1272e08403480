//! `teleseg generate`: a synthetic export of a telecom customer data platform.
//!
//! One call writes, into one folder:
//!
//! | file               | rows                     | what                                          |
//! |--------------------|--------------------------|-----------------------------------------------|
//! | `customers.csv`    | one per customer         | 33 columns of [`customer_schema`]             |
//! | `offers.csv`       | `offers` (default 40)    | offer_id, name, category, price, channel      |
//! | `interactions.csv` | ~9 impressions, ~3 accepts per customer | customer_id, offer_id, timestamp, event |
//! | `personas.csv`     | one per customer         | the planted persona, for evaluation only      |
//! | `contacts.csv`     | ~1.5 per customer        | offer contacts: channel, time, propensity, response |
//! | `contacts_truth.csv` | one per contact        | true acceptance probability of every arm, for evaluation only |
//! | `usage_history.csv` | 36 per customer         | monthly voice minutes, data GB, roaming days, 2022-01 to 2024-12 ([`history`]) |
//! | `usage_next_month.csv` | one per customer     | the same for 2025-01: the held-out truth of a usage forecast |
//! | `value_truth.csv`  | one per customer         | true churn probability, monthly margin and 24-month lifetime value, for evaluation only |
//! | `events.jsonl`     | ~250 per customer (`--events` only) | usage and care events, time-ordered: the table's monthly columns are their aggregates ([`events`]); and one `offer_response` per contact whose outcome is known before the snapshot |
//! | `schema.toml`      |                          | [`customer_schema`] as TOML                   |
//!
//! Customers belong to one of the planted personas of [`persona_names`] (6 %–22 % each). Each
//! persona shifts per-customer latent factors (spend, digital engagement, travel, voice,
//! satisfaction) from which the features are drawn, so features are correlated, usage is
//! log-normal, and personas overlap on every single feature. The rows are messy like real
//! exports: 1–6 % missing cells in 21 of the 33 columns, partly not at random (no resolution
//! time or complaint sentiment without care tickets, no social sentiment without mentions, more
//! missing ages for prepaid, usage columns missing together), and ~0.4 % of rows with a unit
//! error (data in MB, voice in seconds, charges in cents, a birth year instead of an age).
//!
//! Output is deterministic for a seed, whatever the number of threads: customers are generated
//! in blocks of [`BLOCK`] rows, block `b` from its own RNG seeded by `(seed, b)`, and blocks are
//! written in order. Memory does not grow with the number of customers. Each file is written
//! under a temporary name in the output folder and renamed when all are complete, so an
//! interrupted run leaves no partial `customers.csv` (only `.*.partial` files; files are not
//! fsynced, so this guards against interruption, not power loss).
//!
//! The RNG is `rand`'s `StdRng` (ChaCha12 in rand 0.10): the same seed gives the same bytes as
//! long as the locked `rand` version does.

mod columns;
pub mod contacts;
mod csvbuf;
mod customers;
pub mod events;
pub mod history;
mod offers;
mod personas;
mod sampling;
impl std::fmt::Display for GenerateSummary {
    /// One line: what was written where.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dir = self
            .files
            .first()
            .and_then(|p| p.parent())
            .map_or_else(String::new, |d| d.display().to_string());
        write!(
            f,
            "wrote {} customers, {} offers, {} interactions ({} personas) to {dir}",
            self.customers,
            self.offers,
            self.interactions,
            self.personas.len()
        )
    }
}

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::mpsc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::checkpoint::{CheckpointError, PendingFile};
use crate::data::schema::Schema;
use csvbuf::CsvBuf;
use customers::Customer;
use offers::{Catalogue, Scratch};
use personas::{PERSONA_NAMES, PERSONAS};

/// Customers per block: the unit of seeding, of parallel work and of buffered writing.
pub const BLOCK: usize = 4096;

/// Default number of offers in the catalogue.
pub const DEFAULT_OFFERS: usize = 40;

/// Options of `teleseg generate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateOptions {
    /// Number of customers (rows of `customers.csv`), at least 1.
    pub customers: usize,
    /// Seed of every random draw: the same seed gives byte-identical files.
    pub seed: u64,
    /// Number of offers in the catalogue, at least 1. Default [`DEFAULT_OFFERS`] (40).
    #[serde(default = "default_offers")]
    pub offers: usize,
    /// Folder the files are written to (created if needed).
    pub out_dir: PathBuf,
    /// Overwrite the files of an earlier run. Default false: an `out_dir` that already holds a
    /// `customers.csv` is refused.
    #[serde(default)]
    pub force: bool,
    /// Worker threads; 0 (the default) uses every available core. Does not change the output.
    #[serde(default)]
    pub threads: usize,
    /// Multiplier of the spread of every customer's latent factors around their persona's mean:
    /// 1 (the default) is the realistic data set, where personas overlap; below 1 they separate
    /// more (an easier clustering problem), above 1 they overlap more. In `(0, 4]`.
    #[serde(default = "default_persona_spread")]
    pub persona_spread: f64,
    /// Also write `events.jsonl`: every usage and care event behind the table's event-derived
    /// columns, in time order (about 250 lines per customer). Default false.
    #[serde(default)]
    pub events: bool,
}

fn default_persona_spread() -> f64 {
    1.0
}

fn default_offers() -> usize {
    DEFAULT_OFFERS
}

impl GenerateOptions {
    /// Options with the defaults: 40 offers, no overwrite, all cores.
    pub fn new(customers: usize, seed: u64, out_dir: PathBuf) -> Self {
        GenerateOptions {
            customers,
            seed,
            offers: DEFAULT_OFFERS,
            out_dir,
            force: false,
            threads: 0,
            persona_spread: 1.0,
            events: false,
        }
    }

    /// Checks the options' own rules (not the file system).
    pub fn check(&self) -> Result<(), GenerateError> {
        if self.customers == 0 {
            return Err(GenerateError::NoCustomers);
        }
        if self.offers == 0 {
            return Err(GenerateError::NoOffers);
        }
        if self.offers > u32::MAX as usize {
            return Err(GenerateError::TooManyOffers(self.offers));
        }
        if !(self.persona_spread > 0.0 && self.persona_spread <= 4.0) {
            return Err(GenerateError::PersonaSpread(self.persona_spread));
        }
        Ok(())
    }
}

/// What was written, so the CLI can print a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateSummary {
    /// Rows of `customers.csv`.
    pub customers: usize,
    /// Rows of `offers.csv`.
    pub offers: usize,
    /// Rows of `interactions.csv` (impressions and accepts).
    pub interactions: usize,
    /// Of which accepts.
    pub accepts: usize,
    /// Every file written, in the order: customers, offers, interactions, personas, schema.
    pub files: Vec<PathBuf>,
    /// Persona names, index order (as in `personas.csv`).
    pub personas: Vec<String>,
}

/// Why generation failed. Messages name the option or the path.
#[derive(Debug, Error)]
pub enum GenerateError {
    /// `customers` is 0.
    #[error("customers must be at least 1")]
    NoCustomers,
    /// `offers` is 0.
    #[error("offers must be at least 1")]
    NoOffers,
    /// `offers` does not fit the 32-bit offer index.
    #[error("offers must be at most {max} (got {0})", max = u32::MAX)]
    TooManyOffers(usize),
    /// `persona_spread` is not in `(0, 4]`.
    #[error("persona spread must be in (0, 4] (got {0})")]
    PersonaSpread(f64),
    /// `out_dir` holds the `customers.csv` of an earlier run and `force` is false.
    #[error("{} already exists; use force (--force) to overwrite it", path.display())]
    AlreadyExists {
        /// The existing `customers.csv`.
        path: PathBuf,
    },
    /// Creating, writing or renaming a file failed.
    #[error("cannot write {}: {error}", path.display())]
    Io {
        /// The file or folder that could not be written.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
}

/// The schema of the generated `customers.csv` (also written as `schema.toml`).
pub fn customer_schema() -> Schema {
    columns::customer_schema()
}

/// Persona names in index order.
pub fn persona_names() -> &'static [&'static str] {
    &PERSONA_NAMES
}

/// Writes the five files of the module docs into `opts.out_dir`.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    opts.check()?;
    let dir = &opts.out_dir;
    let existing = dir.join("customers.csv");
    let exists = existing.try_exists().map_err(|error| GenerateError::Io {
        path: existing.clone(),
        error,
    })?;
    if exists && !opts.force {
        return Err(GenerateError::AlreadyExists { path: existing });
    }
    std::fs::create_dir_all(dir).map_err(|error| GenerateError::Io {
        path: dir.clone(),
        error,
    })?;
    tracing::info!(
        customers = opts.customers,
        offers = opts.offers,
        seed = opts.seed,
        out_dir = %dir.display(),
        "generating synthetic telecom data"
    );

    let schema = customer_schema();
    let catalogue = Catalogue::sample(
        &mut StdRng::seed_from_u64(mix(opts.seed, u64::MAX)),
        opts.offers,
    );

    let mut customers_file = PendingFile::create(&dir.join("customers.csv"))?;
    let mut interactions_file = PendingFile::create(&dir.join("interactions.csv"))?;
    let mut personas_file = PendingFile::create(&dir.join("personas.csv"))?;
    let mut offers_file = PendingFile::create(&dir.join("offers.csv"))?;
    let mut contacts_file = PendingFile::create(&dir.join("contacts.csv"))?;
    let mut truth_file = PendingFile::create(&dir.join("contacts_truth.csv"))?;
    let mut history_file = PendingFile::create(&dir.join("usage_history.csv"))?;
    let mut next_month_file = PendingFile::create(&dir.join("usage_next_month.csv"))?;
    let mut value_file = PendingFile::create(&dir.join("value_truth.csv"))?;
    let mut schema_file = PendingFile::create(&dir.join("schema.toml"))?;
    let mut events_file = match opts.events {
        true => Some(EventSpill::create(dir)?),
        false => None,
    };

    let mut header = CsvBuf::with_capacity(1024);
    for c in &schema.columns {
        header.str(&c.name);
    }
    header.end_row();
    customers_file.write(header.as_bytes())?;
    interactions_file.write(b"customer_id,offer_id,timestamp,event\n")?;
    personas_file.write(b"customer_id,persona,persona_name\n")?;
    contacts_file.write(contacts::contacts_header().as_bytes())?;
    truth_file.write(contacts::truth_header().as_bytes())?;
    history_file.write(history::header().as_bytes())?;
    next_month_file.write(history::header().as_bytes())?;
    value_file.write(history::value_header().as_bytes())?;
    let mut offers_buf = CsvBuf::with_capacity(4096);
    catalogue.write(&mut offers_buf);
    offers_file.write(offers_buf.as_bytes())?;
    schema_file.write(schema.to_toml().as_bytes())?;

    let counts = write_blocks(
        opts,
        &catalogue,
        &mut Files {
            customers: &mut customers_file,
            interactions: &mut interactions_file,
            personas: &mut personas_file,
            contacts: &mut contacts_file,
            truth: &mut truth_file,
            history: &mut history_file,
            next_month: &mut next_month_file,
            value: &mut value_file,
            events: events_file.as_mut(),
        },
    )?;
    let events_pending = match events_file {
        Some(spill) => Some(spill.merge(&dir.join("events.jsonl"))?),
        None => None,
    };

    // Rename only once every file is complete; customers.csv last, since its presence is what
    // marks a folder as holding a finished run.
    let schema_path = schema_file.commit()?;
    let offers_path = offers_file.commit()?;
    let contacts_path = contacts_file.commit()?;
    let truth_path = truth_file.commit()?;
    let history_path = history_file.commit()?;
    let next_month_path = next_month_file.commit()?;
    let value_path = value_file.commit()?;
    let events_path = match events_pending {
        Some(f) => Some(f.commit()?),
        None => None,
    };
    let personas_path = personas_file.commit()?;
    let interactions_path = interactions_file.commit()?;
    let customers_path = customers_file.commit()?;
    let mut files = vec![
        customers_path,
        offers_path,
        interactions_path,
        personas_path,
        contacts_path,
        truth_path,
        history_path,
        next_month_path,
        value_path,
        schema_path,
    ];
    files.extend(events_path);
    tracing::info!(
        customers = opts.customers,
        impressions = counts.impressions,
        accepts = counts.accepts,
        contacts = counts.contacts,
        "synthetic data written"
    );
    Ok(GenerateSummary {
        customers: opts.customers,
        offers: catalogue.offers.len(),
        interactions: counts.impressions + counts.accepts,
        accepts: counts.accepts,
        files,
        personas: PERSONA_NAMES.iter().map(|s| s.to_string()).collect(),
    })
}

/// The rows of one block, ready to be appended to the per-customer files.
struct BlockOut {
    customers: CsvBuf,
    interactions: CsvBuf,
    personas: CsvBuf,
    contacts: CsvBuf,
    truth: CsvBuf,
    history: CsvBuf,
    next_month: CsvBuf,
    value: CsvBuf,
    /// The block's events as JSON lines in time order (empty without `--events`).
    events: Vec<u8>,
    counts: offers::LogCounts,
}

/// The per-customer files being written.
struct Files<'a> {
    customers: &'a mut PendingFile,
    interactions: &'a mut PendingFile,
    personas: &'a mut PendingFile,
    contacts: &'a mut PendingFile,
    truth: &'a mut PendingFile,
    history: &'a mut PendingFile,
    next_month: &'a mut PendingFile,
    value: &'a mut PendingFile,
    events: Option<&'a mut EventSpill>,
}

/// Generates every block (in parallel when there are several threads) and writes them in order.
fn write_blocks(
    opts: &GenerateOptions,
    catalogue: &Catalogue,
    files: &mut Files,
) -> Result<offers::LogCounts, GenerateError> {
    let n_blocks = opts.customers.div_ceil(BLOCK);
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, n_blocks);
    let mut total = offers::LogCounts::default();
    let mut write = |out: BlockOut| -> Result<(), GenerateError> {
        files.customers.write(out.customers.as_bytes())?;
        files.interactions.write(out.interactions.as_bytes())?;
        files.personas.write(out.personas.as_bytes())?;
        files.contacts.write(out.contacts.as_bytes())?;
        files.truth.write(out.truth.as_bytes())?;
        files.history.write(out.history.as_bytes())?;
        files.next_month.write(out.next_month.as_bytes())?;
        files.value.write(out.value.as_bytes())?;
        if let Some(spill) = files.events.as_deref_mut() {
            spill.push_block(&out.events)?;
        }
        total.impressions += out.counts.impressions;
        total.accepts += out.counts.accepts;
        total.contacts += out.counts.contacts;
        total.contact_accepts += out.counts.contact_accepts;
        Ok(())
    };

    if threads == 1 {
        for b in 0..n_blocks {
            write(generate_block(opts, catalogue, b))?;
        }
        return Ok(total);
    }
    // Worker w makes blocks w, w + threads, ...; the writer takes them round-robin, so blocks
    // reach the files in order. Two blocks in flight per worker bound the memory.
    std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(threads);
        for w in 0..threads {
            let (tx, rx) = mpsc::sync_channel::<BlockOut>(2);
            receivers.push(rx);
            scope.spawn(move || {
                for b in (w..n_blocks).step_by(threads) {
                    if tx.send(generate_block(opts, catalogue, b)).is_err() {
                        return; // the writer stopped on an error
                    }
                }
            });
        }
        for b in 0..n_blocks {
            // A worker only hangs up early by panicking; the scope re-raises that panic.
            let Ok(out) = receivers[b % threads].recv() else {
                break;
            };
            write(out)?;
        }
        Ok::<(), GenerateError>(())
    })?;
    Ok(total)
}

/// Customers `b * BLOCK ..` (at most `BLOCK` of them), with their personas and event logs.
fn generate_block(opts: &GenerateOptions, catalogue: &Catalogue, b: usize) -> BlockOut {
    let first = b * BLOCK;
    let n = BLOCK.min(opts.customers - first);
    let id_width = offers::digits(opts.customers).max(7);
    let mut rng = StdRng::seed_from_u64(mix(opts.seed, b as u64));
    // Contacts draw from their own stream, so adding them left the other files unchanged.
    let mut contact_rng = StdRng::seed_from_u64(mix(opts.seed ^ CONTACT_STREAM, b as u64));
    // Calls (which measure the usage shares) and the other events: two more streams, so the
    // table does not depend on whether events are written.
    let mut call_rng = StdRng::seed_from_u64(mix(opts.seed ^ CALL_STREAM, b as u64));
    let mut event_rng = StdRng::seed_from_u64(mix(opts.seed ^ EVENT_STREAM, b as u64));
    let mut history_rng = StdRng::seed_from_u64(mix(opts.seed ^ HISTORY_STREAM, b as u64));
    let mut block_events: Vec<(i64, u64, BlockEvent)> = Vec::new();
    let mut responses: Vec<(i64, crate::stream::events::Response)> = Vec::new();
    let shares: Vec<f64> = PERSONAS.iter().map(|p| p.share).collect();
    let mut out = BlockOut {
        customers: CsvBuf::with_capacity(n * 256),
        interactions: CsvBuf::with_capacity(n * 480),
        personas: CsvBuf::with_capacity(n * 40),
        contacts: CsvBuf::with_capacity(n * 150),
        truth: CsvBuf::with_capacity(n * 300),
        history: CsvBuf::with_capacity(n * 40 * history::HISTORY_MONTHS),
        next_month: CsvBuf::with_capacity(n * 40),
        value: CsvBuf::with_capacity(n * 48),
        events: Vec::new(),
        counts: offers::LogCounts::default(),
    };
    let mut scratch = Scratch::default();
    let mut contact_scratch = contacts::ContactScratch::default();
    for i in first..first + n {
        let persona = sampling::pick(&mut rng, &shares);
        let mut customer = Customer::sample(&mut rng, persona, opts.persona_spread);
        let number = i as u64 + 1; // ids are 1-based: C0000001
        let calls = events::draw_calls(&mut call_rng, &customer);
        customer.night_share = calls.night_share;
        customer.weekend_share = calls.weekend_share;
        if opts.events {
            let mut list = calls.calls;
            events::draw_other(&mut event_rng, &customer, &mut list);
            block_events.extend(
                list.into_iter()
                    .map(|e| (e.ts, number, BlockEvent::Usage(e.kind))),
            );
        }
        customer.write_row(&mut rng, &mut out.customers, number, id_width);
        out.personas.id(b'C', number, id_width);
        out.personas.uint(persona as u64);
        out.personas.str(PERSONA_NAMES[persona]);
        out.personas.end_row();
        let counts = offers::write_log(
            &mut rng,
            &customer,
            catalogue,
            (number, id_width),
            &mut scratch,
            &mut out.interactions,
        );
        out.counts.impressions += counts.impressions;
        out.counts.accepts += counts.accepts;
        let (n_contacts, n_accepts) = contacts::write_contacts(
            &mut contact_rng,
            &customer,
            catalogue,
            (number, id_width),
            &mut contact_scratch,
            &mut out.contacts,
            &mut out.truth,
            opts.events.then_some(&mut responses),
        );
        block_events.extend(
            responses
                .drain(..)
                .map(|(ts, r)| (ts, number, BlockEvent::Response(r))),
        );
        let months = history::draw(&mut history_rng, &customer);
        let id = (number, id_width);
        history::write_months(&mut out.history, id, &months, 0..history::HISTORY_MONTHS);
        history::write_months(
            &mut out.next_month,
            id,
            &months,
            history::HISTORY_MONTHS..history::HISTORY_MONTHS + 1,
        );
        history::write_value(&mut out.value, id, &customer);
        out.counts.contacts += n_contacts;
        out.counts.contact_accepts += n_accepts;
    }
    // Time order within the block (ties: customer order, then draw order); the spill merges
    // the blocks.
    block_events.sort_by_key(|&(ts, number, _)| (ts, number));
    let mut id = CsvBuf::with_capacity(16);
    out.events.reserve(block_events.len() * 80);
    for (ts, number, e) in &block_events {
        match e {
            BlockEvent::Usage(kind) => {
                id.clear();
                id.id(b'C', *number, id_width);
                crate::stream::events::write_event(&mut out.events, id.as_bytes(), *ts, kind);
            }
            BlockEvent::Response(r) => crate::stream::events::write_response(&mut out.events, r),
        }
    }
    out
}

/// One line of a block's `events.jsonl`.
enum BlockEvent {
    Usage(crate::stream::events::EventKind),
    Response(crate::stream::events::Response),
}

/// Mixed into the seed of the contacts' stream.
const CONTACT_STREAM: u64 = 0xc0a7_ac75_0000_0001;
/// Mixed into the seed of the calls' stream.
const CALL_STREAM: u64 = 0xca11_0000_0000_0001;
/// Mixed into the seed of the other events' stream.
const EVENT_STREAM: u64 = 0xe7e7_0000_0000_0001;
/// Mixed into the seed of the usage history's stream.
const HISTORY_STREAM: u64 = 0x415e_0000_0000_0001;

/// The blocks' time-ordered events, spilled to one scratch file and merged into `events.jsonl`
/// at the end: memory stays bounded by a block whatever the number of customers.
struct EventSpill {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    /// `(offset, length)` of each block's run in the scratch file.
    runs: Vec<(u64, u64)>,
    len: u64,
}

impl EventSpill {
    fn create(dir: &std::path::Path) -> Result<EventSpill, GenerateError> {
        let path = dir.join(".events.spill.partial");
        let file = std::fs::File::create(&path).map_err(|error| GenerateError::Io {
            path: path.clone(),
            error,
        })?;
        Ok(EventSpill {
            path,
            file: std::io::BufWriter::new(file),
            runs: Vec::new(),
            len: 0,
        })
    }

    fn push_block(&mut self, lines: &[u8]) -> Result<(), GenerateError> {
        use std::io::Write;
        self.file
            .write_all(lines)
            .map_err(|error| GenerateError::Io {
                path: self.path.clone(),
                error,
            })?;
        self.runs.push((self.len, lines.len() as u64));
        self.len += lines.len() as u64;
        Ok(())
    }

    /// Merges the runs by event time (ties: block order) into a pending `target`, then removes
    /// the scratch file.
    fn merge(self, target: &std::path::Path) -> Result<PendingFile, GenerateError> {
        use std::io::{BufRead, Read, Seek};
        let io = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |error| GenerateError::Io {
                path: path.clone(),
                error,
            }
        };
        let EventSpill {
            path, file, runs, ..
        } = self;
        file.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_data().map(|_| ()))
            .map_err(io(&path))?;
        let mut readers = Vec::with_capacity(runs.len());
        for &(offset, len) in &runs {
            let mut f = std::fs::File::open(&path).map_err(io(&path))?;
            f.seek(std::io::SeekFrom::Start(offset))
                .map_err(io(&path))?;
            readers.push(std::io::BufReader::with_capacity(1 << 16, f.take(len)));
        }
        let ts_of = |line: &[u8]| -> i64 {
            // Every line starts `{"ts":<digits>,` (written by events::write_event).
            line[6..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b'-')
                .fold((0i64, 1i64), |(v, sign), &b| match b {
                    b'-' => (v, -1),
                    d => (v * 10 + i64::from(d - b'0'), sign),
                })
                .0
        };
        let mut heads: Vec<Vec<u8>> = vec![Vec::new(); readers.len()];
        let mut heap = std::collections::BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if r.read_until(b'\n', &mut heads[i]).map_err(io(&path))? > 0 {
                heap.push(std::cmp::Reverse((ts_of(&heads[i]), i)));
            }
        }
        let mut out = PendingFile::create(target)?;
        let mut buf = Vec::with_capacity(1 << 20);
        while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
            buf.extend_from_slice(&heads[i]);
            if buf.len() >= 1 << 20 {
                out.write(&buf)?;
                buf.clear();
            }
            heads[i].clear();
            if readers[i]
                .read_until(b'\n', &mut heads[i])
                .map_err(io(&path))?
                > 0
            {
                heap.push(std::cmp::Reverse((ts_of(&heads[i]), i)));
            }
        }
        out.write(&buf)?;
        drop(readers);
        std::fs::remove_file(&path).map_err(io(&path))?;
        Ok(out)
    }
}

/// SplitMix64 of `seed` and `stream`: independent, well-spread seeds for each block.
fn mix(seed: u64, stream: u64) -> u64 {
    let z = seed ^ stream.wrapping_mul(crate::seed::GOLDEN).rotate_left(17);
    crate::seed::splitmix64(z.wrapping_add(crate::seed::GOLDEN))
}

impl From<CheckpointError> for GenerateError {
    /// [`PendingFile`] errors are I/O errors on a named file.
    fn from(e: CheckpointError) -> Self {
        match e {
            CheckpointError::Io { path, source } => GenerateError::Io {
                path,
                error: source,
            },
            other => GenerateError::Io {
                path: PathBuf::new(),
                error: std::io::Error::other(other.to_string()),
            },
        }
    }
}
