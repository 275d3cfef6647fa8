//! The `map-customers` function ("Import and Map" / "Map Customers").
//!
//! - `POST /run`: reads every ChannelOnline customer and Autotask company, stores proposed
//!   pairs with a confidence and reasons; answers the run.
//! - `POST /confirm` with `{"pairs": [{"col_id": "C-1", "at_id": 123}], "match_contacts": true,
//!   "create_missing_contacts": false}`: writes the chosen pairs (each refusal says why) and
//!   matches their contacts by e-mail. Idempotent (a signed `Idempotency-Key` header, else the body).
//! - `GET /`: what is mapped, proposed and unmatched.

use http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::app::AppContext;
use shared::app::call::{self, Call};
use shared::idempotency::payload_hash;
use shared::sync::SyncError;
use shared::sync::customers::{ConfirmRequest, confirm_pairs, list_mappings, propose_pairs};
use shared::sync::idempotent;
use shared::web::ApiError;

pub const FUNCTION: &str = "map-customers";

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(app: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let call = match call::open(app, &req, FUNCTION).await {
        Ok(call) => call,
        Err(answer) => return Ok(answer),
    };
    let route = req.uri().path().trim_end_matches('/');
    let (title, result) = match (req.method(), route) {
        (&Method::GET, "") => ("Map Customers", list(&call).await),
        (&Method::POST, "/run") => ("Map Customers: proposals", run(&call).await),
        (&Method::POST, "/confirm") => ("Map Customers: confirmed", confirm(&call, &req).await),
        (method, "") => ("Not done", Err(ApiError::method_not_allowed(method, "GET"))),
        (method, "/run" | "/confirm") => ("Not done", Err(ApiError::method_not_allowed(method, "POST"))),
        _ => (
            "Not found",
            Err(ApiError::not_found("no_such_route", "There is nothing at this address")),
        ),
    };
    Ok(call::reply(call.format, title, result))
}

async fn list(call: &Call) -> Result<(serde_json::Value, bool), ApiError> {
    let view = list_mappings(&call.ctx).await?;
    Ok((serde_json::to_value(view).unwrap_or_default(), false))
}

async fn run(call: &Call) -> Result<(serde_json::Value, bool), ApiError> {
    let run = propose_pairs(&call.ctx).await?;
    let message = format!(
        "Proposed {} pair(s); {} ChannelOnline customer(s) and {} Autotask compan(ies) left unmatched.",
        run.proposals.len(),
        run.col_unmatched.len(),
        run.at_unmatched.len()
    );
    let mut body = serde_json::to_value(run).unwrap_or_default();
    body["message"] = json!(message);
    Ok((body, false))
}

async fn confirm(call: &Call, req: &Request) -> Result<(serde_json::Value, bool), ApiError> {
    let body: ConfirmRequest = shared::app::json_body(req.body().as_ref())?;
    let ctx = &call.ctx;
    let key = match &call.idempotency_key {
        Some(k) => k.clone(),
        None => payload_hash(&body).map_err(SyncError::from)?,
    };
    let guarded = idempotent(ctx, FUNCTION, &key, &body, || async {
        let results = confirm_pairs(ctx, &body).await?;
        let mapped = results.iter().filter(|r| r.status == "mapped").count();
        Ok::<_, SyncError>(json!({
            "message": format!("{mapped} of {} pair(s) mapped.", results.len()),
            "results": results,
        }))
    })
    .await?;
    Ok((guarded.answer, guarded.replayed))
}
