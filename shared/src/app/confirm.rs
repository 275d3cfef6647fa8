//! The confirmation flow of the write routes: a GET never writes.
//!
//! A button's signed GET link to a write route answers a confirmation page (what would be
//! written, read from the systems; [`offer`]) whose form POSTs a single-use token
//! ([`crate::confirmation`]) and the same parameters back to the same function. That POST is
//! authenticated by the token alone ([`open_write`]), which is consumed with one conditional
//! write in the store before the write runs ([`run_once`]). A second POST of the same token
//! answers the first one's stored answer (`Idempotent-Replay: true`), or 409
//! `already_confirmed` when the first has not answered successfully. Server-to-server POSTs
//! signed in the headers work as before.

use std::collections::BTreeMap;

use chrono::Duration;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::call::{self, Call};
use super::{AppContext, TenantContext};
use crate::confirmation::{self, Purpose, TokenError, Verified};
use crate::idempotency::IdempotencyStatus;
use crate::signing;
use crate::web::{self, ApiError, Format, escape_html};

/// A used token's record outlives the token by this much, so clock differences between
/// instances cannot let it be consumed twice.
const RECORD_MARGIN: Duration = Duration::minutes(5);

/// Form fields whose names start with this are the user's choices on an editable form (a
/// dropdown, a checkbox, a text box): the token covers the form's fixed fields (which page,
/// which version of what it edits) but not what the user picks, so the page can offer choices.
pub const CHOICE_PREFIX: &str = "set.";

/// A POST authenticated by a confirmation token: the token and the parameters it covers.
#[derive(Clone, Debug)]
pub struct Confirmed {
    pub token: Verified,
    /// The submitted parameters (the confirmation field and the choices removed), as the page
    /// offered them: the token covers exactly these.
    pub params: BTreeMap<String, String>,
    /// The user's choices ([`CHOICE_PREFIX`] fields, the prefix removed), not covered.
    pub choices: BTreeMap<String, String>,
}

/// Verifies a POSTed form of the write `action` of `function` without building the tenant's
/// context (the settings function must accept forms before any credential is set).
/// `Ok(None)`: the request is not a form submission (no confirmation field).
pub async fn verify_form(
    app: &AppContext,
    req: &Request,
    function: &str,
    action: &str,
) -> Result<Option<Confirmed>, ApiError> {
    let Some(mut params) = submission(req)? else {
        return Ok(None);
    };
    let token = params.remove(confirmation::FIELD).unwrap_or_default();
    let (params, choices) = split_choices(params);
    let token = verify(app, &token, function, action, &params).await?;
    Ok(Some(Confirmed { token, params, choices }))
}

/// The fixed fields (covered by the token) and the choices (prefix removed) of a submission.
fn split_choices(params: BTreeMap<String, String>) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let (choices, fixed): (BTreeMap<_, _>, BTreeMap<_, _>) =
        params.into_iter().partition(|(k, _)| k.starts_with(CHOICE_PREFIX));
    let choices = choices
        .into_iter()
        .map(|(k, v)| (k[CHOICE_PREFIX.len()..].to_owned(), v))
        .collect();
    (fixed, choices)
}

