//! Real-time features and decisions: customer events in, windowed features and decisions out.
//!
//! - [`events`]: the event format (`events.jsonl`, one JSON object per line; the generator
//!   writes it with `teleseg generate --events`) and its parser.
//! - [`features`]: per-customer event-time windows, updated incrementally, that give the same
//!   monthly columns as the batch table for the same events.

pub mod events;
pub mod features;
