//! The VAE's view of a table: every schema column (numeric, categorical, binary and target;
//! derived features are not columns of the file and are left out) as a block of the VAE's input
//! and output vector, and the way back from decoder outputs to rows in raw units.
//!
//! Blocks, in schema column order (this is a file format, see docs/checkpoint-format.md):
//! - numeric: `[value]`, then `[mode logits; K]` with mode-specific normalisation, then
//!   `[present, missing]` logits when train had missing values (unless the column is always
//!   missing together with an earlier numeric column: then it shares that column's head,
//!   `missing_with`). `t = ln(1 + max(x, 0))` when the
//!   schema says `log1p`, else `x`; `value = (t - mean) / std` (standard) or `α` of the mode
//!   (modes, see [`ModeNorm`]). A missing cell has value 0, no mode (all-zero one-hot) and is
//!   masked out of the value and mode losses.
//! - categorical / binary / target: logits over `levels` (train levels by count descending, then
//!   name), then one `<missing>` logit when train had missing values. Binary levels are `0`/`1`.
//!
//! Decoding a sample: the value is drawn from `N(value, σ²)` (σ the learned per-column noise),
//! modes, levels and missingness are drawn from their softmax; then `t → x = expm1(t)` when
//! log1p, clamped to the train range `[min, max]`, rounded to whole numbers for `integer` columns
//! and to the train data's decimals otherwise.

use std::collections::HashMap;

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::data::modenorm::ModeNorm;
use crate::data::schema::{Role, Schema};
use crate::data::table::{
    BinaryColumn, CategoricalColumn, MISSING, NumericColumn, RawTable, TargetColumn,
};

/// How a numeric column's transformed value `t` is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NumericTransform {
    /// `(t - mean) / std`.
    Standard { mean: f64, std: f64 },
    /// Mode-specific normalisation.
    Modes(ModeNorm),
}

/// A numeric column's block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericCodec {
    pub name: String,
    /// `t = ln(1 + max(x, 0))` before encoding.
    pub log1p: bool,
    /// Whole numbers.
    pub integer: bool,
    /// Decimals of the train values (0..=6), used when writing samples.
    pub decimals: u32,
    /// Train range of the raw values (samples are clamped to it).
    pub min: f64,
    pub max: f64,
    /// A `[present, missing]` head follows.
    pub missing: bool,
    /// The cell is missing exactly when the cell of this earlier numeric column is: train had
    /// the same missing rows for both (a block of columns missing together shares one head, so
    /// samples keep the block structure). Such a column has no head of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_with: Option<String>,
    pub transform: NumericTransform,
}

/// A categorical, binary or target column's block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscreteCodec {
    pub name: String,
    /// `categorical`, `binary` or `target`.
    pub role: Role,
    /// Train levels, by count descending then name.
    pub levels: Vec<String>,
    /// A `<missing>` logit follows the levels.
    pub missing: bool,
    /// Binary columns: the training file's spelling of 0 and 1 (e.g. `No`, `Yes`), written back
    /// by `teleseg sample`; absent for the canonical `0` / `1`.
    #[serde(default, skip_serializing_if = "is_unspelled")]
    pub spelling: [Option<String>; 2],
}

fn is_unspelled(s: &[Option<String>; 2]) -> bool {
    s.iter().all(Option::is_none)
}

/// One column's block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnCodec {
    Numeric(NumericCodec),
    Discrete(DiscreteCodec),
}

/// The fitted codec of a table (saved as JSON in the checkpoint metadata `teleseg.vae.codec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Codec {
    pub columns: Vec<ColumnCodec>,
}

/// A VAE-space matrix: `[rows, width]` values and `[rows, n_numeric]` value masks.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub data: Vec<f32>,
    pub mask: Vec<f32>,
    pub rows: usize,
}

fn decimals_of(values: &[f64]) -> u32 {
    (0..=6u32)
        .find(|&d| {
            let s = 10f64.powi(d as i32);
            values.iter().all(|v| {
                let y = v * s;
                (y - y.round()).abs() <= 1e-6 * y.abs().max(1.0)
            })
        })
        .unwrap_or(6)
}

