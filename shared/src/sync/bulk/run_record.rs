//! The record of one bulk-sync run: what the planner enqueued per stream, what the workers did
//! with each item, Autotask calls used, duration and why planning stopped early (if it did).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::budget::BudgetStop;
use super::stream::Stream;
use super::work_item::WorkItem;
use crate::tenant::TenantId;

/// Failures kept in full per run; beyond this only the count grows (DynamoDB items stay small).
pub const MAX_FAILURES_KEPT: usize = 100;

/// `<start time, UTC, sortable>-<4 hex>`, e.g. `20261127T160000Z-3fa2`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    pub fn new(started_at: DateTime<Utc>) -> Self {
        Self(format!(
            "{}-{:04x}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            fastrand::u16(..)
        ))
    }

    pub fn from_raw(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    /// On demand (the local stack, an operator).
    Manual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The planner is still reading and enqueueing.
    Planning,
    /// Planned; some items have no final outcome yet.
    Running,
    /// Every planned item is done, skipped or failed.
    Completed,
}

/// Why planning ended before every change was enqueued. The checkpoint of the unfinished
/// stream is kept, so the next run resumes there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// Autotask usage (plus what this run needed) would pass the configured share.
    Budget {
        #[serde(flatten)]
        stop: BudgetStop,
        message: String,
    },
    /// Autotask or ChannelOnline could not be read.
    SourceUnavailable { stream: Stream, message: String },
    /// The queue refused messages; they are planned again next run.
    EnqueueFailed { stream: Stream, message: String },
    /// The function was about to time out.
    Deadline { message: String },
}

impl StopReason {
    pub fn budget(stop: BudgetStop) -> Self {
        let message = stop.describe();
        StopReason::Budget { stop, message }
    }
}

/// What the planner did for one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPlan {
    /// Checkpoint the run started from (`None`: first run, initial look-back used).
    pub from: Option<DateTime<Utc>>,
    /// End of the changes the run looked at.
    pub to: Option<DateTime<Utc>>,
    pub read: u32,
    pub planned: u32,
    /// Where the checkpoint now stands (unchanged on a stop).
    pub checkpoint: Option<DateTime<Utc>>,
    pub complete: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub planned: u32,
    pub done: u32,
    pub skipped: u32,
    pub failed: u32,
    /// Attempts that failed and were left on the queue for another try (not final).
    pub retried: u32,
    /// Opportunity statuses and quote approvals written to ChannelOnline documents
    /// (`at_opportunities` and `at_quotes` items done; an unchanged label is skipped). Absent in
    /// records written before these streams existed.
    #[serde(default)]
    pub statuses_written_back: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutotaskCalls {
    pub planner: u64,
    pub worker: u64,
}

