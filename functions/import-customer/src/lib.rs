//! The `import-customer` function ("Import From Autotask" and "Import/Map Contacts").
//!
//! - `POST /` with `{"account_name": "Acme Inc"}` (the account **name**, matched exactly
//!   ignoring case) or `{"company_id": 123}`, plus `import_all_contacts` (default true) or
//!   `contact_ids`. 404 lists close names, 409 lists the candidates when several accounts share
//!   the name. Idempotent (an `Idempotency-Key` header, else the request itself is the key).
//! - `GET /contacts?customer_number=C-1001`: the Autotask contacts of a mapped account with
//!   their mapping state, for choosing which to import.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::app::AppContext;
use shared::app::call::{self, Call};
use shared::idempotency::payload_hash;
use shared::sync::SyncError;
use shared::sync::customers::{ImportRequest, account_contacts, import_customer};
use shared::sync::idempotent;
use shared::web::ApiError;

pub const FUNCTION: &str = "import-customer";

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(app: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let call = match call::open(app, &req, FUNCTION).await {
        Ok(call) => call,
        Err(answer) => return Ok(answer),
    };
    let route = req.uri().path().trim_end_matches('/');
    let (title, result) = match (req.method(), route) {
        (&Method::POST, "") => ("Import from Autotask", import(&call, &req).await),
        (&Method::GET, "/contacts") => ("Autotask contacts", contacts(&call, &req).await),
        (_, "" | "/contacts") => (
            "Not done",
            Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Use POST / or GET /contacts.",
            )),
        ),
        _ => (
            "Not found",
            Err(ApiError::not_found("no_such_route", "There is nothing at this address")),
        ),
    };
    Ok(call::reply(call.format, title, result))
}

async fn import(call: &Call, req: &Request) -> Result<(serde_json::Value, bool), ApiError> {
    let body: ImportRequest = shared::app::json_body(req.body().as_ref())?;
    let ctx = &call.ctx;
    let key = match call::idempotency_key(req) {
        Some(k) => k,
        None => payload_hash(&body).map_err(SyncError::from)?,
    };
    let guarded = idempotent(ctx, FUNCTION, &key, &body, || import_customer(ctx, &body)).await?;
    Ok((guarded.answer, guarded.replayed))
}

async fn contacts(call: &Call, req: &Request) -> Result<(serde_json::Value, bool), ApiError> {
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
