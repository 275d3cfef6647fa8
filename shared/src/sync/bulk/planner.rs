//! The bulk-sync planner: one run per tenant at a time (a lease), the Autotask budget checked
//! first, changes since each stream's checkpoint enqueued as work items, checkpoints advanced
//! only past what was enqueued, and a run record saying what happened.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::budget::{BudgetMeter, BudgetPolicy, BudgetVerdict};
use super::checkpoint::{WindowResult, advance_checkpoint};
use super::feed::{ChangeFeed, FeedError};
use super::ledger::RunLedger;
use super::run_record::{RunId, RunRecord, StopReason, StreamPlan, Trigger};
use super::stream::Stream;
use super::window::{SplitError, Window, collect_split_on_cap};
use super::work_item::WorkItem;
use crate::clock::Clock;
use crate::domain::settings::BulkSyncOptions;
use crate::queue::{OutgoingMessage, WorkQueue};
use crate::store::{StoreError, SyncStateStore};
use crate::tenant::TenantId;

/// The lease every planner of a tenant takes.
pub const PLANNER_LEASE: &str = "bulk-sync-planner";

#[derive(Clone, Debug, PartialEq)]
pub struct PlannerConfig {
    pub streams: Vec<Stream>,
    /// Longer than a planner can run (the Lambda timeout), so a crashed planner frees it.
    pub lease_ttl: Duration,
    /// How far back the very first run looks.
    pub initial_lookback: Duration,
    /// Re-read this much before the checkpoint: records committed late with an older
    /// modification time are not missed (their keys dedupe the rest).
    pub overlap: Duration,
    /// Planning windows: the checkpoint advances window by window.
    pub window_span: Duration,
    pub budget: BudgetPolicy,
    /// Autotask calls the worker is expected to need per item, reserved against the budget.
    pub worker_calls_at_companies: u64,
    pub worker_calls_at_contacts: u64,
    pub worker_calls_at_opportunities: u64,
    pub worker_calls_at_quotes: u64,
    pub worker_calls_col_customers: u64,
    pub worker_calls_col_documents: u64,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        Self {
            streams: Stream::ALL.to_vec(),
            lease_ttl: Duration::minutes(15),
            initial_lookback: Duration::days(1),
            overlap: Duration::minutes(2),
            window_span: Duration::days(1),
            budget: BudgetPolicy::default(),
            // company + contacts read, one PATCH
            worker_calls_at_companies: 3,
            // contact read, one PATCH (the customer is read from ChannelOnline)
            worker_calls_at_contacts: 2,
            // opportunity read and, once per instance, the status picklist
            worker_calls_at_opportunities: 2,
            // quote read and, once per instance, the approval picklist
            worker_calls_at_quotes: 2,
            worker_calls_col_customers: 3,
            // opportunity, quote, items and product lookups of a typical re-export
            worker_calls_col_documents: 12,
        }
    }
}

impl PlannerConfig {
    /// Without the streams the tenant's settings leave unused: `at_opportunities` and
    /// `at_quotes` only feed the write-back of statuses, so with `status_field_name` /
    /// `approval_field_name` unset they cost no Autotask read.
    pub fn for_options(mut self, options: &BulkSyncOptions) -> Self {
        if options.status_field_name.is_none() {
            self.streams.retain(|s| *s != Stream::AtOpportunities);
        }
        if options.approval_field_name.is_none() {
            self.streams.retain(|s| *s != Stream::AtQuotes);
        }
        self
    }

    pub fn worker_calls(&self, stream: Stream) -> u64 {
        match stream {
            Stream::AtCompanies => self.worker_calls_at_companies,
            Stream::AtContacts => self.worker_calls_at_contacts,
            Stream::AtOpportunities => self.worker_calls_at_opportunities,
            Stream::AtQuotes => self.worker_calls_at_quotes,
            Stream::ColCustomers => self.worker_calls_col_customers,
            Stream::ColDocuments => self.worker_calls_col_documents,
        }
    }
}

#[derive(Clone)]
pub struct Planner {
    pub sync_state: Arc<dyn SyncStateStore>,
    pub queue: Arc<dyn WorkQueue>,
    pub clock: Arc<dyn Clock>,
    pub config: PlannerConfig,
}

/// What a planner invocation did.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanOutcome {
    /// Another planner holds the tenant's lease: nothing was read or enqueued.
    LeaseHeld {
        owner: String,
        until: DateTime<Utc>,
    },
    Planned(Box<RunRecord>),
}

