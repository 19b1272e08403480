//! Implicit-feedback interactions for offer recommendation (NCF): loaders, id maps, the
//! leave-last-out split and the bulk negative sampler.
//!
//! Two input formats:
//! - **teleseg** (what `teleseg generate` writes): `interactions.csv` with the header
//!   `customer_id,offer_id,timestamp,event`; `accept` events are positives, `impression` events
//!   are ignored. Timestamps are RFC 3339 UTC (`2024-01-24T09:19:21Z`) or Unix seconds. The
//!   optional `offers.csv` (first column `offer_id`) fixes the catalogue and its order, so offers
//!   nobody accepted are still ranked.
//! - **movielens**: `user, item, rating, timestamp` separated by `::` (ML-1M), a tab (ML-100K) or a
//!   comma (ML-latest, optional header). Ratings `>= threshold` are positives.
//!
//! Ids are mapped to rows: users in sorted order of their external id (only users with at least
//! one positive), items in catalogue order (teleseg with `offers.csv`) or sorted. A (user, item)
//! pair counts once, at its earliest time.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use thiserror::Error;

/// Errors of reading interaction files. Messages name the file and line.
#[derive(Debug, Error)]
pub enum InteractionsError {
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{file}: no positive interactions ({what})")]
    Empty { file: String, what: String },
    #[error("{file}:{line}: offer `{offer}` is not in the catalogue {catalogue}")]
    UnknownItem {
        file: String,
        line: u64,
        offer: String,
        catalogue: String,
    },
    /// A Parquet interactions file that cannot be read (see [`crate::data::parquet`]).
    #[error(transparent)]
    Data(#[from] crate::data::error::DataError),
}

impl InteractionsError {
    /// True when the cause is the input (a malformed or missing file), not the system.
    pub fn is_input_error(&self) -> bool {
        match self {
            InteractionsError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            InteractionsError::Data(e) => e.is_input_error(),
            _ => true,
        }
    }
}

/// One positive interaction, as rows of the id maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    pub user: u32,
    pub item: u32,
    /// Seconds since the Unix epoch.
    pub time: i64,
}

/// Positive interactions with their id maps.
#[derive(Debug, Clone, PartialEq)]
pub struct Interactions {
    /// External user ids in row order (sorted).
    pub users: Vec<String>,
    /// External item ids in row order.
    pub items: Vec<String>,
    /// One event per (user, item) pair, sorted by (user, time, item).
    pub events: Vec<Event>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> InteractionsError + '_ {
    move |source| InteractionsError::Io {
        file: path.display().to_string(),
        source,
    }
}

pub use crate::date::parse_time;

/// Builds [`Interactions`] from raw `(user, item, time)` positives. `catalogue` fixes the item
/// order when given (every item must be in it).
fn build(
    raw: Vec<(String, String, i64, u64)>,
    catalogue: Option<Vec<String>>,
    file: &str,
    catalogue_name: &str,
) -> Result<Interactions, InteractionsError> {
    use std::collections::HashMap;
    let mut users: Vec<String> = raw.iter().map(|r| r.0.clone()).collect();
    users.sort_unstable();
    users.dedup();
    let items = match catalogue {
        Some(c) => c,
        None => {
            let mut v: Vec<String> = raw.iter().map(|r| r.1.clone()).collect();
            v.sort_unstable();
            v.dedup();
            v
        }
    };
    let user_ix: HashMap<&str, u32> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), i as u32))
        .collect();
    let item_ix: HashMap<&str, u32> = items
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), i as u32))
        .collect();
    let mut events = Vec::with_capacity(raw.len());
    for (u, i, time, line) in &raw {
        let item = *item_ix
            .get(i.as_str())
            .ok_or_else(|| InteractionsError::UnknownItem {
                file: file.to_string(),
                line: *line,
                offer: i.clone(),
                catalogue: catalogue_name.to_string(),
            })?;
        events.push(Event {
            user: user_ix[u.as_str()],
            item,
            time: *time,
        });
    }
    // One event per pair, at its earliest time.
    events.sort_unstable_by_key(|e| (e.user, e.item, e.time));
    events.dedup_by_key(|e| (e.user, e.item));
    events.sort_unstable_by_key(|e| (e.user, e.time, e.item));
    Ok(Interactions {
        users,
        items,
        events,
    })
}

