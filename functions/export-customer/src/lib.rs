//! The `export-customer` function ("Export to Autotask" on a ChannelOnline customer page).
//!
//! - `GET /?customer_number=C-1001` (the button's signed link): the confirmation page — the
//!   customer and contacts as ChannelOnline has them now and the Autotask company they go to.
//!   Nothing is written.
//! - `POST /`: the export, from the page's form (its single-use token) or signed in the headers
//!   with `{"customer_number": "C-1001"}`. Only the number is taken from the request: the
//!   customer and its contacts are re-read from ChannelOnline. The answer says what was
//!   created, linked or updated and which records got the default phone. Idempotent: a signed
//!   `Idempotency-Key` header, else the customer number plus a hash of the ChannelOnline data,
//!   keys the stored answer (replays carry `Idempotent-Replay: true`; a duplicate in flight
//!   gets 409 + `Retry-After`). Any other method is 405.

use std::collections::BTreeMap;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::app::call::{self, Call};
use shared::app::confirm::{self, Page, WriteRoute};
use shared::function_url::required;
use shared::idempotency::payload_hash;
use shared::sync::SyncError;
use shared::sync::customers::{export_loaded, preview_export};
use shared::sync::idempotent;
use shared::web::{self, ApiError, Format, escape_html};

pub const FUNCTION: &str = "export-customer";

const EXPORT: WriteRoute<'static> = WriteRoute {
    function: FUNCTION,
    action: "export",
    params: &["customer_number"],
    signed_only: &[],
};

struct ExportBody {
    customer_number: String,
}

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(app: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    if !req.uri().path().trim_end_matches('/').is_empty() {
        return Ok(ApiError::not_found("no_such_route", "There is nothing at this address")
            .with_fix("Use /.")
            .into_response(Format::from_headers(req.headers())));
    }
    Ok(confirm::serve(app, &req, &EXPORT, export_request, preview, export, reply).await)
}

/// The export's answer: JSON, or the result page (the company and each contact, what was done
/// to it, linked into Autotask when its address is known).
fn reply(format: Format, result: Result<(Value, bool), ApiError>) -> Response<Body> {
    let title = if result.is_ok() {
        "Exported to Autotask"
    } else {
        "Not exported"
    };
    call::reply_with_page(format, title, result, result_page)
}

fn result_page(title: &str, body: &Value) -> String {
    let text = |v: &Value| escape_html(v.as_str().unwrap_or(""));
    let changes = |v: &Value| {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|c| escape_html(c["field"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let company = shared::app::company_html(body);
    let mut rows = vec![(
        text(&body["company"]["action"]),
        vec![
            "Company".to_owned(),
            company.clone(),
            text(&body["company"]["action"]),
            changes(&body["company_changes"]),
        ],
    )];
    rows.extend(body["contacts"].as_array().into_iter().flatten().map(|c| {
        let action = text(&c["action"]);
        let name = shared::app::contact_html(c);
        (
            action.clone(),
            vec!["Contact".to_owned(), name, action, changes(&c["changes"])],
        )
    }));
    web::result_page(&web::ResultPage {
        title,
        message: body["message"].as_str().unwrap_or(""),
        extra: format!("<p>{company}</p>"),
        head: &["Record", "In Autotask", "Done", "Fields written"],
        rows,
    })
}

fn export_request(params: &BTreeMap<String, String>) -> Result<ExportBody, ApiError> {
    let customer_number = required(params, "customer_number")
        .map_err(|e| e.with_fix("Add ?customer_number=<ChannelOnline customer number> to the link."))?;
    Ok(ExportBody { customer_number })
}

/// The confirmation page: what will be written to Autotask, read now.
async fn preview(call: &Call, body: &ExportBody) -> Result<Page, ApiError> {
    let p = preview_export(&call.ctx, body.customer_number.trim()).await?;
    let c = &p.customer;
    let target = match p.company_id {
        Some(id) => format!("Autotask company {id} (mapped) is updated where ChannelOnline differs"),
        None => "no Autotask company is mapped yet: one with the same number or a close match is linked, \
                 otherwise a new company is created"
            .to_owned(),
    };
    let address = c.address.as_ref().map(|a| serde_json::to_value(a).unwrap_or_default());
    let mut rows = vec![
        ("Customer".to_owned(), format!("{} ({})", c.company_name, c.number)),
        (
            "Phone".into(),
            c.phone
                .clone()
                .unwrap_or_else(|| "none (the default phone is used)".into()),
        ),
        ("Autotask".into(), target.clone()),
        (
            "Contacts".into(),
            format!("{} ({} mapped already)", c.contacts.len(), p.mapped_contacts),
        ),
    ];
    rows.extend(c.contacts.iter().map(|k| {
        let name = format!("{} {}", k.first_name, k.last_name);
        (name, k.email.clone().unwrap_or_default())
    }));
    Ok(Page {
        title: format!("Export customer {} to Autotask?", c.number),
        summary: format!(
            "{} and its {} contact(s) are written to Autotask: {target}.",
            c.company_name,
            c.contacts.len()
        ),
        rows,
        button: "Export to Autotask",
        preview: json!({
            "customer_number": c.number,
            "company_name": c.company_name,
            "address": address,
            "company_id": p.company_id,
            "contacts": c.contacts.len(),
            "mapped_contacts": p.mapped_contacts,
        }),
    })
}

async fn export(call: &Call, body: ExportBody) -> Result<(Value, bool), ApiError> {
    let number = body.customer_number.trim();
    if number.is_empty() {
        return Err(ApiError::bad_request(
            "customer_number_missing",
            "The customer number is empty.",
        ));
    }
    let ctx = &call.ctx;
    let customer = ctx.channelonline.get_customer(number).await.map_err(SyncError::from)?;
    let source = payload_hash(&customer).map_err(SyncError::from)?;
    let key = call
        .idempotency_key
        .clone()
        .unwrap_or_else(|| format!("{number}#{source}"));
    let payload = json!({ "customer_number": number, "source": source });
    let guarded = idempotent(ctx, FUNCTION, &key, &payload, || export_loaded(ctx, &customer)).await?;
    Ok((
        shared::app::with_autotask_links(ctx, guarded.answer).await,
        guarded.replayed,
    ))
}
