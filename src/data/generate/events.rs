//! The usage and care events behind `customers.csv` (`events.jsonl`, `teleseg generate
//! --events`): calls, data sessions, SMS, roaming, top-ups and bills, tickets, late payments, app
//! sessions, web visits and social mentions, each with its event time, so that every
//! event-derived column of the table is exactly the aggregate of its events over the window
//! before the snapshot ([`crate::stream::features`] computes the same aggregates incrementally).
//!
//! Values are decomposed in the fixed-point units the table writes (tenths of a minute,
//! thousandths of a GB, cents, tenths of an hour, thousandths of a sentiment point), so sums and
//! means are exact in integers. The two usage shares are the exception that runs the other way:
//! `night_share` and `weekend_share` are *measured* on the drawn domestic calls (the customer's
//! propensity decides which calls fall at night or on a weekend, greedily, so the measured share
//! is within half a call of it) and the table writes the measured value. The calls are drawn for
//! every customer from their own stream, so the table is the same with or without `--events`.

use rand::{Rng, RngExt};

use super::customers::Customer;
use super::offers::WINDOW_END;
use super::sampling::normal;
use crate::data::fixed::units as fixed;
use crate::stream::events::EventKind as Kind;
use crate::stream::features::{
    BILLING_SPAN, CARE_SPAN, DAY, DIGITAL_SPAN, SOCIAL_SPAN, USAGE_SPAN, is_weekend,
};

/// The snapshot the table describes: 2025-01-01T00:00:00Z. Every event is before it.
pub const SNAPSHOT: i64 = WINDOW_END;
/// The windows of the table's columns, in days before the snapshot (the spans of
/// [`crate::stream::features`]): the calendar month, 30 days, 90 days, six months and the year.
const USAGE_DAYS: i64 = USAGE_SPAN / DAY;
const DIGITAL_DAYS: i64 = DIGITAL_SPAN / DAY;
const SOCIAL_DAYS: i64 = SOCIAL_SPAN / DAY;
const CARE_DAYS: i64 = CARE_SPAN / DAY;
const BILLING_DAYS: i64 = BILLING_SPAN / DAY;

/// Mean domestic or international call, tenths of a minute.
const MEAN_CALL_TENTHS: f64 = 35.0;
/// Mean data session, thousandths of a GB.
const MEAN_SESSION_UNITS: f64 = 250.0;
/// Most calls or data sessions per customer and month.
const MAX_SESSIONS: u64 = 400;

/// One event of one customer (the customer is implied by the caller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Event {
    /// Unix seconds.
    pub ts: i64,
    pub kind: Kind,
}

/// The domestic and international calls of a customer, with the measured shares.
pub(super) struct Calls {
    pub calls: Vec<Event>,
    /// Share of domestic call minutes at night / on weekends (0 without domestic minutes).
    pub night_share: f64,
    pub weekend_share: f64,
}

/// Draws the month's calls of `c` (domestic calls sum to `voice_minutes`, international ones to
/// `intl_minutes`, both as the table writes them) and measures the shares on them.
pub(super) fn draw_calls<R: Rng + ?Sized>(rng: &mut R, c: &Customer) -> Calls {
    let mut calls = Vec::new();
    let domestic = fixed(c.voice_minutes, 1).max(0) as u64;
    let (mut night, mut weekend) = (0u64, 0u64);
    for tenths in split_sessions(rng, domestic, MEAN_CALL_TENTHS) {
        // Greedy: the call goes to the night (weekend) when that keeps the measured share
        // closest to the customer's propensity.
        let at_night = (night as f64 + tenths as f64 / 2.0) <= c.night_share * domestic as f64;
        let on_weekend =
            (weekend as f64 + tenths as f64 / 2.0) <= c.weekend_share * domestic as f64;
        night += if at_night { tenths } else { 0 };
        weekend += if on_weekend { tenths } else { 0 };
        let ts = call_time(rng, at_night, on_weekend);
        calls.push(Event {
            ts,
            kind: Kind::Call {
                tenths,
                international: false,
            },
        });
    }
    let international = fixed(c.intl_minutes, 1).max(0) as u64;
    for tenths in split_sessions(rng, international, MEAN_CALL_TENTHS) {
        calls.push(Event {
            ts: uniform_time(rng, USAGE_DAYS),
            kind: Kind::Call {
                tenths,
                international: true,
            },
        });
    }
    let share = |part: u64| match domestic {
        0 => 0.0,
        total => part as f64 / total as f64,
    };
    Calls {
        calls,
        night_share: share(night),
        weekend_share: share(weekend),
    }
}

