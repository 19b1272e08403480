//! The offer catalogue and the impression / acceptance log of each customer.
//!
//! Impressions come from a legacy campaign system: part of them targeted by simple rules on
//! observed features (roamers see roaming packs, large households see family offers, ...), the
//! rest uniform. A customer accepts with a probability driven by its persona's affinity to the
//! offer category, by its own features (roaming days, international minutes, data volume, churn
//! risk, ...), by the offer price (budget personas are price-sensitive) and by the channel.

use rand::{Rng, RngExt};

use super::csvbuf::CsvBuf;
use super::customers::Customer;
use super::personas::{CATEGORIES, DIGITAL, PERSONAS, SPEND};
use super::sampling::{normal, pick, poisson, sigmoid};

/// Channels an offer is pushed through.
const CHANNELS: [&str; 5] = ["app", "sms", "email", "store", "call_center"];
const CHANNEL_WEIGHTS: [f64; 5] = [0.30, 0.20, 0.20, 0.15, 0.15];

/// Offer names per category (in [`CATEGORIES`] order) and the monthly price range of each.
const CATALOGUE: [([&str; 5], (f64, f64)); 8] = [
    (
        [
            "Data boost 5 GB",
            "Data boost 10 GB",
            "Data boost 25 GB",
            "Weekend unlimited data",
            "Night data pass",
        ],
        (4.0, 15.0),
    ),
    (
        [
            "EU roaming day pass",
            "World roaming week",
            "Roaming 5 GB pack",
            "Business travel pass",
            "Cruise and flight pack",
        ],
        (6.0, 25.0),
    ),
    (
        [
            "Intl 100 minutes",
            "Intl 500 minutes",
            "Home country unlimited",
            "Intl SMS bundle",
            "Intl video calls pack",
        ],
        (4.0, 20.0),
    ),
    (
        [
            "Video streaming bundle",
            "Music streaming bundle",
            "Sports pass",
            "Kids TV pack",
            "Gaming pass",
        ],
        (5.0, 16.0),
    ),
    (
        [
            "Smartphone upgrade",
            "Tablet on instalments",
            "Smartwatch add-on",
            "Refurbished phone deal",
            "Home router 5G",
        ],
        (12.0, 45.0),
    ),
    (
        [
            "Extra family line",
            "Family data share 20 GB",
            "Kids safe SIM",
            "Family unlimited upgrade",
            "Second SIM for tablet",
        ],
        (8.0, 25.0),
    ),
    (
        [
            "10 percent loyalty discount",
            "Free month on renewal",
            "Double data for 6 months",
            "Birthday bonus",
            "Price freeze 24 months",
        ],
        (0.0, 3.0),
    ),
    (
        [
            "Upgrade to postpaid M",
            "Upgrade to postpaid L",
            "Unlimited plan trial",
            "Senior easy plan",
            "Prepaid to postpaid switch",
        ],
        (5.0, 20.0),
    ),
];

/// Start of the interaction window: 2024-01-01T00:00:00Z, seconds since the Unix epoch.
pub(super) const WINDOW_START: i64 = 1_704_067_200;
/// End of the window (exclusive): 2025-01-01T00:00:00Z (2024 is a leap year).
pub(super) const WINDOW_END: i64 = WINDOW_START + 366 * 86_400;
const DAY: f64 = 86_400.0;

/// Share of impressions chosen by the targeting rules (the rest are uniform over offers).
const TARGETED_SHARE: f64 = 0.5;
/// Impressions per customer: `MIN_IMPRESSIONS` + Poisson(`EXTRA_IMPRESSIONS`), mean 9.
const MIN_IMPRESSIONS: u32 = 3;
const EXTRA_IMPRESSIONS: f64 = 6.0;
/// Acceptance logit before persona, feature, price and channel terms.
const ACCEPT_INTERCEPT: f64 = -0.9;

/// One offer of the catalogue.
#[derive(Debug, Clone)]
pub(super) struct Offer {
    pub name: String,
    pub category: usize,
    /// Currency units per month.
    pub price: f64,
    pub channel: usize,
}

