//! Scoring with a `dec` checkpoint: embeddings, soft assignments and segments of raw customer
//! rows (`teleseg score`, the pipeline, Rust callers).

use std::path::Path;

use burn::tensor::Device;

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::data::preprocess::{Features, Preprocessor};
use crate::data::schema::Schema;
use crate::models::autoencoder::{AutoencoderArch, RawInput, read_common};

use super::{Dec, DecHead, KIND, META_HEAD, argmax_rows, assign_rows};

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
        SegmentModel::from_checkpoint(&Checkpoint::read(path, Some(KIND))?, device)
    }

    /// Builds the model from a checkpoint already read (its kind is not checked again).
    pub fn from_checkpoint(
        ck: &Checkpoint,
        device: &Device,
    ) -> Result<SegmentModel, CheckpointError> {
        let (schema, preprocessor, arch) = read_common(ck, &ck.path)?;
        let head: DecHead = ck.meta_json(META_HEAD)?;
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
        let (z, q) = assign_rows(
            &self.model,
            features,
            self.head.alpha,
            batch_size,
            &self.device,
        );
        let (segment, confidence) = argmax_rows(&q, self.head.k);
        Segments {
            z,
            q,
            segment,
            confidence,
        }
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