/// A token for a form of `action` of `function` covering its fixed `params` (the choices are
/// the page's [`CHOICE_PREFIX`] fields): what an editable page puts in its hidden field.
pub async fn form_token(
    app: &AppContext,
    tenant: &crate::tenant::TenantId,
    function: &str,
    action: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, ApiError> {
    let keys = tenant_keys(app, tenant).await?.ok_or_else(ApiError::unauthorized)?;
    let purpose = Purpose {
        audience: function,
        action,
        params,
    };
    Ok(confirmation::issue(&keys.current, tenant, &purpose, app.clock.now()))
}

/// Opens a call to the write `action` of `function`: a POST carrying a confirmation token is
/// authenticated by it (the tenant comes from the verified token), anything else by its
/// signature as [`call::open`] does. The error is the answer to send.
pub async fn open_write(
    app: &AppContext,
    req: &Request,
    function: &str,
    action: &str,
) -> Result<(Call, Option<Confirmed>), Response<Body>> {
    let format = Format::from_headers(req.headers());
    let submitted = verify_form(app, req, function, action)
        .await
        .map_err(|e| e.into_response(format))?;
    let Some(confirmed) = submitted else {
        return call::open(app, req, function).await.map(|c| (c, None));
    };
    let token = &confirmed.token;
    let deadline = crate::function_url::deadline(req, app.clock.now());
    let ctx = app
        .tenant(&token.tenant, deadline)
        .await
        .map_err(|e| e.into_response(format))?
        .with_actor(function);
    // Links on the answer expire with the confirmation they came from.
    let signed_at = (token.expires_at - confirmation::LIFETIME).timestamp();
    let call = Call {
        format,
        ctx,
        deadline,
        signed_at,
        idempotency_key: None,
    };
    Ok((call, Some(confirmed)))
}

/// The parameters of a POST whose body carries the confirmation field (a form, or a JSON
/// object), `None` for any other request. Such a POST takes no query: the form sends none.
fn submission(req: &Request) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    if req.method() != http::Method::POST {
        return Ok(None);
    }
    let body = req.body().as_ref();
    let form = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let params = if form {
        form_fields(body)?
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) if map.contains_key(confirmation::FIELD) => map
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect(),
            _ => return Ok(None),
        }
    };
    if !params.contains_key(confirmation::FIELD) {
        return Ok(None);
    }
    if req.uri().query().is_some_and(|q| !q.is_empty()) {
        return Err(ApiError::bad_request(
            "unexpected_query",
            "A confirmation is sent as the page's form, without a query string.",
        )
        .with_fix("Confirm on the page the link opened."));
    }
    Ok(Some(params))
}

fn form_fields(body: &[u8]) -> Result<BTreeMap<String, String>, ApiError> {
    let raw = String::from_utf8_lossy(body);
    if let Some(name) = signing::duplicate_parameter(&raw) {
        return Err(ApiError::bad_request(
            "duplicate_parameter",
            format!("{name} appears more than once in the form"),
        )
        .with_fix(format!("Send {name} once."))
        .with_details(json!({ "field": name })));
    }
    Ok(url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

/// Checks the token with its tenant's keys for exactly this function, action and parameters.
async fn verify(
    app: &AppContext,
    token: &str,
    function: &str,
    action: &str,
    params: &BTreeMap<String, String>,
) -> Result<Verified, ApiError> {
    let Some(tenant) = confirmation::claimed_tenant(token) else {
        return Err(refused(TokenError::Invalid));
    };
    let keys = tenant_keys(app, &tenant)
        .await?
        .ok_or_else(|| refused(TokenError::Invalid))?;
    let purpose = Purpose {
        audience: function,
        action,
        params,
    };
    confirmation::verify(token, &keys, &purpose, app.clock.now()).map_err(refused)
}

/// The tenant's signing keys (`None`: an unknown tenant); a store failure is logged and told
/// as an internal error.
async fn tenant_keys(
    app: &AppContext,
    tenant: &crate::tenant::TenantId,
) -> Result<Option<signing::SigningKeys>, ApiError> {
    app.secrets.signing_keys(tenant).await.map_err(|e| {
        tracing::error!(error = %e, "cannot load signing keys");
        ApiError::internal()
    })
}

fn refused(why: TokenError) -> ApiError {
    tracing::warn!(reason = %why, "refused a confirmation");
    match why {
        TokenError::Invalid => ApiError::new(
            http::StatusCode::UNAUTHORIZED,
            "confirmation_invalid",
            "This confirmation does not match this action: it was made for another page or \
             other values, has been changed, or is not valid.",
        ),
        TokenError::Expired => ApiError::new(
            http::StatusCode::GONE,
            "confirmation_expired",
            format!(
                "This confirmation page has expired: it can be confirmed within {} minutes of opening it.",
                confirmation::LIFETIME.num_minutes()
            ),
        ),
    }
    .with_fix("Open the link again from ChannelOnline and confirm on the page it shows.")
}

/// Consumes the token (one conditional write), then runs `write` once. A token used before
/// answers the first use's stored answer, or 409 `already_confirmed` (not retryable) when the
/// first use failed or has not answered yet; nothing runs a second time either way.
pub async fn run_once<F, Fut>(ctx: &TenantContext, token: &Verified, write: F) -> Result<(Value, bool), ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(Value, bool), ApiError>>,
{
    consume_then_run(ctx.idempotency_store.as_ref(), ctx.clock.as_ref(), token, write).await
}

/// [`run_once`] with the store and clock given (a function without a tenant context).
pub async fn consume_then_run<F, Fut>(
    store: &dyn crate::idempotency::IdempotencyStore,
    clock: &dyn crate::clock::Clock,
    token: &Verified,
    write: F,
) -> Result<(Value, bool), ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(Value, bool), ApiError>>,
{
    let key = format!("confirmation#{}#{}", token.tenant, token.nonce);
    let until = token.expires_at + RECORD_MARGIN;
    if !store.consume_once(&key, clock.now(), until).await? {
        return match store.get(&key, clock.now()).await? {
            Some(r) if r.status == IdempotencyStatus::Complete && r.response.is_some() => {
                Ok((r.response.unwrap_or_default(), true))
            }
            _ => Err(already_confirmed()),
        };
    }
    let result = write().await;
    if let Ok((body, _)) = &result
        && let Err(e) = store.complete(&key, body, until).await
    {
        tracing::warn!(error = %e, "confirmation answer not stored; a second submission answers 409");
    }
    result
}

fn already_confirmed() -> ApiError {
    ApiError::conflict(
        "already_confirmed",
        "This confirmation was already submitted; it is not run a second time.",
    )
    .with_fix(
        "Look at the first submission's answer. To do it again (for example after an error), \
         open the link again from ChannelOnline and confirm on the new page.",
    )
}

/// How a function answers its write's result (the body and whether it was replayed, or the
/// error), e.g. [`call::reply`] with its title.
pub type Reply = fn(Format, Result<(Value, bool), ApiError>) -> Response<Body>;

/// A write route of a function: its signed GET answers the confirmation page (nothing is
/// written), its POST writes: with the page's token (once per token) or signed in the headers
/// (server-to-server, as a JSON body). Any other method is 405 with `Allow: GET, POST`.
pub struct WriteRoute<'a> {
    pub function: &'a str,
    /// The write's name in the token (`export`, `import`, `attach`, `add`).
    pub action: &'a str,
    /// The parameters the page and its form take; any other name is refused (400).
    pub params: &'a [&'a str],
    /// Parameters only a server-to-server POST may add (e.g. `dry_run`).
    pub signed_only: &'a [&'a str],
}

