//! The `import-customer` function ("Import From Autotask" and "Import/Map Contacts").
//!
//! - `GET /?account_name=Acme%20Inc` (or `company_id=123`, plus `import_all_contacts=false` and
//!   `contact_ids=1,2`; the button's signed link): the confirmation page — the Autotask company
//!   and the contacts that will be written to ChannelOnline. Nothing is written.
//! - `POST /`: the import, from the page's form (its single-use token) or signed in the headers
//!   with `{"account_name": "Acme Inc"}` (the account **name**, matched exactly ignoring case)
//!   or `{"company_id": 123}`, plus `import_all_contacts` (default true) or `contact_ids`. 404
//!   lists close names, 409 lists the candidates when several accounts share the name.
//!   Idempotent (a signed `Idempotency-Key` header, else the request itself is the key).
//! - `GET /contacts?customer_number=C-1001`: the Autotask contacts of a mapped account with
//!   their mapping state, for choosing which to import.
//!
//! Any other method is 405.

use std::collections::BTreeMap;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::app::call::{self, Call};
use shared::app::confirm::{self, Page, WriteRoute};
use shared::function_url::{flag, parsed};
use shared::idempotency::payload_hash;
use shared::sync::SyncError;
use shared::sync::customers::{ImportRequest, account_contacts, import_customer, preview_import};
use shared::sync::idempotent;
use shared::web::{self, ApiError, Format, escape_html};

pub const FUNCTION: &str = "import-customer";

const IMPORT: WriteRoute<'static> = WriteRoute {
    function: FUNCTION,
    action: "import",
    params: &["account_name", "company_id", "import_all_contacts", "contact_ids"],
    signed_only: &[],
};

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(app: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let format = Format::from_headers(req.headers());
    Ok(match req.uri().path().trim_end_matches('/') {
        "" => confirm::serve(app, &req, &IMPORT, import_request, preview, import, reply).await,
        "/contacts" if req.method() == http::Method::GET => match call::open(app, &req, FUNCTION).await {
            Ok(call) => call::reply(call.format, "Autotask contacts", contacts(&call, &req).await),
            Err(answer) => answer,
        },
        "/contacts" => ApiError::method_not_allowed(req.method(), "GET").into_response(format),
        _ => ApiError::not_found("no_such_route", "There is nothing at this address")
            .with_fix("Use / to import and /contacts to list an account's contacts.")
            .into_response(format),
    })
}

fn reply(format: Format, result: Result<(Value, bool), ApiError>) -> Response<Body> {
    let title = if result.is_ok() {
        "Imported from Autotask"
    } else {
        "Not imported"
    };
    call::reply_with_page(format, title, result, result_page)
}

/// The import's result page: the Autotask company it came from and each contact, what was done
/// to it in ChannelOnline, linked to its Autotask page when the address is known.
fn result_page(title: &str, body: &Value) -> String {
    let text = |v: &Value| escape_html(v.as_str().unwrap_or(""));
    let company = shared::app::company_html(body);
    let customer = format!(
        "ChannelOnline customer {} ({})",
        text(&body["customer_number"]),
        if body["customer_created"] == true {
            "created"
        } else {
            "updated"
        }
    );
    let rows = body["contacts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let action = text(&c["action"]);
            let name = shared::app::contact_html(c);
            (action.clone(), vec![name, action, text(&c["col_id"])])
        })
        .collect();
    web::result_page(&web::ResultPage {
        title,
        message: body["message"].as_str().unwrap_or(""),
        extra: format!("<p>{company} → {customer}</p>"),
        head: &["Autotask contact", "Done in ChannelOnline", "ChannelOnline contact"],
        rows,
    })
}

/// The parameters as an [`ImportRequest`]; `contact_ids` is a comma-separated list (a JSON
/// body's array arrives as `[1,2]`).
fn import_request(params: &BTreeMap<String, String>) -> Result<ImportRequest, ApiError> {
    let ids = params
        .get("contact_ids")
        .map(|v| v.trim().trim_start_matches('[').trim_end_matches(']').trim());
    let contact_ids = match ids.filter(|v| !v.is_empty()) {
        None => vec![],
        Some(list) => list
            .split(',')
            .map(|id| id.trim().parse::<i64>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_parameter",
                    format!("contact_ids {list:?} is not a comma-separated list of Autotask contact ids"),
                )
                .with_details(json!({ "field": "contact_ids" }))
            })?,
    };
    let all = params
        .get("import_all_contacts")
        .is_none_or(|_| flag(params, "import_all_contacts"));
    let request = ImportRequest {
        account_name: params.get("account_name").cloned().filter(|n| !n.trim().is_empty()),
        company_id: parsed(params, "company_id")?,
        import_all_contacts: all,
        contact_ids,
    };
    if request.account_name.is_none() && request.company_id.is_none() {
        return Err(
            ApiError::bad_request("account_missing", "Say which Autotask account to import.")
                .with_fix("Add ?account_name=<Autotask account name> (or company_id=<id>) to the link."),
        );
    }
    Ok(request)
}

/// The confirmation page: the company and contacts that will be written to ChannelOnline.
async fn preview(call: &Call, request: &ImportRequest) -> Result<Page, ApiError> {
    let p = preview_import(&call.ctx, request).await?;
    let name = p.company.company_name.clone().unwrap_or_default();
    let id = p.company.id.unwrap_or_default();
    let target = match &p.mapped_to {
        Some(number) => format!("ChannelOnline customer {number} (mapped) is updated"),
        None => {
            "a ChannelOnline customer is created and mapped (an existing one with the same number is reused)".into()
        }
    };
    let mut rows = vec![
        ("Autotask company".to_owned(), format!("{name} ({id})")),
        ("Phone".into(), p.company.phone.clone().unwrap_or_default()),
        ("ChannelOnline".into(), target.clone()),
        ("Contacts".into(), p.contacts.len().to_string()),
    ];
    rows.extend(p.contacts.iter().map(|k| {
        let full = format!(
            "{} {}",
            k.first_name.as_deref().unwrap_or(""),
            k.last_name.as_deref().unwrap_or("")
        );
        (full, k.email_address.clone().unwrap_or_default())
    }));
    Ok(Page {
        title: format!("Import {name} from Autotask?"),
        summary: format!(
            "{name} and {} contact(s) are written to ChannelOnline: {target}.",
            p.contacts.len()
        ),
        rows,
        button: "Import",
        preview: json!({
            "company_id": id,
            "company_name": name,
            "mapped_to": p.mapped_to,
            "contact_ids": p.contacts.iter().filter_map(|c| c.id).collect::<Vec<_>>(),
        }),
    })
}

async fn import(call: &Call, body: ImportRequest) -> Result<(Value, bool), ApiError> {
    let ctx = &call.ctx;
    let key = match &call.idempotency_key {
        Some(k) => k.clone(),
        None => payload_hash(&body).map_err(SyncError::from)?,
    };
    let guarded = idempotent(ctx, FUNCTION, &key, &body, || import_customer(ctx, &body)).await?;
    Ok((
        shared::app::with_autotask_links(ctx, guarded.answer).await,
        guarded.replayed,
    ))
}

async fn contacts(call: &Call, req: &Request) -> Result<(Value, bool), ApiError> {
    let number = shared::function_url::params(req, &["customer_number"])?
        .remove("customer_number")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("customer_number_missing", "Say which customer's contacts to list.")
                .with_fix("Add ?customer_number=<ChannelOnline customer number>.")
        })?;
    let view = account_contacts(&call.ctx, number.trim()).await?;
    Ok((serde_json::to_value(view).unwrap_or_default(), false))
}
