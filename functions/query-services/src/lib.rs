//! The `query-services` function: search Autotask services, service bundles and labor (roles)
//! by name, and add the chosen one to a ChannelOnline document as a line that keeps its
//! Autotask identity (never to any product catalog).
//!
//! Routes (signed; the tenant comes from the signature only):
//! - `GET /?document_number=…&search=…&kinds=service,service_bundle,labor` → the choices
//!   (kind, id, name, price, period) as JSON, or the picker page whose "Add" links are signed
//!   calls of `/add`;
//! - `GET|POST /add` with `document_number`, `kind`, `id`, optional `quantity` → the added line.

use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::app::{AppContext, answer};
use shared::function_url::{self, parsed, required};
use shared::sync::documents::{AddServiceLine, ServiceChoice, ServiceKind, add_service_line, search_services};
use shared::tenant::TenantId;
use shared::web::{ApiError, Format, escape_html};

pub const FUNCTION: &str = "query-services";

pub async fn handle(ctx: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let format = Format::from_headers(req.headers());
    let tenant = match ctx.authenticate(&req, FUNCTION).await {
        Ok(tenant) => tenant,
        Err(e) => return Ok(e.into_response(format)),
    };
    let route = req.uri().path().trim_end_matches('/').to_owned();
    Ok(match route.as_str() {
        "" => match search(ctx, &tenant, &req).await {
            Ok((document, choices)) if format == Format::Html => {
                function_url::html_response(picker(ctx, &tenant, &req, document.as_deref(), &choices).await)
            }
            Ok((document, choices)) => answer(
                format,
                "Autotask services",
                Ok(json!({ "document_number": document, "items": choices })),
            ),
            Err(e) => e.into_response(format),
        },
        "/add" => answer(format, "Line added", add(ctx, &tenant, &req).await),
        _ => ApiError::not_found("no_such_route", "There is nothing at this address")
            .with_fix("Use / to search and /add to place an item on a document.")
            .into_response(format),
    })
}

fn kind(raw: &str) -> Result<ServiceKind, ApiError> {
    serde_json::from_value(json!(raw.trim().to_ascii_lowercase())).map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("kind {raw:?} is not service, service_bundle or labor"),
        )
        .with_details(json!({ "field": "kind" }))
    })
}

async fn tenant_context(
    ctx: &AppContext,
    tenant: &TenantId,
    req: &Request,
) -> Result<shared::app::TenantContext, ApiError> {
    let deadline = function_url::deadline(req, ctx.clock.now());
    let tctx = ctx.tenant(tenant, deadline).await?.with_actor(FUNCTION);
    Ok(tctx)
}

async fn search(
    ctx: &AppContext,
    tenant: &TenantId,
    req: &Request,
) -> Result<(Option<String>, Vec<ServiceChoice>), ApiError> {
    let params = function_url::params(req, &["document_number", "search", "kinds"])?;
    let kinds = match params.get("kinds").map(|k| k.trim()).filter(|k| !k.is_empty()) {
        Some(list) => list.split(',').map(kind).collect::<Result<Vec<_>, _>>()?,
        None => vec![],
    };
    let tctx = tenant_context(ctx, tenant, req).await?;
    let search = params.get("search").map(String::as_str).unwrap_or("");
    let choices = search_services(&tctx, search, &kinds).await?;
    Ok((
        params.get("document_number").cloned().filter(|d| !d.trim().is_empty()),
        choices,
    ))
}

async fn add(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<serde_json::Value, ApiError> {
    let params = function_url::params(req, &["document_number", "kind", "id", "quantity"])?;
    let add = AddServiceLine {
        document_number: required(&params, "document_number")?,
        kind: kind(&required(&params, "kind")?)?,
        id: parsed(&params, "id")?.ok_or_else(|| ApiError::bad_request("missing_parameter", "id is required"))?,
        quantity: parsed(&params, "quantity")?.unwrap_or(1.0),
    };
    let tctx = tenant_context(ctx, tenant, req).await?;
    Ok(serde_json::to_value(add_service_line(&tctx, &add).await?).expect("line serialises"))
}

async fn picker(
    ctx: &AppContext,
    tenant: &TenantId,
    req: &Request,
    document: Option<&str>,
    choices: &[ServiceChoice],
) -> String {
    let keys = ctx.secrets.signing_keys(tenant).await.ok().flatten();
    let base = function_url::own_base_url(req).unwrap_or_default();
    let now = ctx.clock.now().timestamp();
    let sign = |path: &str, params: &[(String, String)]| match &keys {
        Some(keys) => shared::signing::signed_url(&keys.current, tenant, FUNCTION, &base, path, params, now),
        None => String::new(),
    };
    render_picker(document, choices, &sign)
}

/// The picker: one row per item; with a document, a signed "Add" link per row.
pub fn render_picker(document: Option<&str>, choices: &[ServiceChoice], link: function_url::LinkSigner<'_>) -> String {
    let mut rows = String::new();
    for c in choices {
        let add = match document {
            Some(number) => {
                let kind = serde_json::to_value(c.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let params = [
                    ("document_number".to_owned(), number.to_owned()),
                    ("kind".into(), kind),
                    ("id".into(), c.id.to_string()),
                ];
                format!(
                    "<a class=\"choose\" href=\"{}\">Add</a>",
                    escape_html(&link("/add", &params))
                )
            }
            None => String::new(),
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td></tr>",
            c.kind.label(),
            escape_html(&c.name),
            escape_html(c.description.as_deref().unwrap_or("")),
            c.unit_price,
            escape_html(&c.period),
            add
        ));
    }
    let intro = match document {
        Some(n) => {
            format!("Choose an item to add to document {n}. It is placed on the document only, never in the catalog.")
        }
        None => "Autotask services, service bundles and labor.".to_owned(),
    };
    function_url::picker_page(
        "Add an Autotask service, bundle or labor",
        &intro,
        "<th>Kind</th><th>Name</th><th>Description</th><th>Price</th><th>Period</th><th></th>",
        &rows,
        &format!("{} items.", choices.len()),
    )
}
