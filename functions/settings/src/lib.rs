//! The `settings` function: read and write one tenant's integration settings.
//!
//! Routes on the function URL (every call signed; the tenant comes from the signature only):
//! - `GET /` — the settings, their version, and whether each credential is set (never its value);
//! - `PUT /` — replace the settings; `PATCH /` — JSON merge patch. The expected version comes
//!   from `If-Match` or a top-level `version` field; a lost race answers 409;
//! - `PUT /autotask-credentials`, `PUT /channelonline-credentials` — write-only secrets;
//! - `GET /audit`, `GET /runs` — recent audit records and sync runs (`?limit=&cursor=`).
//!
//! JSON answers, or a readable HTML page when the caller accepts `text/html`.

mod credentials;
mod document;
mod records;
mod view;

use http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::app::{AppContext, answer};
use shared::web::{ApiError, Format};

/// The function's name: the audience its callers sign for.
pub const FUNCTION: &str = "settings";

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(ctx: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let format = Format::from_headers(req.headers());
    let tenant = match ctx.authenticate(&req, FUNCTION).await {
        Ok(tenant) => tenant,
        Err(e) => return Ok(e.into_response(format)),
    };
    let route = req.uri().path().trim_end_matches('/').to_owned();
    let (title, result) = match (req.method().clone(), route.as_str()) {
        (Method::GET, "") => ("Integration settings", view::read(ctx, &tenant).await),
        (Method::PUT, "") => (
            "Settings saved",
            document::write(ctx, &tenant, &req, document::Mode::Replace).await,
        ),
        (Method::PATCH, "") => (
            "Settings saved",
            document::write(ctx, &tenant, &req, document::Mode::Merge).await,
        ),
        (Method::PUT, "/autotask-credentials") => (
            "Autotask credentials saved",
            credentials::put_autotask(ctx, &tenant, &req).await,
        ),
        (Method::PUT, "/channelonline-credentials") => (
            "ChannelOnline credentials saved",
            credentials::put_channelonline(ctx, &tenant, &req).await,
        ),
        (Method::GET, "/audit") => ("Audit trail", records::audit(ctx, &tenant, &req).await),
        (Method::GET, "/runs") => ("Sync runs", records::runs(ctx, &tenant, &req).await),
        (_, "" | "/autotask-credentials" | "/channelonline-credentials" | "/audit" | "/runs") => (
            "Not done",
            Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} is not supported on this address", req.method()),
            )
            .with_fix("Use GET to read, PUT or PATCH to change settings, PUT to set credentials.")),
        ),
        _ => (
            "Not found",
            Err(ApiError::not_found("no_such_route", "There is nothing at this address")
                .with_fix("Use /, /autotask-credentials, /channelonline-credentials, /audit or /runs.")),
        ),
    };
    let version = result
        .as_ref()
        .ok()
        .and_then(|body| body.get("version"))
        .and_then(|v| v.as_u64());
    let mut response = answer(format, title, result);
    if let Some(version) = version {
        let etag = HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header");
        response.headers_mut().insert(http::header::ETAG, etag);
    }
    Ok(response)
}

#[cfg(test)]
mod tests;
