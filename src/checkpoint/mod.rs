//! The checkpoint bundle: self-describing safetensors files, atomic writes, strict loading.
//!
//! A `model.safetensors` holds the model weights in PyTorch layout (Linear weight `[out, in]`,
//! named by module path), the fitted preprocessing and per-family scoring tensors, all `F32`, and a
//! `__metadata__` header with at least `teleseg.format_version`, `teleseg.kind`, the resolved
//! config, the data schema and the preprocessing (JSON). The layout is specified in
//! `docs/checkpoint-format.md`.
//!
//! We write the safetensors container ourselves (it is 8 bytes of header length, a JSON header,
//! and raw little-endian data) because the `safetensors` crate keeps metadata in a `HashMap`,
//! whose order changes between processes: our files are byte-identical for the same seed.
//! Reading goes through the `safetensors` crate, which validates the header and offsets.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use safetensors::{Dtype, SafeTensors};
use thiserror::Error;

mod header;
pub use header::Header;

/// The version of the bundle format this build writes. Readers accept this version and older.
pub const FORMAT_VERSION: u32 = 1;

/// Metadata keys (all under `teleseg.`).
pub mod keys {
    pub const FORMAT_VERSION: &str = "teleseg.format_version";
    pub const KIND: &str = "teleseg.kind";
    pub const CONFIG: &str = "teleseg.config";
    pub const MODEL: &str = "teleseg.model";
    pub const SCHEMA: &str = "teleseg.schema";
    pub const PREPROCESS: &str = "teleseg.preprocess";
    pub const FEATURES: &str = "teleseg.features";
    pub const EPOCH: &str = "teleseg.epoch";
    pub const VALID_LOSS: &str = "teleseg.valid_loss";
    pub const BACKEND: &str = "teleseg.backend";
}

/// Everything that can go wrong reading or writing a checkpoint. Messages name the file and,
/// where there is one, the tensor.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid safetensors file ({message})")]
    NotSafetensors { path: PathBuf, message: String },
    #[error(
        "{path}: not a teleseg checkpoint (no `{}` in the safetensors metadata)",
        keys::FORMAT_VERSION
    )]
    Foreign { path: PathBuf },
    #[error(
        "{path}: checkpoint format version {found} is newer than this teleseg supports ({FORMAT_VERSION}); upgrade teleseg"
    )]
    NewerVersion { path: PathBuf, found: String },
    #[error("{path}: is a `{found}` checkpoint, but a `{expected}` checkpoint is needed here")]
    WrongKind {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{path}: metadata `{key}` is missing or invalid: {message}")]
    Metadata {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("{path}: tensor `{name}` is missing")]
    MissingTensor { path: PathBuf, name: String },
    #[error("{path}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("{path}: tensor `{name}` has dtype {found}, expected F32")]
    WrongDtype {
        path: PathBuf,
        name: String,
        found: String,
    },
    #[error("{path}: could not load the weights into the model: {message}")]
    Apply { path: PathBuf, message: String },
    #[error(
        "{path}: run folder already exists; pass --force to replace it or --resume to continue it"
    )]
    RunExists { path: PathBuf },
    #[error("{path}: no checkpoint found (expected {expected})")]
    NotFound { path: PathBuf, expected: String },
}

impl CheckpointError {
    /// True when the cause is the input (a bad or foreign file, a wrong path), not the system.
    pub fn is_input_error(&self) -> bool {
        match self {
            CheckpointError::Io { source, .. } => crate::data::error::is_path_mistake(source),
            CheckpointError::Apply { .. } => false,
            _ => true,
        }
    }
}

/// One named `F32` tensor (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl NamedTensor {
    /// A tensor; panics if `data` does not fill `shape` (a programming error).
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "tensor data does not fill its shape"
        );
        Self {
            name: name.into(),
            shape,
            data,
        }
    }
}

