//! The planted behavioural personas: one row of parameters each.
//!
//! Every persona shifts five latent factors per customer (spend, digital engagement, travel,
//! voice affinity, satisfaction, each drawn around the persona's mean with a shared spread) and
//! adds a few direct preferences (plan mix, contract mix, household size, ...). Observed features
//! are noisy functions of the latents, so personas overlap on every single feature and separate
//! only in combinations of them.

/// Number of planted personas.
pub(super) const N_PERSONAS: usize = 8;

/// Persona names, index order (the `persona` column of `personas.csv`).
pub(super) const PERSONA_NAMES: [&str; N_PERSONAS] = [
    "streaming_young_urban",
    "business_roamer",
    "budget_prepaid",
    "family_bundle",
    "senior_voice",
    "digital_native_low_spend",
    "at_risk_complainer",
    "international_caller",
];

/// Indices of the latent factors in [`Persona::latent`].
pub(super) const SPEND: usize = 0;
pub(super) const DIGITAL: usize = 1;
pub(super) const TRAVEL: usize = 2;
pub(super) const VOICE: usize = 3;
pub(super) const SATISFACTION: usize = 4;

/// Standard deviation of every latent factor around its persona mean.
pub(super) const LATENT_SD: f64 = 0.7;

/// Offer categories (the `category` column of `offers.csv`).
pub(super) const CATEGORIES: [&str; 8] = [
    "data_addon",
    "roaming_pack",
    "intl_calling",
    "streaming",
    "device",
    "family",
    "loyalty_discount",
    "plan_upgrade",
];

/// Parameters of one persona. Weight arrays are relative (they need not sum to 1).
pub(super) struct Persona {
    /// Share of customers, in [0, 1]; the shares of all personas sum to 1.
    pub share: f64,
    /// Age mean and standard deviation, years.
    pub age: (f64, f64),
    /// Weights of `urban`, `suburban`, `rural`.
    pub urban: [f64; 3],
    /// Poisson mean of household members beyond the customer.
    pub household_extra: f64,
    /// Means of the latent factors: spend, digital, travel, voice, satisfaction.
    pub latent: [f64; 5],
    /// Weights of the plans (see `PLANS` in `customers.rs`), before the spend tilt.
    pub plan: [f64; 8],
    /// Weights of month_to_month, one_year, two_year for postpaid plans.
    pub contract: [f64; 3],
    /// Weights of the payment methods.
    pub payment: [f64; 5],
    /// Median tenure, months.
    pub tenure_median: f64,
    /// Median SMS per month.
    pub sms_median: f64,
    /// Probability of any international minutes, and their median when there are some.
    pub intl: (f64, f64),
    /// Logit of the night share and of the weekend share of usage.
    pub night_logit: f64,
    pub weekend_logit: f64,
    /// Mean care contacts per 6 months at the persona's mean satisfaction.
    pub care_rate: f64,
    /// Mean late payments per 12 months (postpaid) at the persona's mean satisfaction.
    pub late_rate: f64,
    /// Median ticket resolution time, hours.
    pub resolution_median: f64,
    /// Mean brand-related social interactions per 90 days.
    pub social_rate: f64,
    /// Logits of device financing and of a streaming add-on.
    pub financing_logit: f64,
    pub streaming_logit: f64,
    /// Baseline churn logit.
    pub churn_logit: f64,
    /// Affinity (logit shift) to each offer category, in [`CATEGORIES`] order.
    pub affinity: [f64; 8],
    /// Price sensitivity: logit change per 20 currency units of offer price.
    pub price_sensitivity: f64,
}

