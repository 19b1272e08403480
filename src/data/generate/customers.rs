//! One customer: its true attributes (sampled from its persona) and its recorded row (the true
//! values passed through missingness and recording errors). The row's columns are listed in
//! `columns.rs`.

use rand::{Rng, RngExt};

use super::csvbuf::CsvBuf;
use super::personas::{DIGITAL, LATENT_SD, PERSONAS, Persona, SATISFACTION, SPEND, TRAVEL, VOICE};
use super::sampling::{mixed_poisson, normal, pick, poisson, sigmoid};

/// Tariff plans, cheapest first.
pub(super) const PLANS: [&str; 8] = [
    "prepaid_basic",
    "prepaid_plus",
    "postpaid_s",
    "postpaid_m",
    "postpaid_l",
    "postpaid_unlimited",
    "family_share",
    "business_pro",
];
/// List price of each plan, currency units per month.
const PLAN_PRICE: [f64; 8] = [9.0, 17.0, 25.0, 35.0, 49.0, 69.0, 59.0, 79.0];
/// How far up the price ladder each plan is; customers with a high spend factor lean to high tiers.
const PLAN_TIER: [f64; 8] = [0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 2.5, 4.0];
const CONTRACTS: [&str; 3] = ["month_to_month", "one_year", "two_year"];
const PAYMENTS: [&str; 5] = [
    "direct_debit",
    "credit_card",
    "bank_transfer",
    "cash_voucher",
    "e_wallet",
];
const GENDERS: [&str; 3] = ["female", "male", "undisclosed"];
const URBAN_TYPES: [&str; 3] = ["urban", "suburban", "rural"];
const REGIONS: [&str; 8] = [
    "capital", "north", "south", "east", "west", "central", "islands", "overseas",
];
/// Region weights given the urban type; `islands` and `overseas` are the rare levels.
const REGION_BY_URBAN: [[f64; 8]; 3] = [
    [0.400, 0.120, 0.120, 0.100, 0.100, 0.128, 0.025, 0.007],
    [0.150, 0.170, 0.170, 0.160, 0.150, 0.163, 0.030, 0.007],
    [0.020, 0.220, 0.220, 0.180, 0.170, 0.148, 0.035, 0.007],
];

/// Probabilities of the recording defects applied when a row is written.
///
/// Unit errors stay below 0.1 % per column so that the schema's `clip = [0.001, 0.999]`
/// winsorization removes them; about 0.4 % of rows carry one.
mod defect {
    /// Age left empty, postpaid and prepaid (prepaid customers register fewer details).
    pub const AGE_MISSING_POSTPAID: f64 = 0.025;
    pub const AGE_MISSING_PREPAID: f64 = 0.08;
    /// Birth year written in the age column.
    pub const AGE_IS_BIRTH_YEAR: f64 = 0.0005;
    pub const GENDER_MISSING: f64 = 0.03;
    pub const REGION_MISSING: f64 = 0.01;
    pub const HOUSEHOLD_MISSING: f64 = 0.04;
    /// Usage feed gap: all seven usage columns empty together.
    pub const USAGE_GAP: f64 = 0.015;
    /// Data volume recorded in MB instead of GB (×1024).
    pub const DATA_IN_MB: f64 = 0.0009;
    /// Voice recorded in seconds instead of minutes (×60).
    pub const VOICE_IN_SECONDS: f64 = 0.0007;
    /// Charges recorded in cents instead of currency units (×100).
    pub const MONTHLY_IN_CENTS: f64 = 0.0007;
    pub const TOTAL_IN_CENTS: f64 = 0.0005;
    pub const TOTAL_MISSING: f64 = 0.003;
    pub const PAYMENT_MISSING: f64 = 0.02;
    pub const LATE_MISSING: f64 = 0.01;
    pub const RESOLUTION_MISSING: f64 = 0.01;
    /// Resolution time recorded in minutes (×60).
    pub const RESOLUTION_IN_MINUTES: f64 = 0.0007;
    pub const COMPLAINT_MISSING: f64 = 0.015;
    /// Tracking consent declined: the three app/web columns empty; seniors decline more.
    pub const NO_CONSENT: f64 = 0.02;
    pub const NO_CONSENT_SENIOR: f64 = 0.06;
    /// No social profile linked: both social columns empty.
    pub const SOCIAL_UNLINKED: f64 = 0.02;
}

