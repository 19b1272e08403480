//! Resume state besides the weights, the dense optimizer and [`super::TrainState`]: a task's own
//! state (DEC's target distribution) and the lazy-Adam moments of embedding tables. Each is kept
//! in `RUN/last/` as a safetensors file of named little-endian f32 tensors whose metadata entry
//! `teleseg.state` holds the rest as JSON: `task_state.safetensors` and
//! `sparse_optimizer.safetensors` (absent when the task has no state / no table was looked up
//! sparsely). They are written with the rest of `last/` as one unit.

use std::collections::{BTreeMap, HashMap};

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

/// The metadata key holding the JSON part.
const META: &str = "teleseg.state";

/// Named f32 tensors (`[shape], values`) and a JSON value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateFile {
    pub meta: serde_json::Value,
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl StateFile {
    /// A state of `meta` and no tensors.
    pub fn new(meta: serde_json::Value) -> Self {
        Self {
            meta,
            tensors: BTreeMap::new(),
        }
    }

    /// Adds `tensor` (read back to the host) under `name`.
    pub fn with_tensor<const D: usize>(mut self, name: &str, tensor: Tensor<D>) -> Self {
        let shape = tensor.dims().to_vec();
        let values = tensor
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 data");
        self.tensors.insert(name.to_string(), (shape, values));
        self
    }

    /// The tensor `name` as a `D`-dimensional tensor on `device`.
    pub fn tensor<const D: usize>(&self, name: &str, device: &Device) -> Result<Tensor<D>, String> {
        let (shape, values) = self
            .tensors
            .get(name)
            .ok_or_else(|| format!("tensor `{name}` is missing"))?;
        if shape.len() != D {
            return Err(format!(
                "tensor `{name}` has {} dimensions, expected {D}",
                shape.len()
            ));
        }
        Ok(Tensor::from_data(
            TensorData::new(values.clone(), shape.clone()),
            device,
        ))
    }

    /// The safetensors bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, (shape, values))| {
                let b = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name.clone(), shape.clone(), b)
            })
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bytes
            .iter()
            .map(|(name, shape, b)| {
                let view = safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), b)
                    .expect("shape matches the data");
                (name.clone(), view)
            })
            .collect();
        let meta: HashMap<String, String> = [(META.to_string(), self.meta.to_string())]
            .into_iter()
            .collect();
        safetensors::serialize(views, Some(meta)).expect("state serializes")
    }

    /// Parses safetensors bytes written by [`StateFile::to_bytes`] (the message says what is
    /// wrong).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
        let meta = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META))
            .ok_or_else(|| format!("no `{META}` metadata"))?;
        let meta: serde_json::Value =
            serde_json::from_str(meta).map_err(|e| format!("`{META}`: {e}"))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(format!(
                    "tensor `{name}` is {:?}, expected F32",
                    view.dtype()
                ));
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.insert(name, (view.shape().to_vec(), values));
        }
        Ok(Self { meta, tensors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_tensors_and_json_bit_for_bit() {
        let d = Device::flex();
        let t = Tensor::<2>::from_data(
            TensorData::new(vec![1.5f32, -0.0, f32::MIN_POSITIVE, 3.0e-7], [2, 2]),
            &d,
        );
        let s = StateFile::new(serde_json::json!({"step": 7, "labels": [0, 2]}))
            .with_tensor("p", t.clone());
        let back = StateFile::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(back, s);
        let r: Tensor<2> = back.tensor("p", &d).unwrap();
        assert_eq!(
            r.into_data().try_into_vec::<f32>().unwrap(),
            t.into_data().try_into_vec::<f32>().unwrap()
        );
        assert!(
            back.tensor::<1>("p", &d)
                .unwrap_err()
                .contains("2 dimensions")
        );
        assert!(back.tensor::<2>("q", &d).unwrap_err().contains("missing"));
        assert!(StateFile::from_bytes(b"not a state").is_err());
    }
}
