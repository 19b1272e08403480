//! Small, fast samplers on top of any `rand` RNG.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// A standard normal draw.
pub(super) fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    rng.sample(StandardNormal)
}

pub(super) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Index drawn with probability proportional to `weights` (non-negative, not all zero).
pub(super) fn pick<R: Rng + ?Sized>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    // Rounding can leave u just above the last weight: take the last non-zero one.
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// A Poisson draw: multiplication method for small means, rounded normal approximation above 30.
pub(super) fn poisson<R: Rng + ?Sized>(rng: &mut R, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let mut product = rng.random::<f64>();
    let mut k = 0;
    while product > limit {
        product *= rng.random::<f64>();
        k += 1;
    }
    k
}

/// An over-dispersed count: Poisson with a log-normal mean (median `median`, log-sd `sigma`).
pub(super) fn mixed_poisson<R: Rng + ?Sized>(rng: &mut R, median: f64, sigma: f64) -> u32 {
    let mean = median * (sigma * normal(rng)).exp();
    poisson(rng, mean)
}