/// Levels of a column by train count descending then name, and whether train had missing cells.
fn levels_by_count(values: impl Iterator<Item = Option<String>>) -> (Vec<String>, bool) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut missing = false;
    for v in values {
        match v {
            Some(s) => *counts.entry(s).or_default() += 1,
            None => missing = true,
        }
    }
    let mut levels: Vec<(String, usize)> = counts.into_iter().collect();
    levels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (levels.into_iter().map(|l| l.0).collect(), missing)
}

fn binary_text(x: f32) -> Option<String> {
    (!x.is_nan()).then(|| if x >= 0.5 { "1" } else { "0" }.to_string())
}

/// The cell of a discrete column at `row` as text (`None` = missing).
fn discrete_cell(table: &RawTable, c: &DiscreteCodec, row: usize) -> Option<String> {
    match c.role {
        Role::Binary => table
            .binary(&c.name)
            .and_then(|b| binary_text(b.values[row])),
        Role::Target => table.target(&c.name).and_then(|t| t.values[row].clone()),
        _ => table
            .categorical(&c.name)
            .and_then(|col| col.value(row).map(str::to_string)),
    }
}

impl NumericCodec {
    fn t(&self, x: f64) -> f64 {
        if self.log1p { x.max(0.0).ln_1p() } else { x }
    }

    fn x(&self, t: f64) -> f64 {
        let x = if self.log1p { t.exp_m1() } else { t };
        let x = x.clamp(self.min, self.max);
        if self.integer {
            x.round()
        } else {
            let s = 10f64.powi(self.decimals as i32);
            (x * s).round() / s
        }
    }

    fn n_modes(&self) -> usize {
        match &self.transform {
            NumericTransform::Standard { .. } => 0,
            NumericTransform::Modes(m) => m.n_modes(),
        }
    }

    fn width(&self) -> usize {
        1 + self.n_modes() + 2 * usize::from(self.missing)
    }
}

impl DiscreteCodec {
    fn width(&self) -> usize {
        self.levels.len() + usize::from(self.missing)
    }
}

impl ColumnCodec {
    /// Width of the column's block.
    pub fn width(&self) -> usize {
        match self {
            ColumnCodec::Numeric(n) => n.width(),
            ColumnCodec::Discrete(d) => d.width(),
        }
    }

    /// The column name.
    pub fn name(&self) -> &str {
        match self {
            ColumnCodec::Numeric(n) => &n.name,
            ColumnCodec::Discrete(d) => &d.name,
        }
    }
}

/// Where each part of the vector lives (derived from the codec).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Heads {
    /// Column of each numeric value, in numeric-column order.
    pub values: Vec<usize>,
    /// Every softmax head `(start, len)`: mode, missingness and level heads.
    pub softmax: Vec<(usize, usize)>,
}

