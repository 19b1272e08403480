//! The schema of `customers.csv`: roles, units, preprocessing hints and derived features.
//!
//! The order of the columns here is the order in which `Customer::write_row` writes them; the
//! tests check every written value against its column's declared bounds.

use crate::data::schema::{Column, Derived, MissingPolicy, Role, Scale, Schema};

/// The schema of `customers.csv`: columns in file order, then derived features.
pub(super) fn customer_schema() -> Schema {
    let id = Column {
        name: "customer_id".into(),
        role: Role::Id,
        unit: None,
        log1p: false,
        clip: None,
        scale: Scale::Auto,
        integer: false,
        min: None,
        max: None,
        min_frequency: None,
        missing: MissingPolicy::Error,
    };
    let base = |name: &str, role: Role, unit: Option<&str>| Column {
        name: name.into(),
        role,
        unit: unit.map(Into::into),
        missing: MissingPolicy::Impute,
        ..id.clone()
    };
    let numeric = |name: &str, unit: &str| base(name, Role::Numeric, Some(unit));
    let categorical = |name: &str| base(name, Role::Categorical, None);
    let binary = |name: &str, unit: &str| base(name, Role::Binary, Some(unit));
    // Skewed, outlier-prone amounts: log1p, winsorized, never negative.
    let amount = |name: &str, unit: &str| Column {
        log1p: true,
        clip: Some([0.001, 0.999]),
        min: Some(0.0),
        ..numeric(name, unit)
    };
    // Counts: whole, never negative; skewed ones get log1p.
    let count = |name: &str, unit: &str, log1p: bool| Column {
        integer: true,
        min: Some(0.0),
        log1p,
        ..numeric(name, unit)
    };
    let share = |name: &str, unit: &str| Column {
        min: Some(0.0),
        max: Some(1.0),
        ..numeric(name, unit)
    };
    let sentiment = |name: &str, unit: &str| Column {
        min: Some(-1.0),
        max: Some(1.0),
        ..numeric(name, unit)
    };

    let columns = vec![
        id.clone(),
        // Demographics.
        Column {
            clip: Some([0.001, 0.999]),
            ..count("age", "years", false)
        },
        categorical("gender"),
        Column {
            min_frequency: Some(0.005),
            ..categorical("region")
        },
        categorical("urban_type"),
        count("household_size", "people in the household", false),
        // Usage.
        amount("voice_minutes", "domestic call minutes per month"),
        amount("data_gb", "GB per month"),
        Column {
            clip: Some([0.001, 0.999]),
            ..count("sms_count", "SMS per month", true)
        },
        amount("intl_minutes", "international minutes per month"),
        Column {
            max: Some(31.0),
            ..count("roaming_days", "days with roaming usage per month", true)
        },
        share(
            "night_share",
            "share of the month's domestic call minutes starting 22:00-06:00 UTC",
        ),
        share(
            "weekend_share",
            "share of the month's domestic call minutes on Saturdays and Sundays (UTC)",
        ),
        // Billing.
        categorical("plan"),
        categorical("contract"),
        count("tenure_months", "months since joining", false),
        Column {
            log1p: false,
            ..amount("monthly_charge", "currency units per month")
        },
        amount("total_charges", "currency units since joining"),
        categorical("payment_method"),
        count(
            "late_payments_12m",
            "late payments in the last 12 months",
            true,
        ),
        // Care.
        count(
            "care_tickets_6m",
            "care contacts (calls, chats, shop visits) in the last 6 months",
            true,
        ),
        amount(
            "avg_resolution_hours",
            "hours to resolve a ticket, mean over the last 6 months",
        ),
        sentiment(
            "complaint_sentiment",
            "text sentiment of care contacts, -1 (negative) to 1",
        ),
        // App and web.
        Column {
            clip: Some([0.001, 0.999]),
            ..count("app_sessions_30d", "app sessions in the last 30 days", true)
        },
        Column {
            clip: Some([0.001, 0.999]),
            ..count("web_visits_30d", "web visits in the last 30 days", true)
        },
        share(
            "self_service_share",
            "share of service requests completed in app or web",
        ),
        // Social.
        Column {
            clip: Some([0.001, 0.999]),
            ..count(
                "social_mentions_90d",
                "brand-related social interactions in the last 90 days",
                true,
            )
        },
        sentiment(
            "social_sentiment",
            "sentiment of social interactions, -1 (negative) to 1",
        ),
        // Products.
        binary("has_device_financing", "1 = pays a device in instalments"),
        binary("is_multi_line", "1 = more than one line on the account"),
        binary(
            "has_streaming_addon",
            "1 = subscribed to a streaming add-on",
        ),
        binary("paperless_billing", "1 = e-bill only"),
        // Label.
        base(
            "churn",
            Role::Target,
            Some("1 = left within 3 months after the snapshot"),
        ),
    ];

    let ratio = |name: &str, numerator: &str, denominator: &str, unit: &str| Derived {
        name: name.into(),
        numerator: numerator.into(),
        denominator: denominator.into(),
        floor: 1.0,
        scale: 1.0,
        log1p: false,
        clip: Some([0.001, 0.999]),
        scaling: Scale::Auto,
        unit: Some(unit.into()),
    };
    let derived = vec![
        ratio(
            "avg_monthly_spend",
            "total_charges",
            "tenure_months",
            "currency units per month of tenure",
        ),
        Derived {
            log1p: true,
            ..ratio(
                "data_per_charge",
                "data_gb",
                "monthly_charge",
                "GB per currency unit",
            )
        },
        ratio(
            "charge_per_person",
            "monthly_charge",
            "household_size",
            "currency units per month per household member",
        ),
        ratio(
            "intl_voice_share",
            "intl_minutes",
            "voice_minutes",
            "international minutes per voice minute",
        ),
        Derived {
            scale: 2.0,
            ..ratio(
                "tickets_per_year_per_line",
                "care_tickets_6m",
                "household_size",
                "care contacts per year per household member",
            )
        },
    ];

    Schema {
        name: "telecom-customers".into(),
        columns,
        derived,
        allow_extra_columns: false,
    }
}
