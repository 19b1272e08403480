//! Bandit logs: reading them (the Open Bandit Dataset's CSV layout, `--format obd`), checking
//! every round (a clear error naming the file, line and rule), and the context-free reading of a
//! policy from its own log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A log that cannot be read or breaks a rule.
#[derive(Debug, Error)]
pub enum LogError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line {line}: {message}", path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{}: no column `{column}` in the header (a {format} log needs {needs})", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        format: &'static str,
        needs: String,
    },
    #[error("{}: line {line}, column `{column}`: {value:?} {rule}", path.display())]
    Rule {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
        rule: String,
    },
    #[error("{}: the log holds no rounds (a header and no rows)", path.display())]
    Empty { path: PathBuf },
}

impl LogError {
    /// True when the input is at fault (everything but an I/O failure of an existing file).
    pub fn is_input_error(&self) -> bool {
        match self {
            LogError::Io { source, .. } => crate::data::error::is_path_mistake(source),
            _ => true,
        }
    }
}

/// The columns an OBD log must have.
pub const OBD_COLUMNS: [&str; 4] = ["item_id", "position", "click", "propensity_score"];

/// One context-free bandit log in the Open Bandit Dataset's layout: each round shows one item
/// (the action) in one slot (the position) and records a click and the logging policy's
/// probability of that item in that slot.
#[derive(Debug, Clone, PartialEq)]
pub struct ObdLog {
    pub path: PathBuf,
    pub item: Vec<usize>,
    /// The position column's value as written (slots are matched by value across logs).
    pub position: Vec<u32>,
    pub reward: Vec<f64>,
    pub pscore: Vec<f64>,
}

impl ObdLog {
    pub fn rounds(&self) -> usize {
        self.reward.len()
    }

    /// The mean reward: the logging policy's observed value.
    pub fn observed_value(&self) -> f64 {
        self.reward.iter().sum::<f64>() / self.rounds() as f64
    }
}

/// An open CSV log with the positions of its required columns.
pub(crate) struct CsvLog {
    pub path: PathBuf,
    pub reader: csv::Reader<std::io::BufReader<std::fs::File>>,
    pub header: csv::StringRecord,
    /// Positions of the required columns, in the order asked.
    pub index: Vec<usize>,
}