/// Index of `senior_voice` in the persona table (declines tracking consent more often).
const SENIOR: usize = 4;

/// The true attributes of one customer, before recording defects.
#[derive(Debug, Clone)]
pub(super) struct Customer {
    pub persona: usize,
    /// Latent factors: spend, digital, travel, voice, satisfaction.
    pub latent: [f64; 5],
    pub age: u32,
    pub gender: usize,
    pub region: usize,
    pub urban: usize,
    pub household: u32,
    pub voice_minutes: f64,
    pub data_gb: f64,
    pub sms: u32,
    pub intl_minutes: f64,
    pub roaming_days: u32,
    pub night_share: f64,
    pub weekend_share: f64,
    pub plan: usize,
    pub contract: usize,
    pub tenure_months: u32,
    pub monthly_charge: f64,
    pub total_charges: f64,
    pub payment: usize,
    pub late_payments: u32,
    pub care_tickets: u32,
    pub resolution_hours: f64,
    pub complaint_sentiment: f64,
    pub app_sessions: u32,
    pub web_visits: u32,
    pub self_service_share: f64,
    pub social_mentions: u32,
    pub social_sentiment: f64,
    pub device_financing: bool,
    pub multi_line: bool,
    pub streaming_addon: bool,
    pub paperless_billing: bool,
    pub churn: bool,
    /// The true probability behind `churn` (leaving within 3 months): `value_truth.csv`.
    pub churn_probability: f64,
    /// Poisson mean of `roaming_days` in a month with December's travel (the usage history).
    pub roaming_rate: f64,
}

impl Customer {
    /// Prepaid plans have no contract, no bills and so no late payments.
    pub(super) fn is_prepaid(&self) -> bool {
        self.plan <= 1
    }