/// The personas, in [`PERSONA_NAMES`] order.
pub(super) const PERSONAS: [Persona; N_PERSONAS] = [
    // streaming_young_urban: heavy data at night, app-first, streaming add-ons, mid/high plans.
    Persona {
        share: 0.20,
        age: (26.0, 5.0),
        urban: [0.75, 0.20, 0.05],
        household_extra: 0.4,
        latent: [0.4, 1.2, 0.0, -0.7, 0.3],
        plan: [0.02, 0.05, 0.10, 0.30, 0.30, 0.23, 0.0, 0.0],
        contract: [0.40, 0.35, 0.25],
        payment: [0.30, 0.35, 0.05, 0.05, 0.25],
        tenure_median: 20.0,
        sms_median: 10.0,
        intl: (0.15, 15.0),
        night_logit: -0.5,
        weekend_logit: -0.6,
        care_rate: 3.5,
        late_rate: 0.2,
        resolution_median: 8.0,
        social_rate: 8.0,
        financing_logit: 0.0,
        streaming_logit: 1.2,
        churn_logit: -2.0,
        affinity: [1.2, 0.0, -1.0, 2.0, 0.8, -0.8, 0.0, 0.5],
        price_sensitivity: 0.5,
    },
    // business_roamer: travels, high spend, weekday usage, business plans, device financing.
    Persona {
        share: 0.08,
        age: (44.0, 8.0),
        urban: [0.60, 0.35, 0.05],
        household_extra: 1.0,
        latent: [1.3, 0.4, 2.0, 0.9, 0.2],
        plan: [0.0, 0.0, 0.02, 0.10, 0.25, 0.20, 0.0, 0.43],
        contract: [0.10, 0.30, 0.60],
        payment: [0.45, 0.35, 0.15, 0.0, 0.05],
        tenure_median: 48.0,
        sms_median: 25.0,
        intl: (0.70, 60.0),
        night_logit: -1.8,
        weekend_logit: -1.9,
        care_rate: 4.0,
        late_rate: 0.1,
        resolution_median: 6.0,
        social_rate: 3.0,
        financing_logit: 1.0,
        streaming_logit: -0.5,
        churn_logit: -2.6,
        affinity: [0.5, 2.5, 0.5, -0.5, 1.0, -0.8, -0.5, 0.3],
        price_sensitivity: 0.15,
    },
    // budget_prepaid: prepaid, low spend and data, SMS, cash top-ups, short tenure.
    Persona {
        share: 0.22,
        age: (37.0, 15.0),
        urban: [0.35, 0.35, 0.30],
        household_extra: 0.8,
        latent: [-1.2, -0.8, -0.6, -0.3, 0.0],
        plan: [0.55, 0.30, 0.12, 0.03, 0.0, 0.0, 0.0, 0.0],
        contract: [0.80, 0.15, 0.05],
        payment: [0.10, 0.10, 0.05, 0.55, 0.20],
        tenure_median: 10.0,
        sms_median: 60.0,
        intl: (0.15, 20.0),
        night_logit: -1.3,
        weekend_logit: -0.9,
        care_rate: 3.5,
        late_rate: 0.6,
        resolution_median: 12.0,
        social_rate: 4.0,
        financing_logit: -2.5,
        streaming_logit: -2.5,
        churn_logit: -1.9,
        affinity: [1.2, -1.5, 0.3, -1.0, -1.0, -0.5, 1.8, 0.5],
        price_sensitivity: 1.2,
    },
    // family_bundle: large households on shared plans, suburban, long contracts, weekend usage.
    Persona {
        share: 0.16,
        age: (41.0, 7.0),
        urban: [0.20, 0.60, 0.20],
        household_extra: 2.3,
        latent: [0.6, 0.1, -0.2, 0.1, 0.4],
        plan: [0.0, 0.02, 0.03, 0.10, 0.10, 0.05, 0.70, 0.0],
        contract: [0.10, 0.30, 0.60],
        payment: [0.55, 0.25, 0.15, 0.03, 0.02],
        tenure_median: 55.0,
        sms_median: 30.0,
        intl: (0.20, 20.0),
        night_logit: -1.7,
        weekend_logit: -0.2,
        care_rate: 4.5,
        late_rate: 0.2,
        resolution_median: 10.0,
        social_rate: 4.0,
        financing_logit: 0.3,
        streaming_logit: 0.3,
        churn_logit: -2.8,
        affinity: [0.5, -0.5, -0.5, 0.8, 0.3, 2.4, 0.4, 0.0],
        price_sensitivity: 0.6,
    },
    // senior_voice: old, voice-centric, little data or app use, long tenure, bank transfer.
    Persona {
        share: 0.12,
        age: (71.0, 7.0),
        urban: [0.25, 0.35, 0.40],
        household_extra: 0.6,
        latent: [-0.2, -1.5, -0.6, 0.9, 0.4],
        plan: [0.15, 0.10, 0.40, 0.25, 0.05, 0.0, 0.05, 0.0],
        contract: [0.20, 0.30, 0.50],
        payment: [0.35, 0.05, 0.45, 0.14, 0.01],
        tenure_median: 75.0,
        sms_median: 15.0,
        intl: (0.15, 25.0),
        night_logit: -2.4,
        weekend_logit: -0.9,
        care_rate: 5.5,
        late_rate: 0.1,
        resolution_median: 14.0,
        social_rate: 2.0,
        financing_logit: -1.5,
        streaming_logit: -2.5,
        churn_logit: -2.8,
        affinity: [-1.0, -1.0, 0.0, -0.8, 0.2, 0.6, 0.8, 1.0],
        price_sensitivity: 0.8,
    },
    // digital_native_low_spend: young, app and self-service, little voice, small plans, e-wallets.
    Persona {
        share: 0.10,
        age: (28.0, 6.0),
        urban: [0.60, 0.30, 0.10],
        household_extra: 0.3,
        latent: [-0.7, 1.0, 0.0, -1.2, 0.5],
        plan: [0.10, 0.25, 0.45, 0.15, 0.03, 0.02, 0.0, 0.0],
        contract: [0.70, 0.20, 0.10],
        payment: [0.15, 0.35, 0.02, 0.03, 0.45],
        tenure_median: 14.0,
        sms_median: 4.0,
        intl: (0.20, 10.0),
        night_logit: -1.0,
        weekend_logit: -0.7,
        care_rate: 2.8,
        late_rate: 0.3,
        resolution_median: 6.0,
        social_rate: 10.0,
        financing_logit: -1.2,
        streaming_logit: -0.3,
        churn_logit: -1.8,
        affinity: [1.2, -0.3, -0.5, 0.6, -0.2, -0.8, 1.0, -0.2],
        price_sensitivity: 1.1,
    },
    // at_risk_complainer: many care contacts, negative sentiment, late payments, month-to-month.
    Persona {
        share: 0.06,
        age: (43.0, 13.0),
        urban: [0.40, 0.40, 0.20],
        household_extra: 1.0,
        latent: [0.0, 0.0, -0.3, 0.2, -1.6],
        plan: [0.05, 0.10, 0.25, 0.30, 0.15, 0.10, 0.05, 0.0],
        contract: [0.80, 0.15, 0.05],
        payment: [0.30, 0.25, 0.20, 0.15, 0.10],
        tenure_median: 24.0,
        sms_median: 25.0,
        intl: (0.20, 20.0),
        night_logit: -1.4,
        weekend_logit: -0.9,
        care_rate: 9.0,
        late_rate: 1.8,
        resolution_median: 30.0,
        social_rate: 6.0,
        financing_logit: -0.5,
        streaming_logit: -0.8,
        churn_logit: -0.6,
        affinity: [-0.5, -0.5, -0.5, -0.8, -1.0, -0.5, 2.2, -0.5],
        price_sensitivity: 0.8,
    },
    // international_caller: many international minutes, prepaid plus, some roaming (home visits).
    Persona {
        share: 0.06,
        age: (36.0, 10.0),
        urban: [0.75, 0.20, 0.05],
        household_extra: 1.2,
        latent: [-0.3, -0.3, 0.8, 0.6, 0.1],
        plan: [0.30, 0.40, 0.10, 0.15, 0.05, 0.0, 0.0, 0.0],
        contract: [0.50, 0.30, 0.20],
        payment: [0.15, 0.20, 0.05, 0.40, 0.20],
        tenure_median: 18.0,
        sms_median: 40.0,
        intl: (0.97, 260.0),
        night_logit: -0.9,
        weekend_logit: -0.6,
        care_rate: 4.0,
        late_rate: 0.4,
        resolution_median: 14.0,
        social_rate: 5.0,
        financing_logit: -1.0,
        streaming_logit: -1.5,
        churn_logit: -1.9,
        affinity: [0.0, 0.6, 2.6, -0.5, -0.3, 0.0, 0.3, 0.0],
        price_sensitivity: 0.7,
    },
];
