//! Declined impressions: offers a customer was shown (teleseg `impression` events) and had not
//! accepted by the customer's training cut-off — observed "no"s, which NCF training can mix into
//! its sampled negatives (`sampling.impression_negatives`).
//!
//! Leakage rule: a customer's cut-off is the time of their earliest held-out positive (the
//! validation item, else the test item, as [`crate::data::interactions::leave_last_out`] picks
//! them); only impressions strictly before it count, and never an item that is a training
//! positive of that customer. So a held-out offer is a declined impression only if the customer
//! was shown it and had not taken it before the cut-off — what a model trained at that time
//! would have seen. Customers with fewer than 2 positives have no held-out item: every
//! impression counts.

use std::collections::HashMap;
use std::path::Path;

use super::interactions::{Interactions, InteractionsError, PositiveSet, parse_time};

/// Per user row, the sorted distinct item rows of their declined impressions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Declined {
    pub items: Vec<Vec<u32>>,
}

impl Declined {
    /// Total (user, item) pairs.
    pub fn pairs(&self) -> usize {
        self.items.iter().map(Vec::len).sum()
    }
}

/// Per user row, the time of the earliest held-out positive (`i64::MAX` when none), following
/// the leave-last-out rule: with `n` positives sorted by time, `n >= 3` holds out the last two,
/// `n == 2` the last one.
pub fn cutoffs(ix: &Interactions) -> Vec<i64> {
    let mut out = vec![i64::MAX; ix.users.len()];
    let ev = &ix.events;
    let mut start = 0;
    while start < ev.len() {
        let user = ev[start].user;
        let mut end = start;
        while end < ev.len() && ev[end].user == user {
            end += 1;
        }
        let held = match end - start {
            0 | 1 => 0,
            2 => 1,
            _ => 2,
        };
        if held > 0 {
            out[user as usize] = ev[end - held].time;
        }
        start = end;
    }
    out
}

