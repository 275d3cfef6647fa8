//! The `export-customer` function ("Export to Autotask" on a ChannelOnline customer page).
//!
//! `POST /` with `{"customer_number": "C-1001"}`, or `GET /?customer_number=C-1001` from a
//! signed link. Only the number is taken from the request: the customer and its contacts are
//! re-read from ChannelOnline. The answer says what was created, linked or updated and which
//! records got the default phone. Idempotent: an `Idempotency-Key` header, else the customer
//! number plus a hash of the ChannelOnline data, keys the stored answer (replays carry
//! `Idempotent-Replay: true`; a duplicate in flight gets 409 + `Retry-After`).

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::app::AppContext;
use shared::app::call::{self, Call};
use shared::idempotency::payload_hash;
use shared::sync::SyncError;
use shared::sync::customers::export_loaded;
use shared::sync::idempotent;
use shared::web::ApiError;

pub const FUNCTION: &str = "export-customer";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    customer_number: String,
}

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(app: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let call = match call::open(app, &req, FUNCTION).await {
        Ok(call) => call,
        Err(answer) => return Ok(answer),
    };
    let route = req.uri().path().trim_end_matches('/');
    let result = match (req.method(), route) {
        (&Method::POST, "") => match shared::app::json_body::<ExportBody>(req.body().as_ref()) {
            Ok(b) => export(&call, &req, &b.customer_number).await,
            Err(e) => Err(e),
        },
        (&Method::GET, "") => {
            match shared::function_url::params(&req, &["customer_number"]).map(|mut p| p.remove("customer_number")) {
                Err(e) => Err(e),
                Ok(Some(n)) => export(&call, &req, &n).await,
                Ok(None) => Err(
                    ApiError::bad_request("customer_number_missing", "Say which customer to export.")
                        .with_fix("Add ?customer_number=<ChannelOnline customer number> to the link."),
                ),
            }
        }
        (_, "") => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Use POST (or GET from a link).",
        )),
        _ => Err(ApiError::not_found("no_such_route", "There is nothing at this address").with_fix("Use /.")),
    };
    Ok(call::reply(call.format, "Export to Autotask", result))
}

async fn export(call: &Call, req: &Request, number: &str) -> Result<(serde_json::Value, bool), ApiError> {
    let number = number.trim();
    if number.is_empty() {
        return Err(ApiError::bad_request(
            "customer_number_missing",
            "The customer number is empty.",
        ));
    }
    let ctx = &call.ctx;
    let customer = ctx.channelonline.get_customer(number).await.map_err(SyncError::from)?;
    let source = payload_hash(&customer).map_err(SyncError::from)?;
    let key = call::idempotency_key(req).unwrap_or_else(|| format!("{number}#{source}"));
    let payload = json!({ "customer_number": number, "source": source });
    let guarded = idempotent(ctx, FUNCTION, &key, &payload, || export_loaded(ctx, &customer)).await?;
    Ok((guarded.answer, guarded.replayed))
}
