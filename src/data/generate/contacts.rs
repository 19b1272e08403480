//! Offer contacts: when and through which channel each offer was pushed, by a legacy rule-based
//! policy with known propensities, and whether the customer accepted. The response model is
//! known, so the generator also writes every contact's true acceptance probability under every
//! (channel, time) arm (`contacts_truth.csv`, evaluation only): the exact value of any policy on
//! these contacts is the mean over contacts of `Σ_arm π(arm | contact) · p_true(arm)`.
//!
//! An arm is a channel × day part × day type (4 × 3 × 2 = 24 arms, named like
//! `app_push@weekday_evening`). The acceptance logit is the offer-level logit of
//! [`super::offers::accept_logit`] plus a contact intercept, a channel term and a time term that
//! depend on the customer, so the best arm differs between customers:
//! - app push and e-mail work for digital customers, the call centre for the others and for
//!   older ones;
//! - evenings work for customers with a high share of night-time usage, mornings for older
//!   ones, weekends for customers with a high weekend share and large households;
//! - a call in the evening annoys.

use rand::{Rng, RngExt};

use super::csvbuf::CsvBuf;
use super::customers::Customer;
use super::offers::{Catalogue, WINDOW_END, WINDOW_START, accept_logit};
use super::personas::DIGITAL;
use super::sampling::{poisson, sigmoid};
use crate::stream::events::Response;

/// Contact channels.
pub const CHANNELS: [&str; 4] = ["sms", "email", "app_push", "call_centre"];
/// Day parts and the hours each spans (start, end exclusive).
pub const DAY_PARTS: [(&str, u32, u32); 3] = [
    ("morning", 8, 12),
    ("afternoon", 12, 17),
    ("evening", 17, 21),
];
/// Day types.
pub const DAY_TYPES: [&str; 2] = ["weekday", "weekend"];
/// Number of arms.
pub const ARMS: usize = CHANNELS.len() * DAY_PARTS.len() * DAY_TYPES.len();

/// Contacts per customer: 1 + Poisson(`EXTRA_CONTACTS`).
const EXTRA_CONTACTS: f64 = 0.5;
/// Contacts convert less often than the self-served impressions of the offer log.
const CONTACT_INTERCEPT: f64 = -1.2;
/// Share of contacts the legacy rule decides; the rest are uniform over the arms.
const RULE_SHARE: f64 = 0.6;

/// `(channel, day part, day type)` of arm `a`.
pub fn arm_parts(a: usize) -> (usize, usize, usize) {
    let per_channel = DAY_PARTS.len() * DAY_TYPES.len();
    (
        a / per_channel,
        (a % per_channel) / DAY_TYPES.len(),
        a % DAY_TYPES.len(),
    )
}

/// The arm of `(channel, day part, day type)`.
pub fn arm_index(channel: usize, part: usize, day_type: usize) -> usize {
    (channel * DAY_PARTS.len() + part) * DAY_TYPES.len() + day_type
}

/// `channel@daytype_daypart`, e.g. `app_push@weekday_evening`.
pub fn arm_name(a: usize) -> String {
    let (c, p, d) = arm_parts(a);
    format!("{}@{}_{}", CHANNELS[c], DAY_TYPES[d], DAY_PARTS[p].0)
}

/// The true acceptance logit of contacting `c` about `offer_logit`'s offer through arm `a`.
pub(super) fn contact_logit(c: &Customer, offer_logit: f64, a: usize) -> f64 {
    let (channel, part, day_type) = arm_parts(a);
    let digital = c.latent[DIGITAL];
    let age = f64::from(c.age) - 45.0;
    let channel_term = match channel {
        0 => 0.0,
        1 => -0.2 + 0.5 * digital,
        2 => -0.6 + 1.2 * digital,
        _ => -0.4 - 0.8 * digital + 0.02 * age,
    };
    let part_term = match part {
        0 => 0.02 * age,
        1 => 0.0,
        _ => 4.0 * (c.night_share - 0.2) + if channel == 3 { -0.5 } else { 0.2 },
    };
    let day_term = if day_type == 1 {
        3.0 * (c.weekend_share - 0.3) + 0.2 * (f64::from(c.household) - 2.0) - 0.1
    } else {
        0.0
    };
    offer_logit + CONTACT_INTERCEPT + channel_term + part_term + day_term
}

/// The legacy campaign rule: app-heavy customers get an e-mail on a weekday afternoon, the
/// others an SMS on a weekday morning. Returns the arm it picks from observed features.
fn rule_arm(c: &Customer) -> usize {
    if c.app_sessions >= 20 {
        arm_index(1, 1, 0)
    } else {
        arm_index(0, 0, 0)
    }
}

/// The logging policy's probability of each arm for `c`.
fn logging_probs(c: &Customer) -> [f64; ARMS] {
    let mut p = [(1.0 - RULE_SHARE) / ARMS as f64; ARMS];
    p[rule_arm(c)] += RULE_SHARE;
    p
}

/// Reusable per-customer scratch space.
#[derive(Debug, Default)]
pub(super) struct ContactScratch {
    times: Vec<(i64, usize, usize)>,
}