/// Reads the offer ids (first column) of an `offers.csv`, in file order.
pub fn read_catalogue(path: &Path) -> Result<Vec<String>, InteractionsError> {
    let file = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|e| csv_err(&file, e))?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_err(&file, e))?;
        let id = rec.get(0).unwrap_or("").trim();
        if id.is_empty() {
            return Err(InteractionsError::Parse {
                file,
                line: rec.position().map_or(0, |p| p.line()),
                message: "empty offer_id".into(),
            });
        }
        out.push(id.to_string());
    }
    if out.is_empty() {
        return Err(InteractionsError::Empty {
            file,
            what: "the catalogue has no offers".into(),
        });
    }
    Ok(out)
}

fn csv_err(file: &str, e: csv::Error) -> InteractionsError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => InteractionsError::Io {
            file: file.to_string(),
            source,
        },
        kind => InteractionsError::Parse {
            file: file.to_string(),
            line,
            message: format!("{kind:?}"),
        },
    }
}

/// Reads a teleseg `interactions.csv` (accepts are positives), with the optional catalogue.
/// A `.parquet`/`.pq` path is read as Parquet (same columns; `timestamp` may also be a Parquet
/// timestamp or integer Unix seconds; the "line" in messages is the 1-based row number).
pub fn load_teleseg(
    interactions: &Path,
    offers: Option<&Path>,
) -> Result<Interactions, InteractionsError> {
    let file = interactions.display().to_string();
    let catalogue = offers.map(read_catalogue).transpose()?;
    let col = |header: &[String], name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| InteractionsError::Parse {
                file: file.clone(),
                line: 1,
                message: format!(
                    "missing column `{name}` (expected customer_id,offer_id,timestamp,event)"
                ),
            })
    };
    let cols = |header: &[String]| -> Result<[usize; 4], InteractionsError> {
        Ok([
            col(header, "customer_id")?,
            col(header, "offer_id")?,
            col(header, "timestamp")?,
            col(header, "event")?,
        ])
    };
    let mut raw = Vec::new();
    if crate::data::parquet::is_parquet(interactions) {
        let (header, rows) = crate::data::parquet::read_text_rows(interactions)?;
        let c = cols(&header)?;
        for (line, rec) in &rows {
            let field = |i: usize| rec.get(c[i]).map_or("", |f| f.trim());
            teleseg_row(
                &file,
                *line,
                [field(0), field(1), field(2), field(3)],
                &mut raw,
            )?;
        }
    } else {
        let mut rdr = csv::ReaderBuilder::new()
            .from_path(interactions)
            .map_err(|e| csv_err(&file, e))?;
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| csv_err(&file, e))?
            .iter()
            .map(str::to_string)
            .collect();
        let c = cols(&header)?;
        let mut rec = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(csv_err(&file, e)),
            }
            let line = rec.position().map_or(0, |p| p.line());
            let field = |i: usize| rec.get(c[i]).unwrap_or("").trim();
            teleseg_row(
                &file,
                line,
                [field(0), field(1), field(2), field(3)],
                &mut raw,
            )?;
        }
    }
    if raw.is_empty() {
        return Err(InteractionsError::Empty {
            file,
            what: "no `accept` events".into(),
        });
    }
    let name = offers.map_or(String::new(), |p| p.display().to_string());
    build(raw, catalogue, &file, &name)
}

