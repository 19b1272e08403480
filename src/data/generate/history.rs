//! Each customer's monthly usage history (`usage_history.csv`: 36 months, January 2022 to
//! December 2024: three seasonal cycles, so that a model has a full year of lags behind every
//! calendar month it learns from) and the month after it (`usage_next_month.csv`: January 2025, the held-out
//! truth a forecast is judged on), and the true lifetime value (`value_truth.csv`).
//!
//! Three series per customer — domestic voice minutes, data GB and roaming days — move with a
//! per-customer trend (data grows, voice declines), a calendar seasonality (summer travel,
//! December's holidays), one-off level shifts (a new phone, a change of life) and monthly noise.
//! December 2024 is the month the table describes: its value in the history is exactly the
//! table's true value (before recording defects), so the history ends where `customers.csv`
//! stands and the forecast's target is the month after the snapshot.
//!
//! The history draws from its own random stream: the other files are the same with or without
//! it.

use rand::{Rng, RngExt};

use super::csvbuf::CsvBuf;
use super::customers::Customer;
use super::sampling::{normal, poisson};
use crate::models::propensity::value;

/// Months of history, January 2022 ..= December 2024.
pub(super) const HISTORY_MONTHS: usize = 36;
/// The first month of the history.
const FIRST_YEAR: u32 = 2022;
/// Index of the snapshot month (December 2024) in the history.
const SNAPSHOT_MONTH: usize = HISTORY_MONTHS - 1;

/// Seasonal log-multipliers by calendar month (January first).
const VOICE_SEASON: [f64; 12] = [
    0.02, -0.03, 0.0, 0.0, -0.02, -0.04, -0.09, -0.12, -0.02, 0.01, 0.03, 0.10,
];
const DATA_SEASON: [f64; 12] = [
    0.04, -0.03, -0.02, -0.03, -0.02, 0.02, 0.08, 0.10, -0.01, -0.02, 0.01, 0.09,
];
/// Multipliers of the roaming rate by calendar month; December is 1 (the table's month).
const ROAMING_SEASON: [f64; 12] = [0.7, 0.5, 0.7, 0.9, 1.0, 1.4, 2.2, 2.5, 1.2, 0.8, 0.6, 1.0];
/// Days in each calendar month (2024 is a leap year; the cap only matters for heavy roamers).
const DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Monthly noise of the log usage.
const VOICE_NOISE: f64 = 0.12;
const DATA_NOISE: f64 = 0.15;
/// Per-customer monthly trend of the log usage: mean and spread.
const VOICE_TREND: (f64, f64) = (-0.008, 0.01);
const DATA_TREND: (f64, f64) = (0.015, 0.012);
/// A level shift: probability over the 37 months and its log size (mean, spread).
const VOICE_SHIFT: (f64, f64, f64) = (0.10, 0.0, 0.35);
const DATA_SHIFT: (f64, f64, f64) = (0.15, 0.35, 0.15);

/// The generated data's margin on revenue and the value's horizon and discount (the defaults of
/// `propensity.lifetime_value`, so the default estimate targets this truth).
const MARGIN_RATE: f64 = 0.6;
const HORIZON_MONTHS: u32 = 24;
const CHURN_WINDOW_MONTHS: f64 = 3.0;
const ANNUAL_DISCOUNT: f64 = 0.10;

/// One month of the three series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct UsageMonth {
    pub voice_minutes: f64,
    pub data_gb: f64,
    pub roaming_days: u32,
}

/// The calendar month (0 = January) of history month `t` (`t = HISTORY_MONTHS` is the month
/// after the history).
fn calendar(t: usize) -> usize {
    t % 12
}

/// `YYYY-MM` of history month `t`.
fn month_label(t: usize) -> String {
    format!("{}-{:02}", FIRST_YEAR + (t / 12) as u32, t % 12 + 1)
}

/// One log series over the history and the next month: trend, season, a possible level shift and
/// noise, anchored so that the snapshot month is exactly `snapshot`.
fn log_series<R: Rng + ?Sized>(
    rng: &mut R,
    snapshot: f64,
    trend: (f64, f64),
    season: &[f64; 12],
    shift: (f64, f64, f64),
    noise: f64,
) -> [f64; HISTORY_MONTHS + 1] {
    let slope = trend.0 + trend.1 * normal(rng);
    let shift_at = rng
        .random_bool(shift.0)
        .then(|| rng.random_range(1..=HISTORY_MONTHS));
    let shift_size = shift.1 + shift.2 * normal(rng);
    let mut x = [0.0; HISTORY_MONTHS + 1];
    for (t, v) in x.iter_mut().enumerate() {
        let shifted = shift_at.is_some_and(|k| t >= k);
        *v = slope * t as f64
            + season[calendar(t)]
            + if shifted { shift_size } else { 0.0 }
            + noise * normal(rng);
    }
    let anchor = snapshot.max(1e-6).ln() - x[SNAPSHOT_MONTH];
    x.map(|v| v + anchor)
}

