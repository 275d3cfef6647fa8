//! Answers of the function-URL handlers: JSON by default, or a small HTML page with the same
//! message when the caller asks for `text/html` (the guide's pop-up after a button, and the
//! picker windows). One error shape for every function: what went wrong and what to do.

use http::{HeaderMap, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// What the caller asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

impl Format {
    /// HTML only when `text/html` is accepted and JSON is not preferred before it.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        let html = accept.find("text/html");
        let json = accept.find("application/json");
        match (html, json) {
            (Some(h), Some(j)) if h < j => Format::Html,
            (Some(_), None) => Format::Html,
            _ => Format::Json,
        }
    }
}

/// An error a user can act on: `message` says what is wrong, `fix` what to do about it.
/// `details` carries structured data (candidates, missing fields) for ChannelOnline to show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// A stable, machine-readable code such as `customer_not_mapped`.
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub details: Value,
    /// True when the same call may succeed if repeated later (in progress, throttled).
    pub retryable: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            fix: None,
            details: Value::Null,
            retryable: false,
        }
    }

    /// 405 for `method` on an address that takes only `allow` (e.g. `"GET, POST"`); the answer
    /// carries the `Allow` header (from `details.allow`, so the error stays small). A write route says that its GET only shows what would change.
    pub fn method_not_allowed(method: &http::Method, allow: &'static str) -> Self {
        let fix = if allow.contains("POST") && allow.contains("GET") {
            "Open the link from ChannelOnline (GET shows what would change) and confirm there, or send a signed POST."
        } else {
            "Send the request again with one of the allowed methods."
        };
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not accepted at this address; it takes {allow}."),
        )
        .with_fix(fix)
        .with_details(json!({ "allow": allow }))
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            crate::signing::AuthError::PUBLIC_MESSAGE,
        )
    }

    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// For failures whose cause must not reach the caller: the text is generic on purpose.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. Nothing was half-written; try again in a minute.",
        )
        .retryable()
    }

    pub fn into_response(self, format: Format) -> Response<Body> {
        let status = self.status;
        let allow = (status == StatusCode::METHOD_NOT_ALLOWED)
            .then(|| self.details.get("allow").and_then(Value::as_str))
            .flatten()
            .and_then(|a| http::HeaderValue::from_str(a).ok());
        let body = json!({ "ok": false, "error": self });
        let mut resp = respond(format, status, "Not done", &body);
        if let Some(value) = allow {
            resp.headers_mut().insert(header::ALLOW, value);
        }
        resp
    }
}

/// A success answer: `{"ok": true, ...body}` or an HTML page titled `title`.
pub fn ok(format: Format, title: &str, body: Value) -> Response<Body> {
    let mut body = body;
    if let Value::Object(map) = &mut body {
        map.insert("ok".into(), Value::Bool(true));
    }
    respond(format, StatusCode::OK, title, &body)
}

/// Renders `body` as JSON, or as a minimal HTML page that shows `message`, `fix` and the rest.
pub fn respond(format: Format, status: StatusCode, title: &str, body: &Value) -> Response<Body> {
    let (content_type, text) = match format {
        Format::Json => ("application/json", body.to_string()),
        Format::Html => ("text/html; charset=utf-8", html_page(title, body)),
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-content-type-options", "nosniff")
        .body(Body::from(text))
        .expect("static response parts are valid")
}

fn html_page(title: &str, body: &Value) -> String {
    let source = body.get("error").unwrap_or(body);
    let field = |name: &str| source.get(name).and_then(Value::as_str).map(escape_html);
    let message = field("message")
        .map(|m| format!("<p class=\"message\">{m}</p>"))
        .unwrap_or_default();
    let fix = field("fix")
        .map(|f| format!("<p class=\"fix\"><strong>What to do:</strong> {f}</p>"))
        .unwrap_or_default();
    let details = serde_json::to_string_pretty(body).unwrap_or_default();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;max-width:44em;margin:1.5em}}.fix{{background:#fff6d5;padding:.5em}}\
         pre{{background:#f4f4f4;padding:.5em;overflow:auto}}</style></head><body><h1>{t}</h1>{message}{fix}\
         <details><summary>Details</summary><pre>{d}</pre></details></body></html>",
        t = escape_html(title),
        d = escape_html(&details),
    )
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, accept.parse().unwrap());
        h
    }

    #[test]
    fn negotiates_html_only_when_asked() {
        assert_eq!(Format::from_headers(&HeaderMap::new()), Format::Json);
        assert_eq!(Format::from_headers(&headers("application/json")), Format::Json);
        assert_eq!(
            Format::from_headers(&headers("text/html,application/xhtml+xml,*/*")),
            Format::Html
        );
        assert_eq!(
            Format::from_headers(&headers("application/json, text/html")),
            Format::Json
        );
    }

    #[test]
    fn error_json_names_code_message_and_fix() {
        let resp = ApiError::conflict("several_matches", "3 companies match")
            .with_fix("Pick one in Map Customers")
            .into_response(Format::Json);
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let v: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["code"], "several_matches");
        assert_eq!(v["error"]["fix"], "Pick one in Map Customers");
    }

    #[test]
    fn a_405_names_the_allowed_methods_in_the_header_and_the_body() {
        let resp = ApiError::method_not_allowed(&http::Method::DELETE, "GET, POST").into_response(Format::Json);
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()[header::ALLOW], "GET, POST");
        let v: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert_eq!(v["error"]["code"], "method_not_allowed");
        assert!(v["error"]["message"].as_str().unwrap().contains("DELETE"));
        assert!(v["error"]["fix"].as_str().unwrap().contains("confirm"));
    }

    #[test]
    fn html_escapes_user_text() {
        let resp = ApiError::bad_request("bad", "<script>x</script>").into_response(Format::Html);
        let text = std::str::from_utf8(resp.body().as_ref()).unwrap();
        assert!(text.contains("&lt;script&gt;"));
        assert!(!text.contains("<script>"));
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    }
}
