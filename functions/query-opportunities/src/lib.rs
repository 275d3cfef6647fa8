//! The `query-opportunities` function: the Autotask opportunities of a document's (or a
//! customer's) mapped company, and attaching the chosen one to the document.
//!
//! Routes (signed; the tenant comes from the signature only):
//! - `GET /?document_number=…|customer_number=…&search=…&page=…&page_size=…` → an
//!   [`OpportunityPage`] as JSON, or the picker page (the guide's "new window") whose
//!   "Choose" links open `/attach`'s confirmation page (links derived from a link keep its
//!   signing time, so they expire with it);
//! - `GET /attach?document_number=…&opportunity_id=…` → the confirmation page (the chosen
//!   opportunity, the custom field and value that will be written; nothing is written);
//! - `POST /attach` (the page's form with its single-use token, or signed in the headers with a
//!   JSON body) → an [`AttachOutcome`](shared::sync::documents::AttachOutcome): the opportunity
//!   is written to the document's custom field in ChannelOnline and to our mapping. Any other
//!   method is 405.

use std::collections::BTreeMap;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::app::call::{self, Call};
use shared::app::confirm::{self, Page, WriteRoute};
use shared::function_url::{self, parsed, required};
use shared::sync::documents::{OpportunityPage, OpportunityQuery, attach_opportunity, list_opportunities, plan_attach};
use shared::web::{ApiError, Format, escape_html};

pub const FUNCTION: &str = "query-opportunities";

const ATTACH: WriteRoute<'static> = WriteRoute {
    function: FUNCTION,
    action: "attach",
    params: &["document_number", "opportunity_id"],
    signed_only: &[],
};

pub async fn handle(app: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let route = req.uri().path().trim_end_matches('/').to_owned();
    Ok(match route.as_str() {
        "" => list_route(app, &req).await,
        "/attach" => confirm::serve(app, &req, &ATTACH, attach_request, preview_attach, attach, reply).await,
        _ => ApiError::not_found("no_such_route", "There is nothing at this address")
            .with_fix("Use / to list opportunities and /attach to choose one.")
            .into_response(Format::from_headers(req.headers())),
    })
}

fn reply(format: Format, result: Result<(Value, bool), ApiError>) -> Response<Body> {
    let title = if result.is_ok() {
        "Opportunity attached"
    } else {
        "Not attached"
    };
    call::reply(format, title, result)
}

/// `GET /`: the list, as JSON or as the picker page (reads only).
async fn list_route(app: &AppContext, req: &Request) -> Response<Body> {
    if req.method() != http::Method::GET {
        return ApiError::method_not_allowed(req.method(), "GET").into_response(Format::from_headers(req.headers()));
    }
    let call = match call::open(app, req, FUNCTION).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    match list(&call, req).await {
        Ok(page) if call.format == Format::Html => {
            let sign = call::link_signer(app, &call, FUNCTION, None).await;
            function_url::html_response(render_picker(&page, &sign))
        }
        Ok(page) => call::reply(
            call.format,
            "Opportunities",
            Ok((serde_json::to_value(page).expect("page serialises"), false)),
        ),
        Err(e) => e.into_response(call.format),
    }
}

async fn list(call: &Call, req: &Request) -> Result<OpportunityPage, ApiError> {
    let params = function_url::params(
        req,
        &["document_number", "customer_number", "search", "page", "page_size"],
    )?;
    let query = OpportunityQuery {
        document_number: params.get("document_number").cloned().filter(|v| !v.trim().is_empty()),
        customer_number: params.get("customer_number").cloned().filter(|v| !v.trim().is_empty()),
        search: params.get("search").cloned(),
        page: parsed(&params, "page")?,
        page_size: parsed(&params, "page_size")?,
    };
    Ok(list_opportunities(&call.ctx, &query).await?)
}

/// Which opportunity to attach to which document.
struct AttachRequest {
    document_number: String,
    opportunity_id: i64,
}

fn attach_request(params: &BTreeMap<String, String>) -> Result<AttachRequest, ApiError> {
    Ok(AttachRequest {
        document_number: required(params, "document_number")?,
        opportunity_id: parsed(params, "opportunity_id")?.ok_or_else(|| {
            ApiError::bad_request("missing_parameter", "opportunity_id is required")
                .with_fix("Choose an opportunity from the list.")
                .with_details(json!({ "field": "opportunity_id" }))
        })?,
    })
}

