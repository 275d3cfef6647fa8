//! The `sync-planner` Lambda, started by the one EventBridge Scheduler schedule (or per tenant on demand).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use sync_planner::{PlannerApp, PlannerInput};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = Arc::new(PlannerApp::from_env().await?);
    run(service_fn(move |event: LambdaEvent<PlannerInput>| {
        let app = Arc::clone(&app);
        async move {
            sync_planner::handle_input(&app, event.payload, event.context.deadline())
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
