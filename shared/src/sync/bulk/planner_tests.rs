//! Planner tests against a fake change feed, the in-memory store and the in-process queue.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::budget::ThresholdInfo;
use super::feed::{Change, ChangeFeed, ChangePage, FeedError};
use super::planner::{PLANNER_LEASE, PlanOutcome, Planner, PlannerConfig};
use super::run_record::{RunRecord, StopReason, Trigger};
use super::stream::Stream;
use super::window::Window;
use super::work_item::WorkItem;
use crate::clock::{Clock, ManualClock};
use crate::queue::{InProcessQueue, QueueConfig, WorkQueue};
use crate::store::SyncStateStore;
use crate::store::memory::MemoryStore;
use crate::tenant::TenantId;

struct FakeFeed {
    changes: Vec<(Stream, Change)>,
    page_size: usize,
    used: u64,
    calls: Mutex<u64>,
}

impl FakeFeed {
    fn new(changes: Vec<(Stream, Change)>) -> Self {
        Self {
            changes,
            page_size: 500,
            used: 100,
            calls: Mutex::new(0),
        }
    }
}

#[async_trait]
impl ChangeFeed for FakeFeed {
    async fn threshold(&self) -> Result<ThresholdInfo, FeedError> {
        *self.calls.lock().unwrap() += 1;
        Ok(ThresholdInfo {
            external_request_threshold: 10_000,
            request_threshold_timeframe: 60,
            current_timeframe_request_count: self.used,
        })
    }

    async fn changes(&self, stream: Stream, window: Window, cursor: Option<String>) -> Result<ChangePage, FeedError> {
        if stream.is_autotask() {
            *self.calls.lock().unwrap() += 1;
        }
        let all: Vec<Change> = self
            .changes
            .iter()
            .filter(|(s, c)| *s == stream && window.contains(c.modified_at))
            .map(|(_, c)| c.clone())
            .collect();
        if stream == Stream::ColDocuments {
            return if all.len() > 500 {
                Err(FeedError::TooManyDocuments)
            } else {
                Ok(ChangePage {
                    changes: all,
                    next: None,
                })
            };
        }
        let start: usize = cursor.map_or(0, |c| c.parse().unwrap());
        let end = (start + self.page_size).min(all.len());
        Ok(ChangePage {
            changes: all[start..end].to_vec(),
            next: (end < all.len()).then(|| end.to_string()),
        })
    }