/// The confirmation page of an attachment: the chosen opportunity and what will be written.
async fn preview_attach(call: &Call, r: &AttachRequest) -> Result<Page, ApiError> {
    let plan = plan_attach(&call.ctx, &r.document_number, r.opportunity_id).await?;
    Ok(Page {
        title: format!("Attach document {} to this opportunity?", plan.document_number),
        summary: format!(
            "The document's custom field \"{}\" will be set to \"{}\", and the next export of the \
             document will write its quote to this opportunity.",
            plan.custom_field, plan.custom_field_value
        ),
        rows: vec![
            ("Document".into(), plan.document_number.clone()),
            ("Customer".into(), plan.customer_number.clone()),
            ("Autotask opportunity".into(), plan.opportunity_id.to_string()),
            ("Title".into(), plan.title.clone()),
            ("Status".into(), plan.status.clone().unwrap_or_default()),
        ],
        button: "Attach",
        preview: json!({
            "document_number": plan.document_number,
            "opportunity_id": plan.opportunity_id,
            "custom_field": plan.custom_field,
            "custom_field_value": plan.custom_field_value,
        }),
    })
}

async fn attach(call: &Call, r: AttachRequest) -> Result<(Value, bool), ApiError> {
    let outcome = attach_opportunity(&call.ctx, &r.document_number, r.opportunity_id).await?;
    Ok((serde_json::to_value(outcome).expect("outcome serialises"), false))
}

/// The picker: one row per opportunity, a signed "Choose" link on those that can take the
/// document, signed links to the other pages.
pub fn render_picker(page: &OpportunityPage, link: function_url::LinkSigner<'_>) -> String {
    let mut rows = String::new();
    for o in &page.opportunities {
        let choose = match (&page.document_number, o.has_quote && !o.attached) {
            (_, true) => "has another quote".to_owned(),
            (None, _) => String::new(),
            (Some(number), false) => {
                let params = [
                    ("document_number".to_owned(), number.clone()),
                    ("opportunity_id".into(), o.id.to_string()),
                ];
                format!(
                    "<a class=\"choose\" href=\"{}\">Choose</a>",
                    escape_html(&link("/attach", &params))
                )
            }
        };
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if o.open { "open" } else { "closed" },
            o.id,
            escape_html(&o.title),
            if o.attached { " (attached)" } else { "" },
            escape_html(o.status.as_deref().unwrap_or("")),
            escape_html(o.stage.as_deref().unwrap_or("")),
            o.amount.map(|a| format!("{a:.2}")).unwrap_or_default(),
            escape_html(
                o.projected_close_date
                    .as_deref()
                    .map(|d| d.get(..10).unwrap_or(d))
                    .unwrap_or("")
            ),
            choose,
        ));
    }
    let mut footer = format!("{} opportunities, page {}.", page.total, page.page);
    let pages = page.total.div_ceil(page.page_size as usize) as u32;
    for (label, target) in [
        ("Previous", page.page.saturating_sub(1)),
        ("Next", page.page.saturating_add(1)),
    ] {
        if target >= 1 && target <= pages && target != page.page {
            let mut params = vec![
                ("page".to_owned(), target.to_string()),
                ("page_size".into(), page.page_size.to_string()),
            ];
            match &page.document_number {
                Some(n) => params.push(("document_number".into(), n.clone())),
                None => params.push(("customer_number".into(), page.customer_number.clone())),
            }
            if let Some(s) = &page.search {
                params.push(("search".into(), s.clone()));
            }
            footer.push_str(&format!(
                " <a href=\"{}\">{label}</a>",
                escape_html(&link("/", &params))
            ));
        }
    }
    let intro = format!(
        "Autotask opportunities of customer {}; open ones first. Choosing one records it on the document.",
        page.customer_number
    );
    function_url::picker_page(
        "Choose an Autotask opportunity",
        &intro,
        "<th>Id</th><th>Title</th><th>Status</th><th>Stage</th><th>Amount</th><th>Close date</th><th></th>",
        &rows,
        &footer,
    )
}
