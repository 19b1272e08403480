//! Evaluation: synthetic-data quality, privacy and utility ([`synthetic`]) with the logistic
//! regression its utility score trains ([`logistic`]), and ranking metrics of recommenders
//! ([`ranking`]).

pub mod logistic;
pub mod ranking;
pub mod synthetic;
