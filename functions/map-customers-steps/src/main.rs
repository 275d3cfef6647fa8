//! The `map-customers-steps` Lambda, fed by the Import and Map job queue (ReportBatchItemFailures).

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = Arc::new(map_customers_steps::StepsApp::from_env().await?);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Error>(map_customers_steps::handle(&app, event.payload, event.context.deadline()).await) }
    }))
    .await
}
