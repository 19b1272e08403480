//! Customer lifetime value: the expected, discounted margin over a horizon, from the churn
//! model's probability (turned into a monthly hazard) and the customer's monthly margin.
//!
//! A customer still on the books at the start of month `t` (`t = 1..=H`) pays that month's
//! margin `m`; each month they leave with probability `h`, and month `t`'s money is discounted
//! by `(1 + r)^t` (`r` the monthly rate of the annual discount). So
//!
//! ```text
//! LTV = Σ_{t=1..H} m · (1 − h)^(t−1) / (1 + r)^t = m / (1 + r) · (1 − q^H) / (1 − q),  q = (1 − h) / (1 + r)
//! ```
//!
//! The churn label covers a window of `W` months (the generated data's `churn` is "left within 3
//! months after the snapshot"), so the model's probability `p` is of leaving within `W` months
//! and the constant monthly hazard that gives it is `h = 1 − (1 − p)^(1/W)`.
//!
//! The generator computes each customer's true value with the same function from the true
//! churn probability and margin (`value_truth.csv`), which is what makes the estimate checkable.

use serde::{Deserialize, Serialize};

use crate::data::stats::quantile;
use crate::data::table::RawTable;

/// The monthly hazard whose survival over `window_months` months is `1 − p_window`.
pub fn monthly_hazard(p_window: f64, window_months: f64) -> f64 {
    let p = p_window.clamp(0.0, 1.0);
    1.0 - (1.0 - p).powf(1.0 / window_months)
}

/// The monthly rate of an annual discount rate.
pub fn monthly_discount(annual: f64) -> f64 {
    (1.0 + annual).powf(1.0 / 12.0) - 1.0
}

/// `Σ_{t=1..horizon} margin · (1 − hazard)^(t−1) / (1 + discount)^t` (see the module docs).
pub fn lifetime_value(margin: f64, hazard: f64, horizon_months: u32, discount: f64) -> f64 {
    let q = (1.0 - hazard) / (1.0 + discount);
    let sum = if (1.0 - q).abs() < 1e-12 {
        f64::from(horizon_months)
    } else {
        (1.0 - q.powi(horizon_months as i32)) / (1.0 - q)
    };
    margin / (1.0 + discount) * sum
}

/// The `[propensity.lifetime_value]` section: how a churn model's probability becomes a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifetimeValueConfig {
    /// The numeric column with the customer's monthly revenue. Default `monthly_charge`.
    pub revenue_column: String,
    /// Share of the revenue that is margin (after network, care and acquisition costs).
    /// Default 0.6, the generated data's; set your own.
    pub margin_rate: f64,
    /// Months the value is summed over. Default 24.
    pub horizon_months: u32,
    /// Months the churn label covers (`churn` = left within this many months). Default 3, the
    /// generated data's definition.
    pub churn_window_months: f64,
    /// Annual discount rate of future margin. Default 0.10.
    pub annual_discount: f64,
}

impl Default for LifetimeValueConfig {
    fn default() -> Self {
        Self {
            revenue_column: "monthly_charge".to_string(),
            margin_rate: 0.6,
            horizon_months: 24,
            churn_window_months: 3.0,
            annual_discount: 0.10,
        }
    }
}

impl LifetimeValueConfig {
    /// The first broken rule, if any.
    pub fn rule_broken(&self) -> Option<&'static str> {
        if self.revenue_column.trim().is_empty() {
            Some("propensity.lifetime_value.revenue_column must name a numeric column")
        } else if !(self.margin_rate > 0.0 && self.margin_rate <= 1.0) {
            Some("propensity.lifetime_value.margin_rate must be in (0, 1]")
        } else if !(1..=600).contains(&self.horizon_months) {
            Some("propensity.lifetime_value.horizon_months must be in 1..=600")
        } else if !(self.churn_window_months >= 1.0 && self.churn_window_months <= 120.0) {
            Some("propensity.lifetime_value.churn_window_months must be in [1, 120]")
        } else if !(0.0..1.0).contains(&self.annual_discount) {
            Some("propensity.lifetime_value.annual_discount must be in [0, 1)")
        } else {
            None
        }
    }
}

/// A fitted value model (stored in the checkpoint's `teleseg.model` as `lifetime_value`): the
/// settings and what the training rows said about the revenue column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifetimeValue {
    pub config: LifetimeValueConfig,
    /// The training rows' 0.1 % and 99.9 % revenue quantiles: revenue is clipped to them, so a
    /// unit error (cents for currency units) cannot make a customer worth 100 times more.
    pub revenue_clip: [f64; 2],
    /// The training rows' median revenue, used where a customer's revenue is missing.
    pub revenue_median: f64,
}

