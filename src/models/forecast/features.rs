//! The trees' inputs and target for one customer, series and target month.
//!
//! Values go through a signed `log1p` (usage is skewed and customers differ by orders of
//! magnitude), and everything is relative to the customer's recent *level*, the mean of the
//! three months before the target (of the last twelve when those are unknown): the trees learn
//! how a month moves away from the level, which is shared across customers, instead of the level
//! itself, which is not. The target is `log1p(y) − level`, so the forecast `expm1(level + ŷ)` is
//! a median-like forecast, the right one for the mean absolute error.

/// Lags (months before the target) given as inputs, relative to the level.
pub const LAGS: [usize; 7] = [1, 2, 3, 6, 11, 12, 13];

/// Signed `log1p`.
pub fn squash(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

/// The inverse of [`squash`].
pub fn unsquash(y: f64) -> f64 {
    y.signum() * y.abs().exp_m1()
}

/// The input names for series `s` of `series`, in the order [`inputs`] writes them.
pub fn names(series: &[String], s: usize) -> Vec<String> {
    let mut out = vec!["level".to_string(), "month_of_year".to_string()];
    out.extend(LAGS.iter().map(|k| format!("lag_{k}")));
    out.extend(
        [
            "mean_12",
            "std_12",
            "slope_12",
            "year_on_year",
            "months_known",
        ]
        .iter()
        .map(|n| n.to_string()),
    );
    for (o, name) in series.iter().enumerate() {
        if o != s {
            out.push(format!("{name}.lag_1"));
            out.push(format!("{name}.lag_12"));
        }
    }
    out
}

/// The customer's squashed values of one series before the target: `back(k)` is `k` months
/// before it (NaN when unknown).
fn level_of(back: &dyn Fn(usize) -> f64) -> f64 {
    let mean = |ks: std::ops::RangeInclusive<usize>| {
        let (sum, n) = ks
            .map(back)
            .filter(|v| v.is_finite())
            .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
        if n == 0 { f64::NAN } else { sum / n as f64 }
    };
    let recent = mean(1..=3);
    if recent.is_finite() {
        recent
    } else {
        mean(1..=12)
    }
}

/// Appends the inputs of series `s` for a target `calendar` month (1..=12) whose earlier months
/// are `back(o, k)` (series `o`, `k` months before, squashed, NaN when unknown) to `out`, and
/// returns the level (NaN when the customer has no known month in the last year: no row).
pub fn inputs(
    back: &dyn Fn(usize, usize) -> f64,
    series: usize,
    s: usize,
    calendar: u32,
    out: &mut Vec<f64>,
) -> f64 {
    let own = |k: usize| back(s, k);
    let level = level_of(&own);
    if !level.is_finite() {
        return f64::NAN;
    }
    out.push(level);
    out.push(f64::from(calendar));
    out.extend(LAGS.iter().map(|&k| own(k) - level));
    let year: Vec<(f64, f64)> = (1..=12)
        .map(|k| (-(k as f64), own(k)))
        .filter(|(_, v)| v.is_finite())
        .collect();
    let n = year.len() as f64;
    let mean = year.iter().map(|p| p.1).sum::<f64>() / n;
    let var = year.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / n;
    let slope = if year.len() >= 3 {
        let mx = year.iter().map(|p| p.0).sum::<f64>() / n;
        let sxy: f64 = year.iter().map(|p| (p.0 - mx) * (p.1 - mean)).sum();
        let sxx: f64 = year.iter().map(|p| (p.0 - mx).powi(2)).sum();
        sxy / sxx
    } else {
        f64::NAN
    };
    out.push(mean - level);
    out.push(var.sqrt());
    out.push(slope);
    out.push(own(1) - own(13));
    out.push((1..=24).filter(|&k| own(k).is_finite()).count() as f64);
    for o in (0..series).filter(|&o| o != s) {
        let other = |k: usize| back(o, k);
        let other_level = level_of(&other);
        out.push(other(1) - other_level);
        out.push(other(12) - other_level);
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_round_trips() {
        for x in [0.0, 1.0, 123.4, -5.0, 1e-9] {
            assert!(
                (unsquash(squash(x)) - x).abs() < 1e-9 * (1.0 + x.abs()),
                "{x}"
            );
        }
    }

    #[test]
    fn inputs_follow_the_names() {
        let series = vec!["voice".to_string(), "data".to_string()];
        // Voice rises by 0.1 (squashed) a month; data is constant; month 5 of voice is unknown.
        let back = |o: usize, k: usize| match (o, k) {
            (0, 5) => f64::NAN,
            (0, k) if k <= 24 => 5.0 - 0.1 * k as f64,
            (1, k) if k <= 24 => 2.0,
            _ => f64::NAN,
        };
        let mut out = Vec::new();
        let level = inputs(&back, 2, 0, 7, &mut out);
        let names = names(&series, 0);
        assert_eq!(out.len(), names.len());
        let get = |n: &str| out[names.iter().position(|x| x == n).unwrap()];
        assert!((level - 4.8).abs() < 1e-12, "mean of 4.9, 4.8, 4.7");
        assert_eq!(get("month_of_year"), 7.0);
        assert!((get("lag_1") - 0.1).abs() < 1e-12);
        assert!((get("lag_12") + 1.0).abs() < 1e-12);
        assert!((get("slope_12") - 0.1).abs() < 1e-12, "rising 0.1 a month");
        assert!((get("year_on_year") - 1.2).abs() < 1e-12);
        assert_eq!(get("months_known"), 23.0);
        assert_eq!(get("data.lag_1"), 0.0);
        // No known month in the last year: no row.
        let none = |_: usize, _: usize| f64::NAN;
        assert!(inputs(&none, 2, 0, 1, &mut Vec::new()).is_nan());
    }
}
