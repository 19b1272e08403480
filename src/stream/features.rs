//! Per-customer windowed aggregates of [`Event`]s, updated incrementally in event time.
//!
//! Each event-derived column of the customer table is an aggregate over a sliding window that
//! ends at the evaluation time `t` and covers `(t − span, t]`:
//!
//! | column | aggregate | span |
//! |---|---|---|
//! | `voice_minutes`, `intl_minutes` | Σ minutes of domestic / international calls | 31 days |
//! | `night_share`, `weekend_share` | share of domestic call minutes starting 22:00–06:00 / on Sat–Sun (UTC); 0 without domestic minutes | 31 days |
//! | `data_gb`, `sms_count` | Σ GB of data sessions, count of SMS | 31 days |
//! | `roaming_days` | distinct UTC days with a roaming event | 31 days |
//! | `monthly_charge` | Σ top-ups and bills | 31 days |
//! | `app_sessions_30d`, `web_visits_30d` | counts | 30 days |
//! | `social_mentions_90d`, `social_sentiment` | count, mean sentiment (empty without mentions) | 90 days |
//! | `care_tickets_6m`, `avg_resolution_hours`, `complaint_sentiment` | count, means (empty without tickets) | 184 days |
//! | `late_payments_12m` | count | 366 days |
//!
//! The spans are the calendar periods the generator's table describes at its snapshot
//! (2025-01-01): the month, the six months and the year before it. Evaluated at the snapshot
//! after every event, the columns equal the table's cells (as text) for the same events.
//!
//! **Event time and lateness.** The store keeps a watermark, the largest event time seen. An event
//! older than `watermark − lateness` is late: it is dropped and counted, never folded in, so a
//! decision already made is never silently rewritten by history. Events inside the bound may
//! arrive in any order. Windows are evaluated at the watermark (or a later time), and each
//! customer keeps only the events still inside its longest window, so memory is bounded by the
//! event rate, not by the length of the stream.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::events::{Event, EventKind};
use crate::data::fixed::{fixed_text, fixed_text_f64};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Span of the monthly usage columns, seconds.
pub const USAGE_SPAN: i64 = 31 * DAY;
/// Span of the app and web counts.
pub const DIGITAL_SPAN: i64 = 30 * DAY;
/// Span of the social columns.
pub const SOCIAL_SPAN: i64 = 90 * DAY;
/// Span of the care columns.
pub const CARE_SPAN: i64 = 184 * DAY;
/// Span of `late_payments_12m`.
pub const BILLING_SPAN: i64 = 366 * DAY;

/// The table columns these features fill, in the order of [`Features::cells`].
pub const EVENT_COLUMNS: [&str; 16] = [
    "voice_minutes",
    "data_gb",
    "sms_count",
    "intl_minutes",
    "roaming_days",
    "night_share",
    "weekend_share",
    "monthly_charge",
    "late_payments_12m",
    "care_tickets_6m",
    "avg_resolution_hours",
    "complaint_sentiment",
    "app_sessions_30d",
    "web_visits_30d",
    "social_mentions_90d",
    "social_sentiment",
];

/// Whether `ts` is at night (22:00–06:00 UTC).
pub fn is_night(ts: i64) -> bool {
    !(6..22).contains(&(ts.rem_euclid(DAY) / 3600))
}

/// Whether `ts` falls on a Saturday or Sunday (UTC).
pub fn is_weekend(ts: i64) -> bool {
    // 1970-01-01 was a Thursday: (days + 4) % 7 is 0 on Sundays, 6 on Saturdays.
    matches!((ts.div_euclid(DAY) + 4).rem_euclid(7), 0 | 6)
}

/// The aggregates of one customer at one time, in fixed-point units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    pub voice_tenths: u64,
    pub intl_tenths: u64,
    pub night_tenths: u64,
    pub weekend_tenths: u64,
    pub calls: u64,
    pub data_units: u64,
    pub sms: u64,
    pub roaming_days: u64,
    pub charge_cents: u64,
    pub late_payments: u64,
    pub tickets: u64,
    pub ticket_tenths: u64,
    pub ticket_sentiment: i64,
    pub app_sessions: u64,
    pub web_visits: u64,
    pub social: u64,
    pub social_sentiment: i64,
}

