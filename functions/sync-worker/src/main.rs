//! The `sync-worker` Lambda, fed by the SQS event source mapping (ReportBatchItemFailures).

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = Arc::new(sync_worker::WorkerApp::from_env().await?);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Error>(sync_worker::handle(&app, event.payload, event.context.deadline()).await) }
    }))
    .await
}