/// The module's parameters as named tensors in PyTorch layout (what goes into the file).
pub fn module_tensors<M: Module>(model: &M) -> Vec<NamedTensor> {
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
    model
        .save_into(&mut store)
        .expect("saving a module to memory cannot fail");
    let bytes = store.get_bytes().expect("in-memory store holds bytes");
    let st = SafeTensors::deserialize(&bytes).expect("burn-store writes valid safetensors");
    let mut out: Vec<NamedTensor> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| NamedTensor {
            name,
            shape: view.shape().to_vec(),
            data: to_f32(view.dtype(), view.data()).expect("model parameters are floats"),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        Dtype::F64 => Some(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
        ),
        _ => None,
    }
}

/// Serializes tensors and metadata into safetensors bytes, deterministically: tensors sorted by
/// name, metadata keys sorted, data 8-byte aligned.
pub fn to_safetensors_bytes(
    tensors: &[NamedTensor],
    metadata: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut sorted: Vec<&NamedTensor> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".to_string(),
        serde_json::Value::Object(
            metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        ),
    );
    let mut offset = 0usize;
    for t in &sorted {
        let len = t.data.len() * 4;
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    // serde_json's Map is a BTreeMap (no preserve_order feature): keys come out sorted.
    let mut json = serde_json::to_vec(&serde_json::Value::Object(header)).expect("json");
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for t in &sorted {
        for v in &t.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Writes `value` as pretty JSON to `path` atomically ([`write_atomic`]): `evaluation.json` and
/// the other reports of a run.
pub fn write_json_atomic(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    write_atomic(path, serde_json::to_string_pretty(value)?.as_bytes())?;
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename.
/// A crash leaves either the old file or the new one, never a partial one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// A file written under a temporary name (`.NAME.partial`) in its final folder and renamed on
/// [`PendingFile::commit`], for outputs too large to hold in memory. Dropped uncommitted (an
/// error, a panic), it removes the temporary file: readers never see a partial file, and an
/// existing file of the same name is untouched until the rename.
pub struct PendingFile {
    tmp: PathBuf,
    dest: PathBuf,
    writer: Option<std::io::BufWriter<std::fs::File>>,
}

impl PendingFile {
    /// Creates the temporary file beside `dest` (and `dest`'s folder if needed).
    pub fn create(dest: &Path) -> Result<PendingFile, CheckpointError> {
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.partial"));
        let file = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::File::create(&tmp))
            .map_err(|source| CheckpointError::Io {
                path: tmp.clone(),
                source,
            })?;
        Ok(PendingFile {
            dest: dest.to_path_buf(),
            writer: Some(std::io::BufWriter::with_capacity(1 << 20, file)),
            tmp,
        })
    }

    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let result = match self.writer.as_mut() {
            Some(w) => w.write_all(bytes),
            None => Ok(()),
        };
        result.map_err(|source| CheckpointError::Io {
            path: self.tmp.clone(),
            source,
        })
    }

    /// Flushes, fsyncs and renames to the final name; returns the final path.
    pub fn commit(mut self) -> Result<PathBuf, CheckpointError> {
        if let Some(w) = self.writer.take() {
            w.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .map_err(|source| CheckpointError::Io {
                    path: self.tmp.clone(),
                    source,
                })?;
        }
        std::fs::rename(&self.tmp, &self.dest).map_err(|source| CheckpointError::Io {
            path: self.dest.clone(),
            source,
        })?;
        Ok(std::mem::take(&mut self.dest))
    }
}

/// Writing through [`std::io::Write`] (e.g. a Parquet writer), same as [`PendingFile::write`].
impl std::io::Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.writer.as_mut() {
            Some(w) => w.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.as_mut().map_or(Ok(()), |w| w.flush())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.dest.as_os_str().is_empty() {
            return; // committed
        }
        drop(self.writer.take());
        if let Err(e) = std::fs::remove_file(&self.tmp) {
            tracing::warn!(path = %self.tmp.display(), error = %e, "cannot remove temporary file");
        }
    }
}

