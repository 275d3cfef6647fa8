//! The bulk-sync worker: one SQS batch at a time, each message its own unit. Per item: the
//! idempotency record (keyed by the planner's item key) makes redeliveries and re-plans no-ops,
//! the handler does the work with the same domain services as the buttons, the run record
//! gets the outcome, and only failed messages go back to the queue (`ReportBatchItemFailures`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::batch_response::BatchFailures;
use super::ledger::RunLedger;
use super::run_record::{ItemOutcome, RunId};
use super::work_item::WorkItem;
use crate::clock::Clock;
use crate::idempotency::{ClaimOutcome, Idempotency, IdempotencyStore};
use crate::queue::ReceivedMessage;
use crate::store::StoreError;
use crate::tenant::TenantId;

/// The function name in idempotency keys (`sync-worker#<tenant>#<item key>`).
pub const WORKER_FUNCTION: &str = "sync-worker";

/// What a handler did with an item that needed no retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    Done(String),
    Skipped(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandledItem {
    pub result: Handled,
    pub autotask_calls: u64,
}

/// Why a handler could not finish an item.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ItemError {
    pub reason: String,
    /// Worth another delivery (Autotask or ChannelOnline unreachable or throttled).
    pub retryable: bool,
    pub autotask_calls: u64,
}

/// Does the work for one item (customers both ways, document re-export, …).
#[async_trait]
pub trait ItemHandler: Send + Sync {
    async fn handle(&self, item: &WorkItem) -> Result<HandledItem, ItemError>;
}

/// Builds the handler of a tenant (its settings and clients), once per batch and tenant.
#[async_trait]
pub trait HandlerFactory: Send + Sync {
    /// `deadline`: the invocation's (the tenant's clients stop before it).
    async fn for_tenant(&self, tenant: &TenantId, deadline: DateTime<Utc>) -> Result<Arc<dyn ItemHandler>, ItemError>;
}

/// What the idempotency record keeps: which run finished the item, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredOutcome {
    run_id: RunId,
    outcome: ItemOutcome,
}

#[derive(Clone)]
pub struct Worker {
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub ledger: RunLedger,
    pub clock: Arc<dyn Clock>,
    /// The queue's `maxReceiveCount`: a retryable failure on this delivery is final.
    pub max_receive_count: u32,
    /// How long a finished item's record is kept (≥ the age of the oldest message that can
    /// still be redelivered).
    pub record_ttl: Duration,
}

/// Counts for logs and the local stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchSummary {
    pub done: u32,
    pub skipped: u32,
    pub failed_final: u32,
    pub retry: u32,
    pub duplicates: u32,
}

enum MessageResult {
    Ok,
    Retry,
}

impl Worker {
    fn idem(&self) -> Idempotency {
        Idempotency::new(self.idempotency.clone(), self.clock.clone(), WORKER_FUNCTION).with_expiry(self.record_ttl)
    }

    /// Processes a batch; `deadline` is the Lambda deadline (an in-progress claim expires then).
    pub async fn process(
        &self,
        event: SqsEvent,
        handlers: &dyn HandlerFactory,
        deadline: DateTime<Utc>,
    ) -> (SqsBatchResponse, BatchSummary) {
        let mut failures = BatchFailures::new();
        let mut summary = BatchSummary::default();
        let mut cache: HashMap<TenantId, Result<Arc<dyn ItemHandler>, ItemError>> = HashMap::new();
        // Sequential on purpose: each worker makes one Autotask call at a time (3 per endpoint
        // across the stack = 2 workers + 1 button).
        for message in event.records {
            let id = message.message_id.clone().unwrap_or_default();
            match self
                .process_one(&message, handlers, &mut cache, deadline, &mut summary)
                .await
            {
                MessageResult::Ok => {}
                MessageResult::Retry => failures.fail(id),
            }
        }
        (failures.into_response(), summary)
    }

