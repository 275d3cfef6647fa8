//! The `export-document` function: a ChannelOnline quote or sales order → an Autotask
//! opportunity with exactly one quote and its items.
//!
//! Route (signed; the tenant comes from the signature only): `POST /` with a JSON body, or
//! `GET /?…` (the button's link), parameters:
//! `document_number` (required), `opportunity_id`, `custom_name`, `dry_run`.
//! Answer: the [`ExportOutcome`] (per-line status and reasons; with `dry_run` the full plan of
//! Autotask calls and nothing written), as JSON or as the pop-up HTML page.

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::app::{AppContext, answer};
use shared::function_url::{self, flag, parsed, required};
use shared::sync::documents::{CustomerLink, ExportDocumentRequest, ExportOutcome, export_document};
use shared::tenant::TenantId;
use shared::web::{ApiError, Format};

pub const FUNCTION: &str = "export-document";
/// The audience of the "export the customer first" links (export-customer's `FUNCTION`).
const EXPORT_CUSTOMER: &str = "export-customer";

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(ctx: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let format = Format::from_headers(req.headers());
    let tenant = match ctx.authenticate(&req, FUNCTION).await {
        Ok(tenant) => tenant,
        Err(e) => return Ok(e.into_response(format)),
    };
    let result = export(ctx, &tenant, &req).await;
    let title = match &result {
        Ok(body) if body["failed_lines"].as_u64().unwrap_or(0) > 0 => "Exported, with lines to fix",
        Ok(body) if body["dry_run"] == Value::Bool(true) => "Export preview (nothing written)",
        Ok(_) => "Exported to Autotask",
        Err(_) => "Not exported",
    };
    Ok(answer(format, title, result))
}

async fn export(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<Value, ApiError> {
    if !matches!(*req.method(), http::Method::GET | http::Method::POST) {
        return Err(ApiError::new(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Use POST (or GET).",
        ));
    }
    let params = function_url::params(req, &["document_number", "opportunity_id", "custom_name", "dry_run"])?;
    let request = ExportDocumentRequest {
        document_number: required(&params, "document_number")?,
        opportunity_id: parsed(&params, "opportunity_id")?,
        custom_name: params.get("custom_name").cloned().filter(|n| !n.trim().is_empty()),
        dry_run: flag(&params, "dry_run"),
    };
    let deadline = function_url::deadline(req, ctx.clock.now());
    let tctx = ctx.tenant(tenant, deadline).await?.with_actor(FUNCTION);
    let link = customer_link(ctx, tenant).await;
    let link = link.as_ref().map(|f| f as CustomerLink<'_>);
    let outcome: ExportOutcome = export_document(&tctx, &request, link).await?;
    Ok(serde_json::to_value(outcome).expect("outcome serialises"))
}

/// Signed links to export-customer (its URL from `EXPORT_CUSTOMER_URL`), offered when the
/// document's customer is not mapped yet. They are signed for export-customer, the function
/// that answers them.
async fn customer_link(ctx: &AppContext, tenant: &TenantId) -> Option<impl Fn(&str) -> String + Send + Sync> {
    let base = shared::config::optional("EXPORT_CUSTOMER_URL")?;
    let keys = ctx.secrets.signing_keys(tenant).await.ok()??;
    let (tenant, now) = (tenant.clone(), ctx.clock.now().timestamp());
    Some(move |customer: &str| {
        let params = [("customer_number".to_owned(), customer.to_owned())];
        shared::signing::signed_url(&keys.current, &tenant, EXPORT_CUSTOMER, &base, "/", &params, now)
    })
}