/// A checkpoint file read into memory and checked (format version, kind).
#[derive(Debug)]
pub struct Checkpoint {
    pub path: PathBuf,
    pub metadata: BTreeMap<String, String>,
    bytes: Vec<u8>,
}

impl Checkpoint {
    /// Reads and validates a checkpoint. `expected_kind` (e.g. `"autoencoder"`) is checked when given.
    pub fn read(path: &Path, expected_kind: Option<&str>) -> Result<Checkpoint, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Checkpoint::from_bytes(path, bytes, expected_kind)
    }

    /// Validates checkpoint bytes; `path` is only used in messages.
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        expected_kind: Option<&str>,
    ) -> Result<Checkpoint, CheckpointError> {
        let path = path.to_path_buf();
        let (_, meta) =
            SafeTensors::read_metadata(&bytes).map_err(|e| CheckpointError::NotSafetensors {
                path: path.clone(),
                message: e.to_string(),
            })?;
        // Full validation of every tensor's offsets against the buffer.
        SafeTensors::deserialize(&bytes).map_err(|e| CheckpointError::NotSafetensors {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let metadata: BTreeMap<String, String> = meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let version = metadata
            .get(keys::FORMAT_VERSION)
            .ok_or_else(|| CheckpointError::Foreign { path: path.clone() })?;
        match version.parse::<u32>() {
            Ok(v) if v <= FORMAT_VERSION && v >= 1 => {}
            Ok(v) if v > FORMAT_VERSION => {
                return Err(CheckpointError::NewerVersion {
                    path,
                    found: version.clone(),
                });
            }
            _ => {
                return Err(CheckpointError::Metadata {
                    path,
                    key: keys::FORMAT_VERSION.to_string(),
                    message: format!("`{version}` is not a supported version number"),
                });
            }
        }
        let kind = metadata
            .get(keys::KIND)
            .ok_or_else(|| CheckpointError::Metadata {
                path: path.clone(),
                key: keys::KIND.to_string(),
                message: "absent".to_string(),
            })?;
        if let Some(expected) = expected_kind
            && kind != expected
        {
            return Err(CheckpointError::WrongKind {
                path,
                found: kind.clone(),
                expected: expected.to_string(),
            });
        }
        Ok(Checkpoint {
            path,
            metadata,
            bytes,
        })
    }

    /// The `teleseg.kind` of this checkpoint.
    pub fn kind(&self) -> &str {
        &self.metadata[keys::KIND]
    }

    /// A metadata value that must be present.
    pub fn meta(&self, key: &str) -> Result<&str, CheckpointError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| CheckpointError::Metadata {
                path: self.path.clone(),
                key: key.to_string(),
                message: "absent".to_string(),
            })
    }

    /// A metadata value parsed as JSON into `T`.
    pub fn meta_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<T, CheckpointError> {
        serde_json::from_str(self.meta(key)?).map_err(|e| CheckpointError::Metadata {
            path: self.path.clone(),
            key: key.to_string(),
            message: e.to_string(),
        })
    }

    fn view(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("validated at read")
    }

    /// Names and shapes of every tensor, sorted by name.
    pub fn tensor_infos(&self) -> Vec<(String, Vec<usize>, String)> {
        let mut v: Vec<_> = self
            .view()
            .tensors()
            .into_iter()
            .map(|(n, t)| (n, t.shape().to_vec(), format!("{:?}", t.dtype())))
            .collect();
        v.sort();
        v
    }

    /// Whether the file holds a tensor named `name`.
    pub fn has_tensor(&self, name: &str) -> bool {
        self.view().tensor(name).is_ok()
    }

    /// One `F32` tensor, with its shape checked when `expected_shape` is given.
    pub fn tensor(
        &self,
        name: &str,
        expected_shape: Option<&[usize]>,
    ) -> Result<NamedTensor, CheckpointError> {
        let st = self.view();
        let view = st
            .tensor(name)
            .map_err(|_| CheckpointError::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
            })?;
        if view.dtype() != Dtype::F32 {
            return Err(CheckpointError::WrongDtype {
                path: self.path.clone(),
                name: name.to_string(),
                found: format!("{:?}", view.dtype()),
            });
        }
        if let Some(expected) = expected_shape
            && view.shape() != expected
        {
            return Err(CheckpointError::ShapeMismatch {
                path: self.path.clone(),
                name: name.to_string(),
                found: view.shape().to_vec(),
                expected: expected.to_vec(),
            });
        }
        Ok(NamedTensor {
            name: name.to_string(),
            shape: view.shape().to_vec(),
            data: to_f32(Dtype::F32, view.data()).expect("f32"),
        })
    }

    /// Loads the weights into `model` (freshly built from the saved config). Every parameter of
    /// the model must be in the file with the same shape and dtype F32; errors name the tensor.
    pub fn load_module<M: Module>(&self, mut model: M) -> Result<M, CheckpointError> {
        for expected in module_tensors(&model) {
            self.tensor(&expected.name, Some(&expected.shape))?;
        }
        let mut store = SafetensorsStore::from_bytes(Some(self.bytes.clone()))
            .with_from_adapter(PyTorchToBurnAdapter)
            .allow_partial(true);
        let result = model
            .load_from(&mut store)
            .map_err(|e| CheckpointError::Apply {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        if !result.errors.is_empty() || !result.missing.is_empty() {
            return Err(CheckpointError::Apply {
                path: self.path.clone(),
                message: format!("errors: {:?}; missing: {:?}", result.errors, result.missing),
            });
        }
        Ok(model)
    }
}

/// Where a run's files live.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    /// The scoring model (best by validation loss).
    pub fn model(&self) -> PathBuf {
        self.root.join("model.safetensors")
    }
    /// The last completed epoch, for exact resume.
    pub fn last(&self) -> PathBuf {
        self.root.join("last")
    }
    /// The newest complete resume state: `last/`, or `last.old/` when a crash struck between the
    /// two renames that swap a new `last/` in (see `train::write_last`).
    pub fn last_complete(&self) -> Option<PathBuf> {
        [self.last(), self.root.join("last.old")]
            .into_iter()
            .find(|d| d.join("training_state.json").is_file())
    }
    /// A periodic checkpoint.
    pub fn epoch(&self, epoch: usize) -> PathBuf {
        self.root.join("epochs").join(format!("epoch-{epoch:04}"))
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// Resolves what the user passed as `--checkpoint`: a run folder or a `.safetensors` file.
    pub fn resolve_model_file(arg: &Path) -> Result<PathBuf, CheckpointError> {
        if arg.is_dir() {
            let p = arg.join("model.safetensors");
            if p.is_file() {
                return Ok(p);
            }
            return Err(CheckpointError::NotFound {
                path: arg.to_path_buf(),
                expected: "a model.safetensors inside the run folder".to_string(),
            });
        }
        if arg.is_file() {
            return Ok(arg.to_path_buf());
        }
        Err(CheckpointError::NotFound {
            path: arg.to_path_buf(),
            expected: "a run folder or a .safetensors file".to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(version: &str, kind: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (keys::FORMAT_VERSION.to_string(), version.to_string()),
            (keys::KIND.to_string(), kind.to_string()),
        ])
    }

    fn sample() -> Vec<NamedTensor> {
        vec![
            NamedTensor::new("b", vec![3], vec![1.0, 2.0, 3.0]),
            NamedTensor::new("a.weight", vec![2, 2], vec![0.5, -1.0, f32::INFINITY, 4.0]),
        ]
    }

    #[test]
    fn bytes_round_trip_through_the_safetensors_crate() {
        let bytes = to_safetensors_bytes(&sample(), &meta("1", "autoencoder"));
        let ck = Checkpoint::from_bytes(Path::new("x"), bytes, Some("autoencoder")).unwrap();
        let a = ck.tensor("a.weight", Some(&[2, 2])).unwrap();
        assert_eq!(a.data, vec![0.5, -1.0, f32::INFINITY, 4.0]);
        assert_eq!(ck.kind(), "autoencoder");
    }

    #[test]
    fn serialization_is_deterministic_and_order_independent() {
        let mut reversed = sample();
        reversed.reverse();
        let m = meta("1", "k");
        assert_eq!(
            to_safetensors_bytes(&sample(), &m),
            to_safetensors_bytes(&reversed, &m)
        );
    }

    #[test]
    fn truncated_file_is_rejected() {
        let bytes = to_safetensors_bytes(&sample(), &meta("1", "k"));
        let cut = bytes[..bytes.len() - 5].to_vec();
        let err = Checkpoint::from_bytes(Path::new("cut.safetensors"), cut, None).unwrap_err();
        assert!(
            matches!(err, CheckpointError::NotSafetensors { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("cut.safetensors"));
    }

    #[test]
    fn header_length_beyond_file_is_rejected() {
        let mut bytes = to_safetensors_bytes(&sample(), &meta("1", "k"));
        bytes[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let err = Checkpoint::from_bytes(Path::new("h"), bytes, None).unwrap_err();
        assert!(
            matches!(err, CheckpointError::NotSafetensors { .. }),
            "{err}"
        );
    }

    #[test]
    fn not_safetensors_at_all_is_rejected() {
        let err = Checkpoint::from_bytes(
            Path::new("t.txt"),
            b"hello world, not tensors".to_vec(),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(err, CheckpointError::NotSafetensors { .. }),
            "{err}"
        );
    }

    #[test]
    fn foreign_file_is_rejected() {
        let bytes = to_safetensors_bytes(&sample(), &BTreeMap::new());
        let err = Checkpoint::from_bytes(Path::new("f"), bytes, None).unwrap_err();
        assert!(matches!(err, CheckpointError::Foreign { .. }), "{err}");
    }

    #[test]
    fn newer_version_is_rejected() {
        let bytes = to_safetensors_bytes(&sample(), &meta("99", "k"));
        let err = Checkpoint::from_bytes(Path::new("n"), bytes, None).unwrap_err();
        assert!(matches!(err, CheckpointError::NewerVersion { .. }), "{err}");
        assert!(err.to_string().contains("upgrade"));
    }

    #[test]
    fn wrong_kind_is_rejected() {
        let bytes = to_safetensors_bytes(&sample(), &meta("1", "vae"));
        let err = Checkpoint::from_bytes(Path::new("w"), bytes, Some("autoencoder")).unwrap_err();
        assert!(matches!(err, CheckpointError::WrongKind { .. }), "{err}");
    }

    #[test]
    fn missing_tensor_and_shape_mismatch_are_named() {
        let bytes = to_safetensors_bytes(&sample(), &meta("1", "k"));
        let ck = Checkpoint::from_bytes(Path::new("m"), bytes, None).unwrap();
        let err = ck.tensor("nope", None).unwrap_err();
        assert!(err.to_string().contains("`nope` is missing"), "{err}");
        let err = ck.tensor("b", Some(&[4])).unwrap_err();
        assert!(
            matches!(err, CheckpointError::ShapeMismatch { .. }),
            "{err}"
        );
    }

    #[test]
    fn wrong_dtype_is_rejected() {
        // A valid safetensors file with an I32 tensor, written by the reference crate.
        let data: Vec<u8> = [1i32, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = safetensors::tensor::TensorView::new(Dtype::I32, vec![2], &data).unwrap();
        let m: std::collections::HashMap<String, String> = meta("1", "k").into_iter().collect();
        let bytes = safetensors::serialize([("ints", view)], Some(m)).unwrap();
        let ck = Checkpoint::from_bytes(Path::new("d"), bytes, None).unwrap();
        assert!(matches!(
            ck.tensor("ints", None).unwrap_err(),
            CheckpointError::WrongDtype { .. }
        ));
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
