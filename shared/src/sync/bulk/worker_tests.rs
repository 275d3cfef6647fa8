//! Worker tests: the in-process queue with its dead-letter queue, the in-memory store, and
//! handlers that succeed, fail, or crash on cue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::drain::drain_visible;
use super::ledger::RunLedger;
use super::run_record::{RunId, RunRecord, Trigger};
use super::stream::Stream;
use super::work_item::WorkItem;
use super::worker::{Handled, HandledItem, HandlerFactory, ItemError, ItemHandler, Worker};
use crate::clock::{Clock, ManualClock};
use crate::queue::{InProcessQueue, OutgoingMessage, QueueConfig, WorkQueue};
use crate::store::memory::MemoryStore;
use crate::tenant::TenantId;

#[derive(Clone, Copy)]
enum Behaviour {
    Ok,
    /// Fails with a retryable error on every delivery.
    Poison,
    /// Fails with an error retrying cannot fix.
    Refused,
    /// Panics the first time (the worker process dies mid-batch).
    CrashOnce,
}

#[derive(Default)]
struct Script {
    behaviour: HashMap<String, Behaviour>,
    calls: Mutex<HashMap<String, u32>>,
}

impl Script {
    fn calls(&self, id: &str) -> u32 {
        self.calls.lock().unwrap().get(id).copied().unwrap_or(0)
    }
}

#[async_trait]
impl ItemHandler for Script {
    async fn handle(&self, item: &WorkItem) -> Result<HandledItem, ItemError> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(item.entity_id.clone()).or_default();
            *n += 1;
            *n
        };
        match self.behaviour.get(&item.entity_id).copied().unwrap_or(Behaviour::Ok) {
            Behaviour::Ok => Ok(HandledItem {
                result: Handled::Done("updated".into()),
                autotask_calls: 2,
            }),
            Behaviour::Poison => Err(ItemError {
                reason: "Autotask unreachable".into(),
                retryable: true,
                autotask_calls: 1,
            }),
            Behaviour::Refused => Err(ItemError {
                reason: "Autotask refused phone".into(),
                retryable: false,
                autotask_calls: 1,
            }),
            Behaviour::CrashOnce if n == 1 => panic!("worker crashed"),
            Behaviour::CrashOnce => Ok(HandledItem {
                result: Handled::Done("updated".into()),
                autotask_calls: 2,
            }),
        }
    }
}

struct Factory(Arc<Script>);

#[async_trait]
impl HandlerFactory for Factory {
    async fn for_tenant(&self, _: &TenantId, _: DateTime<Utc>) -> Result<Arc<dyn ItemHandler>, ItemError> {
        Ok(self.0.clone())
    }
}

struct Env {
    clock: Arc<ManualClock>,
    queue: Arc<InProcessQueue>,
    worker: Worker,
    script: Arc<Script>,
    tenant: TenantId,
    run: RunRecord,
}

const VISIBILITY: i64 = 360;

async fn env(behaviour: &[(&str, Behaviour)], items: usize) -> Env {
    let clock = Arc::new(ManualClock::at(
        DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z").unwrap().to_utc(),
    ));
    let store = Arc::new(MemoryStore::new());
    let queue = Arc::new(InProcessQueue::new(
        QueueConfig {
            visibility_timeout: Duration::seconds(VISIBILITY),
            max_receive_count: 3,
        },
        clock.clone(),
    ));
    let ledger = RunLedger::new(store.clone(), clock.clone());
    let worker = Worker {
        idempotency: store.clone(),
        ledger: ledger.clone(),
        clock: clock.clone(),
        max_receive_count: 3,
        record_ttl: Duration::days(2),
    };
    let tenant = TenantId::parse("acme").unwrap();
    let mut run = RunRecord::new(tenant.clone(), RunId::new(clock.now()), Trigger::Manual, clock.now());
    run.streams.insert(
        Stream::AtCompanies,
        super::run_record::StreamPlan {
            planned: items as u32,
            ..Default::default()
        },
    );
    run.finish_planning(clock.now(), None);
    ledger.put(&run).await.unwrap();
    enqueue(&queue, &tenant, &run.run_id, items, clock.now()).await;
    let script = Arc::new(Script {
        behaviour: behaviour.iter().map(|(k, b)| (k.to_string(), *b)).collect(),
        calls: Mutex::default(),
    });
    Env {
        clock,
        queue,
        worker,
        script,
        tenant,
        run,
    }
}

async fn enqueue(queue: &InProcessQueue, tenant: &TenantId, run: &RunId, n: usize, modified: DateTime<Utc>) {
    let msgs = (0..n)
        .map(|i| OutgoingMessage {
            id: format!("m{i}"),
            body: WorkItem::new(
                tenant.clone(),
                run.clone(),
                Stream::AtCompanies,
                format!("c{i}"),
                modified,
            )
            .to_body(),
        })
        .collect();
    queue.send(msgs).await.unwrap();
}

