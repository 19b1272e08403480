//! Backend selection: `--backend auto|flex|ndarray|wgpu` resolved to a Burn [`Device`].
//!
//! `auto` takes a real GPU through wgpu when one exists and never a software adapter
//! (lavapipe/llvmpipe are 17–25× slower than flex for our models), else flex. An explicit `wgpu`
//! accepts any adapter, software included (that is how CI tests the wgpu path), and is a clear
//! error — not a panic — when there is none.

use std::fmt;
use std::sync::OnceLock;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// A real GPU through wgpu if one exists, else flex.
    Auto,
    /// Burn's pure-Rust CPU backend (SIMD + rayon): the default CPU backend.
    Flex,
    /// The ndarray CPU backend (deprecated upstream; kept because deployments ask for it).
    Ndarray,
    /// wgpu (Vulkan/Metal/DX12); software adapters accepted.
    Wgpu,
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Flex => "flex",
            BackendChoice::Ndarray => "ndarray",
            BackendChoice::Wgpu => "wgpu",
        })
    }
}

/// A resolved backend: the (non-autodiff) device and a human description.
#[derive(Debug, Clone)]
pub struct Backend {
    /// The plain device; training uses `device.clone().autodiff()`.
    pub device: Device,
    /// Which backend: `flex`, `ndarray` or `wgpu` (stored in checkpoints and metrics).
    pub kind: BackendChoice,
    /// e.g. `flex (CPU)`, `wgpu: NVIDIA H100 (Vulkan, discrete GPU)`.
    pub description: String,
}

/// Why a backend could not be used.
#[derive(Debug, Error, Clone)]
pub enum BackendError {
    #[error(
        "--backend wgpu: no wgpu adapter could be opened ({0}). Install a Vulkan driver \
         (e.g. Debian's mesa-vulkan-drivers for a software adapter) or use --backend flex"
    )]
    NoAdapter(String),
    #[error("--backend wgpu: this teleseg was built without the `wgpu` cargo feature")]
    NotCompiled,
}

/// Information about the wgpu adapter, when one could be opened.
#[derive(Debug, Clone)]
pub struct WgpuAdapter {
    pub device: Device,
    pub name: String,
    pub api: String,
    /// True for CPU (software) adapters such as llvmpipe/lavapipe.
    pub software: bool,
    pub device_type: String,
}

