//! Summary statistics shared by preprocessing, evaluation and the models.

/// Quantile `q` of sorted, non-empty `v`, linear interpolation between the two nearest ranks
/// (numpy's default).
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (pos - lo as f64) * (v[hi] - v[lo])
}

#[cfg(test)]
mod tests {
    #[test]
    fn interpolates_like_numpy() {
        let v = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(super::quantile(&v, 0.0), 1.0);
        assert_eq!(super::quantile(&v, 1.0), 8.0);
        // numpy.quantile([1, 2, 4, 8], 0.5) = 3.0, 0.9 → 6.8
        assert_eq!(super::quantile(&v, 0.5), 3.0);
        assert!((super::quantile(&v, 0.9) - 6.8).abs() < 1e-12);
    }
}