impl Features {
    /// `(column, cell text)` for every column of [`EVENT_COLUMNS`], written as the generator's
    /// table writes them (fixed decimals, trailing zeros trimmed; empty = missing).
    pub fn cells(&self) -> [(&'static str, String); 16] {
        let share = |part: u64| match self.voice_tenths {
            0 => "0".to_string(),
            total => fixed_text_f64(part as f64 / total as f64, 3),
        };
        let mean = |sum: i64, n: u64, decimals: u32| match n {
            0 => String::new(),
            n => fixed_text_f64(
                sum as f64 / n as f64 / 10f64.powi(decimals as i32),
                decimals,
            ),
        };
        let c = EVENT_COLUMNS;
        [
            (c[0], fixed_text(self.voice_tenths as i64, 1)),
            (c[1], fixed_text(self.data_units as i64, 3)),
            (c[2], self.sms.to_string()),
            (c[3], fixed_text(self.intl_tenths as i64, 1)),
            (c[4], self.roaming_days.to_string()),
            (c[5], share(self.night_tenths)),
            (c[6], share(self.weekend_tenths)),
            (c[7], fixed_text(self.charge_cents as i64, 2)),
            (c[8], self.late_payments.to_string()),
            (c[9], self.tickets.to_string()),
            (c[10], mean(self.ticket_tenths as i64, self.tickets, 1)),
            (c[11], mean(self.ticket_sentiment, self.tickets, 3)),
            (c[12], self.app_sessions.to_string()),
            (c[13], self.web_visits.to_string()),
            (c[14], self.social.to_string()),
            (c[15], mean(self.social_sentiment, self.social, 3)),
        ]
    }
}

/// An item of a window and how it moves the sums.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Item {
    Call {
        tenths: u64,
        international: bool,
        night: bool,
        weekend: bool,
    },
    Data(u64),
    Sms,
    /// The UTC day number.
    Roaming(i64),
    Charge(u64),
    LatePayment,
    Ticket(u64, i64),
    App,
    Web,
    Social(i64),
}

impl Item {
    fn span(&self) -> i64 {
        match self {
            Item::Call { .. } | Item::Data(_) | Item::Sms | Item::Roaming(_) | Item::Charge(_) => {
                USAGE_SPAN
            }
            Item::App | Item::Web => DIGITAL_SPAN,
            Item::Social(_) => SOCIAL_SPAN,
            Item::Ticket(..) => CARE_SPAN,
            Item::LatePayment => BILLING_SPAN,
        }
    }
}

/// One customer's windows: events sorted by time per span, with running sums.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CustomerWindows {
    /// One queue per span (usage, digital, social, care, billing), sorted by event time.
    queues: [VecDeque<(i64, Item)>; 5],
    /// Roaming events per UTC day inside the usage window.
    roaming: BTreeMap<i64, u32>,
    sums: Features,
    /// Every event at or before this time has left its window (per queue).
    cutoff: [i64; 5],
}

fn queue_of(span: i64) -> usize {
    match span {
        USAGE_SPAN => 0,
        DIGITAL_SPAN => 1,
        SOCIAL_SPAN => 2,
        CARE_SPAN => 3,
        _ => 4,
    }
}

impl Default for CustomerWindows {
    fn default() -> Self {
        CustomerWindows {
            queues: Default::default(),
            roaming: BTreeMap::new(),
            sums: Features::default(),
            cutoff: [i64::MIN; 5],
        }
    }
}

