//! Small helpers the function-URL handlers share: parameters from the query or a JSON body,
//! the Lambda deadline, and signed links for the pages they render (pickers, "export the
//! customer first"), so a click in the browser is itself a signed call.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::signing;
use crate::web::ApiError;

/// Query parameters merged with the top-level scalars of a JSON object body (body wins). A name
/// not in `allowed` is refused (400 naming it): a typo must never silently change what happens.
pub fn params(req: &Request, allowed: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out: BTreeMap<String, String> = url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .filter(|(k, _)| {
            !matches!(
                k.as_ref(),
                signing::QUERY_TENANT | signing::QUERY_TIMESTAMP | signing::QUERY_SIGNATURE
            )
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let body = req.body().as_ref();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request("invalid_body", format!("the body is not valid JSON: {e}"))
                .with_fix("Send a JSON object, or the parameters in the query string.")
        })?;
        let Value::Object(map) = value else {
            return Err(ApiError::bad_request("invalid_body", "the body must be a JSON object"));
        };
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            out.insert(k, text);
        }
    }
    known_only(out.keys().map(String::as_str), allowed)?;
    Ok(out)
}

/// Refuses the first of `names` that is not in `allowed`, naming it and the accepted ones.
pub fn known_only<'a>(names: impl IntoIterator<Item = &'a str>, allowed: &[&str]) -> Result<(), ApiError> {
    match names.into_iter().find(|n| !allowed.contains(n)) {
        None => Ok(()),
        Some(unknown) => Err(ApiError::bad_request(
            "unknown_parameter",
            format!("{unknown} is not a parameter of this call"),
        )
        .with_fix(format!(
            "Correct the name (accepted: {}) and send the request again.",
            allowed.join(", ")
        ))
        .with_details(serde_json::json!({ "field": unknown }))),
    }
}

/// A required text parameter.
pub fn required(params: &BTreeMap<String, String>, name: &str) -> Result<String, ApiError> {
    params
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("missing_parameter", format!("{name} is required"))
                .with_fix(format!("Send {name} in the query string or the JSON body."))
                .with_details(serde_json::json!({ "field": name }))
        })
}

/// An optional parameter parsed as `T`; a value that does not parse is a 400 naming it.
pub fn parsed<T: std::str::FromStr>(params: &BTreeMap<String, String>, name: &str) -> Result<Option<T>, ApiError> {
    match params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_request("invalid_parameter", format!("{name} has an invalid value {v:?}"))
                .with_details(serde_json::json!({ "field": name }))
        }),
    }
}

/// `true`/`1`/`yes` (and a bare `?dry_run`) are true.
pub fn flag(params: &BTreeMap<String, String>, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "" | "1" | "true" | "yes" | "on"))
}

/// The invocation's deadline (from the Lambda context; `DEFAULT_BUDGET` ahead when there is
/// none, as in the local server), so outbound calls and claims fit the function's timeout.
pub fn deadline(req: &Request, now: DateTime<Utc>) -> DateTime<Utc> {
    req.lambda_context_ref()
        .and_then(|c| DateTime::<Utc>::from_timestamp_millis(c.deadline as i64))
        .filter(|d| *d > now)
        .unwrap_or(now + crate::app::DEFAULT_BUDGET)
}

/// A full HTML page (pickers, confirmation pages) with the same browser headers as every other
/// HTML answer ([`crate::web::html`]).
pub fn html_response(html: String) -> lambda_http::Response<lambda_http::Body> {
    crate::web::html(http::StatusCode::OK, html)
}

/// The shell of a picker page: a title, a filter box that narrows the rows as one types, and
/// the rows (already escaped by the caller).
pub fn picker_page(title: &str, intro: &str, table_head: &str, rows: &str, footer: &str) -> String {
    let t = crate::web::escape_html(title);
    let i = crate::web::escape_html(intro);
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left}}tr.closed{{color:#777}}\
         a.choose{{font-weight:bold}}</style></head><body><h1>{t}</h1><p>{i}</p>\
         <p><input id=\"filter\" placeholder=\"Filter\" oninput=\"for(const r of document.querySelectorAll('tbody tr'))\
         r.hidden=!r.textContent.toLowerCase().includes(this.value.toLowerCase())\"></p>\
         <table><thead><tr>{table_head}</tr></thead><tbody>{rows}</tbody></table><p>{footer}</p></body></html>"
    )
}

/// Signs a link to `path` with the given parameters (pickers take one, so tests can fake it).
pub type LinkSigner<'a> = &'a dyn Fn(&str, &[(String, String)]) -> String;

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str) -> Request {
        let req = http::Request::builder()
            .method("POST")
            .uri("https://fn.example/?tenant=t&ts=1&sig=v1%3Dab")
            .body(lambda_http::Body::from(body))
            .unwrap();
        Request::from(req)
    }

    #[test]
    fn a_misspelt_parameter_is_refused_naming_it() {
        let allowed = &["document_number", "opportunity_id"];
        let ok = params(&post(r#"{"document_number":"Q1","opportunity_id":7}"#), allowed).unwrap();
        assert_eq!(ok["opportunity_id"], "7");
        let e = params(&post(r#"{"document_number":"Q1","opportunityId":7}"#), allowed).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code.as_str()), (400, "unknown_parameter"));
        assert_eq!(e.details["field"], "opportunityId");
        assert!(e.message.contains("opportunityId"));
    }
}
