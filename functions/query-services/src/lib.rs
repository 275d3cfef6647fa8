//! The `query-services` function: search Autotask services, service bundles and labor (roles)
//! by name, and add the chosen one to a ChannelOnline document as a line that keeps its
//! Autotask identity (never to any product catalog).
//!
//! Routes (signed; the tenant comes from the signature only):
//! - `GET /?document_number=…&search=…&kinds=service,service_bundle,labor` → the choices
//!   (kind, id, name, price, period) as JSON, or the picker page whose "Add" links are signed
//!   calls of `/add`;
//! - `GET /add?document_number=…&kind=…&id=…&quantity=…` → the confirmation page (the item as
//!   Autotask has it now; nothing is written);
//! - `POST /add` (the page's form with its single-use token, or signed in the headers with a
//!   JSON body) → the added line. Any other method is 405.

use std::collections::BTreeMap;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::app::call::{self, Call};
use shared::app::confirm::{self, Page, WriteRoute};
use shared::function_url::{self, parsed, required};
use shared::sync::SyncError;
use shared::sync::documents::{
    AddServiceLine, ServiceChoice, ServiceKind, add_service_line, chosen_item, search_services,
};
use shared::web::{ApiError, Format, escape_html};

pub const FUNCTION: &str = "query-services";

const ADD: WriteRoute<'static> = WriteRoute {
    function: FUNCTION,
    action: "add",
    params: &["document_number", "kind", "id", "quantity"],
    signed_only: &[],
};

pub async fn handle(app: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let route = req.uri().path().trim_end_matches('/').to_owned();
    Ok(match route.as_str() {
        "" => search_route(app, &req).await,
        "/add" => {
            confirm::serve(app, &req, &ADD, add_request, preview_add, add, |r| match r {
                Ok(_) => "Line added",
                Err(_) => "Not added",
            })
            .await
        }
        _ => ApiError::not_found("no_such_route", "There is nothing at this address")
            .with_fix("Use / to search and /add to place an item on a document.")
            .into_response(Format::from_headers(req.headers())),
    })
}

/// `GET /`: the choices, as JSON or as the picker page (reads only).
async fn search_route(app: &AppContext, req: &Request) -> Response<Body> {
    if req.method() != http::Method::GET {
        return ApiError::method_not_allowed(req.method(), "GET").into_response(Format::from_headers(req.headers()));
    }
    let call = match call::open(app, req, FUNCTION).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    match search(&call, req).await {
        Ok((document, choices)) if call.format == Format::Html => {
            let sign = call::link_signer(app, &call, FUNCTION, None).await;
            function_url::html_response(render_picker(document.as_deref(), &choices, &sign))
        }
        Ok((document, choices)) => call::reply(
            call.format,
            "Autotask services",
            Ok((json!({ "document_number": document, "items": choices }), false)),
        ),
        Err(e) => e.into_response(call.format),
    }
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

async fn search(call: &Call, req: &Request) -> Result<(Option<String>, Vec<ServiceChoice>), ApiError> {
    let params = function_url::params(req, &["document_number", "search", "kinds"])?;
    let kinds = match params.get("kinds").map(|k| k.trim()).filter(|k| !k.is_empty()) {
        Some(list) => list.split(',').map(kind).collect::<Result<Vec<_>, _>>()?,
        None => vec![],
    };
    let search = params.get("search").map(String::as_str).unwrap_or("");
    let choices = search_services(&call.ctx, search, &kinds).await?;
    Ok((
        params.get("document_number").cloned().filter(|d| !d.trim().is_empty()),
        choices,
    ))
}

fn add_request(params: &BTreeMap<String, String>) -> Result<AddServiceLine, ApiError> {
    Ok(AddServiceLine {
        document_number: required(params, "document_number")?,
        kind: kind(&required(params, "kind")?)?,
        id: parsed(params, "id")?.ok_or_else(|| {
            ApiError::bad_request("missing_parameter", "id is required").with_details(json!({ "field": "id" }))
        })?,
        quantity: parsed(params, "quantity")?.unwrap_or(1.0),
    })
}

/// The confirmation page of an added line: the chosen item as Autotask has it now.
async fn preview_add(call: &Call, add: &AddServiceLine) -> Result<Page, ApiError> {
    let document = call
        .ctx
        .channelonline
        .get_document(add.document_number.trim())
        .await
        .map_err(SyncError::from)?;
    let choice = chosen_item(&call.ctx, add.kind, add.id).await?;
    Ok(Page {
        title: format!("Add {} to document {}?", choice.name, document.number),
        summary: format!(
            "One line is added to ChannelOnline document {}: {} × {} at {:.2}, kept linked to Autotask {} {} \
             (never added to the product catalog).",
            document.number,
            add.quantity,
            choice.name,
            choice.unit_price,
            choice.kind.label().to_lowercase(),
            choice.id
        ),
        rows: vec![
            ("Document".into(), document.number.clone()),
            ("Kind".into(), choice.kind.label().into()),
            ("Name".into(), choice.name.clone()),
            ("Description".into(), choice.description.clone().unwrap_or_default()),
            ("Unit price".into(), format!("{:.2}", choice.unit_price)),
            ("Period".into(), choice.period.clone()),
            ("Quantity".into(), add.quantity.to_string()),
        ],
        button: "Add the line",
        preview: json!({ "document_number": document.number, "quantity": add.quantity, "item": choice }),
    })
}

async fn add(call: &Call, add: AddServiceLine) -> Result<(Value, bool), ApiError> {
    let added = add_service_line(&call.ctx, &add).await?;
    Ok((serde_json::to_value(added).expect("line serialises"), false))
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
