//! teleseg — a training engine for telecom behavioural segmentation and personalised offers.
//!
//! Customer data (a CSV described by a [`data::schema::Schema`], or the synthetic telecom data of
//! [`data::generate`]) is preprocessed ([`data::preprocess`]) and trained on by one loop
//! ([`train`]) into self-describing safetensors checkpoints ([`checkpoint`]) that
//! [`score`] — and any numpy or PyTorch scorer following `docs/checkpoint-format.md` — can use.
//!
//! The library never prints: diagnostics go through `tracing`, progress through [`progress`].
//! The binary (`src/main.rs`) is a thin layer over [`commands`].

pub mod backend;
pub mod checkpoint;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod data;
pub mod error;
pub mod eval;
pub mod fuzzing;
pub mod models;
pub mod progress;
pub mod report;
pub mod score;
pub mod train;