impl LifetimeValue {
    /// Fits the revenue clip and median on rows `rows` of `table`.
    pub fn fit(
        config: &LifetimeValueConfig,
        table: &RawTable,
        rows: &[usize],
    ) -> anyhow::Result<LifetimeValue> {
        let column = table.numeric(&config.revenue_column).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: propensity.lifetime_value.revenue_column `{}` is not a numeric column of the \
                 table",
                table.source,
                config.revenue_column
            )
        })?;
        let mut values: Vec<f64> = rows
            .iter()
            .map(|&r| column.values[r])
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            anyhow::bail!(
                "{}: column `{}` (propensity.lifetime_value.revenue_column) has no value in the \
                 training rows",
                table.source,
                config.revenue_column
            );
        }
        values.sort_by(f64::total_cmp);
        Ok(LifetimeValue {
            config: config.clone(),
            revenue_clip: [quantile(&values, 0.001), quantile(&values, 0.999)],
            revenue_median: quantile(&values, 0.5),
        })
    }

    /// The value of every row of `table` given its churn probabilities `p_churn`.
    pub fn values(&self, table: &RawTable, p_churn: &[f64]) -> anyhow::Result<Vec<f64>> {
        let column = table.numeric(&self.config.revenue_column).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: has no numeric column `{}` (the lifetime value's revenue)",
                table.source,
                self.config.revenue_column
            )
        })?;
        Ok(column
            .values
            .iter()
            .zip(p_churn)
            .map(|(&revenue, &p)| self.value(revenue, p))
            .collect())
    }

    /// The value of one customer with monthly revenue `revenue` (NaN: missing) and churn
    /// probability `p_churn` over the label's window.
    pub fn value(&self, revenue: f64, p_churn: f64) -> f64 {
        let c = &self.config;
        let revenue = if revenue.is_finite() {
            revenue.clamp(self.revenue_clip[0], self.revenue_clip[1])
        } else {
            self.revenue_median
        };
        lifetime_value(
            c.margin_rate * revenue,
            monthly_hazard(p_churn, c.churn_window_months),
            c.horizon_months,
            monthly_discount(c.annual_discount),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closed_form_is_the_sum() {
        for (m, h, n, r) in [
            (30.0f64, 0.02f64, 24u32, 0.008f64),
            (12.5, 0.0, 12, 0.0),
            (50.0, 0.5, 36, 0.01),
            (10.0, 1.0, 24, 0.0),
        ] {
            let direct: f64 = (1..=n)
                .map(|t| m * (1.0 - h).powi(t as i32 - 1) / (1.0 + r).powi(t as i32))
                .sum();
            let closed = lifetime_value(m, h, n, r);
            assert!(
                (closed - direct).abs() < 1e-9,
                "{m} {h} {n} {r}: {closed} vs {direct}"
            );
        }
        // Nobody leaves, no discount: the margin times the horizon.
        assert_eq!(lifetime_value(10.0, 0.0, 24, 0.0), 240.0);
        // Certain to leave in the first month: one month of margin.
        assert_eq!(lifetime_value(10.0, 1.0, 24, 0.0), 10.0);
    }

    #[test]
    fn the_hazard_reproduces_the_window_probability() {
        for p in [0.0, 0.05, 0.3, 0.9] {
            let h = monthly_hazard(p, 3.0);
            assert!((1.0 - (1.0 - h).powi(3) - p).abs() < 1e-12, "{p}");
        }
        assert!((monthly_discount(0.1) - 0.007_974).abs() < 1e-6);
    }

    #[test]
    fn revenue_is_clipped_and_imputed() {
        let v = LifetimeValue {
            config: LifetimeValueConfig::default(),
            revenue_clip: [10.0, 100.0],
            revenue_median: 40.0,
        };
        assert_eq!(v.value(1e6, 0.1), v.value(100.0, 0.1));
        assert_eq!(v.value(f64::NAN, 0.1), v.value(40.0, 0.1));
        assert!(v.value(50.0, 0.05) > v.value(50.0, 0.5));
        assert!(v.value(80.0, 0.2) > v.value(50.0, 0.2));
    }

    #[test]
    fn broken_settings_are_named() {
        let bad = LifetimeValueConfig {
            margin_rate: 1.5,
            ..Default::default()
        };
        assert!(bad.rule_broken().unwrap().contains("margin_rate"));
        assert!(LifetimeValueConfig::default().rule_broken().is_none());
    }
}
