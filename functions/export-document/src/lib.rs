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
use shared::web::{self, ApiError, Format, escape_html};

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
    Ok(confirm::serve(app, &req, &EXPORT, export_request, preview, export, reply).await)
}

/// The export's answer: JSON, or the result page (what happened, a link to the opportunity in
/// Autotask, and every line with its status and what to fix).
fn reply(format: Format, result: Result<(Value, bool), ApiError>) -> Response<Body> {
    let title = title(&result);
    call::reply_with_page(format, title, result, result_page)
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
    let page = match outcome.opportunity_id {
        Some(id) => call.ctx.autotask.opportunity_page(id).await,
        None => None,
    };
    let retry = if outcome.failed_lines > 0 {
        Some(retry_link(app, call, &outcome).await)
    } else {
        None
    };
    let mut body = serde_json::to_value(outcome).expect("outcome serialises");
    body["opportunity_url"] = page.into();
    body["retry_url"] = retry.into();
    Ok((body, false))
}

/// "Retry failed lines": the export's own confirmation page again, for the same opportunity.
/// Re-running the export is safe (every create reconciles by its natural key): it writes only
/// the lines still missing or different, which after a failure are the failed ones.
async fn retry_link(app: &AppContext, call: &Call, outcome: &ExportOutcome) -> String {
    let sign = call::link_signer(app, call, FUNCTION, None).await;
    let mut params = vec![("document_number".to_owned(), outcome.document_number.clone())];
    if let Some(id) = outcome.opportunity_id {
        params.push(("opportunity_id".to_owned(), id.to_string()));
    }
    sign("/", &params)
}

/// The result page: the message, the opportunity (linked into Autotask when its address is
/// known) and a table of the lines.
fn result_page(title: &str, body: &Value) -> String {
    let text = |v: &Value| escape_html(v.as_str().unwrap_or(""));
    let opportunity = match (body["opportunity_id"].as_i64(), body["opportunity_url"].as_str()) {
        (Some(id), Some(url)) => web::external_link(Some(url), format!("Open opportunity {id} in Autotask")),
        (Some(id), None) => format!("Autotask opportunity {id}"),
        _ => String::new(),
    };
    let quote = body["quote_id"]
        .as_i64()
        .map(|q| format!(", quote {q}"))
        .unwrap_or_default();
    let synced: String = body["synced_back"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(field, value)| {
            format!(
                "<p class=\"status\">In Autotask ({}, synced back): <strong>{}</strong></p>",
                escape_html(field),
                text(value)
            )
        })
        .collect();
    let retry = body["retry_url"]
        .as_str()
        .map(|url| {
            format!(
                "<p><a class=\"retry\" href=\"{}\">Retry failed lines</a> (opens the export's \
                 confirmation again; lines already in Autotask are not written twice)</p>",
                escape_html(url)
            )
        })
        .unwrap_or_default();
    let lines = body["lines"].as_array().map(Vec::as_slice).unwrap_or_default();
    let rows = lines
        .iter()
        .map(|l| {
            let status = text(&l["status"]);
            let cells = vec![
                text(&l["line_id"]),
                text(&l["item_type"]),
                status.clone(),
                l["item_id"].as_i64().map(|i| i.to_string()).unwrap_or_default(),
                text(&l["error"]),
            ];
            (status, cells)
        })
        .collect();
    web::result_page(&web::ResultPage {
        title,
        message: body["message"].as_str().unwrap_or(""),
        extra: format!("<p>{opportunity}{quote}</p>{synced}{retry}"),
        head: &["Line", "Type", "Status", "Autotask item", "What to fix"],
        rows,
    })
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
    rows.extend(
        outcome
            .synced_back
            .iter()
            .map(|(field, value)| (format!("In Autotask ({field}, synced back)"), value.clone())),
    );
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

/// Signed links to export-customer (its URL from `EXPORT_CUSTOMER_URL`, [`shared::config::Links`]), offered when the
/// document's customer is not mapped yet. They are signed for export-customer, the function
/// that answers them (its confirmation page), with this call's signing time.
async fn customer_link(app: &AppContext, call: &Call) -> Option<impl Fn(&str) -> String + Send + Sync + use<>> {
    let base = app.config.links.export_customer_url.clone()?;
    let sign = call::link_signer(app, call, EXPORT_CUSTOMER, Some(base)).await;
    Some(move |customer: &str| sign("/", &[("customer_number".to_owned(), customer.to_owned())]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_result_page_offers_a_retry_when_lines_failed_and_shows_the_status_synced_back() {
        let body = json!({
            "message": "Exported Q1; 1 line failed.",
            "opportunity_id": 7, "opportunity_url": "https://ww4.autotask.net/x?OpportunityID=7", "quote_id": 9,
            "failed_lines": 1,
            "lines": [
                { "line_id": "L1", "item_type": "product", "status": "created", "item_id": 11 },
                { "line_id": "L2", "item_type": "product", "status": "failed", "error": "Map the <category>." }
            ],
            "synced_back": { "AT Status": "Closed Won" },
            "retry_url": "./?document_number=Q1&opportunity_id=7&tenant=t&ts=1&sig=v3%3Dab",
        });
        let page = result_page("Exported, with lines to fix", &body);
        assert!(
            page.contains("<a class=\"retry\" href=\"./?document_number=Q1&amp;opportunity_id=7&amp;tenant=t&amp;ts=1&amp;sig=v3%3Dab\">Retry failed lines</a>"),
            "{page}"
        );
        assert!(
            page.contains("In Autotask (AT Status, synced back): <strong>Closed Won</strong>"),
            "{page}"
        );
        assert!(page.contains("Map the &lt;category&gt;."), "{page}");
        assert!(page.contains("Open opportunity 7 in Autotask"));

        // AND without failed lines or a synced status, neither is offered
        let done = json!({ "message": "Exported.", "opportunity_id": 7, "failed_lines": 0, "lines": [] });
        let page = result_page("Exported to Autotask", &done);
        assert!(
            !page.contains("Retry failed lines") && !page.contains("synced back"),
            "{page}"
        );
    }
}