/// Every other event of `c` (data, SMS, roaming, charges, care, digital, social), appended to
/// `out`.
pub(super) fn draw_other<R: Rng + ?Sized>(rng: &mut R, c: &Customer, out: &mut Vec<Event>) {
    let usage = |rng: &mut R| uniform_time(rng, USAGE_DAYS);
    let data = fixed(c.data_gb, 3).max(0) as u64;
    for units in split_sessions(rng, data, MEAN_SESSION_UNITS) {
        out.push(Event {
            ts: usage(rng),
            kind: Kind::Data { units },
        });
    }
    for _ in 0..c.sms {
        out.push(Event {
            ts: usage(rng),
            kind: Kind::Sms,
        });
    }
    // Roaming: distinct days of the month, one to three roaming events on each.
    let mut days: Vec<i64> = (0..USAGE_DAYS).collect();
    for i in 0..(c.roaming_days as usize).min(days.len()) {
        let j = rng.random_range(i..days.len());
        days.swap(i, j);
        let start = SNAPSHOT - (days[i] + 1) * DAY;
        for _ in 0..rng.random_range(1..=3) {
            out.push(Event {
                ts: start + rng.random_range(0..DAY),
                kind: Kind::Roaming,
            });
        }
    }
    // Charges: the month's bill (postpaid) or one to four top-ups (prepaid).
    let cents = fixed(c.monthly_charge, 2).max(0) as u64;
    if c.is_prepaid() {
        let k = rng.random_range(1..=4u64).min(cents.max(1));
        for cents in split(rng, cents, k as usize) {
            out.push(Event {
                ts: usage(rng),
                kind: Kind::TopUp { cents },
            });
        }
    } else {
        out.push(Event {
            ts: usage(rng),
            kind: Kind::Bill { cents },
        });
    }
    for _ in 0..c.late_payments {
        out.push(Event {
            ts: uniform_time(rng, BILLING_DAYS),
            kind: Kind::LatePayment,
        });
    }
    // Tickets: resolution hours and sentiments whose means are the table's values.
    let n = c.care_tickets as usize;
    if n > 0 {
        let hours = split(
            rng,
            fixed(c.resolution_hours, 1).max(0) as u64 * n as u64,
            n,
        );
        let sentiments = spread_mean(rng, fixed(c.complaint_sentiment, 3), n);
        for (tenths, sentiment) in hours.into_iter().zip(sentiments) {
            out.push(Event {
                ts: uniform_time(rng, CARE_DAYS),
                kind: Kind::Ticket { tenths, sentiment },
            });
        }
    }
    for _ in 0..c.app_sessions {
        out.push(Event {
            ts: uniform_time(rng, DIGITAL_DAYS),
            kind: Kind::AppSession,
        });
    }
    for _ in 0..c.web_visits {
        out.push(Event {
            ts: uniform_time(rng, DIGITAL_DAYS),
            kind: Kind::WebVisit,
        });
    }
    let n = c.social_mentions as usize;
    for sentiment in spread_mean(rng, fixed(c.social_sentiment, 3), n) {
        out.push(Event {
            ts: uniform_time(rng, SOCIAL_DAYS),
            kind: Kind::Social { sentiment },
        });
    }
}