#[derive(Debug, thiserror::Error)]
pub enum BulkPlanError {
    #[error("sync state store: {0}")]
    Store(#[from] StoreError),
}

/// Why a stream stopped early (the run stops with it).
enum Halt {
    Stop(StopReason),
}

struct StreamRun<'a> {
    planner: &'a Planner,
    feed: &'a dyn ChangeFeed,
    meter: &'a mut BudgetMeter,
    tenant: &'a TenantId,
    run_id: &'a RunId,
    stream: Stream,
    plan: StreamPlan,
}

impl Planner {
    pub fn ledger(&self) -> RunLedger {
        RunLedger::new(self.sync_state.clone(), self.clock.clone())
    }

    pub async fn plan(
        &self,
        tenant: &TenantId,
        trigger: Trigger,
        feed: &dyn ChangeFeed,
    ) -> Result<PlanOutcome, BulkPlanError> {
        let started = self.clock.now();
        let run_id = RunId::new(started);
        let owner = run_id.to_string();
        match self
            .sync_state
            .acquire_lease(tenant, PLANNER_LEASE, &owner, started, started + self.config.lease_ttl)
            .await
        {
            Ok(_) => {}
            Err(StoreError::LeaseHeld { owner, until }) => {
                tracing::info!(%tenant, holder = %owner, %until, "another planner is running; nothing to do");
                return Ok(PlanOutcome::LeaseHeld { owner, until });
            }
            Err(e) => return Err(e.into()),
        }
        let result = self.plan_holding_lease(tenant, trigger, feed, run_id, started).await;
        if let Err(e) = self.sync_state.release_lease(tenant, PLANNER_LEASE, &owner).await {
            tracing::warn!(error = %e, %tenant, "could not release the planner lease; it expires by itself");
        }
        result.map(|r| PlanOutcome::Planned(Box::new(r)))
    }

    async fn plan_holding_lease(
        &self,
        tenant: &TenantId,
        trigger: Trigger,
        feed: &dyn ChangeFeed,
        run_id: RunId,
        started: DateTime<Utc>,
    ) -> Result<RunRecord, BulkPlanError> {
        let ledger = self.ledger();
        let mut record = RunRecord::new(tenant.clone(), run_id.clone(), trigger, started);
        ledger.put(&record).await?;

        let mut stop = None;
        let mut streams = std::collections::BTreeMap::new();
        match feed.threshold().await {
            Err(e) => stop = Some(unavailable(Stream::AtCompanies, e)),
            Ok(info) => match self.config.budget.check(&info) {
                BudgetVerdict::Stop(s) => stop = Some(StopReason::budget(s)),
                BudgetVerdict::Proceed(mut meter) => {
                    for &stream in &self.config.streams {
                        let mut run = StreamRun {
                            planner: self,
                            feed,
                            meter: &mut meter,
                            tenant,
                            run_id: &run_id,
                            stream,
                            plan: StreamPlan::default(),
                        };
                        let halted = run.plan_stream().await?;
                        streams.insert(stream, run.plan);
                        if let Some(Halt::Stop(reason)) = halted {
                            stop = Some(reason);
                            break;
                        }
                    }
                }
            },
        }
        if let Some(reason) = &stop {
            tracing::warn!(%tenant, run = %run_id, reason = %json!(reason), "planning stopped early");
        }
        let planner_calls = feed.autotask_calls();
        let finished = self.clock.now();
        // Workers may already have reported outcomes: merge into the stored record.
        let merged = ledger
            .update(tenant, &run_id, |r| {
                r.streams = streams.clone();
                r.autotask_calls.planner = planner_calls;
                r.finish_planning(finished, stop.clone());
            })
            .await;
        match merged {
            Ok(r) => record = r,
            Err(e) => return Err(e.into()),
        }
        Ok(record)
    }
}

fn unavailable(stream: Stream, e: FeedError) -> StopReason {
    StopReason::SourceUnavailable {
        stream,
        message: e.to_string(),
    }
}