/// One pass over the visible messages; each invocation runs in its own task so a panic is a crash.
async fn pass(e: &Env) -> super::drain::DrainReport {
    let deadline = e.clock.now() + Duration::seconds(60);
    drain_visible(e.queue.as_ref(), |event| {
        let worker = e.worker.clone();
        let factory = Factory(e.script.clone());
        async move {
            tokio::spawn(async move { worker.process(event, &factory, deadline).await.0 })
                .await
                .map_err(|j| j.to_string())
        }
    })
    .await
    .unwrap()
}

async fn stored_run(e: &Env) -> RunRecord {
    e.worker.ledger.get(&e.tenant, &e.run.run_id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_poison_message_is_retried_then_dead_lettered_while_the_rest_succeed() {
    // GIVEN 10 items in one batch, one of which always fails with a retryable error
    let e = env(&[("c4", Behaviour::Poison)], 10).await;
    // WHEN the queue is drained, waiting out the visibility timeout between passes
    let first = pass(&e).await;
    assert_eq!((first.deleted, first.returned), (9, 1));
    for _ in 0..3 {
        e.clock.advance(Duration::seconds(VISIBILITY + 1));
        pass(&e).await;
    }
    // THEN the other 9 ran once each, the poison ran maxReceiveCount times and is dead-lettered
    for i in (0..10).filter(|i| *i != 4) {
        assert_eq!(e.script.calls(&format!("c{i}")), 1, "c{i}");
    }
    assert_eq!(e.script.calls("c4"), 3);
    let dead = e.queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(WorkItem::from_body(&dead[0].body).unwrap().entity_id, "c4");
    assert!(e.queue.is_empty());
    // AND the run record counts 9 done, 1 failed with its reason, 2 retries
    let run = stored_run(&e).await;
    assert_eq!((run.counts.done, run.counts.failed, run.counts.retried), (9, 1, 2));
    assert_eq!(run.failures[0].entity_id, "c4");
    assert_eq!(run.failures[0].reason, "Autotask unreachable");
    assert_eq!(run.status(), super::run_record::RunStatus::Completed);
}

#[tokio::test]
async fn after_a_crash_the_redelivery_finishes_the_rest_without_repeating_finished_items() {
    // GIVEN 10 items; the worker process dies on the 6th
    let e = env(&[("c5", Behaviour::CrashOnce)], 10).await;
    // WHEN the first invocation crashes mid-batch
    let first = pass(&e).await;
    assert_eq!((first.crashed_invocations, first.deleted), (1, 0));
    assert_eq!(stored_run(&e).await.counts.done, 5);
    // AND the batch comes back after the visibility timeout
    e.clock.advance(Duration::seconds(VISIBILITY + 1));
    let second = pass(&e).await;
    // THEN it completes: items 0-4 are not run again, 5-9 run once more (5 after its crash)
    assert_eq!(second.deleted, 10);
    for i in 0..10 {
        let expected = if i == 5 { 2 } else { 1 };
        assert_eq!(e.script.calls(&format!("c{i}")), expected, "c{i}");
    }
    let run = stored_run(&e).await;
    assert_eq!((run.counts.done, run.counts.skipped, run.counts.failed), (10, 0, 0));
    assert_eq!(run.status(), super::run_record::RunStatus::Completed);
    assert_eq!(run.autotask_calls.worker, 20);
}

#[tokio::test]
async fn a_refused_item_fails_once_and_is_not_retried() {
    let e = env(&[("c1", Behaviour::Refused)], 3).await;
    let report = pass(&e).await;
    assert_eq!(report.deleted, 3);
    assert!(e.queue.is_empty() && e.queue.dead_letters().is_empty());
    let run = stored_run(&e).await;
    assert_eq!((run.counts.done, run.counts.failed, run.counts.retried), (2, 1, 0));
    assert_eq!(run.failures[0].reason, "Autotask refused phone");
}

#[tokio::test]
async fn a_later_run_planning_the_same_change_skips_it() {
    // GIVEN a finished run
    let e = env(&[], 2).await;
    pass(&e).await;
    // WHEN a second run enqueues the same changes (same keys)
    let mut second = RunRecord::new(
        e.tenant.clone(),
        RunId::from_raw("run-2"),
        Trigger::Schedule,
        e.clock.now(),
    );
    second.streams.insert(
        Stream::AtCompanies,
        super::run_record::StreamPlan {
            planned: 2,
            ..Default::default()
        },
    );
    second.finish_planning(e.clock.now(), None);
    e.worker.ledger.put(&second).await.unwrap();
    enqueue(&e.queue, &e.tenant, &second.run_id, 2, e.clock.now()).await;
    pass(&e).await;
    // THEN nothing runs twice and the second run says why
    assert_eq!(e.script.calls("c0"), 1);
    let run2 = e.worker.ledger.get(&e.tenant, &second.run_id).await.unwrap().unwrap();
    assert_eq!((run2.counts.done, run2.counts.skipped), (0, 2));
    assert_eq!(run2.status(), super::run_record::RunStatus::Completed);
}