    fn autotask_calls(&self) -> u64 {
        *self.calls.lock().unwrap()
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z").unwrap().to_utc()
}

struct Env {
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
    queue: Arc<InProcessQueue>,
    planner: Planner,
    tenant: TenantId,
}

fn env(config: PlannerConfig) -> Env {
    let clock = Arc::new(ManualClock::at(t0()));
    let store = Arc::new(MemoryStore::new());
    let queue = Arc::new(InProcessQueue::new(QueueConfig::default(), clock.clone()));
    let planner = Planner {
        sync_state: store.clone(),
        queue: queue.clone(),
        clock: clock.clone(),
        config,
    };
    Env {
        clock,
        store,
        queue,
        planner,
        tenant: TenantId::parse("acme").unwrap(),
    }
}

fn companies(n: usize, at: DateTime<Utc>) -> Vec<(Stream, Change)> {
    (0..n)
        .map(|i| {
            (
                Stream::AtCompanies,
                Change {
                    entity_id: (1000 + i).to_string(),
                    modified_at: at + Duration::seconds(i as i64),
                },
            )
        })
        .collect()
}

async fn set_checkpoint(e: &Env, stream: Stream, at: DateTime<Utc>) {
    let doc = serde_json::json!({ "stream": stream, "watermark": at });
    e.store
        .put_checkpoint(&e.tenant, stream.as_str(), &doc, None, e.clock.now())
        .await
        .unwrap();
}

async fn watermark(e: &Env, stream: Stream) -> Option<DateTime<Utc>> {
    let cp = e.store.get_checkpoint(&e.tenant, stream.as_str()).await.unwrap()?;
    serde_json::from_value(cp.doc["watermark"].clone()).ok()
}

async fn drain_items(q: &InProcessQueue) -> Vec<WorkItem> {
    let mut out = Vec::new();
    loop {
        let got = q.receive(10).await.unwrap();
        if got.is_empty() {
            return out;
        }
        for m in got {
            out.push(WorkItem::from_body(&m.body).unwrap());
            q.delete(&m.receipt_handle).await.unwrap();
        }
    }
}

fn planned(outcome: PlanOutcome) -> RunRecord {
    match outcome {
        PlanOutcome::Planned(r) => *r,
        other => panic!("expected a planned run, got {other:?}"),
    }
}

#[tokio::test]
async fn enqueues_what_changed_since_the_checkpoint_and_advances_it() {
    // GIVEN a checkpoint 1 h ago and 30 companies changed since (plus older ones)
    let e = env(PlannerConfig {
        streams: vec![Stream::AtCompanies],
        ..PlannerConfig::default()
    });
    set_checkpoint(&e, Stream::AtCompanies, t0() - Duration::hours(1)).await;
    let mut changes = companies(30, t0() - Duration::minutes(30));
    changes.extend(companies(5, t0() - Duration::hours(5)).into_iter().map(|(s, mut c)| {
        c.entity_id.push('9');
        (s, c)
    }));
    let feed = FakeFeed::new(changes);
    // WHEN the planner runs
    let run = planned(e.planner.plan(&e.tenant, Trigger::Schedule, &feed).await.unwrap());
    // THEN the 30 are enqueued once each, in batches of 10, and the checkpoint moves to now
    let items = drain_items(&e.queue).await;
    assert_eq!(items.len(), 30);
    assert!(
        items
            .iter()
            .all(|i| i.stream == Stream::AtCompanies && i.run_id == run.run_id)
    );
    assert_eq!(e.queue.send_calls(), 3);
    assert_eq!(watermark(&e, Stream::AtCompanies).await, Some(t0()));
    assert_eq!(run.counts.planned, 30);
    assert!(run.stop_reason.is_none());
    assert_eq!(run.autotask_calls.planner, 2, "threshold + one page");
    assert!(run.streams[&Stream::AtCompanies].complete);
    // AND the record is stored and the lease released
    let stored = e.planner.ledger().get(&e.tenant, &run.run_id).await.unwrap().unwrap();
    assert_eq!(stored.counts.planned, 30);
    e.store
        .acquire_lease(&e.tenant, PLANNER_LEASE, "next", t0(), t0() + Duration::minutes(1))
        .await
        .expect("lease was released");
}

#[tokio::test]
async fn a_second_planner_exits_without_work_while_the_lease_is_held() {
    // GIVEN another planner holding the tenant's lease
    let e = env(PlannerConfig::default());
    e.store
        .acquire_lease(
            &e.tenant,
            PLANNER_LEASE,
            "other-run",
            t0(),
            t0() + Duration::minutes(10),
        )
        .await
        .unwrap();
    let feed = FakeFeed::new(companies(30, t0() - Duration::minutes(30)));
    // WHEN a planner starts
    let out = e.planner.plan(&e.tenant, Trigger::Schedule, &feed).await.unwrap();
    // THEN it does nothing: no read, no message, no run record, no checkpoint
    assert!(matches!(out, PlanOutcome::LeaseHeld { ref owner, .. } if owner == "other-run"));
    assert_eq!(feed.autotask_calls(), 0);
    assert!(e.queue.is_empty());
    assert!(
        e.planner
            .ledger()
            .list(&e.tenant, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(watermark(&e, Stream::AtCompanies).await, None);
    // AND once the lease expires the next planner runs
    e.clock.advance(Duration::minutes(11));
    assert!(matches!(
        e.planner.plan(&e.tenant, Trigger::Schedule, &feed).await.unwrap(),
        PlanOutcome::Planned(_)
    ));
}

#[tokio::test]
async fn above_the_budget_share_planning_stops_and_keeps_the_checkpoint() {
    // GIVEN usage at 60 % of the hourly budget, the limit at 50 %
    let e = env(PlannerConfig::default());
    let cp = t0() - Duration::hours(1);
    set_checkpoint(&e, Stream::AtCompanies, cp).await;
    let mut feed = FakeFeed::new(companies(30, t0() - Duration::minutes(30)));
    feed.used = 6_000;
    // WHEN the planner runs
    let run = planned(e.planner.plan(&e.tenant, Trigger::Schedule, &feed).await.unwrap());
    // THEN only the threshold was read, nothing enqueued, the checkpoint kept, the record says why
    assert_eq!(feed.autotask_calls(), 1);
    assert!(e.queue.is_empty());
    assert_eq!(watermark(&e, Stream::AtCompanies).await, Some(cp));
    match &run.stop_reason {
        Some(StopReason::Budget { stop, message }) => {
            assert_eq!((stop.used_at_start, stop.limit), (6_000, 5_000));
            assert!(message.contains("next run"), "{message}");
        }
        other => panic!("expected a budget stop, got {other:?}"),
    }
    assert_eq!(run.counts.planned, 0);
    assert_eq!(run.status(), super::run_record::RunStatus::Completed);
}

#[tokio::test]
async fn a_budget_stop_mid_stream_enqueues_what_fits_and_keeps_the_checkpoint() {
    // GIVEN room for ~100 more calls and 60 changes needing 3 worker calls each
    let e = env(PlannerConfig {
        streams: vec![Stream::AtCompanies],
        ..PlannerConfig::default()
    });
    let cp = t0() - Duration::hours(1);
    set_checkpoint(&e, Stream::AtCompanies, cp).await;
    let mut feed = FakeFeed::new(companies(60, t0() - Duration::minutes(50)));
    feed.used = 4_900;
    // WHEN the planner runs
    let run = planned(e.planner.plan(&e.tenant, Trigger::Schedule, &feed).await.unwrap());
    // THEN what fits is enqueued, the rest waits with the checkpoint unchanged
    let items = drain_items(&e.queue).await;
    assert_eq!(items.len(), 33, "(5000 - 4900 - 1 page) / 3 calls");
    assert_eq!(watermark(&e, Stream::AtCompanies).await, Some(cp));
    assert!(matches!(run.stop_reason, Some(StopReason::Budget { .. })));
    assert!(!run.streams[&Stream::AtCompanies].complete);
    // AND the next run, with budget back, plans all 60 again with the same keys
    e.clock.advance(Duration::hours(1));
    feed.used = 0;
    let next = planned(e.planner.plan(&e.tenant, Trigger::Schedule, &feed).await.unwrap());
    let again = drain_items(&e.queue).await;
    assert_eq!(again.len(), 60);
    assert!(items.iter().all(|i| again.iter().any(|a| a.key == i.key)));
    assert!(next.stop_reason.is_none());
    assert_eq!(watermark(&e, Stream::AtCompanies).await, Some(e.clock.now()));
}

#[tokio::test]
async fn pages_through_large_autotask_results_and_splits_capped_document_windows() {
    // GIVEN 1,200 company changes (3 pages) and 700 documents on one day, budget to spare
    let e = env(PlannerConfig {
        streams: vec![Stream::AtCompanies, Stream::ColDocuments],
        worker_calls_at_companies: 1,
        worker_calls_col_documents: 1,
        ..PlannerConfig::default()
    });
    let mut changes = companies(1_200, t0() - Duration::hours(20));
    changes.extend((0..700).map(|i| {
        (
            Stream::ColDocuments,
            Change {
                entity_id: format!("Q-{i}"),
                modified_at: t0() - Duration::hours(10) + Duration::seconds(i),
            },
        )
    }));
    let feed = FakeFeed::new(changes);
    // WHEN the first run plans (1-day look-back)
    let run = planned(e.planner.plan(&e.tenant, Trigger::Manual, &feed).await.unwrap());
    // THEN all are enqueued and both checkpoints advance
    assert_eq!(run.streams[&Stream::AtCompanies].planned, 1_200);
    assert_eq!(run.streams[&Stream::ColDocuments].planned, 700);
    assert_eq!(feed.autotask_calls(), 1 + 3);
    assert_eq!(drain_items(&e.queue).await.len(), 1_900);
    assert_eq!(watermark(&e, Stream::ColDocuments).await, Some(t0()));
}

#[tokio::test]
async fn refused_enqueues_leave_the_checkpoint_for_the_next_run() {
    let e = env(PlannerConfig {
        streams: vec![Stream::ColCustomers],
        ..PlannerConfig::default()
    });
    let cp = t0() - Duration::hours(1);
    set_checkpoint(&e, Stream::ColCustomers, cp).await;
    let changes = companies(25, t0() - Duration::minutes(30))
        .into_iter()
        .map(|(_, c)| (Stream::ColCustomers, c))
        .collect();
    let feed = FakeFeed::new(changes);
    e.queue.refuse_after(12);
    let run = planned(e.planner.plan(&e.tenant, Trigger::Schedule, &feed).await.unwrap());
    assert_eq!(run.counts.planned, 12);
    assert!(matches!(run.stop_reason, Some(StopReason::EnqueueFailed { .. })));
    assert_eq!(watermark(&e, Stream::ColCustomers).await, Some(cp));
}

#[test]
fn the_opportunity_and_quote_streams_are_planned_only_when_their_write_back_is_on() {
    let mut options = crate::domain::settings::BulkSyncOptions::default();
    let off = PlannerConfig::default().for_options(&options);
    assert!(!off.streams.contains(&Stream::AtOpportunities) && !off.streams.contains(&Stream::AtQuotes));
    assert_eq!(off.streams.len(), Stream::ALL.len() - 2);
    options.status_field_name = Some("AT Status".into());
    let status_only = PlannerConfig::default().for_options(&options);
    assert!(status_only.streams.contains(&Stream::AtOpportunities) && !status_only.streams.contains(&Stream::AtQuotes));
    options.approval_field_name = Some("AT Approval".into());
    let on = PlannerConfig::default().for_options(&options);
    assert_eq!(on.streams, Stream::ALL.to_vec());
}

#[tokio::test]
async fn changed_opportunities_are_planned_on_their_own_checkpoint_with_their_budget() {
    // GIVEN status write-back planned alone, the budget (half of 10,000) leaving room for the
    // page read and two opportunity items of 2 worker calls each
    let e = env(PlannerConfig {
        streams: vec![Stream::AtOpportunities],
        worker_calls_at_opportunities: 2,
        ..PlannerConfig::default()
    });
    set_checkpoint(&e, Stream::AtOpportunities, t0() - Duration::hours(1)).await;
    let opportunities: Vec<(Stream, Change)> = (0..3)
        .map(|i| {
            (
                Stream::AtOpportunities,
                Change {
                    entity_id: (700 + i).to_string(),
                    modified_at: t0() - Duration::minutes(10 - i),
                },
            )
        })
        .collect();
    let mut feed = FakeFeed::new(opportunities);
    feed.used = 5_000 - 2 - 2 * 2;
    // WHEN planned
    let run = planned(e.planner.plan(&e.tenant, Trigger::Schedule, &feed).await.unwrap());
    // THEN two items are enqueued under the opportunity stream, the third waits for the next
    // run: the checkpoint stays where it was
    let items = drain_items(&e.queue).await;
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i.stream == Stream::AtOpportunities && i.autotask_id().is_some())
    );
    assert_eq!(run.streams[&Stream::AtOpportunities].planned, 2);
    assert!(
        matches!(run.stop_reason, Some(StopReason::Budget { .. })),
        "{:?}",
        run.stop_reason
    );
    assert_eq!(
        watermark(&e, Stream::AtOpportunities).await,
        Some(t0() - Duration::hours(1))
    );
}