/// Reads the `impression` events of a teleseg `interactions.csv` (the file `ix` was loaded
/// from) and keeps, per user, the impressions before the user's cut-off of items that are not in
/// `train` (the training positives). Impressions of customers without a positive, or of offers
/// that are not item rows of `ix`, are skipped (the model has no row for them).
pub fn load_declined(
    path: &Path,
    ix: &Interactions,
    train: &PositiveSet,
) -> Result<Declined, InteractionsError> {
    let file = path.display().to_string();
    let user_ix: HashMap<&str, u32> = ix
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), i as u32))
        .collect();
    let item_ix: HashMap<&str, u32> = ix
        .items
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), i as u32))
        .collect();
    let cut = cutoffs(ix);
    let parse_err = |line: u64, message: String| InteractionsError::Parse {
        file: file.clone(),
        line,
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|e| parse_err(0, e.to_string()))?;
    let header = rdr
        .headers()
        .map_err(|e| parse_err(1, e.to_string()))?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| parse_err(1, format!("missing column `{name}`")))
    };
    let (cu, co, ct, ce) = (
        col("customer_id")?,
        col("offer_id")?,
        col("timestamp")?,
        col("event")?,
    );
    let mut items: Vec<Vec<u32>> = vec![Vec::new(); ix.users.len()];
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(parse_err(line, e.to_string()));
            }
        }
        let field = |i: usize| rec.get(i).unwrap_or("").trim();
        if field(ce) != "impression" {
            continue;
        }
        let line = rec.position().map_or(0, |p| p.line());
        let t = parse_time(field(ct)).ok_or_else(|| {
            parse_err(
                line,
                format!(
                    "column 3 (`timestamp`): `{}` is not an RFC 3339 UTC time or Unix seconds",
                    field(ct)
                ),
            )
        })?;
        let (Some(&u), Some(&i)) = (user_ix.get(field(cu)), item_ix.get(field(co))) else {
            continue;
        };
        if t < cut[u as usize] && !train.contains(u, i) {
            items[u as usize].push(i);
        }
    }
    for v in &mut items {
        v.sort_unstable();
        v.dedup();
    }
    Ok(Declined { items })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::interactions::{leave_last_out, load_teleseg};

    #[test]
    fn declined_are_before_the_cutoff_and_never_training_positives() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("interactions.csv");
        // u1: accepts A (t=10), B (t=20), C (t=30): valid = B, test = C, cut-off t=20.
        //     impressions: D at 5 (declined), C at 15 (declined: not taken before the cut-off),
        //     A at 1 (a training positive: never a negative), E at 25 (after the cut-off).
        // u2: one accept (A): no held-out item, every impression counts (B at 100).
        // u3: impressions only: not a user row.
        let csv = "customer_id,offer_id,timestamp,event\n\
                   u1,A,1,impression\nu1,A,10,accept\nu1,D,5,impression\nu1,C,15,impression\n\
                   u1,B,20,accept\nu1,E,25,impression\nu1,C,30,accept\n\
                   u2,A,50,accept\nu2,B,100,impression\nu3,A,7,impression\n";
        std::fs::write(&p, csv).unwrap();
        let ix = load_teleseg(&p, None).unwrap();
        assert_eq!(ix.items, ["A", "B", "C"]); // no catalogue: D and E are not item rows
        let split = leave_last_out(&ix);
        let train = PositiveSet::new(ix.users.len(), ix.items.len(), &split.train);
        let d = load_declined(&p, &ix, &train).unwrap();
        assert_eq!(cutoffs(&ix), vec![20, i64::MAX]);
        assert_eq!(d.items, vec![vec![2], vec![1]]); // u1: C; u2: B
        // With a catalogue D and E are rows: D counts, E (after the cut-off) does not.
        let o = dir.path().join("offers.csv");
        std::fs::write(&o, "offer_id\nA\nB\nC\nD\nE\n").unwrap();
        let ix = load_teleseg(&p, Some(&o)).unwrap();
        let split = leave_last_out(&ix);
        let train = PositiveSet::new(ix.users.len(), ix.items.len(), &split.train);
        let d = load_declined(&p, &ix, &train).unwrap();
        assert_eq!(d.items, vec![vec![2, 3], vec![1]]);
        assert_eq!(d.pairs(), 3);
        // A malformed impression time names the file and line.
        std::fs::write(&p, format!("{csv}u1,D,yesterday,impression\n")).unwrap();
        let e = load_declined(&p, &ix, &train).unwrap_err().to_string();
        assert!(
            e.contains("interactions.csv:12") && e.contains("yesterday"),
            "{e}"
        );
    }

    #[test]
    fn mixed_sampler_draws_declined_share_and_matches_uniform_without_it() {
        use crate::data::interactions::{EpochSamples, sample_epoch, sample_epoch_mixed};
        // 50 users × 40 items; user u's training positive is item u % 40; declined: items
        // 30..33 for even users, none for odd ones.
        let positives: Vec<(u32, u32)> = (0..50).map(|u| (u, u % 40)).collect();
        let known = PositiveSet::new(50, 40, &positives);
        let declined: Vec<Vec<u32>> = (0..50u32)
            .map(|u| {
                if u % 2 == 0 {
                    (30..33).filter(|&i| i != u % 40).collect()
                } else {
                    Vec::new()
                }
            })
            .collect();
        let (mut a, mut b) = (EpochSamples::default(), EpochSamples::default());
        sample_epoch(&positives, &known, 4, 9, &mut a);
        sample_epoch_mixed(&positives, &known, 4, Some((&declined, 0.0)), 9, &mut b);
        assert_eq!(a, b, "share 0 draws exactly the uniform samples");
        sample_epoch_mixed(&positives, &known, 4, Some((&declined, 0.5)), 9, &mut b);
        assert_eq!(b.len(), a.len());
        let mut c = EpochSamples::default();
        sample_epoch_mixed(&positives, &known, 4, Some((&declined, 0.5)), 9, &mut c);
        assert_eq!(b, c, "seeded");
        let (mut in_declined, mut even_negs) = (0, 0);
        for k in 0..b.len() {
            let (u, i) = (b.users[k] as u32, b.items[k] as u32);
            if b.labels[k] == 1.0 {
                continue;
            }
            assert!(
                !known.contains(u, i),
                "negative ({u}, {i}) is a training positive"
            );
            if u % 2 == 0 {
                even_negs += 1;
                in_declined += usize::from(declined[u as usize].contains(&i));
            }
        }
        // Half the even users' negatives are declined draws, plus uniform hits on 3 of 39 items.
        let share = in_declined as f64 / even_negs as f64;
        assert!((0.45..0.7).contains(&share), "{share}");
    }
}
