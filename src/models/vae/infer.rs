//! Sampling with a `vae` checkpoint: synthetic customers, overall or per segment, written in the
//! input's own spelling (`teleseg sample`, the pipeline, Rust callers).

use std::path::Path;

use burn::tensor::Device;

use crate::checkpoint::{Checkpoint, CheckpointError, RunDir, keys};
use crate::data::schema::Schema;
use crate::data::table::RawTable;
use crate::data::writer::table_csv;
use crate::error::UsageError;

use super::{
    Codec, Conditions, KIND, META_CODEC, META_SEGMENTS, META_TARGET_CONDITION, SampleOptions,
    SegmentInfo, TargetCondition, Vae, VaeArch, sample,
};

/// A `vae` checkpoint ready to sample: schema, codec, conditions and the model (plain device).
pub struct VaeModel {
    pub schema: Schema,
    pub codec: Codec,
    pub arch: VaeArch,
    pub conditions: Conditions,
    pub model: Vae,
    pub device: Device,
}

impl VaeModel {
    /// Loads `model.safetensors` (or a run folder) of kind `vae` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<VaeModel, CheckpointError> {
        let file = RunDir::resolve_model_file(path)?;
        VaeModel::from_checkpoint(&Checkpoint::read(&file, Some(KIND))?, device)
    }

    /// Builds the model from a checkpoint already read (its kind is not checked again).
    pub fn from_checkpoint(ck: &Checkpoint, device: &Device) -> Result<VaeModel, CheckpointError> {
        let file = ck.path.clone();
        let schema: Schema = ck.meta_json(keys::SCHEMA)?;
        let codec: Codec = ck.meta_json(META_CODEC)?;
        let arch: VaeArch = ck.meta_json(keys::MODEL)?;
        let segments: SegmentInfo = ck.meta_json(META_SEGMENTS)?;
        let target: TargetCondition = match ck.metadata.contains_key(META_TARGET_CONDITION) {
            true => ck.meta_json(META_TARGET_CONDITION)?,
            false => TargetCondition::default(),
        };
        let shares_ok = target.n_classes() == 0
            || (target.shares.len() == arch.n_segments.max(1)
                && target
                    .shares
                    .iter()
                    .all(|row| row.len() == target.n_classes())
                && target
                    .classes
                    .iter()
                    .all(|c| c.len() == target.columns.len()));
        if arch.width != codec.width()
            || arch.n_segments != segments.labels.len()
            || arch.n_target_classes != target.n_classes()
            || !shares_ok
        {
            return Err(CheckpointError::Metadata {
                path: file,
                key: keys::MODEL.to_string(),
                message: format!(
                    "model width {} / {} segments / {} target classes disagree with the codec \
                     ({}) / segment list ({}) / target classes ({}, shares {}x{})",
                    arch.width,
                    arch.n_segments,
                    arch.n_target_classes,
                    codec.width(),
                    segments.labels.len(),
                    target.n_classes(),
                    target.shares.len(),
                    target.shares.first().map_or(0, Vec::len),
                ),
            });
        }
        let model = ck.load_module(arch.init(device))?;
        Ok(VaeModel {
            schema,
            codec,
            arch,
            conditions: Conditions { segments, target },
            model,
            device: device.clone(),
        })
    }

    /// The condition index of a segment given by label (or, failing that, by index).
    pub fn segment_index(&self, segment: &str) -> Result<usize, UsageError> {
        if self.arch.n_segments == 0 {
            return Err(UsageError(
                "--segment: this VAE is unconditional (trained without vae.segments)".into(),
            ));
        }
        self.conditions
            .segments
            .labels
            .iter()
            .position(|l| l == segment)
            .ok_or_else(|| {
                UsageError(format!(
                    "--segment {segment}: not a segment of this VAE (segments: {})",
                    self.conditions.segments.labels.join(", ")
                ))
            })
    }

    /// `rows` synthetic rows (raw units) and their segment indices.
    pub fn sample(
        &self,
        rows: usize,
        segment: Option<usize>,
        seed: u64,
        keep_missing: bool,
    ) -> (RawTable, Vec<usize>) {
        let opts = SampleOptions {
            rows,
            segment,
            seed,
            keep_missing,
            batch_size: 4096,
            id_prefix: "S".into(),
        };
        sample(
            &self.model,
            &self.arch,
            &self.codec,
            &self.conditions,
            &opts,
            &self.device,
        )
    }

    /// A table as CSV in the checkpoint's schema.
    pub fn csv(&self, table: &RawTable) -> Vec<u8> {
        let rows: Vec<usize> = (0..table.n_rows()).collect();
        table_csv(&self.schema, table, &rows, &self.codec.decimals())
    }
}