/// Checks one interactions record `[customer_id, offer_id, timestamp, event]` and keeps it in
/// `raw` when it is an accept.
fn teleseg_row(
    file: &str,
    line: u64,
    [u, o, t, e]: [&str; 4],
    raw: &mut Vec<(String, String, i64, u64)>,
) -> Result<(), InteractionsError> {
    let bad = |message: String| InteractionsError::Parse {
        file: file.to_string(),
        line,
        message,
    };
    match e {
        "accept" => {}
        "impression" => return Ok(()),
        other => {
            return Err(bad(format!(
                "column 4 (`event`): `{other}` is not `impression` or `accept`"
            )));
        }
    }
    if u.is_empty() || o.is_empty() {
        return Err(bad("empty customer_id or offer_id".into()));
    }
    let time = parse_time(t).ok_or_else(|| {
        bad(format!(
            "column 3 (`timestamp`): `{t}` is not an RFC 3339 UTC time or Unix seconds"
        ))
    })?;
    raw.push((u.to_string(), o.to_string(), time, line));
    Ok(())
}

/// Reads a MovieLens-format file: `user item rating timestamp` separated by `::`, a tab or a
/// comma (detected from the first line; a first line whose rating is not a number is a header).
/// Ratings `>= threshold` are positives.
pub fn load_movielens(path: &Path, threshold: f64) -> Result<Interactions, InteractionsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let sep: &str = if first.contains("::") {
        "::"
    } else if first.contains('\t') {
        "\t"
    } else {
        ","
    };
    let mut raw = Vec::new();
    let mut seen_data = false;
    for (i, l) in text.lines().enumerate() {
        let line = i as u64 + 1;
        let l = l.trim_end_matches('\r');
        if l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split(sep).map(str::trim).collect();
        let bad = |message: String| InteractionsError::Parse {
            file: file.clone(),
            line,
            message,
        };
        if f.len() < 3 {
            return Err(bad(format!(
                "expected `user{sep}item{sep}rating[{sep}timestamp]`, found {} field(s)",
                f.len()
            )));
        }
        let rating = match f[2].parse::<f64>() {
            Ok(r) if r.is_finite() => r,
            _ if !seen_data => {
                // A header line (`userId,movieId,rating,timestamp`).
                seen_data = true;
                continue;
            }
            _ => return Err(bad(format!("rating `{}` is not a number", f[2]))),
        };
        seen_data = true;
        let time = match f.get(3) {
            Some(t) if !t.is_empty() => {
                parse_time(t).ok_or_else(|| bad(format!("timestamp `{t}` is not Unix seconds")))?
            }
            _ => 0,
        };
        if f[0].is_empty() || f[1].is_empty() {
            return Err(bad("empty user or item id".into()));
        }
        if rating >= threshold {
            raw.push((f[0].to_string(), f[1].to_string(), time, line));
        }
    }
    if raw.is_empty() {
        return Err(InteractionsError::Empty {
            file,
            what: format!("no rating >= {threshold}"),
        });
    }
    build(raw, None, &file, "")
}

/// `(user, item)` row pairs.
pub type Pair = (u32, u32);

/// The leave-last-out split: per user, the latest positive is the test item (users with at
/// least 2 positives), the one before it the validation item (users with at least 3); the rest
/// is training data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeaveLastOut {
    pub train: Vec<Pair>,
    pub valid: Vec<Pair>,
    pub test: Vec<Pair>,
}

/// Splits `ix` by time, per user (events are sorted by (user, time, item): ties go to the
/// larger item row, deterministically).
pub fn leave_last_out(ix: &Interactions) -> LeaveLastOut {
    let mut out = LeaveLastOut::default();
    let ev = &ix.events;
    let mut start = 0;
    while start < ev.len() {
        let user = ev[start].user;
        let mut end = start;
        while end < ev.len() && ev[end].user == user {
            end += 1;
        }
        let n = end - start;
        let mut train_end = end;
        if n >= 2 {
            train_end -= 1;
            out.test.push((user, ev[end - 1].item));
        }
        if n >= 3 {
            train_end -= 1;
            out.valid.push((user, ev[end - 2].item));
        }
        out.train
            .extend(ev[start..train_end].iter().map(|e| (e.user, e.item)));
        start = end;
    }
    out
}

