//! The functions the local stack serves: one line per function crate.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use shared::app::AppContext;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, lambda_http::Error>> + Send>>;
/// A function's handler, as its `main.rs` hands it to `lambda_http::run`.
pub type Handler = Arc<dyn Fn(Arc<AppContext>, Request) -> HandlerFuture + Send + Sync>;

/// Every function, by the name of its crate (and its path segment on the local server).
/// A new function is one more `mount(...)` line here.
pub fn all() -> Vec<(&'static str, Handler)> {
    vec![
        mount("settings", |ctx, req| async move { settings::handle(&ctx, req).await }),
        mount("export-customer", |ctx, req| async move {
            export_customer::handle(&ctx, req).await
        }),
        mount("import-customer", |ctx, req| async move {
            import_customer::handle(&ctx, req).await
        }),
        mount("map-customers", |ctx, req| async move {
            map_customers::handle(&ctx, req).await
        }),
        mount("export-document", |ctx, req| async move {
            export_document::handle(&ctx, req).await
        }),
        mount("query-opportunities", |ctx, req| async move {
            query_opportunities::handle(&ctx, req).await
        }),
        mount("query-services", |ctx, req| async move {
            query_services::handle(&ctx, req).await
        }),
    ]
}

fn mount<F, Fut>(name: &'static str, handler: F) -> (&'static str, Handler)
where
    F: Fn(Arc<AppContext>, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, lambda_http::Error>> + Send + 'static,
{
    (name, Arc::new(move |ctx, req| Box::pin(handler(ctx, req))))
}