impl CustomerWindows {
    fn apply(&mut self, item: Item, sign: i64) {
        let s = &mut self.sums;
        let add = |v: &mut u64, x: u64| {
            *v = if sign > 0 { *v + x } else { *v - x };
        };
        match item {
            Item::Call {
                tenths,
                international,
                night,
                weekend,
            } => {
                add(&mut s.calls, 1);
                if international {
                    add(&mut s.intl_tenths, tenths);
                } else {
                    add(&mut s.voice_tenths, tenths);
                    if night {
                        add(&mut s.night_tenths, tenths);
                    }
                    if weekend {
                        add(&mut s.weekend_tenths, tenths);
                    }
                }
            }
            Item::Data(units) => add(&mut s.data_units, units),
            Item::Sms => add(&mut s.sms, 1),
            Item::Roaming(day) => {
                let count = self.roaming.entry(day).or_insert(0);
                if sign > 0 {
                    *count += 1;
                } else {
                    *count -= 1;
                    if *count == 0 {
                        self.roaming.remove(&day);
                    }
                }
                s.roaming_days = self.roaming.len() as u64;
            }
            Item::Charge(cents) => add(&mut s.charge_cents, cents),
            Item::LatePayment => add(&mut s.late_payments, 1),
            Item::Ticket(tenths, sentiment) => {
                add(&mut s.tickets, 1);
                add(&mut s.ticket_tenths, tenths);
                s.ticket_sentiment += sign * sentiment;
            }
            Item::App => add(&mut s.app_sessions, 1),
            Item::Web => add(&mut s.web_visits, 1),
            Item::Social(sentiment) => {
                add(&mut s.social, 1);
                s.social_sentiment += sign * sentiment;
            }
        }
    }

    /// Folds in an event at `ts` (false: it had already left its window).
    fn insert(&mut self, ts: i64, item: Item) -> bool {
        let q = queue_of(item.span());
        if ts <= self.cutoff[q] {
            return false;
        }
        let queue = &mut self.queues[q];
        // Usually the newest: append; otherwise insert in time order (a late event).
        let at = queue.partition_point(|&(t, _)| t <= ts);
        queue.insert(at, (ts, item));
        self.apply(item, 1);
        true
    }

    /// Drops every event that has left its window at time `now`.
    fn expire(&mut self, now: i64) {
        for q in 0..5 {
            let span = [
                USAGE_SPAN,
                DIGITAL_SPAN,
                SOCIAL_SPAN,
                CARE_SPAN,
                BILLING_SPAN,
            ][q];
            let cutoff = now.saturating_sub(span);
            if cutoff <= self.cutoff[q] {
                continue;
            }
            self.cutoff[q] = cutoff;
            while let Some(&(ts, item)) = self.queues[q].front() {
                if ts > cutoff {
                    break;
                }
                self.queues[q].pop_front();
                self.apply(item, -1);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }
}

/// What [`FeatureStore::push`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Folded into the customer's windows.
    Applied,
    /// Older than `watermark − lateness`: dropped.
    Late,
    /// Already outside every window it belongs to at the watermark: nothing to fold.
    Expired,
}

/// The windows of every customer seen, with the watermark and the lateness bound.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureStore {
    customers: HashMap<String, CustomerWindows>,
    watermark: i64,
    lateness: i64,
    late: u64,
}

impl FeatureStore {
    /// An empty store that accepts events up to `lateness` seconds behind the newest one.
    pub fn new(lateness: i64) -> FeatureStore {
        FeatureStore {
            customers: HashMap::new(),
            watermark: i64::MIN,
            lateness: lateness.max(0),
            late: 0,
        }
    }

    /// The largest event time seen (`i64::MIN` before the first event).
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Events dropped as late so far.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Customers with at least one event inside a window.
    pub fn customers(&self) -> usize {
        self.customers.len()
    }