/// Membership of (user, item) pairs: one bit per pair, `users × ceil(items / 64)` words.
#[derive(Debug, Clone)]
pub struct PositiveSet {
    n_items: usize,
    words: usize,
    bits: Vec<u64>,
    counts: Vec<u32>,
}

impl PositiveSet {
    /// The set of `pairs` for `n_users × n_items`.
    pub fn new<'a>(
        n_users: usize,
        n_items: usize,
        pairs: impl IntoIterator<Item = &'a Pair>,
    ) -> Self {
        let words = n_items.div_ceil(64).max(1);
        let mut s = Self {
            n_items,
            words,
            bits: vec![0; n_users * words],
            counts: vec![0; n_users],
        };
        for &(u, i) in pairs {
            s.insert(u, i);
        }
        s
    }

    /// Adds a pair (no-op when present).
    pub fn insert(&mut self, user: u32, item: u32) {
        let w = user as usize * self.words + item as usize / 64;
        let bit = 1u64 << (item % 64);
        if self.bits[w] & bit == 0 {
            self.bits[w] |= bit;
            self.counts[user as usize] += 1;
        }
    }

    /// Whether the pair is in the set.
    #[inline]
    pub fn contains(&self, user: u32, item: u32) -> bool {
        self.bits[user as usize * self.words + item as usize / 64] & (1u64 << (item % 64)) != 0
    }

    /// Items of `user` in the set.
    pub fn count(&self, user: u32) -> usize {
        self.counts[user as usize] as usize
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    pub fn n_users(&self) -> usize {
        self.counts.len()
    }
}

/// The training samples of one epoch: every positive (label 1) followed by its `ratio` sampled
/// negatives (label 0), as index vectors ready to upload as Int tensors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpochSamples {
    pub users: Vec<i64>,
    pub items: Vec<i64>,
    pub labels: Vec<f32>,
}

