//! The steps of Import and Map ([`shared::sync::customers::map_job`]): each queue message is one
//! step of one tenant's job; the step's successor is sent to the same queue. A step that fails
//! for a reason that may pass (an outage, the lease of a running step) is reported failed and
//! comes back after the visibility timeout; any other failure, or the last delivery, ends the
//! job as failed with the reason, which the Map Customers screen shows.

use std::time::SystemTime;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use shared::app::AppContext;
use shared::queue::sqs::SqsQueue;
use shared::queue::{OutgoingMessage, WorkQueue};
use shared::sync::bulk::BatchFailures;
use shared::sync::customers::map_job::{JOB_QUEUE_URL_VAR, StepMessage, StepOutcome, fail_job, run_step};

/// The queue's `maxReceiveCount` when `MAP_CUSTOMERS_MAX_RECEIVE_COUNT` is unset (template: 5).
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;

pub struct StepsApp {
    pub app: AppContext,
    pub queue: Box<dyn WorkQueue>,
    pub max_receive_count: u32,
}

impl StepsApp {
    pub async fn from_env() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let app = AppContext::from_env().await?;
        let queues = &app.config.queues;
        let url = queues.map_customers_queue_url.as_deref();
        let queue = SqsQueue::configured(&app.aws, &app.config.endpoints, JOB_QUEUE_URL_VAR, url).await?;
        let max_receive_count = queues
            .map_customers_max_receive_count
            .unwrap_or(DEFAULT_MAX_RECEIVE_COUNT);
        Ok(Self {
            app,
            queue: Box::new(queue),
            max_receive_count,
        })
    }
}

/// `deadline`: the invocation deadline from the Lambda context.
pub async fn handle(app: &StepsApp, event: SqsEvent, deadline: SystemTime) -> SqsBatchResponse {
    let deadline: DateTime<Utc> = deadline.into();
    let mut failures = BatchFailures::new();
    for record in &event.records {
        if let Err(why) = step(app, record, deadline).await {
            tracing::warn!(reason = %why, "step comes back later");
            failures.fail(record.message_id.clone().unwrap_or_default());
        }
    }
    failures.into_response()
}

fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1)
}

/// One message; `Err` (the reason) when it is to be delivered again.
async fn step(app: &StepsApp, record: &SqsMessage, deadline: DateTime<Utc>) -> Result<(), String> {
    let body = record.body.as_deref().unwrap_or("");
    let msg: StepMessage = match serde_json::from_str(body) {
        Ok(m) => m,
        Err(e) => {
            // Delivering it again cannot make it readable.
            tracing::error!(error = %e, "not an Import and Map step; dropped");
            return Ok(());
        }
    };
    let ctx = app
        .app
        .tenant(&msg.tenant, deadline)
        .await
        .map_err(|e| e.message.clone())?
        .with_actor("map-customers-steps");
    match run_step(&ctx, &msg).await {
        Ok(StepOutcome::Next(next)) => {
            let body = serde_json::to_string(&next).map_err(|e| e.to_string())?;
            let id = format!("step-{}", next.step);
            let sent = app
                .queue
                .send(vec![OutgoingMessage { id, body }])
                .await
                .map_err(|e| e.to_string())?;
            // Not sent: this message comes back and sends it again (the step is not redone).
            match sent.failed.first() {
                Some(f) => Err(f.message.clone()),
                None => Ok(()),
            }
        }
        Ok(StepOutcome::Finished | StepOutcome::Stale) => Ok(()),
        Err(e) if e.is_transient() && receive_count(record) < app.max_receive_count => Err(e.to_string()),
        Err(e) => {
            let reason = e.to_string();
            fail_job(&ctx, &msg, reason.clone()).await.map_err(|e| e.to_string())?;
            tracing::warn!(%reason, "Import and Map stopped");
            Ok(())
        }
    }
}
