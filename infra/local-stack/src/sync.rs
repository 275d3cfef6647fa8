//! `local-stack sync`: one bulk-sync run of the demo tenant on demand. The planner enqueues
//! into an in-process queue (SQS semantics: visibility timeout, receive count, dead-letter
//! queue) that is drained through the worker's handlers; the run record is printed.

use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};
use shared::clock::SystemClock;
use shared::queue::{InProcessQueue, QueueConfig};
use shared::sync::bulk::{OnDemandError, PlannerConfig, TenantHandlers, run_on_demand};
use shared::tenant::TenantId;

use crate::seed::DEMO_TENANT;
use crate::stack::LocalStack;

#[derive(Debug, thiserror::Error)]
pub enum SyncCommandError {
    #[error("{message}{}", fix.as_ref().map(|f| format!("\nWhat to do: {f}")).unwrap_or_default())]
    Tenant { message: String, fix: Option<String> },
    #[error(transparent)]
    Run(#[from] OnDemandError),
}

/// Runs the sync and answers `{ "run": <run record>, "dead_letters": [...] }`.
pub async fn run(stack: &LocalStack) -> Result<Value, SyncCommandError> {
    let tenant = TenantId::parse(DEMO_TENANT).expect("valid demo tenant");
    // One local run drains the whole queue: give it a long budget, not one invocation's.
    let deadline = stack.ctx.clock.now() + chrono::Duration::minutes(15);
    let ctx = stack
        .ctx
        .tenant(&tenant, deadline)
        .await
        .map_err(|e| SyncCommandError::Tenant {
            message: e.message,
            fix: e.fix,
        })?;
    let ctx = ctx.with_actor("local-stack sync");
    // Short timeouts so a failed item is retried within seconds locally.
    let queue = Arc::new(InProcessQueue::new(
        QueueConfig {
            visibility_timeout: Duration::seconds(2),
            max_receive_count: 3,
        },
        Arc::new(SystemClock),
    ));
    let handlers = TenantHandlers {
        app: (*stack.ctx).clone(),
        actor: "local-stack sync".into(),
    };
    let record = run_on_demand(&ctx, &handlers, queue.clone(), PlannerConfig::default()).await?;
    let dead: Vec<Value> = queue
        .dead_letters()
        .into_iter()
        .map(|m| json!({ "message_id": m.message_id, "receives": m.receive_count, "body": m.body }))
        .collect();
    Ok(json!({ "run": record.to_view(), "dead_letters": dead }))
}
