//! The `settings` function: read and write one tenant's integration settings.
//!
//! Routes on the function URL (every call signed; the tenant comes from the signature only):
//! - `GET /` — the settings, their version, and whether each credential is set (never its value);
//! - `PUT /` — replace the settings; `PATCH /` — JSON merge patch. The expected version comes
//!   from `If-Match` or a top-level `version` field; a lost race answers 409;
//! - `PUT /autotask-credentials`, `PUT /channelonline-credentials` — write-only secrets;
//! - `GET /audit`, `GET /runs` — recent audit records and sync runs (`?limit=&cursor=`).
//!
//! The setup screens (HTML for a browser, the same data as JSON otherwise), each opened from a
//! signed link and saved by its form's single-use confirmation (a GET never writes):
//! - `GET /` (HTML) — Connection: both systems' credentials; `GET /test-connection` tests them;
//!   `POST /autotask-connection`, `POST /channelonline-connection` save them;
//! - `GET /sales-reps`, `POST /sales-reps` — ChannelOnline sales rep → Autotask resource;
//! - `GET /field-mapping`, `POST /field-mapping` — payment terms, shipping types, categories,
//!   billing code, new-company and opportunity defaults, the document's custom field;
//! - `GET /audit` (searchable by record with `q.record`), `GET /runs` — the trail and the runs.
//!
//! JSON answers, or a readable HTML page when the caller accepts `text/html`.

mod connection;
mod credentials;
mod document;
mod options;
mod records;
mod screens;
mod sections;
mod setup;
mod view;

use sections::Section;
use setup::Screen;

use http::{HeaderValue, Method};
use lambda_http::{Body, Request, Response};
use shared::app::{AppContext, answer};
use shared::web::{ApiError, Format};

/// The function's name: the audience its callers sign for.
pub const FUNCTION: &str = "settings";

/// Handles one function-URL request. Never fails: every error becomes an answer.
pub async fn handle(ctx: &AppContext, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let format = Format::from_headers(req.headers());
    let route = req.uri().path().trim_end_matches('/').to_owned();
    // A screen's form is authenticated by its confirmation token, not by a signature.
    if req.method() == Method::POST {
        return Ok(match route.as_str() {
            "/autotask-connection" => connection::submit(ctx, &req, connection::AUTOTASK).await,
            "/channelonline-connection" => connection::submit(ctx, &req, connection::CHANNELONLINE).await,
            "/sales-reps" => setup::submit(ctx, &req, Section::SalesReps).await,
            "/field-mapping" => setup::submit(ctx, &req, Section::FieldMapping).await,
            _ => not_allowed(&req, &route).into_response(format),
        });
    }
    let tenant = match ctx.authenticate(&req, FUNCTION).await {
        Ok(tenant) => tenant,
        Err(e) => return Ok(e.into_response(format)),
    };
    if req.method() == Method::GET
        && let Some(page) = screen_page(ctx, &req, &tenant, &route).await
    {
        return Ok(page);
    }
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
        _ => ("Not done", Err(not_allowed(&req, &route))),
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

/// The setup screen a signed GET opens, `None` for the JSON routes of the same addresses.
async fn screen_page(
    ctx: &AppContext,
    req: &Request,
    tenant: &shared::tenant::TenantId,
    route: &str,
) -> Option<Response<Body>> {
    let format = Format::from_headers(req.headers());
    let screen = Screen {
        app: ctx,
        tenant: tenant.clone(),
        format,
        signed_at: shared::app::call::signed_at(req).unwrap_or_else(|| ctx.clock.now().timestamp()),
        deadline: shared::function_url::deadline(req, ctx.clock.now()),
    };
    Some(match route {
        "" if format == Format::Html => connection::show(&screen).await,
        "/test-connection" => connection::test(&screen).await,
        "/sales-reps" => setup::show(&screen, Section::SalesReps).await,
        "/field-mapping" => setup::show(&screen, Section::FieldMapping).await,
        "/audit" if format == Format::Html => records::audit_screen(&screen, req).await,
        "/runs" if format == Format::Html => records::runs_screen(&screen, req).await,
        _ => return None,
    })
}

/// 405 on a known address (naming what it takes), 404 elsewhere.
fn not_allowed(req: &Request, route: &str) -> ApiError {
    let allow = match route {
        "" => "GET, PUT, PATCH",
        "/autotask-credentials" | "/channelonline-credentials" => "PUT",
        "/audit" | "/runs" | "/test-connection" => "GET",
        "/sales-reps" | "/field-mapping" | "/autotask-connection" | "/channelonline-connection" => "GET, POST",
        _ => {
            return ApiError::not_found("no_such_route", "There is nothing at this address").with_fix(
                "Use /, /sales-reps, /field-mapping, /test-connection, /autotask-credentials, \
                 /channelonline-credentials, /audit or /runs.",
            );
        }
    };
    ApiError::method_not_allowed(req.method(), allow)
}

#[cfg(test)]
mod tests;