/// A uniform time in the `days` days before the snapshot.
fn uniform_time<R: Rng + ?Sized>(rng: &mut R, days: i64) -> i64 {
    SNAPSHOT - days * DAY + rng.random_range(0..days * DAY)
}

/// A call start in the usage window: at night or by day, on a weekend day or a weekday.
fn call_time<R: Rng + ?Sized>(rng: &mut R, night: bool, weekend: bool) -> i64 {
    let first_day = SNAPSHOT / DAY - USAGE_DAYS;
    loop {
        let day = first_day + rng.random_range(0..USAGE_DAYS);
        if is_weekend(day * DAY) != weekend {
            continue;
        }
        let hour = if night {
            (22 + rng.random_range(0..8)) % 24
        } else {
            rng.random_range(6..22)
        };
        return day * DAY + hour * 3600 + rng.random_range(0..3600);
    }
}

/// `total` units as sessions of about `mean` units each (at most [`MAX_SESSIONS`]), every
/// session at least one unit; none for a zero total.
fn split_sessions<R: Rng + ?Sized>(rng: &mut R, total: u64, mean: f64) -> Vec<u64> {
    if total == 0 {
        return Vec::new();
    }
    let n = ((total as f64 / mean).round() as u64).clamp(1, MAX_SESSIONS.min(total));
    let mut parts = split(rng, total - n, n as usize);
    parts.iter_mut().for_each(|p| *p += 1);
    parts
}

/// `total` as `n` non-negative random parts that sum to it exactly (log-normal weights,
/// largest remainders); empty for `n = 0`.
fn split<R: Rng + ?Sized>(rng: &mut R, total: u64, n: usize) -> Vec<u64> {
    if n == 0 {
        return Vec::new();
    }
    let weights: Vec<f64> = (0..n).map(|_| (0.6 * normal(rng)).exp()).collect();
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut parts: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut rest = total - parts.iter().sum::<u64>().min(total);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order.iter().cycle() {
        if rest == 0 {
            break;
        }
        parts[i] += 1;
        rest -= 1;
    }
    parts
}

/// `n` sentiments in thousandths (each in -1000..=1000) whose sum is exactly `mean * n`:
/// pairs move apart symmetrically around the mean.
fn spread_mean<R: Rng + ?Sized>(rng: &mut R, mean: i64, n: usize) -> Vec<i64> {
    let mean = mean.clamp(-1000, 1000);
    let mut v = vec![mean; n];
    let room = (1000 - mean.abs()).min(400);
    for pair in v.chunks_mut(2) {
        if let [a, b] = pair {
            let d = rng.random_range(0..=room);
            *a += d;
            *b -= d;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::features::is_night;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn split_is_exact_and_calendar_helpers_know_the_week() {
        let mut rng = StdRng::seed_from_u64(3);
        for (total, n) in [(0, 3), (1, 5), (17, 4), (123_456, 37)] {
            let parts = split(&mut rng, total, n);
            assert_eq!(parts.len(), n);
            assert_eq!(parts.iter().sum::<u64>(), total);
        }
        let s = split_sessions(&mut rng, 7, 35.0);
        assert_eq!((s.len(), s.iter().sum::<u64>()), (1, 7));
        let v = spread_mean(&mut rng, 900, 5);
        assert_eq!(v.iter().sum::<i64>(), 4500);
        assert!(v.iter().all(|x| (-1000..=1000).contains(x)));
        // 2025-01-01 was a Wednesday; 2024-12-28 a Saturday, 2024-12-29 a Sunday.
        assert!(!is_weekend(SNAPSHOT));
        assert!(is_weekend(SNAPSHOT - 4 * DAY) && is_weekend(SNAPSHOT - 3 * DAY));
        assert!(!is_weekend(SNAPSHOT - 2 * DAY));
        assert!(is_night(SNAPSHOT) && is_night(SNAPSHOT - 3600) && !is_night(SNAPSHOT + 6 * 3600));
    }
}
