//! Evaluation: synthetic-data quality, privacy and utility ([`synthetic`]) and the logistic
//! regression its utility score trains ([`logistic`]).

pub mod logistic;
pub mod synthetic;