/// All offers, with the offer indices of each category (for targeting).
#[derive(Debug, Clone)]
pub(super) struct Catalogue {
    pub offers: Vec<Offer>,
    by_category: Vec<Vec<usize>>,
}

impl Catalogue {
    /// Builds `n` offers cycling through the categories; prices and channels come from `rng`.
    pub(super) fn sample<R: Rng + ?Sized>(rng: &mut R, n: usize) -> Catalogue {
        let mut offers = Vec::with_capacity(n);
        let mut by_category = vec![Vec::new(); CATEGORIES.len()];
        for i in 0..n {
            let category = i % CATEGORIES.len();
            let variant = i / CATEGORIES.len();
            let (names, (low, high)) = &CATALOGUE[category];
            let name = names[variant % names.len()];
            let name = match variant / names.len() {
                0 => name.to_string(),
                edition => format!("{name} v{}", edition + 1),
            };
            // Prices end in .99 like a real price list; free offers stay free.
            let raw = low + (high - low) * rng.random::<f64>();
            let price = if raw < 1.0 { 0.0 } else { raw.floor() + 0.99 };
            let channel = pick(rng, &CHANNEL_WEIGHTS);
            by_category[category].push(i);
            offers.push(Offer {
                name,
                category,
                price,
                channel,
            });
        }
        Catalogue {
            offers,
            by_category,
        }
    }

    /// The width of offer ids (`O001`): at least 3 digits.
    pub(super) fn id_width(&self) -> usize {
        digits(self.offers.len()).max(3)
    }

    /// Writes `offers.csv` rows (with header) into `out`.
    pub(super) fn write(&self, out: &mut CsvBuf) {
        for h in ["offer_id", "name", "category", "price", "channel"] {
            out.str(h);
        }
        out.end_row();
        let width = self.id_width();
        for (i, o) in self.offers.iter().enumerate() {
            out.id(b'O', i as u64 + 1, width);
            out.str(&o.name);
            out.str(CATEGORIES[o.category]);
            out.float(o.price, 2);
            out.str(CHANNELS[o.channel]);
            out.end_row();
        }
    }
}

/// Number of decimal digits of `n` (1 for 0).
pub(super) fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// One logged event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Event {
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// False for an impression, true for an accept (sorts after its impression at equal times).
    pub accept: bool,
    pub offer: u32,
}

/// Reusable per-customer scratch space.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    events: Vec<Event>,
    accepted: Vec<bool>,
    times: Vec<i64>,
    rule_categories: Vec<usize>,
}

/// Counts of what one customer's log holds.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LogCounts {
    pub impressions: usize,
    pub accepts: usize,
    pub contacts: usize,
    pub contact_accepts: usize,
}

/// Probability that customer `c` accepts `offer` (before the per-impression noise).
pub(super) fn accept_logit(c: &Customer, offer: &Offer) -> f64 {
    let p = &PERSONAS[c.persona];
    let digital = c.latent[DIGITAL];
    let spend_dev = c.latent[SPEND] - p.latent[SPEND];
    let household = f64::from(c.household);
    let feature = match offer.category {
        0 => 0.5 * (c.data_gb / 6.0).ln(),
        1 => 0.6 * f64::from(c.roaming_days).ln_1p() - 0.3,
        2 => 0.6 * (c.intl_minutes / 60.0).ln_1p() - 0.2,
        3 => 2.0 * (c.night_share - 0.2) + if c.streaming_addon { 0.4 } else { 0.0 },
        4 => {
            0.4 * spend_dev
                + if !c.device_financing && c.tenure_months >= 18 {
                    0.5
                } else {
                    0.0
                }
        }
        5 => 0.5 * (household - 2.0).max(0.0) - if household < 2.0 { 0.5 } else { 0.0 },
        6 => {
            0.12 * (f64::from(c.care_tickets) - 4.0)
                + 0.3 * f64::from(c.late_payments)
                + if c.contract == 0 { 0.3 } else { 0.0 }
        }
        _ => 0.4 * spend_dev + if c.is_prepaid() { 0.4 * digital } else { 0.0 },
    };
    let channel = match offer.channel {
        0 => 0.4 * digital,
        2 => 0.1,
        3 | 4 => -0.3 * digital,
        _ => 0.0,
    };
    ACCEPT_INTERCEPT + p.affinity[offer.category] + feature + channel
        - p.price_sensitivity * offer.price / 20.0
}