    /// Folds `e` into its customer's windows (unless it is late).
    pub fn push(&mut self, e: &Event) -> Pushed {
        if self.watermark != i64::MIN && e.ts < self.watermark.saturating_sub(self.lateness) {
            self.late += 1;
            return Pushed::Late;
        }
        self.watermark = self.watermark.max(e.ts);
        let item = match e.kind {
            EventKind::Call {
                tenths,
                international,
            } => Item::Call {
                tenths,
                international,
                night: is_night(e.ts),
                weekend: is_weekend(e.ts),
            },
            EventKind::Data { units } => Item::Data(units),
            EventKind::Sms => Item::Sms,
            EventKind::Roaming => Item::Roaming(e.ts.div_euclid(DAY)),
            EventKind::TopUp { cents } | EventKind::Bill { cents } => Item::Charge(cents),
            EventKind::LatePayment => Item::LatePayment,
            EventKind::Ticket { tenths, sentiment } => Item::Ticket(tenths, sentiment),
            EventKind::AppSession => Item::App,
            EventKind::WebVisit => Item::Web,
            EventKind::Social { sentiment } => Item::Social(sentiment),
        };
        let windows = match self.customers.get_mut(&e.customer_id) {
            Some(w) => w,
            None => self.customers.entry(e.customer_id.clone()).or_default(),
        };
        match windows.insert(e.ts, item) {
            true => Pushed::Applied,
            false => Pushed::Expired,
        }
    }

    /// The features of `customer_id` at time `at` (at least the watermark, so that no event
    /// still to come inside the lateness bound is ahead of it); a customer without events has
    /// all-zero features.
    pub fn features(&mut self, customer_id: &str, at: i64) -> Features {
        match self.customers.get_mut(customer_id) {
            Some(w) => {
                w.expire(at);
                w.sums
            }
            None => Features::default(),
        }
    }

    /// Expires every customer's windows at `at` and forgets customers left without events.
    pub fn expire_all(&mut self, at: i64) {
        self.customers.retain(|_, w| {
            w.expire(at);
            !w.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64, kind: EventKind) -> Event {
        Event {
            ts,
            customer_id: "C1".into(),
            kind,
        }
    }

    #[test]
    fn windows_slide_lateness_drops_and_text_matches_the_table() {
        let t0 = 1_735_689_600; // 2025-01-01T00:00:00Z, a Wednesday
        let mut s = FeatureStore::new(3600);
        let call = |tenths| EventKind::Call {
            tenths,
            international: false,
        };
        // A Saturday night call, a weekday daytime call, out of order within the bound.
        assert_eq!(s.push(&ev(t0 - 4 * DAY + 3600, call(30))), Pushed::Applied);
        assert_eq!(
            s.push(&ev(t0 - 2 * DAY + 12 * 3600, call(70))),
            Pushed::Applied
        );
        assert_eq!(
            s.push(&ev(t0 - 2 * DAY + 12 * 3600 - 600, EventKind::Roaming)),
            Pushed::Applied
        );
        assert_eq!(
            s.push(&ev(t0 - 2 * DAY + 11 * 3600, EventKind::Roaming)),
            Pushed::Applied
        );
        // Two hours behind the watermark with a one-hour bound: late.
        assert_eq!(
            s.push(&ev(t0 - 2 * DAY + 9 * 3600, EventKind::Sms)),
            Pushed::Late
        );
        assert_eq!(s.late(), 1);
        let f = s.features("C1", t0);
        assert_eq!(
            (f.voice_tenths, f.night_tenths, f.weekend_tenths),
            (100, 30, 30)
        );
        assert_eq!((f.roaming_days, f.sms, f.calls), (1, 0, 2));
        let cells = f.cells();
        assert_eq!(cells[0], ("voice_minutes", "10".to_string()));
        assert_eq!(cells[5], ("night_share", "0.3".to_string()));
        assert_eq!(cells[10], ("avg_resolution_hours", String::new()));
        // 31 days after the first call it leaves the usage window; the store forgets C1 later.
        let f = s.features("C1", t0 - 4 * DAY + 3600 + USAGE_SPAN);
        assert_eq!((f.voice_tenths, f.calls), (70, 1));
        s.expire_all(t0 + USAGE_SPAN);
        assert_eq!(s.customers(), 0);
    }
}
