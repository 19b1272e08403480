//! Integration tests: one test binary (every extra binary re-links all of Burn).
//!
//! `cli` runs the `teleseg` binary as a user would; `training` drives the library (loop,
//! checkpoints, resume, backends).

mod cli;
mod clustering;
mod common;
mod forecast;
mod fuzz;
mod layout;
mod ncf;
mod parquet;
mod policy;
mod propensity;
mod realdata;
mod realtime;
mod spec;
mod training;
mod vae;
