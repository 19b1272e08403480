//! Evaluation: which raw columns drive the segments ([`attribution`]), synthetic-data quality,
//! privacy and utility ([`synthetic`]) with the logistic
//! regression its utility score trains ([`logistic`]), and ranking metrics of recommenders
//! ([`ranking`]), and off-policy evaluation of bandit policies ([`ope`]).

pub mod attribution;
pub mod logistic;
pub mod ope;
pub mod ranking;
pub mod synthetic;
