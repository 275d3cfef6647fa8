//! The worker's Lambda handler: a batch of work items in, only the failed message ids out.

use std::time::SystemTime;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Duration, Utc};
use shared::app::AppContext;
use shared::sync::bulk::{TenantHandlers, Worker};

/// The queue's `maxReceiveCount` when `SYNC_MAX_RECEIVE_COUNT` is unset (template: 5).
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;

pub struct WorkerApp {
    pub worker: Worker,
    pub handlers: TenantHandlers,
}

impl WorkerApp {
    pub async fn from_env() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let app = AppContext::from_env().await?;
        let max_receive_count = app
            .config
            .queues
            .sync_max_receive_count
            .unwrap_or(DEFAULT_MAX_RECEIVE_COUNT);
        Ok(Self::new(app, max_receive_count))
    }

    pub fn new(app: AppContext, max_receive_count: u32) -> Self {
        let worker = Worker {
            idempotency: app.idempotency.clone(),
            ledger: shared::sync::bulk::RunLedger::new(app.sync_state.clone(), app.clock.clone()),
            clock: app.clock.clone(),
            max_receive_count,
            // Messages live at most 4 days in the queue (template MessageRetentionPeriod).
            record_ttl: Duration::days(4),
        };
        Self {
            worker,
            handlers: TenantHandlers {
                app,
                actor: "sync-worker".into(),
            },
        }
    }
}

/// `deadline`: the invocation deadline from the Lambda context (in-progress claims expire then).
pub async fn handle(app: &WorkerApp, event: SqsEvent, deadline: SystemTime) -> SqsBatchResponse {
    let deadline: DateTime<Utc> = deadline.into();
    let (response, summary) = app.worker.process(event, &app.handlers, deadline).await;
    tracing::info!(?summary, failed = response.batch_item_failures.len(), "batch processed");
    response
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::sqs::SqsEvent;
    use shared::sync::bulk::{Stream, WorkItem};

    #[test]
    fn the_sqs_fixture_carries_valid_work_items() {
        let event: SqsEvent = serde_json::from_str(include_str!("../../../events/sync-worker.json")).unwrap();
        assert_eq!(event.records.len(), 2);
        let items: Vec<WorkItem> = event
            .records
            .iter()
            .map(|r| WorkItem::from_body(r.body.as_deref().unwrap()).unwrap())
            .collect();
        assert_eq!(items[0].stream, Stream::AtCompanies);
        assert_eq!(items[0].autotask_id(), Some(29683501));
        assert_eq!(items[1].stream, Stream::ColDocuments);
        assert_eq!(event.records[0].attributes["ApproximateReceiveCount"], "1");
    }
}