impl AutotaskCalls {
    pub fn total(&self) -> u64 {
        self.planner + self.worker
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFailure {
    pub key: String,
    pub stream: Stream,
    pub entity_id: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// What the worker did with one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ItemOutcome {
    Done {
        summary: String,
        autotask_calls: u64,
    },
    /// Nothing to do: unchanged, turned off by a setting, proposed for mapping, or already
    /// synced by an earlier run.
    Skipped {
        reason: String,
        autotask_calls: u64,
    },
    /// `final_attempt`: the queue will not deliver it again (dead-lettered or not retryable).
    Failed {
        reason: String,
        autotask_calls: u64,
        final_attempt: bool,
    },
}

impl ItemOutcome {
    pub fn autotask_calls(&self) -> u64 {
        match self {
            ItemOutcome::Done { autotask_calls, .. }
            | ItemOutcome::Skipped { autotask_calls, .. }
            | ItemOutcome::Failed { autotask_calls, .. } => *autotask_calls,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub tenant: TenantId,
    pub run_id: RunId,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    /// When the planner finished (enqueued everything it was going to).
    pub planned_at: Option<DateTime<Utc>>,
    /// When the last planned item got its final outcome.
    pub finished_at: Option<DateTime<Utc>>,
    pub streams: BTreeMap<Stream, StreamPlan>,
    pub counts: Counts,
    pub failures: Vec<ItemFailure>,
    /// Failures counted but not kept in `failures`.
    pub failures_omitted: u32,
    pub autotask_calls: AutotaskCalls,
    pub stop_reason: Option<StopReason>,
}

impl RunRecord {
    pub fn new(tenant: TenantId, run_id: RunId, trigger: Trigger, started_at: DateTime<Utc>) -> Self {
        Self {
            tenant,
            run_id,
            trigger,
            started_at,
            planned_at: None,
            finished_at: None,
            streams: BTreeMap::new(),
            counts: Counts::default(),
            failures: Vec::new(),
            failures_omitted: 0,
            autotask_calls: AutotaskCalls::default(),
            stop_reason: None,
        }
    }

    pub fn status(&self) -> RunStatus {
        if self.planned_at.is_none() {
            RunStatus::Planning
        } else if self.outstanding() == 0 {
            RunStatus::Completed
        } else {
            RunStatus::Running
        }
    }

    /// Planned items without a final outcome.
    pub fn outstanding(&self) -> u32 {
        let c = &self.counts;
        c.planned.saturating_sub(c.done + c.skipped + c.failed)
    }

    /// Planning start to the last final outcome (or to planning end when nothing was planned).
    pub fn duration_ms(&self) -> Option<i64> {
        let end = self.finished_at.or(self.planned_at)?;
        Some((end - self.started_at).num_milliseconds())
    }

    /// Called by the planner once it has enqueued all it will for this run.
    pub fn finish_planning(&mut self, at: DateTime<Utc>, stop_reason: Option<StopReason>) {
        self.counts.planned = self.streams.values().map(|s| s.planned).sum();
        self.planned_at = Some(at);
        self.stop_reason = stop_reason;
        if self.outstanding() == 0 {
            self.finished_at = Some(self.finished_at.map_or(at, |f| f.max(at)));
        }
    }

    /// Counts one worker outcome. Workers may report before the planner has finished (the
    /// queue is fast), so completion is judged against the final planned count.
    pub fn record(&mut self, item: &WorkItem, outcome: &ItemOutcome, at: DateTime<Utc>) {
        self.autotask_calls.worker += outcome.autotask_calls();
        match outcome {
            ItemOutcome::Done { .. } => {
                self.counts.done += 1;
                if matches!(item.stream, Stream::AtOpportunities | Stream::AtQuotes) {
                    self.counts.statuses_written_back += 1;
                }
            }
            ItemOutcome::Skipped { .. } => self.counts.skipped += 1,
            ItemOutcome::Failed {
                final_attempt: false, ..
            } => {
                self.counts.retried += 1;
                return;
            }
            ItemOutcome::Failed { reason, .. } => {
                self.counts.failed += 1;
                if self.failures.len() < MAX_FAILURES_KEPT {
                    self.failures.push(ItemFailure {
                        key: item.key.clone(),
                        stream: item.stream,
                        entity_id: item.entity_id.clone(),
                        reason: reason.clone(),
                        at,
                    });
                } else {
                    self.failures_omitted += 1;
                }
            }
        }
        if self.planned_at.is_some() && self.outstanding() == 0 {
            self.finished_at = Some(at);
        }
    }

    /// The JSON shown by `GET /runs`: the record plus its derived status and duration.
    pub fn to_view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("a run record always serialises");
        v["status"] = serde_json::to_value(self.status()).expect("status serialises");
        v["duration_ms"] = self.duration_ms().into();
        v["autotask_calls"]["total"] = self.autotask_calls.total().into();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().to_utc() + Duration::seconds(s)
    }

    fn record_with(planned: u32) -> RunRecord {
        let mut r = RunRecord::new(
            TenantId::parse("acme").unwrap(),
            RunId::from_raw("run-1"),
            Trigger::Schedule,
            t(0),
        );
        r.streams.insert(
            Stream::AtCompanies,
            StreamPlan {
                planned,
                ..StreamPlan::default()
            },
        );
        r
    }

    fn item(id: &str) -> WorkItem {
        WorkItem::new(
            TenantId::parse("acme").unwrap(),
            RunId::from_raw("run-1"),
            Stream::AtCompanies,
            id,
            t(0),
        )
    }

    #[test]
    fn run_id_sorts_by_start_time() {
        let a = RunId::new(t(0));
        let b = RunId::new(t(3600));
        assert!(a < b);
        assert!(a.as_str().starts_with("20261127T100000Z-"), "{a}");
    }

    #[test]
    fn completes_when_every_planned_item_has_a_final_outcome() {
        // GIVEN 3 planned items
        let mut r = record_with(3);
        assert_eq!(r.status(), RunStatus::Planning);
        r.finish_planning(t(1), None);
        assert_eq!(r.status(), RunStatus::Running);
        // WHEN one is done, one fails and is retried, then succeeds, one is skipped, one fails finally
        r.record(
            &item("1"),
            &ItemOutcome::Done {
                summary: "updated".into(),
                autotask_calls: 3,
            },
            t(2),
        );
        let retry = ItemOutcome::Failed {
            reason: "503".into(),
            autotask_calls: 1,
            final_attempt: false,
        };
        r.record(&item("2"), &retry, t(3));
        assert_eq!(r.status(), RunStatus::Running);
        r.record(
            &item("2"),
            &ItemOutcome::Skipped {
                reason: "unchanged".into(),
                autotask_calls: 2,
            },
            t(4),
        );
        let fail = ItemOutcome::Failed {
            reason: "refused: phone".into(),
            autotask_calls: 1,
            final_attempt: true,
        };
        r.record(&item("3"), &fail, t(9));
        // THEN the counts add up, the failure names its item, and the duration spans the run
        assert_eq!(r.status(), RunStatus::Completed);
        assert_eq!(
            r.counts,
            Counts {
                planned: 3,
                done: 1,
                skipped: 1,
                failed: 1,
                retried: 1,
                statuses_written_back: 0,
            }
        );
        assert_eq!(r.failures[0].entity_id, "3");
        assert_eq!(r.failures[0].reason, "refused: phone");
        assert_eq!(r.autotask_calls.worker, 7);
        assert_eq!(r.duration_ms(), Some(9_000));
        let view = r.to_view();
        assert_eq!(view["status"], "completed");
        assert_eq!(view["duration_ms"], 9_000);
    }

    #[test]
    fn outcomes_reported_before_planning_ends_still_count() {
        let mut r = record_with(1);
        r.record(
            &item("1"),
            &ItemOutcome::Done {
                summary: "ok".into(),
                autotask_calls: 1,
            },
            t(1),
        );
        assert_eq!(r.status(), RunStatus::Planning);
        r.finish_planning(t(2), None);
        assert_eq!(r.status(), RunStatus::Completed);
        assert_eq!(r.finished_at, Some(t(2)));
    }

    #[test]
    fn done_opportunity_items_count_as_statuses_written_back() {
        let mut r = record_with(4);
        let opportunity = |id: &str| {
            WorkItem::new(
                TenantId::parse("acme").unwrap(),
                RunId::from_raw("run-1"),
                Stream::AtOpportunities,
                id,
                t(0),
            )
        };
        let done = ItemOutcome::Done {
            summary: "Status set".into(),
            autotask_calls: 1,
        };
        let unchanged = ItemOutcome::Skipped {
            reason: "already written".into(),
            autotask_calls: 1,
        };
        r.record(&opportunity("1"), &done, t(1));
        r.record(&opportunity("2"), &unchanged, t(1));
        r.record(&item("3"), &done, t(1));
        let quote = WorkItem::new(
            TenantId::parse("acme").unwrap(),
            RunId::from_raw("run-1"),
            Stream::AtQuotes,
            "9",
            t(0),
        );
        r.record(&quote, &done, t(1));
        assert_eq!(r.counts.statuses_written_back, 2);
        assert_eq!(r.counts.done, 3);
        assert_eq!(r.to_view()["counts"]["statuses_written_back"], 2);
        // A record stored before the count existed still loads.
        let mut old = serde_json::to_value(&r).unwrap();
        old["counts"].as_object_mut().unwrap().remove("statuses_written_back");
        let loaded: RunRecord = serde_json::from_value(old).unwrap();
        assert_eq!(loaded.counts.statuses_written_back, 0);
    }

    #[test]
    fn keeps_a_bounded_list_of_failures() {
        let mut r = record_with(200);
        for i in 0..150 {
            let fail = ItemOutcome::Failed {
                reason: "x".into(),
                autotask_calls: 0,
                final_attempt: true,
            };
            r.record(&item(&i.to_string()), &fail, t(1));
        }
        assert_eq!(r.failures.len(), MAX_FAILURES_KEPT);
        assert_eq!(r.failures_omitted, 50);
        assert_eq!(r.counts.failed, 150);
    }

    #[test]
    fn stop_reason_serialises_with_its_kind_and_message() {
        let stop = BudgetStop {
            used_at_start: 6_000,
            spent_by_run: 0,
            threshold: 10_000,
            max_share: 0.5,
            limit: 5_000,
            needed: 0,
        };
        let v = serde_json::to_value(StopReason::budget(stop)).unwrap();
        assert_eq!(v["kind"], "budget");
        assert_eq!(v["used_at_start"], 6_000);
        assert!(v["message"].as_str().unwrap().contains("next run"));
    }
}
