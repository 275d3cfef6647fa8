//! The Autotask budget rule. Autotask allows 10,000 requests per hour per tenant database,
//! shared with every other integration, and slows every caller from 50 % usage. The planner
//! reads `ThresholdInformation` first and plans only while usage, plus the calls its own
//! reads and the worker's writes will need, stays under a configured share.

use serde::{Deserialize, Serialize};

pub use crate::autotask::entities::ThresholdInformation as ThresholdInfo;

/// Plan only while usage stays at or below `max_share` of the tenant's threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetPolicy {
    pub max_share: f64,
}

impl Default for BudgetPolicy {
    /// 50 %: where Autotask starts adding latency for every integration of the tenant.
    fn default() -> Self {
        Self { max_share: 0.5 }
    }
}

/// Why planning stopped: what was used, the limit, and how many calls the next step needed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetStop {
    /// Requests counted in the current window when planning started.
    pub used_at_start: u64,
    /// Calls this run had spent or reserved when it stopped.
    pub spent_by_run: u64,
    pub threshold: u64,
    pub max_share: f64,
    /// `floor(max_share * threshold)`: the usage this run may reach.
    pub limit: u64,
    /// Calls the refused step needed (0 when usage was already above the limit).
    pub needed: u64,
}

impl BudgetStop {
    pub fn describe(&self) -> String {
        format!(
            "Autotask usage {} of {} requests this hour plus {} planned by this run would pass {:.0}% of the \
             tenant's budget (limit {}); the rest is planned by the next run",
            self.used_at_start,
            self.threshold,
            self.spent_by_run + self.needed,
            self.max_share * 100.0,
            self.limit
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum BudgetVerdict {
    Proceed(BudgetMeter),
    Stop(BudgetStop),
}

impl BudgetPolicy {
    pub fn limit(&self, threshold: u64) -> u64 {
        (self.max_share.clamp(0.0, 1.0) * threshold as f64).floor() as u64
    }

    pub fn check(&self, info: &ThresholdInfo) -> BudgetVerdict {
        let limit = self.limit(info.external_request_threshold);
        let meter = BudgetMeter {
            used_at_start: info.current_timeframe_request_count,
            threshold: info.external_request_threshold,
            max_share: self.max_share,
            limit,
            spent: 0,
        };
        if info.current_timeframe_request_count >= limit {
            return BudgetVerdict::Stop(meter.stop(0));
        }
        BudgetVerdict::Proceed(meter)
    }
}

/// Counts what a run spends or reserves against the share it may use.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetMeter {
    used_at_start: u64,
    threshold: u64,
    max_share: f64,
    limit: u64,
    spent: u64,
}

impl BudgetMeter {
    /// Reserves `calls` (a page read, or the worker calls an item will need); refuses when
    /// that would pass the limit, leaving the meter unchanged.
    pub fn try_spend(&mut self, calls: u64) -> Result<(), BudgetStop> {
        if self.used_at_start.saturating_add(self.spent).saturating_add(calls) > self.limit {
            return Err(self.stop(calls));
        }
        self.spent += calls;
        Ok(())
    }

    pub fn spent(&self) -> u64 {
        self.spent
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used_at_start.saturating_add(self.spent))
    }

    fn stop(&self, needed: u64) -> BudgetStop {
        BudgetStop {
            used_at_start: self.used_at_start,
            spent_by_run: self.spent,
            threshold: self.threshold,
            max_share: self.max_share,
            limit: self.limit,
            needed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(used: u64) -> ThresholdInfo {
        ThresholdInfo {
            external_request_threshold: 10_000,
            request_threshold_timeframe: 60,
            current_timeframe_request_count: used,
        }
    }

    #[test]
    fn parses_the_autotask_payload() {
        let raw =
            r#"{"externalRequestThreshold":10000,"requestThresholdTimeframe":60,"currentTimeframeRequestCount":124}"#;
        let parsed: ThresholdInfo = serde_json::from_str(raw).unwrap();
        assert_eq!(parsed, info(124));
    }

    #[test]
    fn stops_before_planning_at_or_above_the_share() {
        let policy = BudgetPolicy { max_share: 0.5 };
        assert!(matches!(policy.check(&info(4_999)), BudgetVerdict::Proceed(_)));
        let BudgetVerdict::Stop(stop) = policy.check(&info(5_000)) else {
            panic!("5,000 of 10,000 is the 50 % limit");
        };
        assert_eq!((stop.limit, stop.used_at_start, stop.needed), (5_000, 5_000, 0));
        assert!(stop.describe().contains("50%"), "{}", stop.describe());
    }

    #[test]
    fn meter_refuses_the_step_that_would_pass_the_limit_and_keeps_its_count() {
        // GIVEN 4,990 used and a 5,000 limit
        let BudgetVerdict::Proceed(mut meter) = BudgetPolicy::default().check(&info(4_990)) else {
            panic!("below the limit");
        };
        // WHEN the run reserves 8, then asks for 3 more
        meter.try_spend(8).unwrap();
        let stop = meter.try_spend(3).unwrap_err();
        // THEN the refused step is reported and not counted; what still fits is allowed
        assert_eq!((stop.spent_by_run, stop.needed), (8, 3));
        assert_eq!(meter.remaining(), 2);
        meter.try_spend(2).unwrap();
        assert_eq!((meter.spent(), meter.remaining()), (10, 0));
    }

    #[test]
    fn a_zero_threshold_is_treated_as_exhausted() {
        let zero = ThresholdInfo {
            external_request_threshold: 0,
            ..info(0)
        };
        assert!(matches!(BudgetPolicy::default().check(&zero), BudgetVerdict::Stop(_)));
    }
}
