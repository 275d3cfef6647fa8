//! Read-only views of the audit trail and the sync runs, newest first, paged: as JSON, or as the
//! "Audit trail" and "Sync runs" screens. The audit can be searched by record (a ChannelOnline
//! customer or document number, an Autotask id): who did what, before and after.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::store::AuditRecord;
use shared::tenant::TenantId;
use shared::web::{self, ApiError, escape_html};

use crate::screens;
use shared::app::call::SearchBox;

use crate::setup::Screen;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// A search reads at most this many stored pages per answer, then offers to search further.
const SEARCH_PAGES: usize = 10;
/// The search box of the audit screen (not covered by the signature: see `signing::SEARCH_PREFIX`).
const RECORD: &str = "q.record";

/// One answer's worth of audit records, and where to go on.
struct AuditPage {
    items: Vec<AuditRecord>,
    next: Option<String>,
    record: Option<String>,
}

async fn audit_page(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<AuditPage, ApiError> {
    let mut params = shared::function_url::params(req, &["limit", "cursor", RECORD])?;
    let (mut cursor, limit) = paging(&mut params)?;
    let record = params
        .remove(RECORD)
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let Some(wanted) = record.clone() else {
        let page = ctx.audit.list(tenant, cursor.as_deref(), limit).await?;
        return Ok(AuditPage {
            items: page.items,
            next: page.next,
            record,
        });
    };
    // A search reads stored pages until a page's worth matched or the read budget is spent.
    let mut items = Vec::new();
    for _ in 0..SEARCH_PAGES {
        let page = ctx.audit.list(tenant, cursor.as_deref(), MAX_LIMIT).await?;
        items.extend(page.items.into_iter().filter(|r| concerns(r, &wanted)));
        cursor = page.next;
        if items.len() >= limit as usize || cursor.is_none() {
            break;
        }
    }
    Ok(AuditPage {
        items,
        next: cursor,
        record,
    })
}

/// Whether `r` is about the record `wanted` (a ChannelOnline id or number, an Autotask id).
fn concerns(r: &AuditRecord, wanted: &str) -> bool {
    r.col_ids.iter().any(|id| id.eq_ignore_ascii_case(wanted)) || r.at_ids.iter().any(|id| id.to_string() == wanted)
}

fn visible_items(items: &[AuditRecord]) -> Value {
    // Records written before the integration code was kept out of them are shown without it.
    let mut items = serde_json::to_value(items).expect("audit records serialise");
    crate::view::hide(&mut items);
    items
}

pub async fn audit(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<Value, ApiError> {
    let page = audit_page(ctx, tenant, req).await?;
    let count = page.items.len();
    Ok(json!({
        "items": visible_items(&page.items),
        "next": page.next,
        "record": page.record,
        "message": format!("{count} audit record(s), newest first."),
    }))
}

pub async fn runs(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<Value, ApiError> {
    let mut params = shared::function_url::params(req, &["limit", "cursor"])?;
    let (cursor, limit) = paging(&mut params)?;
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

/// The "Audit trail" screen.
pub async fn audit_screen(screen: &Screen<'_>, req: &Request) -> Response<Body> {
    let page = match audit_page(screen.app, &screen.tenant, req).await {
        Ok(page) => page,
        Err(e) => return e.into_response(screen.format),
    };
    let link = screen.links().await;
    let items = visible_items(&page.items);
    let rows: String = items.as_array().into_iter().flatten().map(audit_row).collect();
    let record = page.record.clone().unwrap_or_default();
    let search = screen
        .search_form(
            "/audit",
            "Find a record",
            &[SearchBox {
                name: "record",
                label: "Customer, document or Autotask id",
                value: record,
                attrs: "type=\"search\"",
            }],
        )
        .await;
    let summary = match &page.record {
        Some(r) => format!("{} record(s) about {r}, newest first.", page.items.len()),
        None => format!("{} record(s), newest first.", page.items.len()),
    };
    let mut body = format!(
        "{search}{}<table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Records</th><th>Outcome</th>\
         <th>Before and after</th></tr></thead><tbody>{rows}</tbody></table>",
        screens::para("hint", &summary)
    );
    if let Some(next) = &page.next {
        let mut href = link("/audit", &[("cursor".to_owned(), next.clone())]);
        if let Some(r) = &page.record {
            href.push_str(&format!(
                "&{RECORD}={}",
                url::form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>()
            ));
        }
        let label = if page.record.is_some() {
            "Search older records"
        } else {
            "Older records"
        };
        body.push_str(&format!("<p>{}</p>", screens::anchor(&href, label)));
    }
    web::html(
        http::StatusCode::OK,
        screens::page("Audit trail", "/audit", &link, &body),
    )
}

fn audit_row(r: &Value) -> String {
    let text = |v: &Value| escape_html(v.as_str().unwrap_or(""));
    let ids = |v: &Value| {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|id| escape_html(&id.as_str().map_or_else(|| id.to_string(), str::to_owned)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let changes = serde_json::to_string_pretty(&r["changes"]).unwrap_or_default();
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>ChannelOnline: {}<br>Autotask: {}</td><td>{}</td>\
         <td><details><summary>Show</summary><pre>{}</pre></details></td></tr>",
        text(&r["at"]),
        text(&r["actor"]),
        text(&r["action"]),
        ids(&r["col_ids"]),
        ids(&r["at_ids"]),
        escape_html(
            &r["outcome"]
                .as_str()
                .map_or_else(|| r["outcome"].to_string(), str::to_owned)
        ),
        escape_html(&changes)
    )
}

/// The "Sync runs" screen: each run's counts both ways, statuses written back, Autotask calls.
pub async fn runs_screen(screen: &Screen<'_>, req: &Request) -> Response<Body> {
    let answer = match runs(screen.app, &screen.tenant, req).await {
        Ok(answer) => answer,
        Err(e) => return e.into_response(screen.format),
    };
    let link = screen.links().await;
    let rows: String = answer["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|run| run_row(&run["run_id"], &run["data"]))
        .collect();
    let mut body = format!(
        "{}<table><thead><tr><th>Run</th><th>Started</th><th>Finished</th><th>Planned</th><th>Done</th>\
         <th>Skipped</th><th>Failed</th><th>Statuses written back</th><th>Autotask calls</th><th>Notes</th>\
         </tr></thead><tbody>{rows}</tbody></table>",
        screens::para("hint", answer["message"].as_str().unwrap_or(""))
    );
    if let Some(next) = answer["next"].as_str() {
        let href = link("/runs", &[("cursor".to_owned(), next.to_owned())]);
        body.push_str(&format!("<p>{}</p>", screens::anchor(&href, "Older runs")));
    }
    web::html(http::StatusCode::OK, screens::page("Sync runs", "/runs", &link, &body))
}

fn run_row(id: &Value, data: &Value) -> String {
    let text = |v: &Value| {
        escape_html(&match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let counts = &data["counts"];
    let calls = &data["autotask_calls"];
    let total = calls["planner"].as_u64().unwrap_or(0) + calls["worker"].as_u64().unwrap_or(0);
    let kind = data["kind"].as_str().unwrap_or("bulk sync");
    let failures: Vec<String> = data["failures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} {}: {}",
                text(&f["stream"]),
                text(&f["entity_id"]),
                text(&f["reason"])
            )
        })
        .collect();
    let mut notes = escape_html(data["stop_reason"]["message"].as_str().unwrap_or(""));
    if !failures.is_empty() {
        notes.push_str(&format!(
            "<details><summary>{} failure(s)</summary>{}</details>",
            failures.len(),
            failures.join("<br>")
        ));
    }
    format!(
        "<tr><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{notes}</td></tr>",
        text(id),
        escape_html(kind),
        text(&data["started_at"]),
        text(&data["finished_at"]),
        text(&counts["planned"]),
        text(&counts["done"]),
        text(&counts["skipped"]),
        text(&counts["failed"]),
        text(&counts["statuses_written_back"]),
        if total > 0 { total.to_string() } else { String::new() },
    )
}

fn paging(params: &mut std::collections::BTreeMap<String, String>) -> Result<(Option<String>, u32), ApiError> {
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
