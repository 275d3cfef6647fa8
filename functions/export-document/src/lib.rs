//! The `export-document` function: a ChannelOnline quote or sales order → an Autotask
//! opportunity with exactly one quote and its items.
//!
//! Routes (signed; the tenant comes from the signature only), parameters `document_number`
//! (required), `opportunity_id`, `custom_name`:
//! - `GET /?…` (the button's link): the confirmation page, which is the dry run — what will be
//!   created, changed and left alone in Autotask, line by line. Nothing is written.
//! - `POST /`: the export, from the page's form (its single-use token) or signed in the headers
//!   with a JSON body (which may also ask for `"dry_run": true`). Any other method is 405.
//!
//! Answer: the [`ExportOutcome`] (per-line status and reasons; a dry run carries the full plan
//! of Autotask calls), as JSON or as the pop-up HTML page.

use std::collections::BTreeMap;

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::app::AppContext;
use shared::app::call::{self, Call};
use shared::app::confirm::{self, Page, WriteRoute};
use shared::domain::document::plan::OpportunitySource;
use shared::function_url::{flag, parsed, required};
use shared::sync::documents::{CustomerLink, ExportDocumentRequest, ExportOutcome, LineStatus, export_document};
use shared::web::{ApiError, Format};

pub const FUNCTION: &str = "export-document";
/// The audience of the "export the customer first" links (export-customer's `FUNCTION`).
const EXPORT_CUSTOMER: &str = "export-customer";

const EXPORT: WriteRoute<'static> = WriteRoute {
    function: FUNCTION,
    action: "export",
    params: &["document_number", "opportunity_id", "custom_name"],
    signed_only: &["dry_run"],
};

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(app: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    if !req.uri().path().trim_end_matches('/').is_empty() {
        return Ok(ApiError::not_found("no_such_route", "There is nothing at this address")
            .with_fix("Use /.")
            .into_response(Format::from_headers(req.headers())));
    }
    let preview = async |call: &Call, r: &ExportDocumentRequest| preview(app, call, r).await;
    let export = async |call: &Call, r: ExportDocumentRequest| export(app, call, r).await;
    Ok(confirm::serve(app, &req, &EXPORT, export_request, preview, export, title).await)
}

fn title(result: &Result<(Value, bool), ApiError>) -> &'static str {
    match result {
        Ok((body, _)) if body["failed_lines"].as_u64().unwrap_or(0) > 0 => "Exported, with lines to fix",
        Ok((body, _)) if body["dry_run"] == Value::Bool(true) => "Export preview (nothing written)",
        Ok(_) => "Exported to Autotask",
        Err(_) => "Not exported",
    }
}

fn export_request(params: &BTreeMap<String, String>) -> Result<ExportDocumentRequest, ApiError> {
    Ok(ExportDocumentRequest {
        document_number: required(params, "document_number")?,
        opportunity_id: parsed(params, "opportunity_id")?,
        custom_name: params.get("custom_name").cloned().filter(|n| !n.trim().is_empty()),
        dry_run: flag(params, "dry_run"),
    })
}

async fn run(app: &AppContext, call: &Call, request: &ExportDocumentRequest) -> Result<ExportOutcome, ApiError> {
    let link = customer_link(app, call).await;
    let link = link.as_ref().map(|f| f as CustomerLink<'_>);
    Ok(export_document(&call.ctx, request, link).await?)
}

async fn export(app: &AppContext, call: &Call, request: ExportDocumentRequest) -> Result<(Value, bool), ApiError> {
    let outcome = run(app, call, &request).await?;
    Ok((serde_json::to_value(outcome).expect("outcome serialises"), false))
}

/// The confirmation page: the dry run, told as what will happen in Autotask.
async fn preview(app: &AppContext, call: &Call, request: &ExportDocumentRequest) -> Result<Page, ApiError> {
    let dry = ExportDocumentRequest {
        dry_run: true,
        ..request.clone()
    };
    let outcome = run(app, call, &dry).await?;
    let count = |status: LineStatus| outcome.lines.iter().filter(|l| l.status == status).count();
    let opportunity = match (outcome.opportunity_id, outcome.opportunity_source) {
        (None, _) | (_, OpportunitySource::New) => "a new opportunity is created".to_owned(),
        (Some(id), OpportunitySource::Given) => format!("opportunity {id} (chosen)"),
        (Some(id), OpportunitySource::CustomField) => format!("opportunity {id} (from the document's custom field)"),
        (Some(id), OpportunitySource::PreviousExport) => format!("opportunity {id} (from the previous export)"),
    };
    let quote = match outcome.quote_id {
        Some(id) => format!("quote {id} is updated where the document differs"),
        None => "a new quote is created".into(),
    };
    let mut rows = vec![
        ("Document".to_owned(), outcome.document_number.clone()),
        ("Opportunity".into(), opportunity),
        ("Quote".into(), quote),
        ("Autotask writes".into(), outcome.writes.to_string()),
        (
            "Lines".into(),
            format!(
                "{} new, {} changed, {} unchanged, {} cannot be exported",
                count(LineStatus::Created),
                count(LineStatus::Updated),
                count(LineStatus::Unchanged),
                count(LineStatus::Refused)
            ),
        ),
    ];
    rows.extend(outcome.lines.iter().filter_map(|l| {
        let error = l.error.as_ref()?;
        Some((format!("Line {}", l.line_id), error.clone()))
    }));
    let button = if outcome.writes == 0 {
        "Export (nothing to change)"
    } else {
        "Export to Autotask"
    };
    Ok(Page {
        title: format!("Export {} to Autotask?", outcome.document_number),
        summary: outcome.message.clone(),
        rows,
        button,
        preview: serde_json::to_value(&outcome).unwrap_or_default(),
    })
}

/// Signed links to export-customer (its URL from `EXPORT_CUSTOMER_URL`), offered when the
/// document's customer is not mapped yet. They are signed for export-customer, the function
/// that answers them (its confirmation page), with this call's signing time.
async fn customer_link(app: &AppContext, call: &Call) -> Option<impl Fn(&str) -> String + Send + Sync + use<>> {
    let base = shared::config::optional("EXPORT_CUSTOMER_URL")?;
    let sign = call::link_signer(app, call, EXPORT_CUSTOMER, Some(base)).await;
    Some(move |customer: &str| sign("/", &[("customer_number".to_owned(), customer.to_owned())]))
}
