//! Summary statistics and numerical helpers shared by preprocessing, evaluation and the models.

/// Quantile `q` of sorted, non-empty `v`, linear interpolation between the two nearest ranks
/// (numpy's default).
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (pos - lo as f64) * (v[hi] - v[lo])
}

/// Gauss–Legendre nodes and weights on `[0, 1]`: `Σ w_p f(t_p) = ∫₀¹ f` for polynomials of
/// degree up to `2n − 1`.
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    // P_n(x) and P_n'(x) on [-1, 1] by the three-term recurrence.
    let legendre = |x: f64| {
        let (mut p0, mut p1) = (1.0, x);
        for k in 2..=n {
            let k = k as f64;
            (p0, p1) = (p1, ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k);
        }
        (p1, n as f64 * (x * p1 - p0) / (x * x - 1.0))
    };
    for i in 0..n {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (p, dp) = legendre(x);
            let step = p / dp;
            x -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        let (_, dp) = legendre(x);
        nodes.push((1.0 - x) / 2.0);
        weights.push(1.0 / ((1.0 - x * x) * dp * dp));
    }
    (nodes, weights)
}

/// The standard normal distribution function `Φ(z)`.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z * std::f64::consts::FRAC_1_SQRT_2)
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

    #[test]
    fn gauss_legendre_integrates_polynomials_up_to_degree_2n_minus_1() {
        for n in 1..=16 {
            let (t, w) = super::gauss_legendre(n);
            assert!(t.iter().all(|&t| t > 0.0 && t < 1.0), "{n}: {t:?}");
            for degree in 0..2 * n {
                let q: f64 = t
                    .iter()
                    .zip(&w)
                    .map(|(t, w)| w * t.powi(degree as i32))
                    .sum();
                let exact = 1.0 / (degree + 1) as f64;
                assert!(
                    (q - exact).abs() < 1e-13,
                    "n {n}, t^{degree}: {q} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn normal_cdf_has_its_known_values() {
        assert_eq!(super::normal_cdf(0.0), 0.5);
        assert!((super::normal_cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        assert!((super::normal_cdf(-3.0) - 0.001_349_898_031_630_094_6).abs() < 1e-17);
    }
}