impl Codec {
    /// Fits the codec on `train_rows` of `table`: numeric columns encoded as `encoding` says with
    /// at most `max_modes` modes. Target columns absent from the table are left out.
    pub fn fit(
        schema: &Schema,
        table: &RawTable,
        train_rows: &[usize],
        modes: Option<usize>,
    ) -> Codec {
        let mut columns = Vec::new();
        // Train missing masks of the numeric columns with a missingness head.
        let mut leaders: Vec<(String, Vec<bool>)> = Vec::new();
        for col in &schema.columns {
            match col.role {
                Role::Numeric => {
                    let Some(values) = table.numeric(&col.name) else {
                        continue;
                    };
                    let present: Vec<f64> = train_rows
                        .iter()
                        .map(|&r| values.values[r])
                        .filter(|x| !x.is_nan())
                        .collect();
                    let mut missing = present.len() < train_rows.len();
                    let mut missing_with = None;
                    if missing {
                        let mask: Vec<bool> = train_rows
                            .iter()
                            .map(|&r| values.values[r].is_nan())
                            .collect();
                        match leaders.iter().find(|(_, m)| *m == mask) {
                            Some((leader, _)) => {
                                missing = false;
                                missing_with = Some(leader.clone());
                            }
                            None => leaders.push((col.name.clone(), mask)),
                        }
                    }
                    let (min, max) = present
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                            (lo.min(x), hi.max(x))
                        });
                    let (min, max) = if present.is_empty() {
                        (0.0, 0.0)
                    } else {
                        (min, max)
                    };
                    let t: Vec<f64> = present
                        .iter()
                        .map(|&x| if col.log1p { x.max(0.0).ln_1p() } else { x })
                        .collect();
                    let transform = match modes.and_then(|k| ModeNorm::fit(&t, k)) {
                        Some(m) => NumericTransform::Modes(m),
                        None => {
                            let n = t.len().max(1) as f64;
                            let mean = t.iter().sum::<f64>() / n;
                            let var = t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                            NumericTransform::Standard {
                                mean,
                                std: if var.sqrt() < 1e-12 { 1.0 } else { var.sqrt() },
                            }
                        }
                    };
                    columns.push(ColumnCodec::Numeric(NumericCodec {
                        name: col.name.clone(),
                        log1p: col.log1p,
                        integer: col.integer,
                        decimals: if col.integer {
                            0
                        } else {
                            decimals_of(&present)
                        },
                        min,
                        max,
                        missing,
                        missing_with,
                        transform,
                    }));
                }
                Role::Categorical | Role::Binary | Role::Target => {
                    let present = match col.role {
                        Role::Categorical => table.categorical(&col.name).is_some(),
                        Role::Binary => table.binary(&col.name).is_some(),
                        _ => table.target(&col.name).is_some(),
                    };
                    if !present {
                        continue;
                    }
                    let mut d = DiscreteCodec {
                        name: col.name.clone(),
                        role: col.role,
                        levels: Vec::new(),
                        missing: false,
                        spelling: table
                            .binary(&col.name)
                            .filter(|_| col.role == Role::Binary)
                            .map(|b| b.spelling.clone())
                            .unwrap_or_default(),
                    };
                    let (levels, missing) =
                        levels_by_count(train_rows.iter().map(|&r| discrete_cell(table, &d, r)));
                    d.levels = levels;
                    d.missing = missing;
                    columns.push(ColumnCodec::Discrete(d));
                }
                Role::Id | Role::Ignore => {}
            }
        }
        Codec { columns }
    }

    /// Width of the VAE vector.
    pub fn width(&self) -> usize {
        self.columns.iter().map(ColumnCodec::width).sum()
    }

    /// Number of numeric columns.
    pub fn n_numeric(&self) -> usize {
        self.columns
            .iter()
            .filter(|c| matches!(c, ColumnCodec::Numeric(_)))
            .count()
    }

    /// The value columns and softmax heads of the vector.
    pub fn heads(&self) -> Heads {
        let mut h = Heads::default();
        let mut off = 0;
        for c in &self.columns {
            match c {
                ColumnCodec::Numeric(n) => {
                    h.values.push(off);
                    let k = n.n_modes();
                    if k > 0 {
                        h.softmax.push((off + 1, k));
                    }
                    if n.missing {
                        h.softmax.push((off + 1 + k, 2));
                    }
                }
                ColumnCodec::Discrete(d) => h.softmax.push((off, d.width())),
            }
            off += c.width();
        }
        h
    }

    /// Encodes `rows` of `table` (which must have the codec's columns; an unseen level is
    /// encoded as the most frequent one).
    pub fn encode(&self, table: &RawTable, rows: &[usize]) -> Result<Encoded, String> {
        let width = self.width();
        let n_num = self.n_numeric();
        let mut data = vec![0.0f32; rows.len() * width];
        let mut mask = vec![0.0f32; rows.len() * n_num];
        let mut off = 0;
        let mut vi = 0;
        for c in &self.columns {
            match c {
                ColumnCodec::Numeric(n) => {
                    let col = table
                        .numeric(&n.name)
                        .ok_or_else(|| format!("numeric `{}`", n.name))?;
                    for (i, &r) in rows.iter().enumerate() {
                        let out = &mut data[i * width + off..i * width + off + n.width()];
                        let x = col.values[r];
                        let k = n.n_modes();
                        if x.is_nan() {
                            if n.missing {
                                out[1 + k + 1] = 1.0;
                            }
                            continue;
                        }
                        mask[i * n_num + vi] = 1.0;
                        let t = n.t(x);
                        match &n.transform {
                            NumericTransform::Standard { mean, std } => {
                                out[0] = ((t - mean) / std) as f32;
                            }
                            NumericTransform::Modes(m) => {
                                let (mode, alpha) = m.encode(t);
                                out[0] = alpha as f32;
                                out[1 + mode] = 1.0;
                            }
                        }
                        if n.missing {
                            out[1 + k] = 1.0;
                        }
                    }
                    vi += 1;
                }
                ColumnCodec::Discrete(d) => {
                    let present = match d.role {
                        Role::Categorical => table.categorical(&d.name).is_some(),
                        Role::Binary => table.binary(&d.name).is_some(),
                        _ => table.target(&d.name).is_some(),
                    };
                    if !present {
                        return Err(format!("{:?} `{}`", d.role, d.name).to_lowercase());
                    }
                    let index: HashMap<&str, usize> = d
                        .levels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (l.as_str(), i))
                        .collect();
                    for (i, &r) in rows.iter().enumerate() {
                        let j = match discrete_cell(table, d, r) {
                            Some(s) => index.get(s.as_str()).copied().unwrap_or(0),
                            None if d.missing => d.levels.len(),
                            None => 0,
                        };
                        data[i * width + off + j] = 1.0;
                    }
                }
            }
            off += c.width();
        }
        Ok(Encoded {
            data,
            mask,
            rows: rows.len(),
        })
    }

    /// Turns decoder outputs `[rows, width]` into a table in raw units, drawing values, modes,
    /// levels and (with `keep_missing`) missing cells; `sigma` is the per-numeric-column value
    /// noise. Ids are `{id_prefix}{index:07}` from `first_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn decode<R: Rng + ?Sized>(
        &self,
        out: &[f32],
        rows: usize,
        sigma: &[f32],
        keep_missing: bool,
        rng: &mut R,
        id_prefix: &str,
        first_id: usize,
    ) -> RawTable {
        let width = self.width();
        let mut table = RawTable {
            source: "synthetic".to_string(),
            ids: (0..rows)
                .map(|i| format!("{id_prefix}{:07}", first_id + i + 1))
                .collect(),
            numeric: Vec::new(),
            categorical: Vec::new(),
            binary: Vec::new(),
            targets: Vec::new(),
            line_numbers: (0..rows as u64).map(|i| i + 2).collect(),
        };
        let mut off = 0;
        let mut vi = 0;
        // Missing cells drawn per column with a head, for the columns that share it.
        let mut drawn: HashMap<&str, Vec<bool>> = HashMap::new();
        for c in &self.columns {
            match c {
                ColumnCodec::Numeric(n) => {
                    let k = n.n_modes();
                    let missing: Vec<bool> = match &n.missing_with {
                        Some(leader) => drawn
                            .get(leader.as_str())
                            .cloned()
                            .unwrap_or_else(|| vec![false; rows]),
                        None => (0..rows)
                            .map(|i| {
                                let o = &out[i * width + off + 1 + k..];
                                n.missing && keep_missing && draw(&o[..2], rng) == 1
                            })
                            .collect(),
                    };
                    let values = (0..rows)
                        .map(|i| {
                            let o = &out[i * width + off..i * width + off + n.width()];
                            if missing[i] {
                                return f64::NAN;
                            }
                            let noise: f64 = rng.sample(StandardNormal);
                            let v = f64::from(o[0]) + f64::from(sigma[vi]) * noise;
                            let t = match &n.transform {
                                NumericTransform::Standard { mean, std } => mean + std * v,
                                NumericTransform::Modes(m) => m.decode(draw(&o[1..1 + k], rng), v),
                            };
                            n.x(t)
                        })
                        .collect();
                    if n.missing {
                        drawn.insert(n.name.as_str(), missing);
                    }
                    table.numeric.push(NumericColumn {
                        name: n.name.clone(),
                        values,
                    });
                    vi += 1;
                }
                ColumnCodec::Discrete(d) => {
                    let picks: Vec<Option<usize>> = (0..rows)
                        .map(|i| {
                            let o = &out[i * width + off..i * width + off + d.width()];
                            let logits = if keep_missing {
                                o
                            } else {
                                &o[..d.levels.len()]
                            };
                            let j = draw(logits, rng);
                            (j < d.levels.len()).then_some(j)
                        })
                        .collect();
                    match d.role {
                        Role::Binary => table.binary.push(BinaryColumn {
                            name: d.name.clone(),
                            values: picks
                                .iter()
                                .map(|p| p.map_or(f32::NAN, |j| d.levels[j].parse().unwrap_or(0.0)))
                                .collect(),
                            spelling: d.spelling.clone(),
                        }),
                        Role::Target => table.targets.push(TargetColumn {
                            name: d.name.clone(),
                            values: picks
                                .iter()
                                .map(|p| p.map(|j| d.levels[j].clone()))
                                .collect(),
                        }),
                        _ => table.categorical.push(CategoricalColumn {
                            name: d.name.clone(),
                            codes: picks
                                .iter()
                                .map(|p| p.map_or(MISSING, |j| j as u32))
                                .collect(),
                            dictionary: d.levels.clone(),
                        }),
                    }
                }
            }
            off += c.width();
        }
        table
    }

    /// Decimals to write each numeric column with (for [`crate::data::writer`]).
    pub fn decimals(&self) -> HashMap<String, u32> {
        self.columns
            .iter()
            .filter_map(|c| match c {
                ColumnCodec::Numeric(n) => Some((n.name.clone(), n.decimals)),
                ColumnCodec::Discrete(_) => None,
            })
            .collect()
    }
}

