//! The shared MLP block every model family builds on: `Linear → [norm] → activation → [dropout]`
//! per hidden layer, and a plain `Linear` output layer.
//!
//! Tensor names (a file format, see docs/checkpoint-format.md): `layers.{i}.weight` `[out, in]`
//! in PyTorch layout, `layers.{i}.bias` `[out]`, and for normalised blocks `norms.{i}.weight`,
//! `norms.{i}.bias` (plus `running_mean`/`running_var` for batch norm). The last layer has no
//! norm, activation or dropout.

use burn::module::Module;
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig,
};
use burn::tensor::activation::{gelu, leaky_relu, relu, tanh};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    Gelu,
    Tanh,
    /// Leaky ReLU with slope 0.01.
    LeakyRelu,
}

/// Normalisation after each hidden linear layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    None,
    /// Layer normalisation (per row; identical at train and score time).
    Layer,
    /// Batch normalisation (running statistics at score time).
    Batch,
}

/// A normalisation layer of a hidden block.
#[derive(Module, Debug)]
pub enum NormLayer {
    Layer(LayerNorm),
    Batch(BatchNorm),
}

/// A stack of linear layers with activations between them.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `widths.len() - 1` linear layers.
    pub layers: Vec<Linear>,
    /// One per hidden layer (empty when `norm = none`).
    pub norms: Vec<NormLayer>,
    /// Present when dropout > 0.
    pub dropout: Option<Dropout>,
    /// Hidden activation (not a parameter).
    #[module(skip)]
    pub activation: Activation,
}

/// How to build an [`Mlp`].
#[derive(Debug, Clone)]
pub struct MlpConfig {
    /// Layer widths, input first, output last: `[d_in, h1, ..., d_out]` (at least two).
    pub widths: Vec<usize>,
    pub activation: Activation,
    pub norm: Norm,
    pub dropout: f64,
}

impl MlpConfig {
    /// Builds the block on `device` (weights drawn from the device's seeded RNG).
    pub fn init(&self, device: &Device) -> Mlp {
        assert!(
            self.widths.len() >= 2,
            "an MLP needs an input and an output width"
        );
        let layers = self
            .widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect::<Vec<_>>();
        let hidden = &self.widths[1..self.widths.len() - 1];
        let norms = hidden
            .iter()
            .filter_map(|&w| match self.norm {
                Norm::None => None,
                Norm::Layer => Some(NormLayer::Layer(LayerNormConfig::new(w).init(device))),
                Norm::Batch => Some(NormLayer::Batch(BatchNormConfig::new(w).init(device))),
            })
            .collect();
        let dropout = (self.dropout > 0.0).then(|| DropoutConfig::new(self.dropout).init());
        Mlp {
            layers,
            norms,
            dropout,
            activation: self.activation,
        }
    }
}

/// Applies a hidden activation.
pub fn activate(x: Tensor<2>, activation: Activation) -> Tensor<2> {
    match activation {
        Activation::Relu => relu(x),
        Activation::Gelu => gelu(x),
        Activation::Tanh => tanh(x),
        Activation::LeakyRelu => leaky_relu(x, 0.01),
    }
}

impl Mlp {
    /// `[batch, widths[0]]` → `[batch, widths.last()]`.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                if let Some(norm) = self.norms.get(i) {
                    x = match norm {
                        NormLayer::Layer(n) => n.forward(x),
                        NormLayer::Batch(n) => n.forward(x),
                    };
                }
                x = activate(x, self.activation);
                if let Some(d) = &self.dropout {
                    x = d.forward(x);
                }
            }
        }
        x
    }
}
