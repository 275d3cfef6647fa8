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
    /// The timestamp the call was signed with: links derived from this call (paging, Choose,
    /// Add, "export the customer first") are signed with it, so they expire with the original.
    pub signed_at: i64,
    /// The caller's `Idempotency-Key` (covered by the signature), if any.
    pub idempotency_key: Option<String>,
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
    let signed_at = signed_at(req).unwrap_or_else(|| app.clock.now().timestamp());
    Ok(Call {
        format,
        ctx,
        deadline,
        signed_at,
        idempotency_key: idempotency_key(req),
    })
}

/// The signing timestamp of an authenticated call.
pub fn signed_at(req: &Request) -> Option<i64> {
    let call = crate::signing::CallToVerify {
        audience: "",
        method: req.method().as_str(),
        path: req.uri().path(),
        raw_query: req.uri().query().unwrap_or(""),
        headers: req.headers(),
        body: req.body().as_ref(),
    };
    crate::signing::read_claim(&call).ok().map(|c| c.timestamp)
}

/// Signs GET links for this call's tenant with this call's signing time, so a derived link
/// never outlives its origin. Without `base_url` the links are to this function and relative
/// (`./attach?…`): no address is taken from the request's Host header, and a prefix the browser
/// sees (the local gateway's `/<function>/`) is kept. Links are empty when the tenant has no key.
pub async fn link_signer(
    app: &AppContext,
    call: &Call,
    audience: &'static str,
    base_url: Option<String>,
) -> impl Fn(&str, &[(String, String)]) -> String + Send + Sync + use<> {
    tenant_link_signer(app, &call.ctx.tenant, call.signed_at, audience, base_url).await
}

/// [`link_signer`] for a call without a tenant context (the settings function): links for
/// `tenant`, signed at `signed_at`.
pub async fn tenant_link_signer(
    app: &AppContext,
    tenant: &crate::tenant::TenantId,
    signed_at: i64,
    audience: &'static str,
    base_url: Option<String>,
) -> impl Fn(&str, &[(String, String)]) -> String + Send + Sync + use<> {
    let keys = app.secrets.signing_keys(tenant).await.ok().flatten();
    let tenant = tenant.clone();
    move |path: &str, params: &[(String, String)]| {
        let Some(keys) = &keys else { return String::new() };
        let base = base_url.as_deref().unwrap_or("");
        let url = crate::signing::signed_url(&keys.current, &tenant, audience, base, path, params, signed_at);
        if base_url.is_some() { url } else { format!(".{url}") }
    }
}

/// A box of a search form: the search word's name (posted as `q.<name>`), its label, its value
/// and the input's attributes (`type="search"`, `type="number" min="0"`).
pub struct SearchBox<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub value: String,
    pub attrs: &'a str,
}

/// What a search form shows: the screen it searches (function and route), the signed
/// parameters it keeps, its legend and its boxes.
pub struct SearchForm<'a> {
    pub audience: &'a str,
    pub route: &'a str,
    pub fixed: &'a [(String, String)],
    pub legend: &'a str,
    pub boxes: &'a [SearchBox<'a>],
}

/// A search form on `route` of `audience`: a plain GET (no token: it reads only) whose hidden
/// fields carry `fixed` and a signature made at `signed_at`, and whose boxes add the typed words
/// as `q.<name>`, which the signature does not cover (`signing::SEARCH_PREFIX`). The form is
/// empty when the tenant has no signing key.
pub async fn search_form(
    app: &AppContext,
    tenant: &crate::tenant::TenantId,
    signed_at: i64,
    form: &SearchForm<'_>,
) -> String {
    use crate::web::escape_html;
    let SearchForm {
        audience,
        route,
        fixed,
        legend,
        boxes,
    } = form;
    let Some(keys) = app.secrets.signing_keys(tenant).await.ok().flatten() else {
        return String::new();
    };
    let hidden: String = crate::signing::signed_pairs(&keys.current, tenant, audience, route, fixed, signed_at)
        .iter()
        .map(|(k, v)| crate::web::hidden_input(k, v))
        .collect();
    let boxes: String = boxes
        .iter()
        .map(|b| {
            format!(
                "<label for=\"search-{n}\">{} <input id=\"search-{n}\" name=\"{}{n}\" {} value=\"{}\"></label> ",
                escape_html(b.label),
                crate::signing::SEARCH_PREFIX,
                b.attrs,
                escape_html(&b.value),
                n = escape_html(b.name),
            )
        })
        .collect();
    // Relative, like every link of a screen: the last segment of the route, `./` for the root.
    let action = match route.rsplit('/').next() {
        None | Some("") => "./",
        Some(last) => last,
    };
    format!(
        "<form method=\"get\" action=\"{}\" role=\"search\">{hidden}<fieldset><legend>{}</legend>{boxes}\
         <button type=\"submit\">Search</button></fieldset></form>",
        escape_html(action),
        escape_html(legend)
    )
}

/// The acting user when ChannelOnline passes one (`X-Col-User`, covered by the signature), else
/// the function: the audit names whom the signature vouched for.
fn actor(req: &Request, function: &str) -> String {
    req.headers()
        .get("x-col-user")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map_or_else(|| function.to_owned(), |u| u.chars().take(120).collect())
}

/// A client-chosen idempotency key (`Idempotency-Key` header, covered by the signature), if any.
fn idempotency_key(req: &Request) -> Option<String> {
    req.headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .map(str::to_owned)
}

/// [`reply`], with a success for a browser drawn by `page(title, body)` (a write's result page).
pub fn reply_with_page(
    format: Format,
    title: &str,
    result: Result<(Value, bool), ApiError>,
    page: fn(&str, &Value) -> String,
) -> Response<Body> {
    match (&result, format) {
        (Ok((body, replayed)), Format::Html) => {
            marked_replayed(crate::function_url::html_response(page(title, body)), *replayed)
        }
        _ => reply(format, title, result),
    }
}

/// `resp` with `Idempotent-Replay: true` when it is a stored answer given again.
pub fn marked_replayed(mut resp: Response<Body>, replayed: bool) -> Response<Body> {
    if replayed {
        resp.headers_mut()
            .insert("idempotent-replay", HeaderValue::from_static("true"));
    }
    resp
}

/// The answer: `{"ok":true,…}` (marked when replayed) or the error.
pub fn reply(format: Format, title: &str, result: Result<(Value, bool), ApiError>) -> Response<Body> {
    match result {
        Ok((body, replayed)) => marked_replayed(web::ok(format, title, body), replayed),
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