/// Serves one request of a write route. `parse` turns the parameters (the page's query, its
/// form, or a signed POST's query and JSON body scalars) into the request,
/// `preview` reads what the write would do (and writes nothing), `write` does it; `reply`
/// answers the write's result (usually [`call::reply`] with a title).
pub async fn serve<R, P, W>(
    app: &AppContext,
    req: &Request,
    route: &WriteRoute<'_>,
    parse: fn(&BTreeMap<String, String>) -> Result<R, ApiError>,
    preview: P,
    write: W,
    reply: Reply,
) -> Response<Body>
where
    P: AsyncFnOnce(&Call, &R) -> Result<Page, ApiError>,
    W: AsyncFnOnce(&Call, R) -> Result<(Value, bool), ApiError>,
{
    let allowed = matches!(*req.method(), http::Method::GET | http::Method::POST);
    if !allowed {
        return ApiError::method_not_allowed(req.method(), "GET, POST")
            .into_response(Format::from_headers(req.headers()));
    }
    if req.method() == http::Method::GET && carries_confirmation(req) {
        // The write itself was asked for by GET (a form turned into a link): never run it.
        return ApiError::method_not_allowed(req.method(), "POST").into_response(Format::from_headers(req.headers()));
    }
    let (call, confirmed) = match open_write(app, req, route.function, route.action).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    if req.method() == http::Method::GET {
        return match page_for(req, route, parse, preview, &call).await {
            Ok((params, page)) => offer(app, &call, req, route.function, route.action, &params, page).await,
            Err(e) => e.into_response(call.format),
        };
    }
    let result = match confirmed {
        Some(confirmed) => write_confirmed(route, parse, write, &call, confirmed).await,
        None => {
            let allowed = [route.params, route.signed_only].concat();
            match crate::function_url::params(req, &allowed).and_then(|p| parse(&p)) {
                Ok(request) => write(&call, request).await,
                Err(e) => Err(e),
            }
        }
    };
    reply(call.format, result)
}

