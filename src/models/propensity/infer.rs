//! Loading a propensity checkpoint and scoring raw customer rows with it: the prediction and
//! the top SHAP reasons per customer.

use std::io::Write;
use std::path::Path;

use super::KIND;
use super::model::{META_GBM, Propensity, PropensityArch, top_reasons};
use crate::checkpoint::{Checkpoint, CheckpointError, keys};
use crate::data::schema::Schema;
use crate::data::table::RawTable;
use crate::data::writer::csv_field;

/// A propensity model ready to score.
#[derive(Clone)]
pub struct PropensityModel {
    pub schema: Schema,
    pub model: Propensity,
}

/// Scores of a batch of customers.
#[derive(Debug, Clone, PartialEq)]
pub struct PropensityScores {
    /// Calibrated probability (binary) or prediction (regression), one per row.
    pub value: Vec<f64>,
    /// Per row: up to `reasons` `(feature, SHAP value)`, largest |value| first.
    pub reasons: Vec<Vec<(usize, f64)>>,
    /// The lifetime value of every row, when the model has one (`propensity.lifetime_value`).
    pub lifetime_value: Option<Vec<f64>>,
}

impl PropensityModel {
    /// Loads `model.safetensors` (or a run folder holding one) of kind `propensity`.
    pub fn load(path: &Path) -> Result<PropensityModel, CheckpointError> {
        let file = crate::checkpoint::RunDir::resolve_model_file(path)?;
        Self::from_checkpoint(&Checkpoint::read(&file, Some(KIND))?)
    }

    pub fn from_checkpoint(ck: &Checkpoint) -> Result<PropensityModel, CheckpointError> {
        let arch: PropensityArch = ck.meta_json(keys::MODEL)?;
        let schema: Schema = ck.meta_json(keys::SCHEMA)?;
        let model = Propensity::from_meta(&ck.path, arch, ck.meta(META_GBM)?)?;
        Ok(PropensityModel { schema, model })
    }

    /// The prediction and `reasons` reasons of every row of `table` (read with [`Self::schema`]).
    pub fn score(&self, table: &RawTable, reasons: usize) -> anyhow::Result<PropensityScores> {
        let rows = table.n_rows();
        let cols = self.model.arch.features.len();
        let x = self.model.arch.features.matrix(table)?;
        let value = self.model.predict(&x, rows);
        let reasons = if reasons == 0 {
            vec![Vec::new(); rows]
        } else {
            let shap = self.model.shap(&x, rows);
            (0..rows)
                .map(|i| top_reasons(&shap, cols, i, reasons))
                .collect()
        };
        let lifetime_value = match &self.model.arch.lifetime_value {
            Some(ltv) => Some(ltv.values(table, &value)?),
            None => None,
        };
        Ok(PropensityScores {
            value,
            reasons,
            lifetime_value,
        })
    }

    /// `customer_id,<target>_probability|_prediction[,lifetime_value],reason_1..reason_n` and a
    /// newline.
    pub fn header(&self, reasons: usize) -> Vec<u8> {
        let mut out = b"customer_id".to_vec();
        out.extend_from_slice(&self.header_fields(reasons));
        out.push(b'\n');
        out
    }

    /// `,<target>_probability|_prediction[,lifetime_value],reason_1..reason_n`: this model's
    /// columns, appended to another scorer's header (the pipeline's scores.csv).
    pub fn header_fields(&self, reasons: usize) -> Vec<u8> {
        let mut out =
            format!(",{}", csv_field(&self.model.arch.target.output_column())).into_bytes();
        if self.model.arch.lifetime_value.is_some() {
            out.extend_from_slice(b",lifetime_value");
        }
        for k in 1..=reasons {
            write!(out, ",reason_{k}").expect("vec write");
        }
        out
    }

    /// The CSV rows of [`Self::header`] for `table` and its scores.
    pub fn rows(
        &self,
        out: &mut Vec<u8>,
        table: &RawTable,
        scores: &PropensityScores,
        reasons: usize,
    ) {
        for (i, id) in table.ids.iter().enumerate() {
            out.extend_from_slice(csv_field(id).as_bytes());
            self.fields(out, table, scores, i, reasons);
            out.push(b'\n');
        }
    }

    /// Row `i`'s fields of [`Self::header_fields`]: each reason reads `feature=value (+0.412)`,
    /// the SHAP value in the margin's units (log-odds for binary targets); missing reasons (a
    /// customer with fewer non-zero contributions) are empty.
    pub fn fields(
        &self,
        out: &mut Vec<u8>,
        table: &RawTable,
        scores: &PropensityScores,
        i: usize,
        reasons: usize,
    ) {
        write!(out, ",{}", scores.value[i]).expect("vec write");
        if let Some(ltv) = &scores.lifetime_value {
            write!(out, ",{:.2}", ltv[i]).expect("vec write");
        }
        let texts = self.reason_texts(table, scores, i);
        for k in 0..reasons {
            out.push(b',');
            if let Some(text) = texts.get(k) {
                out.extend_from_slice(csv_field(text).as_bytes());
            }
        }
    }

    /// Row `i`'s reasons as text, `feature=value (+0.412)`: the SHAP value in the margin's
    /// units (log-odds for binary targets), largest |value| first.
    pub fn reason_texts(
        &self,
        table: &RawTable,
        scores: &PropensityScores,
        i: usize,
    ) -> Vec<String> {
        let features = &self.model.arch.features;
        scores.reasons[i]
            .iter()
            .map(|&(j, v)| {
                format!(
                    "{}={} ({v:+.3})",
                    features.features[j].name(),
                    features.value_text(table, j, i)
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The linear pass against Algorithm 2 (single-threaded) on a trained model: `TELESEG_SHAP_MODEL=run/propensity
    /// cargo test --release shap_on_a_trained_model -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn shap_on_a_trained_model() {
        let path = std::env::var("TELESEG_SHAP_MODEL").expect("TELESEG_SHAP_MODEL");
        let t0 = std::time::Instant::now();
        let m = PropensityModel::load(Path::new(&path)).unwrap();
        println!("load {:?}", t0.elapsed());
        let cols = m.model.arch.features.len();
        let rows = 2000;
        // Rows: deterministic pseudo-random values around each feature's split thresholds
        // are not known here, so use small integers and fractions with some missing.
        let mut x = vec![0.0f64; rows * cols];
        let mut s = 12345u64;
        for v in x.iter_mut() {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            *v = if u < 0.05 {
                f64::NAN
            } else {
                (u * 200.0).floor() / 4.0 - 10.0
            };
        }
        for round in 0..3 {
            let t = std::time::Instant::now();
            let a = m.model.explainer.shap(&x, rows, cols);
            let ta = t.elapsed();
            let t = std::time::Instant::now();
            let b = super::super::shap::algorithm2::shap(&m.model.booster, &x, rows, cols);
            let tb = t.elapsed();
            let gap = a
                .iter()
                .zip(&b)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f64::max);
            println!("round {round}: linear {ta:?} algorithm 2 {tb:?} max gap {gap:e}");
        }
    }
}