    /// Samples a customer of `persona`; `spread` multiplies the spread of the latent factors.
    pub(super) fn sample<R: Rng + ?Sized>(rng: &mut R, persona: usize, spread: f64) -> Customer {
        let p: &Persona = &PERSONAS[persona];
        let mut latent = [0.0; 5];
        for (l, mean) in latent.iter_mut().zip(p.latent) {
            *l = mean + spread * LATENT_SD * normal(rng);
        }
        // Deviations from the persona mean: individual variation within a persona.
        let dev = |k: usize| latent[k] - p.latent[k];
        let (spend, digital, travel, voice, sat) = (
            latent[SPEND],
            latent[DIGITAL],
            latent[TRAVEL],
            latent[VOICE],
            latent[SATISFACTION],
        );

        // Demographics.
        let age = (p.age.0 + p.age.1 * normal(rng) - 2.0 * dev(DIGITAL))
            .round()
            .clamp(18.0, 95.0) as u32;
        let gender = if persona == 1 {
            pick(rng, &[0.38, 0.56, 0.06])
        } else {
            pick(rng, &[0.48, 0.46, 0.06])
        };
        let urban = pick(rng, &p.urban);
        let region = pick(rng, &REGION_BY_URBAN[urban]);
        let household = (1 + poisson(rng, p.household_extra)).min(9);

        // Usage, per month.
        let voice_minutes = (150f64.ln() + 0.7 * voice + 0.2 * spend + 0.3 * normal(rng)).exp();
        let data_gb = (6f64.ln() + 0.9 * digital + 0.25 * spend + 0.5 * normal(rng)).exp();
        let sms = mixed_poisson(rng, p.sms_median * (-0.3 * dev(DIGITAL)).exp(), 0.4);
        let intl_minutes = if rng.random_bool(p.intl.0) {
            (p.intl.1.ln() + 0.6 * normal(rng)).exp()
        } else {
            0.0
        };
        let roaming_rate = 0.4 * (1.3 * travel).exp();
        let roaming_days = poisson(rng, roaming_rate).min(31);
        let night_share = sigmoid(p.night_logit + 0.3 * dev(DIGITAL) + 0.4 * normal(rng));
        let weekend_share = sigmoid(p.weekend_logit + 0.35 * normal(rng));

        // Billing.
        let mut plan_weights = p.plan;
        for (w, tier) in plan_weights.iter_mut().zip(PLAN_TIER) {
            *w *= (0.5 * tier * dev(SPEND)).exp();
        }
        let plan = pick(rng, &plan_weights);
        let prepaid = plan <= 1;
        let contract = if prepaid { 0 } else { pick(rng, &p.contract) };
        let tenure_months = if rng.random_bool(0.01) {
            0 // joined this month
        } else {
            let boost = if contract == 2 { 1.3 } else { 1.0 };
            (p.tenure_median * boost * (0.7 * normal(rng)).exp())
                .round()
                .clamp(1.0, 300.0) as u32
        };
        let device_financing = rng.random_bool(sigmoid(
            p.financing_logit + 0.6 * dev(SPEND) - if prepaid { 1.2 } else { 0.0 },
        ));
        let streaming_addon = rng.random_bool(sigmoid(p.streaming_logit + 0.5 * dev(DIGITAL)));
        let mut monthly_charge =
            PLAN_PRICE[plan] * (0.12 * dev(SPEND) + 0.05 * normal(rng)).exp() + 0.04 * intl_minutes;
        if plan <= 4 {
            monthly_charge += 1.5 * f64::from(roaming_days); // roaming is billed outside big plans
        }
        if plan == 6 {
            monthly_charge += 9.0 * f64::from(household.saturating_sub(2));
        }
        if device_financing {
            monthly_charge += rng.random_range(12.0..40.0);
        }
        if streaming_addon {
            monthly_charge += 9.99;
        }
        let total_charges = monthly_charge * f64::from(tenure_months) * (0.08 * normal(rng)).exp();
        let payment = pick(rng, &p.payment);
        let late_payments = if prepaid {
            0
        } else {
            poisson(rng, p.late_rate * (-0.5 * dev(SATISFACTION)).exp())
        };

        // Care.
        let care_tickets = mixed_poisson(rng, p.care_rate * (-0.4 * dev(SATISFACTION)).exp(), 0.3);
        let resolution_hours = (p.resolution_median.ln() + 0.7 * normal(rng)).exp();
        let complaint_sentiment = (0.3 + 0.6 * sat + 0.35 * normal(rng)).tanh();

        // App and web, last 30 days.
        let app_sessions = mixed_poisson(rng, (12f64.ln() + digital).exp(), 0.3);
        let web_visits = mixed_poisson(
            rng,
            (3f64.ln() + 0.35 * digital).exp() + 0.4 * f64::from(care_tickets),
            0.5,
        );
        let self_service_share = sigmoid(-0.3 + 1.0 * digital + 0.7 * normal(rng));

        // Social, last 90 days.
        let social_mentions = mixed_poisson(
            rng,
            p.social_rate * (0.4 * dev(DIGITAL)).exp() + 0.6 * f64::from(care_tickets),
            0.4,
        );
        let social_sentiment = (0.3 + 0.6 * sat + 0.4 * normal(rng)).tanh();

        let multi_line = if persona == 3 {
            rng.random_bool(0.92)
        } else {
            rng.random_bool(0.05 + 0.12 * f64::from(household.saturating_sub(1).min(3)))
        };
        let paperless_noise = 0.3 * normal(rng);
        let paperless_billing = rng.random_bool(sigmoid(-0.2 + 1.2 * digital + paperless_noise));

        // Churn: persona baseline plus the drivers a retention team would look at.
        let mut churn_logit =
            p.churn_logit + 0.35 * f64::from(late_payments) + 0.08 * f64::from(care_tickets)
                - 0.5 * (1.0 + f64::from(tenure_months) / 12.0).ln()
                + [0.7, 0.0, -0.5][contract];
        if care_tickets > 0 {
            churn_logit -= 0.8 * complaint_sentiment;
        }
        if prepaid {
            churn_logit += 0.4;
        }
        let churn_probability = sigmoid(churn_logit);
        let churn = rng.random_bool(churn_probability);

        Customer {
            persona,
            latent,
            age,
            gender,
            region,
            urban,
            household,
            voice_minutes,
            data_gb,
            sms,
            intl_minutes,
            roaming_days,
            night_share,
            weekend_share,
            plan,
            contract,
            tenure_months,
            monthly_charge,
            total_charges,
            payment,
            late_payments,
            care_tickets,
            resolution_hours,
            complaint_sentiment,
            app_sessions,
            web_visits,
            self_service_share,
            social_mentions,
            social_sentiment,
            device_financing,
            multi_line,
            streaming_addon,
            paperless_billing,
            churn,
            churn_probability,
            roaming_rate,
        }
    }

