//! Scoring with a checkpoint: raw customer rows in, embeddings out. Used by `teleseg embed`,
//! `teleseg score` and Rust callers.

use std::path::Path;

use burn::tensor::Device;

use crate::checkpoint::{Checkpoint, CheckpointError, keys};
use crate::data::preprocess::{Features, Preprocessor};
use crate::data::reader::{CsvBatches, ReadOptions, read_csv};
use crate::data::schema::Schema;
use crate::data::table::RawTable;
use crate::models::autoencoder::{self, Autoencoder, AutoencoderArch, embed};
use crate::models::dec::{self, Dec, DecHead};

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

impl RawInput for SegmentModel {
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
        EmbeddingModel::from_checkpoint(&Checkpoint::read(path, Some(autoencoder::KIND))?, device)
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
fn read_common(
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

/// A `dec` checkpoint ready to score: embeddings plus segments from the Student-t assignment.
pub struct SegmentModel {
    pub schema: Schema,
    pub preprocessor: Preprocessor,
    pub arch: AutoencoderArch,
    pub head: DecHead,
    pub model: Dec,
    pub device: Device,
}

/// Scores of a batch of customers.
pub struct Segments {
    /// Embeddings `[rows, latent]` row-major.
    pub z: Vec<f32>,
    /// Soft assignments `[rows, k]` row-major (rows sum to 1).
    pub q: Vec<f32>,
    /// `argmax_j q_ij` per row.
    pub segment: Vec<usize>,
    /// `max_j q_ij` per row.
    pub confidence: Vec<f32>,
}

impl Segments {
    /// Row `i` alone (for writing rows one at a time).
    pub fn slice(&self, i: usize) -> Segments {
        let latent = self.z.len() / self.segment.len().max(1);
        let k = self.q.len() / self.segment.len().max(1);
        Segments {
            z: self.z[i * latent..(i + 1) * latent].to_vec(),
            q: self.q[i * k..(i + 1) * k].to_vec(),
            segment: vec![self.segment[i]],
            confidence: vec![self.confidence[i]],
        }
    }
}

impl SegmentModel {
    /// Loads `model.safetensors` (or a run folder) of kind `dec` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<SegmentModel, CheckpointError> {
        SegmentModel::from_checkpoint(&Checkpoint::read(path, Some(dec::KIND))?, device)
    }

    /// Builds the model from a checkpoint already read (its kind is not checked again).
    pub fn from_checkpoint(
        ck: &Checkpoint,
        device: &Device,
    ) -> Result<SegmentModel, CheckpointError> {
        let (schema, preprocessor, arch) = read_common(ck, &ck.path)?;
        let head: DecHead = ck.meta_json(dec::META_HEAD)?;
        let zeros = vec![0.0f32; head.k * arch.latent];
        let model = ck.load_module(Dec::new(arch.init(device), &zeros, head.k, device))?;
        Ok(SegmentModel {
            schema,
            preprocessor,
            arch,
            head,
            model,
            device: device.clone(),
        })
    }

    /// Embeddings, soft assignments, segments and confidences, in batches of `batch_size`.
    pub fn score(&self, features: &Features, batch_size: usize) -> Segments {
        let (z, q) = dec::assign_rows(
            &self.model,
            features,
            self.head.alpha,
            batch_size,
            &self.device,
        );
        let (segment, confidence) = dec::argmax_rows(&q, self.head.k);
        Segments {
            z,
            q,
            segment,
            confidence,
        }
    }
}