    async fn process_one(
        &self,
        message: &SqsMessage,
        handlers: &dyn HandlerFactory,
        cache: &mut HashMap<TenantId, Result<Arc<dyn ItemHandler>, ItemError>>,
        deadline: DateTime<Utc>,
        summary: &mut BatchSummary,
    ) -> MessageResult {
        let receive_count: u32 = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let last_delivery = receive_count >= self.max_receive_count;
        let item = match WorkItem::from_body(message.body.as_deref().unwrap_or_default()) {
            Ok(item) => item,
            Err(e) => {
                // Cannot succeed on any delivery: leave it to the dead-letter queue for a look.
                tracing::error!(message_id = ?message.message_id, error = %e, "not a work item");
                summary.retry += 1;
                return MessageResult::Retry;
            }
        };
        let idem = self.idem();
        let identity = (item.stream, &item.entity_id, item.modified_at);
        let claim = match idem
            .claim(&item.tenant, &item.key, &identity, deadline + crate::app::CLAIM_MARGIN)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(key = %item.key, error = %e, "idempotency store unavailable");
                summary.retry += 1;
                return MessageResult::Retry;
            }
        };
        match claim.outcome {
            ClaimOutcome::Claimed => {}
            ClaimOutcome::Replay(stored) => return self.replayed(&item, stored, summary).await,
            ClaimOutcome::InProgress { .. } | ClaimOutcome::PayloadMismatch => {
                summary.retry += 1;
                return MessageResult::Retry;
            }
        }
        let handler = match cache.get(&item.tenant) {
            Some(h) => h.clone(),
            None => {
                let h = handlers.for_tenant(&item.tenant, deadline).await;
                cache.insert(item.tenant.clone(), h.clone());
                h
            }
        };
        let result = match handler {
            Ok(h) => h.handle(&item).await,
            Err(e) => Err(e),
        };
        let retryable_failure = matches!(&result, Err(e) if e.retryable);
        let outcome = match result {
            Ok(HandledItem {
                result: Handled::Done(summary_text),
                autotask_calls,
            }) => ItemOutcome::Done {
                summary: summary_text,
                autotask_calls,
            },
            Ok(HandledItem {
                result: Handled::Skipped(reason),
                autotask_calls,
            }) => ItemOutcome::Skipped { reason, autotask_calls },
            Err(e) => ItemOutcome::Failed {
                final_attempt: !e.retryable || last_delivery,
                reason: e.reason,
                autotask_calls: e.autotask_calls,
            },
        };
        if matches!(outcome, ItemOutcome::Failed { .. }) {
            // A failed item may run again (redelivery, the next run or the next change).
            if let Err(e) = idem.release(&claim.key).await {
                tracing::warn!(key = %item.key, error = %e, "could not release the claim; it expires by itself");
            }
        } else {
            let stored = StoredOutcome {
                run_id: item.run_id.clone(),
                outcome: outcome.clone(),
            };
            if let Err(e) = idem.complete(&claim.key, &stored).await {
                tracing::warn!(key = %item.key, error = %e, "could not store the outcome");
            }
        }
        match &outcome {
            ItemOutcome::Done { .. } => summary.done += 1,
            ItemOutcome::Skipped { .. } => summary.skipped += 1,
            ItemOutcome::Failed {
                final_attempt: true, ..
            } => summary.failed_final += 1,
            ItemOutcome::Failed { .. } => summary.retry += 1,
        }
        self.record(&item, &outcome).await;
        if let ItemOutcome::Failed { reason, .. } = &outcome {
            tracing::warn!(key = %item.key, receive_count, retryable_failure, %reason, "work item failed");
        }
        // The last retryable failure also goes back, so SQS moves it to the dead-letter queue.
        if retryable_failure {
            MessageResult::Retry
        } else {
            MessageResult::Ok
        }
    }

    /// A redelivered item that already finished: the same run's redelivery is not counted
    /// again; another run's re-plan of the same change counts as skipped.
    async fn replayed(&self, item: &WorkItem, stored: Value, summary: &mut BatchSummary) -> MessageResult {
        summary.duplicates += 1;
        let previous: Option<StoredOutcome> = serde_json::from_value(stored).ok();
        match previous {
            Some(p) if p.run_id == item.run_id => {}
            Some(p) => {
                let skipped = ItemOutcome::Skipped {
                    reason: format!("already synced by run {}", p.run_id),
                    autotask_calls: 0,
                };
                summary.skipped += 1;
                self.record(item, &skipped).await;
            }
            None => tracing::warn!(key = %item.key, "stored outcome unreadable; treated as done"),
        }
        MessageResult::Ok
    }

    async fn record(&self, item: &WorkItem, outcome: &ItemOutcome) {
        let at = self.clock.now();
        match self
            .ledger
            .update(&item.tenant, &item.run_id, |r| r.record(item, outcome, at))
            .await
        {
            Ok(_) => {}
            Err(StoreError::NotFound) => tracing::warn!(run = %item.run_id, "run record gone; outcome only logged"),
            Err(e) => tracing::warn!(run = %item.run_id, error = %e, "could not update the run record"),
        }
    }
}

/// The SQS event Lambda would deliver for these messages (local stack and tests).
pub fn sqs_event(messages: &[ReceivedMessage]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut msg = SqsMessage::default();
            msg.message_id = Some(m.message_id.clone());
            msg.receipt_handle = Some(m.receipt_handle.clone());
            msg.body = Some(m.body.clone());
            msg.attributes = HashMap::from([
                ("ApproximateReceiveCount".to_owned(), m.receive_count.to_string()),
                ("SentTimestamp".to_owned(), m.sent_at.timestamp_millis().to_string()),
            ]);
            msg.event_source = Some("aws:sqs".into());
            msg
        })
        .collect();
    event
}