/// The history (`HISTORY_MONTHS` months) and the month after it, for `c`.
pub(super) fn draw<R: Rng + ?Sized>(rng: &mut R, c: &Customer) -> [UsageMonth; HISTORY_MONTHS + 1] {
    let voice = log_series(
        rng,
        c.voice_minutes,
        VOICE_TREND,
        &VOICE_SEASON,
        VOICE_SHIFT,
        VOICE_NOISE,
    );
    let data = log_series(
        rng,
        c.data_gb,
        DATA_TREND,
        &DATA_SEASON,
        DATA_SHIFT,
        DATA_NOISE,
    );
    // Roaming: a customer's travel habit drifts a little from year to year.
    let drift = 0.15 * normal(rng);
    std::array::from_fn(|t| {
        let roaming_days = if t == SNAPSHOT_MONTH {
            c.roaming_days
        } else {
            let years_back = (SNAPSHOT_MONTH as f64 - t as f64) / 12.0;
            let rate = c.roaming_rate * ROAMING_SEASON[calendar(t)] * (-drift * years_back).exp();
            poisson(rng, rate).min(DAYS[calendar(t)])
        };
        match t {
            // The table's month, exactly (not through exp(ln(x))).
            SNAPSHOT_MONTH => UsageMonth {
                voice_minutes: c.voice_minutes,
                data_gb: c.data_gb,
                roaming_days,
            },
            _ => UsageMonth {
                voice_minutes: voice[t].exp(),
                data_gb: data[t].exp(),
                roaming_days,
            },
        }
    })
}

/// `customer_id,month,voice_minutes,data_gb,roaming_days` and a newline (both usage files).
pub(super) fn header() -> &'static str {
    "customer_id,month,voice_minutes,data_gb,roaming_days\n"
}

/// Appends one row per month `months` of `history` to `out`.
pub(super) fn write_months(
    out: &mut CsvBuf,
    (number, id_width): (u64, usize),
    history: &[UsageMonth; HISTORY_MONTHS + 1],
    months: std::ops::Range<usize>,
) {
    for t in months {
        let m = history[t];
        out.id(b'C', number, id_width);
        out.str(&month_label(t));
        out.float(m.voice_minutes, 1);
        out.float(m.data_gb, 3);
        out.uint(u64::from(m.roaming_days));
        out.end_row();
    }
}

/// `customer_id,churn_probability,monthly_hazard,monthly_margin,lifetime_value` and a newline.
pub(super) fn value_header() -> &'static str {
    "customer_id,churn_probability,monthly_hazard,monthly_margin,lifetime_value\n"
}

/// The customer's true value: [`value::lifetime_value`] of the true churn probability and the
/// true margin (`MARGIN_RATE` of the true monthly charge), over `HORIZON_MONTHS`.
pub(super) fn write_value(out: &mut CsvBuf, (number, id_width): (u64, usize), c: &Customer) {
    let hazard = value::monthly_hazard(c.churn_probability, CHURN_WINDOW_MONTHS);
    let margin = MARGIN_RATE * c.monthly_charge;
    let ltv = value::lifetime_value(
        margin,
        hazard,
        HORIZON_MONTHS,
        value::monthly_discount(ANNUAL_DISCOUNT),
    );
    out.id(b'C', number, id_width);
    out.float(c.churn_probability, 6);
    out.float(hazard, 6);
    out.float(margin, 2);
    out.float(ltv, 2);
    out.end_row();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_run_from_january_2022_to_january_2025() {
        assert_eq!(month_label(0), "2022-01");
        assert_eq!(month_label(SNAPSHOT_MONTH), "2024-12");
        assert_eq!(month_label(HISTORY_MONTHS), "2025-01");
    }

    #[test]
    fn the_defaults_of_the_estimate_are_the_generators() {
        let d = value::LifetimeValueConfig::default();
        assert_eq!(d.margin_rate, MARGIN_RATE);
        assert_eq!(d.horizon_months, HORIZON_MONTHS);
        assert_eq!(d.churn_window_months, CHURN_WINDOW_MONTHS);
        assert_eq!(d.annual_discount, ANNUAL_DISCOUNT);
        assert_eq!(d.revenue_column, "monthly_charge");
    }
}