impl StreamRun<'_> {
    /// Plans one stream window by window; returns why it stopped early, if it did.
    async fn plan_stream(&mut self) -> Result<Option<Halt>, BulkPlanError> {
        let cfg = &self.planner.config;
        let now = self.planner.clock.now();
        let checkpoint = self
            .planner
            .sync_state
            .get_checkpoint(self.tenant, self.stream.as_str())
            .await?;
        let current: Option<DateTime<Utc>> = checkpoint
            .as_ref()
            .and_then(|c| c.doc.get("watermark").cloned())
            .and_then(|w| serde_json::from_value(w).ok());
        let from = current.map_or(now - cfg.initial_lookback, |w| w - cfg.overlap);
        self.plan.from = current;
        self.plan.checkpoint = current;
        self.plan.to = Some(now);
        let Some(span) = Window::new(from, now) else {
            self.plan.complete = true;
            return Ok(None);
        };
        let mut results = Vec::new();
        let mut halt = None;
        for window in span.chunks(cfg.window_span) {
            let done = match self.plan_window(window).await? {
                Ok(()) => true,
                Err(h) => {
                    halt = Some(h);
                    false
                }
            };
            results.push(WindowResult {
                window,
                fully_enqueued: done,
            });
            if !done {
                break;
            }
        }
        self.plan.complete = halt.is_none();
        let advanced = advance_checkpoint(current, &results);
        if advanced != current
            && let Some(mark) = advanced
        {
            let doc = json!({ "stream": self.stream, "watermark": mark, "run_id": self.run_id });
            self.planner
                .sync_state
                .put_checkpoint(
                    self.tenant,
                    self.stream.as_str(),
                    &doc,
                    checkpoint.map(|c| c.version),
                    now,
                )
                .await?;
            self.plan.checkpoint = Some(mark);
        }
        Ok(halt)
    }

    /// Reads and enqueues one window; `Err(halt)` when it could not finish.
    async fn plan_window(&mut self, window: Window) -> Result<Result<(), Halt>, BulkPlanError> {
        if self.stream == Stream::ColDocuments {
            let feed = self.feed;
            let parts = collect_split_on_cap(
                window,
                Duration::seconds(1),
                |e: &FeedError| matches!(e, FeedError::TooManyDocuments),
                |w| async move { feed.changes(Stream::ColDocuments, w, None).await.map(|p| p.changes) },
            )
            .await;
            let changes = match parts {
                Ok(parts) => parts.into_iter().flat_map(|(_, c)| c).collect(),
                Err(SplitError::Unsplittable { window, .. }) => {
                    return Ok(Err(Halt::Stop(StopReason::SourceUnavailable {
                        stream: self.stream,
                        message: format!(
                            "more than 500 documents changed between {} and {}",
                            window.from, window.to
                        ),
                    })));
                }
                Err(SplitError::Source(e)) => return Ok(Err(Halt::Stop(unavailable(self.stream, e)))),
            };
            return Ok(self.enqueue(changes).await);
        }
        let mut cursor = None;
        loop {
            if self.stream.is_autotask()
                && let Err(stop) = self.meter.try_spend(1)
            {
                return Ok(Err(Halt::Stop(StopReason::budget(stop))));
            }
            let page = match self.feed.changes(self.stream, window, cursor).await {
                Ok(p) => p,
                Err(e) => return Ok(Err(Halt::Stop(unavailable(self.stream, e)))),
            };
            if let Err(h) = self.enqueue(page.changes).await {
                return Ok(Err(h));
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(Ok(())),
            }
        }
    }

    /// Reserves the worker's calls and enqueues; stops at the first item the budget refuses
    /// (the ones before it are enqueued) or the first entry the queue refuses.
    async fn enqueue(&mut self, changes: Vec<super::feed::Change>) -> Result<(), Halt> {
        self.plan.read += changes.len() as u32;
        let per_item = self.planner.config.worker_calls(self.stream);
        let mut items = Vec::with_capacity(changes.len());
        let mut budget_stop = None;
        for c in changes {
            if let Err(stop) = self.meter.try_spend(per_item) {
                budget_stop = Some(StopReason::budget(stop));
                break;
            }
            items.push(WorkItem::new(
                self.tenant.clone(),
                self.run_id.clone(),
                self.stream,
                c.entity_id,
                c.modified_at,
            ));
        }
        let messages: Vec<OutgoingMessage> = items
            .iter()
            .enumerate()
            .map(|(i, item)| OutgoingMessage {
                id: format!("i{i}"),
                body: item.to_body(),
            })
            .collect();
        let total = messages.len() as u32;
        let outcome = match self.planner.queue.send(messages).await {
            Ok(o) => o,
            Err(e) => {
                return Err(Halt::Stop(StopReason::EnqueueFailed {
                    stream: self.stream,
                    message: e.to_string(),
                }));
            }
        };
        self.plan.planned += outcome.sent.len() as u32;
        if let Some(first) = outcome.failed.first() {
            return Err(Halt::Stop(StopReason::EnqueueFailed {
                stream: self.stream,
                message: format!(
                    "{} of {total} work items were refused by the queue ({}: {})",
                    outcome.failed.len(),
                    first.code,
                    first.message
                ),
            }));
        }
        match budget_stop {
            Some(reason) => Err(Halt::Stop(reason)),
            None => Ok(()),
        }
    }
}
