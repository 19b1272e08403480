//! Which raw columns drive the segment assignment: permutation importance.
//!
//! For each column of the raw table (numeric, binary, categorical — as the user knows them, not
//! the one-hot or indicator features they become), its values are shuffled across a sample of
//! customers (one seeded permutation, the same for every column), the sample is preprocessed and
//! assigned again, and the **share of customers whose segment changes** is the column's
//! importance — overall and per segment (the share of the segment's customers that leave it).
//!
//! Why permutation importance rather than integrated gradients through encoder + soft
//! assignment: it speaks in raw columns (a categorical column is one column, its missing
//! indicator included), it measures what marketing acts on (the hard segment, not a gradient of
//! q), it needs no baseline input (integrated gradients depends on one, and "all zeros" is a
//! specific customer after standardization), and it works for any scorer. Its known weakness:
//! correlated columns share credit (shuffling one leaves the other), so a low importance means
//! "not needed given the others", not "unrelated".

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::data::table::RawTable;

/// The importance of one raw column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnImportance {
    pub column: String,
    /// Share of the sampled customers whose segment changes when the column is shuffled.
    pub changed: f64,
    /// Per segment: share of the segment's sampled customers that leave it (`null` when the
    /// sample has none of the segment).
    pub per_segment: Vec<Option<f64>>,
}

/// Permutation importances, most important column first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attributions {
    pub method: String,
    /// Customers in the sample.
    pub rows: usize,
    pub columns: Vec<ColumnImportance>,
}

/// Permutation importance of every column of `table` for `assign` (rows → segment in `0..k`),
/// on an even sample of at most `max_rows` rows, shuffled with `seed`.
pub fn permutation_importance(
    table: &RawTable,
    k: usize,
    max_rows: usize,
    seed: u64,
    assign: impl Fn(&RawTable) -> anyhow::Result<Vec<usize>>,
) -> anyhow::Result<Attributions> {
    let n_all = table.n_rows();
    let stride = n_all.div_ceil(max_rows.max(1)).max(1);
    let rows: Vec<usize> = (0..n_all).step_by(stride).collect();
    let sample = table.take_rows(&rows);
    let base = assign(&sample)?;
    anyhow::ensure!(
        base.len() == rows.len(),
        "the scorer returned a label per row"
    );
    let mut perm: Vec<usize> = (0..rows.len()).collect();
    perm.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut size = vec![0usize; k];
    base.iter().for_each(|&s| size[s] += 1);

    let mut columns = Vec::new();
    let mut measure = |name: &str, shuffled: RawTable| -> anyhow::Result<()> {
        let labels = assign(&shuffled)?;
        let mut left = vec![0usize; k];
        for (b, l) in base.iter().zip(&labels) {
            if b != l {
                left[*b] += 1;
            }
        }
        columns.push(ColumnImportance {
            column: name.to_string(),
            changed: left.iter().sum::<usize>() as f64 / rows.len().max(1) as f64,
            per_segment: (0..k)
                .map(|s| (size[s] > 0).then(|| left[s] as f64 / size[s] as f64))
                .collect(),
        });
        Ok(())
    };
    for j in 0..sample.numeric.len() {
        let mut t = sample.clone();
        permute(&mut t.numeric[j].values, &perm);
        measure(&sample.numeric[j].name, t)?;
    }
    for j in 0..sample.binary.len() {
        let mut t = sample.clone();
        permute(&mut t.binary[j].values, &perm);
        measure(&sample.binary[j].name, t)?;
    }
    for j in 0..sample.categorical.len() {
        let mut t = sample.clone();
        permute(&mut t.categorical[j].codes, &perm);
        measure(&sample.categorical[j].name, t)?;
    }
    columns.sort_by(|a, b| {
        b.changed
            .total_cmp(&a.changed)
            .then_with(|| a.column.cmp(&b.column))
    });
    Ok(Attributions {
        method: "permutation importance: share of customers whose segment changes when the \
                 column is shuffled"
            .to_string(),
        rows: rows.len(),
        columns,
    })
}

/// `v[i] = old v[perm[i]]`.
fn permute<T: Copy>(v: &mut [T], perm: &[usize]) {
    let old = v.to_vec();
    for (i, &p) in perm.iter().enumerate() {
        v[i] = old[p];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::reader::{ReadOptions, read_csv_from_reader};
    use crate::data::schema::Schema;

    fn table() -> RawTable {
        let schema = Schema::parse(
            "[[columns]]\nname = \"id\"\nrole = \"id\"\n[[columns]]\nname = \"usage\"\nrole = \"numeric\"\n\
             [[columns]]\nname = \"noise\"\nrole = \"numeric\"\n[[columns]]\nname = \"plan\"\nrole = \"categorical\"\n",
            "s.toml",
        )
        .unwrap();
        let mut csv = String::from("id,usage,noise,plan\n");
        for i in 0..40 {
            // usage alternates low/high; noise is constant; plan is unused by the scorer.
            let usage = if i % 2 == 0 { 1.0 } else { 9.0 };
            csv.push_str(&format!(
                "c{i},{usage},5,{}\n",
                if i % 3 == 0 { "a" } else { "b" }
            ));
        }
        read_csv_from_reader(csv.as_bytes(), "t.csv", &schema, &ReadOptions::default())
            .unwrap()
            .0
    }

    /// Segment = usage above 5: only `usage` matters.
    fn by_usage(t: &RawTable) -> anyhow::Result<Vec<usize>> {
        Ok(t.numeric[0]
            .values
            .iter()
            .map(|&v| usize::from(v > 5.0))
            .collect())
    }

    #[test]
    fn only_the_column_the_scorer_reads_matters() {
        let a = permutation_importance(&table(), 2, 1000, 3, by_usage).unwrap();
        assert_eq!(a.rows, 40);
        assert_eq!(a.columns[0].column, "usage");
        assert!(a.columns[0].changed > 0.2, "{:?}", a.columns[0]);
        // Shuffling a constant column or one the scorer ignores changes nothing, exactly.
        for c in &a.columns[1..] {
            assert_eq!(c.changed, 0.0, "{c:?}");
            assert_eq!(c.per_segment, vec![Some(0.0), Some(0.0)]);
        }
        // Overall = size-weighted mean of the per-segment shares (both segments have 20 rows).
        let u = &a.columns[0];
        let mean = (u.per_segment[0].unwrap() + u.per_segment[1].unwrap()) / 2.0;
        assert!((u.changed - mean).abs() < 1e-12);
    }

    #[test]
    fn sampling_takes_an_even_stride_and_is_seeded() {
        let a = permutation_importance(&table(), 2, 10, 3, by_usage).unwrap();
        let b = permutation_importance(&table(), 2, 10, 3, by_usage).unwrap();
        assert_eq!(a.rows, 10);
        assert_eq!(a, b);
        assert_eq!(a.columns[1].per_segment.len(), 2);
    }
}
