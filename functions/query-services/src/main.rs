//! The `query-services` Lambda: see the library for routes and answers.

use std::sync::Arc;

use lambda_http::{Error, Request, run, service_fn};
use shared::app::AppContext;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let ctx = Arc::new(AppContext::from_env().await?);
    run(service_fn(move |req: Request| {
        let ctx = Arc::clone(&ctx);
        async move { query_services::handle(&ctx, req).await }
    }))
    .await
}