/// How long a contact waits for an answer: a contact not accepted within it is a refusal, and
/// its `offer_response` event (accepted: false) is dated at the window's end.
pub const RESPONSE_WINDOW_SECS: i64 = 72 * 3600;

/// Samples the contacts of `c`, appends rows to `out` (contacts.csv) and `truth`
/// (contacts_truth.csv), and, with `responses`, each contact's outcome as an offer response
/// dated when it became known (those after the snapshot are unknown then, and left out);
/// returns (contacts, accepts).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_contacts<R: Rng + ?Sized>(
    rng: &mut R,
    c: &Customer,
    catalogue: &Catalogue,
    customer_id: (u64, usize),
    scratch: &mut ContactScratch,
    out: &mut CsvBuf,
    truth: &mut CsvBuf,
    mut responses: Option<&mut Vec<(i64, Response)>>,
) -> (usize, usize) {
    let probs = logging_probs(c);
    let n = 1 + poisson(rng, EXTRA_CONTACTS) as usize;
    scratch.times.clear();
    for _ in 0..n {
        let arm = pick_arm(rng, &probs);
        let offer = rng.random_range(0..catalogue.offers.len());
        let (_, part, day_type) = arm_parts(arm);
        let time = contact_time(rng, part, day_type);
        scratch.times.push((time, arm, offer));
    }
    scratch.times.sort_unstable();
    let offer_width = catalogue.id_width();
    let mut accepts = 0;
    for (k, &(time, arm, offer)) in scratch.times.iter().enumerate() {
        let offer_logit = accept_logit(c, &catalogue.offers[offer]);
        let p_true: Vec<f64> = (0..ARMS)
            .map(|a| sigmoid(contact_logit(c, offer_logit, a)))
            .collect();
        let accepted = rng.random::<f64>() < p_true[arm];
        let (channel, _, _) = arm_parts(arm);
        let contact = format!("{}-{}", customer_id.0, k + 1);
        out.str(&contact);
        out.id(b'C', customer_id.0, customer_id.1);
        out.id(b'O', offer as u64 + 1, offer_width);
        out.timestamp(time);
        out.str(CHANNELS[channel]);
        out.str(&arm_name(arm));
        out.float(probs[arm], 6);
        out.uint(u64::from(accepted));
        let known = if accepted {
            accepts += 1;
            // Answered within hours (median ~5 h).
            let hours = -7.0 * (1.0 - rng.random::<f64>()).ln();
            out.float(hours, 2);
            // The hours as the file writes them (two decimals), in whole seconds.
            time + (hours * 100.0).round() as i64 * 36
        } else {
            out.empty();
            time + RESPONSE_WINDOW_SECS
        };
        out.end_row();
        if let Some(list) = responses.as_deref_mut()
            && known < super::events::SNAPSHOT
        {
            list.push((
                known,
                Response {
                    ts: known,
                    customer_id: id_text(b'C', customer_id.0, customer_id.1),
                    contact_id: Some(contact.clone()),
                    offer_id: id_text(b'O', offer as u64 + 1, offer_width),
                    arm: arm_name(arm),
                    accepted,
                },
            ));
        }
        truth.str(&contact);
        for p in &p_true {
            truth.float(*p, 6);
        }
        truth.end_row();
    }
    (scratch.times.len(), accepts)
}

/// `prefix` and `v` zero-padded to `width` digits, as [`CsvBuf::id`] writes it.
fn id_text(prefix: u8, v: u64, width: usize) -> String {
    let mut out = vec![prefix];
    crate::data::fixed::push_u64_padded(&mut out, v, width);
    String::from_utf8(out).expect("ASCII digits")
}

/// contacts.csv's header.
pub(super) fn contacts_header() -> String {
    "contact_id,customer_id,offer_id,timestamp,channel,arm,propensity,accepted,response_hours\n"
        .to_string()
}

/// contacts_truth.csv's header: the contact and one column per arm.
pub(super) fn truth_header() -> String {
    let mut h = String::from("contact_id");
    for a in 0..ARMS {
        h.push(',');
        h.push_str(&arm_name(a));
    }
    h.push('\n');
    h
}

fn pick_arm<R: Rng + ?Sized>(rng: &mut R, probs: &[f64; ARMS]) -> usize {
    let mut u = rng.random::<f64>();
    for (a, p) in probs.iter().enumerate() {
        if u < *p {
            return a;
        }
        u -= p;
    }
    ARMS - 1
}

/// A time in the window on a day of `day_type` (Saturday and Sunday are the weekend), at an
/// hour of `part`.
fn contact_time<R: Rng + ?Sized>(rng: &mut R, part: usize, day_type: usize) -> i64 {
    let days = (WINDOW_END - WINDOW_START) / 86_400;
    loop {
        let day = WINDOW_START / 86_400 + rng.random_range(0..days);
        // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays, 5 and 6 at the weekend.
        let weekend = (day + 3) % 7 >= 5;
        if weekend == (day_type == 1) {
            let (_, start, end) = DAY_PARTS[part];
            let hour = i64::from(rng.random_range(start..end));
            return day * 86_400 + hour * 3_600 + rng.random_range(0..3_600);
        }
    }
}