    /// Appends the recorded row (columns of `customer_schema()`, in order) to `out`: true values
    /// with missing cells and unit errors drawn from `rng`. The id is `C` + `number` (1-based).
    pub(super) fn write_row<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        out: &mut CsvBuf,
        number: u64,
        id_width: usize,
    ) {
        let mut hit = |p: f64| rng.random::<f64>() < p;
        out.id(b'C', number, id_width);

        // Demographics.
        let age_missing = if self.is_prepaid() {
            defect::AGE_MISSING_PREPAID
        } else {
            defect::AGE_MISSING_POSTPAID
        };
        if hit(age_missing) {
            out.empty();
        } else if hit(defect::AGE_IS_BIRTH_YEAR) {
            out.uint(2024 - u64::from(self.age));
        } else {
            out.uint(u64::from(self.age));
        }
        out.opt_str((!hit(defect::GENDER_MISSING)).then_some(GENDERS[self.gender]));
        out.opt_str((!hit(defect::REGION_MISSING)).then_some(REGIONS[self.region]));
        out.str(URBAN_TYPES[self.urban]);
        out.opt_uint((!hit(defect::HOUSEHOLD_MISSING)).then_some(u64::from(self.household)));

        // Usage.
        if hit(defect::USAGE_GAP) {
            for _ in 0..7 {
                out.empty();
            }
        } else {
            let voice_scale = if hit(defect::VOICE_IN_SECONDS) {
                60.0
            } else {
                1.0
            };
            out.float(self.voice_minutes * voice_scale, 1);
            let data_scale = if hit(defect::DATA_IN_MB) { 1024.0 } else { 1.0 };
            out.float(self.data_gb * data_scale, 3);
            out.uint(u64::from(self.sms));
            out.float(self.intl_minutes, 1);
            out.uint(u64::from(self.roaming_days));
            out.float(self.night_share, 3);
            out.float(self.weekend_share, 3);
        }

        // Billing.
        out.str(PLANS[self.plan]);
        out.str(CONTRACTS[self.contract]);
        out.uint(u64::from(self.tenure_months));
        let monthly_scale = if hit(defect::MONTHLY_IN_CENTS) {
            100.0
        } else {
            1.0
        };
        out.float(self.monthly_charge * monthly_scale, 2);
        if self.tenure_months == 0 || hit(defect::TOTAL_MISSING) {
            out.empty(); // nothing billed yet for customers who joined this month
        } else {
            let total_scale = if hit(defect::TOTAL_IN_CENTS) {
                100.0
            } else {
                1.0
            };
            out.float(self.total_charges * total_scale, 2);
        }
        out.opt_str((!hit(defect::PAYMENT_MISSING)).then_some(PAYMENTS[self.payment]));
        out.opt_uint((!hit(defect::LATE_MISSING)).then_some(u64::from(self.late_payments)));

        // Care: resolution time and sentiment exist only for customers with tickets.
        out.uint(u64::from(self.care_tickets));
        if self.care_tickets == 0 || hit(defect::RESOLUTION_MISSING) {
            out.empty();
        } else {
            let scale = if hit(defect::RESOLUTION_IN_MINUTES) {
                60.0
            } else {
                1.0
            };
            out.float(self.resolution_hours * scale, 1);
        }
        if self.care_tickets == 0 || hit(defect::COMPLAINT_MISSING) {
            out.empty();
        } else {
            out.float(self.complaint_sentiment, 3);
        }

        // App and web.
        let no_consent = if self.persona == SENIOR {
            defect::NO_CONSENT_SENIOR
        } else {
            defect::NO_CONSENT
        };
        if hit(no_consent) {
            out.empty();
            out.empty();
            out.empty();
        } else {
            out.uint(u64::from(self.app_sessions));
            out.uint(u64::from(self.web_visits));
            out.float(self.self_service_share, 3);
        }

        // Social: sentiment exists only when there are mentions.
        if hit(defect::SOCIAL_UNLINKED) {
            out.empty();
            out.empty();
        } else {
            out.uint(u64::from(self.social_mentions));
            if self.social_mentions == 0 {
                out.empty();
            } else {
                out.float(self.social_sentiment, 3);
            }
        }

        out.flag(self.device_financing);
        out.flag(self.multi_line);
        out.flag(self.streaming_addon);
        out.flag(self.paperless_billing);
        out.flag(self.churn);
        out.end_row();
    }
}
