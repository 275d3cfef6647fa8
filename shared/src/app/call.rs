//! The common opening and closing of a tenant-scoped function-URL call: authenticate (the tenant
//! comes from the signature only), build the `TenantContext` with the Lambda deadline, and answer
//! (JSON or HTML, `Idempotent-Replay: true` on a stored answer).

use chrono::{DateTime, Utc};
use http::HeaderValue;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use super::{AppContext, TenantContext};
use crate::web::{self, ApiError, Format};

/// One authenticated call.
pub struct Call {
    pub format: Format,
    pub ctx: TenantContext,
    /// When the invocation must have answered (the Lambda deadline).
    pub deadline: DateTime<Utc>,
}

/// Authenticates `req` and builds its tenant's context; the error is the answer to send.
pub async fn open(app: &AppContext, req: &Request, function: &str) -> Result<Call, Response<Body>> {
    let format = Format::from_headers(req.headers());
    let tenant = app
        .authenticate(req, function)
        .await
        .map_err(|e| e.into_response(format))?;
    let deadline = crate::function_url::deadline(req, app.clock.now());
    let ctx = app
        .tenant(&tenant, deadline)
        .await
        .map_err(|e| e.into_response(format))?;
    let ctx = ctx.with_actor(actor(req, function));
    Ok(Call { format, ctx, deadline })
}

/// The acting user when ChannelOnline passes one (`X-Col-User`, part of the signed call), else the function.
fn actor(req: &Request, function: &str) -> String {
    req.headers()
        .get("x-col-user")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map_or_else(|| function.to_owned(), |u| u.chars().take(120).collect())
}

/// A client-chosen idempotency key (`Idempotency-Key` header), if any.
pub fn idempotency_key(req: &Request) -> Option<String> {
    req.headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .map(str::to_owned)
}

/// The answer: `{"ok":true,…}` (marked when replayed) or the error.
pub fn reply(format: Format, title: &str, result: Result<(Value, bool), ApiError>) -> Response<Body> {
    match result {
        Ok((body, replayed)) => {
            let mut resp = web::ok(format, title, body);
            if replayed {
                resp.headers_mut()
                    .insert("idempotent-replay", HeaderValue::from_static("true"));
            }
            resp
        }
        Err(e) => {
            let retry = e.retryable && e.status == http::StatusCode::CONFLICT;
            let mut resp = e.into_response(format);
            if retry {
                resp.headers_mut()
                    .insert(http::header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            resp
        }
    }
}