/// Whether the query carries a confirmation token: a confirmation is only ever POSTed.
fn carries_confirmation(req: &Request) -> bool {
    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).any(|(k, _)| k == confirmation::FIELD)
}

async fn page_for<R, P>(
    req: &Request,
    route: &WriteRoute<'_>,
    parse: fn(&BTreeMap<String, String>) -> Result<R, ApiError>,
    preview: P,
    call: &Call,
) -> Result<(BTreeMap<String, String>, Page), ApiError>
where
    P: AsyncFnOnce(&Call, &R) -> Result<Page, ApiError>,
{
    let params = crate::function_url::params(req, route.params)?;
    let request = parse(&params)?;
    let page = preview(call, &request).await?;
    Ok((params, page))
}

async fn write_confirmed<R, W>(
    route: &WriteRoute<'_>,
    parse: fn(&BTreeMap<String, String>) -> Result<R, ApiError>,
    write: W,
    call: &Call,
    confirmed: Confirmed,
) -> Result<(Value, bool), ApiError>
where
    W: AsyncFnOnce(&Call, R) -> Result<(Value, bool), ApiError>,
{
    // A fixed page offers no choices: a `set.` field is as unknown as any other name.
    let choices = confirmed.choices.keys().map(|k| format!("{CHOICE_PREFIX}{k}"));
    let names: Vec<String> = confirmed.params.keys().cloned().chain(choices).collect();
    crate::function_url::known_only(names.iter().map(String::as_str), route.params)?;
    let request = parse(&confirmed.params)?;
    run_once(&call.ctx, &confirmed.token, || write(call, request)).await
}

/// What a confirmation page shows: a question, what will happen, the chosen records as rows,
/// and everything read (the dry run's plan, the records) as details.
pub struct Page {
    pub title: String,
    pub summary: String,
    pub rows: Vec<(String, String)>,
    pub button: &'static str,
    pub preview: Value,
}

/// Answers a signed GET of the write `action` with its confirmation page: HTML with a form that
/// POSTs `params` and a fresh token to the same address, or the same as JSON
/// (`confirm.fields` is what to POST). Nothing is written.
pub async fn offer(
    app: &AppContext,
    call: &Call,
    req: &Request,
    function: &str,
    action: &str,
    params: &BTreeMap<String, String>,
    page: Page,
) -> Response<Body> {
    let now = app.clock.now();
    let token = match form_token(app, &call.ctx.tenant, function, action, params).await {
        Ok(token) => token,
        Err(e) => return e.into_response(call.format),
    };
    let mut fields = params.clone();
    fields.insert(confirmation::FIELD.into(), token);
    let expires_at = now + confirmation::LIFETIME;
    match call.format {
        Format::Json => web::ok(
            Format::Json,
            &page.title,
            json!({
                "confirm": { "method": "POST", "path": req.uri().path(), "fields": fields, "expires_at": expires_at },
                "message": page.summary,
                "rows": page.rows.iter().map(|(k, v)| json!({ "label": k, "value": v })).collect::<Vec<_>>(),
                "preview": page.preview,
            }),
        ),
        Format::Html => crate::function_url::html_response(page_html(&page, &form_action(req), &fields)),
    }
}

/// The form's target: the address the page was opened at, relative (so a prefix the browser
/// sees, such as the local gateway's `/<function>`, is kept) and without the query.
pub fn form_action(req: &Request) -> String {
    let path = req.uri().path();
    if path.is_empty() || path.ends_with('/') {
        "./".into()
    } else {
        path.rsplit('/').next().unwrap_or("").to_owned()
    }
}

