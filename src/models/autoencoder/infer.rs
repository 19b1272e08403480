//! Scoring with an autoencoder checkpoint: raw customer rows in, embeddings out (`teleseg
//! embed`, the embedding columns of `teleseg score`, Rust callers). [`RawInput`] is what every
//! scoring model shares: the checkpoint's schema and fitted preprocessing.

use std::path::Path;

use burn::tensor::Device;

use crate::checkpoint::{Checkpoint, CheckpointError, keys};
use crate::data::preprocess::{Features, Preprocessor};
use crate::data::reader::{CsvBatches, ReadOptions, read_csv};
use crate::data::schema::Schema;
use crate::data::table::RawTable;

use super::{Autoencoder, AutoencoderArch, KIND, embed};

/// An autoencoder checkpoint ready to score: schema, preprocessing and model (plain device).
pub struct EmbeddingModel {
    pub schema: Schema,
    pub preprocessor: Preprocessor,
    pub arch: AutoencoderArch,
    pub model: Autoencoder,
    pub device: Device,
}

/// What every scoring model shares: the checkpoint's schema and fitted preprocessing, so raw
/// customer rows are read and transformed exactly as at training time.
pub trait RawInput {
    /// The schema the checkpoint was trained with.
    fn schema(&self) -> &Schema;
    /// The preprocessing fitted at training time.
    fn preprocessor(&self) -> &Preprocessor;

    /// Reads a raw customer CSV with the checkpoint's schema (target columns optional).
    fn read(&self, input: &Path, opts: &ReadOptions) -> anyhow::Result<RawTable> {
        Ok(read_csv(input, self.schema(), opts)?.0)
    }

    /// Opens a raw customer CSV with the checkpoint's schema for reading in batches (bounded
    /// memory for inputs of any size).
    fn batches(
        &self,
        input: &Path,
        opts: &ReadOptions,
    ) -> anyhow::Result<CsvBatches<std::fs::File>> {
        Ok(CsvBatches::open(input, self.schema(), opts)?)
    }

    /// Preprocesses every row of `table` exactly as at training time.
    fn features(&self, table: &RawTable) -> anyhow::Result<Features> {
        Ok(self.preprocessor().transform(table)?)
    }
}

impl RawInput for EmbeddingModel {
    fn schema(&self) -> &Schema {
        &self.schema
    }
    fn preprocessor(&self) -> &Preprocessor {
        &self.preprocessor
    }
}

impl EmbeddingModel {
    /// Loads `model.safetensors` (or a run folder) of kind `autoencoder` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<EmbeddingModel, CheckpointError> {
        EmbeddingModel::from_checkpoint(&Checkpoint::read(path, Some(KIND))?, device)
    }

    /// Builds the model from a checkpoint already read (its kind is not checked again).
    pub fn from_checkpoint(
        ck: &Checkpoint,
        device: &Device,
    ) -> Result<EmbeddingModel, CheckpointError> {
        let (schema, preprocessor, arch) = read_common(ck, &ck.path)?;
        let model = ck.load_module(arch.init(device))?;
        Ok(EmbeddingModel {
            schema,
            preprocessor,
            arch,
            model,
            device: device.clone(),
        })
    }

    /// Embeddings `[rows, latent]` row-major, computed in batches of `batch_size`.
    pub fn embed(&self, features: &Features, batch_size: usize) -> Vec<f32> {
        embed(&self.model, features, batch_size, &self.device)
    }
}

/// Schema, preprocessing and autoencoder architecture of a checkpoint, checked for consistency.
pub(crate) fn read_common(
    ck: &Checkpoint,
    path: &Path,
) -> Result<(Schema, Preprocessor, AutoencoderArch), CheckpointError> {
    let schema: Schema = ck.meta_json(keys::SCHEMA)?;
    let pre_json: serde_json::Value = ck.meta_json(keys::PREPROCESS)?;
    let preprocessor =
        Preprocessor::from_json(&pre_json).map_err(|e| CheckpointError::Metadata {
            path: path.to_path_buf(),
            key: keys::PREPROCESS.to_string(),
            message: e.to_string(),
        })?;
    let arch: AutoencoderArch = ck.meta_json(keys::MODEL)?;
    if arch.input != preprocessor.n_features() {
        return Err(CheckpointError::Metadata {
            path: path.to_path_buf(),
            key: keys::MODEL.to_string(),
            message: format!(
                "model input width {} differs from the preprocessing's {} features",
                arch.input,
                preprocessor.n_features()
            ),
        });
    }
    Ok((schema, preprocessor, arch))
}