impl CsvLog {
    /// Opens `path` and finds `required` in its header (trimmed names).
    pub fn open(path: &Path, required: &[&str], format: &'static str) -> Result<CsvLog, LogError> {
        let io = |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.is_dir() {
            return Err(io(std::io::Error::from(std::io::ErrorKind::IsADirectory)));
        }
        let mut reader = csv::ReaderBuilder::new().from_reader(std::io::BufReader::new(file));
        let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
        let index = required
            .iter()
            .map(|name| {
                header
                    .iter()
                    .position(|h| h.trim() == *name)
                    .ok_or_else(|| LogError::MissingColumn {
                        path: path.to_path_buf(),
                        column: name.to_string(),
                        format,
                        needs: required.join(", "),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(CsvLog {
            path: path.to_path_buf(),
            reader,
            header,
            index,
        })
    }

    /// The position of an optional column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h.trim() == name)
    }

    /// Reads the next record into `record`; false at the end.
    pub fn next(&mut self, record: &mut csv::StringRecord) -> Result<bool, LogError> {
        self.reader
            .read_record(record)
            .map_err(|e| csv_error(&self.path, e))
    }

    /// The rule-broken error for `column` of `record`.
    pub fn rule(&self, record: &csv::StringRecord, column: &str, rule: &str) -> LogError {
        let value = self
            .column(column)
            .and_then(|j| record.get(j))
            .unwrap_or("")
            .trim()
            .to_string();
        LogError::Rule {
            path: self.path.clone(),
            line: record.position().map_or(0, csv::Position::line),
            column: column.to_string(),
            value,
            rule: rule.to_string(),
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> LogError {
    LogError::Csv {
        path: path.to_path_buf(),
        line: e.position().map_or(1, csv::Position::line),
        message: e.to_string(),
    }
}

/// Parses a logging propensity: a probability in (0, 1], never missing.
pub(crate) fn propensity(
    log: &CsvLog,
    record: &csv::StringRecord,
    column: &str,
    text: &str,
) -> Result<f64, LogError> {
    match text {
        "" => Err(log.rule(
            record,
            column,
            "is missing: every round needs the logging propensity",
        )),
        text => text
            .parse()
            .ok()
            .filter(|p: &f64| *p > 0.0 && *p <= 1.0)
            .ok_or_else(|| log.rule(record, column, "is not a probability in (0, 1]")),
    }
}

/// Reads an OBD log (`item_id, position, click, propensity_score`; other columns ignored). With
/// a `timestamp` column the rounds are put in its order (ISO 8601 text in one time zone sorts
/// as text; the sort is stable), else they keep the file's order: a policy that changed while
/// it logged is read in logging order.
pub fn read_obd(path: &Path) -> Result<ObdLog, LogError> {
    let mut csv = CsvLog::open(path, &OBD_COLUMNS, "obd")?;
    let index = csv.index.clone();
    let mut log = ObdLog {
        path: path.to_path_buf(),
        item: Vec::new(),
        position: Vec::new(),
        reward: Vec::new(),
        pscore: Vec::new(),
    };
    let time_column = csv.column("timestamp");
    let mut times: Vec<String> = Vec::new();
    let mut record = csv::StringRecord::new();
    while csv.next(&mut record)? {
        if let Some(t) = time_column {
            times.push(record.get(t).unwrap_or("").trim().to_string());
        }
        let cell = |j: usize| record.get(index[j]).unwrap_or("").trim();
        let rule = |j: usize, rule: &str| csv.rule(&record, OBD_COLUMNS[j], rule);
        let item: usize = cell(0)
            .parse()
            .map_err(|_| rule(0, "is not an item index (an integer ≥ 0)"))?;
        let position: u32 = cell(1)
            .parse()
            .map_err(|_| rule(1, "is not a slot number (an integer ≥ 0)"))?;
        let reward: f64 = cell(2)
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite())
            .ok_or_else(|| rule(2, "is not a finite number"))?;
        let pscore = propensity(&csv, &record, OBD_COLUMNS[3], cell(3))?;
        log.item.push(item);
        log.position.push(position);
        log.reward.push(reward);
        log.pscore.push(pscore);
    }
    if log.reward.is_empty() {
        return Err(LogError::Empty {
            path: path.to_path_buf(),
        });
    }
    if time_column.is_some() && !times.is_sorted() {
        let mut order: Vec<usize> = (0..times.len()).collect();
        order.sort_by(|&a, &b| times[a].cmp(&times[b]));
        log.item = order.iter().map(|&i| log.item[i]).collect();
        log.position = order.iter().map(|&i| log.position[i]).collect();
        log.reward = order.iter().map(|&i| log.reward[i]).collect();
        log.pscore = order.iter().map(|&i| log.pscore[i]).collect();
    }
    Ok(log)
}

/// Where a context-free policy's probabilities came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// The log's own propensities: constant per (item, slot) and a distribution in every slot,
    /// so the policy was stationary and is known exactly.
    LoggedPropensities,
    /// A policy that changed while it logged (a bandit updating its posterior): its probability
    /// of every item at every round, interpolated linearly in round order between the rounds
    /// where that item was chosen (held flat before the first and after the last), normalised
    /// over the items at each round, then averaged over the rounds. The share of each item in
    /// the rounds would be unbiased too, but it ignores the propensities and is noisier; the
    /// mean of the logged propensities per item would over-weight the rounds where the policy
    /// favoured that item.
    InterpolatedPropensities,
}

/// A context-free policy over `items` actions in each of `slots` (sorted slot values).
#[derive(Debug, Clone, PartialEq)]
pub struct SlotPolicy {
    pub slots: Vec<u32>,
    pub items: usize,
    /// `[slots, items]` row-major; every row sums to 1.
    pub probs: Vec<f64>,
    pub source: PolicySource,
}

impl SlotPolicy {
    pub fn row(&self, slot: usize) -> &[f64] {
        &self.probs[slot * self.items..(slot + 1) * self.items]
    }
}

/// The policy that wrote `log` (rounds in logging order), read as context-free: exactly from
/// its propensities when they are constant per (item, slot) and sum to 1 in every slot, else
/// as the round-average of its interpolated propensities ([`PolicySource`]).
pub fn slot_policy(log: &ObdLog, slots: &[u32], items: usize) -> SlotPolicy {
    let slot_of: BTreeMap<u32, usize> = slots.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    let k = items;
    let mut first = vec![f64::NAN; slots.len() * k];
    let mut constant = true;
    // Per slot, per item: (round index within the slot, propensity) in logging order.
    let mut seen: Vec<Vec<Vec<(usize, f64)>>> = vec![vec![Vec::new(); k]; slots.len()];
    let mut rounds = vec![0usize; slots.len()];
    for i in 0..log.rounds() {
        let s = slot_of[&log.position[i]];
        let cell = s * k + log.item[i];
        if first[cell].is_nan() {
            first[cell] = log.pscore[i];
        } else if (first[cell] - log.pscore[i]).abs() > 1e-9 * first[cell].max(1e-12) {
            constant = false;
        }
        seen[s][log.item[i]].push((rounds[s], log.pscore[i]));
        rounds[s] += 1;
    }
    let logged_is_distribution = (0..slots.len()).all(|s| {
        let sum: f64 = first[s * k..(s + 1) * k]
            .iter()
            .filter(|p| !p.is_nan())
            .sum();
        (sum - 1.0).abs() < 1e-6
    });
    if constant && logged_is_distribution {
        let probs = first
            .iter()
            .map(|p| if p.is_nan() { 0.0 } else { *p })
            .collect();
        return SlotPolicy {
            slots: slots.to_vec(),
            items,
            probs,
            source: PolicySource::LoggedPropensities,
        };
    }
    let mut probs = vec![0.0f64; slots.len() * k];
    for s in 0..slots.len() {
        let t_len = rounds[s];
        let row = &mut probs[s * k..(s + 1) * k];
        if t_len == 0 {
            // A slot the policy never filled: no information, spread evenly.
            row.iter_mut().for_each(|p| *p = 1.0 / k as f64);
            continue;
        }
        // [rounds, items] interpolated propensities, then normalised per round.
        let mut grid = vec![0.0f64; t_len * k];
        for (a, obs) in seen[s].iter().enumerate() {
            let mut j = 0;
            for t in 0..t_len {
                while j + 1 < obs.len() && obs[j + 1].0 <= t {
                    j += 1;
                }
                grid[t * k + a] = match obs.len() {
                    0 => 0.0,
                    _ if t <= obs[0].0 => obs[0].1,
                    _ if j + 1 >= obs.len() => obs[j].1,
                    _ => {
                        let ((t0, p0), (t1, p1)) = (obs[j], obs[j + 1]);
                        p0 + (p1 - p0) * (t - t0) as f64 / (t1 - t0) as f64
                    }
                };
            }
        }
        for t in 0..t_len {
            let at = &grid[t * k..(t + 1) * k];
            let total: f64 = at.iter().sum();
            for (p, g) in row.iter_mut().zip(at) {
                *p += g / total / t_len as f64;
            }
        }
    }
    SlotPolicy {
        slots: slots.to_vec(),
        items,
        probs,
        source: PolicySource::InterpolatedPropensities,
    }
}

/// Mean rewards per (slot, item) cell, shrunk towards the slot's mean by an empirical-Bayes
/// beta-binomial prior whose strength is fitted by the method of moments: cells with few rounds
/// (the rule in a sparse log) stay near their slot's mean, cells with many keep their own.
///
/// `rows` are `(slot, item, reward, times)`: a round counted `times` times (a bootstrap
/// resample's multiplicity; 1 for a plain fit).
pub fn shrunk_cell_means(
    rows: impl Iterator<Item = (usize, usize, f64, f64)>,
    slots: usize,
    items: usize,
) -> Vec<f64> {
    let mut n = vec![0.0f64; slots * items];
    let mut sum = vec![0.0f64; slots * items];
    for (s, a, r, times) in rows {
        n[s * items + a] += times;
        sum[s * items + a] += times * r;
    }
    let mut out = vec![0.0; slots * items];
    for s in 0..slots {
        let cells = s * items..(s + 1) * items;
        let total_n: f64 = n[cells.clone()].iter().sum();
        let mut m = if total_n > 0.0 {
            sum[cells.clone()].iter().sum::<f64>() / total_n
        } else {
            0.0
        };
        // Between-cell variance of the true rates: the rounds-weighted spread of the observed
        // rates less what binomial noise explains (the DerSimonian–Laird moment estimator).
        let seen: Vec<usize> = cells.clone().filter(|&c| n[c] > 0.0).collect();
        let strength = if seen.len() >= 2 && m > 0.0 && m < 1.0 {
            let spread: f64 = seen
                .iter()
                .map(|&c| n[c] * (sum[c] / n[c] - m).powi(2))
                .sum();
            let noise = (seen.len() - 1) as f64 * m * (1.0 - m);
            let scale = total_n - seen.iter().map(|&c| n[c] * n[c]).sum::<f64>() / total_n;
            let tau2 = (spread - noise) / scale;
            if tau2 > 0.0 {
                // The random-effects mean: cells weighted by their precision, not their rounds,
                // so a logger that showed its favourites often does not lift the prior of the
                // items it rarely showed.
                let precision = |c: usize| 1.0 / (tau2 + m * (1.0 - m) / n[c]);
                let total: f64 = seen.iter().map(|&c| precision(c)).sum();
                m = seen
                    .iter()
                    .map(|&c| precision(c) * sum[c] / n[c])
                    .sum::<f64>()
                    / total;
                (m * (1.0 - m) / tau2 - 1.0).max(0.0)
            } else {
                f64::INFINITY
            }
        } else {
            f64::INFINITY
        };
        for c in cells {
            out[c] = if strength.is_infinite() {
                m
            } else {
                (sum[c] + strength * m) / (n[c] + strength)
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_an_obd_log_and_ignores_other_columns() {
        let (_d, p) = write(
            ",timestamp,item_id,position,click,propensity_score,user_feature_0\n\
             0,2019-11-24 10:00:00,3,1,0,0.25,a\n1,2019-11-24 09:00:00,0,2,1,0.5,b\n",
        );
        let log = read_obd(&p).unwrap();
        // Put in timestamp order.
        assert_eq!(log.item, vec![0, 3]);
        assert_eq!(log.position, vec![2, 1]);
        assert_eq!(log.reward, vec![1.0, 0.0]);
        assert_eq!(log.pscore, vec![0.5, 0.25]);
        assert!((log.observed_value() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bad_logs_name_the_file_line_and_rule() {
        let cases = [
            (
                "item_id,position,click\n1,1,0\n",
                "no column `propensity_score`",
            ),
            (
                "item_id,position,click,propensity_score\n",
                "holds no rounds",
            ),
            (
                "item_id,position,click,propensity_score\n1,1,0,0.5\n1,1,0,0\n",
                "line 3, column `propensity_score`: \"0\" is not a probability in (0, 1]",
            ),
            (
                "item_id,position,click,propensity_score\n1,1,0,1.5\n",
                "is not a probability in (0, 1]",
            ),
            (
                "item_id,position,click,propensity_score\n1,1,0,\n",
                "line 2, column `propensity_score`: \"\" is missing",
            ),
            (
                "item_id,position,click,propensity_score\nshoe,1,0,0.5\n",
                "line 2, column `item_id`: \"shoe\" is not an item index",
            ),
            (
                "item_id,position,click,propensity_score\n1,1,yes,0.5\n",
                "column `click`: \"yes\" is not a finite number",
            ),
        ];
        for (text, expect) in cases {
            let (_d, p) = write(text);
            let e = read_obd(&p).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("log.csv"), "{msg}");
            assert!(msg.contains(expect), "{msg} lacks {expect}");
            assert!(e.is_input_error());
        }
        let missing = read_obd(Path::new("/nonexistent/log.csv")).unwrap_err();
        assert!(missing.is_input_error());
        let dir = tempfile::tempdir().unwrap();
        assert!(read_obd(dir.path()).unwrap_err().is_input_error());
    }

    fn log(rows: &[(usize, u32, f64)]) -> ObdLog {
        ObdLog {
            path: PathBuf::from("x.csv"),
            item: rows.iter().map(|r| r.0).collect(),
            position: rows.iter().map(|r| r.1).collect(),
            reward: vec![0.0; rows.len()],
            pscore: rows.iter().map(|r| r.2).collect(),
        }
    }

    #[test]
    fn a_stationary_policy_is_read_from_its_propensities() {
        // Two items, one slot, probabilities 0.25 / 0.75, item 0 logged 3 times of 4.
        let l = log(&[(0, 1, 0.25), (0, 1, 0.25), (0, 1, 0.25), (1, 1, 0.75)]);
        let p = slot_policy(&l, &[1], 2);
        assert_eq!(p.source, PolicySource::LoggedPropensities);
        assert_eq!(p.probs, vec![0.25, 0.75]);
    }

    #[test]
    fn a_changing_policy_is_read_from_its_interpolated_propensities() {
        // Slot 1, two items over five rounds: item 0 chosen at rounds 0 (p 0.8) and 4 (p 0.4),
        // item 1 at rounds 1..=3 with p 0.3, 0.4, 0.5. Interpolated: item 0 = 0.8, 0.7, 0.6,
        // 0.5, 0.4; item 1 = 0.3, 0.3, 0.4, 0.5, 0.5. Slot 2 holds item 1 only.
        let l = log(&[
            (0, 1, 0.8),
            (1, 1, 0.3),
            (1, 2, 1.0),
            (1, 1, 0.4),
            (1, 1, 0.5),
            (0, 1, 0.4),
        ]);
        let p = slot_policy(&l, &[1, 2], 3);
        assert_eq!(p.source, PolicySource::InterpolatedPropensities);
        let pairs = [(0.8, 0.3), (0.7, 0.3), (0.6, 0.4), (0.5, 0.5), (0.4, 0.5)];
        let item0: f64 = pairs.iter().map(|(a, b)| a / (a + b)).sum::<f64>() / 5.0;
        let expect = [item0, 1.0 - item0, 0.0, 0.0, 1.0, 0.0];
        for (a, b) in p.probs.iter().zip(expect) {
            assert!((a - b).abs() < 1e-12, "{:?}", p.probs);
        }
    }

    #[test]
    fn shrinkage_pulls_sparse_cells_to_the_slot_mean_and_keeps_dense_ones() {
        // Slot 0: item 0 has 1000 rounds at 0.5, item 1 has 1000 at 0.1, item 2 one round at 1.
        let mut rows = Vec::new();
        for i in 0..1000 {
            rows.push((0, 0, f64::from(u8::from(i % 2 == 0))));
            rows.push((0, 1, f64::from(u8::from(i % 10 == 0))));
        }
        rows.push((0, 2, 1.0));
        let q = shrunk_cell_means(rows.iter().map(|&(s, a, r)| (s, a, r, 1.0)), 1, 3);
        assert!((q[0] - 0.5).abs() < 0.01, "{q:?}");
        assert!((q[1] - 0.1).abs() < 0.01, "{q:?}");
        let m = 601.0 / 2001.0;
        assert!(
            (q[2] - m).abs() < (1.0 - m) * 0.5,
            "sparse cell pulled towards {m}: {q:?}"
        );
        // No variation between cells beyond noise: everything is the slot mean.
        let flat: Vec<(usize, usize, f64)> = (0..400)
            .map(|i| (0, i % 4, f64::from(u8::from(i % 8 < 4))))
            .collect();
        let q = shrunk_cell_means(flat.iter().map(|&(s, a, r)| (s, a, r, 1.0)), 1, 4);
        assert!(q.iter().all(|v| (v - 0.5).abs() < 1e-12), "{q:?}");
    }
}