/// Opens the wgpu adapter once per process (the runtime cannot be initialized twice).
#[cfg(feature = "wgpu")]
pub fn wgpu_adapter() -> Result<WgpuAdapter, BackendError> {
    static ADAPTER: OnceLock<Result<WgpuAdapter, String>> = OnceLock::new();
    ADAPTER
        .get_or_init(|| {
            // The wgpu runtime can panic deep inside driver probing; treat that as "no adapter".
            let probe = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
            match probe {
                Ok(Ok((device, setup))) => {
                    let info = setup.adapter.get_info();
                    use burn::tensor::wgpu::wgpu::DeviceType;
                    Ok(WgpuAdapter {
                        device,
                        name: info.name.clone(),
                        api: format!("{:?}", info.backend),
                        software: matches!(info.device_type, DeviceType::Cpu),
                        device_type: format!("{:?}", info.device_type),
                    })
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("the wgpu runtime panicked while probing adapters".to_string()),
            }
        })
        .clone()
        .map_err(BackendError::NoAdapter)
}

/// Without the `wgpu` feature there is never an adapter.
#[cfg(not(feature = "wgpu"))]
pub fn wgpu_adapter() -> Result<WgpuAdapter, BackendError> {
    let _ = OnceLock::<()>::new();
    Err(BackendError::NotCompiled)
}

/// Resolves a choice to a device.
pub fn resolve(choice: BackendChoice) -> Result<Backend, BackendError> {
    let flex = || Backend {
        device: Device::flex(),
        kind: BackendChoice::Flex,
        description: "flex (CPU, SIMD + rayon)".to_string(),
    };
    match choice {
        BackendChoice::Flex => Ok(flex()),
        BackendChoice::Ndarray => Ok(Backend {
            #[allow(deprecated)]
            device: Device::ndarray(),
            kind: BackendChoice::Ndarray,
            description: "ndarray (CPU)".to_string(),
        }),
        BackendChoice::Wgpu => {
            let a = wgpu_adapter()?;
            Ok(Backend {
                device: a.device.clone(),
                kind: BackendChoice::Wgpu,
                description: describe(&a),
            })
        }
        BackendChoice::Auto => match wgpu_adapter() {
            Ok(a) if !a.software => Ok(Backend {
                device: a.device.clone(),
                kind: BackendChoice::Wgpu,
                description: describe(&a),
            }),
            Ok(a) => {
                tracing::info!(adapter = %a.name, "auto backend: ignoring software wgpu adapter, using flex");
                Ok(flex())
            }
            Err(e) => {
                tracing::debug!(error = %e, "auto backend: no wgpu adapter, using flex");
                Ok(flex())
            }
        },
    }
}

/// Whether `device` (plain or autodiff) keeps its tensors in host memory: flex and ndarray. Host
/// code may then work on a tensor's storage directly (e.g. the fused dense Adam of
/// [`crate::train::sparse`]); on a GPU that would be a round trip per step.
pub fn host_memory(device: &Device) -> bool {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    *device == Device::flex() || *device == ndarray
}

fn describe(a: &WgpuAdapter) -> String {
    format!("wgpu: {} ({}, {})", a.name, a.api, a.device_type)
}

/// Worker threads of [`training_pool`]: `TELESEG_TRAIN_THREADS`, else `RAYON_NUM_THREADS`,
/// else one fewer than the cores (at least 1).
///
/// Why one fewer: a training step is a chain of small kernels (batch 256 × widths of a few
/// hundred), each handed from the thread driving the loop to the pool and waited for. With as
/// many workers as cores, the workers spinning between kernels compete with the work itself. On
/// the 2-core dev machine (docs/benchmarks.md, "The fair benchmark", the profile) one worker
/// instead of two makes the autoencoder, VAE and DEC steps 20–43 % faster, NeuMF unchanged,
/// with identical results; with many cores one worker fewer costs little.
pub fn training_threads() -> usize {
    threads_set_by_user().unwrap_or_else(|| cores().saturating_sub(1).max(1))
}

/// Threads of a large host pass inside a training step (the fused dense Adam of
/// [`crate::train::sparse`]): what `TELESEG_TRAIN_THREADS` or `RAYON_NUM_THREADS` says, else every
/// core (a pass bound by memory bandwidth gains from all of them, unlike the small kernels).
pub fn host_pass_threads() -> usize {
    threads_set_by_user().unwrap_or_else(cores)
}

/// `TELESEG_TRAIN_THREADS`, else `RAYON_NUM_THREADS`, when set to a positive number.
fn threads_set_by_user() -> Option<usize> {
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
    };
    env("TELESEG_TRAIN_THREADS").or_else(|| env("RAYON_NUM_THREADS"))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The thread pool training loops run their tensor work in ([`training_threads`] workers),
/// built on first use. Scoring, SHAP and data preparation keep rayon's global pool (all cores).
pub fn training_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(training_threads())
            .thread_name(|i| format!("teleseg-train-{i}"))
            .build()
            .expect("building the training thread pool")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_backends_keep_tensors_in_host_memory() {
        for choice in [BackendChoice::Flex, BackendChoice::Ndarray] {
            let device = resolve(choice).unwrap().device;
            assert!(host_memory(&device), "{choice}");
            assert!(host_memory(&device.autodiff()), "{choice} autodiff");
        }
        if let Ok(a) = wgpu_adapter() {
            assert!(!host_memory(&a.device), "wgpu ({})", a.name);
        }
    }

    #[test]
    fn cpu_backends_resolve_without_hardware() {
        assert_eq!(
            resolve(BackendChoice::Flex).unwrap().kind,
            BackendChoice::Flex
        );
        assert_eq!(
            resolve(BackendChoice::Ndarray).unwrap().kind,
            BackendChoice::Ndarray
        );
    }

    #[test]
    fn auto_never_picks_a_software_adapter() {
        let b = resolve(BackendChoice::Auto).unwrap();
        match wgpu_adapter() {
            Ok(a) if !a.software => assert_eq!(b.kind, BackendChoice::Wgpu),
            _ => assert_eq!(b.kind, BackendChoice::Flex),
        }
    }
}