impl EpochSamples {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Samples per epoch: every positive plus `ratio` negatives for each positive whose user has an
/// item left that is not a known positive.
pub fn epoch_len(positives: &[Pair], known: &PositiveSet, ratio: usize) -> usize {
    positives
        .iter()
        .map(|&(u, _)| {
            1 + if known.count(u) < known.n_items() {
                ratio
            } else {
                0
            }
        })
        .sum()
}

/// Draws the epoch's samples into `out` (its buffers are reused: no per-sample allocation).
/// Negatives are uniform over the items that are not in `known` for that user (rejection
/// sampling), seeded by `seed`.
pub fn sample_epoch(
    positives: &[Pair],
    known: &PositiveSet,
    ratio: usize,
    seed: u64,
    out: &mut EpochSamples,
) {
    sample_epoch_mixed(positives, known, ratio, None, seed, out);
}

/// [`sample_epoch`] where each negative of a user with declined impressions is, with probability
/// `share`, one of `declined[u]` (uniformly; the caller guarantees none is in `known`) instead of
/// a uniform unseen item. `None` (or `share = 0`) draws exactly what [`sample_epoch`] draws.
pub fn sample_epoch_mixed(
    positives: &[Pair],
    known: &PositiveSet,
    ratio: usize,
    declined: Option<(&[Vec<u32>], f64)>,
    seed: u64,
    out: &mut EpochSamples,
) {
    let declined = declined.filter(|&(_, share)| share > 0.0);
    let n = epoch_len(positives, known, ratio);
    out.users.clear();
    out.items.clear();
    out.labels.clear();
    out.users.reserve(n);
    out.items.reserve(n);
    out.labels.reserve(n);
    let mut rng = StdRng::seed_from_u64(seed);
    let n_items = known.n_items() as u32;
    for &(u, i) in positives {
        out.users.push(u as i64);
        out.items.push(i as i64);
        out.labels.push(1.0);
        if known.count(u) >= known.n_items() {
            continue;
        }
        let observed = declined
            .and_then(|(d, share)| d.get(u as usize).map(|v| (v.as_slice(), share)))
            .filter(|(v, _)| !v.is_empty());
        for _ in 0..ratio {
            if let Some((v, share)) = observed
                && rng.random::<f64>() < share
            {
                out.users.push(u as i64);
                out.items.push(v[rng.random_range(0..v.len())] as i64);
                out.labels.push(0.0);
                continue;
            }
            let j = loop {
                let j = rng.random_range(0..n_items);
                if !known.contains(u, j) {
                    break j;
                }
            };
            out.users.push(u as i64);
            out.items.push(j as i64);
            out.labels.push(0.0);
        }
    }
}

/// `count` distinct items of `user` outside `known` and other than `target`, uniformly (all of
/// them when fewer exist), for the sampled ranking protocol.
pub fn sample_distinct_negatives(
    user: u32,
    target: u32,
    known: &PositiveSet,
    count: usize,
    rng: &mut StdRng,
    out: &mut Vec<u32>,
) {
    out.clear();
    let n = known.n_items() as u32;
    let available = (0..n)
        .filter(|&j| j != target && !known.contains(user, j))
        .count();
    if available <= count.saturating_mul(2) {
        // Small catalogue: take a seeded subset of the unseen items.
        let mut all: Vec<u32> = (0..n)
            .filter(|&j| j != target && !known.contains(user, j))
            .collect();
        if all.len() > count {
            for k in 0..count {
                let r = rng.random_range(k..all.len());
                all.swap(k, r);
            }
            all.truncate(count);
        }
        out.extend(all);
        return;
    }
    while out.len() < count {
        let j = rng.random_range(0..n);
        if j != target && !known.contains(user, j) && !out.contains(&j) {
            out.push(j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ix(events: &[(u32, u32, i64)], users: usize, items: usize) -> Interactions {
        Interactions {
            users: (0..users).map(|u| format!("u{u}")).collect(),
            items: (0..items).map(|i| format!("i{i}")).collect(),
            events: events
                .iter()
                .map(|&(user, item, time)| Event { user, item, time })
                .collect(),
        }
    }

    #[test]
    fn rfc3339_and_unix_times_parse() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        // 2024-01-01 is the generator's window start.
        assert_eq!(parse_time("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(parse_time("2024-03-01T01:02:03Z"), Some(1_709_254_923));
        assert_eq!(parse_time("978300760"), Some(978_300_760));
        assert_eq!(parse_time("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn leave_last_out_holds_out_latest_per_user() {
        // u0: items 2 (t=5), 0 (t=1), 1 (t=3) → train [0], valid 1, test 2.
        // u1: one positive → train only. u2: two → test latest.
        let data = ix(
            &[
                (0, 0, 1),
                (0, 1, 3),
                (0, 2, 5),
                (1, 1, 9),
                (2, 0, 7),
                (2, 2, 2),
            ],
            3,
            3,
        );
        let mut data = data;
        data.events
            .sort_unstable_by_key(|e| (e.user, e.time, e.item));
        let s = leave_last_out(&data);
        assert_eq!(s.test, vec![(0, 2), (2, 0)]);
        assert_eq!(s.valid, vec![(0, 1)]);
        assert_eq!(s.train, vec![(0, 0), (1, 1), (2, 2)]);
    }

    #[test]
    fn sampler_never_returns_a_known_positive_and_is_seeded() {
        // 50 users, 70 items; user u likes items u..u+40 (dense: forces many rejections), and
        // user 0 likes every item (no negative possible).
        let mut pairs = Vec::new();
        for u in 1..50u32 {
            for i in u..u + 40 {
                pairs.push((u, i % 70));
            }
        }
        pairs.extend((0..70).map(|i| (0u32, i)));
        let known = PositiveSet::new(50, 70, &pairs);
        let mut a = EpochSamples::default();
        sample_epoch(&pairs, &known, 4, 7, &mut a);
        assert_eq!(a.len(), epoch_len(&pairs, &known, 4));
        assert_eq!(a.len(), 70 + 49 * 40 * 5);
        let mut negatives = 0;
        for k in 0..a.len() {
            let (u, i) = (a.users[k] as u32, a.items[k] as u32);
            if a.labels[k] == 0.0 {
                negatives += 1;
                assert!(
                    !known.contains(u, i),
                    "negative ({u},{i}) is a known positive"
                );
            } else {
                assert!(known.contains(u, i));
            }
        }
        assert_eq!(negatives, 49 * 40 * 4);
        let mut b = EpochSamples::default();
        sample_epoch(&pairs, &known, 4, 7, &mut b);
        assert_eq!(a, b, "same seed, same samples");
        sample_epoch(&pairs, &known, 4, 8, &mut b);
        assert_ne!(a.items, b.items, "another epoch seed resamples");
    }

    #[test]
    fn distinct_negatives_exclude_known_and_target() {
        let pairs = [(0u32, 1u32), (0, 3)];
        let known = PositiveSet::new(1, 300, &pairs);
        let mut rng = StdRng::seed_from_u64(1);
        let mut out = Vec::new();
        sample_distinct_negatives(0, 5, &known, 99, &mut rng, &mut out);
        assert_eq!(out.len(), 99);
        let mut d = out.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 99);
        assert!(out.iter().all(|&j| j != 1 && j != 3 && j != 5));
        // Small catalogue: all 6 unseen items.
        let small = PositiveSet::new(1, 9, &pairs);
        sample_distinct_negatives(0, 5, &small, 99, &mut rng, &mut out);
        out.sort_unstable();
        assert_eq!(out, vec![0, 2, 4, 6, 7, 8]);
    }

    #[test]
    fn movielens_separators_header_and_threshold() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("a.dat", "1::10::5::100\n1::11::2::101\n2::10::4::50\n"),
            ("b.tsv", "1\t10\t5\t100\n1\t11\t2\t101\n2\t10\t4\t50\n"),
            (
                "c.csv",
                "userId,movieId,rating,timestamp\n1,10,5.0,100\n1,11,2.0,101\n2,10,4.0,50\n",
            ),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            let ix = load_movielens(&p, 4.0).unwrap();
            assert_eq!(ix.users, vec!["1", "2"], "{name}");
            assert_eq!(ix.items, vec!["10"], "{name}");
            assert_eq!(ix.events.len(), 2, "{name}");
        }
        let p = dir.path().join("bad.dat");
        std::fs::write(&p, "1::10::5::100\n1::11::x::101\n").unwrap();
        let msg = load_movielens(&p, 4.0).unwrap_err().to_string();
        assert!(msg.contains("bad.dat:2") && msg.contains("rating"), "{msg}");
    }

    #[test]
    fn teleseg_format_uses_accepts_and_catalogue() {
        let dir = tempfile::tempdir().unwrap();
        let inter = dir.path().join("interactions.csv");
        std::fs::write(
            &inter,
            "customer_id,offer_id,timestamp,event\n\
             C2,O002,2024-01-02T00:00:00Z,impression\n\
             C2,O002,2024-01-02T01:00:00Z,accept\n\
             C1,O001,2024-01-01T00:00:00Z,accept\n\
             C1,O001,2024-02-01T00:00:00Z,accept\n",
        )
        .unwrap();
        let offers = dir.path().join("offers.csv");
        std::fs::write(&offers, "offer_id,name\nO001,a\nO002,b\nO003,c\n").unwrap();
        let ix = load_teleseg(&inter, Some(&offers)).unwrap();
        assert_eq!(ix.users, vec!["C1", "C2"]);
        assert_eq!(ix.items, vec!["O001", "O002", "O003"]);
        // The duplicate accept of (C1, O001) counts once, at its earliest time.
        assert_eq!(
            ix.events,
            vec![
                Event {
                    user: 0,
                    item: 0,
                    time: 1_704_067_200
                },
                Event {
                    user: 1,
                    item: 1,
                    time: 1_704_157_200
                },
            ]
        );
        std::fs::write(&offers, "offer_id,name\nO001,a\n").unwrap();
        let msg = load_teleseg(&inter, Some(&offers)).unwrap_err().to_string();
        assert!(
            msg.contains("interactions.csv:3") && msg.contains("O002"),
            "{msg}"
        );
    }
}