fn page_html(page: &Page, action: &str, fields: &BTreeMap<String, String>) -> String {
    let rows: String = page
        .rows
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape_html(k), escape_html(v)))
        .collect();
    let hidden: String = fields.iter().map(|(k, v)| web::hidden_input(k, v)).collect();
    let details = serde_json::to_string_pretty(&page.preview).unwrap_or_default();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;max-width:44em;margin:1.5em}}.fix{{background:#fff6d5;padding:.5em}}\
         th,td{{text-align:left;padding:.2em .6em .2em 0;vertical-align:top}}button{{font-size:1.1em;padding:.4em 1em}}\
         pre{{background:#f4f4f4;padding:.5em;overflow:auto}}</style></head><body><h1>{t}</h1>\
         <p class=\"message\">{s}</p><table>{rows}</table>\
         <form method=\"post\" action=\"{a}\">{hidden}<p><button type=\"submit\">{b}</button></p></form>\
         <p class=\"fix\">Nothing has been written yet. This page can be confirmed once, within {m} minutes.</p>\
         <details><summary>Details</summary><pre>{d}</pre></details></body></html>",
        t = escape_html(&page.title),
        s = escape_html(&page.summary),
        a = escape_html(action),
        b = escape_html(page.button),
        m = confirmation::LIFETIME.num_minutes(),
        d = escape_html(&details),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(uri: &str, content_type: &str, body: &str) -> Request {
        let req = http::Request::builder()
            .method("POST")
            .uri(uri)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        Request::from(req)
    }

    #[test]
    fn a_form_or_json_with_the_token_is_a_submission_and_anything_else_is_not() {
        let form = post(
            "https://fn/",
            "application/x-www-form-urlencoded",
            "document_number=Q+1&confirmation=c1~t",
        );
        let p = submission(&form).unwrap().unwrap();
        assert_eq!(
            (p["document_number"].as_str(), p["confirmation"].as_str()),
            ("Q 1", "c1~t")
        );
        let json = post("https://fn/", "application/json", r#"{"id":7,"confirmation":"c1~t"}"#);
        assert_eq!(submission(&json).unwrap().unwrap()["id"], "7");
        let signed = post("https://fn/", "application/json", r#"{"document_number":"Q1"}"#);
        assert!(submission(&signed).unwrap().is_none());
        let with_query = post(
            "https://fn/?tenant=a",
            "application/x-www-form-urlencoded",
            "confirmation=c1",
        );
        assert_eq!(submission(&with_query).unwrap_err().code, "unexpected_query");
        let twice = post(
            "https://fn/",
            "application/x-www-form-urlencoded",
            "id=1&id=2&confirmation=c1",
        );
        assert_eq!(submission(&twice).unwrap_err().code, "duplicate_parameter");
    }

    #[test]
    fn choices_are_split_from_the_fields_the_token_covers() {
        let form = post(
            "https://fn/",
            "application/x-www-form-urlencoded",
            "version=3&set.sales_rep.u%2B1=29&set.note=a+b&confirmation=c1~t",
        );
        let mut params = submission(&form).unwrap().unwrap();
        params.remove(confirmation::FIELD);
        let (fixed, choices) = split_choices(params);
        assert_eq!(fixed, BTreeMap::from([("version".to_owned(), "3".to_owned())]));
        assert_eq!(choices["sales_rep.u+1"], "29");
        assert_eq!(choices["note"], "a b");
        assert_eq!(choices.len(), 2);
    }

    #[test]
    fn the_form_posts_to_the_address_it_was_opened_at_without_the_query() {
        let get = |uri: &str| Request::from(http::Request::builder().uri(uri).body(Body::Empty).unwrap());
        assert_eq!(form_action(&get("https://fn/?document_number=Q1")), "./");
        assert_eq!(form_action(&get("http://127.0.0.1:9000/export-document/?a=1")), "./");
        assert_eq!(form_action(&get("https://fn/attach?a=1")), "attach");
    }

    #[test]
    fn the_page_escapes_values_and_carries_every_field_hidden() {
        let page = Page {
            title: "Export <Q1>?".into(),
            summary: "It will write".into(),
            rows: vec![("Name".into(), "<b>Acme</b>".into())],
            button: "Export",
            preview: json!({ "x": "<script>" }),
        };
        let fields = BTreeMap::from([
            ("confirmation".to_owned(), "c1~t".to_owned()),
            ("custom_name".to_owned(), "\"quoted\"".to_owned()),
        ]);
        let html = page_html(&page, "./", &fields);
        assert!(!html.contains("<b>Acme") && !html.contains("<script>"));
        assert!(html.contains("name=\"custom_name\" value=\"&quot;quoted&quot;\""));
        assert!(html.contains("<form method=\"post\" action=\"./\">"));
    }
}
