//! The `sync-planner` Lambda, started per tenant by an EventBridge Scheduler schedule.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use sync_planner::{PlannerApp, ScheduleInput};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = Arc::new(PlannerApp::from_env().await?);
    run(service_fn(move |event: LambdaEvent<ScheduleInput>| {
        let app = Arc::clone(&app);
        async move {
            sync_planner::handle(&app, event.payload, event.context.deadline().into())
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
