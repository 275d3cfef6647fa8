//! Read-only views of the audit trail and the sync runs, newest first, paged.

use lambda_http::Request;
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::tenant::TenantId;
use shared::web::ApiError;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub async fn audit(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<Value, ApiError> {
    let (cursor, limit) = paging(req)?;
    let page = ctx.audit.list(tenant, cursor.as_deref(), limit).await?;
    let count = page.items.len();
    // Records written before the integration code was kept out of them are shown without it.
    let mut items = serde_json::to_value(&page.items).expect("audit records serialise");
    crate::view::hide(&mut items);
    Ok(json!({
        "items": items,
        "next": page.next,
        "message": format!("{count} audit record(s), newest first."),
    }))
}

pub async fn runs(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<Value, ApiError> {
    let (cursor, limit) = paging(req)?;
    let page = ctx.sync_state.list_runs(tenant, cursor.as_deref(), limit).await?;
    let count = page.items.len();
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|r| json!({ "run_id": r.run_id, "data": r.data }))
        .collect();
    Ok(json!({
        "items": items,
        "next": page.next,
        "message": format!("{count} sync run(s), newest first."),
    }))
}

fn paging(req: &Request) -> Result<(Option<String>, u32), ApiError> {
    let mut params = shared::function_url::params(req, &["limit", "cursor"])?;
    let limit = match params.remove("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("limit: must be a number from 1 to {MAX_LIMIT}"),
                )
                .with_details(json!({ "field": "limit" }))
            })?,
    };
    Ok((params.remove("cursor"), limit))
}
