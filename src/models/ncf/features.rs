//! Customer features for NCF models with `user_features > 0`: the customer table's schema and
//! the preprocessing fitted on it at training time (saved in the checkpoint as `teleseg.schema`
//! and `teleseg.preprocess`, as in autoencoder checkpoints), and the lookup of each user's
//! feature row by customer id.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

use crate::checkpoint::{Checkpoint, CheckpointError, NamedTensor, keys};
use crate::data::preprocess::Preprocessor;
use crate::data::reader::{ReadOptions, read_csv};
use crate::data::schema::Schema;
use crate::data::table::RawTable;

/// The schema and fitted preprocessing that turn raw customer rows into an NCF model's user
/// features.
#[derive(Debug, Clone)]
pub struct UserFeatureInput {
    pub schema: Schema,
    pub preprocessor: Preprocessor,
}

/// Every user's feature row, matched by id.
#[derive(Debug, Clone)]
pub struct UserFeatureRows {
    /// `[users, width]` row-major; users without a customer row get all zeros (numeric
    /// features at their fitted mean, binary features false, no categorical level).
    pub data: Vec<f32>,
    pub width: usize,
    /// Users without a row in the customer table.
    pub missing: usize,
}

impl UserFeatureInput {
    /// Reads `customers` against the schema at `schema` and fits the preprocessing on every row.
    pub fn fit(
        customers: &Path,
        schema: &Path,
        opts: &ReadOptions,
    ) -> anyhow::Result<(UserFeatureInput, RawTable)> {
        let schema = Schema::load(schema)?;
        let (table, _) = read_csv(customers, &schema, opts)?;
        let rows: Vec<usize> = (0..table.ids.len()).collect();
        let preprocessor = Preprocessor::fit(&schema, &table, &rows)
            .with_context(|| format!("fitting the preprocessing on {}", customers.display()))?;
        Ok((
            UserFeatureInput {
                schema,
                preprocessor,
            },
            table,
        ))
    }

    /// Number of features per user.
    pub fn width(&self) -> usize {
        self.preprocessor.n_features()
    }

    /// The input of a checkpoint with `user_features = width` (`None` when `width` is 0),
    /// checked against that width.
    pub fn from_checkpoint(
        ck: &Checkpoint,
        width: usize,
    ) -> Result<Option<UserFeatureInput>, CheckpointError> {
        if width == 0 {
            return Ok(None);
        }
        let schema: Schema = ck.meta_json(keys::SCHEMA)?;
        let json: serde_json::Value = ck.meta_json(keys::PREPROCESS)?;
        let meta = |message: String| CheckpointError::Metadata {
            path: ck.path.clone(),
            key: keys::PREPROCESS.to_string(),
            message,
        };
        let preprocessor = Preprocessor::from_json(&json).map_err(|e| meta(e.to_string()))?;
        if preprocessor.n_features() != width {
            return Err(meta(format!(
                "the preprocessing gives {} features; the model takes {width}",
                preprocessor.n_features()
            )));
        }
        Ok(Some(UserFeatureInput {
            schema,
            preprocessor,
        }))
    }

    /// The checkpoint's preprocessing part (docs/checkpoint-format.md §3): `preprocess.*`
    /// tensors and the `teleseg.schema`, `teleseg.preprocess`, `teleseg.features` metadata.
    pub fn bundle(&self) -> (Vec<NamedTensor>, [(String, String); 3]) {
        self.preprocessor.bundle(&self.schema)
    }

    /// The feature rows of `users` (ids) from `table`, matched by customer id.
    pub fn rows_for(&self, table: &RawTable, users: &[String]) -> anyhow::Result<UserFeatureRows> {
        let features = self.preprocessor.transform(table)?;
        let width = features.cols;
        let row_of: HashMap<&str, usize> = table
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut data = vec![0.0f32; users.len() * width];
        let mut missing = 0;
        for (u, id) in users.iter().enumerate() {
            match row_of.get(id.as_str()) {
                Some(&r) => data[u * width..(u + 1) * width].copy_from_slice(features.row(r)),
                None => missing += 1,
            }
        }
        Ok(UserFeatureRows {
            data,
            width,
            missing,
        })
    }

    /// [`UserFeatureInput::rows_for`] on the customer table at `customers`.
    pub fn rows_from_file(
        &self,
        customers: &Path,
        opts: &ReadOptions,
        users: &[String],
    ) -> anyhow::Result<UserFeatureRows> {
        let (table, _) = read_csv(customers, &self.schema, opts)?;
        self.rows_for(&table, users)
    }
}