/// Offer categories the legacy campaign rules target at `c`, from its observed features.
fn rule_categories(c: &Customer, out: &mut Vec<usize>) {
    out.clear();
    let rules = [
        (c.data_gb >= 15.0 || c.is_prepaid(), 0),
        (c.roaming_days >= 3, 1),
        (c.intl_minutes >= 60.0, 2),
        (c.streaming_addon || c.night_share >= 0.3, 3),
        (!c.device_financing && c.tenure_months >= 24, 4),
        (c.household >= 3, 5),
        (c.tenure_months >= 36 || c.care_tickets >= 6, 6),
        (c.is_prepaid(), 7),
    ];
    out.extend(rules.iter().filter(|(hit, _)| *hit).map(|(_, cat)| *cat));
}

/// Samples the event log of `c`, appends its rows to `out`, returns what it wrote.
pub(super) fn write_log<R: Rng + ?Sized>(
    rng: &mut R,
    c: &Customer,
    catalogue: &Catalogue,
    customer_id: (u64, usize),
    scratch: &mut Scratch,
    out: &mut CsvBuf,
) -> LogCounts {
    let n_offers = catalogue.offers.len();
    scratch.events.clear();
    scratch.accepted.clear();
    scratch.accepted.resize(n_offers, false);
    rule_categories(c, &mut scratch.rule_categories);

    // Customers who joined during the window only see offers after joining.
    let joined_days_ago = (f64::from(c.tenure_months) * 30.44).max(15.0);
    let start = (WINDOW_END as f64 - joined_days_ago * DAY).max(WINDOW_START as f64);
    let span = WINDOW_END as f64 - 3_600.0 - start;

    let mut counts = LogCounts::default();
    let impressions = MIN_IMPRESSIONS + poisson(rng, EXTRA_IMPRESSIONS);
    scratch.times.clear();
    scratch
        .times
        .extend((0..impressions).map(|_| (start + span * rng.random::<f64>()) as i64));
    scratch.times.sort_unstable();
    for i in 0..scratch.times.len() {
        let time = scratch.times[i];
        // Already accepted offers are not shown again; give up after a few draws.
        let mut chosen = None;
        for _ in 0..4 {
            let rules = &scratch.rule_categories;
            let offer = if !rules.is_empty() && rng.random::<f64>() < TARGETED_SHARE {
                let category = rules[rng.random_range(0..rules.len())];
                let pool = &catalogue.by_category[category];
                if pool.is_empty() {
                    rng.random_range(0..n_offers)
                } else {
                    pool[rng.random_range(0..pool.len())]
                }
            } else {
                rng.random_range(0..n_offers)
            };
            if !scratch.accepted[offer] {
                chosen = Some(offer);
                break;
            }
        }
        let Some(offer) = chosen else { continue };
        scratch.events.push(Event {
            time,
            accept: false,
            offer: offer as u32,
        });
        counts.impressions += 1;
        let logit = accept_logit(c, &catalogue.offers[offer]) + 0.4 * normal(rng);
        if rng.random::<f64>() < sigmoid(logit) {
            scratch.accepted[offer] = true;
            // Accepted within hours (median ~3 h), always before the window ends.
            let delay = 60.0 - 4.0 * 3_600.0 * (1.0 - rng.random::<f64>()).ln();
            let accept_time = (time as f64 + delay).min(WINDOW_END as f64 - 1.0) as i64;
            scratch.events.push(Event {
                time: accept_time,
                accept: true,
                offer: offer as u32,
            });
            counts.accepts += 1;
        }
    }
    scratch.events.sort_unstable();

    let offer_width = catalogue.id_width();
    for e in &scratch.events {
        out.id(b'C', customer_id.0, customer_id.1);
        out.id(b'O', u64::from(e.offer) + 1, offer_width);
        out.timestamp(e.time);
        out.str(if e.accept { "accept" } else { "impression" });
        out.end_row();
    }
    counts
}
