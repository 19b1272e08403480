//! teleseg — a training engine for telecom behavioural segmentation and personalised offers.
//!
//! Customer data (a CSV described by a [`data::schema::Schema`], or the synthetic telecom data of
//! [`data::generate`]) is preprocessed ([`data::preprocess`]) and trained on by one loop
//! ([`train`]) into self-describing safetensors checkpoints ([`checkpoint`]) that each family's
//! `infer` module — and any numpy or PyTorch scorer following `docs/checkpoint-format.md` — can
//! use.
//!
//! Where things live: every model family has one folder, [`models`]`::<family>` (its config
//! section, model and training task, job, and inference/loader); [`job`] is the skeleton every
//! verb runs on (config, seed, run folder, data or generation, commit); [`train`] is the one
//! training loop; [`checkpoint`] owns the file format and its header; [`commands`] only turns
//! command-line arguments into calls of the above.
//!
//! The library never prints: diagnostics go through `tracing`, progress through [`progress`].
//! The binary (`src/main.rs`) is a thin layer over [`commands`].

pub mod backend;
pub mod checkpoint;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod data;
pub mod date;
pub mod drift;
pub mod error;
pub mod eval;
pub mod fuzzing;
pub mod job;
pub mod logging;
pub mod models;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod scoring;
pub mod seed;
pub mod serve;
pub mod stream;
pub mod train;
