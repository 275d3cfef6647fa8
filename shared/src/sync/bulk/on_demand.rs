//! A bulk-sync run on demand, start to finish in one process: plan into an in-process queue,
//! then drain it through the worker exactly as the SQS event source would (failed items come
//! back after the visibility timeout, poison ones end in the dead-letter queue). The local
//! stack's `sync` command; also how tests drive whole runs.

use std::sync::Arc;

use chrono::Duration;

use super::drain::drain_visible;
use super::ledger::RunLedger;
use super::planner::{BulkPlanError, PlanOutcome, Planner, PlannerConfig};
use super::run_record::{RunRecord, Trigger};
use super::tenant_feed::TenantFeed;
use super::worker::{HandlerFactory, Worker};
use crate::app::TenantContext;
use crate::queue::{InProcessQueue, QueueError};

#[derive(Debug, thiserror::Error)]
pub enum OnDemandError {
    #[error(transparent)]
    Plan(#[from] BulkPlanError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("another bulk sync of this tenant is planning (lease held by {0}); try again when it finishes")]
    LeaseHeld(String),
    #[error("the run record could not be read back: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// Plans and drains one run; returns the final run record (and the queue keeps any dead letters).
pub async fn run_on_demand(
    ctx: &TenantContext,
    handlers: &dyn HandlerFactory,
    queue: Arc<InProcessQueue>,
    config: PlannerConfig,
) -> Result<RunRecord, OnDemandError> {
    let planner = Planner {
        sync_state: ctx.sync_state.clone(),
        queue: queue.clone(),
        clock: ctx.clock.clone(),
        config: config.for_options(&ctx.settings.bulk_sync),
    };
    let feed = TenantFeed::new(ctx.autotask.clone(), ctx.channelonline.clone());
    let run = match planner.plan(&ctx.tenant, Trigger::Manual, &feed).await? {
        PlanOutcome::LeaseHeld { owner, .. } => return Err(OnDemandError::LeaseHeld(owner)),
        PlanOutcome::Planned(run) => run,
    };
    let worker = Worker {
        idempotency: ctx.idempotency_store.clone(),
        ledger: RunLedger::new(ctx.sync_state.clone(), ctx.clock.clone()),
        clock: ctx.clock.clone(),
        max_receive_count: queue.config().max_receive_count,
        record_ttl: Duration::days(4),
    };
    loop {
        let deadline = ctx.clock.now() + Duration::seconds(60);
        drain_visible(queue.as_ref(), |event| {
            let worker = &worker;
            async move { Ok(worker.process(event, handlers, deadline).await.0) }
        })
        .await?;
        let Some(next) = queue.next_visible_at() else { break };
        // Failed items return after the visibility timeout, as on SQS.
        if let Ok(wait) = (next - ctx.clock.now()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }
    Ok(worker.ledger.get(&ctx.tenant, &run.run_id).await?.unwrap_or(*run))
}
