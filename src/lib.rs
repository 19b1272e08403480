//! teleseg — a training engine for telecom behavioural segmentation and personalised offers.
//!
//! The library never prints: diagnostics go through `tracing`, progress through
//! [`progress`]. The binary (`src/main.rs`) is a thin layer over these modules.

pub mod cluster;
pub mod data;
