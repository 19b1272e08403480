//! The header of a run's checkpoints: everything a model file holds besides the model's own
//! weights (docs/checkpoint-format.md §2–§3). A job builds it once, the training loop writes it
//! into every checkpoint ([`Header::file_bytes`]), and nothing else writes checkpoint metadata.

use std::collections::BTreeMap;

use burn::module::Module;
use serde::Serialize;

use super::{FORMAT_VERSION, NamedTensor, keys, module_tensors, to_safetensors_bytes};

/// Fixed tensors (fitted preprocessing, scoring tables) and `__metadata__` entries written with
/// every checkpoint of a run.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// Tensors stored beside the weights (`preprocess.*`, ...).
    pub tensors: Vec<NamedTensor>,
    /// `__metadata__` entries, by key.
    pub meta: BTreeMap<String, String>,
}

impl Header {
    /// The entries every kind has: `teleseg.format_version`, `teleseg.kind`, the resolved
    /// `config`, the architecture (`teleseg.model`) and the `backend` that trained it.
    pub fn new(kind: &str, config: &impl Serialize, arch: &impl Serialize, backend: &str) -> Self {
        let meta = BTreeMap::from([
            (keys::FORMAT_VERSION.to_string(), FORMAT_VERSION.to_string()),
            (keys::KIND.to_string(), kind.to_string()),
            (keys::CONFIG.to_string(), json(config)),
            (keys::MODEL.to_string(), json(arch)),
            (keys::BACKEND.to_string(), backend.to_string()),
        ]);
        Header {
            tensors: Vec::new(),
            meta,
        }
    }

    /// Adds the metadata entry `key` as the JSON of `value`.
    pub fn with_json(mut self, key: &str, value: &impl Serialize) -> Self {
        self.meta.insert(key.to_string(), json(value));
        self
    }

    /// Adds a part (tensors and metadata) another layer owns, such as the fitted preprocessing
    /// (`Preprocessor::bundle`).
    pub fn with_part(
        mut self,
        (tensors, meta): (Vec<NamedTensor>, impl IntoIterator<Item = (String, String)>),
    ) -> Self {
        self.tensors.extend(tensors);
        self.meta.extend(meta);
        self
    }

    /// The tensors and metadata of a checkpoint of `model`: its weights (PyTorch layout) first,
    /// then the header's tensors.
    pub fn bundle<M: Module>(&self, model: &M) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
        let mut tensors = module_tensors(model);
        tensors.extend(self.tensors.iter().cloned());
        (tensors, self.meta.clone())
    }

    /// The safetensors bytes of a checkpoint of `model`, with `extra` metadata (the loop's
    /// `teleseg.epoch` and `teleseg.valid_loss`).
    pub fn file_bytes<M: Module>(&self, model: &M, extra: &[(&str, String)]) -> Vec<u8> {
        let (tensors, mut meta) = self.bundle(model);
        for (k, v) in extra {
            meta.insert(k.to_string(), v.clone());
        }
        to_safetensors_bytes(&tensors, &meta)
    }
}

impl Header {
    /// The safetensors bytes of a checkpoint whose model is not a Burn module (the
    /// gradient-boosted trees of `propensity`, kept in the metadata): the header alone.
    pub fn file_bytes_without_weights(&self) -> Vec<u8> {
        to_safetensors_bytes(&self.tensors, &self.meta)
    }
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("header values serialize to JSON")
}