/// An index drawn from the softmax of `logits`.
fn draw<R: Rng + ?Sized>(logits: &[f32], rng: &mut R) -> usize {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let w: Vec<f64> = logits.iter().map(|&l| f64::from(l - max).exp()).collect();
    let mut u = rng.random::<f64>() * w.iter().sum::<f64>();
    for (i, wi) in w.iter().enumerate() {
        if u < *wi {
            return i;
        }
        u -= wi;
    }
    w.len() - 1
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::data::reader::{ReadOptions, read_csv_from_reader};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const SCHEMA: &str = r#"
[[columns]]
name = "id"
role = "id"
[[columns]]
name = "calls"
role = "numeric"
integer = true
log1p = true
[[columns]]
name = "share"
role = "numeric"
[[columns]]
name = "mins"
role = "numeric"
[[columns]]
name = "plan"
role = "categorical"
[[columns]]
name = "promo"
role = "binary"
[[columns]]
name = "churn"
role = "target"
"#;

    const CSV: &str = "id,calls,share,mins,plan,promo,churn\n\
        a,0,0.25,10,s,1,0\n\
        b,3,,,m,0,1\n\
        c,40,0.5,20,s,,0\n\
        d,7,0.125,30,,1,0\n";

    fn table() -> (Schema, RawTable) {
        let schema = Schema::parse(SCHEMA, "test").unwrap();
        let (t, _) =
            read_csv_from_reader(CSV.as_bytes(), "test.csv", &schema, &ReadOptions::default())
                .unwrap();
        (schema, t)
    }

    #[test]
    fn layout_follows_the_schema() {
        let (schema, t) = table();
        let codec = Codec::fit(&schema, &t, &[0, 1, 2, 3], Some(2));
        // calls: value + 2 modes (no missing); share: value + 2 modes + [present, missing];
        // mins: value + 2 modes (missing with share, no head of its own);
        // plan: s, m, <missing>; promo: 1, 0, <missing>; churn: 0, 1.
        let widths: Vec<usize> = codec.columns.iter().map(ColumnCodec::width).collect();
        assert_eq!(widths, vec![3, 5, 3, 3, 3, 2]);
        let h = codec.heads();
        assert_eq!(h.values, vec![0, 3, 8]);
        assert_eq!(
            h.softmax,
            vec![(1, 2), (4, 2), (6, 2), (9, 2), (11, 3), (14, 3), (17, 2)]
        );
        match &codec.columns[2] {
            ColumnCodec::Numeric(n) => assert_eq!(n.missing_with.as_deref(), Some("share")),
            c => panic!("{c:?}"),
        }
        match &codec.columns[3] {
            ColumnCodec::Discrete(d) => assert_eq!(d.levels, vec!["s", "m"]),
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn encode_then_decode_gives_the_rows_back() {
        let (schema, t) = table();
        for modes in [Some(2), None] {
            let codec = Codec::fit(&schema, &t, &[0, 1, 2, 3], modes);
            let rows = [0, 1, 2, 3];
            let e = codec.encode(&t, &rows).unwrap();
            // One-hots as sharp logits, values as they are, no value noise: the decode is exact.
            let values: HashSet<usize> = codec.heads().values.into_iter().collect();
            let w = codec.width();
            let out: Vec<f32> = e
                .data
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if values.contains(&(i % w)) {
                        v
                    } else {
                        v * 100.0
                    }
                })
                .collect();
            let mut rng = StdRng::seed_from_u64(1);
            let back = codec.decode(&out, 4, &[0.0; 3], true, &mut rng, "S", 0);
            let calls = &back.numeric[0].values;
            assert_eq!(calls, &vec![0.0, 3.0, 40.0, 7.0], "{modes:?}");
            let share = &back.numeric[1].values;
            assert!(
                (share[0] - 0.25).abs() < 1e-9 && share[1].is_nan(),
                "{share:?}"
            );
            assert!((share[3] - 0.125).abs() < 1e-9, "{share:?}");
            // `mins` is missing exactly where `share` is.
            let mins = &back.numeric[2].values;
            assert!(mins[1].is_nan() && !mins[0].is_nan(), "{mins:?}");
            assert!((mins[3] - 30.0).abs() < 1e-9, "{mins:?}");
            assert_eq!(back.categorical[0].value(3), None);
            assert_eq!(back.categorical[0].value(1), Some("m"));
            assert!(back.binary[0].values[2].is_nan());
            assert_eq!(back.binary[0].values[0], 1.0);
            assert_eq!(back.targets[0].values[1].as_deref(), Some("1"));
            assert_eq!(back.ids[0], "S0000001");
            // Asked for complete rows, no cell is missing.
            let full = codec.decode(&out, 4, &[0.0; 3], false, &mut rng, "S", 0);
            assert!(!full.numeric[1].values[1].is_nan());
            assert!(full.categorical[0].codes.iter().all(|&c| c != MISSING));
        }
    }

    #[test]
    fn decoded_values_stay_in_the_train_range() {
        let (schema, t) = table();
        let codec = Codec::fit(&schema, &t, &[0, 1, 2, 3], None);
        // Extreme decoder outputs: values far outside, any logits.
        let w = codec.width();
        let out: Vec<f32> = (0..w * 2)
            .map(|i| if i % 2 == 0 { 50.0 } else { -50.0 })
            .collect();
        let mut rng = StdRng::seed_from_u64(2);
        let back = codec.decode(&out, 2, &[1.0; 3], false, &mut rng, "S", 0);
        for &x in &back.numeric[0].values {
            assert!((0.0..=40.0).contains(&x) && x == x.round(), "{x}");
        }
        for &x in &back.numeric[1].values {
            assert!((0.125..=0.5).contains(&x), "{x}");
        }
    }
}
